"""The review console on the embedded AWS: its real zip behind a function URL with AuthType NONE, a Cognito user
pool of reviewers, the human-review queue, the decisions table and bus, and the data bucket."""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from PIL import Image

from tests.conftest import fixture_role
from tests.workflows.conftest import decision_consumer

POWERTOOLS_LAYER = "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:18"
SOURCE = "review-test.inference"
DETAIL_TYPE = "Courier Vehicle Decision"
PASSWORD = "Review-Test-Passw0rd!"
LABEL_ROUTES = {"bicycle": "nearby", "motorcycle": "distant"}
LEASE_SECONDS = 30


@dataclass
class Answer:
    status: int
    body: Any
    content_type: str


@dataclass
class ReviewStack:
    aws: Any
    url: str
    bucket: str
    queue_url: str
    table: str
    pool_id: str
    client_id: str
    consumer_url: str
    function_name: str
    reviewers: dict[str, str] = field(default_factory=dict)  # user name -> access token

    def call(self, path: str, body: Any = None, token: str | None = None, raw: bytes | None = None) -> Answer:
        """One HTTP request to the console, as a browser sends it."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            self.url + path.lstrip("/"), data=data, method="GET" if data is None else "POST", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text, kind = response.status, response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            status, text, kind = error.code, error.read(), error.headers.get("Content-Type", "")
        body = json.loads(text) if kind.startswith("application/json") and text else text.decode()
        return Answer(status, body, kind)

    def log_in(self, user: str) -> str:
        """The access token InitiateAuth (USER_PASSWORD_AUTH) answers, as the page gets it."""
        if user not in self.reviewers:
            idp = self.aws.client("cognito-idp")
            idp.admin_create_user(UserPoolId=self.pool_id, Username=user, MessageAction="SUPPRESS")
            idp.admin_set_user_password(UserPoolId=self.pool_id, Username=user, Password=PASSWORD, Permanent=True)
            answer = idp.initiate_auth(
                AuthFlow="USER_PASSWORD_AUTH",
                ClientId=self.client_id,
                AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD},
            )
            self.reviewers[user] = answer["AuthenticationResult"]["AccessToken"]
        return self.reviewers[user]

    def enqueue(self, label: str, **request: Any) -> dict[str, Any]:
        """An image on the queue with the message the inference workflow sends (shared.reviews.ReviewRequest)."""
        key = f"incoming/review-test/{uuid.uuid4().hex}.png"
        color = {"bicycle": (200, 30, 30), "motorcycle": (30, 30, 200)}.get(label, (30, 200, 30))
        buffer = io.BytesIO()
        Image.new("RGB", (32, 32), color).save(buffer, format="PNG")
        self.aws.client("s3").put_object(Bucket=self.bucket, Key=key, Body=buffer.getvalue())
        body = {
            "s3_bucket": self.bucket,
            "s3_key": key,
            "reason": "BelowConfidenceThreshold",
            "predicted_label": "bicycle",
            "confidence": 0.61,
            "confidence_threshold": 0.8,
            "model_version": "review-test-train-1",
            "inference_id": uuid.uuid4().hex,
            "probe": False,
            **request,
        }
        body = {k: v for k, v in body.items() if v is not None}
        self.aws.client("sqs").send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body))
        return body

    def drain(self) -> None:
        """Empty the review queue, leased messages too (each test starts from its own messages)."""
        sqs = self.aws.client("sqs")
        while self.queued():
            for message in sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", []):
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            for handle in self.leased_handles():
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=handle)

    def leased_handles(self) -> list[str]:
        """Receipt handles of the leases the console handed out (their messages are invisible)."""
        items = self.aws.client("dynamodb").scan(TableName=self.table).get("Items", [])
        return [item["receipt_handle"]["S"] for item in items if "receipt_handle" in item]

    def events_for(self, key: str | set[str], wait: float = 5) -> list[dict]:
        """Decision events a consumer of the bus received for these image keys (others are dropped)."""
        keys = {key} if isinstance(key, str) else key
        sqs, found, deadline = self.aws.client("sqs"), [], time.time() + wait
        while time.time() < deadline:
            messages = sqs.receive_message(QueueUrl=self.consumer_url, MaxNumberOfMessages=10).get("Messages", [])
            for message in messages:
                event = json.loads(message["Body"])
                sqs.delete_message(QueueUrl=self.consumer_url, ReceiptHandle=message["ReceiptHandle"])
                if event["detail"]["image"]["s3_key"] in keys:
                    found.append(event)
            if not messages:
                time.sleep(0.2)
        return found

    def queued(self) -> int:
        attributes = self.aws.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def objects(self, prefix: str) -> dict[str, bytes]:
        s3 = self.aws.client("s3")
        listed = s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", [])
        return {o["Key"]: s3.get_object(Bucket=self.bucket, Key=o["Key"])["Body"].read() for o in listed}


@pytest.fixture(scope="session")
def review_stack(local_aws, lambda_zips) -> ReviewStack:
    aws = local_aws
    bucket = "review-test-data"
    aws.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": aws.region})
    queue_url = aws.client("sqs").create_queue(QueueName="review-test-human-review")["QueueUrl"]
    table = "review-test-reviews"
    aws.client("dynamodb").create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    bus_arn, consumer_url = decision_consumer(aws, "review-test-decisions", SOURCE, DETAIL_TYPE)
    idp = aws.client("cognito-idp")
    pool_id = idp.create_user_pool(PoolName="review-test-reviewers")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="review-test-console",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    role = fixture_role(aws.client("iam"), "review-test-console")
    name = "review-test-review-console"
    awslambda = aws.client("lambda")
    awslambda.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="app.lambda_handler",
        Code={"ZipFile": (lambda_zips / "review_console.zip").read_bytes()},
        Timeout=30,
        MemorySize=256,
        Layers=[POWERTOOLS_LAYER],
        Environment={
            "Variables": {
                "REVIEW_QUEUE_URL": queue_url,
                "REVIEW_TABLE": table,
                "DECISION_BUS": bus_arn,
                "DECISION_EVENT_SOURCE": SOURCE,
                "DECISION_DETAIL_TYPE": DETAIL_TYPE,
                "LABEL_ROUTES": json.dumps(LABEL_ROUTES),
                "RECORDS_BUCKET": bucket,
                "REVIEW_RECORDS_PREFIX": "reviews",
                "GROUND_TRUTH_S3_URI": f"s3://{bucket}/monitoring/ground-truth",
                "USER_POOL_ID": pool_id,
                "USER_POOL_CLIENT_ID": client_id,
                "LEASE_SECONDS": str(LEASE_SECONDS),
                "POWERTOOLS_SERVICE_NAME": "review_console",
                "POWERTOOLS_METRICS_NAMESPACE": "CourierVehicleTest",
            }
        },
    )
    url = awslambda.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    # The two statements urls-auth.html asks of a NONE URL (what modules/review_console adds).
    awslambda.add_permission(
        FunctionName=name,
        StatementId="FunctionURLAllowPublicAccess",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    awslambda.add_permission(
        FunctionName=name,
        StatementId="FunctionURLInvokeAllowPublicAccess",
        Action="lambda:InvokeFunction",
        Principal="*",
        InvokedViaFunctionUrl=True,
    )
    return ReviewStack(aws, url, bucket, queue_url, table, pool_id, client_id, consumer_url, name)
