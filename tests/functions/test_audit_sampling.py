"""filter_inferences' audit sampling: a configurable share of confident routes also goes to a person, decided by
the inference id alone so that a retried execution decides the same and a test can predict it."""

from __future__ import annotations

import hashlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shared.contracts import RoutedPrediction
from shared.errors import ConfigurationError

from tests.functions.conftest import load_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

BICYCLE = load_event("filter_inferences", "confident_bicycle.json")
UNSURE = load_event("filter_inferences", "low_confidence.json")
inference_ids = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64)
rates = st.floats(min_value=0.0, max_value=1.0)


@pytest.fixture(scope="module")
def app(load_handler):
    return load_handler("filter_inferences")


@pytest.fixture
def route(app, lambda_context, monkeypatch):
    monkeypatch.delenv("CONFIDENCE_THRESHOLD", raising=False)
    monkeypatch.delenv("LABEL_ROUTES", raising=False)

    def run(event, rate: str | None):
        if rate is None:
            monkeypatch.delenv("AUDIT_SAMPLE_RATE", raising=False)
        else:
            monkeypatch.setenv("AUDIT_SAMPLE_RATE", rate)
        return app.lambda_handler(event, lambda_context)

    return run


def expected_sample(inference_id: str, rate: float) -> bool:
    """The documented rule, written out independently: sha256's first 8 bytes as a fraction of 2**64, below the rate."""
    return int(hashlib.sha256(inference_id.encode()).hexdigest()[:16], 16) / 2**64 < rate


def test_without_the_variable_nothing_is_audited(route):
    result = route(BICYCLE, None)

    assert result["route"] == "nearby"
    assert result["audit_sample"] is False


def test_at_rate_one_every_confident_route_is_audited_and_keeps_its_route(route, emitted_metrics):
    result = route(BICYCLE, "1")

    assert (result["route"], result["audit_sample"], result["inference_id"]) == (
        "nearby",
        True,
        BICYCLE["inference_id"],
    )
    assert "review_reason" not in result
    RoutedPrediction.model_validate(result)
    assert [m["value"] for m in emitted_metrics() if m["name"] == "AuditSamples"] == [1]


def test_an_unsure_prediction_is_never_an_audit_sample(route, emitted_metrics):
    result = route(UNSURE, "1")

    assert (result["route"], result["audit_sample"]) == ("human_review", False)
    assert not [m for m in emitted_metrics() if m["name"] == "AuditSamples"]


def test_a_prediction_without_an_inference_id_is_never_audited(route):
    event = {k: v for k, v in BICYCLE.items() if k != "inference_id"}

    assert route(event, "1")["audit_sample"] is False


def test_at_rate_zero_nothing_is_audited(route, emitted_metrics):
    result = route(BICYCLE, "0")

    assert result["audit_sample"] is False
    assert not [m for m in emitted_metrics() if m["name"] == "AuditSamples"]


@pytest.mark.parametrize("rate", ["0.05", "0.5", "0.95"])
def test_the_choice_is_the_documented_hash_of_the_inference_id(route, rate):
    events = [{**BICYCLE, "inference_id": f"api-{n:04d}"} for n in range(40)]

    chosen = [route(event, rate)["audit_sample"] for event in events]

    assert chosen == [expected_sample(event["inference_id"], float(rate)) for event in events]
    assert chosen == [route(event, rate)["audit_sample"] for event in events], "a retry decides the same"


@pytest.mark.parametrize("raw", ["abc", "-0.01", "1.5", "nan", "inf", "5%"])
def test_a_bad_rate_is_a_configuration_error_naming_the_variable(route, raw):
    with pytest.raises(ConfigurationError, match="AUDIT_SAMPLE_RATE"):
        route(BICYCLE, raw)


@settings(max_examples=200, deadline=None, database=None)
@given(inference_id=inference_ids, rate=rates, higher=rates)
def test_sampling_is_deterministic_and_grows_with_the_rate(app, inference_id, rate, higher):
    low, high = sorted((rate, higher))

    assert app.is_audit_sample(inference_id, low) == app.is_audit_sample(inference_id, low)
    assert app.is_audit_sample(inference_id, low) == expected_sample(inference_id, low)
    if app.is_audit_sample(inference_id, low):
        assert app.is_audit_sample(inference_id, high), "an id audited at a rate is audited at every higher one"
    assert not app.is_audit_sample(inference_id, 0.0)
    assert app.is_audit_sample(inference_id, 1.0)


@pytest.mark.parametrize("rate", [0.01, 0.05, 0.25])
def test_the_audited_share_matches_the_rate(app, rate):
    ids = [f"api-{n:08x}-{n * 7919:x}" for n in range(20_000)]

    share = sum(app.is_audit_sample(i, rate) for i in ids) / len(ids)

    # Binomial standard error at 20,000 draws; 5 of them leaves no room for a flaky run.
    assert math.isclose(share, rate, abs_tol=5 * math.sqrt(rate * (1 - rate) / len(ids)))
