"""Express workflows as AWS runs them, for the embedded Step Functions (moto runs every execution as STANDARD).

What AWS documents, and what this module makes the embedded AWS do:

- StartSyncExecution runs an EXPRESS state machine to its end and answers with the execution's `status`
  (SUCCEEDED | FAILED | TIMED_OUT), `output` (on success), `error`/`cause` (on failure), `input`,
  `inputDetails`/`outputDetails`, `startDate`, `stopDate`, `name`, `executionArn`, `stateMachineArn` and
  `billingDetails` {billedDurationInMilliseconds, billedMemoryUsedInMB}; a failed execution is still HTTP 200.
  It "is not available for STANDARD workflows": StateMachineTypeNotSupported.
  https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartSyncExecution.html
  moto 5.2.5 has the interpreter's synchronous execution classes but no StartSyncExecution action.
- StartExecution on an EXPRESS state machine starts an asynchronous Express execution, whose ARN has the
  resource type `express`: arn:<partition>:states:<region>:<account>:express:<state machine>:<name>:<id>
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html, resource
  type "express"). moto gives it a STANDARD `execution:` ARN and a history.
- Express executions keep no history: DescribeExecution ("Executions of an EXPRESS state machine aren't supported
  ... unless a Map Run dispatched them", API_DescribeExecution.html), GetExecutionHistory, StopExecution and
  DescribeStateMachineForExecution ("This API action is not supported by EXPRESS state machines",
  API_GetExecutionHistory.html, API_StopExecution.html, API_DescribeStateMachineForExecution.html) refuse an
  express ARN, and ListExecutions refuses an EXPRESS state machine (API_ListExecutions.html). The pages name no
  error code for this; the codes and messages below are what AWS answers, as recorded against AWS in
  LocalStack's parity snapshot tests/aws/services/stepfunctions/v2/test_sfn_api_express.snapshot.json:
  InvalidArn "Invalid Arn: 'Resource type not valid in this context: express'" and
  StateMachineTypeNotSupported "This operation is not supported by this type of state machine".
- "To see execution history and results for an Express Workflow, you must configure logging to Amazon CloudWatch
  Logs" (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html): an Express execution writes its
  history events to the state machine's log group at its log level (ALL, ERROR, FATAL:
  https://docs.aws.amazon.com/step-functions/latest/dg/cloudwatch-log-level.html), one JSON log event each with
  `id`, `type`, `details`, `previous_event_id`, `event_timestamp` (epoch milliseconds, as a string),
  `execution_arn` and `redrive_count`, the shape recorded against AWS in LocalStack's
  tests/aws/services/stepfunctions/v2/logs/test_logs.snapshot.json. With `includeExecutionData` false "data is
  excluded" (https://docs.aws.amazon.com/step-functions/latest/apireference/API_LoggingConfiguration.html):
  state inputs and outputs and a task's `parameters` (ours carry the whole image) are left out; names, errors
  and causes stay. The docs do not say how log streams are named; readers filter the group by `execution_arn`.
  Standard executions keep their history here and their log delivery is not emulated.
- An Express execution runs for at most five minutes
  (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-standard-vs-express.html); past that it ends
  TIMED_OUT. Express executions are billed by duration rounded up to the next 100 ms and memory in 64-MB chunks
  (https://aws.amazon.com/step-functions/pricing/); the embedded AWS does not measure a workflow's memory and
  reports the first chunk, 64 MB.
"""

from __future__ import annotations

import copy
import datetime
import json
import math
import threading
import uuid
from typing import Any

MAX_DURATION_S = 300.0  # five minutes: module-level so tests can shorten it
BILLING_INCREMENT_MS = 100
BILLED_MEMORY_MB = 64
EXPRESS_ARN_MESSAGE = "Invalid Arn: 'Resource type not valid in this context: express'"
TYPE_NOT_SUPPORTED_MESSAGE = "This operation is not supported by this type of state machine"
DATA_KEYS = ("input", "inputDetails", "output", "outputDetails", "parameters")
"""History event detail keys that hold execution data (left out of logs without includeExecutionData)."""
_LOGS_LOCK = threading.Lock()  # moto's log streams append without a lock of their own


def is_express_arn(arn: str | None) -> bool:
    """Whether an execution ARN has the resource type `express` (the sixth ARN field)."""
    parts = (arn or "").split(":")
    return len(parts) > 5 and parts[5] == "express"


