"""The APIs the embedded AWS adds to moto behave as the AWS provider and our code expect."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.conftest import fixture_role


def wait_for_executions(sfn, arn: str, count: int, timeout: float = 20) -> list[dict]:
    deadline = time.time() + timeout
    while True:
        executions = sfn.list_executions(stateMachineArn=arn)["executions"]
        if len(executions) >= count or time.time() > deadline:
            return executions
        time.sleep(0.1)


@pytest.fixture(scope="module")
def pass_machine(local_aws):
    role = fixture_role(local_aws.client("iam"), "compat-test")
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    return local_aws.client("stepfunctions").create_state_machine(
        name="compat-pass", definition=json.dumps(definition), roleArn=role
    )["stateMachineArn"], role


def test_validate_state_machine_definition(local_aws):
    sfn = local_aws.client("stepfunctions")
    good = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}})
    assert sfn.validate_state_machine_definition(definition=good)["result"] == "OK"
    bad = sfn.validate_state_machine_definition(definition='{"StartAt": "A", "States": {"A": {"Type": "Nope"}}}')
    assert bad["result"] == "FAIL"
    assert bad["diagnostics"][0]["severity"] == "ERROR"


def test_executions_started_without_a_name_get_distinct_names(local_aws, pass_machine):
    sfn = local_aws.client("stepfunctions")
    first = sfn.start_execution(stateMachineArn=pass_machine[0])["executionArn"]
    second = sfn.start_execution(stateMachineArn=pass_machine[0])["executionArn"]
    assert first != second


def test_scalable_target_tags_round_trip(local_aws):
    aas = local_aws.client("application-autoscaling")
    arn = aas.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/compat/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=2,
        Tags={"team": "platform"},
    )["ScalableTargetARN"]
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "platform"}
    aas.tag_resource(ResourceARN=arn, Tags={"env": "test"})
    aas.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"env": "test"}


def test_monitoring_schedule_lifecycle(local_aws):
    sm = local_aws.client("sagemaker")
    config = {
        "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
        "MonitoringJobDefinitionName": "compat-dq",
        "MonitoringType": "DataQuality",
    }
    arn = sm.create_monitoring_schedule(
        MonitoringScheduleName="compat-schedule",
        MonitoringScheduleConfig=config,
        Tags=[{"Key": "team", "Value": "platform"}],
    )["MonitoringScheduleArn"]
    described = sm.describe_monitoring_schedule(MonitoringScheduleName="compat-schedule")
    assert described["MonitoringScheduleStatus"] == "Scheduled"
    assert described["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == "cron(0 * ? * * *)"
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "platform"}]
    names = [s["MonitoringScheduleName"] for s in sm.list_monitoring_schedules()["MonitoringScheduleSummaries"]]
    assert "compat-schedule" in names
    with pytest.raises(ClientError):
        sm.create_monitoring_schedule(MonitoringScheduleName="compat-schedule", MonitoringScheduleConfig=config)
    sm.delete_monitoring_schedule(MonitoringScheduleName="compat-schedule")
    with pytest.raises(ClientError) as missing:
        sm.describe_monitoring_schedule(MonitoringScheduleName="compat-schedule")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"


def test_eventbridge_starts_a_state_machine_target_with_the_matching_event(local_aws, pass_machine):
    events, sfn = local_aws.client("events"), local_aws.client("stepfunctions")
    arn, role = pass_machine
    before = len(sfn.list_executions(stateMachineArn=arn)["executions"])
    events.put_rule(Name="compat-rule", EventPattern=json.dumps({"source": ["compat.test"]}))
    events.put_targets(Rule="compat-rule", Targets=[{"Id": "machine", "Arn": arn, "RoleArn": role}])
    events.put_events(Entries=[{"Source": "other.source", "DetailType": "x", "Detail": "{}"}])
    events.put_events(Entries=[{"Source": "compat.test", "DetailType": "x", "Detail": json.dumps({"n": 1})}])
    executions = wait_for_executions(sfn, arn, before + 1)
    assert len(executions) == before + 1
    execution = sfn.describe_execution(executionArn=executions[0]["executionArn"])
    assert json.loads(execution["input"])["detail"] == {"n": 1}


def test_invoking_an_unknown_endpoint_is_a_validation_error(local_aws):
    runtime = local_aws.client("sagemaker-runtime")
    with pytest.raises(ClientError) as error:
        runtime.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"\x89PNG", ContentType="application/x-image")
    assert error.value.response["Error"]["Code"] == "ValidationError"


# (A leading space cannot be tested: HTTP strips it from the header that carries the id.)
@pytest.mark.parametrize("inference_id", ["x" * 65, "tab\tinside"])
def test_an_inference_id_outside_the_api_s_constraints_is_a_validation_error(local_aws, inference_id):
    runtime = local_aws.client("sagemaker-runtime")
    with pytest.raises(ClientError) as error:
        runtime.invoke_endpoint(
            EndpointName="no-such-endpoint",
            Body=b"\x89PNG",
            ContentType="application/x-image",
            InferenceId=inference_id,
        )
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert "InferenceId" in error.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # Escaped braces are literal; each unescaped {} takes the next argument (the intrinsic-functions page).
        ('States.Format(\'\\{"name":"{}"\\}\', $$.Execution.Name)', '{"name":"format-run"}'),
        ("States.Format('{} of {}', $.a, $.b)", "1 of two"),
        # A template from the input: read with the same escapes (the docs do not say whether AWS does).
        ("States.Format($.template, $.b)", "two, {}"),
        (
            'States.StringToJson(States.Format(\'\\{"id":"{}"\\}\', $$.Execution.Name))',
            {"id": "format-run"},
        ),
    ],
)
def test_states_format_reads_escapes_and_fills_each_placeholder(local_aws, pass_machine, expression, expected):
    _, role = pass_machine
    sfn = local_aws.client("stepfunctions")
    definition = {"StartAt": "F", "States": {"F": {"Type": "Pass", "Parameters": {"out.$": expression}, "End": True}}}
    name = f"compat-format-{abs(hash(expression)) % 10**8}"
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
    execution = sfn.start_execution(
        stateMachineArn=arn, name="format-run", input=json.dumps({"a": 1, "b": "two", "template": "{}, \\{}"})
    )["executionArn"]
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        time.sleep(0.1)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"])["out"] == expected


def test_a_tls_only_bucket_policy_admits_the_embedded_aws_but_a_plain_deny_still_denies(local_aws):
    s3 = local_aws.client("s3")
    bucket = "compat-tls-only"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": local_aws.region})

    def policy(condition: dict | None) -> str:
        statement = {
            "Sid": "Rule",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        }
        if condition:
            statement["Condition"] = condition
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    s3.put_bucket_policy(Bucket=bucket, Policy=policy({"Bool": {"aws:SecureTransport": "false"}}))
    s3.put_object(Bucket=bucket, Key="allowed.txt", Body=b"over the stand-in for TLS")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(None))
    with pytest.raises(ClientError) as denied:
        s3.put_object(Bucket=bucket, Key="denied.txt", Body=b"x")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_concurrent_executions_of_one_definition_keep_their_own_data(local_aws, pass_machine):
    """The parse tree of a definition is kept between executions; each execution must still get its own state."""
    sfn = local_aws.client("stepfunctions")
    definition = {
        "StartAt": "Echo",
        "States": {
            "Echo": {"Type": "Pass", "Parameters": {"seen.$": "$.value"}, "Next": "Wait"},
            "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
            "Done": {"Type": "Pass", "End": True},
        },
    }
    arn = sfn.create_state_machine(name="compat-echo", definition=json.dumps(definition), roleArn=pass_machine[1])[
        "stateMachineArn"
    ]
    started = [
        sfn.start_execution(stateMachineArn=arn, input=json.dumps({"value": value}))["executionArn"]
        for value in range(12)
    ]
    deadline = time.time() + 30
    outputs = {}
    while len(outputs) < len(started) and time.time() < deadline:
        for value, execution_arn in enumerate(started):
            execution = sfn.describe_execution(executionArn=execution_arn)
            if execution["status"] == "SUCCEEDED":
                outputs[value] = json.loads(execution["output"])
        time.sleep(0.2)
    assert outputs == {value: {"seen": value} for value in range(12)}

    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    first, tree = AmazonStateLanguageParser.parse(json.dumps(definition))
    second, same_tree = AmazonStateLanguageParser.parse(json.dumps(definition))
    assert first is not second  # fresh evaluation components for every execution
    assert tree is same_tree  # one parse


def test_an_execution_stopped_as_soon_as_it_starts_is_aborted(local_aws, pass_machine, monkeypatch):
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    # Hold each new execution's set-up for a moment, as a busy machine does, so the stop arrives before it ends;
    # and the worker thread's own status update after the stop, so that only StopExecution can report it.
    parse = ExecutionWorker._get_evaluation_entrypoint
    monkeypatch.setattr(ExecutionWorker, "_get_evaluation_entrypoint", lambda self: (time.sleep(0.5), parse(self))[1])
    terminated = BaseExecutionWorkerCommunication.terminated
    monkeypatch.setattr(BaseExecutionWorkerCommunication, "terminated", lambda self: (time.sleep(1), terminated(self)))
    sfn = local_aws.client("stepfunctions")
    definition = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 30, "End": True}}}
    arn = sfn.create_state_machine(name="compat-hold", definition=json.dumps(definition), roleArn=pass_machine[1])[
        "stateMachineArn"
    ]
    for _ in range(2):
        execution_arn = sfn.start_execution(stateMachineArn=arn)["executionArn"]
        sfn.stop_execution(executionArn=execution_arn, cause="changed my mind")
        assert sfn.describe_execution(executionArn=execution_arn)["status"] == "ABORTED"


def test_requests_are_dispatched_without_listing_motos_package(local_aws, monkeypatch):
    """Listing moto's folder on each request cost the server ~1 ms (a third of a small PutObject)."""
    import os

    import moto

    package = os.path.dirname(moto.__file__)
    s3, sts = local_aws.client("s3"), local_aws.client("sts")
    bucket = "dispatch-check"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": local_aws.region})

    def requests(key: str) -> None:
        s3.put_object(Bucket=bucket, Key=key, Body=b"png")
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"png"
        assert sts.get_caller_identity()["Account"]

    requests("first.png")  # moto loads each service's botocore model once, which lists folders
    listed: list[str] = []
    real_listdir = os.listdir

    def listdir(path="."):
        if os.fspath(path) == package:
            listed.append(path)
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", listdir)
    for index in range(3):
        requests(f"again-{index}.png")
    assert listed == []


def test_a_bucket_with_delete_markers_empties_after_versioning_is_suspended(local_aws):
    """terraform destroy suspends versioning, then empties the bucket (force_destroy) and deletes it."""
    s3 = local_aws.client("s3")
    bucket = "suspended-versions"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": local_aws.region})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="code/preprocessor.py", Body=b"print()")
    s3.put_object(Bucket=bucket, Key="datasets/manifest.json", Body=b"{}")
    s3.delete_object(Bucket=bucket, Key="code/preprocessor.py")  # leaves a delete marker
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})

    listed = s3.list_object_versions(Bucket=bucket)
    versions = [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]
    assert len(versions) == 3
    result = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions]}
    )
    assert result.get("Errors", []) == []
    listed = s3.list_object_versions(Bucket=bucket)
    assert listed.get("Versions", []) == listed.get("DeleteMarkers", []) == []
    s3.delete_bucket(Bucket=bucket)
