"""Reading our ASL files as Terraform does: placeholders `${name}` inside strings, filled by templatefile."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def placeholders(path: Path) -> set[str]:
    return set(PLACEHOLDER.findall(path.read_text()))


def render(path: Path, variables: dict[str, Any]) -> str:
    """The definition with every placeholder filled; a missing or unused variable is an error, as in Terraform."""
    text = path.read_text()
    missing = placeholders(path) - set(variables)
    if missing:
        raise KeyError(f"{path.name} needs variables {sorted(missing)}")
    rendered = PLACEHOLDER.sub(lambda match: str(variables[match.group(1)]), text)
    return json.dumps(json.loads(rendered))


def transitions(definition: dict) -> dict[str, set[str]]:
    """State name → the states it can move to (Next, Default, Choices, Catch), including nested Map/Parallel."""
    edges: dict[str, set[str]] = {}

    def walk(states: dict) -> None:
        for name, state in states.items():
            targets = {state.get("Next"), state.get("Default")}
            targets |= {choice.get("Next") for choice in state.get("Choices", [])}
            targets |= {catch.get("Next") for catch in state.get("Catch", [])}
            edges[name] = {t for t in targets if t}
            for branch in state.get("Branches", []):
                walk(branch["States"])
            if "ItemProcessor" in state or "Iterator" in state:
                walk((state.get("ItemProcessor") or state.get("Iterator"))["States"])

    walk(definition["States"])
    return edges
