"""Fixtures shared by every test area: repository paths, the shared CIFAR archive, Lambda handler loading."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
BUILD_DIR = REPO_ROOT / "build"
SHARED_ARCHIVE = REPO_ROOT.parent / "shared" / "data" / "cifar-100-bikes-python.tar.gz"


# Roles for tests that exercise other behaviour than IAM. The embedded AWS checks every call made with a role's
# credentials, so a fixture role needs a trust policy and permissions; these may do anything. The stack's own,
# least-privilege policies are checked by the demo (tests/e2e) and the IAM tests (tests/local_aws/test_iam*.py).
SERVICES = ("lambda.amazonaws.com", "states.amazonaws.com", "sagemaker.amazonaws.com", "events.amazonaws.com")


def fixture_role(iam, name: str, services: tuple[str, ...] = SERVICES) -> str:
    """A role the given services may assume and that may do anything (the ARN)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": "sts:AssumeRole"}],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    anything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_role_policy(RoleName=name, PolicyName="test-fixture-may-do-anything", PolicyDocument=json.dumps(anything))
    return arn


def load_function(name: str) -> ModuleType:
    """Import functions/<name>/app.py under a unique module name, as Lambda would import `app`."""
    path = FUNCTIONS_DIR / name / "app.py"
    module_name = f"lambda_app_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no handler module at {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def shared_archive() -> Path:
    """The real CIFAR-100 bicycle/motorcycle archive beside the checkout (never copied into the repo)."""
    override = os.environ.get("CIFAR_BIKES_ARCHIVE")
    path = Path(override) if override else SHARED_ARCHIVE
    if not path.is_file():
        pytest.skip(f"shared CIFAR archive not found at {path} (set CIFAR_BIKES_ARCHIVE)")
    return path


@pytest.fixture(autouse=True)
def _aws_test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never let a test reach a real AWS account: fake credentials, fixed region, Powertools quiet."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "CourierVehicleTest")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that uses the embedded AWS is an embedded test, whatever its file says.

    The embedded AWS patches moto process-wide (real Step Functions executions, real training jobs), so
    `make pytest` runs embedded tests in a process of their own, after the in-process moto tests.
    """
    for item in items:
        if "local_aws" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.embedded)


@pytest.fixture(scope="session")
def local_aws(tmp_path_factory: pytest.TempPathFactory):
    """The embedded AWS (moto server + local compute), one per test session."""
    from local_aws.server import start

    aws = start(work_dir=tmp_path_factory.mktemp("local-aws"))
    yield aws
    aws.stop()


@pytest.fixture(scope="session")
def lambda_zips() -> Path:
    """build/lambdas, rebuilt by scripts/build_lambdas so tests always run the current code as deployed."""
    import subprocess

    subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "build_lambdas")], check=True, capture_output=True, text=True
    )
    return BUILD_DIR / "lambdas"
