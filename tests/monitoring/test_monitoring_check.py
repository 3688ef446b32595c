"""The constraint check both engines run: Model Monitor's documented checks, with the baseline's thresholds.

Documented in "Schema for Violations" (model-monitor-interpreting-violations.html) and the monitoring_config of
"Schema for Constraints" (model-monitor-byoc-constraints.html); monitoring/check.py cites both.
"""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime

import boto3
import numpy as np
import pytest
from moto import mock_aws

from monitoring import baseline as bl
from monitoring import check as ck
from monitoring.record_preprocessor import build_capture_line, preprocess_capture_line
from tests.monitoring.conftest import endpoint_answer, jpeg_bytes, photo

PIXEL_DRIFT = {"brightness", "r_mean", "g_mean", "b_mean"}


@pytest.fixture(scope="module")
def baseline(feature_rows):
    return bl.build_baseline(feature_rows["baseline"])


def jpeg_rows(seed: int, count: int, shade: float = 1.0) -> list[dict]:
    """Rows of `count` real-size (640x480) JPEG photos as the endpoint answers them."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(count):
        jpeg = jpeg_bytes(photo(rng, shade=shade))
        rows.append(preprocess_capture_line(build_capture_line(jpeg, endpoint_answer(jpeg))))
    return rows


def test_held_out_normal_images_pass_clean(baseline, feature_rows) -> None:
    statistics, constraints = baseline
    assert ck.check(statistics, constraints, feature_rows["normal"]) == []


def test_darkened_images_drift_on_the_documented_distance(baseline, feature_rows) -> None:
    statistics, constraints = baseline
    violations = ck.check(statistics, constraints, feature_rows["dark"])
    drifted = {v["feature_name"] for v in violations if v["constraint_check_type"] == "baseline_drift_check"}
    assert drifted >= PIXEL_DRIFT, violations
    for violation in violations:
        assert set(violation) == {"feature_name", "constraint_check_type", "description"}
        assert violation["constraint_check_type"] in ck.CHECK_TYPES
    brightness = next(v for v in violations if v["feature_name"] == "brightness")
    assert "linf_robust" in brightness["description"]
    assert ck.exit_message(violations).startswith("CompletedWithViolations: ")


def test_small_batches_of_normal_images_stay_quiet(baseline, feature_rows) -> None:
    # "Robust" (linf_robust) is the documented answer to batches that are small next to the baseline.
    statistics, constraints = baseline
    normal = feature_rows["normal"]
    for start in range(0, len(normal), 20):
        assert ck.check(statistics, constraints, normal[start : start + 20]) == [], f"batch at {start}"


def test_forty_darkened_images_are_drift(baseline, feature_rows) -> None:
    """The demo's darkened pass: 40 images at 0.4 brightness."""
    statistics, constraints = baseline
    violations = ck.check(statistics, constraints, feature_rows["dark"][:40])
    assert "brightness" in {
        v["feature_name"] for v in violations if v["constraint_check_type"] == "baseline_drift_check"
    }


def test_simple_comparison_is_the_plain_cdf_distance_against_the_threshold(baseline, feature_rows) -> None:
    statistics, constraints = baseline
    simple = copy.deepcopy(constraints)
    simple["monitoring_config"]["distribution_constraints"]["comparison_method"] = "Simple"
    small = feature_rows["normal"][:20]
    # Without the small-sample correction a batch of 20 normal images already moves the CDFs by more than 0.1.
    distances = ck.drift_distances(statistics, simple, small)
    assert max(distances.values()) > 0.1
    found = {v["feature_name"] for v in ck.check(statistics, simple, small)}
    assert found == {name for name, distance in distances.items() if distance > 0.1}


def test_linf_robust_subtracts_the_two_sample_ks_critical_value() -> None:
    assert ck.robust(0.5, 1000, 40) == pytest.approx(0.5 - 1.8 * math.sqrt(1040 / 40000))
    assert ck.robust(0.05, 1000, 40) == 0.0
    items = [(float(v), 1) for v in range(10)]
    assert ck.linf_simple(items, [float(v) for v in range(10)]) == 0.0
    assert ck.linf_simple(items, [100.0] * 4) == 1.0


