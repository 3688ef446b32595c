"""The load test's bookkeeping (scripts/demo/load.py): every image is routed or queued once, or it is reported."""

from __future__ import annotations

from collections import Counter

import pytest
from demo.load import Image, LoadError, account, execution_name, peak_running, run_load


def item(key: str, route: str) -> dict:
    return {"s3_key": key, "route": route}


def test_routed_and_queued_images_are_accounted_for():
    items = [item("a", "nearby"), item("b", "distant"), item("c", "human_review")]
    items.append(item("d", "failed:ClassificationFailed"))
    assert account(items, Counter({"c": 1, "d": 1})) == ([], [])


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
