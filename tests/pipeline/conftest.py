"""Fixtures for the training pipeline: the evaluate handler, synthetic datasets through the real ETL, and the
pipeline deployed on the embedded AWS."""

from __future__ import annotations

import io
import json
import sys
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tests.conftest import REPO_ROOT, fixture_role, load_function
from tests.lambda_context import FakeLambdaContext
from tests.workflows.asl import render

DOUBLE_SOURCEDIR = Path(__file__).parent / "doubles" / "sourcedir"
REAL_SOURCEDIR = REPO_ROOT / "training" / "sourcedir"
POWERTOOLS_LAYER = "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:18"
CLASSES = ("bicycle", "motorcycle")
CLASS_LABELS_FOR_TESTS = CLASSES  # Terraform's class_labels, as the smoke test function gets them


# -- the evaluate handler ----------------------------------------------------------------------------------------


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext.for_function("cv-evaluate-model")


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], ModuleType]:
    """A fresh functions/<name>/app.py with Powertools configured as the Lambda's environment would."""

    def load(name: str) -> ModuleType:
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", name)
        module = load_function(name)
        module.logger.registered_handler.stream = _CurrentStdout()
        return module

    return load


class _CurrentStdout:
    """Powertools binds its handler to the stdout of the moment; follow pytest's capture instead."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def emitted_metrics(capsys: pytest.CaptureFixture[str]) -> Callable[[], list[dict[str, Any]]]:
    """The metrics in the EMF blobs the handler printed: [{name, value, unit, dimensions}]."""

    def read() -> list[dict[str, Any]]:
        found = []
        for line in capsys.readouterr().out.splitlines():
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
                dimensions = {name: record[name] for names in directive["Dimensions"] for name in names}
                for metric in directive["Metrics"]:
                    values = record[metric["Name"]]
                    for value in values if isinstance(values, list) else [values]:
                        found.append(
                            {"name": metric["Name"], "unit": metric["Unit"], "value": value, "dimensions": dimensions}
                        )
        return found

    return read


# -- datasets ------------------------------------------------------------------------------------------------------
def synthetic_archive(path: Path, per_class_train: int, per_class_test: int, invert_test: bool = False) -> Path:
    """A CIFAR-100-format archive whose bicycles are light and motorcycles dark: learnable in one epoch.

    With invert_test the test split swaps the two looks, so a model that learned the training data fails it.
    """
    from etl import archive as cifar
    from tests.etl import archive_writer as writer

    rng = np.random.default_rng(7)

    def split(count: int, inverted: bool, stem: str) -> cifar.CifarSplit:
        labels = np.array([i % 2 for i in range(count * 2)])
        light = (labels == 0) != inverted
        base = np.where(light, 200, 50)[:, None]
        data = np.clip(base + rng.integers(-30, 30, size=(len(labels), 3072)), 0, 255).astype(np.uint8)
        names = [f"{stem}_{CLASSES[label]}_{i}.png".encode() for i, label in enumerate(labels)]
        return cifar.CifarSplit(data=data, fine_labels=labels, filenames=names)

    writer.write_archive(
        path,
        {
            "train": writer.split_pickle(split(per_class_train, False, "train"), "training batch 1 of 1"),
            "test": writer.split_pickle(split(per_class_test, invert_test, "test"), "testing batch 1 of 1"),
            "meta": writer.meta_pickle(list(CLASSES), ["vehicles"]),
        },
    )
    return path


def load_synthetic_dataset(s3: Any, bucket: str, prefix: str, work: Path, **archive_options: Any) -> dict:
    """Run the real ETL on a synthetic archive into s3://bucket/prefix/; returns the manifest."""
    import etl

    archive = synthetic_archive(work / f"{prefix.replace('/', '-')}.tar.gz", **archive_options)
    etl.run(str(archive), work / prefix, bucket=bucket, prefix=prefix, s3_client=s3, concurrency=4, workers=1)
    return json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}/manifest.json")["Body"].read())


# -- the pipeline on the embedded AWS -------------------------------------------------------------------------------
# A stand-in for terraform/modules/training_pipeline's instance_store_families default (the Terraform tests check
# the module's own list and decisions; these tests only need one family with and one without instance storage).
INSTANCE_STORE_FAMILIES = ("m5d", "g4dn")


