"""Human-readable reports: ``full`` (source frame and shape trace) and ``concise``."""
from __future__ import annotations

from collections import Counter
from typing import Optional

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape

from rnnshape.diagnostic import Diagnostic, FileError


def location(d: Diagnostic) -> str:
    if d.cell is not None:
        return f"{d.filename}:cell {d.cell}:{d.row}:{d.column}"
    return f"{d.filename}:{d.row}:{d.column}"


def one_line(text: str) -> str:
    """A message fit for a one-line header: a rule quoting multi-line code must not break it."""
    return " ".join(text.split()) if "\n" in text or "\r" in text else text


def render_concise(console: Console, diagnostics: list[Diagnostic]) -> None:
    for d in diagnostics:
        marker = " " + escape("[*]") if d.fix is not None and d.fix.applicability == "safe" else ""
        color = "red" if d.severity == "error" else "yellow"
        console.print(f"{escape(location(d))}: [bold {color}]{d.code}[/]{marker} "
                      f"{escape(one_line(d.message))}", highlight=False, soft_wrap=True)


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


def render_full(console: Console, diagnostics: list[Diagnostic]) -> None:
    for d in diagnostics:
        color = "red" if d.severity == "error" else "yellow"
        marker = " " + escape("[*]") if d.fix is not None and d.fix.applicability == "safe" else ""
        console.print(f"[bold]{escape(location(d))}[/]: [bold {color}]{d.code}[/]{marker} "
                      f"{escape(one_line(d.message))}", highlight=False, soft_wrap=True)
        # A trace step in another notebook cell is labelled with its cell.
        labels = [str(t.row) if t.cell in (None, d.cell) else f"cell {t.cell}:{t.row}"
                  for t in d.trace]
        gutter = max(len(label) for label in [str(d.row)] + labels)
        pad = " " * gutter
        line = d.source_line
        offset, width = caret_span(line, d.column, d.end_column if d.end_row == d.row else None)
        console.print(f"[blue]{pad} |[/]", highlight=False, soft_wrap=True)
        console.print(f"[blue]{d.row:>{gutter}} |[/] {escape(_display(line).rstrip())}",
                      highlight=False, soft_wrap=True)
        console.print(f"[blue]{pad} |[/] {' ' * offset}[bold {color}]{'^' * width} "
                      f"{d.code}[/]", highlight=False, soft_wrap=True)
        if d.trace:
            console.print(f"[blue]{pad} =[/] shape trace:", highlight=False, soft_wrap=True)
            # One column for the code, one for the shapes, whatever the longest code is.
            text_width = max(cell_len(t.text) for t in d.trace)
            for t, label in zip(d.trace, labels):
                console.print(f"[blue]{pad}  [/]   {label:>{gutter}}  "
                              f"{escape(_pad(t.text, text_width))}  [cyan]{escape(t.shape)}[/]",
                              highlight=False, soft_wrap=True)
        if d.fix is not None:
            console.print(f"[blue]{pad} =[/] [green]{d.fix.applicability} fix[/]: "
                          f"{escape(one_line(d.fix.message))}", highlight=False, soft_wrap=True)
        console.print()


def render_summary(console: Console, diagnostics: list[Diagnostic], errors: list[FileError],
                   files: int) -> None:
    if diagnostics:
        by_severity = Counter(d.severity for d in diagnostics)
        parts = [f"{n} {sev}{'s' if n != 1 else ''}" for sev, n in sorted(by_severity.items())]
        noun = "finding" if len(diagnostics) == 1 else "findings"
        console.print(f"Found {len(diagnostics)} {noun} ({', '.join(parts)}) in {files} "
                      f"file{'s' if files != 1 else ''}.", highlight=False, soft_wrap=True)
        # Says what the [*] marks mean and how to act on them.
        safe = sum(1 for d in diagnostics if d.fix is not None and d.fix.applicability == "safe")
        unsafe = sum(1 for d in diagnostics if d.fix is not None and d.fix.applicability != "safe")
        unsafe_hint = "`rnnshape fix --unsafe-fixes`"
        if safe:
            more = f" ({unsafe} more with {unsafe_hint})" if unsafe else ""
            console.print(f"{escape('[*]')} {safe} fixable with `rnnshape fix`{more}.",
                          highlight=False, soft_wrap=True)
        elif unsafe:
            console.print(f"{unsafe} fixable with {unsafe_hint}.", highlight=False,
                          soft_wrap=True)
    elif not errors:
        console.print(f"All checks passed ({files} file{'s' if files != 1 else ''}).",
                      highlight=False)
    if errors:
        console.print(f"{len(errors)} file{'s' if len(errors) != 1 else ''} could not be checked.",
                      highlight=False)


def render_statistics(console: Console, diagnostics: list[Diagnostic]) -> None:
    counts = Counter((d.code, d.name) for d in diagnostics)
    for (code, name), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        console.print(f"{n:>5}  {code}  {name}", highlight=False)
