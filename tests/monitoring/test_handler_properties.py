"""Property tests: whatever arrives, retrain_guard and write_baseline return a JSON-able dict or a WorkflowError.

retrain_guard is invoked by EventBridge and write_baseline by the training pipeline's WriteMonitoringBaseline
state. A KeyError, AttributeError, TypeError or botocore validation error escaping either handler reaches
EventBridge (retried, then dropped) or Step Functions as an unnamed error that no Catch expects and that tells
on-call nothing. The events here are arbitrary JSON, and the sample events with a few fields - nested ones
included - dropped or replaced, run against moto (in-process) holding the resources of the happy path; the
endpoint write_baseline calls is a botocore Stubber answering arbitrary JSON as well as probabilities.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import hypothesis
import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.stepfunctions.models import stepfunctions_backends
from shared.errors import WorkflowError

from tests.conftest import FUNCTIONS_DIR, load_function
from tests.functions.test_handler_properties import almost, json_values
from tests.lambda_context import FakeLambdaContext
from tests.monitoring.conftest import MonitoringRecorder, png_bytes

# moto's state is reset where an example changes it (see `retrains_forgotten`), so sharing it is intended.
PROPERTIES = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# A handler that raises has no metric to flush; Powertools warns about that, which is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

ACCOUNT, REGION = "123456789012", "eu-west-1"
DROP = object()


def sample(function: str, name: str) -> dict[str, Any]:
    return json.loads((FUNCTIONS_DIR / function / "events" / name).read_text())


def field_paths(document: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside `document` (dict keys and list indices), outermost first."""
    items = (
        document.items() if isinstance(document, dict) else enumerate(document) if isinstance(document, list) else ()
    )
    paths = []
    for key, value in items:
        paths.append((*prefix, key))
        paths += field_paths(value, (*prefix, key))
    return paths


def with_changes(valid: dict[str, Any], changes: list[tuple[tuple, Any]]) -> dict[str, Any]:
    """`valid` with the value at each path replaced, or removed where the change is DROP."""
    document = copy.deepcopy(valid)
    for path, value in changes:
        try:
            parent = document
            for key in path[:-1]:
                parent = parent[key]
            if value is DROP:
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced what this path runs through
    return document


