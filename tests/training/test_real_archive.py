"""train.py on the real CIFAR bicycle/motorcycle images, as the ETL writes them (a short run, not the benchmark)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.training.scriptmode import REPO_ROOT, Dataset, run_train_script


@pytest.fixture(scope="module")
def etl_dataset(shared_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """The shared archive through `python -m etl`: the same split folders SageMaker's channels receive."""
    if not (REPO_ROOT / "etl" / "__main__.py").is_file():
        pytest.skip("the ETL (python -m etl) is not in this checkout")
    output = tmp_path_factory.mktemp("etl") / "dataset"
    completed = subprocess.run(
        [sys.executable, "-m", "etl", "--source", str(shared_archive), "--output", str(output), "--quiet"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return Dataset(output)


@pytest.mark.slow
def test_short_training_on_the_etl_output_learns_and_reports_every_test_image(
    etl_dataset: Dataset, tmp_path: Path
) -> None:
    run = run_train_script(
        etl_dataset, tmp_path, "--epochs", "12", "--batch-size", "64", "--learning-rate", "0.1", "--seed", "0"
    )
    assert run.returncode == 0, f"{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    assert "data: train=720 validation=80 test=200 classes=['bicycle', 'motorcycle']" in run.stdout
    evaluation = json.loads((run.output_dir / "evaluation.json").read_text())
    test_list = (etl_dataset.channel("test") / "test.lst").read_text().splitlines()
    assert [p["file"] for p in evaluation["test"]["predictions"]] == [line.split("\t")[2] for line in test_list]
    # Twelve epochs per member are far from the default 80, but already well above chance.
    assert evaluation["test"]["accuracy"] >= 0.75
    assert evaluation["threshold_rule"]["images"] == 800, "the threshold rests on every train+validation image"
