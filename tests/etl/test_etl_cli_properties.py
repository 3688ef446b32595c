"""Property tests: whatever argv `python -m etl` gets, it builds the dataset or refuses in one named line.

A valid command line must build the dataset (and load exactly it, when it names a bucket). A command line with
a known fault (a bad value for one option, a missing or unknown option, an option without the one it needs)
must be refused: a non-zero exit, one `error: <Name>: <reason>` line on stderr (no traceback), nothing on
stdout, and the file system and the bucket exactly as they were. So accepting nonsense fails a test as surely
as a crash does. Everything runs in-process against a small synthetic archive and moto; no run may download.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from etl import manifest as manifest_io
from etl.__main__ import main
from etl.split import SPLITS
from tests.etl import archive_writer as writer
from tests.etl.etl_testdata import CLASS_NAMES, small_members

BUCKET = "datasets"
# The fixtures are shared by all examples on purpose: each example works in a folder of its own.
PROPERTIES = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ERROR_LINE = re.compile(r"error: [A-Z][A-Za-z]+: \S.*")


@dataclass
class Argv:
    """A command line: its options in order, and the last value given per flag (for the checks)."""

    options: list[list[str]] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)

    def add(self, flag: str, value: str | None = None) -> None:
        self.options.append([flag] if value is None else [flag, value])
        self.values[flag] = "" if value is None else value


@dataclass(frozen=True)
class Values:
    """What a flag accepts and what it must refuse."""

    valid: st.SearchStrategy[str]
    invalid: st.SearchStrategy[str]


def _not_a_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return True
    return False


def _class_list_ok(text: str) -> bool:
    """The documented rule: comma-separated, blanks around names ignored, two or more distinct known names."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    return len(names) >= 2 and len(set(names)) == len(names) and set(names) <= set(CLASS_NAMES)


_segments = st.text(alphabet="abcxyz019-_.é", min_size=1, max_size=8).filter(lambda s: s not in (".", ".."))
_blank = st.sampled_from(["", " ", "\t", "\xa0"])
VALUES = {
    "--output": Values(
        st.sampled_from(["ds", "out/dataset", "out/dataset/", "./deep/er/ds", "données/jeu"]),
        st.sampled_from(
            [
                "",
                ".",
                "..",
                "/",
                "out/..",
                "blocker",
                "blocker/dataset",
                "home",
                "a\x00b",
                "\ud800ds",
                "~no-such-user-x/ds",
            ]
        ),
    ),
    "--source": Values(
        st.just("file://{archive}"),
        st.sampled_from(["missing.tar.gz", "", "home", "blocker", "\x00", "file://{root}/missing.tar.gz"]),
    ),
    "--bucket": Values(
        st.just(BUCKET),
        st.sampled_from(
            [
                "",
                "ab",
                "Datasets",
                "data_sets",
                "-datasets",
                "datasets-",
                "data..sets",
                "192.168.1.1",
                "a" * 64,
                "dätasets",
                " datasets",
                "datasets\n",
                "no-such-bucket",
            ]
        ),
    ),
    "--prefix": Values(
        st.lists(_segments, min_size=1, max_size=3).map("/".join) | st.sampled_from(["", "ds/v1", "/ds/v1/", "a b/c"]),
        st.sampled_from(["../x", "a/../b", "a//b", "./x", "x\n", "\udcff", "a" * 800, " ds", "ds /v1", "x\x7f"]),
    ),
    "--classes": Values(
        st.lists(
            st.tuples(_blank, st.sampled_from(CLASS_NAMES), _blank), min_size=2, max_size=4, unique_by=lambda t: t[1]
        ).map(lambda names: ",".join("".join(parts) for parts in names)),
        st.sampled_from(
            [
                "bicycle",
                "",
                ",,",
                "bicycle,bicycle",
                "bicycle, bicycle ",
                "Bicycle,motorcycle",
                "bicycle,scooter",
                "bicycle;motorcycle",
                "bicycle\n,bicycle\n",
            ]
        )
        | st.lists(st.sampled_from([*CLASS_NAMES[:4], "scooter", " bicycle", "", "\xa0motorcycle"]), max_size=4)
        .map(",".join)
        .filter(lambda text: not _class_list_ok(text))
        | st.text(max_size=12).filter(lambda text: not _class_list_ok(text)),
    ),
    "--validation-fraction": Values(
        st.floats(0.1, 0.9).map(repr) | st.sampled_from(["5e-1", " 0.25 ", "0.3"]),
        st.sampled_from(
            ["nan", "NaN", "inf", "-inf", "0", "1", "1.5", "-0.1", "", "abc", "0.01", "0.97", "1e308", "1e-400"]
        )
        | st.text(max_size=6).filter(_not_a_number),
    ),
    "--seed": Values(
        st.integers(0, 2**70).map(str) | st.sampled_from(["007", " 3 "]),
        st.integers(max_value=-1).map(str) | st.sampled_from(["", "1.5", "1e3", "abc", "9" * 5000]),
    ),
    "--checksum": Values(
        st.sampled_from(["{sha256}", "MD5:{md5_upper}"]),
        st.sampled_from(["", "md5:xyz", "sha256:" + "0" * 64, "sha1:" + "0" * 40]),
    ),
    "--workers": Values(
        st.integers(1, 64).map(str) | st.just("100000000000000000000"),
        st.integers(max_value=0).map(str) | st.sampled_from(["", "1.0", "x", "-"]),
    ),
    "--cache-dir": Values(st.sampled_from(["cache", ""]), st.just("\x00")),
}
VALUES["--concurrency"] = VALUES["--workers"]
FLAGS = ["--dry-run", "--no-prune", "--quiet"]
FAULTS = [
    *(f"invalid {flag}" for flag in sorted(VALUES)),
    "no --output",
    "unknown option",
    "--dry-run without --bucket",
    "--prefix without --bucket",
]


