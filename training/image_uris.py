"""Container images that train and serve each algorithm, resolved by the SageMaker SDK's own image tables.

The registry accounts and tags differ per region and change with every container release, so they are never
kept by hand here: `sagemaker-core` ships the same JSON tables the SageMaker Python SDK uses.
"""

from __future__ import annotations

from dataclasses import dataclass

PYTORCH_FRAMEWORK_VERSION = "2.5"  # newest PyTorch DLC built for py311, the Python of this repository
PYTORCH_PY_VERSION = "py311"
BUILTIN_ALGORITHM = "image-classification"
BUILTIN_ALGORITHM_VERSION = "1"


class ImageUriError(ValueError):
    """The SDK has no image for this framework version, Python version, instance type or region."""


@dataclass(frozen=True)
class AlgorithmImages:
    training: str
    inference: str


def pytorch_images(
    region: str,
    instance_type: str,
    inference_instance_type: str,
    framework_version: str = PYTORCH_FRAMEWORK_VERSION,
    py_version: str = PYTORCH_PY_VERSION,
) -> AlgorithmImages:
    """PyTorch deep-learning containers: script-mode training and the matching inference toolkit image."""
    return AlgorithmImages(
        training=_retrieve(
            "pytorch",
            region,
            version=framework_version,
            py_version=py_version,
            instance_type=instance_type,
            image_scope="training",
        ),
        inference=_retrieve(
            "pytorch",
            region,
            version=framework_version,
            py_version=py_version,
            instance_type=inference_instance_type,
            image_scope="inference",
        ),
    )


def builtin_images(region: str) -> AlgorithmImages:
    """The built-in image-classification algorithm trains and serves from the same image."""
    uri = _retrieve(BUILTIN_ALGORITHM, region, version=BUILTIN_ALGORITHM_VERSION)
    return AlgorithmImages(training=uri, inference=uri)


def is_builtin_image(image_uri: str) -> bool:
    """True for the built-in algorithm's image in any region (its repository name is the algorithm's)."""
    repository = image_uri.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
    return repository == BUILTIN_ALGORITHM


def _retrieve(framework: str, region: str, **kwargs: str) -> str:
    from sagemaker.core import image_uris  # slow import (about 2 s): only when a launch needs it

    try:
        return image_uris.retrieve(framework, region=region, **kwargs)
    except ValueError as error:
        raise ImageUriError(f"no {framework} image for {kwargs} in {region}: {error}") from error
