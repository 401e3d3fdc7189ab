"""The fix engine: a rule's plan for a finding, plans chosen without overlap, applied as
LibCST node replacements, and the exact edits a report shows.

The loop that applies, re-checks and repeats until the file is stable lives in ``api``: this
module only knows plans and trees.  Plans whose nodes overlap an already chosen plan wait for
the next round, where the file is analysed afresh; this is what makes combined fixes (a
permute inside a region that is also wrapped in ``no_grad``) come out right.
"""
from __future__ import annotations

import ast
import difflib
from collections import Counter
from typing import Optional

import libcst as cst

from rnnshape.diagnostic import Edit, Fix
from rnnshape.fixkit import FixContext, Plan
from rnnshape.rules import REGISTRY, Finding


class RuleFailure(Exception):
    """A rule's own code raised: an internal error of rnnshape, named with the rule."""

    def __init__(self, code: str, phase: str, error: BaseException):
        rule = REGISTRY.get(code)
        name = f"{code} ({rule.name})" if rule is not None else code
        self.code = code
        super().__init__(f"internal error in rule {name} while {phase}: "
                         f"{type(error).__name__}: {error}")


def plan_for(finding: Finding, fctx: FixContext) -> Optional[Plan]:
    """The rule's plan for ``finding``; RuleFailure when the rule's fix raises."""
    try:
        plan = REGISTRY[finding.code].fix(finding, fctx)
    except (RecursionError, MemoryError):
        raise  # the per-file guard reports these with the limit to raise
    except Exception as exc:
        raise RuleFailure(finding.code, "fixing", exc) from exc
    return plan if plan is not None and plan.changes else None


def span(positions, node) -> tuple[tuple[int, int], tuple[int, int]]:
    rng = positions[node]
    return (rng.start.line, rng.start.column), (rng.end.line, rng.end.column)


def _overlaps(a, b) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def choose(plans: list[tuple[Finding, Plan]], positions) -> tuple[dict, Counter]:
    """Non-overlapping plans for this round, in file order."""
    taken: list[tuple] = []
    changes: dict = {}
    applied: Counter = Counter()
    for finding, plan in plans:
        spans = [span(positions, node) for node in plan.changes]
        if any(_overlaps(s, t) for s in spans for t in taken):
            continue
        if any(n in changes for n in plan.changes):
            continue
        taken.extend(spans)
        changes.update(plan.changes)
        applied[finding.code] += 1
    return changes, applied


class _Replace(cst.CSTTransformer):
    def __init__(self, changes: dict):
        self.changes = changes

    def on_leave(self, original, updated):
        if original in self.changes:
            return self.changes[original]
        return updated


def apply_changes(module: cst.Module, changes: dict) -> cst.Module:
    return module.visit(_Replace(changes))


def as_fix(plan: Plan, fctx: FixContext, text: str, with_edits: bool = True) -> Optional[Fix]:
    """The fix shown with a diagnostic: its applicability, message and exact edits."""
    if not with_edits:
        return Fix(plan.applicability, plan.message, ())
    edits = _expression_edits(plan.changes, fctx)
    if edits is None:
        # Statements moved, added or removed: let LibCST lay them out, then diff.
        new = apply_changes(fctx.module, plan.changes).code
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
