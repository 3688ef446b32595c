"""Inference ids and audit samples, run on the embedded AWS: the id the endpoint was invoked with is the one data
capture records, the decision event carries and a review names; a confident route sampled for audit is routed and
published as any other, then queued for a person (AuditSample), and a failure to queue it fails nothing."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from shared.reviews import AUDIT_SAMPLE, ReviewRequest

from tests.workflows.conftest import METRICS_NAMESPACE, InferenceStack, entered_states

pytestmark = pytest.mark.embedded

CONFIDENT = {"bicycle": ("nearby", "NearbyOrders"), "motorcycle": ("distant", "DistantOrders")}


def run(stack: InferenceStack, role: str) -> tuple[str, dict, list[dict]]:
    """One execution under a fresh name (what its inference id must be): (name, output, history events)."""
    name = f"audit-{role}-{uuid.uuid4().hex[:12]}"
    execution, events = stack.execute({"s3_bucket": stack.bucket, "s3_key": stack.images[role]}, name=name)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    return name, json.loads(execution["output"]), events


def review_messages(stack: InferenceStack, key: str, timeout: float = 5) -> list[dict]:
    """The review queue's messages about one image (taken off the queue; others put back)."""
    sqs, found, others, deadline = stack.aws.client("sqs"), [], [], time.time() + timeout
    while time.time() < deadline:
        batch = sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30).get(
            "Messages", []
        )
        if not batch and found:
            break
        for message in batch:
            body = json.loads(message["Body"])
            if body.get("s3_key") == key:
                found.append(body)
                sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                others.append(message["ReceiptHandle"])
        if not batch:
            time.sleep(0.2)
    for handle in others:
        sqs.change_message_visibility(QueueUrl=stack.queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return found


def decision_of(stack: InferenceStack, key: str, execution_name: str) -> dict[str, Any]:
    decisions = [d["detail"] for d in stack.decisions_for(key) if d["detail"]["execution_arn"].endswith(execution_name)]
    assert len(decisions) == 1, f"expected one decision event for {execution_name}, got {decisions}"
    return decisions[0]


def captured_inference_ids(stack: InferenceStack) -> list[str]:
    s3 = stack.aws.client("s3")
    ids = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.capture_bucket, Prefix="capture/"):
        for item in page.get("Contents", []):
            for line in s3.get_object(Bucket=stack.capture_bucket, Key=item["Key"])["Body"].iter_lines():
                ids.append(json.loads(line)["eventMetadata"].get("inferenceId"))
    return ids


def test_the_execution_s_name_is_the_inference_id_everywhere(inference_stack):
    name, output, _events = run(inference_stack, "bicycle")

    assert output["inference_id"] == name
    assert name in captured_inference_ids(inference_stack), "data capture records eventMetadata.inferenceId"
    decision = decision_of(inference_stack, inference_stack.images["bicycle"], name)
    assert (decision["inference_id"], decision["audit_sample"]) == (name, False)


def test_an_unsure_image_s_review_names_its_inference_id(inference_stack):
    name, output, _events = run(inference_stack, "ambiguous")

    assert output["route"] == "human_review"
    messages = [
        ReviewRequest.model_validate(m) for m in review_messages(inference_stack, inference_stack.images["ambiguous"])
    ]
    assert [(m.reason, m.inference_id) for m in messages] == [("BelowConfidenceThreshold", name)]
    inference_stack.decisions_for(inference_stack.images["ambiguous"])


def test_at_rate_zero_a_confident_route_is_not_sent_to_review(inference_stack):
    name, output, events = run(inference_stack, "motorcycle")

    assert (output["route"], output["audit_sample"]) == ("distant", False)
    assert "QueueAuditSample" not in entered_states(events)
    assert review_messages(inference_stack, inference_stack.images["motorcycle"], timeout=2) == []
    decision_of(inference_stack, inference_stack.images["motorcycle"], name)


@pytest.mark.parametrize("role", sorted(CONFIDENT))
def test_at_rate_one_every_confident_route_is_published_then_audited(audited_stack, role):
    route, end_state = CONFIDENT[role]
    key = audited_stack.images[role]

    name, output, events = run(audited_stack, role)

    assert (output["route"], output["audit_sample"], output["inference_id"]) == (route, True, name)
    states = entered_states(events)
    assert states.index("PublishDecision") < states.index("QueueAuditSample"), "the decision goes out first"
    assert states[-2:] == ["AuditedRoute", end_state]
    decision = decision_of(audited_stack, key, name)
    assert (decision["route"], decision["decided_by"], decision["audit_sample"]) == (route, "model", True)
    messages = [ReviewRequest.model_validate(m) for m in review_messages(audited_stack, key)]
    assert [(m.reason, m.route, m.inference_id, m.predicted_label) for m in messages] == [
        (AUDIT_SAMPLE, route, name, role)
    ]


def test_an_unsure_image_is_reviewed_once_not_audited(audited_stack):
    name, output, _events = run(audited_stack, "ambiguous")

    assert (output["route"], output["audit_sample"]) == ("human_review", False)
    messages = review_messages(audited_stack, audited_stack.images["ambiguous"])
    assert [(m["reason"], m["inference_id"]) for m in messages] == [("BelowConfidenceThreshold", name)]
    audited_stack.decisions_for(audited_stack.images["ambiguous"])


def test_an_audit_sample_that_cannot_be_queued_fails_nothing_and_is_counted(unqueueable_audit_stack):
    stack = unqueueable_audit_stack
    started = time.time()

    name, output, events = run(stack, "bicycle")

    assert (output["route"], output["audit_sample"]) == ("nearby", True)
    assert entered_states(events)[-3:] == ["CountAuditSampleNotQueued", "AuditedRoute", "NearbyOrders"]
    assert decision_of(stack, stack.images["bicycle"], name)["route"] == "nearby"
    cloudwatch = stack.aws.client("cloudwatch")
    statistics = cloudwatch.get_metric_statistics(
        Namespace=METRICS_NAMESPACE,
        MetricName="AuditSampleNotQueued",
        Dimensions=[{"Name": "service", "Value": "inference_workflow"}],
        StartTime=started - 60,
        EndTime=time.time() + 60,
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    assert sum(point["Sum"] for point in statistics) >= 1
