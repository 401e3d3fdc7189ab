"""``# noqa`` comments: which rows suppress which codes.

Usage::

    noqa = noqa_map(source)                       # once per file (for a notebook: its program)
    kept = [d for d in diagnostics if not is_suppressed(d.row, d.code, noqa)]
    # or: kept = filter_suppressed(diagnostics, noqa)
    stale = unused_noqa(noqa, diagnostics)         # before filtering: [(row, codes or None)]

A suppression is a real comment (found with ``tokenize``, so ``"# noqa"`` inside a string does
not count) on the row a diagnostic is reported at (``Diagnostic.row``).  Accepted forms, any
case: ``# noqa`` (every code), ``# noqa: RNN001, RNN002``, ``#noqa:RNN001 RNN002``, and a
``noqa`` after other comment text (``# type: ignore  # noqa: RNN001``).  ``# noqa`` with a
colon but no codes, or without a colon, counts as bare, as flake8 reads it.  Codes match
exactly (a prefix such as ``RNN0`` suppresses nothing) and other tools' codes (``E501``) may
share the comment.  Source that ``tokenize`` cannot read (an unterminated string, bad
indentation) keeps the comments found before the error; rows after it are read line by line
with a regex, which may take a ``# noqa`` inside a string for real.
"""
from __future__ import annotations

import io
import re
import tokenize
from typing import Iterable, Optional

from rnnshape.diagnostic import Diagnostic

NoqaMap = dict[int, Optional[set[str]]]

_NOQA = re.compile(
    r"#\s*noqa(?![\w-])(?::[\s]*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?",
    re.IGNORECASE)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)


def noqa_match(comment: str) -> Optional[re.Match]:
    """The ``# noqa...`` directive in ``comment`` (its span, ``codes`` group), or None."""
    return _NOQA.search(comment)


def parse_noqa(comment: str) -> tuple[bool, Optional[set[str]]]:
    """(whether the comment holds a noqa, its codes or None when bare)."""
    m = _NOQA.search(comment)
    if m is None:
        return False, None
    if m.group("codes") is None:
        return True, None
    return True, {c.upper() for c in _CODE.findall(m.group("codes"))}


def _add(result: NoqaMap, row: int, comment: str) -> None:
    found, codes = parse_noqa(comment)
    if not found:
        return
    if row in result:  # cannot happen from tokens; the regex fallback may see two on a line
        previous = result[row]
        codes = None if previous is None or codes is None else previous | codes
    result[row] = codes


def noqa_map(source: str) -> NoqaMap:
    """Row (1-based) -> codes suppressed on it; None means all codes."""
    result: NoqaMap = {}
    if "noqa" not in source.lower():
        return result  # no comment can hold one: the tokenizer need not run
    resume = 1
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                _add(result, tok.start[0], tok.string)
            resume = tok.end[0] + 1 if tok.type != tokenize.COMMENT else tok.start[0] + 1
        return result
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass
    # The tokens before the error were read properly; for the rest only a per-line guess.
    for row, line in enumerate(source.splitlines(), start=1):
        if row >= resume and "#" in line:
            _add(result, row, line[line.index("#"):])
    return result


def is_suppressed(row: int, code: str, noqa: NoqaMap) -> bool:
    if row not in noqa:
        return False
    codes = noqa[row]
    return codes is None or code.upper() in codes


def filter_suppressed(diagnostics: Iterable[Diagnostic], noqa: NoqaMap) -> list[Diagnostic]:
    return [d for d in diagnostics if not is_suppressed(d.row, d.code, noqa)]


def unused_noqa(noqa: NoqaMap, diagnostics: Iterable[Diagnostic],
                known_codes: Optional[Iterable[str]] = None) -> list[tuple[int, Optional[set[str]]]]:
    """``noqa`` entries that suppress nothing among ``diagnostics`` (all of one file, before
    suppression), sorted by row: ``(row, None)`` for an unused bare ``# noqa``, ``(row, codes)``
    for the unused codes of a coded one.  Only our codes count (those in ``known_codes``, or
    starting with ``RNN`` when it is None): ``# noqa: E501`` belongs to another tool.
    A bare ``# noqa`` may serve another tool too; callers that care can drop ``None`` entries.
    """
    known = None if known_codes is None else {c.upper() for c in known_codes}
    reported: dict[int, set[str]] = {}
    for d in diagnostics:
        reported.setdefault(d.row, set()).add(d.code.upper())
    out: list[tuple[int, Optional[set[str]]]] = []
    for row in sorted(noqa):
        codes = noqa[row]
        if codes is None:
            if row not in reported:
                out.append((row, None))
            continue
        ours = {c for c in codes if (c in known if known is not None else c.startswith("RNN"))}
        unused = ours - reported.get(row, set())
        if unused:
            out.append((row, unused))
    return out
