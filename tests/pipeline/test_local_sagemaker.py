"""The embedded AWS's SageMaker: local script-mode training jobs, endpoint lifecycle, the Step Functions
integration. Runs a stand-in training script (tests/pipeline/doubles/sourcedir) so that what the runner hands
the script can be read back."""

from __future__ import annotations

import io
import json
import re
import tarfile
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.pipeline.conftest import DOUBLE_SOURCEDIR
from training.launch import package_sourcedir
from training.pipeline_input import metric_definitions

pytestmark = pytest.mark.embedded

PYTORCH_IMAGE = "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch:2.14.0-cpu-amzn2023-sagemaker"
BUILTIN_IMAGE = "685385470294.dkr.ecr.eu-west-1.amazonaws.com/image-classification:1"


@pytest.fixture(scope="module")
def jobs(training_pipeline) -> Any:
    """Training inputs in the data bucket: a tiny dataset and the stand-in's sourcedir tarball."""
    s3 = training_pipeline.aws.client("s3")
    bucket = training_pipeline.data_bucket
    for split in ("train", "validation", "test"):
        s3.put_object(Bucket=bucket, Key=f"jobs/{split}/img_0.png", Body=b"\x89PNG fake")
        s3.put_object(Bucket=bucket, Key=f"jobs/{split}/{split}.lst", Body="0\t0\timg_0.png\n")
    s3.put_object(Bucket=bucket, Key="jobs/code/sourcedir.tar.gz", Body=package_sourcedir(DOUBLE_SOURCEDIR))
    return training_pipeline


def start_job(pipeline: Any, name: str, image: str = PYTORCH_IMAGE, **hyperparameters: str) -> None:
    bucket = pipeline.data_bucket
    script_mode = (
        {
            "sagemaker_program": "train.py",
            "sagemaker_submit_directory": f"s3://{bucket}/jobs/code/sourcedir.tar.gz",
            "sagemaker_region": pipeline.aws.region,
        }
        if image == PYTORCH_IMAGE
        else {}
    )
    pipeline.aws.client("sagemaker").create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": image,
            "TrainingInputMode": "File",
            **({"MetricDefinitions": metric_definitions(DOUBLE_SOURCEDIR)} if script_mode else {}),
        },
        HyperParameters={**hyperparameters, **script_mode},
        RoleArn=pipeline.role_arn,
        InputDataConfig=[
            {
                "ChannelName": split,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{bucket}/jobs/{split}/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
            for split in ("train", "validation", "test")
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/models"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )


def wait_for_job(pipeline: Any, name: str, timeout: float = 60) -> dict:
    sagemaker = pipeline.aws.client("sagemaker")
    deadline = time.time() + timeout
    while True:
        job = sagemaker.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] not in {"InProgress", "Stopping"}:
            return job
        assert time.time() < deadline, f"{name} still {job['TrainingJobStatus']} after {timeout}s"
        time.sleep(0.2)


def wait_for_endpoint(pipeline: Any, name: str, timeout: float = 60) -> dict:
    sagemaker = pipeline.aws.client("sagemaker")
    deadline = time.time() + timeout
    while True:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
        if endpoint["EndpointStatus"] not in {"Creating", "Updating"}:
            return endpoint
        assert time.time() < deadline, f"{name} still {endpoint['EndpointStatus']} after {timeout}s"
        time.sleep(0.2)


def read_tar_member(pipeline: Any, uri: str, member: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = pipeline.aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return tar.extractfile(member).read()


def test_a_script_mode_job_runs_the_entry_point_as_sagemaker_does(jobs):
    start_job(jobs, "jobs-script-mode", epochs="3", accuracy="0.87")
    job = wait_for_job(jobs, "jobs-script-mode")

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    # The job's own metric definitions, applied to its log; the last match wins.
    assert job["AlgorithmSpecification"]["MetricDefinitions"] == metric_definitions(DOUBLE_SOURCEDIR)
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert metrics == pytest.approx(
        {"test:accuracy": 0.87, "validation:accuracy": 0.7, "train:loss": 0.3333, "validation:threshold": 0.85}
    )

    model_uri = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_uri == f"s3://{jobs.data_bucket}/models/jobs-script-mode/output/model.tar.gz"
    assert b"def model_fn" in read_tar_member(jobs, model_uri, "code/inference.py")
    seen = json.loads(read_tar_member(jobs, model_uri.replace("model.tar.gz", "output.tar.gz"), "record.json"))
    assert seen["argv"] == ["--accuracy", "0.87", "--epochs", "3"]  # --key value, as the training toolkit does
    assert json.loads(seen["env"]["SM_HPS"]) == {"accuracy": 0.87, "epochs": 3}
    assert json.loads(seen["env"]["SM_CHANNELS"]) == ["test", "train", "validation"]
    assert seen["files"]["train"] == ["img_0.png", "train.lst"]
    assert seen["env"]["SM_CHANNEL_TRAIN"].endswith("/input/data/train")
    assert seen["env"]["SM_MODEL_DIR"].endswith("/model")
    assert seen["env"]["SM_NUM_GPUS"] == "0"
    assert seen["aws_endpoint_url"] == jobs.aws.endpoint_url  # never a real AWS account

    logs = jobs.aws.client("logs")
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix="jobs-script-mode/"
    )["logStreams"]
    assert len(streams) == 1
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=streams[0]["logStreamName"])[
        "events"
    ]
    assert "test:accuracy=0.8700" in [e["message"] for e in events]


