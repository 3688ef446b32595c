"""EventBridge Scheduler for the embedded AWS: what firing a schedule does, on demand.

moto stores schedules (CreateSchedule/GetSchedule/..., enough for the AWS provider's `aws_scheduler_schedule`)
but never fires them, and nothing here fires them on their cron expression either: `python -m monitoring
run-now` (which invokes the target itself, as an operator would) is how the demo and most tests run the
scheduled check. `fire_schedule` is for the tests that check what AWS would check when the schedule fires:

- EventBridge Scheduler assumes the target's RoleArn as scheduler.amazonaws.com, so the role must trust it
  (https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role);
- it calls the target's API with that role: for a Lambda function, lambda:InvokeFunction on the function,
  asynchronously (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-templated.html);
- the target's Input is sent with its context attributes filled in, `<aws.scheduler.schedule-arn>`,
  `<aws.scheduler.scheduled-time>`, `<aws.scheduler.execution-id>` and `<aws.scheduler.attempt-number>`
  (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html).

A refused role or call raises local_aws.iam.AccessDenied (and is in iam-calls.jsonl); AWS would count a failed
invocation and retry it under the target's RetryPolicy.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


class ScheduleNotFound(Exception):
    """No such schedule in the group."""


def fire_schedule(ctx: Any, name: str, group: str = "default", account: str | None = None) -> dict[str, Any]:
    """Fire one schedule now as EventBridge Scheduler would; returns what was sent to whom."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.scheduler.models import scheduler_backends

    backend = scheduler_backends[account or DEFAULT_ACCOUNT_ID][ctx.region]
    try:
        schedule = backend.get_schedule(group, name)
    except Exception as error:  # moto raises its own ScheduleNotFound
        raise ScheduleNotFound(f"schedule {group}/{name} does not exist: {error}") from None
    target = schedule.target
    payload = target.get("Input") or "{}"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for attribute, value in (
        ("<aws.scheduler.schedule-arn>", schedule.arn),
        ("<aws.scheduler.scheduled-time>", now),
        ("<aws.scheduler.execution-id>", str(uuid.uuid4())),
        ("<aws.scheduler.attempt-number>", "1"),
    ):
        payload = payload.replace(attribute, value)
    client = ctx.client("lambda")
    iam = getattr(ctx, "iam", None)
    if iam is not None:
        session = iam.credentials(target["RoleArn"], "scheduler.amazonaws.com", "scheduler", source_arn=schedule.arn)
        client = ctx.client(
            "lambda",
            aws_access_key_id=session.access_key_id,
            aws_secret_access_key=session.secret_access_key,
            aws_session_token=session.session_token,
        )
    client.invoke(FunctionName=target["Arn"], InvocationType="Event", Payload=payload.encode())
    return {"schedule_arn": schedule.arn, "target": target["Arn"], "input": payload}
