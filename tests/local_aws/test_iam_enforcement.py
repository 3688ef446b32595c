"""IAM executed on the embedded AWS: calls made with a role's credentials succeed only where its policy allows.

Each test gives a role exactly the statements it names and checks what a platform team would meet on AWS: the
call the policy misses fails with AWS's access-denied error and message, the one it allows goes through, and
both are in the call log.
"""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
BUCKET = "iam-enforcement-test"


def make_role(iam, name: str, service: str, *statements: dict) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if statements:
        iam.put_role_policy(
            RoleName=name,
            PolicyName=f"{name}-permissions",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
        )
    return arn


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


READER = """\
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    try:
        body = boto3.client("s3").get_object(Bucket=event["bucket"], Key=event["key"])["Body"].read().decode()
        return {"ok": True, "body": body}
    except ClientError as error:
        return {"ok": False, "code": error.response["Error"]["Code"], "message": error.response["Error"]["Message"]}
"""


@pytest.fixture(scope="module")
def bucket(local_aws):
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": local_aws.region})
    s3.put_object(Bucket=BUCKET, Key="allowed/a.txt", Body=b"granted")
    s3.put_object(Bucket=BUCKET, Key="private/b.txt", Body=b"secret")
    return BUCKET


def invoke(local_aws, name: str, event: dict) -> dict:
    response = local_aws.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return json.loads(response["Payload"].read())


