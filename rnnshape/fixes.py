"""The fix engine: plans from rules, applied as LibCST node replacements until stable.

A rule proposes a ``Plan``: original node -> replacement (a node, a ``FlattenSentinel`` of
statements, or ``RemovalSentinel``).  Plans whose nodes overlap an already chosen plan wait for
the next round, where the file is analysed afresh; this is what makes combined fixes (a
permute inside a region that is also wrapped in ``no_grad``) come out right.
"""
from __future__ import annotations

import ast
import difflib
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from rnnshape.diagnostic import Edit, FileError, Fix
from rnnshape.rules.base import Context, Finding

MAX_ROUNDS = 8
SAFE, UNSAFE = "safe", "unsafe"


@dataclass
class Plan:
    applicability: str
    message: str
    changes: dict = field(default_factory=dict)  # original node -> replacement


@dataclass
class Options:
    batch_first: bool = False
    unsafe: bool = False


class FixContext:
    """What a rule needs to build a plan: the tree, positions, parents, and a few helpers."""

    def __init__(self, ctx: Context, positions, options: Options):
        self.module = ctx.module
        self.facts = ctx.facts
        self.positions = positions
        self.options = options
        self._parents = None

    def text(self, node) -> str:
        return self.module.code_for_node(node)

    def parent(self, node):
        if self._parents is None:
            wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
            self._parents = wrapper.resolve(ParentNodeProvider)
        return self._parents.get(node)

    def statement_of(self, node) -> Optional[cst.CSTNode]:
        """The statement (simple line or compound) that contains ``node``."""
        while node is not None and not isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            node = self.parent(node)
        return node

    def row(self, node) -> int:
        return self.positions[node].start.line

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


class _Replace(cst.CSTTransformer):
    def __init__(self, changes: dict):
        self.changes = changes

    def on_leave(self, original, updated):
        if original in self.changes:
            return self.changes[original]
        return updated


def apply_changes(module: cst.Module, changes: dict) -> cst.Module:
    return module.visit(_Replace(changes))


def _span(positions, node):
    rng = positions[node]
    return (rng.start.line, rng.start.column), (rng.end.line, rng.end.column)


def _overlaps(a, b) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def plan_for(finding: Finding, fctx: FixContext) -> Optional[Plan]:
    from rnnshape.rules import REGISTRY
    rule = REGISTRY[finding.code]
    make = getattr(rule, "fix", None)
    if make is None:
        return None
    try:
        return make(finding, fctx)
    except (KeyError, ValueError, IndexError, AttributeError, TypeError,
            cst.ParserSyntaxError):
        # A plan we cannot build is no plan; the finding is still reported.
        return None


def choose(plans: list[tuple[Finding, Plan]], positions) -> tuple[dict, Counter]:
    """Non-overlapping plans for this round, in file order."""
    taken: list[tuple] = []
    changes: dict = {}
    applied: Counter = Counter()
    for finding, plan in plans:
        spans = [_span(positions, node) for node in plan.changes]
        if any(_overlaps(s, t) for s in spans for t in taken):
            continue
        same = [n for n in plan.changes if n in changes]
        if same:
            continue
        taken.extend(spans)
        changes.update(plan.changes)
        applied[finding.code] += 1
    return changes, applied


