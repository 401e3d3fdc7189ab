"""Jupyter notebooks (``.ipynb``) as one Python program, and back.

Usage::

    nb = load_notebook(text, path)          # FileError on anything that is not an nbformat-4 notebook
    if nb.is_python:
        program = nb.program()              # check this like a .py file
        diagnostics = [nb.map_diagnostic(d) for d in check_source(program, path)]
        # ``fix``: apply the fixes to ``program`` (program coordinates), then
        new_text = nb.with_program(fixed_program)   # the notebook JSON to write back

The program is the code cells in order, each followed by a newline, with one sentinel line
``# %% rnnshape-cell <k>`` (k: the following cell's 1-based index in ``cells``, markdown
counted) *between* consecutive code cells.  ``with_program`` splits on those sentinels, so a
fix may add or remove lines inside a cell and still land in the right one; code a fix puts
above the first cell's code belongs to the first code cell.  A program whose sentinels are no
longer exactly the original ones in order (a fix that crossed a cell boundary) is refused
with a FileError rather than written back to the wrong cells.

IPython syntax is never parsed as Python: line magics (``%time x``), shell lines (``!ls``,
``files = !ls``), help lines (``obj?``, ``??obj``) and their backslash continuations become
``pass  # rnnshape: masked magic <n>`` with the same indentation (so the row count is kept),
and a cell magic (``%%bash``) masks its whole cell, except the cell magics whose body is
Python (``%%time``, ``%%timeit``, ``%%capture``, ``%%prun``), where only the ``%%`` line is
masked.  ``with_program`` puts the original text back (re-indented if a fix moved it).  A
line is only a magic candidate where a statement can start: not inside brackets, a string or
a backslash continuation.

``with_program`` rewrites nothing but the ``source`` value of code cells whose text changed;
every other byte of the file (outputs, execution counts, metadata, ids, key order,
indentation, escapes, trailing newline) is copied from the original text.  A rewritten
``source`` follows the file's style: a list of lines (each but the last ending in ``\\n``,
laid out like the original list) or a string if the cell used a string.

Diagnostics from ``check_source(program)`` are in program rows; ``noqa`` maps are computed on
the program too.  ``map_diagnostic`` turns row/end_row, trace rows and fix edits into rows of
their cells (``describe_row`` names a program row as ``cell 3, line 2``), and adds where the
same places are in the notebook's own text, which is what a viewer of the file shows (code
scanning, a merge request): ``file_span`` and each trace step's ``file_row`` in lines and
columns of the JSON (the string holding that row of the cell, the column inside it counting
JSON escapes), and ``file_edits``, the fix as an edit of the JSON text that ``fix`` writes.
"""
from __future__ import annotations

import ast
import bisect
import copy
import dataclasses
import json
import re
import warnings
from dataclasses import dataclass
from json.decoder import scanstring
from typing import Optional

from rnnshape.cells import SENTINEL
from rnnshape.cells import SENTINEL_RE as _SENTINEL_RE
from rnnshape.diagnostic import Diagnostic, Edit, FileError, Span
from rnnshape.fixes import apply_edits

MASK = "pass  # rnnshape: masked magic {}"
_MASK_RE = re.compile(r"(?P<indent>[ \t]*)pass  # rnnshape: masked magic (?P<k>\d+)")

# Cell magics whose body is ordinary Python: checking it is the point (training cells are
# often timed), so only their first line is masked.
PYTHON_BODY_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_MAGIC_START = re.compile(r"[ \t]*[%!]")
_ASSIGN_MAGIC = re.compile(r"[ \t]*[A-Za-z_][\w.]*(?:[ \t]*,[ \t]*[A-Za-z_][\w.]*)*[ \t]*=[ \t]*[%!]")
_INDENT = re.compile(r"[ \t]*")
_JSON_WS = " \t\n\r"


def split_lines(text: str) -> list[str]:
    """Lines with their endings, broken where Python breaks them (not at form feeds)."""
    return _LINE.findall(text)


