"""SageMaker monitoring schedules for the embedded AWS (moto has the job definitions but not the schedules).

Create/Describe/List/Update/Delete/Start/Stop MonitoringSchedule and the tags on a schedule's ARN, enough for the
AWS provider's `aws_sagemaker_monitoring_schedule`, and ListMonitoringExecutions over the executions that
`monitoring_runs.py` records when it runs a schedule's job locally. DescribeMonitoringSchedule carries the newest
as `LastMonitoringExecutionSummary`
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeMonitoringSchedule.html).

Recurring (cron) schedules never fire here: `monitoring_runs.run_schedule` runs one on demand. A one-time
schedule, ScheduleExpression `NOW`, runs "the monitoring job immediately, one time, without recurring", over
DataAnalysisStartTime..DataAnalysisEndTime, which NOW requires
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ScheduleConfig.html): its execution starts in a
thread as soon as it is created (AWS may take up to 20 minutes) and a run that fails is listed as Failed with
its reason.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

LOG = logging.getLogger(__name__)
# An ISO 8601 duration offset, as ScheduleConfig's DataAnalysisStartTime/EndTime take it (pattern ^.?P.*).
OFFSET = re.compile(r"([+-]?)P(?=\d|T\d)(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


def parse_offset(text: str) -> timedelta:
    """"-PT1H" -> -1 hour; ValueError for anything else."""
    match = OFFSET.fullmatch(text or "")
    if not match:
        raise ValueError(f"{text!r} is not an ISO 8601 duration offset such as -PT1H")
    sign, days, hours, minutes, seconds = match.groups()
    delta = timedelta(
        days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0), seconds=int(seconds or 0)
    )
    return -delta if sign == "-" else delta


def one_time_window(config: dict, now: datetime) -> tuple[datetime, datetime]:
    """The analysis window of a NOW schedule: both offsets are required, the end at most 24 hours after the start."""
    from moto.sagemaker.exceptions import ValidationError

    schedule = config.get("ScheduleConfig") or {}
    try:
        start = now + parse_offset(schedule["DataAnalysisStartTime"])
        end = now + parse_offset(schedule["DataAnalysisEndTime"])
    except (KeyError, ValueError) as error:
        raise ValidationError(
            f"ScheduleExpression NOW requires DataAnalysisStartTime and DataAnalysisEndTime offsets: {error}"
        ) from None
    if not start < end <= start + timedelta(hours=24):
        raise ValidationError("DataAnalysisEndTime must follow DataAnalysisStartTime by at most 24 hours")
    return start, end


@dataclass
class MonitoringSchedule:
    name: str
    arn: str
    config: dict
    tags: list[dict[str, str]]
    status: str = "Scheduled"
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))
    executions: list[dict] = field(default_factory=list)

    @property
    def monitoring_type(self) -> str:
        return self.config.get("MonitoringType", "DataQuality")

    def endpoint_name(self, job_definitions: dict) -> str | None:
        definition = job_definitions.get(self.config.get("MonitoringJobDefinitionName", ""))
        if definition is not None:
            return definition.data_quality_job_input.get("EndpointInput", {}).get("EndpointName")
        return (
            self.config.get("MonitoringJobDefinition", {})
            .get("MonitoringInputs", [{}])[0]
            .get("EndpointInput", {})
            .get("EndpointName")
        )

    def describe(self, job_definitions: dict) -> dict[str, Any]:
        description = {
            "MonitoringScheduleArn": self.arn,
            "MonitoringScheduleName": self.name,
            "MonitoringScheduleStatus": self.status,
            "MonitoringType": self.monitoring_type,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "MonitoringScheduleConfig": self.config,
        }
        endpoint = self.endpoint_name(job_definitions)
        if endpoint:
            description["EndpointName"] = endpoint
        if self.executions:
            description["LastMonitoringExecutionSummary"] = self.executions[-1]
        return description


class MonitoringScheduleStore:
    """Schedules per (account, region)."""

    def __init__(self) -> None:
        self._schedules: dict[tuple[str, str, str], MonitoringSchedule] = {}
        self._lock = threading.Lock()

    def get(self, account: str, region: str, name: str) -> MonitoringSchedule:
        from moto.sagemaker.exceptions import ResourceNotFound

        schedule = self._schedules.get((account, region, name))
        if schedule is None:
            raise ResourceNotFound(f"Monitoring schedule {name} not found.")
        return schedule

    def create(self, account: str, region: str, name: str, config: dict, tags: list) -> MonitoringSchedule:
        from moto.sagemaker.exceptions import ResourceInUseException

        with self._lock:
            if (account, region, name) in self._schedules:
                raise ResourceInUseException(f"Monitoring schedule {name} already exists.")
            arn = f"arn:aws:sagemaker:{region}:{account}:monitoring-schedule/{name}"
            schedule = MonitoringSchedule(name, arn, config, list(tags or []))
            self._schedules[(account, region, name)] = schedule
            return schedule

    def delete(self, account: str, region: str, name: str) -> None:
        self.get(account, region, name)
        with self._lock:
            del self._schedules[(account, region, name)]

    def list(self, account: str, region: str) -> list[MonitoringSchedule]:
        return [s for (a, r, _), s in sorted(self._schedules.items()) if (a, r) == (account, region)]

    def by_arn(self, arn: str) -> MonitoringSchedule | None:
        return next((s for s in self._schedules.values() if s.arn == arn), None)


# ListMonitoringExecutions request members that filter (API_ListMonitoringExecutions.html, Request Parameters).
EXECUTION_FILTERS = (
    "MonitoringScheduleName",
    "EndpointName",
    "MonitoringJobDefinitionName",
    "MonitoringTypeEquals",
    "StatusEquals",
    "ScheduledTimeBefore",
    "ScheduledTimeAfter",
    "CreationTimeBefore",
    "CreationTimeAfter",
    "LastModifiedTimeBefore",
    "LastModifiedTimeAfter",
)
EQUAL_FILTERS = {
    "MonitoringScheduleName": "MonitoringScheduleName",
    "EndpointName": "EndpointName",
    "MonitoringJobDefinitionName": "MonitoringJobDefinitionName",
    "MonitoringTypeEquals": "MonitoringType",
    "StatusEquals": "MonitoringExecutionStatus",
}


def _timestamp(value: Any) -> datetime:
    """A request timestamp, as moto parsed it (a datetime, naive meaning UTC) or as sent (epoch seconds, ISO 8601)."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def execution_matches(execution: dict[str, Any], params: dict[str, Any]) -> bool:
    """Whether a MonitoringExecutionSummary passes the request's filters.

    The API reference describes LastModifiedTimeAfter as "modified before" and LastModifiedTimeBefore as
    "modified after"; the names and the other pairs say the opposite, which is what this follows.
    """
    for param, field_name in EQUAL_FILTERS.items():
        if params.get(param) and execution.get(field_name) != params[param]:
            return False
    for field_name in ("ScheduledTime", "CreationTime", "LastModifiedTime"):
        before, after = params.get(f"{field_name}Before"), params.get(f"{field_name}After")
        if before is not None and not execution[field_name] < _timestamp(before):
            return False
        if after is not None and not execution[field_name] > _timestamp(after):
            return False
    return True


