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

from tests.pipeline.conftest import (
    DOUBLE_SOURCEDIR,
    FLAKY_BASELINE_STAND_IN,
    REAL_SOURCEDIR,
    EndpointSettings,
    TrainingPipeline,
    lambda_zip,
    load_synthetic_dataset,
)
from training import launch as launcher

pytestmark = pytest.mark.embedded

PREFIX = "pt"  # the state machine is pt-training-pipeline, so job names start with pt-
THRESHOLD = 0.8
# train.py's defaults are tuned for the CIFAR dataset; 72 synthetic images need a gentler, shorter schedule.
# One thread: the machine's cores are shared with the rest of the test session.
TINY_RUN = {"epochs": "10", "learning_rate": "0.02", "batch_size": "8", "num_threads": "1", "folds": "2"}


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


def sample_image(stack: TrainingPipeline) -> bytes:
    s3 = stack.aws.client("s3")
    key = next(
        item["Key"]
        for item in s3.list_objects_v2(Bucket=stack.data_bucket, Prefix="datasets/learnable/test/")["Contents"]
        if item["Key"].endswith(".png")
    )
    return s3.get_object(Bucket=stack.data_bucket, Key=key)["Body"].read()


def ask(stack: TrainingPipeline, name: str | None = None) -> bytes:
    """The endpoint's answer to one test image: the same bytes as long as the same model serves (the stand-in
    model's answer names its training job)."""
    return (
        stack.aws.client("sagemaker-runtime")
        .invoke_endpoint(
            EndpointName=name or stack.endpoint_name,
            ContentType="application/x-image",
            Accept="application/json",
            Body=sample_image(stack),
        )["Body"]
        .read()
    )


def serving(pipeline: dict[str, Any]) -> tuple[dict, bytes]:
    """The endpoint in service and its answer to a test image: an earlier test's model, or a stand-in deployed now
    when nothing serves (so that the test also runs alone)."""
    stack: TrainingPipeline = pipeline["stack"]
    if (endpoint(stack) or {}).get("EndpointStatus") != "InService":
        first, _ = run(pipeline, "datasets/learnable", DOUBLE_SOURCEDIR)
        assert first.exit_code == 0, first.summary()
    return endpoint(stack), ask(stack)


def deployed_state(stack: TrainingPipeline) -> dict[str, Any]:
    """What a pipeline run creates or changes: the data bucket's objects (ETag and time), training jobs, models,
    endpoint configs, and the endpoint."""
    s3, sagemaker = stack.aws.client("s3"), stack.aws.client("sagemaker")

    def names(operation: str, key: str, field: str) -> list[str]:
        return sorted(item[field] for page in sagemaker.get_paginator(operation).paginate() for item in page[key])

    serving_now = endpoint(stack) or {}
    return {
        "objects": {
            item["Key"]: (item["ETag"], item["LastModified"])
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.data_bucket)
            for item in page.get("Contents", [])
        },
        "training_jobs": names("list_training_jobs", "TrainingJobSummaries", "TrainingJobName"),
        "models": names("list_models", "Models", "ModelName"),
        "endpoint_configs": names("list_endpoint_configs", "EndpointConfigs", "EndpointConfigName"),
        "endpoint": {key: serving_now.get(key) for key in ("EndpointConfigName", "EndpointStatus", "LastModifiedTime")},
    }


def model_objects(state: dict[str, Any]) -> dict[str, Any]:
    """The objects under the pipeline's model output prefix (s3://<data bucket>/models/)."""
    return {key: value for key, value in state["objects"].items() if key.startswith("models/")}