def test_a_failing_script_fails_the_job_with_its_last_log_lines(jobs):
    start_job(jobs, "jobs-failing", **{"exit-code": "4"})
    job = wait_for_job(jobs, "jobs-failing")

    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError: ExecuteUserScriptError: ExitCode 4 ErrorMessage ")
    assert "something went wrong on purpose" in job["FailureReason"]
    assert "ModelArtifacts" not in job


def test_a_script_that_raises_fails_the_job_with_the_exception_as_the_reason(jobs):
    """As the SageMaker training toolkit reports it: exit code, the exception that ended the traceback, command."""
    start_job(jobs, "jobs-raising", fail="the train channel holds a single class")
    job = wait_for_job(jobs, "jobs-raising")

    assert job["TrainingJobStatus"] == "Failed"
    assert re.fullmatch(
        r"AlgorithmError: ExecuteUserScriptError: ExitCode 1 "
        r'ErrorMessage "StandInTrainingError: the train channel holds a single class" '
        r'Command "python[\d.]* train\.py --fail the train channel holds a single class", exit code: 1',
        job["FailureReason"],
    ), job["FailureReason"]
    assert "ModelArtifacts" not in job
    models = jobs.aws.client("s3").list_objects_v2(Bucket=jobs.data_bucket, Prefix="models/jobs-raising/")
    assert models.get("KeyCount", 0) == 0  # a failed job uploads no model


def test_a_builtin_algorithm_job_fails_saying_it_cannot_run_locally(jobs):
    start_job(jobs, "jobs-builtin", image=BUILTIN_IMAGE, epochs="30", num_classes="2")
    job = wait_for_job(jobs, "jobs-builtin")

    assert job["TrainingJobStatus"] == "Failed"
    assert "cannot run locally" in job["FailureReason"]
    assert "image-classification" in job["FailureReason"]


def test_training_job_names_are_unique_as_on_aws(jobs):
    start_job(jobs, "jobs-unique")
    with pytest.raises(ClientError, match="must be unique") as refused:
        start_job(jobs, "jobs-unique")
    assert refused.value.response["Error"]["Code"] == "ResourceInUse"
    wait_for_job(jobs, "jobs-unique")


