"""Property tests: whatever JSON arrives, a handler returns a JSON-able dict or raises a named WorkflowError.

A KeyError, TypeError or botocore validation error escaping a handler would reach Step Functions as an
unnamed error that no Catch expects; these tests feed arbitrary and almost-valid events to all three handlers.
"""

from __future__ import annotations

import io
import json
from typing import Any

import hypothesis
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shared.errors import WorkflowError

from tests.functions.conftest import BUCKET, FakeLambdaContext, load_event
from tests.functions.synthetic_images import encode, noise

# The fixtures used here hold no per-example state, so sharing them across examples is intended.
PROPERTIES = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

CONTEXT = FakeLambdaContext()
KEYS = {"ok.png": encode(noise(16, 16), "PNG"), "notes.png": b"plain text", "empty.png": b""}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["", "\ud800", "image/png", "bicycle", "0.9", BUCKET, "ok.png"])
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def almost(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """`valid` with some keys dropped, some values replaced by arbitrary JSON, and a few keys added."""
    keys = sorted(valid)
    return st.just(valid) | st.builds(
        lambda dropped, replaced, added: {
            **added,
            **{k: v for k, v in valid.items() if k not in dropped},
            **replaced,
        },
        st.sets(st.sampled_from(keys)),
        st.dictionaries(st.sampled_from(keys), json_values, max_size=3),
        st.dictionaries(st.text(max_size=8), json_values, max_size=2),
    )


def either(valid: st.SearchStrategy) -> st.SearchStrategy:
    return valid | json_values


eventbridge_events = st.fixed_dictionaries(
    {
        "detail-type": either(st.just("Object Created")),
        "source": either(st.just("aws.s3")),
        "detail": either(
            st.fixed_dictionaries(
                {
                    "bucket": either(st.fixed_dictionaries({"name": either(st.just(BUCKET))})),
                    "object": either(st.fixed_dictionaries({"key": either(st.sampled_from(sorted(KEYS)))})),
                }
            )
        ),
    }
)


def named_errors_only(handler, payload) -> None:
    try:
        result = handler(payload, CONTEXT)
    except WorkflowError as error:
        hypothesis.event(f"raised {type(error).__name__}")  # see: pytest --hypothesis-show-statistics
        return
    hypothesis.event("returned a result")
    assert isinstance(result, dict)
    json.dumps(result, allow_nan=False)


@pytest.fixture(scope="module")
def serializer(load_handler, s3):
    for key, body in KEYS.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return load_handler("serialize_image")


@pytest.fixture(scope="module")
def classifier(load_handler):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ENDPOINT_NAME", "courier-vehicle-endpoint")
        env.setenv("CLASS_LABELS", "bicycle,motorcycle")
        yield load_handler("classify_image")


@pytest.fixture(scope="module")
def router(load_handler):
    return load_handler("filter_inferences")


@PROPERTIES
@given(
    event=json_values
    | almost({"s3_bucket": BUCKET, "s3_key": "ok.png", "execution_name": "run-1"})
    | st.fixed_dictionaries({"s3_bucket": either(st.just(BUCKET)), "s3_key": either(st.sampled_from(sorted(KEYS)))})
    | eventbridge_events
)
def test_serialize_image_raises_only_named_errors(serializer, event):
    named_errors_only(serializer.lambda_handler, event)


@PROPERTIES
@given(
    event=json_values | almost(load_event("classify_image", "serialized_png.json")),
    answer=json_values | st.floats(min_value=0, max_value=1).map(lambda p: [p, 1 - p]),
)
def test_classify_image_raises_only_named_errors(classifier, event, answer):
    body = json.dumps(answer).encode()
    with Stubber(classifier.sagemaker_runtime()) as endpoint:
        endpoint.add_response("invoke_endpoint", {"Body": StreamingBody(io.BytesIO(body), len(body))})
        named_errors_only(classifier.lambda_handler, event)


@PROPERTIES
@given(
    event=json_values
    | almost(load_event("filter_inferences", "confident_bicycle.json"))
    | almost(load_event("filter_inferences", "low_confidence.json"))
)
def test_filter_inferences_raises_only_named_errors(router, event):
    named_errors_only(router.lambda_handler, event)


@pytest.fixture(scope="module")
def api(load_handler, s3):
    """inference_api with every StartSyncExecution failing to connect (the workflow is not what is tested here)."""
    from botocore.exceptions import EndpointConnectionError

    with pytest.MonkeyPatch.context() as env:
        env.setenv("STATE_MACHINE_ARN", "arn:aws:states:eu-west-1:123456789012:stateMachine:courier-vehicle-inference")
        env.setenv("UPLOAD_BUCKET", BUCKET)
        env.setenv("UPLOAD_PREFIX", "incoming/api/")
        env.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # the module-scoped client is made before the test's env
        module = load_handler("inference_api")

        def refuse(request, **_kwargs):
            raise EndpointConnectionError(endpoint_url=request.url)

        events = module.states_client(module.DEFAULT_ANSWER_TIMEOUT_SECONDS).meta.events
        events.register("before-send.sfn.StartSyncExecution", refuse)
        yield module
        events.unregister("before-send.sfn.StartSyncExecution", refuse)


API_LOCATION = load_event("inference_api", "post_s3_location.json")
API_PNG = load_event("inference_api", "post_png.json")


@PROPERTIES
@given(
    body=json_values.map(json.dumps)
    | st.text(max_size=40)
    | st.sampled_from([json.dumps({"s3_bucket": BUCKET, "s3_key": "ok.png"})]),
    content_type=st.sampled_from(["application/json", "image/png", "image/jpeg", "text/plain", ""])
    | st.text(max_size=12),
    base64_encoded=st.booleans(),
    method=st.sampled_from(["POST", "GET", "PUT"]),
)
def test_inference_api_always_answers_http_with_a_named_reason(api, body, content_type, base64_encoded, method):
    event = API_LOCATION | {
        "body": body,
        "isBase64Encoded": base64_encoded,
        "headers": API_LOCATION["headers"] | {"content-type": content_type},
        "requestContext": API_LOCATION["requestContext"]
        | {"http": API_LOCATION["requestContext"]["http"] | {"method": method}},
    }
    response = api.lambda_handler(event, CONTEXT)

    assert isinstance(response["statusCode"], int)
    answer = json.loads(response["body"])
    if response["statusCode"] >= 400:
        assert answer["error"]
        assert isinstance(answer["message"], str)
    hypothesis.event(f"HTTP {response['statusCode']} {answer.get('error', '')}")
