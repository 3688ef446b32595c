"""The scheduled check (monitoring/scheduled_check.py and its handler) on in-process moto: its window, report,
metrics, event and state, its named errors, and model quality from ground-truth labels."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws

from monitoring import baseline as bl
from monitoring import scheduled_check as sc
from monitoring.check_event import CheckCompleted, InvalidCheckEvent
from monitoring.record_preprocessor import build_capture_line
from tests.conftest import FUNCTIONS_DIR, load_function
from tests.lambda_context import FakeLambdaContext
from tests.monitoring.conftest import darken, endpoint_answer, png_bytes

# A handler that raises has no metric to flush; Powertools warns about that, which is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REGION = "eu-west-1"
DATA, CAPTURE = "cv-data", "cv-capture"
ENDPOINT, SCHEDULE = "cv-endpoint", "cv-data-quality"
ENV = {
    "ENDPOINT_NAME": ENDPOINT,
    "SCHEDULE_NAME": SCHEDULE,
    "CAPTURE_S3_URI": f"s3://{CAPTURE}/datacapture",
    "BASELINE_S3_URI": f"s3://{DATA}/monitoring/baseline",
    "REPORTS_S3_URI": f"s3://{DATA}/monitoring/reports",
    "EVENT_SOURCE": "cv.monitoring",
    "GROUND_TRUTH_S3_URI": f"s3://{DATA}/monitoring/ground-truth",
}
NOW = datetime(2025, 1, 1, 13, 0, 5, tzinfo=UTC)


class Stack:
    """moto S3/CloudWatch/EventBridge with the baseline, and a queue that receives every check event."""

    def __init__(self, statistics: dict, constraints: dict) -> None:
        self.s3, self.cloudwatch, self.events = (boto3.client(s) for s in ("s3", "cloudwatch", "events"))
        for bucket in (DATA, CAPTURE):
            self.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        bl.upload_baseline(self.s3, DATA, "monitoring/baseline", statistics, constraints)
        sqs = boto3.client("sqs")
        self.sqs, self.queue = sqs, sqs.create_queue(QueueName="check-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.events.put_rule(Name="checks", EventPattern=json.dumps({"source": ["cv.monitoring"]}))
        self.events.put_targets(Rule="checks", Targets=[{"Id": "q", "Arn": arn}])
        self.config = sc.CheckConfig.from_env(ENV)
        self.clients = sc.Clients(self.s3, self.cloudwatch, self.events)

    def capture(self, images: list[bytes], hour: datetime, answers: list[Any] | None = None) -> str:
        """One capture file in the endpoint's hour folder (LastModified is when moto stores it: now)."""
        answers = answers or [endpoint_answer(image) for image in images]
        lines = [
            build_capture_line(image, answer, event_id=f"e{i}")
            for i, (image, answer) in enumerate(zip(images, answers, strict=True))
        ]
        key = f"datacapture/{ENDPOINT}/AllTraffic/{hour:%Y/%m/%d/%H}/{len(lines)}-{hour:%M%S%f}.jsonl"
        self.s3.put_object(Bucket=CAPTURE, Key=key, Body="\n".join(lines).encode())
        return key

    def run(self, **kwargs: Any) -> sc.CheckResult:
        return sc.run_check(self.clients, self.config, **kwargs)

    def events_received(self) -> list[dict]:
        messages = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]


@pytest.fixture(scope="module")
def baseline(feature_rows):
    return bl.build_baseline(feature_rows["baseline"])


@pytest.fixture
def stack(baseline) -> Stack:
    with mock_aws():
        yield Stack(*baseline)


@pytest.fixture(scope="module")
def images(cifar) -> dict[str, list[bytes]]:
    test = cifar["test"].images
    return {"normal": [png_bytes(p) for p in test[:50]], "dark": [png_bytes(darken(p)) for p in test[50:90]]}