def test_endpoints_come_into_service_and_a_failed_update_keeps_the_old_model(jobs):
    start_job(jobs, "jobs-model-good")
    start_job(jobs, "jobs-model-broken", broken="true")
    sagemaker = jobs.aws.client("sagemaker")
    for name in ("jobs-model-good", "jobs-model-broken"):
        job = wait_for_job(jobs, name)
        sagemaker.create_model(
            ModelName=name,
            ExecutionRoleArn=jobs.role_arn,
            PrimaryContainer={
                "Image": "local/pytorch-inference",
                "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
            },
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": name,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )

    sagemaker.create_endpoint(EndpointName="jobs-endpoint", EndpointConfigName="jobs-model-good")
    assert sagemaker.describe_endpoint(EndpointName="jobs-endpoint")["EndpointStatus"] in {"Creating", "InService"}
    assert wait_for_endpoint(jobs, "jobs-endpoint")["EndpointStatus"] == "InService"

    sagemaker.update_endpoint(EndpointName="jobs-endpoint", EndpointConfigName="jobs-model-broken")
    endpoint = wait_for_endpoint(jobs, "jobs-endpoint")

    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == "jobs-model-good"
    assert "broken on purpose" in endpoint["FailureReason"]
    answer = jobs.aws.client("sagemaker-runtime").invoke_endpoint(
        EndpointName="jobs-endpoint", ContentType="application/x-image", Body=b"\x89PNG"
    )
    assert json.loads(answer["Body"].read())["model_version"] == "jobs-model-good"

    with pytest.raises(ClientError, match="Could not find endpoint"):
        sagemaker.update_endpoint(EndpointName="jobs-no-such-endpoint", EndpointConfigName="jobs-model-good")


def test_a_failed_sync_training_task_fails_as_on_aws(jobs):
    """createTrainingJob.sync waits for the job; a failed job is SageMaker.AmazonSageMakerException with its reason."""
    definition = {
        "StartAt": "Train",
        "States": {
            "Train": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                "End": True,
                "Parameters": {
                    "TrainingJobName": "jobs-sync-failing",
                    "AlgorithmSpecification": {"TrainingImage": BUILTIN_IMAGE, "TrainingInputMode": "File"},
                    "RoleArn": jobs.role_arn,
                    "InputDataConfig": [
                        {
                            "ChannelName": "train",
                            "DataSource": {
                                "S3DataSource": {
                                    "S3DataType": "S3Prefix",
                                    "S3Uri": f"s3://{jobs.data_bucket}/jobs/train/",
                                }
                            },
                        }
                    ],
                    "OutputDataConfig": {"S3OutputPath": f"s3://{jobs.data_bucket}/models"},
                    "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
                    "StoppingCondition": {"MaxRuntimeInSeconds": 600},
                },
            }
        },
    }
    sfn = jobs.aws.client("stepfunctions")
    arn = sfn.create_state_machine(name="jobs-sync", definition=json.dumps(definition), roleArn=jobs.role_arn)[
        "stateMachineArn"
    ]
    execution_arn = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    deadline = time.time() + 60
    while (execution := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.time() < deadline
        time.sleep(0.2)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "SageMaker.AmazonSageMakerException"
    assert "cannot run locally" in execution["cause"]


def variant(endpoint: dict) -> dict:
    (only,) = endpoint["ProductionVariants"]
    return only


def counts(endpoint: dict) -> tuple[int, int]:
    return variant(endpoint)["CurrentInstanceCount"], variant(endpoint)["DesiredInstanceCount"]


def test_update_endpoint_keeps_a_scaled_fleet_only_with_retain_all_variant_properties(jobs):
    """UpdateEndpoint (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html): without
    RetainAllVariantProperties the new config's InitialInstanceCount applies, so a fleet scaled out goes back to it;
    with it, the variant keeps its instance count and weight."""
    start_job(jobs, "jobs-capacity")
    job = wait_for_job(jobs, "jobs-capacity")
    sagemaker = jobs.aws.client("sagemaker")
    sagemaker.create_model(
        ModelName="jobs-capacity",
        ExecutionRoleArn=jobs.role_arn,
        PrimaryContainer={
            "Image": "local/pytorch-inference",
            "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
        },
    )
    for config, count in (("jobs-capacity-1", 1), ("jobs-capacity-2", 1), ("jobs-capacity-3", 2)):
        sagemaker.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "jobs-capacity",
                    "InitialInstanceCount": count,
                    "InstanceType": "ml.m5.large",
                    "InitialVariantWeight": 1,
                }
            ],
        )
    sagemaker.create_endpoint(EndpointName="jobs-capacity", EndpointConfigName="jobs-capacity-1")
    assert counts(wait_for_endpoint(jobs, "jobs-capacity")) == (1, 1)

    # Scaled out by hand, then by Application Auto Scaling: registering a target whose MinCapacity is above the
    # current count brings the variant into the range (API_RegisterScalableTarget).
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="jobs-capacity",
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 3}],
    )
    assert counts(wait_for_endpoint(jobs, "jobs-capacity")) == (3, 3)
    jobs.aws.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/jobs-capacity/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=4,
        MaxCapacity=6,
    )
    scaled = wait_for_endpoint(jobs, "jobs-capacity")
    assert counts(scaled) == (4, 4)
    assert variant(scaled)["CurrentWeight"] == 1.0

    sagemaker.update_endpoint(
        EndpointName="jobs-capacity", EndpointConfigName="jobs-capacity-2", RetainAllVariantProperties=True
    )
    kept = wait_for_endpoint(jobs, "jobs-capacity")
    assert kept["EndpointConfigName"] == "jobs-capacity-2"
    assert counts(kept) == (4, 4), "RetainAllVariantProperties must keep the autoscaled fleet"

    sagemaker.update_endpoint(EndpointName="jobs-capacity", EndpointConfigName="jobs-capacity-3")
    reset = wait_for_endpoint(jobs, "jobs-capacity")
    assert reset["EndpointConfigName"] == "jobs-capacity-3"
    assert counts(reset) == (2, 2), "without RetainAllVariantProperties the config's InitialInstanceCount applies"

    # Excluding DesiredInstanceCount from the retention takes the config's count again (API_VariantProperty).
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="jobs-capacity",
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 5}],
    )
    assert counts(wait_for_endpoint(jobs, "jobs-capacity")) == (5, 5)
    sagemaker.update_endpoint(
        EndpointName="jobs-capacity",
        EndpointConfigName="jobs-capacity-2",
        RetainAllVariantProperties=True,
        ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DesiredInstanceCount"}],
    )
    assert counts(wait_for_endpoint(jobs, "jobs-capacity")) == (1, 1)


