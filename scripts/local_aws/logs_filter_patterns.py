"""JSON filter patterns for FilterLogEvents, the way CloudWatch Logs matches them, for the embedded AWS.

`{ $.execution_arn = "arn:..." }` selects the JSON log events whose field equals the value
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/matching-terms-json-log-events.html): a selector
`$.a.b`, the operator `=` or `!=`, a value (a quoted string, a number, or a bare string in which `*` matches any
run of characters), and several comparisons joined with `&&`. That is how the demo reads an Express execution's
log events back. moto matches any pattern that starts with `{` against every event, so a JSON filter returned the
whole log group. Other JSON pattern syntax (`||`, parentheses, `<`/`>`, `IS NULL`, `EXISTS`, array indexes) is
refused with InvalidParameterException naming this module, rather than matching everything; plain term patterns
stay with moto.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from typing import Any

_COMPARISON = re.compile(
    r"""\s*\$\.(?P<path>[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*)\s*(?P<op>!=|=)\s*
    (?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^\s&|()"]+))\s*$""",
    re.VERBOSE,
)


class UnsupportedJsonPattern(ValueError):
    """A JSON filter pattern that uses syntax this module does not implement."""


Comparison = tuple[tuple[str, ...], str, str, bool]


@functools.lru_cache(maxsize=256)  # moto builds a filter per log event
def parse(pattern: str) -> tuple[Comparison, ...]:
    """(path, operator, value, value was quoted) for each `&&`-joined comparison of `{ ... }`."""
    body = pattern.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise UnsupportedJsonPattern(f"not a JSON filter pattern: {pattern!r}")
    comparisons = []
    for part in body[1:-1].split("&&"):
        match = _COMPARISON.fullmatch(part)
        if match is None:
            raise UnsupportedJsonPattern(
                "the embedded AWS implements JSON filter patterns of `$.field = value` joined by `&&` only: "
                f"{pattern!r}"
            )
        value = match["quoted"] if match["quoted"] is not None else match["bare"]
        comparisons.append((tuple(match["path"].split(".")), match["op"], value, match["quoted"] is not None))
    return tuple(comparisons)


def matches(comparisons: tuple[Comparison, ...], message: str) -> bool:
    """Whether a log event's message satisfies every comparison (a non-JSON message satisfies none)."""
    try:
        document: Any = json.loads(message)
    except ValueError:
        return False
    for path, op, value, quoted in comparisons:
        field: Any = document
        for key in path:
            field = field.get(key) if isinstance(field, dict) else None
        if field is None or isinstance(field, dict | list):
            equal = False
        elif not quoted and isinstance(field, int | float) and not isinstance(field, bool):
            try:
                equal = float(value) == float(field)
            except ValueError:
                equal = False
        else:
            text = json.dumps(field) if isinstance(field, bool) else str(field)
            equal = fnmatch.fnmatchcase(text, value) if (not quoted and "*" in value) else text == value
        if equal != (op == "="):
            return False
    return True


def install(ctx: Any) -> None:
    from moto.logs import models
    from moto.logs.exceptions import InvalidParameterException

    moto_filter = models.EventMessageFilter
    if getattr(moto_filter, "_local_aws", False):
        return

    class EventMessageFilter(moto_filter):  # type: ignore[misc, valid-type]
        _local_aws = True

        def __init__(self, pattern: str) -> None:
            self.json_comparisons = None
            if pattern and pattern.strip().startswith("{"):
                try:
                    self.json_comparisons = parse(pattern)
                except UnsupportedJsonPattern as error:
                    raise InvalidParameterException(str(error)) from None
            else:
                super().__init__(pattern)

        def matches(self, message: str) -> bool:
            if self.json_comparisons is not None:
                return matches(self.json_comparisons, message)
            return super().matches(message)

    models.EventMessageFilter = EventMessageFilter
