"""The network, and the one way it turns a batch into class probabilities (used by training, evaluation, serving).

`CourierNet` is a compact VGG-style CNN sized to train from scratch on a laptop CPU in about a minute:
a 3x3 stem, then three stages of (conv -> 2x2 max-pool -> BN -> GELU -> conv -> BN -> GELU) that halve the
resolution 32 -> 16 -> 8 -> 4 while doubling the channels, then global max-pooling and one linear layer.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

# Name recorded in model_config.json; `build_model` rebuilds exactly this network from it.
DEFAULT_ARCHITECTURE = "courier-cnn-w16"
_ARCHITECTURE_PATTERN = re.compile(r"^courier-cnn-w(\d+)$")


class Stage(nn.Module):
    """Conv at the incoming resolution, max-pool to half, then a second conv: the network's unit of depth."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.norm1(F.max_pool2d(self.conv1(x), 2)))
        return F.gelu(self.norm2(self.conv2(x)))


class CourierNet(nn.Module):
    """Stem + three stages (width w, 2w, 4w, 8w channels) + global max-pool + linear classifier."""

    def __init__(self, width: int, num_classes: int) -> None:
        super().__init__()
        widths = [width, 2 * width, 4 * width, 8 * width]
        self.stem = nn.Sequential(
            nn.Conv2d(3, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]), nn.GELU()
        )
        self.stages = nn.Sequential(*(Stage(widths[i], widths[i + 1]) for i in range(3)))
        self.classifier = nn.Linear(widths[3], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.stages(self.stem(x))
        return self.classifier(features.amax(dim=(2, 3)))


def build_model(architecture: str, num_classes: int) -> CourierNet:
    """Build the (untrained) network that `architecture` names, e.g. "courier-cnn-w16"."""
    match = _ARCHITECTURE_PATTERN.match(architecture)
    if not match:
        raise ValueError(f"unknown architecture {architecture!r}; expected e.g. {DEFAULT_ARCHITECTURE!r}")
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
    return CourierNet(int(match.group(1)), num_classes)


@torch.no_grad()
def predict_proba(model: nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Class probabilities (N x classes) for normalised images, averaged over the image and its mirror image.

    The horizontal-flip test-time augmentation is part of the model's definition of a prediction, so the
    evaluation in train.py and the endpoint (inference.predict_fn) return identical numbers.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    outputs = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].to(device).contiguous(memory_format=torch.channels_last)
        probabilities = model(batch).softmax(dim=1) + model(batch.flip(3)).softmax(dim=1)
        outputs.append((probabilities / 2).float().cpu())
    model.train(was_training)
    if not outputs:
        return torch.empty(0, model.classifier.out_features)
    return torch.cat(outputs)
