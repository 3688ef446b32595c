"""`python -m training.launch`: package the training code, start the training pipeline, follow it to the end.

    python -m training.launch --state-machine-arn ARN --bucket DATA_BUCKET --dataset-prefix datasets/v1
        [--dataset-version vN|latest] [--algorithm pytorch|builtin] [--epochs N] [--learning-rate X] [--batch-size N]
        [--hyperparameter KEY=VALUE ...] [--instance-type TYPE] [--job-name NAME] [--no-wait]
        [--print-input]
    python -m training.launch --rollback --state-machine-arn ARN      (training/deployments.py)
    python -m training.launch --approve|--reject MODEL_PACKAGE_ARN [--reason TEXT]

`--dataset-version` trains on a version `python -m etl --add-reviewed` wrote under `<dataset prefix>/versions/`
(the base plus reviewed images, etl/versions.py): `vN`, or `latest` for the newest complete one; a version that is
not there is DatasetVersionNotFound (exit 2) before anything is uploaded. Without it, the dataset prefix itself.

Steps: read the dataset's manifest.json, tar `training/sourcedir/` and upload it (PyTorch script mode), resolve the
algorithm's container images with the SageMaker SDK's tables, build the execution input
(`training.pipeline_input`), start the state machine and print its progress.

Exit status: 0 deployed (or started, with --no-wait); 3 the accuracy gate rejected the model (both numbers are
printed); 1 any other failure (the Fail state's cause is printed); 2 bad arguments or settings, a job name that a
training job or pipeline execution already has and a CPU instance type for `--algorithm builtin`
(BuiltinNeedsGpuInstance: that algorithm trains on GPU instances only) included.

Each run is a new model version: its training job, model, endpoint config and model artifacts
(`<model output>/<job>/output/`) are all named after the job name, so a re-run needs a new one (the default is a
new UTC time). A taken name is refused before anything is uploaded or started; nothing existing is changed.
Terraform calls this from the training_pipeline module when `launch_on_apply = true`.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import math
import re
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from etl.s3_names import bucket_problem, prefix_problem
from etl.versions import LATEST, DatasetVersionNotFound, resolve_version, version_number
from training import deployments, image_uris
from training.pipeline_input import (
    SOURCEDIR,
    Algorithm,
    ExecutionInput,
    LaunchSettings,
    PipelineInputError,
    build_execution_input,
    dataset_uri,
    validate_job_name,
)

EXIT_SUCCEEDED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REJECTED = 3
REJECTED_ERROR = "ModelBelowThreshold"
STATE_MACHINE_SUFFIX = "-training-pipeline"
PACKAGE_EXCLUDED = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}
TERMINAL_STATUSES = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}

ClientFactory = Callable[[str], Any]


class LaunchError(Exception):
    """The pipeline could not be started (missing manifest, no image for the region, bad job name)."""


class JobNameTaken(LaunchError):
    """A training job or an execution of the pipeline already has this name; SageMaker and Step Functions never
    reuse one, and a run under an old name would only fail half-way."""


@dataclass
class LaunchResult:
    execution_arn: str
    job_name: str
    status: str  # RUNNING (not followed), SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    error: str | None = None
    cause: str | None = None
    accuracy: float | None = None
    threshold: float | None = None
    metric_name: str | None = None
    output: dict[str, Any] | None = None
    execution_input: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def rejected(self) -> bool:
        return self.error == REJECTED_ERROR

    @property
    def exit_code(self) -> int:
        if self.status in {"RUNNING", "SUCCEEDED"}:
            return EXIT_SUCCEEDED
        return EXIT_REJECTED if self.rejected else EXIT_FAILED

    def summary(self) -> str:
        """One line a person reads at the end of a run."""
        if self.status == "RUNNING":
            return f"started {self.execution_arn} (training job {self.job_name}); not following it (--no-wait)"
        if self.status == "SUCCEEDED":
            score = "" if self.accuracy is None else f" with {self.metric_name} {self.accuracy:.4f}"
            endpoint = (self.output or {}).get("EndpointName", "the endpoint")
            return f"deployed training job {self.job_name}{score} to {endpoint}"
        if self.rejected and self.accuracy is not None and self.threshold is not None:
            accuracy, threshold = _two_numbers(self.accuracy, self.threshold)
            return (
                f"rejected: accuracy {accuracy} is below the gate threshold {threshold} "
                f"({self.metric_name} of training job {self.job_name}); the model was not deployed"
            )
        return f"{self.status.lower()}: {self.error or 'no error name'}: {self.cause or 'no cause given'}"


class DatasetVersionMissing(LaunchError):
    """`--dataset-version` names a version the dataset does not have (or `latest`, and it has none)."""


def dataset_prefix_for(
    s3: Any, bucket: str, dataset_prefix: str, dataset_version: str | None, progress: Callable[[str], None]
) -> str:
    """The prefix to train on: the dataset's own, or that of one of its versions (etl/versions.py)."""
    if not dataset_version:
        return dataset_prefix
    try:
        version = resolve_version(s3, bucket, dataset_prefix, dataset_version)
    except DatasetVersionNotFound as error:
        raise DatasetVersionMissing(str(error)) from None
    reviewed = len(version.document.get("reviews", []))
    progress(f"dataset version {version.name}: s3://{bucket}/{version.prefix}/ (base + {reviewed} reviewed images)")
    return version.prefix