def deep_almost(
    valid: dict[str, Any], values: st.SearchStrategy, paths: list[tuple] | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """Like `almost`, but one to three fields at any depth (or only `paths`) are dropped or replaced."""
    change = st.tuples(st.sampled_from(paths or field_paths(valid)), st.just(DROP) | values)
    return st.builds(with_changes, st.just(valid), st.lists(change, min_size=1, max_size=3))


def named_errors_only(call: Any, *args: Any) -> Any:
    """call(*args)'s result, or None where it raised a WorkflowError; any other exception fails the test."""
    try:
        result = call(*args)
    except WorkflowError as error:
        hypothesis.event(f"raised {type(error).__name__}")  # see: pytest --hypothesis-show-statistics
        return None
    assert isinstance(result, dict)
    json.dumps(result, allow_nan=False)
    return result


# -- retrain_guard ---------------------------------------------------------------------------------------------

GUARD_CONTEXT = FakeLambdaContext.for_function("courier-vehicle-retrain-guard")
VIOLATIONS_EVENT = sample("retrain_guard", "monitoring_violations.json")
QUIET_EVENT = sample("retrain_guard", "monitoring_no_violations.json")
FAILED_EVENT = sample("retrain_guard", "monitoring_failed.json")
CHECK_EVENT = sample("retrain_guard", "check_violations.json")
DATA_BUCKET = "courier-vehicle-data"
REPORTS = "monitoring/reports/courier-vehicle-endpoint/courier-vehicle-data-quality/2025/01/01"
# Report folder -> its constraint_violations.json, for the monitoring runs recorded below.
REPORT_BODIES = {
    f"{REPORTS}/13": (FUNCTIONS_DIR / "retrain_guard" / "events" / "constraint_violations.json").read_bytes(),
    f"{REPORTS}/14": b'{"violations": []}',
    f"{REPORTS}/15": b"not json",
    f"{REPORTS}/16": b'{"violations": {"feature_name": "brightness"}}',
    f"{REPORTS}/17": b'{"violations": ["brightness drifted", 3]}',
}
S3_URI = ("detail", "ProcessingOutputConfig", "Outputs", 0, "S3Output", "S3Uri")
SAMPLE_VIOLATION = [{"feature_name": "brightness", "constraint_check_type": "baseline_drift_check"}]


def run_event(folder: str) -> dict[str, Any]:
    """The sample event of a run whose report folder is `folder` (a job of its own per folder)."""
    hour = folder.rsplit("/", 1)[-1]
    job = f"model-monitoring-20250101{hour}00-{int(hour):08x}"
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/{job}"
    changes = [(S3_URI, f"s3://{DATA_BUCKET}/{folder}"), (("detail", "ProcessingJobName"), job)]
    return with_changes(VIOLATIONS_EVENT, [*changes, (("detail", "ProcessingJobArn"), arn), (("resources",), [arn])])


# Runs of our schedule that found violations, one per report folder (the last one has no report), and the
# sample event's own run; the quiet sample's run found none.
RUN_EVENTS = [run_event(folder) for folder in [*REPORT_BODIES, f"{REPORTS}/99"]]
# The fields ProcessingJobStateChange.from_event reads: the event's contract.
GUARD_CONTRACT = [
    ("detail-type",),
    ("detail",),
    ("detail", "ProcessingJobName"),
    ("detail", "ProcessingJobStatus"),
]

guard_values = (
    json_values
    | st.sampled_from([e["detail"]["ProcessingJobName"] for e in [*RUN_EVENTS, QUIET_EVENT, FAILED_EVENT]])
    | st.text(alphabet="ab-._/:@[]% ?#", max_size=12)
    | st.sampled_from(
        [
            "Completed",
            "Failed",
            "InProgress",
            "SageMaker Processing Job State Change",
            "courier-vehicle-evaluation-1",
        ]
    )
)
baseline_uris_for_guard = st.sampled_from(
    [f"s3://{DATA_BUCKET}/{folder}" for folder in REPORT_BODIES] + ["s3://no-such-bucket/reports", "s3://[x"]
)
guard_events = (
    json_values
    | st.sampled_from([*RUN_EVENTS, QUIET_EVENT, FAILED_EVENT])
    | almost(VIOLATIONS_EVENT)
    | almost(QUIET_EVENT)
    | deep_almost(VIOLATIONS_EVENT, guard_values)
    | deep_almost(VIOLATIONS_EVENT, guard_values, GUARD_CONTRACT)
    | deep_almost(QUIET_EVENT, guard_values, GUARD_CONTRACT)
    # The scheduled check's Drift Check Completed event (monitoring/check_event.py), and near misses of it.
    | st.just(CHECK_EVENT)
    | almost(CHECK_EVENT)
    | deep_almost(CHECK_EVENT, guard_values | baseline_uris_for_guard)
)


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch, monitoring_api: MonitoringRecorder) -> Iterator[tuple[ModuleType, str]]:
    """The guard with moto's pipeline (one successful run to repeat), our schedule's recorded runs and their
    reports, a processing job no schedule started, and the guard's environment."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "retrain_guard")
    monkeypatch.delenv("PIPELINE_INPUT", raising=False)
    monkeypatch.setenv("MONITORING_SCHEDULE_NAME", "courier-vehicle-data-quality")
    with mock_aws():
        sfn = boto3.client("stepfunctions")
        arn = sfn.create_state_machine(
            name="courier-vehicle-pipeline",
            definition=json.dumps({"StartAt": "Train", "States": {"Train": {"Type": "Pass", "End": True}}}),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/courier-vehicle-pipeline",
        )["stateMachineArn"]
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=DATA_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        for folder, body in REPORT_BODIES.items():
            s3.put_object(Bucket=DATA_BUCKET, Key=f"{folder}/constraint_violations.json", Body=body)
        monitoring_api.schedule()
        for event in RUN_EVENTS:
            monitoring_api.record(event, SAMPLE_VIOLATION)
        monitoring_api.record(VIOLATIONS_EVENT, SAMPLE_VIOLATION)
        monitoring_api.record(QUIET_EVENT, [])
        boto3.client("sagemaker").create_processing_job(
            ProcessingJobName="courier-vehicle-evaluation-1",
            ProcessingResources={
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}
            },
            AppSpecification={"ImageUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/evaluate:1"},
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/courier-vehicle-evaluation",
        )
        monkeypatch.setenv("PIPELINE_STATE_MACHINE_ARN", arn)
        launch = {"algorithm": "pytorch", "training": {"job_name": "courier-vehicle-20250101-0900"}}
        launched = sfn.start_execution(stateMachineArn=arn, name="launch-1", input=json.dumps(launch))
        stepfunctions_backends[ACCOUNT][REGION].describe_execution(launched["executionArn"]).status = "SUCCEEDED"
        yield load_function("retrain_guard"), arn


def retrains_forgotten(pipeline_arn: str) -> None:
    """Remove the runs earlier examples started, so each example finds only the successful launch."""
    pipeline = stepfunctions_backends[ACCOUNT][REGION].describe_state_machine(pipeline_arn)
    pipeline.executions = [e for e in pipeline.executions if not e.name.startswith("retrain-")]


@PROPERTIES
@given(event=guard_events)
def test_retrain_guard_raises_only_named_errors(guard, event):
    app, pipeline_arn = guard
    retrains_forgotten(pipeline_arn)
    decision = named_errors_only(app.lambda_handler, event, GUARD_CONTEXT)
    if decision is not None:
        hypothesis.event(f"decided {decision['reason']}")


@pytest.mark.parametrize(
    ("folder", "error"),
    [
        (f"{REPORTS}/15", "Expecting value"),
        (f"{REPORTS}/16", "list of objects"),
        (f"{REPORTS}/17", "list of objects"),  # found by the property: a list of strings raised AttributeError
        (f"{REPORTS}/99", "NoSuchKey"),
    ],
)
def test_a_report_that_is_not_a_violations_list_is_unreadable(guard, folder, error):
    app, _ = guard
    with pytest.raises(app.ViolationsReportUnreadable, match=error):
        app.lambda_handler(run_event(folder), GUARD_CONTEXT)


@pytest.mark.parametrize("uri", ["s3://[courier-vehicle-data/reports", ""], ids=["bracket", "empty"])
def test_a_job_whose_output_is_no_s3_folder_has_an_unreadable_report(guard, monitoring_api, uri):
    """Found by the property when the URI came from the event: "[" made urlparse raise ValueError."""
    app, _ = guard
    event = with_changes(run_event(f"{REPORTS}/18"), [(S3_URI, uri)])
    monitoring_api.record(event, SAMPLE_VIOLATION)
    with pytest.raises(app.ViolationsReportUnreadable):
        app.lambda_handler(event, GUARD_CONTEXT)


# -- write_baseline --------------------------------------------------------------------------------------------

BASELINE_CONTEXT = FakeLambdaContext.for_function("courier-vehicle-write-baseline")
BASELINE_EVENT = sample("write_baseline", "after_deploy.json")
BASELINE_BUCKET = BASELINE_EVENT["test_s3_uri"].removeprefix("s3://").partition("/")[0]
TEST_PREFIX = BASELINE_EVENT["test_s3_uri"].removeprefix(f"s3://{BASELINE_BUCKET}/")
# The test set: two real PNGs, a ".png" that is not one (it is still sent), and a file that is not an image.
TEST_OBJECTS = {
    "bicycle_0.png": png_bytes(np.full((8, 8, 3), 200, dtype=np.uint8)),
    "motorcycle_1.png": png_bytes(np.full((8, 8, 3), 50, dtype=np.uint8)),
    "notes.png": b"plain text",
    "test.lst": b"0\t0\tbicycle_0.png\n",
}
TEST_IMAGES = sum(key.endswith(".png") for key in TEST_OBJECTS)

probabilities = st.floats(0, 1).map(lambda p: [p, 1 - p])
# The three answers the model may give (functions/README.md), as the endpoint's body.
good_answers = (
    probabilities | probabilities.map(lambda p: [p]) | probabilities.map(lambda p: {"probabilities": p})
).map(lambda answer: json.dumps(answer).encode())
any_answers = (
    good_answers
    | json_values.map(lambda answer: json.dumps(answer).encode())
    | st.sampled_from([b"not json", b"\xff\xfe", b""])
)
baseline_uris = st.sampled_from(
    [
        BASELINE_EVENT["test_s3_uri"],
        BASELINE_EVENT["baseline_s3_prefix"],
        f"s3://{BASELINE_BUCKET}",
        f"s3://{BASELINE_BUCKET}/no/images/here",
        "s3://no-such-bucket/datasets/test",
    ]
) | st.builds(f"s3://{BASELINE_BUCKET}/{{}}".format, st.text(max_size=8))
baseline_events = (
    json_values
    | st.just(BASELINE_EVENT)
    | almost(BASELINE_EVENT)
    | deep_almost(BASELINE_EVENT, json_values | baseline_uris)
    # Well-formed requests naming each place: the test set, an empty folder, a bucket that does not exist.
    | st.fixed_dictionaries(
        {
            "endpoint_name": st.sampled_from([BASELINE_EVENT["endpoint_name"], "x" * 63, "not an endpoint name!"]),
            "test_s3_uri": baseline_uris,
            "baseline_s3_prefix": baseline_uris,
            "training_job_name": st.just(BASELINE_EVENT["training_job_name"]),
        }
    )
)


@pytest.fixture
def baseline(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, Any]]:
    """write_baseline with the test set in moto S3 and a sagemaker-runtime client to stub in place of the endpoint."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "write_baseline")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BASELINE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        for name, body in TEST_OBJECTS.items():
            s3.put_object(Bucket=BASELINE_BUCKET, Key=f"{TEST_PREFIX}/{name}", Body=body)
        app = load_function("write_baseline")
        runtime = boto3.client("sagemaker-runtime")
        clients = {"s3": s3, "sagemaker-runtime": runtime}
        monkeypatch.setattr(app, "boto3", SimpleNamespace(client=clients.__getitem__))
        yield app, runtime


