"""The training pipeline's execution input: the one place its shape is defined.

`statemachine.asl.json` reads these fields by JSONPath (`$.training.*`, `$.deploy.*`, `$.baseline.*`); the
launcher builds them here, and the tests check that every path the ASL reads exists in what is built here.
Everything that differs between the two algorithms (image, channels, hyperparameters, serving environment)
is decided here, so the state machine stays one generic train → evaluate → gate → deploy path.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, TypedDict

from training.image_uris import AlgorithmImages

SOURCEDIR = Path(__file__).resolve().parent / "sourcedir"
ENTRY_POINT = "train.py"
SERVING_ENTRY_POINT = "inference.py"
SPLITS = ("train", "validation", "test")
IMAGE_CONTENT_TYPE = "application/x-image"
JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")

# The seed's built-in image-classification settings (SGD, no augmentation: augmentation_type is left unset).
BUILTIN_HYPERPARAMETERS: dict[str, str] = {
    "image_shape": "3,32,32",
    "num_classes": "2",
    "learning_rate": "0.1",
    "mini_batch_size": "32",
    "epochs": "30",
    "optimizer": "sgd",
}
# Script mode: train.py's own defaults are its tuned configuration, so only what the person overrides is sent
# (as `--key value`; train.py accepts both --learning-rate and --learning_rate spellings).
PYTORCH_HYPERPARAMETERS: dict[str, str] = {}


class Algorithm(StrEnum):
    PYTORCH = "pytorch"
    BUILTIN = "builtin"


class PipelineInputError(ValueError):
    """The launch settings cannot make a valid execution input (bad job name, missing manifest field)."""


class TrainingInput(TypedDict):
    job_name: str
    algorithm_specification: dict[str, Any]
    hyperparameters: dict[str, str]
    channels: list[dict[str, Any]]
    resource_config: dict[str, Any]
    stopping_condition: dict[str, int]


class DeployInput(TypedDict):
    image_uri: str
    instance_type: str
    environment: dict[str, str]


class BaselineInput(TypedDict):
    test_s3_uri: str


class ExecutionInput(TypedDict):
    algorithm: str
    training: TrainingInput
    deploy: DeployInput
    baseline: BaselineInput


@dataclass(frozen=True)
class LaunchSettings:
    """What a person chooses for one training run."""

    algorithm: Algorithm
    bucket: str
    dataset_prefix: str
    job_name: str
    region: str
    images: AlgorithmImages
    sourcedir_s3_uri: str | None = None  # required for PyTorch script mode
    instance_type: str = "ml.m5.xlarge"
    inference_instance_type: str = "ml.m5.large"
    volume_size_gb: int = 10
    max_runtime_seconds: int = 3600
    hyperparameters: dict[str, str] = field(default_factory=dict)
    sourcedir: Path = SOURCEDIR  # where train.py and its metrics.py live


def dataset_uri(bucket: str, dataset_prefix: str, *parts: str) -> str:
    prefix = dataset_prefix.strip("/")
    return "/".join([f"s3://{bucket}", *([prefix] if prefix else []), *parts])


def split_uri(bucket: str, dataset_prefix: str, split: str) -> str:
    """The S3 prefix of one split, with its trailing slash (so `train/` never matches `train_extra/`)."""
    return dataset_uri(bucket, dataset_prefix, split) + "/"


def validate_job_name(job_name: str) -> str:
    if not JOB_NAME_PATTERN.fullmatch(job_name):
        raise PipelineInputError(
            f"job name {job_name!r} is not a valid SageMaker name (1-63 letters, digits and hyphens)"
        )
    return job_name


@cache
def metric_definitions(sourcedir: Path = SOURCEDIR) -> list[dict[str, str]]:
    """The regexes SageMaker applies to train.py's log lines; owned by the training code beside it."""
    path = sourcedir / "metrics.py"
    spec = importlib.util.spec_from_file_location("sourcedir_metrics", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise PipelineInputError(f"{path} is missing: the training code defines its METRIC_DEFINITIONS there")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [{"Name": d["Name"], "Regex": d["Regex"]} for d in module.METRIC_DEFINITIONS]


def hyperparameters_for(settings: LaunchSettings, manifest: dict[str, Any]) -> dict[str, str]:
    """Defaults for the algorithm, the person's overrides, then what the platform itself needs."""
    if settings.algorithm is Algorithm.BUILTIN:
        try:
            samples = int(manifest["splits"]["train"]["count"])
        except (KeyError, TypeError, ValueError) as error:
            raise PipelineInputError("manifest.json has no splits.train.count for num_training_samples") from error
        classes = manifest.get("classes")
        base = {**BUILTIN_HYPERPARAMETERS, "num_training_samples": str(samples)}
        if classes:
            base["num_classes"] = str(len(classes))
        return {**base, **_as_strings(settings.hyperparameters)}
    if not settings.sourcedir_s3_uri:
        raise PipelineInputError("PyTorch script mode needs the sourcedir tarball's S3 URI")
    return {
        **PYTORCH_HYPERPARAMETERS,
        **_as_strings(settings.hyperparameters),
        # Script mode: the training toolkit reads these, as the SageMaker Python SDK's estimators set them.
        "sagemaker_program": ENTRY_POINT,
        "sagemaker_submit_directory": settings.sourcedir_s3_uri,
        "sagemaker_region": settings.region,
        "sagemaker_container_log_level": "20",
    }


def channels_for(settings: LaunchSettings) -> list[dict[str, Any]]:
    """PyTorch reads train/validation/test folders; the built-in algorithm reads images plus `.lst` channels."""

    def channel(name: str, uri: str, content_type: str | None = None) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "ChannelName": name,
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}
            },
            "InputMode": "File",
        }
        if content_type:
            spec["ContentType"] = content_type
        return spec

    bucket, prefix = settings.bucket, settings.dataset_prefix
    if settings.algorithm is Algorithm.PYTORCH:
        return [channel(split, split_uri(bucket, prefix, split)) for split in SPLITS]
    channels = []
    for split in ("train", "validation"):
        channels.append(channel(split, split_uri(bucket, prefix, split), IMAGE_CONTENT_TYPE))
        channels.append(channel(f"{split}_lst", dataset_uri(bucket, prefix, split, f"{split}.lst"), IMAGE_CONTENT_TYPE))
    return channels


