"""The confidence threshold train.py picks on validation data: lowest one with >= 99% precision above it."""

from __future__ import annotations

import numpy as np
import pytest
import train


def test_all_correct_gives_the_floor() -> None:
    threshold, reached = train.choose_threshold([0.55, 0.7, 0.99], [True, True, True])
    assert (threshold, reached) == (0.5, True)


def test_threshold_sits_just_above_the_most_confident_mistake() -> None:
    confidences = [0.97, 0.93, 0.91, 0.88, 0.80, 0.75, 0.60]
    correct = [True, True, True, False, True, False, True]
    threshold, reached = train.choose_threshold(confidences, correct)
    assert reached
    assert threshold == 0.91
    kept = np.asarray(confidences) >= threshold
    assert np.asarray(correct)[kept].all()


def test_lowest_qualifying_threshold_wins_when_precision_is_not_monotonic() -> None:
    # 100 correct above one mistake at 0.70, then 60 correct below it: 160/161 > 0.99 from the floor up.
    confidences = [*np.linspace(0.99, 0.71, 100), 0.70, *np.linspace(0.69, 0.55, 60)]
    correct = [*[True] * 100, False, *[True] * 60]
    threshold, reached = train.choose_threshold(confidences, correct, target_precision=0.99)
    assert (threshold, reached) == (0.5, True)
    # A stricter target must leave the mistake out: the lowest correct confidence above it.
    threshold, reached = train.choose_threshold(confidences, correct, target_precision=0.999)
    assert reached
    assert threshold == pytest.approx(0.71)


def test_ties_are_kept_together() -> None:
    threshold, _ = train.choose_threshold([0.9, 0.9, 0.8], [True, False, True])
    assert threshold == 1.0  # 0.9 keeps the tied mistake; lower thresholds keep it too


def test_fallback_when_the_target_is_never_reached() -> None:
    assert train.choose_threshold([0.99, 0.7], [False, True]) == (1.0, False)
    assert train.choose_threshold([], []) == (1.0, False)


def test_floor_is_respected_and_low_confidences_are_not_candidates() -> None:
    # Three classes: confidences can fall below 0.5, but the threshold never does.
    threshold, reached = train.choose_threshold([0.9, 0.45, 0.4], [True, True, False], floor=0.5)
    assert (threshold, reached) == (0.5, True)
    threshold, _ = train.choose_threshold([0.9, 0.88, 0.8], [True, False, True], floor=0.85)
    assert threshold == 0.9


def test_confident_summary_counts_at_or_above() -> None:
    summary = train.confident_summary(np.array([0.95, 0.9, 0.6, 0.9]), np.array([True, False, True, True]), 0.9)
    assert summary["confident_count"] == 3
    assert summary["confident_share"] == pytest.approx(0.75)
    assert summary["confident_precision"] == pytest.approx(2 / 3)
    assert train.confident_summary(np.array([0.6]), np.array([True]), 0.9)["confident_precision"] is None
