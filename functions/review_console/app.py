"""review_console: the web page a person uses to decide the images on the human-review queue.

A Lambda function URL (AuthType NONE: Lambda authenticates nothing) serves
- `GET /`: the page (page.html; it carries no image and no data, only the Cognito app client to log in with),
- `POST /api/next`: lease the next queued image: 200 {review_id, expires_at, reason, predicted_label,
  confidence, model_version, image: {s3_bucket, s3_key, content_type, data (base64)}}, or {"queue_empty": true},
- `POST /api/decisions` {review_id, label}: decide it (label bicycle | motorcycle | neither).
Every /api call must carry `Authorization: Bearer <Cognito access token>`; the token is checked with Cognito's
GetUser on every call (401 with a named reason otherwise), and must come from this stack's user pool and client.

A decision, in this order, each step resumable by a retry of the same review id:
1. claim it in DynamoDB (`decision#<decision_key>`, conditional put): one decision per image, the loser gets
   409 AlreadyDecided;
2. publish the decision event on the decision bus (source/detail-type of the model's decisions,
   decided_by "reviewer"); its event id is recorded in the claim, so a retry never publishes twice;
3. store the ReviewRecord under REVIEW_RECORDS_PREFIX and, for a vehicle label of a classified image, its
   ground-truth line under GROUND_TRUTH_S3_URI (deterministic keys: a retry overwrites the same objects);
4. only then delete the queue message.

Env: REVIEW_QUEUE_URL, REVIEW_TABLE, DECISION_BUS, DECISION_EVENT_SOURCE, DECISION_DETAIL_TYPE, LABEL_ROUTES,
RECORDS_BUCKET, REVIEW_RECORDS_PREFIX, GROUND_TRUTH_S3_URI, USER_POOL_ID, USER_POOL_CLIENT_ID (required);
LEASE_SECONDS (default 300), MAX_SHOWN_IMAGE_BYTES (default 3 MiB: the answer must fit the 6 MB response).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError
from shared.contracts import ImageRef
from shared.errors import ConfigurationError, WorkflowError
from shared.image_types import sniff_content_type
from shared.reviews import (
    NOT_A_VEHICLE_ROUTE,
    REVIEW_LABELS,
    ReviewRecord,
    ReviewRequest,
    ground_truth_key,
    ground_truth_line,
    review_record_key,
)
from shared.settings import positive_int

JSON = "application/json"
MAX_BODY_BYTES = 4096  # a decision is {review_id, label}: anything bigger is not one
DEFAULT_LEASE_SECONDS = 300
DEFAULT_MAX_SHOWN_IMAGE_BYTES = 3 * 1024 * 1024
LEASE_RETENTION_SECONDS = 86400  # a lease item outlives its lease by a day (DynamoDB TTL), for late retries
PAGE = (Path(__file__).parent / "page.html").read_text(encoding="utf-8")

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = LambdaFunctionUrlResolver()


class ApiRefusal(WorkflowError):
    """A request answered with a 4xx/5xx and a named reason (the `error` of the answer)."""

    status = 400

    def __init__(self, error: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.error = error
        if status is not None:
            self.status = status


class Unauthorized(ApiRefusal):
    """No valid access token of this stack's user pool: 401."""

    status = 401


class ReviewNotFound(ApiRefusal):
    """The review id names no lease this console handed out (forged, or long gone): 403."""

    status = 403


class ReviewNotYours(ApiRefusal):
    """The lease was handed to another reviewer: 403."""

    status = 403


class ReviewExpired(ApiRefusal):
    """The lease ran out: the message is visible again and may be someone else's now: 409."""

    status = 409


class AlreadyDecided(ApiRefusal):
    """Someone else decided this image first: 409 (their decision stands, nothing is published twice)."""

    status = 409


