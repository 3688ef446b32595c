"""Retrain guard: a monitoring run found violations -> start the training pipeline, one run at a time.

Either engine's runs reach it through an EventBridge rule of the monitoring module, and the guard reads each
engine's trigger by its own contract; what follows (the report, the pipeline) is the same for both.

**scheduled_check**: the check Lambda's "Drift Check Completed" event (monitoring/check_event.py, this project's
own contract, validated by name): its schedule, MonitoringExecutionStatus-style status and report folder. It
comes from our own function under an IAM-pinned source, so its status is taken as given; the violations are
still read from the report.

**model_monitor**: EventBridge sends the SageMaker "Processing Job State Change" event of every completed
processing job. Its documented detail names the job and its ProcessingJobStatus, not whether a monitoring
schedule started it or what the run found
(https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html#processing-job-state),
so the guard asks SageMaker, the ways AWS documents:

- DescribeProcessingJob: MonitoringScheduleArn (the schedule that started the job; absent for other jobs), the
  ExitMessage and the report folder, ProcessingOutputConfig.Outputs[].S3Output.S3Uri
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeProcessingJob.html);
- ListMonitoringExecutions of that schedule: the execution whose ProcessingJobArn is this job and its
  MonitoringExecutionStatus, Completed or CompletedWithViolations
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListMonitoringExecutions.html).

A run of our schedule is one of `MONITORING_SCHEDULE_NAME` or of a one-time schedule "run now" made for it
(`<schedule>-now-<time>`, monitoring/run_now.py). The guard starts the pipeline state machine only when (1) the
run belongs to our schedule, (2) it completed with violations, (3) its constraint_violations.json holds a
violation worth retraining for (by default: baseline drift of a content feature, not a format change such as
JPEGs appearing), (4) no pipeline execution is running and (5), with `RETRAIN_MIN_NEW_LABELS` above 0, people
have given at least that many training labels since the deployed model was trained (below, the decision is
`waiting_for_labels` and the RetrainWaitingForLabels metric counts it). The pipeline starts with the input of its last
successful execution (or PIPELINE_INPUT) minus `training.job_name`, so the state machine names a fresh training
job, plus a `trigger` key naming the violations. The execution name derives from the processing job (or the
check's execution id), so a redelivered event cannot start a second run.

"New labels" are review records (shared.review_records) under `REVIEW_RECORDS_PREFIX` of `REVIEW_RECORDS_BUCKET`
with a vehicle label, not sent by the synthetic probe, one per image, decided after the start of the pipeline's
newest SUCCEEDED execution: the run that deployed the serving model, whose dataset was fixed when it started
(ListExecutions' startDate, https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html).
A rollback to an older model does not move that moment back, so after one the guard counts fewer labels than the
model has not seen, and waits longer rather than retraining too early. No successful run yet: every record counts.
Two different monitoring runs completing within the same second could both see "nothing running"; with one hourly
schedule that does not happen (reserved concurrency 1 on the function would close it entirely).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from shared.errors import ConfigurationError, InvalidEvent, WorkflowError
from shared.review_records import DEFAULT_REVIEW_RECORDS_PREFIX, ReviewRecordsUnreadable, count_new_labels

from monitoring.check_event import DETAIL_TYPE as CHECK_DETAIL_TYPE
from monitoring.check_event import CheckCompleted, InvalidCheckEvent

logger = Logger()
tracer = Tracer()
metrics = Metrics()

DETAIL_TYPE = "SageMaker Processing Job State Change"
# MonitoringExecutionStatus of a run that found violations (API_MonitoringExecutionSummary.html).
VIOLATIONS_STATUS = "CompletedWithViolations"
# ProcessingJobName's pattern in the API reference (API_DescribeProcessingJob.html, request parameters).
PROCESSING_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
# Executions are listed newest first; an event reaches the guard within about an hour of its job ending (the
# rule's target stops retrying after an hour), so its execution is among the newest few. 500 is three weeks of
# hourly runs.
MAX_EXECUTIONS_SEARCHED = 500
# Decisions on a run of our schedule that found violations but did not retrain: the RetrainSkipped metric.
WAITING_FOR_LABELS = "waiting_for_labels"
SKIPPED_RETRAINS = frozenset(
    {"no_retrainable_violations", "pipeline_running", "no_previous_run", "duplicate_event", WAITING_FOR_LABELS}
)
MAX_MIN_NEW_LABELS = 100_000  # the Terraform variable's validation says the same
# A one-time schedule that "run now" creates for a schedule is named <schedule><RUN_NOW_INFIX><yyyymmddhhmmss>.
RUN_NOW_INFIX = "-now-"
DEFAULT_RETRAIN_ON_CHECKS = "baseline_drift_check"
DEFAULT_IGNORED_FEATURES = "image_format,width,height,byte_size"
MAX_EXECUTION_NAME = 80


class ViolationsReportUnreadable(WorkflowError):
    """constraint_violations.json could not be read; the event is retried rather than guessed at."""


class PipelineStartFailed(WorkflowError):
    """Step Functions refused to list or start executions (permissions, throttling); retried."""


class MonitoringOutcomeUnreadable(WorkflowError):
    """SageMaker refused DescribeProcessingJob or ListMonitoringExecutions (permissions, throttling); retried."""


class LabelsUnreadable(WorkflowError):
    """The review records could not be listed or read (permissions, throttling); retried rather than guessed at."""


class MonitoringExecutionNotFound(WorkflowError):
    """The schedule lists no execution for this processing job (yet); retried rather than guessed at."""


@dataclass(frozen=True)
class ProcessingJobStateChange:
    """The fields of the documented Processing Job State Change event the guard relies on (its contract)."""

    processing_job_name: str
    status: str

    @classmethod
    def from_event(cls, event: Any) -> ProcessingJobStateChange:
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
        if not PROCESSING_JOB_NAME.fullmatch(detail["ProcessingJobName"]):
            raise InvalidEvent("detail.ProcessingJobName: not a processing job name")
        return cls(processing_job_name=detail["ProcessingJobName"], status=detail["ProcessingJobStatus"])


@dataclass(frozen=True)
class MonitoringExecution:
    """What SageMaker says about the job: its schedule, the execution's outcome and where the report is."""

    processing_job_name: str
    processing_job_arn: str
    schedule_name: str
    status: str  # MonitoringExecutionStatus
    exit_message: str
    report_s3_uri: str | None

    @property
    def has_violations(self) -> bool:
        return self.status == VIOLATIONS_STATUS