@contextmanager
def endpoint_answering(runtime: Any, answer: bytes, fails: bool = False) -> Iterator[None]:
    """The endpoint answers every image with `answer`, after a ModelError on the first one where `fails`."""
    with Stubber(runtime) as endpoint:
        if fails:
            endpoint.add_client_error("invoke_endpoint", service_error_code="ModelError", http_status_code=424)
        for _ in range(TEST_IMAGES):
            endpoint.add_response("invoke_endpoint", {"Body": StreamingBody(io.BytesIO(answer), len(answer))})
        yield


def run_baseline(baseline: tuple[ModuleType, Any], event: Any, answer: bytes, fails: bool = False) -> Any:
    """The handler's result (None where it raised a WorkflowError) with the endpoint answering `answer`."""
    app, runtime = baseline
    with endpoint_answering(runtime, answer, fails):
        return named_errors_only(app.lambda_handler, event, BASELINE_CONTEXT)


@PROPERTIES
@given(event=baseline_events, answer=good_answers)
def test_write_baseline_raises_only_named_errors_whatever_the_event(baseline, event, answer):
    if run_baseline(baseline, event, answer) is not None:
        hypothesis.event("wrote a baseline")


@PROPERTIES
@given(answer=any_answers, fails=st.booleans())
def test_write_baseline_raises_only_named_errors_whatever_the_endpoint_answers(baseline, answer, fails):
    if run_baseline(baseline, BASELINE_EVENT, answer, fails) is not None:
        hypothesis.event("wrote a baseline")


