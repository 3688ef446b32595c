"""classify_image: the second inference step, image -> one probability per class from the SageMaker endpoint.

In: serialize_image's output (`shared.contracts.SerializedImage`).
Out: the same without `image_data`, plus `labels` (from CLASS_LABELS) and `inferences` (in the same order), and
what the model says about itself: `model_version` (the training job that made it) and
`model_confidence_threshold` (the threshold it chose in training), from the endpoint's JSON object
(`shared.contracts.ModelAnswer`). A model deployed before models reported them answers a bare probability list:
then `model_version` is "unknown" and there is no `model_confidence_threshold`.

Every request carries an InferenceId (`inference_id` in the result), which data capture records beside the
request and a reviewer's ground-truth label names: the Step Functions execution's name (`workflow_execution`, which
the state machine adds) when it is a valid InferenceId (1-64 printable characters), else the SHA-256 of that name
in hex (64 characters), so a retried attempt of the same execution sends the same id; a random UUID only when the
input names no execution (a direct invocation).

Env: ENDPOINT_NAME (required), CLASS_LABELS (required, comma-separated in the model's output order, e.g.
"bicycle,motorcycle"), MODEL_CONTENT_TYPE (default "application/x-image"). Endpoint throttling and server-side
failures raise EndpointThrottled / EndpointUnavailable, which the state machine retries; a request the model
rejects raises ModelError, an unusable answer InvalidModelResponse (both go to human review).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from pydantic import ValidationError
from shared.contracts import (
    UNKNOWN_MODEL_VERSION,
    Classification,
    ModelAnswer,
    SerializedImage,
    describe_validation_error,
    parse_event,
)
from shared.errors import (
    ConfigurationError,
    EndpointThrottled,
    EndpointUnavailable,
    InvalidModelResponse,
    ModelError,
    WorkflowError,
)

DEFAULT_MODEL_CONTENT_TYPE = "application/x-image"
PROBABILITY_SUM_TOLERANCE = 0.01
"""How far from 1 the probabilities may sum: softmax in float32 plus rounding by the model's serializer."""

_THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})
_UNAVAILABLE_CODES = frozenset(
    {"ServiceUnavailable", "InternalFailure", "InternalDependencyException", "InternalServerError"}
)
_MODEL_CODES = frozenset({"ModelError", "ValidationError", "ModelStreamError"})
_MAX_QUOTED_CHARS = 300
INFERENCE_ID_MAX_CHARS = 64
_VALID_INFERENCE_ID = re.compile(r"\S[\x20-\x7e]*")
"""InvokeEndpoint's InferenceId: 1-64 printable characters, the first not whitespace
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html)."""

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@dataclass(frozen=True)
class ModelOutput:
    """What one answer of the endpoint says: probabilities in CLASS_LABELS order, and the model's own facts."""

    probabilities: list[float]
    model_version: str
    confidence_threshold: float | None


@dataclass(frozen=True)
class EndpointConfig:
    endpoint_name: str
    labels: tuple[str, ...]
    content_type: str


def load_endpoint_config(environ: Mapping[str, str]) -> EndpointConfig:
    """Read the endpoint settings; missing or malformed ones are a deployment error."""
    endpoint_name = environ.get("ENDPOINT_NAME", "").strip()
    if not endpoint_name:
        raise ConfigurationError("ENDPOINT_NAME is not set")
    content_type = environ.get("MODEL_CONTENT_TYPE", "").strip() or DEFAULT_MODEL_CONTENT_TYPE
    return EndpointConfig(endpoint_name, parse_labels(environ.get("CLASS_LABELS", "")), content_type)


def parse_labels(raw: str) -> tuple[str, ...]:
    """CLASS_LABELS, e.g. "bicycle,motorcycle": at least two distinct names, in the model's output order."""
    if not raw.strip():
        raise ConfigurationError("CLASS_LABELS is not set (expected e.g. 'bicycle,motorcycle')")
    labels = tuple(label.strip() for label in raw.split(","))
    if any(not label for label in labels):
        raise ConfigurationError(f"CLASS_LABELS={raw!r} has an empty label")
    if len(labels) < 2:
        raise ConfigurationError(f"CLASS_LABELS={raw!r} names {len(labels)} label; a classifier needs at least 2")
    if len(set(labels)) != len(labels):
        raise ConfigurationError(f"CLASS_LABELS={raw!r} repeats a label")
    return labels


