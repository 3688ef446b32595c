"""The synthetic probe on the embedded AWS: the real inference_probe zip, run now, through the Express workflow.

A correct model passes the probe (ProbeFailures 0); a model that misroutes a known image, or a broken endpoint,
raises ProbeFailures, the metric the probe-failed alarm fires on (at 1), even with no other traffic.
"""

from __future__ import annotations

import datetime
import json

import pytest
from local_aws.endpoints import EndpointFault

from tests.workflows.conftest import POWERTOOLS_LAYER

pytestmark = pytest.mark.embedded

NAMESPACE = "CourierVehicleTest"
PROBES = {
    "incoming/probes/bicycle.png": ("bicycle", "nearby"),
    "incoming/probes/motorcycle.png": ("motorcycle", "distant"),
}


def deploy_probe(stack, zips, name: str, expected: dict[str, str]) -> str:
    stack.aws.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=stack.role_arn,
        Handler="app.lambda_handler",
        Code={"ZipFile": (zips / "inference_probe.zip").read_bytes()},
        Timeout=120,
        MemorySize=256,
        Layers=[POWERTOOLS_LAYER],
        Environment={
            "Variables": {
                "STATE_MACHINE_ARN": stack.express_state_machine_arn,
                "PROBE_BUCKET": stack.bucket,
                "PROBE_IMAGES": json.dumps(expected),
                "POWERTOOLS_SERVICE_NAME": "inference_probe",
                "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
            }
        },
    )
    return name


@pytest.fixture(scope="module")
def probe_images(inference_stack) -> dict[str, str]:
    """The probe's known images, placed under incoming/probes/ (as the demo places confident test images)."""
    s3 = inference_stack.aws.client("s3")
    for key, (role, _route) in PROBES.items():
        s3.copy_object(
            Bucket=inference_stack.bucket,
            Key=key,
            CopySource={"Bucket": inference_stack.bucket, "Key": inference_stack.images[role]},
        )
    return {key: route for key, (_role, route) in PROBES.items()}


@pytest.fixture(scope="module")
def probe(inference_stack, lambda_zips, probe_images) -> str:
    return deploy_probe(inference_stack, lambda_zips, "inference-test-inference_probe", probe_images)


def run_now(stack, name: str) -> dict:
    """What `aws lambda invoke --function-name <probe>` does: the probe's "run now"."""
    response = stack.aws.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def probe_failures_since(stack, since: datetime.datetime) -> float:
    """Sum of ProbeFailures (service=inference_probe) recorded since `since`: what the probe-failed alarm reads."""
    statistics = stack.aws.client("cloudwatch").get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="ProbeFailures",
        Dimensions=[{"Name": "service", "Value": "inference_probe"}],
        StartTime=since,
        EndTime=datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1),
        Period=60,
        Statistics=["Sum", "SampleCount"],
    )["Datapoints"]
    assert statistics, "the probe recorded no ProbeFailures datapoint (a zero must be recorded too)"
    return sum(point["Sum"] for point in statistics)


def test_a_healthy_workflow_passes_the_probe(inference_stack, probe):
    since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=5)

    result = run_now(inference_stack, probe)

    assert result["failures"] == 0
    assert [(c["s3_key"], c["route"], c["outcome"]) for c in result["checks"]] == [
        ("incoming/probes/bicycle.png", "nearby", "ok"),
        ("incoming/probes/motorcycle.png", "distant", "ok"),
    ]
    assert probe_failures_since(inference_stack, since) == 0


def test_probe_decisions_are_published_marked_as_probes(inference_stack, probe):
    run_now(inference_stack, probe)

    decisions = inference_stack.decisions_for("incoming/probes/bicycle.png")
    assert decisions
    assert all(event["detail"]["probe"] is True for event in decisions)


def test_a_broken_model_raises_the_probe_alarm_metric(inference_stack, probe):
    since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=5)
    faults = inference_stack.aws.endpoints.faults
    faults[inference_stack.endpoint_name] = EndpointFault("ModelError", count=2)  # the model fails on every image
    try:
        result = run_now(inference_stack, probe)
    finally:
        faults.clear()

    assert result["failures"] == 2
    assert {c["outcome"] for c in result["checks"]} == {"execution_failed"}
    assert all("ClassificationFailed" in c["detail"] for c in result["checks"])
    assert probe_failures_since(inference_stack, since) >= 1  # probe-failed fires at 1


def test_a_model_that_misroutes_a_known_image_raises_the_probe_alarm_metric(inference_stack, lambda_zips, probe_images):
    since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=5)
    swapped = {key: "distant" if route == "nearby" else "nearby" for key, route in probe_images.items()}
    name = deploy_probe(inference_stack, lambda_zips, "inference-test-inference_probe-swapped", swapped)

    result = run_now(inference_stack, name)

    assert result["failures"] == 2
    assert {c["outcome"] for c in result["checks"]} == {"wrong_route"}
    assert probe_failures_since(inference_stack, since) >= 1


def test_a_missing_probe_image_is_reported_by_name(inference_stack, lambda_zips):
    name = deploy_probe(
        inference_stack, lambda_zips, "inference-test-inference_probe-missing", {"incoming/probes/gone.png": "nearby"}
    )

    result = run_now(inference_stack, name)

    assert [c["outcome"] for c in result["checks"]] == ["image_missing"]
