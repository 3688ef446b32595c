"""`python -m etl` and `scripts/run_etl` as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
