"""The CIFAR-100 python archive format: read and validate it in one streaming pass.

The archive is `cifar-100-python/{train,test,meta}` in a .tar.gz; each member is a Python 2 pickle of a dict
(keys are byte strings). `train`/`test` hold `data` (uint8, N x 3072: 1024 red, 1024 green, 1024 blue values,
row-major), `fine_labels` and `filenames`; `meta` holds `fine_label_names`. Members may come in any order
(the official archive puts `meta` last), so all three are kept until the stream ends.
"""

from __future__ import annotations

import codecs
import math
import pickle
import struct
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from etl.errors import CorruptArchive, InvalidPickle, MissingMember
from etl.inflate import InflatedArchive

MEMBERS = ("meta", "train", "test")
ARCHIVE_FOLDER = "cifar-100-python"
ROW_BYTES = 3 * 32 * 32
MAX_MEMBER_BYTES = 2 << 30  # the official `train` is 150 MB; refuse absurd members
PAYLOAD_MIN_BYTES = 1 << 20  # byte strings this large are read in place rather than copied (the pixel rows)
_READ_AHEAD = 1 << 17  # how far the C unpickler peeks ahead (PREFETCH in CPython's _pickle.c)
_BLOCK = 512


@dataclass(frozen=True)
class CifarSplit:
    """One pickle's rows: `data[i]` is image i as 3072 planar bytes, labelled `fine_labels[i]`."""

    data: np.ndarray
    fine_labels: np.ndarray
    filenames: list[bytes | str]

    def __len__(self) -> int:
        return len(self.fine_labels)


@dataclass(frozen=True)
class CifarArchive:
    fine_label_names: list[str]
    train: CifarSplit
    test: CifarSplit

    def split(self, name: str) -> CifarSplit:
        return {"train": self.train, "test": self.test}[name]


# -- reading -------------------------------------------------------------------------------------------


def _numpy_reconstruct() -> Callable[..., Any]:
    from numpy._core.multiarray import _reconstruct  # the pickles name numpy.core, which numpy 2 renamed

    return _reconstruct


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """`_codecs.encode` as Python 3 protocol-2 pickles use it for bytes, limited to text codecs."""
    if codecs.lookup(encoding).name not in ("latin-1", "iso8859-1", "utf-8", "ascii"):
        raise pickle.UnpicklingError(f"refusing codec {encoding!r}")
    return codecs.encode(text, encoding, errors)


_ALLOWED_GLOBALS: dict[tuple[str, str], Callable[[], Any]] = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: _latin1_encode,
}
_RECONSTRUCT = {key for key, factory in _ALLOWED_GLOBALS.items() if factory is _numpy_reconstruct}


class _CifarUnpickler(pickle.Unpickler):
    """Only numpy arrays and plain containers: a downloaded pickle must not be able to run code."""

    def find_class(self, module: str, name: str) -> Any:
        factory = _ALLOWED_GLOBALS.get((module, name))
        if factory is None:
            raise pickle.UnpicklingError(f"refers to {module}.{name}, which a CIFAR pickle never does")
        return factory()


class _ViewReader:
    """The file interface the C unpickler needs, over a memoryview (no copies: it accepts buffers)."""

    def __init__(self, view: memoryview, on_big_read: Callable[[int, int], None] | None = None) -> None:
        self._view = view
        self._position = 0
        self._on_big_read = on_big_read

    def read(self, size: int = -1) -> memoryview:
        start = self._position
        end = len(self._view) if size < 0 else min(start + size, len(self._view))
        if self._on_big_read and end - start >= PAYLOAD_MIN_BYTES:
            self._on_big_read(start, end - start)
        self._position = end
        return self._view[start:end]

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def peek(self, size: int = 1) -> memoryview:
        return self._view[self._position : self._position + max(size, 1)]

    def readline(self) -> memoryview:
        size = 256
        while True:
            head = self.peek(size)
            end = bytes(head).find(b"\n")
            if end >= 0 or len(head) < size:
                return self.read(len(head) if end < 0 else end + 1)
            size *= 4


class _PayloadFound(Exception):
    """Stops the probing unpickler at its first large read: where that read starts and where it ends."""

    def __init__(self, start: int, end: int) -> None:
        super().__init__(start, end)
        self.start, self.end = start, end


class _PendingArray:
    """A numpy array whose reconstruction was recorded, not run: its raw bytes were cut out of the pickle."""

    def __init__(self, args: tuple[Any, ...]) -> None:
        self.args = args
        self.state: tuple[Any, ...] = ()

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.state = state

    def lost(self, size: int) -> bool:
        """Whether this is the plain C-order array whose `size` raw bytes were cut out (its data is empty)."""
        if len(self.state) != 5:
            return False
        _, shape, dtype, fortran_order, raw = self.state
        return (
            isinstance(raw, bytes)
            and not raw
            and isinstance(dtype, np.dtype)
            and not dtype.hasobject
            and not fortran_order
            and isinstance(shape, tuple)
            and all(isinstance(n, int) and n >= 0 for n in shape)
            and math.prod(shape) * dtype.itemsize == size
        )

    def build(self) -> np.ndarray:
        array = _numpy_reconstruct()(*self.args)
        array.__setstate__(self.state)
        return array


class _RecordingUnpickler(_CifarUnpickler):
    """Records numpy's array reconstructions (see _load_in_place) instead of running them."""

    def __init__(self, file: Any) -> None:
        super().__init__(file, encoding="bytes")
        self.pending: list[_PendingArray] = []

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _RECONSTRUCT:
            return self._record
        return super().find_class(module, name)

    def _record(self, *args: Any) -> _PendingArray:
        self.pending.append(_PendingArray(args))
        return self.pending[-1]


def _locate_payload(view: memoryview) -> tuple[int, int, int] | None:
    """(opcode position, payload start, payload size) of the first large byte string, if it is a BINSTRING
    or BINBYTES with a 4-byte length (how numpy arrays' raw data is pickled); else None."""

    def stop(start: int, size: int) -> None:
        raise _PayloadFound(start, start + size)

    try:
        _CifarUnpickler(_ViewReader(view, on_big_read=stop), encoding="bytes").load()
    except _PayloadFound as found:
        # The large read ends where the string ends; it starts there or, when the unpickler had already
        # read ahead (it does for BINBYTES), up to one read-ahead later. Find the opcode that fits.
        floor = max(found.start - _READ_AHEAD - 5, 0)
        window = bytes(view[floor : found.start])
        head = len(window) - 5
        while head >= 0:
            start = floor + head + 5
            if window[head] in b"TB" and struct.unpack_from("<I", window, head + 1)[0] == found.end - start:
                return start - 5, start, found.end - start
            head = max(window.rfind(b"T", 0, head), window.rfind(b"B", 0, head))
    except Exception:  # noqa: S110 - the plain load that follows reports what is wrong
        pass
    return None