@st.composite
def command_lines(draw: st.DrawFn, faults: tuple[str, ...] = ()) -> Argv:
    """A valid command line, or one with the given faults and nothing else wrong."""
    argv = Argv()
    chosen = set(draw(st.lists(st.sampled_from(sorted(set(VALUES) - {"--output"})), max_size=5)))
    flags = set(draw(st.lists(st.sampled_from(FLAGS), unique=True)))
    if "--dry-run without --bucket" in faults:
        chosen, flags = chosen - {"--bucket"}, flags | {"--dry-run"}
    if "--prefix without --bucket" in faults:
        chosen = (chosen - {"--bucket"}) | {"--prefix"}
    elif ("--prefix" in chosen or "--dry-run" in flags) and "--dry-run without --bucket" not in faults:
        chosen.add("--bucket")
    bad = next((fault.removeprefix("invalid ") for fault in faults if fault.startswith("invalid ")), None)
    if bad and bad != "--output":
        chosen.add(bad)
    if "no --output" not in faults:
        argv.add("--output", draw(VALUES["--output"].invalid if bad == "--output" else VALUES["--output"].valid))
    for flag in sorted(chosen):
        if bad == flag:
            value = draw(VALUES[flag].invalid)
        elif flag == "--prefix" and "--prefix without --bucket" in faults:
            value = draw(VALUES[flag].valid.filter(lambda text: text.strip("/") != ""))
        else:
            value = draw(VALUES[flag].valid)
        argv.add(flag, value)
    for flag in sorted(flags):
        argv.add(flag)
    if "unknown option" in faults:
        argv.options.append(draw(st.sampled_from([["--unknown-flag"], ["--bucket-name", BUCKET], ["-z"], ["stray"]])))
    argv.options = draw(st.permutations(argv.options))
    return argv


# -- the world each example runs in ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("archive") / "small.tar.gz"
    writer.write_archive(path, small_members())
    return path


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the ETL tried to download something; tests always pass a local --source")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def _world(base: Path) -> Path:
    """A fresh working folder holding a file and a folder that is not a dataset, both of which must survive."""
    root = Path(tempfile.mkdtemp(dir=base))
    (root / "blocker").write_text("a file")
    (root / "home").mkdir()
    (root / "home" / "notes.txt").write_text("keep me")
    return root


def _tree(root: Path) -> dict[str, tuple[bool, bytes]]:
    return {
        str(path.relative_to(root)): (path.is_dir(), b"" if path.is_dir() else path.read_bytes())
        for path in root.rglob("*")
    }


