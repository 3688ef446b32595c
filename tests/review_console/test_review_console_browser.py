"""A person's view of the review console: headless Debian chromium (Playwright) logs in, sees the image and the
model's guess, decides it and is shown the next one. Needs /usr/bin/chromium (`make browser` installs it)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from demo.review import CHROMIUM as DEMO_CHROMIUM
from demo.review import CHROMIUM_ARGS

from tests.conftest import REPO_ROOT
from tests.review_console.conftest import PASSWORD

pytestmark = [pytest.mark.embedded, pytest.mark.browser]

CHROMIUM = Path(DEMO_CHROMIUM)
SCREENSHOTS = REPO_ROOT / "build" / "screenshots"


@pytest.fixture
def browser_page():
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} not found: run `make browser` (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="review-console-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def test_a_reviewer_logs_in_sees_the_guess_decides_and_gets_the_next_image(review_stack, browser_page):
    review_stack.drain()
    review_stack.log_in("carla")  # the user exists, with a permanent password
    first = review_stack.enqueue("motorcycle", predicted_label="bicycle", confidence=0.55)
    second = review_stack.enqueue("bicycle", predicted_label="motorcycle", confidence=0.52, reason="TopLabelsTied")
    page = browser_page

    page.goto(review_stack.url)
    assert page.locator("#image").get_attribute("src") is None  # nothing to see before logging in
    page.fill("#username", "carla")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_selector("#item:not([hidden])", timeout=30_000)

    assert page.inner_text("#guess") == "bicycle"
    assert page.inner_text("#confidence") == "55.0 %"
    assert page.inner_text("#reason") == "BelowConfidenceThreshold"
    assert page.locator("#image").get_attribute("src").startswith("data:image/png;base64,")
    assert page.evaluate("document.getElementById('image').naturalWidth") == 32  # the bytes decoded as an image
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "review-console-first.png"), full_page=True)

    page.click("button[data-label=motorcycle]")
    page.wait_for_function("document.getElementById('reason').textContent === 'TopLabelsTied'", timeout=30_000)

    assert page.inner_text("#guess") == "motorcycle"
    page.screenshot(path=str(SCREENSHOTS / "review-console-next.png"), full_page=True)
    events = review_stack.events_for(first["s3_key"])
    assert [(e["detail"]["predicted_label"], e["detail"]["decided_by"]) for e in events] == [("motorcycle", "reviewer")]
    assert review_stack.queued() == 1  # the second image, leased to carla
    assert second["s3_key"] in page.inner_text("#status")


def test_a_wrong_password_shows_the_refusal_and_no_image(review_stack, browser_page):
    review_stack.drain()
    review_stack.log_in("carla")
    review_stack.enqueue("bicycle")
    page = browser_page

    page.goto(review_stack.url)
    page.fill("#username", "carla")
    page.fill("#password", "Wrong-Passw0rd!")
    page.click("#login-button")
    page.wait_for_selector("#status.error", timeout=30_000)

    assert page.locator("#review").is_hidden()
    assert page.locator("#image").get_attribute("src") is None
    assert review_stack.queued() == 1


def test_the_demos_review_stage_decides_queued_images_with_their_true_class(review_stack, tmp_path):
    """scripts/demo/review.py, the demo's reviewer, against the console: the labels, events and ground truth."""
    from demo.review import review_in_browser

    review_stack.drain()
    truth = {}
    for label in ("bicycle", "motorcycle", "motorcycle"):
        truth[review_stack.enqueue(label, predicted_label="bicycle")["s3_key"]] = label
    outputs = {
        "reviewer_user_pool_id": review_stack.pool_id,
        "review_console_url": review_stack.url,
        "ground_truth_s3_uri": f"s3://{review_stack.bucket}/monitoring/ground-truth",
    }
    lines_before = len(review_stack.objects("monitoring/ground-truth/"))

    def take(keys, expected):
        return review_stack.events_for(set(keys))

    result = review_in_browser(review_stack.aws.client, outputs, truth, tmp_path, take, count=5)

    assert result["decided"] == result["events_published"] == 3
    assert {item["s3_key"]: item["label"] for item in result["items"]} == truth
    assert result["ground_truth_lines"] - lines_before == result["events_with_inference_id"] == 3
    assert (tmp_path / result["screenshot"]).stat().st_size > 1000
    assert review_stack.queued() == 0
