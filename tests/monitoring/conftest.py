"""Fixtures of the monitoring tests: real CIFAR images as PNG bytes, a deterministic stand-in model that answers
as the serving container does (its features from training/sourcedir/features.py), and Model Monitor's side of
SageMaker (schedules, processing jobs, monitoring executions) on in-process moto."""

from __future__ import annotations

import importlib.util
import io
import math
import pickle
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO_ROOT

SERVING_FEATURES = REPO_ROOT / "training" / "sourcedir" / "features.py"
LABELS = ["bicycle", "motorcycle"]


def _load_serving_features() -> Any:
    """training/sourcedir/features.py as the serving container imports it (a flat module of code/)."""
    spec = importlib.util.spec_from_file_location("serving_features", SERVING_FEATURES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serving_features = _load_serving_features()


@dataclass(frozen=True)
class Split:
    """One split of the shared archive: uint8 images (N, 32, 32, 3) and their fine labels."""

    images: np.ndarray
    labels: list[int]


def _load_split(archive: tarfile.TarFile, name: str) -> Split:
    member = archive.extractfile(f"cifar-100-python/{name}")
    assert member is not None, f"{name} missing from the archive"
    batch = pickle.load(member, encoding="latin1")
    images = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return Split(images=images, labels=list(batch["fine_labels"]))


@pytest.fixture(scope="session")
def cifar(shared_archive: Path) -> dict[str, Split]:
    with tarfile.open(shared_archive) as archive:
        return {name: _load_split(archive, name) for name in ("train", "test")}


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def darken(pixels: np.ndarray, factor: float = 0.4) -> np.ndarray:
    return np.clip(np.rint(pixels.astype(np.float64) * factor), 0, 255).astype(np.uint8)


def stand_in_model(pixels: np.ndarray) -> list[float]:
    """Probabilities [bicycle, motorcycle] from colour and brightness: deterministic, input-dependent."""
    values = pixels.astype(np.float64)
    z = (values[..., 0].mean() - values[..., 2].mean()) / 40 + (values.mean() - 110) / 60
    p = 1 / (1 + math.exp(-z))
    return [1 - p, p]


@pytest.fixture(scope="session")
def encode_png():
    """PNG bytes of an (H, W, 3) uint8 array, written by Pillow."""
    return png_bytes


@pytest.fixture(scope="session")
def model_probabilities():
    """The stand-in model: pixels -> [p_bicycle, p_motorcycle]."""
    return stand_in_model


def jpeg_bytes(pixels: np.ndarray, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def endpoint_answer(image: bytes, pixels: np.ndarray | None = None, threshold: float = 0.9) -> dict[str, Any]:
    """What the serving container answers for one encoded image (training/sourcedir/inference.py's object), with
    the stand-in model's probabilities."""
    if pixels is None:
        with Image.open(io.BytesIO(image)) as opened:
            pixels = np.asarray(opened.convert("RGB"))
    return {
        "probabilities": stand_in_model(pixels),
        "labels": LABELS,
        "confidence_threshold": threshold,
        "model_version": "courier-vehicle-20250101-0900",
        "features": serving_features.image_features(image),
    }


def photo(rng: np.random.Generator, size: tuple[int, int] = (640, 480), shade: float = 1.0) -> np.ndarray:
    """A synthetic photo-sized image: smooth colour gradients plus noise, brightness scaled by `shade`."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width]
    base = rng.uniform(40, 200, size=3)
    tilt = rng.uniform(-60, 60, size=(2, 3))
    pixels = base + xs[..., None] / width * tilt[0] + ys[..., None] / height * tilt[1]
    pixels = pixels + rng.normal(0, 12, size=(height, width, 3))
    return np.clip(pixels * shade, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def encode_jpeg():
    """JPEG bytes of an (H, W, 3) uint8 array, written by Pillow."""
    return jpeg_bytes


@pytest.fixture(scope="session")
def answer_for():
    """The serving container's answer for one encoded image (probabilities from the stand-in model)."""
    return endpoint_answer


@pytest.fixture(scope="session")
def feature_rows(cifar: dict[str, Split]) -> dict[str, list[dict]]:
    """Preprocessor rows for: baseline (train split), normal (test split), dark (test split x 0.4)."""
    from monitoring.baseline import rows_from_answers

    def rows(images: np.ndarray) -> list[dict]:
        answers = []
        for i, pixels in enumerate(images):
            png = png_bytes(pixels)
            answers.append((f"{i:04d}.png", png, endpoint_answer(png, pixels)))
        return rows_from_answers(answers)

    test_images = cifar["test"].images
    return {
        "baseline": rows(cifar["train"].images),
        "normal": rows(test_images),
        "dark": rows(np.stack([darken(img) for img in test_images])),
    }


# -- Model Monitor's side of SageMaker, on in-process moto ----------------------------------------------------

SCHEDULE = "courier-vehicle-data-quality"


@dataclass
class MonitoringRecorder:
    """A data-quality schedule on in-process moto whose runs are recorded as the embedded AWS records them.

    `record` registers a finished run's processing job (DescribeProcessingJob) and monitoring execution
    (ListMonitoringExecutions) through local_aws.monitoring_runs, without running the analyzer.
    """

    ctx: Any
    account: str
    region: str

    def schedule(self, name: str = SCHEDULE) -> str:
        """Create a schedule and its job definition; returns the schedule's ARN."""
        sm = boto3.client("sagemaker", region_name=self.region)
        sm.create_data_quality_job_definition(
            JobDefinitionName=name,
            DataQualityAppSpecification={
                "ImageUri": "468650794304.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer:latest",
                "RecordPreprocessorSourceUri": "s3://courier-vehicle-data/monitoring/code/record_preprocessor.py",
                "Environment": {"publish_cloudwatch_metrics": "Enabled"},
            },
            DataQualityJobInput={
                "EndpointInput": {
                    "EndpointName": "courier-vehicle-endpoint",
                    "LocalPath": "/opt/ml/processing/input/endpoint",
                }
            },
            DataQualityJobOutputConfig={
                "MonitoringOutputs": [
                    {
                        "S3Output": {
                            "S3Uri": "s3://courier-vehicle-data/monitoring/reports",
                            "LocalPath": "/opt/ml/processing/output",
                            "S3UploadMode": "EndOfJob",
                        }
                    }
                ]
            },
            JobResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 20}},
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
            RoleArn=f"arn:aws:iam::{self.account}:role/courier-vehicle-monitoring",
        )
        return sm.create_monitoring_schedule(
            MonitoringScheduleName=name,
            MonitoringScheduleConfig={
                "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                "MonitoringJobDefinitionName": name,
                "MonitoringType": "DataQuality",
            },
        )["MonitoringScheduleArn"]

    def record(self, event: dict[str, Any], violations: list[dict[str, Any]], schedule: str = SCHEDULE) -> str:
        """Record the run a sample event's job stands for, with these violations; returns the job's ARN."""
        from local_aws.monitoring_runs import record_execution
        from moto.sagemaker.models import sagemaker_backends

        backend = sagemaker_backends[self.account][self.region]
        detail = event["detail"]
        job = record_execution(
            backend,
            self.ctx.monitoring_schedules.get(self.account, self.region, schedule),
            backend.data_quality_job_definitions[schedule],
            endpoint="courier-vehicle-endpoint",
            capture_uri="s3://courier-vehicle-capture/datacapture",
            report_uri=detail["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"],
            violations=violations,
            started=datetime.fromtimestamp(detail["CreationTime"] / 1000, UTC),
            job_name=detail["ProcessingJobName"],
        )
        return job.arn


@pytest.fixture
def monitoring_api() -> Iterator[MonitoringRecorder]:
    """The embedded AWS's monitoring-schedule APIs on in-process moto, for this test only (use inside mock_aws).

    local_aws.monitoring_schedules patches moto's SageMaker classes; the classes are put back afterwards so the
    other in-process tests see plain moto.
    """
    from local_aws.monitoring_schedules import MonitoringScheduleStore, install
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    saved = {cls: dict(vars(cls)) for cls in (SageMakerResponse, SageMakerModelBackend)}
    ctx = SimpleNamespace(monitoring_schedules=MonitoringScheduleStore())
    install(ctx)
    try:
        yield MonitoringRecorder(ctx, "123456789012", "eu-west-1")
    finally:
        for cls, before in saved.items():
            for name in set(vars(cls)) - set(before):
                delattr(cls, name)
            for name, value in before.items():
                if vars(cls).get(name) is not value:
                    setattr(cls, name, value)
