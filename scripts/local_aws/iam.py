"""IAM, executed: every call the stack makes on a role's behalf is checked against that role's policies.

AWS services act with the credentials of a role they assumed: Step Functions with the state machine's role, a
Lambda function with its execution role, a SageMaker job or model with the role it was given, EventBridge with a
target's role (or, for a Lambda target, under the function's resource-based policy). The embedded AWS does the
same: `credentials()` hands a compute layer credentials for a role once the role's trust policy lets that
service assume it (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html, the trust
policy is a resource-based policy that must allow sts:AssumeRole itself), and every request signed with them is
checked before moto sees it:

- HTTP requests (Lambda code's boto3 calls, Step Functions task calls) by `gate()`, which parses the request into
  the actions, resources and condition keys AWS authorizes it with (local_aws.iam_requests);
- calls the embedded services make internally on a role's behalf (a training job reading its channels, a model
  reading its artifact, data capture writing to S3, EventBridge invoking a target) by `authorize()`.

The policies are the ones the stack applied (moto's IAM and resource backends: what Terraform rendered), and
local_aws.iam_policy evaluates them as AWS documents. A call they do not allow fails as AWS fails it: the
service's access-denied error (AccessDeniedException for the JSON protocols, AccessDenied for S3,
AuthorizationError for SNS) with AWS's message, "User: <session> is not authorized to perform: <action> on
resource: <arn> because no identity-based policy allows the <action> action"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html). Every check is recorded
(`calls`, and one JSON line each in `<work dir>/iam-calls.jsonl`) with its principal, action, resource and
decision, so a run can be audited afterwards.

Requests signed with any other credentials (Terraform, tests, people at a terminal) are the account's
administrator's and are not checked, as an administrator's would be allowed.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from local_aws.iam_policy import Decision, Policy, Principal, Request, UnsupportedPolicy, evaluate
from local_aws.iam_requests import ApiCall, Need, credential_scope, needs, parse_call

LOG = logging.getLogger(__name__)
ACCESS_KEY_PREFIX = "ASIALOCAL"  # temporary credentials start with ASIA on AWS


class AccessDenied(Exception):
    """A call its principal's policies do not allow; the message is AWS's wording."""

    def __init__(self, message: str, need: Need, principal: Principal) -> None:
        super().__init__(message)
        self.need, self.principal = need, principal


class RoleNotAssumable(AccessDenied):
    """The role's trust policy does not let the service assume it (or the role does not exist)."""


@dataclass(frozen=True)
class Session:
    """Credentials a service holds for a role it assumed."""

    principal: Principal
    service: str  # the service acting, e.g. states.amazonaws.com
    access_key_id: str
    secret_access_key: str
    session_token: str

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


