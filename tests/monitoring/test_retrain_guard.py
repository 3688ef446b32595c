"""The retrain guard: violations start the training pipeline, never while a pipeline run is in progress.

The event is the documented Processing Job State Change; what the run found is SageMaker's to say, so each test
records the run's processing job and monitoring execution on in-process moto (the `monitoring_api` fixture)
the way the embedded Model Monitor does, and the guard reads them with DescribeProcessingJob and
ListMonitoringExecutions.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.stepfunctions.models import stepfunctions_backends

from tests.conftest import FUNCTIONS_DIR, load_function
from tests.lambda_context import FakeLambdaContext
from tests.monitoring.conftest import MonitoringRecorder

GUARD_CONTEXT = FakeLambdaContext.for_function("courier-vehicle-retrain-guard")

EVENTS = FUNCTIONS_DIR / "retrain_guard" / "events"
BUCKET = "courier-vehicle-data"
REPORT_KEY = (
    "monitoring/reports/courier-vehicle-endpoint/courier-vehicle-data-quality/2025/01/01/13/constraint_violations.json"
)
VIOLATIONS = json.loads((EVENTS / "constraint_violations.json").read_text())["violations"]
PIPELINE_DEFINITION = json.dumps({"StartAt": "Train", "States": {"Train": {"Type": "Pass", "End": True}}})
# What training/launch.py starts the pipeline with (shape of training/pipeline_input.py's ExecutionInput).
LAUNCH_INPUT = {
    "algorithm": "pytorch",
    "training": {"job_name": "courier-vehicle-20250101-0900", "hyperparameters": {"epochs": "10"}},
    "deploy": {"instance_type": "ml.m5.large"},
    "baseline": {"test_s3_uri": "s3://courier-vehicle-data/datasets/cifar-bikes/test/"},
}
# The detail fields of AWS's sample "SageMaker Processing Job State Change" event, written down from
# https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html#processing-job-state
DOCUMENTED_DETAIL = {
    "ProcessingInputs",
    "ProcessingOutputConfig",
    "ProcessingJobName",
    "ProcessingResources",
    "StoppingCondition",
    "AppSpecification",
    "NetworkConfig",
    "RoleArn",
    "ExperimentConfig",
    "ProcessingJobArn",
    "ProcessingJobStatus",
    "FailureReason",
    "ProcessingEndTime",
    "ProcessingStartTime",
    "LastModifiedTime",
    "CreationTime",
}
EVENT_ENVELOPE = {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def event_for_job(job: str, name: str = "monitoring_violations.json") -> dict[str, Any]:
    """A sample event about another processing job (name, ARN and resources changed together)."""
    event = load_event(name)
    arn = f"arn:aws:sagemaker:eu-west-1:123456789012:processing-job/{job}"
    event["detail"].update({"ProcessingJobName": job, "ProcessingJobArn": arn})
    event["resources"] = [arn]
    return event


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "retrain_guard")
    return load_function("retrain_guard")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, monitoring_api: MonitoringRecorder) -> Iterator[dict[str, Any]]:
    """moto Step Functions with the pipeline, S3 with the sample violations report, our monitoring schedule,
    the guard's environment."""
    with mock_aws():
        sfn = boto3.client("stepfunctions")
        arn = sfn.create_state_machine(
            name="courier-vehicle-pipeline",
            definition=PIPELINE_DEFINITION,
            roleArn="arn:aws:iam::123456789012:role/courier-vehicle-pipeline",
        )["stateMachineArn"]
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_object(Bucket=BUCKET, Key=REPORT_KEY, Body=(EVENTS / "constraint_violations.json").read_bytes())
        monitoring_api.schedule()
        monkeypatch.setenv("PIPELINE_STATE_MACHINE_ARN", arn)
        monkeypatch.setenv("MONITORING_SCHEDULE_NAME", "courier-vehicle-data-quality")
        monkeypatch.delenv("PIPELINE_INPUT", raising=False)
        launched = sfn.start_execution(stateMachineArn=arn, name="launch-1", input=json.dumps(LAUNCH_INPUT))
        finish(launched["executionArn"])
        yield {"sfn": sfn, "s3": s3, "arn": arn, "sagemaker": boto3.client("sagemaker"), "monitor": monitoring_api}


def finish(execution_arn: str, status: str = "SUCCEEDED") -> None:
    """moto keeps executions RUNNING; end one as the real state machine would."""
    stepfunctions_backends["123456789012"]["eu-west-1"].describe_execution(execution_arn).status = status


