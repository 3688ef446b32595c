"""SageMaker training jobs and endpoint deployments for the embedded AWS, with real local compute.

moto records a training job as instantly Completed with made-up metrics, has no UpdateEndpoint, and puts every
endpoint InService at once. Here, on top of moto's own backend objects (so every other module sees the same
state):

* CreateTrainingJob for a PyTorch script-mode job runs the uploaded sourcedir's entry point in a subprocess with
  the SageMaker training toolkit's contract (`SM_*` variables, `/opt/ml`-style folders, `--key value`
  hyperparameters). The job goes InProgress → Completed/Failed/Stopped; its log goes to the CloudWatch Logs group
  `/aws/sagemaker/TrainingJobs` and to `<work_dir>/training-jobs/<job>/`; FinalMetricDataList comes from the
  job's own MetricDefinitions applied to that log (last match wins); model.tar.gz and output.tar.gz are uploaded
  to `<S3OutputPath>/<job>/output/`. A script that exits non-zero fails the job with the training toolkit's
  `AlgorithmError: ExecuteUserScriptError` reason (exit code, the exception it raised, the command), and nothing is
  uploaded. StopTrainingJob (moto has none) sends the script SIGTERM and, 120 s later, SIGKILL; the job goes
  Stopping, then Stopped. Any other job (a built-in algorithm's image) fails with a reason saying it cannot run
  locally. A job name that is taken is refused with ResourceInUse, as on AWS.
* IAM: the job runs as its RoleArn, a model as its ExecutionRoleArn (local_aws.iam). CreateTrainingJob and
  CreateModel refuse a role whose trust policy does not admit sagemaker.amazonaws.com; the job's reads of its
  code and channels (s3:GetObject, s3:ListBucket with s3:prefix), its uploads (s3:PutObject) and its log writes,
  and a model's read of its artifact, are checked against that role's policies
  (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html). A refused read or upload fails the
  job (or the endpoint) with the access-denied message; AWS does not document the wording of these
  FailureReasons, so they quote AWS's access-denied message after "ClientError:".
* CreateEndpoint goes Creating → InService (or Failed); UpdateEndpoint goes Updating → InService, switching to
  the new endpoint config only once its model loads - a failed update keeps the old config serving (blue/green).
* The fleet's size, as DescribeEndpoint's ProductionVariants report it: a new endpoint runs each variant's
  InitialInstanceCount; UpdateEndpointWeightsAndCapacities changes a variant's count or weight (Updating →
  InService); UpdateEndpoint without RetainAllVariantProperties resets every variant to the new config's count and
  weight, with it keeps them (less ExcludeRetainedVariantProperties). An update that would change the instance
  type of a variant registered for autoscaling, or turn an instance-based endpoint serverless, is refused, and so
  is a serverless endpoint config with DataCaptureConfig.
* Deployment guardrails (UpdateEndpoint DeploymentConfig, see "deployment guardrails" below): a blue/green update
  with ALL_AT_ONCE, CANARY or LINEAR traffic shifting goes Updating, provisions the new fleet, then routes the
  step's share of requests to it (local_aws.endpoints.TrafficShift) and bakes each step (WaitIntervalInSeconds,
  then TerminationWaitInSeconds at 100 %), evaluating the AutoRollbackConfiguration alarms from the endpoint's
  published metrics (local_aws.cloudwatch_alarms). An alarm in ALARM rolls the update back: all traffic returns
  to the old fleet and the endpoint is InService on the old config, with a FailureReason that says so.
  DescribeEndpoint shows LastDeploymentConfig and, while it runs, PendingDeploymentSummary. Rolling deployments
  (RollingUpdatePolicy) are not emulated and are refused by name (NotEmulatedByEmbeddedAws).
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from moto.sagemaker.exceptions import SagemakerClientError

LOG = logging.getLogger(__name__)
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
HOST = "algo-1"
STOP_GRACE_S = 120  # StopTrainingJob: SIGTERM, then termination 120 s later (API_StopTrainingJob.html)
_TRAINING_SLOTS = threading.BoundedSemaphore(1)  # one local job at a time: the machine's cores are shared
_FAILURE_LOG_LINES = 3  # printed lines quoted when a failing script raised no exception
FAILURE_REASON_LIMIT = 1024  # DescribeTrainingJob's FailureReason is at most this long


class LocalTrainingError(Exception):
    """The job cannot run, or failed; the message becomes the job's FailureReason."""


SAGEMAKER_SERVICE = "sagemaker.amazonaws.com"
SESSION_NAME = "SageMaker"


class _RoleAccess:
    """What the job or model may do as its role; every check goes through the IAM enforcer (None: unchecked)."""

    def __init__(self, iam: Any, role_arn: str | None) -> None:
        self.iam, self.role_arn = iam, role_arn
        self.session = None
        if iam is not None and role_arn:
            from local_aws.iam import AccessDenied

            try:
                self.session = iam.cached_session(role_arn, SAGEMAKER_SERVICE, SESSION_NAME)
            except AccessDenied as denied:
                raise LocalTrainingError(f"ClientError: {denied}") from None

    def require(self, action: str, uri_or_arn: str, context: dict[str, Any] | None = None) -> None:
        if self.session is None:
            return
        from local_aws.iam import AccessDenied, s3_need

        try:
            self.iam.authorize(self.session, [s3_need(action, uri_or_arn, context)], via=SAGEMAKER_SERVICE)
        except AccessDenied as denied:
            raise LocalTrainingError(f"ClientError: {denied}") from None

    def require_logs(self, account: str, region: str, stream: str) -> bool:
        """Whether the role may write the job's log stream (SageMaker drops the logs otherwise)."""
        if self.session is None:
            return True
        from local_aws.iam import AccessDenied
        from local_aws.iam_requests import Need

        arn = f"arn:aws:logs:{region}:{account}:log-group:{LOG_GROUP}:log-stream:{stream}"
        try:
            self.iam.authorize(
                self.session, [Need("logs:CreateLogStream", arn), Need("logs:PutLogEvents", arn)], SAGEMAKER_SERVICE
            )
        except AccessDenied:
            return False
        return True


# -- moto state ----------------------------------------------------------------------------------------------------
def _s3(account: str) -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[account]["global"]


def _split_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise LocalTrainingError(f"{uri!r} is not an s3:// URI")
    return parsed.netloc, parsed.path.lstrip("/")


def _read_s3(account: str, uri: str) -> bytes:
    bucket, key = _split_s3_uri(uri)
    obj = _s3(account).get_object(bucket, key)
    if obj is None:
        raise LocalTrainingError(f"{uri} does not exist")
    return obj.value


def _write_s3(account: str, uri: str, body: bytes) -> None:
    bucket, key = _split_s3_uri(uri)
    _s3(account).put_object(bucket, key, body)