def express_execution_arn(state_machine_arn: str, name: str) -> str:
    """arn:<partition>:states:<region>:<account>:express:<state machine>:<execution name>:<id>."""
    parts = state_machine_arn.split(":")
    if len(parts) < 7 or parts[5] != "stateMachine":
        raise ValueError(f"not a state machine ARN: {state_machine_arn}")
    return ":".join([*parts[:5], "express", parts[6], name, str(uuid.uuid4())])


def billed_duration_ms(start: datetime.datetime, stop: datetime.datetime) -> int:
    """The duration rounded up to the next 100 ms (at least one increment)."""
    elapsed = (stop - start).total_seconds() * 1000
    return max(BILLING_INCREMENT_MS, math.ceil(elapsed / BILLING_INCREMENT_MS) * BILLING_INCREMENT_MS)


def log_record(history_log: dict[str, Any], include_execution_data: bool) -> dict[str, Any]:
    """One CloudWatch Logs event of an execution, in the shape AWS writes it."""
    details = dict(history_log.get("details") or {})
    if not include_execution_data:
        for key in DATA_KEYS:
            details.pop(key, None)
    stamp = history_log["event_timestamp"]
    if isinstance(stamp, str):  # moto hands over ISO 8601 text
        stamp = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return {
        "id": str(history_log["id"]),
        "type": str(getattr(history_log["type"], "value", history_log["type"])),
        "details": details,
        "previous_event_id": str(history_log["previous_event_id"]),
        "event_timestamp": str(int(stamp.timestamp() * 1000)),
        "execution_arn": history_log["execution_arn"],
        "redrive_count": "0",
    }


def _logging_session(state_machine: Any, execution_arn: str, name: str) -> Any:
    """The execution's CloudWatch Logs writer, or None when the state machine logs nothing."""
    from moto.logs.exceptions import ResourceNotFoundException
    from moto.logs.models import logs_backends
    from moto.stepfunctions.parser.asl.eval.event.logging import (
        CloudWatchLoggingConfiguration,
        CloudWatchLoggingSession,
    )

    raw = dict(getattr(state_machine, "loggingConfiguration", None) or {})
    raw.setdefault("includeExecutionData", False)
    configuration = CloudWatchLoggingConfiguration.from_logging_configuration(state_machine.arn, raw)
    if configuration is None:
        return None

    class ExecutionLogs(CloudWatchLoggingSession):
        """Writes each history event the log level admits as one JSON log event (moto's writer fails on them)."""

        def publish_history_log(self, history_log: Any) -> None:
            record = log_record(history_log, self.configuration.include_execution_data)
            backend = logs_backends[self.configuration.log_account_id][self.configuration.log_region]
            group = self.configuration.log_group_name
            stream = f"states/{state_machine.name}/{datetime.date.today():%Y-%m-%d}/{name}"
            event = {"timestamp": int(record["event_timestamp"]), "message": json.dumps(record, default=str)}
            with _LOGS_LOCK:
                try:
                    backend.ensure_log_stream(group, stream)
                    backend.put_log_events(group, stream, [event])
                except ResourceNotFoundException:
                    return  # delivery is best effort: without its log group an execution's events are lost

    return ExecutionLogs(execution_arn=execution_arn, configuration=configuration)


