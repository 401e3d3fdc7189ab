"""What a rule's ``fix()`` may use: the plan it returns, its applicability, the fix options,
and helpers that build LibCST edits.  It sits below the rules; the engine that applies plans
(``fixes.py``) sits above them.

A plan maps original nodes to replacements: a node, a ``FlattenSentinel`` of statements, or
``RemovalSentinel.REMOVE``.
"""
from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Optional

import libcst as cst

from rnnshape.cells import CellRows
from rnnshape.shapes.facts import Facts
from rnnshape.syntax import Unit, walk

_STATEMENTS = (cst.SimpleStatementLine, cst.BaseCompoundStatement)

SAFE, UNSAFE = "safe", "unsafe"


@dataclass
class Plan:
    applicability: str
    message: str
    changes: dict = field(default_factory=dict)  # original node -> replacement


@dataclass(frozen=True)
class FixOptions:
    batch_first: bool = False  # fix layout mismatches by switching modules to batch_first=True
    unsafe: bool = False  # apply unsafe fixes too
    # with ``unsafe``: only the unsafe fixes of these (code, row) findings (``fix --verified``
    # applies those the runtime harness proved); None: all of them
    unsafe_only: Optional[frozenset] = None


class _Bound(cst.CSTVisitor):
    """The name nodes a piece of code binds."""

    def __init__(self):
        self.names: list[cst.Name] = []

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        node.target.visit(_Targets(self.names))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        node.target.visit(_Targets(self.names))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        node.target.visit(_Targets(self.names))

    def visit_For(self, node: cst.For) -> None:
        node.target.visit(_Targets(self.names))


class _Targets(cst.CSTVisitor):
    """The names in an assignment target (``reads``: every name an expression reads)."""

    def __init__(self, names: list, reads: bool = False):
        self.names = names
        self.reads = reads

    def visit_Name(self, node: cst.Name) -> None:
        self.names.append(node)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        if self.reads:
            node.value.visit(self)
        return False  # ``self.x = ...`` binds no name; ``.x`` reads none

    def visit_Subscript(self, node: cst.Subscript) -> bool:
        return self.reads


