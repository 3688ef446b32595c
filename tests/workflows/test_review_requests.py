"""Every human-review message the inference workflow sends is a `shared.reviews.ReviewRequest`: the review
console parses the queue's bodies with that model, so a field added, renamed or dropped on one side only fails here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest
from shared.reviews import AUDIT_SAMPLE, ReviewReasonName, ReviewRequest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFINITION = json.loads((REPO_ROOT / "inference.asl.json").read_text())
SEND_MESSAGE = "arn:aws:states:::sqs:sendMessage"

# What each state's input holds when it sends, as the workflow's functions produce it (shared.contracts).
IMAGE = {"s3_bucket": "courier-images", "s3_key": "incoming/bike.png", "probe": False}
CLASSIFIED = {
    **IMAGE,
    "content_type": "image/png",
    "labels": ["bicycle", "motorcycle"],
    "inferences": [0.55, 0.45],
    "model_version": "courier-vehicle-train-1",
    "model_confidence_threshold": 0.8,
    "inference_id": "api-3f2b8c1e-5d4a-4e7b-9c0f-1a2b3c4d5e6f",
}
ROUTED = {
    **CLASSIFIED,
    "predicted_label": "bicycle",
    "confidence": 0.55,
    "confidence_threshold": 0.8,
    "threshold_source": "model",
}
ERROR = {"Error": "EndpointUnavailable", "Cause": "endpoint courier-vehicle: ServiceUnavailable (HTTP 503)"}
STATE_INPUTS = {
    "QueueUnclassifiedImage": {**IMAGE, "content_type": "image/png", "error": ERROR},
    "RequestHumanReview": {**ROUTED, "route": "human_review", "review_reason": "BelowConfidenceThreshold"},
    "QueueUnpublishedDecision": {**ROUTED, "confidence": 0.93, "route": "nearby", "error": ERROR},
    "QueueAuditSample": {**ROUTED, "confidence": 0.93, "route": "nearby", "audit_sample": True},
}


def send_message_states(states: dict[str, Any]) -> dict[str, dict]:
    return {name: state for name, state in states.items() if state.get("Resource") == SEND_MESSAGE}


def resolve(path: str, document: dict) -> Any:
    """A `$.a.b` reference path, the only kind the message bodies use."""
    assert path.startswith("$."), f"unexpected path {path}"
    assert "[" not in path, f"unexpected path {path}"
    value: Any = document
    for part in path[2:].split("."):
        assert part in value, f"{path} is not in the state's input"
        value = value[part]
    return value


def body_of(state: dict, state_input: dict) -> dict:
    body = {}
    for key, value in state["Parameters"]["MessageBody"].items():
        if key.endswith(".$"):
            body[key.removesuffix(".$")] = resolve(value, state_input)
        else:
            body[key] = value
    return body


def test_every_send_message_state_has_a_sample_input():
    assert set(send_message_states(DEFINITION["States"])) == set(STATE_INPUTS)


@pytest.mark.parametrize("name", sorted(STATE_INPUTS))
def test_the_message_body_uses_only_review_request_fields(name):
    keys = {key.removesuffix(".$") for key in DEFINITION["States"][name]["Parameters"]["MessageBody"]}

    assert keys <= set(ReviewRequest.model_fields), f"{name} sends fields ReviewRequest does not know"
    required = {field for field, info in ReviewRequest.model_fields.items() if info.is_required()}
    assert required <= keys


@pytest.mark.parametrize("name", sorted(STATE_INPUTS))
def test_the_message_body_parses_as_a_review_request(name):
    body = body_of(DEFINITION["States"][name], STATE_INPUTS[name])

    request = ReviewRequest.model_validate(body)

    assert request.model_dump(exclude_none=True, exclude_defaults=False).keys() >= body.keys() - {"probe"}
    assert request.reason in get_args(ReviewReasonName)


@pytest.mark.parametrize("name", sorted(set(STATE_INPUTS) - {"QueueUnclassifiedImage"}))
def test_a_classified_image_s_review_names_its_inference_id(name):
    body = body_of(DEFINITION["States"][name], STATE_INPUTS[name])

    assert ReviewRequest.model_validate(body).inference_id == CLASSIFIED["inference_id"]


def test_an_audit_sample_names_the_route_it_already_took():
    request = ReviewRequest.model_validate(
        body_of(DEFINITION["States"]["QueueAuditSample"], STATE_INPUTS["QueueAuditSample"])
    )

    assert (request.reason, request.route, request.predicted_label) == (AUDIT_SAMPLE, "nearby", "bicycle")
