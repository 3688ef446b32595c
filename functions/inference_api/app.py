"""inference_api: the courier app's synchronous HTTPS entry point (a Lambda function URL with AWS_IAM auth).

POST / with either
- `Content-Type: application/json` and `{"s3_bucket": ..., "s3_key": ...}`: classify an image already in S3, or
- `Content-Type: image/png` or `image/jpeg` and the image itself: it is stored under UPLOAD_PREFIX first (the
  workflow reads images from S3 and the decision names where the image is kept),
runs the inference workflow with StartSyncExecution (EXPRESS) and answers the decision it made and published:
200 `shared.contracts.InferenceAnswer` {route, predicted_label, confidence, confidence_threshold,
model_version, image, execution_arn}. Everything else gets a 4xx or 5xx with a named reason
(`shared.contracts.ApiError` {error, message}); see functions/README.md for the table.

Env: STATE_MACHINE_ARN, UPLOAD_BUCKET, UPLOAD_PREFIX (required), MAX_REQUEST_IMAGE_BYTES (default 4194304: a binary
body travels base64-encoded inside the 6 MB invocation payload, so Lambda refuses bodies above about 4.4 MB
before the function runs), ANSWER_TIMEOUT_SECONDS (default 25; keep it under the function's Timeout).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from shared.contracts import ApiError, ImageLocation, ImageRef, InferenceAnswer, parse_event
from shared.errors import ConfigurationError, ImageTooLarge, InvalidEvent, InvalidImage, WorkflowError
from shared.image_types import sniff_content_type
from shared.settings import positive_int
from shared.sync_executions import AnswerTimedOut, WorkflowUnavailable, execution_name, run_sync, states_client

DEFAULT_MAX_REQUEST_IMAGE_BYTES = 4 * 1024 * 1024
DEFAULT_ANSWER_TIMEOUT_SECONDS = 25
JSON = "application/json"
IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg"}

# A failed execution's error (the Fail state's name, or the serialize error it passes on) -> HTTP status.
# Rejections of the caller's image are 4xx; failures of the system are 5xx (the image is kept where it can be).
FAILED_EXECUTION_STATUS = {
    "InvalidEvent": 400,
    "ImageNotFound": 404,
    "InvalidImage": 422,
    "ImageTooLarge": 413,
    "ClassificationFailed": 502,  # the image is on the human-review queue
    "DecisionNotPublished": 502,  # the image is on the human-review queue
    "SerializationFailed": 502,
    "FilteringFailed": 502,
    "UnknownRoute": 502,
}

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = LambdaFunctionUrlResolver()


class UnsupportedMediaType(WorkflowError):
    """The request's Content-Type is neither application/json nor image/png or image/jpeg."""


@dataclass(frozen=True)
class ApiConfig:
    state_machine_arn: str
    upload_bucket: str
    upload_prefix: str
    max_image_bytes: int
    answer_timeout_seconds: int


def load_config(environ: Mapping[str, str]) -> ApiConfig:
    """The function's settings; a missing one is a deployment error (500), not the caller's."""
    missing = [name for name in ("STATE_MACHINE_ARN", "UPLOAD_BUCKET", "UPLOAD_PREFIX") if not environ.get(name)]
    if missing:
        raise ConfigurationError(f"{', '.join(missing)} not set")
    prefix = environ["UPLOAD_PREFIX"]
    if not prefix.endswith("/"):
        raise ConfigurationError(f"UPLOAD_PREFIX={prefix!r} must end with '/'")
    return ApiConfig(
        state_machine_arn=environ["STATE_MACHINE_ARN"],
        upload_bucket=environ["UPLOAD_BUCKET"],
        upload_prefix=prefix,
        max_image_bytes=positive_int(environ, "MAX_REQUEST_IMAGE_BYTES", DEFAULT_MAX_REQUEST_IMAGE_BYTES),
        answer_timeout_seconds=positive_int(environ, "ANSWER_TIMEOUT_SECONDS", DEFAULT_ANSWER_TIMEOUT_SECONDS),
    )


@functools.cache
def s3_client() -> Any:
    return boto3.client("s3")


def error_response(status: int, error: str, message: str) -> Response:
    metrics.add_metric(name="ApiRejections" if status < 500 else "ApiFailures", unit=MetricUnit.Count, value=1)
    logger.info("request answered with an error", extra={"status": status, "error": error, "reason": message})
    return Response(status, JSON, ApiError(error=error, message=message[:2048]).model_dump_json())


