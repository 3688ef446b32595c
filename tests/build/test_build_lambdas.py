"""scripts/build_lambdas: deterministic zips holding what each function needs and nothing AWS provides."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD = REPO_ROOT / "scripts" / "build_lambdas"


def build(out: Path, *names: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BUILD), *names, "--out", str(out), "--no-runtime"],
                          capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def zips(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zips")
    result = build(out)
    assert result.returncode == 0, result.stderr
    return out


def names_in(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_every_function_gets_a_zip(zips):
    functions = sorted(p.parent.name for p in (REPO_ROOT / "functions").glob("*/app.py"))
    assert sorted(p.stem for p in zips.glob("*.zip")) == functions


def test_zips_are_byte_identical_across_builds(zips, tmp_path):
    result = build(tmp_path)
    assert result.returncode == 0, result.stderr
    for first in zips.glob("*.zip"):
        second = tmp_path / first.name
        assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest(), first.name


def test_entries_are_sorted_with_fixed_timestamps_and_no_bytecode(zips):
    for path in zips.glob("*.zip"):
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
        assert [i.filename for i in infos] == sorted(i.filename for i in infos)
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert not [i.filename for i in infos if "__pycache__" in i.filename or i.filename.endswith(".pyc")]


def test_powertools_and_boto3_are_left_to_aws(zips):
    for path in zips.glob("*.zip"):
        top_level = {name.split("/")[0] for name in names_in(path)}
        assert not top_level & {"aws_lambda_powertools", "boto3", "botocore", "pydantic"}, path.name


def test_a_function_carries_only_the_shared_modules_it_imports(zips):
    assert "shared/images.py" in names_in(zips / "serialize_image.zip")
    assert "shared/images.py" not in names_in(zips / "filter_inferences.zip")


def test_requirements_are_bundled_for_the_lambda_platform(zips):
    names = names_in(zips / "serialize_image.zip")
    assert any(name.startswith("PIL/_imaging.cpython-311-x86_64-linux-gnu") for name in names)


def test_unknown_function_is_a_named_error(tmp_path):
    result = build(tmp_path, "no_such_function")
    assert result.returncode == 1
    assert "BuildError" in result.stderr
    assert "no_such_function" in result.stderr