def violated(aws: dict[str, Any], event: dict[str, Any], **options: Any) -> dict[str, Any]:
    """`event`, its job recorded as a run of our schedule that found the sample violations."""
    aws["monitor"].record(event, VIOLATIONS, **options)
    return event


def run_guard(app: ModuleType, event: dict[str, Any], aws: dict[str, Any]) -> dict[str, Any]:
    change = app.ProcessingJobStateChange.from_event(event)
    return app.guard(change, app.GuardConfig.from_env(), aws["sfn"], aws["s3"], aws["sagemaker"])


def executions(aws: dict[str, Any], status: str | None = None) -> list[dict[str, Any]]:
    kwargs = {"statusFilter": status} if status else {}
    return aws["sfn"].list_executions(stateMachineArn=aws["arn"], **kwargs)["executions"]


def retrains(aws: dict[str, Any]) -> list[str]:
    """Names of the executions the guard started (the fixture's launcher run is not one)."""
    return [e["name"] for e in executions(aws) if e["name"].startswith("retrain-")]


def test_violations_start_the_pipeline_with_the_reason(app, aws, capsys) -> None:
    event = violated(aws, load_event("monitoring_violations.json"))
    decision = app.lambda_handler(event, GUARD_CONTEXT)
    assert decision["started"] is True
    (execution,) = executions(aws, "RUNNING")
    assert execution["name"] == "retrain-model-monitoring-202501011300-3c5a1d2f"
    started = json.loads(aws["sfn"].describe_execution(executionArn=execution["executionArn"])["input"])
    # The last successful run's settings, without its job name: the pipeline names a fresh training job.
    assert started["training"] == {"hyperparameters": {"epochs": "10"}}
    assert {k: started[k] for k in ("algorithm", "deploy", "baseline")} == {
        k: LAUNCH_INPUT[k] for k in ("algorithm", "deploy", "baseline")
    }
    trigger = started["trigger"]
    # What SageMaker said about the run: the execution's status, the job's ExitMessage, the retrainable violation.
    assert (trigger["monitoring_schedule"], trigger["monitoring_execution_status"]) == (
        "courier-vehicle-data-quality",
        "CompletedWithViolations",
    )
    assert trigger["exit_message"] == "CompletedWithViolations: Job completed successfully with 3 violations."
    assert trigger["violations"] == [
        {
            "feature_name": "brightness",
            "constraint_check_type": "baseline_drift_check",
            "description": "Baseline drift distance: 0.62 exceeds threshold: 0.1",
        }
    ]
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [(m["service"], m.get("RetrainStarted")) for m in emitted] == [("retrain_guard", [1.0])], (
        "the dashboard reads RetrainStarted with dimension service=retrain_guard"
    )


def test_only_violating_runs_of_our_schedule_count_as_started_or_skipped(app, aws, capsys) -> None:
    """The rule sends every completed processing job; the dashboard's RetrainSkipped must not count them all."""
    quiet = load_event("monitoring_no_violations.json")
    aws["monitor"].record(quiet, [])
    with pytest.warns(UserWarning, match="No application metrics"):
        assert app.lambda_handler(quiet, GUARD_CONTEXT)["reason"] == "no_violations"
    app.lambda_handler(violated(aws, event_for_job("model-monitoring-202501011300-aaaa")), GUARD_CONTEXT)
    second = app.lambda_handler(violated(aws, event_for_job("model-monitoring-202501011400-bbbb")), GUARD_CONTEXT)
    assert second["reason"] == "pipeline_running"
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [[m["Name"] for m in e["_aws"]["CloudWatchMetrics"][0]["Metrics"]] for e in emitted] == [
        ["RetrainStarted"],
        ["RetrainSkipped"],
    ]


def test_no_second_run_while_one_is_running(app, aws) -> None:
    first = run_guard(app, violated(aws, event_for_job("model-monitoring-202501011300-aaaa")), aws)
    second = run_guard(app, violated(aws, event_for_job("model-monitoring-202501011400-bbbb")), aws)
    assert first["started"] is True
    assert (second["started"], second["reason"]) == (False, "pipeline_running")
    assert len(retrains(aws)) == 1


