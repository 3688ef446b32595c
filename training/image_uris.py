"""Container images that train and serve each algorithm, resolved by the SageMaker SDK's own image tables.

The registry accounts and tags differ per region and change with every container release, so they are never
kept by hand here: `sagemaker-core` ships the same JSON tables the SageMaker Python SDK uses.
"""

from __future__ import annotations

from dataclasses import dataclass

# The SageMaker PyTorch containers, pinned by full tag (a short tag such as `2.14-cpu-...` moves to every new
# patch release). Checked against AWS's Deep Learning Containers pages
# (https://aws.github.io/deep-learning-containers/reference/available_images/ and .../reference/support_policy/):
# - Training: PyTorch 2.14.0 on Amazon Linux 2023 with Python 3.12, GA 2026-09-28, end of patch 2027-09-28. The
#   SageMaker variant bundles the sagemaker-pytorch-training toolkit that runs script mode (`sagemaker_program`).
# - Serving: PyTorch 2.6.0 with Python 3.12, the last PyTorch inference DLC (the one with TorchServe and the
#   SageMaker PyTorch inference toolkit that calls inference.py's model_fn/input_fn/predict_fn/output_fn). AWS
#   extended its patches to 2026-06-30 and publishes no newer one: the 2.11+ images "are not configured for
#   serving", and AWS points inference to its vLLM and Ray containers. So serving runs an image past its end of
#   patch until the serving stack moves (README, "Known gaps").
# The code in training/sourcedir/ therefore uses nothing newer than torch 2.6 and Python 3.12 (tests check).
PYTORCH_TRAINING_FRAMEWORK = "pytorch-amzn2023"  # the SDK's table for the Amazon Linux 2023 images
PYTORCH_TRAINING_VERSION = "2.14"
PYTORCH_TRAINING_TAGS = {"cpu": "2.14.0-cpu-amzn2023-sagemaker", "gpu": "2.14.0-cu133-amzn2023-sagemaker"}
PYTORCH_INFERENCE_VERSION = "2.6.0"
PYTORCH_INFERENCE_PY_VERSION = "py312"
PYTORCH_INFERENCE_TAGS = {
    "cpu": "2.6.0-cpu-py312-ubuntu22.04-sagemaker",
    "gpu": "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker",
}
# The oldest torch and Python that run the sourcedir code (the serving container's).
SOURCEDIR_TORCH_FLOOR = (2, 6)
SOURCEDIR_PYTHON_FLOOR = (3, 12)
BUILTIN_ALGORITHM = "image-classification"
BUILTIN_ALGORITHM_VERSION = "1"


class ImageUriError(ValueError):
    """The SDK has no image for this framework version, Python version, instance type or region."""


@dataclass(frozen=True)
class AlgorithmImages:
    training: str
    inference: str


def pytorch_images(region: str, instance_type: str, inference_instance_type: str) -> AlgorithmImages:
    """PyTorch deep-learning containers: script-mode training and the inference toolkit image, by full tag.

    The SDK's tables give the registry account and repository for the region and whether the instance type takes
    the CPU or the GPU build; the tag is then replaced by the pinned full tag of that build.
    """
    training = _retrieve(
        PYTORCH_TRAINING_FRAMEWORK,
        region,
        version=PYTORCH_TRAINING_VERSION,
        instance_type=instance_type,
        image_scope="training",
    )
    inference = _retrieve(
        "pytorch",
        region,
        version=PYTORCH_INFERENCE_VERSION,
        py_version=PYTORCH_INFERENCE_PY_VERSION,
        instance_type=inference_instance_type,
        image_scope="inference",
    )
    return AlgorithmImages(
        training=_pinned(training, PYTORCH_TRAINING_TAGS, instance_type),
        inference=_pinned(inference, PYTORCH_INFERENCE_TAGS, inference_instance_type),
    )


def _pinned(uri: str, tags: dict[str, str], instance_type: str) -> str:
    """`<registry>/<repository>:<short tag>` -> the same repository at the pinned full tag of its build."""
    repository, _, short_tag = uri.rpartition(":")
    if "-cpu-" in f"-{short_tag}-":
        processor = "cpu"
    elif "-gpu-" in f"-{short_tag}-" or "-cu1" in short_tag:
        processor = "gpu"
    else:
        raise ImageUriError(f"no pinned PyTorch image for {instance_type} (the SDK gave {uri})")
    return f"{repository}:{tags[processor]}"


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
