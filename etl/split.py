"""Which archive rows become which output file: classes by name, a stratified seeded validation split.

The split does not depend on numpy's random streams (which may change between releases): within each class,
train rows are ordered by a keyed hash of (seed, row) and the first `round(n * fraction)` go to validation.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from etl.archive import CifarArchive
from etl.errors import InvalidArgument, InvalidPickle, UnknownClass

SPLITS = ("train", "validation", "test")
SOURCE_SPLIT = {"train": "train", "validation": "train", "test": "test"}
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,200}")


@dataclass(frozen=True)
class SplitPlan:
    """Rows of the CIFAR split `source` that make up one output split, in archive order."""

    name: str
    source: str
    rows: np.ndarray
    labels: np.ndarray
    filenames: list[str]


@dataclass(frozen=True)
class DatasetPlan:
    classes: list[str]
    fine_label_ids: list[int]
    splits: dict[str, SplitPlan]


def parse_classes(text: str | Sequence[str]) -> list[str]:
    names = [name.strip() for name in (text.split(",") if isinstance(text, str) else text)]
    names = [name for name in names if name]
    if len(names) < 2:
        raise InvalidArgument("--classes needs at least two class names, comma-separated")
    if len(set(names)) != len(names):
        raise InvalidArgument(f"--classes lists a class twice: {','.join(names)}")
    return names


def fine_label_ids(classes: Sequence[str], fine_label_names: Sequence[str]) -> list[int]:
    index = {name: position for position, name in enumerate(fine_label_names)}
    unknown = [name for name in classes if name not in index]
    if unknown:
        raise UnknownClass(
            f"unknown class {', '.join(map(repr, unknown))}; the archive's classes are: {', '.join(fine_label_names)}"
        )
    return [index[name] for name in classes]


def validation_count(size: int, fraction: float) -> int:
    """round(size * fraction) with halves rounded up (Python's round() would round half to even)."""
    return int(size * fraction + 0.5)


def _shuffle_key(seed: int, row: int) -> bytes:
    return hashlib.blake2b(f"{seed}:{row}".encode(), digest_size=8).digest()


def stratified_validation(rows: np.ndarray, labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask over `rows`: True for the rows that go to validation, `fraction` of each label."""
    mask = np.zeros(len(rows), dtype=bool)
    for label in np.unique(labels):
        positions = np.flatnonzero(labels == label)
        take = validation_count(len(positions), fraction)
        ordered = sorted(positions, key=lambda position: _shuffle_key(seed, int(rows[position])))
        mask[ordered[:take]] = True
    return mask


def _output_names(raw: Sequence[bytes | str], rows: np.ndarray, source: str) -> list[str]:
    """The CIFAR filenames, checked to be plain names; a repeated name gets its row number appended."""
    names, seen = [], set()
    for row in rows:
        value = raw[int(row)]
        name = value.decode("latin1") if isinstance(value, bytes) else str(value)
        if not _PLAIN_NAME.fullmatch(name):
            raise InvalidPickle(f"member {source!r}: filename {name!r} is not a plain file name")
        if not name.lower().endswith(".png"):
            name += ".png"
        if name in seen:
            name = f"{name[:-4]}-{int(row)}.png"
        seen.add(name)
        names.append(name)
    return names


def _check_class_sizes(archive: CifarArchive, classes: Sequence[str], ids: Sequence[int], fraction: float) -> None:
    """Every class needs images in train, validation and test, or a training channel would lack it."""
    train_counts = np.bincount(archive.train.fine_labels, minlength=len(archive.fine_label_names))
    test_counts = np.bincount(archive.test.fine_labels, minlength=len(archive.fine_label_names))
    for name, fine_id in zip(classes, ids, strict=True):
        size = int(train_counts[fine_id])
        if not 0 < validation_count(size, fraction) < size:
            raise InvalidArgument(
                f"class {name!r} has {size} training images: a validation fraction of {fraction} "
                "would leave train or validation without it"
            )
        if not test_counts[fine_id]:
            raise InvalidArgument(f"the archive's test split has no images of class {name!r}")


def plan_dataset(archive: CifarArchive, classes: Sequence[str], fraction: float, seed: int) -> DatasetPlan:
    ids = fine_label_ids(classes, archive.fine_label_names)
    to_label = np.full(len(archive.fine_label_names), -1, dtype=np.int64)
    to_label[ids] = np.arange(len(ids))
    _check_class_sizes(archive, classes, ids, fraction)
    plans: dict[str, SplitPlan] = {}
    for source in ("train", "test"):
        split = archive.split(source)
        labels = to_label[split.fine_labels]
        rows = np.flatnonzero(labels >= 0)
        labels = labels[rows]
        if source == "test":
            groups = {"test": np.ones(len(rows), dtype=bool)}
        else:
            is_validation = stratified_validation(rows, labels, fraction, seed)
            groups = {"train": ~is_validation, "validation": is_validation}
        # train and validation share one folder namespace check: both come from the same CIFAR split
        names = _output_names(split.filenames, rows, source)
        for name, keep in groups.items():
            plans[name] = SplitPlan(
                name, source, rows[keep], labels[keep], [n for n, k in zip(names, keep, strict=True) if k]
            )
    return DatasetPlan(list(classes), ids, {name: plans[name] for name in SPLITS})