@dataclass(frozen=True)
class ConsoleConfig:
    queue_url: str
    table: str
    bus: str
    event_source: str
    detail_type: str
    label_routes: Mapping[str, str]
    records_bucket: str
    records_prefix: str
    ground_truth_bucket: str
    ground_truth_prefix: str
    user_pool_id: str
    client_id: str
    region: str
    lease_seconds: int
    max_shown_image_bytes: int

    @property
    def issuer(self) -> str:
        """The `iss` of this pool's tokens (Cognito: https://cognito-idp.<region>.amazonaws.com/<pool id>)."""
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"


REQUIRED = (
    "REVIEW_QUEUE_URL",
    "REVIEW_TABLE",
    "DECISION_BUS",
    "DECISION_EVENT_SOURCE",
    "DECISION_DETAIL_TYPE",
    "LABEL_ROUTES",
    "RECORDS_BUCKET",
    "REVIEW_RECORDS_PREFIX",
    "GROUND_TRUTH_S3_URI",
    "USER_POOL_ID",
    "USER_POOL_CLIENT_ID",
)


def load_config(environ: Mapping[str, str]) -> ConsoleConfig:
    """The function's settings; a missing or malformed one is a deployment error (500), never the reviewer's."""
    missing = [name for name in REQUIRED if not environ.get(name)]
    if missing:
        raise ConfigurationError(f"{', '.join(missing)} not set")
    try:
        routes = json.loads(environ["LABEL_ROUTES"])
    except ValueError:
        raise ConfigurationError("LABEL_ROUTES is not JSON") from None
    vehicle_labels = [label for label in REVIEW_LABELS if label != "neither"]
    if not isinstance(routes, dict) or any(not isinstance(routes.get(label), str) for label in vehicle_labels):
        raise ConfigurationError(f"LABEL_ROUTES must give a route to each of {vehicle_labels}")
    uri = environ["GROUND_TRUTH_S3_URI"]
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ConfigurationError(f"GROUND_TRUTH_S3_URI={uri!r} is not s3://<bucket>/<prefix>")
    gt_bucket, _, gt_prefix = uri[5:].partition("/")
    return ConsoleConfig(
        queue_url=environ["REVIEW_QUEUE_URL"],
        table=environ["REVIEW_TABLE"],
        bus=environ["DECISION_BUS"],
        event_source=environ["DECISION_EVENT_SOURCE"],
        detail_type=environ["DECISION_DETAIL_TYPE"],
        label_routes=routes,
        records_bucket=environ["RECORDS_BUCKET"],
        records_prefix=environ["REVIEW_RECORDS_PREFIX"].strip("/"),
        ground_truth_bucket=gt_bucket,
        ground_truth_prefix=gt_prefix.strip("/"),
        user_pool_id=environ["USER_POOL_ID"],
        client_id=environ["USER_POOL_CLIENT_ID"],
        region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        lease_seconds=positive_int(environ, "LEASE_SECONDS", DEFAULT_LEASE_SECONDS),
        max_shown_image_bytes=positive_int(environ, "MAX_SHOWN_IMAGE_BYTES", DEFAULT_MAX_SHOWN_IMAGE_BYTES),
    )


@functools.cache
def client(service: str) -> Any:
    return boto3.client(service)


@functools.cache
def cognito_client() -> Any:
    # GetUser is authorized by the access token alone: Cognito does not evaluate IAM policies for it and it is
    # not signed (https://docs.aws.amazon.com/cognito/latest/developerguide/user-pools-API-operations.html,
    # "Unauthenticated user pools API operations"), so the function sends it unsigned and its role needs nothing.
    return boto3.client("cognito-idp", config=Config(signature_version=UNSIGNED))


def cognito_endpoint(environ: Mapping[str, str], region: str) -> str:
    """Where the page sends InitiateAuth: botocore's endpoint override if set (embedded AWS), else AWS's."""
    override = environ.get("AWS_ENDPOINT_URL_COGNITO_IDP") or environ.get("AWS_ENDPOINT_URL")
    return (override.rstrip("/") + "/") if override else f"https://cognito-idp.{region}.amazonaws.com/"


