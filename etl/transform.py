"""Archive rows -> `<split>/<cifar name>.png` and `<split>/<split>.lst`.

Each split's PNGs are encoded in one array (see etl.png), then written file by file from the calling
thread by default (see DEFAULT_WORKERS); `workers` spreads batches of files over a thread pool.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from etl.archive import CifarArchive
from etl.png import encode_planes
from etl.progress import Reporter
from etl.slots import FileSlots, write_file
from etl.split import DatasetPlan, SplitPlan

BATCH = 64
# Writing the files is mostly file-system calls, each of which gives up and takes back the GIL, so a second
# thread made it slower (etl/BENCHMARKS.md).
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


def _write(path: str, payload: bytes | np.ndarray, slots: FileSlots | None = None) -> None:
    (slots.write if slots else write_file)(path, payload)


def _write_batch(
    folder: str, split: str, files: np.ndarray, names: list[str], slots: FileSlots | None
) -> list[WrittenFile]:
    """One file per row of `files` (PNG bytes from `encode_planes`); plain os calls on str paths, since
    pathlib and buffered files cost as much as the system calls themselves here."""
    written = []
    for name, payload in zip(names, files, strict=True):
        _write(f"{folder}/{name}", payload, slots)
        written.append(WrittenFile(f"{split}/{name}", hashlib.sha256(payload).hexdigest(), len(payload)))
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
    written: dict[str, WrittenSplit] = {}
    pool = ThreadPoolExecutor(workers, thread_name_prefix="etl-png") if workers > 1 else None
    with pool or nullcontext(), reporter.bar("write PNG", total, unit="images") as bar:
        for name, split in plan.splits.items():
            folder = f"{root}/{name}"
            os.mkdir(folder)
            files = encode_planes(images[name])
            batches = [
                (folder, name, files[start : start + BATCH], split.filenames[start : start + BATCH], slots)
                for start in range(0, len(files), BATCH)
            ]
            results = (pool.map if pool else map)(lambda batch: _write_batch(*batch), batches)
            pngs: list[WrittenFile] = []
            for batch in results:
                pngs.extend(batch)
                bar.update(len(batch))
            listing = list_lines(split).encode()
            _write(f"{folder}/{name}.lst", listing)
            written[name] = WrittenSplit(
                pngs, WrittenFile(f"{name}/{name}.lst", hashlib.sha256(listing).hexdigest(), len(listing))
            )
    return written
