"""Express workflows on the embedded Step Functions behave as AWS documents (scripts/local_aws/sfn_express.py)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import fixture_role

REFUSED_FOR_EXPRESS = ("describe_execution", "get_execution_history", "stop_execution")


def machine(local_aws, name: str, definition: dict, machine_type: str, log_group: str | None = None) -> str:
    role = fixture_role(local_aws.client("iam"), f"{name}-role")
    logging = {"level": "OFF"}
    if log_group:
        logs = local_aws.client("logs")
        logs.create_log_group(logGroupName=log_group)
        arn = logs.describe_log_groups(logGroupNamePrefix=log_group)["logGroups"][0]["arn"]
        logging = {
            "level": "ALL",
            "includeExecutionData": False,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": arn if arn.endswith(":*") else f"{arn}:*"}}],
        }
    return local_aws.client("stepfunctions").create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=role, type=machine_type, loggingConfiguration=logging
    )["stateMachineArn"]


PASS = {"StartAt": "Answer", "States": {"Answer": {"Type": "Pass", "Parameters": {"route.$": "$.route"}, "End": True}}}
FAIL = {"StartAt": "Refuse", "States": {"Refuse": {"Type": "Fail", "Error": "ImageRejected", "Cause": "not a PNG"}}}
SLOW = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3, "End": True}}}


@pytest.fixture(scope="module")
def sfn(local_aws):
    # StartSyncExecution goes to sync-<host>; the embedded AWS listens on an IP address, which takes no prefix.
    return local_aws.client("stepfunctions", config=Config(inject_host_prefix=False))


@pytest.fixture(scope="module")
def express(local_aws) -> str:
    return machine(local_aws, "express-pass", PASS, "EXPRESS", log_group="/aws/vendedlogs/states/express-pass")


def test_start_sync_execution_answers_the_output_dates_and_billing(sfn, express):
    response = sfn.start_sync_execution(stateMachineArn=express, name="first", input=json.dumps({"route": "nearby"}))

    assert response["status"] == "SUCCEEDED"
    assert json.loads(response["output"]) == {"route": "nearby"}
    assert response["executionArn"].split(":")[5:8] == ["express", "express-pass", "first"]
    assert response["stateMachineArn"] == express
    assert timedelta(0) <= response["stopDate"] - response["startDate"] < timedelta(seconds=30)
    billing = response["billingDetails"]
    assert billing["billedMemoryUsedInMB"] == 64
    assert billing["billedDurationInMilliseconds"] >= 100
    assert billing["billedDurationInMilliseconds"] % 100 == 0


def test_a_failed_sync_execution_is_answered_with_its_error_not_an_http_error(local_aws, sfn):
    arn = machine(local_aws, "express-fail", FAIL, "EXPRESS")

    response = sfn.start_sync_execution(stateMachineArn=arn, input="{}")

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert (response["status"], response["error"], response["cause"]) == ("FAILED", "ImageRejected", "not a PNG")
    assert "output" not in response


@pytest.mark.parametrize("operation", REFUSED_FOR_EXPRESS)
def test_express_executions_have_no_history_to_describe_or_stop(sfn, express, operation):
    arn = sfn.start_sync_execution(stateMachineArn=express, input=json.dumps({"route": "distant"}))["executionArn"]

    with pytest.raises(ClientError) as refused:
        getattr(sfn, operation)(executionArn=arn)

    assert refused.value.response["Error"]["Code"] == "InvalidArn"
    assert "Resource type not valid in this context: express" in refused.value.response["Error"]["Message"]


def test_an_express_state_machine_cannot_list_its_executions(sfn, express):
    with pytest.raises(ClientError) as refused:
        sfn.list_executions(stateMachineArn=express)

    assert refused.value.response["Error"]["Code"] == "StateMachineTypeNotSupported"


def test_a_standard_state_machine_refuses_start_sync_execution(local_aws, sfn):
    arn = machine(local_aws, "standard-pass", PASS, "STANDARD")

    with pytest.raises(ClientError) as refused:
        sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps({"route": "nearby"}))

    assert refused.value.response["Error"]["Code"] == "StateMachineTypeNotSupported"
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"route": "nearby"}))["executionArn"]
    assert ":execution:" in started  # a Standard execution keeps its history
    assert sfn.get_execution_history(executionArn=started)["events"]


def test_invalid_input_is_refused_before_anything_runs(sfn, express):
    with pytest.raises(ClientError) as refused:
        sfn.start_sync_execution(stateMachineArn=express, input="{not json")

    assert refused.value.response["Error"]["Code"] == "InvalidExecutionInput"


def execution_log(local_aws, group: str, execution_arn: str, count: int, timeout: float = 10) -> list[dict]:
    """The execution's log events, read back the way AWS lets a reader: FilterLogEvents on execution_arn."""
    logs, deadline = local_aws.client("logs"), time.time() + timeout
    while True:
        events = logs.filter_log_events(logGroupName=group, filterPattern=f'{{ $.execution_arn = "{execution_arn}" }}')[
            "events"
        ]
        records = sorted((json.loads(e["message"]) for e in events), key=lambda r: int(r["id"]))
        if len(records) >= count or time.time() > deadline:
            return records
        time.sleep(0.1)


def test_express_executions_log_their_history_in_aws_format_without_execution_data(local_aws, sfn, express):
    group = "/aws/vendedlogs/states/express-pass"
    first = sfn.start_sync_execution(stateMachineArn=express, input=json.dumps({"route": "nearby"}))["executionArn"]
    sfn.start_sync_execution(stateMachineArn=express, input=json.dumps({"route": "distant"}))

    records = execution_log(local_aws, group, first, 4)

    assert [r["type"] for r in records] == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    assert {r["execution_arn"] for r in records} == {first}  # the other execution is filtered out
    assert records[1]["details"] == {"name": "Answer"}
    assert all(
        set(r) == {"id", "type", "details", "previous_event_id", "event_timestamp", "execution_arn", "redrive_count"}
        for r in records
    )
    assert all(r["event_timestamp"].isdigit() for r in records)
    assert "nearby" not in json.dumps(records)  # includeExecutionData is false: no inputs or outputs


def test_start_execution_on_express_runs_in_the_background_and_logs(local_aws, sfn, express):
    arn = sfn.start_execution(stateMachineArn=express, input=json.dumps({"route": "nearby"}))["executionArn"]

    assert ":express:" in arn
    records = execution_log(local_aws, "/aws/vendedlogs/states/express-pass", arn, 4)
    assert records[-1]["type"] == "ExecutionSucceeded"


def test_an_express_execution_past_its_time_limit_times_out(local_aws, sfn, monkeypatch):
    from local_aws import sfn_express

    arn = machine(local_aws, "express-slow", SLOW, "EXPRESS")
    monkeypatch.setattr(sfn_express, "MAX_DURATION_S", 0.5)

    response = sfn.start_sync_execution(stateMachineArn=arn, input="{}")

    assert response["status"] == "TIMED_OUT"
    assert response["stopDate"] - response["startDate"] < timedelta(seconds=3)


def test_json_filter_patterns_outside_what_is_implemented_are_refused(local_aws, express, sfn):
    sfn.start_sync_execution(stateMachineArn=express, input=json.dumps({"route": "nearby"}))
    with pytest.raises(ClientError) as refused:
        local_aws.client("logs").filter_log_events(
            logGroupName="/aws/vendedlogs/states/express-pass", filterPattern="{ $.id = 1 || $.id = 2 }"
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
