"""Lambda Invoke for the embedded AWS: runs the *deployed* zip in its own process, as the Lambda service would.

The zip is the one the caller uploaded (Terraform, boto3), unpacked per code hash. Each function version with its
environment gets a small pool of warm worker processes (`lambda_worker.py`). A worker's sys.path holds the task
root, the layers the function names (the AWS-managed Powertools layer maps to a local copy that
`scripts/build_lambdas` installs) and the runtime's boto3 — never the developer's virtualenv — so a packaging
mistake fails here as it would on AWS. The handler's log lines go to the function's CloudWatch log group, and its
embedded-metric-format lines become CloudWatch metrics, as on AWS.

Failures of the execution environment itself come back as the Lambda service reports them, as a function error
(`X-Amz-Function-Error: Unhandled`) whose payload names the failure: an invocation still running at the function's
`Timeout` is stopped and its worker killed (`Sandbox.Timedout`); a worker that dies mid-invocation (exit, signal,
OOM kill) is a `Runtime.ExitError`. Either way the worker is not reused, so the next invocation cold-starts a
fresh one. As on AWS, a cold start's init (importing the handler) has up to 10 s of its own before the timeout
starts counting. `faults` makes a function's next invocations crash or hang inside the worker (reliability tests).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)
WORKER_SCRIPT = Path(__file__).with_name("lambda_worker.py")
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RUNTIME_DIR = REPO_ROOT / "build" / "lambda-runtime"
POWERTOOLS_LAYER_MARKER = ":layer:AWSLambdaPowertoolsPython"
# Concurrent executions per function (Lambda's concurrency, scaled to this machine): beyond it an invocation waits
# for a warm worker. Cold starts share the machine's cores with everything else, so a burst that spawned a worker
# per request would spend its CPU importing boto3 (measured: 200 inferences over 10 s on 2 cores ran at p50 11 s
# with up to 8 workers per function, about 1 s with 2). LOCAL_AWS_LAMBDA_WORKERS overrides it.
MAX_WORKERS_PER_FUNCTION = int(os.environ.get("LOCAL_AWS_LAMBDA_WORKERS", max(2, os.cpu_count() or 2)))
LOG_END_MARKER = "\x00end-of-invocation"  # keep in step with lambda_worker.py
INIT_LIMIT_S = 10.0  # Lambda's init phase limit; an init that overruns it eats into the invocation's timeout
TIMED_OUT, EXITED = "timed out", "exited"  # how a wait for a worker's reply can end without one
FAULT_KINDS = ("crash", "timeout")


class LambdaRuntimeError(Exception):
    """The local runtime itself cannot run a function (missing runtime copy, unsupported runtime)."""


@dataclass
class LambdaFault:
    """Make the next `count` invocations of a function crash or hang past its Timeout (reliability tests).

    The fault happens inside the worker (`os._exit(1)`, or a sleep the runtime has to cut short), so what the
    caller gets back is produced by the same detection that handles a real crash or timeout.
    """

    kind: str  # "crash" | "timeout"
    count: int

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"LambdaFault kind must be one of {FAULT_KINDS}, not {self.kind!r}")


@dataclass
class Invocation:
    payload: str
    errored: bool
    logs: str


@dataclass
class Worker:
    process: subprocess.Popen
    replies: queue.Queue = field(default_factory=queue.Queue)
    log_lines: list[str] = field(default_factory=list)
    log_done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ready: bool = False

    @classmethod
    def start(cls, handler: str, env: dict[str, str], cwd: Path) -> Worker:
        process = subprocess.Popen(
            [sys.executable, "-S", "-u", str(WORKER_SCRIPT), handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            text=True,
            bufsize=1,
        )
        worker = cls(process)
        threading.Thread(target=worker._read_replies, daemon=True).start()
        threading.Thread(target=worker._read_logs, daemon=True).start()
        return worker

    def _read_replies(self) -> None:
        for line in self.process.stdout:
            self.replies.put(line)
        self.replies.put(None)

    def _read_logs(self) -> None:
        for line in self.process.stderr:
            if line.startswith(LOG_END_MARKER):
                self.log_done.set()
                continue
            with self.lock:
                self.log_lines.append(line.rstrip("\n"))
        self.log_done.set()

    def take_logs(self) -> str:
        with self.lock:
            lines, self.log_lines = self.log_lines, []
        return "\n".join(lines)

    def alive(self) -> bool:
        return self.process.poll() is None

    def _next_reply(self, timeout: float) -> dict | str:
        """The worker's next reply, or TIMED_OUT when none came in `timeout` seconds, or EXITED when it died."""
        try:
            line = self.replies.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return TIMED_OUT
        return EXITED if line is None else json.loads(line)

    def wait_ready(self, timeout: float) -> tuple[str | None, float]:
        """Wait out a cold start's init; returns (TIMED_OUT/EXITED or None, seconds of `timeout` left to invoke)."""
        if self.ready:
            return None, timeout
        started = time.monotonic()
        outcome = self._next_reply(INIT_LIMIT_S + timeout)
        if isinstance(outcome, str):
            return outcome, 0.0
        self.ready = True
        return None, timeout - max(0.0, time.monotonic() - started - INIT_LIMIT_S)

    def call(self, request: dict, timeout: float) -> dict | str:
        """Send one invocation; its reply, or TIMED_OUT / EXITED."""
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except OSError:  # the worker is gone (BrokenPipeError)
            return EXITED
        return self._next_reply(timeout)

    def exit_status(self) -> str:
        """How the worker ended, worded as Lambda words it: "exit status 1", "signal: killed"."""
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:  # its output closed but it lingers: Lambda would reap it
            self.kill()
            code = self.process.returncode
        if code >= 0:
            return f"exit status {code}"
        return f"signal: {(signal.strsignal(-code) or f'signal {-code}').lower()}"

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()


