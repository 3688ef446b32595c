"""inference_probe's handler: every probe image must get its expected route, or the probe reports a failure.

StartSyncExecution is stubbed at the botocore level (moto has none); the embedded test runs the real workflow.
"""

from __future__ import annotations

import datetime
import json

import pytest
from botocore.stub import ANY, Stubber
from shared.errors import ConfigurationError

from tests.functions.conftest import load_event

# A handler that fails on its configuration has measured nothing; Powertools warns about the empty flush.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

STATE_MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:courier-vehicle-inference"
IMAGES = {"incoming/probes/bicycle.png": "nearby", "incoming/probes/motorcycle.png": "distant"}
SCHEDULED = load_event("inference_probe", "scheduled_event.json")
STARTED = datetime.datetime(2024, 5, 1, 10, 15, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def app(load_handler):
    return load_handler("inference_probe")


@pytest.fixture
def probe(app, lambda_context, monkeypatch):
    monkeypatch.setenv("STATE_MACHINE_ARN", STATE_MACHINE)
    monkeypatch.setenv("PROBE_BUCKET", "courier-vehicle-data")
    monkeypatch.setenv("PROBE_IMAGES", json.dumps(IMAGES))
    with Stubber(app.states_client(app.DEFAULT_ANSWER_TIMEOUT_SECONDS)) as workflow:

        def run(*answers):
            assert len(answers) == len(IMAGES)
            for answer in answers:  # in key order: the probe checks its images sorted
                expected_input = {"stateMachineArn": STATE_MACHINE, "name": ANY, "input": ANY}
                workflow.add_response("start_sync_execution", answer, expected_input)
            return app.lambda_handler(SCHEDULED, lambda_context)

        yield run
        workflow.assert_no_pending_responses()


def routed(route: str, label: str) -> dict:
    output = {"route": route, "predicted_label": label, "confidence": 0.98}
    return {
        "executionArn": "arn:aws:states:eu-west-1:123456789012:express:courier-vehicle-inference:probe:1",
        "status": "SUCCEEDED",
        "output": json.dumps(output),
        "startDate": STARTED,
        "stopDate": STARTED + datetime.timedelta(seconds=1),
    }


def failed(error: str) -> dict:
    answer = routed("nearby", "bicycle") | {"status": "FAILED", "error": error, "cause": "because"}
    del answer["output"]
    return answer


def test_correct_routes_are_checks_without_failures(probe, emitted_metrics):
    result = probe(routed("nearby", "bicycle"), routed("distant", "motorcycle"))

    assert result["failures"] == 0
    assert [c["outcome"] for c in result["checks"]] == ["ok", "ok"]
    metrics = {m["name"]: m["value"] for m in emitted_metrics()}
    assert (metrics["ProbeChecks"], metrics["ProbeFailures"]) == (2, 0)  # a zero is recorded, not left out


@pytest.mark.parametrize(
    ("second", "outcome"),
    [
        (routed("nearby", "bicycle"), "wrong_route"),  # the model now calls the motorcycle a bicycle
        (routed("human_review", "motorcycle"), "wrong_route"),  # ... or is no longer sure of it
        (failed("ClassificationFailed"), "execution_failed"),
        (failed("ImageNotFound"), "image_missing"),
    ],
)
def test_anything_but_the_expected_route_is_a_failure(probe, emitted_metrics, second, outcome):
    result = probe(routed("nearby", "bicycle"), second)

    assert result["failures"] == 1
    assert result["checks"][1]["outcome"] == outcome
    assert {m["name"]: m["value"] for m in emitted_metrics()}["ProbeFailures"] == 1


def test_probe_executions_are_marked_as_probes(app, lambda_context, monkeypatch):
    monkeypatch.setenv("STATE_MACHINE_ARN", STATE_MACHINE)
    monkeypatch.setenv("PROBE_BUCKET", "courier-vehicle-data")
    monkeypatch.setenv("PROBE_IMAGES", json.dumps({"incoming/probes/bicycle.png": "nearby"}))
    with Stubber(app.states_client(app.DEFAULT_ANSWER_TIMEOUT_SECONDS)) as workflow:
        workflow.add_response(
            "start_sync_execution",
            routed("nearby", "bicycle"),
            {
                "stateMachineArn": STATE_MACHINE,
                "name": ANY,
                "input": json.dumps(
                    {
                        "s3_bucket": "courier-vehicle-data",
                        "s3_key": "incoming/probes/bicycle.png",
                        "probe": True,
                        "execution_name": f"probe-{lambda_context.aws_request_id[:8]}",
                    }
                ),
            },
        )
        assert app.lambda_handler(SCHEDULED, lambda_context)["failures"] == 0


@pytest.mark.parametrize("images", [None, "not json", "[]", "{}", '{"incoming/x.png": ""}'])
def test_a_probe_without_usable_images_is_a_configuration_error(app, lambda_context, monkeypatch, images):
    monkeypatch.setenv("STATE_MACHINE_ARN", STATE_MACHINE)
    monkeypatch.setenv("PROBE_BUCKET", "courier-vehicle-data")
    if images is None:
        monkeypatch.delenv("PROBE_IMAGES", raising=False)
    else:
        monkeypatch.setenv("PROBE_IMAGES", images)

    with pytest.raises(ConfigurationError, match="PROBE_IMAGES"):
        app.lambda_handler(SCHEDULED, lambda_context)
