"""The contracts, the state machine and functions/README.md agree with the code that implements them."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest
import shared.errors as errors
from PIL import Image
from shared.contracts import Classification, SerializedImage, parse_event, parse_image_request

from tests.conftest import FUNCTIONS_DIR, REPO_ROOT
from tests.functions.conftest import load_event, sample_events

FUNCTIONS = ("serialize_image", "classify_image", "filter_inferences")
CONTRACTS = {
    "serialize_image": parse_image_request,
    "classify_image": lambda event: parse_event(event, SerializedImage),
    "filter_inferences": lambda event: parse_event(event, Classification),
}
README = FUNCTIONS_DIR / "README.md"
NAMED_ERRORS = {
    "InvalidEvent",
    "ImageNotFound",
    "InvalidImage",
    "ImageTooLarge",
    "EndpointThrottled",
    "EndpointUnavailable",
    "ModelError",
    "InvalidModelResponse",
    "ConfigurationError",
    "ThresholdNotConfigured",
}


def inference_asl() -> dict:
    path = REPO_ROOT / "inference.asl.json"
    if not path.is_file():
        pytest.skip(f"{path.name} not found at the repository root")
    return json.loads(path.read_text())


def error_rules(state: dict, kind: str) -> set[str]:
    return {name for rule in state.get(kind, []) for name in rule["ErrorEquals"]}


@pytest.mark.parametrize(
    "path",
    [path for function in FUNCTIONS for path in sample_events(function)],
    ids=lambda path: f"{path.parent.parent.name}/{path.name}",
)
def test_every_sample_event_matches_its_contract(path: Path):
    CONTRACTS[path.parent.parent.name](json.loads(path.read_text()))


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_has_sample_events(function):
    assert sample_events(function), f"functions/{function}/events/ has no sample events"


def test_the_classify_sample_carries_a_real_png():
    image = Image.open(io.BytesIO(base64.b64decode(load_event("classify_image", "serialized_png.json")["image_data"])))

    assert image.format == "PNG"


def test_every_named_error_is_a_workflow_error():
    for name in NAMED_ERRORS:
        assert issubclass(getattr(errors, name), errors.WorkflowError), name


# Raised by Step Functions and the Lambda service, not by our handlers: States.*, Lambda.* (service errors),
# Runtime.ExitError (the function's process died) and Sandbox.Timedout (it ran past its Timeout).
SERVICE_ERROR_PREFIXES = ("States.", "Lambda.", "Runtime.", "Sandbox.")


def test_every_error_the_state_machine_matches_is_defined():
    asl = inference_asl()
    named = {
        name for state in asl["States"].values() for kind in ("Retry", "Catch") for name in error_rules(state, kind)
    }

    custom = {name for name in named if not name.startswith(SERVICE_ERROR_PREFIXES)}
    assert custom <= NAMED_ERRORS, f"the ASL matches errors no handler raises: {custom - NAMED_ERRORS}"


def test_only_endpoint_throttling_and_outages_are_retried():
    states = inference_asl()["States"]

    retried = {
        name for name in error_rules(states["ClassifyImage"], "Retry") if not name.startswith(SERVICE_ERROR_PREFIXES)
    }
    assert retried == {"EndpointThrottled", "EndpointUnavailable"}
    assert {"InvalidEvent", "ImageNotFound", "InvalidImage", "ImageTooLarge"} <= error_rules(
        states["SerializeImage"], "Catch"
    )
    # Unsure is a route, not an error: the filter's Catch handles failures only, and a Choice sends human_review on.
    assert error_rules(states["FilterInferences"], "Catch") == {"States.ALL"}
    choices = {choice["StringEquals"]: choice["Next"] for choice in states["RouteByVehicle"]["Choices"]}
    assert states[choices["human_review"]]["Resource"] == "arn:aws:states:::sqs:sendMessage"


def metric_names_in_code() -> set[str]:
    pattern = re.compile(r"""(?:add_metric|single_metric)\(\s*name="(\w+)\"""")
    return {
        name for function in FUNCTIONS for name in pattern.findall((FUNCTIONS_DIR / function / "app.py").read_text())
    }


def readme_table(heading: str) -> list[list[str]]:
    section = README.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]  # skip header and rule
    return [[cell.strip().strip("`") for cell in row.strip("|").split("|")] for row in rows]


def test_readme_lists_exactly_the_metrics_the_code_emits():
    rows = readme_table("Metrics")
    documented = {row[0] for row in rows if row[1] in FUNCTIONS}  # other functions may document theirs too
    in_code = metric_names_in_code()

    assert {
        "ImagesSerialized",
        "ImageBytesIn",
        "ImageBytesOut",
        "EndpointLatency",
        "Classifications",
        "ConfidentPredictions",
        "LowConfidencePredictions",
        "Routes",
    } <= in_code
    assert documented == in_code
    assert "ColdStart" in {row[0] for row in rows}


def test_readme_lists_every_named_error():
    documented = {row[0] for row in readme_table("Named errors")}

    assert not NAMED_ERRORS - documented, f"undocumented: {NAMED_ERRORS - documented}"


@pytest.mark.parametrize(
    ("function", "constant", "variable"),
    [
        ("filter_inferences", "DEFAULT_LABEL_ROUTES", "LABEL_ROUTES"),
        ("classify_image", "DEFAULT_MODEL_CONTENT_TYPE", "MODEL_CONTENT_TYPE"),
    ],
)
def test_readme_defaults_match_the_code(load_handler, function, constant, variable):
    default = getattr(load_handler(function), constant)
    documented = {row[1]: row[2] for row in readme_table("Environment variables")}[variable]

    parsed = json.loads(documented) if isinstance(default, dict) else type(default)(documented)
    assert parsed == default


def test_readme_size_limits_match_the_code():
    from shared.images import DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_IMAGE_PIXELS

    documented = {row[1]: row[2] for row in readme_table("Environment variables")}
    assert documented["MAX_IMAGE_BYTES"].split()[0].strip("`") == str(DEFAULT_MAX_IMAGE_BYTES)
    assert documented["MAX_IMAGE_PIXELS"] == str(DEFAULT_MAX_IMAGE_PIXELS)
