"""Lambda function URLs served by the embedded AWS, the way Lambda serves them (moto only stores their config).

A function URL is `https://<url-id>.lambda-url.<region>.on.aws`; the embedded AWS cannot answer that host, so
CreateFunctionUrlConfig hands out `http://127.0.0.1:<port>/lambda-url/<url-id>/` instead, and requests under
that path are served here, before moto's dispatch:

- AWS_IAM auth (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html): every request must be signed with
  SigV4 for the service `lambda` and the function's region, and Lambda "processes the request only if the
  signatures match" (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html). The signature is
  recomputed with botocore's SigV4 signer over the headers the request names in SignedHeaders, with the secret
  of its access key (the embedded AWS's static key, or a key its IAM or STS made); a request signed more than 5
  minutes away from now is refused, as SigV4 requires
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html). Unsigned, wrongly signed,
  unknown-key or expired requests get 403 and the function does not run. The docs give no response body for
  these; the embedded AWS answers `{"Message": "Forbidden"}` plus a reason. Whether the caller's policies grant
  lambda:InvokeFunctionUrl (and, for URLs created since October 2025, lambda:InvokeFunction) is for the
  embedded AWS's IAM layer to decide; without one, every correctly signed request is allowed.
- NONE auth (same page, "Using the NONE auth type"): Lambda authenticates nothing, but "your function's
  resource-based policy is always in effect and must grant public access": since October 2025 both
  lambda:InvokeFunctionUrl (condition lambda:FunctionUrlAuthType = NONE) and lambda:InvokeFunction (condition
  lambda:InvokedViaFunctionUrl = true). Each request is evaluated against the function's policy (as stored by
  AddPermission, whose FunctionUrlAuthType and InvokedViaFunctionUrl parameters become those conditions:
  https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html); a request neither allows is refused
  with 403 and the function does not run. The event then has no `authorizer` (nothing was authenticated).
- The event is payload format 2.0 (version, routeKey `$default`, rawPath, rawQueryString, cookies, headers with
  lower-case names and repeated ones comma-joined, queryStringParameters, requestContext with accountId, apiId,
  authorizer.iam, domainName, domainPrefix, http, requestId, time, timeEpoch; body, base64-encoded with
  `isBase64Encoded` when the content is not text), and the function's answer is mapped back: a `statusCode`
  object gives status, headers, body (decoded when `isBase64Encoded`) and cookies (`set-cookie`); any other JSON
  is a 200 `application/json` body (urls-invocation.html, "Request and response payloads").
- The invocation payload is limited to 6 MB for a synchronous request
  (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html): a larger event is refused with 413
  before the function runs (the status Lambda answers function URL callers; the docs name no body).
- A function error (an unhandled exception, a crash, a timeout) is answered 502 `Internal Server Error`; the
  docs do not describe this answer, it is what function URLs return for an errored invocation.
"""

from __future__ import annotations

import base64
import datetime
import hmac
import json
import logging
import re
import uuid
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote

LOG = logging.getLogger(__name__)
PATH_PREFIX = "/lambda-url/"
MAX_EVENT_BYTES = 6 * 1024 * 1024  # 6 MB synchronous invocation payload
MAX_CLOCK_SKEW = datetime.timedelta(minutes=5)
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "application/x-www-form")
STATIC_CREDENTIALS = {"local": "local"}  # what scripts/local_aws hands to every client (LocalAws.client)


class Refused(Exception):
    """A request Lambda would not pass to the function: the status, and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def secret_for(access_key: str, account: str) -> str | None:
    """The secret of an access key the embedded AWS knows: its static key, or one its IAM/STS created."""
    if access_key in STATIC_CREDENTIALS:
        return STATIC_CREDENTIALS[access_key]
    from moto.iam.models import iam_backends

    for partition in ("aws", "aws-cn", "aws-us-gov"):
        key = iam_backends[account][partition].access_keys.get(access_key)
        if key is not None:
            return key.secret_access_key
    return None


def verify_signature(
    method: str, url: str, headers: dict[str, str], body: bytes, region: str, account: str, now: datetime.datetime
) -> str:
    """The caller's access key, if the request carries a valid SigV4 signature for lambda in `region`."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    match = _AUTHORIZATION.match(headers.get("authorization", ""))
    if match is None:
        raise Refused(403, "Forbidden: the request is not signed with AWS Signature Version 4")
    if match["service"] != "lambda" or match["region"] != region:
        raise Refused(403, f"Forbidden: the credential must be scoped to lambda in {region}")
    stamp = headers.get("x-amz-date", "")
    try:
        signed_at = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        raise Refused(403, "Forbidden: X-Amz-Date is missing or malformed") from None
    if abs(now - signed_at) > MAX_CLOCK_SKEW or stamp[:8] != match["date"]:
        raise Refused(403, "Forbidden: Signature expired (or its date does not match X-Amz-Date)")
    secret = secret_for(match["key"], account)
    if secret is None:
        raise Refused(403, "Forbidden: The security token included in the request is invalid")
    signed = match["signed"].split(";")
    if "host" not in signed:
        raise Refused(403, "Forbidden: the host header must be signed")
    request = AWSRequest(method=method, url=url, data=body, headers={name: headers.get(name, "") for name in signed})
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(match["key"], secret), "lambda", region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, match["signature"]):
        raise Refused(403, "Forbidden: The request signature we calculated does not match the signature you provided")
    return match["key"]