def test_a_functions_calls_are_checked_against_its_execution_role(local_aws, bucket):
    role = make_role(
        local_aws.client("iam"),
        "iam-test-reader",
        "lambda.amazonaws.com",
        {
            "Sid": "ReadAllowed",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/allowed/*",
        },
    )
    local_aws.client("lambda").create_function(
        FunctionName="iam-test-reader",
        Runtime="python3.11",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": zipped(READER)},
    )

    assert invoke(local_aws, "iam-test-reader", {"bucket": bucket, "key": "allowed/a.txt"}) == {
        "ok": True,
        "body": "granted",
    }
    denied = invoke(local_aws, "iam-test-reader", {"bucket": bucket, "key": "private/b.txt"})
    assert denied["code"] == "AccessDenied"
    assert denied["message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/iam-test-reader/iam-test-reader is not authorized to perform: "
        f"s3:GetObject on resource: arn:aws:s3:::{bucket}/private/b.txt because no identity-based policy allows "
        "the s3:GetObject action"
    )
    logged = [(c["action"], c["resource"], c["allowed"]) for c in local_aws.iam.calls if c["role"] == role]
    assert ("s3:GetObject", f"arn:aws:s3:::{bucket}/allowed/a.txt", True) in logged
    assert ("s3:GetObject", f"arn:aws:s3:::{bucket}/private/b.txt", False) in logged
    assert ("sts:AssumeRole", role, True) in logged  # Lambda assumed the role for the sandbox


def test_a_function_whose_role_lambda_may_not_assume_does_not_run(local_aws):
    role = make_role(local_aws.client("iam"), "iam-test-wrong-trust", "states.amazonaws.com")
    local_aws.client("lambda").create_function(
        FunctionName="iam-test-wrong-trust",
        Runtime="python3.11",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": zipped(READER)},
    )
    response = local_aws.client("lambda").invoke(FunctionName="iam-test-wrong-trust", Payload=b"{}")
    error = json.loads(response["Payload"].read())
    assert response.get("FunctionError") == "Unhandled"
    assert "cannot be assumed by Lambda" in error["errorMessage"]


MODEL_TASK = {
    "StartAt": "CreateModel",
    "States": {
        "CreateModel": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createModel",
            "Parameters": {
                "ModelName.$": "$.name",
                "ExecutionRoleArn.$": "$.execution_role",
                "PrimaryContainer": {"Image": "local/serving", "ModelDataUrl": f"s3://{BUCKET}/model.tar.gz"},
            },
            "End": True,
        }
    },
}


def run(local_aws, machine: str, payload: dict) -> dict:
    sfn = local_aws.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + 60
    while (execution := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.2)
    return execution


@pytest.fixture(scope="module")
def execution_role(local_aws):
    return make_role(local_aws.client("iam"), "iam-test-sagemaker-execution", "sagemaker.amazonaws.com")


def machine_with(local_aws, name: str, execution_role: str, *statements: dict) -> str:
    create_and_pass = [
        {
            "Sid": "CreateModels",
            "Effect": "Allow",
            "Action": "sagemaker:CreateModel",
            "Resource": f"arn:aws:sagemaker:*:{ACCOUNT}:model/iam-test-*",
        },
        {
            "Sid": "PassExecutionRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": execution_role,
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        },
    ]
    role = make_role(local_aws.client("iam"), name, "states.amazonaws.com", *create_and_pass, *statements)
    return local_aws.client("stepfunctions").create_state_machine(
        name=name, definition=json.dumps(MODEL_TASK), roleArn=role
    )["stateMachineArn"]


def test_step_functions_tags_what_it_creates_so_the_role_needs_add_tags(local_aws, execution_role):
    without = machine_with(local_aws, "iam-test-no-addtags", execution_role)
    failed = run(local_aws, without, {"name": "iam-test-untagged", "execution_role": execution_role})
    assert failed["status"] == "FAILED"
    assert failed["error"] == "SageMaker.AmazonSageMakerException"
    assert "is not authorized to perform: sagemaker:AddTags on resource: " in failed["cause"]
    assert "model/iam-test-untagged" in failed["cause"]
    assert "Error Code: AccessDeniedException" in failed["cause"]
    with pytest.raises(ClientError):
        local_aws.client("sagemaker").describe_model(ModelName="iam-test-untagged")  # nothing half-created

    add_tags = {
        "Sid": "TagWhatStepFunctionsCreates",
        "Effect": "Allow",
        "Action": "sagemaker:AddTags",
        "Resource": f"arn:aws:sagemaker:*:{ACCOUNT}:model/iam-test-*",
        "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["MANAGED_BY_AWS"]}},
    }
    with_tags = machine_with(local_aws, "iam-test-addtags", execution_role, add_tags)
    assert (
        run(local_aws, with_tags, {"name": "iam-test-tagged", "execution_role": execution_role})["status"]
        == "SUCCEEDED"
    )
    sagemaker = local_aws.client("sagemaker")
    model_arn = sagemaker.describe_model(ModelName="iam-test-tagged")["ModelArn"]
    assert {"Key": "MANAGED_BY_AWS", "Value": "STARTED_BY_STEP_FUNCTIONS"} in sagemaker.list_tags(
        ResourceArn=model_arn
    )["Tags"]


def test_passing_a_role_the_policy_does_not_name_is_refused(local_aws, execution_role):
    other = make_role(local_aws.client("iam"), "iam-test-other-execution", "sagemaker.amazonaws.com")
    machine = f"arn:aws:states:{local_aws.region}:{ACCOUNT}:stateMachine:iam-test-addtags"
    failed = run(local_aws, machine, {"name": "iam-test-other-role", "execution_role": other})
    assert failed["status"] == "FAILED"
    assert f"is not authorized to perform: iam:PassRole on resource: {other}" in failed["cause"]


def test_a_state_machine_needs_a_role_step_functions_may_assume(local_aws):
    role = make_role(local_aws.client("iam"), "iam-test-lambda-trust", "lambda.amazonaws.com")
    with pytest.raises(ClientError) as refused:
        local_aws.client("stepfunctions").create_state_machine(
            name="iam-test-wrong-trust", definition=json.dumps(MODEL_TASK), roleArn=role
        )
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "states.amazonaws.com" in refused.value.response["Error"]["Message"]


def test_sagemaker_refuses_a_role_it_may_not_assume(local_aws):
    role = make_role(local_aws.client("iam"), "iam-test-not-sagemaker", "lambda.amazonaws.com")
    with pytest.raises(ClientError, match="Could not assume role"):
        local_aws.client("sagemaker").create_model(
            ModelName="iam-test-not-sagemaker",
            ExecutionRoleArn=role,
            PrimaryContainer={"Image": "local/serving", "ModelDataUrl": f"s3://{BUCKET}/model.tar.gz"},
        )


def test_eventbridge_invokes_a_function_only_where_its_resource_policy_allows(local_aws, bucket):
    iam, lam, events = local_aws.client("iam"), local_aws.client("lambda"), local_aws.client("events")
    role = make_role(
        iam,
        "iam-test-marker",
        "lambda.amazonaws.com",
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/events/*"},
    )
    marker = (
        "import boto3\n"
        "def handler(event, context):\n"
        '    boto3.client("s3").put_object(Bucket="%s", Key="events/" + event["id"], Body=b"")\n'
    )
    function_arn = lam.create_function(
        FunctionName="iam-test-marker",
        Runtime="python3.11",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": zipped(marker % bucket)},
    )["FunctionArn"]
    rule_arn = events.put_rule(Name="iam-test-rule", EventPattern=json.dumps({"source": ["iam.test"]}))["RuleArn"]
    events.put_targets(Rule="iam-test-rule", Targets=[{"Id": "marker", "Arn": function_arn}])
    s3 = local_aws.client("s3")

    def delivered(event_id: str, wait: float) -> bool:
        events.put_events(Entries=[{"Source": "iam.test", "DetailType": "t", "Detail": json.dumps({"n": event_id})}])
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="events/").get("Contents", [])]
            if keys:
                return True
            time.sleep(0.2)
        return False

    assert not delivered("first", wait=3.0)
    assert any(
        c["action"] == "lambda:InvokeFunction" and c["resource"] == function_arn and not c["allowed"]
        for c in local_aws.iam.calls
    )
    lam.add_permission(
        FunctionName="iam-test-marker",
        StatementId="AllowRule",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    assert delivered("second", wait=20.0)


def test_every_check_is_in_the_call_log_file(local_aws):
    lines = [json.loads(line) for line in local_aws.iam.log_path.read_text().splitlines()]
    assert len(lines) == len(local_aws.iam.calls) > 0
    assert {"principal", "role", "via", "action", "resource", "allowed", "reason"} <= set(lines[0])
    summary = local_aws.iam.summary()
    assert summary["calls_checked"] == len(lines)
    assert all(not entry["allowed"] for entry in summary["denied"])
