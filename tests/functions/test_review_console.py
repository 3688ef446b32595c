"""review_console's handler and plain functions, on moto in-process (SQS, DynamoDB, EventBridge, S3, Cognito).

What a reviewer or on-call would notice: who gets in, what a decision publishes and stores, in which order, and
the named refusals of stale, forged or malformed requests.
"""

from __future__ import annotations

import json
import time

import boto3
import pytest
from moto import mock_aws
from shared.reviews import NOT_A_VEHICLE_ROUTE, ReviewRecord

from tests.functions.conftest import load_event

REGION = "eu-west-1"
BUCKET = "courier-vehicle-review-unit"
PASSWORD = "Unit-Test-Passw0rd!"
REQUEST = load_event("review_console", "review_request.json")


@pytest.fixture(scope="module")
def app(load_handler):
    return load_handler("review_console")


@pytest.fixture
def console(app, monkeypatch, lambda_context):
    """A console on moto: its queue, table, bus (with an SQS consumer), bucket and user pool."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="review-unit")["QueueUrl"]
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName="review-unit",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        events = boto3.client("events", region_name=REGION)
        bus = events.create_event_bus(Name="review-unit")["EventBusArn"]
        consumer = sqs.create_queue(QueueName="review-unit-consumer")["QueueUrl"]
        consumer_arn = sqs.get_queue_attributes(QueueUrl=consumer, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(Name="all", EventBusName="review-unit", EventPattern=json.dumps({"source": ["cv.inference"]}))
        events.put_targets(Rule="all", EventBusName="review-unit", Targets=[{"Id": "q", "Arn": consumer_arn}])
        idp = boto3.client("cognito-idp", region_name=REGION)
        pool = idp.create_user_pool(PoolName="reviewers")["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool, ClientName="console", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
        )["UserPoolClient"]["ClientId"]
        env = {
            "REVIEW_QUEUE_URL": queue,
            "REVIEW_TABLE": "review-unit",
            "DECISION_BUS": bus,
            "DECISION_EVENT_SOURCE": "cv.inference",
            "DECISION_DETAIL_TYPE": "Courier Vehicle Decision",
            "LABEL_ROUTES": json.dumps({"bicycle": "nearby", "motorcycle": "distant"}),
            "RECORDS_BUCKET": BUCKET,
            "REVIEW_RECORDS_PREFIX": "reviews",
            "GROUND_TRUTH_S3_URI": f"s3://{BUCKET}/monitoring/ground-truth",
            "USER_POOL_ID": pool,
            "USER_POOL_CLIENT_ID": client_id,
            "LEASE_SECONDS": "60",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        app.client.cache_clear()
        app.cognito_client.cache_clear()

        def token(user: str) -> str:
            try:
                idp.admin_create_user(UserPoolId=pool, Username=user, MessageAction="SUPPRESS")
                idp.admin_set_user_password(UserPoolId=pool, Username=user, Password=PASSWORD, Permanent=True)
            except idp.exceptions.UsernameExistsException:
                pass
            return idp.initiate_auth(
                AuthFlow="USER_PASSWORD_AUTH",
                ClientId=client_id,
                AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD},
            )["AuthenticationResult"]["AccessToken"]

        def enqueue(**changes) -> dict:
            body = {**REQUEST, "s3_bucket": BUCKET, **changes}
            s3.put_object(Bucket=BUCKET, Key=body["s3_key"], Body=PNG_1X1)
            sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(body))
            return body

        def call(name: str, user: str | None = None, body: dict | str | None = None) -> tuple[int, dict | str]:
            event = load_event("review_console", name)
            if user is None:
                event["headers"].pop("authorization", None)
            else:
                event["headers"]["authorization"] = f"Bearer {token(user)}"
            if body is not None:
                event["body"] = body if isinstance(body, str) else json.dumps(body)
            response = app.lambda_handler(event, lambda_context)
            kind = response["headers"].get("Content-Type", "")
            return response["statusCode"], json.loads(response["body"]) if kind == "application/json" else response[
                "body"
            ]

        def published() -> list[dict]:
            messages = sqs.receive_message(QueueUrl=consumer, MaxNumberOfMessages=10).get("Messages", [])
            return [json.loads(m["Body"]) for m in messages]

        def visible() -> int:
            attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
            return int(attributes["ApproximateNumberOfMessages"]) + int(
                attributes["ApproximateNumberOfMessagesNotVisible"]
            )

        yield type(
            "Console",
            (),
            {
                "call": staticmethod(call),
                "enqueue": staticmethod(enqueue),
                "published": staticmethod(published),
                "queued": staticmethod(visible),
                "s3": s3,
                "ddb": ddb,
                "config": app.load_config(env | {"AWS_REGION": REGION}),
            },
        )


PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


def test_the_page_needs_no_login_and_names_only_the_app_client(console):
    status, html = console.call("get_page.json")

    assert status == 200
    assert console.config.client_id in html
    assert "__CONSOLE_SETTINGS__" not in html
    assert "AWSCognitoIdentityProviderService.InitiateAuth" in html


def test_an_api_call_without_a_token_is_401_and_leases_nothing(console):
    console.enqueue()

    status, body = console.call("post_next_unauthenticated.json")

    assert (status, body["error"]) == (401, "MissingToken")
    assert console.queued() == 1


def test_next_shows_the_guess_confidence_reason_and_the_image(console):
    console.enqueue()

    status, body = console.call("post_next.json", "ana")

    assert status == 200
    assert (body["predicted_label"], body["confidence"], body["reason"]) == (
        "bicycle",
        0.62,
        "BelowConfidenceThreshold",
    )
    assert body["image"]["content_type"] == "image/png"
    assert body["image"]["data"]
    assert len(body["review_id"]) >= 32  # unguessable


def test_a_decision_publishes_then_stores_then_deletes(console, emitted_metrics):
    sent = console.enqueue()
    _, item = console.call("post_next.json", "ana")

    status, body = console.call("post_decision.json", "ana", {"review_id": item["review_id"], "label": "motorcycle"})

    assert status == 200, body
    [event] = console.published()
    assert event["detail"]["decided_by"] == "reviewer"
    assert event["detail"]["route"] == "distant"
    assert event["detail"]["model_predicted_label"] == "bicycle"
    assert event["detail"]["inference_id"] == sent["inference_id"]
    keys = [o["Key"] for o in console.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert any(k.startswith("reviews/") and k.endswith(f"{item['review_id']}.json") for k in keys)
    assert any(k.startswith("monitoring/ground-truth/") and k.endswith(".jsonl") for k in keys)
    assert console.queued() == 0
    decided = [m for m in emitted_metrics() if m["name"] == "ReviewsDecided"]
    assert decided == [
        {"name": "ReviewsDecided", "unit": "Count", "value": 1.0, "dimensions": decided[0]["dimensions"]}
    ]
    assert decided[0]["dimensions"]["reason"] == "BelowConfidenceThreshold"


def test_a_retry_after_a_failed_store_publishes_no_second_event(console, app, monkeypatch):
    console.enqueue()
    _, item = console.call("post_next.json", "ana")
    real_store = app.store
    monkeypatch.setattr(app, "store", lambda config, record: (_ for _ in ()).throw(RuntimeError("S3 is down")))
    with pytest.raises(RuntimeError):
        console.call("post_decision.json", "ana", {"review_id": item["review_id"], "label": "bicycle"})
    assert console.queued() == 1  # the message stays until the record is stored
    monkeypatch.setattr(app, "store", real_store)

    status, _ = console.call("post_decision.json", "ana", {"review_id": item["review_id"], "label": "bicycle"})

    assert status == 200
    assert len(console.published()) == 1
    assert console.queued() == 0


def test_a_lease_past_its_time_is_409_review_expired(console, app):
    console.enqueue()
    _, item = console.call("post_next.json", "ana")
    reviewer = "ana"

    with pytest.raises(app.ReviewExpired):
        app.decide(console.config, reviewer, item["review_id"], "bicycle", time.time() + 61)


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ("{not json", 400, "InvalidRequest"),
        ("[1, 2]", 400, "InvalidRequest"),
        (json.dumps({"review_id": "abc", "label": "car"}), 400, "InvalidLabel"),
        (json.dumps({"label": "bicycle"}), 400, "InvalidRequest"),
        ("x" * 5000, 413, "RequestTooLarge"),
        (json.dumps({"review_id": "never-handed-out", "label": "bicycle"}), 403, "ReviewNotFound"),
    ],
)
def test_bad_decisions_get_named_refusals(console, body, status, error):
    console.enqueue()

    answer = console.call("post_decision.json", "ana", body)

    assert (answer[0], answer[1]["error"]) == (status, error)
    assert console.queued() == 1  # nothing decided, nothing deleted


def test_someone_elses_review_is_403(console):
    console.enqueue()
    _, item = console.call("post_next.json", "ana")

    status, body = console.call("post_decision.json", "ben", {"review_id": item["review_id"], "label": "bicycle"})

    assert (status, body["error"]) == (403, "ReviewNotYours")


def test_routes_follow_label_routes_and_neither_asks_for_a_new_photo(app, console):
    assert app.route_for("bicycle", console.config) == "nearby"
    assert app.route_for("motorcycle", console.config) == "distant"
    assert app.route_for("neither", console.config) == NOT_A_VEHICLE_ROUTE


def test_the_decision_key_is_the_inference_id_else_the_message_id(app):
    from shared.reviews import ReviewRequest

    with_id = ReviewRequest.model_validate(REQUEST)
    without = ReviewRequest.model_validate({**REQUEST, "inference_id": None})

    assert app.decision_key(with_id, "m-1") == f"inference:{REQUEST['inference_id']}"
    assert app.decision_key(without, "m-1") == "message:m-1"


def test_a_missing_setting_is_a_configuration_error(app):
    from shared.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="REVIEW_TABLE"):
        app.load_config({"REVIEW_QUEUE_URL": "https://sqs"})


def test_the_event_detail_keeps_the_models_guess_next_to_the_reviewers_label(app):
    record = ReviewRecord.model_validate(
        {
            "review_id": "r1",
            "decision_key": "inference:i1",
            "image": {"s3_bucket": BUCKET, "s3_key": "k.png"},
            "label": "bicycle",
            "route": "nearby",
            "reason": "AuditSample",
            "reviewer": "ana",
            "decided_at": "2026-12-02T10:00:00Z",
            "predicted_label": "bicycle",
            "confidence": 0.97,
            "model_route": "nearby",
            "inference_id": "i1",
        }
    )

    detail = app.decision_detail(record)

    assert detail["predicted_label"] == "bicycle"
    assert detail["decided_by"] == "reviewer"
    assert (detail["model_confidence"], detail["model_route"], detail["review_reason"]) == (
        0.97,
        "nearby",
        "AuditSample",
    )
    assert "reviewer" not in detail  # who reviewed stays in the record, not on the bus
