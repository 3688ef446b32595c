"""Model Monitor record preprocessor: one captured inference (image in, the model's answer out) -> flat features.

This file runs inside AWS's Model Monitor analyzer container (RecordPreprocessorSourceUri), where only the
Python standard library can be relied on, so PNG decoding is done here with zlib/struct. The analyzer calls
`preprocess_handler(inference_record, logger)` once per captured record and computes statistics over the
returned dicts; `None` values count as missing, which is how undecodable images (JPEG, corrupt PNG) show up
in the completeness statistics instead of failing the monitoring job.

The analyzer's Python may be older than this repository's: AWS documents the analyzer image as Spark 3.3.0 with
Deequ 2.0.2 (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-pre-built-container.html) and names no
Python version, so the file keeps to Python 3.7, the floor chosen here: no `from __future__ import annotations`
(annotations are evaluated, so they use `typing.Dict`/`Optional`, never `dict[...]` or `X | Y`), no walrus, no
zip(strict=...), no match statements, no str.removeprefix (tests check).

The same function serves the local monitor run and the baseline: `preprocess_capture_line` wraps one line of
the JSON Lines files that endpoint data capture writes in the record object the analyzer would build.
"""

import base64
import binascii
import contextlib
import json
import math
import os
import struct
import zlib
from collections import Counter
from itertools import accumulate
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Tuple, Union

# Feature name -> Model Monitor inferred type. The baseline, the local checker and the dashboard's drift
# widgets all use these names; `feature_baseline_drift_<name>` is the CloudWatch metric per feature.
FEATURE_TYPES: Dict[str, str] = {
    "image_format": "String",
    "decoded": "Integral",
    "width": "Integral",
    "height": "Integral",
    "byte_size": "Integral",
    "r_mean": "Fractional",
    "g_mean": "Fractional",
    "b_mean": "Fractional",
    "r_std": "Fractional",
    "g_std": "Fractional",
    "b_std": "Fractional",
    "brightness": "Fractional",
    "top_confidence": "Fractional",
    "predicted_class_index": "Integral",
    "predicted_label": "String",
}
PIXEL_FEATURES = ("r_mean", "g_mean", "b_mean", "r_std", "g_std", "b_std", "brightness")

# Labels in the model's output order; the same env var the classify_image function reads.
DEFAULT_CLASS_LABELS = ("bicycle", "motorcycle")
# Larger images are reported undecoded (dimensions kept): pure-Python unfiltering is ~1 s per megapixel.
DEFAULT_MAX_DECODE_PIXELS = 1_000_000

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8"
# ITU-R BT.601 luma weights, as Pillow's "L" conversion uses.
LUMA = (0.299, 0.587, 0.114)
# Adam7 passes: (x start, y start, x step, y step).
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
# PNG colour type -> (samples per pixel, allowed bit depths).
PNG_COLOUR_TYPES = {
    0: (1, (1, 2, 4, 8, 16)),  # greyscale
    2: (3, (8, 16)),  # RGB
    3: (1, (1, 2, 4, 8)),  # palette
    4: (2, (8, 16)),  # greyscale + alpha
    6: (4, (8, 16)),  # RGBA
}
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic); DHT/JPG/DAC excluded.
JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class ImageDecodeError(ValueError):
    """The bytes are not an image this module can read (the record is then reported undecoded)."""


class PngHeader(NamedTuple):
    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlace: int


class DecodedImage(NamedTuple):
    """8-bit RGB pixels, row-major and interleaved (alpha dropped, 16-bit reduced to the high byte)."""

    width: int
    height: int
    rgb: bytes


# --------------------------------------------------------------------------------------------------- PNG


