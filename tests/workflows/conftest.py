"""The inference workflow deployed on the embedded AWS, with a test-double model behind a real endpoint."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from tests.cifar import cifar_png_images
from tests.conftest import fixture_role
from tests.workflows.asl import render

REPO_ROOT = Path(__file__).resolve().parents[2]

POWERTOOLS_LAYER = "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:18"
DOUBLE_MODEL = Path(__file__).parent / "doubles" / "fixed_probability_model.py"
LABELS = ["bicycle", "motorcycle"]
THRESHOLD = 0.8  # the double model's own confidence_threshold: Terraform sets no override by default
MODEL_VERSION = "inference-test-train-1"  # the training job the double model says it came from
DECISION_SOURCE = "inference-test.inference"
DECISION_DETAIL_TYPE = "Courier Vehicle Decision"
METRICS_NAMESPACE = "CourierVehicleTest"  # the functions' and the state machine's own metrics
FUNCTION_TIMEOUT_S = 30
SHORT_TIMEOUT_S = 3  # the classify function of `short_timeout_stack`: timeout tests wait this long per attempt


@dataclass
class InferenceStack:
    aws: Any
    bucket: str
    capture_bucket: str
    endpoint_name: str
    queue_url: str
    state_machine_arn: str
    images: dict[str, str]  # role in the tests → S3 key
    functions: dict[str, str] = field(default_factory=dict)  # step (serialize_image, ...) → deployed function name
    role_arn: str = ""
    function_arns: dict[str, str] = field(default_factory=dict)  # step → function ARN in the state machine
    environments: dict[str, dict[str, str]] = field(default_factory=dict)  # step → the function's environment
    express_state_machine_arn: str = ""  # the same definition as EXPRESS (the module's default type), logging ALL
    log_group: str = ""  # the Express state machine's execution logs
    decision_bus_arn: str = ""  # the bus decisions are published on
    decisions_queue_url: str = ""  # a consumer's queue: a rule on the bus delivers every decision there

    def decisions_for(self, key: str, expected: int = 1, timeout: float = 10) -> list[dict]:
        """The decision events a consumer received for one image key (taken off its queue; others put back)."""
        sqs, found, others, deadline = self.aws.client("sqs"), [], [], time.time() + timeout
        while len(found) < expected and time.time() < deadline:
            batch = sqs.receive_message(
                QueueUrl=self.decisions_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60
            ).get("Messages", [])
            if not batch:
                time.sleep(0.1)
            for message in batch:
                if json.loads(message["Body"])["detail"]["image"]["s3_key"] == key:
                    found.append(json.loads(message["Body"]))
                    sqs.delete_message(QueueUrl=self.decisions_queue_url, ReceiptHandle=message["ReceiptHandle"])
                else:
                    others.append(message["ReceiptHandle"])
        for handle in others:
            sqs.change_message_visibility(QueueUrl=self.decisions_queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
        return found

    def execute_sync(self, payload: dict) -> dict:
        """StartSyncExecution on the Express copy: what a caller gets back on AWS (no history to read)."""
        sfn = self.aws.client("stepfunctions", config=Config(inject_host_prefix=False))
        return sfn.start_sync_execution(stateMachineArn=self.express_state_machine_arn, input=json.dumps(payload))

    def execution_log(self, execution_arn: str) -> list[dict]:
        """The Express execution's log records, as a reader gets them from CloudWatch Logs."""
        from demo.execution_logs import execution_log

        return execution_log(self.aws.client("logs"), self.log_group, execution_arn, timeout=10)

    def execute(self, payload: dict, timeout: float = 90, name: str | None = None) -> tuple[dict, list[dict]]:
        sfn = self.aws.client("stepfunctions")
        named = {"name": name} if name else {}
        arn = sfn.start_execution(stateMachineArn=self.state_machine_arn, input=json.dumps(payload), **named)[
            "executionArn"
        ]
        deadline = time.time() + timeout
        while True:
            execution = sfn.describe_execution(executionArn=arn)
            if execution["status"] != "RUNNING":
                break
            assert time.time() < deadline, f"execution still running after {timeout}s"
            time.sleep(0.1)
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return execution, events


def entered_states(events: list[dict]) -> list[str]:
    """The names of the states an execution entered, in order."""
    return [event["stateEnteredEventDetails"]["name"] for event in events if "stateEnteredEventDetails" in event]


def failed_attempts(events: list[dict]) -> list[tuple[str, str, str]]:
    """(state, error, cause) of every failed task attempt, retried or not, in order."""
    attempts, state = [], None
    for event in events:
        if "stateEnteredEventDetails" in event:
            state = event["stateEnteredEventDetails"]["name"]
        elif event["type"] == "TaskFailed":
            details = event["taskFailedEventDetails"]
            attempts.append((state, details["error"], details.get("cause", "")))
    return attempts


