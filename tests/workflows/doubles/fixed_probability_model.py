"""TEST DOUBLE, not a model: a SageMaker PyTorch serving module that answers fixed probabilities per image.

Packaged by the workflow tests as `code/inference.py` of a model.tar.gz, with `probabilities.json` mapping the
sha256 of an image's bytes to the class probabilities to return. It lets the inference state machine run end to
end through the real hosting path (endpoint → model → serving code → data capture) before any model is trained.
"""

import hashlib
import json
import os


def model_fn(model_dir):
    with open(os.path.join(model_dir, "probabilities.json")) as handle:
        return json.load(handle)


def input_fn(request_body, content_type):
    if content_type != "application/x-image":
        raise ValueError(f"unsupported content type {content_type!r}; expected application/x-image")
    return hashlib.sha256(request_body).hexdigest()


def predict_fn(digest, table):
    if digest not in table:
        raise ValueError(f"the test double has no probabilities for image {digest[:12]}")
    return table[digest]


def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
