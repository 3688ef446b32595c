"""Safe deployments, run through statemachine.asl.json on the embedded AWS with the stand-in model: every gated
model registered with its metrics, optional approval by a person, canary rollouts that roll back on the endpoint's
alarms, the smoke test, and `python -m training.launch --rollback`."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from local_aws.endpoints import EndpointFault

from tests.pipeline.conftest import DOUBLE_SOURCEDIR, Rollout, TrainingPipeline, load_synthetic_dataset
from training import deployments
from training import launch as launcher

pytestmark = pytest.mark.embedded

PREFIX = "sd"  # state machines sd-*-training-pipeline, job names sd-...
THRESHOLD = 0.8


@pytest.fixture(scope="module")
def stack(training_pipeline: TrainingPipeline) -> TrainingPipeline:
    load_synthetic_dataset(
        training_pipeline.aws.client("s3"),
        training_pipeline.data_bucket,
        "datasets/learnable",
        training_pipeline.work,
        per_class_train=40,
        per_class_test=10,
    )
    return training_pipeline


def group(stack: TrainingPipeline, name: str) -> str:
    """A model package group of its own (Terraform makes one per pipeline)."""
    sagemaker = stack.aws.client("sagemaker")
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=name)
    except ClientError:
        sagemaker.create_model_package_group(ModelPackageGroupName=name)
    return name


def job_name(arn: str, label: str) -> str:
    """A fresh job name with the state machine's prefix (its roles are scoped to it)."""
    return f"{launcher.name_prefix(arn)}-{label}-{uuid.uuid4().hex[:8]}"


def start(stack: TrainingPipeline, arn: str, name: str, **hyperparameters: str) -> launcher.LaunchResult:
    return launcher.launch(
        arn,
        stack.data_bucket,
        "datasets/learnable",
        sourcedir=DOUBLE_SOURCEDIR,
        job_name=name,
        hyperparameters=hyperparameters,
        client_factory=stack.aws.client,
        region=stack.aws.region,
        progress=lambda _line: None,
        wait=False,
    )


def finish(stack: TrainingPipeline, result: launcher.LaunchResult, progress: list[str] | None = None):
    lines = progress if progress is not None else []
    return launcher.follow(
        stack.aws.client("stepfunctions"), stack.aws.client("sagemaker"), result, lines.append, 0.5, 300
    )


def run(stack: TrainingPipeline, arn: str, label: str, progress: list[str] | None = None, **hyperparameters: str):
    return finish(stack, start(stack, arn, job_name(arn, label), **hyperparameters), progress)


def endpoint(stack: TrainingPipeline, name: str) -> dict[str, Any]:
    return stack.aws.client("sagemaker").describe_endpoint(EndpointName=name)


def answered_by(stack: TrainingPipeline, name: str) -> str:
    body = stack.aws.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=name, ContentType="application/x-image", Body=b"\x89PNG"
    )["Body"]
    return json.loads(body.read())["model_version"]


def package(stack: TrainingPipeline, arn: str) -> dict[str, Any]:
    return stack.aws.client("sagemaker").describe_model_package(ModelPackageName=arn)


def versions_of(stack: TrainingPipeline, group_name: str) -> list[dict[str, Any]]:
    return stack.aws.client("sagemaker").list_model_packages(ModelPackageGroupName=group_name)[
        "ModelPackageSummaryList"
    ]


