"""The path an Express execution took, read back from its CloudWatch Logs (it has no execution history).

An Express workflow at log level ALL writes one JSON log event per history event to the state machine's log
group (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html); the state machine's
`include_execution_data = false` keeps the image out of them, but each `...StateEntered` event still names its
state. Delivery is best effort and not immediate, so a reader waits for the execution's last event.
"""

from __future__ import annotations

import json
import time
from typing import Any

TERMINAL_TYPES = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}


class ExecutionLogMissing(Exception):
    """The execution's log events did not arrive (logging off, or the wrong log group)."""


def execution_log(logs: Any, log_group: str, execution_arn: str, timeout: float = 60.0) -> list[dict[str, Any]]:
    """The execution's log records in event order, once its terminal event has been delivered."""
    pattern = f'{{ $.execution_arn = "{execution_arn}" }}'
    deadline = time.monotonic() + timeout
    while True:
        records = []
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=log_group, filterPattern=pattern):
            records += [json.loads(event["message"]) for event in page["events"]]
        records.sort(key=lambda record: int(record["id"]))
        if any(record["type"] in TERMINAL_TYPES for record in records):
            return records
        if time.monotonic() > deadline:
            raise ExecutionLogMissing(
                f"no complete log of {execution_arn} in {log_group} after {timeout:.0f} s ({len(records)} events)"
            )
        time.sleep(1.0)


def states_entered(records: list[dict[str, Any]]) -> list[str]:
    """The names of the states the execution entered, in order."""
    return [record["details"]["name"] for record in records if record["type"].endswith("StateEntered")]


def execution_status(records: list[dict[str, Any]]) -> str:
    """SUCCEEDED, FAILED, TIMED_OUT or ABORTED, from the terminal event."""
    last = next(record["type"] for record in reversed(records) if record["type"] in TERMINAL_TYPES)
    return {"ExecutionSucceeded": "SUCCEEDED", "ExecutionFailed": "FAILED", "ExecutionTimedOut": "TIMED_OUT"}.get(
        last, "ABORTED"
    )