def run_input(stack: TrainingPipeline, arn: str, execution_input: dict[str, Any]) -> dict[str, Any]:
    """Start the state machine directly (an unnamed execution, as the retrain guard does) and wait for its end."""
    sfn = stack.aws.client("stepfunctions")
    execution_arn = sfn.start_execution(stateMachineArn=arn, input=json.dumps(execution_input))["executionArn"]
    deadline = time.time() + 120
    while (execution := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.time() < deadline
        time.sleep(0.5)
    return execution


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

    # The deployed model answers with its own threshold and its version (the training job), and its traffic is
    # captured.
    answer = json.loads(ask(stack))
    assert set(answer) == {"probabilities", "labels", "confidence_threshold", "model_version", "features"}
    assert answer["model_version"] == result.job_name
    assert 0.5 <= answer["confidence_threshold"] <= 1.0
    assert answer["labels"] == ["bicycle", "motorcycle"]
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
    before, answer = serving(pipeline)
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
    assert (after["EndpointConfigName"], after["EndpointStatus"]) == (before["EndpointConfigName"], "InService")
    assert ask(stack) == answer  # the previous model answers, as before
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
    answer = ask(stack)
    assert json.loads(answer)["model"] == second.job_name  # the new model answers
    stack.notifications()

    broken, _ = run(pipeline, "datasets/learnable", DOUBLE_SOURCEDIR, hyperparameters={"broken": "true"})

    assert broken.exit_code == launcher.EXIT_FAILED
    assert broken.error == "DeploymentFailed"
    assert "broken on purpose" in broken.cause
    assert endpoint(stack)["EndpointStatus"] == "InService"
    assert endpoint(stack)["EndpointConfigName"] == second.job_name
    assert ask(stack) == answer  # the previous model still answers
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


def test_a_training_script_that_raises_fails_the_run_by_name_and_the_previous_model_keeps_answering(pipeline):
    stack: TrainingPipeline = pipeline["stack"]
    before, answer = serving(pipeline)
    stack.notifications()
    message = "the train channel holds a single class"

    failed, _ = run(pipeline, "datasets/learnable", DOUBLE_SOURCEDIR, hyperparameters={"fail": message})

    assert failed.exit_code == launcher.EXIT_FAILED
    assert failed.error == "TrainingFailed"
    # SageMaker's FailureReason, as the training toolkit words it, is the Fail state's cause.
    assert failed.cause.startswith("AlgorithmError: ExecuteUserScriptError: ExitCode 1 "), failed.cause
    assert f'ErrorMessage "StandInTrainingError: {message}"' in failed.cause
    assert [m for m in stack.notifications() if failed.job_name in m and f"StandInTrainingError: {message}" in m]
    after = endpoint(stack)
    assert (after["EndpointConfigName"], after["EndpointStatus"]) == (before["EndpointConfigName"], "InService")
    assert ask(stack) == answer
    with pytest.raises(ClientError, match="Could not find model"):
        stack.aws.client("sagemaker").describe_model(ModelName=failed.job_name)
    assert not [key for key in model_objects(deployed_state(stack)) if key.startswith(f"models/{failed.job_name}/")]


def test_the_builtin_algorithm_fails_clearly_on_the_embedded_aws(pipeline):
    stack: TrainingPipeline = pipeline["stack"]
    before = (endpoint(stack) or {}).get("EndpointConfigName")
    stack.notifications()

    result, _ = run(pipeline, "datasets/learnable", DOUBLE_SOURCEDIR, algorithm="builtin")

    assert result.exit_code == launcher.EXIT_FAILED
    assert result.error == "TrainingFailed"
    assert "cannot run locally" in result.cause
    assert "image-classification" in result.cause
    assert [m for m in stack.notifications() if result.job_name in m and "cannot run locally" in m]
    assert (endpoint(stack) or {}).get("EndpointConfigName") == before


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

    execution = run_input(stack, pipeline["arn"], dict(saved))

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    name = json.loads(execution["output"])["TrainingJobName"]
    assert re.fullmatch(rf"{PREFIX}-retrain-[0-9a-f]{{8}}", name)
    assert endpoint(stack)["EndpointConfigName"] == name
    # Generated, not taken from anything the saved input carries: a second run cannot collide with this one.
    assert name not in json.dumps(saved)


def test_a_rerun_under_a_taken_job_name_changes_nothing_and_a_new_name_adds_a_model_version(
    pipeline, monkeypatch, capsys
):
    stack: TrainingPipeline = pipeline["stack"]
    before, answer = serving(pipeline)
    taken = before["EndpointConfigName"]  # each model version's endpoint config is named after its training job
    sagemaker = stack.aws.client("sagemaker")
    taken_job = sagemaker.describe_training_job(TrainingJobName=taken)
    same_input = launcher.prepare_input(
        pipeline["arn"],
        stack.data_bucket,
        "datasets/learnable",
        job_name=taken,
        region=stack.aws.region,
        s3=stack.aws.client("s3"),
        sourcedir=DOUBLE_SOURCEDIR,
        progress=lambda _: None,
    )
    state = deployed_state(stack)
    sfn = stack.aws.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=pipeline["arn"], maxResults=1000)["executions"]
    stack.notifications()

    # Through the launcher: refused by name before anything is uploaded or started.
    for name, value in stack.aws.environment().items():
        monkeypatch.setenv(name, value)
    code = launcher.main(
        [
            *("--state-machine-arn", pipeline["arn"], "--bucket", stack.data_bucket),
            *("--dataset-prefix", "datasets/learnable", "--sourcedir", str(DOUBLE_SOURCEDIR)),
            *("--job-name", taken, "--hyperparameter", "accuracy=0.93", "--poll-seconds", "0.5"),
        ]
    )

    err = capsys.readouterr().err
    assert code == launcher.EXIT_USAGE
    assert err.startswith(f"error: JobNameTaken: training job {taken} already exists ("), err
    assert err.count("\n") == 1, err  # one line
    assert deployed_state(stack) == state
    assert sfn.list_executions(stateMachineArn=pipeline["arn"], maxResults=1000)["executions"] == executions

    # Started directly with the same input (not through the launcher): SageMaker refuses the name, the run fails
    # by name at Train and says so, and nothing of the existing version is touched.
    execution = run_input(stack, pipeline["arn"], dict(same_input))

    assert (execution["status"], execution["error"]) == ("FAILED", "TrainingFailed")
    assert "Error Code: ResourceInUse" in execution["cause"]
    assert "a training job with this name already exists" in execution["cause"]
    assert [m for m in stack.notifications() if taken in m and "ResourceInUse" in m]
    assert deployed_state(stack) == state
    described = sagemaker.describe_training_job(TrainingJobName=taken)
    assert {k: described.get(k) for k in ("TrainingJobStatus", "ModelArtifacts", "LastModifiedTime")} == {
        k: taken_job.get(k) for k in ("TrainingJobStatus", "ModelArtifacts", "LastModifiedTime")
    }
    assert ask(stack) == answer

    # A new name: a new model version beside the old ones, each of its resources once.
    fresh, _ = run(pipeline, "datasets/learnable", DOUBLE_SOURCEDIR, hyperparameters={"accuracy": "0.93"})

    assert fresh.exit_code == 0, fresh.summary()
    after = deployed_state(stack)
    old_objects, new_objects = model_objects(state), model_objects(after)
    assert {key: new_objects.get(key) for key in old_objects} == old_objects  # old versions untouched
    assert sorted(set(new_objects) - set(old_objects)) == [
        f"models/{fresh.job_name}/evaluation.json",  # the version's ModelQuality statistics in the registry
        f"models/{fresh.job_name}/output/model.tar.gz",
        f"models/{fresh.job_name}/output/output.tar.gz",
    ]
    for kind in ("training_jobs", "models", "endpoint_configs"):
        assert after[kind] == sorted([*state[kind], fresh.job_name]), kind
    assert after["endpoint"]["EndpointConfigName"] == fresh.job_name
    assert json.loads(ask(stack))["model"] == fresh.job_name


@pytest.fixture(scope="module")
def flaky_baseline_writer(training_pipeline: TrainingPipeline) -> str:
    """A baseline writer whose first attempt times out (and every attempt crashes for a job named *-crashes-*)."""
    return training_pipeline.aws.client("lambda").create_function(
        FunctionName="pipeline-test-flaky-baseline",
        Runtime="python3.11",
        Role=training_pipeline.role_arn,
        Handler="app.lambda_handler",
        Code={"ZipFile": lambda_zip(FLAKY_BASELINE_STAND_IN)},
        # Long enough for an attempt to import boto3 and mark itself on a loaded machine (with 1 s, a crashing
        # attempt sometimes timed out before its mark), far shorter than the 30 s the first attempt sleeps.
        Timeout=5,
    )["FunctionArn"]


def test_a_baseline_writer_that_timed_out_is_retried_and_one_that_keeps_crashing_fails_by_name(
    pipeline, flaky_baseline_writer
):
    stack: TrainingPipeline = pipeline["stack"]
    arn = stack.state_machine("pt-flaky-training-pipeline", THRESHOLD, baseline_function_arn=flaky_baseline_writer)
    s3 = stack.aws.client("s3")

    def attempts(job_name: str) -> int:
        prefix = f"monitoring/baseline/attempts/{job_name}/"
        return s3.list_objects_v2(Bucket=stack.data_bucket, Prefix=prefix).get("KeyCount", 0)

    timed_out_once, _ = run(
        pipeline, "datasets/learnable", DOUBLE_SOURCEDIR, arn=arn, job_name=f"pt-flaky-{uuid.uuid4().hex[:8]}"
    )

    assert timed_out_once.exit_code == 0, timed_out_once.summary()
    assert attempts(timed_out_once.job_name) == 2  # Sandbox.Timedout, then retried once

    stack.notifications()
    crashes, _ = run(
        pipeline, "datasets/learnable", DOUBLE_SOURCEDIR, arn=arn, job_name=f"pt-flaky-crashes-{uuid.uuid4().hex[:8]}"
    )

    assert crashes.exit_code == launcher.EXIT_FAILED
    assert crashes.error == "MonitoringBaselineFailed"
    assert "Runtime exited with error" in crashes.cause
    assert attempts(crashes.job_name) == 3  # the first try and two retries (MaxAttempts 2), no more
    assert [m for m in stack.notifications() if crashes.job_name in m and "Runtime.ExitError" in m]
    assert endpoint(stack)["EndpointConfigName"] == crashes.job_name  # deployed before the baseline: it serves