def public_access_refusal(function_arn: str, account: str) -> str | None:
    """Why the function's resource policy does not let anyone call its NONE URL, or None when it does."""
    from local_aws.iam import resource_policy
    from local_aws.iam_policy import Principal, Request, UnsupportedPolicy, evaluate

    anyone = Principal(account="anonymous")
    try:
        policy = resource_policy(account, function_arn)
    except (UnsupportedPolicy, ValueError) as error:
        return f"the function's resource policy cannot be evaluated: {error}"
    for action, context in (
        ("lambda:InvokeFunctionUrl", {"lambda:FunctionUrlAuthType": "NONE"}),
        ("lambda:InvokeFunction", {"lambda:InvokedViaFunctionUrl": "true"}),
    ):
        request = Request(anyone, action, function_arn, context)
        decision = evaluate(request, [], policy, resource_policy_required=True)
        if not decision.allowed:
            return f"Forbidden: {action} is not granted to the public ({decision.reason})"
    return None


def url_permission_conditions(statement: dict[str, Any]) -> dict[str, Any]:
    """AddPermission's FunctionUrlAuthType / InvokedViaFunctionUrl as the conditions Lambda stores them as."""
    conditions: dict[str, Any] = {}
    auth_type = statement.pop("FunctionUrlAuthType", None)
    if auth_type:
        conditions.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = auth_type
    via_url = statement.pop("InvokedViaFunctionUrl", None)
    if via_url in (True, "true", "True"):
        conditions.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = "true"
    for operator, values in conditions.items():
        statement.setdefault("Condition", {}).setdefault(operator, {}).update(values)
    return statement


def event_for(environ: dict[str, Any], body: bytes, url_id: str, region: str, account: str, key: str | None) -> dict:
    """The payload format 2.0 event of one request."""
    path = "/" + environ["PATH_INFO"][len(PATH_PREFIX) + len(url_id) :].lstrip("/")
    headers: dict[str, str] = {}
    for name, value in environ.items():
        if name.startswith("HTTP_"):
            header = name[5:].replace("_", "-").lower()
            headers[header] = f"{headers[header]},{value}" if header in headers else value
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers[name.replace("_", "-").lower()] = environ[name]
    cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
    query = environ.get("QUERY_STRING", "")
    parameters: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
    content_type = headers.get("content-type", "")
    text = not body or content_type.startswith(_TEXT_TYPES)
    now = datetime.datetime.now(datetime.UTC)
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": account,
            "apiId": url_id,
            "authentication": None,
            "authorizer": {
                "iam": {
                    "accessKey": key,
                    "accountId": account,
                    "callerId": key,
                    "cognitoIdentity": None,
                    "principalOrgId": None,
                    "userArn": f"arn:aws:iam::{account}:root",
                    "userId": key,
                }
            },
            "domainName": f"{url_id}.lambda-url.{region}.on.aws",
            "domainPrefix": url_id,
            "http": {
                "method": environ["REQUEST_METHOD"],
                "path": path,
                "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": environ.get("REMOTE_ADDR", "127.0.0.1"),
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": body.decode("utf-8", errors="replace") if text else base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": not text,
    }
    if key is None:  # NONE auth: nothing was authenticated, so there is no authorizer
        del event["requestContext"]["authorizer"]
    if cookies:
        event["cookies"] = cookies
    if parameters:
        event["queryStringParameters"] = parameters
    return event


