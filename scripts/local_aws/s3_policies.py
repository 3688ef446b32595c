"""S3 bucket policies evaluated with a request context, as S3 does.

moto evaluates a bucket policy with no request context and knows only the `StringEquals` operator: every other
condition is ignored, so our TLS-only statement (Deny when `Bool aws:SecureTransport` is false) denies every
request. Here `Bool` conditions on the keys of the request context are resolved first: a statement whose `Bool`
condition does not hold is dropped, one whose condition holds loses that condition, and moto evaluates what is
left as before. The embedded AWS listens on loopback only, which stands in for the TLS of AWS's endpoints, so its
requests carry `aws:SecureTransport = true`.
"""

from __future__ import annotations

import json
from typing import Any

REQUEST_CONTEXT = {"aws:securetransport": "true"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def resolve_request_context(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy with `Bool` conditions on request-context keys decided."""
    statements = []
    for statement in _as_list(policy.get("Statement", [])):
        conditions = dict(statement.get("Condition") or {})
        boolean = dict(conditions.get("Bool") or {})
        holds = True
        for key in [k for k in boolean if k.lower() in REQUEST_CONTEXT]:
            expected = [str(v).lower() for v in _as_list(boolean.pop(key))]
            holds = holds and REQUEST_CONTEXT[key.lower()] in expected
        if not holds:
            continue
        if boolean:
            conditions["Bool"] = boolean
        else:
            conditions.pop("Bool", None)
        statements.append(
            {**statement, "Condition": conditions}
            if conditions
            else {k: v for k, v in statement.items() if k != "Condition"}
        )
    return {**policy, "Statement": statements}


def install(ctx: Any) -> None:
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = resolve_request_context(json.loads(self.policy.decode()))
        return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission
