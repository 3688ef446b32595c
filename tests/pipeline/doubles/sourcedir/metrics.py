"""The stand-in's metric definitions, in the format of training/sourcedir/metrics.py."""

METRIC_DEFINITIONS = [
    {"Name": "train:loss", "Regex": r"train:loss=([0-9.]+)"},
    {"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9.]+)"},
    {"Name": "test:accuracy", "Regex": r"test:accuracy=([0-9.]+)"},
    {"Name": "validation:threshold", "Regex": r"validation:threshold=([0-9.]+)"},
]
