"""The record preprocessor both engines run: the captured answer's features, in the analyzer's older Python."""

from __future__ import annotations

import ast
import base64
import inspect
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring import record_preprocessor as rp
from tests.functions.test_handler_properties import json_values
from tests.monitoring.conftest import endpoint_answer, jpeg_bytes, photo, serving_features

MODULE_PATH = Path(rp.__file__)

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


def sagemaker_capture_line(image: bytes, response: str, *, output_encoding: str = "JSON") -> str:
    """A capture line spelled out as SageMaker data capture writes it (independent of build_capture_line)."""
    data = response if output_encoding == "JSON" else base64.b64encode(response.encode()).decode()
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "image/jpeg",
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


def test_the_preprocessor_knows_every_feature_the_serving_container_answers() -> None:
    assert set(rp.IMAGE_FEATURES) == set(serving_features.FEATURE_NAMES)
    assert set(rp.FEATURE_TYPES) == set(rp.IMAGE_FEATURES) | set(rp.PREDICTION_FEATURES)


@pytest.mark.parametrize("output_encoding", ["JSON", "BASE64"])
def test_a_captured_jpeg_is_described_as_fully_as_a_png(output_encoding: str) -> None:
    pixels = photo(np.random.default_rng(7))
    jpeg = jpeg_bytes(pixels)
    answer = endpoint_answer(jpeg)
    row = rp.preprocess_capture_line(sagemaker_capture_line(jpeg, json.dumps(answer), output_encoding=output_encoding))
    assert set(row) == set(rp.FEATURE_TYPES), "every record carries every feature"
    assert all(row[name] is not None for name in rp.FEATURE_TYPES), row
    assert (row["image_format"], row["width"], row["height"], row["byte_size"]) == ("jpeg", 640, 480, len(jpeg))
    values = np.asarray(pixels, dtype=np.float64).reshape(-1, 3)
    assert row["r_mean"] == pytest.approx(values[:, 0].mean(), abs=2.0), "JPEG is lossy, not far off"
    assert row["top_confidence"] == pytest.approx(max(answer["probabilities"]), abs=1e-6)


def test_the_response_objects_own_labels_name_the_prediction(encode_png, monkeypatch) -> None:
    # A model trained with another label order is read right: the response's "labels" win over CLASS_LABELS.
    monkeypatch.setenv("CLASS_LABELS", "bicycle,motorcycle")
    response = {"probabilities": [0.2, 0.8], "labels": ["motorcycle", "bicycle"], "confidence_threshold": 0.93}
    image = encode_png(np.zeros((2, 2, 3), dtype=np.uint8))
    row = rp.preprocess_capture_line(sagemaker_capture_line(image, json.dumps(response)))
    assert (row["top_confidence"], row["predicted_class_index"], row["predicted_label"]) == (0.8, 1, "bicycle")
    assert rp.preprocess_capture_line(rp.build_capture_line(image, response)) == row
    older = rp.preprocess_capture_line(sagemaker_capture_line(image, json.dumps([0.2, 0.8])))
    assert older["predicted_label"] == "motorcycle", "a bare list from an older model falls back to CLASS_LABELS"


def test_an_older_models_bare_answer_has_null_image_features(encode_png) -> None:
    row = rp.preprocess_capture_line(rp.build_capture_line(encode_png(np.zeros((4, 4, 3), np.uint8)), [0.3, 0.7]))
    assert set(row) == set(rp.FEATURE_TYPES)
    assert [row[name] for name in rp.IMAGE_FEATURES] == [None] * len(rp.IMAGE_FEATURES)
    assert row["predicted_label"] == "motorcycle"


def test_a_request_of_several_images_is_one_row_per_image_for_the_scheduled_check() -> None:
    images = [np.full((8, 8, 3), shade, dtype=np.uint8) for shade in (30, 200)]
    answer = {
        "probabilities": [[0.9, 0.1], [0.2, 0.8]],
        "labels": ["bicycle", "motorcycle"],
        "features": [serving_features.pixel_features(image.tolist()) for image in images],
    }
    record = rp.CapturedRecord.from_line(sagemaker_capture_line(b"{}", json.dumps(answer)))
    rows = rp.record_rows(record)
    assert [(r["brightness"], r["predicted_label"]) for r in rows] == [(30.0, "bicycle"), (200.0, "motorcycle")]
    # Model Monitor's handler returns one flat dictionary per record, as AWS documents: the first image.
    assert rp.preprocess_handler(record) == rows[0]


