"""``check --add-noqa``: a ``# noqa: CODE`` comment on each reported row, merged with one
already there, without ever changing what the code means.

Usage::

    edit = add_noqa(text, {12: {"RNN001"}, 30: {"RNN004", "RNN006"}})
    edit.text        # the new source (== text when nothing could be added)
    edit.added       # rows that got a comment or more codes in one
    edit.skipped     # rows where no comment can go: (row, why)

A comment can end a row only where the row ends outside a string and without a backslash
continuation: the rows ``tokenize`` closes with a NEWLINE or NL token.  A row whose comment
already holds ``# noqa: A`` becomes ``# noqa: A, CODE`` (the other codes, other tools' too,
kept in their order); other comment text stays and the directive follows it.  Rows are those
of ``suppress.noqa_map`` (lines split on ``\\n``), and the result is checked against it: each
added code must suppress its row, and source that compiled must still compile, else the text
is returned unchanged with every row skipped.
"""
from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass, field

from rnnshape.suppress import is_suppressed, noqa_map, noqa_match, parse_noqa


@dataclass
class NoqaEdit:
    text: str
    added: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)


def _line_ends(text: str) -> tuple[set[int], dict[int, tokenize.TokenInfo]]:
    """(rows a comment may end, the comment token already on a row)."""
    ends: set[int] = set()
    comments: dict[int, tokenize.TokenInfo] = {}
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in (tokenize.NEWLINE, tokenize.NL):
            ends.add(tok.start[0])
        elif tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok
    return ends, comments


def _compiles(text: str) -> bool:
    try:
        compile(text, "<add-noqa>", "exec", dont_inherit=True, flags=0x400)  # PyCF_ONLY_AST
    except (SyntaxError, ValueError):
        return False
    return True


def _with_codes(comment: str, codes: set[str]) -> str:
    """``comment`` with ``codes`` in its noqa directive, or the directive appended."""
    match = noqa_match(comment)
    if match is None:
        return f"{comment}  # noqa: {', '.join(sorted(codes))}"
    old = match.group("codes")
    present = old.replace(",", " ").split() if old else []
    merged = present + sorted(c for c in codes if c not in {p.upper() for p in present})
    return comment[:match.start()] + f"# noqa: {', '.join(merged)}" + comment[match.end():]


def add_noqa(text: str, wanted: dict[int, set[str]]) -> NoqaEdit:
    try:
        ends, comments = _line_ends(text)
    except (tokenize.TokenError, SyntaxError, ValueError):
        return _refused(text, wanted, "the file does not tokenize")
    lines = text.split("\n")
    added, skipped = [], []
    for row in sorted(wanted):
        codes = {c.upper() for c in wanted[row]}
        if row not in ends or row > len(lines):
            skipped.append((row, "the line ends inside a string or continues with a backslash"))
            continue
        line = lines[row - 1]
        eol = "\r" if line.endswith("\r") else ""
        body = line[:len(line) - len(eol)]
        comment = comments.get(row)
        if comment is not None:
            start = comment.start[1]
            found, present = parse_noqa(comment.string)
            if found and present is None:
                skipped.append((row, "a bare # noqa is already there"))
                continue
            lines[row - 1] = body[:start] + _with_codes(comment.string, codes) + \
                body[comment.end[1]:] + eol
        else:
            lines[row - 1] = f"{body.rstrip()}  # noqa: {', '.join(sorted(codes))}{eol}"
        added.append(row)
    new = "\n".join(lines)
    if not added:
        return NoqaEdit(text, skipped=skipped)
    noqa = noqa_map(new)
    if (_compiles(text) and not _compiles(new)) or not all(
            is_suppressed(row, code, noqa) for row in added for code in wanted[row]):
        return _refused(text, wanted, "the comments would not hold")
    return NoqaEdit(new, added, skipped)


def _refused(text: str, wanted: dict[int, set[str]], why: str) -> NoqaEdit:
    return NoqaEdit(text, skipped=[(row, why) for row in sorted(wanted)])
