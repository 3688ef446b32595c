"""The IAM audit's rules on hand-made `terraform show -json` documents: each rule reports what breaks it, and a
policy set like ours passes. Without these, a clean audit of the real stack could mean a blind auditor."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.terraform.iam_audit import RESOURCE_STAR_ACTIONS, audit, main, policy_documents

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/cv-sagemaker-execution"
QUEUE_ARN = f"arn:aws:sqs:eu-west-1:{ACCOUNT}:cv-human-review"
LAMBDA_TRUST = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}


def statement(**fields: Any) -> dict[str, Any]:
    return {"Effect": "Allow", **fields}


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def resource(address: str, values: dict[str, Any], mode: str = "managed") -> dict[str, Any]:
    resource_type, name = address.rsplit(".", 2)[-2:]
    return {"address": address, "mode": mode, "type": resource_type, "name": name, "values": values}


def show(*resources: dict[str, Any], module: str = "module.workflow") -> dict[str, Any]:
    """A state-form `terraform show -json`, the resources inside one child module as most of ours are."""
    return {
        "format_version": "1.0",
        "values": {
            "root_module": {
                "resources": [],
                "child_modules": [{"address": module, "resources": list(resources)}],
            }
        },
    }


def role_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    values = {"role": "cv-sfn", "policy": document(*statements)}
    return resource("module.workflow.aws_iam_role_policy.state_machine", values)


def trust(*statements: dict[str, Any]) -> dict[str, Any]:
    values = {"name": "cv-sfn", "assume_role_policy": document(*statements)}
    return resource("module.workflow.aws_iam_role.state_machine", values)


def queue_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return resource("module.workflow.aws_sqs_queue_policy.review", {"policy": document(*statements)})


SERVICE_TRUST = statement(
    Sid="StepFunctionsAssumeRole",
    Action="sts:AssumeRole",
    Principal={"Service": "states.amazonaws.com"},
    Condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}},
)


def clean_stack() -> dict[str, Any]:
    """Shaped like the real stack: scoped grants, the allowlisted "*" APIs, PassRole to SageMaker, a TLS Deny."""
    return show(
        trust(SERVICE_TRUST),
        role_policy(
            statement(
                Sid="InvokeFunctions",
                Action="lambda:InvokeFunction",
                Resource=[f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:cv-a"],
            ),
            statement(
                Sid="PassExecutionRoleToSageMaker",
                Action="iam:PassRole",
                Resource=ROLE_ARN,
                Condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
            statement(
                Sid="DeliverExecutionLogs", Action=["logs:CreateLogDelivery", "logs:DescribeLogGroups"], Resource="*"
            ),
            statement(Sid="SendTraces", Action=["xray:PutTraceSegments", "xray:GetSamplingTargets"], Resource="*"),
            statement(
                Sid="PublishMetrics",
                Action="cloudwatch:PutMetricData",
                Resource="*",
                Condition={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            ),
        ),
        resource(
            "module.workflow.aws_s3_bucket_policy.this",
            {
                "policy": document(
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Action": "s3:*",
                        "Principal": "*",
                        "Resource": ["arn:aws:s3:::cv-data", "arn:aws:s3:::cv-data/*"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                )
            },
        ),
        resource(
            "module.workflow.aws_sns_topic.notifications",
            {
                "policy": document(
                    statement(
                        Sid="__default_statement_ID",
                        Action=["SNS:Publish", "SNS:GetTopicAttributes"],
                        Principal={"AWS": "*"},
                        Resource=f"arn:aws:sns:eu-west-1:{ACCOUNT}:cv-notifications",
                        Condition={"StringEquals": {"AWS:SourceOwner": ACCOUNT}},
                    )
                ),
                # JSON "policies" that are not IAM documents are no concern of the audit.
                "delivery_policy": json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 3}}}),
            },
        ),
        resource(
            "module.workflow.aws_sqs_queue_redrive_policy.review",
            {
                "redrive_policy": json.dumps(
                    {"deadLetterTargetArn": "arn:aws:sqs:eu-west-1:1:dlq", "maxReceiveCount": 5}
                )
            },
        ),
        # A data source reads something the stack does not create (here a role anyone may assume): not ours.
        resource(
            "module.workflow.data.aws_iam_role.existing",
            {"name": "someone-elses", "assume_role_policy": document(statement(Action="*", Principal="*"))},
            mode="data",
        ),
    )


def rules(findings) -> list[tuple[str, str]]:
    return sorted((finding.statement, finding.rule) for finding in findings)


def test_a_stack_shaped_like_ours_passes():
    assert audit(clean_stack()) == []


def test_every_policy_document_is_found_and_classified():
    found = {(p.address, p.attribute): p.kind for p in policy_documents(clean_stack())}
    assert found == {
        ("module.workflow.aws_iam_role.state_machine", "assume_role_policy"): "trust",
        ("module.workflow.aws_iam_role_policy.state_machine", "policy"): "identity",
        ("module.workflow.aws_s3_bucket_policy.this", "policy"): "resource",
        ("module.workflow.aws_sns_topic.notifications", "policy"): "resource",
    }


def test_resources_of_nested_modules_and_the_root_are_walked():
    state = show(role_policy(statement(Sid="Everything", Action="*", Resource="*")), module="module.outer.module.inner")
    state["values"]["root_module"]["resources"].append(trust(statement(Action="sts:AssumeRole", Principal="*")))
    # Action "*" grants iam:PassRole too, with no condition.
    assert {finding.rule for finding in audit(state)} == {"wildcard-action", "resource-star", "pass-role", "trust"}


@pytest.mark.parametrize("action", ["*", "s3:*", "iam:*", "SageMaker:*"])
def test_a_wildcard_action_is_reported(action):
    findings = audit(show(role_policy(statement(Sid="TooBroad", Action=[action], Resource="arn:aws:s3:::cv-data/*"))))
    assert ("TooBroad", "wildcard-action") in rules(findings)


def test_a_wildcard_action_in_a_resource_policy_is_reported_too():
    findings = audit(
        show(queue_policy(statement(Action="sqs:*", Principal={"Service": "sns.amazonaws.com"}, Resource=QUEUE_ARN)))
    )
    assert rules(findings) == [("#0", "wildcard-action")]


def test_a_wildcard_in_a_deny_is_not_reported():
    deny = {"Sid": "DenyAll", "Effect": "Deny", "Action": "*", "Resource": "*", "NotResource": "x"}
    assert audit(show(role_policy(deny))) == []


def test_resource_star_outside_the_allowlist_is_reported_with_the_actions():
    findings = audit(
        show(role_policy(statement(Sid="ReadAnything", Action=["s3:GetObject", "xray:PutTraceSegments"], Resource="*")))
    )
    assert rules(findings) == [("ReadAnything", "resource-star")]
    assert "s3:GetObject" in findings[0].detail
    assert "xray:PutTraceSegments" not in findings[0].detail


def test_resource_star_in_a_resource_policy_is_not_an_identity_finding():
    # In a KMS key policy "*" means this key; bucket, queue and topic policies name themselves.
    key_policy = resource(
        "module.workflow.aws_kms_key.this",
        {
            "policy": document(
                statement(Sid="KeyUsers", Action=["kms:Decrypt"], Principal={"AWS": ROLE_ARN}, Resource="*")
            )
        },
    )
    assert audit(show(key_policy)) == []


def test_pass_role_without_passed_to_service_is_reported():
    findings = audit(show(role_policy(statement(Sid="Pass", Action="iam:PassRole", Resource=ROLE_ARN))))
    assert rules(findings) == [("Pass", "pass-role")]
    assert "iam:PassedToService" in findings[0].detail


@pytest.mark.parametrize("resource_arn", ["*", f"arn:aws:iam::{ACCOUNT}:role/*"])
def test_pass_role_on_every_role_is_reported_even_with_the_condition(resource_arn):
    condition = {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    findings = audit(
        show(role_policy(statement(Sid="Pass", Action="iam:PassRole", Resource=resource_arn, Condition=condition)))
    )
    assert ("Pass", "pass-role") in rules(findings)


def test_pass_role_granted_through_a_pattern_is_checked_too():
    findings = audit(show(role_policy(statement(Sid="Pass", Action="iam:Pass*", Resource=ROLE_ARN))))
    assert rules(findings) == [("Pass", "pass-role")]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("NotAction", "iam:*"),
        ("NotResource", "arn:aws:s3:::cv-secrets/*"),
        ("NotPrincipal", {"AWS": ROLE_ARN}),
    ],
)
def test_not_elements_in_an_allow_are_reported(key, value):
    grant = statement(Sid="AllBut", **{key: value}, Resource="arn:aws:s3:::cv-data/*", Action="s3:GetObject")
    findings = audit(show(role_policy(grant)))
    assert ("AllBut", "not-in-allow") in rules(findings)


@pytest.mark.parametrize(
    ("principal", "action"),
    [
        ("*", "sts:AssumeRole"),
        ({"AWS": "*"}, "sts:AssumeRole"),
        ({"AWS": "arn:aws:iam::999999999999:user/someone"}, "sts:AssumeRole"),
        ({"Federated": "cognito-identity.amazonaws.com"}, "sts:AssumeRole"),
        ({"Service": "lambda.amazonaws.com"}, "sts:AssumeRoleWithWebIdentity"),
        ({"Service": "lambda.amazonaws.com"}, ["sts:AssumeRole", "sts:TagSession"]),
        (None, "sts:AssumeRole"),
    ],
)
def test_a_trust_policy_admits_only_services_or_the_account_to_assume_role(principal, action):
    grant = statement(Sid="Trust", Action=action, **({"Principal": principal} if principal else {}))
    assert ("Trust", "trust") in rules(audit(show(trust(grant))))


@pytest.mark.parametrize("principal", [{"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, {"AWS": ACCOUNT}])
def test_the_account_itself_may_be_trusted(principal):
    assert audit(show(trust(statement(Action="sts:AssumeRole", Principal=principal)))) == []


def test_a_resource_policy_open_to_everyone_without_a_condition_is_reported():
    findings = audit(
        show(queue_policy(statement(Sid="Open", Action="sqs:SendMessage", Principal="*", Resource=QUEUE_ARN)))
    )
    assert rules(findings) == [("Open", "principal")]


def test_a_resource_policy_allow_without_a_principal_is_reported():
    findings = audit(show(queue_policy(statement(Sid="Nobody", Action="sqs:SendMessage", Resource=QUEUE_ARN))))
    assert rules(findings) == [("Nobody", "principal")]


def test_a_role_inline_policy_is_audited_as_an_identity_policy():
    role = resource(
        "module.workflow.aws_iam_role.this",
        {
            "name": "cv-fn",
            "assume_role_policy": document(LAMBDA_TRUST),
            "inline_policy": [
                {"name": "extra", "policy": document(statement(Sid="Read", Action="s3:GetObject", Resource="*"))}
            ],
        },
    )
    findings = audit(show(role))
    assert [(f.attribute, f.statement, f.rule) for f in findings] == [
        ("inline_policy[0].policy", "Read", "resource-star")
    ]


def test_attached_managed_policies_are_reported_because_they_cannot_be_audited():
    attachment = resource(
        "module.workflow.aws_iam_role_policy_attachment.admin",
        {"role": "cv-fn", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"},
    )
    role = resource(
        "module.workflow.aws_iam_role.this",
        {
            "name": "cv-fn",
            "assume_role_policy": document(LAMBDA_TRUST),
            "managed_policy_arns": ["arn:aws:iam::aws:policy/AmazonS3FullAccess"],
        },
    )
    assert sorted((f.address, f.rule) for f in audit(show(attachment, role))) == [
        ("module.workflow.aws_iam_role.this", "managed-policy"),
        ("module.workflow.aws_iam_role_policy_attachment.admin", "managed-policy"),
    ]


def test_a_finding_reads_as_resource_statement_rule_and_reason():
    (finding,) = audit(show(role_policy(statement(Action="s3:*", Resource="arn:aws:s3:::cv-data/*"))))
    assert (
        str(finding) == "module.workflow.aws_iam_role_policy.state_machine.policy [#0] wildcard-action: Action 's3:*'"
    )


def test_the_command_line_exits_non_zero_and_prints_each_finding(tmp_path, capsys):
    path = tmp_path / "terraform-show.json"
    path.write_text(json.dumps(show(role_policy(statement(Sid="TooBroad", Action="*", Resource="*")))))
    assert main([str(path)]) == 1
    out = capsys.readouterr().out
    assert "[TooBroad] wildcard-action" in out
    assert "[TooBroad] resource-star" in out

    path.write_text(json.dumps(clean_stack()))
    assert main([str(path)]) == 0
    assert "4 policy documents audited" in capsys.readouterr().out


def test_the_resource_star_exceptions_are_the_ones_the_terraform_readme_lists():
    readme = (Path(__file__).resolve().parents[2] / "terraform" / "README.md").read_text()
    section = readme.split("## Security: IAM", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("| `")]
    listed = {
        action.lower() for line in table for action in re.findall(r"`([a-z0-9-]+:[A-Za-z]+)`", line.split("|")[1])
    }
    assert listed == set(RESOURCE_STAR_ACTIONS)
    assert all(reason for reason in RESOURCE_STAR_ACTIONS.values())