def _download_prefix(account: str, uri: str, destination: Path, access: _RoleAccess | None = None) -> int:
    """S3Prefix semantics: every object under the prefix, named relative to the prefix's last '/'."""
    bucket_name, prefix = _split_s3_uri(uri)
    if access is not None:
        access.require("s3:ListBucket", f"arn:aws:s3:::{bucket_name}", {"s3:prefix": prefix})
    backend = _s3(account)
    try:
        names = [name for name in list(backend.get_bucket(bucket_name).keys) if name.startswith(prefix)]
    except Exception as error:  # moto raises its own MissingBucket
        raise LocalTrainingError(f"cannot list {uri}: {error}") from None
    base = prefix[: prefix.rfind("/") + 1]
    count = 0
    for name in names:
        if name.endswith("/"):
            continue
        target = destination / name[len(base) :]
        if not target.resolve().is_relative_to(destination.resolve()):
            raise LocalTrainingError(f"object key {name!r} escapes the channel folder")
        if access is not None:
            access.require("s3:GetObject", f"arn:aws:s3:::{bucket_name}/{name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(backend.get_object(bucket_name, name).value)
        count += 1
    if count == 0:
        raise LocalTrainingError(f"no objects under {uri}")
    return count


def _tar_gz(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buffer.getvalue()


class _CloudWatchLog:
    """The job's log stream in moto's CloudWatch Logs, written in small batches."""

    def __init__(self, account: str, region: str, stream: str) -> None:
        from moto.logs.models import logs_backends

        self.backend = logs_backends[account][region]
        self.stream = stream
        self.pending: list[dict[str, Any]] = []
        try:
            if LOG_GROUP not in self.backend.groups:
                self.backend.create_log_group(LOG_GROUP, {})
            self.backend.ensure_log_stream(LOG_GROUP, stream)
        except Exception:  # logs are a convenience; the file copy is always written
            LOG.exception("cannot create the CloudWatch log stream %s", stream)
            self.backend = None

    def add(self, line: str) -> None:
        self.pending.append({"timestamp": int(time.time() * 1000), "message": line})
        if len(self.pending) >= 50:
            self.flush()

    def flush(self) -> None:
        if self.backend is not None and self.pending:
            try:
                self.backend.put_log_events(LOG_GROUP, self.stream, self.pending)
            except Exception:
                LOG.exception("cannot write to the CloudWatch log stream %s", self.stream)
        self.pending = []


# -- training ------------------------------------------------------------------------------------------------------
def _decode_hyperparameter(value: str) -> Any:
    """The toolkit JSON-decodes values when it can (the SageMaker SDK sends '"train.py"'); else keeps the string."""
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def _cli_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _builtin_reason(job: Any) -> str:
    image = (job.algorithm_specification or {}).get("TrainingImage", "<no image>")
    repository = image.rsplit("/", 1)[-1].split(":", 1)[0]
    return (
        f"ClientError: training image {image} cannot run locally: the embedded AWS runs only framework "
        "script-mode jobs (hyperparameter sagemaker_program, e.g. PyTorch), and "
        f"{'the built-in ' + repository + ' algorithm' if repository else 'this image'} needs its own SageMaker "
        "container (MXNet), which is not available here. Train it on AWS, or use the PyTorch algorithm locally."
    )


class TrainingRunner:
    """Runs one moto training job in a background thread and writes the outcome back onto the job."""

    def __init__(self, work_dir: Path, endpoint_url: str | None = None, iam: Any = None) -> None:
        self.work_dir = work_dir / "training-jobs"
        self.endpoint_url = endpoint_url
        self.iam = iam
        self._lock = threading.Lock()
        self._processes: dict[str, subprocess.Popen] = {}
        self._stop_requested: set[str] = set()

    def stop(self, job: Any) -> None:
        """StopTrainingJob: the job goes Stopping, its script gets SIGTERM and, STOP_GRACE_S later, SIGKILL; the
        runner then marks it Stopped. https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_StopTrainingJob.html:
        "SageMaker sends the algorithm the SIGTERM signal, which delays job termination for 120 seconds ...
        SageMaker changes the status of the job to Stopping. After SageMaker stops the job, it sets the status to
        Stopped." A job that has not started its script yet stops before it does."""
        name = job.training_job_name
        self._secondary(job, "Stopping", "Stopping the training job")
        job.training_job_status = "Stopping"
        with self._lock:
            self._stop_requested.add(name)
            process = self._processes.get(name)
        if process is not None and process.poll() is None:
            process.terminate()
            threading.Timer(STOP_GRACE_S, process.kill).start()

    def _stopping(self, name: str) -> bool:
        with self._lock:
            return name in self._stop_requested

    def start(self, account: str, region: str, job: Any) -> None:
        thread = threading.Thread(
            target=self._run, args=(account, region, job), name=f"training-{job.training_job_name}", daemon=True
        )
        thread.start()

    # status bookkeeping
    @staticmethod
    def _secondary(job: Any, status: str, message: str) -> None:
        now = datetime.now(UTC)
        transitions = list(job.secondary_status_transitions or [])
        if transitions and "EndTime" not in transitions[-1]:
            transitions[-1] = {**transitions[-1], "EndTime": now}
        transitions.append({"Status": status, "StartTime": now, "StatusMessage": message})
        job.secondary_status_transitions = transitions
        job.secondary_status = status
        job.last_modified_time = now

    def _finish(self, job: Any, status: str, secondary: str, message: str, reason: str | None = None) -> None:
        self._secondary(job, secondary, message)
        now = datetime.now(UTC)
        job.secondary_status_transitions[-1]["EndTime"] = now
        job.training_end_time = now
        if job.training_start_time:
            job.training_time_in_seconds = job.billable_time_in_seconds = max(
                1, int((now - job.training_start_time).total_seconds())
            )
        job.failure_reason = reason
        job.training_job_status = status  # last: pollers see a terminal status only once everything is set

    def _run(self, account: str, region: str, job: Any) -> None:
        name = job.training_job_name
        job_dir = self.work_dir / name
        stream = f"{name}/{HOST}-{int(time.time())}"
        log = _CloudWatchLog(account, region, stream)
        with _TRAINING_SLOTS:
            try:
                access = _RoleAccess(self.iam, job.role_arn)
                if not access.require_logs(account, region, stream):
                    log.backend = None
                self._train(account, region, job, job_dir, log, access)
            except _Stopped:
                LOG.info("training job %s stopped", name)
                self._finish(job, "Stopped", "Stopped", "Training job stopped by StopTrainingJob")
            except LocalTrainingError as error:
                LOG.info("training job %s failed: %s", name, error)
                status, secondary = (
                    ("Stopped", "MaxRuntimeExceeded") if isinstance(error, _Timeout) else ("Failed", "Failed")
                )
                self._finish(job, status, secondary, "Training job ended without a model", str(error))
            except Exception as error:  # a runner bug must still end the job, with the reason
                LOG.exception("local training runner failed on %s", name)
                self._finish(
                    job,
                    "Failed",
                    "Failed",
                    "Local runner error",
                    f"InternalServerError: local training runner: {type(error).__name__}: {error}",
                )
            finally:
                log.flush()
                with self._lock:
                    self._stop_requested.discard(name)
                    self._processes.pop(name, None)

    def _train(
        self, account: str, region: str, job: Any, job_dir: Path, log: _CloudWatchLog, access: _RoleAccess
    ) -> None:
        raw_hps = dict(job.hyper_parameters or {})
        hyperparameters = {k: _decode_hyperparameter(v) for k, v in raw_hps.items()}
        program = hyperparameters.get("sagemaker_program")
        submit_dir = hyperparameters.get("sagemaker_submit_directory")
        if not program:
            raise LocalTrainingError(_builtin_reason(job))
        if not isinstance(submit_dir, str) or not submit_dir.startswith("s3://"):
            raise LocalTrainingError(
                f"ClientError: hyperparameter sagemaker_submit_directory must be the s3:// URI of the sourcedir "
                f"tarball, got {submit_dir!r}"
            )

        if self._stopping(job.training_job_name):
            raise _Stopped()
        paths = _JobPaths.create(job_dir)
        self._secondary(job, "Downloading", "Downloading input data")
        channels = self._download_channels(account, job, paths, access)
        access.require("s3:GetObject", submit_dir)
        with tarfile.open(fileobj=io.BytesIO(_read_s3(account, submit_dir)), mode="r:gz") as tar:
            tar.extractall(paths.code, filter="data")
        entry = paths.code / str(program)
        if not entry.is_file():
            raise LocalTrainingError(f"ClientError: the sourcedir tarball {submit_dir} has no {program}")

        user_hps = {k: v for k, v in hyperparameters.items() if not k.startswith("sagemaker_")}
        paths.write_config(user_hps, job)
        env = self._environment(job, paths, channels, user_hps, submit_dir, str(program))
        # The script's own AWS calls (if any) go to the embedded AWS, never to a real account.
        env.update(
            {
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_SESSION_TOKEN": "local",
            }
        )
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        args = [arg for key in sorted(user_hps) for arg in (f"--{key}", _cli_value(user_hps[key]))]
        command = [sys.executable, str(entry), *args]

        if self._stopping(job.training_job_name):
            raise _Stopped()
        self._secondary(job, "Training", "Training image download completed. Training in progress.")
        max_runtime = int((job.stopping_condition or {}).get("MaxRuntimeInSeconds") or 86400)
        output_uri = f"{job.output_data_config['S3OutputPath'].rstrip('/')}/{job.training_job_name}/output"
        try:
            lines = self._execute(
                job.training_job_name, command, env, paths.code, job_dir / f"{HOST}.log", log, max_runtime
            )
        except _Stopped:
            # The 120 s window exists "to save the model artifacts, so the results of the training is not lost"
            # (API_StopTrainingJob.html): what the script saved in the model folder is uploaded; the page does
            # not say what happens to an empty one (here: nothing is uploaded).
            if any(paths.model.iterdir()):
                access.require("s3:PutObject", f"{output_uri}/model.tar.gz")
                _write_s3(account, f"{output_uri}/model.tar.gz", _tar_gz(paths.model))
                job.model_artifacts = {"S3ModelArtifacts": f"{output_uri}/model.tar.gz"}
            raise

        self._secondary(job, "Uploading", "Uploading generated training model")
        access.require("s3:PutObject", f"{output_uri}/model.tar.gz")
        access.require("s3:PutObject", f"{output_uri}/output.tar.gz")
        _write_s3(account, f"{output_uri}/model.tar.gz", _tar_gz(paths.model))
        _write_s3(account, f"{output_uri}/output.tar.gz", _tar_gz(paths.output_data))
        job.final_metric_data_list = final_metrics(job.algorithm_specification.get("MetricDefinitions") or [], lines)
        job.model_artifacts = {"S3ModelArtifacts": f"{output_uri}/model.tar.gz"}
        self._finish(job, "Completed", "Completed", "Training job completed")

    @staticmethod
    def _download_channels(account: str, job: Any, paths: _JobPaths, access: _RoleAccess) -> list[str]:
        names = []
        for channel in job.input_data_config or []:
            name = channel["ChannelName"]
            source = channel.get("DataSource", {}).get("S3DataSource")
            if not source:
                raise LocalTrainingError(f"ClientError: channel {name} has no S3DataSource (only S3 is local)")
            if source.get("S3DataType", "S3Prefix") != "S3Prefix":
                raise LocalTrainingError(f"ClientError: channel {name}: only S3DataType S3Prefix runs locally")
            _download_prefix(account, source["S3Uri"], paths.channel(name), access)
            names.append(name)
        return names

    @staticmethod
    def _environment(
        job: Any, paths: _JobPaths, channels: list[str], user_hps: dict[str, Any], submit_dir: str, program: str
    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "AWS_"))}
        instance = (job.resource_config or {}).get("InstanceType", "ml.m5.xlarge")
        sm = {
            "SM_MODEL_DIR": str(paths.model),
            "SM_OUTPUT_DIR": str(paths.output),
            "SM_OUTPUT_DATA_DIR": str(paths.output_data),
            "SM_OUTPUT_INTERMEDIATE_DIR": str(paths.output / "intermediate"),
            "SM_INPUT_DIR": str(paths.input),
            "SM_INPUT_CONFIG_DIR": str(paths.config),
            "SM_CHANNELS": json.dumps(sorted(channels)),
            "SM_HPS": json.dumps(user_hps),
            "SM_USER_ARGS": json.dumps([a for k in sorted(user_hps) for a in (f"--{k}", _cli_value(user_hps[k]))]),
            "SM_HOSTS": json.dumps([HOST]),
            "SM_CURRENT_HOST": HOST,
            "SM_CURRENT_INSTANCE_TYPE": instance,
            "SM_NUM_CPUS": str(os.cpu_count() or 1),
            "SM_NUM_GPUS": "0",
            "SM_MODULE_DIR": submit_dir,
            "SM_MODULE_NAME": Path(program).stem,
            "SM_USER_ENTRY_POINT": program,
            "SM_LOG_LEVEL": "20",
            "SM_TRAINING_JOB_NAME": job.training_job_name,
            "TRAINING_JOB_NAME": job.training_job_name,
            "PYTHONPATH": os.pathsep.join([str(paths.code), *filter(None, [os.environ.get("PYTHONPATH")])]),
            "PYTHONUNBUFFERED": "1",
        }
        sm.update({f"SM_CHANNEL_{name.upper()}": str(paths.channel(name)) for name in channels})
        sm.update({f"SM_HP_{key.upper()}": _cli_value(value) for key, value in user_hps.items()})
        return {**env, **sm}

    def _execute(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        cwd: Path,
        log_file: Path,
        log: _CloudWatchLog,
        max_runtime: int,
    ) -> list[str]:
        lines: list[str] = []
        deadline = time.monotonic() + max_runtime
        with (
            open(log_file, "w", encoding="utf-8") as file,
            subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
            ) as process,
        ):
            with self._lock:
                self._processes[name] = process
                stopped_early = name in self._stop_requested
            if stopped_early:  # StopTrainingJob came between the last check and the start
                process.terminate()
            timer = threading.Timer(max_runtime, process.kill)
            timer.start()
            try:
                for raw in process.stdout:  # type: ignore[union-attr]
                    line = raw.rstrip("\n")
                    lines.append(line)
                    file.write(raw)
                    file.flush()
                    log.add(line)
            finally:
                timer.cancel()
            code = process.wait()
        if self._stopping(name):
            raise _Stopped()
        if code != 0 and time.monotonic() >= deadline:
            raise _Timeout(f"MaxRuntimeExceeded: training job exceeded MaxRuntimeInSeconds ({max_runtime} s)")
        if code != 0:
            shown = " ".join([Path(command[0]).name, Path(command[1]).name, *command[2:]])
            raise LocalTrainingError(script_failure_reason(code, shown, lines))
        return lines


