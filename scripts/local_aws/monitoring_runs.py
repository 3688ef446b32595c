"""Run a data-quality monitoring schedule now, locally, the way the Model Monitor analyzer runs it on AWS.

The job reads everything the schedule's job definition names: the endpoint's captured traffic since the
schedule's previous execution, the record preprocessor at `RecordPreprocessorSourceUri` (downloaded from S3 and
run as is), the baseline `statistics.json`/`constraints.json`. It writes `constraint_violations.json` where the
analyzer would (`<output>/<endpoint>/<schedule>/<yyyy>/<mm>/<dd>/<hh>/`), publishes the drift metrics when
`publish_cloudwatch_metrics` is Enabled, records a monitoring execution on the schedule and sends the
"SageMaker Processing Job State Change" event that the retrain rule listens to.
"""

from __future__ import annotations

import importlib.util
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from training.monitoring.baseline import check, cloudwatch_metric_data, exit_message, publish_metrics


class MonitoringRunError(Exception):
    """The schedule cannot run: its job definition, endpoint, capture or baseline is missing."""


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


def _capture_lines(s3: Any, capture_uri: str, endpoint: str, since: datetime | None) -> list[str]:
    bucket, prefix = _split(capture_uri.rstrip("/") + f"/{endpoint}/")
    lines: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in sorted(page.get("Contents", []), key=lambda entry: entry["Key"]):
            if since is None or item["LastModified"] > since:
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
                lines += [line for line in body.splitlines() if line.strip()]
    return lines


def run_schedule(ctx: Any, schedule_name: str, account: str | None = None) -> dict[str, Any]:
    """Execute one monitoring run of `schedule_name`; returns the monitoring execution summary."""
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

    s3, started = ctx.client("s3"), datetime.now(UTC)
    app = definition.data_quality_app_specification
    baseline = definition.data_quality_baseline_config
    statistics = _read_json(s3, baseline["StatisticsResource"]["S3Uri"])
    constraints = _read_json(s3, baseline["ConstraintsResource"]["S3Uri"])
    preprocessor = _load_preprocessor(s3, app["RecordPreprocessorSourceUri"], ctx.work_dir / "monitoring")
    previous = schedule.executions[-1]["CreationTime"] if schedule.executions else None
    lines = _capture_lines(s3, capture["DestinationS3Uri"], endpoint, previous)
    rows = [preprocessor.preprocess_handler(preprocessor.CapturedRecord.from_line(line)) for line in lines]
    violations = check(statistics, constraints, rows) if rows else []

    job_name = f"model-monitoring-{started:%Y%m%d%H%M}-{uuid.uuid4().hex[:8]}"
    output_uri = definition.data_quality_job_output_config["MonitoringOutputs"][0]["S3Output"]["S3Uri"].rstrip("/")
    report_uri = f"{output_uri}/{endpoint}/{schedule_name}/{started:%Y/%m/%d/%H}"
    bucket, key = _split(f"{report_uri}/constraint_violations.json")
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps({"violations": violations}, indent=2).encode())
    if app.get("Environment", {}).get("publish_cloudwatch_metrics", "Enabled") == "Enabled" and rows:
        publish_metrics(ctx.client("cloudwatch"), cloudwatch_metric_data(statistics, rows, endpoint, schedule_name))

    status = "CompletedWithViolations" if violations else "Completed"
    processing_job_arn = f"arn:aws:sagemaker:{ctx.region}:{account}:processing-job/{job_name}"
    summary = {
        "MonitoringScheduleName": schedule_name,
        "ScheduledTime": started,
        "CreationTime": started,
        "LastModifiedTime": datetime.now(UTC),
        "MonitoringExecutionStatus": status,
        "ProcessingJobArn": processing_job_arn,
        "EndpointName": endpoint,
        "MonitoringType": "DataQuality",
    }
    schedule.executions.append(summary)
    detail = {
        "ProcessingJobName": job_name,
        "ProcessingJobArn": processing_job_arn,
        "ProcessingJobStatus": "Completed",
        "ExitMessage": exit_message(violations),
        "MonitoringScheduleArn": schedule.arn,
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "result",
                    "S3Output": {
                        "S3Uri": report_uri,
                        "LocalPath": "/opt/ml/processing/resultdata",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "Environment": app.get("Environment", {}),
    }
    ctx.client("events").put_events(
        Entries=[
            {
                "Source": "aws.sagemaker",
                "Resources": [processing_job_arn],
                "DetailType": "SageMaker Processing Job State Change",
                "Detail": json.dumps(detail),
            }
        ]
    )
    return {**summary, "records": len(rows), "violations": violations, "report_s3_uri": report_uri}
