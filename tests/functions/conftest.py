"""Fixtures for the inference Lambdas: a fake Lambda context, fresh handler modules, moto S3, EMF metrics."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import FUNCTIONS_DIR, load_function
from tests.functions.synthetic_images import phone_photo
from tests.lambda_context import FakeLambdaContext

BUCKET = "courier-vehicle-test-images"
REGION = "eu-west-1"


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


class _CurrentStdout:
    """Writes to whatever sys.stdout is at the time: pytest swaps it between a test's setup and call."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture(scope="session")
def load_handler() -> Callable[[str], ModuleType]:
    """Import a fresh copy of functions/<name>/app.py (its boto3 client cache starts empty)."""

    def load(name: str) -> ModuleType:
        # Powertools reads these when the module is imported, which may be before any test's own environment.
        with pytest.MonkeyPatch.context() as env:
            env.setenv("POWERTOOLS_SERVICE_NAME", name)
            env.setenv("POWERTOOLS_METRICS_NAMESPACE", "CourierVehicleTest")
            env.setenv("POWERTOOLS_TRACE_DISABLED", "true")
            module = load_function(name)
        # Powertools keeps one stdlib logger per service name, bound to the stdout of the test that first made
        # it; make it follow the captured stdout so that log lines can be asserted on.
        module.logger.registered_handler.stream = _CurrentStdout()
        return module

    return load


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    """moto S3 in-process with one bucket, shared by a test module (tests use their own keys)."""
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client


@pytest.fixture
def stdout_records(capsys: pytest.CaptureFixture[str]) -> Callable[[], list[dict[str, Any]]]:
    """Every JSON line the handlers printed so far: Powertools log records and EMF metric blobs."""
    seen: list[dict[str, Any]] = []

    def read() -> list[dict[str, Any]]:
        for line in capsys.readouterr().out.splitlines():
            if line.startswith("{"):
                seen.append(json.loads(line))
        return seen

    return read


@pytest.fixture
def emitted_metrics(stdout_records) -> Callable[[], list[dict[str, Any]]]:
    """The CloudWatch metrics in the EMF blobs printed so far, as {name, value, unit, dimensions}."""

    def read() -> list[dict[str, Any]]:
        metrics = []
        for record in stdout_records():
            for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
                dimensions = {name: record[name] for names in directive["Dimensions"] for name in names}
                for definition in directive["Metrics"]:
                    value = record[definition["Name"]]  # a list when one blob holds several values
                    for single in value if isinstance(value, list) else [value]:
                        metrics.append(
                            {
                                "name": definition["Name"],
                                "unit": definition["Unit"],
                                "value": single,
                                "dimensions": dimensions,
                            }
                        )
        return metrics

    return read


@pytest.fixture(scope="session")
def phone_jpeg() -> bytes:
    """A 4000x3000 JPEG of several MB, built once per session."""
    return phone_photo()


def sample_events(function: str) -> list[Path]:
    return sorted((FUNCTIONS_DIR / function / "events").glob("*.json"))


def load_event(function: str, name: str) -> dict[str, Any]:
    return json.loads((FUNCTIONS_DIR / function / "events" / name).read_text())