def test_thresholds_come_from_the_baseline(baseline, feature_rows) -> None:
    statistics, constraints = baseline
    lenient = copy.deepcopy(constraints)
    lenient["monitoring_config"]["distribution_constraints"]["comparison_threshold"] = 0.99
    assert not [v for v in ck.check(statistics, lenient, feature_rows["dark"]) if v["feature_name"] == "brightness"]
    off = copy.deepcopy(constraints)
    off["monitoring_config"]["distribution_constraints"]["perform_comparison"] = "Disabled"
    assert not [
        v
        for v in ck.check(statistics, off, feature_rows["dark"])
        if v["constraint_check_type"] == "baseline_drift_check"
    ]
    disabled = copy.deepcopy(constraints)
    disabled["monitoring_config"]["evaluate_constraints"] = "Disabled"
    assert ck.check(statistics, disabled, feature_rows["dark"]) == []


def test_chi_squared_is_refused_by_name(baseline, feature_rows) -> None:
    statistics, constraints = baseline
    chi = copy.deepcopy(constraints)
    chi["monitoring_config"]["distribution_constraints"]["categorical_drift_method"] = "ChiSquared"
    with pytest.raises(ck.UnsupportedConstraint, match="ChiSquared"):
        ck.check(statistics, chi, feature_rows["normal"])


def test_real_size_jpeg_photos_pass_clean_against_a_baseline_built_the_same_way() -> None:
    statistics, constraints = bl.build_baseline(jpeg_rows(seed=1, count=300))
    capture = jpeg_rows(seed=2, count=120)
    violations = ck.check(statistics, constraints, capture)
    assert not [v for v in violations if v["constraint_check_type"] == "completeness_check"], violations
    assert violations == []


def test_darkened_jpeg_photos_drift(baseline) -> None:
    statistics, constraints = bl.build_baseline(jpeg_rows(seed=1, count=300))
    violations = ck.check(statistics, constraints, jpeg_rows(seed=3, count=40, shade=0.4))
    assert "brightness" in {
        v["feature_name"] for v in violations if v["constraint_check_type"] == "baseline_drift_check"
    }


def test_jpeg_traffic_against_a_png_baseline_is_a_new_format_not_missing_features(baseline) -> None:
    statistics, constraints = baseline
    found = {
        (v["feature_name"], v["constraint_check_type"]) for v in ck.check(statistics, constraints, jpeg_rows(5, 40))
    }
    assert ("image_format", "categorical_values_check") in found
    assert not [f for f, check in found if check == "completeness_check"], found


def test_an_older_models_answer_shows_as_incomplete_features(baseline, feature_rows, encode_png) -> None:
    statistics, constraints = baseline
    bare = preprocess_capture_line(build_capture_line(encode_png(np.zeros((32, 32, 3), np.uint8)), [0.4, 0.6]))
    found = {
        (v["feature_name"], v["constraint_check_type"])
        for v in ck.check(statistics, constraints, feature_rows["normal"][:100] + [bare] * 40)
    }
    assert ("brightness", "completeness_check") in found
    assert ("top_confidence", "completeness_check") not in found


def test_type_and_column_checks(baseline, feature_rows) -> None:
    statistics, constraints = baseline
    rows = [dict(row) for row in feature_rows["normal"][:50]]
    for row in rows:
        row["width"] = "32px"
        row["camera"] = "phone"
        del row["height"]
    found = {(v["feature_name"], v["constraint_check_type"]) for v in ck.check(statistics, constraints, rows)}
    assert {("width", "data_type_check"), ("camera", "extra_column_check"), ("height", "missing_column_check")} <= found


def test_cloudwatch_metrics_use_model_monitor_names(baseline, feature_rows) -> None:
    statistics, constraints = baseline
    when = datetime(2025, 1, 1, 13, tzinfo=UTC)
    data = ck.cloudwatch_metric_data(
        statistics, constraints, feature_rows["dark"], "cv-endpoint", "cv-data-quality", when
    )
    drift = {d["MetricName"]: d for d in data if d["MetricName"].startswith("feature_baseline_drift_")}
    assert drift["feature_baseline_drift_brightness"]["Value"] > 0.5
    assert drift["feature_baseline_drift_brightness"]["Dimensions"] == [
        {"Name": "Endpoint", "Value": "cv-endpoint"},
        {"Name": "MonitoringSchedule", "Value": "cv-data-quality"},
    ]
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch")
        ck.publish_metrics(cloudwatch, data)
        names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace=ck.METRICS_NAMESPACE)["Metrics"]}
    assert {"feature_baseline_drift_brightness", "feature_non_null_r_mean", "feature_data_width"} <= names
