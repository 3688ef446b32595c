"""Record preprocessor: one captured inference (image in, the model's answer out) -> flat features.

Both monitoring engines read captured traffic through this file. Model Monitor's analyzer runs it as the job
definition's RecordPreprocessorSourceUri and calls `preprocess_handler(inference_record, logger)` once per
captured record; the scheduled check (monitoring/scheduled_check.py) calls `record_rows` on the same records.

The features come from the captured response, not from the image: the serving container decodes every image
anyway and answers, beside the probabilities, the image's "features" (training/sourcedir/features.py: format,
width, height, byte size, per-channel mean and standard deviation, brightness). So a JPEG is described as fully
as a PNG, and nothing here decodes an image. The prediction features (top confidence, its class index and label)
come from the response's "probabilities" and "labels". A response from a model deployed before the features
existed (a bare probability list) gives null image features, which the checks report as completeness
violations: redeploy, and the next baseline has them too.

This file runs inside AWS's analyzer container, where only the Python standard library can be relied on, and
whose Python may be older than this repository's: AWS documents the analyzer image as Spark 3.3.0 with Deequ
2.0.2 (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-pre-built-container.html) and names no
Python version, so the file keeps to Python 3.7, the floor chosen here: no `from __future__ import annotations`
(annotations are evaluated, so they use `typing.Dict`/`Optional`, never `dict[...]` or `X | Y`), no walrus, no
zip(strict=...), no match statements, no str.removeprefix (tests check).

`preprocess_capture_line` wraps one line of the JSON Lines files that endpoint data capture writes in the record
object the analyzer would build (the record structure of
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-pre-and-post-processing.html).
"""

import base64
import binascii
import json
import math
import os
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

# Feature name -> Model Monitor inferred type. The baseline, the checks and the dashboard's drift widgets all use
# these names; `feature_baseline_drift_<name>` is the CloudWatch metric per feature.
FEATURE_TYPES = {
    "image_format": "String",
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
}  # type: Dict[str, str]
# What the serving container's features.py answers (the rest are computed here from the probabilities).
IMAGE_FEATURES = (
    "image_format",
    "width",
    "height",
    "byte_size",
    "r_mean",
    "g_mean",
    "b_mean",
    "r_std",
    "g_std",
    "b_std",
    "brightness",
)
PREDICTION_FEATURES = ("top_confidence", "predicted_class_index", "predicted_label")

# A number beyond this (or not finite) is no image's feature: it is reported as text, so the data-type check flags
# it, and the statistics stay finite.
MAX_MAGNITUDE = 1e15

# Labels in the model's output order, for a response that does not name its own (CLASS_LABELS, the env var the
# job definition sets and classify_image reads).
DEFAULT_CLASS_LABELS = ("bicycle", "motorcycle")


# ------------------------------------------------------------------------------------------- the response


def class_labels() -> Tuple[str, ...]:
    raw = os.environ.get("CLASS_LABELS", "")
    labels = tuple(label.strip() for label in raw.split(",") if label.strip())
    return labels or DEFAULT_CLASS_LABELS


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _probability_list(value: Any) -> Optional[List[float]]:
    """Probabilities: numbers between 0 and 1 (anything else is not an answer this model gives)."""
    if isinstance(value, list) and value and all(_is_number(p) and 0 <= p <= 1 for p in value):
        return [float(p) for p in value]
    return None


def answer_rows(payload: Any) -> Optional[List[List[float]]]:
    """One probability list per image of the response: the endpoint's object {"probabilities": [...], ...}
    (flat for one image, a list of lists for many), or, from a model deployed before it, a bare [p, ...] or
    [[p, ...], ...]."""
    if isinstance(payload, dict):
        payload = payload.get("probabilities")
    single = _probability_list(payload)
    if single is not None:
        return [single]
    if isinstance(payload, list) and payload:
        rows = [_probability_list(row) for row in payload]
        if all(row is not None for row in rows):
            return rows  # type: ignore[return-value]
    return None


def answer_probabilities(payload: Any) -> Optional[List[float]]:
    """The first (for a one-image response, the only) image's probabilities, or None."""
    rows = answer_rows(payload)
    return rows[0] if rows else None


def answer_labels(payload: Any) -> Optional[Tuple[str, ...]]:
    """The label order the response itself names ("labels"), if it names one."""
    labels = payload.get("labels") if isinstance(payload, dict) else None
    if isinstance(labels, list) and labels and all(isinstance(label, str) for label in labels):
        return tuple(labels)
    return None


def answer_features(payload: Any, count: int) -> List[Dict[str, Any]]:
    """The response's "features", one object per image (empty objects where it has none, e.g. an older model)."""
    features = payload.get("features") if isinstance(payload, dict) else None
    if isinstance(features, dict):
        features = [features]
    if not isinstance(features, list) or len(features) != count:
        return [{} for _ in range(count)]
    return [item if isinstance(item, dict) else {} for item in features]