class _Stopped(LocalTrainingError):
    """StopTrainingJob stopped the job (status Stopped)."""


class _Timeout(LocalTrainingError):
    """MaxRuntimeInSeconds passed; SageMaker stops such a job (status Stopped, MaxRuntimeExceeded)."""


class _JobPaths:
    """The container's /opt/ml layout, under the job's work folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.input = root / "input"
        self.config = self.input / "config"
        self.model = root / "model"
        self.output = root / "output"
        self.output_data = self.output / "data"
        self.code = root / "code"

    @classmethod
    def create(cls, root: Path) -> _JobPaths:
        paths = cls(root)
        if root.exists():
            shutil.rmtree(root)
        for folder in (paths.config, paths.model, paths.output_data, paths.output / "intermediate", paths.code):
            folder.mkdir(parents=True, exist_ok=True)
        return paths

    def channel(self, name: str) -> Path:
        folder = self.input / "data" / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def write_config(self, user_hps: dict[str, Any], job: Any) -> None:
        (self.config / "hyperparameters.json").write_text(json.dumps(user_hps))
        (self.config / "inputdataconfig.json").write_text(
            json.dumps(
                {
                    c["ChannelName"]: {k: v for k, v in c.items() if k != "ChannelName"}
                    for c in job.input_data_config or []
                },
                default=str,
            )
        )
        (self.config / "resourceconfig.json").write_text(
            json.dumps(
                {
                    "current_host": HOST,
                    "hosts": [HOST],
                    "current_instance_type": (job.resource_config or {}).get("InstanceType", "ml.m5.xlarge"),
                }
            )
        )


def script_failure_reason(exit_code: int, command: str, lines: list[str]) -> str:
    """FailureReason of a script that exited non-zero, as the SageMaker training toolkit words it: the exit code,
    the error message (the exception that ended a traceback, else the last lines the script printed), the command.
    Kept to one line and to FailureReason's 1024 characters."""
    message = _error_message(lines)
    head = f"AlgorithmError: ExecuteUserScriptError: ExitCode {exit_code} ErrorMessage "
    tail = f' Command "{command}", exit code: {exit_code}'
    room = FAILURE_REASON_LIMIT - len(head) - len(tail) - 2
    if len(message) > room:
        message = "..." + message[-(room - 3) :]  # the end of an error says most
    return f'{head}"{message}"{tail}'


