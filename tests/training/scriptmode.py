"""Running training/sourcedir the way SageMaker does, on synthetic ETL-style split folders.

Importing this module puts the source dir on sys.path: its modules are imported flat (`import train`,
`import inference`), exactly as SageMaker's training and serving containers import them from /opt/ml/code and
/opt/ml/model/code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCEDIR = REPO_ROOT / "training" / "sourcedir"
if str(SOURCEDIR) not in sys.path:
    sys.path.insert(0, str(SOURCEDIR))

CLASS_NAMES = ("bicycle", "motorcycle")


def synthetic_image(label: int, rng: np.random.Generator) -> np.ndarray:
    """A 32x32 RGB image whose class is easy to learn: thin dark strokes on light (0) or a solid blob (1)."""
    image = rng.integers(150, 230, size=(32, 32, 3)).astype(np.uint8)
    if label == 0:
        for _ in range(3):
            column = int(rng.integers(2, 30))
            image[:, column : column + 1] = rng.integers(0, 60, size=3)
    else:
        top, left = (int(v) for v in rng.integers(4, 14, size=2))
        image[top : top + 16, left : left + 16] = rng.integers(0, 255, size=3)
    return image


def write_split(folder: Path, split: str, count: int, rng: np.random.Generator) -> list[int]:
    """An ETL-style split folder: PNGs plus `<split>.lst` with lines `index<TAB>label<TAB>file.png`."""
    folder.mkdir(parents=True, exist_ok=True)
    labels, lines = [], []
    for index in range(count):
        label = index % 2
        name = f"{split}_{index:04d}.png"
        Image.fromarray(synthetic_image(label, rng)).save(folder / name)
        labels.append(label)
        lines.append(f"{index}\t{label}\t{name}")
    (folder / f"{split}.lst").write_text("\n".join(lines) + "\n")
    return labels


@dataclass(frozen=True)
class Dataset:
    root: Path

    def channel(self, split: str) -> Path:
        return self.root / split


@dataclass(frozen=True)
class TrainingRun:
    returncode: int
    stdout: str
    stderr: str
    model_dir: Path
    output_dir: Path


def run_train_script(
    dataset: Dataset, workdir: Path, *args: str, test_channel: bool = True, job_name: str | None = None
) -> TrainingRun:
    """Run train.py in a subprocess under SageMaker's contract: SM_* folders in the environment, hyperparameters
    as `--key value` arguments, the working directory being the code folder's copy (here: anywhere else), and
    TRAINING_JOB_NAME when `job_name` is given (SageMaker sets it in every training container)."""
    model_dir, output_dir = workdir / "model", workdir / "output" / "data"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SM_") and key not in {"TRAINING_JOB_NAME", "TRAINING_JOB_ARN"}
    }
    if job_name:
        env["TRAINING_JOB_NAME"] = job_name
    env.update(
        {
            "SM_CHANNEL_TRAIN": str(dataset.channel("train")),
            "SM_CHANNEL_VALIDATION": str(dataset.channel("validation")),
            "SM_MODEL_DIR": str(model_dir),
            "SM_OUTPUT_DATA_DIR": str(output_dir),
            "SM_NUM_CPUS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    if test_channel:
        env["SM_CHANNEL_TEST"] = str(dataset.channel("test"))
    workdir.mkdir(parents=True, exist_ok=True)
    completed = subprocess.run(
        [sys.executable, str(SOURCEDIR / "train.py"), *args],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    return TrainingRun(completed.returncode, completed.stdout, completed.stderr, model_dir, output_dir)


