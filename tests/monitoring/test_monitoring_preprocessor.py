"""The Model Monitor record preprocessor: PNG decoding against Pillow, JPEG handling, capture records."""

from __future__ import annotations

import ast
import base64
import inspect
import io
import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from training.monitoring import record_preprocessor as rp

MODULE_PATH = Path(rp.__file__)
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


# ------------------------------------------------------------------------------ a reference PNG writer
# Written from the PNG specification so each filter type and Adam7 can be forced; every file it writes is
# first checked against Pillow's reading, so a bug here cannot hide a bug in the decoder.


def _filter_row(kind: int, row: bytes, prior: bytes, bpp: int) -> bytes:
    out = bytearray(len(row))
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prior[i]
        c = prior[i - bpp] if i >= bpp else 0
        if kind == 0:
            predictor = 0
        elif kind == 1:
            predictor = a
        elif kind == 2:
            predictor = b
        elif kind == 3:
            predictor = (a + b) // 2
        else:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        out[i] = (x - predictor) & 255
    return bytes([kind]) + bytes(out)


def _pack_rows(samples: np.ndarray, bit_depth: int) -> list[bytes]:
    """(H, W, C) integer samples -> packed scanline bytes (big-endian 16-bit, MSB-first sub-byte)."""
    rows = []
    for row in samples:
        flat = row.reshape(-1)
        if bit_depth == 16:
            rows.append(flat.astype(">u2").tobytes())
        elif bit_depth == 8:
            rows.append(flat.astype(np.uint8).tobytes())
        else:
            per_byte = 8 // bit_depth
            padded = np.concatenate([flat, np.zeros((-len(flat)) % per_byte, dtype=flat.dtype)])
            packed = bytearray()
            for start in range(0, len(padded), per_byte):
                byte = 0
                for value in padded[start : start + per_byte]:
                    byte = (byte << bit_depth) | int(value)
                packed.append(byte)
            rows.append(bytes(packed))
    return rows


def _encode(samples: np.ndarray, bit_depth: int, channels: int, filters: list[int]) -> bytes:
    height = samples.shape[0]
    if height == 0 or samples.shape[1] == 0:
        return b""
    bpp = max(1, channels * bit_depth // 8)
    rows = _pack_rows(samples, bit_depth)
    prior = bytes(len(rows[0]))
    out = b""
    for y, row in enumerate(rows):
        out += _filter_row(filters[y % len(filters)], row, prior, bpp)
        prior = row
    return out


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def write_png(
    samples: np.ndarray,
    colour_type: int,
    bit_depth: int,
    filters: list[int],
    palette: bytes | None = None,
    interlace: bool = False,
) -> bytes:
    height, width = samples.shape[:2]
    channels = CHANNELS[colour_type]
    if interlace:
        raw = b"".join(_encode(samples[y0::dy, x0::dx], bit_depth, channels, filters) for x0, y0, dx, dy in ADAM7)
    else:
        raw = _encode(samples, bit_depth, channels, filters)
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, int(interlace))
    chunks = _chunk(b"IHDR", header)
    if palette is not None:
        chunks += _chunk(b"PLTE", palette)
    chunks += _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
    return rp.PNG_SIGNATURE + chunks


