"""A count of files done on a terminal's stderr, for runs long enough to want one.

It appears only when stderr is a terminal and the run has lasted ``delay`` seconds (a one-file
check from an editor or pre-commit never shows it), redraws one ``\\r`` line at most ten times
a second, and is erased before anything else is written to stderr and at the end.

``RNNSHAPE_PROGRESS`` overrides the choice: ``never`` turns it off, a number of seconds turns
it on after that delay even when stderr is not a terminal (the tests use it).
"""
from __future__ import annotations

import os
import time
from typing import Callable, Optional, TextIO

DELAY = 2.0
REDRAW = 0.1


class Progress:
    def __init__(self, stream: TextIO, enabled: bool, delay: float = DELAY,
                 clock: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.enabled = enabled
        self.delay = delay
        self.clock = clock
        self.started = clock()
        self.total = 0
        self.done = 0
        self.shown = False  # a line is on the screen now
        self.drawn_at: Optional[float] = None

    @classmethod
    def for_stream(cls, stream: TextIO) -> "Progress":
        forced = os.environ.get("RNNSHAPE_PROGRESS", "")
        if forced == "never":
            return cls(stream, False)
        try:
            return cls(stream, True, max(0.0, float(forced)))
        except ValueError:
            pass
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        return cls(stream, tty and os.environ.get("TERM") != "dumb")

    def start(self, total: int) -> None:
        self.total = total

    def advance(self, count: int = 1) -> None:
        self.done += count
        if not self.enabled:
            return
        now = self.clock()
        if now - self.started < self.delay:
            return
        if self.drawn_at is not None and now - self.drawn_at < REDRAW and self.done < self.total:
            return
        self.drawn_at = now
        self._write(f"\r{self.done}/{self.total} files checked")

    def clear(self) -> None:
        """Erase the line (before other output to the same stream); the next advance redraws."""
        if self.shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self.shown = False
            self.drawn_at = None

    close = clear

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
        self.shown = True
