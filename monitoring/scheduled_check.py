"""The scheduled check: the monitoring engine every account can run (EventBridge Scheduler -> a Lambda function).

Each run reads the endpoint's data capture written since the previous run (at most `max_window` back), turns
every record into feature rows with the record preprocessor Model Monitor runs, checks them against the baseline
with `monitoring.check` (Model Monitor's documented checks), and then does what a Model Monitor execution does,
in the same places and names, so the dashboard, the alarms and the retrain guard need not know which engine ran:

- writes `constraint_violations.json` and `statistics.json` to `<reports>/<endpoint>/<schedule>/yyyy/mm/dd/hh/`
  (a run started with "run now" uses `<schedule>-now-<yyyymmddhhmmss>` as its schedule segment, as a one-time
  Model Monitor schedule does);
- publishes the drift metrics to `aws/sagemaker/Endpoints/data-metrics` (dimensions Endpoint, MonitoringSchedule);
- announces the outcome with the Drift Check Completed event (`monitoring.check_event`), the retrain trigger;
- records where it stopped (`<reports>/<endpoint>/<schedule>/last-run.json`), which the next run starts from.

Data capture writes `<capture>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html; "the delivery of
capture data to Amazon S3 can require a couple of minutes"); a run lists only the hour folders of its window (and
the hour before, for files delivered after their hour turned) and keeps the files whose LastModified falls in
the window. S3 lists LastModified to the second, so a window starts at the whole second its predecessor ended
in, and the files of that second the predecessor already read (named in last-run.json) are left out: no file is
read twice or skipped. A file still being uploaded when its window ended, with a LastModified before that end,
would be missed; capture files are small single PUTs.

When ground-truth labels are configured (`ground_truth_s3_uri`), the run also computes model quality
(`monitoring.model_quality`) from the labels collected in its window (the review console writes them), matched
with the predictions captured in that window or up to `ground_truth_lookback` (default 24 h) before it: people
label an image minutes to hours after the courier was routed. SageMaker's own model-quality jobs meet the same
delay with the StartTimeOffset/EndTimeOffset of their job input
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-schedule.html).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from monitoring import check as checks
from monitoring.baseline import compute_statistics, split_s3_uri
from monitoring.check_event import CheckCompleted
from monitoring.model_quality import (
    GroundTruthUnreadable,
    Prediction,
    Quality,
    capture_id,
    ground_truth_labels,
    quality,
)
from monitoring.record_preprocessor import (
    CapturedRecord,
    answer_rows,
    class_labels,
    record_rows,
    response_payload,
)

DEFAULT_MAX_WINDOW_HOURS = 24
DEFAULT_MAX_RECORDS = 200_000
DEFAULT_GROUND_TRUTH_LOOKBACK_HOURS = 24
STATE_FILE = "last-run.json"


class CheckConfigurationError(Exception):
    """The function's configuration (environment) is missing or malformed; nothing was read."""


class BaselineUnreadable(Exception):
    """statistics.json or constraints.json cannot be read: no baseline yet, or no permission."""


class CaptureUnreadable(Exception):
    """The capture prefix cannot be listed or a capture file read (permissions, a line that is not JSON)."""


class ReportNotWritten(Exception):
    """The report, the metrics or the run's state could not be written; the run is retried as a whole."""


class EventNotSent(Exception):
    """EventBridge refused the Drift Check Completed event (the report is written; the run is retried)."""


