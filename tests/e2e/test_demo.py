"""A reduced `make demo` (the session's `demo` fixture, tests/e2e/conftest.py) through the real stack, then destroy."""

from __future__ import annotations

from collections import Counter

import pytest

pytestmark = [pytest.mark.embedded, pytest.mark.slow]


def test_every_stage_reports_progress_and_a_time(demo):
    report, _out, stdout = demo
    for stage in report["timings"]:
        assert f"{stage} done in" in stdout
    assert {"terraform apply (phase 1)", "ETL into the data bucket", "terraform destroy"} <= set(report["timings"])


def test_report_contract(demo):
    report, _out, _stdout = demo
    assert report["dataset"]["sha256"] == "064d6299a7c9a810f702d8fb12a24bf5246edb255823f1cb9ad34b5b27f4958a"
    assert report["etl"]["counts"]["test"] == {"bicycle": 100, "motorcycle": 100}
    assert report["training"]["job_name"]
    assert report["training"]["seconds"] > 0
    assert "validation:accuracy" in report["training"]["metrics"]
    assert report["evaluation"]["decision"] == "deployed"
    assert report["evaluation"]["accuracy"] >= report["evaluation"]["threshold"] == 0.6
    assert 0 < report["inference"]["threshold"] < 1


def test_every_test_image_went_through_the_inference_state_machine(demo):
    report, _out, _stdout = demo
    items = report["inference"]["items"]
    assert len(items) == 200
    assert len({item["s3_key"] for item in items}) == 200
    arns = {item["execution_arn"] for item in items}
    assert len(arns) == 200
    assert all(":express:courier-vehicle-inference:" in arn for arn in arns)  # the default EXPRESS workflow
    for item in items:
        assert item["true_label"] in {"bicycle", "motorcycle"}
        assert item["route"] in {"nearby", "distant", "human_review"}
        if item["route"] != "human_review":
            assert item["confidence"] >= report["inference"]["threshold"]
            assert item["route"] == {"bicycle": "nearby", "motorcycle": "distant"}[item["predicted_label"]]


@pytest.mark.parametrize("engine", ["scheduled_check", "model_monitor"])
def test_drift_is_detected_only_on_darkened_traffic_and_starts_a_retrain(demo, engine):
    report, _out, _stdout = demo
    normal, darkened = [p for p in report["monitoring"]["passes"] if p["engine"] == engine]
    assert normal["records"] >= 200
    assert normal["violations"] == []
    # At least the 40 darkened images: the window also holds any other request the endpoint answered then.
    assert darkened["records"] >= 40
    assert darkened["violations"]
    assert any(v["feature_name"] == "brightness" for v in darkened["violations"])
    assert darkened["retrain_started"] is True


def test_figures_are_written(demo):
    _report, out, _stdout = demo
    markdown = (out / "report.md").read_text()
    for figure in (
        "confusion_matrix.png",
        "sample_predictions.png",
        "accuracy_vs_threshold.png",
        "pipeline_execution.png",
        "inference_nearby.png",  # drawn from the Express execution's CloudWatch Logs
        "inference_distant.png",
    ):
        assert (out / figure).stat().st_size > 1000
        assert figure in markdown


def test_terraform_destroy_leaves_nothing(demo):
    report, _out, _stdout = demo
    assert report["teardown"]["resources_left"] == []


def test_the_inference_load_accounts_for_every_image_exactly_once(demo):
    report, _out, stdout = demo
    items, load = report["inference"]["items"], report["inference"]["load"]
    assert load["executions"] == len(items) == 200
    assert load["lost"] == []
    assert load["duplicated"] == []
    assert load["routes"] == dict(Counter(item["route"] for item in items))
    assert load["human_review_messages"] == load["routes"].get("human_review", 0)
    assert 0 < load["p50_seconds"] <= load["p95_seconds"] <= load["max_seconds"]
    assert load["submit_seconds"] >= 10  # the 200 starts are spread over 10 s ...
    assert load["peak_running"] > 1  # ... and do not wait for each other
    assert "latency p50" in stdout


def test_every_decision_reached_the_decision_bus_once(demo):
    report, _out, _stdout = demo
    items, inference = report["inference"]["items"], report["inference"]
    classified = [item for item in items if item["route"] in {"nearby", "distant", "human_review"}]
    assert inference["decisions_published"] == len(classified) == 200
    assert inference["decisions_by_route"] == dict(Counter(item["route"] for item in classified))
    assert inference["load"]["decisions_missing"] == inference["load"]["decisions_duplicated"] == []


def test_images_sent_through_the_https_api_got_their_route_and_bad_requests_were_refused(demo):
    report, _out, _stdout = demo
    api = report["inference"]["api"]
    assert api["requests"] == api["answered"] == api["decisions_published"] == 10
    assert set(api["routes"]) <= {"nearby", "distant", "human_review"}
    assert {name: refused["status"] for name, refused in api["refused"].items()} == {
        "unsigned": 403,
        "malformed": 400,
        "oversize": 413,
    }


def test_the_synthetic_probe_passes_on_the_deployed_model(demo):
    report, _out, _stdout = demo
    probe = report["inference"]["probe"]
    assert probe["failures"] == 0
    assert {(check["s3_key"], check["route"]) for check in probe["checks"]} == {
        ("incoming/probes/bicycle.png", "nearby"),
        ("incoming/probes/motorcycle.png", "distant"),
    }


def test_a_reviewer_decided_queued_images_in_the_review_console(demo):
    report, out, stdout = demo
    review = report["review"]
    queued = report["inference"]["load"]["routes"].get("human_review", 0)
    assert review["decided"] == min(5, queued) > 0
    # One reviewer decision event per decided image, on the bus dispatch listens to.
    assert review["events_published"] == review["decided"]
    # A ground-truth line for every vehicle decision of an image the endpoint classified (it has an inference_id).
    assert review["ground_truth_lines"] == review["events_with_inference_id"]
    # The demo labels each image with its true class (the test set's manifest).
    truth = {item["s3_key"]: item["true_label"] for item in report["inference"]["items"]}
    assert all(item["label"] == truth[item["s3_key"]] for item in review["items"])
    assert (out / review["screenshot"]).stat().st_size > 1000
    assert "reviewer decisions published" in stdout
