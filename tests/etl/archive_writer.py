"""Write archives in the CIFAR-100 python format, as the official one is written, for tests and benchmarks.

Lives beside the tests, not in etl/: the ETL only reads archives. Python 2 wrote those pickles (protocol 2, byte
strings as BINSTRING, arrays through numpy.core.multiarray._reconstruct), so they are emitted opcode by opcode:
Python 3's pickle would write them differently and miss what etl.archive must cope with. scripts/benchmark_etl and
scripts/benchmark_training import it too (by folder: see there).
"""

from __future__ import annotations

import io
import pickle
import struct
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from etl.archive import ARCHIVE_FOLDER, CifarSplit


def dump_py2_pickle(obj: object) -> bytes:
    """Protocol 2 as Python 2 wrote it: byte strings as BINSTRING, arrays via numpy.core._reconstruct."""
    out = io.BytesIO()
    out.write(pickle.PROTO + b"\x02")
    _emit(out, obj)
    out.write(pickle.STOP)
    return out.getvalue()


def _emit_binstring(out: io.BytesIO, value: bytes) -> None:
    if len(value) < 256:
        out.write(pickle.SHORT_BINSTRING + bytes([len(value)]) + value)
    else:
        out.write(pickle.BINSTRING + struct.pack("<i", len(value)) + value)


def _emit(out: io.BytesIO, obj: object) -> None:
    if obj is None:
        out.write(pickle.NONE)
    elif isinstance(obj, bool):
        out.write(pickle.NEWTRUE if obj else pickle.NEWFALSE)
    elif isinstance(obj, int | np.integer):
        value = int(obj)
        if 0 <= value < 256:
            out.write(pickle.BININT1 + bytes([value]))
        else:
            out.write(pickle.BININT + struct.pack("<i", value))
    elif isinstance(obj, bytes):
        _emit_binstring(out, obj)
    elif isinstance(obj, str):
        _emit_binstring(out, obj.encode("latin1"))
    elif isinstance(obj, tuple):
        out.write(pickle.MARK)
        for item in obj:
            _emit(out, item)
        out.write(pickle.TUPLE)
    elif isinstance(obj, list):
        out.write(pickle.EMPTY_LIST + pickle.MARK)
        for item in obj:
            _emit(out, item)
        out.write(pickle.APPENDS)
    elif isinstance(obj, dict):
        out.write(pickle.EMPTY_DICT + pickle.MARK)
        for key, value in obj.items():
            _emit(out, key)
            _emit(out, value)
        out.write(pickle.SETITEMS)
    elif isinstance(obj, np.ndarray):
        _emit_array(out, obj)
    else:
        raise TypeError(f"cannot write {type(obj).__name__} into a CIFAR pickle")


def _emit_array(out: io.BytesIO, array: np.ndarray) -> None:
    if array.dtype != np.uint8:
        raise TypeError("CIFAR pickles hold uint8 arrays")
    out.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
    out.write(pickle.GLOBAL + b"numpy\nndarray\n")
    _emit(out, (0,))
    _emit(out, b"b")
    out.write(pickle.TUPLE3 + pickle.REDUCE)
    out.write(pickle.MARK)
    _emit(out, 1)
    _emit(out, tuple(array.shape))
    out.write(pickle.GLOBAL + b"numpy\ndtype\n")
    _emit(out, (b"u1", False, True))
    out.write(pickle.REDUCE)
    _emit(out, (3, b"|", None, None, None, -1, -1, 0))
    out.write(pickle.BUILD)
    _emit(out, False)
    _emit_binstring(out, np.ascontiguousarray(array).tobytes())
    out.write(pickle.TUPLE + pickle.BUILD)


def split_pickle(split: CifarSplit, batch_label: str, coarse_labels: Iterable[int] | None = None) -> bytes:
    labels = [int(label) for label in split.fine_labels]
    return dump_py2_pickle(
        {
            b"filenames": [name if isinstance(name, bytes) else name.encode("latin1") for name in split.filenames],
            b"batch_label": batch_label.encode("latin1"),
            b"fine_labels": labels,
            b"coarse_labels": list(coarse_labels) if coarse_labels is not None else [0] * len(labels),
            b"data": split.data,
        }
    )


def meta_pickle(fine_label_names: Iterable[str], coarse_label_names: Iterable[str] = ()) -> bytes:
    return dump_py2_pickle(
        {
            b"fine_label_names": [name.encode("latin1") for name in fine_label_names],
            b"coarse_label_names": [name.encode("latin1") for name in coarse_label_names],
        }
    )


def write_archive(
    path: Path, members: Mapping[str, bytes], *, compresslevel: int = 6, folder: str = ARCHIVE_FOLDER
) -> None:
    """Members are written in the mapping's order (the official archive: train, test, meta)."""
    with tarfile.open(path, "w:gz", compresslevel=compresslevel, format=tarfile.GNU_FORMAT) as tar:
        directory = tarfile.TarInfo(folder)
        directory.type, directory.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(directory)
        for name, payload in members.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size, info.mode = len(payload), 0o644
            tar.addfile(info, io.BytesIO(payload))
