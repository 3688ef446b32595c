"""scripts/cleanup_endpoint (what `terraform destroy` runs with destroy_deletes_endpoint) against the embedded AWS."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO_ROOT
from tests.pipeline.conftest import TrainingPipeline, stand_in_model

pytestmark = pytest.mark.embedded

SCRIPT = REPO_ROOT / "scripts" / "cleanup_endpoint"
SPEC = {"Containers": [{"Image": "local/pytorch-inference", "ModelDataUrl": "s3://b/m/model.tar.gz"}]}


def cleanup(stack: TrainingPipeline, *args: str) -> subprocess.CompletedProcess:
    """The script as Terraform's local-exec runs it: a process with the environment's AWS settings."""
    env = {**os.environ, **stack.aws.environment()}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--poll-seconds", "0.2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def pipeline_resources(stack: TrainingPipeline, prefix: str) -> None:
    """What two pipeline runs leave: an endpoint, two configs and models named <prefix>-*, two registered versions;
    plus a model of someone else's."""
    sagemaker = stack.aws.client("sagemaker")
    s3 = stack.aws.client("s3")
    for name in (f"{prefix}-v1", f"{prefix}-v2", "someone-elses-model"):
        sagemaker.create_model(
            ModelName=name,
            ExecutionRoleArn=stack.role_arn,
            PrimaryContainer={
                "Image": "local/pytorch-inference",
                "ModelDataUrl": stand_in_model(s3, stack.data_bucket, name),
            },
        )
    for name in (f"{prefix}-v1", f"{prefix}-v2"):
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
    sagemaker.create_endpoint(EndpointName=f"{prefix}-endpoint", EndpointConfigName=f"{prefix}-v2")
    deadline = time.time() + 60
    while sagemaker.describe_endpoint(EndpointName=f"{prefix}-endpoint")["EndpointStatus"] != "InService":
        assert time.time() < deadline
        time.sleep(0.2)
    sagemaker.create_model_package_group(ModelPackageGroupName=f"{prefix}-models")
    for status in ("Approved", "Rejected"):
        sagemaker.create_model_package(
            ModelPackageGroupName=f"{prefix}-models", InferenceSpecification=SPEC, ModelApprovalStatus=status
        )


def names(stack: TrainingPipeline) -> tuple[set[str], set[str], set[str]]:
    sagemaker = stack.aws.client("sagemaker")
    return (
        {e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]},
        {c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]},
        {m["ModelName"] for m in sagemaker.list_models()["Models"]},
    )


def test_the_endpoint_its_configs_models_and_versions_go_and_nothing_else(training_pipeline):
    stack = training_pipeline
    pipeline_resources(stack, "cu")
    args = ("--endpoint-name", "cu-endpoint", "--name-prefix", "cu", "--model-package-group", "cu-models")

    dry = cleanup(stack, *args, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would delete: endpoint cu-endpoint, 2 endpoint configs, 2 models, 2 model versions" in dry.stdout
    assert "cu-endpoint" in names(stack)[0]  # a dry run deletes nothing

    done = cleanup(stack, *args)

    assert done.returncode == 0, done.stderr
    endpoints, configs, models = names(stack)
    assert "cu-endpoint" not in endpoints
    assert not {c for c in configs if c.startswith("cu-")}
    assert not {m for m in models if m.startswith("cu-")}
    assert "someone-elses-model" in models  # not the pipeline's: kept
    sagemaker = stack.aws.client("sagemaker")
    assert sagemaker.list_model_packages(ModelPackageGroupName="cu-models")["ModelPackageSummaryList"] == []
    sagemaker.delete_model_package_group(ModelPackageGroupName="cu-models")  # what Terraform does next

    again = cleanup(stack, *args)  # a second run (a retried destroy) finds nothing left and succeeds
    assert again.returncode == 0, again.stderr
    assert "endpoint cu-endpoint: already gone" in again.stdout
    assert "0 endpoint configs, 0 models, 0 model versions" in again.stdout


def test_a_bad_name_is_refused_before_anything_is_deleted(training_pipeline):
    refused = cleanup(training_pipeline, "--endpoint-name", "no_underscores", "--name-prefix", "cu")

    assert refused.returncode == 2
    assert "is not a SageMaker name" in refused.stderr


def test_an_unreachable_sagemaker_fails_the_run_with_one_named_line(training_pipeline):
    """A destroy whose cleanup cannot reach SageMaker must stop (exit 1) rather than report success."""
    stack = training_pipeline
    env = {**os.environ, **stack.aws.environment(), "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--endpoint-name", "cu-endpoint", "--name-prefix", "cu"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr.startswith("error: EndpointConnectionError: ")
    assert result.stderr.count("\n") == 1
