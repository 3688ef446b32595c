"""An IAM audit of every policy document in a `terraform show -json` of the root module.

It reads what was applied (state form: `values.root_module`; a saved plan's `planned_values` works too), so it
sees the JSON AWS received, whichever module or data source built it. Run it by hand on a state with
`python tests/terraform/iam_audit.py terraform-show.json`; tests/e2e/test_iam_audit.py runs it on the demo's.

Rules, each finding naming the resource, the statement and the rule:
- `wildcard-action`: no Allow of `*` or `<service>:*`.
- `not-in-allow`: no NotAction, NotResource or NotPrincipal in an Allow (each grants everything but a list).
- `resource-star`: an identity policy grants `Resource: "*"` only for the APIs in RESOURCE_STAR_ACTIONS.
- `pass-role`: iam:PassRole only on named roles and only with an `iam:PassedToService` condition.
- `trust`: a role's trust policy lets AWS services (or an account) call sts:AssumeRole, nothing else.
- `principal`: a resource policy (bucket, queue, topic, key) names its principal, and `*` only with a condition.
- `managed-policy`: no attached managed policies: their documents are not in the state, so nothing audits them.

Deny statements are not checked: a Deny only takes permissions away, so `s3:*` or `*` in one (the buckets'
TLS-only policy) narrows access rather than widening it.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Actions our modules grant on "*" because the API has no resource-level permissions (AWS Service Authorization
# Reference: no resource type for the action). Keep it to what the modules need; each key is lower case.
RESOURCE_STAR_ACTIONS: dict[str, str] = {
    # Step Functions execution logs (modules/state_machine_observability): the vended-log delivery API.
    "logs:createlogdelivery": "vended-log delivery: Step Functions execution logs; no resource type",
    "logs:getlogdelivery": "vended-log delivery: Step Functions execution logs; no resource type",
    "logs:updatelogdelivery": "vended-log delivery: Step Functions execution logs; no resource type",
    "logs:deletelogdelivery": "vended-log delivery: Step Functions execution logs; no resource type",
    "logs:listlogdeliveries": "vended-log delivery: Step Functions execution logs; no resource type",
    "logs:putresourcepolicy": "Step Functions sets the log group's resource policy for delivery; no resource type",
    "logs:describeresourcepolicies": "Step Functions reads the log resource policies; no resource type",
    "logs:describeloggroups": "Step Functions checks the destination log group exists; no resource type",
    # X-Ray (state machines and every function's LambdaSendTraces).
    "xray:puttracesegments": "X-Ray trace upload; no resource type",
    "xray:puttelemetryrecords": "X-Ray daemon telemetry; no resource type",
    "xray:getsamplingrules": "X-Ray sampling rules, read by the tracer; no resource type",
    "xray:getsamplingtargets": "X-Ray sampling quotas, read by the tracer; no resource type",
    # SageMaker training jobs and Model Monitor: metrics (scoped by a cloudwatch:namespace condition instead).
    "cloudwatch:putmetricdata": "no resource type; the statements pin cloudwatch:namespace",
    # Pulling the algorithm and Model Monitor images: the login itself; the pulls are scoped to repositories.
    "ecr:getauthorizationtoken": "registry login; no resource type",
    # The retrain guard (modules/monitoring) finds the monitoring execution of the job an event names.
    "sagemaker:listmonitoringexecutions": "the retrain guard reads a run's MonitoringExecutionStatus; no resource type",
}

IDENTITY_POLICY_TYPES = {"aws_iam_role_policy", "aws_iam_policy", "aws_iam_user_policy", "aws_iam_group_policy"}
MANAGED_POLICY_ATTACHMENTS = {
    "aws_iam_role_policy_attachment",
    "aws_iam_policy_attachment",
    "aws_iam_role_policies_exclusive",
    "aws_iam_user_policy_attachment",
    "aws_iam_group_policy_attachment",
}
SERVICE_WILDCARD = re.compile(r"^[a-z0-9-]+:\*$", re.IGNORECASE)
ACCOUNT_PRINCIPAL = re.compile(r"^(\d{12}|arn:aws[a-z-]*:iam::\d{12}:root)$")


@dataclass(frozen=True)
class PolicyDocument:
    """One policy document found in the state: where it is and what kind of policy it is."""

    address: str
    attribute: str
    kind: str  # "identity", "trust" or "resource"
    document: dict[str, Any]


@dataclass(frozen=True)
class Finding:
    """One broken rule, located so a reviewer can find the statement in the plan or the module."""

    address: str
    attribute: str
    statement: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.address}.{self.attribute} [{self.statement}] {self.rule}: {self.detail}"


def managed_resources(show: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every managed resource of the root module and its child modules, at any depth."""
    values = show.get("values") or show.get("planned_values") or {}
    modules = [values.get("root_module") or {}]
    while modules:
        module = modules.pop()
        for resource in module.get("resources", []):
            if resource.get("mode") == "managed":
                yield resource
        modules.extend(module.get("child_modules", []))