# -- what Terraform says about the endpoint reaches it -----------------------------------------------------------
KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def variant_counts(stack: TrainingPipeline, name: str) -> tuple[int, int]:
    (variant,) = endpoint(stack, name)["ProductionVariants"]
    return variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]


def wait_in_service(stack: TrainingPipeline, name: str, timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    while (described := endpoint(stack, name))["EndpointStatus"] != "InService":
        assert time.time() < deadline, described
        time.sleep(0.2)
    return described


def test_the_endpoint_runs_terraforms_variant_and_a_retrain_keeps_the_scaled_fleet(pipeline):
    """Instance type and count come from Terraform's production_variant; UpdateEndpoint's
    RetainAllVariantProperties keeps the count autoscaling (here: UpdateEndpointWeightsAndCapacities) set."""
    stack: TrainingPipeline = pipeline["stack"]
    settings = EndpointSettings(instance_type="ml.c5.xlarge", initial_instance_count=2)
    arn = stack.state_machine(
        "pt-fleet-training-pipeline", THRESHOLD, endpoint_name="pipeline-test-fleet", endpoint=settings
    )
    sagemaker = stack.aws.client("sagemaker")

    first, _ = run(
        pipeline,
        "datasets/learnable",
        DOUBLE_SOURCEDIR,
        arn=arn,
        job_name="pt-fleet-1",
        inference_instance_type="ml.c5.xlarge",
    )
    assert first.exit_code == 0, first.summary()
    (variant,) = sagemaker.describe_endpoint_config(EndpointConfigName="pt-fleet-1")["ProductionVariants"]
    assert (variant["InstanceType"], variant["InitialInstanceCount"], variant["ModelName"]) == (
        "ml.c5.xlarge",
        2,
        "pt-fleet-1",
    )
    assert variant_counts(stack, "pipeline-test-fleet") == (2, 2)

    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="pipeline-test-fleet",
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 4}],
    )
    wait_in_service(stack, "pipeline-test-fleet")
    second, progress = run(
        pipeline,
        "datasets/learnable",
        DOUBLE_SOURCEDIR,
        arn=arn,
        job_name="pt-fleet-2",
        inference_instance_type="ml.c5.xlarge",
    )

    assert second.exit_code == 0, second.summary()
    assert any(line.endswith("UpdateEndpoint") for line in progress)
    assert endpoint(stack, "pipeline-test-fleet")["EndpointConfigName"] == "pt-fleet-2"
    assert variant_counts(stack, "pipeline-test-fleet") == (4, 4), "the retrain must keep the scaled-out fleet"