def _error_message(lines: list[str]) -> str:
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last):")]
    if starts:
        # After the frames (indented) comes the exception: "ValueError: ..." and any further lines of its message.
        raised = [line for line in lines[starts[-1] + 1 :] if line.strip() and not line[:1].isspace()]
        if raised:
            return " ".join(line.strip() for line in raised)
    printed = [line.strip() for line in lines if line.strip()]
    return " | ".join(printed[-_FAILURE_LOG_LINES:]) or "the script printed nothing"


def final_metrics(definitions: list[dict[str, str]], lines: list[str]) -> list[dict[str, Any]]:
    """What SageMaker reports as FinalMetricDataList: each definition's regex over the log, last match wins."""
    now = datetime.now(UTC)
    results = []
    for definition in definitions:
        pattern = re.compile(definition["Regex"])
        value = None
        for line in lines:
            for match in pattern.finditer(line):
                try:
                    value = float(match.group(1))
                except (IndexError, ValueError):
                    continue
        if value is not None:
            results.append({"MetricName": definition["Name"], "Value": value, "Timestamp": now})
    return results


# -- endpoints -----------------------------------------------------------------------------------------------------
# UpdateEndpoint: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html
# VariantProperty: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_VariantProperty.html
RETAINABLE_PROPERTIES = frozenset({"DesiredInstanceCount", "DesiredWeight"})
# The third VariantPropertyType, documented as "(Not currently supported.)".
UNSUPPORTED_PROPERTIES = frozenset({"DataCaptureConfig"})
AUTOSCALING_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


class NotEmulatedError(SagemakerClientError):
    """A documented request field the embedded AWS does not emulate; refused by name instead of ignored."""

    code = "NotEmulatedByEmbeddedAws"


def variant_summary(variant: dict[str, Any]) -> dict[str, Any]:
    """DescribeEndpoint's ProductionVariantSummary of a config's ProductionVariant once it is deployed: the
    fleet runs InitialInstanceCount instances at InitialVariantWeight (1.0 when unset, as ProductionVariant
    documents: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariant.html)."""
    summary: dict[str, Any] = {"VariantName": variant["VariantName"]}
    if "ServerlessConfig" in variant:
        summary["CurrentServerlessConfig"] = dict(variant["ServerlessConfig"])
        summary["DesiredServerlessConfig"] = dict(variant["ServerlessConfig"])
    else:
        count = int(variant.get("InitialInstanceCount") or 1)
        summary["CurrentInstanceCount"] = summary["DesiredInstanceCount"] = count
    weight = float(variant.get("InitialVariantWeight", 1.0))
    summary["CurrentWeight"] = summary["DesiredWeight"] = weight
    return summary


