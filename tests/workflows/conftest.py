"""The inference workflow deployed on the embedded AWS, with a test-double model behind a real endpoint."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cifar import cifar_png_images
from tests.workflows.asl import render

REPO_ROOT = Path(__file__).resolve().parents[2]

POWERTOOLS_LAYER = "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:18"
DOUBLE_MODEL = Path(__file__).parent / "doubles" / "fixed_probability_model.py"
LABELS = ["bicycle", "motorcycle"]
THRESHOLD = 0.8


@dataclass
class InferenceStack:
    aws: Any
    bucket: str
    capture_bucket: str
    endpoint_name: str
    queue_url: str
    state_machine_arn: str
    images: dict[str, str]  # role in the tests → S3 key

    def execute(self, payload: dict, timeout: float = 90) -> tuple[dict, list[dict]]:
        sfn = self.aws.client("stepfunctions")
        arn = sfn.start_execution(stateMachineArn=self.state_machine_arn, input=json.dumps(payload))["executionArn"]
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


def model_artifact(probabilities: dict[str, list[float]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in {
            "code/inference.py": DOUBLE_MODEL.read_bytes(),
            "probabilities.json": json.dumps(probabilities).encode(),
        }.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


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
    role_arn = iam.create_role(RoleName="inference-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
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
    lam = aws.client("lambda")
    environments = {
        "serialize_image": {"MAX_IMAGE_BYTES": str(25 * 2**20), "MAX_IMAGE_PIXELS": str(50_000_000)},
        "classify_image": {
            "ENDPOINT_NAME": endpoint_name,
            "CLASS_LABELS": ",".join(LABELS),
            "MODEL_CONTENT_TYPE": "application/x-image",
        },
        "filter_inferences": {
            "CONFIDENCE_THRESHOLD": str(THRESHOLD),
            "LABEL_ROUTES": json.dumps({"bicycle": "nearby", "motorcycle": "distant"}),
        },
    }
    arns = {}
    for name, env in environments.items():
        env = {**env, "POWERTOOLS_SERVICE_NAME": name, "POWERTOOLS_METRICS_NAMESPACE": "CourierVehicleTest"}
        arns[name] = lam.create_function(
            FunctionName=f"inference-test-{name}",
            Runtime="python3.11",
            Role=role_arn,
            Handler="app.lambda_handler",
            Code={"ZipFile": (lambda_zips / f"{name}.zip").read_bytes()},
            Timeout=30,
            MemorySize=512,
            Layers=[POWERTOOLS_LAYER],
            Environment={"Variables": env},
        )["FunctionArn"]
    definition = render(
        REPO_ROOT / "inference.asl.json",
        {
            "serialize_image_function_arn": arns["serialize_image"],
            "classify_image_function_arn": arns["classify_image"],
            "filter_inferences_function_arn": arns["filter_inferences"],
            "human_review_queue_url": queue_url,
        },
    )
    state_machine_arn = aws.client("stepfunctions").create_state_machine(
        name="inference-test", definition=definition, roleArn=role_arn, type="STANDARD"
    )["stateMachineArn"]
    return InferenceStack(aws, bucket, capture_bucket, endpoint_name, queue_url, state_machine_arn, keys)
