"""Human-readable reports: ``full`` (source frame and shape trace) and ``concise``."""
from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.markup import escape

from rnnshape.diagnostic import Diagnostic, FileError


def location(d: Diagnostic) -> str:
    if d.cell is not None:
        return f"{d.filename}:cell {d.cell}:{d.row}:{d.column}"
    return f"{d.filename}:{d.row}:{d.column}"


def render_concise(console: Console, diagnostics: list[Diagnostic]) -> None:
    for d in diagnostics:
        console.print(f"{escape(location(d))}: [bold red]{d.code}[/] {escape(d.message)}",
                      highlight=False, soft_wrap=True)


def render_full(console: Console, diagnostics: list[Diagnostic]) -> None:
    for d in diagnostics:
        color = "red" if d.severity == "error" else "yellow"
        marker = " [*]" if d.fix is not None and d.fix.applicability == "safe" else ""
        console.print(f"[bold]{escape(location(d))}[/]: [bold {color}]{d.code}[/]{marker} "
                      f"{escape(d.message)}", highlight=False, soft_wrap=True)
        gutter = len(str(max([d.row] + [t.row for t in d.trace])))
        pad = " " * gutter
        line = d.source_line.expandtabs(4)
        width = (d.end_column - d.column) if d.end_row == d.row else len(line) - d.column + 1
        width = max(1, width)
        console.print(f"[blue]{pad} |[/]", highlight=False)
        console.print(f"[blue]{d.row:>{gutter}} |[/] {escape(line)}", highlight=False, soft_wrap=True)
        console.print(f"[blue]{pad} |[/] {' ' * (d.column - 1)}[bold {color}]{'^' * width} "
                      f"{d.code}[/]", highlight=False, soft_wrap=True)
        if d.trace:
            console.print(f"[blue]{pad} =[/] shape trace:", highlight=False)
            text_width = min(48, max(len(t.text) for t in d.trace))
            for t in d.trace:
                console.print(f"[blue]{pad}  [/]   {t.row:>{gutter}}  {escape(t.text):<{text_width}}  "
                              f"[cyan]{escape(t.shape)}[/]", highlight=False, soft_wrap=True)
        if d.fix is not None:
            console.print(f"[blue]{pad} =[/] [green]{d.fix.applicability} fix[/]: "
                          f"{escape(d.fix.message)}", highlight=False, soft_wrap=True)
        console.print()


def render_summary(console: Console, diagnostics: list[Diagnostic], errors: list[FileError],
                   files: int) -> None:
    if diagnostics:
        by_severity = Counter(d.severity for d in diagnostics)
        parts = [f"{n} {sev}{'s' if n != 1 else ''}" for sev, n in sorted(by_severity.items())]
        noun = "finding" if len(diagnostics) == 1 else "findings"
        console.print(f"Found {len(diagnostics)} {noun} ({', '.join(parts)}) in {files} "
                      f"file{'s' if files != 1 else ''}.", highlight=False)
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
