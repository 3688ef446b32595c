"""Baseline files in Model Monitor's format, the local constraint check, metrics and the CLI."""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, datetime

import boto3
import numpy as np
import pytest
from moto import mock_aws
from PIL import Image

from monitoring import baseline as bl
from monitoring.record_preprocessor import FEATURE_TYPES, build_capture_line, preprocess_capture_line

CHECK_TYPES = {
    "data_type_check",
    "completeness_check",
    "baseline_drift_check",
    "missing_column_check",
    "extra_column_check",
    "categorical_values_check",
}
PIXEL_DRIFT = {"brightness", "r_mean", "g_mean", "b_mean"}


@pytest.fixture(scope="module")
def baseline(feature_rows):
    return bl.build_baseline(feature_rows["baseline"])


def test_statistics_follow_the_documented_format(baseline, feature_rows) -> None:
    statistics, _ = baseline
    assert statistics["version"] == 0.0
    assert statistics["dataset"]["item_count"] == len(feature_rows["baseline"])
    by_name = {f["name"]: f for f in statistics["features"]}
    assert set(by_name) == set(FEATURE_TYPES)
    for name, kind in FEATURE_TYPES.items():
        assert by_name[name]["inferred_type"] == kind, name
    numeric = by_name["brightness"]["numerical_statistics"]
    assert set(numeric) == {"common", "mean", "sum", "std_dev", "min", "max", "distribution"}
    assert set(numeric["common"]) == {"num_present", "num_missing"}
    kll = numeric["distribution"]["kll"]
    assert len(kll["buckets"]) == 10
    assert set(kll["buckets"][0]) == {"lower_bound", "upper_bound", "count"}
    assert sum(b["count"] for b in kll["buckets"]) == numeric["common"]["num_present"]
    assert set(kll["sketch"]) == {"parameters", "data"}
    assert set(kll["sketch"]["parameters"]) == {"c", "k"}
    label = by_name["predicted_label"]["string_statistics"]
    assert set(label) == {"common", "distinct_count", "distribution"}
    assert {b["value"] for b in label["distribution"]["categorical"]["buckets"]} <= {"bicycle", "motorcycle"}
    json.dumps(statistics, allow_nan=False)


def test_constraints_follow_the_documented_format(baseline) -> None:
    _, constraints = baseline
    assert constraints["version"] == 0.0
    by_name = {f["name"]: f for f in constraints["features"]}
    assert by_name["brightness"]["completeness"] == 1.0
    assert by_name["brightness"]["num_constraints"] == {"is_non_negative": True}
    assert by_name["image_format"]["string_constraints"] == {"domains": ["png"]}
    config = constraints["monitoring_config"]
    assert config["evaluate_constraints"] == "Enabled"
    assert config["emit_metrics"] == "Enabled"
    assert 0 < config["datatype_check_threshold"] <= 1
    assert 0 < config["domain_content_threshold"] <= 1
    distribution = config["distribution_constraints"]
    assert distribution["perform_comparison"] == "Enabled"
    assert distribution["comparison_method"] == "Robust"
    assert 0 < distribution["comparison_threshold"] < 1


def test_no_violations_for_held_out_normal_images(baseline, feature_rows) -> None:
    statistics, constraints = baseline
    assert bl.check(statistics, constraints, feature_rows["normal"]) == []


def test_darkened_images_violate_the_baseline(baseline, feature_rows) -> None:
    statistics, constraints = baseline
    violations = bl.check(statistics, constraints, feature_rows["dark"])
    drifted = {v["feature_name"] for v in violations if v["constraint_check_type"] == "baseline_drift_check"}
    assert drifted >= PIXEL_DRIFT, violations
    for violation in violations:
        assert set(violation) == {"feature_name", "constraint_check_type", "description"}
        assert violation["constraint_check_type"] in CHECK_TYPES
    brightness = next(v for v in violations if v["feature_name"] == "brightness")
    assert "distribution distance" in brightness["description"]
    assert "batch mean" in brightness["description"]
    assert bl.exit_message(violations).startswith("CompletedWithViolations: ")


def test_small_batches_of_normal_images_stay_quiet(baseline, feature_rows) -> None:
    statistics, constraints = baseline
    normal = feature_rows["normal"]
    for start in range(0, len(normal), 10):
        assert bl.check(statistics, constraints, normal[start : start + 10]) == [], f"batch at {start}"


def test_even_a_small_batch_of_dark_images_is_drift(baseline, feature_rows) -> None:
    statistics, constraints = baseline
    violations = bl.check(statistics, constraints, feature_rows["dark"][:10])
    assert "brightness" in {v["feature_name"] for v in violations}


def test_jpeg_traffic_shows_as_completeness_and_new_format(baseline, feature_rows) -> None:
    statistics, constraints = baseline
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 90, 90)).save(buffer, format="JPEG")
    jpeg_row = preprocess_capture_line(build_capture_line(buffer.getvalue(), [0.5, 0.5]))
    batch = feature_rows["normal"][:150] + [jpeg_row] * 50
    found = {(v["feature_name"], v["constraint_check_type"]) for v in bl.check(statistics, constraints, batch)}
    assert ("brightness", "completeness_check") in found
    assert ("image_format", "categorical_values_check") in found


