"""The embedded AWS's IAM evaluation (local_aws.iam_policy) against the rules AWS documents.

Each case is a rule from the IAM User Guide's pages on policy evaluation, elements and condition operators; a
wrong evaluation would let a policy through that real AWS refuses (or the other way round).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from local_aws.iam_policy import Policy, Principal, Request, UnsupportedPolicy, evaluate, wildcard_match

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/cv-sfn"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/cv-sfn/StepFunctions"
CALLER = Principal(ACCOUNT, arn=ROLE, session_arn=SESSION)
JOB = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:training-job/cv-pytorch-1"


def policy(*statements: dict, kind: str = "identity") -> Policy:
    return Policy.parse("test policy", {"Version": "2012-10-17", "Statement": list(statements)}, kind)


def allow(action: object = "sagemaker:CreateTrainingJob", resource: object = JOB, **extra: object) -> dict:
    return {"Sid": "Granted", "Effect": "Allow", "Action": action, "Resource": resource, **extra}


def request(action: str = "sagemaker:CreateTrainingJob", resource: str = JOB, **context: object) -> Request:
    return Request(CALLER, action, resource, context)


def test_an_action_no_policy_allows_is_implicitly_denied_with_awss_message():
    decision = evaluate(request("sagemaker:AddTags"), [policy(allow())])
    assert not decision.allowed
    assert not decision.explicit_deny
    assert decision.denial_message(request("sagemaker:AddTags")) == (
        f"User: {SESSION} is not authorized to perform: sagemaker:AddTags on resource: {JOB} "
        "because no identity-based policy allows the sagemaker:AddTags action"
    )


def test_an_explicit_deny_wins_over_any_allow():
    deny = {"Effect": "Deny", "Action": "sagemaker:*", "Resource": "*"}
    decision = evaluate(request(), [policy(allow()), policy(deny)])
    assert not decision.allowed
    assert decision.explicit_deny
    assert "explicit deny in an identity-based policy" in decision.reason


def test_actions_compare_case_insensitively_and_resources_case_sensitively():
    assert evaluate(request(), [policy(allow(action="SageMaker:createtrainingjob"))]).allowed
    assert not evaluate(request(resource=JOB.upper().replace("ARN:AWS", "arn:aws")), [policy(allow())]).allowed


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("arn:aws:s3:::cv-data/datasets/*", "arn:aws:s3:::cv-data/datasets/v1/train/a.png", True),
        ("arn:aws:s3:::cv-data/datasets/*", "arn:aws:s3:::cv-data/models/a", False),
        ("training-job/cv-?", "training-job/cv-1", True),
        ("training-job/cv-?", "training-job/cv-12", False),
        ("bucket[1]", "bucket[1]", True),  # brackets are literal in IAM, unlike shell globs
        ("bucket[1]", "bucket1", False),
        ("*", "", True),
    ],
)
def test_wildcards_are_star_and_question_mark_only(pattern, value, matches):
    assert wildcard_match(pattern, value) is matches


@given(st.text(alphabet=st.characters(blacklist_characters="*?"), max_size=30), st.text(max_size=30))
def test_a_pattern_without_wildcards_matches_only_itself(pattern, value):
    assert wildcard_match(pattern, value) is (pattern == value)


def test_not_action_and_not_resource_grant_everything_outside_their_lists():
    statement = {"Effect": "Allow", "NotAction": "iam:*", "NotResource": f"arn:aws:sagemaker:*:{ACCOUNT}:model/*"}
    assert evaluate(request(), [policy(statement)]).allowed
    assert not evaluate(request("iam:PassRole", ROLE), [policy(statement)]).allowed
    assert not evaluate(request(resource=f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model/m"), [policy(statement)]).allowed


def test_string_like_on_the_s3_prefix_a_list_request_gives():
    statement = allow("s3:ListBucket", "arn:aws:s3:::cv-data", Condition={"StringLike": {"s3:prefix": ["datasets/*"]}})
    listing = "arn:aws:s3:::cv-data"
    assert evaluate(request("s3:ListBucket", listing, **{"s3:prefix": "datasets/v1/"}), [policy(statement)]).allowed
    assert not evaluate(request("s3:ListBucket", listing, **{"s3:prefix": "models/"}), [policy(statement)]).allowed
    # No prefix in the request: the key is absent and the condition is false.
    assert not evaluate(request("s3:ListBucket", listing), [policy(statement)]).allowed


def test_condition_keys_compare_case_insensitively():
    statement = allow(Condition={"StringEquals": {"IAM:PassedToService": "sagemaker.amazonaws.com"}})
    assert evaluate(request(**{"iam:passedtoservice": "sagemaker.amazonaws.com"}), [policy(statement)]).allowed


def test_several_values_are_alternatives_and_several_keys_or_operators_all_apply():
    statement = allow(
        Condition={
            "StringEquals": {
                "aws:SourceAccount": ACCOUNT,
                "iam:PassedToService": ["glue.amazonaws.com", "sagemaker.amazonaws.com"],
            },
            "Bool": {"aws:SecureTransport": "true"},
        }
    )
    context = {
        "aws:SourceAccount": ACCOUNT,
        "iam:PassedToService": "sagemaker.amazonaws.com",
        "aws:SecureTransport": "true",
    }
    assert evaluate(request(**context), [policy(statement)]).allowed
    assert not evaluate(request(**{**context, "aws:SecureTransport": "false"}), [policy(statement)]).allowed
    assert not evaluate(request(**{**context, "aws:SourceAccount": "999999999999"}), [policy(statement)]).allowed


def test_a_negated_operator_holds_when_the_key_is_absent_and_if_exists_makes_any_operator_hold():
    negated = allow(Condition={"StringNotEquals": {"aws:RequestTag/env": "prod"}})
    assert evaluate(request(), [policy(negated)]).allowed
    assert not evaluate(request(**{"aws:RequestTag/env": "prod"}), [policy(negated)]).allowed
    if_exists = allow(Condition={"StringEqualsIfExists": {"aws:RequestTag/env": "dev"}})
    assert evaluate(request(), [policy(if_exists)]).allowed
    assert not evaluate(request(**{"aws:RequestTag/env": "prod"}), [policy(if_exists)]).allowed


def test_for_all_values_holds_without_the_key_and_for_any_value_does_not():
    only_managed = allow(
        "sagemaker:AddTags", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["MANAGED_BY_AWS"]}}
    )
    assert evaluate(request("sagemaker:AddTags", **{"aws:TagKeys": ["MANAGED_BY_AWS"]}), [policy(only_managed)]).allowed
    assert not evaluate(
        request("sagemaker:AddTags", **{"aws:TagKeys": ["MANAGED_BY_AWS", "owner"]}), [policy(only_managed)]
    ).allowed
    assert evaluate(request("sagemaker:AddTags"), [policy(only_managed)]).allowed
    any_owner = allow("sagemaker:AddTags", Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["owner"]}})
    assert not evaluate(request("sagemaker:AddTags"), [policy(any_owner)]).allowed
    assert evaluate(request("sagemaker:AddTags", **{"aws:TagKeys": ["a", "owner"]}), [policy(any_owner)]).allowed


def test_null_and_numeric_operators():
    needs_key = allow(Condition={"Null": {"sagemaker:VolumeKmsKey": "false"}})
    assert not evaluate(request(), [policy(needs_key)]).allowed
    assert evaluate(request(**{"sagemaker:VolumeKmsKey": "arn:aws:kms:k"}), [policy(needs_key)]).allowed
    short_jobs = allow(Condition={"NumericLessThanEquals": {"sagemaker:MaxRuntimeInSeconds": "3600"}})
    assert evaluate(request(**{"sagemaker:MaxRuntimeInSeconds": "600"}), [policy(short_jobs)]).allowed
    assert not evaluate(request(**{"sagemaker:MaxRuntimeInSeconds": "86400"}), [policy(short_jobs)]).allowed


def test_policy_variables_are_replaced_from_the_request():
    own_prefix = allow("s3:GetObject", "arn:aws:s3:::cv-data/${aws:PrincipalAccount}/*")
    assert evaluate(
        request("s3:GetObject", f"arn:aws:s3:::cv-data/{ACCOUNT}/a", **{"aws:PrincipalAccount": ACCOUNT}),
        [policy(own_prefix)],
    ).allowed
    assert not evaluate(
        request("s3:GetObject", "arn:aws:s3:::cv-data/${aws:PrincipalAccount}/a"), [policy(own_prefix)]
    ).allowed


def test_a_resource_policy_that_names_the_caller_allows_within_the_account():
    bucket_policy = policy(
        {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::cv-data/*"},
        kind="resource",
    )
    assert evaluate(request("s3:GetObject", "arn:aws:s3:::cv-data/a"), [], bucket_policy).allowed
    other = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"},
            "Action": "s3:*",
            "Resource": "*",
        },
        kind="resource",
    )
    assert not evaluate(request("s3:GetObject", "arn:aws:s3:::cv-data/a"), [], other).allowed


def test_a_resource_policys_deny_applies_to_every_principal_it_names():
    tls_only = policy(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        kind="resource",
    )
    grant = policy(allow("s3:GetObject", "*"))
    assert not evaluate(
        request("s3:GetObject", "arn:aws:s3:::b/k", **{"aws:SecureTransport": "false"}), [grant], tls_only
    ).allowed
    assert evaluate(
        request("s3:GetObject", "arn:aws:s3:::b/k", **{"aws:SecureTransport": "true"}), [grant], tls_only
    ).allowed


def test_a_trust_policy_must_allow_the_service_itself():
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "states.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        },
        kind="resource",
    )
    states = Principal(ACCOUNT, service="states.amazonaws.com")
    lambda_service = Principal(ACCOUNT, service="lambda.amazonaws.com")
    assume = {"aws:SourceAccount": ACCOUNT}
    assert evaluate(Request(states, "sts:AssumeRole", ROLE, assume), [], trust, resource_policy_required=True).allowed
    assert not evaluate(
        Request(lambda_service, "sts:AssumeRole", ROLE, assume), [], trust, resource_policy_required=True
    ).allowed
    other_account = {"aws:SourceAccount": "999999999999"}
    assert not evaluate(
        Request(states, "sts:AssumeRole", ROLE, other_account), [], trust, resource_policy_required=True
    ).allowed


@pytest.mark.parametrize("operator", ["DateLessThan", "IpAddress", "BinaryEquals", "ForEveryValue:StringEquals"])
def test_an_operator_the_evaluator_lacks_is_refused_by_name(operator):
    with pytest.raises(UnsupportedPolicy, match=operator.split(":")[0]):
        evaluate(request(), [policy(allow(Condition={operator: {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}))])