def test_next_violation_after_the_run_ends_retrains_again(app, aws) -> None:
    first = run_guard(app, violated(aws, event_for_job("model-monitoring-202501011300-aaaa")), aws)
    aws["sfn"].stop_execution(executionArn=first["execution_arn"])
    assert executions(aws, "RUNNING") == []
    later = run_guard(app, violated(aws, event_for_job("model-monitoring-202501011500-cccc")), aws)
    assert later["started"] is True


def test_redelivered_event_does_not_start_a_second_run(app, aws) -> None:
    event = violated(aws, load_event("monitoring_violations.json"))
    first = run_guard(app, event, aws)
    aws["sfn"].stop_execution(executionArn=first["execution_arn"])
    again = run_guard(app, copy.deepcopy(event), aws)
    assert (again["started"], again["reason"]) == (False, "duplicate_event")
    assert len(retrains(aws)) == 1


def test_run_without_violations_is_ignored(app, aws) -> None:
    event = load_event("monitoring_no_violations.json")
    aws["monitor"].record(event, [])
    decision = run_guard(app, event, aws)
    assert (decision["started"], decision["reason"]) == (False, "no_violations")
    assert decision["monitoring_execution_status"] == "Completed"
    assert retrains(aws) == []


def test_the_jobs_own_execution_decides_not_the_newest(app, aws) -> None:
    quiet = load_event("monitoring_no_violations.json")
    aws["monitor"].record(quiet, [])
    violated(aws, load_event("monitoring_violations.json"))  # a later run of the schedule found violations
    decision = run_guard(app, quiet, aws)
    assert (decision["started"], decision["monitoring_execution_status"]) == (False, "Completed")


def test_other_schedules_are_ignored(app, aws) -> None:
    aws["monitor"].schedule("other-data-quality")
    event = violated(aws, load_event("monitoring_violations.json"), schedule="other-data-quality")
    decision = run_guard(app, event, aws)
    assert (decision["reason"], decision["monitoring_schedule"]) == ("other_schedule", "other-data-quality")
    assert retrains(aws) == []


def test_processing_jobs_no_schedule_started_are_ignored(app, aws) -> None:
    """The rule sends every completed processing job; one without a MonitoringScheduleArn is not a monitoring run."""
    event = event_for_job("courier-vehicle-evaluation-1")
    detail = event["detail"]
    aws["sagemaker"].create_processing_job(
        ProcessingJobName=detail["ProcessingJobName"],
        ProcessingResources=detail["ProcessingResources"],
        AppSpecification={"ImageUri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/evaluate:1"},
        RoleArn=detail["RoleArn"],
    )
    assert run_guard(app, event, aws)["reason"] == "not_a_monitoring_job"
    assert retrains(aws) == []


def test_a_job_that_did_not_complete_is_ignored_without_asking_sagemaker(app, aws) -> None:
    # The failed job was never recorded: a DescribeProcessingJob would fail, so none is made.
    decision = run_guard(app, load_event("monitoring_failed.json"), aws)
    assert (decision["started"], decision["reason"]) == (False, "not_completed")


def test_an_execution_the_schedule_does_not_list_is_a_named_error_for_a_retry(app, aws) -> None:
    event = violated(aws, load_event("monitoring_violations.json"))
    aws["monitor"].ctx.monitoring_schedules.get(
        "123456789012", "eu-west-1", "courier-vehicle-data-quality"
    ).executions.clear()
    with pytest.raises(app.MonitoringExecutionNotFound, match="model-monitoring-202501011300-3c5a1d2f"):
        run_guard(app, event, aws)
    assert retrains(aws) == []


def test_a_job_sagemaker_cannot_describe_is_a_named_error_for_a_retry(app, aws) -> None:
    with pytest.raises(app.MonitoringOutcomeUnreadable, match="model-monitoring-202501011300-3c5a1d2f"):
        run_guard(app, load_event("monitoring_violations.json"), aws)


def test_format_only_violations_do_not_retrain(app, aws) -> None:
    report = {
        "violations": [
            {
                "feature_name": "image_format",
                "constraint_check_type": "categorical_values_check",
                "description": "jpeg",
            },
            {"feature_name": "width", "constraint_check_type": "baseline_drift_check", "description": "phone photos"},
        ]
    }
    aws["s3"].put_object(Bucket=BUCKET, Key=REPORT_KEY, Body=json.dumps(report).encode())
    decision = run_guard(app, violated(aws, load_event("monitoring_violations.json")), aws)
    assert (decision["started"], decision["reason"]) == (False, "no_retrainable_violations")
    assert retrains(aws) == []


