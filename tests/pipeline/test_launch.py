"""The launcher and the execution input it builds, against moto in-process (no state machine runs here)."""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.config import default_user_config

from tests.conftest import REPO_ROOT
from tests.pipeline.conftest import DOUBLE_SOURCEDIR, REAL_SOURCEDIR
from training import image_uris
from training import launch as launcher
from training.image_uris import builtin_images, is_builtin_image, pytorch_images
from training.pipeline_input import (
    BUILTIN_HYPERPARAMETERS,
    Algorithm,
    LaunchSettings,
    PipelineInputError,
    build_execution_input,
    metric_definitions,
)

REGION = "eu-west-1"
BUCKET = "cv-data"
PREFIX = "datasets/cifar-bikes"
MANIFEST = {
    "classes": ["bicycle", "motorcycle"],
    "splits": {"train": {"count": 900}, "validation": {"count": 100}, "test": {"count": 200}},
}
STATE_MACHINE = f"arn:aws:states:{REGION}:123456789012:stateMachine:cv-training-pipeline"
WRITE_PATH_FIELDS = {"ResultPath", "OutputPath", "InputPath"}


def settings(algorithm: Algorithm, **overrides: Any) -> LaunchSettings:
    images = (
        builtin_images(REGION)
        if algorithm is Algorithm.BUILTIN
        else pytorch_images(REGION, "ml.m5.xlarge", "ml.m5.large")
    )
    values: dict[str, Any] = {
        "algorithm": algorithm,
        "bucket": BUCKET,
        "dataset_prefix": PREFIX,
        "job_name": f"cv-{algorithm}-1",
        "region": REGION,
        "images": images,
        "sourcedir": DOUBLE_SOURCEDIR,
        "sourcedir_s3_uri": f"s3://{BUCKET}/training-code/sourcedir-abc.tar.gz"
        if algorithm is Algorithm.PYTORCH
        else None,
    }
    return LaunchSettings(**{**values, **overrides})


# -- images --------------------------------------------------------------------------------------------------------
ECR = r"\d{12}\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com"


@pytest.mark.parametrize(
    ("instance_type", "inference_instance_type", "training_tag", "inference_tag"),
    [
        ("ml.m5.xlarge", "ml.m5.large", "2.14.0-cpu-amzn2023-sagemaker", "2.6.0-cpu-py312-ubuntu22.04-sagemaker"),
        (
            "ml.g4dn.xlarge",
            "ml.g5.xlarge",
            "2.14.0-cu133-amzn2023-sagemaker",
            "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker",
        ),
    ],
    ids=["cpu", "gpu"],
)
def test_pytorch_images_are_pinned_by_full_tag_for_the_instances_build(
    instance_type, inference_instance_type, training_tag, inference_tag
):
    # A short tag (2.14-cpu-..., 2.6-cpu-py312) moves to each new patch release: the pipeline must not.
    images = pytorch_images(REGION, instance_type, inference_instance_type)
    assert re.fullmatch(rf"{ECR}/pytorch:{re.escape(training_tag)}", images.training)
    assert re.fullmatch(rf"{ECR}/pytorch-inference:{re.escape(inference_tag)}", images.inference)
    for uri in (images.training, images.inference):
        major_minor_patch = uri.rpartition(":")[2].split("-")[0]
        assert re.fullmatch(r"\d+\.\d+\.\d+", major_minor_patch), uri


def test_pytorch_images_come_from_the_regions_registry():
    assert re.fullmatch(ECR, pytorch_images("us-east-1", "ml.m5.xlarge", "ml.m5.large").training.split("/")[0])
    assert ".us-east-1." in pytorch_images("us-east-1", "ml.m5.xlarge", "ml.m5.large").inference
    # ap-east-1's DLCs live in another AWS account than eu-west-1's.
    assert (
        pytorch_images("ap-east-1", "ml.m5.xlarge", "ml.m5.large").training.split(".")[0]
        != (pytorch_images(REGION, "ml.m5.xlarge", "ml.m5.large").training.split(".")[0])
    )


