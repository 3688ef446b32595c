"""Run a monitoring check now, with either engine, on AWS or on the embedded AWS (the same calls on both).

- scheduled_check: EventBridge Scheduler has no "run now", but its target is a Lambda function, so this reads the
  schedule (GetSchedule: target ARN and input) and invokes the target with that input, marked as a run started by
  hand; the function reports under `<schedule>-now-<time>` and answers what it found.
- model_monitor: SageMaker has no "start this schedule now" call (StartMonitoringSchedule resumes a stopped
  schedule). What it offers is a one-time schedule: CreateMonitoringSchedule with ScheduleExpression `NOW`, which
  runs the monitoring job once, immediately, over the window DataAnalysisStartTime..DataAnalysisEndTime (both
  required with NOW, as ISO 8601 offsets from the start; at most 24 hours apart)
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ScheduleConfig.html). This creates
  `<schedule>-now-<time>` with the schedule's own job definition, waits for its execution and reads its report.
  The docs give hour offsets as examples (-PT1H) and do not say whether shorter ones are honoured; the embedded
  AWS honours any. The one-time schedule stays (the retrain guard reads its execution); delete it when done.

On the embedded AWS the hourly schedules never fire (moto stores them, nothing runs them), so "run now" is how
the demo and the tests run either engine.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from monitoring.baseline import split_s3_uri
from monitoring.scheduled_check import run_now_name

ENGINES = ("model_monitor", "scheduled_check")
TERMINAL = ("Completed", "CompletedWithViolations", "Failed", "Stopped")
ISO_DURATION = re.compile(r"P(?=\d|T\d)(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")
MAX_WINDOW_SECONDS = 24 * 3600


class RunNowError(Exception):
    """The check could not be started or did not complete; the message says which step and why."""


def window_seconds(duration: str) -> int:
    """Seconds of an ISO 8601 duration such as PT1H, PT90M, PT45S or P1D (what DataAnalysisStartTime offsets)."""
    match = ISO_DURATION.fullmatch(duration)
    if not match:
        raise RunNowError(f"window {duration!r} is not an ISO 8601 duration such as PT1H or PT30M")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if not 0 < total <= MAX_WINDOW_SECONDS:
        raise RunNowError(f"window {duration!r} must be more than 0 and at most 24 hours")
    return total


def run_scheduled_check(scheduler: Any, lambda_client: Any, schedule_name: str, group: str = "default") -> dict:
    """Invoke the schedule's target with its input, as a run started by hand; the function's answer."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        target = scheduler.get_schedule(Name=schedule_name, GroupName=group)["Target"]
    except (ClientError, BotoCoreError) as error:
        raise RunNowError(f"cannot read EventBridge Scheduler schedule {group}/{schedule_name}: {error}") from None
    try:
        payload = json.loads(target.get("Input") or "{}")
    except ValueError:
        raise RunNowError(f"schedule {schedule_name}'s target input is not JSON") from None
    payload = {**payload, "scheduled_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "run_now": True}
    try:
        answer = lambda_client.invoke(FunctionName=target["Arn"], Payload=json.dumps(payload).encode())
    except (ClientError, BotoCoreError) as error:
        raise RunNowError(f"cannot invoke {target['Arn']}: {error}") from None
    body = answer["Payload"].read()
    if answer.get("FunctionError"):
        raise RunNowError(f"{target['Arn']} failed: {body.decode('utf-8', 'replace')[:500]}")
    return json.loads(body)


def run_model_monitor(
    sagemaker: Any,
    s3: Any,
    schedule_name: str,
    window: str = "PT1H",
    until: str = "PT0H",
    timeout_seconds: float = 3600,
    poll_seconds: float = 30,
    progress: Callable[[str], None] = lambda line: None,
) -> dict:
    """Create `<schedule>-now-<time>` (ScheduleExpression NOW) over [now - window, now - until], wait for its
    execution, read its report."""
    from botocore.exceptions import BotoCoreError, ClientError

    if until != "PT0H" and window_seconds(until) >= window_seconds(window):
        raise RunNowError(f"the window's end (now - {until}) must come after its start (now - {window})")
    window_seconds(window)
    try:
        described = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=schedule_name)
    except (ClientError, BotoCoreError) as error:
        raise RunNowError(f"cannot describe monitoring schedule {schedule_name}: {error}") from None
    config = described["MonitoringScheduleConfig"]
    if not config.get("MonitoringJobDefinitionName"):
        raise RunNowError(f"schedule {schedule_name} names no job definition (an inline one is not supported)")
    name = run_now_name(schedule_name, datetime.now(UTC))
    try:
        sagemaker.create_monitoring_schedule(
            MonitoringScheduleName=name,
            MonitoringScheduleConfig={
                "ScheduleConfig": {
                    "ScheduleExpression": "NOW",
                    "DataAnalysisStartTime": f"-{window}",
                    "DataAnalysisEndTime": f"-{until}",
                },
                "MonitoringJobDefinitionName": config["MonitoringJobDefinitionName"],
                "MonitoringType": config.get("MonitoringType", "DataQuality"),
            },
        )
    except (ClientError, BotoCoreError) as error:
        raise RunNowError(f"cannot create the one-time schedule {name}: {error}") from None
    progress(f"created one-time monitoring schedule {name} (ScheduleExpression NOW, -{window} to -{until})")
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            listed = sagemaker.list_monitoring_executions(MonitoringScheduleName=name)
            summaries = listed["MonitoringExecutionSummaries"]
        except (ClientError, BotoCoreError) as error:
            raise RunNowError(f"cannot list the executions of {name}: {error}") from None
        done = [s for s in summaries if s["MonitoringExecutionStatus"] in TERMINAL]
        if done:
            break
        if time.monotonic() > deadline:
            raise RunNowError(f"{name} has no completed execution after {timeout_seconds:.0f} s")
        time.sleep(poll_seconds)
    execution = done[0]
    status = execution["MonitoringExecutionStatus"]
    if status not in ("Completed", "CompletedWithViolations"):
        raise RunNowError(f"{name}'s execution ended {status}: {execution.get('FailureReason', 'no reason given')}")
    job_name = execution["ProcessingJobArn"].rsplit("/", 1)[-1]
    job = sagemaker.describe_processing_job(ProcessingJobName=job_name)
    report = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"].rstrip("/")
    violations = _read_report(s3, f"{report}/constraint_violations.json").get("violations", [])
    records = _read_report(s3, f"{report}/statistics.json").get("dataset", {}).get("item_count")
    return {
        "engine": "model_monitor",
        "schedule_name": schedule_name,
        "report_schedule_name": name,
        "processing_job": job_name,
        "status": status,
        "records": records,
        "violations": violations,
        "report_s3_uri": report,
    }


def _read_report(s3: Any, uri: str) -> dict:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = split_s3_uri(uri)
    try:
        document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ClientError, BotoCoreError, ValueError) as error:
        raise RunNowError(f"cannot read {uri}: {error}") from None
    return document if isinstance(document, dict) else {}


def run_now(engine: str, schedule_name: str, client: Callable[[str], Any], **options: Any) -> dict:
    """Run `engine`'s check of `schedule_name` now; `client(service)` makes the boto3 clients."""
    if engine == "scheduled_check":
        return run_scheduled_check(client("scheduler"), client("lambda"), schedule_name)
    if engine == "model_monitor":
        return run_model_monitor(client("sagemaker"), client("s3"), schedule_name, **options)
    raise RunNowError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
