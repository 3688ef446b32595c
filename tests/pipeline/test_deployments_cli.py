"""training/deployments.py without AWS: the command line, which version a rollback picks, how an answer is sent.
(On the embedded AWS: tests/pipeline/test_safe_deployments.py.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from training import deployments
from training import launch as launcher
from training.deployments import NoPreviousApprovedModel, NotWaitingForApproval, Version

PIPELINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:cv-training-pipeline"
PACKAGE = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/cv-models/3"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rollback"], "--rollback needs --state-machine-arn"),
        (["--rollback", "--state-machine-arn", "cv-training-pipeline"], "--rollback needs --state-machine-arn"),
        (["--reject", PACKAGE], "--reject needs --reason"),
        (["--reject", PACKAGE, "--reason", "  "], "--reject needs --reason"),
        (["--approve", " "], "needs a model package ARN or a task token"),
        (["--approve", PACKAGE, "--rollback"], "not allowed with argument"),
    ],
)
def test_bad_arguments_are_refused_in_one_line_before_any_aws_call(argv, message, capsys):
    def no_aws(service: str) -> Any:
        raise AssertionError(f"no client may be made, asked for {service}")

    code = deployments.main(argv, client=no_aws)

    err = capsys.readouterr().err
    assert code == deployments.EXIT_REFUSED
    assert err.startswith("error: ")
    assert message in err
    assert err.count("\n") == 1


def test_the_launcher_hands_its_deployment_commands_over_without_asking_for_a_dataset(capsys):
    code = launcher.main(["--reject", PACKAGE])

    assert code == deployments.EXIT_REFUSED
    err = capsys.readouterr().err
    assert "--reject needs --reason" in err
    assert "--bucket" not in err  # not the launch's parser


def version(number: int, status: str, artifact: str) -> Version:
    return Version(
        arn=f"arn:aws:sagemaker:eu-west-1:123456789012:model-package/cv-models/{number}",
        number=number,
        status=status,
        model_data_url=f"s3://cv-data/models/{artifact}/output/model.tar.gz",
        container={"Image": "i", "ModelDataUrl": f"s3://cv-data/models/{artifact}/output/model.tar.gz"},
        metadata={"ModelVersion": artifact, "ModelName": artifact},
    )


HISTORY = [  # newest first, as versions() returns them
    version(5, "Rejected", "job-5"),  # rolled back by its canary: never served
    version(4, "Approved", "job-4"),  # serves
    version(3, "Rejected", "job-3"),  # rejected by its approver
    version(2, "Approved", "job-2"),
    version(1, "Approved", "job-1"),
]


def test_a_rollback_picks_the_newest_approved_version_older_than_the_one_serving():
    current, target = deployments.choose(HISTORY, "s3://cv-data/models/job-4/output/model.tar.gz")

    assert (current.number, target.number) == (4, 2)


def test_after_a_rollback_the_next_one_goes_one_further_back():
    history = [v if v.number != 4 else version(4, "Rejected", "job-4") for v in HISTORY]

    current, target = deployments.choose(history, "s3://cv-data/models/job-2/output/model.tar.gz")

    assert (current.number, target.number) == (2, 1)


def test_a_rollback_with_nothing_older_or_an_unregistered_model_is_refused():
    with pytest.raises(NoPreviousApprovedModel, match="older than version 1"):
        deployments.choose(HISTORY, "s3://cv-data/models/job-1/output/model.tar.gz")
    with pytest.raises(NoPreviousApprovedModel, match="no version of the registry holds"):
        deployments.choose(HISTORY, "s3://cv-data/models/hand-made/model.tar.gz")


class Sfn:
    def __init__(self, fail_with: str | None = None) -> None:
        self.sent: list[tuple[str, dict]] = []
        self.fail_with = fail_with

    def _maybe_fail(self, operation: str) -> None:
        if self.fail_with:
            raise ClientError({"Error": {"Code": self.fail_with, "Message": "gone"}}, operation)

    def send_task_success(self, **request: Any) -> None:
        self._maybe_fail("SendTaskSuccess")
        self.sent.append(("success", request))

    def send_task_failure(self, **request: Any) -> None:
        self._maybe_fail("SendTaskFailure")
        self.sent.append(("failure", request))


class Sts:
    def get_caller_identity(self) -> dict:
        return {"Arn": "arn:aws:sts::123456789012:assumed-role/ml-reviewer/alice"}


def test_a_token_is_answered_as_given_and_the_answer_names_who_gave_it():
    sfn = Sfn()

    deployments.answer(sfn, None, Sts(), "a-task-token", approve=True, reason="looks right", progress=lambda _: None)
    deployments.answer(sfn, None, Sts(), "a-task-token", approve=False, reason="biased", progress=lambda _: None)

    (kind, approval), (kind2, rejection) = sfn.sent
    assert (kind, kind2) == ("success", "failure")
    assert approval["taskToken"] == "a-task-token"
    assert json.loads(approval["output"]) == {
        "decision": "Approved",
        "approved_by": "arn:aws:sts::123456789012:assumed-role/ml-reviewer/alice",
        "reason": "looks right",
    }
    assert rejection["error"] == deployments.REJECTION_ERROR
    assert rejection["cause"] == "biased (rejected by arn:aws:sts::123456789012:assumed-role/ml-reviewer/alice)"


@pytest.mark.parametrize("code", ["InvalidToken", "TaskDoesNotExist", "TaskTimedOut"])
def test_an_answer_nobody_waits_for_is_refused_by_name(code):
    with pytest.raises(NotWaitingForApproval, match=code):
        deployments.answer(Sfn(code), None, Sts(), "old-token", approve=True, reason=None, progress=lambda _: None)


def test_a_version_that_is_not_pending_is_not_waited_for():
    class SageMaker:
        def describe_model_package(self, ModelPackageName: str) -> dict:
            return {"ModelPackageArn": ModelPackageName, "ModelApprovalStatus": "Approved"}

    with pytest.raises(NotWaitingForApproval, match="is Approved, not waiting"):
        deployments.task_token_for(Sfn(), SageMaker(), PACKAGE)