def test_the_sourcedir_floor_is_the_serving_containers_torch_and_python():
    # The code runs in both containers; the older one (serving) bounds what it may use.
    training_torch = tuple(int(x) for x in image_uris.PYTORCH_TRAINING_TAGS["cpu"].split("-")[0].split(".")[:2])
    serving_torch = tuple(int(x) for x in image_uris.PYTORCH_INFERENCE_VERSION.split(".")[:2])
    assert image_uris.SOURCEDIR_TORCH_FLOOR == min(training_torch, serving_torch) == (2, 6)
    serving_python = image_uris.PYTORCH_INFERENCE_PY_VERSION.removeprefix("py")
    assert (int(serving_python[0]), int(serving_python[1:])) == image_uris.SOURCEDIR_PYTHON_FLOOR


def test_an_instance_without_a_cpu_or_gpu_build_is_a_named_error():
    with pytest.raises(image_uris.ImageUriError, match=r"ml\.inf2\.xlarge"):
        pytorch_images(REGION, "ml.inf2.xlarge", "ml.m5.large")


def test_builtin_image_is_the_regions_image_classification_algorithm():
    images = builtin_images(REGION)
    assert images.training == images.inference
    assert re.fullmatch(r"\d{12}\.dkr\.ecr\.eu-west-1\.amazonaws\.com/image-classification:1", images.training)
    assert builtin_images("ap-southeast-2").training.split(".")[0] != images.training.split(".")[0]
    assert is_builtin_image(images.training)
    assert not is_builtin_image(pytorch_images(REGION, "ml.m5.xlarge", "ml.m5.large").training)