def _strip_eol(line: str) -> tuple[str, str]:
    if line.endswith("\r\n"):
        return line[:-2], "\r\n"
    if line.endswith(("\n", "\r")):
        return line[:-1], line[-1]
    return line, ""


@dataclass
class Cell:
    """One entry of ``cells``.  ``index`` is 1-based and counts markdown and raw cells."""

    index: int
    cell_type: str
    source: str                 # the source joined into one string
    source_is_list: bool
    span: tuple[int, int]       # offsets of the ``source`` value in the notebook text
    start_row: int = 0          # code cells: first program row
    line_count: int = 0         # code cells: program rows of the cell (without the sentinel)


@dataclass
class _Masked:
    indent: str                 # indentation the mask line was written with
    original: str               # the original line, without its line ending


class _Masker:
    """Replaces IPython syntax with ``pass`` lines of the same indentation, remembering the
    originals (by number) so they can be put back."""

    def __init__(self):
        self.masked: list[_Masked] = []

    def line(self, line: str, indent: str) -> str:
        body, eol = _strip_eol(line)
        self.masked.append(_Masked(indent, body))
        return indent + MASK.format(len(self.masked) - 1) + eol

    def cell(self, source: str) -> str:
        lines = split_lines(source)
        first = next((i for i, l in enumerate(lines) if l.strip()), None)
        if first is not None and lines[first].lstrip().startswith("%%"):
            words = lines[first].lstrip()[2:].split()
            name = words[0] if words else ""
            if name in PYTHON_BODY_CELL_MAGICS:
                lines[first] = self.line(lines[first], "")
                return "".join(lines[:first + 1]) + self.lines(lines[first + 1:])
            return "".join(self.line(l, "") for l in lines)
        return self.lines(lines)

    def lines(self, lines: list[str]) -> str:
        out = []
        scanner = _Scanner()
        continued: Optional[str] = None  # the indent of a masked line that ends in a backslash
        for line in lines:
            if continued is not None:
                out.append(self.line(line, continued))
                continued = continued if _strip_eol(line)[0].endswith("\\") else None
                continue
            if scanner.at_statement_start:
                trial = copy.copy(scanner)
                trial.scan(line)
                if _MAGIC_START.match(line) or _ASSIGN_MAGIC.match(line) or trial.question:
                    indent = _INDENT.match(line).group()
                    out.append(self.line(line, indent))
                    if _strip_eol(line)[0].endswith("\\"):
                        continued = indent
                    continue
                scanner = trial
            else:
                scanner.scan(line)
            out.append(line)
        return "".join(out)



def mask_script(text: str) -> tuple[str, int]:
    """A ``.py`` exported from a notebook (``!pip install ...`` lines kept) as Python: its
    IPython lines masked, rows unchanged; and how many were masked."""
    masker = _Masker()
    return masker.lines(split_lines(text)), len(masker.masked)


