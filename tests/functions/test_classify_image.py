"""classify_image's handler with sagemaker-runtime stubbed at the botocore level (moto cannot take binary bodies)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import uuid

import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from shared.contracts import Classification, SerializedImage
from shared.errors import (
    ConfigurationError,
    EndpointThrottled,
    EndpointUnavailable,
    InvalidEvent,
    InvalidModelResponse,
    ModelError,
)

from tests.functions.conftest import load_event

# A handler that fails on its configuration has measured nothing; Powertools warns about the empty flush.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

ENDPOINT = "courier-vehicle-endpoint"
EVENT = load_event("classify_image", "serialized_png.json")
IMAGE = base64.b64decode(EVENT["image_data"])


@pytest.fixture(scope="module")
def app(load_handler):
    return load_handler("classify_image")


@pytest.fixture
def endpoint(app, monkeypatch):
    """The handler's own sagemaker-runtime client, stubbed; every queued answer must be used by the test."""
    monkeypatch.setenv("ENDPOINT_NAME", ENDPOINT)
    monkeypatch.setenv("CLASS_LABELS", "bicycle,motorcycle")
    with Stubber(app.sagemaker_runtime()) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def classify(app, lambda_context):
    def run(event):
        return app.lambda_handler(event, lambda_context)

    return run


def answer(
    stubber: Stubber,
    body,
    content_type: str = "application/x-image",
    image: bytes = IMAGE,
    inference_id: object = EVENT["workflow_execution"],
) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stubber.add_response(
        "invoke_endpoint",
        {
            "Body": StreamingBody(io.BytesIO(raw), len(raw)),
            "ContentType": "application/json",
            "InvokedProductionVariant": "AllTraffic",
        },
        expected_params={
            "EndpointName": ENDPOINT,
            "ContentType": content_type,
            "Accept": "application/json",
            "Body": image,
            "InferenceId": inference_id,
        },
    )


def test_probabilities_are_paired_with_the_configured_labels(endpoint, classify):
    answer(endpoint, [0.93, 0.07])

    result = classify(EVENT)

    assert result["labels"] == ["bicycle", "motorcycle"]
    assert result["inferences"] == [0.93, 0.07]
    assert "image_data" not in result
    assert {k: result[k] for k in ("s3_bucket", "s3_key", "content_type", "execution_name")} == {
        k: EVENT[k] for k in ("s3_bucket", "s3_key", "content_type", "execution_name")
    }
    Classification.model_validate(result)
    json.dumps(result)


def test_the_execution_s_name_is_the_inference_id_sent_and_returned(endpoint, classify):
    answer(endpoint, [0.93, 0.07], inference_id=EVENT["workflow_execution"])

    result = classify(EVENT)

    assert result["inference_id"] == EVENT["workflow_execution"]
    assert "workflow_execution" not in result, "the execution's name has done its job"


def test_a_name_that_is_no_valid_inference_id_is_hashed_the_same_way_every_attempt(endpoint, classify):
    name = "demo-" + "x" * 75  # Step Functions names reach 80 characters; InferenceId allows 64
    expected = hashlib.sha256(name.encode()).hexdigest()
    answer(endpoint, [0.93, 0.07], inference_id=expected)
    answer(endpoint, [0.93, 0.07], inference_id=expected)

    first, retried = classify({**EVENT, "workflow_execution": name}), classify({**EVENT, "workflow_execution": name})

    assert first["inference_id"] == retried["inference_id"] == expected
    assert len(expected) == 64


def test_a_direct_invocation_without_an_execution_gets_a_fresh_uuid(endpoint, classify):
    answer(endpoint, [0.93, 0.07], inference_id=ANY)
    answer(endpoint, [0.93, 0.07], inference_id=ANY)
    event = {k: v for k, v in EVENT.items() if k != "workflow_execution"}

    ids = {classify(event)["inference_id"], classify(event)["inference_id"]}

    assert len(ids) == 2
    assert all(uuid.UUID(value) for value in ids)


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("api-3f2b8c1e", True),
        ("x" * 64, True),
        ("x" * 65, False),
        (" leading-space", False),
        ("tab\tinside", False),
    ],
)
def test_inference_ids_are_valid_for_invoke_endpoint(app, name, kept):
    inference_id = app.inference_id_for(name)

    assert (inference_id == name) is kept
    assert 1 <= len(inference_id) <= 64
    assert inference_id.isprintable()
    assert not inference_id[0].isspace()
    SerializedImage.model_validate({**EVENT, "workflow_execution": name})


