"""A consumer of the decision bus, as a dispatch system would subscribe: an EventBridge rule with an SQS target.

The inference workflow publishes one event per decision (nearby, distant, human_review) on the stack's bus. The
demo and `scripts/load_test_inference` subscribe for the length of a run, count what arrives per image and per
route, and remove their rule and queue afterwards, so the stack is left as Terraform made it. The queue policy
lets only that rule send (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions).
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

DECIDED_ROUTES = ("nearby", "distant", "human_review")
"""Routes of an image the model decided on: each has exactly one decision event."""


@dataclass
class DecisionConsumer:
    events: Any
    sqs: Any
    bus_name: str
    rule_name: str
    queue_url: str

    @classmethod
    def subscribe(cls, client: Any, bus_name: str, source: str, detail_type: str, name: str) -> DecisionConsumer:
        """Create the queue, its policy, the rule on the bus and the target; every decision lands on the queue."""
        events, sqs = client("events"), client("sqs")
        suffix = uuid.uuid4().hex[:6]
        rule_name = f"{name}-{suffix}"
        queue_url = sqs.create_queue(QueueName=rule_name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rule_arn = events.put_rule(
            Name=rule_name,
            EventBusName=bus_name,
            EventPattern=json.dumps({"source": [source], "detail-type": [detail_type]}),
            Description="Counts the inference workflow's decisions for a demo or load-test run.",
        )["RuleArn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DecisionRuleOnly",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
        events.put_targets(Rule=rule_name, EventBusName=bus_name, Targets=[{"Id": "count", "Arn": queue_arn}])
        return cls(events, sqs, bus_name, rule_name, queue_url)

    def take(self, keys: set[str], expected: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The decision events received for these image keys, waiting up to `timeout` for `expected` of them.

        EventBridge delivers asynchronously, so a few may still be on their way when the executions have ended.
        Events about other images are left on the queue.
        """
        received: list[dict[str, Any]] = []
        others: list[str] = []
        deadline = time.monotonic() + timeout
        quiet_reads = 0
        while (len(received) < expected and time.monotonic() < deadline) or quiet_reads < 2:
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300, WaitTimeSeconds=1
            ).get("Messages", [])
            quiet_reads = 0 if batch else quiet_reads + 1
            for message in batch:
                event = json.loads(message["Body"])
                if event.get("detail", {}).get("image", {}).get("s3_key") in keys:
                    received.append(event)
                    self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                else:
                    others.append(message["ReceiptHandle"])
        for handle in others:
            self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
        return received

    def close(self) -> None:
        """Remove the rule, its target and the queue."""
        self.events.remove_targets(Rule=self.rule_name, EventBusName=self.bus_name, Ids=["count"])
        self.events.delete_rule(Name=self.rule_name, EventBusName=self.bus_name)
        self.sqs.delete_queue(QueueUrl=self.queue_url)


def decision_accounting(items: list[dict[str, Any]], events: list[dict[str, Any]]) -> dict[str, Any]:
    """Each decided image (nearby, distant, human_review) must have exactly one decision event, no other image any."""
    decided = {
        item["s3_key"]: item["route"] for item in items if item["route"] in ("nearby", "distant", "human_review")
    }
    per_key = Counter(event["detail"]["image"]["s3_key"] for event in events)
    wrong_route = sorted(
        event["detail"]["image"]["s3_key"]
        for event in events
        if event["detail"]["image"]["s3_key"] in decided
        and event["detail"]["route"] != decided[event["detail"]["image"]["s3_key"]]
    )
    return {
        "decisions_published": len(events),
        "decisions_by_route": dict(Counter(event["detail"]["route"] for event in events)),
        "images_classified": len(decided),
        "decisions_missing": sorted(key for key in decided if per_key[key] == 0),
        "decisions_duplicated": sorted(key for key, count in per_key.items() if count > 1),
        "decisions_unexpected": sorted(key for key in per_key if key not in decided),
        "decisions_with_another_route": wrong_route,
    }