def create_function(stack: InferenceStack, name: str, step: str, code: bytes, timeout: int) -> str:
    """Deploy one of the inference functions (its real zip) under `name`; returns its ARN."""
    return stack.aws.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=stack.role_arn,
        Handler="app.lambda_handler",
        Code={"ZipFile": code},
        Timeout=timeout,
        MemorySize=512,
        Layers=[POWERTOOLS_LAYER],
        Environment={"Variables": stack.environments[step]},
    )["FunctionArn"]


def create_state_machine(
    stack: InferenceStack, name: str, function_arns: dict[str, str], machine_type: str = "STANDARD"
) -> str:
    """Deploy inference.asl.json, rendered as Terraform renders it, calling the given functions.

    STANDARD keeps a history the fault tests read; EXPRESS logs to `stack.log_group` as the module configures it
    (level ALL, no execution data).
    """
    definition = render(
        REPO_ROOT / "inference.asl.json",
        {
            "serialize_image_function_arn": function_arns["serialize_image"],
            "classify_image_function_arn": function_arns["classify_image"],
            "filter_inferences_function_arn": function_arns["filter_inferences"],
            "human_review_queue_url": stack.queue_url,
            "decision_bus_arn": stack.decision_bus_arn,
            "decision_event_source": DECISION_SOURCE,
            "decision_detail_type": DECISION_DETAIL_TYPE,
            "metrics_namespace": METRICS_NAMESPACE,
        },
    )
    logging = {"level": "OFF"}
    if machine_type == "EXPRESS":
        logs = stack.aws.client("logs")
        logs.create_log_group(logGroupName=stack.log_group)
        group_arn = logs.describe_log_groups(logGroupNamePrefix=stack.log_group)["logGroups"][0]["arn"]
        destination = {"cloudWatchLogsLogGroup": {"logGroupArn": group_arn.removesuffix(":*") + ":*"}}
        logging = {"level": "ALL", "includeExecutionData": False, "destinations": [destination]}
    return stack.aws.client("stepfunctions").create_state_machine(
        name=name, definition=definition, roleArn=stack.role_arn, type=machine_type, loggingConfiguration=logging
    )["stateMachineArn"]


def model_artifact(probabilities: dict[str, list[float]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in {
            "code/inference.py": DOUBLE_MODEL.read_bytes(),
            "probabilities.json": json.dumps(probabilities).encode(),
            "model_config.json": json.dumps(
                {"labels": LABELS, "confidence_threshold": THRESHOLD, "model_version": MODEL_VERSION}
            ).encode(),
        }.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def decision_consumer(
    aws: Any, bus_name: str, source: str = DECISION_SOURCE, detail_type: str = DECISION_DETAIL_TYPE
) -> tuple[str, str]:
    """The decision bus and a consumer on it (a rule on source and detail-type, an SQS target): (bus ARN, queue URL)."""
    events, sqs = aws.client("events"), aws.client("sqs")
    bus_arn = events.create_event_bus(Name=bus_name)["EventBusArn"]
    queue_url = sqs.create_queue(QueueName=f"{bus_name}-consumer")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": [source], "detail-type": [detail_type]}
    rule_arn = events.put_rule(Name=f"{bus_name}-all", EventBusName=bus_name, EventPattern=json.dumps(pattern))[
        "RuleArn"
    ]
    events.put_targets(Rule=f"{bus_name}-all", EventBusName=bus_name, Targets=[{"Id": "consumer", "Arn": queue_arn}])
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    return bus_arn, queue_url


@pytest.fixture(scope="session")
def inference_stack(local_aws, lambda_zips, shared_archive) -> InferenceStack:
    aws = local_aws
    region = aws.region
    s3 = aws.client("s3")
    bucket, capture_bucket = "inference-test-data", "inference-test-capture"
    for name in (bucket, capture_bucket):
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})

    bicycles = cifar_png_images(shared_archive, "test", "bicycle", 2)
    motorcycle = cifar_png_images(shared_archive, "test", "motorcycle", 1)[0]
    images = {"bicycle": bicycles[0], "motorcycle": motorcycle, "ambiguous": bicycles[1]}
    probabilities = {"bicycle": [0.97, 0.03], "motorcycle": [0.04, 0.96], "ambiguous": [0.55, 0.45]}
    keys = {}
    for role, (filename, png) in images.items():
        keys[role] = f"incoming/{role}-{filename}"
        s3.put_object(Bucket=bucket, Key=keys[role], Body=png)
    keys["not_an_image"] = "incoming/notes.png"
    s3.put_object(Bucket=bucket, Key=keys["not_an_image"], Body=b"this is a text file, not a picture")
    keys["missing"] = "incoming/never-uploaded.png"

    table = {hashlib.sha256(images[role][1]).hexdigest(): probabilities[role] for role in images}
    s3.put_object(Bucket=bucket, Key="models/double/model.tar.gz", Body=model_artifact(table))
    sagemaker = aws.client("sagemaker")
    iam = aws.client("iam")
    role_arn = fixture_role(iam, "inference-test")
    sagemaker.create_model(
        ModelName="fixed-probabilities",
        ExecutionRoleArn=role_arn,
        PrimaryContainer={
            "Image": "local/pytorch-inference",
            "ModelDataUrl": f"s3://{bucket}/models/double/model.tar.gz",
        },
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="inference-test-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "fixed-probabilities",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{capture_bucket}/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        },
    )
    endpoint_name = "inference-test-endpoint"
    sagemaker.create_endpoint(EndpointName=endpoint_name, EndpointConfigName="inference-test-config")
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=endpoint_name, WaiterConfig={"Delay": 1})

    queue_url = aws.client("sqs").create_queue(QueueName="inference-test-human-review")["QueueUrl"]
    environments = {
        "serialize_image": {"MAX_IMAGE_BYTES": str(25 * 2**20), "MAX_IMAGE_PIXELS": str(50_000_000)},
        "classify_image": {
            "ENDPOINT_NAME": endpoint_name,
            "CLASS_LABELS": ",".join(LABELS),
            "MODEL_CONTENT_TYPE": "application/x-image",
        },
        # No audit samples here (each image gets one route or one review); `audited_stack` audits them all.
        "filter_inferences": {
            "LABEL_ROUTES": json.dumps({"bicycle": "nearby", "motorcycle": "distant"}),
            "AUDIT_SAMPLE_RATE": "0",
        },
    }
    stack = InferenceStack(aws, bucket, capture_bucket, endpoint_name, queue_url, "", keys, role_arn=role_arn)
    stack.decision_bus_arn, stack.decisions_queue_url = decision_consumer(aws, "inference-test-decisions")
    for step, env in environments.items():
        stack.environments[step] = {
            **env,
            "POWERTOOLS_SERVICE_NAME": step,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        }
        stack.functions[step] = f"inference-test-{step}"
        code = (lambda_zips / f"{step}.zip").read_bytes()
        stack.function_arns[step] = create_function(stack, stack.functions[step], step, code, FUNCTION_TIMEOUT_S)
    stack.state_machine_arn = create_state_machine(stack, "inference-test", stack.function_arns)
    stack.log_group = "/aws/vendedlogs/states/inference-test-express"
    stack.express_state_machine_arn = create_state_machine(
        stack, "inference-test-express", stack.function_arns, machine_type="EXPRESS"
    )
    return stack


