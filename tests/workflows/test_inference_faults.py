"""Faults switched on in the embedded AWS, survived (or failed by name, the image kept) by the inference workflow."""

from __future__ import annotations

import json

import pytest
from local_aws.endpoints import EndpointFault

from tests.workflows.conftest import entered_states

pytestmark = pytest.mark.embedded


@pytest.fixture
def faults(inference_stack):
    table = inference_stack.aws.endpoints.faults
    yield table
    table.clear()


def test_endpoint_throttling_is_retried_until_the_image_is_classified(inference_stack, faults):
    faults[inference_stack.endpoint_name] = EndpointFault("ThrottlingException", count=2)
    execution, events = inference_stack.execute(
        {"s3_bucket": inference_stack.bucket, "s3_key": inference_stack.images["bicycle"]})

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert json.loads(execution["output"])["route"] == "nearby"
    assert entered_states(events).count("ClassifyImage") == 1
    failed_attempts = [e for e in events if e["type"] == "TaskFailed"]
    assert len(failed_attempts) == 2
    assert all(e["taskFailedEventDetails"]["error"] == "EndpointThrottled" for e in failed_attempts)
    assert faults[inference_stack.endpoint_name].count == 0


def test_endpoint_errors_beyond_the_retry_budget_fail_by_name_and_keep_the_image(inference_stack, faults):
    faults[inference_stack.endpoint_name] = EndpointFault("ServiceUnavailable", count=50)
    key = inference_stack.images["motorcycle"]
    execution, events = inference_stack.execute({"s3_bucket": inference_stack.bucket, "s3_key": key})

    assert execution["status"] == "FAILED"
    assert execution["error"] == "ClassificationFailed"
    assert "EndpointUnavailable" in execution["cause"]
    assert entered_states(events)[-2:] == ["QueueUnclassifiedImage", "ClassificationFailed"]
    assert len([e for e in events if e["type"] == "TaskFailed"]) == 5  # the first try and 4 retries
    sqs = inference_stack.aws.client("sqs")
    messages = sqs.receive_message(QueueUrl=inference_stack.queue_url, MaxNumberOfMessages=10)["Messages"]
    kept = [json.loads(m["Body"]) for m in messages if json.loads(m["Body"])["s3_key"] == key]
    assert len(kept) == 1
    assert kept[0]["reason"] == "ClassificationFailed"
    assert all("image_data" not in m["Body"] for m in messages)


def test_a_model_error_is_not_retried(inference_stack, faults):
    faults[inference_stack.endpoint_name] = EndpointFault("ModelError", count=1)
    execution, events = inference_stack.execute(
        {"s3_bucket": inference_stack.bucket, "s3_key": inference_stack.images["bicycle"]})

    assert execution["status"] == "FAILED"
    assert execution["error"] == "ClassificationFailed"
    assert "ModelError" in execution["cause"]
    assert len([e for e in events if e["type"] == "TaskFailed"]) == 1
