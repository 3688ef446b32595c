"""functions/README.md has a section for every function under functions/, and none for a function that is gone."""

from __future__ import annotations

import re
from pathlib import Path

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
README = FUNCTIONS_DIR / "README.md"
# "## serialize_image" or "## smoke_test (training pipeline)": a heading whose first word is a function's name.
SECTION = re.compile(r"^## ([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\b", flags=re.MULTILINE)


def function_folders() -> set[str]:
    return {path.parent.name for path in FUNCTIONS_DIR.glob("*/app.py")}


def test_every_function_folder_has_a_section():
    folders = function_folders()
    assert {"serialize_image", "classify_image", "filter_inferences"} <= folders, "the inference steps are missing"
    documented = set(SECTION.findall(README.read_text()))
    missing = sorted(folders - documented)
    assert not missing, (
        f"functions/README.md has no '## <name>' section for {missing}: add one saying who invokes it, "
        "what goes in and out, its errors and metrics, and which tests cover it"
    )


def test_no_section_for_a_function_that_does_not_exist():
    gone = sorted(set(SECTION.findall(README.read_text())) - function_folders())
    assert not gone, f"functions/README.md documents {gone}, which have no folder under functions/"