@dataclass(frozen=True)
class GuardConfig:
    pipeline_arn: str
    schedule_name: str | None
    retrain_on_checks: frozenset[str]
    ignored_features: frozenset[str]
    pipeline_input: dict[str, Any] | None  # None: reuse the last successful execution's input
    check_event_source: str | None = None  # the source the scheduled check's events must carry
    min_new_labels: int = 0  # 0: do not wait for labels
    review_records_bucket: str | None = None
    review_records_prefix: str = DEFAULT_REVIEW_RECORDS_PREFIX

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
        raw_minimum = os.environ.get("RETRAIN_MIN_NEW_LABELS") or "0"
        try:
            min_new_labels = int(raw_minimum)
        except ValueError:
            min_new_labels = -1
        if not 0 <= min_new_labels <= MAX_MIN_NEW_LABELS:
            raise ConfigurationError(
                f"RETRAIN_MIN_NEW_LABELS: expected a whole number from 0 to {MAX_MIN_NEW_LABELS}, got {raw_minimum!r}"
            )
        review_bucket = os.environ.get("REVIEW_RECORDS_BUCKET") or None
        if min_new_labels and not review_bucket:
            raise ConfigurationError("REVIEW_RECORDS_BUCKET: needed when RETRAIN_MIN_NEW_LABELS is above 0")
        return cls(
            pipeline_arn=arn,
            schedule_name=os.environ.get("MONITORING_SCHEDULE_NAME") or None,
            retrain_on_checks=_csv(os.environ.get("RETRAIN_ON_CHECKS", DEFAULT_RETRAIN_ON_CHECKS)),
            ignored_features=_csv(os.environ.get("RETRAIN_IGNORE_FEATURES", DEFAULT_IGNORED_FEATURES)),
            pipeline_input=pipeline_input,
            check_event_source=os.environ.get("CHECK_EVENT_SOURCE") or None,
            min_new_labels=min_new_labels,
            review_records_bucket=review_bucket,
            review_records_prefix=(os.environ.get("REVIEW_RECORDS_PREFIX") or DEFAULT_REVIEW_RECORDS_PREFIX).strip("/"),
        )

    def owns(self, schedule_name: str) -> bool:
        """Whether a run of `schedule_name` is a run of our schedule (itself, or one of its run-now schedules)."""
        if not self.schedule_name:
            return True
        ours, theirs = self.schedule_name.lower(), schedule_name.lower()
        return theirs == ours or theirs.startswith(ours + RUN_NOW_INFIX)


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


