"""The review console on the embedded AWS, through its function URL (AuthType NONE) as a browser calls it."""

from __future__ import annotations

import json
import time

import pytest

from tests.review_console.conftest import LEASE_SECONDS

pytestmark = pytest.mark.embedded


@pytest.fixture(autouse=True)
def _empty_queue(review_stack):
    review_stack.drain()


def test_the_page_is_served_without_logging_in_and_carries_no_image(review_stack):
    page = review_stack.call("")

    assert page.status == 200
    assert page.content_type.startswith("text/html")
    assert review_stack.client_id in page.body  # what the page logs in with
    assert "data:image" not in page.body
    assert "base64," not in page.body.replace('";base64,"', "")


@pytest.mark.parametrize(
    ("authorization", "error"),
    [(None, "MissingToken"), ("Basic cmV2OnB3", "MalformedAuthorization"), ("Bearer not-a-token", "InvalidToken")],
)
def test_unauthenticated_calls_get_401_and_no_image(review_stack, authorization, error):
    review_stack.enqueue("bicycle")
    headers_token = None if authorization is None else authorization.split(" ", 1)[1]
    if authorization and not authorization.startswith("Bearer"):
        import urllib.request

        request = urllib.request.Request(
            review_stack.url + "api/next", data=b"{}", method="POST", headers={"Authorization": authorization}
        )
        try:
            urllib.request.urlopen(request, timeout=30)
            raise AssertionError("a Basic authorization was accepted")
        except urllib.error.HTTPError as refused:
            status, body = refused.code, json.loads(refused.read())
    else:
        answer = review_stack.call("api/next", {}, token=headers_token)
        status, body = answer.status, answer.body

    assert status == 401
    assert body["error"] == error
    assert "image" not in body
    assert review_stack.queued() == 1  # nothing was leased


def test_a_token_of_another_user_pool_is_refused(review_stack):
    idp = review_stack.aws.client("cognito-idp")
    other = idp.create_user_pool(PoolName="review-test-other")["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=other, ClientName="other", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=other, Username="intruder", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=other, Username="intruder", Password="Other-Passw0rd!", Permanent=True)
    token = idp.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=client,
        AuthParameters={"USERNAME": "intruder", "PASSWORD": "Other-Passw0rd!"},
    )["AuthenticationResult"]["AccessToken"]
    review_stack.enqueue("bicycle")

    answer = review_stack.call("api/next", {}, token=token)

    assert (answer.status, answer.body["error"]) == (401, "WrongUserPool")


def test_a_decision_publishes_one_event_stores_the_record_and_ground_truth_then_deletes_the_message(review_stack):
    token = review_stack.log_in("ana")
    sent = review_stack.enqueue("motorcycle")
    item = review_stack.call("api/next", {}, token=token)
    assert item.status == 200, item.body
    assert (item.body["predicted_label"], item.body["confidence"], item.body["reason"]) == (
        "bicycle",
        0.61,
        "BelowConfidenceThreshold",
    )
    assert item.body["image"]["content_type"] == "image/png"
    assert item.body["image"]["data"]

    decided = review_stack.call("api/decisions", {"review_id": item.body["review_id"], "label": "motorcycle"}, token)

    assert decided.status == 200, decided.body
    events = review_stack.events_for(sent["s3_key"])
    assert len(events) == 1
    detail = events[0]["detail"]
    assert (detail["decided_by"], detail["predicted_label"], detail["route"]) == ("reviewer", "motorcycle", "distant")
    assert (detail["model_predicted_label"], detail["model_confidence"]) == ("bicycle", 0.61)
    assert detail["review_reason"] == "BelowConfidenceThreshold"
    assert detail["inference_id"] == sent["inference_id"]
    assert events[0]["id"] == decided.body["event_id"]
    records = review_stack.objects("reviews/")
    record = next(json.loads(v) for k, v in records.items() if k.endswith(f"{item.body['review_id']}.json"))
    assert (record["label"], record["reviewer"], record["route"]) == ("motorcycle", "ana", "distant")
    truth = review_stack.objects("monitoring/ground-truth/")
    line = next(json.loads(v) for k, v in truth.items() if k.endswith(f"{item.body['review_id']}.jsonl"))
    assert line["groundTruthData"]["data"] == "motorcycle"
    assert line["eventMetadata"]["eventId"] == sent["inference_id"]
    assert review_stack.queued() == 0


def test_neither_is_routed_to_a_new_photo_and_is_not_ground_truth(review_stack):
    token = review_stack.log_in("ana")
    sent = review_stack.enqueue("neither")
    item = review_stack.call("api/next", {}, token=token)

    decided = review_stack.call("api/decisions", {"review_id": item.body["review_id"], "label": "neither"}, token)

    assert decided.status == 200
    assert review_stack.events_for(sent["s3_key"])[0]["detail"]["route"] == "retake_photo"
    assert not [k for k in review_stack.objects("monitoring/ground-truth/") if item.body["review_id"] in k]


