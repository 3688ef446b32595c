"""The load test's bookkeeping (scripts/demo/load.py): every image is routed or queued once, or it is reported."""

from __future__ import annotations

from collections import Counter

import pytest
from demo.decisions import decision_accounting
from demo.load import (
    UNACCOUNTED,
    Image,
    LoadError,
    LoadResult,
    account,
    execution_name,
    inference_item,
    peak_running,
    run_load,
    sync_client,
)


def item(key: str, route: str) -> dict:
    return {"s3_key": key, "route": route}


def test_routed_and_queued_images_are_accounted_for():
    items = [item("a", "nearby"), item("b", "distant"), item("c", "human_review")]
    items.append(item("d", "failed:ClassificationFailed"))
    items.append(item("e", "failed:DecisionNotPublished"))  # the workflow queued the image for a person
    assert account(items, Counter({"c": 1, "d": 1, "e": 1})) == ([], [])


@pytest.mark.parametrize(
    ("items", "messages", "lost", "duplicated"),
    [
        ([item("c", "human_review")], Counter(), ["c"], []),  # routed to review, but no message arrived
        ([item("c", "human_review")], Counter({"c": 2}), [], ["c"]),  # two reviewers would get it
        ([item("a", "nearby")], Counter({"a": 1}), [], ["a"]),  # a courier and a reviewer both got it
        ([item("e", "failed:SerializationFailed")], Counter(), ["e"], []),  # failed without queuing the image
        ([item("d", "failed:ClassificationFailed")], Counter(), ["d"], []),  # the workflow promised to queue it
    ],
)
def test_missing_or_extra_messages_are_reported(items, messages, lost, duplicated):
    assert account(items, messages) == (lost, duplicated)


@pytest.mark.parametrize(
    ("items", "audits", "duplicated"),
    [
        ([item("a", "nearby"), item("b", "distant")], Counter({"a": 1, "b": 1}), []),  # audited routes: fine
        ([item("a", "nearby")], Counter({"a": 2}), ["a"]),  # two reviewers would audit it
        ([item("c", "human_review")], Counter({"c": 1}), ["c"]),  # an unsure image is never an audit sample
    ],
)
def test_an_audit_sample_is_one_extra_message_for_a_routed_image(items, audits, duplicated):
    queued = Counter({i["s3_key"]: 1 for i in items if i["route"] == "human_review"})

    assert account(items, queued, audits) == ([], duplicated)


@pytest.mark.parametrize(
    ("spans", "peak"),
    [
        ([], 0),
        ([(0, 1), (1, 2), (2, 3)], 1),  # one after another: each stops as the next starts
        ([(0, 5), (1, 2), (3, 4)], 2),
        ([(0, 5), (1, 4), (2, 3), (6, 7)], 3),
    ],
)
def test_peak_running_counts_executions_that_overlap(spans, peak):
    assert peak_running(spans) == peak


def test_execution_names_are_valid_and_unique_per_run_and_image():
    names = {execution_name("run1", f"incoming/test/{stem}.png") for stem in ("bike_s_000121", "bike_s_000122")}
    assert len(names) == 2
    assert execution_name("run1", "incoming/x/a b+c.png") == "run1-a-b-c"
    assert execution_name("run2", "incoming/test/bike_s_000121.png") not in names
    assert len(execution_name("r", "incoming/" + "x" * 200 + ".png")) == 80


TWINS = [Image("incoming/a.png", b"1", "bicycle"), Image("incoming/a.png", b"2", "bicycle")]


@pytest.mark.parametrize(("images", "message"), [([], "no images"), (TWINS, "share an S3 key")])
def test_a_load_that_cannot_be_accounted_for_is_refused_before_anything_is_sent(images, message):
    # The client factory hands out no clients: any upload or start would fail with AttributeError instead.
    with pytest.raises(LoadError, match=message):
        run_load(lambda service: None, "arn", "bucket", "queue", images)


class FakeClient:
    def __init__(self, endpoint_url: str, config) -> None:
        self.meta = type("Meta", (), {"endpoint_url": endpoint_url})()
        self.config = config


@pytest.mark.parametrize(
    ("endpoint", "prefix_injected"),
    [("https://states.eu-west-1.amazonaws.com", True), ("http://127.0.0.1:4566", False)],
)
def test_the_sync_client_makes_one_attempt_and_drops_the_host_prefix_only_for_a_local_endpoint(
    endpoint, prefix_injected
):
    client = sync_client(lambda service, config: FakeClient(endpoint, config))

    assert client.config.retries["total_max_attempts"] == 1  # a retried StartSyncExecution runs the workflow again
    assert client.config.read_timeout > 300  # an Express execution may take five minutes
    assert (client.config.inject_host_prefix is not False) is prefix_injected


def test_a_failed_sync_execution_becomes_a_failed_route_with_its_error():
    answer = {"executionArn": "arn:aws:states:eu-west-1:1:express:m:n:i", "status": "FAILED", "error": "ImageRejected"}

    item = inference_item(answer, "incoming/x.png", "bicycle")

    assert item["route"] == "failed:ImageRejected"
    assert account([item], Counter()) == (["incoming/x.png"], [])  # no route and nothing queued: lost


def decision(key: str, route: str) -> dict:
    return {"detail": {"image": {"s3_bucket": "b", "s3_key": key}, "route": route, "decided_by": "model"}}


def test_every_classified_image_has_exactly_one_decision_event():
    items = [item("a", "nearby"), item("b", "distant"), item("c", "human_review"), item("d", "failed:ImageRejected")]
    events = [decision("a", "nearby"), decision("b", "distant"), decision("c", "human_review")]

    counted = decision_accounting(items, events)

    assert counted["decisions_published"] == counted["images_classified"] == 3  # a rejected image has no decision
    assert counted["decisions_by_route"] == {"nearby": 1, "distant": 1, "human_review": 1}
    assert not any(counted[key] for key in UNACCOUNTED if key.startswith("decisions_"))


@pytest.mark.parametrize(
    ("events", "problem"),
    [
        ([decision("a", "nearby")], "decisions_missing"),  # b's decision never reached the bus
        ([decision("a", "nearby"), decision("a", "nearby"), decision("b", "distant")], "decisions_duplicated"),
        ([decision("a", "distant"), decision("b", "distant")], "decisions_with_another_route"),
        ([decision("a", "nearby"), decision("b", "distant"), decision("z", "nearby")], "decisions_unexpected"),
    ],
)
def test_missing_duplicated_or_wrong_decision_events_are_reported(events, problem):
    counted = decision_accounting([item("a", "nearby"), item("b", "distant")], events)

    assert counted[problem]
    result = LoadResult([], [], 0.0, 0.0, decisions=counted)
    assert not result.complete()
