"""Model versions after training: answer the pipeline's approval request, or roll the endpoint back.

    python -m training.launch --approve MODEL_PACKAGE_ARN|TASK_TOKEN [--reason TEXT] [--region R]
    python -m training.launch --reject MODEL_PACKAGE_ARN|TASK_TOKEN --reason TEXT [--region R]
    python -m training.launch --rollback --state-machine-arn ARN [--no-wait] [--no-baseline]

Approve/reject: with `require_approval`, the pipeline registers each model version as PendingManualApproval and
waits on a task token (statemachine.asl.json, RequestApproval). Given the version's ARN, the token is read from
the history of the execution that registered it (the version's PipelineExecutionArn metadata); a token can be
given directly. Approving sends SendTaskSuccess (the pipeline then marks the version Approved and deploys it),
rejecting SendTaskFailure with error `ModelRejected` and the reason as cause (the pipeline marks it Rejected,
notifies and ends as ModelRejected). Both record who answered (STS GetCallerIdentity).

Rollback: redeploys the newest Approved version older than the one the endpoint serves, without retraining: a
new endpoint config copied from the serving one (Terraform's variant, data capture, keys) with that version's
model, then UpdateEndpoint (RetainAllVariantProperties, so the autoscaled fleet stays). The version rolled back
from is marked Rejected, so a second rollback goes one further back. The monitoring baseline is rewritten for
the version now serving (the pipeline's write_baseline function, with the version's test split), unless
--no-baseline. The endpoint, the group and the baseline writer are read from the pipeline's own definition.

Exit status: 0 done; 2 refused, nothing changed (NoPreviousApprovedModel, NotWaitingForApproval,
EndpointNotInService, bad arguments); 1 the rollback was started but did not take (RollbackFailed) or AWS failed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

import boto3
from botocore.exceptions import BotoCoreError, ClientError

REJECTION_ERROR = "ModelRejected"
"""The error SendTaskFailure carries for a rejected version; statemachine.asl.json's RequestApproval catches it."""
APPROVAL_STATE = "RequestApproval"
EXIT_DONE, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2
PACKAGE_ARN = re.compile(r"arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):[0-9]{12}:model-package/[a-z0-9-]+/[0-9]+")
STATE_MACHINE_ARN = re.compile(r"arn:aws[a-z-]*:states:(?P<region>[a-z0-9-]+):[0-9]{12}:stateMachine:[^\s:]{1,80}")
ENDPOINT_CONFIG_NAME_LIMIT = 63


class DeploymentError(Exception):
    """An approval or rollback that cannot be done as asked (the message says why and what is unchanged)."""


class NotWaitingForApproval(DeploymentError):
    """No pipeline execution waits for an answer about this version (answered already, expired, or not asked)."""


class NoPreviousApprovedModel(DeploymentError):
    """The registry holds no Approved version older than the one serving: there is nothing to roll back to."""


class EndpointNotInService(DeploymentError):
    """The endpoint is missing or busy (another deployment, a deletion): a rollback now would be refused."""


class RollbackFailed(DeploymentError):
    """UpdateEndpoint was accepted but the endpoint did not come into service on the rollback's config."""


class PipelineSettingsMissing(DeploymentError):
    """The state machine's definition lacks the settings a rollback reads (not this stack's training pipeline)."""


@dataclass(frozen=True)
class PipelineSettings:
    """What the training pipeline deploys to, as its definition says (LoadSettings, WriteMonitoringBaseline)."""

    endpoint_name: str
    model_package_group: str
    baseline_s3_uri: str | None
    baseline_function: str | None


@dataclass(frozen=True)
class Version:
    """One model package of the group, with what a rollback needs from it."""

    arn: str
    number: int
    status: str
    model_data_url: str
    container: dict[str, Any]
    metadata: dict[str, str]


@dataclass
class RollbackResult:
    endpoint_name: str
    from_version: Version
    to_version: Version
    endpoint_config_name: str
    baseline: str  # "written", "skipped (...)" or "failed: ..."

    def summary(self) -> str:
        return (
            f"rolled back endpoint {self.endpoint_name} from model version {self.from_version.number} "
            f"({self.from_version.metadata.get('ModelVersion', '?')}) to version {self.to_version.number} "
            f"({self.to_version.metadata.get('ModelVersion', '?')}), endpoint config {self.endpoint_config_name}; "
            f"baseline {self.baseline}"
        )


