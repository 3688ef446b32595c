"""smoke_test against a test split in moto's S3 (in-process) and an endpoint that answers as told."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from shared.errors import InvalidEvent

from tests.conftest import FUNCTIONS_DIR

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REGION = "eu-west-1"
BUCKET = "cv-data-123456789012-eu-west-1"
EVENTS = FUNCTIONS_DIR / "smoke_test" / "events"
VERSION = "cv-pytorch-20240101-120000"


@pytest.fixture
def smoke(load_handler, monkeypatch):
    monkeypatch.setenv("CLASS_LABELS", "bicycle,motorcycle")
    monkeypatch.setenv("SMOKE_TEST_IMAGES", "4")
    module = load_handler("smoke_test")
    module.monkeypatch = monkeypatch  # run() swaps the handler's clients for the test's, undone after the test
    return module


@pytest.fixture
def s3() -> Iterator[Any]:
    """The sample event's test split: test.lst (index, label, file) and its PNGs."""
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        prefix = "datasets/cifar-bikes/test"
        rows = [(0, "bike_a.png"), (0, "bike_b.png"), (0, "bike_c.png"), (1, "moto_a.png"), (1, "moto_b.png")]
        client.put_object(
            Bucket=BUCKET,
            Key=f"{prefix}/test.lst",
            Body="".join(f"{i}\t{label}\t{name}\n" for i, (label, name) in enumerate(rows)),
        )
        for _label, name in rows:
            client.put_object(Bucket=BUCKET, Key=f"{prefix}/{name}", Body=b"\x89PNG " + name.encode())
        yield client


class Endpoint:
    """sagemaker-runtime as far as the smoke test uses it: the answer to each image, by file name."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.asked: list[bytes] = []

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        self.asked.append(request["Body"])
        answer = self.answer(request["Body"].decode(errors="replace")) if callable(self.answer) else self.answer
        if isinstance(answer, Exception):
            raise answer
        return {"Body": io.BytesIO(json.dumps(answer).encode() if not isinstance(answer, bytes) else answer)}


def answer_of(version: str, bicycle: float) -> dict[str, Any]:
    return {
        "probabilities": [bicycle, round(1 - bicycle, 6)],
        "labels": ["bicycle", "motorcycle"],
        "confidence_threshold": 0.8,
        "model_version": version,
    }


def run(smoke, s3, endpoint: Endpoint, lambda_context) -> dict[str, Any]:
    event = json.loads((EVENTS / "after_update.json").read_text())
    smoke.monkeypatch.setattr(smoke.boto3, "client", lambda service, **_: s3 if service == "s3" else endpoint)
    return smoke.lambda_handler(event, lambda_context)


def test_known_images_of_each_label_are_answered_by_the_new_version(smoke, s3, lambda_context, emitted_metrics):
    endpoint = Endpoint(lambda body: answer_of(VERSION, 0.9 if "bike" in body else 0.2))

    result = run(smoke, s3, endpoint, lambda_context)

    assert result["images"] == 4
    assert [a["label"] for a in result["answers"]] == ["bicycle", "motorcycle", "bicycle", "motorcycle"]
    assert result["correct"] == 4
    assert len(endpoint.asked) == 4
    metric_values = {m["name"]: m["value"] for m in emitted_metrics()}
    assert metric_values == {"SmokeTestImages": 4, "SmokeTestCorrect": 4}


def test_a_wrong_prediction_is_reported_not_failed(smoke, s3, lambda_context):
    result = run(smoke, s3, Endpoint(answer_of(VERSION, 0.9)), lambda_context)  # says bicycle to everything

    assert (result["images"], result["correct"]) == (4, 2)


def test_a_model_that_does_not_know_its_version_is_not_held_to_one(smoke, s3, lambda_context):
    result = run(smoke, s3, Endpoint(answer_of("unknown", 0.9)), lambda_context)

    assert result["images"] == 4


def test_a_bare_probability_list_is_read_as_an_older_model_answer(smoke, s3, lambda_context):
    result = run(smoke, s3, Endpoint([0.3, 0.7]), lambda_context)

    assert result["correct"] == 2


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (answer_of("cv-pytorch-older", 0.9), "SmokeTestWrongModel", "cv-pytorch-older"),
        ({"probabilities": [0.9, 0.3]}, "SmokeTestBadAnswer", "summing to 1"),
        ({"probabilities": [1.0]}, "SmokeTestBadAnswer", "expected 2 probabilities"),
        ({**answer_of(VERSION, 0.9), "labels": ["car", "bus"]}, "SmokeTestBadAnswer", "CLASS_LABELS"),
        ({"label": "bicycle"}, "SmokeTestBadAnswer", "not a JSON object with probabilities"),
        (b"not json", "SmokeTestEndpointError", "no JSON"),
        (
            ClientError({"Error": {"Code": "ModelError", "Message": "Received server error (500)"}}, "InvokeEndpoint"),
            "SmokeTestEndpointError",
            "Received server error",
        ),
    ],
)
def test_an_answer_that_is_not_the_new_versions_fails_by_name(smoke, s3, lambda_context, answer, error, message):
    with pytest.raises(Exception, match=message) as failed:
        run(smoke, s3, Endpoint(answer), lambda_context)
    assert type(failed.value).__name__ == error


def test_a_test_split_without_its_listing_fails_by_name(smoke, s3, lambda_context):
    s3.delete_object(Bucket=BUCKET, Key="datasets/cifar-bikes/test/test.lst")

    with pytest.raises(smoke.SmokeTestImagesMissing, match=r"test\.lst"):
        run(smoke, s3, Endpoint(answer_of(VERSION, 0.9)), lambda_context)


def test_an_event_without_the_model_version_is_refused(smoke, lambda_context):
    event = json.loads((EVENTS / "invalid_missing_model_version.json").read_text())

    with pytest.raises(InvalidEvent, match="model_version"):
        smoke.lambda_handler(event, lambda_context)


def test_bad_settings_are_a_configuration_error(smoke, monkeypatch, lambda_context):
    monkeypatch.setenv("SMOKE_TEST_IMAGES", "0")

    with pytest.raises(smoke.ConfigurationError, match="SMOKE_TEST_IMAGES"):
        smoke.settings({"CLASS_LABELS": "bicycle,motorcycle", "SMOKE_TEST_IMAGES": "0"})
    with pytest.raises(smoke.ConfigurationError, match="CLASS_LABELS"):
        smoke.settings({"CLASS_LABELS": "bicycle"})
