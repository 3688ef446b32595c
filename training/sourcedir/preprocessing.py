"""The one definition of how an image becomes model input, shared by training (train.py) and serving (inference.py).

Every image, whatever its source (a training PNG, an uploaded JPEG of any size, a JSON pixel array), goes through
`image_to_array` -> `arrays_to_tensor`, so the network sees the same numbers in training and in production.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageOps

IMAGE_SIZE = 32
# Per-channel mean and standard deviation of CIFAR-100 training pixels in [0, 1]. Fixed constants rather than
# statistics of each training run, so that a served model never depends on the data it happened to be trained on.
NORMALIZATION = {"mean": [0.5071, 0.4865, 0.4409], "std": [0.2673, 0.2564, 0.2762]}
# Refuse decompression bombs long before they reach memory (a 12-megapixel photo is ~12e6 pixels).
MAX_IMAGE_PIXELS = 50_000_000
# Resampling used when an image is not already IMAGE_SIZE x IMAGE_SIZE. Pillow's bicubic filter widens its support
# when it shrinks, so a large photo is low-pass filtered (anti-aliased) on the way down, like CIFAR's own images.
RESAMPLE = Image.Resampling.BICUBIC


class ImageDecodeError(ValueError):
    """The bytes or the pixel array are not an image this model can read."""


def decode_image(data: bytes) -> Image.Image:
    """Decode PNG/JPEG/... bytes into an upright RGB image (EXIF rotation applied, alpha and palettes dropped)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise ImageDecodeError(
                    f"image of {image.width}x{image.height} pixels exceeds {MAX_IMAGE_PIXELS} pixels"
                )
            image.load()
            upright = ImageOps.exif_transpose(image)
            return upright.convert("RGB")
    except ImageDecodeError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise ImageDecodeError(f"cannot decode image bytes: {error}") from error


def resize_image(image: Image.Image, size: int = IMAGE_SIZE) -> Image.Image:
    """Center-crop to a square, then resize to size x size; a size x size image is returned unchanged.

    Cropping (not squashing) keeps the vehicle's proportions as in CIFAR's square, undistorted training images.
    """
    if image.size == (size, size):
        return image
    side = min(image.size)
    left = (image.width - side) // 2
    top = (image.height - side) // 2
    square = image.crop((left, top, left + side, top + side))
    return square.resize((size, size), RESAMPLE)


def image_to_array(image: Image.Image, size: int = IMAGE_SIZE) -> np.ndarray:
    """An RGB image of any size -> uint8 array of shape (size, size, 3)."""
    return np.array(resize_image(image.convert("RGB"), size), dtype=np.uint8)  # a writable copy


def bytes_to_array(data: bytes, size: int = IMAGE_SIZE) -> np.ndarray:
    """Encoded image bytes (PNG, JPEG, ...) -> uint8 array of shape (size, size, 3)."""
    return image_to_array(decode_image(data), size)


def pixels_to_array(pixels: Sequence | np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """A nested list (height x width x 3) of 0-255 RGB integers -> uint8 array of shape (size, size, 3)."""
    try:
        array = np.asarray(pixels, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ImageDecodeError(f"pixel array is not a rectangular list of numbers: {error}") from error
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ImageDecodeError(f"pixel array must have shape height x width x 3, got {array.shape}")
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 255:
        raise ImageDecodeError("pixel values must be numbers between 0 and 255")
    if array.shape[0] * array.shape[1] > MAX_IMAGE_PIXELS:
        raise ImageDecodeError(f"pixel array exceeds {MAX_IMAGE_PIXELS} pixels")
    image = Image.fromarray(np.rint(array).astype(np.uint8))  # H x W x 3 uint8 is RGB
    return image_to_array(image, size)


def arrays_to_tensor(arrays: Sequence[np.ndarray] | np.ndarray, normalization: dict | None = None) -> torch.Tensor:
    """uint8 arrays (N x H x W x 3) -> normalised float32 tensor (N x 3 x H x W), the network's input."""
    norm = normalization or NORMALIZATION
    stacked = np.ascontiguousarray(arrays if isinstance(arrays, np.ndarray) else np.stack(list(arrays)))
    if stacked.dtype != np.uint8 or stacked.ndim != 4 or stacked.shape[3] != 3:
        raise ImageDecodeError(f"expected uint8 images N x H x W x 3, got {stacked.dtype} {stacked.shape}")
    batch = torch.from_numpy(stacked).permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
    mean = torch.tensor(norm["mean"], dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(norm["std"], dtype=torch.float32).view(1, 3, 1, 1)
    return ((batch - mean) / std).contiguous()