# -- approval ------------------------------------------------------------------------------------------------------
def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def task_token_for(sfn: Any, sagemaker: Any, package_arn: str) -> str:
    """The task token the execution that registered this version waits on (read from its history)."""
    try:
        package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    except ClientError as error:
        raise NotWaitingForApproval(f"model version {package_arn} cannot be read: {error}") from None
    status = package.get("ModelApprovalStatus")
    if status != "PendingManualApproval":
        raise NotWaitingForApproval(f"model version {package_arn} is {status}, not waiting for approval")
    execution_arn = (package.get("CustomerMetadataProperties") or {}).get("PipelineExecutionArn")
    if not execution_arn:
        raise NotWaitingForApproval(f"model version {package_arn} does not name the execution that registered it")
    execution = sfn.describe_execution(executionArn=execution_arn)
    if execution["status"] != "RUNNING":
        raise NotWaitingForApproval(
            f"execution {execution_arn} that registered {package_arn} is {execution['status']}, no longer waiting"
        )
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn, reverseOrder=True)
    for page in pages:
        for event in page["events"]:
            details = event.get("taskScheduledEventDetails") or {}
            if details.get("resource", "").endswith(".waitForTaskToken"):
                parameters = json.loads(details.get("parameters") or "{}")
                token = ((parameters.get("MessageAttributes") or {}).get("TaskToken") or {}).get("StringValue")
                if token:
                    return str(token)
    raise NotWaitingForApproval(f"execution {execution_arn} has not asked for approval (no {APPROVAL_STATE} task)")


def answer(
    sfn: Any, sagemaker: Any, sts: Any, target: str, approve: bool, reason: str | None, progress: Callable[[str], None]
) -> None:
    """Approve or reject the version (or the waiting task token) `target`."""
    token = task_token_for(sfn, sagemaker, target) if PACKAGE_ARN.fullmatch(target) else target
    who = _caller(sts)
    try:
        if approve:
            output = {"decision": "Approved", "approved_by": who, "reason": reason or "approved"}
            sfn.send_task_success(taskToken=token, output=json.dumps(output))
        else:
            sfn.send_task_failure(taskToken=token, error=REJECTION_ERROR, cause=f"{reason} (rejected by {who})")
    except ClientError as error:
        if _code(error) in {"InvalidToken", "TaskDoesNotExist", "TaskTimedOut"}:
            raise NotWaitingForApproval(f"the pipeline no longer waits for this answer ({_code(error)})") from None
        raise
    progress(f"{'approved' if approve else 'rejected'} {target[:120]} as {who}")


def _caller(sts: Any) -> str:
    try:
        return str(sts.get_caller_identity()["Arn"])
    except (ClientError, BotoCoreError, KeyError):
        return "unknown caller"


# -- rollback ------------------------------------------------------------------------------------------------------
def pipeline_settings(sfn: Any, state_machine_arn: str) -> PipelineSettings:
    """The endpoint and registry the training pipeline deploys to, read from its rendered definition."""
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=state_machine_arn)["definition"])
    states = definition.get("States", {})
    settings = (states.get("LoadSettings") or {}).get("Parameters") or {}
    if not settings.get("EndpointName") or not settings.get("ModelPackageGroupName"):
        raise PipelineSettingsMissing(
            f"{state_machine_arn} does not set EndpointName and ModelPackageGroupName in LoadSettings: "
            "is it this stack's training pipeline, deployed with the model registry?"
        )
    baseline = (states.get("WriteMonitoringBaseline") or {}).get("Parameters") or {}
    return PipelineSettings(
        endpoint_name=settings["EndpointName"],
        model_package_group=settings["ModelPackageGroupName"],
        baseline_s3_uri=settings.get("BaselineS3Uri"),
        baseline_function=baseline.get("FunctionName"),
    )


def versions(sagemaker: Any, group: str) -> list[Version]:
    """Every version of the group, newest first."""
    found = []
    pages = sagemaker.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending"
    )
    for page in pages:
        for summary in page["ModelPackageSummaryList"]:
            package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            containers = (package.get("InferenceSpecification") or {}).get("Containers") or [{}]
            found.append(
                Version(
                    arn=package["ModelPackageArn"],
                    number=int(package.get("ModelPackageVersion") or 0),
                    status=package.get("ModelApprovalStatus", ""),
                    model_data_url=containers[0].get("ModelDataUrl", ""),
                    container=containers[0],
                    metadata=dict(package.get("CustomerMetadataProperties") or {}),
                )
            )
    return sorted(found, key=lambda v: v.number, reverse=True)


