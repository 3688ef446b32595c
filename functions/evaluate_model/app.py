"""evaluate_model: the training pipeline's evaluation step, training job -> the accuracy the gate compares.

In: `EvaluationRequest` (`training_job_name`, and the gate's `accuracy_threshold` that the state machine passes).
Out: `{"ModelEvaluation": {...}}` (`ModelEvaluation` below): the accuracy, which metric it is, the model artifact.

The metrics come from DescribeTrainingJob's FinalMetricDataList - what SageMaker extracted from the job's logs
with its MetricDefinitions - rather than from the `.sync` task's result, whose shape is Step Functions' business.
The gate uses `test:accuracy` (held-out split) when the job reports it, else `validation:accuracy` (all the
built-in algorithm reports). Metrics: `ModelAccuracy`, and `GateApproved` or `GateRejected` (the dashboard reads
these names).
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, Field
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import ConfigDict
from shared.contracts import parse_event
from shared.errors import WorkflowError

ACCURACY_METRICS = ("test:accuracy", "validation:accuracy")
"""In order of preference: the held-out test split first."""
THRESHOLD_METRIC = "validation:threshold"
"""The decision threshold train.py tuned on the validation split, reported alongside when present."""

logger = Logger()
tracer = Tracer()
metrics = Metrics()


class TrainingJobNotFound(WorkflowError):
    """DescribeTrainingJob does not know the job (wrong name, or another account/region)."""


class TrainingJobNotCompleted(WorkflowError):
    """The job is not Completed, so it has no final metrics or model to evaluate."""


class MetricMissing(WorkflowError):
    """The job reported neither test:accuracy nor validation:accuracy (check its MetricDefinitions)."""


class EvaluationRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    training_job_name: Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")]
    accuracy_threshold: Annotated[float, Field(ge=0.0, le=1.0)] | None = None


class ModelEvaluation(BaseModel):
    model_config = ConfigDict(frozen=True)

    TrainingJobName: str
    Accuracy: float
    MetricName: str
    Threshold: float | None
    GateApproved: bool | None
    ThresholdMetric: float | None
    ModelDataUrl: str
    Metrics: dict[str, float]


@functools.cache
def sagemaker_client() -> Any:
    """One client per execution environment, made on first use."""
    return boto3.client("sagemaker")


def describe_training_job(client: Any, job_name: str) -> dict[str, Any]:
    try:
        return client.describe_training_job(TrainingJobName=job_name)
    except ClientError as exc:
        message = str(exc.response.get("Error", {}).get("Message", ""))
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code == "ResourceNotFound" or (code == "ValidationException" and "could not find" in message.lower()):
            raise TrainingJobNotFound(f"training job {job_name} does not exist: {message}") from None
        raise


def evaluate(job: dict[str, Any], threshold: float | None) -> ModelEvaluation:
    """The gate's view of a finished training job."""
    name = job["TrainingJobName"]
    status = job.get("TrainingJobStatus")
    if status != "Completed":
        reason = job.get("FailureReason")
        raise TrainingJobNotCompleted(f"training job {name} is {status}" + (f": {reason}" if reason else ""))
    final = {m["MetricName"]: float(m["Value"]) for m in job.get("FinalMetricDataList", [])}
    metric_name = next((m for m in ACCURACY_METRICS if m in final), None)
    if metric_name is None:
        raise MetricMissing(
            f"training job {name} reported none of {', '.join(ACCURACY_METRICS)} "
            f"(it reported: {', '.join(sorted(final)) or 'no metrics'})"
        )
    accuracy = final[metric_name]
    model_data = job.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    if not model_data:
        raise TrainingJobNotCompleted(f"training job {name} is Completed but has no model artifact")
    return ModelEvaluation(
        TrainingJobName=name,
        Accuracy=accuracy,
        MetricName=metric_name,
        Threshold=threshold,
        GateApproved=None if threshold is None else accuracy >= threshold,
        ThresholdMetric=final.get(THRESHOLD_METRIC),
        ModelDataUrl=model_data,
        Metrics=final,
    )


def record_metrics(evaluation: ModelEvaluation) -> None:
    metrics.add_metric(name="ModelAccuracy", unit=MetricUnit.NoUnit, value=evaluation.Accuracy)
    if evaluation.GateApproved is not None:
        gate_metric = "GateApproved" if evaluation.GateApproved else "GateRejected"
        metrics.add_metric(name=gate_metric, unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="training_job_name", value=evaluation.TrainingJobName)


@logger.inject_lambda_context(correlation_id_path="training_job_name")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(event, EvaluationRequest)
    job = describe_training_job(sagemaker_client(), request.training_job_name)
    evaluation = evaluate(job, request.accuracy_threshold)
    record_metrics(evaluation)
    logger.info(
        "model evaluated",
        extra={
            "training_job_name": evaluation.TrainingJobName,
            "metric": evaluation.MetricName,
            "accuracy": evaluation.Accuracy,
            "threshold": evaluation.Threshold,
            "gate_approved": evaluation.GateApproved,
        },
    )
    return {"ModelEvaluation": evaluation.model_dump()}