class BuiltinNeedsGpuInstance(LaunchError):
    """The built-in image-classification algorithm trains on GPU instances only; a CPU instance type is refused
    before any call, instead of failing the training job after the pipeline has started."""


# AWS: "For image classification, we support the following GPU instances for training" (P2/P3 named; both CPU and
# GPU instances serve) - https://docs.aws.amazon.com/sagemaker/latest/dg/image-classification.html#IC-instances.
# SageMaker's GPU instance families are the P and G ones (ml.p3.2xlarge, ml.g4dn.xlarge, ml.p4d.24xlarge, ...).
_GPU_INSTANCE_TYPE = re.compile(r"ml\.[pg]\d[a-z0-9-]*\.[a-z0-9-]+")
DEFAULT_INSTANCE_TYPES = {Algorithm.PYTORCH: "ml.m5.xlarge", Algorithm.BUILTIN: "ml.p3.2xlarge"}


def refuse_cpu_instance_for_builtin(algorithm: Algorithm | str, instance_type: str) -> None:
    """BuiltinNeedsGpuInstance for `--algorithm builtin` on an instance type without a GPU."""
    if Algorithm(algorithm) is Algorithm.BUILTIN and not _GPU_INSTANCE_TYPE.fullmatch(instance_type):
        raise BuiltinNeedsGpuInstance(
            f"the built-in image-classification algorithm trains only on GPU instances (P or G families, e.g. "
            f"{DEFAULT_INSTANCE_TYPES[Algorithm.BUILTIN]}); {instance_type} has no GPU - nothing was started"
        )


# -- packaging -----------------------------------------------------------------------------------------------------
def package_sourcedir(sourcedir: Path = SOURCEDIR) -> bytes:
    """A reproducible sourcedir.tar.gz: same files, same bytes (sorted, fixed times and owners)."""
    if not (sourcedir / "train.py").is_file():
        raise LaunchError(f"{sourcedir} has no train.py to run")
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in sorted(sourcedir.rglob("*")):
            relative = path.relative_to(sourcedir)
            if set(relative.parts) & PACKAGE_EXCLUDED or path.suffix in {".pyc", ".pyo"} or not path.is_file():
                continue
            info = tarfile.TarInfo(str(relative))
            data = path.read_bytes()
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def upload_sourcedir(s3: Any, code_s3_uri: str, sourcedir: Path = SOURCEDIR) -> str:
    """Upload as `<code prefix>/sourcedir-<sha256>.tar.gz`: the same code is one object, and a saved input
    (a retrain's) keeps pointing at the code it was made with."""
    body = package_sourcedir(sourcedir)
    bucket, _, prefix = code_s3_uri.removeprefix("s3://").partition("/")
    digest = hashlib.sha256(body).hexdigest()
    key = "/".join(p for p in (prefix.strip("/"), f"sourcedir-{digest[:20]}.tar.gz") if p)
    s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"sha256": digest})
    return f"s3://{bucket}/{key}"


