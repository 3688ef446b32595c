"""Synthetic test images, built in memory: every PNG/JPEG variant the serializer has to cope with."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    """RGB noise: the worst case for every compressor, so sizes in the tests are upper bounds."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def phone_photo(width: int = 4000, height: int = 3000, seed: int = 1) -> bytes:
    """A 12 MP JPEG of several MB, like a phone's: tiled noise, cheap to build but hard to compress."""
    rng = np.random.default_rng(seed)
    patch = rng.integers(0, 256, (500, 500, 3), dtype=np.uint8)
    pixels = np.tile(patch, (-(-height // 500), -(-width // 500), 1))[:height, :width]
    return encode(Image.fromarray(pixels, "RGB"), "JPEG", quality=80)


def halves(width: int, height: int, left: tuple = RED, right: tuple = BLUE) -> Image.Image:
    """Left half one colour, right half another: shows which way an image was turned."""
    image = Image.new("RGB", (width, height), left)
    image.paste(Image.new("RGB", (width - width // 2, height), right), (width // 2, 0))
    return image


def exif_rotated_jpeg(orientation: int = 6, width: int = 300, height: int = 200) -> bytes:
    """A JPEG stored sideways with the EXIF Orientation tag telling viewers how to turn it upright."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(halves(width, height), "JPEG", quality=95, exif=exif.tobytes())


def gray16_png(value: int, size: tuple[int, int] = (40, 30)) -> bytes:
    return encode(Image.fromarray(np.full(size[::-1], value, dtype=np.uint16)), "PNG")


def raw_png(width: int, height: int, bit_depth: int, color_type: int, rows: bytes | None = None) -> bytes:
    """A PNG written chunk by chunk, for what Pillow will not write (16-bit RGB) or a header that lies."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    body = zlib.compress(rows if rows is not None else b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def rgb16_png(rgb16: tuple[int, int, int], width: int = 8, height: int = 8) -> bytes:
    pixel = struct.pack(">HHH", *rgb16)
    rows = b"".join(b"\x00" + pixel * width for _ in range(height))
    return raw_png(width, height, 16, 2, rows)


def decompression_bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A few hundred bytes claiming 10 gigapixels: decoding it would take tens of GB of memory."""
    return raw_png(width, height, 8, 0)


def apng(colours: tuple = (RED, (0, 255, 0), BLUE), size: tuple[int, int] = (40, 30)) -> bytes:
    frames = [Image.new("RGB", size, colour) for colour in colours]
    return encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100, loop=0)


def animated_gif(size: tuple[int, int] = (40, 30)) -> bytes:
    frames = [Image.new("RGB", size, colour) for colour in (RED, BLUE)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def close_to(actual: tuple, expected: tuple, tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))
