"""The product of a check: diagnostics with their trace and (optionally) a fix."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional


@dataclass(frozen=True)
class Edit:
    """Replace [row:col, end_row:end_col) with ``content``; 1-based rows and columns (in a
    notebook, within code cell ``cell``)."""

    row: int
    column: int
    end_row: int
    end_column: int
    content: str
    cell: Optional[int] = None


@dataclass(frozen=True)
class Fix:
    applicability: str  # "safe" | "unsafe"
    message: str
    edits: tuple[Edit, ...]
    # The same change as edits of the file's own text, where ``edits`` are not that (in a
    # notebook, ``edits`` are rows of cells; these are lines of the .ipynb JSON).
    file_edits: tuple[Edit, ...] = ()


@dataclass(frozen=True)
class Span:
    """[row:column, end_row:end_column), 1-based, ``end_column`` exclusive."""

    row: int
    column: int
    end_row: int
    end_column: int


@dataclass(frozen=True)
class TraceLine:
    row: int
    text: str
    shape: str
    cell: Optional[int] = None  # in a notebook: the cell of ``row``, which may be another one
    path: Optional[str] = None  # the file of ``row`` when it is not the diagnostic's own
    file_row: Optional[int] = None  # in a notebook: the line of the .ipynb text holding ``row``


@dataclass
class Diagnostic:
    code: str
    name: str
    message: str
    severity: str
    filename: str
    row: int
    column: int
    end_row: int
    end_column: int
    trace: list[TraceLine] = field(default_factory=list)
    fix: Optional[Fix] = None
    cell: Optional[int] = None
    source_line: str = ""
    # In a notebook: the same place in lines and columns of the .ipynb text, which is what
    # a viewer of the file (code scanning, a merge request) shows.
    file_span: Optional[Span] = None

    @property
    def file_row(self) -> int:
        """The line of the file itself (of the JSON, for a notebook) where the finding starts."""
        return self.file_span.row if self.file_span is not None else self.row

    def to_dict(self) -> dict:
        """Everything, for the cache; ``from_dict`` reverses it."""
        return asdict(self)

    @staticmethod
    def from_dict(data: dict) -> "Diagnostic":
        data = dict(data)
        data["trace"] = [TraceLine(**t) for t in data["trace"]]
        if data["fix"] is not None:
            fix = data["fix"]
            data["fix"] = Fix(fix["applicability"], fix["message"],
                              tuple(Edit(**e) for e in fix["edits"]),
                              tuple(Edit(**e) for e in fix.get("file_edits", ())))
        if data.get("file_span") is not None:
            data["file_span"] = Span(**data["file_span"])
        return Diagnostic(**data)

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "message": self.message,
            "severity": self.severity,
            "filename": self.filename,
            "cell": self.cell,
            "location": {"row": self.row, "column": self.column},
            "end_location": {"row": self.end_row, "column": self.end_column},
            "fix": None if self.fix is None else {
                "applicability": self.fix.applicability,
                "message": self.fix.message,
                "edits": [
                    {"cell": e.cell,
                     "location": {"row": e.row, "column": e.column},
                     "end_location": {"row": e.end_row, "column": e.end_column},
                     "content": e.content} for e in self.fix.edits],
            },
            "trace": [{"filename": t.path or self.filename, "cell": t.cell, "row": t.row,
                       "text": t.text, "shape": t.shape} for t in self.trace],
        }


class FileError(Exception):
    """A file that could not be read or parsed: reported per file, never fatal to a run."""

    def __init__(self, filename: str, message: str, row: Optional[int] = None):
        super().__init__(message)
        self.filename = filename
        self.message = message
        self.row = row

    def __str__(self) -> str:
        where = f"{self.filename}:{self.row}" if self.row else self.filename
        return f"{where}: error: {self.message}"

    def __reduce__(self):  # crosses process boundaries in parallel runs
        return (FileError, (self.filename, self.message, self.row))
