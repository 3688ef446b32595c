"""training/sourcedir/ runs in AWS's PyTorch containers, whose torch and Python are older than this machine's.

The serving container (torch 2.6, Python 3.12: training/image_uris.py says why) is the floor: what the code may use
is checked here statically, because the tests themselves run on this machine's newer torch.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from training import image_uris
from training.pipeline_input import SOURCEDIR

SOURCE_FILES = sorted(SOURCEDIR.glob("*.py"))
FLOOR = ".".join(map(str, image_uris.SOURCEDIR_TORCH_FLOOR)) + ".0"

# Every torch name the sourcedir code reaches (`torch.x.y`, through `import torch.nn.functional as F` or
# `from torch import nn` as well). Each was in torch's API well before 2.6 (all date from 1.x releases; label
# smoothing 1.10, warn_only 1.11, weights_only 1.13). A name not on this list fails the test below: check that it
# exists in torch 2.6 (https://docs.pytorch.org/docs/2.6/) before adding it.
TORCH_NAMES_IN_2_6 = {
    "torch.Generator",
    "torch.Tensor",
    "torch.arange",
    "torch.backends.cudnn.benchmark",
    "torch.cat",
    "torch.channels_last",
    "torch.cuda.is_available",
    "torch.device",
    "torch.empty",
    "torch.float32",
    "torch.from_numpy",
    "torch.load",
    "torch.manual_seed",
    "torch.nn.BatchNorm2d",
    "torch.nn.Conv2d",
    "torch.nn.GELU",
    "torch.nn.Linear",
    "torch.nn.MaxPool2d",
    "torch.nn.Module",
    "torch.nn.ModuleList",
    "torch.nn.ReLU",
    "torch.nn.Sequential",
    "torch.nn.functional.cross_entropy",
    "torch.nn.functional.gelu",
    "torch.nn.functional.max_pool2d",
    "torch.nn.functional.nll_loss",
    "torch.nn.functional.pad",
    "torch.no_grad",
    "torch.optim.SGD",
    "torch.optim.lr_scheduler.OneCycleLR",
    "torch.rand",
    "torch.randint",
    "torch.randperm",
    "torch.save",
    "torch.set_num_threads",
    "torch.stack",
    "torch.tensor",
    "torch.use_deterministic_algorithms",
    "torch.where",
}


def torch_names(source: str) -> set[str]:
    """Fully qualified torch names a module uses, with its import aliases resolved (tensor methods are not seen)."""
    tree = ast.parse(source)
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "torch":
                    aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else "torch"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch":
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain = []
            current: ast.expr = node
            while isinstance(current, ast.Attribute):
                chain.append(current.attr)
                current = current.value
            if isinstance(current, ast.Name) and current.id in aliases:
                names.add(".".join([aliases[current.id], *reversed(chain)]))
    # Keep only the longest names (torch.nn.functional.pad, not also torch.nn.functional).
    return {name for name in names if not any(other.startswith(name + ".") for other in names)}


def _api_name(name: str) -> str:
    """`torch.optim.SGD.step` -> the API part `torch.optim.SGD` (what is called on an object is not torch's name)."""
    for known in sorted(TORCH_NAMES_IN_2_6, key=len, reverse=True):
        if name == known or name.startswith(known + "."):
            return known
    return name


@pytest.mark.parametrize("path", SOURCE_FILES, ids=lambda path: path.name)
def test_sourcedir_parses_as_the_serving_containers_python(path: Path) -> None:
    ast.parse(path.read_text(), filename=str(path), feature_version=image_uris.SOURCEDIR_PYTHON_FLOOR)


def test_sourcedir_uses_only_torch_names_that_torch_2_6_has() -> None:
    used = {_api_name(name) for path in SOURCE_FILES for name in torch_names(path.read_text())}
    unknown = sorted(used - TORCH_NAMES_IN_2_6)
    assert not unknown, f"check these exist in torch {FLOOR}, then add them to TORCH_NAMES_IN_2_6: {unknown}"


def test_the_torch_name_scan_sees_aliases() -> None:
    source = (
        "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"
        "F.pad(x)\nnn.RMSNorm(4)\ntorch.compile(m)\n"
    )
    assert torch_names(source) == {"torch.nn.functional.pad", "torch.nn.RMSNorm", "torch.compile"}


def test_sourcedir_requirements_do_not_ask_for_a_torch_the_containers_lack() -> None:
    lines = (SOURCEDIR / "requirements.txt").read_text().splitlines()
    requirements = [Requirement(line) for line in lines if line.strip() and not line.lstrip().startswith("#")]
    for requirement in requirements:
        if requirement.name.lower() in {"torch", "torchvision"}:
            assert requirement.specifier.contains(FLOOR), f"{requirement} excludes the serving container's torch"