def expected_rgb(samples: np.ndarray, colour_type: int, bit_depth: int, palette: bytes | None) -> np.ndarray:
    """What an 8-bit RGB reading of the samples must give (16-bit: high byte; sub-byte grey: scaled)."""
    if colour_type == 3:
        table = np.frombuffer(palette, dtype=np.uint8).reshape(-1, 3)
        return table[samples[..., 0]]
    values = samples >> 8 if bit_depth == 16 else samples
    if colour_type in (0, 4):
        if bit_depth < 8:
            values = values * (255 // ((1 << bit_depth) - 1))
        grey = values[..., :1]
        return np.repeat(grey, 3, axis=2).astype(np.uint8)
    return values[..., :3].astype(np.uint8)


def pillow_rgb(data: bytes, colour_type: int, bit_depth: int) -> np.ndarray:
    """Pillow's reading of the file, as 8-bit RGB (16-bit grey: Pillow keeps 16 bits, so take the high byte)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    if colour_type == 0 and bit_depth == 16:
        grey = (np.asarray(image, dtype=np.uint32) >> 8).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    return np.asarray(image.convert("RGB"))


def decoded(data: bytes) -> np.ndarray:
    image = rp.decode_png(data)
    return np.frombuffer(image.rgb, dtype=np.uint8).reshape(image.height, image.width, 3)


FORMATS = [
    pytest.param(0, 1, id="grey-1"),
    pytest.param(0, 2, id="grey-2"),
    pytest.param(0, 4, id="grey-4"),
    pytest.param(0, 8, id="grey-8"),
    pytest.param(0, 16, id="grey-16"),
    pytest.param(2, 8, id="rgb-8"),
    pytest.param(2, 16, id="rgb-16"),
    pytest.param(3, 1, id="palette-1"),
    pytest.param(3, 2, id="palette-2"),
    pytest.param(3, 4, id="palette-4"),
    pytest.param(3, 8, id="palette-8"),
    pytest.param(4, 8, id="grey-alpha-8"),
    pytest.param(4, 16, id="grey-alpha-16"),
    pytest.param(6, 8, id="rgba-8"),
    pytest.param(6, 16, id="rgba-16"),
]


def random_samples(
    colour_type: int, bit_depth: int, width: int = 13, height: int = 7, seed: int = 0
) -> tuple[np.ndarray, bytes | None]:
    rng = np.random.default_rng(seed)
    channels = CHANNELS[colour_type]
    # A smooth gradient plus noise, so that every filter has something to predict.
    base = (np.arange(width)[None, :, None] * 7 + np.arange(height)[:, None, None] * 3) % (1 << bit_depth)
    noise = rng.integers(0, 1 << bit_depth, size=(height, width, channels))
    samples = np.where(rng.random((height, width, channels)) < 0.5, base, noise).astype(np.int64)
    palette = None
    if colour_type == 3:
        entries = 1 << bit_depth
        palette = rng.integers(0, 256, size=entries * 3, dtype=np.uint8).tobytes()
        samples = samples % entries
    return samples, palette


# ------------------------------------------------------------------------------------------------ tests


def test_runs_in_the_analyzer_container_with_the_standard_library_only() -> None:
    tree = ast.parse(MODULE_PATH.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports do not exist inside the analyzer container"
            imported.add(node.module.split(".")[0])
    third_party = sorted(imported - set(sys.stdlib_module_names))
    assert not third_party, f"record_preprocessor.py imports non-stdlib modules: {third_party}"


# AWS names no Python version for the analyzer image (Spark 3.3.0, Deequ 2.0.2); 3.7 is the floor chosen here.
ANALYZER_PYTHON_FLOOR = (3, 7)
# Builtins that became subscriptable in 3.9 (PEP 585) and str methods added in 3.9.
PEP585_BUILTINS = {"dict", "list", "tuple", "set", "frozenset", "type"}
NEWER_STR_METHODS = {"removeprefix", "removesuffix"}


def python_floor_problems(source: str) -> list[str]:
    """What in `source` the analyzer's Python (the floor) would refuse or fail on when the module is imported."""
    tree = ast.parse(source, feature_version=ANALYZER_PYTHON_FLOOR)  # walrus, match, pos-only args: SyntaxError
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            problems.append(f"line {node.lineno}: from __future__ import {node.names[0].name} hides what 3.7 lacks")
        if isinstance(node, ast.Subscript) and getattr(node.value, "id", "") in PEP585_BUILTINS:
            problems.append(f"line {node.lineno}: {node.value.id}[...] needs Python 3.9 (use typing)")
        if (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.BitOr)
            and any(_names_a_type(operand) for operand in (node.left, node.right))
        ):
            problems.append(f"line {node.lineno}: X | Y of types needs Python 3.10 (use Optional/Union)")
        if isinstance(node, ast.Attribute) and node.attr in NEWER_STR_METHODS:
            problems.append(f"line {node.lineno}: str.{node.attr} needs Python 3.9")
        if isinstance(node, ast.Call) and any(k.arg == "strict" for k in node.keywords):
            problems.append(f"line {node.lineno}: zip(strict=...) needs Python 3.10")
        if isinstance(node, ast.ImportFrom) and node.module == "collections.abc":
            problems.append(f"line {node.lineno}: collections.abc generics need Python 3.9 to subscript")
    return problems


