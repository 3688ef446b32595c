"""`python -m training.launch` refuses a bad command line before it creates any AWS client (properties, then examples).

A refusal is exit 2 and one `error: InvalidArgument: <reason>` line on stderr, with no client made (so no
upload, no execution, no cost); a valid command line goes as far as asking for its first client, in the state
machine's region. No test here talks to AWS or moto: asking for a client ends the run.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import hypothesis
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.pipeline.conftest import DOUBLE_SOURCEDIR
from training import launch as launcher

PROPERTIES = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ERROR_LINE = re.compile(r"error: InvalidArgument: \S.*")
ACCOUNT = "123456789012"


class ClientRequested(BaseException):
    """Raised in place of creating a boto3 client; a BaseException so that no `except Exception` swallows it."""


@dataclass(frozen=True)
class StateMachine:
    arn: str
    region: str
    prefix: str | None  # job names must start with "<prefix>-"


STATE_MACHINES = [
    StateMachine(f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:cv-training-pipeline", "eu-west-1", "cv"),
    StateMachine(f"arn:aws-cn:states:cn-north-1:{ACCOUNT}:stateMachine:plain", "cn-north-1", None),
    StateMachine(
        f"arn:aws-us-gov:states:us-gov-west-1:{ACCOUNT}:stateMachine:team-x-training-pipeline",
        "us-gov-west-1",
        "team-x",
    ),
]
BAD_ARNS = [
    "",
    "foo",
    "arn:aws:states:eu-west-1:1234:stateMachine:cv-training-pipeline",
    f"arn:aws:states:eu-west-1:{ACCOUNT}:execution:cv-training-pipeline:run-1",
    f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:cv",
    f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:",
    f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:has space",
    f"arn:aws:states::{ACCOUNT}:stateMachine:cv-training-pipeline",
]


@dataclass
class Argv:
    words: list[list[str]] = field(default_factory=list)
    machine: StateMachine = STATE_MACHINES[0]

    def add(self, flag: str, value: str | None = None) -> None:
        self.words.append([flag] if value is None else [flag, value])

    def flat(self) -> list[str]:
        """Values that start with "-" are attached (--learning-rate=-1), or argparse would read them as options."""
        out: list[str] = []
        for option in self.words:
            attach = len(option) == 2 and option[1].startswith("-")
            out += [f"{option[0]}={option[1]}"] if attach else option
        return out


@dataclass(frozen=True)
class Values:
    valid: st.SearchStrategy[str]
    invalid: st.SearchStrategy[str]


_segments = st.text(alphabet="abcxyz019-_.é", min_size=1, max_size=8).filter(lambda s: s not in (".", ".."))
VALUES = {
    "--bucket": Values(
        st.sampled_from(["cv-data", "my.bucket-1", "abc"]),
        st.sampled_from(
            [
                "",
                "ab",
                "Cv-data",
                "cv_data",
                "-cv-data",
                "cv-data-",
                "cv..data",
                "192.168.1.1",
                "a" * 64,
                "dätä",
                " cv-data",
                "cv-data\n",
            ]
        ),
    ),
    "--dataset-prefix": Values(
        st.lists(_segments, min_size=1, max_size=3).map("/".join)
        | st.sampled_from(["", "datasets/cifar-bikes", "/datasets/v1/", "données/v1"]),
        st.sampled_from(["../x", "a/../b", "a//b", "./x", "x\n", "\udcff", "a" * 800, " ds", "ds /v1", "x\x7f"]),
    ),
    "--algorithm": Values(
        st.sampled_from(["pytorch", "builtin"]), st.sampled_from(["tensorflow", "", "PYTORCH", "pytorch "])
    ),
    "--epochs": Values(
        st.integers(1, 2**31 - 1).map(str),
        st.integers(max_value=0).map(str)
        | st.integers(min_value=2**31).map(str)
        | st.sampled_from(["", "1.5", "1e3", "nan", "abc", "9" * 5000]),
    ),
    "--learning-rate": Values(
        st.floats(1e-6, 10).map(repr) | st.sampled_from(["0.1", "1e-3", "2"]),
        st.floats(max_value=0).map(repr) | st.sampled_from(["nan", "inf", "-inf", "1e999", "", "abc", "0x1p-3"]),
    ),
    "--instance-type": Values(
        st.sampled_from(["ml.m5.xlarge", "ml.g4dn.xlarge", "ml.p4d.24xlarge", "ml.c5.2xlarge"]),
        st.sampled_from(["", "m5.xlarge", "ml.m5", "ML.M5.XLARGE", "ml.m5.xlarge ", "ml..large", "ml.m5.xlarge\n"]),
    ),
    "--code-s3-uri": Values(
        st.sampled_from(["s3://cv-data/training-code", "s3://other-bucket", "s3://cv-data/"]),
        st.sampled_from(
            ["nope", "s3://", "s3://Cv_data/x", "s3://cv-data/../x", "https://cv-data/x", "s3://cv-data/a//x", "s3:/x"]
        ),
    ),
    "--poll-seconds": Values(st.sampled_from(["0.5", "5"]), st.sampled_from(["0", "-1", "nan", "inf", "", "soon"])),
}
VALUES["--batch-size"] = VALUES["--epochs"]
VALUES["--inference-instance-type"] = VALUES["--instance-type"]
GOOD_PAIRS = ["weight_decay=0.01", "momentum=0.9", "epochs=5", "learning_rate=0.2", "flag=", "note=a b"]
BAD_PAIRS = ["x", "=1", " =1", "a b=1", "sagemaker_program=evil.py", "k=line\nbreak", "k=" + "v" * 2501, "k=\udcff"]
FAULTS = [
    *(f"invalid {flag}" for flag in sorted(VALUES)),
    "bad state machine ARN",
    "region of another state machine",
    "malformed region",
    "job name outside the role's prefix",
    "malformed job name",
    "sourcedir without train.py",
    "malformed hyperparameter",
    "hyperparameter given twice",
    "missing required option",
    "unknown option",
    "CPU instance for the built-in algorithm",
]
# The built-in algorithm trains on GPU instances only (training/launch.py says where AWS documents it).
GPU_INSTANCE_TYPES = st.sampled_from(["ml.g4dn.xlarge", "ml.p4d.24xlarge", "ml.p3.2xlarge"])
CPU_INSTANCE_TYPES = st.sampled_from(["ml.m5.xlarge", "ml.c5.2xlarge", "ml.t3.medium"])


def _named_keys(algorithm: str, flags: set[str]) -> set[str]:
    batch = "mini_batch_size" if algorithm == "builtin" else "batch_size"
    named = {"--epochs": "epochs", "--learning-rate": "learning_rate", "--batch-size": batch}
    return {key for flag, key in named.items() if flag in flags}


@st.composite
def command_lines(draw: st.DrawFn, faults: tuple[str, ...] = ()) -> Argv:
    """A valid command line, or one with exactly the given faults."""
    machine = draw(st.sampled_from(STATE_MACHINES))
    argv = Argv(machine=machine)
    chosen = set(draw(st.lists(st.sampled_from(sorted(set(VALUES) - {"--bucket", "--dataset-prefix"})), max_size=5)))
    bad = next((fault.removeprefix("invalid ") for fault in faults if fault.startswith("invalid ")), None)
    if bad:
        chosen.add(bad)
    cpu_builtin = "CPU instance for the built-in algorithm" in faults
    if cpu_builtin:
        chosen |= {"--algorithm", "--instance-type"}
        bad = None if bad in {"--algorithm", "--instance-type"} else bad
    algorithm = draw(VALUES["--algorithm"].valid) if "--algorithm" in chosen else "pytorch"
    algorithm = "builtin" if cpu_builtin else algorithm
    missing = draw(st.sampled_from(["--state-machine-arn", "--bucket", "--dataset-prefix"])) if (
        "missing required option" in faults
    ) else None  # fmt: skip

    if missing != "--state-machine-arn":
        arn = draw(st.sampled_from(BAD_ARNS)) if "bad state machine ARN" in faults else machine.arn
        argv.add("--state-machine-arn", arn)
    for flag in ["--bucket", "--dataset-prefix", *sorted(chosen)]:
        if flag == missing:
            continue
        value = draw(VALUES[flag].invalid if flag == bad else VALUES[flag].valid)
        if flag == "--algorithm":
            value = draw(VALUES[flag].invalid) if flag == bad else algorithm
        if flag == "--instance-type" and flag != bad and algorithm == "builtin":
            value = draw(CPU_INSTANCE_TYPES if cpu_builtin else GPU_INSTANCE_TYPES)
        argv.add(flag, value)

    if "region of another state machine" in faults:
        argv.add("--region", draw(st.sampled_from([m.region for m in STATE_MACHINES if m != machine])))
    elif "malformed region" in faults:
        argv.add("--region", draw(st.sampled_from(["", "mars", "EU-WEST-1", f"{machine.region} ", "eu-west"])))
    elif draw(st.booleans()):
        argv.add("--region", machine.region)

    if "job name outside the role's prefix" in faults:
        outsider = draw(st.sampled_from(["other-run-1", "cvx-run-1", "team-run-1"]))
        if machine.prefix is None:  # every name is inside: use a machine whose roles have a prefix
            argv.words[0][1], argv.machine = STATE_MACHINES[0].arn, STATE_MACHINES[0]
        argv.add("--job-name", outsider)
    elif "malformed job name" in faults:
        argv.add("--job-name", draw(st.sampled_from(["", "bad name", "-x", "x" * 64, "cv_run", "cv-run-1\n", "cv--"])))
    elif draw(st.booleans()):
        argv.add("--job-name", f"{machine.prefix or 'any'}-run-{draw(st.integers(0, 999))}")

    if "sourcedir without train.py" in faults:
        if algorithm != "pytorch":
            argv.words = [w for w in argv.words if w[0] != "--algorithm"]  # pytorch, the default, packages the code
        argv.add("--sourcedir", draw(st.sampled_from(["{empty}", "{empty}/missing", "\x00"])))
    elif algorithm == "pytorch" or draw(st.booleans()):
        argv.add("--sourcedir", str(DOUBLE_SOURCEDIR))

    pairs = draw(st.lists(st.sampled_from(GOOD_PAIRS), max_size=3, unique=True))
    taken = _named_keys(algorithm, chosen)
    pairs = [pair for pair in pairs if pair.partition("=")[0] not in taken]
    if "malformed hyperparameter" in faults:
        pairs.append(draw(st.sampled_from(BAD_PAIRS)))
    if "hyperparameter given twice" in faults:
        keys = sorted(taken | {pair.partition("=")[0] for pair in pairs})
        key = draw(st.sampled_from(keys)) if keys else "momentum"
        pairs += [f"{key}=1"] if keys else ["momentum=0.9", "momentum=0.8"]
    for pair in draw(st.permutations(pairs)):
        argv.add("--hyperparameter", pair)

    for flag in draw(st.lists(st.sampled_from(["--no-wait", "--print-input"]), unique=True)):
        argv.add(flag)
    if "unknown option" in faults:
        argv.words.append(draw(st.sampled_from([["--unknown-flag"], ["--bucket-name", "cv-data"], ["-z"], ["stray"]])))
    argv.words = draw(st.permutations(argv.words))
    return argv


@dataclass
class Clients:
    requested: list[tuple[str, str | None]] = field(default_factory=list)


@contextlib.contextmanager
def _no_aws(clients: Clients):
    def refuse(service: str, *args: object, region_name: str | None = None, **kwargs: object) -> None:
        clients.requested.append((service, region_name))
        raise ClientRequested(service)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(boto3, "client", refuse)
        patch.setattr(boto3.session.Session, "client", lambda self, service, **kw: refuse(service, **kw))
        yield


def _run(argv: Argv, tmp_path: Path) -> tuple[int | None, str, str, Clients]:
    """main(argv): (exit status, or None when it asked for a client; stdout; stderr; the clients asked for)."""
    (tmp_path / "empty").mkdir(exist_ok=True)
    words = [word.replace("{empty}", str(tmp_path / "empty")) for word in argv.flat()]
    clients, out, err = Clients(), io.StringIO(), io.StringIO()
    code: int | None = None
    with (
        _no_aws(clients),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        contextlib.suppress(ClientRequested),
    ):
        code = launcher.main(words)
    return code, out.getvalue(), err.getvalue(), clients


@pytest.mark.parametrize("fault", FAULTS)
@settings(PROPERTIES, max_examples=12)
@given(data=st.data())
def test_a_faulty_command_line_is_refused_in_one_line_before_any_client(
    fault: str, data: st.DataObject, tmp_path: Path
) -> None:
    faults = [fault, *data.draw(st.lists(st.sampled_from(FAULTS), max_size=1), label="and")]
    argv = data.draw(command_lines(tuple(faults)), label="argv")

    code, stdout, stderr, clients = _run(argv, tmp_path)

    assert clients.requested == [], f"made a client for {argv.flat()!r}"
    assert code == launcher.EXIT_USAGE
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert ERROR_LINE.fullmatch(lines[0]), lines[0]
    hypothesis.event(f"refused: {lines[0][:60]}")  # see pytest --hypothesis-show-statistics


@PROPERTIES
@given(argv=command_lines())
@example(argv=Argv([["--state-machine-arn", STATE_MACHINES[1].arn], ["--bucket", "abc"], ["--dataset-prefix", ""],
                    ["--algorithm", "builtin"], ["--sourcedir", "\x00"]], STATE_MACHINES[1]))  # fmt: skip
def test_a_valid_command_line_goes_as_far_as_its_first_client(argv: Argv, tmp_path: Path) -> None:
    code, stdout, stderr, clients = _run(argv, tmp_path)

    assert code is None, f"exit {code}: {stderr}"
    assert [region for _, region in clients.requested] == [argv.machine.region]  # the first one ends the run
    assert (stdout, stderr) == ("", "")


# -- command lines that used to reach AWS, crash, or print a usage block ---------------------------------------------
BASE = [
    "--state-machine-arn", STATE_MACHINES[0].arn, "--bucket", "cv-data", "--dataset-prefix", "datasets/v1",
    "--sourcedir", str(DOUBLE_SOURCEDIR),
]  # fmt: skip


BAD_VALUES = [
    (["--learning-rate", "nan"], "argument --learning-rate: must be a number above 0, got 'nan'"),
    (["--learning-rate", "inf"], "argument --learning-rate: must be a number above 0, got 'inf'"),
    (["--epochs", "-1"], "argument --epochs: must be a whole number from 1 to 2147483647, got '-1'"),
    (["--batch-size", "0"], "argument --batch-size: must be a whole number from 1"),
    (["--job-name", "bad name"], "argument --job-name: job name 'bad name' is not a valid SageMaker name"),
    (["--job-name", "cv-run-1\n"], "argument --job-name: job name 'cv-run-1\\n' is not a valid SageMaker name"),
    (["--job-name", "other-run-1"], "--job-name other-run-1 must start with cv-"),
    (["--bucket", "Bad_Bucket"], "argument --bucket: 'Bad_Bucket' is not an S3 bucket name"),
    (["--dataset-prefix", "../x"], "argument --dataset-prefix: '../x' has an empty, '.' or '..' segment"),
    (["--region", "us-east-1"], "--region us-east-1 is not the state machine's region eu-west-1"),
    (["--region", ""], "argument --region: '' is not an AWS region"),
    (["--instance-type", "m5.large"], "argument --instance-type: 'm5.large' is not a SageMaker instance type"),
    (["--code-s3-uri", "nope"], "argument --code-s3-uri: 'nope' is not an s3://BUCKET/PREFIX URI"),
    (["--sourcedir", "/"], "--sourcedir '/' has no train.py and metrics.py to package"),
    (["--epochs", "3", "--hyperparameter", "epochs=5"], "hyperparameter epochs is given twice"),
    (["--hyperparameter", "sagemaker_program=evil.py"], "sagemaker_* hyperparameters are set by the launcher"),
    (["--hyperparameter", "a b=1"], "--hyperparameter 'a b=1' is not KEY=VALUE"),
    (["--poll-seconds", "0"], "argument --poll-seconds: must be a number above 0"),
    (["--unknown-flag"], "unrecognized arguments: --unknown-flag (see --help)"),
]


@pytest.mark.parametrize(("options", "reason"), BAD_VALUES, ids=[" ".join(options) for options, _ in BAD_VALUES])
def test_a_bad_value_is_named_in_one_line_before_any_client(options: list[str], reason: str, tmp_path: Path) -> None:
    argv = Argv(words=[[word] for word in BASE] + [[word] for word in options])

    code, stdout, stderr, clients = _run(argv, tmp_path)

    assert (code, stdout, clients.requested) == (launcher.EXIT_USAGE, "", [])
    assert stderr.startswith("error: InvalidArgument: ")
    assert reason in stderr
    assert stderr.count("\n") == 1


def test_missing_options_are_one_line_not_a_usage_block(tmp_path: Path) -> None:
    code, _, stderr, clients = _run(Argv(), tmp_path)

    assert (code, clients.requested) == (launcher.EXIT_USAGE, [])
    assert stderr == (
        "error: InvalidArgument: the following arguments are required: --state-machine-arn, --bucket, "
        "--dataset-prefix (see --help)\n"
    )


def test_a_malformed_arn_without_a_configured_region_is_refused_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It used to end in IndexError: the region came from splitting the ARN on ':'."""
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    argv = Argv(words=[["--state-machine-arn", "foo"], ["--bucket", "cv-data"], ["--dataset-prefix", "x"]])

    code, _, stderr, clients = _run(argv, tmp_path)

    assert (code, clients.requested) == (launcher.EXIT_USAGE, [])
    assert stderr.startswith("error: InvalidArgument: argument --state-machine-arn: 'foo' is not a state machine ARN")


def test_the_clients_work_in_the_state_machines_region_whatever_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A default region elsewhere used to send StartExecution to the wrong region."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    for extra in ([], ["--print-input"]):
        argv = Argv(words=[[word] for word in BASE] + [[word] for word in extra])

        code, _, stderr, clients = _run(argv, tmp_path)

        assert code is None, stderr
        assert [region for _, region in clients.requested] == ["eu-west-1"]
