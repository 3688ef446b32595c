"""Static checks of the safe-deployment paths of statemachine.asl.json, as it is in the repository: every way a
registered model version can fail to serve ends by name, notifies, and marks the version Rejected first."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO_ROOT
from tests.workflows.asl import transitions
from training.deployments import REJECTION_ERROR

DEFINITION = json.loads((REPO_ROOT / "statemachine.asl.json").read_text())
STATES = DEFINITION["States"]
UPDATE_PACKAGE = "arn:aws:states:::aws-sdk:sagemaker:updateModelPackage"


def paths_to_fail(start: str, registered: bool = True) -> list[list[str]]:
    """Every path of states from `start` to a Fail or Succeed state (the endpoint's wait loops are cut). Once the
    version is registered, RecordDeploymentFailure's test ($.model_package.ModelPackageArn is present) always
    leads to RejectUndeployedVersion: its Default is only for failures before registration."""
    edges = transitions(DEFINITION)
    if registered:
        assert STATES["RecordDeploymentFailure"]["Choices"][0]["Variable"] == "$.model_package.ModelPackageArn"
        edges["RecordDeploymentFailure"] = {STATES["RecordDeploymentFailure"]["Choices"][0]["Next"]}
    found: list[list[str]] = []

    def walk(name: str, path: list[str]) -> None:
        if name in path:
            return
        path = [*path, name]
        if STATES[name]["Type"] in {"Fail", "Succeed"}:
            found.append(path)
            return
        for target in sorted(edges[name]):
            walk(target, path)

    walk(start, [])
    return found


def rejects(state: str) -> bool:
    definition = STATES[state]
    return (
        definition.get("Resource") == UPDATE_PACKAGE and definition["Parameters"]["ModelApprovalStatus"] == "Rejected"
    )


def test_every_path_after_registration_that_does_not_succeed_marks_the_version_rejected_and_notifies():
    paths = paths_to_fail("IsApprovalRequired")
    failures = [path for path in paths if STATES[path[-1]]["Type"] == "Fail"]
    assert {path[-1] for path in failures} >= {
        "ModelRejected",
        "ApprovalExpired",
        "DeploymentFailed",
        "DeploymentRolledBack",
        "SmokeTestFailed",
    }
    for path in failures:
        if path[-1] == "MonitoringBaselineFailed":  # the version serves (it passed the smoke test): still Approved
            assert not any(rejects(state) for state in path), " -> ".join(path)
            continue
        assert any(rejects(state) for state in path), f"{' -> '.join(path)} ends without marking the version Rejected"
        notify = path[-2]
        assert STATES[notify]["Resource"] == "arn:aws:states:::sns:publish", f"{path[-1]} must be notified first"
        assert STATES[notify]["Parameters"]["TopicArn"] == "${notification_topic_arn}"


def test_only_an_approved_version_reaches_the_endpoint():
    """From registration to the endpoint config: either the version was registered Approved (no approval asked),
    or RecordApproval marked it so after the approver's SendTaskSuccess."""
    for path in paths_to_fail("RegisterModelVersion"):
        if "ChooseEndpointConfig" not in path:
            continue
        before = path[: path.index("ChooseEndpointConfig")]
        if "RequestApproval" in before:
            assert "RecordApproval" in before, " -> ".join(path)
            assert STATES["RecordApproval"]["Parameters"]["ModelApprovalStatus"] == "Approved"
    choice = STATES["IsApprovalRequired"]["Choices"][0]
    assert (choice["StringEquals"], choice["Next"]) == ("PendingManualApproval", "RequestApproval")


def test_the_approval_request_waits_on_the_task_token_and_handles_each_answer():
    request = STATES["RequestApproval"]
    assert request["Resource"].endswith("sns:publish.waitForTaskToken")
    assert request["TimeoutSecondsPath"] == "$.settings.ApprovalTimeoutSeconds"
    assert request["Parameters"]["MessageAttributes"]["TaskToken"]["StringValue.$"] == "$$.Task.Token"
    assert "$$.Task.Token" in request["Parameters"]["Message.$"]
    caught = {error: catch["Next"] for catch in request["Catch"] for error in catch["ErrorEquals"]}
    assert caught[REJECTION_ERROR] == "IsRejectionExplained"  # what --reject sends
    assert caught["States.Timeout"] == "DescribeApprovalExpired"


def test_a_guarded_rollout_keeps_the_fleet_and_watches_the_alarms():
    update = STATES["UpdateEndpointWithGuardrails"]["Parameters"]
    assert update["RetainAllVariantProperties"] is True
    assert update["DeploymentConfig"]["BlueGreenUpdatePolicy.$"] == "$.rollout"
    assert update["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms.$"] == "$.rollback_alarms.Alarms"
    for load, kind, size in (
        ("LoadCanaryRollout", "CANARY", "CanarySize"),
        ("LoadLinearRollout", "LINEAR", "LinearStepSize"),
    ):
        routing = STATES[load]["Parameters"]["TrafficRoutingConfiguration"]
        assert (routing["Type"], routing[size]["Type"]) == (kind, "CAPACITY_PERCENT")
        assert STATES[load]["Next"] == "SplitRollbackAlarmNames"
    assert STATES["ListRollbackAlarms"]["ItemSelector"] == {"AlarmName.$": "$$.Map.Item.Value"}


@pytest.mark.parametrize("update", ["UpdateEndpoint", "UpdateEndpointWithGuardrails"])
def test_every_update_is_followed_until_the_endpoint_runs_the_new_config_and_is_smoke_tested(update):
    assert STATES[update]["Next"] == "WaitForEndpoint"
    ready = STATES["IsEndpointReady"]["Choices"][0]
    conditions = {(c["Variable"], c.get("StringEquals") or c.get("StringEqualsPath")) for c in ready["And"]}
    assert conditions == {
        ("$.endpoint.EndpointStatus", "InService"),
        ("$.endpoint.EndpointConfigName", "$.names.TrainingJobName"),
    }
    assert ready["Next"] == "SmokeTest"
    assert STATES["SmokeTest"]["Next"] == "WriteMonitoringBaseline"


def test_a_failed_smoke_test_puts_the_previous_config_back_before_it_fails():
    assert STATES["SmokeTest"]["Catch"][0]["Next"] == "CanRollBackAfterSmokeTest"
    back = STATES["RollBackAfterSmokeTest"]["Parameters"]
    assert back["EndpointConfigName.$"] == "$.previous_endpoint.EndpointConfigName"
    assert back["RetainAllVariantProperties"] is True
    # A new endpoint has nothing to go back to: the path that creates one forgets any earlier endpoint it saw.
    assert STATES["IsEndpointMissing"]["Choices"][0]["Next"] == "NoPreviousEndpoint"
    assert "EndpointConfigName" not in STATES["NoPreviousEndpoint"]["Result"]
