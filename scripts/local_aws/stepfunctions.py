"""Step Functions gaps in moto that our stack meets: unnamed executions, definition validation, versions.

- StartExecution without a name gets a fresh UUID, as on AWS (moto names every such execution "None", so the
  second one collides).
- ValidateStateMachineDefinition (called by the AWS provider at plan time) parses the definition with moto's
  own ASL parser and answers OK or FAIL with a diagnostic.
- ListStateMachineVersions (read by the provider after every create/update) lists no versions.
"""

from __future__ import annotations

import json
import uuid
from typing import Any


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


def install(ctx: Any) -> None:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    moto_start_execution = StepFunctionsParserBackend.start_execution

    def start_execution(self: Any, state_machine_arn: str, name: str | None = None, *args: Any, **kwargs: Any):
        return moto_start_execution(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    def validate_state_machine_definition(self: Any) -> ActionResult:
        return ActionResult(validate_definition(self._get_param("definition") or ""))

    def list_state_machine_versions(self: Any) -> ActionResult:
        # The provider reads versions after every create/update; moto publishes none.
        self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
        return ActionResult({"stateMachineVersions": []})

    StepFunctionsParserBackend.start_execution = start_execution
    StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition
    StepFunctionResponse.list_state_machine_versions = list_state_machine_versions