def test_any_violation_retrains_when_no_check_types_are_configured(app, aws, monkeypatch) -> None:
    monkeypatch.setenv("RETRAIN_ON_CHECKS", "")
    aws["s3"].delete_object(Bucket=BUCKET, Key=REPORT_KEY)  # the report is not needed then
    assert run_guard(app, violated(aws, load_event("monitoring_violations.json")), aws)["started"] is True


def test_unreadable_report_is_a_named_error_for_a_retry(app, aws) -> None:
    aws["s3"].delete_object(Bucket=BUCKET, Key=REPORT_KEY)
    with pytest.raises(app.ViolationsReportUnreadable, match=r"constraint_violations\.json"):
        run_guard(app, violated(aws, load_event("monitoring_violations.json")), aws)
    assert retrains(aws) == []


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e.update({"detail-type": "SageMaker Training Job State Change"}), "detail-type"),
        (lambda e: e.pop("detail"), "detail"),
        (lambda e: e["detail"].pop("ProcessingJobName"), "detail.ProcessingJobName"),
        (lambda e: e["detail"].update({"ProcessingJobName": "../other"}), "detail.ProcessingJobName"),
        (lambda e: e["detail"].update({"ProcessingJobStatus": ["Completed"]}), "detail.ProcessingJobStatus"),
    ],
)
def test_malformed_events_name_the_bad_field(app, mutate, field: str) -> None:
    event = load_event("monitoring_violations.json")
    mutate(event)
    with pytest.raises(app.InvalidEvent, match=re.escape(field)):
        app.ProcessingJobStateChange.from_event(event)


def test_configured_pipeline_input_is_used_instead_of_the_last_run(app, aws, monkeypatch) -> None:
    monkeypatch.setenv("PIPELINE_INPUT", json.dumps({"training": {"job_name": "fixed"}, "dataset": "v2"}))
    decision = run_guard(app, violated(aws, load_event("monitoring_violations.json")), aws)
    started = json.loads(aws["sfn"].describe_execution(executionArn=decision["execution_arn"])["input"])
    assert (started["dataset"], started["training"]) == ("v2", {})


def test_no_retrain_before_any_successful_run(app, aws) -> None:
    (launched,) = executions(aws)
    finish(launched["executionArn"], "FAILED")
    decision = run_guard(app, violated(aws, load_event("monitoring_violations.json")), aws)
    assert (decision["started"], decision["reason"]) == (False, "no_previous_run")
    assert retrains(aws) == []


def test_missing_pipeline_arn_is_a_configuration_error(app, monkeypatch) -> None:
    monkeypatch.delenv("PIPELINE_STATE_MACHINE_ARN", raising=False)
    with pytest.raises(app.ConfigurationError, match="PIPELINE_STATE_MACHINE_ARN"):
        app.GuardConfig.from_env()


def test_execution_names_are_valid_for_step_functions(app) -> None:
    name = app.execution_name("model/monitoring:" + "x" * 200)
    assert len(name) <= 80
    assert re.fullmatch(r"[A-Za-z0-9_-]+", name)


@pytest.mark.parametrize("path", sorted(Path(EVENTS).glob("monitoring_*.json")), ids=lambda p: p.name)
def test_sample_events_are_the_documented_shape(path: Path) -> None:
    event = json.loads(path.read_text())
    assert set(event) == EVENT_ENVELOPE
    assert (event["source"], event["detail-type"]) == ("aws.sagemaker", "SageMaker Processing Job State Change")
    assert set(event["detail"]) <= DOCUMENTED_DETAIL, set(event["detail"]) - DOCUMENTED_DETAIL
    assert event["resources"] == [event["detail"]["ProcessingJobArn"]]
    assert ("FailureReason" in event["detail"]) == (event["detail"]["ProcessingJobStatus"] == "Failed")


# -- the scheduled check's trigger ---------------------------------------------------------------------------

CHECK_SOURCE = "courier-vehicle.monitoring"


