"""Serving code of the stand-in model: the same two probabilities for every image (or a load failure)."""

import json
from pathlib import Path


def model_fn(model_dir):
    weights = json.loads((Path(model_dir) / "weights.json").read_text())
    if weights.get("broken"):
        raise RuntimeError("this model artifact is broken on purpose")
    return weights


def input_fn(body, content_type):
    return body


def predict_fn(data, model):
    return [0.9, 0.1]


def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
