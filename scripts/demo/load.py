"""Images through the inference state machine at a steady start rate, each one accounted for, with latencies.

The demo's inference stages run on this, and so does `scripts/load_test_inference` against a stack kept up with
KEEP=1. The workflow is EXPRESS, as deployed: each image gets one StartSyncExecution, whose answer carries the
route (or the error) and the execution's start and stop dates, the only record an Express execution leaves
outside its CloudWatch Logs (DescribeExecution and GetExecutionHistory refuse Express executions). Starts keep
to their schedule while earlier calls are still waiting for their answer, so executions overlap as they would
under real traffic; a call is never retried, since a retried StartSyncExecution would run the workflow again.
An image is accounted for when its execution ended with a route for a courier (nearby / distant), or it has
exactly one message on the human-review queue (low confidence, or classification failed and the workflow
queued the image). Anything else is reported as lost or duplicated. A routed image may also have one audit-sample
message (reason AuditSample, Terraform's audit_sample_rate): those are counted apart (`audit_messages`), and a
second one, or one for an image that was not routed, is a duplicate.
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
from urllib.parse import urlparse

from botocore.config import Config
from demo.decisions import DECIDED_ROUTES, DecisionConsumer, decision_accounting

# Routes whose image must be on the human-review queue exactly once (a decision that could not be published is
# queued for a person, or already was).
QUEUED_ROUTES = {"human_review", "failed:ClassificationFailed", "failed:DecisionNotPublished"}
COURIER_ROUTES = {"nearby", "distant"}
UNACCOUNTED = (
    "lost",
    "duplicated",
    "decisions_missing",
    "decisions_duplicated",
    "decisions_unexpected",
    "decisions_with_another_route",
)  # summary keys that must be empty
MAX_IN_FLIGHT = 256  # StartSyncExecution calls waiting for their answer at once (so starts keep to their schedule)
SYNC_READ_TIMEOUT_S = 330  # an Express execution runs for at most 300 s


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
    latencies: list[float]  # seconds from each execution's start to its stop, as StartSyncExecution reported them
    submit_seconds: float  # from the first start to the last
    wall_seconds: float  # from the first start until every execution had ended
    peak_running: int = 0  # the most executions running at the same moment, by their recorded start and stop
    queue_messages: Counter = field(default_factory=Counter)  # human-review messages per image key
    audit_messages: Counter = field(default_factory=Counter)  # audit-sample messages (a routed image's) per key
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    decisions: dict[str, Any] | None = None  # decision_accounting() of the events a consumer of the bus received

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
            "audit_messages": sum(self.audit_messages.values()),
            "lost": self.lost,
            "duplicated": self.duplicated,
        } | (self.decisions or {})

    def complete(self) -> bool:
        """Every image routed or queued once, and (when counted) every decision published once."""
        summary = self.summary()
        return not any(summary.get(key) for key in UNACCOUNTED)


def peak_running(spans: list[tuple[Any, Any]]) -> int:
    """The most (start, stop) spans open at one moment; one that stops as another starts does not overlap it."""
    moments = sorted([(start, 1) for start, _ in spans] + [(stop, -1) for _, stop in spans])  # stops first
    running = peak = 0
    for _, change in moments:
        running += change
        peak = max(peak, running)
    return peak


def inference_item(execution: dict, key: str, true_label: str) -> dict[str, Any]:
    """One report item from StartSyncExecution's answer (human review carries only the probabilities)."""
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
        "confidence_threshold": output.get("confidence_threshold"),
        "model_version": output.get("model_version"),
    }


def execution_name(run_id: str, key: str) -> str:
    """A Step Functions execution name (≤ 80 of [A-Za-z0-9-_]) unique to this run and image."""
    stem = re.sub(r"[^A-Za-z0-9_-]", "-", key.rsplit("/", 1)[-1].rsplit(".", 1)[0])
    return f"{run_id}-{stem}"[:80]


def sync_client(client: Callable[..., Any]) -> Any:
    """A Step Functions client for StartSyncExecution: one attempt, a read timeout past Express's limit.

    AWS serves StartSyncExecution on `sync-states.<region>.amazonaws.com` (botocore adds the `sync-` host
    prefix); a local endpoint such as http://127.0.0.1:4566 cannot take a prefix, so there it is left off.
    """
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=10,
        read_timeout=SYNC_READ_TIMEOUT_S,
        max_pool_connections=MAX_IN_FLIGHT,
    )
    sfn = client("stepfunctions", config=config)
    if "amazonaws.com" not in (urlparse(sfn.meta.endpoint_url).hostname or ""):
        sfn = client("stepfunctions", config=config.merge(Config(inject_host_prefix=False)))
    return sfn


