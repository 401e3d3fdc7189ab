"""Lines to a terminal or a pipe, with colour only where it is wanted.

The text reports print code, paths and messages taken from the user's files: nothing in them
may be read as markup or turned into an emoji (``file.py:100:26`` must stay that), so text is
written as it is and colour is added around it, never parsed out of it.

Colour: off when ``NO_COLOR`` is set or ``TERM=dumb``, on when ``FORCE_COLOR`` is set,
otherwise on for a terminal and off for a pipe; ``color`` overrides all of that.
"""
from __future__ import annotations

import os
import unicodedata
from typing import Optional, TextIO

_CODES = {"bold": "1", "red": "31", "green": "32", "yellow": "33", "blue": "34", "cyan": "36"}


def wants_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Terminal:
    def __init__(self, stream: TextIO, color: Optional[bool] = None):
        self.stream = stream
        self.color = wants_color(stream) if color is None else color

    def print(self, text: str = "") -> None:
        self.stream.write(text + "\n")

    def style(self, text: str, *styles: str) -> str:
        """``text`` in ``styles`` (``bold``, ``red``, ...) when colour is on, else as it is."""
        if not self.color or not styles or not text:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"


def cell_len(text: str) -> int:
    """Terminal cells ``text`` takes: East Asian wide characters two, combining marks none."""
    if text.isascii():
        return len(text)
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width
