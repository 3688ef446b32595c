"""The demo's review stage: a person decides queued images in the review console, driven in headless chromium.

The demo creates its own reviewer (AdminCreateUser, then AdminSetUserPassword permanent: the page answers no
NEW_PASSWORD_REQUIRED challenge), opens the console URL, logs in as a person would, and labels up to `count`
queued images with their true class (known from the test set's manifest). It reports how many it decided, how
many reviewer decision events dispatch received, how many ground-truth lines were written, and a screenshot.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")  # Debian's, which `make browser` installs
# Headless, and no background connections: this machine's closed network refuses them, many at a time.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REVIEWER = "demo-reviewer"


class ReviewStageError(Exception):
    """The review console did not behave as a reviewer needs; the message says what."""


def create_reviewer(idp: Any, pool_id: str) -> str:
    """The demo reviewer's password (a fresh one each run), set permanent."""
    password = f"Demo-{secrets.token_urlsafe(12)}-9a!"
    with contextlib.suppress(idp.exceptions.UsernameExistsException):
        idp.admin_create_user(UserPoolId=pool_id, Username=REVIEWER, MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool_id, Username=REVIEWER, Password=password, Permanent=True)
    return password


def ground_truth_lines(s3: Any, uri: str) -> int:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    lines = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            lines += sum(1 for line in body.splitlines() if line.strip())
    return lines


def review_in_browser(
    client: Callable[..., Any],
    outputs: Mapping[str, Any],
    true_labels: Mapping[str, str],
    out_dir: Path,
    take_events: Callable[[set[str], int], list[dict]],
    count: int = 5,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Decide up to `count` queued images in the console; the report's `review` section."""
    from playwright.sync_api import sync_playwright

    password = create_reviewer(client("cognito-idp"), outputs["reviewer_user_pool_id"])
    screenshot = out_dir / "review-console.png"
    decided: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="demo-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = context.new_page()
            page.goto(outputs["review_console_url"])
            page.fill("#username", REVIEWER)
            page.fill("#password", password)
            page.click("#login-button")
            page.wait_for_selector("#item:not([hidden]), #empty:not([hidden]), #status.error", timeout=60_000)
            if page.locator("#status.error").count():
                raise ReviewStageError(f"login failed: {page.inner_text('#status')}")
            while len(decided) < count and page.locator("#item:not([hidden])").count():
                key = page.get_attribute("#image", "data-s3-key") or ""
                if key not in true_labels:
                    raise ReviewStageError(f"the console showed {key!r}, which is not a test image")
                guess = page.inner_text("#guess")
                if not decided:
                    page.screenshot(path=str(screenshot), full_page=True)
                label = true_labels[key]
                page.click(f"button[data-label={label}]")
                page.wait_for_function(
                    "key => document.getElementById('image').dataset.s3Key !== key"
                    " || !document.getElementById('empty').hidden",
                    arg=key,
                    timeout=60_000,
                )
                if page.locator("#status.error").count():
                    raise ReviewStageError(f"deciding {key} failed: {page.inner_text('#status')}")
                decided.append({"s3_key": key, "label": label, "model_guess": guess})
                progress(f"decided {key}: {label} (the model guessed {guess})")
        finally:
            context.close()
    if not decided:
        raise ReviewStageError("the review queue had no image for the console to show")
    keys = {d["s3_key"] for d in decided}
    events = [e for e in take_events(keys, len(keys)) if e["detail"].get("decided_by") == "reviewer"]
    return {
        "decided": len(decided),
        "events_published": len(events),
        "events_with_inference_id": sum(1 for e in events if e["detail"].get("inference_id")),
        "ground_truth_lines": ground_truth_lines(client("s3"), outputs["ground_truth_s3_uri"]),
        "screenshot": screenshot.name,
        "items": decided,
    }
