"""Model Monitor -> EventBridge -> retrain guard -> training pipeline, on the embedded AWS.

A real endpoint (a test double answering the serving container's response object, with the real image
features) captures the traffic each test sends; the embedded Model Monitor runs the schedule on it with the
repository's record preprocessor and a baseline of the training images.
The event it sends must be AWS's documented "SageMaker Processing Job State Change" and nothing more; the rule
(the module's own pattern file) delivers it to the deployed retrain guard zip, which reads the outcome back with
DescribeProcessingJob and ListMonitoringExecutions under a role holding the monitoring module's guard policy.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.monitoring.conftest import darken, png_bytes, stand_in_model

PREFIX = "retrain-test"
SCHEDULE = f"{PREFIX}-data-quality"
OTHER_SCHEDULE = f"{PREFIX}-other-data-quality"
ENDPOINT = f"{PREFIX}-endpoint"
GUARD = f"{PREFIX}-retrain-guard"
POWERTOOLS_LAYER = "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:18"
DOUBLE_MODEL = REPO_ROOT / "tests" / "monitoring" / "doubles" / "featured_model.py"
SERVING_FEATURES = REPO_ROOT / "training" / "sourcedir" / "features.py"
EVENT_PATTERN = REPO_ROOT / "terraform" / "modules" / "monitoring" / "retrain_event_pattern.json"
# The detail fields of AWS's sample event, written down from
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


@dataclass
class MonitoredEndpoint:
    aws: Any
    data_bucket: str
    pipeline_arn: str
    events_queue_url: str
    traffic: dict[str, list[bytes]]

    def send(self, name: str) -> None:
        """Invoke the endpoint with one batch of images; data capture writes each pair to S3."""
        runtime = self.aws.client("sagemaker-runtime")
        for png in self.traffic[name]:
            runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="application/x-image", Body=png)

    def run(self, schedule: str = SCHEDULE) -> dict[str, Any]:
        from local_aws.monitoring_runs import run_schedule

        return run_schedule(self.aws, schedule)

    def state_change_event(self, job_name: str, timeout: float = 20) -> dict[str, Any]:
        """The Processing Job State Change event of `job_name`, as EventBridge delivered it to the audit queue."""
        sqs, deadline = self.aws.client("sqs"), time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in sqs.receive_message(QueueUrl=self.events_queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            ):
                sqs.delete_message(QueueUrl=self.events_queue_url, ReceiptHandle=message["ReceiptHandle"])
                event = json.loads(message["Body"])
                if event["detail"].get("ProcessingJobName") == job_name:
                    return event
            time.sleep(0.2)
        raise AssertionError(f"no state change event for {job_name} within {timeout} s")

    def decision(self, job_name: str, timeout: float = 60) -> dict[str, Any]:
        """The guard's logged decision on `job_name` (its function log group), once it has made one."""
        logs, deadline = self.aws.client("logs"), time.monotonic() + timeout
        seen: list[str] = []
        while time.monotonic() < deadline:
            try:
                events = logs.filter_log_events(logGroupName=f"/aws/lambda/{GUARD}")["events"]
            except logs.exceptions.ResourceNotFoundException:
                events = []
            seen = [e["message"] for e in events]
            for message in seen:
                try:
                    record = json.loads(message)
                except ValueError:
                    continue
                if record.get("message") == "retrain decision" and record.get("processing_job") == job_name:
                    return record
            time.sleep(0.5)
        raise AssertionError(
            f"the guard made no decision on {job_name} within {timeout} s; its log:\n" + "\n".join(seen)
        )

    def retrains(self) -> list[dict[str, Any]]:
        executions = self.aws.client("stepfunctions").list_executions(stateMachineArn=self.pipeline_arn)["executions"]
        return [e for e in executions if e["name"].startswith("retrain-")]