class LambdaRuntime:
    """Runs invocations for moto's Lambda backend; one instance per embedded AWS."""

    def __init__(
        self,
        work_dir: Path,
        endpoint_url: str,
        runtime_dir: Path | None = None,
        on_log_line: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.work_dir = work_dir / "lambda"
        self.endpoint_url = endpoint_url
        self.runtime_dir = runtime_dir or Path(os.environ.get("LOCAL_AWS_LAMBDA_RUNTIME_DIR", DEFAULT_RUNTIME_DIR))
        self.on_log_line = on_log_line
        self._idle: dict[tuple, list[Worker]] = {}
        self._busy: dict[tuple, int] = {}
        self._cond = threading.Condition()
        self.faults: dict[str, LambdaFault] = {}  # function name → fault for its next invocations
        # (role ARN, service, session name, source ARN) → credentials of that role; set by local_aws.server to
        # the IAM enforcer, so the function's own AWS calls are checked against its execution role's policies.
        self.credentials: Callable[..., Any] | None = None

    # -- process pool -------------------------------------------------------------------------------------------
    def _task_root(self, code: bytes) -> Path:
        root = self.work_dir / hashlib.sha256(code).hexdigest()[:20]
        if not root.is_dir():
            staging = root.with_name(root.name + f".tmp{uuid.uuid4().hex[:6]}")
            with zipfile.ZipFile(io.BytesIO(code)) as archive:
                archive.extractall(staging)
            with contextlib.suppress(OSError):  # another thread may have unpacked the same code first
                staging.rename(root)
        return root

    def _python_path(self, task_root: Path, layers: list[str]) -> list[str]:
        paths = [str(task_root)]
        for arn in layers:
            if POWERTOOLS_LAYER_MARKER in arn:
                paths.append(str(self._runtime_part("powertools")))
            else:
                LOG.warning("layer %s is not available locally; the function runs without it", arn)
        paths.append(str(self._runtime_part("runtime")))
        return paths

    def _runtime_part(self, name: str) -> Path:
        path = self.runtime_dir / name / "python"
        if not path.is_dir():
            raise LambdaRuntimeError(f"{path} is missing: run scripts/build_lambdas (or make lambdas) first")
        return path

    def _environment(self, fn: Any, task_root: Path, layers: list[str]) -> dict[str, str]:
        region = fn.region
        env = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
        env.update(
            {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "LANG": "C.UTF-8",
                "TZ": ":UTC",
                "PYTHONPATH": os.pathsep.join(self._python_path(task_root, layers)),
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONUNBUFFERED": "1",
                "LAMBDA_TASK_ROOT": str(task_root),
                "_HANDLER": fn.handler,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
                "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{uuid.uuid4().hex}",
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                **self._role_credentials(fn),
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
                "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            }
        )
        return env

    def _role_credentials(self, fn: Any) -> dict[str, str]:
        """The execution role's credentials, as Lambda puts them in the function's environment
        (https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html)."""
        if self.credentials is None:
            return {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}
        from local_aws.iam import AccessDenied

        try:
            session = self.credentials(fn.role, "lambda.amazonaws.com", fn.function_name)
        except AccessDenied as error:
            # AWS refuses such a function at CreateFunction ("The role defined for the function cannot be assumed
            # by Lambda"); here the invocation fails with the reason.
            reason = f"The role defined for the function cannot be assumed by Lambda: {error}"
            raise LambdaRuntimeError(reason) from None
        return session.environment()

    def _acquire(self, fn: Any) -> tuple[tuple, Worker]:
        code = fn.code_bytes
        if not code:
            raise LambdaRuntimeError(f"function {fn.function_name} has no zip code to run")
        if not str(fn.run_time).startswith("python3"):
            raise LambdaRuntimeError(f"runtime {fn.run_time} cannot run locally (python3.x only)")
        layers = [layer["Arn"] if isinstance(layer, dict) else str(layer) for layer in (fn.layers or [])]
        env_key = json.dumps(fn.environment_vars or {}, sort_keys=True)
        key = (fn.function_arn, fn.role, hashlib.sha256(code).hexdigest(), fn.handler, env_key, tuple(layers))
        with self._cond:
            while True:
                idle = [w for w in self._idle.get(key, []) if w.alive()]
                if idle:
                    worker = idle.pop()
                    self._idle[key] = idle
                    self._busy[key] = self._busy.get(key, 0) + 1
                    return key, worker
                if self._busy.get(key, 0) < MAX_WORKERS_PER_FUNCTION:
                    self._busy[key] = self._busy.get(key, 0) + 1
                    break
                self._cond.wait()
        try:
            task_root = self._task_root(code)
            return key, Worker.start(fn.handler, self._environment(fn, task_root, layers), task_root)
        except Exception:
            self._release(key, None)
            raise

    def _release(self, key: tuple, worker: Worker | None) -> None:
        with self._cond:
            self._busy[key] -= 1
            if worker is not None and worker.alive():
                self._idle.setdefault(key, []).append(worker)
            self._cond.notify()

    # -- invocation ---------------------------------------------------------------------------------------------
    def _take_fault(self, function_name: str) -> str | None:
        with self._cond:
            fault = self.faults.get(function_name)
            if fault is None or fault.count <= 0:
                return None
            fault.count -= 1
            return fault.kind

    def invoke(self, fn: Any, event: Any) -> Invocation:
        try:
            key, worker = self._acquire(fn)
        except LambdaRuntimeError as error:
            return Invocation(_error_payload("Runtime.Unavailable", str(error)), True, str(error))
        request_id = str(uuid.uuid4())
        timeout = float(fn.timeout or 3)
        worker.log_done.clear()
        failure, remaining = worker.wait_ready(timeout)
        if failure is None:
            request = {
                "event": event,
                "request_id": request_id,
                "invoked_function_arn": fn.function_arn,
                "deadline_ms": (time.time() + remaining) * 1000,
                "trace_id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};"
                f"Parent={uuid.uuid4().hex[:16]};Sampled=0",
                "fault": self._take_fault(fn.function_name),
            }
            reply = worker.call(request, remaining) if remaining > 0 else TIMED_OUT
        else:
            reply = failure
        if isinstance(reply, dict):
            worker.log_done.wait(2)  # the worker marks the end of its log lines before it replies
            self._release(key, worker)
            payload = reply["result"] if reply["ok"] else json.dumps(reply["error"])
            invocation = Invocation(payload, not reply["ok"], worker.take_logs())
        else:  # the execution environment failed: Lambda drops it and says why, in the payload and the log
            error_type, message = _environment_failure(worker, reply, request_id, timeout)
            self._release(key, None)
            worker.log_done.wait(2)  # its stderr closes once it is gone
            logs = "\n".join(line for line in (worker.take_logs(), message, error_type) if line)
            invocation = Invocation(_error_payload(error_type, message), True, logs)
        report = f"REPORT RequestId: {request_id}"
        if self.on_log_line is not None:
            for line in invocation.logs.splitlines():
                self.on_log_line(fn.function_name, fn.region, line)
        invocation.logs = f"START RequestId: {request_id}\n{invocation.logs}\n{report}".strip()
        return invocation

    def shutdown(self) -> None:
        with self._cond:
            workers = [w for pool in self._idle.values() for w in pool]
            self._idle.clear()
        for worker in workers:
            worker.kill()


def _environment_failure(worker: Worker, outcome: str, request_id: str, timeout: float) -> tuple[str, str]:
    """Stop a worker that timed out or reap one that died; the errorType and errorMessage Lambda reports."""
    if outcome == TIMED_OUT:
        worker.kill()
        return "Sandbox.Timedout", f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
    status = worker.exit_status()
    return "Runtime.ExitError", f"RequestId: {request_id} Error: Runtime exited with error: {status}"


def _error_payload(error_type: str, message: str) -> str:
    return json.dumps({"errorType": error_type, "errorMessage": message})


def _may_write_logs(ctx: Any, fn: Any) -> bool:
    """Lambda writes a function's logs with its execution role: without logs:CreateLogStream and logs:PutLogEvents
    on its log group the function runs but its logs are lost
    (https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html)."""
    iam = getattr(ctx, "iam", None)
    if iam is None:
        return True
    from local_aws.iam import AccessDenied
    from local_aws.iam_requests import Need

    stream = f"arn:aws:logs:{fn.region}:{iam.account}:log-group:{fn.logs_group_name}:log-stream:local"
    try:
        session = iam.cached_session(fn.role, "lambda.amazonaws.com", fn.function_name)
        iam.authorize(session, [Need("logs:CreateLogStream", stream), Need("logs:PutLogEvents", stream)])
    except AccessDenied:
        return False
    return True


def install(ctx: Any) -> None:
    """Route moto's Lambda Invoke to `ctx.lambdas` and accept the AWS-managed Powertools layer's ARNs."""
    from moto.awslambda.models import LambdaFunction

    moto_layers_data = LambdaFunction._get_layers_data
    moto_invoke = LambdaFunction.invoke

    def invoke(self: Any, body: Any, request_headers: Any, response_headers: dict) -> str | bytes:
        payload = moto_invoke(self, body, request_headers, response_headers)
        if "x-amz-function-error" in response_headers:  # moto says "Handled"; the Python runtime never does
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    def invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        invocation = ctx.lambdas.invoke(self, {} if event is None else event)
        if _may_write_logs(ctx, self):
            self.logs_backend.ensure_log_group(self.logs_group_name)
            self.save_logs(invocation.logs)
        return invocation.payload, invocation.errored, invocation.logs

    def layers_data(self: Any, arns: list[str]) -> list[dict]:
        managed = [arn for arn in arns if POWERTOOLS_LAYER_MARKER in arn]
        others = [arn for arn in arns if POWERTOOLS_LAYER_MARKER not in arn]
        data = {item["Arn"]: item for item in (moto_layers_data(self, others) if others else [])}
        data.update({arn: {"Arn": arn, "CodeSize": 0} for arn in managed})
        return [data[arn] for arn in arns]

    LambdaFunction._invoke_lambda = invoke_lambda
    LambdaFunction.invoke = invoke
    LambdaFunction._get_layers_data = layers_data