def test_a_serving_image_chosen_for_another_instance_type_stops_the_run_before_training(pipeline):
    stack: TrainingPipeline = pipeline["stack"]
    arn = stack.state_machine("pt-image-training-pipeline", THRESHOLD, endpoint_name="pipeline-test-image")
    stack.notifications()

    result, progress = run(
        pipeline,
        "datasets/learnable",
        DOUBLE_SOURCEDIR,
        arn=arn,
        job_name="pt-image-gpu",
        inference_instance_type="ml.g4dn.xlarge",
    )

    assert result.exit_code == launcher.EXIT_FAILED
    assert result.error == "ServingImageMismatch"
    assert "ml.g4dn.xlarge" in result.cause
    assert "ml.m5.large" in result.cause
    assert not any(line.endswith("Train") for line in progress)
    with pytest.raises(ClientError):
        stack.aws.client("sagemaker").describe_training_job(TrainingJobName="pt-image-gpu")
    assert [m for m in stack.notifications() if "ml.g4dn.xlarge" in m and "Nothing was trained" in m]

    # An input that does not say which instance type its image is for cannot be checked: refused as well.
    unspecified = launcher.prepare_input(
        arn,
        stack.data_bucket,
        "datasets/learnable",
        region=stack.aws.region,
        s3=stack.aws.client("s3"),
        sourcedir=DOUBLE_SOURCEDIR,
        progress=lambda _: None,
    )
    del unspecified["deploy"]["instance_type"]  # type: ignore[misc]
    execution = run_input(stack, arn, dict(unspecified))
    assert execution["status"] == "FAILED"
    assert execution["error"] == "ServingImageMismatch"
    assert "does not say which instance type" in execution["cause"]


def test_a_serverless_endpoint_gets_its_serverless_config_and_no_data_capture(pipeline):
    stack: TrainingPipeline = pipeline["stack"]
    settings = EndpointSettings(instance_type=None, serverless=(2048, 5), capture_percentage=None)
    arn = stack.state_machine(
        "pt-serverless-training-pipeline", THRESHOLD, endpoint_name="pipeline-test-serverless", endpoint=settings
    )
    stack.notifications()

    gpu, _ = run(
        pipeline,
        "datasets/learnable",
        DOUBLE_SOURCEDIR,
        arn=arn,
        job_name="pt-serverless-gpu",
        inference_instance_type="ml.g5.xlarge",
    )
    assert gpu.error == "ServingImageMismatch"
    assert "serverless" in gpu.cause

    result, _ = run(pipeline, "datasets/learnable", DOUBLE_SOURCEDIR, arn=arn, job_name="pt-serverless-1")

    assert result.exit_code == 0, result.summary()
    config = stack.aws.client("sagemaker").describe_endpoint_config(EndpointConfigName="pt-serverless-1")
    (variant,) = config["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    assert "InstanceType" not in variant
    assert "InitialInstanceCount" not in variant
    assert not config.get("DataCaptureConfig")
    assert not config.get("KmsKeyId")


def test_with_a_customer_key_the_artifacts_captures_and_volumes_use_it(pipeline):
    stack: TrainingPipeline = pipeline["stack"]
    arn = stack.state_machine(
        "pt-kms-training-pipeline",
        THRESHOLD,
        endpoint_name="pipeline-test-kms",
        endpoint=EndpointSettings(kms_key_arn=KMS_KEY),
    )

    result, _ = run(pipeline, "datasets/learnable", DOUBLE_SOURCEDIR, arn=arn, job_name="pt-kms-1")

    assert result.exit_code == 0, result.summary()
    sagemaker = stack.aws.client("sagemaker")
    job = sagemaker.describe_training_job(TrainingJobName="pt-kms-1")
    assert job["OutputDataConfig"]["KmsKeyId"] == KMS_KEY
    assert job["ResourceConfig"]["VolumeKmsKeyId"] == KMS_KEY  # ml.m5.xlarge has no local storage
    config = sagemaker.describe_endpoint_config(EndpointConfigName="pt-kms-1")
    assert config["KmsKeyId"] == KMS_KEY
    assert config["DataCaptureConfig"]["KmsKeyId"] == KMS_KEY

    local_storage, _ = run(
        pipeline, "datasets/learnable", DOUBLE_SOURCEDIR, arn=arn, job_name="pt-kms-2", instance_type="ml.m5d.xlarge"
    )
    assert local_storage.exit_code == 0, local_storage.summary()
    resources = sagemaker.describe_training_job(TrainingJobName="pt-kms-2")["ResourceConfig"]
    assert "VolumeKmsKeyId" not in resources, "SageMaker refuses a volume key for an instance type with NVMe storage"
