"""The IAM audit (tests/terraform/iam_audit.py) over every policy of the root module as the demo applied it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.terraform.iam_audit import RESOURCE_STAR_ACTIONS, audit, managed_resources, policy_documents, report

pytestmark = [pytest.mark.embedded, pytest.mark.slow]

# Every role the root module creates (the demo enables auto-retrain, so the guard's role is there too), as
# terraform-show.json holds them: after phase 2, with the default monitoring engine (scheduled_check).
ROLES = {
    "module.training_pipeline.aws_iam_role.sagemaker",
    "module.training_pipeline.aws_iam_role.state_machine",
    "module.training_pipeline.module.evaluate_model.aws_iam_role.this",
    "module.write_baseline.aws_iam_role.this",
    "module.inference_workflow.aws_iam_role.state_machine",
    "module.inference_workflow.module.serialize_image.aws_iam_role.this",
    "module.inference_workflow.module.classify_image.aws_iam_role.this",
    "module.inference_workflow.module.filter_inferences.aws_iam_role.this",
    "module.monitoring.aws_iam_role.scheduler[0]",
    "module.monitoring.module.scheduled_check[0].aws_iam_role.this",
    "module.monitoring.module.retrain_guard[0].aws_iam_role.this",
    "module.review_console.module.function.aws_iam_role.this",
}
# The demo's phase 3 switches to monitoring_engine = "model_monitor": the check's roles go, Model Monitor's comes.
MODEL_MONITOR_ROLES = (ROLES - {r for r in ROLES if "scheduler" in r or "scheduled_check" in r}) | {
    "module.monitoring.aws_iam_role.monitoring[0]"
}
SHOWS = {"terraform-show.json": ROLES, "terraform-show-model-monitor.json": MODEL_MONITOR_ROLES}


def _show(out: Path, name: str) -> dict:
    path = out / name
    assert path.is_file(), f"the demo wrote no {path.name}"
    return json.loads(path.read_text())


@pytest.fixture(scope="module", params=sorted(SHOWS))
def applied(demo, request) -> tuple[dict, set[str]]:
    """`terraform show -json` of the stack after an apply of the demo (each engine's), and the roles it holds."""
    _report, out, _stdout = demo
    return _show(out, request.param), SHOWS[request.param]


def test_no_policy_of_the_stack_breaks_an_audit_rule(applied):
    findings = audit(applied[0])
    assert findings == [], report(findings)


def test_the_audit_read_every_role_and_its_policies(applied):
    applied, roles = applied
    policies = policy_documents(applied)
    trusts = {p.address for p in policies if p.kind == "trust"}
    assert trusts >= roles, f"roles without an audited trust policy: {sorted(roles - trusts)}"

    # Each role's permissions are aws_iam_role_policy resources naming the role.
    resources = list(managed_resources(applied))
    names = {r["values"]["name"]: r["address"] for r in resources if r["type"] == "aws_iam_role"}
    granted = {names.get(r["values"]["role"]) for r in resources if r["type"] == "aws_iam_role_policy"}
    identity = {p.address for p in policies if p.kind == "identity"}
    assert granted >= roles, f"roles whose permissions were not found: {sorted(roles - granted)}"
    assert len(identity) >= len(roles)

    buckets = {p.address for p in policies if p.address.startswith("module.storage.aws_s3_bucket_policy.")}
    assert len(buckets) == 2, "both buckets' TLS-only policies should have been audited"


def test_every_resource_star_exception_is_still_needed(demo):
    """The allowlist stays minimal: each API on it is granted on "*" somewhere in the stack (with either engine)."""
    _report, out, _stdout = demo
    used = {
        action.lower()
        for name in SHOWS
        for policy in policy_documents(_show(out, name))
        if policy.kind == "identity"
        for statement in _statements(policy.document)
        if statement.get("Effect") == "Allow" and "*" in _listed(statement.get("Resource"))
        for action in _listed(statement.get("Action"))
    }
    assert set(RESOURCE_STAR_ACTIONS) <= used, f"no longer needed: {sorted(set(RESOURCE_STAR_ACTIONS) - used)}"


def _listed(value) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def _statements(document: dict) -> list[dict]:
    return _listed(document.get("Statement"))


# -- IAM executed: the calls the demo made on each role's behalf ---------------------------------------------------
# The roles whose credentials the stack's services use in the demo (name_prefix courier-vehicle), and the
# service acting with each.
ACTING_ROLES = {
    f"courier-vehicle-{name}": service
    for name, service in {
        "training-pipeline-sfn": "states.amazonaws.com",
        "sagemaker-execution": "sagemaker.amazonaws.com",
        "evaluate-model-role": "lambda.amazonaws.com",
        "write-baseline-role": "lambda.amazonaws.com",
        "inference-sfn": "states.amazonaws.com",
        "serialize-image-role": "lambda.amazonaws.com",
        "classify-image-role": "lambda.amazonaws.com",
        "filter-inferences-role": "lambda.amazonaws.com",
        "retrain-guard-role": "lambda.amazonaws.com",
        "scheduled-check-role": "lambda.amazonaws.com",  # the scheduled_check engine's passes
        "review-console-role": "lambda.amazonaws.com",  # the demo's reviewer
        "monitoring": "sagemaker.amazonaws.com",  # the model_monitor engine's passes (after phase 3)
    }.items()
}


@pytest.fixture(scope="module")
def iam_calls(demo) -> list[dict]:
    _report, out, _stdout = demo
    path: Path = out / "iam-calls.jsonl"
    assert path.is_file(), "the demo wrote no iam-calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_call_the_demo_made_on_a_roles_behalf_was_checked_and_allowed(demo, iam_calls):
    report, _out, stdout = demo
    denied = [c for c in iam_calls if not c["allowed"]]
    assert denied == [], "\n".join(f"{c['principal']} {c['action']} {c['resource']}: {c['reason']}" for c in denied)
    assert report["iam"]["calls_checked"] == len(iam_calls)
    assert f"IAM: {len(iam_calls)} calls checked, 0 denied" in stdout
    # The demo classifies every test image: at least one checked call per image and function.
    assert len(iam_calls) > 3 * len(report["inference"]["items"])


def test_each_role_of_the_stack_was_used_by_its_service_and_checked(iam_calls):
    used = {(c["role"].rsplit("/", 1)[-1], c["via"]) for c in iam_calls if c["role"]}
    missing = {role: service for role, service in ACTING_ROLES.items() if (role, service) not in used}
    assert missing == {}, f"roles whose calls were never checked: {missing}"
    assumed = {c["resource"].rsplit("/", 1)[-1] for c in iam_calls if c["action"] == "sts:AssumeRole"}
    assert set(ACTING_ROLES) <= assumed, "every role is assumed through its trust policy"


def test_the_pipeline_tagged_what_it_created_under_its_add_tags_grant(iam_calls):
    tagged = {c["resource"].split(":")[-1].split("/")[0] for c in iam_calls if c["action"] == "sagemaker:AddTags"}
    assert {"training-job", "model", "endpoint-config", "endpoint"} <= tagged
