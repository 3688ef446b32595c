"""TEST DOUBLE, not a model: serving code that answers as training/sourcedir/inference.py does, with fixed
probabilities per image and the real image features.

Packaged by the monitoring tests as `code/inference.py` of a model.tar.gz beside `code/features.py` (the serving
container's own, copied as train.py copies it) and `probabilities.json` mapping the sha256 of an image's bytes to
the class probabilities to return. The endpoint then answers the response object, features included, so data
capture records what a real model's capture holds.
"""

import hashlib
import json
import os

import features

LABELS = ["bicycle", "motorcycle"]


def model_fn(model_dir):
    with open(os.path.join(model_dir, "probabilities.json")) as handle:
        return json.load(handle)


def input_fn(request_body, content_type):
    if content_type not in ("application/x-image", "image/png", "image/jpeg"):
        raise ValueError(f"unsupported content type {content_type!r}; expected application/x-image")
    return request_body


def predict_fn(body, table):
    digest = hashlib.sha256(body).hexdigest()
    if digest not in table:
        raise ValueError(f"the test double has no probabilities for image {digest[:12]}")
    return {
        "probabilities": table[digest],
        "labels": LABELS,
        "confidence_threshold": 0.9,
        "model_version": "featured-double",
        "features": features.image_features(body),
    }


def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
