"""Lambda function URLs on the embedded AWS (scripts/local_aws/function_urls.py): served as Lambda serves them."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import pytest
from botocore.credentials import Credentials
from demo.api_client import post

from tests.conftest import fixture_role

ECHO = """
import base64, json

def handler(event, context):
    if event["rawPath"] == "/fail":
        raise RuntimeError("asked to fail")
    if event["rawPath"] == "/plain":
        return {"plain": True}
    return {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json", "X-Echo": "yes"},
        "cookies": ["session=1"],
        "body": json.dumps({"event": event}),
    }
"""
LOCAL = Credentials("local", "local")


@pytest.fixture(scope="module")
def echo_url(local_aws, lambda_zips):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", ECHO)
    role = fixture_role(local_aws.client("iam"), "echo-url")
    awslambda = local_aws.client("lambda")
    awslambda.create_function(
        FunctionName="echo-url",
        Runtime="python3.11",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=10,
    )
    return awslambda.create_function_url_config(FunctionName="echo-url", AuthType="AWS_IAM")["FunctionUrl"]


@pytest.fixture
def invocations(local_aws, monkeypatch):
    """The functions the embedded Lambda ran during the test."""
    ran: list[str] = []
    runtime_invoke = local_aws.lambdas.invoke

    def invoke(fn, event):
        ran.append(fn.function_name)
        return runtime_invoke(fn, event)

    monkeypatch.setattr(local_aws.lambdas, "invoke", invoke)
    return ran


def test_a_signed_request_reaches_the_function_as_a_payload_2_event(local_aws, echo_url, invocations):
    answer = post(echo_url + "photos?size=1&size=2", b"\x89PNG\r\n", "image/png", local_aws.region, credentials=LOCAL)

    assert answer.status == 201
    event = answer.body["event"]
    assert (event["version"], event["routeKey"], event["rawPath"]) == ("2.0", "$default", "/photos")
    assert event["queryStringParameters"] == {"size": "1,2"}
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x89PNG\r\n"
    assert event["requestContext"]["authorizer"]["iam"]["accessKey"] == "local"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["headers"]["content-type"] == "image/png"
    assert invocations == ["echo-url"]


def test_a_plain_json_result_is_a_200_json_body(local_aws, echo_url):
    answer = post(echo_url + "plain", b"{}", "application/json", local_aws.region, credentials=LOCAL)

    assert (answer.status, answer.body) == (200, {"plain": True})


@pytest.mark.parametrize(
    ("credentials", "sign"),
    [(None, False), (Credentials("local", "not-the-secret"), True), (Credentials("stranger", "x"), True)],
    ids=["unsigned", "wrong-secret", "unknown-key"],
)
def test_requests_without_a_valid_signature_are_forbidden_and_run_nothing(
    local_aws, echo_url, invocations, credentials, sign
):
    answer = post(echo_url, b"{}", "application/json", local_aws.region, sign=sign, credentials=credentials)

    assert answer.status == 403
    assert answer.body["Message"].startswith("Forbidden")
    assert invocations == []


def test_a_request_signed_for_another_region_is_forbidden(echo_url, invocations):
    answer = post(echo_url, b"{}", "application/json", "us-east-1", credentials=LOCAL)

    assert answer.status == 403
    assert invocations == []


def test_a_body_over_the_invocation_payload_limit_is_refused_before_the_function_runs(local_aws, echo_url, invocations):
    answer = post(echo_url, bytes(5 * 2**20), "image/png", local_aws.region, credentials=LOCAL)  # 6.7 MB in base64

    assert answer.status == 413
    assert invocations == []


def test_a_function_error_is_a_502(local_aws, echo_url):
    answer = post(echo_url + "fail", b"{}", "application/json", local_aws.region, credentials=LOCAL)

    assert answer.status == 502


def test_the_function_url_is_one_the_embedded_aws_answers(local_aws, echo_url):
    assert echo_url.startswith(f"{local_aws.endpoint_url}/lambda-url/")
    config = local_aws.client("lambda").get_function_url_config(FunctionName="echo-url")
    assert (config["FunctionUrl"], config["AuthType"]) == (echo_url, "AWS_IAM")
    assert json.dumps(config, default=str)


def test_add_permission_stores_the_function_url_conditions_as_lambda_does():
    """FunctionUrlAuthType and InvokedViaFunctionUrl become the statement's conditions (API_AddPermission)."""
    from local_aws.function_urls import url_permission_conditions

    url = url_permission_conditions({"Action": "lambda:InvokeFunctionUrl", "FunctionUrlAuthType": "NONE"})
    via = url_permission_conditions({"Action": "lambda:InvokeFunction", "InvokedViaFunctionUrl": True})
    plain = url_permission_conditions({"Action": "lambda:InvokeFunction", "Condition": {"ArnLike": {"a": "b"}}})

    assert url == {
        "Action": "lambda:InvokeFunctionUrl",
        "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}},
    }
    assert via["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
    assert plain["Condition"] == {"ArnLike": {"a": "b"}}


@pytest.fixture(scope="module")
def public_url(local_aws):
    """An AuthType NONE URL of the echo function's code, with the permissions given per test."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", ECHO)
    awslambda = local_aws.client("lambda")
    awslambda.create_function(
        FunctionName="public-echo-url",
        Runtime="python3.11",
        Role=fixture_role(local_aws.client("iam"), "public-echo-url"),
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=10,
    )
    return awslambda.create_function_url_config(FunctionName="public-echo-url", AuthType="NONE")["FunctionUrl"]


def _get(url: str) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_none_url_runs_only_what_its_resource_policy_makes_public(local_aws, public_url, invocations):
    awslambda = local_aws.client("lambda")
    # No permission: Lambda refuses the request (urls-auth.html, the NONE auth type).
    assert _get(public_url)[0] == 403
    awslambda.add_permission(
        FunctionName="public-echo-url",
        StatementId="url",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    # InvokeFunctionUrl alone is not enough since October 2025.
    status, body = _get(public_url)
    assert status == 403
    assert "lambda:InvokeFunction" in body["Message"]
    awslambda.add_permission(
        FunctionName="public-echo-url",
        StatementId="invoke",
        Action="lambda:InvokeFunction",
        Principal="*",
        InvokedViaFunctionUrl=True,
    )

    status, body = _get(public_url)

    assert status == 201
    assert "authorizer" not in body["event"]["requestContext"]  # nothing was authenticated
    assert invocations == ["public-echo-url"]