def _documents_in(value: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(attribute path, parsed document) for every `*policy*` attribute holding an IAM policy JSON."""
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if "policy" in key.lower() and isinstance(item, str) and item.strip().startswith("{"):
                try:
                    document = json.loads(item)
                except json.JSONDecodeError:
                    continue
                # Redrive policies and the like are JSON too, but they have no Statement: not IAM documents.
                if isinstance(document, dict) and "Statement" in document:
                    yield child, document
            else:
                yield from _documents_in(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _documents_in(item, f"{path}[{index}]")


def _kind(resource_type: str, attribute: str) -> str:
    if attribute == "assume_role_policy":
        return "trust"
    if resource_type in IDENTITY_POLICY_TYPES or attribute.startswith("inline_policy"):
        return "identity"
    return "resource"


def policy_documents(show: dict[str, Any]) -> list[PolicyDocument]:
    """Every IAM policy document the state holds: role policies, trust policies, bucket/queue/topic/key policies."""
    return [
        PolicyDocument(resource["address"], attribute, _kind(resource["type"], attribute), document)
        for resource in managed_resources(show)
        for attribute, document in _documents_in(resource.get("values") or {}, "")
    ]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _grants(pattern: str, action: str) -> bool:
    """Whether an Action entry (wildcards allowed, case-insensitive as IAM is) covers `action`."""
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def _condition_keys(statement: dict[str, Any]) -> set[str]:
    return {key.lower() for operator in (statement.get("Condition") or {}).values() for key in operator}


def _principal_values(principal: Any) -> list[tuple[str, str]]:
    """(type, value) pairs of a Principal; the bare string "*" is everyone."""
    if isinstance(principal, str):
        return [("*", principal)]
    return [(kind, value) for kind, values in (principal or {}).items() for value in _as_list(values)]


def audit_statement(policy: PolicyDocument, statement: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(rule, detail) for each rule one Allow statement breaks."""
    actions = [str(a) for a in _as_list(statement.get("Action"))]
    resources = [str(r) for r in _as_list(statement.get("Resource"))]

    for key in ("NotAction", "NotResource", "NotPrincipal"):
        if key in statement:
            yield "not-in-allow", f"{key} in an Allow grants everything outside the list"

    for action in actions:
        if action == "*" or SERVICE_WILDCARD.match(action):
            yield "wildcard-action", f"Action {action!r}"

    if policy.kind == "identity" and "*" in resources:
        broad = sorted({a for a in actions if a.lower() not in RESOURCE_STAR_ACTIONS})
        if broad:
            yield "resource-star", f"Resource '*' for {', '.join(broad)} (not in RESOURCE_STAR_ACTIONS): name the ARNs"

    if any(_grants(action, "iam:PassRole") for action in actions):
        if "iam:passedtoservice" not in _condition_keys(statement):
            yield "pass-role", "iam:PassRole without an iam:PassedToService condition"
        if any(resource == "*" or resource.endswith(":role/*") for resource in resources):
            yield "pass-role", f"iam:PassRole on {resources}: name the roles"

    if policy.kind == "trust":
        if {a.lower() for a in actions} != {"sts:assumerole"}:
            yield "trust", f"trust policy allows {actions}: only sts:AssumeRole"
        principals = _principal_values(statement.get("Principal"))
        if not principals:
            yield "trust", "a trust statement names no principal"
        for kind, value in principals:
            if not (kind == "Service" or (kind == "AWS" and ACCOUNT_PRINCIPAL.match(value))):
                yield "trust", f"principal {kind}={value!r}: only AWS services or the account may assume a role"

    if policy.kind == "resource":
        principals = _principal_values(statement.get("Principal"))
        if not principals and "NotPrincipal" not in statement:
            yield "principal", "an Allow in a resource policy names no principal"
        if any(value == "*" for _kind, value in principals) and not statement.get("Condition"):
            yield "principal", "Principal '*' without a condition: anyone may do this"


def audit_documents(policies: list[PolicyDocument]) -> list[Finding]:
    findings = []
    for policy in policies:
        for index, statement in enumerate(_as_list(policy.document.get("Statement"))):
            if statement.get("Effect") != "Allow":
                continue
            label = statement.get("Sid") or f"#{index}"
            for rule, detail in audit_statement(policy, statement):
                findings.append(Finding(policy.address, policy.attribute, label, rule, detail))
    return findings


def audit(show: dict[str, Any]) -> list[Finding]:
    """Every finding in a `terraform show -json` document; an empty list is a clean audit."""
    findings = audit_documents(policy_documents(show))
    for resource in managed_resources(show):
        values = resource.get("values") or {}
        if resource["type"] in MANAGED_POLICY_ATTACHMENTS or values.get("managed_policy_arns"):
            findings.append(
                Finding(
                    resource["address"],
                    "policy_arn" if resource["type"] in MANAGED_POLICY_ATTACHMENTS else "managed_policy_arns",
                    "-",
                    "managed-policy",
                    "a managed policy's document is not in the state, so it cannot be audited: use an inline policy",
                )
            )
    return findings


def report(findings: list[Finding]) -> str:
    """The findings one to a line, for an assertion message or the terminal."""
    return "\n".join(["IAM audit findings:", *(f"  {finding}" for finding in findings)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("show_json", type=Path, help="output of `terraform show -json` (state or saved plan)")
    args = parser.parse_args(argv)
    show = json.loads(args.show_json.read_text())
    policies = policy_documents(show)
    findings = audit(show)
    print(f"{len(policies)} policy documents audited")
    if findings:
        print(report(findings))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