def _load_in_place(view: memoryview) -> Any:
    """The pickle, its pixel array a view of `view` rather than a copy; None where that cannot be done.

    The C unpickler copies every byte string it reads, and a CIFAR pickle is almost all one string. So the
    first large string is cut out, the rest is unpickled with array reconstructions recorded, and the array
    that lost its bytes is rebuilt over them where they lie. Anything else (no large string, one that is not
    an array's data, arrays outside the top-level dict) returns None, and the caller unpickles as usual.
    """
    located = _locate_payload(view)
    if located is None:
        return None
    head, start, size = located
    shortened = b"".join((view[: head + 1], bytes(4), view[start + size :]))  # the same opcode, length 0
    unpickler = _RecordingUnpickler(_ViewReader(memoryview(shortened)))
    try:
        obj = unpickler.load()
    except Exception:  # the plain load that follows reports what is wrong
        return None
    if not isinstance(obj, dict):
        return None
    arrays = {key: value for key, value in obj.items() if isinstance(value, _PendingArray)}
    cut = [key for key, array in arrays.items() if array.lost(size)]
    if len(cut) != 1 or len(arrays) != len(unpickler.pending):
        return None
    for key, array in arrays.items():
        if key == cut[0]:
            _, shape, dtype, _, _ = array.state
            obj[key] = np.frombuffer(view, dtype, count=size // dtype.itemsize, offset=start).reshape(shape)
        else:
            obj[key] = array.build()
    return obj


def _pax_records(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    while data:
        length_text, _, _ = data.partition(b" ")
        try:
            length = int(length_text)
        except ValueError:
            raise CorruptArchive("archive has a malformed pax header") from None
        record, data = data[:length], data[length:]
        key, _, value = record[len(length_text) + 1 : -1].partition(b"=")
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
    return records


def _iter_members(stream: InflatedArchive) -> Iterator[tuple[str, int, int, bool]]:
    """Yields (path, offset, size, is_regular_file) for each member, in archive order."""
    long_name: str | None = None
    pax: dict[str, str] = {}
    offset = 0
    while True:
        available = stream.available(offset + _BLOCK) - offset
        header = stream.view(offset, offset + max(available, 0)).tobytes()
        if not header or header == bytes(_BLOCK):
            return  # end-of-archive marker (or a tar without one)
        if len(header) < _BLOCK:
            raise CorruptArchive("archive is truncated inside a tar header")
        try:
            info = tarfile.TarInfo.frombuf(header, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise CorruptArchive(f"archive has a damaged tar header: {exc}") from exc
        offset += _BLOCK
        size = int(pax.get("size", info.size))
        padded = size + (-size % _BLOCK)
        if info.type in (tarfile.GNUTYPE_LONGNAME, tarfile.XHDTYPE, tarfile.XGLTYPE):
            stream.wait(offset + padded, "a tar extended header")
            data = stream.view(offset, offset + size).tobytes()
            if info.type == tarfile.GNUTYPE_LONGNAME:
                long_name = data.rstrip(b"\0").decode("utf-8", "surrogateescape")
            elif info.type == tarfile.XHDTYPE:
                pax = _pax_records(data)
            offset += padded
            continue
        path = pax.get("path") or long_name or info.name
        long_name, pax = None, {}
        yield path, offset, size, info.type in tarfile.REGULAR_TYPES
        offset += padded


def _load_member(stream: InflatedArchive, name: str, offset: int, size: int) -> Any:
    if size > MAX_MEMBER_BYTES:
        raise InvalidPickle(f"member {name!r} is {size} bytes, more than a CIFAR pickle can be")
    stream.wait(offset + size, f"member {name!r}")
    view = stream.view(offset, offset + size)
    try:
        obj = _load_in_place(view) if size >= PAYLOAD_MIN_BYTES else None
        if obj is None:
            obj = _CifarUnpickler(_ViewReader(view), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, KeyError, IndexError,
            UnicodeDecodeError, OverflowError, struct.error) as exc:  # fmt: skip
        raise InvalidPickle(f"member {name!r} is not a readable pickle: {exc}") from exc
    return obj


def _text(value: object) -> str:
    return value.decode("latin1") if isinstance(value, bytes) else str(value)


def _as_dict(obj: object, member: str, keys: Iterable[str]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise InvalidPickle(f"member {member!r} holds a {type(obj).__name__}, expected a dict")
    fields = {_text(key): value for key, value in obj.items()}
    missing = [key for key in keys if key not in fields]
    if missing:
        raise InvalidPickle(f"member {member!r} lacks key(s) {', '.join(missing)}")
    return fields


def _validate_meta(obj: object) -> list[str]:
    names = _as_dict(obj, "meta", ["fine_label_names"])["fine_label_names"]
    if not isinstance(names, list | tuple) or not names:
        raise InvalidPickle("member 'meta': fine_label_names must be a non-empty list")
    text = [_text(name) for name in names]
    if len(set(text)) != len(text):
        raise InvalidPickle("member 'meta': fine_label_names has duplicates")
    return text


def _validate_split(obj: object, member: str, class_count: int) -> CifarSplit:
    fields = _as_dict(obj, member, ["data", "fine_labels", "filenames"])
    data = fields["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != ROW_BYTES:
        shape = getattr(data, "shape", None)
        dtype = getattr(data, "dtype", type(data).__name__)
        raise InvalidPickle(
            f"member {member!r}: data has shape {shape} and type {dtype}, expected uint8 (N, {ROW_BYTES})"
        )
    try:
        labels = np.asarray(fields["fine_labels"], dtype=np.int64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidPickle(f"member {member!r}: fine_labels are not integers") from exc
    filenames = fields["filenames"]
    if labels.ndim != 1 or not isinstance(filenames, list | tuple):
        raise InvalidPickle(f"member {member!r}: fine_labels and filenames must be flat lists")
    if not len(labels) == len(filenames) == len(data):
        raise InvalidPickle(
            f"member {member!r}: {len(data)} data rows, {len(labels)} fine_labels, {len(filenames)} filenames"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= class_count):
        raise InvalidPickle(f"member {member!r}: fine_labels outside 0..{class_count - 1} (the meta names)")
    return CifarSplit(np.ascontiguousarray(data), labels, list(filenames))


def read_archive(
    path: Path,
    *,
    digest_algorithms: Iterable[str] = (),
    on_read: Callable[[int], None] | None = None,
) -> tuple[CifarArchive, dict[str, str]]:
    """Stream `path` once: validated train/test/meta plus the hex digests of the compressed file.

    The arrays' rows are views of the inflated archive, which stays in memory as long as they do.
    """
    found: dict[str, Any] = {}
    with InflatedArchive(path, digest_algorithms, on_read) as stream:
        for member_path, offset, size, regular in _iter_members(stream):
            name = member_path.rstrip("/").rsplit("/", 1)[-1]
            if not regular or name not in MEMBERS:
                continue
            if name in found:
                raise CorruptArchive(f"archive holds two members named {name!r}")
            found[name] = _load_member(stream, name, offset, size)
        digests = stream.finish()
    missing = [name for name in MEMBERS if name not in found]
    if missing:
        raise MissingMember(
            f"archive lacks {', '.join(f'{ARCHIVE_FOLDER}/{name}' for name in missing)} "
            "(is it the CIFAR-100 python version?)"
        )
    names = _validate_meta(found["meta"])
    archive = CifarArchive(
        fine_label_names=names,
        train=_validate_split(found["train"], "train", len(names)),
        test=_validate_split(found["test"], "test", len(names)),
    )
    return archive, digests