class Notebook:
    """A loaded notebook; build with ``load_notebook``."""

    def __init__(self, path: str, text: str, data: dict, cells: list[Cell], layout: "_Layout"):
        self.path = path
        self.text = text
        self.data = data
        self.cells = cells
        self.code_cells = [c for c in cells if c.cell_type == "code"]
        self._layout = layout
        self._masker = _Masker()
        # Code cells that do not parse on their own (an exercise blank, a half-written line):
        # (cell index, why).  Each is masked whole, so the other cells are still checked.
        self.skipped: list[tuple[int, str]] = []
        self._program = self._build_program()
        self._program_lines = split_lines(self._program)
        self._starts = [c.start_row for c in self.code_cells]
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self._offsets: dict[int, Optional[list[int]]] = {}

    # -- reading ---------------------------------------------------------------------------

    @property
    def language(self) -> str:
        """The kernel's language, lower case; ``python`` when the notebook does not say."""
        meta = self.data.get("metadata")
        if isinstance(meta, dict):
            for key, field in (("kernelspec", "language"), ("language_info", "name")):
                value = meta.get(key)
                if isinstance(value, dict) and isinstance(value.get(field), str):
                    return value[field].lower()
        return "python"

    @property
    def is_python(self) -> bool:
        return self.language in ("python", "python3", "ipython", "ipython3")

    def program(self) -> str:
        return self._program

    def _build_program(self) -> str:
        parts: list[str] = []
        row = 1
        for j, cell in enumerate(self.code_cells):
            if j:
                parts.append(SENTINEL.format(cell.index) + "\n")
                row += 1
            segment = self._checked_cell(cell) + "\n"
            cell.start_row = row
            cell.line_count = len(_LINE_BREAK.findall(segment))
            row += cell.line_count
            parts.append(segment)
        return "".join(parts)

    def _checked_cell(self, cell: Cell) -> str:
        """The cell with its magics masked, or masked whole when it still does not parse."""
        first = len(self._masker.masked)
        masked = self._masker.cell(cell.source)
        problem = _syntax_problem(masked)
        if problem is None:
            return masked
        del self._masker.masked[first:]
        self.skipped.append((cell.index, problem))
        return "".join(self._masker.line(line, "") for line in split_lines(cell.source))

    def locate(self, row: int) -> tuple[int, int]:
        """(cell index, 1-based, in ``cells``; row in that cell) of a program row.

        A sentinel row maps to row 1 of the cell that follows it; a row past the end to the
        last code cell.  ValueError for a notebook without code cells or a row below 1.
        """
        if not self.code_cells or row < 1:
            raise ValueError(f"row {row} is not in the program of {self.path}")
        k = bisect.bisect_right(self._starts, row) - 1
        if k < 0:  # cannot happen for row >= 1 (the first cell starts at 1); defensive
            k = 0
        cell = self.code_cells[k]
        if row >= cell.start_row + cell.line_count and k + 1 < len(self.code_cells):
            return self.code_cells[k + 1].index, 1
        return cell.index, row - cell.start_row + 1

    def describe_row(self, row: int) -> str:
        cell, line = self.locate(row)
        return f"cell {cell}, line {line}"

    def map_diagnostic(self, d: Diagnostic) -> Diagnostic:
        """A copy of ``d`` with ``cell`` set, rows counted within the cell, and the places
        in the notebook's own text added.

        A span that runs past its cell is cut at the end of the cell's last line.
        """
        cell, row = self.locate(d.row)
        end_cell, end_row = self.locate(max(d.end_row, d.row))
        end_column = d.end_column
        if end_cell != cell:
            info = next(c for c in self.code_cells if c.index == cell)
            last = info.start_row + max(info.line_count, 1) - 1
            end_row = last - info.start_row + 1
            end_column = len(_strip_eol(self._program_lines[last - 1])[0]) + 1
        start = self.file_position(cell, row, d.column)
        end = self.file_position(cell, end_row, end_column)
        file_span = Span(*start, *end) if start is not None and end is not None else None
        trace = [dataclasses.replace(t, cell=c, row=r, file_row=self._file_row(c, r))
                 for t in d.trace for c, r in [self.locate(t.row)]]
        fix = d.fix
        if fix is not None:
            fix = dataclasses.replace(fix, edits=tuple(self._map_edit(e) for e in fix.edits),
                                      file_edits=self._file_edits(fix.edits))
        return dataclasses.replace(d, cell=cell, row=row, end_row=end_row, end_column=end_column,
                                   trace=trace, fix=fix, file_span=file_span)

    def _map_edit(self, edit):
        cell, row = self.locate(edit.row)
        end_cell, end_row = self.locate(max(edit.end_row, edit.row))
        end_column = edit.end_column
        if end_cell != cell:
            # An edit up to the start of the next cell ends after the last line of its own.
            info = next(c for c in self.code_cells if c.index == cell)
            end_row, end_column = max(info.line_count, 1) + 1, 1
        return dataclasses.replace(edit, cell=cell, row=row, end_row=end_row,
                                   end_column=end_column)

    # -- places in the notebook's own text -------------------------------------------------

    def file_position(self, cell: int, row: int, column: int) -> Optional[tuple[int, int]]:
        """(line, column), 1-based, in the notebook text of column ``column`` of row ``row``
        of code cell ``cell``; a place past the row's end is its end, past the cell's end
        the cell's end.  None when the cell is not a code cell or its source cannot be read
        back character by character."""
        info = next((c for c in self.code_cells if c.index == cell), None)
        offsets = self._source_offsets(info) if info is not None else None
        if offsets is None:
            return None
        index = len(info.source)
        lines = split_lines(info.source)
        if 1 <= row <= len(lines):
            index = sum(len(line) for line in lines[:row - 1]) + \
                min(max(column, 1) - 1, len(_strip_eol(lines[row - 1])[0]))
        offset = offsets[index]
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def _file_row(self, cell: int, row: int) -> Optional[int]:
        place = self.file_position(cell, row, 1)
        return place[0] if place is not None else None

    def _source_offsets(self, cell: Cell) -> Optional[list[int]]:
        """The offset in the notebook text of each character of ``cell.source``, then of the
        end of the source: an escape (``\\n``, ``\\"``, ``\\u00e9``) is several characters
        of the file for one of the source."""
        if cell.index not in self._offsets:
            self._offsets[cell.index] = _string_offsets(self.text, cell.span, len(cell.source))
        return self._offsets[cell.index]

    def _file_edits(self, edits) -> tuple[Edit, ...]:
        """Program-row ``edits`` as one edit of the notebook text, whole lines replaced;
        () when there are none or they cannot be written back (a cell boundary crossed)."""
        if not edits:
            return ()
        try:
            new_text = self.with_program(apply_edits(self._program, edits))
        except FileError:
            return ()
        return line_edit(self.text, new_text)

    # -- writing ---------------------------------------------------------------------------

    def with_program(self, new_program: str) -> str:
        """The notebook text with the code cells of ``new_program``; FileError if its cell
        sentinels are not the original ones in order."""
        segments = self._split(new_program)
        pieces: list[str] = []
        last = 0
        for cell, segment in zip(self.code_cells, segments):
            source = self._unmask(segment)
            if source.endswith("\n"):
                source = source[:-1]
            if source == cell.source:
                continue
            start, end = cell.span
            pieces.append(self.text[last:start])
            pieces.append(self._layout.format_source(self.text, cell, source))
            last = end
        if not pieces:
            return self.text
        pieces.append(self.text[last:])
        return "".join(pieces)

    def _split(self, program: str) -> list[str]:
        segments: list[list[str]] = [[]]
        found: list[int] = []
        for line in split_lines(program):
            m = _SENTINEL_RE.fullmatch(_strip_eol(line)[0])
            if m:
                found.append(int(m.group(1)))
                segments.append([])
            else:
                segments[-1].append(line)
        if found != [c.index for c in self.code_cells[1:]]:
            raise FileError(self.path, "a fix moved a notebook cell boundary; notebook left unchanged")
        return ["".join(s) for s in segments]

    def _unmask(self, segment: str) -> str:
        out = []
        for line in split_lines(segment):
            body, eol = _strip_eol(line)
            m = _MASK_RE.fullmatch(body)
            if m and int(m.group("k")) < len(self._masker.masked):
                masked = self._masker.masked[int(m.group("k"))]
                indent = m.group("indent")
                original = masked.original
                if indent != masked.indent:
                    if original.startswith(masked.indent):
                        original = indent + original[len(masked.indent):]
                    else:
                        original = indent + original.lstrip(" \t")
                out.append(original + eol)
            else:
                out.append(line)
        return "".join(out)


