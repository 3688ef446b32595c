"""Retrain guard: a monitoring execution found violations -> start the training pipeline, one run at a time.

EventBridge sends SageMaker "Processing Job State Change" events whose ExitMessage starts with
"CompletedWithViolations" (how Model Monitor reports a run that found violations). The guard starts the
pipeline state machine only when (1) the execution belongs to our schedule, (2) its
constraint_violations.json holds a violation worth retraining for (by default: baseline drift of a
content feature, not a format change such as JPEGs appearing) and (3) no pipeline execution is running.
The pipeline starts with the input of its last successful execution (or PIPELINE_INPUT) minus
`training.job_name`, so the state machine names a fresh training job, plus a `trigger` key naming the
violations. The execution name derives from the processing job, so a redelivered event cannot start a
second run.
Two different monitoring executions completing within the same second could both see "nothing running"; with
one hourly schedule that does not happen (reserved concurrency 1 on the function would close it entirely).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from shared.errors import ConfigurationError, InvalidEvent, WorkflowError

logger = Logger()
tracer = Tracer()
metrics = Metrics()

VIOLATIONS_PREFIX = "CompletedWithViolations"
DETAIL_TYPE = "SageMaker Processing Job State Change"
DEFAULT_RETRAIN_ON_CHECKS = "baseline_drift_check"
DEFAULT_IGNORED_FEATURES = "image_format,decoded,width,height,byte_size"
MAX_EXECUTION_NAME = 80


class ViolationsReportUnreadable(WorkflowError):
    """constraint_violations.json could not be read; the event is retried rather than guessed at."""


class PipelineStartFailed(WorkflowError):
    """Step Functions refused to list or start executions (permissions, throttling); retried."""


@dataclass(frozen=True)
class MonitoringExecution:
    """The fields of a Processing Job State Change event the guard relies on (the event's contract)."""

    processing_job_name: str
    status: str
    exit_message: str
    monitoring_schedule_arn: str | None
    report_s3_uri: str | None

    @classmethod
    def from_event(cls, event: Any) -> MonitoringExecution:
        if not isinstance(event, dict):
            raise InvalidEvent("event: expected an EventBridge event object")
        if event.get("detail-type") != DETAIL_TYPE:
            raise InvalidEvent(f"detail-type: expected {DETAIL_TYPE!r}, got {event.get('detail-type')!r}")
        detail = event.get("detail")
        if not isinstance(detail, dict):
            raise InvalidEvent("detail: missing or not an object")
        for field in ("ProcessingJobName", "ProcessingJobStatus"):
            if not isinstance(detail.get(field), str) or not detail[field]:
                raise InvalidEvent(f"detail.{field}: missing or not a string")
        output_config = detail.get("ProcessingOutputConfig") or {}
        outputs = (output_config.get("Outputs") or []) if isinstance(output_config, dict) else None
        if not isinstance(outputs, list) or not all(
            isinstance(o, dict) and isinstance(o.get("S3Output") or {}, dict) for o in outputs
        ):
            raise InvalidEvent("detail.ProcessingOutputConfig.Outputs: not a list of objects with an S3Output object")
        report = next((o["S3Output"].get("S3Uri") for o in outputs if o.get("S3Output")), None)
        schedule_arn = detail.get("MonitoringScheduleArn")
        for field, value in (
            ("ProcessingOutputConfig.Outputs[0].S3Output.S3Uri", report),
            ("MonitoringScheduleArn", schedule_arn),
        ):
            if value is not None and not isinstance(value, str):
                raise InvalidEvent(f"detail.{field}: not a string")
        try:
            urlparse(report or "")
        except ValueError as error:  # e.g. an unbalanced "[" reads as a malformed IPv6 host
            raise InvalidEvent(f"detail.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri: {error}") from None
        return cls(
            processing_job_name=detail["ProcessingJobName"],
            status=detail["ProcessingJobStatus"],
            exit_message=str(detail.get("ExitMessage") or ""),
            monitoring_schedule_arn=schedule_arn,
            report_s3_uri=report,
        )

    @property
    def has_violations(self) -> bool:
        return self.status == "Completed" and self.exit_message.startswith(VIOLATIONS_PREFIX)


@dataclass(frozen=True)
class GuardConfig:
    pipeline_arn: str
    schedule_name: str | None
    retrain_on_checks: frozenset[str]
    ignored_features: frozenset[str]
    pipeline_input: dict[str, Any] | None  # None: reuse the last successful execution's input

    @classmethod
    def from_env(cls) -> GuardConfig:
        arn = os.environ.get("PIPELINE_STATE_MACHINE_ARN", "")
        if not arn.startswith("arn:"):
            raise ConfigurationError("PIPELINE_STATE_MACHINE_ARN: missing or not an ARN")
        try:
            pipeline_input = json.loads(os.environ.get("PIPELINE_INPUT") or "{}")
        except ValueError as error:
            raise ConfigurationError(f"PIPELINE_INPUT: not JSON ({error})") from error
        if not isinstance(pipeline_input, dict):
            raise ConfigurationError("PIPELINE_INPUT: must be a JSON object")
        pipeline_input = pipeline_input or None
        return cls(
            pipeline_arn=arn,
            schedule_name=os.environ.get("MONITORING_SCHEDULE_NAME") or None,
            retrain_on_checks=_csv(os.environ.get("RETRAIN_ON_CHECKS", DEFAULT_RETRAIN_ON_CHECKS)),
            ignored_features=_csv(os.environ.get("RETRAIN_IGNORE_FEATURES", DEFAULT_IGNORED_FEATURES)),
            pipeline_input=pipeline_input,
        )


def _csv(value: str) -> frozenset[str]:
    return frozenset(item.strip() for item in value.split(",") if item.strip())


def execution_name(processing_job_name: str) -> str:
    """Deterministic Step Functions execution name (<= 80 chars of [A-Za-z0-9_-])."""
    return f"retrain-{re.sub(r'[^A-Za-z0-9_-]', '-', processing_job_name)}"[:MAX_EXECUTION_NAME]


def retrainable(violations: list[dict[str, Any]], config: GuardConfig) -> list[dict[str, Any]]:
    """Violations that retraining can fix: the configured check types, minus format-only features."""
    return [
        v
        for v in violations
        if v.get("constraint_check_type") in config.retrain_on_checks
        and v.get("feature_name") not in config.ignored_features
    ]


@tracer.capture_method
def read_violations(s3: Any, report_s3_uri: str) -> list[dict[str, Any]]:
    """constraint_violations.json of one monitoring execution."""
    parsed = urlparse(report_s3_uri)
    key = f"{parsed.path.strip('/')}/constraint_violations.json".lstrip("/")
    try:
        body = s3.get_object(Bucket=parsed.netloc, Key=key)["Body"].read()
        document = json.loads(body)
    except (ClientError, BotoCoreError, ValueError) as error:
        raise ViolationsReportUnreadable(f"s3://{parsed.netloc}/{key}: {error}") from error
    violations = document.get("violations") if isinstance(document, dict) else None
    if not isinstance(violations, list) or not all(isinstance(v, dict) for v in violations):
        raise ViolationsReportUnreadable(f"s3://{parsed.netloc}/{key}: no 'violations' list of objects")
    return violations


@tracer.capture_method
def pipeline_running(sfn: Any, pipeline_arn: str) -> bool:
    try:
        page = sfn.list_executions(stateMachineArn=pipeline_arn, statusFilter="RUNNING", maxResults=1)
    except (ClientError, BotoCoreError) as error:
        raise PipelineStartFailed(f"cannot list executions of {pipeline_arn}: {error}") from error
    return bool(page.get("executions"))


@tracer.capture_method
def last_successful_input(sfn: Any, pipeline_arn: str) -> dict[str, Any] | None:
    """Input of the newest SUCCEEDED pipeline execution: the settings a retrain repeats."""
    try:
        page = sfn.list_executions(stateMachineArn=pipeline_arn, statusFilter="SUCCEEDED", maxResults=1)
        if not page.get("executions"):
            return None
        described = sfn.describe_execution(executionArn=page["executions"][0]["executionArn"])
    except (ClientError, BotoCoreError) as error:
        raise PipelineStartFailed(f"cannot read the last successful run of {pipeline_arn}: {error}") from error
    try:
        document = json.loads(described.get("input") or "{}")
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def retrain_input(
    base: dict[str, Any], execution: MonitoringExecution, reasons: list[dict[str, Any]]
) -> dict[str, Any]:
    """The base input without its training job name (the pipeline then generates one) plus the trigger."""
    payload = json.loads(json.dumps(base))
    payload.pop("trigger", None)
    if isinstance(payload.get("training"), dict):
        payload["training"].pop("job_name", None)
    payload["trigger"] = {
        "source": "model-monitor",
        "processing_job": execution.processing_job_name,
        "exit_message": execution.exit_message,
        "violations": reasons,
    }
    return payload


@tracer.capture_method
def guard(execution: MonitoringExecution, config: GuardConfig, sfn: Any, s3: Any) -> dict[str, Any]:
    """Decide whether this monitoring execution starts a retrain, and start it; returns the decision."""
    decision: dict[str, Any] = {"processing_job": execution.processing_job_name, "started": False}
    if not execution.has_violations:
        return {**decision, "reason": "no_violations"}
    schedule_arn = execution.monitoring_schedule_arn
    if config.schedule_name and schedule_arn and not schedule_arn.endswith(f"/{config.schedule_name}"):
        return {**decision, "reason": "other_schedule"}

    reasons: list[dict[str, Any]] = []
    if config.retrain_on_checks:
        if not execution.report_s3_uri:
            raise InvalidEvent("detail.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri: missing")
        reasons = retrainable(read_violations(s3, execution.report_s3_uri), config)
        if not reasons:
            return {**decision, "reason": "no_retrainable_violations"}

    if pipeline_running(sfn, config.pipeline_arn):
        return {**decision, "reason": "pipeline_running"}

    base = config.pipeline_input or last_successful_input(sfn, config.pipeline_arn)
    if base is None:
        return {**decision, "reason": "no_previous_run"}
    name = execution_name(execution.processing_job_name)
    payload = retrain_input(base, execution, reasons)
    try:
        started = sfn.start_execution(stateMachineArn=config.pipeline_arn, name=name, input=json.dumps(payload))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return {**decision, "reason": "duplicate_event", "execution_name": name}
        raise PipelineStartFailed(f"cannot start {config.pipeline_arn}: {error}") from error
    except BotoCoreError as error:
        raise PipelineStartFailed(f"cannot start {config.pipeline_arn}: {error}") from error
    return {**decision, "started": True, "reason": "violations", "execution_arn": started["executionArn"]}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    execution = MonitoringExecution.from_event(event)
    config = GuardConfig.from_env()
    decision = guard(execution, config, boto3.client("stepfunctions"), boto3.client("s3"))
    metrics.add_metric(
        name="RetrainStarted" if decision["started"] else "RetrainSkipped", unit=MetricUnit.Count, value=1
    )
    logger.info("retrain decision", extra=decision)
    return decision
