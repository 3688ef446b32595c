"""Running the inference workflow synchronously (StartSyncExecution), for the functions that answer a caller.

The workflow is EXPRESS: StartSyncExecution runs it to its end and answers the route in `output`, or the failure
in `error`/`cause` (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartSyncExecution.html).
Used by inference_api (the HTTPS entry point) and inference_probe (the synthetic check).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

from shared.errors import WorkflowError

EXECUTION_NAME_MAX = 80
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class WorkflowUnavailable(WorkflowError):
    """StartSyncExecution itself failed (throttled, denied, the state machine missing): nothing ran."""


class AnswerTimedOut(WorkflowError):
    """The workflow did not answer within the caller's time; the execution goes on and publishes its decision."""


@dataclass(frozen=True)
class SyncOutcome:
    """What the workflow answered for one image."""

    status: str  # SUCCEEDED | FAILED | TIMED_OUT
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    execution_arn: str
    seconds: float


@functools.cache
def states_client(read_timeout: int) -> Any:
    """One client per execution environment and timeout; one attempt (a retry would run the workflow again).

    AWS serves StartSyncExecution on `sync-states.<region>.amazonaws.com`: botocore adds the `sync-` host prefix,
    which a non-AWS endpoint (AWS_ENDPOINT_URL pointing at a local AWS) cannot take, so there it is left off.
    """
    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=read_timeout)
    client = boto3.client("stepfunctions", config=config)
    if "amazonaws.com" not in (urlparse(client.meta.endpoint_url).hostname or ""):
        client = boto3.client("stepfunctions", config=config.merge(Config(inject_host_prefix=False)))
    return client


def execution_name(prefix: str, identifier: str) -> str:
    """A valid execution name (at most 80 of [A-Za-z0-9-_]) that names who asked."""
    return _NAME_UNSAFE.sub("-", f"{prefix}-{identifier}")[:EXECUTION_NAME_MAX]


def run_sync(client: Any, state_machine_arn: str, name: str, workflow_input: dict[str, Any]) -> SyncOutcome:
    """Run the workflow for one input and wait for its answer."""
    try:
        answer = client.start_sync_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(workflow_input)
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise WorkflowUnavailable(
            f"StartSyncExecution on {state_machine_arn} failed: {error.get('Code')}: {error.get('Message')}"
        ) from None
    except ReadTimeoutError:
        raise AnswerTimedOut(f"{name}: no answer from the workflow within the client's read timeout") from None
    except BotoCoreError as exc:
        raise WorkflowUnavailable(f"StartSyncExecution on {state_machine_arn} failed: {exc}") from None
    output = json.loads(answer["output"]) if answer.get("output") else None
    return SyncOutcome(
        status=answer["status"],
        output=output,
        error=answer.get("error"),
        cause=answer.get("cause"),
        execution_arn=answer["executionArn"],
        seconds=(answer["stopDate"] - answer["startDate"]).total_seconds(),
    )
