"""The embedded AWS's deployment guardrails: UpdateEndpoint with a blue/green DeploymentConfig, as SageMaker
documents it (Blue/Green Deployments, Use canary traffic shifting, Use linear traffic shifting, Auto-rollback
configuration and monitoring; the UpdateEndpoint and DescribeEndpoint API references).

Each test serves two stand-in models (their answers name them) behind one endpoint and watches, request by
request, which fleet answers while the update runs."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError
from local_aws.endpoints import EndpointFault

from tests.pipeline.conftest import TrainingPipeline, stand_in_model

pytestmark = pytest.mark.embedded

VARIANT = {"VariantName": "AllTraffic", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}


def serve(stack: TrainingPipeline, name: str, broken: bool = False, variant_name: str = "AllTraffic") -> str:
    """A model and an endpoint config named `name`, serving the stand-in model of that name."""
    sagemaker = stack.aws.client("sagemaker")
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=stack.role_arn,
        PrimaryContainer={
            "Image": "local/pytorch-inference",
            "ModelDataUrl": stand_in_model(stack.aws.client("s3"), stack.data_bucket, name, broken),
        },
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=[{**VARIANT, "VariantName": variant_name, "ModelName": name}]
    )
    return name


def described(stack: TrainingPipeline, endpoint: str) -> dict[str, Any]:
    return stack.aws.client("sagemaker").describe_endpoint(EndpointName=endpoint)


def wait(stack: TrainingPipeline, endpoint: str, until: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.time() + timeout
    while not until(found := described(stack, endpoint)):
        assert time.time() < deadline, found
        time.sleep(0.1)
    return found


def in_service(stack: TrainingPipeline, endpoint: str) -> dict[str, Any]:
    return wait(stack, endpoint, lambda e: e["EndpointStatus"] == "InService")


def baking_at(share: str) -> Any:
    """DescribeEndpoint shows the update baking the given share of traffic on the new fleet."""

    def check(endpoint: dict[str, Any]) -> bool:
        pending = endpoint.get("PendingDeploymentSummary") or {}
        statuses = [s for v in pending.get("ProductionVariants", []) for s in v.get("VariantStatus", [])]
        return any(s["Status"] == "Baking" and s.get("StatusMessage", "").startswith(share) for s in statuses)

    return check


def answers(stack: TrainingPipeline, endpoint: str, count: int) -> Counter:
    """Which model answered each of `count` requests (errors counted by their error code)."""
    runtime = stack.aws.client("sagemaker-runtime")
    seen: Counter = Counter()
    for _ in range(count):
        try:
            body = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="application/x-image", Body=b"\x89PNG")
            seen[json.loads(body["Body"].read())["model_version"]] += 1
        except ClientError as error:
            seen[error.response["Error"]["Code"]] += 1
    return seen


def new_endpoint(stack: TrainingPipeline, name: str) -> tuple[str, str]:
    """An endpoint in service on its blue model, and a green model ready to deploy."""
    blue, green = serve(stack, f"{name}-blue"), serve(stack, f"{name}-green")
    stack.aws.client("sagemaker").create_endpoint(EndpointName=name, EndpointConfigName=blue)
    in_service(stack, name)
    return blue, green


def canary(percent: int, wait_seconds: int, termination_seconds: int = 0, alarms: list[str] | None = None) -> dict:
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": percent},
                "WaitIntervalInSeconds": wait_seconds,
            },
            "TerminationWaitInSeconds": termination_seconds,
            "MaximumExecutionTimeoutInSeconds": 600,
        }
    }
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": name} for name in alarms]}
    return config


def test_a_canary_update_sends_its_share_to_the_new_fleet_then_all_traffic(training_pipeline):
    stack = training_pipeline
    blue, green = new_endpoint(stack, "gr-canary")
    deployment = canary(25, wait_seconds=6, termination_seconds=1)

    stack.aws.client("sagemaker").update_endpoint(
        EndpointName="gr-canary", EndpointConfigName=green, DeploymentConfig=deployment, RetainAllVariantProperties=True
    )

    updating = wait(stack, "gr-canary", baking_at("25%"))
    assert updating["EndpointStatus"] == "Updating"
    assert updating["EndpointConfigName"] == blue  # the old config serves until the update completes
    assert updating["PendingDeploymentSummary"]["EndpointConfigName"] == green
    assert answers(stack, "gr-canary", 8) == {blue: 6, green: 2}  # a quarter of the requests on the canary

    done = in_service(stack, "gr-canary")
    assert done["EndpointConfigName"] == green
    assert "FailureReason" not in done
    assert "PendingDeploymentSummary" not in done
    assert done["LastDeploymentConfig"] == deployment
    assert answers(stack, "gr-canary", 4) == {green: 4}


def test_a_linear_update_moves_traffic_in_steps_of_its_size(training_pipeline):
    stack = training_pipeline
    blue, green = new_endpoint(stack, "gr-linear")
    deployment = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR",
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
                "WaitIntervalInSeconds": 5,
            },
            "TerminationWaitInSeconds": 0,
        }
    }

    stack.aws.client("sagemaker").update_endpoint(
        EndpointName="gr-linear", EndpointConfigName=green, DeploymentConfig=deployment
    )

    wait(stack, "gr-linear", baking_at("50%"))
    assert answers(stack, "gr-linear", 6) == {blue: 3, green: 3}
    assert in_service(stack, "gr-linear")["EndpointConfigName"] == green
    assert answers(stack, "gr-linear", 3) == {green: 3}


def test_an_alarm_tripped_by_the_new_fleets_5xx_rolls_the_update_back(training_pipeline):
    """5xx answers of the green model reach Invocation5XXErrors; the alarm on it goes to ALARM while the canary
    bakes; SageMaker rolls back: all traffic on the old fleet, InService on the old config, FailureReason says why."""
    stack = training_pipeline
    blue, green = new_endpoint(stack, "gr-rollback")
    cloudwatch = stack.aws.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="gr-rollback-5xx",
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=[{"Name": "EndpointName", "Value": "gr-rollback"}, {"Name": "VariantName", "Value": "AllTraffic"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    faults = stack.aws.endpoints.faults
    faults["gr-rollback"] = EndpointFault("ModelError", count=1000, model_name=green)  # only the new model fails
    try:
        stack.aws.client("sagemaker").update_endpoint(
            EndpointName="gr-rollback",
            EndpointConfigName=green,
            DeploymentConfig=canary(50, wait_seconds=60, alarms=["gr-rollback-5xx"]),
        )
        wait(stack, "gr-rollback", baking_at("50%"))
        during = answers(stack, "gr-rollback", 4)  # every other request goes to the canary, until it rolls back
        assert set(during) <= {blue, "ModelError"}
        assert during["ModelError"] >= 1

        rolled_back = wait(stack, "gr-rollback", lambda e: e["EndpointStatus"] == "InService", timeout=20)
    finally:
        faults.pop("gr-rollback", None)

    assert rolled_back["EndpointConfigName"] == blue
    assert "rolled back" in rolled_back["FailureReason"]
    assert "gr-rollback-5xx" in rolled_back["FailureReason"]
    alarm = cloudwatch.describe_alarms(AlarmNames=["gr-rollback-5xx"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM"
    assert alarm["StateReason"].startswith("Threshold Crossed")
    assert answers(stack, "gr-rollback", 4) == {blue: 4}  # the old model answers everything again
    errors = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=[{"Name": "EndpointName", "Value": "gr-rollback"}, {"Name": "VariantName", "Value": "AllTraffic"}],
        StartTime=time.time() - 600,
        EndTime=time.time() + 60,
        Period=3600,
        Statistics=["Sum", "SampleCount"],
    )["Datapoints"]
    assert errors[0]["Sum"] == during["ModelError"]
    assert errors[0]["SampleCount"] == 8  # one datapoint (0 or 1) per invocation that reached a model


def test_a_new_model_that_does_not_load_is_never_given_traffic(training_pipeline):
    stack = training_pipeline
    blue, _green = new_endpoint(stack, "gr-noload")
    broken = serve(stack, "gr-noload-broken", broken=True)

    stack.aws.client("sagemaker").update_endpoint(
        EndpointName="gr-noload", EndpointConfigName=broken, DeploymentConfig=canary(10, wait_seconds=5)
    )

    done = wait(stack, "gr-noload", lambda e: e["EndpointStatus"] == "InService", timeout=30)
    assert done["EndpointConfigName"] == blue
    assert "broken on purpose" in done["FailureReason"]


@pytest.mark.parametrize(
    ("routing", "message"),
    [
        (
            {"Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 60}, "WaitIntervalInSeconds": 1},
            "less than or equal to 50%",
        ),
        (
            {"Type": "CANARY", "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1}, "WaitIntervalInSeconds": 1},
            "less than or equal to 50%",  # one instance of a one-instance fleet is all of it
        ),
        (
            {"Type": "LINEAR", "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 5}, "WaitIntervalInSeconds": 1},
            "10-50%",
        ),
        ({"Type": "CANARY", "WaitIntervalInSeconds": 1}, "CanarySize is required"),
        (
            {"Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}, "WaitIntervalInSeconds": 4000},
            "WaitIntervalInSeconds",
        ),
    ],
)
def test_a_deployment_config_sagemaker_documents_as_invalid_is_refused_and_nothing_changes(
    training_pipeline, routing, message
):
    stack = training_pipeline
    if "gr-refused" not in {e["EndpointName"] for e in stack.aws.client("sagemaker").list_endpoints()["Endpoints"]}:
        new_endpoint(stack, "gr-refused")
    before = in_service(stack, "gr-refused")

    with pytest.raises(ClientError, match=message) as refused:
        stack.aws.client("sagemaker").update_endpoint(
            EndpointName="gr-refused",
            EndpointConfigName="gr-refused-green",
            DeploymentConfig={"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing}},
        )

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    after = described(stack, "gr-refused")
    assert (after["EndpointStatus"], after["EndpointConfigName"]) == ("InService", before["EndpointConfigName"])


def test_a_blue_green_update_needs_the_same_variant_name(training_pipeline):
    stack = training_pipeline
    new_endpoint(stack, "gr-variant")
    other = serve(stack, "gr-variant-renamed", variant_name="Renamed")

    with pytest.raises(ClientError, match="same variant names"):
        stack.aws.client("sagemaker").update_endpoint(
            EndpointName="gr-variant", EndpointConfigName=other, DeploymentConfig=canary(10, wait_seconds=1)
        )