# -- authentication ---------------------------------------------------------------------------------------------


def token_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified: only read after Cognito's GetUser accepted the token."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        raise Unauthorized("InvalidToken", "the access token is not a JWT") from None


def authenticate(headers: Mapping[str, str], config: ConsoleConfig) -> str:
    """The reviewer's user name, once Cognito accepted the access token and it is this stack's pool and client."""
    authorization = headers.get("authorization") or ""
    if not authorization:
        raise Unauthorized("MissingToken", "send Authorization: Bearer <access token> (log in first)")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("MalformedAuthorization", "the Authorization header must be 'Bearer <access token>'")
    try:
        user = cognito_client().get_user(AccessToken=token)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("NotAuthorizedException", "UserNotFoundException", "UserNotConfirmedException"):
            raise Unauthorized("InvalidToken", f"Cognito refused the access token ({code}): log in again") from None
        raise ApiRefusal("AuthenticationUnavailable", f"Cognito could not check the token: {code}", 503) from None
    except BotoCoreError as error:
        raise ApiRefusal("AuthenticationUnavailable", f"Cognito could not be reached: {error}", 503) from None
    claims = token_claims(token)
    if claims.get("iss") != config.issuer or claims.get("client_id") != config.client_id:
        raise Unauthorized("WrongUserPool", "the token was not issued to this console's user pool and app client")
    if claims.get("token_use", "access") != "access":
        raise Unauthorized("InvalidToken", "send the access token, not the ID token")
    return user["Username"]


# -- leasing the next image -----------------------------------------------------------------------------------------


