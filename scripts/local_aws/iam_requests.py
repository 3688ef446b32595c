"""What each API call the stack makes needs from IAM: its actions, resource ARNs and condition keys.

An HTTP request to the embedded AWS becomes an `ApiCall` (service, operation, parameters) from its SigV4
credential scope and its protocol (X-Amz-Target for the JSON protocols, `Action=` for the query protocol, the
method and path for Lambda, SageMaker Runtime and S3). `needs()` turns a call into the authorization requests
AWS makes for it, as the Service Authorization Reference lists them per action (resource types, condition keys,
dependent actions: https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html):

- SageMaker (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html):
  a Create* call that carries Tags also needs sagemaker:AddTags on the new resource (listed as a dependent
  action of CreateTrainingJob, CreateModel, CreateEndpointConfig, CreateEndpoint); a call that hands SageMaker a
  role (RoleArn, ExecutionRoleArn) needs iam:PassRole on it with iam:PassedToService = sagemaker.amazonaws.com
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html); CreateEndpoint and
  UpdateEndpoint are authorized on the endpoint and on the endpoint config. SageMaker lowercases names in ARNs.
- S3 (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html): GET/HEAD of an
  object is s3:GetObject, PUT s3:PutObject (a copy also s3:GetObject on the source), listing a bucket
  s3:ListBucket with the s3:prefix condition key, as the request gives it.
- SageMaker's Model Registry: a versioned model package's ARN is model-package/<group>/<version>
  (https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-models.html); CreateModelPackage is authorized
  on the group and on model-package/<group>/* (the version is only known once the call succeeds) with the
  sagemaker:ModelApprovalStatus condition key; Describe/Update/DeleteModelPackage on the package.
- Step Functions, Lambda, SQS, SNS, EventBridge, CloudWatch Logs, CloudWatch, KMS as their reference pages list.
  sts:GetCallerIdentity needs no permission
  (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).

A call not in the table is authorized as `<service>:<Operation>` on "*" and marked `mapped = False`, so a policy
scoped to ARNs refuses it and the denial says the embedded AWS does not know the call's resource: add it here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

# SigV4 signing names whose IAM service prefix differs.
IAM_PREFIX = {"monitoring": "cloudwatch", "execute-api": "execute-api"}
JSON_TARGET_PREFIXES = {
    "SageMaker": "sagemaker",
    "AWSStepFunctions": "states",
    "AmazonSQS": "sqs",
    "AWSEvents": "events",
    "Logs_20140328": "logs",
    "TrentService": "kms",
    "GraniteServiceVersion20100801": "cloudwatch",
    "DynamoDB_20120810": "dynamodb",
    "AWSCognitoIdentityProviderService": "cognito-idp",
}
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


@dataclass(frozen=True)
class Need:
    """One authorization request an API call makes: an action on a resource, with the call's condition keys."""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)
    mapped: bool = True


@dataclass
class ApiCall:
    service: str  # the IAM service prefix (sagemaker, states, s3, ...)
    operation: str  # the API operation (CreateTrainingJob, GetObject, ...)
    params: dict[str, Any]
    region: str
    account: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)