class _Scanner:
    """Just enough of Python's lexer to know where a statement may start on the next line."""

    def __init__(self):
        self.depth = 0
        self.string: Optional[str] = None  # the open string's closing quote(s)
        self.continuation = False
        self.question = False              # a ``?`` outside strings and comments: IPython help

    @property
    def at_statement_start(self) -> bool:
        return self.depth == 0 and self.string is None and not self.continuation

    def scan(self, line: str) -> None:
        body, _ = _strip_eol(line)
        i, n = 0, len(body)
        self.continuation = False
        self.question = False
        while i < n:
            c = body[i]
            if self.string is not None:
                if c == "\\":
                    i += 2
                elif body.startswith(self.string, i):
                    i += len(self.string)
                    self.string = None
                else:
                    i += 1
                continue
            if c == "#":
                break
            if c in "\"'":
                self.string = c * 3 if body.startswith(c * 3, i) else c
                i += len(self.string)
                continue
            if c in "([{":
                self.depth += 1
            elif c in ")]}":
                self.depth = max(0, self.depth - 1)
            elif c == "?":
                self.question = True
            elif c == "\\" and i == n - 1:
                self.continuation = True
            i += 1
        if self.string in ("'", '"'):
            trailing = len(body) - len(body.rstrip("\\"))
            if trailing % 2 == 0:  # an unescaped line end closes (in truth: breaks) the string
                self.string = None


