"""Bad input: each case is one named error, a non-zero exit, and no output that looks complete."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import etl
from etl import archive as cifar
from etl.__main__ import main
from tests.etl import archive_writer as writer
from tests.etl.etl_testdata import CLASS_NAMES, small_members

MakeArchive = Callable[..., Path]


@pytest.fixture(params=["zlib", "isal"])
def inflater(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Damage is caught by the standard library's inflater and by the optional ISA-L one alike."""
    if request.param == "isal":
        module = pytest.importorskip("isal.isal_zlib", reason="optional package isal not installed")
    else:
        module = zlib
    monkeypatch.setattr(etl.inflate, "INFLATE", module)


def _fails(source: Path | str, tmp_path: Path, error: type[etl.EtlError], match: str = "", **options: object) -> None:
    """The run raises `error`, the CLI prints one line naming it, and nothing is left in the output's folder."""
    parent = tmp_path / "out"
    parent.mkdir(exist_ok=True)
    before = sorted(parent.iterdir())
    with pytest.raises(error, match=match):
        etl.run(str(source), parent / "dataset", **options)
    assert sorted(parent.iterdir()) == before  # no dataset, no staging folder


def _cli_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(argv)
    return code, capsys.readouterr().err.strip().splitlines()


def test_a_file_that_is_not_gzip_is_a_corrupt_archive(tmp_path: Path) -> None:
    path = tmp_path / "notes.tar.gz"
    path.write_text("not an archive\n" * 100)
    _fails(path, tmp_path, etl.CorruptArchive, "not a gzip file")


@pytest.mark.usefixtures("inflater")
@pytest.mark.parametrize("keep", [0.05, 0.5, 0.9, -4])
def test_a_truncated_archive_is_a_corrupt_archive(make_archive: MakeArchive, tmp_path: Path, keep: float) -> None:
    payload = make_archive().read_bytes()
    cut = len(payload) + keep if keep < 0 else int(len(payload) * keep)
    path = tmp_path / "cut.tar.gz"
    path.write_bytes(payload[: int(cut)])
    _fails(path, tmp_path, etl.CorruptArchive, "truncated")


@pytest.mark.usefixtures("inflater")
@pytest.mark.parametrize("position", [0.5, -8, -1], ids=["deflate-data", "crc", "length"])
def test_a_damaged_byte_is_a_corrupt_archive(make_archive: MakeArchive, tmp_path: Path, position: float) -> None:
    payload = bytearray(make_archive().read_bytes())
    payload[int(len(payload) * position) if position > 0 else int(position)] ^= 0x01
    path = tmp_path / "damaged.tar.gz"
    path.write_bytes(bytes(payload))
    _fails(path, tmp_path, etl.CorruptArchive, "damaged|truncated|tar header")


def test_gzip_of_something_other_than_a_tar_is_a_corrupt_archive(tmp_path: Path) -> None:
    path = tmp_path / "pickle.gz"
    path.write_bytes(gzip.compress(pickle.dumps({"data": list(range(1000))})))
    _fails(path, tmp_path, etl.CorruptArchive, "tar header")


@pytest.mark.parametrize("member", ["meta", "train", "test"])
def test_a_missing_member_is_named(make_archive: MakeArchive, tmp_path: Path, member: str) -> None:
    members = small_members()
    del members[member]
    _fails(make_archive(members), tmp_path, etl.MissingMember, f"cifar-100-python/{member}")


def _split_dict(**changes: object) -> bytes:
    rng = np.random.default_rng(1)
    fields: dict[bytes, object] = {
        b"filenames": [f"img_{row}.png".encode() for row in range(20)],
        b"fine_labels": [row % 10 for row in range(20)],
        b"data": rng.integers(0, 256, size=(20, 3072), dtype=np.uint8),
    }
    for key, value in changes.items():
        if value is None:
            del fields[key.encode()]
        else:
            fields[key.encode()] = value
    return writer.dump_py2_pickle(fields)


@pytest.mark.parametrize(
    ("train", "match"),
    [
        (_split_dict(data=np.zeros((20, 3071), dtype=np.uint8)), r"shape \(20, 3071\)"),
        (_split_dict(data=np.zeros((20, 32, 32, 3), dtype=np.uint8)), r"shape \(20, 32, 32, 3\)"),
        (_split_dict(fine_labels=[0] * 19), "20 data rows, 19 fine_labels"),
        (_split_dict(fine_labels=[99] * 20), "outside 0..9"),
        (_split_dict(filenames=None), "lacks key"),
        (writer.dump_py2_pickle([1, 2, 3]), "holds a list"),
        (b"\x80\x02}q\x00(U\x04data", "not a readable pickle"),
    ],
    ids=["3071-columns", "4d-array", "short-labels", "label-out-of-range", "no-filenames", "not-a-dict", "cut-pickle"],
)
def test_a_pickle_of_the_wrong_shape_is_invalid(
    make_archive: MakeArchive, tmp_path: Path, train: bytes, match: str
) -> None:
    members = small_members()
    members["train"] = train
    _fails(make_archive(members), tmp_path, etl.InvalidPickle, match)


