"""serialize_image: the first inference step, S3 object -> base64 PNG/JPEG small enough for Step Functions.

In: `{"s3_bucket", "s3_key"}` or an EventBridge S3 "Object Created" event (`shared.contracts`).
Out: `{"s3_bucket", "s3_key", "image_data", "content_type"}`, always under the 256 KiB state limit.

Env: MAX_IMAGE_BYTES (default 26214400 = 25 MiB, checked with HeadObject before downloading),
MAX_IMAGE_PIXELS (default 50000000). Errors: InvalidEvent, ImageNotFound, InvalidImage, ImageTooLarge,
ConfigurationError (see functions/README.md for what the state machine does with each).
"""

from __future__ import annotations

import base64
import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import ClientError
from shared.contracts import ImageLocation, SerializedImage, parse_image_request
from shared.errors import ImageNotFound, ImageTooLarge, InvalidImage, WorkflowError
from shared.images import DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_IMAGE_PIXELS, PreparedImage, prepare_image
from shared.settings import positive_int

STATE_PAYLOAD_LIMIT_BYTES = 256 * 1024
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NotFound"})
_ACCESS_DENIED_CODES = frozenset({"403", "AccessDenied", "Forbidden"})

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@dataclass(frozen=True)
class Limits:
    max_image_bytes: int
    max_image_pixels: int


def load_limits(environ: Mapping[str, str]) -> Limits:
    """Read the size limits from the environment; a bad value is a deployment error, not a bad image."""
    return Limits(
        max_image_bytes=positive_int(environ, "MAX_IMAGE_BYTES", DEFAULT_MAX_IMAGE_BYTES),
        max_image_pixels=positive_int(environ, "MAX_IMAGE_PIXELS", DEFAULT_MAX_IMAGE_PIXELS),
    )


@functools.cache
def s3_client() -> Any:
    """One client per execution environment, made on first use (importing needs no region or credentials)."""
    return boto3.client("s3", config=Config(retries={"mode": "standard", "total_max_attempts": 3}))


def read_image(client: Any, location: ImageLocation, max_bytes: int) -> bytes:
    """Download the object, refusing it from its HeadObject size before spending memory on it."""
    where = f"s3://{location.s3_bucket}/{location.s3_key}"
    try:
        head = client.head_object(Bucket=location.s3_bucket, Key=location.s3_key)
    except ClientError as exc:
        raise _s3_error(exc, where) from None
    size = head["ContentLength"]
    if size > max_bytes:
        raise ImageTooLarge(f"{where} is {size} bytes; MAX_IMAGE_BYTES allows {max_bytes}")
    if size == 0:
        raise InvalidImage(f"{where} is empty (0 bytes)")
    try:
        body = client.get_object(Bucket=location.s3_bucket, Key=location.s3_key)["Body"]
    except ClientError as exc:
        raise _s3_error(exc, where) from None
    with body:
        data = body.read(max_bytes + 1)  # the object may have been overwritten since HeadObject
    if len(data) > max_bytes:
        raise ImageTooLarge(f"{where} grew past MAX_IMAGE_BYTES={max_bytes} while being read")
    return data


def to_result(location: ImageLocation, image: PreparedImage) -> dict[str, Any]:
    """The step's output, checked against the Step Functions state limit before Step Functions sees it."""
    result = SerializedImage(
        s3_bucket=location.s3_bucket,
        s3_key=location.s3_key,
        execution_name=location.execution_name,
        probe=location.probe,
        image_data=base64.b64encode(image.data).decode("ascii"),
        content_type=image.content_type,
    ).model_dump(exclude_none=True)
    size = len(json.dumps(result).encode("utf-8"))
    if size >= STATE_PAYLOAD_LIMIT_BYTES:
        raise ImageTooLarge(f"serialized output is {size} bytes; Step Functions allows {STATE_PAYLOAD_LIMIT_BYTES}")
    return result


@logger.inject_lambda_context(correlation_id_path="execution_name")
@tracer.capture_lambda_handler(capture_response=False)  # the response is a 200 KB image: too big for a trace
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    limits = load_limits(os.environ)
    try:
        location = parse_image_request(event)
        data = read_image(s3_client(), location, limits.max_image_bytes)
        image = prepare_image(data, max_pixels=limits.max_image_pixels)
        result = to_result(location, image)
    except WorkflowError as exc:
        metrics.add_metric(name="ImagesRejected", unit=MetricUnit.Count, value=1)
        logger.warning("image rejected", extra={"error_type": type(exc).__name__, "reason": str(exc)})
        raise

    metrics.add_metric(name="ImagesSerialized", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ImageBytesIn", unit=MetricUnit.Bytes, value=len(data))
    metrics.add_metric(name="ImageBytesOut", unit=MetricUnit.Bytes, value=len(image.data))
    if image.reencoded:
        metrics.add_metric(name="ImagesReencoded", unit=MetricUnit.Count, value=1)
    logger.info(
        "image serialized",
        extra={
            "s3_bucket": location.s3_bucket,
            "s3_key": location.s3_key,
            "content_type": image.content_type,
            "bytes_in": len(data),
            "bytes_out": len(image.data),
            "source_size": f"{image.source_width}x{image.source_height}",
            "output_size": f"{image.width}x{image.height}",
            "reencoded": image.reencoded,
        },
    )
    return result


def _s3_error(exc: ClientError, where: str) -> Exception:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    if code in _NOT_FOUND_CODES:
        return ImageNotFound(f"{where} does not exist ({code})")
    if code in _ACCESS_DENIED_CODES:
        # Without s3:ListBucket, S3 answers 403 rather than 404 for a missing key.
        return ImageNotFound(f"{where} is missing or not readable by this function ({code})")
    return exc
