"""Progress lines on stderr: a redrawn bar on a terminal, a few plain lines in logs (no tqdm dependency)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Reporter:
    """Where the ETL says what it is doing; `quiet=True` keeps only what callers print themselves."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet

    def info(self, message: str) -> None:
        if not self.quiet:
            print(message, file=self.stream, flush=True)

    def bar(self, label: str, total: int | None, unit: str = "B") -> Bar:
        return Bar(self, label, total, unit)


class Bar:
    """Counts work done; redraws at most 10 times a second on a TTY. In logs: one line at the end, plus
    one per quarter for work that takes more than a few seconds (downloads)."""

    def __init__(self, reporter: Reporter, label: str, total: int | None, unit: str) -> None:
        self.reporter = reporter
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._last_quarter = -1
        self._tty = bool(getattr(reporter.stream, "isatty", lambda: False)())

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, amount: int) -> None:
        self.done += amount
        if self.reporter.quiet:
            return
        if self._tty:
            now = time.monotonic()
            if now - self._last_draw >= 0.1:
                self._last_draw = now
                print("\r" + self._line(), end="", file=self.reporter.stream, flush=True)
        elif self.total and time.monotonic() - self.started > 3:
            quarter = min(4, self.done * 4 // self.total)
            if quarter > self._last_quarter and quarter < 4:
                self._last_quarter = quarter
                print(self._line(), file=self.reporter.stream, flush=True)

    def close(self) -> None:
        if self.reporter.quiet:
            return
        print(("\r" if self._tty else "") + self._line(), file=self.reporter.stream, flush=True)

    def _line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        if self.unit == "B":
            done, rate = f"{self.done / 1e6:.1f} MB", f"{self.done / 1e6 / elapsed:.1f} MB/s"
            total = f"/{self.total / 1e6:.1f} MB" if self.total else ""
        else:
            done, rate = str(self.done), f"{self.done / elapsed:.0f} {self.unit}/s"
            total = f"/{self.total}" if self.total else ""
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            filled = int(fraction * 24)
            return f"{self.label} [{'#' * filled}{'.' * (24 - filled)}] {fraction:4.0%} {done}{total} {rate}"
        return f"{self.label} {done} {rate}"
