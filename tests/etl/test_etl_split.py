"""The stratified, seeded validation split and class selection by name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import etl
from etl.errors import InvalidArgument, UnknownClass
from etl.split import fine_label_ids, parse_classes, stratified_validation, validation_count


def test_validation_holds_the_fraction_of_each_class(dataset: etl.EtlResult) -> None:
    train, validation = dataset.counts["train"], dataset.counts["validation"]
    for cls in ("bicycle", "motorcycle"):
        assert validation[cls] / (train[cls] + validation[cls]) == pytest.approx(0.1)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=2, max_value=60), min_size=1, max_size=5),
    fraction=st.floats(min_value=0.05, max_value=0.45),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_split_is_stratified_and_reproducible(sizes: list[int], fraction: float, seed: int) -> None:
    labels = np.repeat(np.arange(len(sizes)), sizes)
    rows = np.random.default_rng(seed).permutation(10_000)[: len(labels)]
    mask = stratified_validation(rows, labels, fraction, seed)
    for label, size in enumerate(sizes):
        assert mask[labels == label].sum() == validation_count(size, fraction)
    assert np.array_equal(mask, stratified_validation(rows, labels, fraction, seed))


def test_validation_count_rounds_half_up() -> None:
    assert [validation_count(n, 0.1) for n in (400, 15, 25, 4)] == [40, 2, 3, 0]


def test_classes_are_found_by_name_in_the_archives_meta() -> None:
    names = ["apple", "bicycle", "cloud", "motorcycle"]
    assert fine_label_ids(["motorcycle", "bicycle"], names) == [3, 1]
    with pytest.raises(UnknownClass, match=r"'car'.*apple, bicycle, cloud, motorcycle"):
        fine_label_ids(["bicycle", "car"], names)


@pytest.mark.parametrize("text", ["bicycle", "bicycle,bicycle", " , "])
def test_class_lists_need_two_distinct_names(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_classes(text)


def test_a_fraction_that_empties_a_split_is_refused(make_archive: Callable[..., Path], tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="would leave train or validation"):
        etl.run(str(make_archive()), tmp_path / "out", validation_fraction=0.01)
    assert not (tmp_path / "out").exists()
