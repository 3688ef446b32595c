"""smoke_test: the training pipeline's check that the endpoint really serves the new model version, before success.

In: `{"endpoint_name", "test_s3_uri", "model_version"}` (SmokeTestRequest): the endpoint just updated, the test
split of the dataset the model was trained on (its `test.lst` names each image's label), and the training job of
the version that must answer.
It sends SMOKE_TEST_IMAGES known test images (default 4, spread over the labels) to the endpoint and requires each
answer to be a well-formed answer of that version: the serving contract's JSON object (training/sourcedir/
inference.py) whose `probabilities` has one number in [0, 1] per CLASS_LABELS label, summing to 1 (a bare list of
them is accepted too), `labels`, when given, equal to CLASS_LABELS, and `model_version`, when the model names it
(not absent or "unknown", what a model says that does not know its training job), equal to the version deployed (an
answer of another version means the endpoint does not run the new config).
Whether the top label is right is reported (`correct`, metric `SmokeTestCorrect`), not required: the accuracy
gate judged the model on the whole test split; this step judges the deployment.

Out: `{"endpoint_name", "model_version", "images", "correct", "answers": [{key, label, predicted, confidence}]}`.
Errors (the state machine rolls the endpoint back and fails as SmokeTestFailed): SmokeTestImagesMissing,
SmokeTestEndpointError, SmokeTestBadAnswer, SmokeTestWrongModel; InvalidEvent, ConfigurationError.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, Field
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import ConfigDict
from pydantic import ValidationError as PydanticValidationError
from shared.contracts import UNKNOWN_MODEL_VERSION, ModelAnswer, parse_event
from shared.errors import ConfigurationError, WorkflowError

DEFAULT_IMAGES = 4
MAX_IMAGES = 50
PROBABILITY_SUM_TOLERANCE = 1e-3

logger = Logger()
tracer = Tracer()
metrics = Metrics()


class SmokeTestImagesMissing(WorkflowError):
    """The test split has no test.lst, or it names no image that exists."""


class SmokeTestEndpointError(WorkflowError):
    """The endpoint did not answer a known image (an error status, or no JSON)."""


class SmokeTestBadAnswer(WorkflowError):
    """The endpoint answered, but not with one probability per configured label."""


class SmokeTestWrongModel(WorkflowError):
    """The answer names another model version than the one deployed."""


class SmokeTestRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    endpoint_name: str = Field(min_length=1, max_length=63)
    test_s3_uri: str = Field(pattern=r"^s3://[a-z0-9.-]{3,63}(/.*)?$")
    model_version: str = Field(min_length=1, max_length=63)


def settings(environ: Mapping[str, str]) -> tuple[list[str], int]:
    """(CLASS_LABELS, SMOKE_TEST_IMAGES) from the function's environment."""
    labels = [label.strip() for label in environ.get("CLASS_LABELS", "").split(",") if label.strip()]
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ConfigurationError(f"CLASS_LABELS={environ.get('CLASS_LABELS')!r} must name two or more distinct labels")
    raw = environ.get("SMOKE_TEST_IMAGES", str(DEFAULT_IMAGES)).strip()
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_IMAGES:
        raise ConfigurationError(f"SMOKE_TEST_IMAGES={raw!r} must be a whole number from 1 to {MAX_IMAGES}")
    return labels, int(raw)


def known_images(s3: Any, test_s3_uri: str, labels: list[str], count: int) -> list[tuple[str, str]]:
    """(S3 key, label) of `count` images of the test split, taken in turn from each label, in test.lst order."""
    bucket, _, prefix = test_s3_uri.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    listing = f"{prefix}/test.lst" if prefix else "test.lst"
    try:
        lines = s3.get_object(Bucket=bucket, Key=listing)["Body"].read().decode().splitlines()
    except ClientError as error:
        raise SmokeTestImagesMissing(f"cannot read s3://{bucket}/{listing}: {error}") from None
    by_label: dict[int, list[str]] = {}
    for line in lines:
        parts = line.split("\t")
        if len(parts) == 3 and parts[1].strip().isdigit() and int(parts[1]) < len(labels):
            by_label.setdefault(int(parts[1]), []).append(
                f"{prefix}/{parts[2].strip()}" if prefix else parts[2].strip()
            )
    chosen: list[tuple[str, str]] = []
    while len(chosen) < count and any(by_label.values()):
        for index in sorted(by_label):
            if by_label[index] and len(chosen) < count:
                chosen.append((by_label[index].pop(0), labels[index]))
    if not chosen:
        raise SmokeTestImagesMissing(f"s3://{bucket}/{listing} lists no image with a label of {labels}")
    return [(f"s3://{bucket}/{key}", label) for key, label in chosen]


