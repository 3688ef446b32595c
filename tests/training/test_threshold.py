"""The confidence threshold train.py picks on held-out (out-of-fold) predictions: lowest one with >= 99% precision."""

from __future__ import annotations

import model as model_definition
import numpy as np
import pytest
import torch
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


def test_every_held_out_prediction_comes_from_the_member_that_never_trained_on_the_image(monkeypatch) -> None:
    rng = np.random.default_rng(0)
    train_split = train.Split(rng.integers(0, 256, (30, 32, 32, 3), dtype=np.uint8), np.arange(30) % 2, [])
    validation = train.Split(rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8), np.arange(10) % 2, [])
    train_split.files = [f"train/{i}.png" for i in range(30)]
    validation.files = [f"validation/{i}.png" for i in range(10)]
    jobs: list[train.MemberJob] = []

    def brightness(images: np.ndarray) -> np.ndarray:
        return images.reshape(len(images), -1).mean(1) / 255

    def member(job, device=None):
        """A stand-in member: P(class 1) is an image's brightness if it never trained on it, 1.0 if it did."""
        jobs.append(job)
        seen = {image.tobytes() for image in job.train.images}
        p1 = np.array([1.0 if image.tobytes() in seen else brightness(image[None])[0] for image in job.held_out_images])
        return model_definition.build_network(job.args.architecture, 2).state_dict(), np.stack([1 - p1, p1], 1)

    monkeypatch.setattr(train, "train_member_job", member)
    args = train.parse_args(["--train", "t", "--validation", "v", "--folds", "4"])
    cv = train.cross_validate(args, train_split, validation, torch.device("cpu"))

    assert [len(job.train.labels) for job in jobs] == [30] * 4, "each member trains on 3 of the 4 folds of 40"
    assert [len(job.held_out_images) for job in jobs] == [10] * 4
    assert [job.seed for job in jobs] == [args.seed + fold for fold in range(4)]
    assert cv.members == 4
    assert sorted(cv.held_out.files) == sorted(train_split.files + validation.files)
    # Each image's row holds its own held-out prediction, from the member that did not train on it.
    assert np.allclose(cv.held_out_probabilities[:, 1], brightness(cv.held_out.images)), "rows misplaced or leaked"
    assert isinstance(cv.model, model_definition.Ensemble)
    assert len(cv.model.members) == 4
