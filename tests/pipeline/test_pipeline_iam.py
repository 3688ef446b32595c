"""A call the pipeline's role may not make ends the run by name, notifies, and leaves nothing half-deployed.

The embedded AWS checks every call a state machine task makes against the state machine's role (issue 15): this is
what a platform team sees on AWS when a grant is missing, e.g. the sagemaker:AddTags that Step Functions needs
because it tags every SageMaker resource its tasks create.
"""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import fixture_role
from tests.pipeline.conftest import DOUBLE_SOURCEDIR, TrainingPipeline, load_synthetic_dataset
from training import launch as launcher

pytestmark = pytest.mark.embedded

PREFIX = "pi"  # pi-training-pipeline: job names start with pi-


def denying(stack: TrainingPipeline, name: str, action: str) -> str:
    """A role that may do anything but `action` (an explicit deny): the role a policy missing one grant acts as."""
    iam = stack.aws.client("iam")
    arn = fixture_role(iam, name)
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": action, "Resource": "*"}]}
    iam.put_role_policy(RoleName=name, PolicyName="missing-grant", PolicyDocument=json.dumps(deny))
    return arn


def test_a_refused_call_fails_the_run_by_name_notifies_and_creates_nothing(training_pipeline: TrainingPipeline):
    stack = training_pipeline
    load_synthetic_dataset(
        stack.aws.client("s3"), stack.data_bucket, "datasets/iam", stack.work, per_class_train=8, per_class_test=4
    )
    machine = stack.state_machine(f"{PREFIX}-training-pipeline")
    sfn = stack.aws.client("stepfunctions")
    sfn.update_state_machine(
        stateMachineArn=machine, roleArn=denying(stack, f"{PREFIX}-no-addtags", "sagemaker:AddTags")
    )
    stack.notifications()  # start from an empty queue
    job_name = f"{PREFIX}-{uuid.uuid4().hex[:12]}"

    result = launcher.launch(
        machine,
        stack.data_bucket,
        "datasets/iam",
        sourcedir=DOUBLE_SOURCEDIR,
        job_name=job_name,
        client_factory=stack.aws.client,
        region=stack.aws.region,
        progress=lambda _line: None,
        poll_seconds=0.5,
        timeout_seconds=120,
    )

    assert (result.status, result.error) == ("FAILED", "TrainingFailed")
    assert "AccessDeniedException" in result.cause
    assert "is not authorized to perform: sagemaker:AddTags on resource: " in result.cause
    assert f"training-job/{job_name}" in result.cause
    notices = stack.notifications()
    assert any("sagemaker:AddTags" in notice and job_name in notice for notice in notices), notices
    jobs = stack.aws.client("sagemaker").list_training_jobs(NameContains=job_name)["TrainingJobSummaries"]
    assert jobs == [], "a refused CreateTrainingJob creates no job"
    denied = [c for c in stack.aws.iam.calls if not c["allowed"] and c["action"] == "sagemaker:AddTags"]
    assert denied, "the refusal is in the IAM call log"
