"""Every checkov check we skip is skipped inline, on one resource, with a reason a reviewer can weigh."""

from __future__ import annotations

import re
from pathlib import Path

TERRAFORM = Path(__file__).resolve().parents[2] / "terraform"
SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def skips() -> list[tuple[Path, str, str]]:
    found = []
    for path in TERRAFORM.rglob("*.tf"):
        if ".terraform" in path.parts:
            continue
        for line in path.read_text().splitlines():
            match = SKIP.search(line)
            if match:
                found.append((path, match.group(1), (match.group(2) or "").strip()))
    return found


def test_every_skip_names_a_check_and_gives_a_reason():
    found = skips()
    assert found, "expected the documented skips (Lambda, S3, log groups) to be present"
    for path, check, reason in found:
        assert re.fullmatch(r"CKV2?_AWS_\d+", check), f"{path}: {check}"
        assert len(reason.split()) >= 6, f"{path}: {check} is skipped without a real reason: {reason!r}"


def test_no_check_is_skipped_globally():
    config = [p for p in (TERRAFORM.parent).glob(".checkov*") if p.is_file()]
    assert not config, f"skips belong inline next to the resource, not in {config}"