def test_an_update_that_changes_an_autoscaled_variants_instance_type_is_refused(jobs):
    """https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html: "If the update would change the
    instance type for any model that is a target for auto scaling, the update fails." The old fleet keeps serving."""
    start_job(jobs, "jobs-retype")
    job = wait_for_job(jobs, "jobs-retype")
    sagemaker = jobs.aws.client("sagemaker")
    sagemaker.create_model(
        ModelName="jobs-retype",
        ExecutionRoleArn=jobs.role_arn,
        PrimaryContainer={
            "Image": "local/pytorch-inference",
            "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
        },
    )
    for config, instance_type in (("jobs-retype-m5", "ml.m5.large"), ("jobs-retype-c5", "ml.c5.large")):
        sagemaker.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "jobs-retype",
                    "InitialInstanceCount": 1,
                    "InstanceType": instance_type,
                }
            ],
        )
    sagemaker.create_endpoint(EndpointName="jobs-retype", EndpointConfigName="jobs-retype-m5")
    wait_for_endpoint(jobs, "jobs-retype")
    autoscaling = jobs.aws.client("application-autoscaling")
    autoscaling.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/jobs-retype/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=2,
    )

    with pytest.raises(ClientError, match="registered for autoscaling") as refused:
        sagemaker.update_endpoint(EndpointName="jobs-retype", EndpointConfigName="jobs-retype-c5")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert sagemaker.describe_endpoint(EndpointName="jobs-retype")["EndpointConfigName"] == "jobs-retype-m5"

    # Deregistered first, as the endpoint module's README says, the same update goes through.
    autoscaling.deregister_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/jobs-retype/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
    )
    sagemaker.update_endpoint(EndpointName="jobs-retype", EndpointConfigName="jobs-retype-c5")
    assert wait_for_endpoint(jobs, "jobs-retype")["EndpointConfigName"] == "jobs-retype-c5"


def test_a_serverless_endpoint_config_with_data_capture_is_refused(jobs):
    """Serverless Inference supports no data capture
    (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html, "Feature exclusions")."""
    sagemaker = jobs.aws.client("sagemaker")
    sagemaker.create_model(
        ModelName="jobs-serverless",
        ExecutionRoleArn=jobs.role_arn,
        PrimaryContainer={"Image": "local/pytorch-inference", "ModelDataUrl": f"s3://{jobs.data_bucket}/none.tar.gz"},
    )
    serverless = [
        {
            "VariantName": "AllTraffic",
            "ModelName": "jobs-serverless",
            "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
        }
    ]
    with pytest.raises(ClientError, match="DataCaptureConfig is not supported") as refused:
        sagemaker.create_endpoint_config(
            EndpointConfigName="jobs-serverless-capture",
            ProductionVariants=serverless,
            DataCaptureConfig={
                "EnableCapture": True,
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": f"s3://{jobs.capture_bucket}/datacapture",
                "CaptureOptions": [{"CaptureMode": "Input"}],
            },
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    sagemaker.create_endpoint_config(EndpointConfigName="jobs-serverless", ProductionVariants=serverless)
    assert not sagemaker.describe_endpoint_config(EndpointConfigName="jobs-serverless").get("DataCaptureConfig")


def test_a_rolling_deployment_is_refused_by_name_rather_than_ignored(jobs):
    """Blue/green guardrails are emulated (tests/pipeline/test_deployment_guardrails.py); rolling updates are not."""
    sagemaker = jobs.aws.client("sagemaker")
    endpoints = {e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]}
    if "jobs-capacity" not in endpoints:
        pytest.skip("needs the endpoint of test_update_endpoint_keeps_a_scaled_fleet_only_with_retain_all_...")
    wait_for_endpoint(jobs, "jobs-capacity")
    with pytest.raises(ClientError, match="not emulated") as refused:
        sagemaker.update_endpoint(
            EndpointName="jobs-capacity",
            EndpointConfigName="jobs-capacity-2",
            DeploymentConfig={
                "RollingUpdatePolicy": {
                    "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
                    "WaitIntervalInSeconds": 0,
                }
            },
        )
    assert refused.value.response["Error"]["Code"] == "NotEmulatedByEmbeddedAws"
    assert sagemaker.describe_endpoint(EndpointName="jobs-capacity")["EndpointStatus"] == "InService"


