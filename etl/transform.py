"""Archive rows -> `<split>/<cifar name>.png` and `<split>/<split>.lst`, written by a small thread pool.

One thread by default (see DEFAULT_WORKERS); `workers` spreads the batches over more.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from etl.archive import CifarArchive
from etl.png import encode_planes
from etl.progress import Reporter
from etl.slots import FileSlots
from etl.split import DatasetPlan, SplitPlan

BATCH = 64
# Writing a stored PNG is mostly file-system calls, each of which gives up and takes back the GIL: on the
# development VM (2 cores, tmpfs) 1,200 files took 40 ms from one thread and 58 ms from two (best of 8).
DEFAULT_WORKERS = 1


@dataclass(frozen=True)
class WrittenFile:
    """One output file, as the manifest records it (`path` is relative to the dataset root)."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class WrittenSplit:
    images: list[WrittenFile]
    list_file: WrittenFile


def gather_images(archive: CifarArchive, plan: DatasetPlan) -> dict[str, np.ndarray]:
    """Each output split's images as (N, 3, 32, 32) planes, copied out of the archive, which may then go."""
    return {
        name: archive.split(split.source).data[split.rows].reshape(-1, 3, 32, 32) for name, split in plan.splits.items()
    }


def _write(path: Path, payload: bytes, slots: FileSlots | None = None) -> WrittenFile:
    if slots:
        slots.write(path, payload)
    else:
        with open(path, "xb") as handle:
            handle.write(payload)
    return WrittenFile(path.name, hashlib.sha256(payload).hexdigest(), len(payload))


def _encode_batch(
    folder: Path, split: str, planes: np.ndarray, names: list[str], slots: FileSlots | None
) -> list[WrittenFile]:
    written = []
    for name, png in zip(names, encode_planes(planes), strict=True):
        file = _write(folder / name, png, slots)
        written.append(WrittenFile(f"{split}/{name}", file.sha256, file.size))
    return written


def list_lines(plan: SplitPlan) -> str:
    """The image-classification algorithm's `.lst`: index, label, path relative to the channel, tab-separated."""
    return "".join(
        f"{index}\t{int(label)}\t{name}\n"
        for index, (label, name) in enumerate(zip(plan.labels, plan.filenames, strict=True))
    )


def write_dataset(
    root: Path,
    images: dict[str, np.ndarray],
    plan: DatasetPlan,
    *,
    workers: int | None = None,
    reporter: Reporter | None = None,
    slots: FileSlots | None = None,
) -> dict[str, WrittenSplit]:
    """Write every split folder under `root` (which must exist and be empty) from `gather_images`' planes,
    taking files from `slots`."""
    workers = workers or DEFAULT_WORKERS
    reporter = reporter or Reporter(quiet=True)
    total = sum(len(split.rows) for split in plan.splits.values())
    results: dict[str, list] = {}
    with (
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="etl-png") as pool,
        reporter.bar("write PNG", total, unit="images") as bar,
    ):
        for name, split in plan.splits.items():
            folder = root / name
            folder.mkdir()
            results[name] = [
                pool.submit(
                    _encode_batch,
                    folder,
                    name,
                    images[name][start : start + BATCH],
                    split.filenames[start : start + BATCH],
                    slots,
                )
                for start in range(0, len(split.rows), BATCH)
            ]
        written: dict[str, WrittenSplit] = {}
        for name, futures in results.items():
            images = []
            for future in futures:
                batch = future.result()
                images.extend(batch)
                bar.update(len(batch))
            list_file = _write(root / name / f"{name}.lst", list_lines(plan.splits[name]).encode())
            written[name] = WrittenSplit(
                images, WrittenFile(f"{name}/{list_file.path}", list_file.sha256, list_file.size)
            )
    return written