@dataclass(frozen=True)
class EndpointSettings:
    """What modules/endpoint and modules/training_pipeline render into the definition for one endpoint."""

    instance_type: str | None = "ml.m5.large"
    initial_instance_count: int = 1
    serverless: tuple[int, int] | None = None  # (MemorySizeInMB, MaxConcurrency)
    capture_percentage: int | None = 100
    kms_key_arn: str | None = None

    @property
    def shape(self) -> str:
        if self.serverless:
            return "serverless"
        family = (self.instance_type or "").split(".")[1]
        return "provisioned-volume-key" if self.kms_key_arn and family not in INSTANCE_STORE_FAMILIES else "provisioned"

    def template_variables(self) -> dict[str, str]:
        serverless = self.serverless is not None
        return {
            "endpoint_mode": "serverless" if serverless else "provisioned",
            "endpoint_instance_type": "serverless" if serverless else str(self.instance_type),
            "endpoint_config_shape": self.shape,
            "variant_name": "AllTraffic",
            "initial_instance_count": "null" if serverless else str(self.initial_instance_count),
            "initial_variant_weight": "1",
            "serverless_memory_size_mb": str(self.serverless[0]) if serverless else "null",
            "serverless_max_concurrency": str(self.serverless[1]) if serverless else "null",
            "capture_enabled": "true" if self.capture_percentage is not None else "false",
            "capture_percentage": str(self.capture_percentage or 0),
            "kms_key_arn": self.kms_key_arn or "",
            "instance_store_families": ",".join(INSTANCE_STORE_FAMILIES),
        }


@dataclass(frozen=True)
class Rollout:
    """What modules/training_pipeline renders for deployment_strategy and its settings."""

    strategy: str = "all_at_once"
    step_percent: int = 50
    wait_seconds: int = 0
    termination_wait_seconds: int = 0
    maximum_seconds: int = 600
    alarms: tuple[str, ...] = ()

    def template_variables(self) -> dict[str, str]:
        return {
            "deployment_strategy": self.strategy,
            "traffic_step_percent": str(self.step_percent),
            "wait_interval_seconds": str(self.wait_seconds),
            "termination_wait_seconds": str(self.termination_wait_seconds),
            "maximum_execution_seconds": str(self.maximum_seconds),
            "rollback_alarm_names": ",".join(self.alarms),
        }


