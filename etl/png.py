"""PNG encoding of many small RGB images at once, deflating directly (no per-image Pillow round trip).

Every row uses PNG's Sub filter (difference to the pixel on the left), computed for the whole batch with
one numpy subtraction, then deflate level 1: ISA-L's when the optional `isal` package is installed (about
3x faster than zlib on these 3 KB images, within 1 % of its size), else zlib's. CIFAR's 32 x 32 photos
barely compress whatever the settings (Pillow's adaptive filtering at level 6 saves another 5 %), and
encoding sits on the ETL's critical path. Output is deterministic for a given deflate implementation and
build, which keeps S3 loads idempotent.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

try:
    from isal.isal_zlib import compress as deflate
except ImportError:  # the optional package is not installed
    from zlib import compress as deflate

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COMPRESS_LEVEL = 1
_SUB = 1


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _sub_filtered_rows(images: np.ndarray) -> np.ndarray:
    """(N, H, W, C) uint8 -> (N, H, 1 + C*W) scanlines: filter byte, first pixel, then byte - byte C to the left."""
    count, height, width, channels = images.shape
    x = images.reshape(count, height, width * channels)
    rows = np.empty((count, height, 1 + width * channels), dtype=np.uint8)
    rows[:, :, 0] = _SUB
    rows[:, :, 1 : 1 + channels] = x[:, :, :channels]
    np.subtract(x[:, :, channels:], x[:, :, :-channels], out=rows[:, :, 1 + channels :])  # wraps mod 256
    return rows


def encode_rgb(images: np.ndarray, level: int = COMPRESS_LEVEL) -> list[bytes]:
    """One PNG file's bytes per (H, W, 3) uint8 image of the batch."""
    if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images of shape (N, H, W, 3), got {images.dtype} {images.shape}")
    _, height, width, _ = images.shape
    head = SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    tail = _chunk(b"IEND", b"")
    return [head + _chunk(b"IDAT", deflate(rows.tobytes(), level)) + tail for rows in _sub_filtered_rows(images)]
