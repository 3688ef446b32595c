"""scheduled_check: the drift check EventBridge Scheduler starts every hour (the `scheduled_check` engine).

In: the schedule's input `{"scheduled_time": "<aws.scheduler.scheduled-time>"}`, or, from `python -m monitoring
run-now`, the same with `"run_now": true` (the run then reports under `<schedule>-now-<time>`).
It reads the endpoint's captures since the previous run, checks them against the baseline with Model Monitor's
documented checks, writes constraint_violations.json and statistics.json where Model Monitor would, publishes
the same drift metrics and puts the Drift Check Completed event (the retrain trigger) on the event bus
(monitoring/scheduled_check.py, monitoring/check_event.py).

Out: the run's summary (`engine`, `execution_id`, `status`, `records`, `violations`, `report_s3_uri`, ...).
Env: ENDPOINT_NAME, SCHEDULE_NAME, CAPTURE_S3_URI, BASELINE_S3_URI, REPORTS_S3_URI, EVENT_SOURCE,
EVENT_BUS_NAME (default "default"), PUBLISH_CLOUDWATCH_METRICS (Enabled), MAX_WINDOW_HOURS (24), MAX_RECORDS
(200000), CLASS_LABELS, GROUND_TRUTH_S3_URI (optional: reviewed labels, for the model-quality metrics),
CONFIDENCE_THRESHOLD (optional: Terraform's override of the model's threshold).
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from shared.errors import ConfigurationError, InvalidEvent, WorkflowError

from monitoring import scheduled_check as engine

logger = Logger()
tracer = Tracer()
metrics = Metrics()


class BaselineUnreadable(WorkflowError):
    """The baseline files are missing or not a baseline: the pipeline has not written one yet."""


class CaptureUnreadable(WorkflowError):
    """The capture (or ground-truth) prefix cannot be listed or a file read; the run is retried."""


class ReportNotWritten(WorkflowError):
    """The report, the drift metrics or the run's state could not be written; the run is retried."""


class CheckEventNotSent(WorkflowError):
    """EventBridge refused the Drift Check Completed event; the run is retried."""


ERRORS: dict[type[Exception], type[WorkflowError]] = {
    engine.CheckConfigurationError: ConfigurationError,
    engine.BaselineUnreadable: BaselineUnreadable,
    engine.CaptureUnreadable: CaptureUnreadable,
    engine.ReportNotWritten: ReportNotWritten,
    engine.EventNotSent: CheckEventNotSent,
}


def parse_request(event: Any) -> bool:
    """Whether this run was started by hand (run-now); InvalidEvent for anything but the schedule's input."""
    if not isinstance(event, dict):
        raise InvalidEvent("event: expected the schedule's input object")
    scheduled_time = event.get("scheduled_time")
    if scheduled_time is not None and not isinstance(scheduled_time, str):
        raise InvalidEvent("scheduled_time: expected a timestamp string")
    run_now = event.get("run_now", False)
    if not isinstance(run_now, bool):
        raise InvalidEvent("run_now: expected true or false")
    return run_now


@tracer.capture_method
def run(run_now: bool) -> dict[str, Any]:
    try:
        config = engine.CheckConfig.from_env()
        clients = engine.Clients(boto3.client("s3"), boto3.client("cloudwatch"), boto3.client("events"))
        return engine.run_check(clients, config, run_now=run_now).summary()
    except tuple(ERRORS) as error:
        raise ERRORS[type(error)](str(error)) from error


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    summary = run(parse_request(event))
    metrics.add_metric(name="DriftCheckRecords", unit=MetricUnit.Count, value=summary["records"])
    metrics.add_metric(name="DriftCheckViolations", unit=MetricUnit.Count, value=len(summary["violations"]))
    # Model quality from reviewers' labels collected in the window: monitoring/model_quality.py.
    quality = summary.get("model_quality") or {}
    if "LabelledPredictions" in quality:
        metrics.add_metric(name="LabelledPredictions", unit=MetricUnit.Count, value=quality["LabelledPredictions"])
    if "ServedAccuracy" in quality:
        metrics.add_metric(name="ServedAccuracy", unit=MetricUnit.NoUnit, value=quality["ServedAccuracy"])
    if "AutoRoutePrecision" in quality:
        metrics.add_metric(name="AutoRoutePrecision", unit=MetricUnit.NoUnit, value=quality["AutoRoutePrecision"])
    logger.info("drift check completed", extra={k: v for k, v in summary.items() if k != "violations"})
    return summary