def _names_a_type(node: ast.expr) -> bool:
    """An operand of `|` that is a type (`int | None`, `Dict[str, Any] | bytes`), not an integer flag."""
    if isinstance(node, ast.Constant):
        return node.value is None
    if isinstance(node, ast.Subscript):
        node = node.value
    name = getattr(node, "id", None) or getattr(node, "attr", None) or ""
    return name in {"int", "str", "bytes", "float", "bool", "Any"} | PEP585_BUILTINS or name[:1].isupper()


def test_stays_within_the_analyzer_python_at_run_time() -> None:
    source = MODULE_PATH.read_text()
    assert ast.get_docstring(ast.parse(source))
    assert python_floor_problems(source) == []


def test_the_python_floor_check_names_what_3_7_lacks() -> None:
    bad = (
        "from __future__ import annotations\n"
        "from collections.abc import Iterable\n"
        "X: dict[str, int] = {}\n"
        "def f(a: int | None) -> str:\n"
        "    return ''.removeprefix('a')\n"
    )
    problems = " ".join(python_floor_problems(bad))
    for words in ("__future__", "dict[...]", "X | Y", "removeprefix", "collections.abc"):
        assert words in problems
    with pytest.raises(SyntaxError):
        python_floor_problems("if (n := 1):\n    pass\n")
    assert python_floor_problems("FLAGS = 1 | 2\n") == []


def test_handler_signature_gets_the_analyzer_logger() -> None:
    # The analyzer passes its logger only when the handler has a parameter named exactly "logger".
    assert list(inspect.signature(rp.preprocess_handler).parameters) == ["inference_record", "logger"]


@pytest.mark.parametrize(("colour_type", "bit_depth"), FORMATS)
@pytest.mark.parametrize("filter_type", [0, 1, 2, 3, 4], ids=["none", "sub", "up", "average", "paeth"])
def test_png_decode_matches_pillow_for_every_filter(colour_type: int, bit_depth: int, filter_type: int) -> None:
    samples, palette = random_samples(colour_type, bit_depth)
    data = write_png(samples, colour_type, bit_depth, [filter_type], palette)
    reference = pillow_rgb(data, colour_type, bit_depth)
    assert (reference == expected_rgb(samples, colour_type, bit_depth, palette)).all(), "test writer is wrong"
    assert (decoded(data) == reference).all()


@pytest.mark.parametrize(("colour_type", "bit_depth"), FORMATS)
def test_adam7_interlaced_png_matches_pillow(colour_type: int, bit_depth: int) -> None:
    samples, palette = random_samples(colour_type, bit_depth, width=11, height=10, seed=1)
    data = write_png(samples, colour_type, bit_depth, [0, 1, 2, 3, 4], palette, interlace=True)
    reference = pillow_rgb(data, colour_type, bit_depth)
    assert (reference == expected_rgb(samples, colour_type, bit_depth, palette)).all(), "test writer is wrong"
    assert (decoded(data) == reference).all()
    assert rp.image_features(data)["decoded"] == 1


@pytest.mark.parametrize("mode", ["1", "L", "LA", "RGB", "RGBA", "P", "I;16"])
def test_png_written_by_pillow_decodes_to_pillows_pixels(mode: str) -> None:
    rng = np.random.default_rng(2)
    source = rng.integers(0, 256, size=(17, 9, 3), dtype=np.uint8)
    image = Image.fromarray(source).convert(mode) if mode != "I;16" else None
    if mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65536, size=(17, 9), dtype=np.uint16))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    header = rp.png_header(data)
    assert (decoded(data) == pillow_rgb(data, header.colour_type, header.bit_depth)).all()


