"""One warm Lambda execution environment: imports the handler from an unpacked zip and serves invocations.

Started by `lambda_runtime.py` as `python -S lambda_worker.py`, with PYTHONPATH holding only the task root and
the local copies of the layers and runtime SDK, so the function sees what it would see on AWS and nothing from
the developer's virtualenv. Standard library only.

Protocol: argv[1] is the handler. Replies go, one JSON object per line, to the process's original stdout: first
`{"ready": true}` once the handler module is imported (the end of the init phase), then one reply per JSON request
read from stdin. Everything the function prints (logs, EMF metrics) goes to stderr, which the runtime collects as
the log stream. A request may carry an injected `fault` (reliability tests): the worker then crashes or hangs for
real, and the runtime's own crash and timeout detection reports it.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback

LOG_END_MARKER = "\x00end-of-invocation"  # keep in step with lambda_runtime.py
HANG_S = 16 * 60  # longer than Lambda's 15-minute maximum timeout: the runtime always stops it first


class LambdaContext:
    """The attributes of the AWS Lambda Python context object that handlers and Powertools read."""

    def __init__(self, request: dict) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = request["invoked_function_arn"]
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = request["request_id"]
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = request["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def error_reply(error_type: str, message: str, stack: list[str] | None = None) -> dict:
    return {"ok": False, "error": {"errorMessage": message, "errorType": error_type, "stackTrace": stack or []}}


def load_handler(handler: str):
    module_name, _, function_name = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        return None, error_reply("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}")
    function = getattr(module, function_name, None)
    if function is None:
        return None, error_reply(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
        )
    return function, None


def inject_fault(kind: str | None) -> None:
    """Fail as a real crash (the process exits mid-invocation) or a real hang (the handler never returns) would."""
    if kind is None:
        return
    print(f"[local_aws] injected fault: {kind}", file=sys.stderr, flush=True)
    if kind == "crash":
        os._exit(1)
    if kind == "timeout":
        time.sleep(HANG_S)


def serve(reply_fd: int, handler: str) -> None:
    replies = os.fdopen(reply_fd, "w", buffering=1)
    function, init_error = load_handler(handler)
    replies.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        os.environ["_X_AMZN_TRACE_ID"] = request.get("trace_id", "")
        inject_fault(request.get("fault"))
        if init_error is not None:
            reply = init_error
        else:
            try:
                result = function(request["event"], LambdaContext(request))
                try:
                    reply = {"ok": True, "result": json.dumps(result)}
                except (TypeError, ValueError) as error:
                    reply = error_reply("Runtime.MarshalError", f"Unable to marshal response: {error}")
            except Exception as error:
                stack = traceback.format_exception(type(error), error, error.__traceback__)
                print(f"[ERROR] {type(error).__name__}: {error}", file=sys.stderr)
                reply = error_reply(type(error).__name__, str(error), [s.rstrip() for s in stack[1:]])
        sys.stdout.flush()
        sys.stderr.write(f"{LOG_END_MARKER} {request['request_id']}\n")
        sys.stderr.flush()
        replies.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # the function's prints (and Powertools' EMF lines) belong to the log stream
    sys.path[0] = os.environ["LAMBDA_TASK_ROOT"]  # the task root, not this script's folder
    serve(reply_fd, sys.argv[1])