class FixContext:
    """What a rule needs to build a plan: the tree, positions, parents, and a few helpers."""

    def __init__(self, unit: Unit, facts: Facts, options: FixOptions,
                 first_cell: Optional[int] = None):
        self.unit = unit
        self.module = unit.module
        self.facts = facts
        self.positions = unit.positions
        self.options = options
        # A notebook's program (``first_cell``: its first code cell): a message names rows
        # as the user sees them, in cells, not as rows of the program.
        self.cells = CellRows(unit.text, first_cell) if first_cell is not None else None

    def text(self, node) -> str:
        return self.module.code_for_node(node)

    @property
    def skeleton(self) -> dict:
        """Statement -> the node that holds it, for every statement of the module."""
        return self.unit.skeleton

    def block_of(self, stmt) -> Optional[cst.CSTNode]:
        """The block (indented block or module) whose ``body`` holds ``stmt``."""
        return self.skeleton.get(stmt)

    def _innermost(self, node, kinds) -> Optional[cst.CSTNode]:
        """The innermost node of ``kinds`` in the statement skeleton whose span holds
        ``node``'s: positions stand in for a parent map of every expression."""
        where = self.positions[node]
        start, end = (where.start.line, where.start.column), (where.end.line, where.end.column)
        best, best_start = None, None
        for candidate in self.skeleton:
            if not isinstance(candidate, kinds):
                continue
            span = self.positions[candidate]
            first = (span.start.line, span.start.column)
            if first <= start and end <= (span.end.line, span.end.column) and \
                    (best_start is None or first >= best_start):
                best, best_start = candidate, first
        return best

    def statement_of(self, node) -> Optional[cst.CSTNode]:
        """The statement (simple line or compound) that contains ``node``."""
        return node if isinstance(node, _STATEMENTS) else self._innermost(node, _STATEMENTS)

    def fed_back(self, node, expr) -> bool:
        """Whether ``node`` runs in a loop of its function where a name ``expr`` reads may
        still hold what the previous pass made: the loop rebinds it, but not before this line
        (the loop's own variable is new each pass)."""
        loop = self._innermost(node, (cst.For, cst.While))
        if loop is None:
            return False
        func = self._innermost(node, cst.FunctionDef)
        if func is not None and self.positions[loop].start.line < self.positions[func].start.line:
            return False
        read = _Targets([], reads=True)
        expr.visit(read)  # every name the expression reads
        bound = _Bound()
        loop.body.visit(bound)
        fresh: list = []
        if isinstance(loop, cst.For):
            loop.target.visit(_Targets(fresh))
        use = self.row(self.statement_of(node))
        names = {n.value for n in read.names} - {n.value for n in fresh}
        first: dict[str, int] = {}
        for name in bound.names:
            first[name.value] = min(first.get(name.value, self.row(name)), self.row(name))
        return any(first.get(name, 0) >= use for name in names if name in first)

    def scope_of(self, node) -> Optional[cst.CSTNode]:
        """The function (or module) whose names ``node`` sees."""
        return self._innermost(node, cst.FunctionDef) or self.module

    def row(self, node) -> int:
        return self.positions[node].start.line

    def bound_at(self, name: str, node) -> bool:
        """Whether code inserted at ``node`` may read ``name``: a builtin, a parameter or a
        name bound earlier in one of the functions around it, or bound at module level (before
        it, when ``node`` is itself at module level).  A safe fix uses no other name."""
        if name in _BUILTINS:
            return True
        row = self.row(node)
        functions = self._enclosing(node, cst.FunctionDef)
        for func in functions:
            params = func.params
            every = [*params.posonly_params, *params.params, *params.kwonly_params,
                     *(p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param))]
            if any(p.name.value == name for p in every) or \
                    any(self.row(n) < row for n in _binders(func.body, name)):
                return True
        return any(functions or self.row(n) < row
                   for stmt in self.module.body for n in _binders(stmt, name, nested=False))

    def _enclosing(self, node, kinds) -> list:
        """The nodes of ``kinds`` in the statement skeleton whose span holds ``node``."""
        where = self.positions[node]
        start, end = (where.start.line, where.start.column), (where.end.line, where.end.column)
        found = []
        for candidate in self.skeleton:
            if isinstance(candidate, kinds):
                span = self.positions[candidate]
                if (span.start.line, span.start.column) <= start and \
                        end <= (span.end.line, span.end.column):
                    found.append(candidate)
        return found

    def lines_of(self, nodes) -> str:
        """``line(s) 12, 15``: the distinct first rows of ``nodes``, for a message; in a
        notebook ``cell 4 row(s) 3, 6`` (cells joined by ``and``)."""
        rows = sorted({self.row(n) for n in nodes})
        if self.cells is None:
            return "line(s) " + ", ".join(map(str, rows))
        by_cell: dict[int, list[int]] = {}
        for row in rows:
            cell, in_cell = self.cells.locate(row)
            by_cell.setdefault(cell, []).append(in_cell)
        return " and ".join(f"cell {cell} row(s) " + ", ".join(map(str, found))
                            for cell, found in by_cell.items())

    def line_of(self, node) -> str:
        """``line 12`` for a message; in a notebook ``cell 4 row 3``."""
        return self.row_span(self.row(node), self.row(node))

    def row_span(self, first: int, last: int) -> str:
        """``lines 12-15`` (``line 12``) for a message; in a notebook ``cell 4 rows 3-6``, or
        ``cell 4 row 3 to cell 5 row 2`` across cells."""
        if self.cells is None:
            return f"lines {first}-{last}" if last != first else f"line {first}"
        (cell, start), (end_cell, end) = self.cells.locate(first), self.cells.locate(last)
        if end_cell != cell:
            return f"cell {cell} row {start} to cell {end_cell} row {end}"
        return f"cell {cell} rows {start}-{end}" if end != start else f"cell {cell} row {start}"

    def torch_name(self) -> tuple[str, bool]:
        """How this file names torch at top level, and whether an import must be added."""
        for stmt in self.module.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Import):
                        for alias in small.names:
                            if self.text(alias.name) == "torch":
                                return (alias.asname.name.value if alias.asname else "torch"), False
        return "torch", True

    def import_torch_change(self) -> dict:
        """Add ``import torch`` after the last top-level import (or at the top)."""
        last = None
        for stmt in self.module.body:
            if isinstance(stmt, cst.SimpleStatementLine) and any(
                    isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body):
                last = stmt
        new = cst.parse_statement("import torch\n")
        if last is not None:
            return {last: cst.FlattenSentinel([last, new])}
        first = self.module.body[0] if self.module.body else None
        if first is None:
            return {}
        return {first: cst.FlattenSentinel([new, first])}

    def with_torch_import(self, changes: dict) -> Optional[dict]:
        """``changes`` plus ``import torch`` when the file lacks it; None when they collide."""
        _, needs_import = self.torch_name()
        if not needs_import:
            return changes
        extra = self.import_torch_change()
        if any(node in changes for node in extra):
            return None
        return {**changes, **extra}