# -- building the input ------------------------------------------------------------------------------------------
def read_manifest(s3: Any, bucket: str, dataset_prefix: str) -> dict[str, Any]:
    uri = dataset_uri(bucket, dataset_prefix, "manifest.json")
    key = uri.removeprefix(f"s3://{bucket}/")
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        raise LaunchError(f"cannot read {uri} (run the ETL first?): {error}") from None
    except ValueError as error:
        raise LaunchError(f"{uri} is not valid JSON: {error}") from None


def default_job_name(state_machine_arn: str, algorithm: Algorithm, now: datetime | None = None) -> str:
    """`<name_prefix>-<algorithm>-<UTC time>`: the role's permissions are scoped to names with that prefix."""
    base = name_prefix(state_machine_arn) or "training"
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return validate_job_name(f"{base}-{algorithm.value}-{stamp}")


def name_prefix(state_machine_arn: str) -> str | None:
    name = state_machine_arn.rsplit(":", 1)[-1]
    return name.removesuffix(STATE_MACHINE_SUFFIX) if name.endswith(STATE_MACHINE_SUFFIX) else None


def job_name_for(state_machine_arn: str, algorithm: Algorithm, job_name: str | None = None) -> str:
    """The run's name: the one given, or `<name_prefix>-<algorithm>-<UTC time>`; checked against SageMaker's rules
    and the prefix the pipeline's roles are scoped to."""
    try:
        name = validate_job_name(job_name) if job_name else default_job_name(state_machine_arn, algorithm)
    except PipelineInputError as error:
        raise LaunchError(str(error)) from None
    prefix = name_prefix(state_machine_arn)
    if prefix and not name.startswith(f"{prefix}-"):
        raise LaunchError(
            f"job name {name!r} must start with {prefix + '-'!r}: the pipeline's roles may "
            "only create training jobs, models and endpoint configs with that prefix"
        )
    return name


def refuse_taken_job_name(sagemaker: Any, job_name: str, progress: Callable[[str], None]) -> None:
    """A training job of this name means an earlier run: its model version stays as it is, the new run needs a new
    name. Checked before anything is uploaded or started."""
    try:
        job = sagemaker.describe_training_job(TrainingJobName=job_name)
    except ClientError as error:
        details = error.response.get("Error", {})
        if details.get("Code") == "ValidationException" and _says_not_found(details.get("Message", "")):
            return
        if details.get("Code") in {"AccessDeniedException", "AccessDenied"}:
            progress(f"cannot check whether training job {job_name} exists ({details.get('Code')}); going on")
            return
        raise
    created = job.get("CreationTime")
    when = f", created {created.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if isinstance(created, datetime) else ""
    raise JobNameTaken(
        f"training job {job_name} already exists ({job.get('TrainingJobStatus', 'unknown status')}{when}); "
        "nothing was started or changed - give a new --job-name (or none) to train a new model version"
    )


def resolve_images(
    algorithm: Algorithm, region: str, instance_type: str, inference_instance_type: str
) -> image_uris.AlgorithmImages:
    try:
        if algorithm is Algorithm.BUILTIN:
            return image_uris.builtin_images(region)
        return image_uris.pytorch_images(region, instance_type, inference_instance_type)
    except image_uris.ImageUriError as error:
        raise LaunchError(str(error)) from None


