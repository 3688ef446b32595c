"""Property test: whatever JSON arrives, evaluate_model returns a JSON-able dict or raises a named WorkflowError.

The Evaluate state's Catch routes any error to NotifyEvaluationFailed, and the notification names the error
type. A KeyError, TypeError or botocore validation error escaping the handler would reach Step Functions as an
unnamed error that tells on-call nothing and that no specific Catch expects. The events here are arbitrary JSON
and almost-valid variants of the sample events, run against training jobs recorded in moto (in-process) in
each state the handler distinguishes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends
from shared.errors import WorkflowError

from tests.conftest import FUNCTIONS_DIR
from tests.functions.test_handler_properties import almost, json_values

# The moto records are read, never changed, by the handler, so sharing them across examples is intended.
PROPERTIES = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# A handler that raises has no metric to flush; Powertools warns about that, which is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REGION = "eu-west-1"
EVENTS = FUNCTIONS_DIR / "evaluate_model" / "events"

# name -> (status, final metrics, failure reason): one job per outcome the handler tells apart.
JOBS: dict[str, tuple[str, dict[str, float], str | None]] = {
    "courier-vehicle-pytorch-20250101-120000": (
        "Completed",
        {"validation:accuracy": 0.95, "test:accuracy": 0.91, "validation:threshold": 0.47},
        None,
    ),
    "courier-vehicle-builtin-20250101-120000": ("Completed", {"validation:accuracy": 0.62}, None),
    "cv-no-accuracy": ("Completed", {"train:loss": 0.3}, None),
    "cv-failed": ("Failed", {}, "AlgorithmError: out of memory"),
    "cv-running": ("InProgress", {}, None),
}


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


job_names = st.sampled_from([*JOBS, "cv-unknown", "", "has_underscore", "-leading-dash", "x" * 64])
odd_thresholds = st.sampled_from([-0.1, 1.5, float("nan"), float("inf"), "0.8", "high", True, None])

events = (
    json_values
    | almost(sample("evaluate_with_threshold.json"))
    | almost(sample("evaluate_without_threshold.json"))
    | almost(sample("invalid_missing_job_name.json"))
    # Known job names reach the handler's real paths: every job state, with and without a gate.
    | st.fixed_dictionaries({"training_job_name": job_names})
    | st.fixed_dictionaries({"training_job_name": job_names, "accuracy_threshold": st.floats(0, 1)})
    | st.fixed_dictionaries({"training_job_name": job_names, "accuracy_threshold": odd_thresholds})
)


@pytest.fixture
def evaluate(load_handler) -> Iterator[Any]:
    """The handler with one moto training job per outcome; its SageMaker client is made inside the mock."""
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        for name, (status, final_metrics, reason) in JOBS.items():
            sagemaker.create_training_job(
                TrainingJobName=name,
                AlgorithmSpecification={"TrainingImage": "local/pytorch-training", "TrainingInputMode": "File"},
                RoleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/sagemaker",
                OutputDataConfig={"S3OutputPath": "s3://cv-data/models"},
                ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
                StoppingCondition={"MaxRuntimeInSeconds": 3600},
            )
            job = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].training_jobs[name]
            job.training_job_status = status
            job.final_metric_data_list = [
                {"MetricName": metric, "Value": value, "Timestamp": datetime.now(UTC)}
                for metric, value in final_metrics.items()
            ]
            if reason:
                job.failure_reason = reason
        yield load_handler("evaluate_model")


@PROPERTIES
@given(event=events)
def test_evaluate_model_raises_only_named_errors(evaluate, lambda_context, event):
    try:
        result = evaluate.lambda_handler(event, lambda_context)
    except WorkflowError as error:
        hypothesis.event(f"raised {type(error).__name__}")  # see: pytest --hypothesis-show-statistics
        return
    assert isinstance(result, dict)
    json.dumps(result, allow_nan=False)
    hypothesis.event(f"gate {result['ModelEvaluation']['GateApproved']}")


def test_the_recorded_jobs_reach_every_outcome(evaluate, lambda_context):
    """The property is only as good as its fixture: the jobs it draws from must lead to every outcome."""
    outcomes = set()
    for name in [*JOBS, "cv-unknown"]:
        for event in ({"training_job_name": name, "accuracy_threshold": 0.8}, {"training_job_name": "bad_name"}):
            try:
                evaluate.lambda_handler(event, lambda_context)
                outcomes.add("result")
            except WorkflowError as error:
                outcomes.add(type(error).__name__)
    assert outcomes == {
        "result",
        "InvalidEvent",
        "TrainingJobNotFound",
        "TrainingJobNotCompleted",
        "MetricMissing",
    }
