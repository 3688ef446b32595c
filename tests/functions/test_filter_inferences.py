"""filter_inferences' handler: the confidence gate between the model and a courier's orders, or a person."""

from __future__ import annotations

import json

import pytest
from shared.contracts import RoutedPrediction
from shared.errors import ConfigurationError, InvalidEvent, ThresholdNotConfigured

from tests.functions.conftest import load_event

# A handler that fails on its configuration has measured nothing; Powertools warns about the empty flush.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

BICYCLE = load_event("filter_inferences", "confident_bicycle.json")
MOTORCYCLE = load_event("filter_inferences", "confident_motorcycle.json")
UNSURE = load_event("filter_inferences", "low_confidence.json")
LEGACY = load_event("filter_inferences", "legacy_model_without_threshold.json")  # a bare list: no threshold


@pytest.fixture(scope="module")
def app(load_handler):
    return load_handler("filter_inferences")


@pytest.fixture
def route(app, lambda_context, monkeypatch):
    monkeypatch.delenv("CONFIDENCE_THRESHOLD", raising=False)
    monkeypatch.delenv("LABEL_ROUTES", raising=False)
    monkeypatch.delenv("AUDIT_SAMPLE_RATE", raising=False)

    def run(event):
        return app.lambda_handler(event, lambda_context)

    return run


def with_inferences(inferences: list[float], labels: list[str] | None = None) -> dict:
    return {**BICYCLE, "inferences": inferences, "labels": labels or BICYCLE["labels"]}


def test_a_confident_bicycle_gets_nearby_orders(route):
    result = route(BICYCLE)

    assert (result["predicted_label"], result["route"], result["confidence"]) == ("bicycle", "nearby", 0.93)
    assert {k: result[k] for k in BICYCLE} == BICYCLE, "the input travels on unchanged"
    assert "review_reason" not in result
    RoutedPrediction.model_validate(result)
    json.dumps(result)


def test_a_confident_motorcycle_gets_distant_orders(route):
    result = route(MOTORCYCLE)

    assert (result["predicted_label"], result["route"], result["confidence"]) == ("motorcycle", "distant", 0.88)


def test_the_model_s_own_threshold_applies_when_terraform_sets_none(route):
    result = route(with_inferences([0.85, 0.15]) | {"model_confidence_threshold": 0.9})

    assert (result["route"], result["confidence_threshold"], result["threshold_source"]) == (
        "human_review",
        0.9,
        "model",
    )


def test_terraform_s_threshold_overrides_the_model_s(route, monkeypatch):
    monkeypatch.setenv("CONFIDENCE_THRESHOLD", "0.6")

    result = route(UNSURE)  # 0.55 < the override 0.6, but the model's own 0.8 is not what applies
    assert (result["confidence_threshold"], result["threshold_source"]) == (0.6, "terraform")
    assert route(with_inferences([0.65, 0.35]))["route"] == "nearby"


def test_without_either_threshold_nothing_is_routed_by_a_silent_default(route):
    with pytest.raises(ThresholdNotConfigured, match="CONFIDENCE_THRESHOLD is not set and model 'unknown'"):
        route(LEGACY)


def test_a_legacy_model_is_routed_by_terraform_s_threshold(route, monkeypatch):
    monkeypatch.setenv("CONFIDENCE_THRESHOLD", "0.9")

    result = route(LEGACY)
    assert (result["route"], result["model_version"], result["threshold_source"]) == ("nearby", "unknown", "terraform")


def test_exactly_the_threshold_passes(route, monkeypatch):
    monkeypatch.setenv("CONFIDENCE_THRESHOLD", "0.80")

    assert route(with_inferences([0.8, 0.2]))["route"] == "nearby"


def test_just_below_the_threshold_is_a_decision_for_a_person_not_an_error(route):
    result = route(with_inferences([0.7999, 0.2001]))

    assert (result["route"], result["review_reason"]) == ("human_review", "BelowConfidenceThreshold")
    assert (result["predicted_label"], result["confidence"]) == ("bicycle", 0.7999)  # what the model thought
    RoutedPrediction.model_validate(result)