def serving_environment(settings: LaunchSettings) -> dict[str, str]:
    """The PyTorch inference toolkit runs code/inference.py from inside model.tar.gz (train.py puts it there)."""
    if settings.algorithm is Algorithm.BUILTIN:
        return {}
    return {
        "SAGEMAKER_PROGRAM": SERVING_ENTRY_POINT,
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_REGION": settings.region,
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
    }


def build_execution_input(settings: LaunchSettings, manifest: dict[str, Any]) -> ExecutionInput:
    """The JSON document `StartExecution` receives."""
    validate_job_name(settings.job_name)
    algorithm_specification: dict[str, Any] = {
        "TrainingImage": settings.images.training,
        "TrainingInputMode": "File",
    }
    if settings.algorithm is Algorithm.PYTORCH:
        # Built-in algorithms publish their own metrics; SageMaker rejects definitions for them.
        algorithm_specification["MetricDefinitions"] = metric_definitions(settings.sourcedir)
    return {
        "algorithm": settings.algorithm.value,
        "training": {
            "job_name": settings.job_name,
            "algorithm_specification": algorithm_specification,
            "hyperparameters": hyperparameters_for(settings, manifest),
            "channels": channels_for(settings),
            "resource_config": {
                "InstanceCount": 1,
                "InstanceType": settings.instance_type,
                "VolumeSizeInGB": settings.volume_size_gb,
            },
            "stopping_condition": {"MaxRuntimeInSeconds": settings.max_runtime_seconds},
        },
        "deploy": {
            "image_uri": settings.images.inference,
            "instance_type": settings.inference_instance_type,
            "environment": serving_environment(settings),
        },
        "baseline": {"test_s3_uri": split_uri(settings.bucket, settings.dataset_prefix, "test")},
    }


def _as_strings(values: dict[str, Any]) -> dict[str, str]:
    """SageMaker hyperparameters are strings; booleans become the lower-case words scripts expect."""
    return {str(k): (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in values.items()}
