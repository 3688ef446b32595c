"""Real CIFAR-100 images from the shared archive, as PNG bytes (the archive itself never enters the repo)."""

from __future__ import annotations

from pathlib import Path


def cifar_png_images(archive: Path, split: str, class_name: str, count: int) -> list[tuple[str, bytes]]:
    """(CIFAR filename, PNG bytes) of the first `count` images of a class in a split of a CIFAR-100 archive."""
    import io
    import pickle
    import tarfile

    import numpy as np
    from PIL import Image

    with tarfile.open(archive, "r:gz") as tar:
        meta = pickle.load(tar.extractfile("cifar-100-python/meta"), encoding="bytes")
        rows = pickle.load(tar.extractfile(f"cifar-100-python/{split}"), encoding="bytes")
    label = [name.decode() for name in meta[b"fine_label_names"]].index(class_name)
    picked = []
    for data, fine, name in zip(rows[b"data"], rows[b"fine_labels"], rows[b"filenames"], strict=True):
        if fine == label:
            buffer = io.BytesIO()
            Image.fromarray(np.asarray(data, dtype=np.uint8).reshape(3, 32, 32).transpose(1, 2, 0)).save(
                buffer, format="PNG"
            )
            picked.append((name.decode(), buffer.getvalue()))
            if len(picked) == count:
                break
    return picked