@pytest.mark.parametrize("answer", [b"[[0.3, 0.7]]", b'{"probabilities": [0.3, 0.7]}'], ids=["batch", "object"])
def test_every_documented_answer_shape_makes_a_baseline(baseline, answer):
    """Found by the property: a batch of one or an object raised TypeError/ValueError building the capture line."""
    result = run_baseline(baseline, BASELINE_EVENT, answer)
    assert result == {
        "statistics_s3_uri": f"{BASELINE_EVENT['baseline_s3_prefix']}/statistics.json",
        "constraints_s3_uri": f"{BASELINE_EVENT['baseline_s3_prefix']}/constraints.json",
        "records": TEST_IMAGES,
    }


@pytest.mark.parametrize(
    ("change", "answer", "error"),
    [
        ({}, b"not json", "BaselineEndpointError"),
        ({}, b'{"label": "bicycle"}', "BaselineEndpointError"),
        ({"test_s3_uri": "s3://no-such-bucket/datasets/test"}, b"[0.3, 0.7]", "BaselineImagesMissing"),
        ({"baseline_s3_prefix": "s3://no-such-bucket/monitoring/baseline"}, b"[0.3, 0.7]", "BaselineNotWritten"),
    ],
    ids=["answer-not-json", "answer-no-probabilities", "test-set-bucket-missing", "baseline-bucket-missing"],
)
def test_a_bad_answer_or_a_missing_bucket_is_a_named_error(baseline, change, answer, error):
    """Found by the property: these raised JSONDecodeError, TypeError or botocore's NoSuchBucket."""
    app, runtime = baseline
    with endpoint_answering(runtime, answer), pytest.raises(getattr(app, error)):
        app.lambda_handler({**BASELINE_EVENT, **change}, BASELINE_CONTEXT)