@pytest.fixture(scope="session")
def short_timeout_stack(inference_stack, lambda_zips) -> InferenceStack:
    """The same workflow, but its classify function times out after SHORT_TIMEOUT_S: timeout tests stay quick."""
    name = "inference-test-classify_image-short-timeout"
    code = (lambda_zips / "classify_image.zip").read_bytes()
    arns = {
        **inference_stack.function_arns,
        "classify_image": create_function(inference_stack, name, "classify_image", code, SHORT_TIMEOUT_S),
    }
    return dataclasses.replace(
        inference_stack,
        state_machine_arn=create_state_machine(inference_stack, "inference-test-short-timeout", arns),
        functions={**inference_stack.functions, "classify_image": name},
        function_arns=arns,
    )


def audit_stack(stack: InferenceStack, lambda_zips: Path, name: str, queue_url: str) -> InferenceStack:
    """The same workflow with every confident route audited (AUDIT_SAMPLE_RATE=1), sending to `queue_url`."""
    environments = {**stack.environments, "filter_inferences": {**stack.environments["filter_inferences"]}}
    environments["filter_inferences"]["AUDIT_SAMPLE_RATE"] = "1"
    audited = dataclasses.replace(stack, environments=environments, queue_url=queue_url)
    code = (lambda_zips / "filter_inferences.zip").read_bytes()
    function = f"inference-test-filter-{name}"
    arns = {
        **stack.function_arns,
        "filter_inferences": create_function(audited, function, "filter_inferences", code, 30),
    }
    return dataclasses.replace(
        audited,
        state_machine_arn=create_state_machine(audited, f"inference-test-{name}", arns),
        functions={**stack.functions, "filter_inferences": function},
        function_arns=arns,
    )


@pytest.fixture(scope="session")
def audited_stack(inference_stack, lambda_zips) -> InferenceStack:
    """Every confident route is also an audit sample, on a review queue of its own (so a test can count them)."""
    queue_url = inference_stack.aws.client("sqs").create_queue(QueueName="inference-test-audit-review")["QueueUrl"]
    return audit_stack(inference_stack, lambda_zips, "audited", queue_url)


@pytest.fixture(scope="session")
def unqueueable_audit_stack(inference_stack, lambda_zips) -> InferenceStack:
    """Every confident route is an audit sample, but the review queue it names does not exist."""
    missing = inference_stack.queue_url.rsplit("/", 1)[0] + "/inference-test-no-such-queue"
    return audit_stack(inference_stack, lambda_zips, "audit-unqueueable", missing)
