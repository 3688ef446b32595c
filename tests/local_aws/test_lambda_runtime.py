"""Lambda Invoke on the embedded AWS runs the deployed zip the way the Lambda service would."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import time
import zipfile

import pytest
from local_aws.lambda_runtime import LambdaFault

from tests.conftest import fixture_role

POWERTOOLS_LAYER = "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:18"

HANDLERS = """
import json
import os
import signal
import time

from aws_lambda_powertools import Metrics

metrics = Metrics(namespace="RuntimeTest", service="runtime-test")


class NamedFailure(Exception):
    pass


def echo(event, context):
    return {"event": event, "env": os.environ.get("GREETING"), "function": context.function_name,
            "remaining_ms": context.get_remaining_time_in_millis(), "pid": os.getpid()}


def fail(event, context):
    raise NamedFailure("it went wrong on purpose")


def returns_bytes(event, context):
    return b"not json"


def sleeps(event, context):
    time.sleep(event.get("seconds", 5))
    return os.getpid()


def exits(event, context):
    os._exit(3)


def killed(event, context):
    os.kill(os.getpid(), signal.SIGKILL)  # what the OOM killer does


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
    role = fixture_role(local_aws.client("iam"), "runtime-test")
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


REQUEST_ID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def faults(local_aws):
    table = local_aws.lambdas.faults
    yield table
    table.clear()


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


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_handler_running_past_its_timeout_is_stopped_and_its_worker_replaced(local_aws, deploy):
    name = deploy("slow", "handlers.sleeps", timeout=2)
    _error, first_pid = invoke(local_aws, name, {"seconds": 0})  # warm: the init phase is behind us
    started = time.monotonic()
    response = local_aws.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"seconds": 30}), LogType="Tail")
    elapsed = time.monotonic() - started

    assert response["FunctionError"] == "Unhandled"
    payload = json.loads(response["Payload"].read())
    assert payload["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(f"RequestId: {REQUEST_ID} Error: Task timed out after 2.00 seconds", payload["errorMessage"])
    assert 2 <= elapsed < 5
    assert payload["errorMessage"] in base64.b64decode(response["LogResult"]).decode()
    assert gone(first_pid)
    error, pid = invoke(local_aws, name, {"seconds": 0})
    assert (error, pid != first_pid) == (None, True)


def test_a_slow_cold_start_does_not_count_against_the_timeout(local_aws, deploy):
    zip_bytes = make_zip({"app.py": "import time\n\ntime.sleep(2.5)\n\ndef handler(event, context):\n    return 1\n"})
    name = deploy("slow-init", "app.handler", timeout=2, zip_bytes=zip_bytes)
    assert invoke(local_aws, name) == (None, 1)


def test_a_crashing_runtime_is_an_exit_error_and_the_next_call_gets_a_fresh_one(local_aws, deploy):
    name = deploy("exits", "handlers.exits")
    for _ in range(2):
        error, payload = invoke(local_aws, name)
        assert error == "Unhandled"
        assert payload["errorType"] == "Runtime.ExitError"
        assert re.fullmatch(
            f"RequestId: {REQUEST_ID} Error: Runtime exited with error: exit status 3", payload["errorMessage"]
        )


def test_a_runtime_killed_by_a_signal_says_so(local_aws, deploy):
    _error, payload = invoke(local_aws, deploy("killed", "handlers.killed"))
    assert payload["errorType"] == "Runtime.ExitError"
    assert payload["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")


def test_an_injected_crash_is_detected_as_one_and_the_next_call_works(local_aws, deploy, faults):
    name = deploy("crash-fault", "handlers.echo")
    _error, before = invoke(local_aws, name)
    faults[name] = LambdaFault("crash", count=1)

    error, payload = invoke(local_aws, name)
    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    assert payload["errorMessage"].endswith("Error: Runtime exited with error: exit status 1")
    assert faults[name].count == 0
    assert gone(before["pid"])
    error, after = invoke(local_aws, name, {"x": 2})
    assert error is None
    assert after["event"] == {"x": 2}
    assert after["pid"] != before["pid"]


def test_an_injected_hang_runs_into_the_timeout_once_per_count(local_aws, deploy, faults):
    name = deploy("hang-fault", "handlers.echo", timeout=2)
    faults[name] = LambdaFault("timeout", count=2)
    started = time.monotonic()
    outcomes = [invoke(local_aws, name) for _ in range(3)]
    elapsed = time.monotonic() - started

    assert [(error, payload.get("errorType")) for error, payload in outcomes[:2]] == [
        ("Unhandled", "Sandbox.Timedout"),
        ("Unhandled", "Sandbox.Timedout"),
    ]
    assert outcomes[0][1]["errorMessage"].endswith("Error: Task timed out after 2.00 seconds")
    assert outcomes[2][0] is None
    assert outcomes[2][1]["function"] == name
    assert faults[name].count == 0
    assert 4 <= elapsed < 10


def test_a_fault_kind_the_runtime_cannot_inject_is_refused():
    with pytest.raises(ValueError, match="crash"):
        LambdaFault("explode", count=1)


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
