"""Image features for drift monitoring, computed where every image is decoded anyway: the serving container.

The endpoint answers each image with these beside its probabilities (inference.py puts them under "features"),
so data capture records them and both monitoring engines read them from the captured response: no monitoring
code has to decode an image again, and a JPEG is described as fully as a PNG.

For an encoded image (`image_features`): its format as Pillow names it in lower case ("png", "jpeg", ...), the
upright size (EXIF rotation applied, as preprocessing.py applies it), the request's byte size, and on the 0-255
scale the per-channel mean and population standard deviation and the mean BT.601 luma ("brightness").
For a JSON pixel-list image (`pixel_features`): the same pixel statistics, format "pixels", no byte size.

Numbers are rounded to 4 decimals, so a response stays small and reads the same on every platform.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageOps

# ITU-R BT.601 luma weights, as Pillow's "L" conversion uses.
LUMA = (0.299, 0.587, 0.114)
PIXEL_FEATURES = ("r_mean", "g_mean", "b_mean", "r_std", "g_std", "b_std", "brightness")
FEATURE_NAMES = ("image_format", "width", "height", "byte_size", *PIXEL_FEATURES)
DECIMALS = 4


class ImageFeaturesError(ValueError):
    """The bytes or pixels cannot be described (the request is refused before this in practice)."""


def _pixel_statistics(rgb: np.ndarray) -> dict[str, float]:
    """Per-channel mean and standard deviation, and mean luma, of an H x W x 3 array of 0-255 values."""
    values = rgb.reshape(-1, 3).astype(np.float64)
    means = values.mean(axis=0)
    stds = values.std(axis=0)
    features = {}
    for lane, name in enumerate("rgb"):
        features[f"{name}_mean"] = round(float(means[lane]), DECIMALS)
        features[f"{name}_std"] = round(float(stds[lane]), DECIMALS)
    # The mean of a linear combination is the combination of the means.
    features["brightness"] = round(float(np.dot(LUMA, means)), DECIMALS)
    return features


def image_features(data: bytes) -> dict[str, Any]:
    """Features of one encoded image (PNG, JPEG, ...), as the model saw it: upright, converted to RGB."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format = (image.format or "unknown").lower()
            image.load()
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise ImageFeaturesError(f"cannot decode the image for its features: {error}") from error
    return {
        "image_format": image_format,
        "width": upright.width,
        "height": upright.height,
        "byte_size": len(data),
        **_pixel_statistics(np.asarray(upright)),
    }


def pixel_features(pixels: Sequence | np.ndarray) -> dict[str, Any]:
    """Features of one JSON pixel-list image (height x width x 3 of 0-255 numbers)."""
    array = np.asarray(pixels, dtype=np.float64)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ImageFeaturesError(f"pixel array must have shape height x width x 3, got {array.shape}")
    return {
        "image_format": "pixels",
        "width": int(array.shape[1]),
        "height": int(array.shape[0]),
        "byte_size": None,
        **_pixel_statistics(np.clip(np.rint(array), 0, 255)),
    }
