"""`python -m etl` and `scripts/run_etl` as a user runs them: what they build, what they refuse, how they re-run."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import etl
from etl.__main__ import main
from tests.etl.etl_testdata import s3_keys

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_python_m_etl_builds_the_dataset(shared_archive: Path, tmp_path: Path) -> None:
    done = _run(
        sys.executable, "-m", "etl", "--source", str(shared_archive), "--output", str(tmp_path / "d"), "--quiet"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(
        "train 720 (bicycle 360, motorcycle 360); validation 80 (bicycle 40, motorcycle 40); "
        "test 200 (bicycle 100, motorcycle 100)"
    )
    assert (tmp_path / "d" / "manifest.json").is_file()


def test_run_etl_wrapper_reports_errors_in_one_line(tmp_path: Path) -> None:
    done = _run(str(REPO_ROOT / "scripts" / "run_etl"), "--source", str(tmp_path / "missing.tar.gz"),
                "--output", str(tmp_path / "d"), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 3
    assert done.stderr.strip() == f"error: SourceUnavailable: no archive at {tmp_path / 'missing.tar.gz'}"


# -- command lines that were accepted, crashed or left something behind ---------------------------------------------
def _tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize(
    ("options", "error", "reason"),
    [
        # accepted: keys under "../x/" in the bucket
        (["--bucket", "datasets", "--prefix", "../x"], "InvalidArgument", "'../x' has an empty, '.' or '..' segment"),
        # bytes that are not UTF-8 (`--prefix $'\xff'`): UnicodeEncodeError after the local dataset was written
        (["--bucket", "datasets", "--prefix", "\udcff"], "InvalidArgument", "is not valid UTF-8"),
        # accepted: S3 refuses keys over 1024 bytes only once the uploads start
        (["--bucket", "datasets", "--prefix", "a" * 1100], "InvalidArgument", "is 1100 bytes long"),
        (["--bucket", "datasets", "--prefix", "ds\nv2"], "InvalidArgument", "holds a control character"),
        # accepted as a local-only run, exit 0
        (["--bucket", ""], "InvalidArgument", "'' is not an S3 bucket name"),
        # reported as BucketUnreachable "does not exist" (exit 6) instead of a naming mistake
        (["--bucket", "Bad_Bucket"], "InvalidArgument", "'Bad_Bucket' is not an S3 bucket name"),
        # the prefix was silently ignored
        (["--prefix", "datasets/v2"], "InvalidArgument", "--prefix needs --bucket"),
        (["--validation-fraction", "nan"], "InvalidArgument", "must be a number between 0 and 1"),
        (["--validation-fraction", "1.5"], "InvalidArgument", "must be a number between 0 and 1"),
        # an empty `out/` folder was left behind
        (["--classes", "bicycle,scooter"], "UnknownClass", "unknown class 'scooter'"),
        # the error took two lines
        (["--classes", "bicycle\nx,bicycle\nx"], "InvalidArgument", "lists a class twice: bicycle\\nx,bicycle\\nx"),
    ],
    ids=["dotdot-prefix", "non-utf8-prefix", "long-prefix", "newline-prefix", "empty-bucket", "bucket-name",
         "prefix-without-bucket", "nan-fraction", "fraction-above-1", "unknown-class", "newline-in-classes"],
)  # fmt: skip
def test_a_refused_command_line_says_why_in_one_line_and_leaves_nothing(
    s3: Any,
    make_archive: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    error: str,
    reason: str,
) -> None:
    archive = make_archive()
    before = _tree(tmp_path)

    code = main(["--source", str(archive), "--output", str(tmp_path / "out" / "dataset"), "--quiet", *options])

    captured = capsys.readouterr()
    assert code == getattr(etl, error).exit_code
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"error: {error}: ")
    assert reason in captured.err
    assert captured.out == ""
    assert _tree(tmp_path) == before
    assert s3_keys(s3) == set()


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("", "'' does not name a folder of its own"),  # replaced the current folder when it was empty
        (".", "'.' does not name a folder of its own"),
        ("a\x00b", "is not a usable path"),  # ValueError: embedded null byte
        ("~no-such-user-x/ds", "starts with an unknown home directory"),  # RuntimeError from Path.expanduser
    ],
    ids=["empty", "dot", "nul", "unknown-home"],
)
def test_an_output_that_names_no_folder_of_its_own_is_refused(
    make_archive: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    output: str,
    reason: str,
) -> None:
    archive = make_archive()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)

    code = main(["--source", str(archive), "--output", output, "--quiet"])

    assert code == etl.InvalidArgument.exit_code
    err = capsys.readouterr().err
    assert err.startswith("error: InvalidArgument: argument --output: ")
    assert reason in err
    assert Path.cwd() == work
    assert list(work.iterdir()) == []


# -- re-running into the same output folder -------------------------------------------------------------------------
def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_rerun_replaces_the_folder_whole(make_archive: Callable[..., Path], tmp_path: Path) -> None:
    archive, output = make_archive(), tmp_path / "dataset"
    assert main(["--source", str(archive), "--output", str(output), "--quiet"]) == 0
    argv = ["--source", str(archive), "--output", str(output), "--classes", "class_0,bicycle", "--quiet"]
    assert main([*argv, "--validation-fraction", "0.3"]) == 0

    manifest = etl.manifest.read(output)
    described = {file.path for file in etl.manifest.dataset_files(manifest)} | {etl.MANIFEST_NAME}
    assert set(_files(output)) == described  # not a merge: the old motorcycle images are gone
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("archive-")) == ["dataset"]


def test_a_rerun_that_fails_while_writing_keeps_the_previous_dataset(
    make_archive: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    archive, output = make_archive(), tmp_path / "dataset"
    assert main(["--source", str(archive), "--output", str(output), "--quiet"]) == 0
    previous = _files(output)
    real_write = etl.pipeline.write_dataset

    def disk_full(root: Path, *args: Any, **kwargs: Any) -> Any:
        real_write(root, *args, **kwargs)  # every image written, then the disk fills up
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(etl.pipeline, "write_dataset", disk_full)
    capsys.readouterr()

    code = main(["--source", str(archive), "--output", str(output), "--seed", "7", "--quiet"])

    assert code == etl.OutputNotWritable.exit_code
    assert capsys.readouterr().err.startswith("error: OutputNotWritable: ")
    assert _files(output) == previous
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("archive-")) == ["dataset"]


def test_a_rerun_whose_swap_fails_puts_the_previous_dataset_back(
    make_archive: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    archive, output = make_archive(), tmp_path / "dataset"
    assert main(["--source", str(archive), "--output", str(output), "--quiet"]) == 0
    previous = _files(output)
    real_replace = os.replace

    def refuse_the_new_folder(source: Any, destination: Any) -> None:
        if str(source).endswith(".partial"):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", refuse_the_new_folder)
    capsys.readouterr()

    code = main(["--source", str(archive), "--output", str(output), "--seed", "7", "--quiet"])

    assert code == etl.OutputNotWritable.exit_code
    assert capsys.readouterr().err.startswith("error: OutputNotWritable: cannot move the dataset into ")
    assert _files(output) == previous
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("archive-")) == ["dataset"]