def test_a_run_reports_publishes_and_announces_as_model_monitor_would(stack, images) -> None:
    stack.capture(images["normal"], datetime.now(UTC))
    result = stack.run()
    summary = result.summary()
    assert (summary["status"], summary["records"], summary["violations"]) == ("Completed", 50, [])
    now = datetime.fromisoformat(summary["window_end"].replace("Z", "+00:00"))
    assert summary["report_s3_uri"] == f"s3://{DATA}/monitoring/reports/{ENDPOINT}/{SCHEDULE}/{now:%Y/%m/%d/%H}"
    for name in ("constraint_violations.json", "statistics.json"):
        stack.s3.head_object(Bucket=DATA, Key=f"{summary['report_s3_uri'][len(f's3://{DATA}/') :]}/{name}")
    names = {
        m["MetricName"]
        for m in stack.cloudwatch.list_metrics(Namespace="aws/sagemaker/Endpoints/data-metrics")["Metrics"]
    }
    assert "feature_baseline_drift_brightness" in names
    assert summary["metrics_published"] > 0
    (event,) = stack.events_received()
    assert CheckCompleted.from_event(event, source="cv.monitoring").detail() == result.completed.detail()


def test_each_run_reads_only_what_was_captured_since_the_previous_one(stack, images) -> None:
    stack.capture(images["normal"], datetime.now(UTC))
    assert stack.run().completed.records == 50
    assert stack.run().completed.records == 0, "nothing new since the last run"
    stack.capture(images["dark"], datetime.now(UTC))
    second = stack.run()
    assert (second.completed.records, second.completed.status) == (40, "CompletedWithViolations")
    assert "brightness" in {
        v["feature_name"] for v in second.violations if v["constraint_check_type"] == "baseline_drift_check"
    }


def test_a_file_written_after_its_hour_turned_is_still_read(stack, images) -> None:
    # Capture files land in the folder of the inference's hour and can be delivered minutes later.
    stack.capture(images["normal"][:10], datetime.now(UTC) - timedelta(hours=1))
    assert stack.run().completed.records == 10


def test_the_first_run_looks_back_at_most_max_window(stack, images) -> None:
    stack.capture(images["normal"][:5], datetime.now(UTC))
    later = datetime.now(UTC) + timedelta(hours=30)
    assert stack.run(now=later).completed.records == 0, "older than MAX_WINDOW_HOURS (24)"


def test_run_now_reports_under_its_own_schedule_segment(stack, images) -> None:
    stack.capture(images["dark"], datetime.now(UTC))
    result = stack.run(now=datetime.now(UTC), run_now=True)
    segment = result.completed.report_schedule_name
    assert segment.startswith(f"{SCHEDULE}-now-")
    assert len(segment) == len(SCHEDULE) + len("-now-") + 14
    assert f"/{ENDPOINT}/{segment}/" in result.completed.report_s3_uri
    assert result.completed.schedule_name == SCHEDULE, "the guard owns the run by its schedule"
    dimensions = {
        d["Value"]
        for m in stack.cloudwatch.list_metrics(Namespace="aws/sagemaker/Endpoints/data-metrics")["Metrics"]
        for d in m["Dimensions"]
        if d["Name"] == "MonitoringSchedule"
    }
    assert dimensions == {segment}


def test_a_missing_baseline_is_a_named_error_and_nothing_is_written(stack, images) -> None:
    stack.s3.delete_object(Bucket=DATA, Key="monitoring/baseline/constraints.json")
    with pytest.raises(sc.BaselineUnreadable, match=r"constraints\.json"):
        stack.run()
    assert stack.s3.list_objects_v2(Bucket=DATA, Prefix="monitoring/reports/").get("KeyCount") == 0
    assert stack.events_received() == []


def test_a_capture_line_that_is_not_json_is_a_named_error_naming_it(stack) -> None:
    key = f"datacapture/{ENDPOINT}/AllTraffic/{datetime.now(UTC):%Y/%m/%d/%H}/broken.jsonl"
    stack.s3.put_object(Bucket=CAPTURE, Key=key, Body=b'{"captureData": {}}\nnot json\n')
    with pytest.raises(sc.CaptureUnreadable, match=f"{key} line 2"):
        stack.run()