def request_body(event: Any) -> bytes:
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidEvent("the body is marked base64-encoded but is not valid base64") from None
    return body.encode("utf-8")


def image_location(event: Any, config: ApiConfig, request_id: str) -> ImageLocation:
    """Where the image to classify is: the JSON body's S3 location, or the uploaded image, stored first."""
    content_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
    body = request_body(event)
    if content_type == JSON:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise InvalidEvent('the body is not JSON (expected {"s3_bucket": ..., "s3_key": ...})') from None
        if not isinstance(document, dict):
            raise InvalidEvent('the body must be a JSON object {"s3_bucket": ..., "s3_key": ...}')
        return parse_event({k: document.get(k) for k in ("s3_bucket", "s3_key") if k in document}, ImageLocation)
    if content_type not in IMAGE_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {content_type or '(none)'!r}: send application/json with an S3 location, "
            "or the image as image/png or image/jpeg"
        )
    if len(body) > config.max_image_bytes:
        raise ImageTooLarge(f"the image is {len(body)} bytes; this API accepts at most {config.max_image_bytes}")
    if not body:
        raise InvalidImage("the body is empty")
    actual = sniff_content_type(body)  # raises InvalidImage for anything but PNG or JPEG bytes
    key = f"{config.upload_prefix}{request_id}.{IMAGE_TYPES[actual]}"
    s3_client().put_object(Bucket=config.upload_bucket, Key=key, Body=body, ContentType=actual)
    return ImageLocation(s3_bucket=config.upload_bucket, s3_key=key)


def answer(outcome: Any, location: ImageLocation) -> Response:
    """The HTTP answer to one finished execution."""
    if outcome.status == "SUCCEEDED" and outcome.output:
        decision = outcome.output
        body = InferenceAnswer(
            route=decision["route"],
            predicted_label=decision["predicted_label"],
            confidence=decision["confidence"],
            confidence_threshold=decision["confidence_threshold"],
            model_version=decision["model_version"],
            review_reason=decision.get("review_reason"),
            image=ImageRef(s3_bucket=location.s3_bucket, s3_key=location.s3_key),
            execution_arn=outcome.execution_arn,
        )
        metrics.add_metric(name="ApiDecisions", unit=MetricUnit.Count, value=1)
        return Response(200, JSON, body.model_dump_json(exclude_none=True))
    if outcome.status == "TIMED_OUT":
        return error_response(504, "WorkflowTimedOut", f"the workflow ran out of time ({outcome.execution_arn})")
    status = FAILED_EXECUTION_STATUS.get(outcome.error or "", 502)
    return error_response(status, outcome.error or "WorkflowFailed", outcome.cause or outcome.execution_arn)


@app.post("/")
def classify() -> Response:
    config = load_config(os.environ)
    request_id = app.current_event.request_context.request_id
    try:
        location = image_location(app.current_event, config, request_id)
    except InvalidEvent as exc:
        return error_response(400, "InvalidRequest", str(exc))
    except UnsupportedMediaType as exc:
        return error_response(415, "UnsupportedMediaType", str(exc))
    except ImageTooLarge as exc:
        return error_response(413, "ImageTooLarge", str(exc))
    except InvalidImage as exc:
        return error_response(422, "InvalidImage", str(exc))
    except (ClientError, BotoCoreError) as exc:
        return error_response(503, "ImageNotStored", f"the image could not be stored: {exc}")
    try:
        outcome = run_sync(
            states_client(config.answer_timeout_seconds),
            config.state_machine_arn,
            execution_name("api", request_id),
            {"s3_bucket": location.s3_bucket, "s3_key": location.s3_key, "execution_name": request_id},
        )
    except AnswerTimedOut as exc:
        return error_response(504, "AnswerTimedOut", f"{exc}; the decision is still published when it is made")
    except WorkflowUnavailable as exc:
        return error_response(503, "WorkflowUnavailable", str(exc))
    logger.info(
        "request answered",
        extra={"s3_key": location.s3_key, "status": outcome.status, "route": (outcome.output or {}).get("route")},
    )
    return answer(outcome, location)


@app.not_found
def not_found(_exc: Exception) -> Response:
    method, path = app.current_event.request_context.http.method, app.current_event.path
    if path == "/":
        return error_response(405, "MethodNotAllowed", f"{method} / : this API takes POST /")
    return error_response(404, "NotFound", f"{method} {path}: this API takes POST /")


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
