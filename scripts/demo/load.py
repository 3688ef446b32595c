"""Images through the inference state machine at a steady start rate, each one accounted for, with latencies.

The demo's inference stages run on this, and so does `scripts/load_test_inference` against a stack kept up with
KEEP=1. Every image gets exactly one execution: its name is derived from the run and the image, so a start that is
retried cannot create a second one. An image is accounted for when its execution ended with a route for a courier
(nearby / distant), or it has exactly one message on the human-review queue (low confidence, or classification
failed and the workflow queued the image). Anything else is reported as lost or duplicated.
"""

from __future__ import annotations

import json
import re
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
QUEUED_ROUTES = {"human_review", "failed:ClassificationFailed"}  # routes whose image must be on the queue once
COURIER_ROUTES = {"nearby", "distant"}
STARTERS = 4
PEEK_PAST_RUNNING = 8  # how many running executions one polling round looks at before it waits again


class LoadError(Exception):
    """The load could not be run or did not finish in time; the message says which executions are missing."""


@dataclass
class Image:
    key: str
    data: bytes
    true_label: str


@dataclass
class LoadResult:
    items: list[dict[str, Any]]
    latencies: list[float]  # seconds from each execution's start to its stop, as Step Functions recorded them
    submit_seconds: float  # from the first start to the last
    wall_seconds: float  # from the first start until every execution had ended
    peak_running: int = 0  # the most executions running at the same moment, by their recorded start and stop
    queue_messages: Counter = field(default_factory=Counter)  # human-review messages per image key
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
        return {
            "executions": len(self.items),
            "submit_seconds": round(self.submit_seconds, 2),
            "wall_seconds": round(self.wall_seconds, 2),
            "peak_running": self.peak_running,
            "p50_seconds": round(cuts[49], 3) if cuts else None,
            "p95_seconds": round(cuts[94], 3) if cuts else None,
            "max_seconds": round(ordered[-1], 3) if ordered else None,
            "routes": dict(Counter(str(item["route"]) for item in self.items)),
            "human_review_messages": sum(self.queue_messages.values()),
            "lost": self.lost,
            "duplicated": self.duplicated,
        }


def peak_running(spans: list[tuple[Any, Any]]) -> int:
    """The most (start, stop) spans open at one moment; one that stops as another starts does not overlap it."""
    moments = sorted([(start, 1) for start, _ in spans] + [(stop, -1) for _, stop in spans])  # stops first
    running = peak = 0
    for _, change in moments:
        running += change
        peak = max(peak, running)
    return peak


def inference_item(execution: dict, key: str, true_label: str) -> dict[str, Any]:
    """One report item from an inference execution's output (human review carries only the probabilities)."""
    item: dict[str, Any] = {"s3_key": key, "true_label": true_label, "execution_arn": execution["executionArn"]}
    if execution["status"] != "SUCCEEDED":
        return item | {"predicted_label": None, "confidence": 0.0, "route": f"failed:{execution.get('error')}"}
    output = json.loads(execution["output"])
    probabilities, labels = output["inferences"], output["labels"]
    best = max(range(len(labels)), key=lambda i: probabilities[i])
    return item | {
        "predicted_label": output.get("predicted_label", labels[best]),
        "confidence": output.get("confidence", probabilities[best]),
        "route": output["route"],
    }


def execution_name(run_id: str, key: str) -> str:
    """A Step Functions execution name (≤ 80 of [A-Za-z0-9-_]) unique to this run and image."""
    stem = re.sub(r"[^A-Za-z0-9_-]", "-", key.rsplit("/", 1)[-1].rsplit(".", 1)[0])
    return f"{run_id}-{stem}"[:80]