def test_stop_training_job_stops_the_script_and_the_job_ends_stopped(jobs):
    """StopTrainingJob (which moto lacks): Stopping, the script is terminated, then Stopped, without a model."""
    sagemaker = jobs.aws.client("sagemaker")
    start_job(jobs, "jobs-stopped", epochs="60", **{"seconds-per-epoch": "1"})
    deadline = time.time() + 60
    while sagemaker.describe_training_job(TrainingJobName="jobs-stopped")["SecondaryStatus"] != "Training":
        assert time.time() < deadline, "the stand-in never started training"
        time.sleep(0.2)

    sagemaker.stop_training_job(TrainingJobName="jobs-stopped")
    assert sagemaker.describe_training_job(TrainingJobName="jobs-stopped")["TrainingJobStatus"] in {
        "Stopping",
        "Stopped",
    }
    job = wait_for_job(jobs, "jobs-stopped", timeout=30)

    assert job["TrainingJobStatus"] == "Stopped"
    assert job["SecondaryStatus"] == "Stopped"
    assert "ModelArtifacts" not in job  # the stand-in saves its model only after the last epoch
    assert (job["TrainingEndTime"] - job["TrainingStartTime"]).total_seconds() < 40
    with pytest.raises(ClientError) as ended:
        sagemaker.stop_training_job(TrainingJobName="jobs-stopped")
    assert ended.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as unknown:
        sagemaker.stop_training_job(TrainingJobName="jobs-no-such-job")
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFound"


def test_stopping_an_execution_stops_its_sync_training_job(jobs):
    """A stopped execution does not leave its .sync training job running (and writing) on its own."""
    bucket = jobs.data_bucket
    definition = {
        "StartAt": "Train",
        "States": {
            "Train": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                "End": True,
                "Parameters": {
                    "TrainingJobName": "jobs-sync-stopped",
                    "AlgorithmSpecification": {
                        "TrainingImage": PYTORCH_IMAGE,
                        "TrainingInputMode": "File",
                        "MetricDefinitions": metric_definitions(DOUBLE_SOURCEDIR),
                    },
                    "HyperParameters": {
                        "epochs": "60",
                        "seconds-per-epoch": "1",
                        "sagemaker_program": "train.py",
                        "sagemaker_submit_directory": f"s3://{bucket}/jobs/code/sourcedir.tar.gz",
                        "sagemaker_region": jobs.aws.region,
                    },
                    "RoleArn": jobs.role_arn,
                    "InputDataConfig": [
                        {
                            "ChannelName": "train",
                            "DataSource": {
                                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/jobs/train/"}
                            },
                        }
                    ],
                    "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/models"},
                    "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
                    "StoppingCondition": {"MaxRuntimeInSeconds": 600},
                },
            }
        },
    }
    sfn = jobs.aws.client("stepfunctions")
    sagemaker = jobs.aws.client("sagemaker")
    arn = sfn.create_state_machine(name="jobs-sync-stop", definition=json.dumps(definition), roleArn=jobs.role_arn)[
        "stateMachineArn"
    ]
    execution_arn = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    deadline = time.time() + 60
    while True:
        try:
            if sagemaker.describe_training_job(TrainingJobName="jobs-sync-stopped")["SecondaryStatus"] == "Training":
                break
        except ClientError:
            pass  # not created yet
        assert time.time() < deadline, "the execution never started its training job"
        time.sleep(0.2)

    sfn.stop_execution(executionArn=execution_arn, cause="test: stop the run")
    job = wait_for_job(jobs, "jobs-sync-stopped", timeout=30)

    assert sfn.describe_execution(executionArn=execution_arn)["status"] == "ABORTED"
    assert job["TrainingJobStatus"] == "Stopped"
    listed = jobs.aws.client("s3").list_objects_v2(Bucket=bucket, Prefix="models/jobs-sync-stopped/")
    assert listed.get("KeyCount", 0) == 0
