"""One pass over a .tar.gz, inflated on one core and assembled on the other into one buffer read in place.

Decompression is the floor of the ETL's run time, so everything else hides behind it: a producer thread
reads and inflates (zlib and ISA-L release the GIL) and hands the pieces over; a second thread hashes the
compressed bytes; the caller, waiting for a byte range, copies the pieces that have arrived into one buffer
sized from the gzip trailer, and parses tar headers and pickles from views of it while the rest is still
inflating. Nothing is copied out of that buffer: the pixel rows stay where they were assembled. Copying
on the caller's side keeps the inflating core busy with nothing but inflating. zlib checks the gzip CRC.

When the optional `isal` package (Intel ISA-L) is installed its zlib-compatible inflater is used: it is faster
than the standard library's on x86-64 (etl/BENCHMARKS.md). Set `ETL_INFLATER=zlib` to force the standard library.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import queue
import struct
import threading
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import BinaryIO

import numpy as np

from etl.errors import CorruptArchive, SourceUnavailable

GZIP_MAGIC = b"\x1f\x8b"
READ_SIZE = 1 << 20
PIECE = 1 << 20  # inflated bytes per call: bounded, so a zip bomb is caught before it fills memory
QUEUE_PIECES = 64  # how far (in pieces) the producer may run ahead of the caller
MAX_INFLATED_BYTES = 2 << 30  # the official archive inflates to 186 MB; refuse to buffer absurd archives
MIN_BUFFER = 1 << 20
MAX_FIRST_BUFFER = 512 << 20  # a gzip trailer may lie: past this the buffer grows as it fills


def _inflater_module() -> ModuleType:
    if os.environ.get("ETL_INFLATER", "isal") == "isal":
        try:
            from isal import isal_zlib
        except ImportError:
            return zlib
        return isal_zlib
    return zlib


INFLATE = _inflater_module()  # zlib, or isal.isal_zlib (same interface)


class _Hasher(threading.Thread):
    """Feeds compressed blocks to hashlib off the critical path."""

    def __init__(self, algorithms: Iterable[str]) -> None:
        super().__init__(name="etl-hash", daemon=True)
        self.hashes = {name: hashlib.new(name, usedforsecurity=False) for name in algorithms}
        self.blocks: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

    def run(self) -> None:
        while (block := self.blocks.get()) is not None:
            for hasher in self.hashes.values():
                hasher.update(block)

    def finish(self) -> dict[str, str]:
        self.blocks.put(None)
        self.join()
        return {name: hasher.hexdigest() for name, hasher in self.hashes.items()}


def _size_hint(handle: BinaryIO, compressed_size: int) -> int:
    """The gzip trailer's ISIZE (inflated size mod 2**32): right for one-member archives under 4 GiB.

    Reads the last 4 bytes of the already opened archive and leaves it positioned at the start.
    """
    try:
        handle.seek(max(compressed_size - 4, 0))
        (size,) = struct.unpack("<I", handle.read(4).rjust(4, b"\0"))
        handle.seek(0)
    except OSError:
        return MIN_BUFFER
    return max(MIN_BUFFER, min(size, MAX_FIRST_BUFFER, compressed_size * 1032))  # 1032: deflate's best ratio


def _allocate(size: int) -> mmap.mmap | bytearray:
    """Memory the kernel zero-fills page by page as it is first written, which happens on the reader's core.

    `bytearray(size)` zeroes the whole buffer up front, on the critical path, and numpy's large arrays ask for
    transparent huge pages, which slow the whole ETL down (etl/BENCHMARKS.md).
    """
    if hasattr(mmap, "MAP_ANONYMOUS"):
        return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    return bytearray(size)


class InflatedArchive:
    """The inflated bytes of a .tar.gz; `wait` and `available` block until a byte range has arrived.

    Errors (CorruptArchive for anything zlib rejects, an early end, trailing garbage) surface in the reader
    only once it asks for bytes past the point where the stream broke, so they arrive in stream order.
    """

    def __init__(
        self,
        path: Path,
        digest_algorithms: Iterable[str] = (),
        on_read: Callable[[int], None] | None = None,
    ) -> None:
        try:
            self._file = open(path, "rb")  # noqa: SIM115 - closed by the inflating thread
            compressed_size = os.fstat(self._file.fileno()).st_size
        except OSError as exc:
            raise SourceUnavailable(f"cannot open {path}: {exc.strerror or exc}") from exc
        self._name = Path(path).name
        self._buffer = _allocate(_size_hint(self._file, compressed_size))
        self._array = np.frombuffer(self._buffer, dtype=np.uint8)
        self._filled = 0
        self._ended = False
        self._pieces: queue.Queue[bytes | BaseException | None] = queue.Queue(QUEUE_PIECES)
        self._stopping = False
        self._on_read = on_read
        algorithms = list(digest_algorithms)
        self._hasher = _Hasher(algorithms) if algorithms else None
        self._thread = threading.Thread(target=self._run, name="etl-inflate", daemon=True)
        if self._hasher:
            self._hasher.start()
        self._thread.start()

    # -- reader side ---------------------------------------------------------------------------------

    def available(self, end: int) -> int:
        """Wait until `end` bytes are inflated or the stream ends; the number of bytes there are up to `end`."""
        while self._filled < end and not self._ended:
            piece = self._pieces.get()
            if piece is None:
                self._ended = True
            elif isinstance(piece, BaseException):
                self._ended = True
                raise piece
            else:
                self._append(piece)
        return min(end, self._filled)

    def wait(self, end: int, what: str) -> None:
        """Wait for the first `end` bytes; CorruptArchive if the stream ends before them."""
        if self.available(end) < end:
            raise CorruptArchive(f"archive is truncated inside {what}")

    def view(self, start: int, end: int) -> memoryview:
        """Bytes `start:end`, which `wait` or `available` has confirmed; a view into the buffer, not a copy."""
        return memoryview(self._buffer)[start:end]

    def finish(self) -> dict[str, str]:
        """Wait for the whole stream (so the gzip CRC and the hashes cover every byte); the hex digests."""
        self.available(MAX_INFLATED_BYTES + 1)
        return self._hasher.finish() if self._hasher else {}

    def close(self) -> None:
        self._stopping = True
        self._thread.join()
        if self._hasher and self._hasher.is_alive():
            self._hasher.finish()

    def __enter__(self) -> InflatedArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _append(self, piece: bytes) -> None:
        end = self._filled + len(piece)
        if end > MAX_INFLATED_BYTES:
            raise CorruptArchive(
                f"{self._name} inflates to more than {MAX_INFLATED_BYTES / (1 << 30):g} GiB, "
                "far more than a CIFAR-100 python archive"
            )
        if end > len(self._buffer):
            # Views of the old buffer stay valid (arrays may hold them); new views come from the new one.
            grown = _allocate(min(max(2 * len(self._buffer), end), MAX_INFLATED_BYTES))
            grown[: self._filled] = memoryview(self._buffer)[: self._filled]
            self._buffer, self._array = grown, np.frombuffer(grown, dtype=np.uint8)
        # numpy copies without holding the GIL, so the inflating thread is not kept waiting meanwhile
        # (a memoryview slice assignment holds it, and the archive takes longer to read).
        self._array[self._filled : end] = np.frombuffer(piece, dtype=np.uint8)
        self._filled = end

    # -- producer side -------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._inflate_all()
            self._put(None)
        except BaseException as exc:  # handed to the reader, which raises it in stream order
            self._put(exc)
        finally:
            self._file.close()

    def _put(self, item: bytes | BaseException | None) -> None:
        while not self._stopping:
            try:
                self._pieces.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _read(self) -> bytes:
        block = self._file.read(READ_SIZE)
        if block:
            if self._hasher:
                self._hasher.blocks.put(block)
            if self._on_read:
                self._on_read(len(block))
        return block

    def _inflate_all(self) -> None:
        pending = self._read()
        if pending[:2] != GZIP_MAGIC:
            raise CorruptArchive(f"{self._name} is not a gzip file (expected a .tar.gz archive)")
        inflate = INFLATE
        inflater = inflate.decompressobj(wbits=31)
        while not self._stopping:
            block = pending or self._read()
            if not block:
                raise CorruptArchive("archive is truncated: the gzip stream ends before its end marker")
            try:
                out = inflater.decompress(block, PIECE)
            except inflate.error as exc:
                raise CorruptArchive(f"archive is damaged: {exc}") from exc
            pending = inflater.unconsumed_tail
            if out:
                self._put(out)
            if inflater.eof:
                pending = inflater.unused_data
                while len(pending) < 2 and (more := self._read()):
                    pending += more
                if pending[:2] != GZIP_MAGIC:  # not another gzip member: only zero padding may follow
                    while more := self._read():
                        pending += more
                    if pending.strip(b"\0"):
                        raise CorruptArchive("archive is damaged: unexpected data after the gzip stream")
                    return
                inflater = inflate.decompressobj(wbits=31)