def choose(history: list[Version], serving_model_data: str) -> tuple[Version, Version]:
    """(the version serving, the one to roll back to): the newest Approved version older than the serving one,
    with another artifact."""
    current = next((v for v in history if v.model_data_url == serving_model_data), None)
    if current is None:
        raise NoPreviousApprovedModel(
            f"the endpoint serves {serving_model_data}, which no version of the registry holds; nothing was changed"
        )
    previous = next(
        (
            v
            for v in history
            if v.number < current.number and v.status == "Approved" and v.model_data_url != current.model_data_url
        ),
        None,
    )
    if previous is None:
        raise NoPreviousApprovedModel(
            f"no Approved model version is older than version {current.number} ({current.arn}), which the endpoint "
            "serves; nothing was changed"
        )
    return current, previous


def _create_input(sagemaker: Any, operation: str, described: dict[str, Any]) -> dict[str, Any]:
    """The fields of a Describe* answer that the Create* request takes (botocore's service model says which)."""
    members = set(sagemaker.meta.service_model.operation_model(operation).input_shape.members)
    return {key: value for key, value in described.items() if key in members}


def rollback(
    sagemaker: Any,
    lambdas: Any,
    sts: Any,
    settings: PipelineSettings,
    progress: Callable[[str], None] = print,
    wait: bool = True,
    baseline: bool = True,
    poll_seconds: float = 10.0,
    timeout_seconds: float = 3600.0,
) -> RollbackResult:
    """Redeploy the previous Approved version to the pipeline's endpoint (see the module docstring)."""
    name = settings.endpoint_name
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as error:
        raise EndpointNotInService(f"endpoint {name} cannot be read: {error}") from None
    if endpoint["EndpointStatus"] != "InService":
        raise EndpointNotInService(f"endpoint {name} is {endpoint['EndpointStatus']}; roll back once it is InService")
    serving_config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    serving_model = sagemaker.describe_model(ModelName=serving_config["ProductionVariants"][0]["ModelName"])
    serving_data = (serving_model.get("PrimaryContainer") or {}).get("ModelDataUrl", "")
    current, target = choose(versions(sagemaker, settings.model_package_group), serving_data)
    progress(f"endpoint {name} serves version {current.number}; rolling back to version {target.number}")

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    suffix = f"-rollback-{stamp}"
    model_name = target.metadata.get("ModelName", "")
    try:
        sagemaker.describe_model(ModelName=model_name)
    except ClientError:
        base = model_name or serving_model["ModelName"]
        model_name = base[: ENDPOINT_CONFIG_NAME_LIMIT - len(suffix)] + suffix
        container = {k: v for k, v in target.container.items() if k in {"Image", "ModelDataUrl", "Environment"}}
        sagemaker.create_model(
            ModelName=model_name, ExecutionRoleArn=serving_model["ExecutionRoleArn"], PrimaryContainer=container
        )
        progress(f"model {model_name} created from version {target.number}")
    config_name = (target.metadata.get("ModelName") or model_name)[: ENDPOINT_CONFIG_NAME_LIMIT - len(suffix)] + suffix
    config = _create_input(sagemaker, "CreateEndpointConfig", serving_config)
    config["EndpointConfigName"] = config_name
    config["ProductionVariants"] = [{**variant, "ModelName": model_name} for variant in config["ProductionVariants"]]
    config.pop("Tags", None)
    sagemaker.create_endpoint_config(**config)
    sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=config_name, RetainAllVariantProperties=True)
    progress(f"UpdateEndpoint {name} -> {config_name}")
    result = RollbackResult(name, current, target, config_name, "not written (--no-wait)")
    if not wait:
        return result

    deadline = time.monotonic() + timeout_seconds
    while (described := sagemaker.describe_endpoint(EndpointName=name))["EndpointStatus"] == "Updating":
        if time.monotonic() > deadline:
            raise RollbackFailed(f"endpoint {name} still Updating after {timeout_seconds:.0f}s (it carries on)")
        time.sleep(poll_seconds)
    if described["EndpointStatus"] != "InService" or described["EndpointConfigName"] != config_name:
        raise RollbackFailed(
            f"endpoint {name} is {described['EndpointStatus']} on {described.get('EndpointConfigName')}, not on "
            f"{config_name}: {described.get('FailureReason', 'SageMaker gave no reason')}"
        )
    sagemaker.update_model_package(
        ModelPackageArn=current.arn,
        ModelApprovalStatus="Rejected",
        ApprovalDescription=f"Rolled back to version {target.number} by {_caller(sts)} at {stamp} UTC",
    )
    progress(f"version {current.number} marked Rejected")
    result.baseline = _rewrite_baseline(lambdas, settings, target, progress) if baseline else "skipped (--no-baseline)"
    return result


