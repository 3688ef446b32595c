"""Reading a function's own settings from its environment, with a named error for a bad value."""

from __future__ import annotations

from collections.abc import Mapping

from shared.errors import ConfigurationError


def positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    """`environ[name]` as a positive integer, `default` when unset or blank; ConfigurationError otherwise."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not an integer") from None
    if value <= 0:
        raise ConfigurationError(f"{name}={value} must be positive")
    return value