class IamEnforcer:
    """Credentials for roles, and the check of every call made with them."""

    def __init__(self, work_dir: Path, account: str, region: str) -> None:
        self.account, self.region = account, region
        self.log_path = work_dir / "iam-calls.jsonl"
        self._sessions: dict[str, Session] = {}
        self._by_role: dict[tuple[str, str, str], Session] = {}
        self._lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text("")

    # -- principals ---------------------------------------------------------------------------------------------
    def credentials(self, role_arn: str, service: str, session_name: str, source_arn: str | None = None) -> Session:
        """Credentials `service` holds once it assumed `role_arn`; RoleNotAssumable if its trust policy refuses."""
        role = self._role(role_arn)
        name = role_arn.rsplit("/", 1)[-1]
        session_name = session_name[:64] or "session"
        principal = Principal(
            account=self.account,
            arn=role_arn,
            session_arn=f"arn:aws:sts::{self.account}:assumed-role/{name}/{session_name}",
        )
        try:
            trust: Policy | None = Policy.parse(
                f"the trust policy of role/{name}", role.assume_role_policy_document or "", "resource"
            )
        except ValueError:  # not JSON, or no Statement: nothing may assume the role
            trust = None
        context = {"aws:SourceAccount": self.account, **({"aws:SourceArn": source_arn} if source_arn else {})}
        request = Request(Principal(self.account, service=service), "sts:AssumeRole", role_arn, context)
        decision = Decision(False, f"role/{name} has no trust policy statement")
        if trust is not None:
            decision = evaluate(request, [], trust, resource_policy_required=True)
            # Step Functions also accepts its regional principal, states.<region>.amazonaws.com (see
            # local_aws.stepfunctions); other services have one global principal.
            regional = f"states.{self.region}.amazonaws.com"
            if not decision.allowed and service == "states.amazonaws.com":
                alternative = Request(Principal(self.account, service=regional), "sts:AssumeRole", role_arn, context)
                if (found := evaluate(alternative, [], trust, resource_policy_required=True)).allowed:
                    request, decision = alternative, found
        self._record(request, decision, via=service, role_arn=role_arn)
        if not decision.allowed:
            raise RoleNotAssumable(
                f"{service} cannot assume {role_arn}: {decision.reason}", Need("sts:AssumeRole", role_arn), principal
            )
        digest = hashlib.sha256(f"{role_arn}|{service}|{session_name}".encode()).hexdigest()
        key = (ACCESS_KEY_PREFIX + digest.upper())[:20]
        session = Session(principal, service, key, f"local-{digest[:32]}", f"local-session-{digest[32:48]}")
        with self._lock:
            self._sessions[key] = session
            self._by_role[(role_arn, service, session_name)] = session
        return session

    def cached_session(self, role_arn: str, service: str, session_name: str) -> Session:
        """The session a service already holds for the role (its trust was checked then), else a new one."""
        with self._lock:
            session = self._by_role.get((role_arn, service, session_name[:64] or "session"))
        return session or self.credentials(role_arn, service, session_name)

    def session(self, access_key_id: str) -> Session | None:
        with self._lock:
            return self._sessions.get(access_key_id)

    def _role(self, role_arn: str) -> Any:
        from moto.iam.models import iam_backends

        try:
            return iam_backends[self.account]["global"].get_role_by_arn(role_arn)
        except Exception:  # moto raises its own IAMNotFoundException
            principal = Principal(self.account, arn=role_arn)
            raise RoleNotAssumable(
                f"role {role_arn} does not exist", Need("sts:AssumeRole", role_arn), principal
            ) from None

    def identity_policies(self, role_arn: str) -> list[Policy]:
        """The role's inline and attached managed policies, as the stack applied them."""
        role = self._role(role_arn)
        name = role_arn.rsplit("/", 1)[-1]
        policies = [
            Policy.parse(f"role/{name} inline policy {policy_name}", document)
            for policy_name, document in sorted((role.policies or {}).items())
        ]
        for arn, managed in sorted((role.managed_policies or {}).items()):
            version = next((v for v in managed.versions if v.is_default), None)
            if version is not None:
                policies.append(Policy.parse(f"managed policy {arn}", version.document))
        return policies

    # -- authorization ------------------------------------------------------------------------------------------
    def authorize(self, session: Session, required: Iterable[Need], via: str | None = None) -> None:
        """Check each need against the session role's policies (and the resource's policy); AccessDenied if one
        is not allowed. Every check is recorded."""
        identity = self.identity_policies(session.principal.arn or "")
        for need in required:
            request = Request(
                session.principal, need.action, need.resource, {**self._global_context(session), **need.context}
            )
            try:
                decision = evaluate(request, identity, resource_policy(self.account, need.resource))
            except UnsupportedPolicy as error:
                decision = Decision(False, f"the embedded AWS cannot evaluate a policy: {error}")
            if not need.mapped and not decision.allowed:
                decision = Decision(
                    False,
                    f"{decision.reason} (the embedded AWS does not know which resource {need.action} acts on and "
                    "checked it on '*': add the call to local_aws/iam_requests.py)",
                )
            self._record(request, decision, via=via or session.service, role_arn=session.principal.arn)
            if not decision.allowed:
                raise AccessDenied(decision.denial_message(request), need, session.principal)

    def authorize_service(self, service: str, need: Need, source_arn: str) -> None:
        """A service acting under a resource-based policy alone (EventBridge invoking a Lambda function)."""
        principal = Principal(self.account, service=service)
        context = {"aws:SourceArn": source_arn, "aws:SourceAccount": self.account, **need.context}
        request = Request(principal, need.action, need.resource, context)
        decision = evaluate(request, [], resource_policy(self.account, need.resource), resource_policy_required=True)
        self._record(request, decision, via=service, role_arn=None)
        if not decision.allowed:
            raise AccessDenied(decision.denial_message(request), need, principal)

    def _global_context(self, session: Session) -> dict[str, Any]:
        # Global condition keys of a role session's request
        # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html). The embedded
        # AWS listens on plain HTTP on loopback, which stands in for AWS's TLS endpoints.
        principal = session.principal
        return {
            "aws:PrincipalArn": principal.arn,
            "aws:PrincipalAccount": principal.account,
            "aws:PrincipalType": "AssumedRole",
            "aws:SecureTransport": "true",
            "aws:userid": f"{principal.arn.rsplit('/', 1)[-1] if principal.arn else ''}:"
            f"{(principal.session_arn or '').rsplit('/', 1)[-1]}",
        }

    def _record(self, request: Request, decision: Decision, via: str, role_arn: str | None) -> None:
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "principal": request.principal.name,
            "role": role_arn,
            "via": via,
            "action": request.action,
            "resource": request.resource,
            "allowed": decision.allowed,
            "reason": decision.reason,
        }
        line = json.dumps(entry) + "\n"
        with self._lock:
            self.calls.append(entry)
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(line)
        if not decision.allowed:
            LOG.info(
                "IAM denied %s %s on %s: %s", request.principal.name, request.action, request.resource, decision.reason
            )

    def summary(self) -> dict[str, Any]:
        """What was checked: counts per role and action, and every denial."""
        with self._lock:
            calls = list(self.calls)
        return {
            "calls_checked": len(calls),
            "denied": [c for c in calls if not c["allowed"]],
            "by_role": dict(Counter(c["role"] or c["via"] for c in calls)),
            "by_action": dict(Counter(c["action"] for c in calls)),
        }

    # -- the HTTP gate ------------------------------------------------------------------------------------------
    def gate(self, environ: dict[str, Any]) -> tuple[int, dict[str, str], bytes] | None:
        """None to let the request through; a (status, headers, body) access-denied response otherwise."""
        scope = credential_scope(environ)
        if scope is None:
            return None
        access_key, region, signing_name = scope
        session = self.session(access_key)
        if session is None:
            return None
        body = b""
        if signing_name != "s3":  # S3 bodies can be large, and S3 is authorized by method and path alone
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
        call = parse_call(environ, body, region, signing_name)
        call.account = self.account
        try:
            self.authorize(session, needs(call), via=session.service)
        except AccessDenied as denied:
            return denied_response(call, signing_name, str(denied))
        return None


