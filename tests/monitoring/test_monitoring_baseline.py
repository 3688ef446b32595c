"""Baseline files in Model Monitor's format, built from the endpoint's answers; their upload and the CLI."""

from __future__ import annotations

import io
import json
import random

import boto3
import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from monitoring import baseline as bl
from monitoring import cli
from monitoring.record_preprocessor import FEATURE_TYPES, build_capture_line
from tests.monitoring.conftest import endpoint_answer, photo


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
    assert numeric["common"] == {"num_present": len(feature_rows["baseline"]), "num_missing": 0}
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
    assert distribution["categorical_drift_method"] == "LInfinity"
    assert 0 < distribution["comparison_threshold"] < 1


def test_the_image_features_come_from_the_answer_for_jpeg_as_for_png() -> None:
    rng = np.random.default_rng(3)
    pixels = photo(rng)
    from tests.monitoring.conftest import jpeg_bytes, png_bytes

    jpeg, png = jpeg_bytes(pixels), png_bytes(pixels)
    rows = bl.rows_from_answers([("a.jpg", jpeg, endpoint_answer(jpeg)), ("a.png", png, endpoint_answer(png))])
    assert [(r["image_format"], r["width"], r["height"]) for r in rows] == [("jpeg", 640, 480), ("png", 640, 480)]
    assert all(row[name] is not None for row in rows for name in FEATURE_TYPES)
    # Lossy JPEG moves the pixel statistics a little, not more.
    assert rows[0]["brightness"] == pytest.approx(rows[1]["brightness"], abs=1.0)


@pytest.mark.parametrize(
    ("body", "message"),
    [(b'{"label": "bicycle"}', "no class probabilities"), (b"<html>", "no JSON")],
    ids=["no-probabilities", "not-json"],
)
def test_an_answer_without_probabilities_is_a_named_error(body: bytes, message: str) -> None:
    runtime = boto3.client("sagemaker-runtime")
    with Stubber(runtime) as endpoint:
        endpoint.add_response("invoke_endpoint", {"Body": StreamingBody(io.BytesIO(body), len(body))})
        with pytest.raises(bl.EndpointAnswerError, match=f"endpoint cv-endpoint answered a.png with {message}"):
            list(bl.ask_endpoint(runtime, "cv-endpoint", [("a.png", b"x")]))


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


def test_upload_puts_both_files_where_the_engines_read_them(baseline) -> None:
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


def test_cli_builds_a_baseline_from_answers_then_checks_captures(tmp_path, cifar, encode_png, capsys) -> None:
    images = tmp_path / "test"
    images.mkdir()
    answers, lines = {}, []
    for i, pixels in enumerate(cifar["test"].images[:80]):
        name = f"img_{i:03d}.png"
        png = encode_png(pixels)
        (images / name).write_bytes(png)
        lines.append(f"{i}\t{cifar['test'].labels[i]}\t{name}")
        answers[name] = endpoint_answer(png, pixels)
    (images / "test.lst").write_text("\n".join(lines) + "\n")
    (tmp_path / "answers.json").write_text(json.dumps(answers))
    baseline_dir = tmp_path / "baseline"

    argv = ["baseline", "--images", str(images), "--answers", str(tmp_path / "answers.json")]
    assert cli.main([*argv, "--output", str(baseline_dir)]) == 0
    statistics = json.loads((baseline_dir / "statistics.json").read_text())
    assert statistics["dataset"]["item_count"] == 80
    assert (baseline_dir / "constraints.json").is_file()

    dark = np.clip(cifar["test"].images[80:120].astype(float) * 0.4, 0, 255).astype(np.uint8)
    capture = tmp_path / "capture.jsonl"
    capture.write_text("\n".join(build_capture_line(encode_png(p), endpoint_answer(encode_png(p), p)) for p in dark))
    report = tmp_path / "report"
    argv = ["check", "--baseline", str(baseline_dir), "--capture", str(capture), "--output", str(report)]
    assert cli.main(argv) == 0
    violations = json.loads((report / "constraint_violations.json").read_text())["violations"]
    assert "brightness" in {v["feature_name"] for v in violations}
    assert json.loads((report / "statistics.json").read_text())["dataset"]["item_count"] == 40
    assert "40 records; CompletedWithViolations" in capsys.readouterr().out


def test_cli_fails_with_a_one_line_reason(tmp_path, capsys) -> None:
    missing = tmp_path / "missing"
    assert cli.main(["baseline", "--images", str(missing), "--answers", "a.json", "--output", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {missing} is not a folder"]
    assert cli.main(["check", "--baseline", str(missing), "--capture", str(missing / "c.jsonl")]) == 1
    assert capsys.readouterr().err.startswith(f"error: cannot read the baseline in {missing}")
    assert cli.main(["run-now", "--engine", "model_monitor", "--schedule", "s", "--window", "1 hour"]) == 1
    assert "not an ISO 8601 duration" in capsys.readouterr().err