def http_response(payload: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """The HTTP answer for the function's result (payload format 2.0 response rules)."""
    try:
        result = json.loads(payload) if payload else None
    except ValueError:
        return 200, [("Content-Type", "application/json")], payload
    if isinstance(result, dict) and "statusCode" in result:
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
        headers += [("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or []]
        if not any(name.lower() == "content-type" for name, _ in headers):
            headers.append(("Content-Type", "application/json"))
        return int(result["statusCode"]), headers, raw
    return 200, [("Content-Type", "application/json")], json.dumps(result).encode("utf-8")


def install(ctx: Any) -> None:
    from botocore.config import Config
    from moto.awslambda.models import FunctionUrlConfig, lambda_backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication.__call__, "_local_aws_urls", False):
        return
    moto_url_init = FunctionUrlConfig.__init__

    def url_init(self: Any, function: Any, config: dict[str, Any]) -> None:
        moto_url_init(self, function, config)
        url_id = self.url.split("//", 1)[1].split(".", 1)[0]
        self.url = f"{ctx.endpoint_url}{PATH_PREFIX}{url_id}/"

    FunctionUrlConfig.__init__ = url_init

    from moto.awslambda.policy import Policy as LambdaPolicy

    moto_decode = LambdaPolicy.decode_policy

    def decode_policy(self: Any, obj: dict[str, Any]) -> Any:
        return moto_decode(self, url_permission_conditions(obj))

    LambdaPolicy.decode_policy = decode_policy
    # One attempt, and longer than any function's Timeout: a retried invocation would run the function twice.
    invoker = {}

    def lambda_client() -> Any:
        if "client" not in invoker:
            config = Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=960)
            invoker["client"] = ctx.client("lambda", config=config)
        return invoker["client"]

    def find_function(url_id: str) -> tuple[Any, str, str]:
        for account, regions in list(lambda_backends.items()):
            for region, backend in list(regions.items()):
                for fn in backend.list_functions():
                    config = getattr(fn, "url_config", None)
                    if config is not None and config.url.rstrip("/").endswith(f"{PATH_PREFIX}{url_id}"):
                        return fn, account, region
        raise Refused(404, f"Not Found: no function URL {url_id}")

    def serve(environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        url_id = environ["PATH_INFO"][len(PATH_PREFIX) :].split("/", 1)[0]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        fn, account, region = find_function(url_id)
        auth_type = fn.url_config.config.get("AuthType")
        if auth_type not in ("AWS_IAM", "NONE"):
            raise Refused(403, f"Forbidden: unknown AuthType {auth_type!r}")
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(name):
                headers[name.replace("_", "-").lower()] = environ[name]
        raw_path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ["PATH_INFO"])
        url = f"http://{headers.get('host', '')}{raw_path.split('?', 1)[0]}"
        if environ.get("QUERY_STRING"):
            url += f"?{environ['QUERY_STRING']}"
        now = datetime.datetime.now(datetime.UTC)
        key: str | None = None
        if auth_type == "AWS_IAM":
            key = verify_signature(environ["REQUEST_METHOD"], url, headers, body, region, account, now)
        else:
            refusal = public_access_refusal(fn.function_arn, account)
            if refusal is not None:
                raise Refused(403, refusal)
        event = json.dumps(event_for(environ, body, url_id, region, account, key)).encode("utf-8")
        if len(event) > MAX_EVENT_BYTES:
            raise Refused(
                413,
                f"Request Entity Too Large: the invocation payload is {len(event)} bytes, over {MAX_EVENT_BYTES}",
            )
        response = lambda_client().invoke(FunctionName=fn.function_arn, Payload=event)
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            LOG.info("function URL %s: %s failed: %s", url_id, fn.function_name, payload[:500])
            return 502, [("Content-Type", "application/json")], b'{"Message":"Internal Server Error"}'
        return http_response(payload)

    moto_call = DomainDispatcherApplication.__call__

    def call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        if not environ.get("PATH_INFO", "").startswith(PATH_PREFIX):
            return moto_call(self, environ, start_response)
        try:
            status, headers, body = serve(environ)
        except Refused as refused:
            status, headers = refused.status, [("Content-Type", "application/json")]
            body = json.dumps({"Message": str(refused)}).encode("utf-8")
        except Exception as error:  # the service itself failed: what Lambda would answer 500 for
            LOG.exception("function URL request failed")
            status, headers, body = (
                500,
                [("Content-Type", "application/json")],
                json.dumps({"Message": str(error)}).encode(),
            )
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Status"
        start_response(f"{status} {phrase}", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    call._local_aws_urls = True  # type: ignore[attr-defined]
    DomainDispatcherApplication.__call__ = call
