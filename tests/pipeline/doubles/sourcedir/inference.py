"""Serving code of the stand-in model: the same answer for every image, naming the training job that made the
model, so a test can tell which model version serves (or a load failure, for a model saved with --broken)."""

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
    return {"model": model["model"], "probabilities": [0.9, 0.1]}


def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
