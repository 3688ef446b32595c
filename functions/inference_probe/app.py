"""inference_probe: a synthetic check of the whole inference path, so that breakage shows at zero traffic.

On a schedule (an EventBridge rule, every `probe_interval_minutes`) or when invoked by hand ("run now": `aws
lambda invoke --function-name <prefix>-inference-probe out.json`), it runs the inference workflow with
StartSyncExecution on each known image (one bicycle, one motorcycle) and checks the route it answers.

Env: STATE_MACHINE_ARN, PROBE_BUCKET, PROBE_IMAGES (JSON object: S3 key -> the route that image must get, e.g.
{"incoming/probes/bicycle.png": "nearby"}), ANSWER_TIMEOUT_SECONDS (default 60).
Metrics (the probe alarms read them): `ProbeChecks` (one per image checked), `ProbeFailures` (a wrong route, a
failed or timed-out execution, a missing probe image, a workflow that would not start). The executions carry
`probe: true`, so their decisions on the bus say so and dispatch can ignore them.
Out: {"checks": [{s3_key, expected_route, route, outcome, detail}], "failures": n}.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from shared.errors import ConfigurationError, WorkflowError
from shared.sync_executions import execution_name, run_sync, states_client

DEFAULT_ANSWER_TIMEOUT_SECONDS = 60
OUTCOMES = ("ok", "wrong_route", "execution_failed", "image_missing", "timed_out", "not_started")

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@dataclass(frozen=True)
class ProbeConfig:
    state_machine_arn: str
    bucket: str
    images: dict[str, str]  # S3 key -> expected route
    answer_timeout_seconds: int


@dataclass(frozen=True)
class ProbeCheck:
    s3_key: str
    expected_route: str
    route: str | None
    outcome: str  # one of OUTCOMES
    detail: str


def load_config(environ: Mapping[str, str]) -> ProbeConfig:
    """The probe's settings; a missing or malformed one is a deployment error (the function fails)."""
    missing = [name for name in ("STATE_MACHINE_ARN", "PROBE_BUCKET", "PROBE_IMAGES") if not environ.get(name)]
    if missing:
        raise ConfigurationError(f"{', '.join(missing)} not set")
    try:
        images = json.loads(environ["PROBE_IMAGES"])
    except ValueError:
        raise ConfigurationError(f"PROBE_IMAGES is not JSON: {environ['PROBE_IMAGES'][:200]!r}") from None
    if (
        not isinstance(images, dict)
        or not images
        or not all(isinstance(k, str) and k and isinstance(v, str) and v for k, v in images.items())
    ):
        raise ConfigurationError("PROBE_IMAGES must be a non-empty JSON object of S3 key -> expected route")
    raw_timeout = environ.get("ANSWER_TIMEOUT_SECONDS", "").strip()
    try:
        timeout = int(raw_timeout) if raw_timeout else DEFAULT_ANSWER_TIMEOUT_SECONDS
    except ValueError:
        raise ConfigurationError(f"ANSWER_TIMEOUT_SECONDS={raw_timeout!r} is not an integer") from None
    return ProbeConfig(environ["STATE_MACHINE_ARN"], environ["PROBE_BUCKET"], images, timeout)


def check(client: Any, config: ProbeConfig, key: str, expected: str, run_id: str) -> ProbeCheck:
    """Run the workflow on one probe image and judge its answer."""
    try:
        outcome = run_sync(
            client,
            config.state_machine_arn,
            execution_name(f"probe-{run_id}", key.rsplit("/", 1)[-1].rsplit(".", 1)[0]),
            {"s3_bucket": config.bucket, "s3_key": key, "probe": True, "execution_name": f"probe-{run_id}"},
        )
    except WorkflowError as exc:
        name = type(exc).__name__
        return ProbeCheck(key, expected, None, "timed_out" if name == "AnswerTimedOut" else "not_started", str(exc))
    if outcome.status == "SUCCEEDED" and outcome.output:
        route = outcome.output.get("route")
        if route == expected:
            return ProbeCheck(key, expected, route, "ok", outcome.execution_arn)
        confidence = outcome.output.get("confidence")
        return ProbeCheck(
            key, expected, route, "wrong_route", f"{outcome.output.get('predicted_label')} at {confidence}"
        )
    if outcome.status == "TIMED_OUT":
        return ProbeCheck(key, expected, None, "timed_out", outcome.execution_arn)
    if outcome.error == "ImageNotFound":
        return ProbeCheck(key, expected, None, "image_missing", f"s3://{config.bucket}/{key}: {outcome.cause}")
    return ProbeCheck(key, expected, None, "execution_failed", f"{outcome.error}: {outcome.cause}")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config = load_config(os.environ)
    client = states_client(config.answer_timeout_seconds)
    run_id = context.aws_request_id[:8]
    checks = [check(client, config, key, expected, run_id) for key, expected in sorted(config.images.items())]
    failures = [c for c in checks if c.outcome != "ok"]
    metrics.add_metric(name="ProbeChecks", unit=MetricUnit.Count, value=len(checks))
    metrics.add_metric(name="ProbeFailures", unit=MetricUnit.Count, value=len(failures))
    for result in checks:
        log = logger.info if result.outcome == "ok" else logger.error
        log("probe checked", extra=asdict(result))
    return {"checks": [asdict(c) for c in checks], "failures": len(failures)}