def test_pixel_features_are_the_channel_statistics(encode_png) -> None:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    features = rp.image_features(encode_png(pixels))
    values = pixels.reshape(-1, 3).astype(np.float64)
    for lane, name in enumerate("rgb"):
        assert features[f"{name}_mean"] == pytest.approx(values[:, lane].mean(), abs=1e-3)
        assert features[f"{name}_std"] == pytest.approx(values[:, lane].std(), abs=1e-3)
    luma = values @ np.array([0.299, 0.587, 0.114])
    assert features["brightness"] == pytest.approx(luma.mean(), abs=1e-3)
    assert (features["width"], features["height"], features["decoded"]) == (32, 32, 1)


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_is_reported_undecoded_with_its_dimensions(progressive: bool) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 24), (200, 30, 30)).save(buffer, format="JPEG", progressive=progressive)
    data = buffer.getvalue()
    features = rp.image_features(data)
    assert features["image_format"] == "jpeg"
    assert (features["width"], features["height"]) == (40, 24)
    assert features["decoded"] == 0
    assert features["byte_size"] == len(data)
    assert all(features[name] is None for name in rp.PIXEL_FEATURES), "JPEG pixels must count as missing"


def test_broken_and_oversized_images_are_undecoded_not_errors(encode_png) -> None:
    data = encode_png(np.zeros((8, 8, 3), dtype=np.uint8))
    truncated = data[: len(data) // 2]
    features = rp.image_features(truncated)
    assert (features["image_format"], features["decoded"], features["width"]) == ("png", 0, 8)
    assert rp.image_features(b"GIF89a not supported")["image_format"] == "unknown"
    limited = rp.image_features(encode_png(np.zeros((40, 40, 3), dtype=np.uint8)), max_pixels=1000)
    assert (limited["decoded"], limited["width"], limited["height"]) == (0, 40, 40)


def sagemaker_capture_line(image: bytes, response: str, *, output_encoding: str = "JSON") -> str:
    """A capture line spelled out as SageMaker data capture writes it (independent of build_capture_line)."""
    data = response if output_encoding == "JSON" else base64.b64encode(response.encode()).decode()
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "image/png",
                    "mode": "INPUT",
                    "data": base64.b64encode(image).decode(),
                    "encoding": "BASE64",
                },
                "endpointOutput": {
                    "observedContentType": "application/json",
                    "mode": "OUTPUT",
                    "data": data,
                    "encoding": output_encoding,
                },
            },
            "eventMetadata": {
                "eventId": "0b7c3a3e-6a1e-4d1f-9a43-3f4b5b0b8a11",
                "inferenceTime": "2025-01-01T12:34:56Z",
            },
            "eventVersion": "0",
        }
    )


@pytest.mark.parametrize("output_encoding", ["JSON", "BASE64"])
def test_real_captured_records_become_the_images_features(
    cifar, encode_png, model_probabilities, output_encoding: str
) -> None:
    for pixels in cifar["test"].images[:10]:
        probabilities = model_probabilities(pixels)
        line = sagemaker_capture_line(encode_png(pixels), json.dumps(probabilities), output_encoding=output_encoding)
        row = rp.preprocess_capture_line(line)
        values = pixels.reshape(-1, 3).astype(np.float64)
        assert row["decoded"] == 1
        assert row["r_mean"] == pytest.approx(values[:, 0].mean(), abs=1e-3)
        assert row["b_std"] == pytest.approx(values[:, 2].std(), abs=1e-3)
        assert row["top_confidence"] == pytest.approx(max(probabilities), abs=1e-6)
        assert row["predicted_label"] == ("motorcycle" if probabilities[1] > probabilities[0] else "bicycle")
        assert set(row) == set(rp.FEATURE_TYPES), "every record must carry every feature (None when missing)"