def test_the_model_s_object_gives_its_version_and_threshold(endpoint, classify):
    answer(
        endpoint,
        {
            "probabilities": [0.93, 0.07],
            "labels": ["bicycle", "motorcycle"],
            "confidence_threshold": 0.91,
            "model_version": "courier-vehicle-train-42",
        },
    )

    result = classify(EVENT)

    assert (result["model_version"], result["model_confidence_threshold"]) == ("courier-vehicle-train-42", 0.91)
    assert result["inferences"] == [0.93, 0.07]
    Classification.model_validate(result)


def test_a_bare_list_from_an_older_model_carries_no_threshold(endpoint, classify):
    answer(endpoint, [0.93, 0.07])

    result = classify(EVENT)

    assert result["model_version"] == "unknown"
    assert "model_confidence_threshold" not in result


def test_the_model_s_label_order_is_mapped_onto_class_labels(endpoint, classify):
    answer(endpoint, {"probabilities": [0.2, 0.8], "labels": ["motorcycle", "bicycle"], "model_version": "v"})

    result = classify(EVENT)

    assert dict(zip(result["labels"], result["inferences"], strict=True)) == {"bicycle": 0.8, "motorcycle": 0.2}
    assert result["labels"] == ["bicycle", "motorcycle"]


def test_label_order_comes_from_the_environment(endpoint, classify, monkeypatch):
    monkeypatch.setenv("CLASS_LABELS", " motorcycle , bicycle ")
    answer(endpoint, [0.2, 0.8])

    result = classify(EVENT)

    assert dict(zip(result["labels"], result["inferences"], strict=True)) == {"motorcycle": 0.2, "bicycle": 0.8}


@pytest.mark.parametrize(
    "body",
    [{"probabilities": [0.6, 0.4]}, {"probabilities": [[0.6, 0.4]]}, [[0.6, 0.4]], b"[0.6, 0.4]\n"],
    ids=["object", "object-batch-of-one", "batch-of-one", "built-in-algorithm-list"],
)
def test_accepted_response_shapes(endpoint, classify, body):
    answer(endpoint, body)

    assert classify(EVENT)["inferences"] == [0.6, 0.4]


def test_model_content_type_is_configurable(endpoint, classify, monkeypatch):
    monkeypatch.setenv("MODEL_CONTENT_TYPE", "image/png")
    answer(endpoint, [1, 0], content_type="image/png")

    assert classify(EVENT)["inferences"] == [1.0, 0.0]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([0.5, 0.3, 0.2], "3 probabilities for 2 labels"),
        ([0.9], "1 probabilities for 2 labels"),
        (["0.9", "0.1"], "not a number"),
        ([True, False], "not a number"),
        ([0.9, None], "not a number"),
        ([0.9, 0.9], "sum to"),
        ([3.2, -2.2], "outside"),
        (b"[NaN, 0.5]", "outside"),
        ({"predictions": [0.9, 0.1]}, "without 'probabilities'"),
        ("bicycle", "expected a JSON list"),
        ({"probabilities": [0.9, 0.1], "labels": ["car", "van"]}, "not CLASS_LABELS"),
        ({"probabilities": [0.9, 0.1], "confidence_threshold": 1.5}, "confidence_threshold"),
        ({"probabilities": [0.9, 0.1], "confidence_threshold": "0.9"}, "confidence_threshold"),
        ({"probabilities": [0.9, 0.1], "model_version": 7}, "model_version"),
        ({"probabilities": [[0.9, 0.1], [0.2, 0.8]]}, "2 rows"),
        (b"<html>502 Bad Gateway</html>", "non-JSON"),
        (b"\xff\xfe\x00", "non-JSON"),
    ],
    ids=[
        "too-many",
        "too-few",
        "strings",
        "booleans",
        "null",
        "sum",
        "logits",
        "nan",
        "wrong-key",
        "string",
        "other-labels",
        "threshold-out-of-range",
        "threshold-string",
        "version-number",
        "two-images",
        "html",
        "binary",
    ],
)
def test_unusable_answers_are_invalid_model_responses(endpoint, classify, body, reason):
    answer(endpoint, body)

    with pytest.raises(InvalidModelResponse, match=reason):
        classify(EVENT)


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("ThrottlingException", 400, EndpointThrottled),
        ("ModelNotReadyException", 429, EndpointThrottled),
        ("ServiceUnavailable", 503, EndpointUnavailable),
        ("InternalFailure", 500, EndpointUnavailable),
        ("InternalDependencyException", 530, EndpointUnavailable),
        ("BadGateway", 502, EndpointUnavailable),
        ("ModelError", 424, ModelError),
        ("ValidationError", 400, ModelError),
        ("AccessDeniedException", 403, ModelError),
    ],
)
def test_endpoint_errors_map_to_named_errors(endpoint, classify, code, status, error):
    endpoint.add_client_error(
        "invoke_endpoint", service_error_code=code, service_message="it went wrong", http_status_code=status
    )

    with pytest.raises(error, match=rf"{ENDPOINT}: {code} \(HTTP {status}\): it went wrong"):
        classify(EVENT)