def test_a_refused_event_is_a_named_error_and_the_window_is_not_advanced(stack, images, monkeypatch) -> None:
    stack.capture(images["normal"][:5], datetime.now(UTC))

    def refuse(**_: Any) -> dict:
        return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "AccessDenied"}]}

    monkeypatch.setattr(stack.events, "put_events", refuse)
    with pytest.raises(sc.EventNotSent, match="refused"):
        stack.run()
    monkeypatch.undo()
    assert stack.run().completed.records == 5, "the retry reads the same captures"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ENDPOINT_NAME": ""}, "ENDPOINT_NAME"),
        ({"CAPTURE_S3_URI": "cv-capture/datacapture"}, "not an s3:// URI"),
        ({"MAX_WINDOW_HOURS": "a day"}, "MAX_WINDOW_HOURS"),
        ({"MAX_WINDOW_HOURS": "0"}, r"\(0, 168\]"),
    ],
)
def test_a_bad_configuration_is_named(change: dict, message: str) -> None:
    with pytest.raises(sc.CheckConfigurationError, match=message):
        sc.CheckConfig.from_env({**ENV, **change})


def test_model_quality_from_ground_truth_labels_collected_in_the_window(stack, images) -> None:
    answers = [endpoint_answer(image) for image in images["normal"][:6]]
    stack.capture(images["normal"][:6], datetime.now(UTC), answers)
    served = [a["labels"][int(np.argmax(a["probabilities"]))] for a in answers]
    truth = [served[0], served[1], "motorcycle" if served[2] == "bicycle" else "bicycle"]  # two right, one wrong
    lines = [
        json.dumps(
            {
                "groundTruthData": {"data": label, "encoding": "CSV"},
                "eventMetadata": {"eventId": f"e{i}"},
                "eventVersion": "0",
            }
        )
        for i, label in enumerate(truth)
    ]
    key = f"monitoring/ground-truth/{datetime.now(UTC):%Y/%m/%d/%H}/reviews.jsonl"
    stack.s3.put_object(Bucket=DATA, Key=key, Body="\n".join(lines).encode())
    quality = stack.run().quality
    assert quality is not None
    assert (quality.labelled, quality.correct) == (3, 2)
    assert quality.metrics()["ServedAccuracy"] == pytest.approx(2 / 3)
    confident = [max(a["probabilities"]) >= 0.9 for a in answers[:3]]
    assert quality.auto_routed == sum(confident)


def test_a_label_given_after_its_predictions_window_still_counts(stack, images) -> None:
    """People review minutes to hours after the courier was routed: the run that finds the label looks back
    ground_truth_lookback for the prediction it names, past the window that read the capture."""
    answers = [endpoint_answer(image) for image in images["normal"][:2]]
    stack.capture(images["normal"][:2], datetime.now(UTC), answers)
    first = stack.run()
    assert first.completed.records == 2
    assert first.quality is None
    time.sleep(1.1)  # S3's LastModified has whole seconds: the label lands after the first run's window
    served = answers[0]["labels"][int(np.argmax(answers[0]["probabilities"]))]
    line = {"groundTruthData": {"data": served, "encoding": "CSV"}, "eventMetadata": {"eventId": "e0"}}
    key = f"monitoring/ground-truth/{datetime.now(UTC):%Y/%m/%d/%H}/late.jsonl"
    stack.s3.put_object(Bucket=DATA, Key=key, Body=json.dumps({**line, "eventVersion": "0"}).encode())

    later = stack.run()

    assert later.completed.records == 0  # nothing new captured since
    assert later.quality is not None
    assert (later.quality.labelled, later.quality.correct) == (1, 1)


def test_a_label_older_than_the_lookback_finds_no_prediction(stack, images) -> None:
    stack.config = dataclasses.replace(stack.config, ground_truth_lookback=timedelta(0))
    answers = [endpoint_answer(image) for image in images["normal"][:2]]
    stack.capture(images["normal"][:2], datetime.now(UTC), answers)
    stack.run()
    time.sleep(1.1)  # S3's LastModified has whole seconds: the label lands after the first run's window
    line = {"groundTruthData": {"data": "bicycle", "encoding": "CSV"}, "eventMetadata": {"eventId": "e0"}}
    key = f"monitoring/ground-truth/{datetime.now(UTC):%Y/%m/%d/%H}/late.jsonl"
    stack.s3.put_object(Bucket=DATA, Key=key, Body=json.dumps({**line, "eventVersion": "0"}).encode())

    quality = stack.run().quality

    assert quality is not None
    assert quality.labelled == 0