def test_low_confidence_sample_goes_to_human_review(route):
    result = route(UNSURE)

    assert (result["route"], result["confidence"], result["confidence_threshold"]) == ("human_review", 0.55, 0.8)


def test_a_tie_is_never_routed(route, monkeypatch):
    monkeypatch.setenv("CONFIDENCE_THRESHOLD", "0.3")

    result = route(with_inferences([0.4, 0.4, 0.2], ["bicycle", "motorcycle", "scooter"]))
    assert (result["route"], result["review_reason"]) == ("human_review", "TopLabelsTied")


def test_routes_come_from_the_environment(route, monkeypatch):
    monkeypatch.setenv(
        "LABEL_ROUTES", json.dumps({"bicycle": "nearby", "motorcycle": "distant", "cargo_bike": "bulky"})
    )

    result = route(with_inferences([0.05, 0.05, 0.9], ["bicycle", "motorcycle", "cargo_bike"]))

    assert (result["predicted_label"], result["route"]) == ("cargo_bike", "bulky")


def test_a_predicted_label_without_a_route_is_a_configuration_error(route, monkeypatch):
    monkeypatch.setenv("LABEL_ROUTES", json.dumps({"bicycle": "nearby"}))

    with pytest.raises(ConfigurationError, match="no route for predicted label 'motorcycle'"):
        route(MOTORCYCLE)


@pytest.mark.parametrize("threshold", ["0", "1", "abc", "-0.1", "1.5", "nan", "inf", "0.0", "1.0"])
def test_invalid_thresholds_are_configuration_errors(route, monkeypatch, threshold):
    monkeypatch.setenv("CONFIDENCE_THRESHOLD", threshold)

    with pytest.raises(ConfigurationError, match="CONFIDENCE_THRESHOLD"):
        route(BICYCLE)


@pytest.mark.parametrize(
    "routes",
    ["not json", "[]", "{}", '{"bicycle": 3}', '{"bicycle": ""}', '"nearby"', '{"bicycle": "human_review"}'],
)
def test_invalid_label_routes_are_configuration_errors(route, monkeypatch, routes):
    monkeypatch.setenv("LABEL_ROUTES", routes)

    with pytest.raises(ConfigurationError, match="LABEL_ROUTES"):
        route(BICYCLE)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"inferences": [0.9]}, "pair up"),
        ({"inferences": [1.2, -0.2]}, "inferences"),
        ({"inferences": ["0.9", "0.1"]}, "inferences"),
        ({"labels": ["bicycle", "bicycle"]}, "unique"),
        ({"labels": None}, "labels"),
        ({"content_type": None}, "content_type"),
    ],
    ids=["length-mismatch", "out-of-range", "strings", "duplicate-labels", "no-labels", "no-content-type"],
)
def test_malformed_events_name_the_field(route, change, field):
    event = {k: v for k, v in {**BICYCLE, **change}.items() if v is not None}

    with pytest.raises(InvalidEvent, match=field):
        route(event)


def test_confident_predictions_are_counted_per_route(route, emitted_metrics):
    route(BICYCLE)
    route(MOTORCYCLE)

    metrics = emitted_metrics()
    assert [m["value"] for m in metrics if m["name"] == "ConfidentPredictions"] == [1, 1]
    routes = [m["dimensions"]["route"] for m in metrics if m["name"] == "Routes"]
    assert routes == ["nearby", "distant"]
    assert all(m["dimensions"].get("service") == "filter_inferences" for m in metrics if m["name"] == "Routes")


def test_low_confidence_is_counted_as_a_human_review_route(route, emitted_metrics):
    route(UNSURE)

    metrics = emitted_metrics()
    assert [m["name"] for m in metrics if m["name"] != "Routes"] == ["LowConfidencePredictions"]
    assert [m["dimensions"]["route"] for m in metrics if m["name"] == "Routes"] == ["human_review"]


def test_execution_name_is_the_correlation_id(route, stdout_records):
    route(BICYCLE)

    logs = [r for r in stdout_records() if r.get("message") == "prediction routed"]
    assert logs[0]["correlation_id"] == BICYCLE["execution_name"]