@dataclass
class TrainingPipeline:
    aws: Any
    data_bucket: str
    capture_bucket: str
    endpoint_name: str
    topic_arn: str
    notifications_queue_url: str
    role_arn: str
    evaluate_function_arn: str
    baseline_function_arn: str
    smoke_test_function_arn: str
    work: Path
    model_package_group: str = "pipeline-test-models"

    def state_machine(
        self,
        name: str,
        accuracy_threshold: float = 0.8,
        endpoint_name: str | None = None,
        baseline_function_arn: str | None = None,
        endpoint: EndpointSettings | None = None,
        rollout: Rollout | None = None,
        require_approval: bool = False,
        approval_timeout_seconds: int = 3600,
        smoke_test_function_arn: str | None = None,
        model_package_group: str | None = None,
    ) -> str:
        """A training pipeline state machine rendered as Terraform renders it (name must end -training-pipeline)."""
        definition = render(
            REPO_ROOT / "statemachine.asl.json",
            {
                "name_prefix": name.removesuffix("-training-pipeline"),
                "accuracy_threshold": str(accuracy_threshold),
                "endpoint_poll_seconds": "1",
                "endpoint_name": endpoint_name or self.endpoint_name,
                **(endpoint or EndpointSettings()).template_variables(),
                "capture_s3_uri": f"s3://{self.capture_bucket}/datacapture",
                "baseline_s3_uri": f"s3://{self.data_bucket}/monitoring/baseline",
                "model_output_s3_uri": f"s3://{self.data_bucket}/models",
                "model_output_bucket": self.data_bucket,
                "model_output_prefix": "models",
                "model_package_group_name": model_package_group or self.model_package_group,
                "initial_approval_status": "PendingManualApproval" if require_approval else "Approved",
                "approval_timeout_seconds": str(approval_timeout_seconds),
                **(rollout or Rollout()).template_variables(),
                "smoke_test_function_arn": smoke_test_function_arn or self.smoke_test_function_arn,
                "sagemaker_execution_role_arn": self.role_arn,
                "evaluate_function_arn": self.evaluate_function_arn,
                "write_baseline_function_arn": baseline_function_arn or self.baseline_function_arn,
                "notification_topic_arn": self.topic_arn,
            },
        )
        return self.aws.client("stepfunctions").create_state_machine(
            name=name, definition=definition, roleArn=self.role_arn, type="STANDARD"
        )["stateMachineArn"]

    def notifications(self) -> list[str]:
        """The messages published to the pipeline's topic since the last call."""
        sqs = self.aws.client("sqs")
        messages = sqs.receive_message(
            QueueUrl=self.notifications_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=self.notifications_queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [message["Body"] for message in messages]


BASELINE_STAND_IN = """\
import json, boto3
def lambda_handler(event, context):
    bucket, _, prefix = event["baseline_s3_prefix"].removeprefix("s3://").partition("/")
    boto3.client("s3").put_object(Bucket=bucket, Key=prefix + "/request.json", Body=json.dumps(event))
    return {"baseline_s3_prefix": event["baseline_s3_prefix"]}
"""


# Leaves one object per attempt under the baseline prefix. The first attempt runs past the function's timeout
# (Sandbox.Timedout) and the next one succeeds; for a job whose name says "crashes" every attempt kills the runtime
# (Runtime.ExitError).
FLAKY_BASELINE_STAND_IN = """\
import os, time, boto3
def lambda_handler(event, context):
    bucket, _, prefix = event["baseline_s3_prefix"].removeprefix("s3://").partition("/")
    marks = f"{prefix}/attempts/{event['training_job_name']}/"
    s3 = boto3.client("s3")
    earlier = s3.list_objects_v2(Bucket=bucket, Prefix=marks).get("KeyCount", 0)
    s3.put_object(Bucket=bucket, Key=f"{marks}{earlier + 1}", Body=b"")
    if "crashes" in event["training_job_name"]:
        os._exit(1)
    if earlier == 0:
        time.sleep(30)
    return {"baseline_s3_prefix": event["baseline_s3_prefix"]}
"""


def stand_in_model(s3: Any, bucket: str, name: str, broken: bool = False) -> str:
    """Upload the stand-in model's model.tar.gz (what its train.py saves) for a model named `name`; its URI.
    For tests of hosting that need no training job."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for arcname, data in (
            ("code/inference.py", (DOUBLE_SOURCEDIR / "inference.py").read_bytes()),
            ("weights.json", json.dumps({"model": name, "accuracy": 0.9, "broken": broken}).encode()),
        ):
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    key = f"stand-in-models/{name}/model.tar.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
    return f"s3://{bucket}/{key}"


def lambda_zip(source: str) -> bytes:
    """A zip holding one app.py."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def training_pipeline(local_aws, lambda_zips, tmp_path_factory) -> TrainingPipeline:
    """Buckets, roles, topic, evaluate_model (the built zip) and a baseline-writer stand-in on the embedded AWS."""
    aws = local_aws
    s3 = aws.client("s3")
    data_bucket, capture_bucket = "pipeline-test-data", "pipeline-test-capture"
    for bucket in (data_bucket, capture_bucket):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": aws.region})
    role_arn = fixture_role(aws.client("iam"), "pipeline-test")
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic_arn = sns.create_topic(Name="pipeline-test-notifications")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="pipeline-test-notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})

    lam = aws.client("lambda")
    evaluate_arn = lam.create_function(
        FunctionName="pipeline-test-evaluate-model",
        Runtime="python3.11",
        Role=role_arn,
        Handler="app.lambda_handler",
        Code={"ZipFile": (lambda_zips / "evaluate_model.zip").read_bytes()},
        Timeout=30,
        MemorySize=256,
        Layers=[POWERTOOLS_LAYER],
        Environment={
            "Variables": {
                "POWERTOOLS_SERVICE_NAME": "evaluate_model",
                "POWERTOOLS_METRICS_NAMESPACE": "CourierVehicleTest",
            }
        },
    )["FunctionArn"]
    baseline_arn = lam.create_function(
        FunctionName="pipeline-test-write-baseline",
        Runtime="python3.11",
        Role=role_arn,
        Handler="app.lambda_handler",
        Code={"ZipFile": lambda_zip(BASELINE_STAND_IN)},
        Timeout=30,
    )["FunctionArn"]
    smoke_test_arn = lam.create_function(
        FunctionName="pipeline-test-smoke-test",
        Runtime="python3.11",
        Role=role_arn,
        Handler="app.lambda_handler",
        Code={"ZipFile": (lambda_zips / "smoke_test.zip").read_bytes()},
        Timeout=60,
        MemorySize=256,
        Layers=[POWERTOOLS_LAYER],
        Environment={
            "Variables": {
                "POWERTOOLS_SERVICE_NAME": "smoke_test",
                "POWERTOOLS_METRICS_NAMESPACE": "CourierVehicleTest",
                "CLASS_LABELS": ",".join(CLASS_LABELS_FOR_TESTS),
                "SMOKE_TEST_IMAGES": "4",
            }
        },
    )["FunctionArn"]
    aws.client("sagemaker").create_model_package_group(ModelPackageGroupName="pipeline-test-models")
    return TrainingPipeline(
        aws,
        data_bucket,
        capture_bucket,
        "pipeline-test-endpoint",
        topic_arn,
        queue_url,
        role_arn,
        evaluate_arn,
        baseline_arn,
        smoke_test_arn,
        tmp_path_factory.mktemp("pipeline"),
    )
