"""IAM policy evaluation for the embedded AWS: may this principal make this request?

It follows AWS's documented evaluation logic for a request within one account, with no SCPs, permission
boundaries or session policies (the stack uses none), and fails loudly on what it does not implement:

- Policy evaluation logic (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
  an explicit Deny in any applicable policy wins; otherwise an Allow in the principal's identity-based policies,
  or in the resource's resource-based policy for that principal, allows; otherwise the request is implicitly
  denied. A role's trust policy (and a KMS key policy) must allow the request itself: an identity-based Allow is
  not enough for them (`resource_policy_required`).
- Action, Resource and Principal elements
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html, ..._resource.html):
  `*` matches any run of characters and `?` any one character; actions compare case-insensitively, resources
  case-sensitively; NotAction/NotResource match everything but the list.
- Condition operators
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
  String*, Numeric*, Bool, Arn*, Null and the ...IfExists suffix; a key absent from the request makes a
  condition false, except for negated operators (StringNotEquals, ArnNotLike, ...), which are then true.
  ForAnyValue/ForAllValues over multivalued keys as in
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
  (ForAllValues is true when the key is absent; ForAnyValue false). Several operators, several keys in one
  operator: all must hold; several values for one key: any may match.
- Policy variables (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html):
  `${key}` in Resource and in condition values is replaced by the request's value; a variable whose key the
  request lacks makes that value match nothing. The literal-character variables `${*}`, `${?}`, `${$}` are not
  supported.

Date, IP address and binary operators, and NotPrincipal, raise UnsupportedPolicy: a policy that uses them is not
silently read as allowing or denying.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

ContextValue = str | list[str]


class UnsupportedPolicy(ValueError):
    """The policy uses an element or operator this evaluator does not implement."""


@dataclass(frozen=True)
class Principal:
    """Who makes the request: a role session (`arn`, the role's ARN) or an AWS service (`service`)."""

    account: str
    arn: str | None = None  # the role's ARN, e.g. arn:aws:iam::123456789012:role/name
    session_arn: str | None = None  # arn:aws:sts::123456789012:assumed-role/name/session
    service: str | None = None  # e.g. events.amazonaws.com

    @property
    def name(self) -> str:
        """How AWS names the caller in an access-denied message."""
        return self.session_arn or self.arn or self.service or self.account


@dataclass(frozen=True)
class Request:
    """One authorization request: principal, action (`service:Name`), resource ARN and condition context."""

    principal: Principal
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    """A policy document and where it came from (named in decisions and denial messages)."""

    source: str  # e.g. "role/cv-sfn inline policy cv-permissions"
    document: Mapping[str, Any]
    kind: str = "identity"  # "identity" or "resource"

    @classmethod
    def parse(cls, source: str, text: str | Mapping[str, Any], kind: str = "identity") -> Policy:
        document = _parse_document(text) if isinstance(text, str) else text
        if not isinstance(document, Mapping) or "Statement" not in document:
            raise UnsupportedPolicy(f"{source}: not a policy document (no Statement)")
        return cls(source, document, kind)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # "allowed by ...", "explicit deny in ...", "no identity-based policy allows ..."
    explicit_deny: bool = False

    def denial_message(self, request: Request) -> str:
        """AWS's wording (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html)."""
        return (
            f"User: {request.principal.name} is not authorized to perform: {request.action} on resource: "
            f"{request.resource} because {self.reason}"
        )


@lru_cache(maxsize=512)
def _parse_document(text: str) -> Any:
    return json.loads(text)


def evaluate(
    request: Request,
    identity_policies: Iterable[Policy],
    resource_policy: Policy | None = None,
    resource_policy_required: bool = False,
) -> Decision:
    """The decision for one request (same account: either an identity or a resource-based Allow suffices)."""
    identity = list(identity_policies)
    policies = identity + ([resource_policy] if resource_policy is not None else [])
    for policy in policies:
        for sid in _matching(policy, request, "Deny"):
            where = "an identity-based policy" if policy.kind == "identity" else "a resource-based policy"
            return Decision(False, f"of an explicit deny in {where} ({policy.source} {sid})", explicit_deny=True)
    if not resource_policy_required:
        for policy in identity:
            for sid in _matching(policy, request, "Allow"):
                return Decision(True, f"allowed by {policy.source} {sid}")
    if resource_policy is not None:
        for sid in _matching(resource_policy, request, "Allow"):
            return Decision(True, f"allowed by {resource_policy.source} {sid}")
    if resource_policy_required:
        return Decision(False, f"no resource-based policy allows the {request.action} action")
    return Decision(False, f"no identity-based policy allows the {request.action} action")


def _statements(policy: Policy) -> list[Mapping[str, Any]]:
    statements = policy.document["Statement"]
    return list(statements) if isinstance(statements, list) else [statements]


def _matching(policy: Policy, request: Request, effect: str) -> Iterable[str]:
    """The labels (Sid or #index) of the policy's statements with this effect that apply to the request."""
    for index, statement in enumerate(_statements(policy)):
        if statement.get("Effect") != effect:
            continue
        if "NotPrincipal" in statement:
            raise UnsupportedPolicy(f"{policy.source}: NotPrincipal is not supported")
        if policy.kind == "resource" and not _principal_matches(statement.get("Principal"), request.principal):
            continue
        if not _element_matches(statement, "Action", request.action, request.context, case_sensitive=False):
            continue
        if ("Resource" in statement or "NotResource" in statement) and not _element_matches(
            statement, "Resource", request.resource, request.context, case_sensitive=True
        ):
            continue
        if not conditions_hold(statement.get("Condition") or {}, request.context):
            continue
        yield f"[{statement.get('Sid') or f'#{index}'}]"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _element_matches(
    statement: Mapping[str, Any], element: str, value: str, context: Mapping[str, ContextValue], case_sensitive: bool
) -> bool:
    negated = f"Not{element}"
    patterns = _as_list(statement.get(element if element in statement else negated))
    matched = any(wildcard_match(_substitute(str(p), context), value, case_sensitive) for p in patterns)
    return not matched if negated in statement else matched


def _principal_matches(principal: Any, who: Principal) -> bool:
    """A resource policy's Principal: "*", an AWS account/role/session (role callers), or a service principal."""
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    if who.service is not None:
        return who.service in _as_list(principal.get("Service"))
    named = {who.arn, who.session_arn, who.account, f"arn:aws:iam::{who.account}:root", "*"}
    return any(value in named for value in _as_list(principal.get("AWS")))


@lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    # Only * and ? are special in IAM; everything else (brackets included) is literal.
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, 0 if case_sensitive else re.IGNORECASE | re.DOTALL)


