"""Lambda Invoke for the embedded AWS: runs the *deployed* zip in its own process, as the Lambda service would.

The zip is the one the caller uploaded (Terraform, boto3), unpacked per code hash. Each function version with its
environment gets a small pool of warm worker processes (`lambda_worker.py`). A worker's sys.path holds the task
root, the layers the function names (the AWS-managed Powertools layer maps to a local copy that
`scripts/build_lambdas` installs) and the runtime's boto3 — never the developer's virtualenv — so a packaging
mistake fails here as it would on AWS. The handler's log lines go to the function's CloudWatch log group, and its
embedded-metric-format lines become CloudWatch metrics, as on AWS.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import queue
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
MAX_WORKERS_PER_FUNCTION = 8
LOG_END_MARKER = "\x00end-of-invocation"  # keep in step with lambda_worker.py


class LambdaRuntimeError(Exception):
    """The local runtime itself cannot run a function (missing runtime copy, unsupported runtime)."""


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
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_SESSION_TOKEN": "local",
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
                "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            }
        )
        return env

    def _acquire(self, fn: Any) -> tuple[tuple, Worker]:
        code = fn.code_bytes
        if not code:
            raise LambdaRuntimeError(f"function {fn.function_name} has no zip code to run")
        if not str(fn.run_time).startswith("python3"):
            raise LambdaRuntimeError(f"runtime {fn.run_time} cannot run locally (python3.x only)")
        layers = [layer["Arn"] if isinstance(layer, dict) else str(layer) for layer in (fn.layers or [])]
        env_key = json.dumps(fn.environment_vars or {}, sort_keys=True)
        key = (fn.function_arn, hashlib.sha256(code).hexdigest(), fn.handler, env_key, tuple(layers))
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
    def invoke(self, fn: Any, event: Any) -> Invocation:
        try:
            key, worker = self._acquire(fn)
        except LambdaRuntimeError as error:
            return Invocation(_error_payload("Runtime.Unavailable", str(error)), True, str(error))
        request_id = str(uuid.uuid4())
        timeout = float(fn.timeout or 3)
        request = {
            "event": event,
            "request_id": request_id,
            "invoked_function_arn": fn.function_arn,
            "deadline_ms": (time.time() + timeout) * 1000,
            "trace_id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};"
            f"Parent={uuid.uuid4().hex[:16]};Sampled=0",
        }
        keep = True
        worker.log_done.clear()
        try:
            worker.process.stdin.write(json.dumps(request) + "\n")
            worker.process.stdin.flush()
            reply_line = worker.replies.get(timeout=timeout)
        except queue.Empty:
            keep = False
            worker.kill()
            reply_line = json.dumps(
                {
                    "ok": False,
                    "error": {
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"{request_id} Task timed out after {timeout:.2f} seconds",
                    },
                }
            )
        except (BrokenPipeError, OSError):
            reply_line = None
        if reply_line is None:
            keep = False
            worker.kill()
            worker.log_done.wait(2)
            reply_line = json.dumps(
                {
                    "ok": False,
                    "error": {
                        "errorType": "Runtime.ExitError",
                        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                        f"exit status {worker.process.returncode}",
                    },
                }
            )
        else:
            worker.log_done.wait(2)  # the worker marks the end of its log lines before it replies
        logs = worker.take_logs()
        self._release(key, worker if keep else None)
        reply = json.loads(reply_line)
        if reply["ok"]:
            invocation = Invocation(reply["result"], False, logs)
        else:
            invocation = Invocation(json.dumps(reply["error"]), True, logs)
        report = f"REPORT RequestId: {request_id}"
        if self.on_log_line is not None:
            for line in logs.splitlines():
                self.on_log_line(fn.function_name, fn.region, line)
        invocation.logs = f"START RequestId: {request_id}\n{logs}\n{report}".strip()
        return invocation

    def shutdown(self) -> None:
        with self._cond:
            workers = [w for pool in self._idle.values() for w in pool]
            self._idle.clear()
        for worker in workers:
            worker.kill()


def _error_payload(error_type: str, message: str) -> str:
    return json.dumps({"errorType": error_type, "errorMessage": message})


def install(ctx: Any) -> None:
    """Route moto's Lambda Invoke to `ctx.lambdas` and accept the AWS-managed Powertools layer's ARNs."""
    from moto.awslambda.models import LambdaFunction

    moto_layers_data = LambdaFunction._get_layers_data

    def invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        invocation = ctx.lambdas.invoke(self, {} if event is None else event)
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
    LambdaFunction._get_layers_data = layers_data