# -- following the execution ---------------------------------------------------------------------------------------
class ExecutionFollower:
    """Prints each state the execution enters, the training job's progress, and failures, as they happen."""

    def __init__(
        self, sfn: Any, sagemaker: Any, execution_arn: str, job_name: str, progress: Callable[[str], None]
    ) -> None:
        self.sfn, self.sagemaker = sfn, sagemaker
        self.execution_arn, self.job_name = execution_arn, job_name
        self.progress = progress
        self.events: list[dict[str, Any]] = []
        self.started = time.monotonic()
        self.current_state: str | None = None
        self.training_status: str | None = None

    def _say(self, message: str) -> None:
        self.progress(f"[{time.monotonic() - self.started:6.0f}s] {message}")

    def poll(self) -> None:
        seen = len(self.events)
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": self.execution_arn, "maxResults": 1000}
        while True:
            page = self.sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        self.events = events
        for event in events[seen:]:
            self._report(event)
        if self.current_state == "Train":
            self._report_training()

    def _report(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            self.current_state = event["stateEnteredEventDetails"]["name"]
            self._say(f"{self.current_state}")
        elif kind in {"TaskFailed", "LambdaFunctionFailed"}:
            details = event.get("taskFailedEventDetails") or event.get("lambdaFunctionFailedEventDetails") or {}
            self._say(f"  {self.current_state} failed: {details.get('error')}: {_first_line(details.get('cause'))}")
        elif kind == "ExecutionSucceeded":
            self._say("execution succeeded")
        elif kind in {"ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}:
            self._say(f"execution {kind.removeprefix('Execution').lower()}")

    def _report_training(self) -> None:
        try:
            job = self.sagemaker.describe_training_job(TrainingJobName=self.job_name)
        except (ClientError, BotoCoreError):
            return  # not created yet
        status = f"{job['TrainingJobStatus']}/{job.get('SecondaryStatus', '')}"
        if status != self.training_status:
            self.training_status = status
            self._say(f"  training job {self.job_name}: {status}")

    def state_output(self, state_name: str) -> dict[str, Any] | None:
        """The JSON a state passed on the last time it was exited."""
        for event in reversed(self.events):
            details = event.get("stateExitedEventDetails")
            if details and details.get("name") == state_name:
                try:
                    return json.loads(details.get("output") or "null")
                except ValueError:
                    return None
        return None


def follow(
    sfn: Any,
    sagemaker: Any,
    result: LaunchResult,
    progress: Callable[[str], None],
    poll_seconds: float,
    timeout_seconds: float | None,
) -> LaunchResult:
    follower = ExecutionFollower(sfn, sagemaker, result.execution_arn, result.job_name, progress)
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    while True:
        execution = sfn.describe_execution(executionArn=result.execution_arn)
        follower.poll()
        if execution["status"] in TERMINAL_STATUSES:
            break
        if deadline is not None and time.monotonic() > deadline:
            raise LaunchError(
                f"execution {result.execution_arn} still running after {timeout_seconds:.0f}s "
                "(it carries on; follow it in the Step Functions console)"
            )
        time.sleep(poll_seconds)
    result.status = execution["status"]
    result.error, result.cause = execution.get("error"), execution.get("cause")
    if execution.get("output"):
        result.output = json.loads(execution["output"])
    evaluated = follower.state_output("Evaluate") or {}
    evaluation = evaluated.get("ModelEvaluation") or {}
    result.accuracy = evaluation.get("Accuracy")
    result.metric_name = evaluation.get("MetricName")
    result.threshold = (evaluated.get("settings") or {}).get("AccuracyThreshold", evaluation.get("Threshold"))
    return result


# -- the API -------------------------------------------------------------------------------------------------------
def prepare_input(
    state_machine_arn: str,
    bucket: str,
    dataset_prefix: str,
    *,
    algorithm: Algorithm | str = Algorithm.PYTORCH,
    hyperparameters: dict[str, Any] | None = None,
    instance_type: str | None = None,
    inference_instance_type: str = "ml.m5.large",
    job_name: str | None = None,
    code_s3_uri: str | None = None,
    sourcedir: Path = SOURCEDIR,
    region: str,
    s3: Any,
    progress: Callable[[str], None] = print,
) -> ExecutionInput:
    """Read the manifest, upload the code, resolve the images: the execution input, ready to start."""
    algorithm = Algorithm(algorithm)
    instance_type = instance_type or DEFAULT_INSTANCE_TYPES[algorithm]
    refuse_cpu_instance_for_builtin(algorithm, instance_type)
    try:
        job_name = job_name_for(state_machine_arn, algorithm, job_name)
        manifest = read_manifest(s3, bucket, dataset_prefix)
        progress(
            f"dataset s3://{bucket}/{dataset_prefix.strip('/')}: "
            + ", ".join(f"{split} {info.get('count')}" for split, info in (manifest.get("splits") or {}).items())
        )
        images = resolve_images(algorithm, region, instance_type, inference_instance_type)
        progress(f"images: training {images.training}, serving {images.inference}")
        sourcedir_uri = None
        if algorithm is Algorithm.PYTORCH:
            sourcedir_uri = upload_sourcedir(s3, code_s3_uri or f"s3://{bucket}/training-code", sourcedir)
            progress(f"training code: {sourcedir_uri}")
        settings = LaunchSettings(
            algorithm=algorithm,
            bucket=bucket,
            dataset_prefix=dataset_prefix,
            job_name=job_name,
            region=region,
            images=images,
            sourcedir_s3_uri=sourcedir_uri,
            instance_type=instance_type,
            inference_instance_type=inference_instance_type,
            hyperparameters=dict(hyperparameters or {}),
            sourcedir=sourcedir,
        )
        return build_execution_input(settings, manifest)
    except PipelineInputError as error:
        raise LaunchError(str(error)) from None


def launch(
    state_machine_arn: str,
    bucket: str,
    dataset_prefix: str,
    *,
    wait: bool = True,
    region: str | None = None,
    client_factory: ClientFactory | None = None,
    progress: Callable[[str], None] = print,
    poll_seconds: float = 2.0,
    timeout_seconds: float | None = None,
    dataset_version: str | None = None,
    **input_options: Any,
) -> LaunchResult:
    """Start one training pipeline execution (and, with wait, follow it to its end).

    `dataset_version`: `vN` or `latest` trains on that version of the dataset (None: the dataset prefix itself).
    `input_options` are prepare_input's: algorithm, hyperparameters, instance_type, inference_instance_type,
    job_name, code_s3_uri, sourcedir.
    """
    algorithm = Algorithm(input_options.pop("algorithm", Algorithm.PYTORCH))
    refuse_cpu_instance_for_builtin(algorithm, input_options.get("instance_type") or DEFAULT_INSTANCE_TYPES[algorithm])
    region = region or boto3.session.Session().region_name or state_machine_arn.split(":")[3]
    make_client = client_factory or (lambda service: boto3.client(service, region_name=region))
    s3, sfn, sagemaker = make_client("s3"), make_client("stepfunctions"), make_client("sagemaker")
    job_name = job_name_for(state_machine_arn, algorithm, input_options.pop("job_name", None))
    dataset_prefix = dataset_prefix_for(s3, bucket, dataset_prefix, dataset_version, progress)
    refuse_taken_job_name(sagemaker, job_name, progress)
    execution_input = prepare_input(
        state_machine_arn,
        bucket,
        dataset_prefix,
        algorithm=algorithm,
        job_name=job_name,
        region=region,
        s3=s3,
        progress=progress,
        **input_options,
    )
    try:
        execution_arn = sfn.start_execution(
            stateMachineArn=state_machine_arn, name=job_name, input=json.dumps(execution_input)
        )["executionArn"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise
        raise JobNameTaken(
            f"an execution named {job_name} of {state_machine_arn.rsplit(':', 1)[-1]} already exists; "
            "nothing was started - give a new --job-name (or none) to train a new model version"
        ) from None
    progress(f"started {execution_arn}")
    result = LaunchResult(execution_arn, job_name, "RUNNING", execution_input=dict(execution_input))
    if not wait:
        return result
    return follow(sfn, sagemaker, result, progress, poll_seconds, timeout_seconds)


# -- the CLI -------------------------------------------------------------------------------------------------------
# Every value is checked here, before any AWS client exists: a typo costs nothing and is named in one line.
_STATE_MACHINE_ARN = re.compile(
    r"arn:aws(-[a-z]+)*:states:(?P<region>[a-z]{2}(-[a-z]+)+-[0-9]+):[0-9]{12}:stateMachine:[^\s:]{1,80}"
)
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
_INSTANCE_TYPE = re.compile(r"ml\.[a-z0-9]+\.[a-z0-9-]+")
_HYPERPARAMETER_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,255}")
MAX_HYPERPARAMETER_VALUE = 2500  # CreateTrainingJob's limit per value
MAX_COUNT = 2**31 - 1  # the built-in algorithm reads epochs and batch sizes as 32-bit integers


class InvalidArgument(LaunchError):
    """A command-line value refused before any AWS client is created (`error: InvalidArgument: ...`, exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise InvalidArgument(f"{_one_line(message)} (see --help)")


def _one_line(text: str) -> str:
    """Control characters from argv escaped, so the error stays one line."""
    return re.sub(r"[\x00-\x1f\x7f]", lambda match: repr(match.group())[1:-1], text)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise argparse.ArgumentTypeError(message)


def _state_machine_arn(text: str) -> str:
    _check(
        bool(_STATE_MACHINE_ARN.fullmatch(text)),
        f"{text!r} is not a state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>)",
    )
    return text


def _bucket(text: str) -> str:
    problem = bucket_problem(text)
    _check(problem is None, problem or "")
    return text


def _key_prefix(text: str) -> str:
    """Leading and trailing slashes are dropped (as dataset_uri does); what is left must be plain segments."""
    problem = prefix_problem(text)
    _check(problem is None, problem or "")
    return text


def _dataset_version(text: str) -> str:
    _check(text == LATEST or version_number(text) is not None, f"{text!r} is not v1, v2, ... or {LATEST}")
    return text


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    _check(1 <= value <= MAX_COUNT, f"must be a whole number from 1 to {MAX_COUNT}, got {text!r}")
    return value


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    _check(math.isfinite(value) and value > 0, f"must be a number above 0, got {text!r}")
    return value


def _instance_type(text: str) -> str:
    _check(bool(_INSTANCE_TYPE.fullmatch(text)), f"{text!r} is not a SageMaker instance type (e.g. ml.m5.xlarge)")
    return text


def _job_name(text: str) -> str:
    try:
        validate_job_name(text)
    except PipelineInputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _code_s3_uri(text: str) -> str:
    bucket, _, prefix = text.removeprefix("s3://").partition("/")
    _check(text.startswith("s3://"), f"{text!r} is not an s3://BUCKET/PREFIX URI")
    _bucket(bucket)
    _key_prefix(prefix)
    return text


def _region(text: str) -> str:
    _check(bool(_REGION.fullmatch(text)), f"{text!r} is not an AWS region (e.g. eu-west-1)")
    return text


def _readable_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed and checked command line; any bad value raises InvalidArgument naming the option."""
    parser = _Parser(prog="python -m training.launch", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--state-machine-arn", type=_state_machine_arn, required=True, help="the training pipeline state machine"
    )
    parser.add_argument("--bucket", type=_bucket, required=True, help="the data bucket the ETL wrote to")
    parser.add_argument(
        "--dataset-prefix", type=_key_prefix, required=True, help="the dataset's prefix (holds manifest.json)"
    )
    parser.add_argument(
        "--dataset-version",
        type=_dataset_version,
        help=f"train on a version of the dataset (python -m etl --add-reviewed): vN, or {LATEST} for the newest; "
        "default: the dataset prefix itself",
    )
    parser.add_argument("--algorithm", choices=[a.value for a in Algorithm], default=Algorithm.PYTORCH.value)
    parser.add_argument("--epochs", type=_count, help="training epochs")
    parser.add_argument("--learning-rate", type=_positive_number, help="learning rate")
    parser.add_argument("--batch-size", type=_count, help="mini-batch size")
    parser.add_argument(
        "--hyperparameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other hyperparameter (repeatable)",
    )
    parser.add_argument(
        "--instance-type",
        type=_instance_type,
        help="training instance type (default ml.m5.xlarge; builtin: ml.p3.2xlarge, it trains on GPU instances only)",
    )
    parser.add_argument(
        "--inference-instance-type", type=_instance_type, default="ml.m5.large", help="endpoint instance type"
    )
    parser.add_argument(
        "--job-name", type=_job_name, help="training job name (default <name prefix>-<algorithm>-<UTC time>)"
    )
    parser.add_argument(
        "--code-s3-uri",
        type=_code_s3_uri,
        help="where the sourcedir tarball goes (default s3://BUCKET/training-code)",
    )
    parser.add_argument("--sourcedir", type=Path, default=SOURCEDIR, help="the script-mode source dir to package")
    parser.add_argument("--region", type=_region, help="AWS region; must be the state machine's (the default)")
    parser.add_argument("--no-wait", action="store_true", help="start the execution and return")
    parser.add_argument(
        "--print-input",
        action="store_true",
        help="print the execution input instead of starting it; without --job-name it carries no "
        "job name, so the state machine names each run (the input a retrain starts with)",
    )
    parser.add_argument("--poll-seconds", type=_positive_number, default=5.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    arn_region = args.state_machine_arn.split(":")[3]
    if args.region and args.region != arn_region:
        parser.error(f"--region {args.region} is not the state machine's region {arn_region}")
    args.region = arn_region  # the pipeline, its bucket and its training jobs live in one region
    prefix = name_prefix(args.state_machine_arn)
    if args.job_name and prefix and not args.job_name.startswith(f"{prefix}-"):
        parser.error(f"--job-name {args.job_name} must start with {prefix}- (the pipeline's roles are scoped to it)")
    args.instance_type = args.instance_type or DEFAULT_INSTANCE_TYPES[Algorithm(args.algorithm)]
    try:
        refuse_cpu_instance_for_builtin(args.algorithm, args.instance_type)
    except BuiltinNeedsGpuInstance as error:
        raise InvalidArgument(f"--instance-type: {BuiltinNeedsGpuInstance.__name__}: {error}") from None
    sourcedir = args.sourcedir
    if args.algorithm == Algorithm.PYTORCH.value and not (
        _readable_file(sourcedir / "train.py") and _readable_file(sourcedir / "metrics.py")
    ):
        parser.error(f"--sourcedir {str(sourcedir)!r} has no train.py and metrics.py to package")
    return args


def hyperparameters_from(args: argparse.Namespace) -> dict[str, str]:
    """The CLI's named options mapped to each algorithm's own hyperparameter names, then KEY=VALUE pairs."""
    batch_key = "mini_batch_size" if args.algorithm == Algorithm.BUILTIN.value else "batch_size"
    named = {"epochs": args.epochs, "learning_rate": args.learning_rate, batch_key: args.batch_size}
    values = {key: str(value) for key, value in named.items() if value is not None}
    for pair in args.hyperparameter:
        key, sep, value = pair.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _HYPERPARAMETER_KEY.fullmatch(key):
            raise InvalidArgument(f"--hyperparameter {pair!r} is not KEY=VALUE (KEY: letters, digits, _ . -)")
        if key.startswith("sagemaker_"):
            raise InvalidArgument(f"--hyperparameter {key}: sagemaker_* hyperparameters are set by the launcher")
        if key in values:
            raise InvalidArgument(f"hyperparameter {key} is given twice")
        try:
            value.encode()
        except UnicodeError:
            value = "\0"  # not UTF-8: refused below like a control character
        if any(ord(c) < 32 or ord(c) == 127 for c in value) or len(value) > MAX_HYPERPARAMETER_VALUE:
            raise InvalidArgument(
                f"--hyperparameter {key}: the value must be at most {MAX_HYPERPARAMETER_VALUE} printable characters"
            )
        values[key] = value
    return values


def deployment_command(argv: list[str]) -> int | None:
    """`--rollback`, `--approve`, `--reject` (training.deployments): the exit status, or None for a launch."""
    if not any(arg.split("=", 1)[0] in deployments.COMMANDS for arg in argv):
        return None
    return deployments.main(argv)


def main(argv: list[str] | None = None) -> int:
    if (code := deployment_command(sys.argv[1:] if argv is None else argv)) is not None:
        return code
    try:
        args = parse_args(argv)
        hyperparameters = hyperparameters_from(args)
    except InvalidArgument as error:
        print(f"error: {InvalidArgument.__name__}: {_one_line(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    input_options = {
        "algorithm": args.algorithm,
        "instance_type": args.instance_type,
        "inference_instance_type": args.inference_instance_type,
        "job_name": args.job_name,
        "code_s3_uri": args.code_s3_uri,
        "sourcedir": args.sourcedir,
        "hyperparameters": hyperparameters,
    }
    progress = (
        (lambda line: print(line, file=sys.stderr, flush=True))
        if args.print_input
        else (lambda line: print(line, flush=True))
    )
    try:
        if args.print_input:
            s3 = boto3.client("s3", region_name=args.region)
            execution_input = prepare_input(
                args.state_machine_arn,
                args.bucket,
                dataset_prefix_for(s3, args.bucket, args.dataset_prefix, args.dataset_version, progress),
                region=args.region,
                s3=s3,
                progress=progress,
                **input_options,
            )
            if not args.job_name:
                execution_input["training"].pop("job_name")  # type: ignore[misc]
            print(json.dumps(execution_input, indent=2))
            return EXIT_SUCCEEDED
        result = launch(
            args.state_machine_arn,
            args.bucket,
            args.dataset_prefix,
            wait=not args.no_wait,
            region=args.region,
            progress=progress,
            poll_seconds=args.poll_seconds,
            dataset_version=args.dataset_version,
            **input_options,
        )
    except LaunchError as error:
        named = "" if type(error) is LaunchError else f"{type(error).__name__}: "  # e.g. JobNameTaken
        print(f"error: {named}{error}", file=sys.stderr)
        return EXIT_USAGE
    except (ClientError, BotoCoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    stream = sys.stdout if result.exit_code == EXIT_SUCCEEDED else sys.stderr
    print(result.summary(), file=stream)
    return result.exit_code


def _says_not_found(message: str) -> bool:
    """DescribeTrainingJob's answer for a name no job has (AWS: 'Requested resource not found')."""
    lowered = message.lower()
    return "not found" in lowered or "could not find" in lowered


def _first_line(text: str | None, limit: int = 300) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[:limit] + "..."


def _two_numbers(a: float, b: float) -> tuple[str, str]:
    """Two decimals, or as many as it takes for two different numbers not to print alike."""
    for digits in range(2, 7):
        left, right = f"{a:.{digits}f}", f"{b:.{digits}f}"
        if left != right or a == b:
            return left, right
    return repr(a), repr(b)


if __name__ == "__main__":
    sys.exit(main())