@dataclass(frozen=True)
class CheckConfig:
    endpoint_name: str
    schedule_name: str
    capture_s3_uri: str
    baseline_s3_uri: str
    reports_s3_uri: str
    event_source: str
    event_bus_name: str = "default"
    publish_metrics: bool = True
    max_window: timedelta = timedelta(hours=DEFAULT_MAX_WINDOW_HOURS)
    max_records: int = DEFAULT_MAX_RECORDS
    ground_truth_s3_uri: str | None = None
    confidence_threshold: float | None = None  # Terraform's override of the model's own threshold
    ground_truth_lookback: timedelta = timedelta(hours=DEFAULT_GROUND_TRUTH_LOOKBACK_HOURS)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CheckConfig:
        env = os.environ if environ is None else environ
        missing = [
            name
            for name in ("ENDPOINT_NAME", "SCHEDULE_NAME", "CAPTURE_S3_URI", "BASELINE_S3_URI", "REPORTS_S3_URI")
            if not env.get(name)
        ]
        missing += [] if env.get("EVENT_SOURCE") else ["EVENT_SOURCE"]
        if missing:
            raise CheckConfigurationError(f"missing environment variables: {', '.join(missing)}")
        for name in ("CAPTURE_S3_URI", "BASELINE_S3_URI", "REPORTS_S3_URI", "GROUND_TRUTH_S3_URI"):
            if env.get(name) and not env[name].startswith("s3://"):
                raise CheckConfigurationError(f"{name}={env[name]!r} is not an s3:// URI")
        try:
            hours = float(env.get("MAX_WINDOW_HOURS", DEFAULT_MAX_WINDOW_HOURS))
            records = int(env.get("MAX_RECORDS", DEFAULT_MAX_RECORDS))
            threshold = float(env["CONFIDENCE_THRESHOLD"]) if env.get("CONFIDENCE_THRESHOLD") else None
            lookback = float(env.get("GROUND_TRUTH_LOOKBACK_HOURS", DEFAULT_GROUND_TRUTH_LOOKBACK_HOURS))
        except ValueError as error:
            raise CheckConfigurationError(
                f"MAX_WINDOW_HOURS, MAX_RECORDS, CONFIDENCE_THRESHOLD or GROUND_TRUTH_LOOKBACK_HOURS: {error}"
            ) from None
        if not 0 < hours <= 24 * 7 or records < 1:
            raise CheckConfigurationError("MAX_WINDOW_HOURS must be in (0, 168] and MAX_RECORDS positive")
        if not 0 <= lookback <= 24 * 7:
            raise CheckConfigurationError("GROUND_TRUTH_LOOKBACK_HOURS must be in [0, 168]")
        return cls(
            endpoint_name=env["ENDPOINT_NAME"],
            schedule_name=env["SCHEDULE_NAME"],
            capture_s3_uri=env["CAPTURE_S3_URI"].rstrip("/"),
            baseline_s3_uri=env["BASELINE_S3_URI"].rstrip("/"),
            reports_s3_uri=env["REPORTS_S3_URI"].rstrip("/"),
            event_source=env["EVENT_SOURCE"],
            event_bus_name=env.get("EVENT_BUS_NAME") or "default",
            publish_metrics=env.get("PUBLISH_CLOUDWATCH_METRICS", "Enabled") == "Enabled",
            max_window=timedelta(hours=hours),
            max_records=records,
            ground_truth_s3_uri=(env.get("GROUND_TRUTH_S3_URI") or "").rstrip("/") or None,
            confidence_threshold=threshold,
            ground_truth_lookback=timedelta(hours=lookback),
        )


@dataclass
class Clients:
    s3: Any
    cloudwatch: Any
    events: Any


@dataclass
class CheckResult:
    """What one run found and where it wrote it (the handler's answer, and what "run now" prints)."""

    completed: CheckCompleted
    violations: list[dict[str, str]]
    records_skipped: int = 0
    quality: Quality | None = None
    metrics_published: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "engine": "scheduled_check",
            **self.completed.detail(),
            "records_skipped": self.records_skipped,
            "metrics_published": self.metrics_published,
            "violations": self.violations,
            "model_quality": self.quality.metrics() if self.quality else None,
            **self.extra,
        }


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def run_now_name(schedule_name: str, moment: datetime) -> str:
    """The schedule segment of a run started by hand: `<schedule>-now-<yyyymmddhhmmss>` (UTC)."""
    return f"{schedule_name}-now-{moment.astimezone(UTC):%Y%m%d%H%M%S}"


# --------------------------------------------------------------------------------------------------- S3


def _read_json(s3: Any, uri: str, error: type[Exception]) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = split_s3_uri(uri)
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ClientError, BotoCoreError, ValueError) as failure:
        raise error(f"{uri}: {failure}") from None