def test_handler_accepts_the_analyzers_camel_case_record_objects(monkeypatch, encode_png) -> None:
    monkeypatch.setenv("CLASS_LABELS", "bike,moto")
    image = encode_png(np.full((4, 4, 3), 100, dtype=np.uint8))

    class EventData:  # shaped like the analyzer's own record classes (attribute observedContentType)
        def __init__(self, data: str, encoding: str, content_type: str) -> None:
            self.data, self.encoding, self.observedContentType, self.mode = data, encoding, content_type, "INPUT"

    class Record:
        def __init__(self) -> None:
            answer = {"probabilities": [[0.2, 0.8]], "features": serving_features.image_features(image)}
            self.endpoint_input = EventData(base64.b64encode(image).decode(), "BASE64", "image/png")
            self.endpoint_output = EventData(json.dumps(answer), "JSON", "application/json")
            self.event_metadata = None

    messages: list[str] = []

    class Logger:
        def info(self, message: str) -> None:
            messages.append(message)

    row = rp.preprocess_handler(Record(), Logger())
    assert (row["brightness"], row["predicted_label"], row["predicted_class_index"]) == (100.0, "moto", 1)
    assert messages == []
    json.dumps(row)  # the analyzer serialises the returned dict


def test_capture_lines_skip_blank_and_shadow_records(encode_png) -> None:
    line = rp.build_capture_line(encode_png(np.zeros((2, 2, 3), dtype=np.uint8)), [0.9, 0.1], event_id="a")
    shadow = json.loads(line)
    shadow["eventMetadata"]["invocationSource"] = "ShadowExperiment"
    rows = rp.preprocess_capture_lines([line, "", json.dumps(shadow)])
    assert [row["predicted_label"] for row in rows] == ["bicycle"]


def test_unreadable_response_leaves_the_features_missing_and_logs_it(encode_png) -> None:
    messages: list[str] = []
    logger = type("Logger", (), {"info": lambda self, message: messages.append(message)})()
    line = sagemaker_capture_line(encode_png(np.zeros((2, 2, 3), dtype=np.uint8)), '{"error": "model failed"}')
    row = rp.preprocess_capture_line(line, logger)
    assert set(row) == set(rp.FEATURE_TYPES)
    assert all(value is None for value in row.values())
    assert messages == [
        "record 0b7c3a3e-6a1e-4d1f-9a43-3f4b5b0b8a11: the response carries no image features; they are null"
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=json_values, encoding=st.sampled_from(["JSON", "BASE64", "CSV"]))
def test_whatever_the_model_answered_the_monitoring_job_does_not_fail(answer, encoding: str) -> None:
    # One exception in the preprocessor fails the whole hourly analysis, so no answer may make it raise.
    line = sagemaker_capture_line(b"\xff\xd8", json.dumps(answer), output_encoding=encoding)
    row = rp.preprocess_capture_line(line)
    assert set(rp.FEATURE_TYPES) <= set(row)
    json.dumps(row)
    rows = rp.record_rows(rp.CapturedRecord.from_line(line))
    assert rows
    assert all(set(rp.FEATURE_TYPES) <= set(r) for r in rows)


def test_numbers_no_image_or_probability_has_are_not_taken_as_features(encode_png) -> None:
    """Found by write_baseline's property test: [5.99e307] as an answer overflowed the baseline statistics."""
    image = encode_png(np.zeros((2, 2, 3), dtype=np.uint8))
    assert rp.preprocess_capture_line(rp.build_capture_line(image, [5.99e307]))["top_confidence"] is None
    assert rp.preprocess_capture_line(rp.build_capture_line(image, [1.2, -0.2]))["top_confidence"] is None
    answer = {"probabilities": [0.4, 0.6], "features": {"brightness": 1e308, "width": 10**400, "r_mean": "NaN"}}
    row = rp.preprocess_capture_line(rp.build_capture_line(image, answer))
    assert (row["brightness"], row["width"]) == ("1e+308", str(10**400))
    assert row["top_confidence"] == 0.6
