"""``check --watch``: run, then run again whenever a file under the paths changes.

Changes are seen by polling (no dependency, works on every filesystem): the paths are walked
every ``INTERVAL`` seconds and each file's modification time and size compared with the last
walk's; a new or deleted file counts too.  On a terminal the screen is cleared before each
report.  Ctrl-C ends it (exit 0).
"""
from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from typing import Callable

from rnnshape.diagnostic import FileError
from rnnshape.files import discover

INTERVAL = 0.3


def snapshot(paths: list[str]) -> dict[str, tuple[int, int]]:
    """Each source file under ``paths``: (mtime in ns, size)."""
    state = {}
    for item in discover(paths):
        if isinstance(item, FileError):
            continue
        try:
            info = os.stat(item)
        except OSError:
            continue
        state[item] = (info.st_mtime_ns, info.st_size)
    return state


def watch(args, once: Callable[[object], int], interval: float = INTERVAL) -> int:
    err = sys.stderr
    clear = sys.stdout.isatty() and os.environ.get("TERM") != "dumb" and not args.output_file

    def run(reason: str) -> None:
        if clear:
            sys.stdout.write("\x1b[2J\x1b[H")
        err.write(f"[{datetime.now():%H:%M:%S}] {reason}\n")
        err.flush()
        once(args)
        sys.stdout.flush()
        err.write("Watching for file changes.\n")
        err.flush()

    try:
        # Taken before each run: a file saved while it runs is checked again.  (With --fix
        # the run's own writes cost one more run, which finds nothing to fix.)
        seen = snapshot(args.paths)
        run("Starting rnnshape in watch mode...")
        while True:
            time.sleep(interval)
            now = snapshot(args.paths)
            if now != seen:
                seen = now
                run("File change detected. Checking again...")
    except KeyboardInterrupt:
        return 0