def judge(answer: Any, labels: list[str], model_version: str, key: str) -> tuple[str, float]:
    """The answer's top label and its probability, once the answer is known to be this version's, well-formed.
    A bare probability list (a model from before the serving contract named its version) is read as such."""
    if isinstance(answer, list):
        answer = {"probabilities": answer}
    try:
        parsed = ModelAnswer.model_validate(answer)
    except PydanticValidationError:
        raise SmokeTestBadAnswer(f"{key}: the endpoint's answer is not a JSON object with probabilities") from None
    if parsed.model_version not in (None, UNKNOWN_MODEL_VERSION, model_version):
        raise SmokeTestWrongModel(
            f"{key} was answered by model version {parsed.model_version}, not {model_version}: the endpoint does not "
            "serve the new version to every request"
        )
    if parsed.labels is not None and list(parsed.labels) != labels:
        raise SmokeTestBadAnswer(f"{key}: the model's labels {list(parsed.labels)} are not CLASS_LABELS {labels}")
    probabilities = parsed.probabilities
    if (
        len(probabilities) != len(labels)
        or not all(isinstance(p, int | float) and not isinstance(p, bool) and 0 <= p <= 1 for p in probabilities)
        or not math.isclose(sum(probabilities), 1.0, abs_tol=PROBABILITY_SUM_TOLERANCE)
    ):
        raise SmokeTestBadAnswer(
            f"{key}: expected {len(labels)} probabilities in [0, 1] summing to 1, got {str(probabilities)[:200]}"
        )
    best = max(range(len(labels)), key=lambda i: probabilities[i])
    return labels[best], float(probabilities[best])


def smoke_test(request: SmokeTestRequest, s3: Any, runtime: Any, labels: list[str], count: int) -> dict[str, Any]:
    answers = []
    for uri, label in known_images(s3, request.test_s3_uri, labels, count):
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            image = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            raise SmokeTestImagesMissing(f"cannot read the known image {uri}: {error}") from None
        try:
            response = runtime.invoke_endpoint(
                EndpointName=request.endpoint_name,
                Body=image,
                ContentType="application/x-image",
                Accept="application/json",
            )
            answer = json.loads(response["Body"].read())
        except ClientError as error:
            raise SmokeTestEndpointError(f"endpoint {request.endpoint_name} failed on {uri}: {error}") from None
        except ValueError as error:
            raise SmokeTestEndpointError(
                f"endpoint {request.endpoint_name} answered {uri} with no JSON: {error}"
            ) from None
        predicted, confidence = judge(answer, labels, request.model_version, uri)
        answers.append({"key": uri, "label": label, "predicted": predicted, "confidence": confidence})
    return {
        "endpoint_name": request.endpoint_name,
        "model_version": request.model_version,
        "images": len(answers),
        "correct": sum(1 for a in answers if a["predicted"] == a["label"]),
        "answers": answers,
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(event, SmokeTestRequest)
    logger.append_keys(endpoint_name=request.endpoint_name, model_version=request.model_version)
    labels, count = settings(os.environ)
    result = smoke_test(request, boto3.client("s3"), boto3.client("sagemaker-runtime"), labels, count)
    metrics.add_metric(name="SmokeTestImages", unit=MetricUnit.Count, value=result["images"])
    metrics.add_metric(name="SmokeTestCorrect", unit=MetricUnit.Count, value=result["correct"])
    logger.info("smoke test passed", extra={k: result[k] for k in ("images", "correct")})
    return result
