"""PNG encoding of many small RGB images at once, deflating directly (no per-image Pillow round trip).

Every row uses PNG's Sub filter (difference to the pixel on the left). It is computed on CIFAR's planar rows
(R plane, G plane, B plane), where the pixel to the left is the next byte, and written interleaved into the
scanlines in three strided copies: filtering the interleaved (N, 32, 32, 3) view instead reads memory
3 KB apart byte by byte and took 3-4x longer. Then deflate level 1: ISA-L's when the optional `isal` package
is installed (about 3x faster than zlib on these 3 KB images, within 1 % of its size), else zlib's. CIFAR's
32 x 32 photos barely compress whatever the settings (Pillow's adaptive filtering at level 6 saves another
5 %), and encoding sits on the ETL's critical path. Output is deterministic for a given deflate
implementation and build, which keeps S3 loads idempotent.
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
_IDAT_CRC = zlib.crc32(b"IDAT")
_U32 = struct.Struct(">I").pack


def _chunk(kind: bytes, data: bytes) -> bytes:
    return _U32(len(data)) + kind + data + _U32(zlib.crc32(kind + data))


def sub_filtered_scanlines(planes: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) uint8 planes -> (N, H, 1 + 3W) scanlines: filter byte, first pixel, then each byte minus
    the same channel's byte one pixel to the left (mod 256)."""
    count, channels, height, width = planes.shape
    rows = np.empty((count, height, 1 + channels * width), dtype=np.uint8)
    rows[:, :, 0] = _SUB
    for channel in range(channels):
        out = rows[:, :, 1 + channel :: channels]
        plane = planes[:, channel]
        out[:, :, 0] = plane[:, :, 0]
        np.subtract(plane[:, :, 1:], plane[:, :, :-1], out=out[:, :, 1:])
    return rows


def encode_planes(planes: np.ndarray, level: int = COMPRESS_LEVEL) -> list[bytes]:
    """One PNG file's bytes per (3, H, W) uint8 image of the batch: CIFAR's row layout, reshaped."""
    if planes.ndim != 4 or planes.shape[1] != 3 or planes.dtype != np.uint8:
        raise ValueError(f"expected uint8 image planes of shape (N, 3, H, W), got {planes.dtype} {planes.shape}")
    count, _, height, width = planes.shape
    head = SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    tail = _chunk(b"IEND", b"")
    pngs = []
    for scanlines in sub_filtered_scanlines(planes).reshape(count, -1):
        data = deflate(scanlines, level)
        pngs.append(b"".join((head, _U32(len(data)), b"IDAT", data, _U32(zlib.crc32(data, _IDAT_CRC)), tail)))
    return pngs


def encode_rgb(images: np.ndarray, level: int = COMPRESS_LEVEL) -> list[bytes]:
    """One PNG file's bytes per (H, W, 3) uint8 image of the batch."""
    if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images of shape (N, H, W, 3), got {images.dtype} {images.shape}")
    return encode_planes(images.transpose(0, 3, 1, 2), level)