@dataclass
class _Layout:
    """How the notebook file writes JSON, for the ``source`` values we rewrite."""

    unit: Optional[str]          # one indentation level; None for a compact file
    newline: str
    item_gap: str                # after a comma in a compact file: "" or " "
    ensure_ascii: bool

    def dumps(self, value: str) -> str:
        return json.dumps(value, ensure_ascii=self.ensure_ascii)

    def format_source(self, text: str, cell: Cell, source: str) -> str:
        if not cell.source_is_list:
            return self.dumps(source)
        lines = source.splitlines(keepends=True)  # as Jupyter splits them
        if not lines:
            return "[]"
        start, end = cell.span
        elements = _list_elements(text, start)
        if elements and "\n" in text[start + 1:elements[0][0]]:
            open_ws = text[start + 1:elements[0][0]]
            close_ws = text[elements[-1][1]:end - 1]
            sep = text[elements[0][1]:elements[1][0]] if len(elements) > 1 else "," + open_ws
        elif self.unit is not None:
            line_start = text.rfind("\n", 0, start) + 1
            base = _INDENT.match(text, line_start).group()
            open_ws = self.newline + base + self.unit
            close_ws = self.newline + base
            sep = "," + open_ws
        else:
            open_ws = close_ws = ""
            sep = "," + self.item_gap
        return "[" + open_ws + sep.join(self.dumps(l) for l in lines) + close_ws + "]"


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _JSON_WS:
        i += 1
    return i


_DECODER = json.JSONDecoder()


def _members(text: str, i: int):
    """(key, key start, value start, value end) of the object at ``i`` (valid JSON assumed)."""
    i = _skip(text, i + 1)
    while text[i] != "}":
        if text[i] == ",":
            i = _skip(text, i + 1)
        key_start = i
        key, i = scanstring(text, i + 1)
        i = _skip(text, _skip(text, i) + 1)
        _, end = _DECODER.raw_decode(text, i)
        yield key, key_start, i, end
        i = _skip(text, end)


def _list_elements(text: str, i: int) -> list[tuple[int, int]]:
    """(start, end) of each element of the array at ``i``."""
    out = []
    i = _skip(text, i + 1)
    while text[i] != "]":
        if text[i] == ",":
            i = _skip(text, i + 1)
        _, end = _DECODER.raw_decode(text, i)
        out.append((i, end))
        i = _skip(text, end)
    return out


def _string_offsets(text: str, span: tuple[int, int], length: int) -> Optional[list[int]]:
    """Offsets of each decoded character of the JSON string or array of strings at ``span``
    in ``text``, then of where the value's text ends; None if they do not come to
    ``length`` characters."""
    start, end = span
    literals = _list_elements(text, start) if text[start] == "[" else [(start, end)]
    offsets: list[int] = []
    for first, last in literals:
        i = first + 1
        while i < last - 1:
            offsets.append(i)
            if text[i] != "\\":
                i += 1
            elif text[i + 1] != "u":
                i += 2
            elif _SURROGATE_PAIR.match(text, i):  # one character written as two escapes
                i += 12
            else:
                i += 6
    offsets.append(literals[-1][1] - 1 if literals else start + 1)
    return offsets if len(offsets) == length + 1 else None


_SURROGATE_PAIR = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_FILE_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")


