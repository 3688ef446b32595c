"""The scheduled check's retrain trigger: one EventBridge event per completed check, its shape defined here once.

Model Monitor's runs announce themselves with SageMaker's documented "SageMaker Processing Job State Change"
event; the scheduled check is this project's own code, so its event is this project's own contract:

    {"source": "<name_prefix>.monitoring", "detail-type": "Drift Check Completed",
     "detail": {"version": "1", "engine": "scheduled_check", "execution_id": "...", "schedule_name": "...",
                "report_schedule_name": "...", "endpoint_name": "...", "status": "CompletedWithViolations",
                "records": 240, "violations": 7, "report_s3_uri": "s3://.../2025/01/01/13",
                "window_start": "2025-01-01T12:00:00Z", "window_end": "2025-01-01T13:00:00Z"}}

`status` is Model Monitor's MonitoringExecutionStatus of a completed run (Completed | CompletedWithViolations), so
the guard reads both engines' outcomes with one vocabulary; `report_s3_uri` is the folder that holds the run's
constraint_violations.json and statistics.json; `report_schedule_name` is the schedule segment of that folder
(the schedule itself, or `<schedule>-now-<time>` for a run started with "run now"). The check Lambda puts it on
the account's default event bus; the monitoring module's retrain rule matches source, detail-type and status.

Standard library only: the retrain guard's zip carries this file as it is.
"""

import json
import re
from typing import Any

DETAIL_TYPE = "Drift Check Completed"
VERSION = "1"
ENGINE = "scheduled_check"
STATUSES = ("Completed", "CompletedWithViolations")
# Names as SageMaker and EventBridge Scheduler spell schedules: letters, digits, hyphens (and _ . for Scheduler).
NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")
S3_URI = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")


class InvalidCheckEvent(ValueError):
    """The event is not a Drift Check Completed event of this contract; the message names the field."""


class CheckCompleted:
    """One completed scheduled check, as its event carries it."""

    def __init__(
        self,
        execution_id: str,
        schedule_name: str,
        report_schedule_name: str,
        endpoint_name: str,
        status: str,
        records: int,
        violations: int,
        report_s3_uri: str,
        window_start: str | None,
        window_end: str,
    ) -> None:
        self.execution_id = execution_id
        self.schedule_name = schedule_name
        self.report_schedule_name = report_schedule_name
        self.endpoint_name = endpoint_name
        self.status = status
        self.records = records
        self.violations = violations
        self.report_s3_uri = report_s3_uri
        self.window_start = window_start
        self.window_end = window_end

    @property
    def has_violations(self) -> bool:
        return self.status == "CompletedWithViolations"

    def detail(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "engine": ENGINE,
            "execution_id": self.execution_id,
            "schedule_name": self.schedule_name,
            "report_schedule_name": self.report_schedule_name,
            "endpoint_name": self.endpoint_name,
            "status": self.status,
            "records": self.records,
            "violations": self.violations,
            "report_s3_uri": self.report_s3_uri,
            "window_start": self.window_start,
            "window_end": self.window_end,
        }

    def entry(self, source: str, event_bus_name: str = "default") -> dict[str, Any]:
        """The PutEvents entry."""
        return {
            "Source": source,
            "DetailType": DETAIL_TYPE,
            "Detail": json.dumps(self.detail()),
            "EventBusName": event_bus_name,
        }

    @classmethod
    def from_event(cls, event: Any, source: str | None = None) -> "CheckCompleted":
        """Validate an EventBridge event against the contract; InvalidCheckEvent names what is wrong."""
        if not isinstance(event, dict):
            raise InvalidCheckEvent("event: expected an EventBridge event object")
        if event.get("detail-type") != DETAIL_TYPE:
            raise InvalidCheckEvent(
                "detail-type: expected {!r}, got {!r}".format(DETAIL_TYPE, event.get("detail-type"))
            )
        if source is not None and event.get("source") != source:
            raise InvalidCheckEvent("source: expected {!r}, got {!r}".format(source, event.get("source")))
        detail = event.get("detail")
        if not isinstance(detail, dict):
            raise InvalidCheckEvent("detail: missing or not an object")
        if detail.get("version") != VERSION or detail.get("engine") != ENGINE:
            raise InvalidCheckEvent(f"detail.version/engine: expected {VERSION!r}/{ENGINE!r}")
        for field in ("execution_id", "schedule_name", "report_schedule_name", "endpoint_name"):
            if not isinstance(detail.get(field), str) or not NAME.fullmatch(detail[field]):
                raise InvalidCheckEvent(f"detail.{field}: missing or not a name")
        if detail.get("status") not in STATUSES:
            raise InvalidCheckEvent("detail.status: expected one of {}".format(", ".join(STATUSES)))
        for field in ("records", "violations"):
            value = detail.get(field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidCheckEvent(f"detail.{field}: expected a count")
        if not isinstance(detail.get("report_s3_uri"), str) or not S3_URI.fullmatch(detail["report_s3_uri"]):
            raise InvalidCheckEvent("detail.report_s3_uri: missing or not an s3:// URI")
        if not isinstance(detail.get("window_end"), str) or not TIMESTAMP.fullmatch(detail["window_end"]):
            raise InvalidCheckEvent("detail.window_end: missing or not a UTC timestamp")
        start = detail.get("window_start")
        if start is not None and (not isinstance(start, str) or not TIMESTAMP.fullmatch(start)):
            raise InvalidCheckEvent("detail.window_start: not a UTC timestamp")
        return cls(
            execution_id=detail["execution_id"],
            schedule_name=detail["schedule_name"],
            report_schedule_name=detail["report_schedule_name"],
            endpoint_name=detail["endpoint_name"],
            status=detail["status"],
            records=detail["records"],
            violations=detail["violations"],
            report_s3_uri=detail["report_s3_uri"],
            window_start=start,
            window_end=detail["window_end"],
        )