def test_handler_accepts_the_analyzers_camel_case_record_objects(monkeypatch, encode_png) -> None:
    monkeypatch.setenv("CLASS_LABELS", "bike,moto")

    class EventData:  # shaped like the analyzer's own record classes (attribute observedContentType)
        def __init__(self, data: str, encoding: str, content_type: str) -> None:
            self.data, self.encoding, self.observedContentType, self.mode = data, encoding, content_type, "INPUT"

    class Record:
        def __init__(self) -> None:
            image = base64.b64encode(encode_png(np.full((4, 4, 3), 100, dtype=np.uint8))).decode()
            self.endpoint_input = EventData(image, "BASE64", "image/png")
            self.endpoint_output = EventData("[[0.2, 0.8]]", "JSON", "application/json")
            self.event_metadata = None

    messages: list[str] = []

    class Logger:
        def info(self, message: str) -> None:
            messages.append(message)

    row = rp.preprocess_handler(Record(), Logger())
    assert (row["brightness"], row["predicted_label"], row["predicted_class_index"]) == (100.0, "moto", 1)
    json.dumps(row)  # the analyzer serialises the returned dict


def test_the_response_objects_own_labels_name_the_prediction(encode_png, monkeypatch) -> None:
    # The endpoint answers {"probabilities", "labels", "confidence_threshold", "model_version"}; its labels win over
    # CLASS_LABELS, so a model trained with another label order is still read right.
    monkeypatch.setenv("CLASS_LABELS", "bicycle,motorcycle")
    response = {
        "probabilities": [0.2, 0.8],
        "labels": ["motorcycle", "bicycle"],
        "confidence_threshold": 0.93,
        "model_version": "cv-pytorch-20261202-120000",
    }
    image = encode_png(np.zeros((2, 2, 3), dtype=np.uint8))
    row = rp.preprocess_capture_line(sagemaker_capture_line(image, json.dumps(response)))
    assert (row["top_confidence"], row["predicted_class_index"], row["predicted_label"]) == (0.8, 1, "bicycle")
    assert rp.preprocess_capture_line(rp.build_capture_line(image, response)) == row
    many = {**response, "probabilities": [[0.9, 0.1]]}
    assert (
        rp.preprocess_capture_line(sagemaker_capture_line(image, json.dumps(many)))["predicted_label"] == "motorcycle"
    )
    older = rp.preprocess_capture_line(sagemaker_capture_line(image, json.dumps([0.2, 0.8])))
    assert older["predicted_label"] == "motorcycle", "a bare list from an older model falls back to CLASS_LABELS"


def test_capture_lines_skip_blank_and_shadow_records(encode_png) -> None:
    line = rp.build_capture_line(encode_png(np.zeros((2, 2, 3), dtype=np.uint8)), [0.9, 0.1], event_id="a")
    shadow = json.loads(line)
    shadow["eventMetadata"]["invocationSource"] = "ShadowExperiment"
    rows = rp.preprocess_capture_lines([line, "", json.dumps(shadow)])
    assert [row["predicted_label"] for row in rows] == ["bicycle"]


def test_unreadable_response_leaves_prediction_features_missing(encode_png) -> None:
    line = sagemaker_capture_line(encode_png(np.zeros((2, 2, 3), dtype=np.uint8)), '{"error": "model failed"}')
    row = rp.preprocess_capture_line(line)
    assert row["decoded"] == 1
    assert (row["top_confidence"], row["predicted_class_index"], row["predicted_label"]) == (None, None, None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupted_images_never_fail_the_monitoring_job(encode_png, data) -> None:
    # One exception in the preprocessor fails the whole hourly analysis, so damaged bytes must not raise.
    pixels = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    if data.draw(st.booleans()):
        original = bytearray(encode_png(pixels))
    else:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG")
        original = bytearray(buffer.getvalue())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(original) - 1))
        original[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(8, len(original)))
    features = rp.image_features(bytes(original[:cut]))
    assert features["decoded"] in (0, 1)
    assert set(features) == set(rp.FEATURE_TYPES) - {"top_confidence", "predicted_class_index", "predicted_label"}