# -- execution input -----------------------------------------------------------------------------------------------
def test_pytorch_input_is_script_mode_with_three_channels_and_the_training_codes_metrics():
    execution_input = build_execution_input(settings(Algorithm.PYTORCH, hyperparameters={"epochs": 3}), MANIFEST)

    training = execution_input["training"]
    assert {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in training["channels"]} == {
        split: f"s3://{BUCKET}/{PREFIX}/{split}/" for split in ("train", "validation", "test")
    }
    hps = training["hyperparameters"]
    assert all(isinstance(value, str) for value in hps.values())
    assert hps["epochs"] == "3"
    assert hps["sagemaker_program"] == "train.py"
    assert hps["sagemaker_submit_directory"] == f"s3://{BUCKET}/training-code/sourcedir-abc.tar.gz"
    assert hps["sagemaker_region"] == REGION
    assert training["algorithm_specification"]["MetricDefinitions"] == metric_definitions(DOUBLE_SOURCEDIR)
    assert training["resource_config"]["InstanceType"] == "ml.m5.xlarge"
    assert execution_input["deploy"]["environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert execution_input["baseline"]["test_s3_uri"] == f"s3://{BUCKET}/{PREFIX}/test/"


def test_builtin_input_has_the_seed_hyperparameters_and_lst_channels():
    execution_input = build_execution_input(settings(Algorithm.BUILTIN), MANIFEST)

    training = execution_input["training"]
    assert training["hyperparameters"] == {**BUILTIN_HYPERPARAMETERS, "num_training_samples": "900"}
    assert BUILTIN_HYPERPARAMETERS == {
        "image_shape": "3,32,32",
        "num_classes": "2",
        "learning_rate": "0.1",
        "mini_batch_size": "32",
        "epochs": "30",
        "optimizer": "sgd",
    }
    channels = {c["ChannelName"]: c for c in training["channels"]}
    assert set(channels) == {"train", "validation", "train_lst", "validation_lst"}
    assert {c["ContentType"] for c in channels.values()} == {"application/x-image"}
    assert channels["train_lst"]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/{PREFIX}/train/train.lst"
    assert "MetricDefinitions" not in training["algorithm_specification"]  # SageMaker rejects them for built-ins
    assert execution_input["deploy"]["environment"] == {}


def test_builtin_needs_the_training_count_from_the_manifest():
    with pytest.raises(PipelineInputError, match=r"splits\.train\.count"):
        build_execution_input(settings(Algorithm.BUILTIN), {"classes": ["bicycle", "motorcycle"], "splits": {}})


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_every_path_the_state_machine_reads_from_the_input_exists(algorithm):
    execution_input = build_execution_input(settings(algorithm), MANIFEST)

    def reads(value: Any, key: str = "") -> Iterator[str]:
        """Strings the interpreter evaluates as paths or intrinsics (ResultPath and friends write, not read)."""
        if isinstance(value, dict):
            for child_key, child in value.items():
                yield from reads(child, child_key)
        elif isinstance(value, list):
            for child in value:
                yield from reads(child, key)
        elif isinstance(value, str) and (
            key.endswith(".$") or key == "Variable" or (key.endswith("Path") and key not in WRITE_PATH_FIELDS)
        ):
            yield value

    definition = json.loads((REPO_ROOT / "statemachine.asl.json").read_text())
    paths = {
        path
        for text in reads(definition)
        for path in re.findall(r"\$\.((?:training|deploy|baseline)(?:\.[A-Za-z0-9_]+)+)", text)
    }
    assert paths, "the ASL reads nothing from the execution input?"
    for path in paths:
        node: Any = execution_input
        for part in path.split("."):
            assert isinstance(node, dict), f"$.{path}: {part}'s parent is not an object in the {algorithm} input"
            assert part in node, f"$.{path} is not in the {algorithm} input"
            node = node[part]


def test_a_job_name_sagemaker_would_refuse_is_rejected_before_anything_starts():
    with pytest.raises(PipelineInputError, match="not a valid SageMaker name"):
        build_execution_input(settings(Algorithm.PYTORCH, job_name="cv_pytorch_1"), MANIFEST)


@pytest.mark.skipif(not (REAL_SOURCEDIR / "metrics.py").is_file(), reason="training/sourcedir/metrics.py not written")
def test_the_real_metric_definitions_read_the_lines_train_py_prints():
    from local_aws.sagemaker_jobs import final_metrics

    lines = ["epoch 3 train:loss=0.2100", "validation:accuracy=0.93", "test:accuracy=0.91", "validation:threshold=0.87"]
    found = {m["MetricName"]: m["Value"] for m in final_metrics(metric_definitions(REAL_SOURCEDIR), lines)}
    assert found["test:accuracy"] == pytest.approx(0.91)
    assert found["validation:accuracy"] == pytest.approx(0.93)


# -- packaging -----------------------------------------------------------------------------------------------------
def test_the_sourcedir_tarball_is_reproducible_and_holds_only_source(tmp_path):
    source = tmp_path / "sourcedir"
    (source / "__pycache__").mkdir(parents=True)
    (source / "train.py").write_text("print('train')\n")
    (source / "lib").mkdir()
    (source / "lib" / "model.py").write_text("X = 1\n")
    (source / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"\0")

    first = launcher.package_sourcedir(source)
    (source / "train.py").touch()  # a newer mtime must not change the bytes
    assert launcher.package_sourcedir(source) == first
    with tarfile.open(fileobj=io.BytesIO(first), mode="r:gz") as tar:
        assert tar.getnames() == ["lib/model.py", "train.py"]


def test_a_sourcedir_without_train_py_cannot_be_launched(tmp_path):
    with pytest.raises(launcher.LaunchError, match=r"no train\.py"):
        launcher.package_sourcedir(tmp_path)


# -- launching against moto ----------------------------------------------------------------------------------------
@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto in-process with the data bucket, its manifest and a (non-executing) state machine."""
    monkeypatch.setitem(default_user_config["stepfunctions"], "execute_state_machine", False)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/manifest.json", Body=json.dumps(MANIFEST))
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = sfn.create_state_machine(
            name="cv-training-pipeline",
            roleArn="arn:aws:iam::123456789012:role/sfn",
            definition=(REPO_ROOT / "statemachine.asl.json").read_text(),
        )["stateMachineArn"]
        yield {"s3": s3, "sfn": sfn, "arn": arn}


def test_launch_uploads_the_code_and_starts_the_pipeline_with_the_built_input(aws):
    lines: list[str] = []
    result = launcher.launch(
        aws["arn"],
        BUCKET,
        PREFIX,
        hyperparameters={"epochs": 3},
        sourcedir=DOUBLE_SOURCEDIR,
        wait=False,
        region=REGION,
        progress=lines.append,
    )

    assert result.status == "RUNNING"
    assert result.exit_code == 0
    assert re.fullmatch(r"cv-pytorch-\d{8}-\d{6}", result.job_name)
    execution = aws["sfn"].describe_execution(executionArn=result.execution_arn)
    assert execution["name"] == result.job_name
    started_with = json.loads(execution["input"])
    assert started_with == result.execution_input
    code_uri = started_with["training"]["hyperparameters"]["sagemaker_submit_directory"]
    assert re.fullmatch(rf"s3://{BUCKET}/training-code/sourcedir-[0-9a-f]{{20}}\.tar\.gz", code_uri)
    body = aws["s3"].get_object(Bucket=BUCKET, Key=code_uri.removeprefix(f"s3://{BUCKET}/"))["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        assert "train.py" in tar.getnames()
    assert started_with["training"]["hyperparameters"]["epochs"] == "3"
    assert any("pytorch:2.14.0-cpu-amzn2023-sagemaker" in line for line in lines)


def test_a_job_name_outside_the_roles_prefix_is_refused(aws):
    with pytest.raises(launcher.LaunchError, match="must start with 'cv-'"):
        launcher.launch(
            aws["arn"],
            BUCKET,
            PREFIX,
            job_name="other-pytorch-1",
            sourcedir=DOUBLE_SOURCEDIR,
            wait=False,
            region=REGION,
            progress=lambda _: None,
        )


def test_a_dataset_without_manifest_says_to_run_the_etl(aws):
    with pytest.raises(launcher.LaunchError, match="run the ETL first"):
        launcher.launch(
            aws["arn"],
            BUCKET,
            "datasets/missing",
            sourcedir=DOUBLE_SOURCEDIR,
            wait=False,
            region=REGION,
            progress=lambda _: None,
        )


def test_print_input_gives_a_retrain_input_without_a_job_name(aws, capsys):
    code = launcher.main(
        [
            "--state-machine-arn",
            aws["arn"],
            "--bucket",
            BUCKET,
            "--dataset-prefix",
            PREFIX,
            "--print-input",
            "--epochs",
            "4",
            "--region",
            REGION,
            "--sourcedir",
            str(DOUBLE_SOURCEDIR),
        ]
    )

    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert "job_name" not in printed["training"]
    assert printed["training"]["hyperparameters"]["epochs"] == "4"
    assert aws["sfn"].list_executions(stateMachineArn=aws["arn"])["executions"] == []


def launch_cli(arn: str, job_name: str) -> int:
    return launcher.main(
        [
            *("--state-machine-arn", arn, "--bucket", BUCKET, "--dataset-prefix", PREFIX),
            *("--job-name", job_name, "--region", REGION, "--sourcedir", str(DOUBLE_SOURCEDIR), "--no-wait"),
        ]
    )


def bucket_keys(s3: Any) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_a_job_name_a_training_job_has_is_refused_before_anything_is_uploaded_or_started(aws, capsys):
    boto3.client("sagemaker", region_name=REGION).create_training_job(
        TrainingJobName="cv-pytorch-1",
        AlgorithmSpecification={"TrainingImage": "image", "TrainingInputMode": "File"},
        RoleArn="arn:aws:iam::123456789012:role/sagemaker",
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/models"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    keys = bucket_keys(aws["s3"])

    code = launch_cli(aws["arn"], "cv-pytorch-1")

    captured = capsys.readouterr()
    assert code == launcher.EXIT_USAGE
    assert captured.err.count("\n") == 1, captured.err  # one line
    assert captured.err.startswith("error: JobNameTaken: training job cv-pytorch-1 already exists")
    assert "new --job-name" in captured.err
    assert captured.out == ""  # not even the dataset was read
    assert bucket_keys(aws["s3"]) == keys  # no training code uploaded
    assert aws["sfn"].list_executions(stateMachineArn=aws["arn"])["executions"] == []


def test_a_job_name_an_execution_has_is_refused_with_the_job_named(aws, capsys):
    """An earlier run that never got as far as creating its training job still holds the execution name."""
    aws["sfn"].start_execution(stateMachineArn=aws["arn"], name="cv-pytorch-2", input="{}")

    code = launch_cli(aws["arn"], "cv-pytorch-2")

    err = capsys.readouterr().err
    assert code == launcher.EXIT_USAGE
    assert err.count("\n") == 1, err
    assert err.startswith("error: JobNameTaken: an execution named cv-pytorch-2 of cv-training-pipeline already")
    assert [e["name"] for e in aws["sfn"].list_executions(stateMachineArn=aws["arn"])["executions"]] == ["cv-pytorch-2"]


def test_any_other_error_while_checking_the_name_is_not_taken_for_a_free_name():
    class Broken:
        def describe_training_job(self, TrainingJobName: str) -> dict:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "Describe")

    with pytest.raises(ClientError, match="Rate exceeded"):
        launcher.refuse_taken_job_name(Broken(), "cv-pytorch-3", lambda _: None)


# -- following an execution and exit codes --------------------------------------------------------------------------
class FakeStepFunctions:
    """The two calls the follower makes, answering with a finished execution."""

    def __init__(
        self,
        status: str,
        error: str | None = None,
        cause: str | None = None,
        evaluated: dict | None = None,
        output: dict | None = None,
    ) -> None:
        self.execution = {
            "status": status,
            "error": error,
            "cause": cause,
            "output": json.dumps(output) if output else None,
        }
        self.events = [{"type": "PassStateEntered", "stateEnteredEventDetails": {"name": "LoadSettings"}}]
        if evaluated is not None:
            self.events.append(
                {
                    "type": "TaskStateExited",
                    "stateExitedEventDetails": {"name": "Evaluate", "output": json.dumps(evaluated)},
                }
            )
        self.events.append({"type": "ExecutionFailed" if status == "FAILED" else "ExecutionSucceeded"})

    def describe_execution(self, executionArn: str) -> dict:
        return {key: value for key, value in self.execution.items() if value is not None}

    def get_execution_history(self, **kwargs: Any) -> dict:
        return {"events": self.events}


def follow(sfn: FakeStepFunctions) -> launcher.LaunchResult:
    result = launcher.LaunchResult(
        "arn:aws:states:eu-west-1:123456789012:execution:cv:cv-pytorch-1", "cv-pytorch-1", "RUNNING"
    )
    return launcher.follow(sfn, None, result, lambda _: None, poll_seconds=0, timeout_seconds=5)


def test_a_rejected_model_exits_3_and_prints_both_numbers():
    evaluated = {
        "settings": {"AccuracyThreshold": 0.8},
        "ModelEvaluation": {"Accuracy": 0.78, "MetricName": "test:accuracy"},
    }
    result = follow(FakeStepFunctions("FAILED", "ModelBelowThreshold", "Training job cv-pytorch-1: ...", evaluated))

    assert result.exit_code == launcher.EXIT_REJECTED
    assert "accuracy 0.78 is below the gate threshold 0.80" in result.summary()


def test_numbers_that_round_alike_are_printed_with_enough_digits():
    assert launcher._two_numbers(0.7999, 0.8) == ("0.7999", "0.8000")


def test_any_other_failure_exits_1_with_the_fail_states_cause():
    result = follow(FakeStepFunctions("FAILED", "TrainingFailed", "AlgorithmError: ExecuteUserScriptError: ExitCode 1"))

    assert result.exit_code == launcher.EXIT_FAILED
    assert result.summary() == "failed: TrainingFailed: AlgorithmError: ExecuteUserScriptError: ExitCode 1"


def test_a_deployed_model_exits_0():
    evaluated = {
        "settings": {"AccuracyThreshold": 0.8},
        "ModelEvaluation": {"Accuracy": 0.93, "MetricName": "test:accuracy"},
    }
    result = follow(FakeStepFunctions("SUCCEEDED", evaluated=evaluated, output={"EndpointName": "cv-endpoint"}))

    assert result.exit_code == 0
    assert result.summary() == "deployed training job cv-pytorch-1 with test:accuracy 0.9300 to cv-endpoint"


def test_the_cli_reports_a_rejection_on_stderr_and_exits_3(monkeypatch, capsys):
    rejected = launcher.LaunchResult(
        "arn",
        "cv-pytorch-1",
        "FAILED",
        error="ModelBelowThreshold",
        cause="...",
        accuracy=0.5,
        threshold=0.8,
        metric_name="test:accuracy",
    )
    monkeypatch.setattr(launcher, "launch", lambda *args, **kwargs: rejected)

    code = launcher.main(["--state-machine-arn", STATE_MACHINE, "--bucket", BUCKET, "--dataset-prefix", PREFIX])

    assert code == 3
    assert "accuracy 0.50 is below the gate threshold 0.80" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--algorithm", "builtin", "--batch-size", "64", "--epochs", "5"], {"mini_batch_size": "64", "epochs": "5"}),
        (["--batch-size", "16", "--hyperparameter", "weight_decay=0.01"], {"batch_size": "16", "weight_decay": "0.01"}),
    ],
)
def test_cli_options_map_to_each_algorithms_hyperparameter_names(argv, expected):
    args = launcher.parse_args(
        ["--state-machine-arn", STATE_MACHINE, "--bucket", BUCKET, "--dataset-prefix", PREFIX, *argv]
    )
    assert launcher.hyperparameters_from(args) == expected


def test_a_malformed_hyperparameter_is_a_usage_error(capsys):
    code = launcher.main(
        [
            "--state-machine-arn",
            STATE_MACHINE,
            "--bucket",
            BUCKET,
            "--dataset-prefix",
            PREFIX,
            "--hyperparameter",
            "no-equals-sign",
        ]
    )
    assert code == launcher.EXIT_USAGE
    assert "KEY=VALUE" in capsys.readouterr().err


# -- the built-in algorithm trains on GPU instances only ---------------------------------------------------------------
# https://docs.aws.amazon.com/sagemaker/latest/dg/image-classification.html#IC-instances
CPU_TYPES = ["ml.m5.xlarge", "ml.c5.2xlarge", "ml.m6i.large", "ml.t3.medium", "ml.inf2.xlarge", "ml.trn1.2xlarge"]
GPU_TYPES = ["ml.p3.2xlarge", "ml.g4dn.xlarge", "ml.g5.2xlarge", "ml.p4d.24xlarge", "ml.p5.48xlarge", "ml.g6e.xlarge"]
ARGV = ["--state-machine-arn", STATE_MACHINE, "--bucket", BUCKET, "--dataset-prefix", PREFIX]


@pytest.fixture
def no_aws(monkeypatch):
    """Any boto3 client or call fails the test: the refusal must come before AWS is touched."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"an AWS client was made: {args}")

    monkeypatch.setattr(launcher.boto3, "client", refuse)
    monkeypatch.setattr(launcher.boto3.session.Session, "client", refuse)


@pytest.mark.parametrize("instance_type", CPU_TYPES)
def test_the_cli_refuses_a_cpu_instance_for_the_builtin_algorithm_by_name(instance_type, no_aws, capsys):
    code = launcher.main([*ARGV, "--algorithm", "builtin", "--instance-type", instance_type])
    captured = capsys.readouterr()
    assert code == launcher.EXIT_USAGE
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith("error: InvalidArgument: --instance-type: BuiltinNeedsGpuInstance: ")
    assert instance_type in line


@pytest.mark.parametrize("instance_type", CPU_TYPES[:2])
def test_the_api_refuses_a_cpu_instance_for_the_builtin_algorithm_before_any_call(instance_type):
    def no_client(service):
        raise AssertionError(f"{service} client made before the instance type was checked")

    with pytest.raises(launcher.BuiltinNeedsGpuInstance, match=re.escape(instance_type)):
        launcher.launch(
            STATE_MACHINE, BUCKET, PREFIX, algorithm="builtin", instance_type=instance_type, client_factory=no_client
        )

    class NoS3:
        def __getattr__(self, name):
            raise AssertionError(f"s3.{name} called before the instance type was checked")

    with pytest.raises(launcher.BuiltinNeedsGpuInstance):
        launcher.prepare_input(
            STATE_MACHINE, BUCKET, PREFIX, algorithm="builtin", instance_type=instance_type, region=REGION, s3=NoS3()
        )


@pytest.mark.parametrize("instance_type", GPU_TYPES)
def test_gpu_instances_are_accepted_for_the_builtin_algorithm(instance_type):
    args = launcher.parse_args([*ARGV, "--algorithm", "builtin", "--instance-type", instance_type])
    assert args.instance_type == instance_type


def test_each_algorithm_defaults_to_an_instance_type_it_can_train_on(no_aws):
    assert launcher.parse_args([*ARGV, "--algorithm", "builtin"]).instance_type == "ml.p3.2xlarge"
    assert launcher.parse_args(ARGV).instance_type == "ml.m5.xlarge"
    # PyTorch script mode trains on CPU and GPU instances alike.
    assert launcher.parse_args([*ARGV, "--instance-type", "ml.c5.2xlarge"]).instance_type == "ml.c5.2xlarge"


# -- dataset versions (python -m etl --add-reviewed) --------------------------------------------------------------
def store_version(s3: Any, name: str, complete: bool = True) -> None:
    """A version folder as etl/reviewed.py leaves it: manifest, and version.json last (absent: unfinished)."""
    prefix = f"{PREFIX}/versions/{name}"
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/manifest.json", Body=json.dumps(MANIFEST))
    if complete:
        document = {"format": "courier-vehicle/dataset-version/1", "version": name, "reviews": [{"review_id": "r"}]}
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/version.json", Body=json.dumps(document))


def launch_version(aws: dict[str, Any], version: str | None, lines: list[str] | None = None) -> dict[str, Any]:
    result = launcher.launch(
        aws["arn"],
        BUCKET,
        PREFIX,
        dataset_version=version,
        sourcedir=DOUBLE_SOURCEDIR,
        wait=False,
        region=REGION,
        progress=(lines if lines is not None else []).append,
    )
    return {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
        for c in result.execution_input["training"]["channels"]
    }


def test_a_chosen_dataset_version_is_what_every_channel_and_the_baseline_read(aws):
    for name in ("v1", "v2", "v10"):
        store_version(aws["s3"], name)
    lines: list[str] = []
    channels = launch_version(aws, "v2", lines)
    assert channels == {
        split: f"s3://{BUCKET}/{PREFIX}/versions/v2/{split}/" for split in ("train", "validation", "test")
    }
    assert any("dataset version v2" in line for line in lines)


def test_latest_is_the_highest_complete_version_not_the_last_in_key_order_nor_an_unfinished_one(aws):
    for name in ("v2", "v10"):
        store_version(aws["s3"], name)
    store_version(aws["s3"], "v11", complete=False)  # a load that stopped before version.json
    assert launch_version(aws, "latest")["train"] == f"s3://{BUCKET}/{PREFIX}/versions/v10/train/"


def test_without_a_version_the_base_dataset_is_trained_on_as_before(aws):
    store_version(aws["s3"], "v1")
    assert launch_version(aws, None)["train"] == f"s3://{BUCKET}/{PREFIX}/train/"


def test_a_missing_version_is_a_named_error_listing_the_versions_there_are(aws):
    store_version(aws["s3"], "v1")
    store_version(aws["s3"], "v3", complete=False)
    for wanted in ("v3", "v7"):
        with pytest.raises(launcher.DatasetVersionMissing, match=rf"{wanted} is not under .*complete versions: v1\)"):
            launch_version(aws, wanted)
    assert aws["sfn"].list_executions(stateMachineArn=aws["arn"])["executions"] == []


def test_latest_without_any_version_says_how_to_build_one(aws, capsys):
    code = launcher.main(
        ["--state-machine-arn", aws["arn"], "--bucket", BUCKET, "--dataset-prefix", PREFIX,
         "--dataset-version", "latest", "--sourcedir", str(DOUBLE_SOURCEDIR), "--no-wait"]
    )  # fmt: skip
    assert code == launcher.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("error: DatasetVersionMissing: ")
    assert "python -m etl --add-reviewed" in err


def test_a_malformed_version_name_is_refused_before_any_call(no_aws, capsys):
    code = launcher.main(
        ["--state-machine-arn", STATE_MACHINE, "--bucket", BUCKET, "--dataset-prefix", PREFIX,
         "--dataset-version", "../v1"]
    )  # fmt: skip
    assert code == launcher.EXIT_USAGE
    assert "--dataset-version: '../v1' is not v1, v2, ... or latest" in capsys.readouterr().err
