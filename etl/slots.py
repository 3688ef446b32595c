"""Empty files created while the archive is still inflating, renamed into place once names are known.

Creating a file can cost far more than renaming one on a disk file system, right after many files were
deleted or hundreds of MB written and for up to a minute after (when it is quiet both cost about the same;
figures in etl/BENCHMARKS.md, which also says why this module waits for a quiet disk to be judged). The ETL
knows roughly how many files it will write long before it knows their names, which need the archive's `meta`
(the last member of the official archive), so a thread creates anonymous slots during decompression, when a
core is otherwise idle. Unused slots are removed; when slots run out, files are simply created.

A slot costs a little more than a plain file when creating is quick (a rename and an open against one
create), and on a memory file system creating always is. Disk file systems change from moment to moment
(slow spells come and go within a run), so a quick start says nothing about the write a second later. The
thread therefore times its creates PROBE_SLOTS at a time and stops only once a batch averaged under
QUICK_CREATE_S, which only memory file systems manage.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

CIFAR100_IMAGES_PER_CLASS = 600  # 500 train + 100 test
PROBE_SLOTS = 32
QUICK_CREATE_S = 15e-6  # per create: tmpfs takes ~10 us, quiet ext4 20-30 us


def write_file(path: str | Path, payload: bytes | memoryview | np.ndarray, flags: int = os.O_CREAT | os.O_EXCL) -> None:
    """Write every byte of `payload` to `path`, by default a new file (which must not exist); os.write is
    repeated because a regular file may take fewer bytes (a disk filling up mid-write)."""
    descriptor = os.open(path, os.O_WRONLY | flags, 0o666)
    try:
        view = memoryview(payload).cast("B")
        while view:
            view = view[os.write(descriptor, view) :]
    finally:
        os.close(descriptor)


class FileSlots:
    def __init__(self, folder: Path, limit: int) -> None:
        self._folder = folder
        self._limit = limit
        self._ready: list[Path] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._create, name="etl-slots", daemon=True)
        self._thread.start()

    def _create(self) -> None:
        started = time.perf_counter()
        for index in range(self._limit):
            if self._stopping.is_set():
                return
            if index and index % PROBE_SLOTS == 0:
                now = time.perf_counter()
                if now - started < PROBE_SLOTS * QUICK_CREATE_S:
                    return  # creating files is quick now: the writer creates the rest itself
                started = now
            path = self._folder / f".slot-{index:06d}"
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except OSError:
                return  # the writer will report the problem when it creates the file itself
            with self._lock:
                self._ready.append(path)

    def stop(self) -> None:
        """Stop creating slots (the archive has been read and the real work begins)."""
        self._stopping.set()
        self._thread.join()

    def write(self, path: str | Path, payload: bytes | memoryview | np.ndarray) -> None:
        """Write `path` (which must not exist), into a slot when one is left."""
        with self._lock:
            slot = self._ready.pop() if self._ready else None
        if slot is None:
            write_file(path, payload)
        else:
            os.rename(slot, path)
            write_file(path, payload, flags=0)

    def close(self) -> None:
        self.stop()
        with self._lock:
            leftovers, self._ready = self._ready, []
        for slot in leftovers:
            slot.unlink(missing_ok=True)