def test_a_pickle_that_would_run_code_is_refused_without_running_it(make_archive: MakeArchive, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    members = small_members()
    members["meta"] = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    _fails(make_archive(members), tmp_path, etl.InvalidPickle, "os.system")
    assert not marker.exists()


def test_a_filename_that_escapes_its_folder_is_refused(make_archive: MakeArchive, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    split = cifar.CifarSplit(
        rng.integers(0, 256, size=(20, 3072), dtype=np.uint8),
        np.arange(20) % 10,  # row 3 is a bicycle, so its name becomes a path
        [b"../../escaped.png" if row == 3 else f"ok_{row}.png".encode() for row in range(20)],
    )
    members = small_members()
    members["test"] = writer.split_pickle(split, "testing batch 1 of 1")
    _fails(make_archive(members), tmp_path, etl.InvalidPickle, "not a plain file name")
    assert not list(tmp_path.rglob("escaped.png"))


def test_unknown_class_lists_the_valid_names(make_archive: MakeArchive, tmp_path: Path) -> None:
    _fails(
        make_archive(), tmp_path, etl.UnknownClass, "'scooter'.*" + ", ".join(CLASS_NAMES), classes="bicycle,scooter"
    )


def test_a_wrong_checksum_is_refused(make_archive: MakeArchive, tmp_path: Path) -> None:
    path = make_archive()
    _fails(path, tmp_path, etl.ChecksumMismatch, "expected 0000", checksum="sha256:" + "0" * 64)
    right = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert etl.run(str(path), tmp_path / "ok", checksum=right).counts["test"] == {"bicycle": 3, "motorcycle": 3}


def test_a_missing_source_file_is_unavailable(tmp_path: Path) -> None:
    _fails(tmp_path / "nowhere.tar.gz", tmp_path, etl.SourceUnavailable, "no archive at")


def test_an_output_under_a_regular_file_is_not_writable(make_archive: MakeArchive, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("I am a file")
    with pytest.raises(etl.OutputNotWritable):
        etl.run(str(make_archive()), blocker / "dataset")
    assert blocker.read_text() == "I am a file"


def test_a_folder_that_is_not_a_dataset_is_never_replaced(make_archive: MakeArchive, tmp_path: Path) -> None:
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(etl.OutputNotWritable, match="holds no ETL dataset"):
        etl.run(str(make_archive()), precious)
    assert [p.name for p in precious.iterdir()] == ["notes.txt"]


def test_a_failed_run_leaves_the_previous_dataset_intact(make_archive: MakeArchive, tmp_path: Path) -> None:
    output = tmp_path / "dataset"
    etl.run(str(make_archive()), output)
    manifest = (output / etl.MANIFEST_NAME).read_bytes()
    members = small_members()
    del members["meta"]
    with pytest.raises(etl.MissingMember):
        etl.run(str(make_archive(members)), output)
    assert (output / etl.MANIFEST_NAME).read_bytes() == manifest
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("archive-")) == ["dataset"]


def test_the_cli_prints_one_named_line_and_exits_non_zero(
    make_archive: MakeArchive, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = make_archive().read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(payload[: len(payload) // 2])
    code, lines = _cli_error(["--source", str(cut), "--output", str(tmp_path / "d"), "--quiet"], capsys)
    assert code == etl.CorruptArchive.exit_code != 0
    assert len(lines) == 1
    assert lines[0].startswith("error: CorruptArchive: ")
    code, lines = _cli_error(["--source", str(cut), "--output", str(tmp_path / "d"), "--seed", "-1"], capsys)
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith("error: InvalidArgument: argument --seed")
    code, lines = _cli_error(["--source", str(cut)], capsys)
    assert code == 2
    assert len(lines) == 1
    assert "--output" in lines[0]


def test_a_plain_tar_archive_reads_like_the_gzip_one_after_compression(tmp_path: Path) -> None:
    """write_archive produces what tarfile itself reads: guards the test data against format drift."""
    path = tmp_path / "archive.tar.gz"
    writer.write_archive(path, small_members())
    with tarfile.open(path, "r:gz") as tar:
        assert [m.name for m in tar.getmembers()] == [
            "cifar-100-python",
            "cifar-100-python/train",
            "cifar-100-python/test",
            "cifar-100-python/meta",
        ]
        meta = pickle.load(io.BytesIO(tar.extractfile("cifar-100-python/meta").read()), encoding="bytes")
    assert meta[b"fine_label_names"][3] == b"bicycle"
