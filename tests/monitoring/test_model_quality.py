"""Model quality from reviewed labels in SageMaker's ground-truth format (monitoring/model_quality.py)."""

from __future__ import annotations

import json

import pytest

from monitoring.model_quality import GroundTruthUnreadable, Prediction, Quality, ground_truth_labels, quality

LABELS = ("bicycle", "motorcycle")


def record(event_id: str, data: str) -> str:
    return json.dumps(
        {
            "groundTruthData": {"data": data, "encoding": "CSV"},
            "eventMetadata": {"eventId": event_id},
            "eventVersion": "0",
        }
    )


def test_labels_are_names_or_indexes_and_a_later_label_wins() -> None:
    lines = [record("a", "bicycle"), record("b", "1"), "", record("a", "motorcycle")]
    assert ground_truth_labels(lines, LABELS) == {"a": "motorcycle", "b": "motorcycle"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 1"),
        (json.dumps({"eventMetadata": {"eventId": "a"}}), "groundTruthData"),
        (record("a", "lorry"), "lorry"),
    ],
)
def test_an_unreadable_label_is_named_with_its_line(line: str, message: str) -> None:
    with pytest.raises(GroundTruthUnreadable, match=message):
        ground_truth_labels([line], LABELS)


def test_accuracy_over_labelled_predictions_and_precision_over_automatic_routes() -> None:
    predictions = {
        "a": Prediction("bicycle", 0.97, 0.9),  # auto, right
        "b": Prediction("motorcycle", 0.95, 0.9),  # auto, wrong
        "c": Prediction("bicycle", 0.6, 0.9),  # to a person, right
        "d": Prediction("motorcycle", 0.99, None),  # threshold unknown: not counted as automatic
        "e": Prediction("bicycle", 0.99, 0.9),  # no label
    }
    reviewed = {"a": "bicycle", "b": "bicycle", "c": "bicycle", "d": "motorcycle", "z": "bicycle"}
    result = quality(predictions, reviewed)
    assert result == Quality(labelled=4, correct=3, auto_routed=2, auto_correct=1)
    assert result.metrics() == {"LabelledPredictions": 4.0, "ServedAccuracy": 0.75, "AutoRoutePrecision": 0.5}
    overridden = quality(predictions, reviewed, threshold_override=0.96)
    assert (overridden.auto_routed, overridden.auto_correct) == (2, 2), "Terraform's threshold, when set, routes"


def test_no_labels_no_shares() -> None:
    assert quality({"a": Prediction("bicycle", 0.9, 0.5)}, {}).metrics() == {"LabelledPredictions": 0.0}