def test_without_labels_there_are_no_model_quality_metrics(stack, images) -> None:
    stack.capture(images["normal"][:3], datetime.now(UTC))
    assert stack.run().summary()["model_quality"] is None


def test_unreadable_labels_do_not_hold_back_the_drift_check(stack, images) -> None:
    stack.capture(images["normal"][:3], datetime.now(UTC))
    key = f"monitoring/ground-truth/{datetime.now(UTC):%Y/%m/%d/%H}/bad.jsonl"
    stack.s3.put_object(
        Bucket=DATA, Key=key, Body=b'{"groundTruthData": {"data": "lorry"}, "eventMetadata": {"eventId": "e0"}}'
    )
    summary = stack.run().summary()
    assert summary["records"] == 3
    assert "GroundTruthUnreadable" in summary["model_quality_error"]
    assert "lorry" in summary["model_quality_error"]


# -- the handler --------------------------------------------------------------------------------------------

CONTEXT = FakeLambdaContext.for_function("cv-scheduled-check")


def sample(name: str) -> dict[str, Any]:
    return json.loads((FUNCTIONS_DIR / "scheduled_check" / "events" / name).read_text())


def test_the_handler_runs_the_check_for_the_schedule_and_for_run_now(stack, images, monkeypatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "scheduled_check")
    app = load_function("scheduled_check")
    stack.capture(images["dark"], datetime.now(UTC))
    scheduled = app.lambda_handler(sample("schedule.json"), CONTEXT)
    assert (scheduled["report_schedule_name"], scheduled["status"]) == (SCHEDULE, "CompletedWithViolations")
    by_hand = app.lambda_handler(sample("run_now.json"), CONTEXT)
    assert by_hand["report_schedule_name"].startswith(f"{SCHEDULE}-now-")
    json.dumps(by_hand, allow_nan=False)


@pytest.mark.parametrize("event", [[], {"run_now": "yes"}, {"scheduled_time": 5}])
def test_the_handler_names_a_malformed_event(event, monkeypatch) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "scheduled_check")
    app = load_function("scheduled_check")
    with pytest.raises(app.InvalidEvent):
        app.lambda_handler(event, CONTEXT)


def test_the_handlers_errors_are_workflow_errors_by_name(stack, monkeypatch) -> None:
    from shared.errors import ConfigurationError, WorkflowError

    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "scheduled_check")
    app = load_function("scheduled_check")
    with pytest.raises(ConfigurationError, match="ENDPOINT_NAME"):
        app.lambda_handler(sample("schedule.json"), CONTEXT)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    stack.s3.delete_object(Bucket=DATA, Key="monitoring/baseline/statistics.json")
    with pytest.raises(app.BaselineUnreadable) as raised:
        app.lambda_handler(sample("schedule.json"), CONTEXT)
    assert isinstance(raised.value, WorkflowError)


# -- the event contract ---------------------------------------------------------------------------------------


def test_the_sample_events_are_the_contract() -> None:
    for name in ("check_violations.json", "check_no_violations.json"):
        event = json.loads((FUNCTIONS_DIR / "retrain_guard" / "events" / name).read_text())
        check = CheckCompleted.from_event(event, source="courier-vehicle.monitoring")
        assert json.loads(check.entry("courier-vehicle.monitoring")["Detail"]) == event["detail"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("status", "Failed", "detail.status"),
        ("records", -1, "detail.records"),
        ("records", True, "detail.records"),
        ("report_s3_uri", "https://example.com/report", "detail.report_s3_uri"),
        ("execution_id", "", "detail.execution_id"),
        ("window_end", "yesterday", "detail.window_end"),
        ("engine", "model_monitor", "detail.version/engine"),
    ],
)
def test_a_malformed_check_event_names_its_field(field: str, value: Any, message: str) -> None:
    event = json.loads((FUNCTIONS_DIR / "retrain_guard" / "events" / "check_violations.json").read_text())
    event["detail"][field] = value
    with pytest.raises(InvalidCheckEvent, match=message):
        CheckCompleted.from_event(event)