def _report_uri(described: dict[str, Any]) -> str | None:
    """The first S3 output of the job: where Model Monitor writes the execution's reports."""
    outputs = (described.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    return next((o["S3Output"]["S3Uri"] for o in outputs if (o.get("S3Output") or {}).get("S3Uri")), None)


@tracer.capture_method
def describe_job(sagemaker: Any, processing_job_name: str) -> dict[str, Any]:
    """DescribeProcessingJob of the job the event names."""
    try:
        return sagemaker.describe_processing_job(ProcessingJobName=processing_job_name)
    except (ClientError, BotoCoreError) as error:
        raise MonitoringOutcomeUnreadable(f"cannot describe processing job {processing_job_name}: {error}") from error


@tracer.capture_method
def execution_of(sagemaker: Any, schedule_name: str, processing_job_arn: str) -> dict[str, Any]:
    """The schedule's MonitoringExecutionSummary whose ProcessingJobArn is this job (newest executions first)."""
    pages = sagemaker.get_paginator("list_monitoring_executions").paginate(
        MonitoringScheduleName=schedule_name,
        SortBy="CreationTime",
        SortOrder="Descending",
        PaginationConfig={"MaxItems": MAX_EXECUTIONS_SEARCHED, "PageSize": 100},
    )
    try:
        for page in pages:
            for summary in page.get("MonitoringExecutionSummaries", []):
                if str(summary.get("ProcessingJobArn", "")).lower() == processing_job_arn.lower():
                    return summary
    except (ClientError, BotoCoreError) as error:
        raise MonitoringOutcomeUnreadable(f"cannot list the executions of {schedule_name}: {error}") from error
    raise MonitoringExecutionNotFound(
        f"monitoring schedule {schedule_name} lists no execution for {processing_job_arn} "
        f"among its newest {MAX_EXECUTIONS_SEARCHED}"
    )


@tracer.capture_method
def read_violations(s3: Any, report_s3_uri: str) -> list[dict[str, Any]]:
    """constraint_violations.json of one monitoring execution."""
    try:
        parsed = urlparse(report_s3_uri)
    except ValueError as error:  # e.g. an unbalanced "[" reads as a malformed IPv6 host
        raise ViolationsReportUnreadable(f"{report_s3_uri}: {error}") from error
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


@tracer.capture_method
def deployed_model_started(sfn: Any, pipeline_arn: str) -> datetime | None:
    """startDate of the newest SUCCEEDED pipeline execution: labels after it are ones the model has not seen."""
    try:
        page = sfn.list_executions(stateMachineArn=pipeline_arn, statusFilter="SUCCEEDED", maxResults=1)
    except (ClientError, BotoCoreError) as error:
        raise PipelineStartFailed(f"cannot list executions of {pipeline_arn}: {error}") from error
    executions = page.get("executions") or []
    started = executions[0].get("startDate") if executions else None
    return started if isinstance(started, datetime) else None


@tracer.capture_method
def labels_to_learn_from(config: GuardConfig, sfn: Any, s3: Any) -> dict[str, Any]:
    """How many training labels people gave since the deployed model was trained (counted up to the minimum)."""
    since = deployed_model_started(sfn, config.pipeline_arn)
    try:
        count = count_new_labels(
            s3, config.review_records_bucket, config.review_records_prefix, since, enough=config.min_new_labels
        )
    except ReviewRecordsUnreadable as error:
        raise LabelsUnreadable(str(error)) from error
    if count.unreadable:
        logger.warning("review records that are not ReviewRecords were not counted", extra={"keys": count.unreadable})
    return {**count.as_dict(), "min_new_labels": config.min_new_labels}


def retrain_input(base: dict[str, Any], trigger: dict[str, Any], reasons: list[dict[str, Any]]) -> dict[str, Any]:
    """The base input without its training job name (the pipeline then generates one) plus the trigger."""
    payload = json.loads(json.dumps(base))
    payload.pop("trigger", None)
    if isinstance(payload.get("training"), dict):
        payload["training"].pop("job_name", None)
    payload["trigger"] = {**trigger, "violations": reasons}
    return payload


def trigger_of(event: Any) -> ProcessingJobStateChange | CheckCompleted:
    """The event as one engine's trigger; InvalidEvent names what does not match either contract."""
    detail_type = event.get("detail-type") if isinstance(event, dict) else None
    if detail_type == CHECK_DETAIL_TYPE:
        try:
            return CheckCompleted.from_event(event)
        except InvalidCheckEvent as error:
            raise InvalidEvent(str(error)) from None
    if detail_type == DETAIL_TYPE or not isinstance(event, dict):
        return ProcessingJobStateChange.from_event(event)
    raise InvalidEvent(f"detail-type: expected {DETAIL_TYPE!r} or {CHECK_DETAIL_TYPE!r}, got {detail_type!r}")


def start_retrain(
    decision: dict[str, Any],
    run_id: str,
    trigger: dict[str, Any],
    report_s3_uri: str | None,
    config: GuardConfig,
    sfn: Any,
    s3: Any,
) -> dict[str, Any]:
    """Both engines' last steps: retrainable violations in the report, nothing running, then start the pipeline."""
    reasons: list[dict[str, Any]] = []
    if config.retrain_on_checks:
        if not report_s3_uri:
            raise ViolationsReportUnreadable(f"monitoring run {run_id} names no report folder")
        reasons = retrainable(read_violations(s3, report_s3_uri), config)
        if not reasons:
            return {**decision, "reason": "no_retrainable_violations"}

    if pipeline_running(sfn, config.pipeline_arn):
        return {**decision, "reason": "pipeline_running"}

    if config.min_new_labels:
        labels = labels_to_learn_from(config, sfn, s3)
        decision = {**decision, **labels}
        if labels["new_labels"] < config.min_new_labels:
            return {**decision, "reason": WAITING_FOR_LABELS}
        trigger = {**trigger, "new_labels": labels["new_labels"], "labels_since": labels["labels_since"]}

    base = config.pipeline_input or last_successful_input(sfn, config.pipeline_arn)
    if base is None:
        return {**decision, "reason": "no_previous_run"}
    name = execution_name(run_id)
    payload = retrain_input(base, trigger, reasons)
    try:
        started = sfn.start_execution(stateMachineArn=config.pipeline_arn, name=name, input=json.dumps(payload))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return {**decision, "reason": "duplicate_event", "execution_name": name}
        raise PipelineStartFailed(f"cannot start {config.pipeline_arn}: {error}") from error
    except BotoCoreError as error:
        raise PipelineStartFailed(f"cannot start {config.pipeline_arn}: {error}") from error
    return {**decision, "started": True, "reason": "violations", "execution_arn": started["executionArn"]}


@tracer.capture_method
def guard_check(check: CheckCompleted, config: GuardConfig, sfn: Any, s3: Any) -> dict[str, Any]:
    """Decide whether this scheduled check starts a retrain, and start it."""
    decision: dict[str, Any] = {
        "engine": "scheduled_check",
        "execution_id": check.execution_id,
        "started": False,
        "monitoring_execution_status": check.status,
    }
    if not config.owns(check.schedule_name):
        return {**decision, "reason": "other_schedule", "monitoring_schedule": check.schedule_name}
    if not check.has_violations:
        return {**decision, "reason": "no_violations"}
    trigger = {
        "source": "scheduled-check",
        "monitoring_schedule": check.report_schedule_name,
        "execution_id": check.execution_id,
        "monitoring_execution_status": check.status,
        "records": check.records,
    }
    return start_retrain(decision, check.execution_id, trigger, check.report_s3_uri, config, sfn, s3)


@tracer.capture_method
def guard(change: ProcessingJobStateChange, config: GuardConfig, sfn: Any, s3: Any, sagemaker: Any) -> dict[str, Any]:
    """Decide whether this processing job's monitoring execution starts a retrain, and start it."""
    decision: dict[str, Any] = {"processing_job": change.processing_job_name, "started": False}
    if change.status != "Completed":
        return {**decision, "reason": "not_completed"}
    described = describe_job(sagemaker, change.processing_job_name)
    schedule_arn = described.get("MonitoringScheduleArn")
    if not schedule_arn:
        return {**decision, "reason": "not_a_monitoring_job"}
    schedule_name = schedule_arn.rsplit("/", 1)[-1]
    if not config.owns(schedule_name):
        return {**decision, "reason": "other_schedule", "monitoring_schedule": schedule_name}
    summary = execution_of(sagemaker, schedule_name, described["ProcessingJobArn"])
    execution = MonitoringExecution(
        processing_job_name=change.processing_job_name,
        processing_job_arn=described["ProcessingJobArn"],
        schedule_name=schedule_name,
        status=summary["MonitoringExecutionStatus"],
        exit_message=described.get("ExitMessage", ""),
        report_s3_uri=_report_uri(described),
    )
    decision["monitoring_execution_status"] = execution.status
    if not execution.has_violations:
        return {**decision, "reason": "no_violations"}
    trigger = {
        "source": "model-monitor",
        "monitoring_schedule": execution.schedule_name,
        "processing_job": execution.processing_job_name,
        "monitoring_execution_status": execution.status,
        "exit_message": execution.exit_message,
    }
    return start_retrain(decision, execution.processing_job_name, trigger, execution.report_s3_uri, config, sfn, s3)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics  # with no metric (not a violating run of ours) Powertools only warns
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    trigger = trigger_of(event)
    config = GuardConfig.from_env()
    if isinstance(trigger, CheckCompleted):
        if config.check_event_source and event.get("source") != config.check_event_source:
            raise InvalidEvent(f"source: expected {config.check_event_source!r}, got {event.get('source')!r}")
        decision = guard_check(trigger, config, boto3.client("stepfunctions"), boto3.client("s3"))
    else:
        sfn, s3, sagemaker = (boto3.client(service) for service in ("stepfunctions", "s3", "sagemaker"))
        decision = guard(trigger, config, sfn, s3, sagemaker)
    # The dashboard counts retrains started and skipped (running, duplicate, not retrainable). The model_monitor
    # rule sends every completed processing job, so a job that is not a run of our schedule with violations is
    # neither.
    if decision["started"]:
        metrics.add_metric(name="RetrainStarted", unit=MetricUnit.Count, value=1)
    elif decision["reason"] in SKIPPED_RETRAINS:
        metrics.add_metric(name="RetrainSkipped", unit=MetricUnit.Count, value=1)
    if decision.get("reason") == WAITING_FOR_LABELS:
        metrics.add_metric(name="RetrainWaitingForLabels", unit=MetricUnit.Count, value=1)
    logger.info("retrain decision", extra=decision)
    return decision
