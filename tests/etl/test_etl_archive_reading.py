"""Reading the archive in one pass: every pickle encoding gives the same pixels, the pixel rows of the usual
ones are read where they were inflated (no copy), and odd archives still read correctly."""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

import etl
from etl import archive as cifar
from etl import inflate
from tests.etl import archive_writer as writer
from tests.etl.etl_testdata import CLASS_NAMES, small_split

ROWS_PER_CLASS = 40  # 400 rows: 1.2 MB of pixels, above the size read in place
assert ROWS_PER_CLASS * len(CLASS_NAMES) * cifar.ROW_BYTES > cifar.PAYLOAD_MIN_BYTES


def _fields(split: cifar.CifarSplit, **extra: object) -> dict[bytes, object]:
    return {
        b"filenames": list(split.filenames),
        b"batch_label": b"training batch 1 of 1",
        b"fine_labels": [int(label) for label in split.fine_labels],
        b"data": split.data,
        **{key.encode(): value for key, value in extra.items()},
    }


def _encode(fields: dict[bytes, object], encoding: str) -> bytes:
    if encoding == "python2":  # BINSTRING, as the official archive was written
        return writer.dump_py2_pickle(fields)
    return pickle.dumps(fields, protocol=int(encoding.removeprefix("protocol")))


def _archive(path: Path, train: bytes, test_seed: int = 1) -> Path:
    rng = np.random.default_rng(test_seed)
    members = {
        "train": train,
        "test": writer.split_pickle(small_split(rng, 3, "test"), "testing batch 1 of 1"),
        "meta": writer.meta_pickle(CLASS_NAMES),
    }
    writer.write_archive(path, members)
    return path


def _owner(array: np.ndarray) -> object:
    """The object that really holds an array's bytes (following views back to the first one)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array.base


@pytest.mark.parametrize(
    ("encoding", "in_place"),
    [("python2", True), ("protocol2", False), ("protocol3", True), ("protocol4", True)],
    ids=["python2-binstring", "python3-protocol2", "protocol3", "protocol4"],
)
def test_every_pickle_encoding_gives_the_archive_pixels(tmp_path: Path, encoding: str, in_place: bool) -> None:
    split = small_split(np.random.default_rng(0), ROWS_PER_CLASS, "train")
    path = _archive(tmp_path / "a.tar.gz", _encode(_fields(split), encoding))
    archive, _ = cifar.read_archive(path)
    assert np.array_equal(archive.train.data, split.data)
    assert archive.train.fine_labels.tolist() == split.fine_labels.tolist()
    assert archive.train.filenames == split.filenames
    # Python 3's protocol 2 stores bytes as latin-1 text, which must be decoded; the others are read in place.
    assert isinstance(_owner(archive.train.data), memoryview) is in_place


def test_a_large_string_that_is_not_pixel_data_is_read_the_usual_way(tmp_path: Path) -> None:
    split = small_split(np.random.default_rng(0), ROWS_PER_CLASS, "train")
    label = b"x" * (cifar.PAYLOAD_MIN_BYTES + 7)
    fields = _fields(split)
    fields[b"batch_label"] = label  # comes before `data`, so it is the first large string
    archive, _ = cifar.read_archive(_archive(tmp_path / "a.tar.gz", writer.dump_py2_pickle(fields)))
    assert np.array_equal(archive.train.data, split.data)


def test_a_second_large_array_is_read_correctly(tmp_path: Path) -> None:
    split = small_split(np.random.default_rng(0), ROWS_PER_CLASS, "train")
    extra = np.random.default_rng(5).integers(0, 256, size=(500, 3072), dtype=np.uint8)
    fields = _fields(split, extra=extra)
    archive, _ = cifar.read_archive(_archive(tmp_path / "a.tar.gz", writer.dump_py2_pickle(fields)))
    assert np.array_equal(archive.train.data, split.data)


def test_a_member_cut_inside_its_pixel_rows_is_a_corrupt_archive(tmp_path: Path) -> None:
    split = small_split(np.random.default_rng(0), ROWS_PER_CLASS, "train")
    train = writer.dump_py2_pickle(_fields(split))
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w", format=tarfile.GNU_FORMAT) as archive:
        info = tarfile.TarInfo("cifar-100-python/train")
        info.size = len(train)
        archive.addfile(info, io.BytesIO(train))
    path = tmp_path / "cut.tar.gz"
    path.write_bytes(gzip.compress(tar.getvalue()[: 512 + len(train) // 2]))
    with pytest.raises(etl.CorruptArchive, match="truncated inside member 'train'"):
        cifar.read_archive(path)


def test_an_archive_in_several_gzip_members_reads_like_one(tmp_path: Path) -> None:
    """The buffer is sized from the last gzip member's length field; here that is far too small."""
    split = small_split(np.random.default_rng(0), ROWS_PER_CLASS, "train")
    whole = _archive(tmp_path / "whole.tar.gz", writer.dump_py2_pickle(_fields(split)))
    tar = gzip.decompress(whole.read_bytes())
    pieces = tmp_path / "pieces.tar.gz"
    pieces.write_bytes(b"".join(gzip.compress(tar[start : start + 300_000]) for start in range(0, len(tar), 300_000)))
    ours, _ = cifar.read_archive(pieces)
    reference, _ = cifar.read_archive(whole)
    assert np.array_equal(ours.train.data, reference.train.data)
    assert np.array_equal(ours.test.data, reference.test.data)
    assert ours.fine_label_names == reference.fine_label_names


def test_an_archive_that_inflates_beyond_the_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    split = small_split(np.random.default_rng(0), ROWS_PER_CLASS, "train")
    path = _archive(tmp_path / "a.tar.gz", writer.dump_py2_pickle(_fields(split)))
    monkeypatch.setattr(inflate, "MAX_INFLATED_BYTES", 1 << 20)
    with pytest.raises(etl.CorruptArchive, match="inflates to more than"):
        cifar.read_archive(path)
