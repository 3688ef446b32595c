"""Fixtures of the monitoring tests: real CIFAR images as PNG bytes and a deterministic stand-in model."""

from __future__ import annotations

import io
import math
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@dataclass(frozen=True)
class Split:
    """One split of the shared archive: uint8 images (N, 32, 32, 3) and their fine labels."""

    images: np.ndarray
    labels: list[int]


def _load_split(archive: tarfile.TarFile, name: str) -> Split:
    member = archive.extractfile(f"cifar-100-python/{name}")
    assert member is not None, f"{name} missing from the archive"
    batch = pickle.load(member, encoding="latin1")
    images = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return Split(images=images, labels=list(batch["fine_labels"]))


@pytest.fixture(scope="session")
def cifar(shared_archive: Path) -> dict[str, Split]:
    with tarfile.open(shared_archive) as archive:
        return {name: _load_split(archive, name) for name in ("train", "test")}


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def darken(pixels: np.ndarray, factor: float = 0.4) -> np.ndarray:
    return np.clip(np.rint(pixels.astype(np.float64) * factor), 0, 255).astype(np.uint8)


def stand_in_model(pixels: np.ndarray) -> list[float]:
    """Probabilities [bicycle, motorcycle] from colour and brightness: deterministic, input-dependent."""
    values = pixels.astype(np.float64)
    z = (values[..., 0].mean() - values[..., 2].mean()) / 40 + (values.mean() - 110) / 60
    p = 1 / (1 + math.exp(-z))
    return [1 - p, p]


@pytest.fixture(scope="session")
def encode_png():
    """PNG bytes of an (H, W, 3) uint8 array, written by Pillow."""
    return png_bytes


@pytest.fixture(scope="session")
def model_probabilities():
    """The stand-in model: pixels -> [p_bicycle, p_motorcycle]."""
    return stand_in_model


@pytest.fixture(scope="session")
def feature_rows(cifar: dict[str, Split]) -> dict[str, list[dict]]:
    """Preprocessor rows for: baseline (train split), normal (test split), dark (test split x 0.4)."""
    from training.monitoring.baseline import rows_from_images

    def rows(images: np.ndarray) -> list[dict]:
        keyed = [(f"{i:04d}.png", png_bytes(img), stand_in_model(img)) for i, img in enumerate(images)]
        return rows_from_images([(k, data) for k, data, _ in keyed], {k: p for k, _, p in keyed})

    test_images = cifar["test"].images
    return {
        "baseline": rows(cifar["train"].images),
        "normal": rows(test_images),
        "dark": rows(np.stack([darken(img) for img in test_images])),
    }
