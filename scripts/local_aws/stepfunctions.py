"""Step Functions gaps in moto that our stack meets: unnamed executions, definition validation, versions.

- StartExecution without a name gets a fresh UUID, as on AWS (moto names every such execution "None", so the
  second one collides).
- ValidateStateMachineDefinition (called by the AWS provider at plan time) parses the definition with moto's
  own ASL parser and answers OK or FAIL with a diagnostic.
- ListStateMachineVersions (read by the provider after every create/update) lists no versions.
- CreateStateMachine / UpdateStateMachine refuse a role whose trust policy does not admit states.amazonaws.com,
  and every task calls its service with the state's role (checked by local_aws.iam).
- SendTaskFailure passes its cause to the waiting task, as AWS does (moto's response handler drops it, so a task
  token answered with an error and a cause failed with no cause):
  https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskFailure.html.
- States.Format reads backslash escapes and fills each `{}`, as AWS does (moto passed the template, escapes and
  all, to Python's str.format).
- StopExecution of an execution that has only just started waits for moto's worker to set it up (moto fails
  with an internal error when it is stopped before then; AWS stops it), and the execution reads ABORTED as
  soon as StopExecution returns, as on AWS (moto's worker thread marks it a moment later, so a
  DescribeExecution right after the stop could still read RUNNING).

And two costs moto pays per execution and per task, which made the embedded AWS CPU-bound under load (measured
with py-spy while 100 inference executions ran: half of the server's time went to parsing the same definition
again, a fifth to building a new boto3 client for each task):

- the ANTLR parse tree of a definition is kept (it is only read afterwards); each execution still gets its own
  evaluation components, built from that tree, so no state is shared between executions;
- the task integrations' boto3 clients (one per region, service and role: each task calls with the credentials
  of its state's role, which local_aws.iam checks) are reused; boto3 clients are thread-safe;
- JSONPath expressions (`$.s3_key`, ...) are compiled once: jsonpath_ng builds a new parser per call otherwise.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any

STATES_SERVICE = "states.amazonaws.com"
WORKER_SETUP_WAIT_S = 10.0  # how long StopExecution waits for a just-started execution to be set up
PARSE_TREES_KEPT = 64  # distinct definitions; a test session creates a few dozen state machines
JSON_PATHS_KEPT = 4096


def validate_definition(definition: str) -> dict[str, Any]:
    """The ValidateStateMachineDefinition response for one definition."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    try:
        json.loads(definition)
        AmazonStateLanguageParser.parse(definition)
    except Exception as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        return {
            "result": "FAIL",
            "diagnostics": [{"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": message[:1000]}],
            "truncated": False,
        }
    return {"result": "OK", "diagnostics": [], "truncated": False}


def _keep_parse_trees() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    if getattr(AmazonStateLanguageParser.parse, "_local_aws", False):
        return
    moto_parse = AmazonStateLanguageParser.parse
    trees: OrderedDict[str, Any] = OrderedDict()
    lock = threading.Lock()

    def parse(definition: str) -> tuple[Any, Any]:
        with lock:
            tree = trees.get(definition)
            if tree is not None:
                trees.move_to_end(definition)
        if tree is None:
            program, tree = moto_parse(definition)  # raises on syntax errors, which are never kept
            with lock:
                trees[definition] = tree
                while len(trees) > PARSE_TREES_KEPT:
                    trees.popitem(last=False)
            return program, tree
        return Preprocessor().visit(tree), tree

    parse._local_aws = True  # type: ignore[attr-defined]
    AmazonStateLanguageParser.parse = staticmethod(parse)


class _TaskCredentials:
    """The IAM enforcer of the embedded AWS installed last: task calls are made with the state's role."""

    iam: Any = None


