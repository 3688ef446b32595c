"""SageMaker PyTorch serving handlers: model_fn, input_fn, predict_fn, output_fn.

train.py copies this file, model.py, preprocessing.py and features.py into model.tar.gz under code/, so the
serving container needs nothing else. Requests:

- `application/x-image` (also `image/png`, `image/jpeg`): the encoded bytes of one image of any size. It is decoded,
  converted to RGB, center-cropped to a square and resized to 32x32 by preprocessing.py, as in training.
- `application/json`: one image as a nested list height x width x 3 of 0-255 RGB integers
  (`[[[255, 0, 0], [250, 3, 1], ...], ...]`, rows of pixels), either bare or as `{"instances": <that image>}`;
  or several images as `{"instances": [<image>, <image>, ...]}` (or a bare list of images). Images of any size are
  resized like uploaded files.

Response (`application/json`): an object,

    {"probabilities": [0.93, 0.07], "labels": ["bicycle", "motorcycle"], "confidence_threshold": 0.93,
     "model_version": "<training job name>", "features": {"image_format": "jpeg", "width": 640, ...}}

"probabilities" are in the order of "labels" (model_config.json): a flat list when the request held one image, a
list of such lists, in request order, when it held a list of images. They average the image and its mirror image,
as train.py's evaluation does. "features" (features.py) describe each image for drift monitoring: one object, or
a list of them in request order.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import features
import model as model_definition
import numpy as np
import preprocessing
import torch

JSON = "application/json"
IMAGE_CONTENT_TYPES = ("application/x-image", "image/png", "image/jpeg")


class UnsupportedContentType(ValueError):
    """The request's Content-Type or Accept header names a format this endpoint does not speak."""


@dataclass
class LoadedModel:
    """The network with the settings it was trained with (model_config.json)."""

    network: torch.nn.Module
    labels: list[str]
    normalization: dict
    confidence_threshold: float
    model_version: str = "unknown"


@dataclass
class Batch:
    """Decoded 32x32 uint8 images (N x 32 x 32 x 3), and whether the client sent one image (answered flat)."""

    arrays: np.ndarray
    single: bool
    features: list = field(default_factory=list)  # features.py's description of each image, for the response


def _base_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    return (content_type or "").split(";")[0].strip().lower()


# Requests carry one image or a few; for a network this small, extra intra-op threads only spin against each
# other and the server's other workers (measured on 2 busy cores: 4.5 ms per request with one thread, 512 ms
# with two). SERVING_TORCH_THREADS overrides it, e.g. for large batch-transform requests.
DEFAULT_TORCH_THREADS = 1


def model_fn(model_dir: str) -> LoadedModel:
    """Load model.pt and model_config.json written by train.py."""
    torch.set_num_threads(int(os.environ.get("SERVING_TORCH_THREADS", DEFAULT_TORCH_THREADS)))
    directory = Path(model_dir)
    config = json.loads((directory / "model_config.json").read_text())
    network = model_definition.build_model(config["architecture"], len(config["labels"]))
    state = torch.load(directory / "model.pt", map_location="cpu", weights_only=True)
    network.load_state_dict(state)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    network = network.to(device, memory_format=torch.channels_last).eval()
    return LoadedModel(
        network=network,
        labels=list(config["labels"]),
        normalization=config.get("normalization", preprocessing.NORMALIZATION),
        confidence_threshold=float(config["confidence_threshold"]),
        model_version=str(config.get("model_version") or "unknown"),
    )


def _is_pixel(value: object) -> bool:
    return isinstance(value, list) and len(value) == 3 and all(isinstance(v, int | float) for v in value)


def _parse_json(request_body: bytes | str) -> tuple[list, bool]:
    """JSON body -> (list of height x width x 3 pixel lists, whether the request held a single image)."""
    try:
        payload = json.loads(request_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise preprocessing.ImageDecodeError(f"request body is not valid JSON: {error}") from error
    if isinstance(payload, dict):
        payload = payload.get("instances")
    if not isinstance(payload, list) or not payload:
        raise preprocessing.ImageDecodeError(
            'JSON body must be a height x width x 3 list of 0-255 integers, or {"instances": ...} holding one'
            " such image or a list of them"
        )
    try:
        single = _is_pixel(payload[0][0])  # depth 3: one image; depth 4: a list of images
    except (TypeError, IndexError, KeyError) as error:
        raise preprocessing.ImageDecodeError("JSON image must be a height x width x 3 nested list") from error
    return ([payload], True) if single else (payload, False)


def input_fn(request_body: bytes | str, request_content_type: str) -> Batch:
    """Decode a request into 32x32 RGB images, with the same preprocessing.py functions train.py uses."""
    content_type = _base_type(request_content_type)
    if content_type in IMAGE_CONTENT_TYPES:
        body = request_body.encode("latin-1") if isinstance(request_body, str) else bytes(request_body)
        return Batch(preprocessing.bytes_to_array(body)[None], single=True, features=[features.image_features(body)])
    if content_type == JSON:
        pixel_lists, single = _parse_json(request_body)
        arrays = np.stack([preprocessing.pixels_to_array(pixels) for pixels in pixel_lists])
        return Batch(arrays, single, features=[features.pixel_features(pixels) for pixels in pixel_lists])
    raise UnsupportedContentType(
        f"unsupported content type {request_content_type!r}: send {JSON} or one of {', '.join(IMAGE_CONTENT_TYPES)}"
    )


def predict_fn(data: Batch, model: LoadedModel) -> dict:
    """The response object: probabilities in label order (flip-averaged: the same function train.py evaluates
    with), the labels, the model's own confidence threshold, its version and each image's features."""
    images = preprocessing.arrays_to_tensor(data.arrays, model.normalization)
    rows = model_definition.predict_proba(model.network, images).tolist()
    return {
        "probabilities": rows[0] if data.single else rows,
        "labels": model.labels,
        "confidence_threshold": model.confidence_threshold,
        "model_version": model.model_version,
        "features": data.features[0] if data.single else data.features,
    }


def output_fn(prediction: dict, accept: str | None) -> str:
    """JSON: the response object predict_fn built."""
    accept_type = _base_type(accept)
    if accept_type not in ("", "*/*", JSON):
        raise UnsupportedContentType(f"unsupported accept type {accept!r}: this endpoint answers {JSON}")
    return json.dumps(prediction)
