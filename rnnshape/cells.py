"""Where a notebook program's rows are in the notebook's cells, read from the program itself.

A notebook is checked as one program (``notebook.py``): its code cells in order, with the line
``# %% rnnshape-cell <k>`` between two cells (k: the 1-based index of the cell that follows,
markdown cells counted).  The sentinels survive fixes, so a program changed by a fix still
says which rows are in which cell; only the first code cell's index is not written in it.

    cells = CellRows(program, first_cell=2)
    cells.locate(14)          # (5, 3): row 3 of cell 5
"""
from __future__ import annotations

import bisect
import re

SENTINEL = "# %% rnnshape-cell {}"
SENTINEL_RE = re.compile(r"# %% rnnshape-cell (\d+)")
_ROW = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class CellRows:
    def __init__(self, program: str, first_cell: int):
        self._starts = [1]          # the first program row of each cell
        self._cells = [first_cell]  # and that cell's index
        for row, line in enumerate(_ROW.findall(program), start=1):
            match = SENTINEL_RE.fullmatch(line.rstrip("\r\n"))
            if match:
                self._starts.append(row + 1)
                self._cells.append(int(match.group(1)))

    def locate(self, row: int) -> tuple[int, int]:
        """(cell index, row in that cell) of a program row; a sentinel row is row 1 of the cell
        it opens."""
        k = max(bisect.bisect_right(self._starts, row + 1) - 1, 0)
        return self._cells[k], max(row - self._starts[k] + 1, 1)