@functools.cache
def sagemaker_runtime() -> Any:
    """One client per execution environment, made on first use (importing needs no region or credentials).

    One SDK attempt only: the state machine retries EndpointThrottled/EndpointUnavailable with backoff, and
    retrying here as well would multiply the attempts.
    """
    return boto3.client(
        "sagemaker-runtime",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=60),
    )


def inference_id_for(workflow_execution: str | None) -> str:
    """The InferenceId of this execution's request: its name when that is a valid id, else a hash of the name."""
    if not workflow_execution:
        return str(uuid.uuid4())
    if len(workflow_execution) <= INFERENCE_ID_MAX_CHARS and _VALID_INFERENCE_ID.fullmatch(workflow_execution):
        return workflow_execution
    return hashlib.sha256(workflow_execution.encode("utf-8")).hexdigest()


def invoke_endpoint(client: Any, config: EndpointConfig, body: bytes, inference_id: str) -> tuple[bytes, float]:
    """Send the image to the endpoint; returns the raw answer and the round trip in milliseconds."""
    started = time.perf_counter()
    try:
        response = client.invoke_endpoint(
            EndpointName=config.endpoint_name,
            ContentType=config.content_type,
            Accept="application/json",
            Body=body,
            InferenceId=inference_id,
        )
        with response["Body"] as stream:
            payload = stream.read()
    except ClientError as exc:
        raise endpoint_error(exc, config.endpoint_name) from None
    except (BotocoreConnectionError, HTTPClientError) as exc:
        raise EndpointUnavailable(f"endpoint {config.endpoint_name} could not be reached: {exc}") from None
    latency_ms = (time.perf_counter() - started) * 1000
    return payload, latency_ms


def endpoint_error(exc: ClientError, endpoint_name: str) -> WorkflowError:
    """Map an InvokeEndpoint failure to a named error: throttled/unavailable are retried, the rest are not."""
    response: dict[str, Any] = exc.response
    error = response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    message = _quote(str(error.get("Message", "")))
    detail = f"endpoint {endpoint_name}: {code or 'error'} (HTTP {status}): {message}"
    if "OriginalStatusCode" in response:
        detail += f"; the model container answered HTTP {response['OriginalStatusCode']}"
    if "LogStreamArn" in response:
        detail += f"; container logs: {response['LogStreamArn']}"

    if code in _THROTTLING_CODES:
        return EndpointThrottled(detail)
    if code in _UNAVAILABLE_CODES:
        return EndpointUnavailable(detail)
    if code in _MODEL_CODES:
        return ModelError(detail)
    if status == 429:
        return EndpointThrottled(detail)
    if status >= 500:
        return EndpointUnavailable(detail)
    return ModelError(detail)


def parse_model_answer(payload: bytes, labels: Sequence[str]) -> ModelOutput:
    """The endpoint's answer for one image.

    Accepted: the serving handler's object `{"probabilities", "labels", "confidence_threshold", "model_version"}`
    (a batch of one inside it too); and, from models deployed before it reported those, a JSON list
    (`[0.93, 0.07]`, also what SageMaker's built-in image classifier returns) or a batch of one (`[[0.93, 0.07]]`).
    The object's `labels` must be CLASS_LABELS' labels; its probabilities are reordered to CLASS_LABELS' order.
    """
    try:
        decoded = json.loads(payload)
    except (ValueError, RecursionError):  # ValueError includes UnicodeDecodeError
        raise InvalidModelResponse(f"endpoint answered with non-JSON: {_quote(repr(payload[:100]))}") from None
    if not isinstance(decoded, dict):
        return ModelOutput(parse_probabilities(decoded, labels), UNKNOWN_MODEL_VERSION, None)
    if "probabilities" not in decoded:
        raise InvalidModelResponse(
            f"endpoint answered a JSON object without 'probabilities' (keys: {sorted(decoded)[:10]})"
        )
    try:
        answer = ModelAnswer.model_validate(decoded)
    except ValidationError as exc:
        raise InvalidModelResponse(f"endpoint answered an unusable object: {describe_validation_error(exc)}") from None
    model_labels = list(answer.labels or labels)
    if sorted(model_labels) != sorted(labels):
        raise InvalidModelResponse(
            f"the model's labels {model_labels} are not CLASS_LABELS {list(labels)}: the endpoint serves a model of "
            "other classes, or CLASS_LABELS is out of date"
        )
    by_label = dict(zip(model_labels, parse_probabilities(answer.probabilities, model_labels), strict=True))
    return ModelOutput(
        probabilities=[by_label[label] for label in labels],
        model_version=answer.model_version or UNKNOWN_MODEL_VERSION,
        confidence_threshold=answer.confidence_threshold,
    )


