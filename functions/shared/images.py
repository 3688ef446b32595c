"""Image decoding limits and the fit-under-budget logic of serialize_image.

An image crosses Step Functions as base64 inside a JSON state, which may not exceed 256 KiB. These functions
decide, from the bytes alone (never the file name), whether an object is a PNG or JPEG that Pillow can fully
decode within the pixel limit, and turn it into bytes that fit `PAYLOAD_BUDGET_BYTES`: small plain images pass
through unchanged, everything else becomes an upright RGB JPEG no longer than `MAX_SIDE` on its longest side.

Pillow only: numpy is not part of the function zip.
"""

from __future__ import annotations

import io
import math
import re
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import ExifTags, Image, ImageFile

from shared.errors import ImageTooLarge, InvalidImage
from shared.image_types import JPEG, PNG, sniff_content_type

DEFAULT_MAX_IMAGE_BYTES = 25 * 1024 * 1024
DEFAULT_MAX_IMAGE_PIXELS = 50_000_000
PAYLOAD_BUDGET_BYTES = 150 * 1024
"""Raw image bytes per payload: 200 KiB once in base64, leaving room for the keys and Lambda's wrapper."""
MAX_SIDE = 1024
"""Longest side of a re-encoded image; far above what a CIFAR-sized classifier looks at."""
JPEG_QUALITIES = (85, 75, 65, 55, 45)
MIN_SIDE = 32

_PILLOW_FORMATS = {PNG: "PNG", JPEG: "JPEG"}
_PASS_THROUGH_MODES = frozenset({"RGB", "L"})
"""Modes every decoder reads alike; anything else (16-bit, CMYK, alpha, palette) is normalised to RGB."""

# What Pillow raises on malformed input: it varies by plugin and by where in the file the damage is.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError)

_ORIENTATION_FIXES = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


@dataclass(frozen=True)
class PreparedImage:
    """The bytes to send on, and what was done to get them."""

    data: bytes
    content_type: str
    width: int
    height: int
    source_width: int
    source_height: int
    reencoded: bool


def prepare_image(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    budget_bytes: int = PAYLOAD_BUDGET_BYTES,
    max_side: int = MAX_SIDE,
) -> PreparedImage:
    """Check that `data` is a whole PNG/JPEG within `max_pixels`; return bytes no larger than `budget_bytes`.

    Raises InvalidImage for anything but a fully decodable PNG/JPEG, ImageTooLarge above the pixel limit.
    """
    content_type = sniff_content_type(data)
    pillow_format = _PILLOW_FORMATS[content_type]
    with pillow_limits(max_pixels), _decoding(content_type, max_pixels):
        # verify() walks every chunk (PNG CRCs, the final IEND) but leaves the image unusable: open it twice.
        with Image.open(io.BytesIO(data), formats=[pillow_format]) as probe:
            _check_pixels(probe.size, max_pixels)
            probe.verify()
        image = Image.open(io.BytesIO(data), formats=[pillow_format])
        source_size = image.size
        # JPEG only: let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still leaves >= max_side pixels.
        image.draft(image.mode, (max_side, max_side))
        image.load()  # decodes the first frame in full: truncated data fails here
        orientation = _orientation(image)
        animated = getattr(image, "n_frames", 1) > 1

        if (
            len(data) <= budget_bytes
            and max(source_size) <= max_side
            and image.mode in _PASS_THROUGH_MODES
            and _eight_bits_per_sample(data, content_type)
            and "transparency" not in image.info
            and orientation == 1
            and not animated
        ):
            return PreparedImage(data, content_type, *source_size, *source_size, reencoded=False)

        rgb = to_rgb(image)
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
        for method in _ORIENTATION_FIXES.get(orientation, ()):
            rgb = rgb.transpose(method)
        encoded = encode_within_budget(rgb, budget_bytes)
    with Image.open(io.BytesIO(encoded)) as result:
        size = result.size
    return PreparedImage(encoded, JPEG, *size, *source_size, reencoded=True)


@contextmanager
def pillow_limits(max_pixels: int) -> Iterator[None]:
    """Set Pillow's process-wide decoding limits deliberately, for this decode only, then put them back.

    Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that; `_decoding` makes both ImageTooLarge.
    Truncated files must fail rather than decode as grey. A Lambda process handles one event at a time.
    """
    saved = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = max_pixels, False
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB as the model expects it: 16-bit scaled down (not clipped), alpha composited onto white."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I") or mode == "F":
        # 16/32-bit grey: a plain convert("L") clips everything above 255 to white.
        peak = 65535 if mode.startswith("I;16") or image.getextrema()[1] > 255 else 255
        grey = image.convert("I").point(lambda value: value * (255 / peak)).convert("L")
        return grey.convert("RGB")
    if mode == "P" and "transparency" not in image.info:
        return image.convert("RGB")
    if mode in {"RGBA", "LA", "PA", "P", "RGBa", "La"} or "transparency" in image.info:
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def encode_within_budget(
    image: Image.Image, budget_bytes: int, *, qualities: tuple[int, ...] = JPEG_QUALITIES
) -> bytes:
    """The best JPEG of `image` that fits `budget_bytes`: lower the quality first, then the resolution."""
    candidate = image
    while True:
        for quality in qualities:
            encoded = _encode_jpeg(candidate, quality)
            if len(encoded) <= budget_bytes:
                return encoded
        if max(candidate.size) <= MIN_SIDE:
            raise ImageTooLarge(
                f"cannot encode the image below {budget_bytes} bytes: still {len(encoded)} bytes "
                f"at {candidate.width}x{candidate.height} and JPEG quality {qualities[-1]}"
            )
        # JPEG size grows about linearly with the pixel count: shrink each side by the root of the overshoot.
        factor = min(0.9, max(0.5, 0.95 * math.sqrt(budget_bytes / len(encoded))))
        new_size = (max(1, round(candidate.width * factor)), max(1, round(candidate.height * factor)))
        candidate = candidate.resize(new_size, Image.Resampling.LANCZOS)


def _encode_jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"image is {width}x{height} = {width * height} pixels; MAX_IMAGE_PIXELS allows {max_pixels}"
        )


def _eight_bits_per_sample(data: bytes, content_type: str) -> bool:
    """Pillow reads a 16-bit RGB PNG as plain RGB, but other decoders (the model's) may not: re-encode it.

    The PNG bit depth is byte 24, inside IHDR, which the PNG specification requires to be the first chunk.
    """
    return content_type != PNG or (data[12:16] == b"IHDR" and data[24] == 8)


def _orientation(image: Image.Image) -> int:
    """EXIF orientation 1-8 (1 = upright); unreadable EXIF counts as upright rather than failing the photo."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except _DECODE_ERRORS:
        return 1
    return value if isinstance(value, int) and value in range(1, 9) else 1


@contextmanager
def _decoding(content_type: str, max_pixels: int) -> Iterator[None]:
    """Translate Pillow's exceptions into the workflow's named errors."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{found.group(1)} pixels" if found else "over the limit"
        raise ImageTooLarge(
            f"image is {size}; MAX_IMAGE_PIXELS allows {max_pixels} (Pillow's decompression bomb check)"
        ) from None
    except MemoryError:
        raise ImageTooLarge(
            f"ran out of memory decoding the {content_type} image; lower MAX_IMAGE_PIXELS or raise the memory"
        ) from None
    except _DECODE_ERRORS as exc:
        raise InvalidImage(f"content starts like {content_type} but does not decode: {exc}") from None
