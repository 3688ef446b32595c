"""Test data for the ETL tests: the shared archive read with the standard library only (never through
etl.archive, so the ETL is not checked against itself), and small archives in the real format."""

from __future__ import annotations

import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from etl import archive as cifar
from tests.etl import archive_writer as writer

CLASS_NAMES = [f"class_{index}" for index in range(10)]
CLASS_NAMES[3], CLASS_NAMES[7] = "bicycle", "motorcycle"


@dataclass(frozen=True)
class Reference:
    """`splits["train"|"test"]` -> {"data": (N, 3072) uint8, "labels": [fine label], "filenames": [str]}."""

    names: list[str]
    splits: dict[str, dict[str, Any]]

    def row_of(self, split: str, filename: str) -> int:
        return self.splits[split]["filenames"].index(filename)

    def class_of(self, split: str, filename: str) -> str:
        return self.names[self.splits[split]["labels"][self.row_of(split, filename)]]


def read_reference(path: Path) -> Reference:
    splits = {}
    with tarfile.open(path, "r:gz") as tar:
        meta = pickle.load(tar.extractfile("cifar-100-python/meta"), encoding="bytes")
        for split in ("train", "test"):
            raw = pickle.load(tar.extractfile(f"cifar-100-python/{split}"), encoding="bytes")
            splits[split] = {
                "data": raw[b"data"],
                "labels": list(raw[b"fine_labels"]),
                "filenames": [name.decode() for name in raw[b"filenames"]],
            }
    return Reference([name.decode() for name in meta[b"fine_label_names"]], splits)


def small_split(rng: np.random.Generator, per_class: int, prefix: str) -> cifar.CifarSplit:
    labels = np.repeat(np.arange(len(CLASS_NAMES)), per_class)
    rng.shuffle(labels)
    data = rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8)
    return cifar.CifarSplit(data, labels, [f"{prefix}_{row:04d}.png".encode() for row in range(len(labels))])


def small_members(seed: int = 0, train_per_class: int = 10, test_per_class: int = 3) -> dict[str, bytes]:
    """A valid archive's members (10 classes incl. bicycle and motorcycle), official order: meta last."""
    rng = np.random.default_rng(seed)
    return {
        "train": writer.split_pickle(small_split(rng, train_per_class, "train"), "training batch 1 of 1"),
        "test": writer.split_pickle(small_split(rng, test_per_class, "test"), "testing batch 1 of 1"),
        "meta": writer.meta_pickle(CLASS_NAMES),
    }


def s3_keys(client: Any, bucket: str = "datasets", prefix: str = "") -> set[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}