def _reuse_task_clients() -> None:
    import boto3
    from botocore.config import Config
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_factory
    from moto.stepfunctions.parser.asl.utils import boto_client

    moto_client_for = boto_client.boto_client_for
    if getattr(moto_client_for, "_local_aws", False):
        return
    clients: dict[tuple, Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # A task calls its service with the credentials of the state's role (the state machine's role, or the
        # state's Credentials.RoleArn): https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html
        role_arn = getattr(state_credentials, "role_arn", None)
        iam = _TaskCredentials.iam
        if iam is None or not role_arn or boto_client.botocore_stubber.enabled:
            return moto_client_for(region=region, service=service, state_credentials=state_credentials)
        key = (region, service, role_arn, boto_client.moto_server_port())
        with lock:
            client = clients.get(key)
        if client is None:
            # Raises RoleNotAssumable when the role's trust policy does not admit states.amazonaws.com.
            session = iam.credentials(role_arn, STATES_SERVICE, "StepFunctions")
            client = boto3.client(
                service_name=service,
                region_name=region,
                endpoint_url=f"http://localhost:{boto_client.moto_server_port()}",
                aws_access_key_id=session.access_key_id,
                aws_secret_access_key=session.secret_access_key,
                aws_session_token=session.session_token,
                config=Config(
                    parameter_validation=False,
                    retries={"max_attempts": 0, "total_max_attempts": 1},
                    connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                    read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                ),
            )
            with lock:
                client = clients.setdefault(key, client)
        return client

    boto_client_for._local_aws = True  # type: ignore[attr-defined]
    del state_task_service_factory  # imported so that every integration module is loaded before the swap
    for name, module in list(sys.modules.items()):
        if (
            name.startswith(("moto.stepfunctions.parser", "local_aws"))
            and getattr(module, "boto_client_for", None) is moto_client_for
        ):
            module.boto_client_for = boto_client_for


def _compile_json_paths_once() -> None:
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    for module in (json_path, result_path):
        if not hasattr(module.parse, "cache_info"):  # compiled expressions are only read by find()
            module.parse = functools.lru_cache(maxsize=JSON_PATHS_KEPT)(module.parse)


def _format_as_step_functions() -> None:
    """States.Format fills each `{}` of its template with the next argument, and a character escaped with a
    backslash is that character: `\\{` and `\\}` are literal braces
    (https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html, "States.Format" and the
    reserved characters ' { } \\ that an intrinsic's string escapes). moto keeps the escapes in the template and
    hands it to Python's str.format, so a template with literal braces such as '\\{"workflow_execution":"{}"\\}'
    failed with a KeyError instead of giving a JSON object's text. moto's parser also hands over a template written
    in the definition with each backslash doubled, which is undone first. Whether a template read from the input
    (`$.template`) has its escapes read too the page does not say; here it has."""
    from moto.stepfunctions.parser.asl.component.intrinsic.argument.argument import ArgumentLiteral
    from moto.stepfunctions.parser.asl.component.intrinsic.function.statesfunction.generic.string_format import (
        StringFormat,
    )

    if getattr(StringFormat._eval_body, "_local_aws", False):
        return

    def _eval_body(self: Any, env: Any) -> None:
        self.argument_list.eval(env=env)
        args = env.stack.pop()
        values = iter([StringFormat._to_str_repr(value) for value in args[1:]])
        template, out, index = str(args[0]), [], 0
        if isinstance(self.argument_list.arguments[0], ArgumentLiteral):
            template = template.replace("\\\\", "\\")
        while index < len(template):
            if template[index] == "\\" and index + 1 < len(template):
                out.append(template[index + 1])
                index += 2
            elif template.startswith("{}", index):
                value = next(values, None)
                if value is None:
                    raise ValueError(f"States.Format template {template!r} has more placeholders than arguments")
                out.append(value)
                index += 2
            else:
                out.append(template[index])
                index += 1
        if next(values, None) is not None:
            raise ValueError(f"States.Format template {template!r} has fewer placeholders than arguments")
        env.stack.append("".join(out))

    _eval_body._local_aws = True  # type: ignore[attr-defined]
    StringFormat._eval_body = _eval_body


def _stop_just_started_executions() -> None:
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    if getattr(ExecutionWorker.stop, "_local_aws", False):
        return
    moto_stop = ExecutionWorker.stop

    def stop(self: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
        deadline = time.monotonic() + WORKER_SETUP_WAIT_S
        while self.env is None and time.monotonic() < deadline:  # the worker thread sets env as it starts
            time.sleep(0.01)
        moto_stop(self, stop_date=stop_date, error=error, cause=cause)
        # moto marks the execution ABORTED only once its worker thread notices the stop; AWS reports it
        # from StopExecution on. Only a stop that took effect (the program was still running) counts.
        execution = self._execution_communication.execution
        if isinstance(self.env.program_state(), ProgramStopped) and execution.exec_status == ExecutionStatus.RUNNING:
            execution.stop_date, execution.exec_status = stop_date, ExecutionStatus.ABORTED

    stop._local_aws = True  # type: ignore[attr-defined]
    ExecutionWorker.stop = stop


def _assumable_by_step_functions(role_arn: str) -> None:
    """CreateStateMachine and UpdateStateMachine refuse a role Step Functions cannot assume. The API reference does
    not document the answer; AWS replies AccessDeniedException "Neither the global service principal
    states.amazonaws.com, nor the regional one is authorized to assume the provided role." (as users report it,
    e.g. lumigo-io/lumigo-CLI issue 83); the regional principal states.<region>.amazonaws.com is accepted too."""
    iam = _TaskCredentials.iam
    if iam is None:
        return
    from moto.core.exceptions import AWSError

    from local_aws.iam import AccessDenied

    class AccessDeniedException(AWSError):
        TYPE = "AccessDeniedException"
        STATUS = 400

    try:
        iam.credentials(role_arn, STATES_SERVICE, "StepFunctions")
    except AccessDenied as denied:
        raise AccessDeniedException(
            "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to "
            f"assume the provided role. ({denied})"
        ) from None


def install(ctx: Any) -> None:
    _TaskCredentials.iam = getattr(ctx, "iam", None)
    _stop_just_started_executions()
    _format_as_step_functions()
    _keep_parse_trees()
    _reuse_task_clients()
    _compile_json_paths_once()
    from moto.core.responses import ActionResult
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    moto_start_execution = StepFunctionsParserBackend.start_execution

    def start_execution(self: Any, state_machine_arn: str, name: str | None = None, *args: Any, **kwargs: Any):
        return moto_start_execution(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    def validate_state_machine_definition(self: Any) -> ActionResult:
        return ActionResult(validate_definition(self._get_param("definition") or ""))

    def send_task_failure(self: Any) -> Any:
        from moto.core.responses import EmptyResult

        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    def list_state_machine_versions(self: Any) -> ActionResult:
        # The provider reads versions after every create/update; moto publishes none.
        self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
        return ActionResult({"stateMachineVersions": []})

    moto_create = StepFunctionsParserBackend.create_state_machine
    moto_update = StepFunctionsParserBackend.update_state_machine

    def create_state_machine(self: Any, name: str, definition: str, roleArn: str, *args: Any, **kwargs: Any) -> Any:
        _assumable_by_step_functions(roleArn)
        return moto_create(self, name, definition, roleArn, *args, **kwargs)

    def update_state_machine(self: Any, arn: str, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("role_arn"):
            _assumable_by_step_functions(kwargs["role_arn"])
        return moto_update(self, arn, *args, **kwargs)

    if not getattr(moto_create, "_local_aws", False):
        create_state_machine._local_aws = True  # type: ignore[attr-defined]
        update_state_machine._local_aws = True  # type: ignore[attr-defined]
        StepFunctionsParserBackend.create_state_machine = create_state_machine
        StepFunctionsParserBackend.update_state_machine = update_state_machine
    StepFunctionsParserBackend.start_execution = start_execution
    StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition
    StepFunctionResponse.list_state_machine_versions = list_state_machine_versions
    StepFunctionResponse.send_task_failure = send_task_failure
