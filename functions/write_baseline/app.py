"""write_baseline: the pipeline's last deploy step, the monitoring baseline of the model just deployed.

In: `{"endpoint_name", "test_s3_uri", "baseline_s3_prefix", "training_job_name"}` (BaselineRequest).
It sends every test image under `test_s3_uri` to the endpoint and turns each request/response pair into
features with the same record preprocessor both monitoring engines run on captured traffic (the image features
come from the endpoint's answer, as they do in the capture), and writes `statistics.json` and
`constraints.json` under `baseline_s3_prefix`, where either engine reads them (monitoring/baseline.py).
Sending the images through the endpoint also proves the new model answers before the pipeline reports success.

Out: `{"statistics_s3_uri", "constraints_s3_uri", "records"}`.
Env: MAX_BASELINE_IMAGES (default 1000): a larger test set is sampled evenly, in key order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, Field
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import ConfigDict
from shared.contracts import parse_event
from shared.errors import ConfigurationError, WorkflowError

from monitoring.baseline import (
    IMAGE_SUFFIXES,
    EndpointAnswerError,
    ask_endpoint,
    build_baseline,
    rows_from_answers,
    split_s3_uri,
    upload_baseline,
)

DEFAULT_MAX_BASELINE_IMAGES = 1000

logger = Logger()
tracer = Tracer()
metrics = Metrics()


class BaselineImagesMissing(WorkflowError):
    """The test set holds no images to compute a baseline from."""


class BaselineEndpointError(WorkflowError):
    """The endpoint did not answer a baseline image (the model just deployed is not serving)."""


class BaselineNotWritten(WorkflowError):
    """statistics.json or constraints.json could not be written under baseline_s3_prefix."""


class BaselineRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    endpoint_name: str = Field(min_length=1, max_length=63)
    test_s3_uri: str = Field(pattern=r"^s3://[a-z0-9.-]{3,63}(/.*)?$")
    baseline_s3_prefix: str = Field(pattern=r"^s3://[a-z0-9.-]{3,63}(/.*)?$")
    training_job_name: str = Field(min_length=1, max_length=63)


def max_images(environ: dict[str, str]) -> int:
    raw = environ.get("MAX_BASELINE_IMAGES", str(DEFAULT_MAX_BASELINE_IMAGES))
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError(f"MAX_BASELINE_IMAGES={raw!r} must be a positive integer")
    return int(raw)


def image_keys(s3: Any, uri: str, limit: int) -> list[str]:
    """Keys of the images under an S3 prefix, evenly sampled down to `limit`."""
    bucket, prefix = split_s3_uri(uri)
    keys = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""):
            keys += [item["Key"] for item in page.get("Contents", []) if item["Key"].lower().endswith(IMAGE_SUFFIXES)]
    except ClientError as error:
        raise BaselineImagesMissing(f"cannot list the test set {uri}: {error}") from None
    if not keys:
        raise BaselineImagesMissing(f"no PNG or JPEG images under {uri}")
    keys.sort()
    step = max(1, len(keys) // limit)
    return keys[::step][:limit]


def read_images(s3: Any, bucket: str, keys: list[str]) -> Iterator[tuple[str, bytes]]:
    """(key, bytes) of each test image, read as the endpoint is asked (one at a time)."""
    for key in keys:
        try:
            yield key, s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            raise BaselineImagesMissing(f"cannot read test image s3://{bucket}/{key}: {error}") from None


def write_baseline(request: BaselineRequest, s3: Any, runtime: Any, limit: int) -> dict[str, Any]:
    bucket, _prefix = split_s3_uri(request.test_s3_uri)
    keys = image_keys(s3, request.test_s3_uri, limit)
    try:
        answered = list(ask_endpoint(runtime, request.endpoint_name, read_images(s3, bucket, keys)))
    except EndpointAnswerError as error:
        raise BaselineEndpointError(str(error)) from None
    rows = rows_from_answers(answered)
    statistics, constraints = build_baseline(rows)
    try:
        statistics_uri, constraints_uri = upload_baseline(
            s3, *split_s3_uri(request.baseline_s3_prefix), statistics, constraints
        )
    except ClientError as error:
        raise BaselineNotWritten(f"cannot write the baseline under {request.baseline_s3_prefix}: {error}") from None
    return {"statistics_s3_uri": statistics_uri, "constraints_s3_uri": constraints_uri, "records": len(rows)}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(event, BaselineRequest)
    logger.append_keys(training_job_name=request.training_job_name, endpoint_name=request.endpoint_name)
    result = write_baseline(request, boto3.client("s3"), boto3.client("sagemaker-runtime"), max_images(os.environ))
    metrics.add_metric(name="BaselineRecords", unit=MetricUnit.Count, value=result["records"])
    logger.info("monitoring baseline written", extra=result)
    return result
