"""statemachine.asl.json executed on the embedded AWS: real training on a synthetic dataset made by the real ETL,
evaluation, the accuracy gate, deployment with data capture, and each way it can end."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.pipeline.conftest import DOUBLE_SOURCEDIR, REAL_SOURCEDIR, TrainingPipeline, load_synthetic_dataset
from training import launch as launcher

pytestmark = pytest.mark.embedded

PREFIX = "pt"  # the state machine is pt-training-pipeline, so job names start with pt-
THRESHOLD = 0.8
# train.py's defaults are tuned for the CIFAR dataset; 72 synthetic images need a gentler, shorter schedule.
# One thread: the machine's cores are shared with the rest of the test session.
TINY_RUN = {"epochs": "10", "learning_rate": "0.02", "batch_size": "8", "num_threads": "1"}


@pytest.fixture(scope="module")
def pipeline(training_pipeline: TrainingPipeline) -> dict[str, Any]:
    """The state machine, plus two datasets: one a model learns, one whose test split looks the other way round."""
    s3 = training_pipeline.aws.client("s3")
    work = training_pipeline.work
    load_synthetic_dataset(
        s3, training_pipeline.data_bucket, "datasets/learnable", work, per_class_train=40, per_class_test=10
    )
    load_synthetic_dataset(
        s3,
        training_pipeline.data_bucket,
        "datasets/shifted",
        work,
        per_class_train=40,
        per_class_test=10,
        invert_test=True,
    )
    training_pipeline.notifications()  # start from an empty queue
    return {
        "stack": training_pipeline,
        "arn": training_pipeline.state_machine(f"{PREFIX}-training-pipeline", THRESHOLD),
    }


def real_sourcedir() -> Path:
    missing = [name for name in ("train.py", "metrics.py", "inference.py") if not (REAL_SOURCEDIR / name).is_file()]
    if missing:
        pytest.skip(f"training/sourcedir lacks {', '.join(missing)}: the training code is not complete yet")
    return REAL_SOURCEDIR


def run(
    pipeline: dict[str, Any], dataset: str, sourcedir: Path, arn: str | None = None, **options: Any
) -> tuple[launcher.LaunchResult, list[str]]:
    """One launch, followed to its end: the result and the progress lines it printed."""
    stack: TrainingPipeline = pipeline["stack"]
    lines: list[str] = []
    result = launcher.launch(
        arn or pipeline["arn"],
        stack.data_bucket,
        dataset,
        sourcedir=sourcedir,
        job_name=options.pop("job_name", f"{PREFIX}-{uuid.uuid4().hex[:12]}"),
        client_factory=stack.aws.client,
        region=stack.aws.region,
        progress=lines.append,
        poll_seconds=0.5,
        timeout_seconds=240,
        **options,
    )
    return result, lines


def endpoint(stack: TrainingPipeline, name: str | None = None) -> dict | None:
    try:
        return stack.aws.client("sagemaker").describe_endpoint(EndpointName=name or stack.endpoint_name)
    except ClientError:
        return None


def test_a_model_above_the_threshold_is_deployed_with_full_data_capture(pipeline):
    stack: TrainingPipeline = pipeline["stack"]
    result, progress = run(pipeline, "datasets/learnable", real_sourcedir(), hyperparameters=TINY_RUN)

    assert result.exit_code == 0, result.summary()
    assert result.accuracy >= THRESHOLD
    assert result.metric_name == "test:accuracy"
    assert any(line.endswith("AccuracyGate") for line in progress)
    deployed = endpoint(stack)
    assert deployed["EndpointStatus"] == "InService"
    assert deployed["EndpointConfigName"] == result.job_name  # one endpoint config per model version

    sagemaker = stack.aws.client("sagemaker")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=result.job_name)
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == 100
    assert capture["DestinationS3Uri"] == f"s3://{stack.capture_bucket}/datacapture"
    assert {option["CaptureMode"] for option in capture["CaptureOptions"]} == {"Input", "Output"}
    model = sagemaker.describe_model(ModelName=result.job_name)["PrimaryContainer"]
    job = sagemaker.describe_training_job(TrainingJobName=result.job_name)
    assert model["ModelDataUrl"] == job["ModelArtifacts"]["S3ModelArtifacts"]
    assert model["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"

    s3 = stack.aws.client("s3")
    baseline_request = json.loads(
        s3.get_object(Bucket=stack.data_bucket, Key="monitoring/baseline/request.json")["Body"].read()
    )
    assert baseline_request == {
        "endpoint_name": stack.endpoint_name,
        "test_s3_uri": f"s3://{stack.data_bucket}/datasets/learnable/test/",
        "baseline_s3_prefix": f"s3://{stack.data_bucket}/monitoring/baseline",
        "training_job_name": result.job_name,
    }

    # The deployed model answers, and its traffic is captured.
    test_image = next(
        key["Key"]
        for key in s3.list_objects_v2(Bucket=stack.data_bucket, Prefix="datasets/learnable/test/")["Contents"]
        if key["Key"].endswith(".png")
    )
    answer = stack.aws.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=stack.endpoint_name,
        ContentType="application/x-image",
        Accept="application/json",
        Body=s3.get_object(Bucket=stack.data_bucket, Key=test_image)["Body"].read(),
    )
    assert answer["Body"].read()
    captured = s3.list_objects_v2(
        Bucket=stack.capture_bucket, Prefix=f"datacapture/{stack.endpoint_name}/AllTraffic/"
    ).get("KeyCount", 0)
    assert captured >= 1

    metric_names = {
        m["MetricName"] for m in stack.aws.client("cloudwatch").list_metrics(Namespace="CourierVehicleTest")["Metrics"]
    }
    assert {"ModelAccuracy", "GateApproved"} <= metric_names


def test_a_model_below_the_threshold_is_rejected_and_the_endpoint_keeps_its_model(pipeline, monkeypatch, capsys):
    stack: TrainingPipeline = pipeline["stack"]
    sourcedir = real_sourcedir()
    before = endpoint(stack)
    for name, value in stack.aws.environment().items():
        monkeypatch.setenv(name, value)
    job_name = f"{PREFIX}-shifted-{uuid.uuid4().hex[:8]}"

    code = launcher.main(
        [
            "--state-machine-arn",
            pipeline["arn"],
            "--bucket",
            stack.data_bucket,
            "--dataset-prefix",
            "datasets/shifted",
            "--sourcedir",
            str(sourcedir),
            "--job-name",
            job_name,
            "--epochs",
            "3",
            "--poll-seconds",
            "0.5",
        ]
    )

    err = capsys.readouterr().err
    assert code == launcher.EXIT_REJECTED, err
    assert re.search(r"accuracy 0\.\d+ is below the gate threshold 0\.80", err), err
    after = endpoint(stack)
    assert (after or {}).get("EndpointConfigName") == (before or {}).get("EndpointConfigName")
    with pytest.raises(ClientError, match="Could not find model"):
        stack.aws.client("sagemaker").describe_model(ModelName=job_name)  # nothing was deployed
    messages = stack.notifications()
    assert any(job_name in message and "below the gate threshold" in message for message in messages)


def test_a_new_model_replaces_the_serving_one_and_a_model_that_fails_to_load_does_not(pipeline):
    """Runs of the stand-in model: an update (blue/green) switches the endpoint to the new endpoint config only
    once the new model loads; a model that cannot load leaves the previous one serving."""
    stack: TrainingPipeline = pipeline["stack"]
    if (endpoint(stack) or {}).get("EndpointStatus") != "InService":  # no earlier test left one serving
        first, _ = run(pipeline, "datasets/learnable", DOUBLE_SOURCEDIR, hyperparameters={"accuracy": "0.9"})
        assert first.exit_code == 0, first.summary()
    second, progress = run(pipeline, "datasets/learnable", DOUBLE_SOURCEDIR, hyperparameters={"accuracy": "0.95"})
    assert second.exit_code == 0, second.summary()
    assert any(line.endswith("UpdateEndpoint") for line in progress)
    assert endpoint(stack)["EndpointConfigName"] == second.job_name
    stack.notifications()

    broken, _ = run(pipeline, "datasets/learnable", DOUBLE_SOURCEDIR, hyperparameters={"broken": "true"})

    assert broken.exit_code == launcher.EXIT_FAILED
    assert broken.error == "DeploymentFailed"
    assert "broken on purpose" in broken.cause
    assert endpoint(stack)["EndpointStatus"] == "InService"
    assert endpoint(stack)["EndpointConfigName"] == second.job_name
    assert any(broken.job_name in message and "was not deployed" in message for message in stack.notifications())


def test_an_endpoint_whose_creation_failed_is_recreated_by_the_next_run(pipeline):
    """A failed endpoint cannot be updated; the next run deletes it and creates it again."""
    stack: TrainingPipeline = pipeline["stack"]
    arn = stack.state_machine("pt-fresh-training-pipeline", THRESHOLD, endpoint_name="pipeline-test-fresh")
    failed, _ = run(
        pipeline,
        "datasets/learnable",
        DOUBLE_SOURCEDIR,
        arn=arn,
        job_name="pt-fresh-broken",
        hyperparameters={"broken": "true"},
    )
    assert failed.error == "DeploymentFailed"
    assert endpoint(stack, "pipeline-test-fresh")["EndpointStatus"] == "Failed"

    fixed, progress = run(pipeline, "datasets/learnable", DOUBLE_SOURCEDIR, arn=arn, job_name="pt-fresh-good")

    assert fixed.exit_code == 0, fixed.summary()
    assert any(line.endswith("DeleteFailedEndpoint") for line in progress)
    assert endpoint(stack, "pipeline-test-fresh")["EndpointStatus"] == "InService"
    assert endpoint(stack, "pipeline-test-fresh")["EndpointConfigName"] == "pt-fresh-good"


def test_the_builtin_algorithm_fails_clearly_on_the_embedded_aws(pipeline):
    result, _ = run(pipeline, "datasets/learnable", DOUBLE_SOURCEDIR, algorithm="builtin")

    assert result.exit_code == launcher.EXIT_FAILED
    assert result.error == "TrainingFailed"
    assert "cannot run locally" in result.cause
    assert "image-classification" in result.cause


def test_a_retrain_input_without_a_job_name_gets_fresh_names(pipeline):
    """The retrain guard starts the pipeline with a saved input; every run must still get its own names."""
    stack: TrainingPipeline = pipeline["stack"]
    saved = launcher.prepare_input(
        pipeline["arn"],
        stack.data_bucket,
        "datasets/learnable",
        region=stack.aws.region,
        s3=stack.aws.client("s3"),
        sourcedir=DOUBLE_SOURCEDIR,
        progress=lambda _: None,
    )
    del saved["training"]["job_name"]  # type: ignore[misc]
    sfn = stack.aws.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=pipeline["arn"], input=json.dumps(saved))["executionArn"]
    deadline = time.time() + 120
    while (execution := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.time() < deadline
        time.sleep(0.5)

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    name = json.loads(execution["output"])["TrainingJobName"]
    assert re.fullmatch(rf"{PREFIX}-retrain-[0-9a-f]{{8}}", name)
    assert endpoint(stack)["EndpointConfigName"] == name
    # Generated, not taken from anything the saved input carries: a second run cannot collide with this one.
    assert name not in json.dumps(saved)