def install(ctx: Any) -> None:
    from moto.core.responses import ActionResult, EmptyResult
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    store = ctx.monitoring_schedules

    def job_definitions(response: Any) -> dict:
        return response.sagemaker_backend.data_quality_job_definitions

    def create(self: Any) -> ActionResult:
        config = self._get_param("MonitoringScheduleConfig") or {}
        now = datetime.now(UTC)
        one_time = (config.get("ScheduleConfig") or {}).get("ScheduleExpression") == "NOW"
        window = one_time_window(config, now) if one_time else None
        name, tags = self._get_param("MonitoringScheduleName"), self._get_param("Tags")
        schedule = store.create(self.current_account, self.region, name, config, tags)
        if window is not None:
            threading.Thread(
                target=run_once, args=(schedule, self.current_account, window), name=schedule.name, daemon=True
            ).start()
        return ActionResult({"MonitoringScheduleArn": schedule.arn})

    def run_once(schedule: MonitoringSchedule, account: str, window: tuple[datetime, datetime]) -> None:
        from local_aws.monitoring_runs import run_schedule

        started = datetime.now(UTC)
        try:
            run_schedule(ctx, schedule.name, account, window=window)
        except Exception as error:  # the execution fails, with its reason, as a job that cannot run does
            LOG.warning("one-time monitoring schedule %s failed: %s", schedule.name, error)
            schedule.executions.append(
                {
                    "MonitoringScheduleName": schedule.name,
                    "ScheduledTime": started,
                    "CreationTime": started,
                    "LastModifiedTime": datetime.now(UTC),
                    "MonitoringExecutionStatus": "Failed",
                    "FailureReason": f"{type(error).__name__}: {error}"[:1024],
                    "MonitoringType": schedule.monitoring_type,
                }
            )

    def describe(self: Any) -> ActionResult:
        schedule = store.get(self.current_account, self.region, self._get_param("MonitoringScheduleName"))
        return ActionResult(schedule.describe(job_definitions(self)))

    def update(self: Any) -> ActionResult:
        schedule = store.get(self.current_account, self.region, self._get_param("MonitoringScheduleName"))
        schedule.config = self._get_param("MonitoringScheduleConfig")
        schedule.modified = datetime.now(UTC)
        return ActionResult({"MonitoringScheduleArn": schedule.arn})

    def delete(self: Any) -> EmptyResult:
        store.delete(self.current_account, self.region, self._get_param("MonitoringScheduleName"))
        return EmptyResult()

    def set_status(status: str):
        def handler(self: Any) -> EmptyResult:
            store.get(self.current_account, self.region, self._get_param("MonitoringScheduleName")).status = status
            return EmptyResult()

        return handler

    def list_schedules(self: Any) -> ActionResult:
        endpoint = self._get_param("EndpointName")
        summaries = []
        for schedule in store.list(self.current_account, self.region):
            described = schedule.describe(job_definitions(self))
            if endpoint and described.get("EndpointName") != endpoint:
                continue
            summaries.append(
                {
                    key: described[key]
                    for key in (
                        "MonitoringScheduleName",
                        "MonitoringScheduleArn",
                        "CreationTime",
                        "LastModifiedTime",
                        "MonitoringScheduleStatus",
                        "MonitoringType",
                    )
                    if key in described
                }
                | ({"EndpointName": described["EndpointName"]} if "EndpointName" in described else {})
            )
        return ActionResult({"MonitoringScheduleSummaries": summaries})

    def list_executions(self: Any) -> ActionResult:
        # ListMonitoringExecutions: every documented filter, sorted by SortBy (default CreationTime) in SortOrder
        # (default Descending), MaxResults a page (default 10), NextToken to go on
        # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListMonitoringExecutions.html).
        # MonitoringScheduleName is a filter like the others; the page does not say that an unknown name is an
        # error, so it lists nothing.
        params = {key: self._get_param(key) for key in EXECUTION_FILTERS}
        executions = [
            e
            for s in store.list(self.current_account, self.region)
            for e in s.executions
            if execution_matches(e, params)
        ]
        sort_key = {"ScheduledTime": "ScheduledTime", "Status": "MonitoringExecutionStatus"}.get(
            self._get_param("SortBy") or "CreationTime", "CreationTime"
        )
        executions.sort(
            key=lambda e: e[sort_key], reverse=(self._get_param("SortOrder") or "Descending") == "Descending"
        )
        start = int(self._get_param("NextToken") or 0)
        end = start + int(self._get_param("MaxResults") or 10)
        page = {"MonitoringExecutionSummaries": executions[start:end]}
        if end < len(executions):
            page["NextToken"] = str(end)
        return ActionResult(page)

    moto_resource_from_arn = SageMakerModelBackend._get_resource_from_arn

    def resource_from_arn(self: Any, arn: str) -> Any:
        schedule = store.by_arn(arn) if ":monitoring-schedule/" in arn else None
        return schedule if schedule is not None else moto_resource_from_arn(self, arn)

    SageMakerResponse.create_monitoring_schedule = create
    SageMakerResponse.describe_monitoring_schedule = describe
    SageMakerResponse.update_monitoring_schedule = update
    SageMakerResponse.delete_monitoring_schedule = delete
    SageMakerResponse.start_monitoring_schedule = set_status("Scheduled")
    SageMakerResponse.stop_monitoring_schedule = set_status("Stopped")
    SageMakerResponse.list_monitoring_schedules = list_schedules
    SageMakerResponse.list_monitoring_executions = list_executions
    SageMakerModelBackend._get_resource_from_arn = resource_from_arn
