"""The synchronous HTTPS entry point on the embedded AWS: the real inference_api zip behind a function URL (AWS_IAM),
running the Express workflow with StartSyncExecution."""

from __future__ import annotations

import json

import pytest
from botocore.credentials import Credentials
from demo.api_client import post

from tests.workflows.conftest import MODEL_VERSION, POWERTOOLS_LAYER

pytestmark = pytest.mark.embedded

LOCAL = Credentials("local", "local")  # the embedded AWS's key; on AWS, the courier app's role


@pytest.fixture(scope="module")
def api_url(inference_stack, lambda_zips) -> str:
    awslambda = inference_stack.aws.client("lambda")
    awslambda.create_function(
        FunctionName="inference-test-inference_api",
        Runtime="python3.11",
        Role=inference_stack.role_arn,
        Handler="app.lambda_handler",
        Code={"ZipFile": (lambda_zips / "inference_api.zip").read_bytes()},
        Timeout=30,
        MemorySize=256,
        Layers=[POWERTOOLS_LAYER],
        Environment={
            "Variables": {
                "STATE_MACHINE_ARN": inference_stack.express_state_machine_arn,
                "UPLOAD_BUCKET": inference_stack.bucket,
                "UPLOAD_PREFIX": "incoming/api/",
                "ANSWER_TIMEOUT_SECONDS": "25",
                "POWERTOOLS_SERVICE_NAME": "inference_api",
                "POWERTOOLS_METRICS_NAMESPACE": "CourierVehicleTest",
            }
        },
    )
    url = awslambda.create_function_url_config(FunctionName="inference-test-inference_api", AuthType="AWS_IAM")
    return url["FunctionUrl"]


@pytest.fixture
def functions_run(inference_stack, monkeypatch):
    """The names of the functions the embedded Lambda ran during the test."""
    ran: list[str] = []
    runtime_invoke = inference_stack.aws.lambdas.invoke

    def invoke(fn, event):
        ran.append(fn.function_name)
        return runtime_invoke(fn, event)

    monkeypatch.setattr(inference_stack.aws.lambdas, "invoke", invoke)
    return ran


def image_bytes(stack, role: str) -> bytes:
    return stack.aws.client("s3").get_object(Bucket=stack.bucket, Key=stack.images[role])["Body"].read()


def test_a_signed_request_with_an_s3_location_gets_the_route(inference_stack, api_url):
    location = {"s3_bucket": inference_stack.bucket, "s3_key": inference_stack.images["bicycle"]}

    answer = post(
        api_url, json.dumps(location).encode(), "application/json", inference_stack.aws.region, credentials=LOCAL
    )

    assert answer.status == 200, answer.body
    assert (answer.body["route"], answer.body["predicted_label"]) == ("nearby", "bicycle")
    assert answer.body["model_version"] == MODEL_VERSION
    assert ":express:inference-test-express:" in answer.body["execution_arn"]


def test_an_uploaded_image_is_classified_stored_and_its_decision_published(inference_stack, api_url):
    answer = post(
        api_url, image_bytes(inference_stack, "motorcycle"), "image/png", inference_stack.aws.region, credentials=LOCAL
    )

    assert answer.status == 200, answer.body
    assert answer.body["route"] == "distant"
    key = answer.body["image"]["s3_key"]
    assert key.startswith("incoming/api/")
    stored = inference_stack.aws.client("s3").get_object(Bucket=inference_stack.bucket, Key=key)["Body"].read()
    assert stored == image_bytes(inference_stack, "motorcycle")
    decisions = inference_stack.decisions_for(key)
    assert [event["detail"]["route"] for event in decisions] == ["distant"]


def test_an_unsure_image_is_answered_human_review(inference_stack, api_url):
    answer = post(
        api_url, image_bytes(inference_stack, "ambiguous"), "image/png", inference_stack.aws.region, credentials=LOCAL
    )

    assert (answer.status, answer.body["route"], answer.body["review_reason"]) == (
        200,
        "human_review",
        "BelowConfidenceThreshold",
    )


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        (b'{"s3_bucket": "x", ', "application/json", 400, "InvalidRequest"),
        (b'{"s3_key": "incoming/a.png"}', "application/json", 400, "InvalidRequest"),
        (b"GIF89a not a photo", "image/png", 422, "InvalidImage"),
        (b"hello", "text/plain", 415, "UnsupportedMediaType"),
    ],
    ids=["broken-json", "missing-bucket", "gif", "text"],
)
def test_malformed_requests_get_a_4xx_with_a_named_reason(inference_stack, api_url, body, content_type, status, error):
    answer = post(api_url, body, content_type, inference_stack.aws.region, credentials=LOCAL)

    assert (answer.status, answer.body["error"]) == (status, error)
    assert answer.body["message"]


def test_an_object_that_is_not_an_image_is_rejected_by_the_workflow_as_a_4xx(inference_stack, api_url):
    location = {"s3_bucket": inference_stack.bucket, "s3_key": inference_stack.images["not_an_image"]}

    answer = post(
        api_url, json.dumps(location).encode(), "application/json", inference_stack.aws.region, credentials=LOCAL
    )

    assert (answer.status, answer.body["error"]) == (422, "InvalidImage")


def test_an_unsigned_request_is_forbidden_before_any_lambda_runs(inference_stack, api_url, functions_run):
    location = {"s3_bucket": inference_stack.bucket, "s3_key": inference_stack.images["bicycle"]}

    answer = post(api_url, json.dumps(location).encode(), "application/json", inference_stack.aws.region, sign=False)

    assert answer.status == 403
    assert functions_run == []


def test_an_oversize_body_is_refused_before_any_lambda_runs(inference_stack, api_url, functions_run):
    answer = post(api_url, b"\x89PNG" + bytes(5 * 2**20), "image/png", inference_stack.aws.region, credentials=LOCAL)

    assert answer.status == 413
    assert functions_run == []