def edits_between(before: str, after: str) -> tuple[Edit, ...]:
    """Line-range edits that turn ``before`` into ``after`` (1-based, end exclusive)."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    edits = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        edits.append(Edit(row=i1 + 1, column=1, end_row=i2 + 1, end_column=1,
                          content="".join(b[j1:j2])))
    return tuple(edits)


def fix_of(finding: Finding, fctx: FixContext, text: str, with_edits: bool = True) -> Optional[Fix]:
    """The fix shown with a diagnostic: its applicability, message and exact edits."""
    plan = plan_for(finding, fctx)
    if plan is None or not plan.changes:
        return None
    if not with_edits:
        return Fix(plan.applicability, plan.message, ())
    edits = _expression_edits(plan.changes, fctx)
    if edits is None:
        # Statements moved, added or removed: let LibCST lay them out, then diff.
        try:
            new = apply_changes(fctx.module, plan.changes).code
        except Exception:
            return None
        if new == text:
            return None
        edits = edits_between(text, new)
    return Fix(plan.applicability, plan.message, edits)


def _expression_edits(changes: dict, fctx: FixContext) -> Optional[tuple[Edit, ...]]:
    """Edits straight from positions when every change swaps an expression for another:
    the common case, and one that needs no pass over the whole tree."""
    edits = []
    for old, new in changes.items():
        if not isinstance(old, cst.BaseExpression) or not isinstance(new, cst.BaseExpression):
            return None
        rng = fctx.positions[old]
        edits.append(Edit(rng.start.line, rng.start.column + 1, rng.end.line, rng.end.column + 1,
                          fctx.module.code_for_node(new)))
    return tuple(sorted(edits, key=lambda e: (e.row, e.column)))


def apply_edits(text: str, edits) -> str:
    """Apply non-overlapping edits (1-based rows and columns, end exclusive) to ``text``."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(row: int, column: int) -> int:
        if row - 1 >= len(lines):
            return len(text)
        return starts[row - 1] + column - 1

    out = text
    for edit in sorted(edits, key=lambda e: (e.row, e.column), reverse=True):
        begin, end = offset(edit.row, edit.column), offset(edit.end_row, edit.end_column)
        out = out[:begin] + edit.content + out[end:]
    return out


def still_parses(original: str, new: str) -> bool:
    try:
        ast.parse(original)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True  # libcst accepted it and so must we; nothing stricter to compare with
    try:
        ast.parse(new)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


@dataclass
class FixResult:
    text: str
    applied: Counter


def _active(analysis, text: str) -> list[Finding]:
    """The findings ``check`` would report: ``# noqa`` on the reported row silences a fix too."""
    if analysis is None or not analysis.findings:
        return []
    from rnnshape.suppress import is_suppressed, noqa_map

    noqa = noqa_map(text)
    return [f for f in analysis.findings if not is_suppressed(
        _span(analysis.positions, f.anchor or f.node)[0][0], f.code, noqa)]


def _counts(analysis, text: str) -> Counter:
    seen = {(f.code, _span(analysis.positions, f.anchor or f.node)[0])
            for f in _active(analysis, text)}
    return Counter(code for code, _ in seen)


def fix_text(text: str, filename: str, settings, options: Options) -> FixResult:
    """Apply fixes until the file is stable.  Raises FileError if the result would not parse.

    ``applied`` counts, per code, the findings that the fixes made go away.
    """
    from rnnshape.api import analyze

    current = text
    seen = {current}
    analysis = analyze(current, filename, settings)
    before = _counts(analysis, current)
    for _ in range(MAX_ROUNDS):
        if analysis is None or not analysis.findings:
            break
        fctx = FixContext(Context(analysis.module, analysis.facts), analysis.positions, options)
        plans = []
        for finding in sorted(_active(analysis, current),
                              key=lambda f: _span(analysis.positions, f.node)):
            plan = plan_for(finding, fctx)
            if plan is None or not plan.changes:
                continue
            if plan.applicability == UNSAFE and not options.unsafe:
                continue
            plans.append((finding, plan))
        if not plans:
            break
        changes, _ = choose(plans, analysis.positions)
        new = apply_changes(analysis.module, changes).code
        if new == current or new in seen:
            break  # nothing changed, or we are going round in circles: stop where we are
        try:
            analysis = analyze(new, filename, settings)
        except FileError:
            raise FileError(filename, "a fix produced code that does not parse; file left unchanged")
        seen.add(new)
        current = new
    if current != text and not still_parses(text, current):
        raise FileError(filename, "a fix produced code that does not parse; file left unchanged")
    after = _counts(analysis, current) if current != text else before
    applied = Counter({code: n - after.get(code, 0) for code, n in before.items()
                       if n - after.get(code, 0) > 0})
    return FixResult(current, applied)


# ---------------------------------------------------------------------- builders used by rules
def int_args(values) -> list[cst.Arg]:
    args = [cst.Arg(cst.Integer(str(v)) if v >= 0 else cst.UnaryOperation(cst.Minus(), cst.Integer(str(-v))))
            for v in values]
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
