"""scripts/benchmark_etl's own pieces: its baseline (the notebook method) writes what the ETL writes, and
its scratch space never deletes a method's output before the benchmark ends."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

import etl

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "benchmark_etl"


@pytest.fixture(scope="module")
def benchmark() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("benchmark_etl", str(SCRIPT))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def test_the_baseline_and_the_etl_write_the_same_dataset(
    benchmark: ModuleType, shared_archive: Path, tmp_path: Path
) -> None:
    ours, theirs = tmp_path / "etl", tmp_path / "baseline"
    etl.run(
        str(shared_archive),
        ours,
        classes=benchmark.CLASSES,
        validation_fraction=benchmark.FRACTION,
        seed=benchmark.SEED,
    )
    benchmark.baseline(shared_archive, theirs, tmp_path / "extract")
    assert benchmark.same_output(ours, theirs) == ""
    (theirs / "test" / "test.lst").write_text("0\t1\tnot-the-same.png\n")
    assert benchmark.same_output(ours, theirs) == "test/test.lst differs"


def test_scratch_keeps_every_output_until_it_is_closed(benchmark: ModuleType, tmp_path: Path) -> None:
    scratch = benchmark.Scratch(tmp_path)
    first, second = scratch.folder("etl"), scratch.folder("etl")
    assert first != second
    first.mkdir()
    (first / "a.png").write_bytes(b"x")
    assert scratch.settle(quiet_ms=1e9, timeout=0) >= 0
    assert (first / "a.png").exists()
    scratch.close()
    assert not scratch.root.exists()
