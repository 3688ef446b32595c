"""The IAM audit (tests/terraform/iam_audit.py) over every policy of the root module as the demo applied it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.terraform.iam_audit import RESOURCE_STAR_ACTIONS, audit, managed_resources, policy_documents, report

pytestmark = [pytest.mark.embedded, pytest.mark.slow]

# Every role the root module creates (the demo enables auto-retrain, so the guard's role is there too).
ROLES = {
    "module.training_pipeline.aws_iam_role.sagemaker",
    "module.training_pipeline.aws_iam_role.state_machine",
    "module.training_pipeline.module.evaluate_model.aws_iam_role.this",
    "module.write_baseline.aws_iam_role.this",
    "module.inference_workflow.aws_iam_role.state_machine",
    "module.inference_workflow.module.serialize_image.aws_iam_role.this",
    "module.inference_workflow.module.classify_image.aws_iam_role.this",
    "module.inference_workflow.module.filter_inferences.aws_iam_role.this",
    "module.monitoring.aws_iam_role.monitoring",
    "module.monitoring.module.retrain_guard[0].aws_iam_role.this",
}


@pytest.fixture(scope="module")
def applied(demo) -> dict:
    """`terraform show -json` of the stack after the demo's last apply, before its destroy."""
    _report, out, _stdout = demo
    path: Path = out / "terraform-show.json"
    assert path.is_file(), f"the demo wrote no {path.name}"
    return json.loads(path.read_text())


def test_no_policy_of_the_stack_breaks_an_audit_rule(applied):
    findings = audit(applied)
    assert findings == [], report(findings)


def test_the_audit_read_every_role_and_its_policies(applied):
    policies = policy_documents(applied)
    trusts = {p.address for p in policies if p.kind == "trust"}
    assert trusts >= ROLES, f"roles without an audited trust policy: {sorted(ROLES - trusts)}"

    # Each role's permissions are aws_iam_role_policy resources naming the role.
    resources = list(managed_resources(applied))
    names = {r["values"]["name"]: r["address"] for r in resources if r["type"] == "aws_iam_role"}
    granted = {names.get(r["values"]["role"]) for r in resources if r["type"] == "aws_iam_role_policy"}
    identity = {p.address for p in policies if p.kind == "identity"}
    assert granted >= ROLES, f"roles whose permissions were not found: {sorted(ROLES - granted)}"
    assert len(identity) >= len(ROLES)

    buckets = {p.address for p in policies if p.address.startswith("module.storage.aws_s3_bucket_policy.")}
    assert len(buckets) == 2, "both buckets' TLS-only policies should have been audited"


def test_every_resource_star_exception_is_still_needed(applied):
    """The allowlist stays minimal: each API on it is granted on "*" somewhere in the stack."""
    used = {
        action.lower()
        for policy in policy_documents(applied)
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