def model_artifact(probabilities: dict[str, list[float]]) -> bytes:
    """model.tar.gz of the featured double: sha256 of an image -> the probabilities it answers."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in {
            "code/inference.py": DOUBLE_MODEL.read_bytes(),
            "code/features.py": SERVING_FEATURES.read_bytes(),
            "probabilities.json": json.dumps(probabilities).encode(),
            "model_config.json": json.dumps(
                {"labels": ["bicycle", "motorcycle"], "confidence_threshold": 0.9, "model_version": "retrain-test"}
            ).encode(),
        }.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def guard_policy(
    region: str, account: str, data_bucket: str, pipeline_arn: str, wait_for_labels: bool = False
) -> dict[str, Any]:
    """The guard's policy as modules/monitoring renders it (data.aws_iam_policy_document.retrain_guard) plus the
    lambda_function module's own statements (its log group; X-Ray); `wait_for_labels`: with
    retrain_min_new_labels > 0 (the review records' ListBucket and GetObject)."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CheckAndStartPipeline",
                "Effect": "Allow",
                "Action": ["states:ListExecutions", "states:StartExecution"],
                "Resource": pipeline_arn,
            },
            {
                "Sid": "ReadPipelineExecutions",
                "Effect": "Allow",
                "Action": "states:DescribeExecution",
                "Resource": pipeline_arn.replace(":stateMachine:", ":execution:") + ":*",
            },
            {
                "Sid": "DescribeProcessingJobs",
                "Effect": "Allow",
                "Action": "sagemaker:DescribeProcessingJob",
                "Resource": f"arn:aws:sagemaker:{region}:{account}:processing-job/*",
            },
            {
                "Sid": "ListMonitoringExecutions",
                "Effect": "Allow",
                "Action": "sagemaker:ListMonitoringExecutions",
                "Resource": "*",
            },
            {
                "Sid": "ReadViolationReports",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{data_bucket}/monitoring/reports/*",
            },
            {
                "Sid": "LambdaWriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{GUARD}:*",
            },
            {
                "Sid": "LambdaSendTraces",
                "Effect": "Allow",
                "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                "Resource": "*",
            },
        ],
    }
    if wait_for_labels:
        policy["Statement"] += [
            {
                "Sid": "ListReviewRecords",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{data_bucket}",
                "Condition": {"StringLike": {"s3:prefix": ["reviews/", "reviews/*"]}},
            },
            {
                "Sid": "ReadReviewRecords",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{data_bucket}/reviews/*",
            },
        ]
    return policy


def trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def create_schedule(aws: Any, name: str, data_bucket: str, capture_uri: str, role_arn: str) -> None:
    sagemaker = aws.client("sagemaker")
    sagemaker.create_data_quality_job_definition(
        JobDefinitionName=name,
        DataQualityAppSpecification={
            "ImageUri": "468650794304.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer:latest",
            "RecordPreprocessorSourceUri": f"s3://{data_bucket}/monitoring/code/record_preprocessor.py",
            "Environment": {"publish_cloudwatch_metrics": "Disabled"},
        },
        DataQualityBaselineConfig={
            "ConstraintsResource": {"S3Uri": f"s3://{data_bucket}/monitoring/baseline/constraints.json"},
            "StatisticsResource": {"S3Uri": f"s3://{data_bucket}/monitoring/baseline/statistics.json"},
        },
        DataQualityJobInput={
            "EndpointInput": {"EndpointName": ENDPOINT, "LocalPath": "/opt/ml/processing/input/endpoint"}
        },
        DataQualityJobOutputConfig={
            "MonitoringOutputs": [
                {
                    "S3Output": {
                        "S3Uri": f"s3://{data_bucket}/monitoring/reports",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    }
                }
            ]
        },
        JobResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 20}},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        RoleArn=role_arn,
    )
    sagemaker.create_monitoring_schedule(
        MonitoringScheduleName=name,
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringJobDefinitionName": name,
            "MonitoringType": "DataQuality",
        },
    )


@pytest.fixture(scope="module")
def monitored(local_aws, lambda_zips, cifar, feature_rows) -> MonitoredEndpoint:
    from monitoring import baseline as bl

    aws = local_aws
    region, account = aws.region, aws.client("sts").get_caller_identity()["Account"]
    s3, iam = aws.client("s3"), aws.client("iam")
    data_bucket, capture_bucket = f"{PREFIX}-data", f"{PREFIX}-capture"
    for bucket in (data_bucket, capture_bucket):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})

    # Traffic: test images as they are, and darkened ones (night photos), each batch its own images.
    test_images = cifar["test"].images
    batches = {
        "normal": list(test_images[:60]),
        "darkened": [darken(image) for image in test_images[60:120]],
        "darkened-other": [darken(image) for image in test_images[120:180]],
    }
    traffic = {name: [png_bytes(image) for image in images] for name, images in batches.items()}
    table = {
        hashlib.sha256(png).hexdigest(): stand_in_model(image)
        for name, images in batches.items()
        for image, png in zip(images, traffic[name], strict=True)
    }

    # The baseline the pipeline would have written, and the preprocessor Terraform uploads.
    statistics, constraints = bl.build_baseline(feature_rows["baseline"])
    for key, document in (("statistics.json", statistics), ("constraints.json", constraints)):
        s3.put_object(Bucket=data_bucket, Key=f"monitoring/baseline/{key}", Body=json.dumps(document).encode())
    s3.put_object(
        Bucket=data_bucket,
        Key="monitoring/code/record_preprocessor.py",
        Body=(REPO_ROOT / "monitoring" / "record_preprocessor.py").read_bytes(),
    )

    sagemaker = aws.client("sagemaker")
    model_role = iam.create_role(RoleName=f"{PREFIX}-model", AssumeRolePolicyDocument=trust("sagemaker.amazonaws.com"))
    # The endpoint reads its artifact and writes data capture with the model's execution role.
    model_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{data_bucket}/models/*"},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{capture_bucket}/datacapture/*"},
        ],
    }
    iam.put_role_policy(
        RoleName=f"{PREFIX}-model", PolicyName=f"{PREFIX}-model", PolicyDocument=json.dumps(model_policy)
    )
    s3.put_object(Bucket=data_bucket, Key="models/double/model.tar.gz", Body=model_artifact(table))
    sagemaker.create_model(
        ModelName=f"{PREFIX}-model",
        ExecutionRoleArn=model_role["Role"]["Arn"],
        PrimaryContainer={
            "Image": "local/pytorch-inference",
            "ModelDataUrl": f"s3://{data_bucket}/models/double/model.tar.gz",
        },
    )
    capture_uri = f"s3://{capture_bucket}/datacapture"
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{PREFIX}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{PREFIX}-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": capture_uri,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        },
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{PREFIX}-config")
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=ENDPOINT, WaiterConfig={"Delay": 1})

    monitoring_role = iam.create_role(
        RoleName=f"{PREFIX}-monitoring", AssumeRolePolicyDocument=trust("sagemaker.amazonaws.com")
    )["Role"]["Arn"]
    # The monitoring module's policy (modules/monitoring/iam.tf), for what the job does locally.
    iam.put_role_policy(
        RoleName=f"{PREFIX}-monitoring",
        PolicyName="monitoring",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{capture_bucket}/*"},
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": [
                            f"arn:aws:s3:::{data_bucket}/monitoring/baseline/*",
                            f"arn:aws:s3:::{data_bucket}/monitoring/code/record_preprocessor.py",
                        ],
                    },
                    {
                        "Effect": "Allow",
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{data_bucket}/monitoring/reports/*",
                    },
                    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{capture_bucket}"},
                    {
                        "Effect": "Allow",
                        "Action": "cloudwatch:PutMetricData",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"cloudwatch:namespace": "aws/sagemaker/Endpoints/data-metrics"}},
                    },
                ],
            }
        ),
    )
    for name in (SCHEDULE, OTHER_SCHEDULE):
        create_schedule(aws, name, data_bucket, capture_uri, monitoring_role)

    # The training pipeline stand-in, with one successful run for the guard to repeat.
    sfn = aws.client("stepfunctions")
    pipeline_role = iam.create_role(
        RoleName=f"{PREFIX}-pipeline", AssumeRolePolicyDocument=trust("states.amazonaws.com")
    )
    pipeline_arn = sfn.create_state_machine(
        name=f"{PREFIX}-training-pipeline",
        definition=json.dumps({"StartAt": "Train", "States": {"Train": {"Type": "Pass", "End": True}}}),
        roleArn=pipeline_role["Role"]["Arn"],
    )["stateMachineArn"]
    launch = sfn.start_execution(
        stateMachineArn=pipeline_arn, name="launch-1", input=json.dumps({"training": {"job_name": "first"}})
    )
    while sfn.describe_execution(executionArn=launch["executionArn"])["status"] == "RUNNING":
        time.sleep(0.2)

    # The guard, deployed from its built zip with the module's environment and policy.
    guard_role = iam.create_role(RoleName=f"{GUARD}-role", AssumeRolePolicyDocument=trust("lambda.amazonaws.com"))
    iam.put_role_policy(
        RoleName=f"{GUARD}-role",
        PolicyName=f"{GUARD}-permissions",
        PolicyDocument=json.dumps(guard_policy(region, account, data_bucket, pipeline_arn)),
    )
    lam = aws.client("lambda")
    guard_arn = lam.create_function(
        FunctionName=GUARD,
        Runtime="python3.11",
        Role=guard_role["Role"]["Arn"],
        Handler="app.lambda_handler",
        Code={"ZipFile": (lambda_zips / "retrain_guard.zip").read_bytes()},
        Timeout=30,
        MemorySize=256,
        Layers=[POWERTOOLS_LAYER],
        Environment={
            "Variables": {
                "POWERTOOLS_SERVICE_NAME": "retrain_guard",
                "POWERTOOLS_METRICS_NAMESPACE": "CourierVehicleTest",
                "PIPELINE_STATE_MACHINE_ARN": pipeline_arn,
                "MONITORING_SCHEDULE_NAME": SCHEDULE,
                "RETRAIN_ON_CHECKS": "baseline_drift_check",
                "RETRAIN_IGNORE_FEATURES": "image_format,width,height,byte_size",
                "PIPELINE_INPUT": "{}",
            }
        },
    )["FunctionArn"]

    # The retrain rule with the module's pattern, and an audit rule that copies every such event to a queue.
    events, sqs = aws.client("events"), aws.client("sqs")
    rule_arn = events.put_rule(Name=f"{PREFIX}-monitoring-violations", EventPattern=EVENT_PATTERN.read_text())[
        "RuleArn"
    ]
    events.put_targets(Rule=f"{PREFIX}-monitoring-violations", Targets=[{"Id": "retrain-guard", "Arn": guard_arn}])
    lam.add_permission(
        FunctionName=GUARD,
        StatementId="AllowMonitoringViolationsRule",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    queue_url = sqs.create_queue(QueueName=f"{PREFIX}-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    audit_arn = events.put_rule(
        Name=f"{PREFIX}-processing-job-events",
        EventPattern=json.dumps(
            {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Processing Job State Change"]}
        ),
    )["RuleArn"]
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={
            "Policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": queue_arn,
                            "Condition": {"ArnEquals": {"aws:SourceArn": audit_arn}},
                        }
                    ],
                }
            )
        },
    )
    events.put_targets(Rule=f"{PREFIX}-processing-job-events", Targets=[{"Id": "audit", "Arn": queue_arn}])
    return MonitoredEndpoint(aws, data_bucket, pipeline_arn, queue_url, traffic)


def assert_documented(event: dict[str, Any], job_name: str) -> None:
    assert (event["source"], event["detail-type"]) == ("aws.sagemaker", "SageMaker Processing Job State Change")
    detail = event["detail"]
    assert set(detail) <= DOCUMENTED_DETAIL, f"undocumented fields: {sorted(set(detail) - DOCUMENTED_DETAIL)}"
    assert (detail["ProcessingJobName"], detail["ProcessingJobStatus"]) == (job_name, "Completed")
    assert event["resources"] == [detail["ProcessingJobArn"]]
    assert all(isinstance(detail[key], int) for key in ("CreationTime", "ProcessingEndTime", "LastModifiedTime"))


def test_a_run_without_violations_sends_the_documented_event_and_starts_nothing(monitored):
    before = monitored.retrains()
    monitored.send("normal")
    run = monitored.run()
    assert run["records"] == 60
    assert run["MonitoringExecutionStatus"] == "Completed", run["violations"]
    job = run["ProcessingJobName"]
    assert_documented(monitored.state_change_event(job), job)
    decision = monitored.decision(job)
    assert (decision["started"], decision["reason"], decision["monitoring_execution_status"]) == (
        False,
        "no_violations",
        "Completed",
    )
    assert monitored.retrains() == before


def test_a_run_with_violations_is_readable_as_aws_documents_and_starts_one_retrain(monitored):
    monitored.send("darkened")
    run = monitored.run()
    assert run["records"] == 60
    job = run["ProcessingJobName"]
    assert any(v["feature_name"] == "brightness" for v in run["violations"]), run["violations"]

    event = monitored.state_change_event(job)
    assert_documented(event, job)
    assert not {"ExitMessage", "MonitoringScheduleArn", "Environment"} & set(event["detail"])

    # DescribeProcessingJob (API_DescribeProcessingJob.html): the outcome and where the report is.
    sagemaker = monitored.aws.client("sagemaker")
    described = sagemaker.describe_processing_job(ProcessingJobName=job)
    schedule = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=SCHEDULE)
    assert described["ProcessingJobStatus"] == "Completed"
    assert described["ExitMessage"].startswith("CompletedWithViolations")
    assert described["MonitoringScheduleArn"] == schedule["MonitoringScheduleArn"]
    report = described["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert report == run["report_s3_uri"]
    bucket, _, prefix = report.removeprefix("s3://").partition("/")
    stored = json.loads(
        monitored.aws.client("s3").get_object(Bucket=bucket, Key=f"{prefix}/constraint_violations.json")["Body"].read()
    )
    assert stored["violations"] == run["violations"]

    # ListMonitoringExecutions and LastMonitoringExecutionSummary (API_MonitoringExecutionSummary.html).
    (newest,) = sagemaker.list_monitoring_executions(MonitoringScheduleName=SCHEDULE, MaxResults=1)[
        "MonitoringExecutionSummaries"
    ]
    assert (newest["ProcessingJobArn"], newest["MonitoringExecutionStatus"]) == (
        described["ProcessingJobArn"],
        "CompletedWithViolations",
    )
    assert schedule["LastMonitoringExecutionSummary"]["ProcessingJobArn"] == described["ProcessingJobArn"]

    decision = monitored.decision(job)
    assert (decision["started"], decision["reason"]) == (True, "violations")
    (retrain,) = monitored.retrains()
    assert retrain["name"] == f"retrain-{job}"
    started = json.loads(
        monitored.aws.client("stepfunctions").describe_execution(executionArn=retrain["executionArn"])["input"]
    )
    assert started["trigger"]["processing_job"] == job
    assert started["trigger"]["monitoring_execution_status"] == "CompletedWithViolations"
    assert {v["feature_name"] for v in started["trigger"]["violations"]} >= {"brightness"}


def test_another_schedules_run_with_violations_starts_nothing(monitored):
    before = monitored.retrains()
    # A run reads the captures since the schedule's previous run: a first run takes what other tests sent.
    earlier = monitored.run(OTHER_SCHEDULE)
    monitored.decision(earlier["ProcessingJobName"])
    monitored.send("darkened-other")
    run = monitored.run(OTHER_SCHEDULE)
    assert (run["records"], run["MonitoringExecutionStatus"]) == (60, "CompletedWithViolations"), run
    job = run["ProcessingJobName"]
    assert_documented(monitored.state_change_event(job), job)
    decision = monitored.decision(job)
    assert (decision["started"], decision["reason"]) == (False, "other_schedule")
    assert monitored.retrains() == before


def store_review(monitored: MonitoredEndpoint, review_id: str, label: str, probe: bool = False) -> None:
    """A decided review where the review console stores it (shared.reviews), decided now."""
    from shared.reviews import ReviewRecord, review_record_key

    record = ReviewRecord(
        review_id=review_id,
        decision_key=f"inference-{review_id}",
        image={"s3_bucket": monitored.data_bucket, "s3_key": f"uploads/{review_id}.png"},
        label=label,
        route="nearby",
        reason="BelowConfidenceThreshold",
        reviewer="alice",
        decided_at=datetime.now(UTC),
        probe=probe,
    )
    monitored.aws.client("s3").put_object(
        Bucket=monitored.data_bucket, Key=review_record_key("reviews", record), Body=record.model_dump_json()
    )


def test_a_guard_waiting_for_labels_retrains_only_once_people_have_given_them(monitored):
    """retrain_min_new_labels = 2: the deployed guard, under the module's policy for it, counts the review records
    since the newest successful pipeline run (ListObjectsV2 under an s3:prefix condition, GetObject)."""
    aws = monitored.aws
    region, account = aws.region, aws.client("sts").get_caller_identity()["Account"]
    aws.client("iam").put_role_policy(
        RoleName=f"{GUARD}-role",
        PolicyName=f"{GUARD}-permissions",
        PolicyDocument=json.dumps(
            guard_policy(region, account, monitored.data_bucket, monitored.pipeline_arn, wait_for_labels=True)
        ),
    )
    lam = aws.client("lambda")
    variables = lam.get_function_configuration(FunctionName=GUARD)["Environment"]["Variables"]
    waiting = {
        **variables,
        "RETRAIN_MIN_NEW_LABELS": "2",
        "REVIEW_RECORDS_BUCKET": monitored.data_bucket,
        "REVIEW_RECORDS_PREFIX": "reviews",
    }
    lam.update_function_configuration(FunctionName=GUARD, Environment={"Variables": waiting})
    try:
        before = monitored.retrains()
        store_review(monitored, "r-bike", "bicycle")
        store_review(monitored, "r-neither", "neither")
        store_review(monitored, "r-probe", "motorcycle", probe=True)
        monitored.send("darkened")
        run = monitored.run()
        assert run["MonitoringExecutionStatus"] == "CompletedWithViolations", run
        decision = monitored.decision(run["ProcessingJobName"])
        assert (decision["started"], decision["reason"]) == (False, "waiting_for_labels"), decision
        assert (decision["new_labels"], decision["min_new_labels"]) == (1, 2)
        assert monitored.retrains() == before

        store_review(monitored, "r-moto", "motorcycle")
        monitored.send("darkened")
        run = monitored.run()
        decision = monitored.decision(run["ProcessingJobName"])
        assert (decision["started"], decision["reason"], decision["new_labels"]) == (True, "violations", 2), decision
        assert len(monitored.retrains()) == len(before) + 1
    finally:
        lam.update_function_configuration(FunctionName=GUARD, Environment={"Variables": variables})
