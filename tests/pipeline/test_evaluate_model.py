"""evaluate_model against training-job records in moto (in-process), with the metrics a real job reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends
from shared.errors import InvalidEvent, WorkflowError

from tests.conftest import FUNCTIONS_DIR

# A handler that raises has no metric to flush; Powertools warns about that, which is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REGION = "eu-west-1"
EVENTS = FUNCTIONS_DIR / "evaluate_model" / "events"


@pytest.fixture
def evaluate(load_handler):
    return load_handler("evaluate_model")


@pytest.fixture
def sagemaker() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sagemaker", region_name=REGION)


def record_job(
    sagemaker: Any, name: str, metrics: dict[str, float], status: str = "Completed", failure_reason: str | None = None
) -> None:
    """A training job as SageMaker describes it once finished: status, final metrics, model artifact."""
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
        {"MetricName": metric, "Value": value, "Timestamp": datetime.now(UTC)} for metric, value in metrics.items()
    ]
    if failure_reason:
        job.failure_reason = failure_reason


def test_the_gate_uses_test_accuracy_and_reports_the_model(evaluate, sagemaker, lambda_context, emitted_metrics):
    record_job(
        sagemaker,
        "cv-pytorch-1",
        {"train:loss": 0.21, "validation:accuracy": 0.95, "test:accuracy": 0.91, "validation:threshold": 0.47},
    )

    result = evaluate.lambda_handler({"training_job_name": "cv-pytorch-1", "accuracy_threshold": 0.8}, lambda_context)

    evaluation = result["ModelEvaluation"]
    assert evaluation["Accuracy"] == pytest.approx(0.91)
    assert evaluation["MetricName"] == "test:accuracy"
    assert evaluation["GateApproved"] is True
    assert evaluation["ThresholdMetric"] == pytest.approx(0.47)
    assert evaluation["ModelDataUrl"] == "s3://cv-data/models/cv-pytorch-1/output/model.tar.gz"
    metrics = {m["name"]: m for m in emitted_metrics()}
    assert metrics["ModelAccuracy"]["value"] == pytest.approx(0.91)
    assert metrics["GateApproved"]["value"] == 1
    assert "GateRejected" not in metrics
    assert metrics["ModelAccuracy"]["dimensions"] == {"service": "evaluate_model"}


def test_without_test_accuracy_the_gate_uses_validation_accuracy(evaluate, sagemaker, lambda_context, emitted_metrics):
    """The built-in image-classification algorithm reports only validation:accuracy."""
    record_job(sagemaker, "cv-builtin-1", {"train:accuracy": 0.99, "validation:accuracy": 0.62})

    result = evaluate.lambda_handler({"training_job_name": "cv-builtin-1", "accuracy_threshold": 0.8}, lambda_context)

    assert result["ModelEvaluation"]["MetricName"] == "validation:accuracy"
    assert result["ModelEvaluation"]["Accuracy"] == pytest.approx(0.62)
    assert result["ModelEvaluation"]["GateApproved"] is False
    assert result["ModelEvaluation"]["ThresholdMetric"] is None
    names = [m["name"] for m in emitted_metrics()]
    assert "GateRejected" in names
    assert "GateApproved" not in names


def test_accuracy_exactly_at_the_threshold_passes(evaluate):
    job = {
        "TrainingJobName": "j",
        "TrainingJobStatus": "Completed",
        "FinalMetricDataList": [{"MetricName": "test:accuracy", "Value": 0.8}],
        "ModelArtifacts": {"S3ModelArtifacts": "s3://b/m.tar.gz"},
    }
    assert evaluate.evaluate(job, 0.8).GateApproved is True


def test_without_a_threshold_no_gate_metric_is_emitted(evaluate, sagemaker, lambda_context, emitted_metrics):
    record_job(sagemaker, "cv-pytorch-2", {"test:accuracy": 0.7})

    result = evaluate.lambda_handler({"training_job_name": "cv-pytorch-2"}, lambda_context)

    assert result["ModelEvaluation"]["GateApproved"] is None
    assert [m["name"] for m in emitted_metrics()] == ["ModelAccuracy"]


def test_a_job_without_accuracy_metrics_is_metric_missing(evaluate, sagemaker, lambda_context):
    record_job(sagemaker, "cv-pytorch-3", {"train:loss": 0.3})

    with pytest.raises(evaluate.MetricMissing, match=r"test:accuracy, validation:accuracy.*train:loss"):
        evaluate.lambda_handler({"training_job_name": "cv-pytorch-3"}, lambda_context)


def test_a_failed_job_is_not_evaluated_and_its_reason_is_kept(evaluate, sagemaker, lambda_context):
    record_job(sagemaker, "cv-pytorch-4", {}, status="Failed", failure_reason="AlgorithmError: out of memory")

    with pytest.raises(evaluate.TrainingJobNotCompleted, match="Failed: AlgorithmError: out of memory"):
        evaluate.lambda_handler({"training_job_name": "cv-pytorch-4"}, lambda_context)


def test_an_unknown_job_is_training_job_not_found(evaluate, sagemaker, lambda_context):
    with pytest.raises(evaluate.TrainingJobNotFound, match="cv-nope"):
        evaluate.lambda_handler({"training_job_name": "cv-nope"}, lambda_context)


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"training_job_name": ""},
        {"training_job_name": "has_underscore"},
        {"training_job_name": "cv-1", "accuracy_threshold": 1.5},
        {"training_job_name": "cv-1", "accuracy_threshold": "high"},
    ],
)
def test_a_malformed_event_is_invalid_event_naming_the_field(evaluate, lambda_context, event):
    with pytest.raises(InvalidEvent) as raised:
        evaluate.lambda_handler(event, lambda_context)
    assert ("accuracy_threshold" if "accuracy_threshold" in event else "training_job_name") in str(raised.value)


def test_every_named_error_is_a_workflow_error(evaluate):
    for name in ("TrainingJobNotFound", "TrainingJobNotCompleted", "MetricMissing"):
        assert issubclass(getattr(evaluate, name), WorkflowError)


@pytest.mark.parametrize("path", sorted(EVENTS.glob("*.json")), ids=lambda p: p.name)
def test_sample_events_match_the_contract(evaluate, path):
    event = json.loads(path.read_text())
    if path.name.startswith("invalid_"):
        with pytest.raises(InvalidEvent):
            evaluate.parse_event(event, evaluate.EvaluationRequest)
    else:
        assert evaluate.parse_event(event, evaluate.EvaluationRequest).training_job_name
