"""GitHub Actions workflow commands: one annotation line per diagnostic.

Usage::

    sys.stdout.write(render_github(diagnostics))   # "" when there are none

Each line is ``::error file=F,line=L,col=C,endLine=EL,endColumn=EC,title=RNN001 name::message``
(``::warning`` for warning severity, ``::notice`` for anything else).  Escaping follows
``@actions/core``: in the message ``%``, ``\\r``, ``\\n`` become ``%25``, ``%0D``, ``%0A``; in
property values ``:`` and ``,`` also become ``%3A`` and ``%2C``.  File paths get forward
slashes and lose a leading ``./``.  A notebook diagnostic (``cell`` set) has rows inside a cell,
while GitHub places an annotation on lines of the file: its line properties are where that row
is in the .ipynb JSON text (``file_span``; without it, the annotation is on the whole file),
and the message starts with ``cell N, line L, column C: ``.
"""
from __future__ import annotations

from typing import Iterable

from rnnshape.diagnostic import Diagnostic


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _file(filename: str) -> str:
    path = filename.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def command(d: Diagnostic) -> str:
    kind = {"error": "error", "warning": "warning"}.get(d.severity, "notice")
    props = [("file", _file(d.filename))]
    message = d.message
    where = d if d.cell is None else d.file_span
    if where is not None:
        props += [("line", str(where.row)), ("col", str(where.column)),
                  ("endLine", str(where.end_row)), ("endColumn", str(where.end_column))]
    if d.cell is not None:
        message = f"cell {d.cell}, line {d.row}, column {d.column}: {message}"
    props.append(("title", f"{d.code} {d.name}"))
    joined = ",".join(f"{key}={escape_property(value)}" for key, value in props)
    return f"::{kind} {joined}::{escape_data(message)}"


def render_github(diagnostics: Iterable[Diagnostic]) -> str:
    """One command per line, each line ending in a newline."""
    return "".join(command(d) + "\n" for d in diagnostics)
