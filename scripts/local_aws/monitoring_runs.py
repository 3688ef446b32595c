"""Run a data-quality monitoring schedule now, locally, the way the Model Monitor analyzer runs it on AWS.

The job reads everything the schedule's job definition names: the endpoint's captured traffic of the run's
window, the record preprocessor at `RecordPreprocessorSourceUri` (downloaded from S3 and run as is), the baseline
`statistics.json`/`constraints.json`. It decides as the analyzer documents (monitoring/check.py: the documented
checks with the baseline's thresholds, nothing else), writes `constraint_violations.json` and `statistics.json`
where the analyzer would (`<output>/<endpoint>/<schedule>/<yyyy>/<mm>/<dd>/<hh>/`) and publishes the drift
metrics when `publish_cloudwatch_metrics` is Enabled.

The window: a one-time schedule (ScheduleExpression NOW) analyses DataAnalysisStartTime..DataAnalysisEndTime,
offsets from its start (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ScheduleConfig.html), of
any ISO 8601 duration (AWS's examples are whole hours; the page does not say whether shorter ones are honoured).
An execution of a recurring schedule, run here on demand (`run_schedule`), takes what was captured since the
schedule's previous execution (AWS runs it hourly on the previous hour's data). Captured files count by their
LastModified time. Its outcome is then readable the ways AWS documents:

- the processing job, in moto's SageMaker backend, so `DescribeProcessingJob` answers with its status,
  `ExitMessage`, `MonitoringScheduleArn` and `ProcessingOutputConfig`
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeProcessingJob.html);
- a monitoring execution on the schedule, for `ListMonitoringExecutions` and `DescribeMonitoringSchedule`'s
  `LastMonitoringExecutionSummary`, whose `MonitoringExecutionStatus` is `Completed` or
  `CompletedWithViolations` (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_MonitoringExecutionSummary.html,
  https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-interpreting-results.html);
- the "SageMaker Processing Job State Change" event, with only the fields of AWS's documented sample
  (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html#processing-job-state).
  That sample has no `ExitMessage`, `MonitoringScheduleArn` or `Environment`, so neither does this event: whoever
  needs the outcome asks DescribeProcessingJob or ListMonitoringExecutions, as on AWS.
"""

from __future__ import annotations

import importlib.util
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from moto.sagemaker.models import FakeProcessingJob

from monitoring.baseline import compute_statistics
from monitoring.check import (
    METRICS_NAMESPACE,
    UnsupportedConstraint,
    check,
    cloudwatch_metric_data,
    execution_status,
    exit_message,
    publish_metrics,
)

DETAIL_TYPE = "SageMaker Processing Job State Change"
# The detail fields of the documented sample event (automating-sagemaker-with-eventbridge.html, "SageMaker
# processing job state change"), in its order. The sample is a failed job; `FailureReason` is there because it
# failed. The page does not say which fields a job without a NetworkConfig (or a KMS key) carries: the event
# leaves out what the job does not have, except `ExperimentConfig`, which the sample shows empty.
EVENT_DETAIL_FIELDS = (
    "ProcessingInputs",
    "ProcessingOutputConfig",
    "ProcessingJobName",
    "ProcessingResources",
    "StoppingCondition",
    "AppSpecification",
    "NetworkConfig",
    "RoleArn",
    "ExperimentConfig",
    "ProcessingJobArn",
    "ProcessingJobStatus",
    "FailureReason",
    "ProcessingEndTime",
    "ProcessingStartTime",
    "LastModifiedTime",
    "CreationTime",
)
EVENT_TIMESTAMPS = ("ProcessingEndTime", "ProcessingStartTime", "LastModifiedTime", "CreationTime")
# The AppSpecification of a processing job (API_AppSpecification.html); a job definition's app specification
# also names the preprocessor and environment, which a processing job keeps elsewhere.
APP_SPECIFICATION_FIELDS = ("ImageUri", "ContainerEntrypoint", "ContainerArguments")


class MonitoringRunError(Exception):
    """The schedule cannot run: its job definition, endpoint, capture or baseline is missing."""


