"""rnnshape's diagnostics, fixes and shapes as LSP objects.

Rows and columns of rnnshape count code points from 1; LSP counts UTF-16 units (unless the
client agreed on another encoding) from 0: every position goes through the document's codec.
"""
from __future__ import annotations

from typing import Callable, Optional

from lsprotocol import types as lsp
from pygls.uris import from_fs_path

from rnnshape.diagnostic import Diagnostic, Edit
from rnnshape.fixkit import UNSAFE
from rnnshape.rule_docs import rule_url

SOURCE = "rnnshape"
SEVERITY = {"error": lsp.DiagnosticSeverity.Error, "warning": lsp.DiagnosticSeverity.Warning}

# (uri, lines of the document) of a notebook cell index, or of the document when None
Locate = Callable[[Optional[int]], tuple[str, list[str]]]


def to_client(codec, lines: list[str], row: int, column: int) -> lsp.Position:
    """A 1-based row and 0-based code-point column as a client position."""
    line = max(row - 1, 0)
    if line >= len(lines):
        return lsp.Position(line=len(lines), character=0)
    return codec.position_to_client_units(lines, lsp.Position(line=line, character=column))


def span(codec, lines: list[str], row: int, column: int, end_row: int,
         end_column: int) -> lsp.Range:
    """A range from rnnshape's 1-based rows and columns."""
    return lsp.Range(start=to_client(codec, lines, row, column - 1),
                     end=to_client(codec, lines, end_row, end_column - 1))


def diagnostic(d: Diagnostic, codec, locate: Locate) -> lsp.Diagnostic:
    uri, lines = locate(d.cell)
    related = []
    for step in d.trace:
        if step.path is not None:
            where_uri, where_lines = _file_uri(step.path), []
        else:
            where_uri, where_lines = locate(step.cell)
        related.append(lsp.DiagnosticRelatedInformation(
            location=lsp.Location(uri=where_uri, range=_line_span(codec, where_lines, step.row,
                                                                  step.text)),
            message=f"{step.text}  {step.shape}"))
    return lsp.Diagnostic(
        range=span(codec, lines, d.row, d.column, d.end_row, d.end_column),
        severity=SEVERITY.get(d.severity, lsp.DiagnosticSeverity.Information),
        code=d.code,
        code_description=lsp.CodeDescription(href=rule_url(d.code, d.name)),
        source=SOURCE,
        message=d.message,
        related_information=related or None,
    )


def _line_span(codec, lines: list[str], row: int, text: str) -> lsp.Range:
    """Where a trace step's code is on its line (the whole line when it cannot be found:
    the step's text may be cut short, or the line may be in a file not open here)."""
    if not 0 < row <= len(lines):
        start = lsp.Position(line=max(row - 1, 0), character=0)
        return lsp.Range(start=start, end=start)
    line = lines[row - 1].rstrip("\r\n")
    found = line.find(text.split("...")[0]) if text else -1
    begin, end = (found, found + len(text)) if found >= 0 and "..." not in text else \
        (max(found, 0), len(line))
    return lsp.Range(start=to_client(codec, lines, row, begin),
                     end=to_client(codec, lines, row, end))


def _file_uri(path: str) -> str:
    return from_fs_path(path) or path


def code_action(d: Diagnostic, shown: lsp.Diagnostic, codec,
                locate: Locate) -> Optional[lsp.CodeAction]:
    """The quick fix of a diagnostic: safe ones are preferred, unsafe ones say so."""
    fix = d.fix
    if fix is None or not fix.edits:
        return None
    changes: dict[str, list[lsp.TextEdit]] = {}
    for edit in fix.edits:
        uri, lines = locate(edit.cell)
        changes.setdefault(uri, []).append(text_edit(edit, codec, lines))
    unsafe = fix.applicability == UNSAFE
    title = f"{d.code}: {fix.message}" + (" (unsafe)" if unsafe else "")
    return lsp.CodeAction(title=title, kind=lsp.CodeActionKind.QuickFix, diagnostics=[shown],
                          is_preferred=not unsafe, edit=lsp.WorkspaceEdit(changes=changes))


def text_edit(edit: Edit, codec, lines: list[str]) -> lsp.TextEdit:
    return lsp.TextEdit(range=span(codec, lines, edit.row, edit.column, edit.end_row,
                                   edit.end_column), new_text=edit.content)


def overlaps(a: lsp.Range, b: lsp.Range) -> bool:
    def key(p: lsp.Position):
        return (p.line, p.character)
    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)
