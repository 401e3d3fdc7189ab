"""One checkable unit per file: a Python source, or a notebook seen as one program.

Both ``check`` and ``fix`` go through here, so notebooks and ``# noqa`` behave the same in
every command and output format.
"""
from __future__ import annotations

from rnnshape.api import Settings, check_source
from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.suppress import filter_suppressed, noqa_map

NOTEBOOK_SUFFIX = ".ipynb"


def is_notebook(path: str) -> bool:
    return path.endswith(NOTEBOOK_SUFFIX)


def _unsuppressed(diagnostics: list[Diagnostic], program: str) -> list[Diagnostic]:
    if not diagnostics:
        return diagnostics  # tokenizing for comments costs more than the rare finding
    return filter_suppressed(diagnostics, noqa_map(program))


def check_unit(path: str, text: str, settings: Settings, batch_first: bool = False,
               edits: bool = True) -> list[Diagnostic]:
    """Diagnostics for a file's text; notebook diagnostics name their cell and cell row."""
    if not is_notebook(path):
        return _unsuppressed(check_source(text, path, settings, batch_first, edits), text)
    from rnnshape.notebook import load_notebook  # only notebooks pay for it

    notebook = load_notebook(text, path)
    if not notebook.is_python:
        return []
    program = notebook.program()
    try:
        found = _unsuppressed(check_source(program, path, settings, batch_first, edits), program)
    except FileError as exc:
        raise _in_cells(notebook, exc) from None
    return [notebook.map_diagnostic(d) for d in found]


def _in_cells(notebook, exc: FileError) -> FileError:
    """``exc`` with its program row said as a cell and a row in it.

    The row of a FileError on a notebook is otherwise read as a line of the JSON file (in the
    text report, and as a SARIF region), which a program row is not: the error keeps no row
    and names the cell in its message instead.
    """
    if not exc.row:
        return exc
    try:
        cell, line = notebook.locate(exc.row)
    except ValueError:
        return exc
    return FileError(exc.filename, f"cell {cell}, line {line}: {exc.message}")


def fix_unit(path: str, text: str, settings: Settings, options) -> tuple[str, object]:
    """(new file text, applied counts); a notebook keeps everything but its changed cells."""
    from rnnshape.fixes import fix_text

    if not is_notebook(path):
        result = fix_text(text, path, settings, options)
        return result.text, result.applied
    from rnnshape.notebook import load_notebook

    notebook = load_notebook(text, path)
    if not notebook.is_python:
        return text, {}
    program = notebook.program()
    try:
        result = fix_text(program, path, settings, options)
    except FileError as exc:
        raise _in_cells(notebook, exc) from None
    if result.text == program:
        return text, result.applied
    return notebook.with_program(result.text), result.applied
