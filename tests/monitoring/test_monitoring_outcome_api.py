"""How a monitoring run's outcome reads back from the embedded SageMaker: the API shapes AWS documents.

The retrain guard and on-call (docs/runbook.md) read a run with DescribeProcessingJob, ListMonitoringExecutions
and DescribeMonitoringSchedule. Here runs are recorded as local_aws.monitoring_runs records them and read back
through boto3 on in-process moto; the shapes are checked against botocore's copy of the SageMaker API model.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import botocore.session
import pytest
from moto import mock_aws

from tests.conftest import FUNCTIONS_DIR
from tests.monitoring.conftest import MonitoringRecorder

EVENTS = FUNCTIONS_DIR / "retrain_guard" / "events"
SCHEDULE = "courier-vehicle-data-quality"
VIOLATION = {"feature_name": "brightness", "constraint_check_type": "baseline_drift_check", "description": "dark"}


def sample(hour: int, job: str) -> dict[str, Any]:
    """The violations sample event, moved to another hour and job."""
    event = copy.deepcopy(json.loads((EVENTS / "monitoring_violations.json").read_text()))
    event["detail"]["ProcessingJobName"] = job
    event["detail"]["CreationTime"] += (hour - 13) * 3600 * 1000
    return event


@pytest.fixture
def sagemaker(monitoring_api: MonitoringRecorder):
    with mock_aws():
        monitoring_api.schedule()
        for hour, job, violations in ((11, "run-11", []), (12, "run-12", [VIOLATION]), (13, "run-13", [])):
            monitoring_api.record(sample(hour, job), violations)
        yield boto3.client("sagemaker", region_name="eu-west-1")


def shape(operation: str) -> Any:
    """The operation's output shape in botocore's copy of the SageMaker API model."""
    return botocore.session.get_session().get_service_model("sagemaker").operation_model(operation).output_shape


def test_describe_processing_job_answers_the_documented_members(sagemaker) -> None:
    described = sagemaker.describe_processing_job(ProcessingJobName="run-12")
    output = shape("DescribeProcessingJob")
    members = set(described) - {"ResponseMetadata"}
    assert members <= set(output.members), members - set(output.members)
    assert set(output.required_members) <= members
    assert described["ProcessingJobStatus"] == "Completed"
    assert described["ExitMessage"] == "CompletedWithViolations: Job completed successfully with 1 violations."
    assert (
        described["MonitoringScheduleArn"] == f"arn:aws:sagemaker:eu-west-1:123456789012:monitoring-schedule/{SCHEDULE}"
    )
    (output_config,) = described["ProcessingOutputConfig"]["Outputs"]
    assert output_config["S3Output"]["S3Uri"].endswith(f"/{SCHEDULE}/2025/01/01/13")
    assert described["ProcessingResources"]["ClusterConfig"]["InstanceType"] == "ml.m5.large"


def test_list_monitoring_executions_is_newest_first_in_pages_of_max_results(sagemaker) -> None:
    first = sagemaker.list_monitoring_executions(MonitoringScheduleName=SCHEDULE, MaxResults=2)
    rest = sagemaker.list_monitoring_executions(MonitoringScheduleName=SCHEDULE, NextToken=first["NextToken"])
    listed = first["MonitoringExecutionSummaries"] + rest["MonitoringExecutionSummaries"]
    assert "NextToken" not in rest
    assert [e["ProcessingJobArn"].rsplit("/", 1)[-1] for e in listed] == ["run-13", "run-12", "run-11"]
    assert [e["MonitoringExecutionStatus"] for e in listed] == ["Completed", "CompletedWithViolations", "Completed"]
    summary = shape("ListMonitoringExecutions").members["MonitoringExecutionSummaries"].member
    assert all(set(e) <= set(summary.members) and set(summary.required_members) <= set(e) for e in listed)


def test_list_monitoring_executions_filters_and_sorts_as_asked(sagemaker) -> None:
    def jobs(**request: Any) -> list[str]:
        page = sagemaker.list_monitoring_executions(MonitoringScheduleName=SCHEDULE, **request)
        return [e["ProcessingJobArn"].rsplit("/", 1)[-1] for e in page["MonitoringExecutionSummaries"]]

    assert jobs(StatusEquals="CompletedWithViolations") == ["run-12"]
    assert jobs(SortOrder="Ascending") == ["run-11", "run-12", "run-13"]
    assert jobs(SortBy="Status", SortOrder="Ascending") == ["run-11", "run-13", "run-12"]
    noon = sample(12, "x")["detail"]["CreationTime"] / 1000
    assert jobs(CreationTimeAfter=noon - 1, CreationTimeBefore=noon + 1) == ["run-12"]
    assert jobs(MonitoringTypeEquals="ModelQuality") == []
    assert sagemaker.list_monitoring_executions(MonitoringScheduleName="other")["MonitoringExecutionSummaries"] == []


def test_describe_monitoring_schedule_summarises_the_last_execution(sagemaker) -> None:
    last = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=SCHEDULE)["LastMonitoringExecutionSummary"]
    assert (last["ProcessingJobArn"].rsplit("/", 1)[-1], last["MonitoringExecutionStatus"]) == ("run-13", "Completed")
    assert last["MonitoringJobDefinitionName"] == SCHEDULE
