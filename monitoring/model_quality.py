"""Model quality from reviewed labels: how often the served model was right, and how often its automatic routes were.

Labels arrive as SageMaker's ground-truth records, one JSON object per line
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-merge.html):

    {"groundTruthData": {"data": "bicycle", "encoding": "CSV"}, "eventMetadata": {"eventId": "..."},
     "eventVersion": "0"}

under a prefix in the capture's path format (`<prefix>/yyyy/mm/dd/hh/`, the hour the label was collected). A
label matches the captured record whose `inferenceId` is its eventId, else the record whose `eventId` is, as the
page says Model Monitor merges them. `data` is a label name (CLASS_LABELS) or its index in the model's order.

From the matched pairs:
- ServedAccuracy: share of labelled predictions whose top label is the reviewed label;
- AutoRoutePrecision: the same share among predictions the workflow routed automatically (top confidence at or
  above the confidence threshold: Terraform's override when set, else the threshold the model answered), i.e.
  not sent to a person;
- LabelledPredictions: how many labels matched a captured prediction.

The review console writes the labels (`shared.reviews.ground_truth_line`), naming the InferenceId classify_image
sent, which data capture records as `eventMetadata.inferenceId`. Automatic routes get labels from the audit
samples (a share of confident routes the inference workflow also queues for review). An hour without labels
publishes none of these metrics.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

METRIC_NAMES = ("LabelledPredictions", "ServedAccuracy", "AutoRoutePrecision")


class GroundTruthUnreadable(ValueError):
    """A ground-truth line is not a record of the documented format (its line number is in the message)."""


@dataclass(frozen=True)
class Prediction:
    """What the served model answered for one captured request."""

    label: str
    confidence: float
    threshold: float | None  # the confidence threshold it was routed with, when known


@dataclass(frozen=True)
class Quality:
    labelled: int
    correct: int
    auto_routed: int
    auto_correct: int

    @property
    def served_accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None

    @property
    def auto_route_precision(self) -> float | None:
        return self.auto_correct / self.auto_routed if self.auto_routed else None

    def metrics(self) -> dict[str, float]:
        """Metric name -> value, leaving out a share with nothing to divide by."""
        values = {
            "LabelledPredictions": float(self.labelled),
            "ServedAccuracy": self.served_accuracy,
            "AutoRoutePrecision": self.auto_route_precision,
        }
        return {name: value for name, value in values.items() if value is not None}


def ground_truth_labels(lines: Iterable[str | bytes], labels: Sequence[str]) -> dict[str, str]:
    """eventId -> reviewed label name, from ground-truth JSON lines (a later line for an id wins)."""
    found: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            data = str(record["groundTruthData"]["data"]).strip()
            event_id = record["eventMetadata"]["eventId"]
        except (ValueError, KeyError, TypeError) as error:
            raise GroundTruthUnreadable(f"ground-truth line {number}: {error!r}") from None
        if not isinstance(event_id, str) or not event_id:
            raise GroundTruthUnreadable(f"ground-truth line {number}: eventMetadata.eventId is not a string")
        if data.isdigit() and int(data) < len(labels):
            data = labels[int(data)]
        if data not in labels:
            raise GroundTruthUnreadable(f"ground-truth line {number}: label {data!r} is not one of {list(labels)}")
        found[event_id] = data
    return found


def quality(
    predictions: Mapping[str, Prediction], reviewed: Mapping[str, str], threshold_override: float | None = None
) -> Quality:
    """Compare the served predictions with the reviewed labels of the same ids."""
    labelled = correct = auto_routed = auto_correct = 0
    for event_id, truth in reviewed.items():
        prediction = predictions.get(event_id)
        if prediction is None:
            continue
        labelled += 1
        right = prediction.label == truth
        correct += right
        threshold = threshold_override if threshold_override is not None else prediction.threshold
        if threshold is not None and prediction.confidence >= threshold:
            auto_routed += 1
            auto_correct += right
    return Quality(labelled, correct, auto_routed, auto_correct)


def capture_id(record: Any) -> str | None:
    """The id a ground-truth label names for a captured record: its inferenceId, else its eventId."""
    metadata = getattr(record, "event_metadata", None)
    return getattr(metadata, "inference_id", None) or getattr(metadata, "event_id", None)