def _rewrite_baseline(
    lambdas: Any, settings: PipelineSettings, target: Version, progress: Callable[[str], None]
) -> str:
    """Invoke the pipeline's baseline writer for the version now serving, as WriteMonitoringBaseline does."""
    test_uri = target.metadata.get("BaselineTestS3Uri")
    if not (settings.baseline_function and settings.baseline_s3_uri and test_uri):
        return "skipped (the pipeline or the version names no baseline writer, location or test split)"
    payload = {
        "endpoint_name": settings.endpoint_name,
        "test_s3_uri": test_uri,
        "baseline_s3_prefix": settings.baseline_s3_uri,
        "training_job_name": target.metadata.get("ModelVersion", ""),
    }
    progress(f"rewriting the monitoring baseline with {settings.baseline_function}")
    try:
        response = lambdas.invoke(FunctionName=settings.baseline_function, Payload=json.dumps(payload).encode())
    except (ClientError, BotoCoreError) as error:
        return f"failed: {error}"
    if response.get("FunctionError"):
        return f"failed: {response['Payload'].read().decode()[:300]}"
    return "written"


# -- the CLI -------------------------------------------------------------------------------------------------------
COMMANDS = ("--rollback", "--approve", "--reject")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise DeploymentError(f"{message} (see --help)")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="python -m training.launch", description=__doc__.split("\n\n")[0])
    command = parser.add_mutually_exclusive_group(required=True)
    command.add_argument("--rollback", action="store_true", help="redeploy the previous Approved model version")
    command.add_argument("--approve", metavar="MODEL_PACKAGE_ARN|TASK_TOKEN", help="approve a waiting version")
    command.add_argument("--reject", metavar="MODEL_PACKAGE_ARN|TASK_TOKEN", help="reject a waiting version")
    parser.add_argument("--state-machine-arn", help="the training pipeline (--rollback)")
    parser.add_argument("--reason", help="why (recorded with the decision; required with --reject)")
    parser.add_argument("--region", help="AWS region (default: the ARN's, else the AWS configuration's)")
    parser.add_argument("--no-wait", action="store_true", help="start the rollback's UpdateEndpoint and return")
    parser.add_argument("--no-baseline", action="store_true", help="do not rewrite the monitoring baseline")
    parser.add_argument("--poll-seconds", type=float, default=10.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rollback and not (args.state_machine_arn and STATE_MACHINE_ARN.fullmatch(args.state_machine_arn)):
        parser.error("--rollback needs --state-machine-arn arn:aws:states:<region>:<account>:stateMachine:<name>")
    if args.reject and not (args.reason or "").strip():
        parser.error("--reject needs --reason: the pipeline records and notifies why")
    target = args.approve or args.reject
    if target is not None and not target.strip():
        parser.error("--approve/--reject needs a model package ARN or a task token")
    arn = args.state_machine_arn if args.rollback else target
    match = (STATE_MACHINE_ARN if args.rollback else PACKAGE_ARN).fullmatch(arn or "")
    args.region = args.region or (match.group("region") if match else None)
    return args


def main(argv: list[str], client: Callable[..., Any] | None = None) -> int:
    """Run one command; print one line of outcome (stderr: `error: <Name>: <reason>` and a non-zero status)."""
    try:
        args = parse_args(argv)
        make = client or (lambda service: boto3.client(service, region_name=args.region))
        if args.rollback:
            settings = pipeline_settings(make("stepfunctions"), args.state_machine_arn)
            result = rollback(
                make("sagemaker"),
                make("lambda"),
                make("sts"),
                settings,
                progress=lambda line: print(line, flush=True),
                wait=not args.no_wait,
                baseline=not args.no_baseline,
                poll_seconds=args.poll_seconds,
            )
            print(result.summary())
        else:
            answer(
                make("stepfunctions"),
                make("sagemaker"),
                make("sts"),
                args.approve or args.reject,
                approve=bool(args.approve),
                reason=args.reason,
                progress=lambda line: print(line, flush=True),
            )
    except (RollbackFailed, ClientError, BotoCoreError) as error:
        named = f"{type(error).__name__}: " if isinstance(error, DeploymentError) else ""
        print(f"error: {named}{error}", file=sys.stderr)
        return EXIT_FAILED
    except DeploymentError as error:
        named = "" if type(error) is DeploymentError else f"{type(error).__name__}: "
        print(f"error: {named}{error}", file=sys.stderr)
        return EXIT_REFUSED
    return EXIT_DONE
