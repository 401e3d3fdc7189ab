"""Human-readable reports: ``full`` (source frame and shape trace) and ``concise``."""
from __future__ import annotations

import os
from collections import Counter
from typing import Optional

from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.report.terminal import Terminal, cell_len


def location(d: Diagnostic) -> str:
    if d.cell is not None:
        return f"{d.filename}:cell {d.cell}:{d.row}:{d.column}"
    return f"{d.filename}:{d.row}:{d.column}"


def one_line(text: str) -> str:
    """A message fit for a one-line header: a rule quoting multi-line code must not break it."""
    return " ".join(text.split()) if "\n" in text or "\r" in text else text


def _header(out: Terminal, d: Diagnostic, bold_location: bool) -> str:
    marker = " [*]" if d.fix is not None and d.fix.applicability == "safe" else ""
    where = out.style(location(d), "bold") if bold_location else location(d)
    code = out.style(d.code, "bold", _color(d))
    return f"{where}: {code}{marker} {one_line(d.message)}"


def _color(d: Diagnostic) -> str:
    return "red" if d.severity == "error" else "yellow"


def render_concise(out: Terminal, diagnostics: list[Diagnostic]) -> None:
    for d in diagnostics:
        out.print(_header(out, d, bold_location=False))


TAB_SIZE = 4


def _display(text: str) -> str:
    """``text`` as the terminal shows it in the source frame: tabs expanded."""
    return text.expandtabs(TAB_SIZE)


def _cells(text: str) -> int:
    # Terminal cells, not characters: East Asian wide characters take two.
    return cell_len(_display(text))


def caret_span(line: str, column: int, end_column: Optional[int]) -> tuple[int, int]:
    """(offset, width) in terminal cells of the carets under ``line``.

    ``column``/``end_column`` are 1-based character columns; ``end_column`` None means the span
    runs on past this line, so the carets go to its end (trailing blanks left out).
    """
    body = line.rstrip()
    start = min(max(column - 1, 0), len(line))
    offset = _cells(line[:start])
    if end_column is None:
        end = max(len(body), start)
    else:
        end = min(max(end_column - 1, start), len(line))
    return offset, max(1, _cells(line[:end]) - offset)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - cell_len(text))


def _step_label(d: Diagnostic, step) -> str:
    """A trace step's row; a step in another file or notebook cell says which."""
    if step.path is not None:
        return f"{_shown_path(step.path)}:{step.row}"
    return str(step.row) if step.cell in (None, d.cell) else f"cell {step.cell}:{step.row}"


def _shown_path(path: str) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        return path
    return path if relative.startswith("..") else relative


def render_full(out: Terminal, diagnostics: list[Diagnostic]) -> None:
    for d in diagnostics:
        out.print(_header(out, d, bold_location=True))
        labels = [_step_label(d, t) for t in d.trace]
        # Rows of this file share the frame's gutter; a step elsewhere widens only the trace.
        gutter = max(len(label) for label in [str(d.row)] + [lb for lb, t in zip(labels, d.trace)
                                                             if t.path is None])
        label_width = max([gutter] + [len(label) for label in labels])
        pad = " " * gutter
        offset, width = caret_span(d.source_line, d.column,
                                   d.end_column if d.end_row == d.row else None)
        bar, row = out.style(f"{pad} |", "blue"), out.style(f"{d.row:>{gutter}} |", "blue")
        carets = out.style("^" * width + " " + d.code, "bold", _color(d))
        out.print(bar)
        out.print(f"{row} {_display(d.source_line).rstrip()}")
        out.print(f"{bar} {' ' * offset}{carets}")
        if d.trace:
            out.print(f"{out.style(f'{pad} =', 'blue')} shape trace:")
            # One column for the code, one for the shapes, whatever the longest code is.
            text_width = max(cell_len(t.text) for t in d.trace)
            for t, label in zip(d.trace, labels):
                out.print(f"{pad}     {label:>{label_width}}  {_pad(t.text, text_width)}  "
                          f"{out.style(t.shape, 'cyan')}")
        if d.fix is not None:
            out.print(f"{out.style(f'{pad} =', 'blue')} "
                      f"{out.style(f'{d.fix.applicability} fix', 'green')}: {one_line(d.fix.message)}")
        out.print()


def render_summary(out: Terminal, diagnostics: list[Diagnostic], errors: list[FileError],
                   files: int) -> None:
    if diagnostics:
        by_severity = Counter(d.severity for d in diagnostics)
        parts = [f"{n} {sev}{'s' if n != 1 else ''}" for sev, n in sorted(by_severity.items())]
        noun = "finding" if len(diagnostics) == 1 else "findings"
        out.print(f"Found {len(diagnostics)} {noun} ({', '.join(parts)}) in {files} "
                  f"file{'s' if files != 1 else ''}.")
        # Says what the [*] marks mean and how to act on them.
        safe = sum(1 for d in diagnostics if d.fix is not None and d.fix.applicability == "safe")
        unsafe = sum(1 for d in diagnostics if d.fix is not None and d.fix.applicability != "safe")
        unsafe_hint = "`rnnshape fix --unsafe-fixes`"
        if safe:
            more = f" ({unsafe} more with {unsafe_hint})" if unsafe else ""
            out.print(f"[*] {safe} fixable with `rnnshape fix`{more}.")
        elif unsafe:
            out.print(f"{unsafe} fixable with {unsafe_hint}.")
    elif not errors:
        out.print(f"All checks passed ({files} file{'s' if files != 1 else ''}).")
    if errors:
        out.print(f"{len(errors)} file{'s' if len(errors) != 1 else ''} could not be checked.")


def render_statistics(out: Terminal, diagnostics: list[Diagnostic]) -> None:
    counts = Counter((d.code, d.name) for d in diagnostics)
    for (code, name), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        out.print(f"{n:>5}  {code}  {name}")


def render_fix_list(out: Terminal, diagnostics: list[Diagnostic]) -> None:
    """``check --show-fixes``: the fix each finding offers, one line each."""
    fixable = [d for d in diagnostics if d.fix is not None]
    if not diagnostics:
        return
    if not fixable:
        out.print("No fixes available.")
        return
    out.print("Fixes available:")
    for d in fixable:
        kind = out.style(f"{d.fix.applicability} fix", "green")
        out.print(f"  {location(d)}: {d.code} {kind}: {one_line(d.fix.message)}")
    out.print()


def render_fixed(out: Terminal, fixed: list[tuple[str, Counter]], names: dict[str, str],
                 dry: bool) -> None:
    """``fix --show-fixes``: what was fixed (``dry``: would be) in each file, per code."""
    total = sum(sum(counts.values()) for _, counts in fixed)
    if not total:
        out.print(f"No findings {'would be ' if dry else ''}fixed.")
        return
    verb = "Would fix" if dry else "Fixed"
    out.print(f"{verb} {total} finding{'s' if total != 1 else ''}:")
    for path, counts in fixed:
        out.print(f"- {out.style(path, 'bold')}:")
        for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            out.print(f"    {n} x {code} ({names.get(code, '')})")
    out.print()