def _hours(start: datetime, end: datetime) -> Iterator[datetime]:
    hour = (start - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    while hour <= end:
        yield hour
        hour += timedelta(hours=1)


def capture_keys(
    s3: Any, capture_uri: str, endpoint: str, start: datetime, end: datetime
) -> list[tuple[datetime, str]]:
    """(LastModified, key) of the capture files of `endpoint` in [start's second, end], oldest first."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = split_s3_uri(f"{capture_uri}/{endpoint}")
    first = start.replace(microsecond=0)
    found: list[tuple[datetime, str]] = []
    try:
        variants = [
            p["Prefix"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/", Delimiter="/")
            for p in page.get("CommonPrefixes", [])
        ]
        for variant in variants:
            for hour in _hours(start, end):
                pages = s3.get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=f"{variant}{hour:%Y/%m/%d/%H}/"
                )
                for page in pages:
                    for item in page.get("Contents", []):
                        if first <= item["LastModified"] <= end:
                            found.append((item["LastModified"], item["Key"]))
    except (ClientError, BotoCoreError) as error:
        raise CaptureUnreadable(f"cannot list s3://{bucket}/{prefix}/: {error}") from None
    return sorted(found)


def capture_records(s3: Any, bucket: str, keys: list[str], limit: int) -> tuple[list[CapturedRecord], int]:
    """The capture files' records (shadow-variant records skipped), at most `limit`; and how many were left."""
    from botocore.exceptions import BotoCoreError, ClientError

    records: list[CapturedRecord] = []
    skipped = 0
    for key in keys:
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
            for number, line in enumerate(body.iter_lines(), 1):
                if not line.strip():
                    continue
                if len(records) >= limit:
                    skipped += 1
                    continue
                try:
                    record = CapturedRecord.from_line(line)
                except ValueError as error:
                    where = f"s3://{bucket}/{key} line {number}"
                    raise CaptureUnreadable(f"{where} is not a capture record: {error}") from None
                if record.event_metadata.invocation_source != "ShadowExperiment":
                    records.append(record)
        except (ClientError, BotoCoreError) as error:
            raise CaptureUnreadable(f"cannot read s3://{bucket}/{key}: {error}") from None
    return records, skipped


def _put_json(s3: Any, uri: str, document: Any) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = split_s3_uri(uri)
    try:
        s3.put_object(
            Bucket=bucket, Key=key, Body=json.dumps(document, indent=2).encode(), ContentType="application/json"
        )
    except (ClientError, BotoCoreError) as error:
        raise ReportNotWritten(f"cannot write {uri}: {error}") from None


# ------------------------------------------------------------------------------------------- model quality


def _predictions(records: list[CapturedRecord]) -> dict[str, Prediction]:
    """Captured id -> the served prediction, for one-image records (the workflow sends one image per request)."""
    predictions: dict[str, Prediction] = {}
    for record in records:
        event_id = capture_id(record)
        payload = response_payload(record.endpoint_output) if record.endpoint_output is not None else None
        rows = answer_rows(payload)
        if event_id is None or rows is None or len(rows) != 1:
            continue
        row = record_rows(record)[0]
        threshold = payload.get("confidence_threshold") if isinstance(payload, dict) else None
        if row["predicted_label"] is None:
            continue
        predictions[event_id] = Prediction(
            label=row["predicted_label"],
            confidence=float(row["top_confidence"]),
            threshold=float(threshold)
            if isinstance(threshold, int | float) and not isinstance(threshold, bool)
            else None,
        )
    return predictions


def model_quality(
    s3: Any,
    config: CheckConfig,
    records: list[CapturedRecord],
    start: datetime,
    end: datetime,
    earlier: Callable[[], list[CapturedRecord]] | None = None,
) -> Quality | None:
    """Quality of the served predictions that have labels collected in this window (None: no labels).

    A label is matched with the records of this window, or with the `earlier` ones (captured up to
    `ground_truth_lookback` before it, read only when there are labels); a label collected later than that after
    its inference finds no prediction.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    if not config.ground_truth_s3_uri:
        return None
    bucket, prefix = split_s3_uri(config.ground_truth_s3_uri)
    keys: list[str] = []
    lines: list[bytes] = []
    try:
        for hour in _hours(start, end):
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/{hour:%Y/%m/%d/%H}/")
            for page in pages:
                keys += [item["Key"] for item in page.get("Contents", []) if start < item["LastModified"] <= end]
        for key in keys:
            lines += list(s3.get_object(Bucket=bucket, Key=key)["Body"].iter_lines())
    except (ClientError, BotoCoreError) as error:
        raise CaptureUnreadable(f"cannot read the ground truth under {config.ground_truth_s3_uri}: {error}") from None
    if not keys:
        return None
    reviewed = ground_truth_labels(lines, class_labels())
    predictions = _predictions(records)
    if earlier is not None and not set(reviewed) <= set(predictions):
        predictions = {**_predictions(earlier()), **predictions}
    return quality(predictions, reviewed, config.confidence_threshold)


# --------------------------------------------------------------------------------------------------- a run


def run_check(clients: Clients, config: CheckConfig, now: datetime | None = None, run_now: bool = False) -> CheckResult:
    """One scheduled check over the captures since the previous run; see the module docstring."""
    from botocore.exceptions import BotoCoreError, ClientError

    now = (now or datetime.now(UTC)).astimezone(UTC)
    statistics = _read_json(clients.s3, f"{config.baseline_s3_uri}/statistics.json", BaselineUnreadable)
    constraints = _read_json(clients.s3, f"{config.baseline_s3_uri}/constraints.json", BaselineUnreadable)
    if not isinstance(statistics, dict) or not isinstance(constraints, dict) or "features" not in constraints:
        raise BaselineUnreadable(f"{config.baseline_s3_uri}: statistics.json or constraints.json is not a baseline")

    state_uri = f"{config.reports_s3_uri}/{config.endpoint_name}/{config.schedule_name}/{STATE_FILE}"
    previous, seen = _previous_run(clients.s3, state_uri)
    start = max(previous, now - config.max_window) if previous else now - config.max_window
    listed = capture_keys(clients.s3, config.capture_s3_uri, config.endpoint_name, start, now)
    bucket, _ = split_s3_uri(config.capture_s3_uri)
    new = [key for _, key in listed if key not in seen]
    records, skipped = capture_records(clients.s3, bucket, new, config.max_records)
    rows = [row for record in records for row in record_rows(record)]
    try:
        violations = checks.check(statistics, constraints, rows)
    except checks.UnsupportedConstraint as error:
        raise BaselineUnreadable(f"{config.baseline_s3_uri}/constraints.json: {error}") from None

    report_schedule = run_now_name(config.schedule_name, now) if run_now else config.schedule_name
    report_uri = f"{config.reports_s3_uri}/{config.endpoint_name}/{report_schedule}/{now:%Y/%m/%d/%H}"
    _put_json(clients.s3, f"{report_uri}/constraint_violations.json", checks.violations_document(violations))
    _put_json(clients.s3, f"{report_uri}/statistics.json", compute_statistics(rows))

    published = 0
    emit = (constraints.get("monitoring_config") or {}).get("emit_metrics", "Enabled") == "Enabled"
    if rows and config.publish_metrics and emit:
        data = checks.cloudwatch_metric_data(statistics, constraints, rows, config.endpoint_name, report_schedule, now)
        try:
            checks.publish_metrics(clients.cloudwatch, data)
        except (ClientError, BotoCoreError) as error:
            raise ReportNotWritten(f"cannot publish the drift metrics: {error}") from None
        published = len(data)

    completed = CheckCompleted(
        execution_id=f"{report_schedule}-{now:%Y%m%d%H%M%S}" if not run_now else report_schedule,
        schedule_name=config.schedule_name,
        report_schedule_name=report_schedule,
        endpoint_name=config.endpoint_name,
        status=checks.execution_status(violations),
        records=len(rows),
        violations=len(violations),
        report_s3_uri=report_uri,
        window_start=iso(start),
        window_end=iso(now),
    )
    try:
        answer = clients.events.put_events(Entries=[completed.entry(config.event_source, config.event_bus_name)])
    except (ClientError, BotoCoreError) as error:
        raise EventNotSent(f"cannot put the {completed.execution_id} event: {error}") from None
    if answer.get("FailedEntryCount"):
        raise EventNotSent(f"EventBridge refused the {completed.execution_id} event: {answer.get('Entries')}")

    # Model quality is computed after the drift run is complete and announced: unreadable labels are reported
    # in the result (and the handler's log) but do not hold back drift monitoring.
    found_quality, extra = None, {}
    try:

        def earlier() -> list[CapturedRecord]:
            keys = capture_keys(
                clients.s3, config.capture_s3_uri, config.endpoint_name, start - config.ground_truth_lookback, start
            )
            return capture_records(clients.s3, bucket, [key for _, key in keys], config.max_records)[0]

        lookback = earlier if config.ground_truth_lookback > timedelta(0) else None
        found_quality = model_quality(clients.s3, config, records, start, now, lookback)
    except (CaptureUnreadable, GroundTruthUnreadable) as error:
        extra["model_quality_error"] = f"{type(error).__name__}: {error}"
    last_second = now.replace(microsecond=0)
    boundary = sorted(key for modified, key in listed if modified >= last_second)
    state = {"execution_id": completed.execution_id, "window_end": iso(now), "read_in_last_second": boundary}
    _put_json(clients.s3, state_uri, state)
    return CheckResult(completed, violations, skipped, found_quality, published, extra)


def _previous_run(s3: Any, uri: str) -> tuple[datetime | None, frozenset[str]]:
    """Where the previous run's window ended, and the files of its last second it read."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = split_s3_uri(uri)
    try:
        document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        return parse_iso(document["window_end"]), frozenset(document.get("read_in_last_second") or ())
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None, frozenset()
        raise CaptureUnreadable(f"cannot read the previous run's state {uri}: {error}") from None
    except (BotoCoreError, ValueError, KeyError, TypeError) as error:
        raise CaptureUnreadable(f"the previous run's state {uri} is unreadable: {error!r}") from None
