"""The metric lines train.py prints and the regexes SageMaker uses to read them (training job MetricDefinitions).

Standard library only: the launcher imports this module (`from training.sourcedir.metrics import
METRIC_DEFINITIONS`) without torch installed.
"""

from __future__ import annotations

# Metric name -> what it measures. Printed one per line as `<name>=<value>` (e.g. `validation:accuracy=0.9375`).
METRICS = {
    "train:loss": "mean training cross-entropy (label-smoothed when --label-smoothing > 0) over one member epoch",
    "validation:loss": "cross-entropy of held-out predictions: each member's fold, then all out-of-fold (last)",
    "validation:accuracy": "accuracy of held-out predictions: each member's fold, then all out-of-fold (last)",
    "validation:threshold": "confidence threshold chosen on the out-of-fold predictions",
    "test:accuracy": "accuracy on the test split (printed once, after training)",
    "test:confident_share": "share of test images whose confidence is at or above the threshold",
    "test:confident_precision": "accuracy on that confident share of the test images",
}

METRIC_DEFINITIONS = [{"Name": name, "Regex": f"{name}=([0-9\\.]+)"} for name in METRICS]


def metric_line(name: str, value: float) -> str:
    """The exact text a MetricDefinitions regex matches, e.g. `validation:accuracy=0.9375`."""
    if name not in METRICS:
        raise KeyError(f"unknown metric {name!r}; add it to METRICS so SageMaker picks it up")
    return f"{name}={value:.4f}"
