"""The inference state machine executed on the embedded AWS: real Lambda zips, a real endpoint, real queue."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.workflows.conftest import (
    DECISION_DETAIL_TYPE,
    DECISION_SOURCE,
    MODEL_VERSION,
    THRESHOLD,
    entered_states,
)

pytestmark = pytest.mark.embedded


def state_outputs_after(events: list[dict], state: str) -> list[str]:
    """Every state output recorded after `state` was left."""
    outputs, seen = [], False
    for event in events:
        exited = event.get("stateExitedEventDetails")
        if seen and exited:
            outputs.append(exited.get("output", ""))
        if exited and exited["name"] == state:
            seen = True
    return outputs


def test_confident_bicycle_is_routed_to_nearby_orders(inference_stack):
    execution, events = inference_stack.execute(
        {"s3_bucket": inference_stack.bucket, "s3_key": inference_stack.images["bicycle"]}
    )

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    output = json.loads(execution["output"])
    assert output["predicted_label"] == "bicycle"
    assert output["route"] == "nearby"
    assert output["confidence"] == pytest.approx(0.97)
    assert output["labels"] == ["bicycle", "motorcycle"]
    assert (output["model_version"], output["confidence_threshold"]) == (MODEL_VERSION, THRESHOLD)
    assert output["threshold_source"] == "model"  # no Terraform override: the model's own threshold
    assert entered_states(events) == [
        "SerializeImage",
        "ClassifyImage",
        "FilterInferences",
        "RouteByVehicle",
        "PublishDecision",
        "DecisionPublished",
        "NearbyOrders",
    ]


def test_confident_motorcycle_is_routed_to_distant_orders(inference_stack):
    execution, events = inference_stack.execute(
        {"s3_bucket": inference_stack.bucket, "s3_key": inference_stack.images["motorcycle"]}
    )

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    output = json.loads(execution["output"])
    assert (output["predicted_label"], output["route"]) == ("motorcycle", "distant")
    assert entered_states(events)[-1] == "DistantOrders"


def test_image_data_does_not_travel_past_classification(inference_stack):
    _execution, events = inference_stack.execute(
        {"s3_bucket": inference_stack.bucket, "s3_key": inference_stack.images["motorcycle"]}
    )

    serialized = [
        e["stateExitedEventDetails"]["output"]
        for e in events
        if e.get("stateExitedEventDetails", {}).get("name") == "SerializeImage"
    ]
    assert "image_data" in json.loads(serialized[0])  # it does travel from serialize to classify
    later = state_outputs_after(events, "SerializeImage")
    assert later, "no state ran after SerializeImage"
    assert all("image_data" not in output for output in later)


def test_low_confidence_image_goes_to_the_human_review_queue(inference_stack):
    sqs = inference_stack.aws.client("sqs")
    execution, events = inference_stack.execute(
        {"s3_bucket": inference_stack.bucket, "s3_key": inference_stack.images["ambiguous"]}
    )

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    # Unsure is a route: the filter answered, a Choice sent it on; no task failed on the way.
    assert entered_states(events)[-6:] == [
        "FilterInferences",
        "RouteByVehicle",
        "RequestHumanReview",
        "PublishDecision",
        "DecisionPublished",
        "HumanReviewRequested",
    ]
    assert not [e for e in events if e["type"] in ("TaskFailed", "LambdaFunctionFailed")]
    output = json.loads(execution["output"])
    assert (output["route"], output["review_reason"]) == ("human_review", "BelowConfidenceThreshold")
    assert output["human_review"]["message_id"]
    messages = sqs.receive_message(QueueUrl=inference_stack.queue_url, MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(m["Body"]) for m in messages]
    mine = [b for b in bodies if b["s3_key"] == inference_stack.images["ambiguous"]]
    assert len(mine) == 1
    assert mine[0]["reason"] == "BelowConfidenceThreshold"
    assert mine[0]["inferences"] == pytest.approx([0.55, 0.45])
    assert (mine[0]["predicted_label"], mine[0]["confidence_threshold"]) == ("bicycle", THRESHOLD)
    assert mine[0]["model_version"] == MODEL_VERSION
    assert "image_data" not in messages[0]["Body"]


def test_an_object_that_is_not_an_image_fails_with_a_named_error(inference_stack):
    execution, events = inference_stack.execute(
        {"s3_bucket": inference_stack.bucket, "s3_key": inference_stack.images["not_an_image"]}
    )

    assert execution["status"] == "FAILED"
    assert execution["error"] == "InvalidImage"
    assert execution["cause"]
    assert entered_states(events) == ["SerializeImage", "ImageRejected"]


def test_a_missing_object_fails_with_a_named_error(inference_stack):
    execution, _events = inference_stack.execute(
        {"s3_bucket": inference_stack.bucket, "s3_key": inference_stack.images["missing"]}
    )

    assert execution["status"] == "FAILED"
    assert execution["error"] == "ImageNotFound"
    assert inference_stack.images["missing"] in execution["cause"]


def test_an_eventbridge_object_created_event_is_accepted(inference_stack):
    event = {
        "version": "0",
        "id": "7f3f9d0e-1f7a-4a4e-9f0e-2b1f6b0a9c11",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-23T12:00:00Z",
        "region": inference_stack.aws.region,
        "resources": [f"arn:aws:s3:::{inference_stack.bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": inference_stack.bucket},
            "object": {"key": inference_stack.images["bicycle"], "size": 1000},
            "request-id": "R1",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }
    execution, _events = inference_stack.execute(event)

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert json.loads(execution["output"])["route"] == "nearby"


def test_endpoint_traffic_is_captured_in_sagemaker_format(inference_stack):
    inference_stack.execute({"s3_bucket": inference_stack.bucket, "s3_key": inference_stack.images["bicycle"]})
    s3 = inference_stack.aws.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=inference_stack.capture_bucket, Prefix="capture/")["Contents"]]
    assert keys
    prefix = f"capture/{inference_stack.endpoint_name}/AllTraffic/"
    assert all(k.startswith(prefix) and k.endswith(".jsonl") for k in keys)
    hour_path = keys[0][len(prefix) :].split("/")[:4]  # yyyy/mm/dd/hh
    assert [len(part) for part in hour_path] == [4, 2, 2, 2]
    record = json.loads(s3.get_object(Bucket=inference_stack.capture_bucket, Key=keys[0])["Body"].read())
    endpoint_input = record["captureData"]["endpointInput"]
    assert endpoint_input["encoding"] == "BASE64"
    assert endpoint_input["observedContentType"] == "application/x-image"
    assert base64.b64decode(endpoint_input["data"]).startswith(b"\x89PNG")
    endpoint_output = record["captureData"]["endpointOutput"]
    assert len(json.loads(endpoint_output["data"])["probabilities"]) == 2
    assert record["eventMetadata"]["eventId"]
    assert record["eventMetadata"]["inferenceTime"].endswith("Z")


def test_the_express_workflow_answers_the_route_synchronously_and_logs_the_path(inference_stack):
    answer = inference_stack.execute_sync(
        {"s3_bucket": inference_stack.bucket, "s3_key": inference_stack.images["motorcycle"]}
    )

    assert answer["status"] == "SUCCEEDED", answer.get("cause")
    assert json.loads(answer["output"])["route"] == "distant"
    assert ":express:inference-test-express:" in answer["executionArn"]
    from demo.execution_logs import states_entered

    records = inference_stack.execution_log(answer["executionArn"])
    assert states_entered(records)[-4:] == ["RouteByVehicle", "PublishDecision", "DecisionPublished", "DistantOrders"]
    assert "image_data" not in json.dumps(records)  # the image never reaches CloudWatch Logs


def test_an_express_execution_cannot_be_described_as_on_aws(inference_stack):
    answer = inference_stack.execute_sync(
        {"s3_bucket": inference_stack.bucket, "s3_key": inference_stack.images["not_an_image"]}
    )

    assert (answer["status"], answer["error"]) == ("FAILED", "InvalidImage")  # the caller still learns why
    with pytest.raises(ClientError) as refused:
        inference_stack.aws.client("stepfunctions").describe_execution(executionArn=answer["executionArn"])
    assert refused.value.response["Error"]["Code"] == "InvalidArn"


@pytest.mark.parametrize(
    ("role", "route", "label"),
    [
        ("bicycle", "nearby", "bicycle"),
        ("motorcycle", "distant", "motorcycle"),
        ("ambiguous", "human_review", "bicycle"),
    ],
)
def test_every_decision_is_published_once_on_the_decision_bus(inference_stack, role, route, label):
    key = f"incoming/decision-{role}-{uuid.uuid4().hex[:8]}.png"
    inference_stack.aws.client("s3").copy_object(
        Bucket=inference_stack.bucket,
        Key=key,
        CopySource={"Bucket": inference_stack.bucket, "Key": inference_stack.images[role]},
    )
    answer = inference_stack.execute_sync({"s3_bucket": inference_stack.bucket, "s3_key": key})
    assert answer["status"] == "SUCCEEDED", answer.get("cause")

    events = inference_stack.decisions_for(key, expected=2, timeout=3)  # wait a little for a second one

    assert len(events) == 1, f"expected exactly one decision for {key}, got {len(events)}"
    event = events[0]
    assert (event["source"], event["detail-type"]) == (DECISION_SOURCE, DECISION_DETAIL_TYPE)
    detail = event["detail"]
    assert detail["image"] == {"s3_bucket": inference_stack.bucket, "s3_key": key}
    assert (detail["route"], detail["predicted_label"], detail["decided_by"]) == (route, label, "model")
    assert (detail["model_version"], detail["confidence_threshold"]) == (MODEL_VERSION, THRESHOLD)
    assert detail["confidence"] == json.loads(answer["output"])["confidence"]
    assert detail["execution_arn"] == answer["executionArn"]
    assert json.loads(answer["output"])["decision_event"]["event_id"]
