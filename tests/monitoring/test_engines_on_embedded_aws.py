"""Both drift engines on the embedded AWS, one contract: same reports, same metrics, the same retrain guard.

One endpoint (a test double answering the serving container's response object, with the real image features of
training/sourcedir/features.py) captures the traffic each test sends. Both engines are deployed beside it with
the permissions the monitoring module renders, which the embedded AWS enforces:

- scheduled_check: the built `scheduled_check.zip` with the module's policy, an EventBridge Scheduler schedule
  whose role trusts scheduler.amazonaws.com and may only invoke the function, and the retrain rule on the
  check's Drift Check Completed event;
- model_monitor: a data-quality job definition and schedule with the module's monitoring role, run now with a
  one-time (ScheduleExpression NOW) schedule, and the retrain rule on the documented processing-job event.

"Run now" (`monitoring.run_now`) is how either engine runs here: the embedded AWS stores schedules and never
fires them. `local_aws.scheduler.fire_schedule` fires the Scheduler schedule as AWS would, to check its role.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any

import pytest

from monitoring import baseline as bl
from monitoring.check import METRICS_NAMESPACE
from monitoring.run_now import run_now
from tests.conftest import REPO_ROOT
from tests.monitoring.conftest import darken, png_bytes, stand_in_model
from tests.monitoring.test_retrain_on_embedded_aws import POWERTOOLS_LAYER, model_artifact, trust

PREFIX = "engines-test"
SCHEDULE = f"{PREFIX}-data-quality"
MM_SCHEDULE = f"{PREFIX}-mm-data-quality"
ENDPOINT = f"{PREFIX}-endpoint"
CHECK = f"{PREFIX}-scheduled-check"
GUARD = f"{PREFIX}-retrain-guard"
EVENT_SOURCE = f"{PREFIX}.monitoring"
RUN_NOW_SEGMENT = re.compile(rf"{SCHEDULE}-now-\d{{14}}")


@dataclass
class Engines:
    aws: Any
    data_bucket: str
    pipeline_arn: str
    traffic: dict[str, list[bytes]]

    def send(self, name: str) -> None:
        runtime = self.aws.client("sagemaker-runtime")
        for image in self.traffic[name]:
            runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="application/x-image", Body=image)

    def s3_json(self, uri: str) -> Any:
        bucket, key = bl.split_s3_uri(uri)
        return json.loads(self.aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())

    def decisions(self, timeout: float = 60, **match: Any) -> dict[str, Any]:
        """The guard's first logged decision with these fields, once it has made one."""
        logs, deadline, seen = self.aws.client("logs"), time.monotonic() + timeout, []
        while time.monotonic() < deadline:
            try:
                seen = [e["message"] for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{GUARD}")["events"]]
            except logs.exceptions.ResourceNotFoundException:
                seen = []
            for message in seen:
                try:
                    record = json.loads(message)
                except ValueError:
                    continue
                if record.get("message") == "retrain decision" and all(record.get(k) == v for k, v in match.items()):
                    return record
            time.sleep(0.5)
        raise AssertionError(f"no guard decision {match} within {timeout} s; its log:\n" + "\n".join(seen))

    def retrain_input(self, name: str) -> dict[str, Any]:
        sfn = self.aws.client("stepfunctions")
        arn = next(
            e["executionArn"]
            for e in sfn.list_executions(stateMachineArn=self.pipeline_arn)["executions"]
            if e["name"] == name
        )
        return json.loads(sfn.describe_execution(executionArn=arn)["input"])


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def lambda_basics(region: str, account: str, function: str) -> list[dict[str, Any]]:
    """What the lambda_function module adds to every function's role: its own log group and X-Ray."""
    return [
        {
            "Sid": "LambdaWriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{function}:*",
        },
        {
            "Sid": "LambdaSendTraces",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",
        },
    ]


def check_policy(region: str, account: str, data: str, capture: str) -> str:
    """data.aws_iam_policy_document.scheduled_check of modules/monitoring/iam.tf, as it renders here."""
    return policy(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{capture}/datacapture/*"},
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{capture}",
            "Condition": {"StringLike": {"s3:prefix": f"datacapture/{ENDPOINT}/*"}},
        },
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [
                f"arn:aws:s3:::{data}/monitoring/baseline/*",
                f"arn:aws:s3:::{data}/monitoring/reports/*",
                f"arn:aws:s3:::{data}/monitoring/ground-truth/*",
            ],
        },
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{data}",
            "Condition": {"StringLike": {"s3:prefix": ["monitoring/reports/*", "monitoring/ground-truth/*"]}},
        },
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{data}/monitoring/reports/*"},
        {
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
        },
        {
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": f"arn:aws:events:{region}:{account}:event-bus/default",
            "Condition": {
                "StringEquals": {"events:source": EVENT_SOURCE, "events:detail-type": "Drift Check Completed"}
            },
        },
        *lambda_basics(region, account, CHECK),
    )


def guard_policy(region: str, account: str, data: str, pipeline_arn: str) -> str:
    """data.aws_iam_policy_document.retrain_guard with both engines' statements (one stack has one engine)."""
    return policy(
        {"Effect": "Allow", "Action": ["states:ListExecutions", "states:StartExecution"], "Resource": pipeline_arn},
        {
            "Effect": "Allow",
            "Action": "states:DescribeExecution",
            "Resource": pipeline_arn.replace(":stateMachine:", ":execution:") + ":*",
        },
        {
            "Effect": "Allow",
            "Action": "sagemaker:DescribeProcessingJob",
            "Resource": f"arn:aws:sagemaker:{region}:{account}:processing-job/*",
        },
        {"Effect": "Allow", "Action": "sagemaker:ListMonitoringExecutions", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{data}/monitoring/reports/*"},
        *lambda_basics(region, account, GUARD),
    )


def deploy_function(
    aws: Any, zips: Any, name: str, service: str, role_policy: str, environment: dict[str, str], timeout: int
) -> str:
    """The built zip of functions/<service> as the lambda_function module deploys it, with this role policy."""
    iam = aws.client("iam")
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=trust("lambda.amazonaws.com"))["Role"][
        "Arn"
    ]
    iam.put_role_policy(RoleName=f"{name}-role", PolicyName=f"{name}-permissions", PolicyDocument=role_policy)
    return aws.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="app.lambda_handler",
        Code={"ZipFile": (zips / f"{service}.zip").read_bytes()},
        Timeout=timeout,
        MemorySize=1024,
        Layers=[POWERTOOLS_LAYER],
        Environment={
            "Variables": {
                "POWERTOOLS_SERVICE_NAME": service,
                "POWERTOOLS_METRICS_NAMESPACE": "EnginesTest",
                **environment,
            }
        },
    )["FunctionArn"]


@pytest.fixture(scope="module")
def engines(local_aws, lambda_zips, cifar, feature_rows) -> Engines:
    aws = local_aws
    region, account = aws.region, aws.client("sts").get_caller_identity()["Account"]
    s3, iam, sagemaker = aws.client("s3"), aws.client("iam"), aws.client("sagemaker")
    data, capture = f"{PREFIX}-data", f"{PREFIX}-capture"
    for bucket in (data, capture):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})

    images = cifar["test"].images
    batches = {
        "normal": list(images[:60]),
        "darkened": [darken(image) for image in images[60:100]],
        "darkened-mm": [darken(image) for image in images[100:140]],
    }
    traffic = {name: [png_bytes(image) for image in batch] for name, batch in batches.items()}
    table = {
        hashlib.sha256(png).hexdigest(): stand_in_model(image)
        for name, batch in batches.items()
        for image, png in zip(batch, traffic[name], strict=True)
    }
    statistics, constraints = bl.build_baseline(feature_rows["baseline"])
    bl.upload_baseline(s3, data, "monitoring/baseline", statistics, constraints)
    s3.put_object(
        Bucket=data,
        Key="monitoring/code/record_preprocessor.py",
        Body=(REPO_ROOT / "monitoring" / "record_preprocessor.py").read_bytes(),
    )

    # The endpoint: reads its artifact and writes data capture with the model's execution role.
    model_role = iam.create_role(RoleName=f"{PREFIX}-model", AssumeRolePolicyDocument=trust("sagemaker.amazonaws.com"))
    iam.put_role_policy(
        RoleName=f"{PREFIX}-model",
        PolicyName="model",
        PolicyDocument=policy(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{data}/models/*"},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{capture}/datacapture/*"},
        ),
    )
    s3.put_object(Bucket=data, Key="models/double/model.tar.gz", Body=model_artifact(table))
    sagemaker.create_model(
        ModelName=f"{PREFIX}-model",
        ExecutionRoleArn=model_role["Role"]["Arn"],
        PrimaryContainer={
            "Image": "local/pytorch-inference",
            "ModelDataUrl": f"s3://{data}/models/double/model.tar.gz",
        },
    )
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
            "DestinationS3Uri": f"s3://{capture}/datacapture",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        },
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{PREFIX}-config")
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=ENDPOINT, WaiterConfig={"Delay": 1})

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

    # scheduled_check: the function, and the Scheduler schedule with its role (modules/monitoring).
    check_arn = deploy_function(
        aws,
        lambda_zips,
        CHECK,
        "scheduled_check",
        check_policy(region, account, data, capture),
        {
            "ENDPOINT_NAME": ENDPOINT,
            "SCHEDULE_NAME": SCHEDULE,
            "CAPTURE_S3_URI": f"s3://{capture}/datacapture",
            "BASELINE_S3_URI": f"s3://{data}/monitoring/baseline",
            "REPORTS_S3_URI": f"s3://{data}/monitoring/reports",
            "EVENT_SOURCE": EVENT_SOURCE,
            "EVENT_BUS_NAME": "default",
            "PUBLISH_CLOUDWATCH_METRICS": "Enabled",
            "CLASS_LABELS": "bicycle,motorcycle",
            "GROUND_TRUTH_S3_URI": f"s3://{data}/monitoring/ground-truth",
        },
        timeout=300,
    )
    scheduler_trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "scheduler.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                }
            ],
        }
    )
    scheduler_role = iam.create_role(RoleName=f"{PREFIX}-scheduler", AssumeRolePolicyDocument=scheduler_trust)["Role"][
        "Arn"
    ]
    iam.put_role_policy(
        RoleName=f"{PREFIX}-scheduler",
        PolicyName="scheduler",
        PolicyDocument=policy({"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": check_arn}),
    )
    aws.client("scheduler").create_schedule(
        Name=SCHEDULE,
        ScheduleExpression="cron(0 * ? * * *)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": check_arn,
            "RoleArn": scheduler_role,
            "Input": json.dumps({"scheduled_time": "<aws.scheduler.scheduled-time>"}),
        },
    )

    # model_monitor: the job definition and hourly schedule, with the monitoring module's role.
    monitoring_role = iam.create_role(
        RoleName=f"{PREFIX}-monitoring", AssumeRolePolicyDocument=trust("sagemaker.amazonaws.com")
    )
    iam.put_role_policy(
        RoleName=f"{PREFIX}-monitoring",
        PolicyName="monitoring",
        PolicyDocument=policy(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{capture}/datacapture/*"},
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [
                    f"arn:aws:s3:::{data}/monitoring/baseline/*",
                    f"arn:aws:s3:::{data}/monitoring/code/record_preprocessor.py",
                ],
            },
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{data}/monitoring/reports/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{capture}"},
            {
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
            },
        ),
    )
    sagemaker.create_data_quality_job_definition(
        JobDefinitionName=MM_SCHEDULE,
        DataQualityAppSpecification={
            "ImageUri": "468650794304.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer:latest",
            "RecordPreprocessorSourceUri": f"s3://{data}/monitoring/code/record_preprocessor.py",
            "Environment": {"publish_cloudwatch_metrics": "Enabled", "CLASS_LABELS": "bicycle,motorcycle"},
        },
        DataQualityBaselineConfig={
            "ConstraintsResource": {"S3Uri": f"s3://{data}/monitoring/baseline/constraints.json"},
            "StatisticsResource": {"S3Uri": f"s3://{data}/monitoring/baseline/statistics.json"},
        },
        DataQualityJobInput={
            "EndpointInput": {"EndpointName": ENDPOINT, "LocalPath": "/opt/ml/processing/input/endpoint"}
        },
        DataQualityJobOutputConfig={
            "MonitoringOutputs": [
                {
                    "S3Output": {
                        "S3Uri": f"s3://{data}/monitoring/reports",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    }
                }
            ]
        },
        JobResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 20}},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        RoleArn=monitoring_role["Role"]["Arn"],
    )
    sagemaker.create_monitoring_schedule(
        MonitoringScheduleName=MM_SCHEDULE,
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringJobDefinitionName": MM_SCHEDULE,
            "MonitoringType": "DataQuality",
        },
    )

    # The guard, and each engine's retrain rule (a stack has one of them; this test has both engines).
    guard_arn = deploy_function(
        aws,
        lambda_zips,
        GUARD,
        "retrain_guard",
        guard_policy(region, account, data, pipeline_arn),
        {
            "PIPELINE_STATE_MACHINE_ARN": pipeline_arn,
            "MONITORING_SCHEDULE_NAME": SCHEDULE,
            "CHECK_EVENT_SOURCE": EVENT_SOURCE,
            "RETRAIN_ON_CHECKS": "baseline_drift_check",
            "RETRAIN_IGNORE_FEATURES": "image_format,width,height,byte_size",
            "PIPELINE_INPUT": "{}",
        },
        timeout=30,
    )
    events, lam = aws.client("events"), aws.client("lambda")
    patterns = {
        "check": {"source": [EVENT_SOURCE], "detail-type": ["Drift Check Completed"]},
        "mm": json.loads(
            (REPO_ROOT / "terraform" / "modules" / "monitoring" / "retrain_event_pattern.json").read_text()
        ),
    }
    for name, pattern in patterns.items():
        rule = events.put_rule(Name=f"{PREFIX}-{name}-violations", EventPattern=json.dumps(pattern))["RuleArn"]
        events.put_targets(Rule=f"{PREFIX}-{name}-violations", Targets=[{"Id": "retrain-guard", "Arn": guard_arn}])
        lam.add_permission(
            FunctionName=GUARD,
            StatementId=f"Allow{name}",
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
            SourceArn=rule,
        )
    return Engines(aws, data, pipeline_arn, traffic)


def test_scheduled_check_run_now_reports_where_model_monitor_would_and_passes_clean(engines) -> None:
    engines.send("normal")
    result = run_now("scheduled_check", SCHEDULE, engines.aws.client)
    assert (result["engine"], result["status"], result["records"]) == ("scheduled_check", "Completed", 60), result
    assert result["violations"] == []
    assert RUN_NOW_SEGMENT.fullmatch(result["report_schedule_name"]), result["report_schedule_name"]
    # <reports>/<endpoint>/<schedule>/yyyy/mm/dd/hh, Model Monitor's layout.
    prefix = f"s3://{engines.data_bucket}/monitoring/reports/{ENDPOINT}/{result['report_schedule_name']}/"
    assert re.fullmatch(re.escape(prefix) + r"\d{4}/\d{2}/\d{2}/\d{2}", result["report_s3_uri"])
    assert engines.s3_json(f"{result['report_s3_uri']}/constraint_violations.json") == {"violations": []}
    assert engines.s3_json(f"{result['report_s3_uri']}/statistics.json")["dataset"]["item_count"] == 60
    # Model Monitor's metric names, namespace and dimensions.
    listed = engines.aws.client("cloudwatch").list_metrics(
        Namespace=METRICS_NAMESPACE,
        Dimensions=[{"Name": "MonitoringSchedule", "Value": result["report_schedule_name"]}],
    )["Metrics"]
    names = {m["MetricName"] for m in listed}
    assert {"feature_baseline_drift_brightness", "feature_non_null_brightness", "feature_data_width"} <= names
    assert all({"Name": "Endpoint", "Value": ENDPOINT} in m["Dimensions"] for m in listed)
    decision = engines.decisions(execution_id=result["execution_id"])
    assert (decision["started"], decision["reason"], decision["engine"]) == (False, "no_violations", "scheduled_check")


def test_scheduled_check_fired_by_scheduler_finds_the_darkened_images_and_starts_one_retrain(engines) -> None:
    from local_aws.scheduler import fire_schedule

    engines.send("darkened")
    fired = fire_schedule(engines.aws, SCHEDULE)
    assert re.fullmatch(r'\{"scheduled_time": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"\}', fired["input"]), fired
    decision = engines.decisions(engine="scheduled_check", started=True)
    assert (decision["reason"], decision["monitoring_execution_status"]) == ("violations", "CompletedWithViolations")
    assert decision["execution_id"].startswith(f"{SCHEDULE}-")
    started = engines.retrain_input(f"retrain-{decision['execution_id']}")
    trigger = started["trigger"]
    assert (trigger["source"], trigger["monitoring_schedule"], trigger["records"]) == ("scheduled-check", SCHEDULE, 40)
    assert "brightness" in {v["feature_name"] for v in trigger["violations"]}
    assert "job_name" not in started["training"], "the pipeline names a fresh training job"
    # The scheduled run counted only what came since the run-now before it, and reported under the schedule.
    state = engines.s3_json(f"s3://{engines.data_bucket}/monitoring/reports/{ENDPOINT}/{SCHEDULE}/last-run.json")
    assert state["execution_id"] == decision["execution_id"]


def test_scheduler_fires_only_with_a_role_that_trusts_it_and_may_invoke_the_check(engines) -> None:
    from local_aws.iam import AccessDenied
    from local_aws.scheduler import fire_schedule

    aws = engines.aws
    iam, scheduler = aws.client("iam"), aws.client("scheduler")
    check_arn = aws.client("lambda").get_function(FunctionName=CHECK)["Configuration"]["FunctionArn"]
    lambda_role = iam.create_role(
        RoleName=f"{PREFIX}-not-scheduler", AssumeRolePolicyDocument=trust("lambda.amazonaws.com")
    )["Role"]["Arn"]
    mute_role = iam.create_role(
        RoleName=f"{PREFIX}-mute-scheduler", AssumeRolePolicyDocument=trust("scheduler.amazonaws.com")
    )["Role"]["Arn"]
    for name, role in (("untrusted", lambda_role), ("mute", mute_role)):
        scheduler.create_schedule(
            Name=f"{PREFIX}-{name}",
            ScheduleExpression="cron(0 * ? * * *)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": check_arn, "RoleArn": role, "Input": "{}"},
        )
    with pytest.raises(AccessDenied, match="cannot assume"):
        fire_schedule(aws, f"{PREFIX}-untrusted")
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="AccessDenied"):
        fire_schedule(aws, f"{PREFIX}-mute")


def test_model_monitor_run_now_is_a_one_time_schedule_over_its_window(engines) -> None:
    time.sleep(2)  # the earlier tests' captures are now outside the window below
    began = time.monotonic()
    engines.send("darkened-mm")
    window = f"PT{math.ceil(time.monotonic() - began) + 1}S"
    result = run_now(
        "model_monitor", MM_SCHEDULE, engines.aws.client, window=window, poll_seconds=0.5, timeout_seconds=120
    )
    assert (result["engine"], result["status"], result["records"]) == (
        "model_monitor",
        "CompletedWithViolations",
        40,
    ), result
    assert "brightness" in {
        v["feature_name"] for v in result["violations"] if v["constraint_check_type"] == "baseline_drift_check"
    }
    sagemaker = engines.aws.client("sagemaker")
    one_time = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=result["report_schedule_name"])
    config = one_time["MonitoringScheduleConfig"]
    assert config["ScheduleConfig"] == {
        "ScheduleExpression": "NOW",
        "DataAnalysisStartTime": f"-{window}",
        "DataAnalysisEndTime": "-PT0H",
    }
    assert config["MonitoringJobDefinitionName"] == MM_SCHEDULE
    assert result["report_s3_uri"].startswith(
        f"s3://{engines.data_bucket}/monitoring/reports/{ENDPOINT}/{result['report_schedule_name']}/"
    )


def test_a_one_time_schedule_needs_its_analysis_window(engines) -> None:
    from botocore.exceptions import ClientError

    sagemaker = engines.aws.client("sagemaker")
    with pytest.raises(ClientError, match="DataAnalysisStartTime"):
        sagemaker.create_monitoring_schedule(
            MonitoringScheduleName=f"{MM_SCHEDULE}-now-20250101000000",
            MonitoringScheduleConfig={
                "ScheduleConfig": {"ScheduleExpression": "NOW"},
                "MonitoringJobDefinitionName": MM_SCHEDULE,
                "MonitoringType": "DataQuality",
            },
        )
