"""Lambda Invoke on the embedded AWS runs the deployed zip the way the Lambda service would."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest

POWERTOOLS_LAYER = "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:18"

HANDLERS = """
import json
import os
import time

from aws_lambda_powertools import Metrics

metrics = Metrics(namespace="RuntimeTest", service="runtime-test")


class NamedFailure(Exception):
    pass


def echo(event, context):
    return {"event": event, "env": os.environ.get("GREETING"), "function": context.function_name,
            "remaining_ms": context.get_remaining_time_in_millis()}


def fail(event, context):
    raise NamedFailure("it went wrong on purpose")


def returns_bytes(event, context):
    return b"not json"


def sleeps(event, context):
    time.sleep(5)


def exits(event, context):
    os._exit(3)


@metrics.log_metrics
def emits_metric(event, context):
    print("a log line from the handler")
    metrics.add_metric(name="ThingsDone", unit="Count", value=3)
    return "ok"
"""


def make_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def deploy(local_aws, lambda_zips):
    lam = local_aws.client("lambda")
    role = local_aws.client("iam").create_role(RoleName="runtime-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = make_zip({"handlers.py": HANDLERS})

    def create(name: str, handler: str, *, timeout: int = 3, layers=(POWERTOOLS_LAYER,), zip_bytes: bytes = code):
        lam.create_function(
            FunctionName=f"runtime-{name}",
            Runtime="python3.11",
            Role=role,
            Handler=handler,
            Code={"ZipFile": zip_bytes},
            Timeout=timeout,
            Layers=list(layers),
            Environment={"Variables": {"GREETING": "hello"}},
        )
        return f"runtime-{name}"

    return create


def invoke(local_aws, name: str, event: dict | None = None) -> tuple[str | None, dict | str]:
    response = local_aws.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event or {}))
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_handler_gets_event_environment_and_context(local_aws, deploy):
    name = deploy("echo", "handlers.echo")
    error, payload = invoke(local_aws, name, {"x": 1})
    assert error is None
    assert payload["event"] == {"x": 1}
    assert payload["env"] == "hello"
    assert payload["function"] == name
    assert 0 < payload["remaining_ms"] <= 3000


def test_a_handler_exception_is_reported_with_its_class_name(local_aws, deploy):
    error, payload = invoke(local_aws, deploy("fail", "handlers.fail"))
    assert error
    assert payload["errorType"] == "NamedFailure"
    assert payload["errorMessage"] == "it went wrong on purpose"


def test_returning_bytes_is_a_marshal_error_as_on_aws(local_aws, deploy):
    _error, payload = invoke(local_aws, deploy("bytes", "handlers.returns_bytes"))
    assert payload["errorType"] == "Runtime.MarshalError"


def test_a_missing_dependency_in_the_zip_fails_to_import(local_aws, deploy):
    # Pillow is in the developer's virtualenv but not in this zip: on AWS the import fails, so it must here.
    zip_bytes = make_zip({"app.py": "import PIL\n\ndef handler(event, context):\n    return 1\n"})
    name = deploy("no-pillow", "app.handler", zip_bytes=zip_bytes)
    _error, payload = invoke(local_aws, name)
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "PIL" in payload["errorMessage"]


def test_powertools_is_only_available_through_its_layer(local_aws, deploy):
    name = deploy("no-layer", "handlers.echo", layers=())
    _error, payload = invoke(local_aws, name)
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "aws_lambda_powertools" in payload["errorMessage"]


def test_a_handler_running_past_its_timeout_is_stopped(local_aws, deploy):
    started = time.monotonic()
    _error, payload = invoke(local_aws, deploy("slow", "handlers.sleeps", timeout=1))
    assert payload["errorType"] == "Sandbox.Timedout"
    assert time.monotonic() - started < 4


def test_a_crashing_runtime_is_an_exit_error_and_the_next_call_gets_a_fresh_one(local_aws, deploy):
    name = deploy("exits", "handlers.exits")
    for _ in range(2):
        _error, payload = invoke(local_aws, name)
        assert payload["errorType"] == "Runtime.ExitError"


def test_log_lines_reach_cloudwatch_logs_and_emf_lines_become_metrics(local_aws, deploy):
    name = deploy("metrics", "handlers.emits_metric")
    assert invoke(local_aws, name) == (None, "ok")
    logs = local_aws.client("logs")
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    messages = [
        e["message"]
        for s in streams
        for e in logs.get_log_events(logGroupName=f"/aws/lambda/{name}", logStreamName=s["logStreamName"])["events"]
    ]
    assert "a log line from the handler" in messages
    stats = local_aws.client("cloudwatch").get_metric_statistics(
        Namespace="RuntimeTest",
        MetricName="ThingsDone",
        Dimensions=[{"Name": "service", "Value": "runtime-test"}],
        StartTime=time.time() - 600,
        EndTime=time.time() + 60,
        Period=60,
        Statistics=["Sum"],
    )
    assert sum(point["Sum"] for point in stats["Datapoints"]) == 3