def wildcard_match(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    """IAM's `*` / `?` matching of a whole value."""
    return _wildcard_regex(pattern, case_sensitive).fullmatch(value) is not None


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_UNRESOLVED = "\x00unresolved\x00"  # matches no request value


def _substitute(text: str, context: Mapping[str, ContextValue]) -> str:
    if "${" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key in ("*", "?", "$"):
            raise UnsupportedPolicy(f"the literal-character variable ${{{key}}} is not supported")
        value = _lookup(context, key)
        return value[0] if value and len(value) == 1 else _UNRESOLVED

    return _VARIABLE.sub(replace, text)


def _lookup(context: Mapping[str, ContextValue], key: str) -> list[str] | None:
    """Condition keys compare case-insensitively; tag keys after the '/' are case-sensitive (docs: global keys)."""
    wanted = key.lower()
    for name, value in context.items():
        if name.lower() == wanted:
            return [str(v) for v in _as_list(value)]
    return None


# -- condition operators -------------------------------------------------------------------------------------------
def _string(a: str, b: str) -> bool:
    return a == b


def _string_ignore_case(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def _string_like(request_value: str, policy_value: str) -> bool:
    return wildcard_match(policy_value, request_value, case_sensitive=True)


def _numeric(compare: Any) -> Any:
    def check(request_value: str, policy_value: str) -> bool:
        try:
            return compare(float(request_value), float(policy_value))
        except ValueError:
            return False

    return check


def _bool(request_value: str, policy_value: str) -> bool:
    return request_value.lower() == policy_value.lower()


# name -> (comparison of one request value with one policy value, negated)
OPERATORS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (_string, False),
    "StringNotEquals": (_string, True),
    "StringEqualsIgnoreCase": (_string_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "NumericEquals": (_numeric(lambda a, b: a == b), False),
    "NumericNotEquals": (_numeric(lambda a, b: a == b), True),
    "NumericLessThan": (_numeric(lambda a, b: a < b), False),
    "NumericLessThanEquals": (_numeric(lambda a, b: a <= b), False),
    "NumericGreaterThan": (_numeric(lambda a, b: a > b), False),
    "NumericGreaterThanEquals": (_numeric(lambda a, b: a >= b), False),
    "Bool": (_bool, False),
    # ArnEquals and ArnLike behave alike: both take wildcards in each ARN segment.
    "ArnEquals": (_string_like, False),
    "ArnLike": (_string_like, False),
    "ArnNotEquals": (_string_like, True),
    "ArnNotLike": (_string_like, True),
}


def conditions_hold(condition: Mapping[str, Any], context: Mapping[str, ContextValue]) -> bool:
    """Whether every operator block of a Condition element holds for this request context."""
    for operator, keys in condition.items():
        if not isinstance(keys, Mapping):
            raise UnsupportedPolicy(f"condition operator {operator} must map keys to values")
        for key, policy_values in keys.items():
            if not _holds(operator, key, [str(v) for v in _as_list(policy_values)], context):
                return False
    return True


def _holds(operator: str, key: str, policy_values: list[str], context: Mapping[str, ContextValue]) -> bool:
    request_values = _lookup(context, key)
    qualifier, _, name = operator.rpartition(":")
    if name == "Null":
        wants_absent = policy_values[0].lower() == "true" if policy_values else True
        return (request_values is None) == wants_absent
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    if name not in OPERATORS:
        raise UnsupportedPolicy(f"condition operator {operator} is not supported by the embedded AWS")
    compare, negated = OPERATORS[name]
    values = [_substitute(v, context) for v in policy_values]

    def matches(request_value: str) -> bool:
        return any(compare(request_value, value) for value in values)

    if qualifier == "ForAllValues":
        if not request_values:
            return True
        return all((not matches(v)) if negated else matches(v) for v in request_values)
    if qualifier == "ForAnyValue":
        if not request_values:
            return False
        return any((not matches(v)) if negated else matches(v) for v in request_values)
    if qualifier:
        raise UnsupportedPolicy(f"condition set operator {qualifier} is not supported")
    if request_values is None:
        return if_exists or negated
    if negated:
        return not any(matches(v) for v in request_values)
    return any(matches(v) for v in request_values)
