"""The networks, and the one way a model turns a batch into class probabilities (training, evaluation, serving).

Two families, named in model_config.json as `courier-<family>-w<width>`:
- `courier-cnn-w16`: a compact VGG-style CNN (a 3x3 stem, then three stages of conv -> 2x2 max-pool -> BN -> GELU
  -> conv -> BN -> GELU halving the resolution 32 -> 16 -> 8 -> 4, global max-pool, one linear layer);
- `courier-resnet-w8`: a nine-layer residual network (CourierResNet); the default, as cross-validation members.
A served model is one network or an `Ensemble` of several (train.py's cross-validation members).
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

# Name recorded in model_config.json; `build_model` rebuilds exactly this network from it.
DEFAULT_ARCHITECTURE = "courier-resnet-w8"
_ARCHITECTURE_PATTERN = re.compile(r"^courier-(cnn|resnet)-w(\d+)$")


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


def _conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class Residual(nn.Module):
    """x + two conv-BN-ReLU layers at the same width and resolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv_bn_relu(channels, channels), _conv_bn_relu(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class CourierResNet(nn.Module):
    """A nine-layer residual network (the shape of the fast CIFAR-10 "ResNet-9"), width w: a w-channel stem; 2w
    channels, pool to 16x16 and a residual block; 4w, pool to 8x8; 8w, pool to 4x4 and a residual block; global
    max-pool and a linear layer whose output is scaled down (small logits at the start train more stably)."""

    def __init__(self, width: int, num_classes: int, logit_scale: float = 0.125) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _conv_bn_relu(3, width),
            _conv_bn_relu(width, 2 * width), nn.MaxPool2d(2), Residual(2 * width),
            _conv_bn_relu(2 * width, 4 * width), nn.MaxPool2d(2),
            _conv_bn_relu(4 * width, 8 * width), nn.MaxPool2d(2), Residual(8 * width),
        )  # fmt: skip
        self.classifier = nn.Linear(8 * width, num_classes, bias=False)
        self.logit_scale = logit_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).amax(dim=(2, 3))) * self.logit_scale


class Ensemble(nn.Module):
    """Several networks of one architecture answering as one: the log of their mean class probabilities.

    Returning log-probabilities keeps the one prediction rule (`softmax` of the output) valid for a single network
    and for an ensemble alike: softmax(log(mean p)) is mean p.
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probabilities = torch.stack([member(x).softmax(dim=1) for member in self.members]).mean(dim=0)
        return probabilities.clamp_min(1e-12).log()


def build_network(architecture: str, num_classes: int) -> nn.Module:
    """Build the (untrained) network that `architecture` names: "courier-cnn-w16", "courier-resnet-w8", ..."""
    match = _ARCHITECTURE_PATTERN.match(architecture)
    if not match:
        raise ValueError(f"unknown architecture {architecture!r}; expected e.g. {DEFAULT_ARCHITECTURE!r}")
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
    family, width = match.group(1), int(match.group(2))
    return CourierNet(width, num_classes) if family == "cnn" else CourierResNet(width, num_classes)


def build_model(architecture: str, num_classes: int, members: int = 1) -> nn.Module:
    """The served model: one network, or an Ensemble of `members` networks (model_config.json's
    "ensemble_members"), so that model.pt's state dict loads into exactly what train.py saved."""
    if members < 1:
        raise ValueError(f"a model needs at least one member network, got {members}")
    if members == 1:
        return build_network(architecture, num_classes)
    return Ensemble([build_network(architecture, num_classes) for _ in range(members)])


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
        return torch.empty(0, 0)
    return torch.cat(outputs)