def test_type_and_column_checks(baseline, feature_rows) -> None:
    statistics, constraints = baseline
    rows = [dict(row) for row in feature_rows["normal"][:50]]
    for row in rows:
        row["width"] = "32px"
        row["camera"] = "phone"
        del row["height"]
    found = {(v["feature_name"], v["constraint_check_type"]) for v in bl.check(statistics, constraints, rows)}
    assert {("width", "data_type_check"), ("camera", "extra_column_check"), ("height", "missing_column_check")} <= found


def test_kll_sketch_stays_small_and_keeps_quantiles() -> None:
    rng = random.Random(4)
    values = [rng.gauss(100, 15) for _ in range(20_000)]
    sketch = bl.KllSketch(k=256)
    for value in values:
        sketch.update(value)
    items = sketch.weighted_items()
    assert sum(weight for _, weight in items) == len(values), "compaction must preserve the total weight"
    assert len(items) < 1_000
    cumulative, median = 0, None
    for value, weight in items:
        cumulative += weight
        if cumulative >= len(values) / 2:
            median = value
            break
    assert median == pytest.approx(sorted(values)[len(values) // 2], abs=1.5)


def test_cloudwatch_metrics_use_model_monitor_names(baseline, feature_rows) -> None:
    statistics, _ = baseline
    when = datetime(2025, 1, 1, 13, tzinfo=UTC)
    data = bl.cloudwatch_metric_data(statistics, feature_rows["dark"], "cv-endpoint", "cv-data-quality", when)
    drift = {d["MetricName"]: d for d in data if d["MetricName"].startswith("feature_baseline_drift_")}
    assert drift["feature_baseline_drift_brightness"]["Value"] > 0.5
    assert drift["feature_baseline_drift_brightness"]["Dimensions"] == [
        {"Name": "Endpoint", "Value": "cv-endpoint"},
        {"Name": "MonitoringSchedule", "Value": "cv-data-quality"},
    ]
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch")
        bl.publish_metrics(cloudwatch, data)
        names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace=bl.METRICS_NAMESPACE)["Metrics"]}
    assert {"feature_baseline_drift_brightness", "feature_non_null_r_mean", "feature_data_width"} <= names


def test_upload_puts_both_files_where_the_schedule_reads_them(baseline) -> None:
    statistics, constraints = baseline
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="cv-data", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        uris = bl.upload_baseline(s3, *bl.split_s3_uri("s3://cv-data/monitoring/baseline/"), statistics, constraints)
        body = s3.get_object(Bucket="cv-data", Key="monitoring/baseline/constraints.json")["Body"].read()
    assert uris == [
        "s3://cv-data/monitoring/baseline/statistics.json",
        "s3://cv-data/monitoring/baseline/constraints.json",
    ]
    assert json.loads(body) == constraints


def test_cli_builds_a_baseline_then_checks_captures(tmp_path, cifar, encode_png, model_probabilities, capsys) -> None:
    images = tmp_path / "test"
    images.mkdir()
    predictions = {}
    lines = []
    for i, pixels in enumerate(cifar["test"].images[:60]):
        name = f"img_{i:03d}.png"
        (images / name).write_bytes(encode_png(pixels))
        lines.append(f"{i}\t{cifar['test'].labels[i]}\t{name}")
        predictions[name] = model_probabilities(pixels)
    (images / "test.lst").write_text("\n".join(lines) + "\n")
    (tmp_path / "predictions.json").write_text(json.dumps(predictions))
    baseline_dir = tmp_path / "baseline"

    argv = ["--images", str(images), "--predictions", str(tmp_path / "predictions.json"), "--output", str(baseline_dir)]
    assert bl.main(argv) == 0
    statistics = json.loads((baseline_dir / "statistics.json").read_text())
    assert statistics["dataset"]["item_count"] == 60
    assert (baseline_dir / "constraints.json").is_file()

    dark = np.clip(cifar["test"].images[60:90].astype(float) * 0.4, 0, 255).astype(np.uint8)
    capture = tmp_path / "capture.jsonl"
    capture.write_text("\n".join(build_capture_line(encode_png(p), model_probabilities(p)) for p in dark) + "\n")
    report = tmp_path / "report"
    assert bl.main(["check", "--baseline", str(baseline_dir), "--capture", str(capture), "--output", str(report)]) == 0
    violations = json.loads((report / "constraint_violations.json").read_text())["violations"]
    assert "brightness" in {v["feature_name"] for v in violations}
    assert "CompletedWithViolations" in capsys.readouterr().out


def test_cli_fails_with_a_one_line_reason(tmp_path, capsys) -> None:
    assert bl.main(["--images", str(tmp_path / "missing"), "--output", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'missing'} is not a folder"]