class MonitoringProcessingJob(FakeProcessingJob):
    """A processing job Model Monitor started for a schedule: moto's job plus what DescribeProcessingJob adds.

    moto's job has no ProcessingResources, Environment, ExitMessage, MonitoringScheduleArn or start/end times;
    `response_object` is the DescribeProcessingJob response syntax with the members this job has
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeProcessingJob.html#API_DescribeProcessingJob_ResponseSyntax).
    """

    def __init__(
        self,
        *,
        account_id: str,
        region_name: str,
        name: str,
        definition: Any,
        schedule_arn: str,
        inputs: list[dict[str, Any]],
        outputs: dict[str, Any],
        started: datetime,
        ended: datetime,
        status: str,
        message: str,
    ) -> None:
        app = definition.data_quality_app_specification
        super().__init__(
            app_specification={k: app[k] for k in APP_SPECIFICATION_FIELDS if k in app},
            experiment_config={},
            network_config=definition.network_config or None,
            processing_inputs=inputs,
            processing_job_name=name,
            processing_output_config=outputs,
            account_id=account_id,
            region_name=region_name,
            role_arn=definition.role_arn,
            tags=[],
            stopping_condition=definition.stopping_condition or None,
        )
        self.processing_resources = definition.job_resources
        # The job definition's variables; Model Monitor adds its container-contract ones too
        # (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-contract-inputs.html), which the
        # local analyzer does not read and this job therefore does not claim.
        self.environment = dict(app.get("Environment") or {})
        self.processing_job_status = status
        self.exit_message = message
        self.monitoring_schedule_arn = schedule_arn
        self.creation_time = self.processing_start_time = started
        self.processing_end_time = self.last_modified_time = ended

    @property
    def response_object(self) -> dict[str, Any]:  # type: ignore[override]
        response = {
            "ProcessingInputs": self.processing_inputs,
            "ProcessingOutputConfig": self.processing_output_config,
            "ProcessingJobName": self.processing_job_name,
            "ProcessingResources": self.processing_resources,
            "StoppingCondition": self.stopping_condition,
            "AppSpecification": self.app_specification,
            "Environment": self.environment,
            "NetworkConfig": self.network_config,
            "RoleArn": self.role_arn,
            "ExperimentConfig": self.experiment_config,
            "ProcessingJobArn": self.arn,
            "ProcessingJobStatus": self.processing_job_status,
            "ExitMessage": self.exit_message,
            "ProcessingEndTime": self.processing_end_time,
            "ProcessingStartTime": self.processing_start_time,
            "LastModifiedTime": self.last_modified_time,
            "CreationTime": self.creation_time,
            "MonitoringScheduleArn": self.monitoring_schedule_arn,
        }
        return {key: value for key, value in response.items() if value is not None}


def state_change_event(job: MonitoringProcessingJob) -> dict[str, Any]:
    """The PutEvents entry of the job's state change: source, detail type, resources and detail as documented."""
    described = job.response_object
    detail = {key: described[key] for key in EVENT_DETAIL_FIELDS if key in described}
    for key in EVENT_TIMESTAMPS:
        if isinstance(detail.get(key), datetime):
            # The sample's times are epoch milliseconds.
            detail[key] = int(detail[key].timestamp() * 1000)
    return {
        "Source": "aws.sagemaker",
        "DetailType": DETAIL_TYPE,
        "Resources": [job.arn],
        "Detail": json.dumps(detail),
    }


def _split(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def _read_json(s3: Any, uri: str) -> Any:
    bucket, key = _split(uri)
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        raise MonitoringRunError(f"{uri} does not exist") from None


def _load_preprocessor(s3: Any, uri: str, work_dir: Path) -> Any:
    bucket, key = _split(uri)
    path = work_dir / f"record_preprocessor_{uuid.uuid4().hex[:8]}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _capture_lines(
    s3: Any, capture_uri: str, endpoint: str, since: datetime | None, until: datetime | None = None
) -> list[str]:
    bucket, prefix = _split(capture_uri.rstrip("/") + f"/{endpoint}/")
    lines: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in sorted(page.get("Contents", []), key=lambda entry: entry["Key"]):
            if (since is None or item["LastModified"] > since) and (until is None or item["LastModified"] <= until):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
                lines += [line for line in body.splitlines() if line.strip()]
    return lines


