"""The Step Functions ↔ SageMaker optimised integration for moto's state machine engine.

moto's engine lists SageMaker as unsupported: it forwards request-response calls blindly and cannot run
`.sync`. This module adds one task class for `arn:aws:states:::sagemaker:<action>[.sync]` and plugs it into the
engine's task factory:

* request-response actions (createModel, createEndpointConfig, createEndpoint, updateEndpoint, ...) call the
  SageMaker API and return its response, as AWS does;
* `createTrainingJob.sync` creates the job, polls DescribeTrainingJob until it ends, and returns that
  description; a Failed or Stopped job fails the task with `SageMaker.AmazonSageMakerException` and the job's
  FailureReason as the cause;
* a stopped execution stops its `.sync` training job (StopTrainingJob with the state's role), which otherwise
  would run on, and upload, with nobody waiting for it;
* a SageMaker API error becomes `SageMaker.<ModeledError>Exception` (ResourceLimitExceeded, ResourceInUse,
  ResourceNotFound, Conflict) or `SageMaker.AmazonSageMakerException`, with AWS's cause format.

It also names SageMaker errors of the generic `aws-sdk:sagemaker:*` integration `SageMaker.*` as AWS does
(moto would say `sagemaker.*`).

Two things Step Functions does with the state machine's role besides the call itself, which the role must allow:

* every resource an optimised SageMaker task creates gets the tag MANAGED_BY_AWS = STARTED_BY_STEP_FUNCTIONS, so
  the Create* call carries Tags and needs sagemaker:AddTags on the new resource. AWS's Step Functions pages do
  not document the tag; it is what AWS does, as users of CreateTrainingJob and CreateTransformJob tasks found
  when their runs failed with AccessDenied on sagemaker:AddTags (aws/aws-cdk issues 26012 and 32294), and the
  Service Authorization Reference lists sagemaker:AddTags as a dependent action of CreateTrainingJob, CreateModel,
  CreateEndpointConfig and CreateEndpoint;
* a `.sync` training job is followed through the managed EventBridge rule
  StepFunctionsGetEventsForSageMakerTrainingJobsRule: events:PutTargets, events:PutRule and events:DescribeRule
  on it (https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html). The docs do not say how a
  run fails when they are refused; here the task fails with States.TaskFailed and the access-denied message.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Final

from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import StateCredentials
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk,
    state_task_service_factory,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
    ResourceRuntimePart,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

LOG = logging.getLogger(__name__)

SERVICE_ERROR_PREFIX: Final = "SageMaker"
GENERIC_ERROR: Final = "SageMaker.AmazonSageMakerException"
MODELED_ERRORS: Final = frozenset(
    {"ResourceLimitExceeded", "ResourceInUse", "ResourceNotFound", "ConflictException", "ResourceAlreadyExists"}
)
# The optimised integration's actions (https://docs.aws.amazon.com/step-functions/latest/dg/connect-sagemaker.html).
REQUEST_RESPONSE_ACTIONS: Final = frozenset(
    {
        "createendpoint",
        "createendpointconfig",
        "createhyperparametertuningjob",
        "createlabelingjob",
        "createmodel",
        "createprocessingjob",
        "createtrainingjob",
        "createtransformjob",
        "stoplabelingjob",
        "stopprocessingjob",
        "stoptrainingjob",
        "stoptransformjob",
        "stophyperparametertuningjob",
        "updateendpoint",
    }
)
TRAINING_TERMINAL_FAILURES: Final = frozenset({"Failed", "Stopped"})
MANAGED_TAG: Final = {"Key": "MANAGED_BY_AWS", "Value": "STARTED_BY_STEP_FUNCTIONS"}
TAGGED_ACTIONS: Final = frozenset(action for action in REQUEST_RESPONSE_ACTIONS if action.startswith("create"))
SYNC_RULE: Final = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"


class _Active:
    """The IAM enforcer of the embedded AWS installed last (None: calls are not checked)."""

    iam: Any = None


class StateTaskServiceSageMaker(StateTaskServiceCallback):
    """`arn:aws:states:::sagemaker:<action>[.sync]`: request-response for every action, .sync for training."""

    def __init__(self) -> None:
        # WaitForTaskToken is listed only because the engine's sync path expects a callback endpoint to exist;
        # SageMaker tasks never hand out a token.
        super().__init__(supported_integration_patterns={ResourceCondition.Sync, ResourceCondition.WaitForTaskToken})

    def _get_supported_parameters(self) -> set[str] | None:
        if self.resource.api_action.lower() not in REQUEST_RESPONSE_ACTIONS:
            return None
        return set(_request_members(self.resource.api_action))

    def _client(self, resource_runtime_part: ResourceRuntimePart, state_credentials: StateCredentials) -> Any:
        return boto_client_for(
            service="sagemaker", region=resource_runtime_part.region, state_credentials=state_credentials
        )

    def _failure(self, env: Environment, error: str, cause: str) -> FailureEvent:
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=error,
                    cause=cause,
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                )
            ),
        )

    def _from_error(self, env: Environment, ex: Exception) -> FailureEvent:
        if isinstance(ex, ClientError):
            return self._failure(env, *sagemaker_error(ex))
        return super()._from_error(env=env, ex=ex)

    def _eval_service_task(
        self,
        env: Environment,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict,
        state_credentials: StateCredentials,
    ) -> None:
        client = self._client(resource_runtime_part, state_credentials)
        parameters = dict(normalised_parameters)
        action = self.resource.api_action.lower()
        if action in TAGGED_ACTIONS:
            tags = [t for t in parameters.get("Tags") or [] if t.get("Key") != MANAGED_TAG["Key"]]
            parameters["Tags"] = [*tags, dict(MANAGED_TAG)]
        if action == "createtrainingjob" and self.resource.condition == ResourceCondition.Sync:
            self._authorize_sync_rule(env, resource_runtime_part, state_credentials)
        response = getattr(client, self._get_boto_service_action())(**parameters)
        response.pop("ResponseMetadata", None)
        env.stack.append(response)

    def _authorize_sync_rule(
        self, env: Environment, resource_runtime_part: ResourceRuntimePart, state_credentials: StateCredentials
    ) -> None:
        iam = _Active.iam
        if iam is None or not getattr(state_credentials, "role_arn", None):
            return
        from local_aws.iam import AccessDenied
        from local_aws.iam_requests import Need

        rule = f"arn:aws:events:{resource_runtime_part.region}:{iam.account}:rule/{SYNC_RULE}"
        try:
            session = iam.cached_session(state_credentials.role_arn, "states.amazonaws.com", "StepFunctions")
            iam.authorize(session, [Need(f"events:{a}", rule) for a in ("PutTargets", "PutRule", "DescribeRule")])
        except AccessDenied as denied:
            raise FailureEventException(self._failure(env, "States.TaskFailed", str(denied))) from None

    def _build_sync_resolver(
        self,
        env: Environment,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict,
        state_credentials: StateCredentials,
    ) -> Callable[[], Any] | None:
        if self.resource.api_action.lower() != "createtrainingjob":
            return super()._build_sync_resolver(env, resource_runtime_part, normalised_parameters, state_credentials)
        env.stack.pop()  # CreateTrainingJob's own response; .sync returns the final description instead
        job_name = normalised_parameters["TrainingJobName"]
        client = self._client(resource_runtime_part, state_credentials)

        def resolve() -> dict[str, Any] | None:
            job = client.describe_training_job(TrainingJobName=job_name)
            job.pop("ResponseMetadata", None)
            status = job.get("TrainingJobStatus")
            if status == "Completed":
                return job
            if status in TRAINING_TERMINAL_FAILURES:
                reason = job.get("FailureReason") or f"Training job {job_name} ended with status {status}"
                raise FailureEventException(self._failure(env, GENERIC_ERROR, reason))
            return None

        def stop() -> None:
            try:
                client.stop_training_job(TrainingJobName=job_name)
            except ClientError as error:  # it ended on its own meanwhile, or the role may not stop it
                LOG.info("stopping training job %s after its execution stopped: %s", job_name, error)

        resolve.stop = stop  # type: ignore[attr-defined]
        return resolve

    def _eval_sync(
        self,
        env: Environment,
        sync_resolver: Callable[[], Any] | None,
        timeout_seconds: int | None,
        callback_endpoint: Any,
        heartbeat_endpoint: Any,
    ) -> Any:
        # A `.sync` training job outlives a stopped execution unless Step Functions stops it: the policy Step
        # Functions generates for createTrainingJob.sync grants sagemaker:StopTrainingJob for that
        # (https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html). The pages do not say when
        # the stop is sent; here it is sent once the execution is no longer running (StopExecution), with the
        # state's role.
        outcome = super()._eval_sync(env, sync_resolver, timeout_seconds, callback_endpoint, heartbeat_endpoint)
        stop = getattr(sync_resolver, "stop", None)
        if stop is not None and not env.is_running():
            stop()
        return outcome


@functools.cache
def _request_members(action: str) -> frozenset[str]:
    """The API's own request fields (from botocore's service model), so no parameter list is kept by hand."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    operation = model.operation_model(action[0].upper() + action[1:])
    return frozenset(operation.input_shape.members) if operation.input_shape else frozenset()


