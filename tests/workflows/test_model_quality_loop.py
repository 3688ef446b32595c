"""People close the loop, end to end on the embedded AWS: images go through the inference workflow, a reviewer's
ground-truth lines name their inference ids (`shared.reviews.ground_truth_line`), and the scheduled check (its
real Lambda zip) publishes ServedAccuracy and AutoRoutePrecision as the labels imply."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest
from shared.contracts import ImageRef
from shared.reviews import ReviewRecord, ground_truth_key, ground_truth_line

from monitoring import baseline as bl
from monitoring.record_preprocessor import capture_records, record_rows
from tests.workflows.conftest import METRICS_NAMESPACE, InferenceStack, create_function

pytestmark = pytest.mark.embedded

GROUND_TRUTH_PREFIX = "monitoring/ground-truth"
CHECK_FUNCTION = "inference-test-scheduled-check"


def captured_rows(stack: InferenceStack) -> list[dict]:
    s3, rows = stack.aws.client("s3"), []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.capture_bucket, Prefix="capture/"):
        for item in page.get("Contents", []):
            lines = s3.get_object(Bucket=stack.capture_bucket, Key=item["Key"])["Body"].iter_lines()
            rows += [row for record in capture_records(lines) for row in record_rows(record)]
    return rows


def review(stack: InferenceStack, role: str, inference_id: str, label: str, predicted: str) -> ReviewRecord:
    return ReviewRecord(
        review_id=f"review-{uuid.uuid4().hex[:12]}",
        decision_key=inference_id,
        image=ImageRef(s3_bucket=stack.bucket, s3_key=stack.images[role]),
        label=label,
        route="nearby" if label == "bicycle" else "distant",
        reason="AuditSample",
        reviewer="test-reviewer",
        decided_at=datetime.now(UTC),
        predicted_label=predicted,
        inference_id=inference_id,
    )


def published(stack: InferenceStack, metric: str, since: datetime) -> list[float]:
    points = stack.aws.client("cloudwatch").get_metric_statistics(
        Namespace=METRICS_NAMESPACE,
        MetricName=metric,
        Dimensions=[{"Name": "service", "Value": "scheduled_check"}],
        StartTime=since,
        EndTime=datetime.now(UTC),
        Period=60,
        Statistics=["Average"],
    )["Datapoints"]
    return [point["Average"] for point in points]


def test_reviewed_labels_become_served_accuracy_and_auto_route_precision(inference_stack, lambda_zips):
    stack = inference_stack
    started = datetime.now(UTC).replace(microsecond=0)
    ids = {}
    for role in ("bicycle", "motorcycle", "ambiguous"):
        name = f"quality-{role}-{uuid.uuid4().hex[:12]}"
        execution, _ = stack.execute({"s3_bucket": stack.bucket, "s3_key": stack.images[role]}, name=name)
        assert execution["status"] == "SUCCEEDED", execution.get("cause")
        ids[role] = json.loads(execution["output"])["inference_id"]
        stack.decisions_for(stack.images[role])
    # The model said bicycle (0.97, routed), motorcycle (0.96, routed), bicycle (0.55, to a person). The reviewer
    # agrees with the first, calls the second a bicycle and the third a motorcycle: 1 of 3 right, 1 of 2 routes.
    reviews = [
        review(stack, "bicycle", ids["bicycle"], "bicycle", "bicycle"),
        review(stack, "motorcycle", ids["motorcycle"], "bicycle", "motorcycle"),
        review(stack, "ambiguous", ids["ambiguous"], "motorcycle", "bicycle"),
    ]
    s3 = stack.aws.client("s3")
    for record in reviews:
        s3.put_object(
            Bucket=stack.bucket, Key=ground_truth_key(GROUND_TRUTH_PREFIX, record), Body=ground_truth_line(record)
        )
    statistics, constraints = bl.build_baseline(captured_rows(stack))
    bl.upload_baseline(s3, stack.bucket, "monitoring/baseline", statistics, constraints)
    environment = {
        "ENDPOINT_NAME": stack.endpoint_name,
        "SCHEDULE_NAME": "inference-test-data-quality",
        "CAPTURE_S3_URI": f"s3://{stack.capture_bucket}/capture",
        "BASELINE_S3_URI": f"s3://{stack.bucket}/monitoring/baseline",
        "REPORTS_S3_URI": f"s3://{stack.bucket}/monitoring/reports",
        "EVENT_SOURCE": "inference-test.monitoring",
        "CLASS_LABELS": "bicycle,motorcycle",
        "GROUND_TRUTH_S3_URI": f"s3://{stack.bucket}/{GROUND_TRUTH_PREFIX}",
        "POWERTOOLS_SERVICE_NAME": "scheduled_check",
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    }
    stack.environments["scheduled_check"] = environment
    code = (lambda_zips / "scheduled_check.zip").read_bytes()
    create_function(stack, CHECK_FUNCTION, "scheduled_check", code, timeout=120)

    answer = stack.aws.client("lambda").invoke(
        FunctionName=CHECK_FUNCTION,
        Payload=json.dumps({"scheduled_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "run_now": True}),
    )
    summary = json.loads(answer["Payload"].read())

    assert "FunctionError" not in answer, summary
    assert summary["model_quality"] == {
        "LabelledPredictions": 3.0,
        "ServedAccuracy": pytest.approx(1 / 3),
        "AutoRoutePrecision": pytest.approx(1 / 2),
    }
    deadline = time.time() + 10
    while time.time() < deadline and not published(stack, "AutoRoutePrecision", started):
        time.sleep(0.5)
    assert published(stack, "ServedAccuracy", started) == [pytest.approx(1 / 3)]
    assert published(stack, "AutoRoutePrecision", started) == [pytest.approx(1 / 2)]