def test_the_message_is_deleted_only_after_the_event_and_the_records(review_stack, monkeypatch):
    """A failure storing the record leaves the message on the queue; the retry completes with no second event."""
    token = review_stack.log_in("ana")
    sent = review_stack.enqueue("bicycle")
    item = review_stack.call("api/next", {}, token=token)
    s3 = review_stack.aws.client("s3")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{review_stack.bucket}/reviews/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=review_stack.bucket, Policy=json.dumps(policy))
    try:
        failed = review_stack.call("api/decisions", {"review_id": item.body["review_id"], "label": "bicycle"}, token)
    finally:
        s3.delete_bucket_policy(Bucket=review_stack.bucket)

    assert failed.status >= 500
    assert review_stack.queued() == 1  # not deleted: the record was not stored
    assert len(review_stack.events_for(sent["s3_key"], wait=2)) == 1  # published before the failure

    retried = review_stack.call("api/decisions", {"review_id": item.body["review_id"], "label": "bicycle"}, token)

    assert retried.status == 200, retried.body
    assert review_stack.events_for(sent["s3_key"], wait=2) == []  # no second event
    assert any(item.body["review_id"] in key for key in review_stack.objects("reviews/"))
    assert review_stack.queued() == 0


def test_two_reviewers_on_one_image_give_one_decision(review_stack):
    ana, ben = review_stack.log_in("ana"), review_stack.log_in("ben")
    first = review_stack.enqueue("bicycle")
    review_stack.enqueue("bicycle", s3_key=first["s3_key"], inference_id=first["inference_id"])  # the same image
    leased_a = review_stack.call("api/next", {}, token=ana).body
    leased_b = review_stack.call("api/next", {}, token=ben).body

    won = review_stack.call("api/decisions", {"review_id": leased_a["review_id"], "label": "bicycle"}, ana)
    lost = review_stack.call("api/decisions", {"review_id": leased_b["review_id"], "label": "motorcycle"}, ben)

    assert won.status == 200
    assert (lost.status, lost.body["error"]) == (409, "AlreadyDecided")
    events = review_stack.events_for(first["s3_key"])
    assert [e["detail"]["predicted_label"] for e in events] == ["bicycle"]
    assert review_stack.queued() == 0  # both copies left the queue


def test_forged_foreign_and_stale_decisions_are_refused(review_stack):
    ana, ben = review_stack.log_in("ana"), review_stack.log_in("ben")
    review_stack.enqueue("bicycle")
    item = review_stack.call("api/next", {}, token=ana).body

    forged = review_stack.call("api/decisions", {"review_id": "x" * 32, "label": "bicycle"}, ana)
    foreign = review_stack.call("api/decisions", {"review_id": item["review_id"], "label": "bicycle"}, ben)
    bad_label = review_stack.call("api/decisions", {"review_id": item["review_id"], "label": "car"}, ana)
    malformed = review_stack.call("api/decisions", token=ana, raw=b"{not json")
    oversize = review_stack.call("api/decisions", token=ana, raw=b"{" + b" " * 5000 + b"}")

    assert (forged.status, forged.body["error"]) == (403, "ReviewNotFound")
    assert (foreign.status, foreign.body["error"]) == (403, "ReviewNotYours")
    assert (bad_label.status, bad_label.body["error"]) == (400, "InvalidLabel")
    assert (malformed.status, malformed.body["error"]) == (400, "InvalidRequest")
    assert (oversize.status, oversize.body["error"]) == (413, "RequestTooLarge")
    assert review_stack.queued() == 1  # none of them decided anything

    table = review_stack.aws.client("dynamodb")
    table.update_item(  # the lease ran out (as LEASE_SECONDS later)
        TableName=review_stack.table,
        Key={"pk": {"S": f"lease#{item['review_id']}"}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(time.time() - 1)}},
    )
    stale = review_stack.call("api/decisions", {"review_id": item["review_id"], "label": "bicycle"}, ana)

    assert (stale.status, stale.body["error"]) == (409, "ReviewExpired")
    assert LEASE_SECONDS == 30


def test_an_empty_queue_says_so(review_stack):
    answer = review_stack.call("api/next", {}, token=review_stack.log_in("ana"))

    assert answer.status == 200
    assert answer.body == {"queue_empty": True}


def test_a_url_without_the_public_invoke_statement_is_refused_before_the_function_runs(review_stack):
    awslambda = review_stack.aws.client("lambda")
    awslambda.remove_permission(
        FunctionName=review_stack.function_name, StatementId="FunctionURLInvokeAllowPublicAccess"
    )
    try:
        answer = review_stack.call("")
    finally:
        awslambda.add_permission(
            FunctionName=review_stack.function_name,
            StatementId="FunctionURLInvokeAllowPublicAccess",
            Action="lambda:InvokeFunction",
            Principal="*",
            InvokedViaFunctionUrl=True,
        )

    assert answer.status == 403
    assert "lambda:InvokeFunction" in answer.body["Message"]
