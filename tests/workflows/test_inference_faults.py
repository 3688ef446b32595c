"""Faults switched on in the embedded AWS, survived (or failed by name, the image kept) by the inference workflow."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest
from local_aws.endpoints import EndpointFault
from local_aws.lambda_runtime import LambdaFault

from tests.workflows.conftest import SHORT_TIMEOUT_S, create_state_machine, entered_states, failed_attempts

pytestmark = pytest.mark.embedded

STATE_OF_STEP = {
    "serialize_image": "SerializeImage",
    "classify_image": "ClassifyImage",
    "filter_inferences": "FilterInferences",
}
FAIL_STATE_OF_STEP = {
    "serialize_image": "SerializationFailed",
    "classify_image": "ClassificationFailed",
    "filter_inferences": "FilteringFailed",
}
CRASH_AND_TIMEOUT_ATTEMPTS = 3  # inference.asl.json: the first try and MaxAttempts 2 retries


@pytest.fixture
def faults(inference_stack):
    table = inference_stack.aws.endpoints.faults
    yield table
    table.clear()


@pytest.fixture
def lambda_faults(inference_stack):
    table = inference_stack.aws.lambdas.faults
    yield table
    table.clear()


def fresh_copy(stack, role: str) -> str:
    """A new S3 key holding one of the test images, so queue messages can be told apart from other tests'."""
    key = f"incoming/{role}-{uuid.uuid4().hex[:8]}.png"
    stack.aws.client("s3").copy_object(
        Bucket=stack.bucket, Key=key, CopySource={"Bucket": stack.bucket, "Key": stack.images[role]}
    )
    return key


def review_messages_for(stack, key: str) -> list[dict]:
    """Every human-review message about `key` (received and deleted, so each is seen once)."""
    sqs, found = stack.aws.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            body = json.loads(message["Body"])
            if body["s3_key"] == key:
                found.append(body)
                sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_endpoint_throttling_is_retried_until_the_image_is_classified(inference_stack, faults):
    faults[inference_stack.endpoint_name] = EndpointFault("ThrottlingException", count=2)
    execution, events = inference_stack.execute(
        {"s3_bucket": inference_stack.bucket, "s3_key": inference_stack.images["bicycle"]}
    )

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
        {"s3_bucket": inference_stack.bucket, "s3_key": inference_stack.images["bicycle"]}
    )

    assert execution["status"] == "FAILED"
    assert execution["error"] == "ClassificationFailed"
    assert "ModelError" in execution["cause"]
    assert len([e for e in events if e["type"] == "TaskFailed"]) == 1


@pytest.mark.parametrize("step", list(STATE_OF_STEP))
def test_a_lambda_crash_is_retried_and_the_image_still_routed(inference_stack, lambda_faults, step):
    lambda_faults[inference_stack.functions[step]] = LambdaFault("crash", count=1)
    execution, events = inference_stack.execute(
        {"s3_bucket": inference_stack.bucket, "s3_key": inference_stack.images["bicycle"]}
    )

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert json.loads(execution["output"])["route"] == "nearby"
    attempts = failed_attempts(events)
    assert [(state, error) for state, error, _cause in attempts] == [(STATE_OF_STEP[step], "Runtime.ExitError")]
    cause = json.loads(attempts[0][2])
    assert cause["errorType"] == "Runtime.ExitError"
    assert cause["errorMessage"].endswith("Error: Runtime exited with error: exit status 1")
    assert entered_states(events).count(STATE_OF_STEP[step]) == 1  # a retry stays in the state
    assert lambda_faults[inference_stack.functions[step]].count == 0