def sagemaker_error(error: ClientError) -> tuple[str, str]:
    """(error name, cause) as Step Functions reports a SageMaker API failure."""
    details = error.response.get("Error", {})
    code = str(details.get("Code", "")) or "Unknown"
    metadata = error.response.get("ResponseMetadata", {})
    if code in MODELED_ERRORS:
        name = f"{SERVICE_ERROR_PREFIX}.{code if code.endswith('Exception') else code + 'Exception'}"
    else:
        name = GENERIC_ERROR
    cause = (
        f"{details.get('Message', '')} (Service: AmazonSageMaker; Status Code: "
        f"{metadata.get('HTTPStatusCode', 400)}; Error Code: {code}; Request ID: "
        f"{metadata.get('RequestId', 'unknown')}; Proxy: null)"
    )
    return name, cause


def install(ctx: Any = None) -> None:
    """Route `arn:aws:states:::sagemaker:*` tasks to StateTaskServiceSageMaker (idempotent)."""
    _Active.iam = getattr(ctx, "iam", None)
    original = state_task_factory.state_task_service_for
    if getattr(original, "_local_aws", False):
        return

    def state_task_service_for(service_name: str) -> StateTaskService:
        if service_name == "sagemaker":
            return StateTaskServiceSageMaker()
        return original(service_name)

    state_task_service_for._local_aws = True  # type: ignore[attr-defined]
    # state_task_factory imported the function by name, so both references are replaced.
    state_task_factory.state_task_service_for = state_task_service_for
    state_task_service_factory.state_task_service_for = state_task_service_for
    state_task_service_aws_sdk._SERVICE_ERROR_NAMES.setdefault("sagemaker", SERVICE_ERROR_PREFIX)