def png_header(data: bytes) -> PngHeader:
    """Read IHDR only: dimensions are reported even when the pixel data cannot be decoded."""
    if not data.startswith(PNG_SIGNATURE) or len(data) < 33 or data[12:16] != b"IHDR":
        raise ImageDecodeError("not a PNG (bad signature or missing IHDR)")
    width, height, bit_depth, colour_type, _compression, _filter, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if width == 0 or height == 0:
        raise ImageDecodeError("PNG has a zero dimension")
    if colour_type not in PNG_COLOUR_TYPES or bit_depth not in PNG_COLOUR_TYPES[colour_type][1]:
        raise ImageDecodeError(f"unsupported PNG colour type {colour_type} / bit depth {bit_depth}")
    if interlace not in (0, 1):
        raise ImageDecodeError(f"unknown PNG interlace method {interlace}")
    return PngHeader(width, height, bit_depth, colour_type, interlace)


def _png_chunks(data: bytes) -> Tuple[bytes, bytes]:
    """Return (concatenated IDAT payload, PLTE payload); ancillary chunks are skipped."""
    pos = len(PNG_SIGNATURE)
    idat: List[bytes] = []
    palette = b""
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise ImageDecodeError(f"truncated PNG chunk {kind!r}")
        if kind == b"IDAT":
            idat.append(body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IEND":
            break
        pos += 12 + length
    if not idat:
        raise ImageDecodeError("PNG has no IDAT chunk")
    return b"".join(idat), palette


def _inflate(compressed: bytes, expected: int) -> bytes:
    """Decompress at most `expected` bytes, so a small file cannot expand into a huge buffer."""
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(compressed, expected)
    except zlib.error as error:
        raise ImageDecodeError(f"PNG image data is corrupt: {error}") from error
    if len(raw) < expected:
        raise ImageDecodeError(f"PNG image data is short: {len(raw)} of {expected} bytes")
    return raw


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter_row(kind: int, line: bytes, prior: bytes, bpp: int) -> bytes:
    """Reverse one scanline's filter (PNG spec section 9); `prior` is the previous reconstructed row."""
    if kind == 0:
        return line
    if kind == 2:  # Up
        return bytes(map((255).__and__, map(int.__add__, line, prior)))
    if kind == 1:  # Sub: a running sum per byte lane, so each lane is one accumulate().
        out = bytearray(len(line))
        for lane in range(bpp):
            out[lane::bpp] = bytes(map((255).__and__, accumulate(line[lane::bpp])))
        return bytes(out)
    out = bytearray(line)
    n = len(line)
    if kind == 3:  # Average
        for i in range(n):
            left = out[i - bpp] if i >= bpp else 0
            out[i] = (out[i] + ((left + prior[i]) >> 1)) & 255
        return bytes(out)
    if kind == 4:  # Paeth
        for i in range(n):
            if i >= bpp:
                out[i] = (out[i] + _paeth(out[i - bpp], prior[i], prior[i - bpp])) & 255
            else:
                out[i] = (out[i] + prior[i]) & 255
        return bytes(out)
    raise ImageDecodeError(f"unknown PNG filter type {kind}")


def _unfilter(raw: bytes, rows: int, row_bytes: int, bpp: int) -> bytes:
    out = bytearray()
    prior = bytes(row_bytes)
    pos = 0
    for _ in range(rows):
        kind = raw[pos]
        row = _unfilter_row(kind, raw[pos + 1 : pos + 1 + row_bytes], prior, bpp)
        out += row
        prior = row
        pos += 1 + row_bytes
    return bytes(out)


def _unpack_samples(data: bytes, rows: int, row_bytes: int, width: int, bit_depth: int) -> bytes:
    """Sub-byte samples (1/2/4 bits) -> one byte per sample, rows' padding bits dropped."""
    per_byte = 8 // bit_depth
    mask = (1 << bit_depth) - 1
    shifts = [8 - bit_depth * (k + 1) for k in range(per_byte)]
    out = bytearray()
    for r in range(rows):
        row = data[r * row_bytes : (r + 1) * row_bytes]
        samples = [(byte >> shift) & mask for byte in row for shift in shifts]
        out += bytes(samples[:width])
    return bytes(out)


def _to_rgb(samples: bytes, colour_type: int, bit_depth: int, palette: bytes) -> bytes:
    """Per-pixel samples of one image (or Adam7 pass) -> interleaved 8-bit RGB."""
    channels = PNG_COLOUR_TYPES[colour_type][0]
    if bit_depth == 16:
        samples = samples[0::2]  # high byte of each big-endian sample, as Pillow reduces 16-bit RGB(A)
    if colour_type == 3:
        entries = [palette[i : i + 3] for i in range(0, len(palette) - len(palette) % 3, 3)]
        if samples and max(samples) >= len(entries):
            raise ImageDecodeError("PNG palette index out of range")
        return b"".join(entries[i] for i in samples)
    if colour_type in (0, 4) and bit_depth < 8:
        scale = 255 // ((1 << bit_depth) - 1)
        samples = bytes(s * scale for s in samples)
    pixels = len(samples) // channels
    rgb = bytearray(pixels * 3)
    if colour_type in (0, 4):
        grey = samples[0::channels]
        rgb[0::3] = grey
        rgb[1::3] = grey
        rgb[2::3] = grey
    else:
        rgb[0::3] = samples[0::channels]
        rgb[1::3] = samples[1::channels]
        rgb[2::3] = samples[2::channels]
    return bytes(rgb)


def _decode_pass(
    raw: bytes, offset: int, width: int, height: int, header: PngHeader, palette: bytes
) -> Tuple[bytes, int]:
    """Unfilter and convert one (sub-)image starting at `offset`; returns (rgb, bytes consumed)."""
    channels = PNG_COLOUR_TYPES[header.colour_type][0]
    bits_per_pixel = channels * header.bit_depth
    row_bytes = (width * bits_per_pixel + 7) // 8
    size = height * (row_bytes + 1)
    chunk = raw[offset : offset + size]
    if len(chunk) < size:
        raise ImageDecodeError("PNG image data is short")
    data = _unfilter(chunk, height, row_bytes, max(1, bits_per_pixel // 8))
    if header.bit_depth < 8:
        data = _unpack_samples(data, height, row_bytes, width, header.bit_depth)
    return _to_rgb(data, header.colour_type, header.bit_depth, palette), size


def _adam7_sizes(width: int, height: int) -> List[Tuple[int, int, int, int, int, int]]:
    sizes = []
    for x0, y0, dx, dy in ADAM7:
        pass_w = (width - x0 + dx - 1) // dx if width > x0 else 0
        pass_h = (height - y0 + dy - 1) // dy if height > y0 else 0
        sizes.append((x0, y0, dx, dy, pass_w, pass_h))
    return sizes


def decode_png(data: bytes, max_pixels: int = DEFAULT_MAX_DECODE_PIXELS) -> DecodedImage:
    """Decode any standard PNG (all colour types, bit depths 1-16, five filters, Adam7) to 8-bit RGB."""
    header = png_header(data)
    if header.width * header.height > max_pixels:
        raise ImageDecodeError(f"{header.width}x{header.height} exceeds the {max_pixels}-pixel decode limit")
    compressed, palette = _png_chunks(data)
    if header.colour_type == 3 and not palette:
        raise ImageDecodeError("palette PNG without PLTE")
    channels = PNG_COLOUR_TYPES[header.colour_type][0]
    bits_per_pixel = channels * header.bit_depth

    if header.interlace == 0:
        expected = header.height * ((header.width * bits_per_pixel + 7) // 8 + 1)
        raw = _inflate(compressed, expected)
        rgb, _ = _decode_pass(raw, 0, header.width, header.height, header, palette)
        return DecodedImage(header.width, header.height, rgb)

    passes = _adam7_sizes(header.width, header.height)
    expected = sum(h * ((w * bits_per_pixel + 7) // 8 + 1) for *_, w, h in passes if w and h)
    raw = _inflate(compressed, expected)
    image = bytearray(header.width * header.height * 3)
    offset = 0
    for x0, y0, dx, dy, pass_w, pass_h in passes:
        if not pass_w or not pass_h:
            continue
        rgb, used = _decode_pass(raw, offset, pass_w, pass_h, header, palette)
        offset += used
        for row in range(pass_h):
            y = y0 + row * dy
            src = rgb[row * pass_w * 3 : (row + 1) * pass_w * 3]
            for lane in range(3):
                start = (y * header.width + x0) * 3 + lane
                stop = start + (pass_w - 1) * dx * 3 + 1
                image[start : stop : dx * 3] = src[lane::3]
    return DecodedImage(header.width, header.height, bytes(image))


# -------------------------------------------------------------------------------------------------- JPEG


def jpeg_dimensions(data: bytes) -> Tuple[int, int]:
    """(width, height) from the first start-of-frame marker; the entropy-coded data is never read."""
    if not data.startswith(JPEG_SOI):
        raise ImageDecodeError("not a JPEG (no SOI marker)")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ImageDecodeError("JPEG marker expected")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # stand-alone markers have no length
            pos += 2
            continue
        if marker == 0xDA:
            break  # start of scan: no SOF before it
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in JPEG_SOF_MARKERS:
            if pos + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            if width == 0 or height == 0:
                raise ImageDecodeError("JPEG frame has a zero dimension")
            return width, height
        pos += 2 + length
    raise ImageDecodeError("JPEG has no start-of-frame marker")


# ---------------------------------------------------------------------------------------------- features


def _channel_stats(channel: bytes) -> Tuple[float, float]:
    """Population mean and standard deviation of 8-bit samples, via a histogram (C-speed counting)."""
    n = len(channel)
    histogram = Counter(channel)
    total = sum(value * count for value, count in histogram.items())
    squares = sum(value * value * count for value, count in histogram.items())
    mean = total / n
    return mean, math.sqrt(max(0.0, squares / n - mean * mean))


def pixel_features(image: DecodedImage) -> Dict[str, float]:
    """Per-channel mean/std and mean luma, on the 0-255 scale."""
    features: Dict[str, float] = {}
    means = []
    for lane, name in enumerate("rgb"):
        mean, std = _channel_stats(image.rgb[lane::3])
        means.append(mean)
        features[f"{name}_mean"] = round(mean, 4)
        features[f"{name}_std"] = round(std, 4)
    # The mean of a linear combination is the combination of the means.
    features["brightness"] = round(sum(LUMA[lane] * means[lane] for lane in range(3)), 4)
    return features


def image_features(data: Optional[bytes], max_pixels: Optional[int] = None) -> Dict[str, Any]:
    """Features of the request body; pixel features are None unless the image was decoded."""
    if max_pixels is None:
        max_pixels = int(os.environ.get("MONITOR_MAX_DECODE_PIXELS", DEFAULT_MAX_DECODE_PIXELS))
    features: Dict[str, Any] = {
        "image_format": "unknown",
        "decoded": 0,
        "width": None,
        "height": None,
        "byte_size": None if data is None else len(data),
    }
    features.update(dict.fromkeys(PIXEL_FEATURES))
    if not data:
        return features
    if data.startswith(PNG_SIGNATURE):
        features["image_format"] = "png"
        try:
            header = png_header(data)
            features["width"], features["height"] = header.width, header.height
            features.update(pixel_features(decode_png(data, max_pixels)))
            features["decoded"] = 1
        # ImageDecodeError for what the decoder recognises as broken; struct/index errors for damage it does
        # not: either way one bad upload must not fail the hourly analysis of every other record.
        except (ImageDecodeError, struct.error, IndexError):
            pass
    elif data.startswith(JPEG_SOI):
        features["image_format"] = "jpeg"
        with contextlib.suppress(ImageDecodeError, struct.error, IndexError):
            features["width"], features["height"] = jpeg_dimensions(data)
    return features


def class_labels() -> Tuple[str, ...]:
    raw = os.environ.get("CLASS_LABELS", "")
    labels = tuple(label.strip() for label in raw.split(",") if label.strip())
    return labels or DEFAULT_CLASS_LABELS


def answer_probabilities(payload: Any) -> Optional[List[float]]:
    """Probabilities from the parsed response: the endpoint's object {"probabilities": [...], "labels": [...], ...}
    (training/sourcedir/inference.py), or, from a model deployed before it, a bare [p, ...] or [[p, ...]]."""
    if isinstance(payload, dict):
        for key in ("probabilities", "predictions", "scores"):
            if key in payload:
                return answer_probabilities(payload[key])
        return None
    if isinstance(payload, list) and len(payload) == 1 and isinstance(payload[0], list):
        payload = payload[0]
    if (
        isinstance(payload, list)
        and payload
        and all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in payload)
    ):
        return [float(p) for p in payload]
    return None


def answer_labels(payload: Any) -> Optional[Tuple[str, ...]]:
    """The label order the response itself names ("labels"), if it names one."""
    labels = payload.get("labels") if isinstance(payload, dict) else None
    if isinstance(labels, list) and labels and all(isinstance(label, str) for label in labels):
        return tuple(labels)
    return None


def prediction_features(payload: Any, labels: Optional[Tuple[str, ...]] = None) -> Dict[str, Any]:
    """Top-class confidence, index and label; None when the response is not a probability list. The label comes
    from the response's own "labels", else `labels`, else CLASS_LABELS."""
    probabilities = answer_probabilities(payload)
    if not probabilities or not all(math.isfinite(p) for p in probabilities):
        return {"top_confidence": None, "predicted_class_index": None, "predicted_label": None}
    labels = answer_labels(payload) or labels or class_labels()
    index = max(range(len(probabilities)), key=probabilities.__getitem__)
    return {
        "top_confidence": round(probabilities[index], 6),
        "predicted_class_index": index,
        "predicted_label": labels[index] if index < len(labels) else str(index),
    }


# ------------------------------------------------------------------------------------ captured records


def _field(obj: Any, *names: str) -> Any:
    """Attribute or key lookup: the analyzer's objects use camelCase or snake_case depending on version."""
    for name in names:
        if isinstance(obj, dict) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            return getattr(obj, name)
    return None


def _payload_bytes(event_data: Any) -> Optional[bytes]:
    """Raw bytes of a captured payload: BASE64-encoded bodies are decoded, text bodies encoded as UTF-8."""
    data = _field(event_data, "data")
    if data is None:
        return None
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if not isinstance(data, str):
        return json.dumps(data).encode()  # already-parsed JSON
    encoding = (_field(event_data, "encoding") or "").upper()
    if encoding == "BASE64":
        try:
            return base64.b64decode(data, validate=False)
        except (binascii.Error, ValueError):
            return None
    return data.encode("utf-8")


def _image_bytes(event_data: Any) -> Optional[bytes]:
    """The image in the request: the raw body, or a base64 field of a JSON body."""
    body = _payload_bytes(event_data)
    if body is None or body.startswith((PNG_SIGNATURE, JPEG_SOI)):
        return body
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body
    if isinstance(document, dict):
        for key in ("image_data", "image", "body"):
            if isinstance(document.get(key), str):
                try:
                    return base64.b64decode(document[key], validate=False)
                except (binascii.Error, ValueError):
                    return body
    return body


def _response_payload(event_data: Any) -> Any:
    data = _field(event_data, "data")
    if isinstance(data, (dict, list)):
        return data
    body = _payload_bytes(event_data)
    if body is None:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        # CSV responses: "0.1,0.9"
        try:
            return [float(v) for v in body.decode("utf-8").strip().split(",")]
        except (ValueError, UnicodeDecodeError):
            return None


def preprocess_handler(inference_record: Any, logger: Any = None) -> Dict[str, Any]:
    """Model Monitor entry point: one captured record -> one flat dict of features (never raises on data)."""
    endpoint_input = _field(inference_record, "endpoint_input", "endpointInput")
    endpoint_output = _field(inference_record, "endpoint_output", "endpointOutput")
    image = _image_bytes(endpoint_input) if endpoint_input is not None else None
    features = image_features(image)
    response = _response_payload(endpoint_output) if endpoint_output is not None else None
    features.update(prediction_features(response))
    if logger is not None and not features["decoded"]:
        event_id = _field(_field(inference_record, "event_metadata", "eventMetadata"), "event_id", "eventId")
        logger.info(f"record {event_id}: {features['image_format']} image not decoded; pixel features null")
    return features


# ------------------------------------------------------------------- adapter for raw capture JSON lines


class CapturedPayload:
    """One side of a captured record (`captureData.endpointInput` / `endpointOutput`)."""

    def __init__(self, document: Dict[str, Any]) -> None:
        self.data = document.get("data")
        self.encoding = document.get("encoding")
        self.mode = document.get("mode")
        self.observed_content_type = document.get("observedContentType")

    @property
    def observedContentType(self) -> Optional[str]:  # the analyzer's own (camelCase) attribute name
        return self.observed_content_type


class CapturedMetadata:
    """`eventMetadata`: event id, inference time and optional custom attributes."""

    def __init__(self, document: Dict[str, Any]) -> None:
        self.event_id = document.get("eventId")
        self.event_time = document.get("inferenceTime")
        self.inference_id = document.get("inferenceId")
        self.custom_attribute = document.get("customAttributes")
        self.invocation_source = document.get("invocationSource")


class CapturedRecord:
    """The object Model Monitor hands to `preprocess_handler`, built from one capture JSON line."""

    def __init__(self, document: Dict[str, Any]) -> None:
        capture = document.get("captureData") or {}
        self.endpoint_input = CapturedPayload(capture["endpointInput"]) if "endpointInput" in capture else None
        self.endpoint_output = CapturedPayload(capture["endpointOutput"]) if "endpointOutput" in capture else None
        self.event_metadata = CapturedMetadata(document.get("eventMetadata") or {})
        self.event_version = document.get("eventVersion")

    @classmethod
    def from_line(cls, line: Union[str, bytes]) -> "CapturedRecord":
        return cls(json.loads(line))


def build_capture_line(
    image: bytes,
    response: Any,
    *,
    event_id: str = "",
    inference_time: str = "1970-01-01T00:00:00Z",
) -> str:
    """One data-capture JSON line as the endpoint writes it (image body BASE64, JSON response as text).

    `response` is what the endpoint answered (its JSON object, or a bare probability list); None leaves the
    output out, as for a request the model failed on.
    """
    if image.startswith(PNG_SIGNATURE):
        content_type = "image/png"
    elif image.startswith(JPEG_SOI):
        content_type = "image/jpeg"
    else:
        content_type = "application/x-image"
    capture: Dict[str, Any] = {
        "endpointInput": {
            "observedContentType": content_type,
            "mode": "INPUT",
            "data": base64.b64encode(image).decode("ascii"),
            "encoding": "BASE64",
        }
    }
    if response is not None:
        if not isinstance(response, (dict, list)):
            response = [float(p) for p in response]  # a tuple or an array of probabilities
        capture["endpointOutput"] = {
            "observedContentType": "application/json",
            "mode": "OUTPUT",
            "data": json.dumps(response),
            "encoding": "JSON",
        }
    document = {
        "captureData": capture,
        "eventMetadata": {"eventId": event_id, "inferenceTime": inference_time},
        "eventVersion": "0",
    }
    return json.dumps(document, separators=(",", ":"))


def preprocess_capture_line(line: Union[str, bytes], logger: Any = None) -> Dict[str, Any]:
    """One data-capture JSON line -> features, exactly as the analyzer would compute them."""
    return preprocess_handler(CapturedRecord.from_line(line), logger)


def preprocess_capture_lines(lines: Iterable[Union[str, bytes]], logger: Any = None) -> List[Dict[str, Any]]:
    """Every record of a capture file; blank lines and shadow-variant records are skipped, as AWS does."""
    rows = []
    for line in lines:
        if not line.strip():
            continue
        record = CapturedRecord.from_line(line)
        if record.event_metadata.invocation_source == "ShadowExperiment":
            continue
        rows.append(preprocess_handler(record, logger))
    return rows
