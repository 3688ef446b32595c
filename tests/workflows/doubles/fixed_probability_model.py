"""TEST DOUBLE, not a model: a SageMaker PyTorch serving module that answers fixed probabilities per image.

Packaged by the workflow tests as `code/inference.py` of a model.tar.gz, with `probabilities.json` mapping the
sha256 of an image's bytes to the class probabilities to return, and `model_config.json` holding what the real
serving handler reports about its model (labels, confidence_threshold, model_version). It answers the serving
contract's object, `{"probabilities", "labels", "confidence_threshold", "model_version"}`, so the inference
state machine runs end to end through the real hosting path (endpoint → model → serving code → data capture)
before any model is trained.
"""

import hashlib
import json
import os


def model_fn(model_dir):
    with open(os.path.join(model_dir, "probabilities.json")) as handle:
        table = json.load(handle)
    with open(os.path.join(model_dir, "model_config.json")) as handle:
        config = json.load(handle)
    return {"table": table, "config": config}


def input_fn(request_body, content_type):
    if content_type != "application/x-image":
        raise ValueError(f"unsupported content type {content_type!r}; expected application/x-image")
    return hashlib.sha256(request_body).hexdigest()


def predict_fn(digest, model):
    if digest not in model["table"]:
        raise ValueError(f"the test double has no probabilities for image {digest[:12]}")
    return {"probabilities": model["table"][digest], **model["config"]}


def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