def start_express(backend: Any, state_machine: Any, name: str | None, input_data: str, trace_header: Any, sync: bool):
    """Run an Express execution: to its end (sync) or in the background; returns the execution object."""
    from moto.stepfunctions.exceptions import InvalidExecutionInput
    from moto.stepfunctions.parser.api import ExecutionStatus, StateMachineType
    from moto.stepfunctions.parser.backend.execution import Execution, SyncExecution

    try:
        json.loads(input_data)
    except ValueError as error:
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{error}'") from None
    name = name or str(uuid.uuid4())
    arn = express_execution_arn(state_machine.arn, name)
    # A snapshot of the definition for this execution, as moto takes one (without the live executions).
    clone = copy.deepcopy(
        state_machine, {id(state_machine.executions): [], id(state_machine.backend): state_machine.backend}
    )
    clone.sm_type = StateMachineType.EXPRESS
    execution = (SyncExecution if sync else Execution)(
        name=name,
        sm_type=StateMachineType.EXPRESS,
        role_arn=clone.roleArn,
        exec_arn=arn,
        account_id=backend.account_id,
        region_name=backend.region_name,
        state_machine=clone,
        start_date=datetime.datetime.now(tz=datetime.UTC),
        cloud_watch_logging_session=_logging_session(state_machine, arn, name),
        input_data=input_data,
        trace_header=trace_header,
        activity_store={},
    )
    execution.exec_worker = execution._get_start_execution_worker()
    execution.exec_status = ExecutionStatus.RUNNING
    worker = threading.Thread(target=execution.exec_worker._execution_logic, name=f"express-{name}", daemon=True)
    worker.start()

    def time_out() -> None:
        env = execution.exec_worker.env
        if env is not None and env.is_running():
            env.set_timed_out()

    if not sync:
        watchdog = threading.Timer(MAX_DURATION_S, time_out)
        watchdog.daemon = True
        watchdog.start()
        return execution
    worker.join(MAX_DURATION_S)
    if worker.is_alive():
        time_out()
        execution.exec_status, execution.sync_execution_status = ExecutionStatus.TIMED_OUT, "TIMED_OUT"
        execution.stop_date = datetime.datetime.now(tz=datetime.UTC)
    return execution


def sync_response(execution: Any) -> dict[str, Any]:
    """StartSyncExecution's answer, with the billing details AWS adds."""
    response = dict(execution.to_start_sync_execution_output())
    response["status"] = str(getattr(response["status"], "value", response["status"]))
    if not response.get("traceHeader"):
        response.pop("traceHeader", None)
    response["billingDetails"] = {
        "billedMemoryUsedInMB": BILLED_MEMORY_MB,
        "billedDurationInMilliseconds": billed_duration_ms(execution.start_date, execution.stop_date),
    }
    return response


def install(ctx: Any) -> None:
    from moto.core.exceptions import AWSError
    from moto.core.responses import ActionResult
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    class InvalidArn(AWSError):
        TYPE = "InvalidArn"

    class StateMachineTypeNotSupported(AWSError):
        TYPE = "StateMachineTypeNotSupported"

    if getattr(StepFunctionResponse, "_local_aws_express", False):
        return
    StepFunctionResponse._local_aws_express = True

    def start_sync_execution(self: Any) -> ActionResult:
        machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
        if machine.type != "EXPRESS":
            raise StateMachineTypeNotSupported(TYPE_NOT_SUPPORTED_MESSAGE)
        execution = start_express(
            self.stepfunction_backend,
            machine,
            self._get_param("name"),
            self._get_param("input", if_none="{}"),
            self._get_param("traceHeader"),
            sync=True,
        )
        return ActionResult(sync_response(execution))

    StepFunctionResponse.start_sync_execution = start_sync_execution

    moto_start_execution = StepFunctionsParserBackend.start_execution

    def start_execution(self: Any, state_machine_arn: str, name: str | None = None, *args: Any, **kwargs: Any):
        machine = self.describe_state_machine(state_machine_arn)
        if machine.type != "EXPRESS":
            return moto_start_execution(self, state_machine_arn, name, *args, **kwargs)
        execution_input = kwargs.get("execution_input", args[0] if args else None)
        trace_header = kwargs.get("trace_header", args[1] if len(args) > 1 else None)
        return start_express(self, machine, name, execution_input or "{}", trace_header, sync=False)

    StepFunctionsParserBackend.start_execution = start_execution

    def refuse_express_arn(method_name: str) -> None:
        moto_method = getattr(StepFunctionResponse, method_name)

        def method(self: Any) -> ActionResult:
            if is_express_arn(self._get_param("executionArn")):
                raise InvalidArn(EXPRESS_ARN_MESSAGE)
            return moto_method(self)

        setattr(StepFunctionResponse, method_name, method)

    for method_name in (
        "describe_execution",
        "get_execution_history",
        "stop_execution",
        "describe_state_machine_for_execution",
    ):
        refuse_express_arn(method_name)

    moto_list_executions = StepFunctionResponse.list_executions

    def list_executions(self: Any) -> ActionResult:
        machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
        if machine.type == "EXPRESS":
            raise StateMachineTypeNotSupported(TYPE_NOT_SUPPORTED_MESSAGE)
        return moto_list_executions(self)

    StepFunctionResponse.list_executions = list_executions