@pytest.fixture
def checks(aws, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The guard configured for the scheduled check's events; the sample report where the sample event says."""
    monkeypatch.setenv("CHECK_EVENT_SOURCE", CHECK_SOURCE)
    return aws


def test_a_scheduled_check_with_violations_starts_the_pipeline(app, checks, capsys) -> None:
    decision = app.lambda_handler(load_event("check_violations.json"), GUARD_CONTEXT)
    assert (decision["started"], decision["reason"], decision["engine"]) == (True, "violations", "scheduled_check")
    (execution,) = executions(checks, "RUNNING")
    assert execution["name"] == "retrain-courier-vehicle-data-quality-20250101130000"
    trigger = json.loads(checks["sfn"].describe_execution(executionArn=execution["executionArn"])["input"])["trigger"]
    assert trigger["source"] == "scheduled-check"
    assert (trigger["monitoring_schedule"], trigger["records"]) == ("courier-vehicle-data-quality", 240)
    assert [v["feature_name"] for v in trigger["violations"]] == ["brightness"], "format-only violations never retrain"
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m.get("RetrainStarted") for m in emitted] == [[1.0]]


def test_a_quiet_scheduled_check_starts_nothing_and_counts_as_nothing(app, checks, capsys) -> None:
    decision = app.lambda_handler(load_event("check_no_violations.json"), GUARD_CONTEXT)
    assert (decision["started"], decision["reason"]) == (False, "no_violations")
    assert retrains(checks) == []
    assert not [line for line in capsys.readouterr().out.splitlines() if '"RetrainSkipped"' in line]


def test_a_redelivered_check_event_does_not_start_a_second_run(app, checks) -> None:
    event = load_event("check_violations.json")
    app.lambda_handler(event, GUARD_CONTEXT)
    finish(executions(checks, "RUNNING")[0]["executionArn"])
    decision = app.lambda_handler(event, GUARD_CONTEXT)
    assert (decision["started"], decision["reason"]) == (False, "duplicate_event")


def test_another_schedules_check_is_ignored(app, checks) -> None:
    event = load_event("check_violations.json")
    event["detail"]["schedule_name"] = "someone-else-data-quality"
    decision = app.lambda_handler(event, GUARD_CONTEXT)
    assert (decision["started"], decision["reason"]) == (False, "other_schedule")


def test_a_check_event_from_another_source_is_refused_by_name(app, checks) -> None:
    event = load_event("check_violations.json")
    event["source"] = "someone.else"
    with pytest.raises(app.InvalidEvent, match=re.escape("source: expected 'courier-vehicle.monitoring'")):
        app.lambda_handler(event, GUARD_CONTEXT)
    assert retrains(checks) == []


def test_a_check_event_that_breaks_the_contract_names_its_field(app, checks) -> None:
    event = load_event("check_violations.json")
    event["detail"]["status"] = "CompletedWithDrift"
    with pytest.raises(app.InvalidEvent, match=r"detail\.status"):
        app.lambda_handler(event, GUARD_CONTEXT)


def test_an_event_of_neither_engine_names_both_contracts(app) -> None:
    with pytest.raises(app.InvalidEvent, match=r"SageMaker Processing Job State Change.*Drift Check Completed"):
        app.lambda_handler({"detail-type": "Object Created", "detail": {}}, GUARD_CONTEXT)


def test_a_run_now_of_our_model_monitor_schedule_is_ours(app, aws) -> None:
    """`python -m monitoring run-now` makes a one-time schedule <schedule>-now-<time>; its runs retrain too."""
    one_time = "courier-vehicle-data-quality-now-20250101131500"
    aws["monitor"].schedule(one_time)
    event = event_for_job("model-monitoring-202501011315-0a1b2c3d")
    aws["monitor"].record(event, VIOLATIONS, schedule=one_time)
    decision = run_guard(app, event, aws)
    assert (decision["started"], decision["reason"]) == (True, "violations")
    started = json.loads(aws["sfn"].describe_execution(executionArn=decision["execution_arn"])["input"])
    assert started["trigger"]["monitoring_schedule"] == one_time


# -- waiting for reviewed labels ------------------------------------------------------------------------------


def store_review(aws: dict[str, Any], review_id: str, label: str, *, probe: bool = False, after: float = 60) -> None:
    """A decided review, stored where the review console stores it, `after` seconds after the launcher's run."""
    from shared.reviews import ReviewRecord, review_record_key

    (launched,) = [e for e in executions(aws, "SUCCEEDED") if e["name"] == "launch-1"]
    record = ReviewRecord(
        review_id=review_id,
        decision_key=f"inference-{review_id}",
        image={"s3_bucket": "courier-vehicle-uploads", "s3_key": f"uploads/{review_id}.jpg"},
        label=label,
        route="nearby",
        reason="BelowConfidenceThreshold",
        reviewer="alice",
        decided_at=launched["startDate"] + timedelta(seconds=after),
        probe=probe,
    )
    aws["s3"].put_object(Bucket=BUCKET, Key=review_record_key("reviews", record), Body=record.model_dump_json())


