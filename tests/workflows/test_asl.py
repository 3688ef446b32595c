"""Static checks of both state machine definitions, as they are in the repository (before rendering)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.workflows.asl import PLACEHOLDER, placeholders, render, transitions

REPO_ROOT = Path(__file__).resolve().parents[2]
ASL_FILES = [REPO_ROOT / "inference.asl.json", REPO_ROOT / "statemachine.asl.json"]
BUILT_IN_ERROR_PREFIXES = ("States.", "Lambda.", "SageMaker.", "SQS.", "SNS.")
# Raised by the Lambda service for a function, not by our handlers: Step Functions surfaces the payload's errorType.
LAMBDA_RUNTIME_ERRORS = {
    "Runtime.ExitError": "the function's process died mid-invocation (crash, segfault, OOM kill)",
    "Sandbox.Timedout": "the function ran past its configured Timeout and was stopped",
}
CRASH_AND_TIMEOUT = {"Runtime.ExitError", "Sandbox.Timedout"}


def sample_value(name: str) -> str:
    if name.endswith("function_arn"):
        return f"arn:aws:lambda:eu-west-1:123456789012:function:{name.removesuffix('_function_arn')}"
    if name.endswith("bus_arn"):
        return "arn:aws:events:eu-west-1:123456789012:event-bus/sample-decisions"
    if name.endswith("queue_url"):
        return "https://sqs.eu-west-1.amazonaws.com/123456789012/review"
    if name.endswith("_arn"):
        return f"arn:aws:sns:eu-west-1:123456789012:{name}"
    if "threshold" in name or "percentage" in name:
        return "0.8" if "threshold" in name else "100"
    return f"sample-{name.replace('_', '-')}"


def handler_error_names() -> set[str]:
    """Class names of the exceptions defined under functions/ (what a handler can raise as errorType), and the
    error a person's answer to the pipeline's approval request sends (SendTaskFailure, training/deployments.py)."""
    from training.deployments import REJECTION_ERROR

    names = {REJECTION_ERROR}
    for path in (REPO_ROOT / "functions").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.bases:
                names.add(node.name)
    return names


def rendered(path: Path) -> str:
    return render(path, {name: sample_value(name) for name in placeholders(path)})


@pytest.fixture(params=ASL_FILES, ids=lambda p: p.name)
def asl_file(request) -> Path:
    return request.param


def test_definition_is_valid_json_with_placeholders_only_inside_strings(asl_file):
    definition = json.loads(asl_file.read_text())

    def strings(value):
        if isinstance(value, dict):
            for key, item in value.items():
                yield key
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)
        elif isinstance(value, str):
            yield value

    inside_strings = {m for s in strings(definition) for m in PLACEHOLDER.findall(s)}
    assert inside_strings == placeholders(asl_file)
    assert "StartAt" in definition
    assert definition["StartAt"] in definition["States"]


def test_every_transition_resolves_and_every_state_is_reachable(asl_file):
    definition = json.loads(asl_file.read_text())
    edges = transitions(definition)
    for state, targets in edges.items():
        assert targets <= set(edges), f"{state} moves to unknown states {targets - set(edges)}"
    reachable, frontier = set(), [definition["StartAt"]]
    while frontier:
        state = frontier.pop()
        if state not in reachable:
            reachable.add(state)
            frontier.extend(edges[state])
    top_level = set(definition["States"])
    assert top_level <= reachable, f"unreachable states: {top_level - reachable}"


def test_every_caught_or_retried_error_can_actually_be_raised(asl_file):
    definition = json.loads(asl_file.read_text())
    raisable = handler_error_names() | set(LAMBDA_RUNTIME_ERRORS)
    named = set()

    def walk(states):
        for state in states.values():
            for rule in state.get("Retry", []) + state.get("Catch", []):
                named.update(rule["ErrorEquals"])
            for branch in state.get("Branches", []):
                walk(branch["States"])

    walk(definition["States"])
    custom = {name for name in named if not name.startswith(BUILT_IN_ERROR_PREFIXES)}
    assert custom <= raisable, f"ASL names errors no handler raises: {sorted(custom - raisable)}"


def test_every_inference_lambda_task_retries_crashes_and_timeouts_a_few_times_then_fails_by_name():
    states = json.loads((REPO_ROOT / "inference.asl.json").read_text())["States"]
    lambda_tasks = {name: s for name, s in states.items() if s.get("Resource") == "arn:aws:states:::lambda:invoke"}
    assert set(lambda_tasks) == {"SerializeImage", "ClassifyImage", "FilterInferences"}
    for name, state in lambda_tasks.items():
        retriers = [r for r in state["Retry"] if CRASH_AND_TIMEOUT & set(r["ErrorEquals"])]
        assert len(retriers) == 1, f"{name}: crashes and timeouts need exactly one retrier"
        assert set(retriers[0]["ErrorEquals"]) >= CRASH_AND_TIMEOUT, name
        assert 1 <= retriers[0]["MaxAttempts"] <= 3, f"{name}: a retry budget that keeps an image waiting"
        assert retriers[0]["JitterStrategy"] == "FULL", name
        caught_by = next(c["Next"] for c in state["Catch"] if "States.ALL" in c["ErrorEquals"])
        while states[caught_by]["Type"] != "Fail":  # classify keeps the image on the review queue first
            caught_by = states[caught_by]["Next"]
        assert states[caught_by].get("Error") == caught_by, f"{name} must end in a Fail state named for its step"


def test_definition_passes_cfn_lint_state_machine_schema(asl_file, tmp_path):
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "StateMachine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/states",
                    "Definition": json.loads(rendered(asl_file)),
                },
            }
        },
    }
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_definition_parses_with_the_step_functions_interpreter(asl_file):
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    program, _tree = AmazonStateLanguageParser.parse(rendered(asl_file))
    assert program.start_at.start_at_name == json.loads(asl_file.read_text())["StartAt"]


def test_definition_is_accepted_by_validate_state_machine_definition(asl_file):
    from local_aws.stepfunctions import validate_definition

    assert validate_definition(rendered(asl_file))["result"] == "OK"
    assert validate_definition('{"StartAt": "Nowhere", "States": {}}')["result"] == "FAIL"