def endpoint_alarms(stack: TrainingPipeline, endpoint_name: str) -> tuple[str, str]:
    """The monitoring module's 5xx and error-rate alarms for an endpoint (one-minute periods, for a quick test)."""
    cloudwatch = stack.aws.client("cloudwatch")
    dimensions = [{"Name": "EndpointName", "Value": endpoint_name}, {"Name": "VariantName", "Value": "AllTraffic"}]
    cloudwatch.put_metric_alarm(
        AlarmName=f"{endpoint_name}-5xx",
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=dimensions,
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    cloudwatch.put_metric_alarm(
        AlarmName=f"{endpoint_name}-error-rate",
        ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=1,
        Threshold=5,
        TreatMissingData="notBreaching",
        Metrics=[
            {"Id": "rate", "Expression": "IF(calls > 0, 100 * FILL(errors, 0) / calls, 0)", "ReturnData": True},
            {
                "Id": "errors",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SageMaker",
                        "MetricName": "Invocation5XXErrors",
                        "Dimensions": dimensions,
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {
                "Id": "calls",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations", "Dimensions": dimensions},
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
        ],
    )
    return f"{endpoint_name}-5xx", f"{endpoint_name}-error-rate"


@pytest.fixture
def traffic(stack: TrainingPipeline) -> Iterator[Any]:
    """Requests to an endpoint every 0.2 s in the background (a production load while a rollout bakes)."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def send(name: str) -> None:
        runtime = stack.aws.client("sagemaker-runtime")
        while not stop.is_set():
            with contextlib.suppress(ClientError):  # the canary's injected 5xx; an endpoint not yet in service
                runtime.invoke_endpoint(EndpointName=name, ContentType="application/x-image", Body=b"\x89PNG")
            time.sleep(0.2)

    def begin(name: str) -> None:
        thread = threading.Thread(target=send, args=(name,), daemon=True)
        thread.start()
        threads.append(thread)

    yield begin
    stop.set()
    for thread in threads:
        thread.join(timeout=5)


# -- registry and canary -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def canary_pipeline(stack: TrainingPipeline) -> dict[str, Any]:
    alarms = endpoint_alarms(stack, "sd-canary")
    rollout = Rollout("canary", step_percent=50, wait_seconds=5, termination_wait_seconds=1, alarms=alarms)
    arn = stack.state_machine(
        f"{PREFIX}-canary-training-pipeline",
        THRESHOLD,
        endpoint_name="sd-canary",
        rollout=rollout,
        model_package_group=group(stack, "sd-canary-models"),
    )
    return {"arn": arn, "group": "sd-canary-models", "endpoint": "sd-canary", "alarms": alarms, "serving": []}


def serving_versions(stack: TrainingPipeline, pipeline: dict[str, Any], count: int) -> list[str]:
    """At least `count` versions deployed one after the other to the canary endpoint (the job names, oldest
    first); earlier tests of this module leave theirs."""
    while len(pipeline["serving"]) < count:
        result = run(stack, pipeline["arn"], "serve")
        assert result.exit_code == 0, result.summary()
        pipeline["serving"].append(result.job_name)
    return pipeline["serving"]


def test_a_gated_model_is_registered_with_its_metrics_then_a_canary_rollout_deploys_the_next(stack, canary_pipeline):
    first = serving_versions(stack, canary_pipeline, 1)[0]
    sagemaker = stack.aws.client("sagemaker")
    (registered,) = versions_of(stack, canary_pipeline["group"])
    version = package(stack, registered["ModelPackageArn"])
    job = sagemaker.describe_training_job(TrainingJobName=first)
    model = sagemaker.describe_model(ModelName=first)

    assert version["ModelApprovalStatus"] == "Approved"  # no approval asked for
    (container,) = version["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == job["ModelArtifacts"]["S3ModelArtifacts"]
    assert container["Image"] == model["PrimaryContainer"]["Image"]
    metadata = version["CustomerMetadataProperties"]
    assert metadata["ModelVersion"] == first
    assert float(metadata["Accuracy"]) == pytest.approx(0.9)
    assert metadata["AccuracyMetric"] == "test:accuracy"
    assert float(metadata["ConfidenceThreshold"]) == pytest.approx(0.85)  # the model's own, from validation
    assert metadata["BaselineS3Uri"] == f"s3://{stack.data_bucket}/monitoring/baseline"
    assert metadata["BaselineTestS3Uri"] == f"s3://{stack.data_bucket}/datasets/learnable/test/"
    assert metadata["PipelineExecutionArn"].endswith(f":{first}")
    statistics_uri = version["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    bucket, _, key = statistics_uri.removeprefix("s3://").partition("/")
    report = json.loads(stack.aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert report["multiclass_classification_metrics"]["accuracy"]["value"] == pytest.approx(0.9)

    progress: list[str] = []
    second = run(stack, canary_pipeline["arn"], "canary", progress, accuracy="0.93")

    assert second.exit_code == 0, second.summary()
    canary_pipeline["serving"].append(second.job_name)
    assert any(line.endswith("UpdateEndpointWithGuardrails") for line in progress)
    assert any(line.endswith("SmokeTest") for line in progress)
    deployed = endpoint(stack, "sd-canary")
    assert deployed["EndpointConfigName"] == second.job_name
    rollout = deployed["LastDeploymentConfig"]
    assert rollout["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    assert rollout["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["CanarySize"]["Value"] == 50
    assert [a["AlarmName"] for a in rollout["AutoRollbackConfiguration"]["Alarms"]] == list(canary_pipeline["alarms"])
    assert answered_by(stack, "sd-canary") == second.job_name
    assert second.output["SmokeTest"]["images"] == 4
    assert second.output["SmokeTest"]["model_version"] == second.job_name
    assert package(stack, second.output["ModelPackageArn"])["ModelPackageVersion"] == 2


def test_a_canary_whose_new_model_answers_5xx_rolls_back_and_the_old_model_keeps_answering(
    stack, canary_pipeline, traffic
):
    previous = serving_versions(stack, canary_pipeline, 1)[-1]
    stack.notifications()
    name = job_name(canary_pipeline["arn"], "failing")
    stack.aws.endpoints.faults["sd-canary"] = EndpointFault("ModelError", count=10_000, model_name=name)
    traffic("sd-canary")
    try:
        result = finish(stack, start(stack, canary_pipeline["arn"], name))
    finally:
        stack.aws.endpoints.faults.pop("sd-canary", None)

    assert result.status == "FAILED"
    assert result.error == "DeploymentRolledBack"
    assert f"from endpoint config {name} to {previous}" in result.cause
    assert "sd-canary-5xx" in result.cause
    deployed = endpoint(stack, "sd-canary")
    assert (deployed["EndpointStatus"], deployed["EndpointConfigName"]) == ("InService", previous)
    assert "rolled back" in deployed["FailureReason"]
    assert answered_by(stack, "sd-canary") == previous  # the old model answers, not the rolled-back one
    (rolled_back,) = [
        package(stack, v["ModelPackageArn"])
        for v in versions_of(stack, canary_pipeline["group"])
        if package(stack, v["ModelPackageArn"])["CustomerMetadataProperties"]["ModelVersion"] == name
    ]
    assert rolled_back["ModelApprovalStatus"] == "Rejected"
    assert [m for m in stack.notifications() if name in m and "rolled back" in m]


def test_rollback_redeploys_the_previous_approved_version_without_retraining(stack, canary_pipeline, capsys):
    older, newer = serving_versions(stack, canary_pipeline, 2)[-2:]
    assert endpoint(stack, "sd-canary")["EndpointConfigName"] == newer
    jobs_before = len(stack.aws.client("sagemaker").list_training_jobs(MaxResults=100)["TrainingJobSummaries"])

    code = deployments.main(
        ["--rollback", "--state-machine-arn", canary_pipeline["arn"], "--poll-seconds", "0.5"],
        client=stack.aws.client,
    )

    out = capsys.readouterr()
    assert code == deployments.EXIT_DONE, out.err
    deployed = endpoint(stack, "sd-canary")
    assert deployed["EndpointStatus"] == "InService"
    assert deployed["EndpointConfigName"].startswith(f"{older}-rollback-")
    assert answered_by(stack, "sd-canary") == older
    config = stack.aws.client("sagemaker").describe_endpoint_config(EndpointConfigName=deployed["EndpointConfigName"])
    assert config["ProductionVariants"][0]["ModelName"] == older  # the version's own model, no new training
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == f"s3://{stack.capture_bucket}/datacapture"
    assert len(stack.aws.client("sagemaker").list_training_jobs(MaxResults=100)["TrainingJobSummaries"]) == jobs_before
    statuses = {
        package(stack, v["ModelPackageArn"])["CustomerMetadataProperties"]["ModelVersion"]: v["ModelApprovalStatus"]
        for v in versions_of(stack, canary_pipeline["group"])
    }
    assert statuses[newer] == "Rejected"
    assert statuses[older] == "Approved"
    baseline = json.loads(
        stack.aws.client("s3")
        .get_object(Bucket=stack.data_bucket, Key="monitoring/baseline/request.json")["Body"]
        .read()
    )
    assert baseline["training_job_name"] == older  # the baseline is the rolled-back-to version's again
    assert "to version" in out.out
    assert "baseline written" in out.out
    canary_pipeline["serving"] = [v for v in canary_pipeline["serving"] if v != newer]


def test_rollback_with_no_older_approved_version_is_refused_by_name(stack, capsys):
    arn = stack.state_machine(
        f"{PREFIX}-lonely-training-pipeline",
        THRESHOLD,
        endpoint_name="sd-lonely",
        model_package_group=group(stack, "sd-lonely-models"),
    )
    only = run(stack, arn, "lonely")
    assert only.exit_code == 0, only.summary()

    code = deployments.main(["--rollback", "--state-machine-arn", arn], client=stack.aws.client)

    err = capsys.readouterr().err
    assert code == deployments.EXIT_REFUSED
    assert err.startswith("error: NoPreviousApprovedModel: no Approved model version is older than version 1")
    assert endpoint(stack, "sd-lonely")["EndpointConfigName"] == only.job_name


def test_a_new_model_that_fails_the_smoke_test_is_taken_back_off_the_endpoint(stack):
    arn = stack.state_machine(
        f"{PREFIX}-smoke-training-pipeline",
        THRESHOLD,
        endpoint_name="sd-smoke",
        model_package_group=group(stack, "sd-smoke-models"),
    )
    good = run(stack, arn, "good")
    assert good.exit_code == 0, good.summary()
    stack.notifications()

    malformed = run(stack, arn, "malformed", malformed="true")

    assert malformed.error == "SmokeTestFailed"
    assert "SmokeTestBadAnswer" in malformed.cause
    deployed = endpoint(stack, "sd-smoke")
    assert (deployed["EndpointStatus"], deployed["EndpointConfigName"]) == ("InService", good.job_name)
    assert answered_by(stack, "sd-smoke") == good.job_name
    statuses = {v["ModelPackageVersion"]: v["ModelApprovalStatus"] for v in versions_of(stack, "sd-smoke-models")}
    assert statuses == {1: "Approved", 2: "Rejected"}
    assert [m for m in stack.notifications() if malformed.job_name in m and "smoke test" in m]


def test_a_model_the_gate_rejects_is_not_registered(stack):
    arn = stack.state_machine(
        f"{PREFIX}-gate-training-pipeline",
        THRESHOLD,
        endpoint_name="sd-gate",
        model_package_group=group(stack, "sd-gate-models"),
    )

    rejected = run(stack, arn, "weak", accuracy="0.5")

    assert rejected.error == "ModelBelowThreshold"
    assert versions_of(stack, "sd-gate-models") == []


# -- approval ------------------------------------------------------------------------------------------------------
def waiting_version(stack: TrainingPipeline, group_name: str, name: str, timeout: float = 60) -> str:
    """The ARN of the version of training job `name`, once it waits for approval."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for summary in versions_of(stack, group_name):
            found = package(stack, summary["ModelPackageArn"])
            metadata = found["CustomerMetadataProperties"]
            if metadata["ModelVersion"] == name and found["ModelApprovalStatus"] == "PendingManualApproval":
                return found["ModelPackageArn"]
        time.sleep(0.5)
    raise AssertionError(f"no version of {name} waits for approval")


@pytest.fixture(scope="module")
def approval_pipeline(stack: TrainingPipeline) -> dict[str, Any]:
    arn = stack.state_machine(
        f"{PREFIX}-approval-training-pipeline",
        THRESHOLD,
        endpoint_name="sd-approval",
        require_approval=True,
        model_package_group=group(stack, "sd-approval-models"),
    )
    return {"arn": arn, "group": "sd-approval-models"}


def test_an_approved_version_is_deployed_and_the_request_says_how_to_answer(stack, approval_pipeline, capsys):
    stack.notifications()
    name = job_name(approval_pipeline["arn"], "approved")
    started = start(stack, approval_pipeline["arn"], name)
    version = waiting_version(stack, approval_pipeline["group"], name)
    assert stack.aws.client("stepfunctions").describe_execution(executionArn=started.execution_arn)["status"] == (
        "RUNNING"
    )
    (request,) = [m for m in stack.notifications() if "waits for approval" in m]
    assert f"python -m training.launch --approve {version}" in request
    assert "aws stepfunctions send-task-success" in request

    code = deployments.main(["--approve", version, "--reason", "reviewed the metrics"], client=stack.aws.client)

    assert code == deployments.EXIT_DONE, capsys.readouterr().err
    result = finish(stack, started)
    assert result.exit_code == 0, result.summary()
    approved = package(stack, version)
    assert approved["ModelApprovalStatus"] == "Approved"
    assert "reviewed the metrics" in approved["ApprovalDescription"]
    assert endpoint(stack, "sd-approval")["EndpointConfigName"] == name
    assert answered_by(stack, "sd-approval") == name


def test_a_rejected_version_is_not_deployed_ends_by_name_and_notifies(stack, approval_pipeline, capsys):
    before = (
        endpoint(stack, "sd-approval")["EndpointConfigName"]
        if "sd-approval" in {e["EndpointName"] for e in stack.aws.client("sagemaker").list_endpoints()["Endpoints"]}
        else None
    )
    stack.notifications()
    name = job_name(approval_pipeline["arn"], "rejected")
    started = start(stack, approval_pipeline["arn"], name)
    version = waiting_version(stack, approval_pipeline["group"], name)

    assert deployments.main(["--reject", version, "--reason", "bias on night photos"], client=stack.aws.client) == 0
    result = finish(stack, started)

    assert (result.status, result.error) == ("FAILED", "ModelRejected")
    assert "bias on night photos" in result.cause
    assert package(stack, version)["ModelApprovalStatus"] == "Rejected"
    after = [
        e for e in stack.aws.client("sagemaker").list_endpoints()["Endpoints"] if e["EndpointName"] == "sd-approval"
    ]
    assert (endpoint(stack, "sd-approval")["EndpointConfigName"] if after else None) == before
    assert [m for m in stack.notifications() if name in m and "rejected by its approver" in m]
    # The version was answered: a second answer is refused by name, and changes nothing.
    assert deployments.main(["--approve", version], client=stack.aws.client) == deployments.EXIT_REFUSED
    assert "NotWaitingForApproval" in capsys.readouterr().err
    assert package(stack, version)["ModelApprovalStatus"] == "Rejected"


def test_a_version_nobody_answers_expires_is_rejected_and_notifies(stack):
    arn = stack.state_machine(
        f"{PREFIX}-expiry-training-pipeline",
        THRESHOLD,
        endpoint_name="sd-expiry",
        require_approval=True,
        approval_timeout_seconds=2,
        model_package_group=group(stack, "sd-expiry-models"),
    )
    stack.notifications()

    result = run(stack, arn, "unanswered")

    assert (result.status, result.error) == ("FAILED", "ApprovalExpired")
    assert "within 2 seconds" in result.cause
    (version,) = versions_of(stack, "sd-expiry-models")
    assert version["ModelApprovalStatus"] == "Rejected"
    assert "sd-expiry" not in {e["EndpointName"] for e in stack.aws.client("sagemaker").list_endpoints()["Endpoints"]}
    assert [m for m in stack.notifications() if result.job_name in m and "neither approved nor rejected" in m]
