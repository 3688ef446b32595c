"""The human-review loop's shapes, each defined once: what waits on the review queue, what a reviewer decided,
and where each decision is stored.

inference workflow --ReviewRequest--> human-review queue --> review_console (a person) --> ReviewRecord:
- published as a decision event (`decided_by: "reviewer"`) on the stack's decision bus,
- stored as one JSON object under the review-records prefix (`review_record_key`): what the ETL's
  `--add-reviewed` and the retrain guard's label count read,
- and, for a vehicle label, as one SageMaker ground-truth line under the ground-truth prefix
  (`ground_truth_key`, `ground_truth_line`), which `monitoring/model_quality.py` matches to the captured
  prediction by `inference_id` (the InvokeEndpoint InferenceId).

Ground-truth format and path: https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-merge.html
(one JSON object per line: groundTruthData {data, encoding}, eventMetadata {eventId}, eventVersion "0"; objects
under `<prefix>/yyyy/mm/dd/hh/`, the hour the labels were collected).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Literal

from aws_lambda_powertools.utilities.parser import BaseModel, Field
from pydantic import ConfigDict

from shared.contracts import BucketName, ImageRef, Label, ModelVersion, ObjectKey, Probability, RouteName

VEHICLE_LABELS = ("bicycle", "motorcycle")
"""The labels a reviewer may give that are ground truth for the model (its classes)."""
NOT_A_VEHICLE = "neither"
"""A reviewer's answer for a photo that shows neither vehicle: no route, no ground truth, not training data."""
REVIEW_LABELS = (*VEHICLE_LABELS, NOT_A_VEHICLE)
NOT_A_VEHICLE_ROUTE = "retake_photo"
"""The route published for `neither`: dispatch asks the courier for a new photo."""
AUDIT_SAMPLE = "AuditSample"
"""review reason of a confident, already routed image sampled for review, so automatic precision is measured."""

ReviewReasonName = Literal[
    "BelowConfidenceThreshold", "TopLabelsTied", "AuditSample", "ClassificationFailed", "DecisionNotPublished"
]
InferenceId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\S[\x20-\x7e]*$")]
"""InvokeEndpoint's InferenceId: 1-64 printable characters, not starting with whitespace (SageMaker API reference)."""


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ReviewRequest(_Shape):
    """The body of a human-review queue message, as the inference workflow sends it (inference.asl.json).

    Only the image and the reason are always there: an image the endpoint could not classify has no guess.
    `route` is the route the model already took (AuditSample, DecisionNotPublished); `inference_id` is absent
    for images that never reached the endpoint.
    """

    s3_bucket: BucketName
    s3_key: ObjectKey
    reason: ReviewReasonName
    predicted_label: Label | None = None
    confidence: Probability | None = None
    confidence_threshold: Probability | None = None
    route: RouteName | None = None
    model_version: ModelVersion | None = None
    inference_id: InferenceId | None = None
    probe: bool = False


class ReviewRecord(_Shape):
    """One decided review: stored as JSON under the review-records prefix, and the source of its decision event."""

    review_id: Annotated[str, Field(min_length=1, max_length=128)]
    decision_key: Annotated[str, Field(min_length=1, max_length=1100)]
    """What makes two reviews "the same image": the inference_id, else the queue message id."""
    image: ImageRef
    label: Literal["bicycle", "motorcycle", "neither"]
    route: RouteName
    reason: ReviewReasonName
    reviewer: Annotated[str, Field(min_length=1, max_length=128)]
    decided_at: datetime
    predicted_label: Label | None = None
    confidence: Probability | None = None
    model_route: RouteName | None = None
    model_version: ModelVersion | None = None
    inference_id: InferenceId | None = None
    probe: bool = False
    """True for the synthetic probe's images (known test images): never training data."""

    @property
    def is_ground_truth(self) -> bool:
        return self.label in VEHICLE_LABELS


def _hour_path(prefix: str, moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{prefix.strip('/')}/{moment:%Y/%m/%d/%H}"


def review_record_key(prefix: str, record: ReviewRecord) -> str:
    """`<prefix>/yyyy/mm/dd/hh/<review_id>.json`, the hour the reviewer decided (UTC)."""
    return f"{_hour_path(prefix, record.decided_at)}/{record.review_id}.json"


def ground_truth_key(prefix: str, record: ReviewRecord) -> str:
    """`<prefix>/yyyy/mm/dd/hh/<review_id>.jsonl`: the layout Model Monitor's ground-truth merge reads."""
    return f"{_hour_path(prefix, record.decided_at)}/{record.review_id}.jsonl"


def ground_truth_line(record: ReviewRecord) -> str:
    """One ground-truth record for a vehicle label of an image the endpoint classified (it has an inference_id)."""
    if not record.is_ground_truth or record.inference_id is None:
        raise ValueError(f"review {record.review_id} ({record.label!r}, no inference id) is not ground truth")
    return json.dumps(
        {
            "groundTruthData": {"data": record.label, "encoding": "CSV"},
            "eventMetadata": {"eventId": record.inference_id},
            "eventVersion": "0",
        },
        separators=(",", ":"),
    )
