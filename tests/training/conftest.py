"""Fixtures for the training area: synthetic split folders and one short training run shared by several tests."""

from __future__ import annotations

import numpy as np
import pytest

from tests.training.scriptmode import Dataset, TrainingRun, run_train_script, write_split

# The shared run: 3 members of 6 epochs cross-validated over train+validation, as a SageMaker job of this name.
TRAINED_RUN_FOLDS = 3
TRAINED_RUN_EPOCHS = 6
TRAINED_RUN_JOB_NAME = "cv-pytorch-20261202-120000"


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """train (48), validation (24) and test (24) images of two easily separated synthetic classes."""
    root = tmp_path_factory.mktemp("synthetic-dataset")
    rng = np.random.default_rng(7)
    for split, count in (("train", 48), ("validation", 24), ("test", 24)):
        write_split(root / split, split, count, rng)
    return Dataset(root)


@pytest.fixture(scope="session")
def trained_run(synthetic_dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> TrainingRun:
    """One short training run (3 members, 6 epochs each, on the synthetic images), shared by the contract and
    serving tests."""
    run = run_train_script(
        synthetic_dataset, tmp_path_factory.mktemp("trained"),
        "--epochs", str(TRAINED_RUN_EPOCHS), "--batch_size", "16", "--learning-rate", "0.05", "--num-workers", "2",
        "--seed", "3", "--folds", str(TRAINED_RUN_FOLDS), job_name=TRAINED_RUN_JOB_NAME,
    )
    assert run.returncode == 0, f"train.py failed:\n{run.stdout}\n{run.stderr}"
    return run