def lease_next(config: ConsoleConfig, reviewer: str, now: float) -> dict[str, Any]:
    """Receive one message for `lease_seconds` and record its lease under a fresh, unguessable review id."""
    sqs, table = client("sqs"), client("dynamodb")
    for _ in range(10):  # skip messages whose image is already decided (a duplicate, or a delete that failed)
        messages = sqs.receive_message(
            QueueUrl=config.queue_url,
            MaxNumberOfMessages=1,
            VisibilityTimeout=config.lease_seconds,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        if not messages:
            return {"queue_empty": True}
        message = messages[0]
        try:
            request = ReviewRequest.model_validate_json(message["Body"])
        except ValidationError as error:
            # Not a review request: leave it to the queue's redrive (it reaches the DLQ after maxReceiveCount).
            logger.warning("queue message is not a ReviewRequest", extra={"message_id": message["MessageId"]})
            logger.debug("validation", extra={"errors": error.errors(include_url=False)[:5]})
            continue
        key = decision_key(request, message["MessageId"])
        claim = _get(table, config.table, f"decision#{key}")
        if claim is not None and claim.get("stage", {}).get("S") == "done":
            sqs.delete_message(QueueUrl=config.queue_url, ReceiptHandle=message["ReceiptHandle"])
            logger.info("skipped an already decided image", extra={"decision_key": key})
            continue
        review_id = secrets.token_urlsafe(24)
        expires_at = now + config.lease_seconds
        table.put_item(
            TableName=config.table,
            Item={
                "pk": {"S": f"lease#{review_id}"},
                "reviewer": {"S": reviewer},
                "message_id": {"S": message["MessageId"]},
                "receipt_handle": {"S": message["ReceiptHandle"]},
                "request": {"S": request.model_dump_json(exclude_none=True)},
                "expires_at": {"N": f"{expires_at:.3f}"},
                "ttl": {"N": str(int(expires_at) + LEASE_RETENTION_SECONDS)},
            },
        )
        return {
            "review_id": review_id,
            "expires_at": datetime.fromtimestamp(expires_at, UTC).isoformat(),
            "reason": request.reason,
            "predicted_label": request.predicted_label,
            "confidence": request.confidence,
            "model_version": request.model_version,
            "model_route": request.route,
            "labels": list(REVIEW_LABELS),
            "image": shown_image(config, request),
        }
    return {"queue_empty": True}


def shown_image(config: ConsoleConfig, request: ReviewRequest) -> dict[str, Any]:
    """The image's bytes for the page (base64), or why they cannot be shown."""
    shown: dict[str, Any] = {"s3_bucket": request.s3_bucket, "s3_key": request.s3_key}
    try:
        obj = client("s3").get_object(Bucket=request.s3_bucket, Key=request.s3_key)
        if obj["ContentLength"] > config.max_shown_image_bytes:
            obj["Body"].close()
            return {**shown, "unavailable": f"{obj['ContentLength']} bytes, over {config.max_shown_image_bytes}"}
        data = obj["Body"].read()
    except ClientError as error:
        return {**shown, "unavailable": error.response.get("Error", {}).get("Code", "unreadable")}
    try:
        content_type = sniff_content_type(data)
    except WorkflowError:
        return {**shown, "unavailable": "not a PNG or JPEG"}
    return {**shown, "content_type": content_type, "data": base64.b64encode(data).decode("ascii")}


def decision_key(request: ReviewRequest, message_id: str) -> str:
    """What makes two reviews "the same image" (shared.reviews.ReviewRecord.decision_key)."""
    return f"inference:{request.inference_id}" if request.inference_id else f"message:{message_id}"


def route_for(label: str, config: ConsoleConfig) -> str:
    return NOT_A_VEHICLE_ROUTE if label == "neither" else config.label_routes[label]


# -- deciding -----------------------------------------------------------------------------------------------------


def parse_decision(body: bytes) -> tuple[str, str]:
    """(review_id, label) of a decision request; named 400/413 errors for anything else."""
    if len(body) > MAX_BODY_BYTES:
        raise ApiRefusal(
            "RequestTooLarge", f"the body is {len(body)} bytes; a decision is at most {MAX_BODY_BYTES}", 413
        )
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise ApiRefusal("InvalidRequest", 'the body is not JSON (expected {"review_id": ..., "label": ...})') from None
    if not isinstance(document, dict):
        raise ApiRefusal("InvalidRequest", 'the body must be a JSON object {"review_id": ..., "label": ...}')
    review_id, label = document.get("review_id"), document.get("label")
    if not isinstance(review_id, str) or not review_id or len(review_id) > 128:
        raise ApiRefusal("InvalidRequest", "review_id: a string from /api/next is required")
    if label not in REVIEW_LABELS:
        raise ApiRefusal("InvalidLabel", f"label must be one of {', '.join(REVIEW_LABELS)}, not {label!r}")
    return review_id, label


def decide(config: ConsoleConfig, reviewer: str, review_id: str, label: str, now: float) -> dict[str, Any]:
    """Claim, publish, store, delete: see the module docstring. Returns the answer's body."""
    table = client("dynamodb")
    lease = _get(table, config.table, f"lease#{review_id}")
    if lease is None:
        raise ReviewNotFound("ReviewNotFound", "this review id was not handed out by /api/next (or is long gone)")
    if lease["reviewer"]["S"] != reviewer:
        raise ReviewNotYours("ReviewNotYours", "this image was leased to another reviewer")
    request = ReviewRequest.model_validate_json(lease["request"]["S"])
    key = decision_key(request, lease["message_id"]["S"])
    claim = _get(table, config.table, f"decision#{key}")
    if claim is None:
        if now > float(lease["expires_at"]["N"]):
            raise ReviewExpired(
                "ReviewExpired", "the lease ran out; the image went back to the queue: ask for the next"
            )
        record = ReviewRecord(
            review_id=review_id,
            decision_key=key,
            image=ImageRef(s3_bucket=request.s3_bucket, s3_key=request.s3_key),
            label=label,
            route=route_for(label, config),
            reason=request.reason,
            reviewer=reviewer,
            decided_at=datetime.fromtimestamp(now, UTC),
            predicted_label=request.predicted_label,
            confidence=request.confidence,
            model_route=request.route,
            model_version=request.model_version,
            inference_id=request.inference_id,
            probe=request.probe,
        )
        claim = claim_decision(config, key, record, lease["expires_at"]["N"])
    record = ReviewRecord.model_validate_json(claim["record"]["S"])
    if record.review_id != review_id:
        # Someone else's decision stands. If it stopped part-way (their retry never came), finish it now: the
        # event is published once (its id is in the claim), the record stored, this copy of the image deleted;
        # not while the winner's own lease runs (it may be publishing right now).
        if claim.get("stage", {}).get("S") == "done" or now > float(claim["lease_expires_at"]["N"]):
            complete(config, key, claim, record, lease)
        raise AlreadyDecided("AlreadyDecided", f"another reviewer decided this image first ({record.label})")
    if record.label != label:
        raise AlreadyDecided("AlreadyDecided", f"this review was already decided as {record.label}")
    event_id = complete(config, key, claim, record, lease)
    logger.info("review decided", extra={"review_id": review_id, "label": label, "reason": record.reason})
    return {"decision": json.loads(record.model_dump_json(exclude_none=True)), "event_id": event_id}


def complete(
    config: ConsoleConfig, key: str, claim: Mapping[str, Any], record: ReviewRecord, lease: Mapping[str, Any]
) -> str:
    """Steps 2-4 of a claimed decision, each skipped or repeated harmlessly on a retry; the event id."""
    event_id = claim.get("event_id", {}).get("S") or publish(config, key, record)
    store(config, record)
    _delete_message(config, lease)
    if claim.get("stage", {}).get("S") != "done":
        client("dynamodb").update_item(
            TableName=config.table,
            Key={"pk": {"S": f"decision#{key}"}},
            UpdateExpression="SET stage = :done",
            ExpressionAttributeValues={":done": {"S": "done"}},
        )
        with single_metric(
            name="ReviewsDecided", unit=MetricUnit.Count, value=1, namespace=metrics.namespace
        ) as metric:
            metric.add_dimension(name="reason", value=record.reason)
    return event_id


def claim_decision(config: ConsoleConfig, key: str, record: ReviewRecord, lease_expires_at: str) -> dict[str, Any]:
    """The claim of one image's decision: ours if the conditional put wins, else the one already there."""
    table = client("dynamodb")
    item = {
        "pk": {"S": f"decision#{key}"},
        "record": {"S": record.model_dump_json()},
        "stage": {"S": "claimed"},
        "lease_expires_at": {"N": lease_expires_at},
    }
    try:
        table.put_item(TableName=config.table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        return item
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
    existing = _get(table, config.table, f"decision#{key}")
    if existing is None:  # the claim cannot vanish: claims have no TTL
        raise ApiRefusal("ClaimLost", "the decision's claim disappeared; try again", 503)
    return existing


def decision_detail(record: ReviewRecord) -> dict[str, Any]:
    """The decision event's detail: the reviewer's label and route, next to what the model had said."""
    detail = {
        "image": {"s3_bucket": record.image.s3_bucket, "s3_key": record.image.s3_key},
        "predicted_label": record.label,
        "route": record.route,
        "decided_by": "reviewer",
        "review_id": record.review_id,
        "review_reason": record.reason,
        "model_predicted_label": record.predicted_label,
        "model_confidence": record.confidence,
        "model_route": record.model_route,
        "model_version": record.model_version,
        "inference_id": record.inference_id,
        "probe": record.probe,
    }
    return {name: value for name, value in detail.items() if value is not None}


def publish(config: ConsoleConfig, key: str, record: ReviewRecord) -> str:
    """PutEvents, then the event id into the claim: a retry finds it there and does not publish again."""
    answer = client("events").put_events(
        Entries=[
            {
                "EventBusName": config.bus,
                "Source": config.event_source,
                "DetailType": config.detail_type,
                "Detail": json.dumps(decision_detail(record)),
            }
        ]
    )
    entry = answer["Entries"][0]
    if answer.get("FailedEntryCount") or "EventId" not in entry:
        raise ApiRefusal("DecisionNotPublished", f"EventBridge refused the event: {entry.get('ErrorCode')}", 503)
    client("dynamodb").update_item(
        TableName=config.table,
        Key={"pk": {"S": f"decision#{key}"}},
        UpdateExpression="SET event_id = :id, stage = :published",
        ExpressionAttributeValues={":id": {"S": entry["EventId"]}, ":published": {"S": "published"}},
    )
    return entry["EventId"]


def store(config: ConsoleConfig, record: ReviewRecord) -> None:
    s3 = client("s3")
    s3.put_object(
        Bucket=config.records_bucket,
        Key=review_record_key(config.records_prefix, record),
        Body=record.model_dump_json(exclude_none=True).encode(),
        ContentType=JSON,
    )
    if record.is_ground_truth and record.inference_id is not None:
        s3.put_object(
            Bucket=config.ground_truth_bucket,
            Key=ground_truth_key(config.ground_truth_prefix, record),
            Body=(ground_truth_line(record) + "\n").encode(),
            ContentType="application/jsonl",
        )


def _delete_message(config: ConsoleConfig, lease: Mapping[str, Any]) -> None:
    try:
        client("sqs").delete_message(QueueUrl=config.queue_url, ReceiptHandle=lease["receipt_handle"]["S"])
    except ClientError as error:
        # A receipt handle of an expired lease may be refused; the decision stands, and /api/next deletes the
        # message when it comes back (its claim is done).
        if error.response.get("Error", {}).get("Code") not in ("ReceiptHandleIsInvalid", "InvalidParameterValue"):
            raise
        logger.info("receipt handle refused; the message is deleted when it is next received")


def _get(table: Any, name: str, pk: str) -> dict[str, Any] | None:
    return table.get_item(TableName=name, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")


# -- HTTP ---------------------------------------------------------------------------------------------------------


def error_response(status: int, error: str, message: str) -> Response:
    logger.info("request refused", extra={"status": status, "error": error, "reason": message})
    return Response(status, JSON, json.dumps({"error": error, "message": message[:2048]}))


def body_of(event: Any) -> bytes:
    raw = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ApiRefusal("InvalidRequest", "the body is marked base64-encoded but is not valid base64") from None
    return raw.encode("utf-8")


def api(work: Any) -> Response:
    """Run one authenticated API call; every refusal becomes its named status."""
    try:
        config = load_config(os.environ)
        reviewer = authenticate(app.current_event.headers, config)
        return Response(200, JSON, json.dumps(work(config, reviewer)), headers={"Cache-Control": "no-store"})
    except ApiRefusal as refusal:
        return error_response(refusal.status, refusal.error, str(refusal))


@app.get("/")
def page() -> Response:
    config = load_config(os.environ)
    settings = {"clientId": config.client_id, "cognitoEndpoint": cognito_endpoint(os.environ, config.region)}
    html = PAGE.replace("__CONSOLE_SETTINGS__", json.dumps(settings))
    return Response(
        200,
        "text/html; charset=utf-8",
        html,
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"},
    )


@app.post("/api/next")
def next_review() -> Response:
    return api(lambda config, reviewer: lease_next(config, reviewer, time.time()))


@app.post("/api/decisions")
def decisions() -> Response:
    def work(config: ConsoleConfig, reviewer: str) -> dict[str, Any]:
        review_id, label = parse_decision(body_of(app.current_event))
        return decide(config, reviewer, review_id, label, time.time())

    return api(work)


@app.not_found
def not_found(_exc: Exception) -> Response:
    method, path = app.current_event.request_context.http.method, app.current_event.path
    return error_response(
        404, "NotFound", f"{method} {path}: this console serves GET /, POST /api/next, /api/decisions"
    )


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