def line_edit(before: str, after: str) -> tuple[Edit, ...]:
    """One edit that turns ``before`` into ``after`` by replacing the lines between their
    common first and last lines (lines broken at ``\\n`` only, as JSON viewers count
    them); () when the texts are the same."""
    if before == after:
        return ()
    a, b = _FILE_LINE.findall(before), _FILE_LINE.findall(after)
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return (Edit(row=head + 1, column=1, end_row=len(a) - tail + 1, end_column=1,
                 content="".join(b[head:len(b) - tail])),)


def _invalid(path: str, reason: str) -> FileError:
    return FileError(path, f"invalid notebook: {reason}")


def _syntax_problem(source: str) -> Optional[str]:
    """Why ``source`` does not parse on its own (as IPython runs a cell), or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "<cell>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        return f"{exc.msg} (line {exc.lineno})" if exc.lineno else exc.msg
    except (ValueError, RecursionError, MemoryError) as exc:
        return type(exc).__name__
    return None


def load_notebook(text: str, path: str) -> Notebook:
    """Parse a notebook's text; FileError (one-line reason) for anything we cannot use."""
    body = text[1:] if text.startswith("\ufeff") else text
    offset = len(text) - len(body)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise FileError(path, f"invalid notebook: not valid JSON: {exc.msg}", exc.lineno) from None
    except RecursionError:
        raise _invalid(path, "JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise _invalid(path, "the top level is not a JSON object")
    nbformat = data.get("nbformat")
    if nbformat is not None and (not isinstance(nbformat, int) or isinstance(nbformat, bool)):
        raise _invalid(path, f"\"nbformat\" is not an integer: {nbformat!r}")
    if isinstance(nbformat, int) and nbformat < 4:
        raise FileError(path, f"notebook format {nbformat} is not supported (nbformat 4 or later)")
    raw_cells = data.get("cells")
    if not isinstance(raw_cells, list):
        raise _invalid(path, "no \"cells\" list")

    # Offsets of every member of the top-level object: the last ``cells`` wins, as in json.loads.
    top = _skip(body, 0)
    cells_span = None
    first_key = None
    item_gap = ""
    for key, key_start, start, end in _members(body, top):
        if first_key is None:
            first_key = key_start
            after = _skip(body, end)
            if body[after:after + 1] == ",":
                item_gap = body[after + 1:_skip(body, after + 1)]
        if key == "cells":
            cells_span = start
    element_spans = _list_elements(body, cells_span)

    cells = []
    for k, (raw, (start, _)) in enumerate(zip(raw_cells, element_spans), start=1):
        if not isinstance(raw, dict):
            raise _invalid(path, f"cell {k} is not a JSON object")
        cell_type = raw.get("cell_type")
        if not isinstance(cell_type, str):
            raise _invalid(path, f"cell {k} has no \"cell_type\"")
        source = raw.get("source")
        if "source" not in raw:
            raise _invalid(path, f"cell {k} has no \"source\"")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            joined, is_list = "".join(source), True
        elif isinstance(source, str):
            joined, is_list = source, False
        else:
            raise _invalid(path, f"cell {k} \"source\" is neither a string nor a list of strings")
        span = None
        for key, _, vstart, vend in _members(body, start):
            if key == "source":
                span = (vstart + offset, vend + offset)
        cells.append(Cell(k, cell_type, joined, is_list, span))

    lead = body[top + 1:first_key] if first_key is not None else ""
    layout = _Layout(
        unit=lead.rsplit("\n", 1)[1] if "\n" in lead else None,
        newline="\r\n" if "\r\n" in lead else "\n",
        item_gap=item_gap,
        ensure_ascii=_uses_ascii_escapes(body),
    )
    return Notebook(path, text, data, cells, layout)


_NON_ASCII_ESCAPE = re.compile(r"\\u(?:00[89a-fA-F]|0[1-9a-fA-F]|[1-9a-fA-F])")


def _uses_ascii_escapes(text: str) -> bool:
    """Whether the writer escaped non-ASCII text (``json.dumps`` default) or kept it (Jupyter)."""
    if any(ord(c) > 127 for c in text):
        return False
    return bool(_NON_ASCII_ESCAPE.search(text))