def prediction_features(probabilities: Optional[List[float]], labels: Tuple[str, ...]) -> Dict[str, Any]:
    """Top-class confidence, index and label; None when there are no finite probabilities."""
    if not probabilities or not all(math.isfinite(p) for p in probabilities):
        return dict.fromkeys(PREDICTION_FEATURES)
    index = max(range(len(probabilities)), key=probabilities.__getitem__)
    return {
        "top_confidence": round(probabilities[index], 6),
        "predicted_class_index": index,
        "predicted_label": labels[index] if index < len(labels) else str(index),
    }


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _sane(value: Any) -> Any:
    if _is_number(value) and not (abs(value) <= MAX_MAGNITUDE and math.isfinite(value)):
        return str(value)
    return value


def response_rows(payload: Any) -> List[Dict[str, Any]]:
    """Feature rows of one parsed response, one per image; a response without probabilities is one row of nulls."""
    rows = answer_rows(payload)
    if rows is None:
        image = answer_features(payload, 1)[0]
        return [dict(_image_row(image), **dict.fromkeys(PREDICTION_FEATURES))]
    labels = answer_labels(payload) or class_labels()
    return [
        dict(_image_row(image), **prediction_features(probabilities, labels))
        for probabilities, image in zip(rows, answer_features(payload, len(rows)))
    ]


def _image_row(image: Dict[str, Any]) -> Dict[str, Any]:
    # Every documented image feature, null when the response lacks it; anything else the container adds is kept
    # (a scalar), so the checks report a new feature as an extra column rather than hide it.
    row = {name: image.get(name) for name in IMAGE_FEATURES}
    for name, value in image.items():
        if name not in row and name not in PREDICTION_FEATURES and _scalar(value):
            row[name] = value
    for name, value in row.items():
        # A nested value is not a number, and neither is an infinite or absurdly large one: the data-type check
        # reports them.
        row[name] = _sane(value) if _scalar(value) else str(value)
    return row


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


def response_payload(event_data: Any) -> Any:
    """The captured response, parsed (None when it is not JSON)."""
    data = _field(event_data, "data")
    if isinstance(data, (dict, list)):
        return data
    body = _payload_bytes(event_data)
    if body is None:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def record_rows(inference_record: Any) -> List[Dict[str, Any]]:
    """Every image's features in one captured record (a request may hold several images)."""
    endpoint_output = _field(inference_record, "endpoint_output", "endpointOutput")
    payload = response_payload(endpoint_output) if endpoint_output is not None else None
    return response_rows(payload)


def preprocess_handler(inference_record: Any, logger: Any = None) -> Dict[str, Any]:
    """Model Monitor entry point: one captured record -> one flat dict of features (never raises on data).

    AWS documents the handler as returning one flat dictionary per record; a record of several images is
    therefore reported by its first image (the inference workflow sends one image per request).
    """
    rows = record_rows(inference_record)
    if logger is not None and rows[0].get("brightness") is None:
        event_id = _field(_field(inference_record, "event_metadata", "eventMetadata"), "event_id", "eventId")
        logger.info(f"record {event_id}: the response carries no image features; they are null")
    return rows[0]


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
        document = json.loads(line)
        if not isinstance(document, dict):
            raise ValueError("a data-capture line is a JSON object")
        return cls(document)


def _content_type(image: bytes) -> str:
    if image.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if image.startswith(b"\xff\xd8"):
        return "image/jpeg"
    return "application/x-image"


def build_capture_line(
    image: bytes,
    response: Any,
    event_id: str = "",
    inference_time: str = "1970-01-01T00:00:00Z",
) -> str:
    """One data-capture JSON line as the endpoint writes it (image body BASE64, JSON response as text).

    `response` is what the endpoint answered (its JSON object, or a bare probability list); None leaves the
    output out, as for a request the model failed on.
    """
    capture = {
        "endpointInput": {
            "observedContentType": _content_type(image),
            "mode": "INPUT",
            "data": base64.b64encode(image).decode("ascii"),
            "encoding": "BASE64",
        }
    }  # type: Dict[str, Any]
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


def capture_records(lines: Iterable[Union[str, bytes]]) -> List[CapturedRecord]:
    """The records of a capture file; blank lines and shadow-variant records are skipped, as AWS does."""
    records = []
    for line in lines:
        if not line.strip():
            continue
        record = CapturedRecord.from_line(line)
        if record.event_metadata.invocation_source == "ShadowExperiment":
            continue
        records.append(record)
    return records


def preprocess_capture_lines(lines: Iterable[Union[str, bytes]], logger: Any = None) -> List[Dict[str, Any]]:
    """Model Monitor's rows of a capture file: one per record."""
    return [preprocess_handler(record, logger) for record in capture_records(lines)]