def run_load(
    client: Callable[[str], Any],
    state_machine_arn: str,
    bucket: str,
    queue_url: str,
    images: list[Image],
    over_seconds: float = 10.0,
    timeout_seconds: float = 600.0,
    progress: Callable[[str], None] = lambda _: None,
) -> LoadResult:
    """Upload the images, start one execution each spread evenly over `over_seconds`, wait for all, account."""
    s3, sfn = client("s3"), client("stepfunctions")
    run_id = uuid.uuid4().hex[:8]
    keys = [image.key for image in images]
    if not images:
        raise LoadError("no images to run")
    if len(set(keys)) != len(keys):
        raise LoadError("two images share an S3 key; each image needs its own")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda image: s3.put_object(Bucket=bucket, Key=image.key, Body=image.data), images))

    arns: dict[str, Image] = {}
    lock = threading.Lock()
    interval = over_seconds / max(len(images) - 1, 1)
    started = time.monotonic()

    failures: list[Exception] = []
    submitted: list[float] = []  # when each start returned

    def start(index: int) -> None:
        image = images[index]
        delay = started + index * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if failures:
            return
        try:
            arn = sfn.start_execution(
                stateMachineArn=state_machine_arn,
                name=execution_name(run_id, image.key),
                input=json.dumps({"s3_bucket": bucket, "s3_key": image.key}),
            )["executionArn"]
        except Exception as error:  # reported by the collecting loop
            failures.append(error)
            return
        with lock:
            arns[arn] = image
            submitted.append(time.monotonic())

    # A few starters keep to the schedule even when one StartExecution is slow; each waits for its own time.
    starters = ThreadPoolExecutor(max_workers=STARTERS, thread_name_prefix="load-start")
    for index in range(len(images)):
        starters.submit(start, index)
    finished: dict[str, dict] = {}
    try:
        reported = 0
        deadline = started + over_seconds + timeout_seconds
        while len(finished) < len(images):
            if time.monotonic() > deadline:
                still = len(images) - len(finished)
                raise LoadError(f"{still} of {len(images)} executions still running after {timeout_seconds:.0f} s")
            if failures:
                raise LoadError(f"could not start execution {len(arns) + 1} of {len(images)}: {failures[0]}")
            time.sleep(0.25)
            with lock:
                pending = [arn for arn in arns if arn not in finished]  # in (roughly) start order
            running = 0
            for arn in pending:  # executions end roughly in start order: stop at the first few still running
                execution = sfn.describe_execution(executionArn=arn)
                if execution["status"] in TERMINAL:
                    finished[arn] = execution
                else:
                    running += 1
                    if running >= PEEK_PAST_RUNNING:
                        break
            if len(finished) >= reported + 50 or (len(finished) == len(images) and reported < len(images)):
                reported = len(finished)
                progress(f"{reported}/{len(images)} executions ended after {time.monotonic() - started:.1f} s")
    finally:
        failures.append(LoadError("stopped"))  # starters still waiting for their time give up
        starters.shutdown(cancel_futures=True)
    wall = time.monotonic() - started
    submit_seconds = max(submitted) - started

    items, latencies = [], []
    for arn, execution in finished.items():
        image = arns[arn]
        items.append(inference_item(execution, image.key, image.true_label))
        latencies.append((execution["stopDate"] - execution["startDate"]).total_seconds())
    order = {key: index for index, key in enumerate(keys)}
    items.sort(key=lambda item: order[item["s3_key"]])

    messages = take_queue_messages(client("sqs"), queue_url, set(keys))
    lost, duplicated = account(items, messages)
    spans = [(execution["startDate"], execution["stopDate"]) for execution in finished.values()]
    return LoadResult(items, latencies, submit_seconds, wall, peak_running(spans), messages, lost, duplicated)


def account(items: list[dict[str, Any]], messages: Counter) -> tuple[list[str], list[str]]:
    """(lost, duplicated) image keys: each needs a courier route, or exactly one human-review message."""
    lost, duplicated = [], []
    for item in items:
        expected = 1 if item["route"] in QUEUED_ROUTES else 0
        found = messages.get(item["s3_key"], 0)
        if found > expected:
            duplicated.append(item["s3_key"])
        elif found < expected or (expected == 0 and item["route"] not in COURIER_ROUTES):
            lost.append(item["s3_key"])
    return lost, duplicated


def take_queue_messages(sqs: Any, queue_url: str, keys: set[str]) -> Counter:
    """Count (and take off the queue, as a reviewer would) the human-review messages for these image keys.

    Messages about other images are left on the queue, visible again once the count is done.
    """
    counts: Counter = Counter()
    others: list[str] = []
    empty_reads = 0
    while empty_reads < 2:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=120, WaitTimeSeconds=0
        ).get("Messages", [])
        empty_reads = 0 if batch else empty_reads + 1
        for message in batch:
            key = json.loads(message["Body"]).get("s3_key")
            if key in keys:
                counts[key] += 1
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                others.append(message["ReceiptHandle"])
    for handle in others:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return counts
