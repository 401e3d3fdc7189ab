"""One checkable unit per file: a Python source, or a notebook seen as one program.

Both ``check`` and ``fix`` go through here, so notebooks and ``# noqa`` behave the same in
every command and output format.
"""
from __future__ import annotations

from rnnshape.api import Settings, check_source
from rnnshape.diagnostic import Diagnostic
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
    found = _unsuppressed(check_source(program, path, settings, batch_first, edits), program)
    return [notebook.map_diagnostic(d) for d in found]


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
    result = fix_text(program, path, settings, options)
    if result.text == program:
        return text, result.applied
    return notebook.with_program(result.text), result.applied