def parse_probabilities(decoded: Any, labels: Sequence[str]) -> list[float]:
    """One probability per label, in label order, summing to 1: a list, or a batch of one list."""
    if isinstance(decoded, list) and len(decoded) == 1 and isinstance(decoded[0], list):
        decoded = decoded[0]
    if isinstance(decoded, list) and decoded and all(isinstance(row, list) for row in decoded):
        raise InvalidModelResponse(f"endpoint answered {len(decoded)} rows of probabilities for one image")
    if not isinstance(decoded, list):
        raise InvalidModelResponse(f"expected a JSON list of probabilities, got {type(decoded).__name__}")
    if len(decoded) != len(labels):
        raise InvalidModelResponse(
            f"endpoint returned {len(decoded)} probabilities for {len(labels)} labels (CLASS_LABELS={','.join(labels)})"
        )
    for label, value in zip(labels, decoded, strict=True):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidModelResponse(f"probability for {label!r} is {_quote(repr(value))}, not a number")
        if not (math.isfinite(value) and 0 <= value <= 1):
            raise InvalidModelResponse(f"probability for {label!r} is {value!r}, outside [0, 1]")
    probabilities = [float(value) for value in decoded]
    total = math.fsum(probabilities)
    if abs(total - 1.0) > PROBABILITY_SUM_TOLERANCE:
        raise InvalidModelResponse(
            f"probabilities sum to {total!r}, expected 1 ± {PROBABILITY_SUM_TOLERANCE} (is the model returning logits?)"
        )
    return probabilities


def to_result(
    image: SerializedImage, labels: Sequence[str], output: ModelOutput, inference_id: str | None = None
) -> dict[str, Any]:
    """The input minus image_data (the image has done its job; carrying it on would only risk the limit)."""
    return Classification(
        s3_bucket=image.s3_bucket,
        s3_key=image.s3_key,
        execution_name=image.execution_name,
        probe=image.probe,
        content_type=image.content_type,
        labels=list(labels),
        inferences=output.probabilities,
        model_version=output.model_version,
        model_confidence_threshold=output.confidence_threshold,
        inference_id=inference_id,
    ).model_dump(exclude_none=True)


@logger.inject_lambda_context(correlation_id_path="execution_name")
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config = load_endpoint_config(os.environ)
    try:
        image = parse_event(event, SerializedImage)
        inference_id = inference_id_for(image.workflow_execution)
        payload, latency_ms = invoke_endpoint(sagemaker_runtime(), config, image.image_bytes(), inference_id)
        metrics.add_metric(name="EndpointLatency", unit=MetricUnit.Milliseconds, value=latency_ms)
        output = parse_model_answer(payload, config.labels)
    except WorkflowError as exc:
        metrics.add_metric(name="ClassificationErrors", unit=MetricUnit.Count, value=1)
        logger.warning("classification failed", extra={"error_type": type(exc).__name__, "reason": str(exc)})
        raise

    metrics.add_metric(name="Classifications", unit=MetricUnit.Count, value=1)
    logger.info(
        "image classified",
        extra={
            "s3_bucket": image.s3_bucket,
            "s3_key": image.s3_key,
            "inference_id": inference_id,
            "endpoint_name": config.endpoint_name,
            "latency_ms": round(latency_ms, 1),
            "inferences": dict(zip(config.labels, output.probabilities, strict=True)),
            "model_version": output.model_version,
            "model_confidence_threshold": output.confidence_threshold,
        },
    )
    return to_result(image, config.labels, output, inference_id)


def _quote(text: str) -> str:
    return text if len(text) <= _MAX_QUOTED_CHARS else text[:_MAX_QUOTED_CHARS] + "..."