def job_inputs(definition: Any, capture_uri: str, endpoint: str) -> list[dict[str, Any]]:
    """The job's ProcessingInputs: the endpoint's captured data, where the job definition's EndpointInput says.

    AWS does not document the inputs Model Monitor gives its jobs; the name is ours, the rest is the job
    definition's EndpointInput (API_EndpointInput.html: S3InputMode defaults to File, S3DataDistributionType to
    FullyReplicated).
    """
    endpoint_input = definition.data_quality_job_input.get("EndpointInput", {})
    return [
        {
            "InputName": "endpoint_input",
            "S3Input": {
                "S3Uri": f"{capture_uri.rstrip('/')}/{endpoint}",
                "LocalPath": endpoint_input.get("LocalPath", "/opt/ml/processing/input/endpoint"),
                "S3DataType": "S3Prefix",
                "S3InputMode": endpoint_input.get("S3InputMode", "File"),
                "S3DataDistributionType": endpoint_input.get("S3DataDistributionType", "FullyReplicated"),
            },
        }
    ]


def job_outputs(definition: Any, report_uri: str) -> dict[str, Any]:
    """The job's ProcessingOutputConfig: the job definition's output, at this execution's report folder."""
    config = definition.data_quality_job_output_config
    s3_output = config["MonitoringOutputs"][0]["S3Output"]
    outputs: dict[str, Any] = {
        "Outputs": [
            {
                # The output's name is not documented for monitoring jobs; this one is ours.
                "OutputName": "result",
                "S3Output": {
                    "S3Uri": report_uri,
                    "LocalPath": s3_output.get("LocalPath", "/opt/ml/processing/output"),
                    "S3UploadMode": s3_output.get("S3UploadMode", "EndOfJob"),
                },
            }
        ]
    }
    if config.get("KmsKeyId"):
        outputs["KmsKeyId"] = config["KmsKeyId"]
    return outputs


def record_execution(
    backend: Any,
    schedule: Any,
    definition: Any,
    *,
    endpoint: str,
    capture_uri: str,
    report_uri: str,
    violations: list[dict[str, Any]],
    started: datetime,
    job_name: str | None = None,
) -> MonitoringProcessingJob:
    """Register the finished job in moto's SageMaker backend and its monitoring execution on the schedule."""
    ended = max(datetime.now(UTC), started)
    job = MonitoringProcessingJob(
        account_id=backend.account_id,
        region_name=backend.region_name,
        # Model Monitor names its jobs itself; the format is not documented, this one is ours.
        name=job_name or f"model-monitoring-{started:%Y%m%d%H%M}-{uuid.uuid4().hex[:8]}",
        definition=definition,
        schedule_arn=schedule.arn,
        inputs=job_inputs(definition, capture_uri, endpoint),
        outputs=job_outputs(definition, report_uri),
        started=started,
        ended=ended,
        # A run that finds violations still completes: ProcessingJobStatus has no violations value
        # (InProgress | Completed | Failed | Stopping | Stopped); the execution status carries it.
        status="Completed",
        # The analyzer's wording; the API reference documents ExitMessage only as container metadata.
        message=exit_message(violations),
    )
    backend.processing_jobs[job.processing_job_name] = job
    # MonitoringExecutionSummary (API_MonitoringExecutionSummary.html). A schedule run on demand has no cron
    # slot; its ScheduledTime is when it started.
    schedule.executions.append(
        {
            "MonitoringScheduleName": schedule.name,
            "ScheduledTime": started,
            "CreationTime": started,
            "LastModifiedTime": ended,
            "MonitoringExecutionStatus": execution_status(violations),
            "ProcessingJobArn": job.arn,
            "EndpointName": endpoint,
            "MonitoringJobDefinitionName": definition.job_definition_name,
            "MonitoringType": schedule.monitoring_type,
        }
    )
    return job


def _client_as_role(ctx: Any, service: str, role_arn: str) -> Any:
    """A client holding the credentials SageMaker gets for the job's role (the operator's without an enforcer)."""
    iam = getattr(ctx, "iam", None)
    if iam is None:
        return ctx.client(service)
    from local_aws.iam import AccessDenied

    try:
        session = iam.cached_session(role_arn, "sagemaker.amazonaws.com", "SageMaker")
    except AccessDenied as denied:
        raise MonitoringRunError(f"the monitoring job cannot run as {role_arn}: {denied}") from None
    return ctx.client(
        service,
        aws_access_key_id=session.access_key_id,
        aws_secret_access_key=session.secret_access_key,
        aws_session_token=session.session_token,
    )