@pytest.fixture
def waits_for_two(aws, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("RETRAIN_MIN_NEW_LABELS", "2")
    monkeypatch.setenv("REVIEW_RECORDS_BUCKET", BUCKET)
    monkeypatch.setenv("REVIEW_RECORDS_PREFIX", "reviews")
    return aws


def test_drift_waits_for_enough_new_labels_and_says_so(app, waits_for_two, capsys) -> None:
    aws = waits_for_two
    store_review(aws, "r-1", "bicycle")
    store_review(aws, "r-neither", "neither")  # not a class: nothing to learn from
    store_review(aws, "r-probe", "motorcycle", probe=True)  # the probe's known image
    store_review(aws, "r-old", "motorcycle", after=-3600)  # the deployed model's run started after it

    decision = app.lambda_handler(violated(aws, load_event("monitoring_violations.json")), GUARD_CONTEXT)

    assert (decision["started"], decision["reason"]) == (False, "waiting_for_labels")
    assert (decision["new_labels"], decision["min_new_labels"]) == (1, 2)
    assert retrains(aws) == []
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [sorted(m["Name"] for m in e["_aws"]["CloudWatchMetrics"][0]["Metrics"]) for e in emitted] == [
        ["RetrainSkipped", "RetrainWaitingForLabels"]
    ]


def test_drift_retrains_once_the_labels_are_there(app, waits_for_two) -> None:
    aws = waits_for_two
    store_review(aws, "r-1", "bicycle")
    store_review(aws, "r-2", "motorcycle", after=7200)  # a later hour's folder

    decision = run_guard(app, violated(aws, load_event("monitoring_violations.json")), aws)

    assert (decision["started"], decision["reason"], decision["new_labels"]) == (True, "violations", 2)
    assert len(retrains(aws)) == 1
    started = json.loads(aws["sfn"].describe_execution(executionArn=decision["execution_arn"])["input"])
    assert started["trigger"]["new_labels"] == 2, "the run says it was waiting for labels and found them"


def test_without_a_minimum_the_guard_reads_no_review(app, aws) -> None:
    aws["s3"].put_object(Bucket=BUCKET, Key="reviews/2025/01/01/13/broken.json", Body=b"{")
    decision = run_guard(app, violated(aws, load_event("monitoring_violations.json")), aws)
    assert decision["started"] is True
    assert "new_labels" not in decision


def test_a_record_that_is_not_a_review_is_not_counted_and_does_not_stop_the_count(app, waits_for_two) -> None:
    aws = waits_for_two
    store_review(aws, "r-1", "bicycle")
    aws["s3"].put_object(Bucket=BUCKET, Key="reviews/2099/01/01/00/broken.json", Body=b"{not json")
    decision = run_guard(app, violated(aws, load_event("monitoring_violations.json")), aws)
    assert (decision["reason"], decision["new_labels"]) == ("waiting_for_labels", 1)
    assert decision["unreadable_review_records"] == ["reviews/2099/01/01/00/broken.json"]


def test_unreadable_review_records_are_a_named_error_for_a_retry(app, waits_for_two, monkeypatch) -> None:
    monkeypatch.setenv("REVIEW_RECORDS_BUCKET", "no-such-bucket")
    with pytest.raises(app.LabelsUnreadable, match="no-such-bucket"):
        run_guard(app, violated(waits_for_two, load_event("monitoring_violations.json")), waits_for_two)
    assert retrains(waits_for_two) == []


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"RETRAIN_MIN_NEW_LABELS": "-1"}, "RETRAIN_MIN_NEW_LABELS"),
        ({"RETRAIN_MIN_NEW_LABELS": "two"}, "RETRAIN_MIN_NEW_LABELS"),
        ({"RETRAIN_MIN_NEW_LABELS": "5"}, "REVIEW_RECORDS_BUCKET"),
    ],
)
def test_a_bad_label_minimum_is_a_configuration_error(app, aws, monkeypatch, env, field) -> None:
    monkeypatch.delenv("REVIEW_RECORDS_BUCKET", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(app.ConfigurationError, match=field):
        app.GuardConfig.from_env()
