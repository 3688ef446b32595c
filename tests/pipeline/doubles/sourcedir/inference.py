"""Serving code of the stand-in model: the same answer for every image, naming the training job that made the
model, so a test can tell which model version serves (or a load failure, for a model saved with --broken, or
answers that are not probabilities, for one saved with --malformed).

The answer has the serving contract's keys (probabilities, labels, confidence_threshold, model_version: see
training/sourcedir/inference.py) plus "model", the same name, which the older tests read."""

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
    return {
        "probabilities": [1.5, -0.5] if model.get("malformed") else [0.9, 0.1],
        "labels": ["bicycle", "motorcycle"],
        "confidence_threshold": 0.8,
        "model_version": model["model"],
        "model": model["model"],
    }


def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
