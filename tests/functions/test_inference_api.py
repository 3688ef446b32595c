"""inference_api's handler: the HTTPS entry point answers the route, or a 4xx/5xx with a named reason.

S3 is moto in-process; StartSyncExecution is stubbed at the botocore level (moto has no StartSyncExecution).
"""

from __future__ import annotations

import base64
import datetime
import json

import pytest
from botocore.stub import ANY, Stubber
from shared.contracts import ApiError, InferenceAnswer

from tests.functions.conftest import BUCKET, load_event

STATE_MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:courier-vehicle-inference"
LOCATION = load_event("inference_api", "post_s3_location.json")
PNG = load_event("inference_api", "post_png.json")
MALFORMED = load_event("inference_api", "post_malformed_json.json")
STARTED = datetime.datetime(2024, 5, 1, 10, 15, tzinfo=datetime.UTC)
DECISION = {
    "s3_bucket": BUCKET,
    "s3_key": "incoming/courier-1234/vehicle.png",
    "route": "nearby",
    "predicted_label": "bicycle",
    "confidence": 0.97,
    "confidence_threshold": 0.91,
    "threshold_source": "model",
    "model_version": "courier-vehicle-train-42",
}


@pytest.fixture(scope="module")
def app(load_handler):
    return load_handler("inference_api")


@pytest.fixture
def api(app, s3, lambda_context, monkeypatch):
    monkeypatch.setenv("STATE_MACHINE_ARN", STATE_MACHINE)
    monkeypatch.setenv("UPLOAD_BUCKET", BUCKET)
    monkeypatch.setenv("UPLOAD_PREFIX", "incoming/api/")
    app.s3_client.cache_clear()
    with Stubber(app.states_client(app.DEFAULT_ANSWER_TIMEOUT_SECONDS)) as workflow:

        def call(event, answer=None):
            if answer is not None:
                workflow.add_response(
                    "start_sync_execution", answer, {"stateMachineArn": STATE_MACHINE, "name": ANY, "input": ANY}
                )
            response = app.lambda_handler(event, lambda_context)
            return response["statusCode"], json.loads(response["body"])

        yield call
        workflow.assert_no_pending_responses()


def succeeded(output: dict) -> dict:
    return {
        "executionArn": "arn:aws:states:eu-west-1:123456789012:express:courier-vehicle-inference:api-1:abc",
        "status": "SUCCEEDED",
        "output": json.dumps(output),
        "startDate": STARTED,
        "stopDate": STARTED + datetime.timedelta(milliseconds=800),
    }


def failed(error: str, cause: str = "why") -> dict:
    answer = succeeded({}) | {"status": "FAILED", "error": error, "cause": cause}
    del answer["output"]  # a failed execution has none
    return answer


def with_body(event: dict, body: str, content_type: str, b64: bool = False) -> dict:
    return event | {"body": body, "isBase64Encoded": b64, "headers": event["headers"] | {"content-type": content_type}}


def test_an_s3_location_is_answered_with_the_route(api):
    status, body = api(LOCATION, succeeded(DECISION))

    assert status == 200
    answer = InferenceAnswer.model_validate(body)
    assert (answer.route, answer.predicted_label, answer.model_version) == (
        "nearby",
        "bicycle",
        "courier-vehicle-train-42",
    )
    assert answer.image.s3_key == "incoming/courier-1234/vehicle.png"


def test_an_uploaded_image_is_kept_in_s3_and_classified_from_there(api, s3):
    status, body = api(
        PNG, succeeded(DECISION | {"route": "human_review", "review_reason": "BelowConfidenceThreshold"})
    )

    assert status == 200
    key = body["image"]["s3_key"]
    assert key == f"incoming/api/{PNG['requestContext']['requestId']}.png"
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == base64.b64decode(PNG["body"])
    assert (body["route"], body["review_reason"]) == ("human_review", "BelowConfidenceThreshold")


@pytest.mark.parametrize(
    ("event", "status", "error"),
    [
        (MALFORMED, 400, "InvalidRequest"),
        (with_body(LOCATION, json.dumps({"s3_bucket": BUCKET}), "application/json"), 400, "InvalidRequest"),
        (with_body(LOCATION, json.dumps(["not", "an", "object"]), "application/json"), 400, "InvalidRequest"),
        (with_body(LOCATION, "hello", "text/plain"), 415, "UnsupportedMediaType"),
        (with_body(PNG, base64.b64encode(b"GIF89a....").decode(), "image/png", b64=True), 422, "InvalidImage"),
        (with_body(PNG, "not base64!", "image/png", b64=True), 400, "InvalidRequest"),
        (
            with_body(PNG, base64.b64encode(b"\x89PNG" + bytes(5 * 2**20)).decode(), "image/png", b64=True),
            413,
            "ImageTooLarge",
        ),
        (
            LOCATION
            | {
                "requestContext": LOCATION["requestContext"]
                | {"http": LOCATION["requestContext"]["http"] | {"method": "GET"}}
            },
            405,
            "MethodNotAllowed",
        ),
    ],
    ids=["broken-json", "missing-key", "not-an-object", "text", "gif", "bad-base64", "too-large", "get"],
)
def test_malformed_requests_get_a_4xx_with_a_named_reason_and_start_nothing(api, event, status, error):
    got, body = api(event)  # no StartSyncExecution stubbed: any call would fail the test

    assert (got, ApiError.model_validate(body).error) == (status, error)
    assert body["message"]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("ImageNotFound", 404),
        ("InvalidImage", 422),
        ("ImageTooLarge", 413),
        ("ClassificationFailed", 502),
        ("DecisionNotPublished", 502),
        ("FilteringFailed", 502),
    ],
)
def test_a_failed_execution_is_answered_with_its_error(api, error, status):
    got, body = api(LOCATION, failed(error, "the cause"))

    assert (got, body) == (status, {"error": error, "message": "the cause"})


def test_a_workflow_that_cannot_start_is_a_503(app, api):
    workflow = Stubber(app.states_client(app.DEFAULT_ANSWER_TIMEOUT_SECONDS))
    with workflow:
        workflow.add_client_error("start_sync_execution", "ThrottlingException", "Rate exceeded", 400)
        status, body = api(LOCATION)

    assert (status, body["error"]) == (503, "WorkflowUnavailable")


def test_decisions_and_rejections_are_counted(api, emitted_metrics):
    api(LOCATION, succeeded(DECISION))
    api(MALFORMED)

    names = [m["name"] for m in emitted_metrics()]
    assert names.count("ApiDecisions") == 1
    assert names.count("ApiRejections") == 1