def credential_scope(environ: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(access key id, region, signing name) of a SigV4-signed request (header or presigned query)."""
    auth = environ.get("HTTP_AUTHORIZATION") or ""
    match = _CREDENTIAL.search(auth)
    if match is None:
        query = parse_qs(environ.get("QUERY_STRING") or "")
        credential = (query.get("X-Amz-Credential") or [""])[0]
        match = _CREDENTIAL.search(f"Credential={credential}")
    return (match.group(1), match.group(2), match.group(3)) if match else None


def _path(environ: Mapping[str, Any]) -> str:
    path = environ.get("PATH_INFO") or "/"
    return path.encode("latin-1").decode("utf-8", "replace") if isinstance(path, str) else path.decode()


def parse_call(environ: Mapping[str, Any], body: bytes, region: str, signing_name: str) -> ApiCall:
    """The API call an HTTP request makes (operation "Unknown" when it cannot be told)."""
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = _path(environ)
    query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING") or "", keep_blank_values=True).items()}
    target = headers.get("x-amz-target")
    if target and "." in target:
        prefix, _, operation = target.rpartition(".")
        service = JSON_TARGET_PREFIXES.get(prefix, IAM_PREFIX.get(signing_name, signing_name))
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        return ApiCall(service, operation, params if isinstance(params, dict) else {}, region, headers=headers)
    if "application/x-www-form-urlencoded" in headers.get("content-type", "") and signing_name != "s3":
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        return ApiCall(
            IAM_PREFIX.get(signing_name, signing_name), form.get("Action", "Unknown"), form, region, headers=headers
        )
    if signing_name == "s3":
        return _s3_call(method, path, query, headers, region)
    if signing_name == "lambda":
        match = re.fullmatch(r"/2015-03-31/functions/([^/]+)/invocations", path)
        if match and method == "POST":
            params = {"FunctionName": unquote(match.group(1)), "Qualifier": query.get("Qualifier")}
            return ApiCall("lambda", "Invoke", params, region, headers=headers)
    if signing_name == "sagemaker":
        match = re.fullmatch(r"/endpoints/([^/]+)/(invocations|async-invocations)", path)
        if match and method == "POST":
            operation = "InvokeEndpoint" if match.group(2) == "invocations" else "InvokeEndpointAsync"
            return ApiCall("sagemaker", operation, {"EndpointName": unquote(match.group(1))}, region, headers=headers)
    return ApiCall(IAM_PREFIX.get(signing_name, signing_name), "Unknown", {"path": path, "method": method}, region)


def _s3_call(method: str, path: str, query: dict[str, str], headers: Mapping[str, str], region: str) -> ApiCall:
    bucket, _, key = path.lstrip("/").partition("/")
    params: dict[str, Any] = {"Bucket": bucket, "Key": key, **query}
    if not key:
        if method in ("GET", "HEAD") and "location" in query:
            operation = "GetBucketLocation"
        elif method == "POST" and "delete" in query:
            operation = "DeleteObjects"
        elif method in ("GET", "HEAD") and not (
            set(query)
            - {
                "list-type",
                "prefix",
                "delimiter",
                "max-keys",
                "continuation-token",
                "start-after",
                "marker",
                "encoding-type",
                "fetch-owner",
            }
        ):
            operation = "ListObjectsV2" if method == "GET" else "HeadBucket"
        else:
            operation = "UnknownBucketOperation"
    elif method in ("GET", "HEAD"):
        operation = "GetObject" if method == "GET" else "HeadObject"
    elif method == "PUT":
        operation = "CopyObject" if "x-amz-copy-source" in headers else "PutObject"
        params["CopySource"] = headers.get("x-amz-copy-source")
    elif method == "POST" and ("uploads" in query or "uploadId" in query):
        operation = "CreateMultipartUpload" if "uploads" in query else "CompleteMultipartUpload"
    elif method == "DELETE":
        operation = "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    else:
        operation = "UnknownObjectOperation"
    return ApiCall("s3", operation, params, region, headers=headers)


# -- what each call needs ------------------------------------------------------------------------------------------
class _Arns:
    def __init__(self, call: ApiCall) -> None:
        self.region, self.account = call.region, call.account

    def sagemaker(self, kind: str, name: Any) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{kind}/{str(name).lower()}"

    def states(self, arn: Any) -> str:
        return str(arn)

    def lambda_function(self, name: Any, qualifier: Any = None) -> str:
        name = str(name)
        if name.startswith("arn:"):
            return name
        if name.count(":") == 2:  # ACCOUNT:function:NAME, a partial ARN
            return f"arn:aws:lambda:{self.region}:{name}"
        base = f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
        return f"{base}:{qualifier}" if qualifier else base

    def sqs_queue(self, url: Any) -> str:
        parts = urlparse(str(url)).path.strip("/").split("/")
        account, name = (parts[-2], parts[-1]) if len(parts) >= 2 else (self.account, parts[-1])
        return f"arn:aws:sqs:{self.region}:{account}:{name}"

    def event_bus(self, name: Any) -> str:
        name = str(name or "default")
        return name if name.startswith("arn:") else f"arn:aws:events:{self.region}:{self.account}:event-bus/{name}"

    def event_rule(self, name: Any, bus: Any = None) -> str:
        bus_name = str(bus or "default").rsplit("/", 1)[-1]
        path = f"rule/{name}" if bus_name == "default" else f"rule/{bus_name}/{name}"
        return f"arn:aws:events:{self.region}:{self.account}:{path}"

    def log_group(self, name: Any, stream: Any = None) -> str:
        base = f"arn:aws:logs:{self.region}:{self.account}:log-group:{name}"
        return f"{base}:log-stream:{stream}" if stream is not None else base

    def kms_key(self, key_id: Any) -> str:
        key = str(key_id)
        return key if key.startswith("arn:") else f"arn:aws:kms:{self.region}:{self.account}:key/{key}"


def _tags(tags: Any) -> dict[str, Any]:
    """aws:RequestTag/<key> and aws:TagKeys of a Tags list ([{Key, Value}]) or map."""
    pairs = (
        [(str(t.get("Key")), str(t.get("Value", ""))) for t in tags if isinstance(t, Mapping)]
        if isinstance(tags, list)
        else [(str(k), str(v)) for k, v in tags.items()]
        if isinstance(tags, Mapping)
        else []
    )
    return {"aws:TagKeys": [k for k, _ in pairs], **{f"aws:RequestTag/{k}": v for k, v in pairs}}


def _pass_role(role_arn: Any, service: str = "sagemaker.amazonaws.com") -> list[Need]:
    return [Need("iam:PassRole", str(role_arn), {"iam:PassedToService": service})] if role_arn else []


def _sagemaker_create(kind: str, name_key: str, role_key: str | None = None) -> Callable[[ApiCall, _Arns], list[Need]]:
    def needs(call: ApiCall, arns: _Arns) -> list[Need]:
        params = call.params
        arn = arns.sagemaker(kind, params.get(name_key, ""))
        tags = _tags(params.get("Tags"))
        action = f"sagemaker:{call.operation}"
        required = [Need(action, arn, tags)]
        if kind == "endpoint":
            required.append(Need(action, arns.sagemaker("endpoint-config", params.get("EndpointConfigName", ""))))
        if role_key:
            required += _pass_role(params.get(role_key))
        if tags["aws:TagKeys"]:
            required.append(Need("sagemaker:AddTags", arn, tags))
        return required

    return needs


Rule = Callable[[ApiCall, _Arns], list[Need]]


def _on(resource: Callable[[ApiCall, _Arns], str], action: str | None = None) -> Rule:
    """The call's own action (`<service>:<Operation>`, or `action`) on one resource."""
    return lambda call, arns: [Need(action or f"{call.service}:{call.operation}", resource(call, arns))]


def _param(key: str) -> Callable[[ApiCall, _Arns], str]:
    """A resource ARN the call passes as a parameter."""
    return lambda call, _arns: str(call.params.get(key) or "")


def _sagemaker_on(kind: str, name_key: str) -> Rule:
    return _on(lambda call, arns: arns.sagemaker(kind, call.params.get(name_key, "")))


def _queue(action: str) -> Rule:
    return _on(lambda call, arns: arns.sqs_queue(call.params.get("QueueUrl", "")), action)


def _kms(action: str) -> Rule:
    return _on(lambda call, arns: arns.kms_key(call.params.get("KeyId", "")), action)


def _rule(name_key: str) -> Rule:
    return _on(lambda call, arns: arns.event_rule(call.params.get(name_key, ""), call.params.get("EventBusName")))


def _group_name(call: ApiCall) -> str:
    """A ModelPackageGroupName parameter (a name or an ARN) as a name."""
    return str(call.params.get("ModelPackageGroupName") or "").rsplit("/", 1)[-1]


def _model_package(call: ApiCall, arns: _Arns, key: str) -> str:
    value = str(call.params.get(key) or "")
    return value.lower() if value.startswith("arn:") else arns.sagemaker("model-package", value)


def _create_model_package(call: ApiCall, arns: _Arns) -> list[Need]:
    group = _group_name(call)
    tags = _tags(call.params.get("Tags"))
    context = {**tags, "sagemaker:ModelApprovalStatus": str(call.params.get("ModelApprovalStatus") or "")}
    package = arns.sagemaker("model-package", f"{group}/*" if group else call.params.get("ModelPackageName", ""))
    required = [Need("sagemaker:CreateModelPackage", package, context)]
    if group:
        required.append(Need("sagemaker:CreateModelPackage", arns.sagemaker("model-package-group", group), context))
    if tags["aws:TagKeys"]:
        required.append(Need("sagemaker:AddTags", package, tags))
    return required


def _describe_alarms(call: ApiCall, arns: _Arns) -> list[Need]:
    """One request per alarm named (AlarmNames, or AlarmNames.member.N in the query protocol); all alarms without."""
    names = call.params.get("AlarmNames")
    if not isinstance(names, list):
        names = [v for k, v in sorted(call.params.items()) if k.startswith("AlarmNames.member.")]
    base = f"arn:aws:cloudwatch:{arns.region}:{arns.account}:alarm:"
    return [Need("cloudwatch:DescribeAlarms", base + str(name)) for name in names] or [
        Need("cloudwatch:DescribeAlarms", base + "*")
    ]


_S3_LIST_KEYS = (("s3:prefix", "prefix"), ("s3:delimiter", "delimiter"), ("s3:max-keys", "max-keys"))


def _s3(action: str, on_bucket: bool = False) -> Rule:
    def needs(call: ApiCall, _arns: _Arns) -> list[Need]:
        bucket, key = call.params.get("Bucket", ""), call.params.get("Key", "")
        if on_bucket:
            context = {name: call.params[query] for name, query in _S3_LIST_KEYS if query in call.params}
            return [Need(action, f"arn:aws:s3:::{bucket}", context)]
        required = [Need(action, f"arn:aws:s3:::{bucket}/{key}")]
        source = call.params.get("CopySource")
        if source:
            required.append(Need("s3:GetObject", f"arn:aws:s3:::{unquote(str(source)).lstrip('/').split('?')[0]}"))
        return required

    return needs


def _put_events(call: ApiCall, arns: _Arns) -> list[Need]:
    # events:source and events:detail-type are PutEvents' condition keys
    # (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html).
    return [
        Need(
            "events:PutEvents",
            arns.event_bus(entry.get("EventBusName")),
            {"events:source": str(entry.get("Source", "")), "events:detail-type": str(entry.get("DetailType", ""))},
        )
        for entry in call.params.get("Entries") or [{}]
        if isinstance(entry, Mapping)
    ]


def _logs(call: ApiCall, arns: _Arns) -> list[Need]:
    group = call.params.get("logGroupName", "")
    stream = call.params.get("logStreamName") if call.operation in ("PutLogEvents", "CreateLogStream") else None
    return [Need(f"logs:{call.operation}", arns.log_group(group, stream))]


def _lambda_function(call: ApiCall, arns: _Arns) -> str:
    return arns.lambda_function(call.params.get("FunctionName", ""), call.params.get("Qualifier"))


def _queue_by_name(call: ApiCall, arns: _Arns) -> str:
    owner = call.params.get("QueueOwnerAWSAccountId") or arns.account
    return f"arn:aws:sqs:{arns.region}:{owner}:{call.params.get('QueueName', '')}"


NEEDS: dict[tuple[str, str], Rule] = {
    # SageMaker
    ("sagemaker", "CreateTrainingJob"): _sagemaker_create("training-job", "TrainingJobName", "RoleArn"),
    ("sagemaker", "CreateProcessingJob"): _sagemaker_create("processing-job", "ProcessingJobName", "RoleArn"),
    ("sagemaker", "CreateModel"): _sagemaker_create("model", "ModelName", "ExecutionRoleArn"),
    ("sagemaker", "CreateEndpointConfig"): _sagemaker_create("endpoint-config", "EndpointConfigName"),
    ("sagemaker", "CreateEndpoint"): _sagemaker_create("endpoint", "EndpointName"),
    ("sagemaker", "UpdateEndpoint"): lambda call, arns: [
        Need("sagemaker:UpdateEndpoint", arns.sagemaker("endpoint", call.params.get("EndpointName", ""))),
        Need("sagemaker:UpdateEndpoint", arns.sagemaker("endpoint-config", call.params.get("EndpointConfigName", ""))),
    ],
    **{
        ("sagemaker", operation): _sagemaker_on(kind, name_key)
        for operation, kind, name_key in (
            ("DescribeTrainingJob", "training-job", "TrainingJobName"),
            ("StopTrainingJob", "training-job", "TrainingJobName"),
            ("DescribeProcessingJob", "processing-job", "ProcessingJobName"),
            ("DescribeModel", "model", "ModelName"),
            ("DeleteModel", "model", "ModelName"),
            ("DescribeEndpointConfig", "endpoint-config", "EndpointConfigName"),
            ("DeleteEndpointConfig", "endpoint-config", "EndpointConfigName"),
            ("DescribeEndpoint", "endpoint", "EndpointName"),
            ("DeleteEndpoint", "endpoint", "EndpointName"),
            ("UpdateEndpointWeightsAndCapacities", "endpoint", "EndpointName"),
            ("InvokeEndpoint", "endpoint", "EndpointName"),
            ("InvokeEndpointAsync", "endpoint", "EndpointName"),
            ("DescribeMonitoringSchedule", "monitoring-schedule", "MonitoringScheduleName"),
        )
    },
    ("sagemaker", "ListMonitoringExecutions"): _on(lambda call, arns: "*"),
    # The Model Registry: a versioned package is model-package/<group>/<version>, so CreateModelPackage is
    # authorized on its group and on the group's packages (the version is not known before the call).
    ("sagemaker", "CreateModelPackage"): _create_model_package,
    ("sagemaker", "DescribeModelPackage"): _on(lambda call, arns: _model_package(call, arns, "ModelPackageName")),
    ("sagemaker", "UpdateModelPackage"): _on(lambda call, arns: _model_package(call, arns, "ModelPackageArn")),
    ("sagemaker", "DeleteModelPackage"): _on(lambda call, arns: _model_package(call, arns, "ModelPackageName")),
    ("sagemaker", "ListModelPackages"): _on(
        lambda call, arns: arns.sagemaker("model-package", f"{_group_name(call)}/*" if _group_name(call) else "*")
    ),
    ("sagemaker", "DescribeModelPackageGroup"): _on(
        lambda call, arns: arns.sagemaker("model-package-group", _group_name(call))
    ),
    ("sagemaker", "DeleteModelPackageGroup"): _on(
        lambda call, arns: arns.sagemaker("model-package-group", _group_name(call))
    ),
    ("sagemaker", "AddTags"): lambda call, arns: [
        Need("sagemaker:AddTags", str(call.params.get("ResourceArn", "")), _tags(call.params.get("Tags")))
    ],
    ("sagemaker", "ListTags"): _on(_param("ResourceArn")),
    # Step Functions (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html)
    **{
        ("states", operation): _on(_param(key))
        for operation, key in (
            ("StartExecution", "stateMachineArn"),
            ("StartSyncExecution", "stateMachineArn"),
            ("ListExecutions", "stateMachineArn"),
            ("DescribeStateMachine", "stateMachineArn"),
            ("DescribeExecution", "executionArn"),
            ("GetExecutionHistory", "executionArn"),
            ("StopExecution", "executionArn"),
        )
    },
    # Task tokens: no resource type ("*") in the reference.
    **{
        ("states", op): _on(lambda call, arns: "*")
        for op in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat")
    },
    # Lambda (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html)
    ("lambda", "Invoke"): _on(_lambda_function, "lambda:InvokeFunction"),
    # S3
    ("s3", "GetObject"): _s3("s3:GetObject"),
    ("s3", "HeadObject"): _s3("s3:GetObject"),
    ("s3", "PutObject"): _s3("s3:PutObject"),
    ("s3", "CopyObject"): _s3("s3:PutObject"),
    ("s3", "CreateMultipartUpload"): _s3("s3:PutObject"),
    ("s3", "CompleteMultipartUpload"): _s3("s3:PutObject"),
    ("s3", "AbortMultipartUpload"): _s3("s3:AbortMultipartUpload"),
    ("s3", "DeleteObject"): _s3("s3:DeleteObject"),
    ("s3", "ListObjectsV2"): _s3("s3:ListBucket", on_bucket=True),
    ("s3", "HeadBucket"): _s3("s3:ListBucket", on_bucket=True),
    ("s3", "GetBucketLocation"): _s3("s3:GetBucketLocation", on_bucket=True),
    # SQS (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html): the batch calls
    # are authorized as their single-message actions.
    ("sqs", "SendMessage"): _queue("sqs:SendMessage"),
    ("sqs", "SendMessageBatch"): _queue("sqs:SendMessage"),
    ("sqs", "ReceiveMessage"): _queue("sqs:ReceiveMessage"),
    ("sqs", "DeleteMessage"): _queue("sqs:DeleteMessage"),
    ("sqs", "DeleteMessageBatch"): _queue("sqs:DeleteMessage"),
    ("sqs", "ChangeMessageVisibility"): _queue("sqs:ChangeMessageVisibility"),
    ("sqs", "GetQueueAttributes"): _queue("sqs:GetQueueAttributes"),
    ("sqs", "GetQueueUrl"): _on(_queue_by_name),
    # SNS (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsns.html)
    ("sns", "Publish"): _on(lambda call, arns: str(call.params.get("TopicArn") or call.params.get("TargetArn") or "")),
    # EventBridge (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridge.html)
    ("events", "PutEvents"): _put_events,
    ("events", "PutRule"): _rule("Name"),
    ("events", "DescribeRule"): _rule("Name"),
    ("events", "PutTargets"): _rule("Rule"),
    # CloudWatch Logs (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html)
    ("logs", "CreateLogGroup"): _logs,
    ("logs", "CreateLogStream"): _logs,
    ("logs", "PutLogEvents"): _logs,
    ("logs", "DescribeLogStreams"): _logs,
    # CloudWatch: PutMetricData has no resource type; cloudwatch:namespace is its condition key
    # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html).
    ("cloudwatch", "PutMetricData"): lambda call, arns: [
        Need("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": str(call.params.get("Namespace", ""))})
    ],
    ("cloudwatch", "DescribeAlarms"): _describe_alarms,
    # DynamoDB item calls, on the table (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html)
    **{
        ("dynamodb", operation): _on(
            lambda call, arns: f"arn:aws:dynamodb:{arns.region}:{arns.account}:table/{call.params.get('TableName', '')}"
        )
        for operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "DescribeTable")
    },
    # KMS (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html)
    **{
        ("kms", operation): _kms(f"kms:{operation}")
        for operation in ("Decrypt", "Encrypt", "GenerateDataKey", "DescribeKey", "CreateGrant")
    },
}
# Cognito user pools' unauthenticated operations: authorized by the client id or a user's token, "Amazon Cognito
# doesn't evaluate AWS Identity and Access Management (IAM) policies in requests for this API operation"
# (https://docs.aws.amazon.com/cognito/latest/developerguide/user-pools-API-operations.html; e.g.
# https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_GetUser.html). They are usually
# sent unsigned; a signed one is not checked either.
COGNITO_UNAUTHENTICATED = (
    "InitiateAuth",
    "RespondToAuthChallenge",
    "GetUser",
    "GlobalSignOut",
    "RevokeToken",
    "ChangePassword",
    "SignUp",
    "ConfirmSignUp",
    "ForgotPassword",
    "ConfirmForgotPassword",
)
FREE_OF_PERMISSIONS = {("sts", "GetCallerIdentity"), *(("cognito-idp", op) for op in COGNITO_UNAUTHENTICATED)}


def needs(call: ApiCall) -> list[Need]:
    """The authorization requests one API call makes (none for calls that need no permission)."""
    if (call.service, call.operation) in FREE_OF_PERMISSIONS:
        return []
    rule = NEEDS.get((call.service, call.operation))
    if rule is None:
        return [Need(f"{call.service}:{call.operation}", "*", mapped=False)]
    return rule(call, _Arns(call))