def resource_policy(account: str, arn: str) -> Policy | None:
    """The resource-based policy of the resource an ARN names, where the stack can set one (None: no policy)."""
    source, document = _resource_policy_document(account, arn)
    if not document:
        return None
    text = document.decode() if isinstance(document, bytes) else document
    if '"Statement"' not in text:  # moto answers an empty document for a function without permissions
        return None
    return Policy.parse(source, text, "resource")


def _resource_policy_document(account: str, arn: str) -> tuple[str, Any]:
    try:
        if arn.startswith("arn:aws:s3:::"):
            from moto.s3.models import s3_backends

            name = arn.removeprefix("arn:aws:s3:::").split("/", 1)[0]
            return f"the bucket policy of {name}", getattr(
                s3_backends[account]["global"].buckets.get(name), "policy", None
            )
        if arn.startswith("arn:aws:lambda:"):
            from moto.awslambda.models import lambda_backends

            region, function = arn.split(":")[3], arn.split(":")[6]
            wire = json.loads(lambda_backends[account][region].get_policy(function, None))  # {"Policy": "<json>"}
            return f"the resource policy of function {function}", wire.get("Policy")
        if arn.startswith("arn:aws:sqs:"):
            from moto.sqs.models import sqs_backends

            region, name = arn.split(":")[3], arn.split(":")[5]
            return f"the queue policy of {name}", getattr(
                sqs_backends[account][region].queues.get(name), "policy", None
            )
    except Exception:  # a resource that does not exist has no policy; the call itself then fails in moto
        LOG.debug("no resource policy for %s", arn, exc_info=True)
    return "", None


# -- access-denied responses, per protocol -------------------------------------------------------------------------
def denied_response(call: ApiCall, signing_name: str, message: str) -> tuple[int, dict[str, str], bytes]:
    """The error AWS answers an unauthorized request with, in the request's protocol.

    JSON protocols: AccessDeniedException, HTTP 400 (the services' Common Errors pages, e.g.
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/CommonErrors.html); Lambda and SageMaker Runtime
    (REST JSON) name the error in the x-amzn-ErrorType header; S3: AccessDenied, 403
    (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html); SNS (query): AuthorizationError, 403
    (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html).
    """
    if signing_name == "s3":
        body = f"<Error><Code>AccessDenied</Code><Message>{escape(message)}</Message></Error>"
        return 403, {"Content-Type": "application/xml"}, body.encode()
    if call.service == "sns" or ("x-amz-target" not in call.headers and call.service not in ("lambda", "sagemaker")):
        code = "AuthorizationError" if call.service == "sns" else "AccessDenied"
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
            "</Error><RequestId>local</RequestId></ErrorResponse>"
        )
        return 403, {"Content-Type": "text/xml"}, body.encode()
    headers = {"x-amzn-ErrorType": "AccessDeniedException"}
    if "x-amz-target" in call.headers:
        payload = {"__type": "AccessDeniedException", "message": message}
        return 400, {**headers, "Content-Type": "application/x-amz-json-1.1"}, json.dumps(payload).encode()
    return 403, {**headers, "Content-Type": "application/json"}, json.dumps({"message": message}).encode()


def install(ctx: Any) -> None:
    """Put the gate in front of moto's request dispatch (every service, one place)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    current = DomainDispatcherApplication.__call__
    moto_call = getattr(current, "_local_aws_original", current)

    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        enforcer = getattr(ctx, "iam", None)
        denied = enforcer.gate(environ) if enforcer is not None else None
        if denied is None:
            return moto_call(self, environ, start_response)
        status, headers, body = denied
        start_response(
            f"{status} {'Forbidden' if status == 403 else 'Bad Request'}",
            [*headers.items(), ("Content-Length", str(len(body)))],
        )
        return [body]

    __call__._local_aws_original = moto_call  # type: ignore[attr-defined]
    DomainDispatcherApplication.__call__ = __call__


def s3_need(action: str, uri_or_arn: str, context: Mapping[str, Any] | None = None) -> Need:
    """One S3 need from an s3:// URI (or an S3 ARN)."""
    arn = uri_or_arn if uri_or_arn.startswith("arn:") else "arn:aws:s3:::" + uri_or_arn.removeprefix("s3://")
    return Need(action, arn, dict(context or {}))