def test_model_error_points_at_the_container_logs(endpoint, classify):
    log_stream = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/sagemaker/Endpoints/x:log-stream:AllTraffic/i-1"
    endpoint.add_client_error(
        "invoke_endpoint",
        service_error_code="ModelError",
        http_status_code=424,
        service_message="Received server error (500) from primary",
        modeled_fields={"OriginalStatusCode": 500, "OriginalMessage": "boom", "LogStreamArn": log_stream},
    )

    with pytest.raises(ModelError, match="container answered HTTP 500") as raised:
        classify(EVENT)
    assert log_stream in str(raised.value)


def test_an_unreachable_endpoint_is_unavailable(app, classify, monkeypatch):
    monkeypatch.setenv("ENDPOINT_NAME", ENDPOINT)
    monkeypatch.setenv("CLASS_LABELS", "bicycle,motorcycle")

    def refuse(request, **_kwargs):  # where the HTTP request would leave the machine
        raise EndpointConnectionError(endpoint_url=request.url)

    events = app.sagemaker_runtime().meta.events
    events.register("before-send.sagemaker-runtime.InvokeEndpoint", refuse)
    try:
        with pytest.raises(EndpointUnavailable, match="could not be reached"):
            classify(EVENT)
    finally:
        events.unregister("before-send.sagemaker-runtime.InvokeEndpoint", refuse)


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("ENDPOINT_NAME", None, "ENDPOINT_NAME is not set"),
        ("ENDPOINT_NAME", " ", "ENDPOINT_NAME is not set"),
        ("CLASS_LABELS", None, "CLASS_LABELS is not set"),
        ("CLASS_LABELS", "bicycle", "at least 2"),
        ("CLASS_LABELS", "bicycle,,motorcycle", "empty label"),
        ("CLASS_LABELS", "bicycle,bicycle", "repeats"),
    ],
)
def test_missing_or_bad_configuration(endpoint, classify, monkeypatch, variable, value, reason):
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigurationError, match=reason):
        classify(EVENT)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"image_data": None}, "image_data"),
        ({"image_data": "not base64!"}, "image_data"),
        ({"content_type": "image/gif"}, "content_type"),
        ({"s3_bucket": 7}, "s3_bucket"),
    ],
    ids=["image-missing", "image-not-base64", "gif", "bucket-number"],
)
def test_malformed_events_name_the_field(endpoint, classify, change, field):
    event = {k: v for k, v in {**EVENT, **change}.items() if v is not None}

    with pytest.raises(InvalidEvent, match=field):
        classify(event)


def test_metrics_record_latency_and_count(endpoint, classify, emitted_metrics):
    answer(endpoint, [0.93, 0.07])

    classify(EVENT)

    metrics = {m["name"]: m for m in emitted_metrics()}
    assert metrics["Classifications"]["value"] == 1
    assert metrics["EndpointLatency"]["unit"] == "Milliseconds"
    assert metrics["EndpointLatency"]["value"] >= 0


def test_failures_are_counted(endpoint, classify, emitted_metrics):
    endpoint.add_client_error("invoke_endpoint", service_error_code="ThrottlingException", http_status_code=400)

    with pytest.raises(EndpointThrottled):
        classify(EVENT)

    assert [m["name"] for m in emitted_metrics()] == ["ClassificationErrors"]


def test_the_client_is_made_once_and_only_when_first_needed(load_handler):
    fresh = load_handler("classify_image")

    assert fresh.sagemaker_runtime.cache_info().currsize == 0, "importing must not need AWS settings"
    assert fresh.sagemaker_runtime() is fresh.sagemaker_runtime()
