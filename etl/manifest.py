"""`manifest.json`: the dataset's contract with the training job, the demo and the S3 loader.

Written last, locally and in S3: a dataset without its manifest is incomplete. The content depends only on
the inputs (no timestamps), so an unchanged dataset produces byte-identical manifests and nothing to upload.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from etl.split import DatasetPlan
from etl.transform import WrittenFile, WrittenSplit

MANIFEST_NAME = "manifest.json"
FORMAT = "courier-vehicle/cifar-etl/1"


def build_manifest(
    *,
    source_uri: str,
    source_sha256: str,
    plan: DatasetPlan,
    written: dict[str, WrittenSplit],
    seed: int,
    validation_fraction: float,
) -> dict[str, Any]:
    splits: dict[str, Any] = {}
    for name, split_plan in plan.splits.items():
        files: dict[str, Any] = {}
        for image, label, row in zip(written[name].images, split_plan.labels, split_plan.rows, strict=True):
            files[image.path.split("/", 1)[1]] = {
                "sha256": image.sha256,
                "size": image.size,
                "label": int(label),
                "class": plan.classes[int(label)],
                "source_row": int(row),
            }
        list_file = written[name].list_file
        splits[name] = {
            "count": len(files),
            "per_class": {cls: int((split_plan.labels == label).sum()) for label, cls in enumerate(plan.classes)},
            "source_split": split_plan.source,
            "list": {"path": list_file.path, "sha256": list_file.sha256, "size": list_file.size},
            "files": files,
        }
    return {
        "format": FORMAT,
        "source": {"uri": source_uri, "sha256": source_sha256},
        "classes": list(plan.classes),
        "class_map": {cls: label for label, cls in enumerate(plan.classes)},
        "fine_label_ids": dict(zip(plan.classes, plan.fine_label_ids, strict=True)),
        "seed": seed,
        "validation_fraction": validation_fraction,
        "splits": splits,
    }


_FLAT = json.JSONEncoder(sort_keys=True)  # without `indent` json encodes in C; with it, in pure Python


def _format(value: Any, depth: int = 0) -> str:
    """Objects and arrays that hold other objects or arrays are indented; the rest (a file's entry, the
    class map) stay on one line, so the manifest reads one file per line."""
    nested = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    if not any(isinstance(item, dict | list) for item in nested):
        return _FLAT.encode(value)
    inner = "  " * (depth + 1)
    if isinstance(value, dict):
        lines = [f"{inner}{_FLAT.encode(key)}: {_format(value[key], depth + 1)}" for key in sorted(value)]
        opening, closing = "{", "}"
    else:
        lines = [f"{inner}{_format(item, depth + 1)}" for item in value]
        opening, closing = "[", "]"
    return opening + "\n" + ",\n".join(lines) + "\n" + "  " * depth + closing


def dumps(manifest: dict[str, Any]) -> bytes:
    """Deterministic bytes: sorted keys, no timestamps."""
    return (_format(manifest) + "\n").encode()


def read(root: Path) -> dict[str, Any]:
    return json.loads((root / MANIFEST_NAME).read_text())


def dataset_files(manifest: dict[str, Any]) -> Iterator[WrittenFile]:
    """Every file the manifest describes (images and .lst files, not the manifest itself)."""
    for split_name, split in manifest["splits"].items():
        for name, entry in split["files"].items():
            yield WrittenFile(f"{split_name}/{name}", entry["sha256"], entry["size"])
        listed = split["list"]
        yield WrittenFile(listed["path"], listed["sha256"], listed["size"])