def _may_publish_metrics(ctx: Any, role_arn: str) -> None:
    """The analyzer publishes with the job's role; PutMetricData is authorized on the namespace
    (cloudwatch:namespace), which this run's metrics use (METRICS_NAMESPACE). Checked here rather than at the gate,
    which does not read CloudWatch's CBOR request bodies."""
    iam = getattr(ctx, "iam", None)
    if iam is None:
        return
    from local_aws.iam import AccessDenied
    from local_aws.iam_requests import Need

    need = Need("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": METRICS_NAMESPACE})
    try:
        iam.authorize(iam.cached_session(role_arn, "sagemaker.amazonaws.com", "SageMaker"), [need])
    except AccessDenied as denied:
        raise MonitoringRunError(f"the monitoring job may not publish its metrics: {denied}") from None


def run_schedule(
    ctx: Any, schedule_name: str, account: str | None = None, window: tuple[datetime, datetime] | None = None
) -> dict[str, Any]:
    """Execute one monitoring run of `schedule_name` (over `window`, else since its previous execution); returns
    the monitoring execution summary."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sagemaker.models import sagemaker_backends

    account = account or DEFAULT_ACCOUNT_ID
    schedule = ctx.monitoring_schedules.get(account, ctx.region, schedule_name)
    backend = sagemaker_backends[account][ctx.region]
    definition = backend.data_quality_job_definitions.get(schedule.config.get("MonitoringJobDefinitionName", ""))
    if definition is None:
        raise MonitoringRunError(f"schedule {schedule_name} names no existing data-quality job definition")
    endpoint = definition.data_quality_job_input.get("EndpointInput", {}).get("EndpointName")
    if endpoint not in backend.endpoints:
        raise MonitoringRunError(f"endpoint {endpoint} of schedule {schedule_name} does not exist")
    capture = backend.endpoint_configs[backend.endpoints[endpoint].endpoint_config_name].data_capture_config or {}
    if not capture.get("EnableCapture"):
        raise MonitoringRunError(f"endpoint {endpoint} does not capture data")

    # The job runs as the job definition's role: its reads and writes are checked against that role's policies
    # (local_aws.iam), as the processing job's are on AWS (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html).
    s3, started = _client_as_role(ctx, "s3", definition.role_arn), datetime.now(UTC)
    app = definition.data_quality_app_specification
    baseline = definition.data_quality_baseline_config
    statistics = _read_json(s3, baseline["StatisticsResource"]["S3Uri"])
    constraints = _read_json(s3, baseline["ConstraintsResource"]["S3Uri"])
    preprocessor = _load_preprocessor(s3, app["RecordPreprocessorSourceUri"], ctx.work_dir / "monitoring")
    if window is None:
        window = (schedule.executions[-1]["CreationTime"] if schedule.executions else None, None)
    lines = _capture_lines(s3, capture["DestinationS3Uri"], endpoint, *window)
    rows = [preprocessor.preprocess_handler(preprocessor.CapturedRecord.from_line(line)) for line in lines]
    try:
        violations = check(statistics, constraints, rows) if rows else []
    except UnsupportedConstraint as error:
        raise MonitoringRunError(f"the baseline's constraints.json: {error}") from None

    output_uri = definition.data_quality_job_output_config["MonitoringOutputs"][0]["S3Output"]["S3Uri"].rstrip("/")
    report_uri = f"{output_uri}/{endpoint}/{schedule_name}/{started:%Y/%m/%d/%H}"
    for name, document in (
        ("constraint_violations.json", {"violations": violations}),
        ("statistics.json", compute_statistics(rows)),
    ):
        bucket, key = _split(f"{report_uri}/{name}")
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document, indent=2).encode())
    if app.get("Environment", {}).get("publish_cloudwatch_metrics", "Enabled") == "Enabled" and rows:
        _may_publish_metrics(ctx, definition.role_arn)
        data = cloudwatch_metric_data(statistics, constraints, rows, endpoint, schedule_name)
        publish_metrics(ctx.client("cloudwatch"), data)

    job = record_execution(
        backend,
        schedule,
        definition,
        endpoint=endpoint,
        capture_uri=capture["DestinationS3Uri"],
        report_uri=report_uri,
        violations=violations,
        started=started,
    )
    # Only the terminal state change is sent: the page does not say whether a job's creation (InProgress)
    # sends one, and nothing here listens for it.
    ctx.client("events").put_events(Entries=[state_change_event(job)])
    return {
        **schedule.executions[-1],
        "ProcessingJobName": job.processing_job_name,
        "records": len(rows),
        "violations": violations,
        "report_s3_uri": report_uri,
    }
