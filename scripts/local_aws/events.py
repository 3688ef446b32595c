"""EventBridge delivery to Lambda and Step Functions targets for the embedded AWS (moto delivers to neither).

A matching rule's Lambda targets are invoked asynchronously and its state machine targets get a new execution,
with the target's `Input`, `InputPath` or `InputTransformer` applied; other targets stay with moto.
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