def updated_variants(
    config_variants: list[dict[str, Any]],
    serving: list[dict[str, Any]],
    retain_all: bool,
    excluded: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """The variants an UpdateEndpoint leaves serving. Without RetainAllVariantProperties every property comes from
    the new endpoint config, so a fleet that was scaled to N instances starts again at InitialInstanceCount. With
    it, each variant of the same name keeps its instance count and weight, except the properties listed in
    ExcludeRetainedVariantProperties, which come from the config (API_UpdateEndpoint, API_VariantProperty).
    A variant the endpoint did not have, and a serverless one (no instance count), takes the config's values;
    the docs say nothing of serverless variants under retention."""
    before = {variant["VariantName"]: variant for variant in serving}
    result = []
    for variant in config_variants:
        summary = variant_summary(variant)
        previous = before.get(variant["VariantName"])
        if retain_all and previous is not None:
            if (
                "DesiredInstanceCount" not in excluded
                and "DesiredInstanceCount" in summary
                and "DesiredInstanceCount" in previous
            ):
                summary["CurrentInstanceCount"] = summary["DesiredInstanceCount"] = previous["DesiredInstanceCount"]
            if "DesiredWeight" not in excluded and "DesiredWeight" in previous:
                summary["CurrentWeight"] = summary["DesiredWeight"] = previous["DesiredWeight"]
        result.append(summary)
    return result


def _scalable_target(account: str, region: str, endpoint_name: str, variant_name: str) -> Any:
    """The Application Auto Scaling target registered on a variant, if any."""
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    targets = applicationautoscaling_backends[account][region].targets.get(AUTOSCALING_DIMENSION, {})
    return targets.get(f"endpoint/{endpoint_name}/variant/{variant_name}")


# -- deployment guardrails ---------------------------------------------------------------------------------------
# Blue/Green Deployments: https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html
# Canary: https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green-canary.html
# Linear: https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green-linear.html
# Auto-rollback: https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html
# Exclusions: https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html
# API: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeploymentConfig.html, API_TrafficRoutingConfig,
# API_BlueGreenUpdatePolicy, API_CapacitySize, API_AutoRollbackConfig.
ALARM_POLL_SECONDS = 0.5  # how often a baking fleet's alarms are evaluated (AWS does not say how often it looks)
CANARY_MAX_SHARE = 0.5  # "Value must be less than or equal to 50% of the variant's total instance count"
LINEAR_SHARES = (0.1, 0.5)  # "Value must be 10-50% of the variant's total instance count"


@dataclass(frozen=True)
class Guardrails:
    """An UpdateEndpoint's BlueGreenUpdatePolicy and AutoRollbackConfiguration, checked and reduced to steps."""

    kind: str  # ALL_AT_ONCE, CANARY, LINEAR
    step_share: float  # share of the traffic the first (canary) or each (linear) step moves to the new fleet
    wait_seconds: int  # WaitIntervalInSeconds: baking after each step short of 100 %
    termination_wait_seconds: int  # TerminationWaitInSeconds: baking with all traffic on the new fleet
    maximum_seconds: int | None  # MaximumExecutionTimeoutInSeconds
    alarms: tuple[str, ...]

    def steps(self) -> list[tuple[float, int]]:
        """(share of traffic on the new fleet, seconds to bake it) in order; the last step has all of it.
        Canary: the canary, then the rest. Linear: one step more each time, the last one capped at 100 %."""
        if self.kind == "ALL_AT_ONCE":
            return [(1.0, self.termination_wait_seconds)]
        if self.kind == "CANARY":
            return [(self.step_share, self.wait_seconds), (1.0, self.termination_wait_seconds)]
        shares, share = [], 0.0
        while share < 1.0 - 1e-9:
            share = min(1.0, share + self.step_share)
            shares.append(share)
        return [(s, self.wait_seconds) for s in shares[:-1]] + [(1.0, self.termination_wait_seconds)]


def _limits(shape: str, member: str) -> tuple[int | None, int | None]:
    """A request member's documented range, from botocore's copy of the service model (what the API reference
    lists as Valid Range)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    metadata = model.shape_for(shape).members[member].metadata
    return metadata.get("min"), metadata.get("max")


def _in_range(value: Any, shape: str, member: str) -> int:
    from moto.sagemaker.exceptions import ValidationError

    low, high = _limits(shape, member)
    if not isinstance(value, int) or (low is not None and value < low) or (high is not None and value > high):
        raise ValidationError(
            message=f"1 validation error detected: Value {value!r} at '{member}' failed to satisfy constraint: "
            f"Member must have value between {low} and {high}"
        )
    return value


def _share(size: dict[str, Any] | None, field_name: str, instance_count: int | None) -> float:
    """A CapacitySize as a share of the new fleet (API_CapacitySize: INSTANCE_COUNT or CAPACITY_PERCENT)."""
    from moto.sagemaker.exceptions import ValidationError

    if not size:
        raise ValidationError(message=f"TrafficRoutingConfiguration.{field_name} is required for this type.")
    kind, value = size.get("Type"), size.get("Value")
    if not isinstance(value, int) or value < 1:
        raise ValidationError(message=f"{field_name}.Value must be a whole number of at least 1, got {value!r}.")
    if kind == "CAPACITY_PERCENT":
        if value > 100:
            raise ValidationError(message=f"{field_name}.Value {value} is more than 100 percent.")
        return value / 100
    if kind == "INSTANCE_COUNT":
        if not instance_count:
            raise ValidationError(
                message=f"{field_name} of type INSTANCE_COUNT needs a variant with instances (this one is serverless)."
            )
        return value / instance_count
    raise ValidationError(message=f"{field_name}.Type must be INSTANCE_COUNT or CAPACITY_PERCENT, got {kind!r}.")


def guardrails_from(
    deployment_config: dict[str, Any] | None, old_variants: list[dict[str, Any]], new_variants: list[dict[str, Any]]
) -> Guardrails | None:
    """The guardrails an UpdateEndpoint asks for, or None (SageMaker's default all-at-once blue/green update).
    What the API reference and the guardrails pages state is refused as ValidationError (the messages are ours:
    the pages do not quote AWS's); what is not emulated (rolling deployments) is refused by name."""
    from moto.sagemaker.exceptions import ValidationError

    if not deployment_config:
        return None
    if deployment_config.get("RollingUpdatePolicy"):
        raise NotEmulatedError(
            "UpdateEndpoint DeploymentConfig.RollingUpdatePolicy (rolling deployments) is not emulated: the embedded "
            "AWS does blue/green updates (all at once, canary or linear) only."
        )
    policy = deployment_config.get("BlueGreenUpdatePolicy")
    alarms = tuple(
        a.get("AlarmName", "") for a in (deployment_config.get("AutoRollbackConfiguration") or {}).get("Alarms") or []
    )
    old_names = sorted(v["VariantName"] for v in old_variants)
    new_names = sorted(v["VariantName"] for v in new_variants)
    if old_names != new_names:
        # "your new endpoint configuration must have the same variant name as the old endpoint configuration"
        raise ValidationError(
            message=f"A blue/green deployment needs the same variant names in the new endpoint configuration "
            f"({new_names}) as in the current one ({old_names})."
        )
    if any(str(v.get("InstanceType", "")).startswith("ml.inf1.") for v in new_variants):
        # Exclusions: Inf1 endpoints "fall back to using a blue/green deployment with all at once traffic
        # shifting and no final baking period".
        return None
    if policy is None:
        # No update policy: "SageMaker uses a blue/green deployment strategy with all at once traffic shifting
        # by default" (API_DeploymentConfig), still watching the auto-rollback alarms.
        return Guardrails("ALL_AT_ONCE", 1.0, 0, 0, None, alarms) if alarms else None
    routing = policy.get("TrafficRoutingConfiguration") or {}
    kind = routing.get("Type")
    if kind not in {"ALL_AT_ONCE", "CANARY", "LINEAR"}:
        raise ValidationError(
            message=f"TrafficRoutingConfiguration.Type must be ALL_AT_ONCE, CANARY or LINEAR, got {kind!r}."
        )
    wait = _in_range(routing.get("WaitIntervalInSeconds"), "TrafficRoutingConfig", "WaitIntervalInSeconds")
    termination = policy.get("TerminationWaitInSeconds", 0)
    termination = _in_range(termination, "BlueGreenUpdatePolicy", "TerminationWaitInSeconds")
    maximum = policy.get("MaximumExecutionTimeoutInSeconds")
    if maximum is not None:
        maximum = _in_range(maximum, "BlueGreenUpdatePolicy", "MaximumExecutionTimeoutInSeconds")
    counts = [v.get("DesiredInstanceCount") for v in new_variants]
    instance_count = counts[0] if counts and all(counts) else None
    share = 1.0
    if kind == "CANARY":
        share = _share(routing.get("CanarySize"), "CanarySize", instance_count)
        if share > CANARY_MAX_SHARE:
            raise ValidationError(
                message="CanarySize must be less than or equal to 50% of the variant's total instance count."
            )
    elif kind == "LINEAR":
        share = _share(routing.get("LinearStepSize"), "LinearStepSize", instance_count)
        if not LINEAR_SHARES[0] <= share <= LINEAR_SHARES[1]:
            raise ValidationError(message="LinearStepSize must be 10-50% of the variant's total instance count.")
    return Guardrails(kind, share, wait, termination, maximum, alarms)


def _pending_summary(
    config_name: str, variants: list[dict[str, Any]], started: datetime, status: str, message: str | None = None
) -> dict[str, Any]:
    """DescribeEndpoint's PendingDeploymentSummary, "only returned when the endpoint is creating or updating with a
    new endpoint configuration" (API_DescribeEndpoint; API_PendingProductionVariantSummary, API_ProductionVariantStatus:
    Creating while the new fleet is provisioned, Baking while a step of traffic is watched)."""
    variant_status = {
        "Status": status,
        "StartTime": datetime.now(UTC),
        **({"StatusMessage": message} if message else {}),
    }
    return {
        "EndpointConfigName": config_name,
        "ProductionVariants": [{**variant, "VariantStatus": [variant_status]} for variant in variants],
        "StartTime": started,
    }


class EndpointDeployer:
    """Brings endpoints into service once their model loads (through the endpoint host when there is one)."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    def model_data(self, backend: Any, config_name: str) -> str:
        config = backend.endpoint_configs.get(config_name)
        if config is None:
            raise LocalTrainingError(f"endpoint config {config_name} does not exist")
        variant = config.production_variants[0]
        model = backend._models.get(variant["ModelName"])
        if model is None:
            raise LocalTrainingError(f"model {variant['ModelName']} does not exist")
        container = model.primary_container or (model.containers or [{}])[0]
        model_data = container.get("ModelDataUrl")
        if not model_data:
            raise LocalTrainingError(f"model {model.model_name} has no ModelDataUrl")
        return model_data

    def check(self, account: str, backend: Any, config_name: str) -> None:
        """The new config's model must exist in S3 and load, as SageMaker's health check requires; the model reads
        its artifact with its execution role."""
        model_data = self.model_data(backend, config_name)
        variant = backend.endpoint_configs[config_name].production_variants[0]
        role = getattr(backend._models.get(variant["ModelName"]), "execution_role_arn", None)
        _RoleAccess(getattr(self.ctx, "iam", None), role).require("s3:GetObject", model_data)
        body = _read_s3(account, model_data)
        try:
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
                tar.getmembers()
        except tarfile.TarError as error:
            raise LocalTrainingError(f"{model_data} is not a gzipped tar archive: {error}") from None
        host = getattr(self.ctx, "endpoints", None)
        if host is not None and hasattr(host, "server_for"):
            try:
                host.server_for(account, model_data)
            except Exception as error:  # the reason goes to the endpoint's FailureReason
                raise LocalTrainingError(f"the model in {model_data} failed to load: {error}") from None

    def deploy(
        self,
        account: str,
        backend: Any,
        endpoint: Any,
        config_name: str,
        updating: bool,
        retain_all: bool = False,
        excluded: frozenset[str] = frozenset(),
        guardrails: Guardrails | None = None,
    ) -> None:
        """Bring the endpoint into service on `config_name`: a new endpoint, or a blue/green update (with
        guardrails: traffic shifted step by step, each step baked while its alarms are watched)."""
        started = datetime.now(UTC)
        config = backend.endpoint_configs[config_name]
        serving = list(endpoint.production_variants) if updating else []
        variants = updated_variants(config.production_variants, serving, retain_all, excluded)
        endpoint.pending_deployment_summary = _pending_summary(config_name, variants, started, "Creating")

        def run() -> None:
            try:
                self.check(account, backend, config_name)
                reason = None
                if guardrails is not None:
                    reason = self._shift_traffic(account, backend, endpoint, config_name, variants, guardrails, started)
            except Exception as error:
                reason = f"Failed to deploy endpoint config {config_name}: {error}"
            if reason is not None:
                endpoint.failure_reason = reason
                endpoint.last_modified_time = datetime.now(UTC)
                endpoint.pending_deployment_summary = None
                self._end_shift(account, backend, endpoint)
                # An update that fails rolls back: the old config keeps serving.
                endpoint.endpoint_status = "InService" if updating else "Failed"
                LOG.info("endpoint %s: %s", endpoint.endpoint_name, reason)
                return
            endpoint.production_variants = variants
            endpoint.data_capture_config = config.data_capture_config
            endpoint.endpoint_config_name = config_name
            self._end_shift(account, backend, endpoint)  # the new config now answers every request by itself
            endpoint.failure_reason = None
            endpoint.pending_deployment_summary = None
            endpoint.last_modified_time = datetime.now(UTC)
            endpoint.endpoint_status = "InService"

        threading.Thread(target=run, name=f"endpoint-{endpoint.endpoint_name}", daemon=True).start()

    def _host_shifts(self) -> dict | None:
        host = getattr(self.ctx, "endpoints", None)
        return getattr(host, "shifts", None)

    def _end_shift(self, account: str, backend: Any, endpoint: Any) -> None:
        shifts = self._host_shifts()
        if shifts is not None:
            shifts.pop((account, backend.region_name, endpoint.endpoint_name), None)

    def _shift_traffic(
        self,
        account: str,
        backend: Any,
        endpoint: Any,
        config_name: str,
        variants: list[dict[str, Any]],
        guardrails: Guardrails,
        started: datetime,
    ) -> str | None:
        """Move traffic to the new fleet step by step, baking each step; the reason of a rollback, or None.

        Once the green fleet is provisioned, SageMaker routes the step's share of traffic to it and the baking
        period begins; "If any of the pre-specified alarms trip during any baking period, then all endpoint
        traffic rolls back to the blue fleet" (Blue/Green Deployments). After the last step the final baking
        period is TerminationWaitInSeconds, then the blue fleet is terminated. A deployment still running after
        MaximumExecutionTimeoutInSeconds is rolled back too (API_BlueGreenUpdatePolicy gives the limit; the pages
        do not say what happens when it passes). The FailureReason wording is ours: AWS does not document it."""
        from local_aws.endpoints import TrafficShift

        shifts = self._host_shifts()
        shift = TrafficShift(endpoint.endpoint_config_name, config_name)
        if shifts is not None:
            shifts[(account, backend.region_name, endpoint.endpoint_name)] = shift
        deadline = None if guardrails.maximum_seconds is None else time.monotonic() + guardrails.maximum_seconds
        for share, bake_seconds in guardrails.steps():
            shift.set_share(share)
            endpoint.pending_deployment_summary = _pending_summary(
                config_name, variants, started, "Baking", f"{share:.0%} of the traffic on the new fleet"
            )
            endpoint.last_modified_time = datetime.now(UTC)
            tripped = self._bake(account, backend.region_name, guardrails.alarms, bake_seconds, deadline)
            if tripped is not None:
                return (
                    f"Deployment of endpoint config {config_name} rolled back to {shift.old_config} at "
                    f"{share:.0%} of the traffic: {tripped}. All traffic is back on the previous fleet."
                )
        return None

    @staticmethod
    def _bake(account: str, region: str, alarms: tuple[str, ...], seconds: int, deadline: float | None) -> str | None:
        """Watch the alarms for `seconds` (at least once); why to roll back, or None."""
        from local_aws.cloudwatch_alarms import evaluate_alarms

        end = time.monotonic() + seconds
        while True:
            if alarms:
                states = evaluate_alarms(account, region, list(alarms))
                tripped = sorted(name for name, state in states.items() if state == "ALARM")
                if tripped:
                    return f"CloudWatch alarm {', '.join(tripped)} went into ALARM during the baking period"
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return "the deployment ran past its MaximumExecutionTimeoutInSeconds"
            if now >= end:
                return None
            time.sleep(min(ALARM_POLL_SECONDS, end - now))

    @staticmethod
    def change_capacity(endpoint: Any, desired: list[dict[str, Any]]) -> None:
        """UpdateEndpointWeightsAndCapacities once accepted: Updating, then InService with the new weights and
        counts. Only the fields a request names change (both are optional in DesiredWeightAndCapacity:
        https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DesiredWeightAndCapacity.html)."""
        endpoint.endpoint_status = "Updating"
        endpoint.last_modified_time = datetime.now(UTC)

        def run() -> None:
            by_name = {variant["VariantName"]: variant for variant in endpoint.production_variants}
            for change in desired:
                variant = by_name[change["VariantName"]]
                if change.get("DesiredInstanceCount") is not None:
                    variant["CurrentInstanceCount"] = variant["DesiredInstanceCount"] = change["DesiredInstanceCount"]
                if change.get("DesiredWeight") is not None:
                    variant["CurrentWeight"] = variant["DesiredWeight"] = float(change["DesiredWeight"])
            endpoint.last_modified_time = datetime.now(UTC)
            endpoint.endpoint_status = "InService"

        threading.Thread(target=run, name=f"capacity-{endpoint.endpoint_name}", daemon=True).start()


def check_update(
    account: str,
    region: str,
    endpoint: Any,
    current_config: Any,
    new_config: Any,
) -> None:
    """What SageMaker refuses before an update starts, as documented:
    an instance type change of a variant registered for autoscaling
    (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html), and an instance-based
    endpoint turned serverless (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html,
    "Feature exclusions": a ValidationError). The messages are ours; the docs do not quote AWS's."""
    from moto.sagemaker.exceptions import ValidationError

    current = {v["VariantName"]: v for v in (current_config.production_variants if current_config else [])}
    for variant in new_config.production_variants:
        before = current.get(variant["VariantName"])
        if before is None:
            continue
        if "InstanceType" in before and "ServerlessConfig" in variant:
            raise ValidationError(
                message=f'Endpoint "{endpoint.endpoint_name}" is instance-based; variant {variant["VariantName"]} '
                "cannot be updated to serverless. Create a new endpoint for a serverless variant."
            )
        if (
            "InstanceType" in before
            and before.get("InstanceType") != variant.get("InstanceType")
            and _scalable_target(account, region, endpoint.endpoint_name, variant["VariantName"]) is not None
        ):
            raise ValidationError(
                message=f"The variant {variant['VariantName']} of endpoint {endpoint.endpoint_name} is registered "
                f"for autoscaling; its instance type cannot change from {before['InstanceType']} to "
                f"{variant.get('InstanceType')}. Deregister the scalable target, update, then register it again."
            )


# -- install -------------------------------------------------------------------------------------------------------
class _Active:
    """The compute of the embedded AWS installed last; the patched methods look it up on every call."""

    runner: TrainingRunner | None = None
    deployer: EndpointDeployer | None = None
    iam: Any = None


def _assumable(role_arn: str | None) -> None:
    """CreateTrainingJob and CreateModel refuse a role SageMaker cannot assume. AWS answers with a
    ValidationException "Could not assume role ..."; the API reference does not document the message."""
    if _Active.iam is None or not role_arn:
        return
    from moto.sagemaker.exceptions import ValidationError

    from local_aws.iam import AccessDenied

    try:
        _Active.iam.cached_session(role_arn, SAGEMAKER_SERVICE, SESSION_NAME)
    except AccessDenied as denied:
        raise ValidationError(
            message=f"Could not assume role {role_arn}. Please ensure that the role exists and allows principal "
            f"'{SAGEMAKER_SERVICE}' to assume the role. ({denied})"
        ) from None


def _patch(owner: type, name: str, replacement: Callable[..., Any]) -> None:
    if getattr(getattr(owner, name, None), "_local_aws", False):
        return  # already patched in this process; install() only swapped the active runner
    replacement._local_aws = True  # type: ignore[attr-defined]
    setattr(owner, name, replacement)


def install(ctx: Any) -> None:
    """Patch moto's SageMaker backend and responses: local training, endpoint lifecycle, UpdateEndpoint."""
    from moto.core.responses import ActionResult, EmptyResult
    from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
    from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    iam = getattr(ctx, "iam", None)
    _Active.runner = TrainingRunner(Path(ctx.work_dir), getattr(ctx, "endpoint_url", None), iam)
    _Active.iam = iam
    _Active.deployer = EndpointDeployer(ctx)
    original_create_training_job = SageMakerModelBackend.create_training_job
    original_create_endpoint = SageMakerModelBackend.create_endpoint
    original_create_model = SageMakerModelBackend.create_model
    original_create_endpoint_config = SageMakerModelBackend.create_endpoint_config

    def create_model(self: Any, **kwargs: Any) -> Any:
        _assumable(kwargs.get("execution_role_arn"))
        return original_create_model(self, **kwargs)

    def create_training_job(self: Any, **kwargs: Any) -> Any:
        name = kwargs["training_job_name"]
        if name in self.training_jobs:
            raise ResourceInUseException(
                "Training job names must be unique within an AWS account and region, "
                f"and a training job with this name already exists ({self.training_jobs[name].arn})"
            )
        _assumable(kwargs.get("role_arn"))
        requested = copy.deepcopy(kwargs.get("algorithm_specification") or {})
        job = original_create_training_job(self, **kwargs)
        # moto replaces MetricDefinitions with a canned one and reports the job finished; undo both.
        job.algorithm_specification = requested
        now = datetime.now(UTC)
        job.training_job_status = "InProgress"
        job.secondary_status = "Starting"
        job.secondary_status_transitions = [
            {"Status": "Starting", "StartTime": now, "StatusMessage": "Preparing the instances for training"}
        ]
        job.final_metric_data_list = []
        job.model_artifacts = None
        job.training_start_time = now
        job.training_end_time = None
        # Every attribute exists from the start (None is left out of Describe): describing a job while the
        # runner thread updates it must never see its attribute dict change size.
        job.failure_reason = None
        job.training_time_in_seconds = None
        job.billable_time_in_seconds = None
        _Active.runner.start(self.account_id, self.region_name, job)
        return job

    def stop_training_job(self: Any, training_job_name: str) -> None:
        # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_StopTrainingJob.html (moto has no
        # StopTrainingJob). The page lists ResourceNotFound for an unknown job; it does not say what a job that
        # already ended answers: here a ValidationException naming its status (the message is ours).
        job = self.training_jobs.get(training_job_name)
        if job is None:
            raise ResourceNotFound(message=f"Requested resource not found: training job {training_job_name}")
        if job.training_job_status == "Stopping":
            return
        if job.training_job_status != "InProgress":
            raise ValidationError(
                message=f"The training job {training_job_name} is {job.training_job_status} and cannot be stopped."
            )
        _Active.runner.stop(job)

    def stop_training_job_response(self: Any) -> Any:
        self.sagemaker_backend.stop_training_job(self._get_param("TrainingJobName"))
        return EmptyResult()

    def create_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str, tags: list[dict[str, str]]) -> Any:
        if endpoint_name in self.endpoints:
            arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise ValidationError(message=f'Cannot create already existing endpoint "{arn}".')
        endpoint = original_create_endpoint(
            self, endpoint_name=endpoint_name, endpoint_config_name=endpoint_config_name, tags=tags
        )
        endpoint.endpoint_status = "Creating"
        # Every attribute DescribeEndpoint may show exists from the start (None is left out of the answer), so the
        # deployment thread never changes the size of the endpoint's attribute dict while it is described.
        endpoint.last_deployment_config = None
        endpoint.pending_deployment_summary = None
        _Active.deployer.deploy(self.account_id, self, endpoint, endpoint_config_name, updating=False)
        return endpoint

    def update_endpoint(
        self: Any,
        endpoint_name: str,
        endpoint_config_name: str,
        retain_all_variant_properties: bool = False,
        exclude_retained_variant_properties: list[dict[str, str]] | None = None,
        deployment_config: dict[str, Any] | None = None,
        retain_deployment_config: bool = False,
    ) -> Any:
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise ValidationError(message=f'Could not find endpoint "{arn}".')
        if endpoint_config_name not in self.endpoint_configs:
            raise ValidationError(message=f'Could not find endpoint configuration "{endpoint_config_name}".')
        if endpoint.endpoint_status != "InService":
            raise ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')
        if not deployment_config and retain_deployment_config:
            # "Specifies whether to reuse the last deployment configuration" (API_UpdateEndpoint).
            deployment_config = getattr(endpoint, "last_deployment_config", None)
        excluded = frozenset(p.get("VariantPropertyType") for p in exclude_retained_variant_properties or [])
        unknown = excluded - RETAINABLE_PROPERTIES - UNSUPPORTED_PROPERTIES
        if unknown:
            raise ValidationError(
                message=f"ExcludeRetainedVariantProperties: unknown VariantPropertyType {sorted(unknown)}; valid "
                "values are DesiredInstanceCount, DesiredWeight and DataCaptureConfig."
            )
        if excluded & UNSUPPORTED_PROPERTIES:
            # API_VariantProperty: "DataCaptureConfig: (Not currently supported.)"; what AWS answers is not documented.
            raise ValidationError(message="VariantPropertyType DataCaptureConfig is not currently supported.")
        new_config = self.endpoint_configs[endpoint_config_name]
        check_update(
            self.account_id,
            self.region_name,
            endpoint,
            self.endpoint_configs.get(endpoint.endpoint_config_name),
            new_config,
        )
        retained = updated_variants(
            new_config.production_variants, endpoint.production_variants, bool(retain_all_variant_properties), excluded
        )
        guardrails = guardrails_from(deployment_config, endpoint.production_variants, retained)
        if deployment_config:
            endpoint.last_deployment_config = deployment_config  # DescribeEndpoint's LastDeploymentConfig
        endpoint.endpoint_status = "Updating"
        endpoint.last_modified_time = datetime.now(UTC)
        # Without RetainAllVariantProperties, ExcludeRetainedVariantProperties has nothing to exclude from (the
        # docs describe it only together with RetainAllVariantProperties = true), so it changes nothing.
        _Active.deployer.deploy(
            self.account_id,
            self,
            endpoint,
            endpoint_config_name,
            updating=True,
            retain_all=bool(retain_all_variant_properties),
            excluded=excluded,
            guardrails=guardrails,
        )
        return endpoint

    def update_endpoint_response(self: Any) -> Any:
        endpoint = self.sagemaker_backend.update_endpoint(
            endpoint_name=self._get_param("EndpointName"),
            endpoint_config_name=self._get_param("EndpointConfigName"),
            retain_all_variant_properties=self._get_param("RetainAllVariantProperties") or False,
            exclude_retained_variant_properties=self._get_param("ExcludeRetainedVariantProperties"),
            deployment_config=self._get_param("DeploymentConfig"),
            retain_deployment_config=self._get_param("RetainDeploymentConfig") or False,
        )
        return ActionResult({"EndpointArn": endpoint.arn})

    def update_endpoint_weights_and_capacities(
        self: Any, endpoint_name: str, desired_weights_and_capacities: list[dict[str, Any]]
    ) -> str:
        # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpointWeightsAndCapacities.html:
        # "Updates variant weight of one or more variants ..., or capacity of one variant"; the endpoint goes
        # Updating, then InService. moto applies it at once and blanks the fields a request leaves out.
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise ValidationError(message=f'Could not find endpoint "{arn}".')
        if endpoint.endpoint_status != "InService":
            raise ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')
        names = [change.get("VariantName") for change in desired_weights_and_capacities]
        serving = {variant["VariantName"]: variant for variant in endpoint.production_variants}
        for name in names:
            if names.count(name) > 1:
                raise ValidationError(message=f'The variant name "{name}" was non-unique within the request.')
            if name not in serving:
                raise ValidationError(
                    message=f'The variant name(s) "{name}" is/are not present within endpoint configuration '
                    f'"{endpoint.endpoint_config_name}".'
                )
        capacity_changes = [c for c in desired_weights_and_capacities if c.get("DesiredInstanceCount") is not None]
        if len(capacity_changes) > 1:
            raise ValidationError(message="The capacity of only one variant can be updated per request.")
        for change in capacity_changes:
            if "DesiredInstanceCount" not in serving[change["VariantName"]]:
                raise ValidationError(
                    message=f"Variant {change['VariantName']} is serverless; it has no instance count to update."
                )
        _Active.deployer.change_capacity(endpoint, desired_weights_and_capacities)
        return endpoint.arn

    def create_endpoint_config(self: Any, **kwargs: Any) -> Any:
        variants = kwargs.get("production_variants") or []
        if any("ServerlessConfig" in variant for variant in variants) and kwargs.get("data_capture_config"):
            # https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html, "Feature exclusions":
            # Serverless Inference supports neither data capture nor Model Monitor. The message is ours.
            raise ValidationError(
                message="DataCaptureConfig is not supported for an endpoint configuration with a serverless "
                "production variant."
            )
        return original_create_endpoint_config(self, **kwargs)

    _patch(SageMakerModelBackend, "create_training_job", create_training_job)
    _patch(SageMakerModelBackend, "create_model", create_model)
    _patch(SageMakerModelBackend, "create_endpoint", create_endpoint)
    _patch(SageMakerModelBackend, "create_endpoint_config", create_endpoint_config)
    _patch(SageMakerModelBackend, "update_endpoint", update_endpoint)
    _patch(SageMakerModelBackend, "update_endpoint_weights_and_capacities", update_endpoint_weights_and_capacities)
    _patch(SageMakerResponse, "update_endpoint", update_endpoint_response)
    _patch(SageMakerModelBackend, "stop_training_job", stop_training_job)
    _patch(SageMakerResponse, "stop_training_job", stop_training_job_response)


def scale_variant(account: str, region: str, endpoint_name: str, variant_name: str, count: int) -> bool:
    """Set a variant's instance count the way Application Auto Scaling does (through
    UpdateEndpointWeightsAndCapacities); False when the endpoint is not in service, which it leaves alone."""
    from moto.sagemaker.models import sagemaker_backends

    backend = sagemaker_backends[account][region]
    endpoint = backend.endpoints.get(endpoint_name)
    if endpoint is None or endpoint.endpoint_status != "InService" or _Active.deployer is None:
        return False
    _Active.deployer.change_capacity(endpoint, [{"VariantName": variant_name, "DesiredInstanceCount": count}])
    return True


def variant_instance_count(account: str, region: str, endpoint_name: str, variant_name: str) -> int | None:
    """A variant's DesiredInstanceCount, or None (no such endpoint or variant, or a serverless one)."""
    from moto.sagemaker.models import sagemaker_backends

    endpoint = sagemaker_backends[account][region].endpoints.get(endpoint_name)
    for variant in getattr(endpoint, "production_variants", None) or []:
        if variant["VariantName"] == variant_name:
            return variant.get("DesiredInstanceCount")
    return None