def run_load(
    client: Callable[..., Any],
    state_machine_arn: str,
    bucket: str,
    queue_url: str,
    images: list[Image],
    over_seconds: float = 10.0,
    timeout_seconds: float = 600.0,
    progress: Callable[[str], None] = lambda _: None,
    decisions: DecisionConsumer | None = None,
    keep_for_review: int = 0,
) -> LoadResult:
    """Upload the images, run one execution each, started evenly over `over_seconds`; wait for all, account.

    With `decisions` (a consumer subscribed to the decision bus), the decision events are counted as well.
    `keep_for_review` human-review messages are counted but left on the queue, for the review console stage.
    """
    run_id = uuid.uuid4().hex[:8]
    keys = [image.key for image in images]
    if not images:
        raise LoadError("no images to run")
    if len(set(keys)) != len(keys):
        raise LoadError("two images share an S3 key; each image needs its own")
    s3, sfn = client("s3"), sync_client(client)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda image: s3.put_object(Bucket=bucket, Key=image.key, Body=image.data), images))

    interval = over_seconds / max(len(images) - 1, 1)
    lock = threading.Lock()
    answers: dict[str, dict] = {}  # image key -> StartSyncExecution's answer
    failures: dict[str, Exception] = {}  # image key -> why the call itself failed
    started_at: list[float] = []
    begun = time.monotonic()
    deadline = begun + over_seconds + timeout_seconds

    def run(index: int) -> None:
        image = images[index]
        delay = begun + index * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        with lock:
            started_at.append(time.monotonic())
        try:
            answer = sfn.start_sync_execution(
                stateMachineArn=state_machine_arn,
                name=execution_name(run_id, image.key),
                input=json.dumps({"s3_bucket": bucket, "s3_key": image.key}),
            )
        except Exception as error:  # accounted for below: the image has no route
            with lock:
                failures[image.key] = error
            return
        with lock:
            answers[image.key] = answer
            done = len(answers) + len(failures)
        if done % 50 == 0 or done == len(images):
            progress(f"{done}/{len(images)} executions ended after {time.monotonic() - begun:.1f} s")

    with ThreadPoolExecutor(max_workers=min(len(images), MAX_IN_FLIGHT), thread_name_prefix="load") as pool:
        futures = [pool.submit(run, index) for index in range(len(images))]
        for future in futures:
            future.result(timeout=max(1.0, deadline - time.monotonic()))
    wall = time.monotonic() - begun
    submit_seconds = max(started_at) - begun
    if failures and not answers:
        key, error = next(iter(failures.items()))
        raise LoadError(f"no execution could be started: {key}: {error}")

    items, latencies, spans = [], [], []
    for image in images:
        answer = answers.get(image.key)
        if answer is None:
            error = failures[image.key]
            code = getattr(error, "response", {}).get("Error", {}).get("Code") or type(error).__name__
            route = f"not-started:{code}"
            items.append(
                {"s3_key": image.key, "true_label": image.true_label, "execution_arn": None}
                | {"predicted_label": None, "confidence": 0.0, "route": route}
            )
            continue
        items.append(inference_item(answer, image.key, image.true_label))
        latencies.append((answer["stopDate"] - answer["startDate"]).total_seconds())
        spans.append((answer["startDate"], answer["stopDate"]))

    audits: Counter = Counter()
    messages = take_queue_messages(client("sqs"), queue_url, set(keys), audits, keep=keep_for_review)
    lost, duplicated = account(items, messages, audits)
    counted = None
    if decisions is not None:
        decided = sum(1 for item in items if item["route"] in DECIDED_ROUTES)
        counted = decision_accounting(items, decisions.take(set(keys), expected=decided))
    return LoadResult(
        items, latencies, submit_seconds, wall, peak_running(spans), messages, audits, lost, duplicated, counted
    )


def account(
    items: list[dict[str, Any]], messages: Counter, audits: Counter | None = None
) -> tuple[list[str], list[str]]:
    """(lost, duplicated) image keys: each needs a courier route, or exactly one human-review message; a routed
    image may have one audit-sample message besides."""
    lost, duplicated = [], []
    audits = audits or Counter()
    for item in items:
        expected = 1 if item["route"] in QUEUED_ROUTES else 0
        found = messages.get(item["s3_key"], 0)
        audited = audits.get(item["s3_key"], 0)
        if found > expected or audited > (1 if item["route"] in COURIER_ROUTES else 0):
            duplicated.append(item["s3_key"])
        elif found < expected or (expected == 0 and item["route"] not in COURIER_ROUTES):
            lost.append(item["s3_key"])
    return lost, duplicated


def take_queue_messages(
    sqs: Any, queue_url: str, keys: set[str], audits: Counter | None = None, keep: int = 0
) -> Counter:
    """Count (and take off the queue, as a reviewer would) the human-review messages for these image keys.

    Audit samples (reason AuditSample) are taken off too, but counted in `audits` instead, when given. Messages
    about other images are left on the queue, visible again once the count is done; so are the first `keep`
    counted messages of images the model guessed at (for the review console to decide).
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
            body = json.loads(message["Body"])
            key = body.get("s3_key")
            if key in keys:
                if body.get("reason") == "AuditSample":
                    if audits is not None:
                        audits[key] += 1
                else:
                    counts[key] += 1
                if keep > 0 and body.get("predicted_label"):
                    keep -= 1
                    others.append(message["ReceiptHandle"])
                    continue
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                others.append(message["ReceiptHandle"])
    for handle in others:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return counts