def _bucket_state(client: Any) -> dict[str, str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return {item["Key"]: item["ETag"] for page in pages for item in page.get("Contents", [])}


def _run(argv: Argv, root: Path, archive: Path) -> tuple[int, str, str]:
    """main() on the command line, in `root`, with the placeholders filled in: (exit status, stdout, stderr)."""
    payload = archive.read_bytes()
    known = {
        "{archive}": str(archive),
        "{root}": str(root),
        "{sha256}": "sha256:" + hashlib.sha256(payload).hexdigest(),
        "{md5_upper}": hashlib.md5(payload).hexdigest().upper(),
    }
    # A value that starts with "-" reads as an option unless it is attached: --prefix=-x
    words = ["--source", str(archive)]
    for option in argv.options:
        words += [f"{option[0]}={option[1]}"] if len(option) == 2 and option[1].startswith("-") else option
    for placeholder, value in known.items():
        words = [word.replace(placeholder, value) for word in words]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(root), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(words)
    assert "Traceback" not in err.getvalue()
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("fault", FAULTS)
@settings(PROPERTIES, max_examples=6)
@given(data=st.data())
@pytest.mark.usefixtures("no_network")
def test_a_faulty_command_line_is_refused_in_one_named_line_and_changes_nothing(
    fault: str, data: st.DataObject, archive: Path, s3: Any, tmp_path: Path
) -> None:
    faults = (fault, *data.draw(st.lists(st.sampled_from(FAULTS), max_size=1), label="and"))
    argv = data.draw(command_lines(faults), label="argv")
    root = _world(tmp_path)
    files_before, objects_before = _tree(root), _bucket_state(s3)

    code, stdout, stderr = _run(argv, root, archive)

    lines = stderr.splitlines()
    assert code != 0, f"accepted {argv.options!r}"
    assert lines, "refused without saying why"
    assert ERROR_LINE.fullmatch(lines[-1]), lines[-1]
    assert [line for line in lines if line.startswith("error:")] == [lines[-1]]
    if "--quiet" in argv.values:
        assert len(lines) == 1
    assert stdout == ""
    assert _tree(root) == files_before, "a refused run changed the file system"
    assert _bucket_state(s3) == objects_before, "a refused run changed the bucket"
    hypothesis.event(f"refused: {lines[-1].split(':')[1].strip()}")  # see pytest --hypothesis-show-statistics


@settings(PROPERTIES, max_examples=15)
@given(argv=command_lines())
@pytest.mark.usefixtures("no_network")
def test_a_valid_command_line_builds_the_dataset_and_loads_exactly_it(
    argv: Argv, archive: Path, s3: Any, tmp_path: Path
) -> None:
    root = _world(tmp_path)
    files_before, objects_before = _tree(root), _bucket_state(s3)

    code, stdout, stderr = _run(argv, root, archive)

    assert code == 0, stderr
    assert stdout.startswith("wrote ")
    if "--quiet" in argv.values:
        assert stderr == ""
    manifest_bytes = (root / argv.values["--output"] / manifest_io.MANIFEST_NAME).read_bytes()
    manifest = json.loads(manifest_bytes)
    classes = argv.values.get("--classes", "bicycle,motorcycle")
    assert manifest["classes"] == [name.strip() for name in classes.split(",") if name.strip()]
    assert not [path for path in root.rglob("*") if path.name.endswith((".partial", ".old"))]
    assert {name: _tree(root)[name] for name in files_before} == files_before
    if "--bucket" not in argv.values or "--dry-run" in argv.values:
        assert _bucket_state(s3) == objects_before
        hypothesis.event("built, nothing loaded")
        return
    base = argv.values.get("--prefix", "").strip("/")
    base = f"{base}/" if base else ""
    remote = s3.get_object(Bucket=BUCKET, Key=base + manifest_io.MANIFEST_NAME)["Body"].read()
    assert remote == manifest_bytes
    wanted = {base + item.path for item in manifest_io.dataset_files(manifest)}
    in_splits = {key for key in _bucket_state(s3) if key.startswith(tuple(f"{base}{split}/" for split in SPLITS))}
    assert wanted <= in_splits if "--no-prune" in argv.values else in_splits == wanted
    hypothesis.event("built and loaded")