@pytest.mark.parametrize("step", list(STATE_OF_STEP))
def test_lambda_crashes_beyond_the_retry_budget_fail_by_name(inference_stack, lambda_faults, step):
    lambda_faults[inference_stack.functions[step]] = LambdaFault("crash", count=CRASH_AND_TIMEOUT_ATTEMPTS)
    key = fresh_copy(inference_stack, "bicycle")
    execution, events = inference_stack.execute({"s3_bucket": inference_stack.bucket, "s3_key": key})

    assert execution["status"] == "FAILED"
    assert execution["error"] == FAIL_STATE_OF_STEP[step]
    assert json.loads(execution["cause"])["errorType"] == "Runtime.ExitError"
    assert entered_states(events)[-1] == FAIL_STATE_OF_STEP[step]
    assert [(state, error) for state, error, _cause in failed_attempts(events)] == [
        (STATE_OF_STEP[step], "Runtime.ExitError")
    ] * CRASH_AND_TIMEOUT_ATTEMPTS
    assert lambda_faults[inference_stack.functions[step]].count == 0  # no attempt more, none less
    kept = review_messages_for(inference_stack, key)
    if step == "classify_image":
        assert entered_states(events)[-2] == "QueueUnclassifiedImage"
        assert len(kept) == 1
        assert kept[0]["reason"] == "ClassificationFailed"
        assert kept[0]["error"]["Error"] == "Runtime.ExitError"
        assert "image_data" not in json.dumps(kept[0])
    else:
        assert kept == []


def test_a_classify_timeout_is_retried_and_the_image_classified(short_timeout_stack, lambda_faults):
    stack = short_timeout_stack
    lambda_faults[stack.functions["classify_image"]] = LambdaFault("timeout", count=1)
    execution, events = stack.execute({"s3_bucket": stack.bucket, "s3_key": stack.images["motorcycle"]})

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert json.loads(execution["output"])["route"] == "distant"
    attempts = failed_attempts(events)
    assert [(state, error) for state, error, _cause in attempts] == [("ClassifyImage", "Sandbox.Timedout")]
    message = json.loads(attempts[0][2])["errorMessage"]
    assert message.endswith(f"Error: Task timed out after {SHORT_TIMEOUT_S:.2f} seconds")
    assert lambda_faults[stack.functions["classify_image"]].count == 0


def test_classify_timeouts_beyond_the_retry_budget_fail_by_name_and_keep_the_image(short_timeout_stack, lambda_faults):
    stack = short_timeout_stack
    lambda_faults[stack.functions["classify_image"]] = LambdaFault("timeout", count=CRASH_AND_TIMEOUT_ATTEMPTS)
    key = fresh_copy(stack, "motorcycle")
    execution, events = stack.execute({"s3_bucket": stack.bucket, "s3_key": key})

    assert execution["status"] == "FAILED"
    assert execution["error"] == "ClassificationFailed"
    assert json.loads(execution["cause"])["errorType"] == "Sandbox.Timedout"
    assert entered_states(events)[-2:] == ["QueueUnclassifiedImage", "ClassificationFailed"]
    assert [(state, error) for state, error, _cause in failed_attempts(events)] == [
        ("ClassifyImage", "Sandbox.Timedout")
    ] * CRASH_AND_TIMEOUT_ATTEMPTS
    assert lambda_faults[stack.functions["classify_image"]].count == 0
    kept = review_messages_for(stack, key)
    assert [(m["reason"], m["error"]["Error"]) for m in kept] == [("ClassificationFailed", "Sandbox.Timedout")]


@pytest.fixture(scope="module")
def busless_stack(inference_stack):
    """The workflow publishing to a bus that does not exist: every PutEvents fails."""
    missing = inference_stack.decision_bus_arn.rsplit("/", 1)[0] + "/no-such-bus"
    stack = dataclasses.replace(inference_stack, decision_bus_arn=missing)
    return dataclasses.replace(
        stack, state_machine_arn=create_state_machine(stack, "inference-test-no-bus", stack.function_arns)
    )


@pytest.mark.parametrize(
    ("role", "reason"), [("bicycle", "DecisionNotPublished"), ("ambiguous", "BelowConfidenceThreshold")]
)
def test_a_decision_that_cannot_be_published_fails_by_name_and_keeps_the_image_once(busless_stack, role, reason):
    key = fresh_copy(busless_stack, role)
    execution, events = busless_stack.execute({"s3_bucket": busless_stack.bucket, "s3_key": key})

    assert execution["status"] == "FAILED"
    assert execution["error"] == "DecisionNotPublished"
    assert [state for state, _error, _cause in failed_attempts(events)] == ["PublishDecision"] * 4  # 1 + 3 retries
    kept = review_messages_for(busless_stack, key)
    assert [message["reason"] for message in kept] == [reason]  # a person has it: queued once, not twice
