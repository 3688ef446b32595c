"""The README's "What `make demo` does" is the demo's own list of steps: same names, same order."""

from __future__ import annotations

import re

from demo.__main__ import STEPS

from tests.conftest import REPO_ROOT


def readme_steps() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## What `make demo` does", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\d+\. `(\w+)`:", section, flags=re.M)


def test_the_readme_lists_the_demos_steps_in_the_order_it_runs_them():
    assert readme_steps() == [step.__name__ for step in STEPS]

