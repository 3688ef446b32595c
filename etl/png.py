"""PNG encoding of many small RGB images at once (no per-image Pillow round trip), byte for byte reproducible.

The S3 load skips files whose bytes are unchanged, so the same pixels must always give the same file. Deflate
with compression does not promise that (ISA-L's level 1 did not keep it even within one process; zlib,
zlib-ng and ISA-L each choose their own matches). So the image data goes into a stored (uncompressed) deflate
block, which leaves an encoder no choice. CIFAR's 32 x 32 photos barely compress anyway, and deflating sat on
the ETL's critical path, holding the GIL (figures: etl/BENCHMARKS.md).

With one stored block every file of a batch has the same size and layout, so the whole batch is built in
one array: the constant chunks are broadcast, the planar CIFAR rows (R plane, G plane, B plane) are
interleaved into the scanlines (filter type None: a filter only helps compression) with three strided
copies, and only the two checksums (Adler-32 of the zlib stream, CRC-32 of the IDAT chunk) are computed
image by image. The bytes are those of `zlib.compress(scanlines, 0)` in an IDAT chunk.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_STORED_BLOCK = 0xFFFF  # deflate's stored block holds at most 65,535 bytes (RFC 1951, 3.2.4)
_ZLIB_HEADER = b"\x78\x01"  # deflate, 32 KiB window, no dictionary: what zlib writes at level 0
_FINAL_STORED = b"\x01"  # BFINAL = 1, BTYPE = 00 (stored)
_FILTER_NONE = 0
_U32 = struct.Struct(">I")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return b"".join((_U32.pack(len(data)), kind, data, _U32.pack(zlib.crc32(data, zlib.crc32(kind)))))


def scanlines(planes: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """(N, 3, H, W) uint8 planes -> (N, H, 1 + 3W) PNG scanlines: filter byte 0, then R, G, B per pixel."""
    count, channels, height, width = planes.shape
    rows = np.empty((count, height, 1 + channels * width), dtype=np.uint8) if out is None else out
    rows[:, :, 0] = _FILTER_NONE
    for channel in range(channels):
        rows[:, :, 1 + channel :: channels] = planes[:, channel]
    return rows


def encode_planes(planes: np.ndarray) -> np.ndarray:
    """Row i of the (N, file size) result is the PNG file of image i of the (N, 3, H, W) uint8 planes
    (CIFAR's rows, reshaped); every file of a batch has the same size."""
    if planes.ndim != 4 or planes.shape[1] != 3 or planes.dtype != np.uint8:
        raise ValueError(f"expected uint8 image planes of shape (N, 3, H, W), got {planes.dtype} {planes.shape}")
    count, _, height, width = planes.shape
    raw = height * (1 + 3 * width)
    if raw > MAX_STORED_BLOCK:
        raise ValueError(f"a {width} x {height} image does not fit one stored deflate block; at most 65,535 bytes")
    head = SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    stream_head = _ZLIB_HEADER + _FINAL_STORED + struct.pack("<HH", raw, raw ^ 0xFFFF)
    idat_head = _U32.pack(len(stream_head) + raw + 4) + b"IDAT"
    tail = _chunk(b"IEND", b"")

    pixels = len(head) + len(idat_head) + len(stream_head)  # where the scanlines start
    adler, crc = pixels + raw, pixels + raw + 4  # where the two checksums go
    files = np.empty((count, crc + 4 + len(tail)), dtype=np.uint8)
    files[:, :pixels] = np.frombuffer(head + idat_head + stream_head, dtype=np.uint8)
    scanlines(planes, files[:, pixels:adler].reshape(count, height, -1))
    files[:, crc + 4 :] = np.frombuffer(tail, dtype=np.uint8)
    idat, idat_crc = len(head) + 8, zlib.crc32(b"IDAT")  # the CRC covers the chunk type, then the data
    for file in files:
        view = memoryview(file)
        view[adler:crc] = _U32.pack(zlib.adler32(view[pixels:adler]))
        view[crc : crc + 4] = _U32.pack(zlib.crc32(view[idat:crc], idat_crc))
    return files