_BUILTINS = frozenset(dir(builtins))


def _binders(node, name: str, nested: bool = True) -> list:
    """The nodes in ``node`` that bind ``name``: assignment and loop targets, imports,
    ``def``/``class`` names, ``with ... as`` and ``except ... as`` (``nested``: also inside
    the functions and classes it holds)."""
    found: list = []
    for child in walk(node, () if nested else (cst.FunctionDef, cst.ClassDef)):
        if isinstance(child, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For,
                              cst.NamedExpr)):
            target = child.target
        elif isinstance(child, cst.AsName):
            target = child.name
        elif isinstance(child, (cst.FunctionDef, cst.ClassDef)) and child is not node:
            target = child.name
        elif isinstance(child, cst.ImportAlias) and child.asname is None:
            target = cst.Name(cst.Module([]).code_for_node(child.name).split(".")[0])
            if target.value == name:
                found.append(child)
            continue
        else:
            continue
        names: list = []
        target.visit(_Targets(names))
        found.extend(n for n in names if n.value == name)
    return found


# ---------------------------------------------------------------------- edit helpers
def int_args(values) -> list[cst.Arg]:
    args = [cst.Arg(cst.Integer(str(v)) if v >= 0 else
                    cst.UnaryOperation(cst.Minus(), cst.Integer(str(-v)))) for v in values]
    return [a.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
            if i < len(args) - 1 else a for i, a in enumerate(args)]


def layout_call(receiver: cst.BaseExpression, perm: tuple[int, ...], method: str = "") -> cst.BaseExpression:
    """``receiver`` reordered by ``perm``: nothing, ``.transpose(i, j)`` for a swap, else ``.permute``."""
    if perm == tuple(range(len(perm))):
        return receiver
    moved = [i for i, p in enumerate(perm) if p != i]
    if method != "permute" and len(moved) == 2:
        name, args = "transpose", int_args(moved)
    else:
        name, args = "permute", int_args(perm)
    if isinstance(receiver, (cst.BinaryOperation, cst.UnaryOperation, cst.IfExp, cst.Lambda,
                             cst.BooleanOperation, cst.Comparison, cst.Await)):
        receiver = receiver.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return cst.Call(cst.Attribute(receiver, cst.Name(name)), args)


def set_keyword(call: cst.Call, name: str, value: cst.BaseExpression) -> cst.Call:
    """``call`` with keyword ``name=value`` set, replacing an existing one."""
    args = list(call.args)
    for i, arg in enumerate(args):
        if arg.keyword is not None and arg.keyword.value == name:
            args[i] = arg.with_changes(value=value)
            return call.with_changes(args=args)
    new = cst.Arg(value, keyword=cst.Name(name),
                  equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
    if args:
        last = args[-1]
        trailing = last.comma
        args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        if trailing is not cst.MaybeSentinel.DEFAULT and isinstance(trailing, cst.Comma):
            new = new.with_changes(comma=trailing)
    args.append(new)
    return call.with_changes(args=args)


def loop_top(loop) -> Optional[cst.BaseStatement]:
    """The first statement of a loop's indented body: where a fix puts what every pass must
    do first."""
    body = loop.body
    return body.body[0] if isinstance(body, cst.IndentedBlock) and body.body else None


def insert_before(stmt: cst.BaseStatement, code: str) -> dict:
    """The change that puts the statement ``code`` just before ``stmt``."""
    return {stmt: cst.FlattenSentinel([cst.parse_statement(code), stmt])}


def doubled(node: cst.BaseExpression, text: str) -> str:
    """``2 * size`` written for the size expression ``node`` (``text``): ``2 * h``, ``2 * (a + b)``,
    or the product for a literal."""
    if isinstance(node, cst.Integer):
        return str(2 * int(node.value))
    if not isinstance(node, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):
        text = f"({text})"
    return f"2 * {text}"


def graft(template: str, receiver: cst.BaseExpression) -> cst.BaseExpression:
    """``template`` (an expression on ``_``, like ``_.detach()``) with ``receiver`` in place of
    ``_``, keeping the receiver's own formatting."""

    class Graft(cst.CSTTransformer):
        def leave_Name(self, original, updated):
            return receiver if original.value == "_" else updated

    return cst.parse_expression(template).visit(Graft())
