"""PNG encoding: lossless for every pixel pattern, readable by Pillow as RGB 32 x 32."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from etl.png import encode_planes, scanlines


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_png_encoding_is_lossless_for_any_pixels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(8, 32, 32, 3), dtype=np.uint8)
    images[0] = 0
    images[1] = 255
    images[2] = np.linspace(0, 255, 32 * 32 * 3).astype(np.uint8).reshape(32, 32, 3)
    images[3, ::2] = 255 - images[3, ::2]
    for original, payload in zip(images, encode_planes(images.transpose(0, 3, 1, 2)), strict=True):
        with Image.open(io.BytesIO(payload.tobytes())) as decoded:
            assert decoded.mode == "RGB"
            assert decoded.size == (32, 32)
            assert np.array_equal(np.asarray(decoded), original)


def test_png_encoding_is_deterministic() -> None:
    images = np.random.default_rng(5).integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    planes = images.transpose(0, 3, 1, 2)
    assert np.array_equal(encode_planes(planes), encode_planes(np.ascontiguousarray(planes)))


def test_cifar_rows_decode_as_red_green_and_blue_planes() -> None:
    rows = np.random.default_rng(9).integers(0, 256, size=(6, 3072), dtype=np.uint8)  # R, G, B planes
    for row, payload in zip(rows, encode_planes(rows.reshape(-1, 3, 32, 32)), strict=True):
        with Image.open(io.BytesIO(payload.tobytes())) as decoded:
            pixels = np.asarray(decoded)
        for channel in range(3):
            assert np.array_equal(pixels[..., channel], row[channel * 1024 : (channel + 1) * 1024].reshape(32, 32))


def test_png_bytes_are_pinned_so_existing_datasets_are_not_uploaded_again() -> None:
    # A different file for the same pixels makes the next load re-upload every image of every dataset.
    # Stored deflate blocks leave no choice to the zlib build; if this changes, say so in the release notes.
    planes = (np.arange(2 * 3 * 32 * 32, dtype=np.uint32) * 2654435761 >> 24).astype(np.uint8).reshape(2, 3, 32, 32)
    assert [hashlib.sha256(png).hexdigest() for png in encode_planes(planes)] == [
        "05696c379d036d76de7d5af226da221d12ae8ca38e87748aefdb3f05c38bd3ce",
        "a22a411292619b9efd56be1a3c92c4f3794f9e98d31be3d7906981d4ef535c32",
    ]


def _chunks(png: bytes) -> dict[bytes, bytes]:
    chunks, position = {}, 8
    while position < len(png):
        (length,) = struct.unpack_from(">I", png, position)
        kind, data = png[position + 4 : position + 8], png[position + 8 : position + 8 + length]
        assert struct.unpack_from(">I", png, position + 8 + length)[0] == zlib.crc32(kind + data), kind
        chunks[kind] = data
        position += 12 + length
    assert position == len(png)  # the chunks fill the file exactly
    return chunks


@pytest.mark.parametrize(("height", "width"), [(32, 32), (1, 1), (7, 13), (147, 148)])
def test_each_file_holds_what_zlib_stores_for_its_scanlines(height: int, width: int) -> None:
    # The same bytes as before the batch encoder (and as any zlib at level 0): existing datasets stay valid.
    planes = np.random.default_rng(height).integers(0, 256, size=(3, 3, height, width), dtype=np.uint8)
    files = encode_planes(planes)
    assert len(files) == 3
    for lines, png in zip(scanlines(planes), files, strict=True):
        chunks = _chunks(png.tobytes())
        assert list(chunks) == [b"IHDR", b"IDAT", b"IEND"]
        assert chunks[b"IDAT"] == zlib.compress(lines.tobytes(), 0)


def test_images_too_big_for_one_stored_block_are_refused() -> None:
    with pytest.raises(ValueError, match="one stored deflate block"):
        encode_planes(np.zeros((1, 3, 148, 148), dtype=np.uint8))


def test_only_rgb_planes_are_accepted() -> None:
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        encode_planes(np.zeros((2, 32, 32, 3), dtype=np.uint8))
