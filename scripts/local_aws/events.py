"""EventBridge delivery to Lambda and Step Functions targets for the embedded AWS (moto delivers to neither).

A matching rule's Lambda targets are invoked asynchronously and its state machine targets get a new execution,
with the target's `Input`, `InputPath` or `InputTransformer` applied; other targets stay with moto.

Delivery is authorized as EventBridge is (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html,
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-identity-based.html): a Lambda function must allow
events.amazonaws.com in its resource-based policy (aws:SourceArn = the rule), a state machine target is started
with the target's RoleArn, which must trust events.amazonaws.com and allow states:StartExecution. A delivery
that is refused is not made (EventBridge counts it as a failed invocation) and is recorded by local_aws.iam.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

LOG = logging.getLogger(__name__)
LOCAL_SERVICES = {"lambda", "states"}


def target_input(target: dict, event: dict) -> Any:
    """What EventBridge sends a target: the event, or its constant Input, InputPath or InputTransformer."""
    from moto.events.models import EventTemplateParser

    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        value: Any = event
        for part in target["InputPath"].lstrip("$").strip(".").split("."):
            if part:
                value = value.get(part) if isinstance(value, dict) else None
        return value
    transformer = target.get("InputTransformer")
    if transformer:
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
    return event


def install(ctx: Any) -> None:
    from moto.events.models import Rule
    from moto.utilities.arns import parse_arn

    moto_send_to_targets = Rule.send_to_targets
    lock = threading.Lock()

    def authorized(rule: Any, target: dict) -> bool:
        iam = getattr(ctx, "iam", None)
        if iam is None:
            return True
        from local_aws.iam import AccessDenied
        from local_aws.iam_requests import Need

        try:
            if parse_arn(target["Arn"]).service == "lambda":
                iam.authorize_service("events.amazonaws.com", Need("lambda:InvokeFunction", target["Arn"]), rule.arn)
            else:
                session = iam.credentials(target.get("RoleArn") or "", "events.amazonaws.com", "events", rule.arn)
                iam.authorize(session, [Need("states:StartExecution", target["Arn"])], via="events.amazonaws.com")
        except AccessDenied:
            LOG.warning("EventBridge may not deliver rule %s to %s (see iam-calls.jsonl)", rule.name, target["Arn"])
            return False
        return True

    def deliver(arn: str, payload: Any) -> None:
        try:
            if parse_arn(arn).service == "lambda":
                ctx.client("lambda").invoke(FunctionName=arn, InvocationType="Event", Payload=json.dumps(payload))
            else:
                ctx.client("stepfunctions").start_execution(stateMachineArn=arn, input=json.dumps(payload))
        except Exception:
            LOG.exception("EventBridge could not deliver to %s", arn)

    def send_to_targets(self: Any, original_event: dict, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        local = [t for t in self.targets if parse_arn(t["Arn"]).service in LOCAL_SERVICES]
        for target in local:
            if not authorized(self, target):
                continue
            payload = target_input(target, original_event) if transform_input else original_event
            threading.Thread(target=deliver, args=(target["Arn"], payload), daemon=True).start()
        others = [t for t in self.targets if t not in local]
        if others:
            with lock:
                every_target, self.targets = self.targets, others
                try:
                    moto_send_to_targets(self, original_event, transform_input)
                finally:
                    self.targets = every_target

    Rule.send_to_targets = send_to_targets
