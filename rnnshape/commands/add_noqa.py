"""``check --add-noqa``: write a ``# noqa`` for every finding, file by file (notebooks too:
the comment goes on the line in the cell)."""
from __future__ import annotations

from collections import defaultdict

from rnnshape.add_noqa import NoqaEdit, add_noqa
from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.files import decode_source, read_bytes, write_atomic
from rnnshape.per_file import is_notebook, load_notebook
from rnnshape.report.terminal import Terminal


def add_noqa_to_files(diagnostics: list[Diagnostic], errors: list[FileError], err: Terminal,
                      quiet: bool = False) -> int:
    """Exit 0, or 2 when a file could not be checked or written; says how many comments it
    added on stderr (as ruff does), and names each row it had to leave."""
    by_file: dict[str, dict[tuple, set[str]]] = defaultdict(lambda: defaultdict(set))
    for d in diagnostics:
        by_file[d.filename][(d.cell, d.row)].add(d.code)
    added = 0
    for path, wanted in by_file.items():
        try:
            added += _one_file(path, wanted, err, quiet)
        except FileError as exc:
            errors.append(exc)
            err.print(str(exc))
    if not quiet:
        err.print(f"Added {added} noqa directive{'s' if added != 1 else ''}.")
    return 2 if errors else 0


def _one_file(path: str, wanted: dict[tuple, set[str]], err: Terminal, quiet: bool) -> int:
    source = decode_source(read_bytes(path), path)
    if is_notebook(path):
        notebook = load_notebook(source.text, path)
        starts = {cell.index: cell.start_row for cell in notebook.code_cells}
        rows = {starts[cell] + row - 1: codes for (cell, row), codes in wanted.items()}
        edit = add_noqa(notebook.program(), rows)
        new_text = notebook.with_program(edit.text) if edit.added else source.text

        def where(row: int) -> str:
            cell, line = notebook.locate(row)
            return f"{path}:cell {cell}:{line}"
    else:
        edit = add_noqa(source.text, {row: codes for (_, row), codes in wanted.items()})
        new_text = edit.text

        def where(row: int) -> str:
            return f"{path}:{row}"
    if not quiet:
        for row, why in edit.skipped:
            err.print(f"{where(row)}: warning: no noqa comment added: {why}")
    if new_text != source.text:
        try:
            write_atomic(path, source.encode(new_text))
        except OSError as exc:
            raise FileError(path, f"cannot write: {exc.strerror or exc}") from None
    return len(edit.added)


__all__ = ["NoqaEdit", "add_noqa_to_files"]
