"""The two ways to fix a layout mismatch, and the rewriting of what depends on a layout.

Default: rewrite the offending ``permute`` (composed with the one that is there) or insert a
``transpose`` at the recurrent call.  ``--batch-first``: switch the module to
``batch_first=True``, drop permutes that become the identity, and rewrite the uses of its
output that depend on which of dims 0 and 1 is the batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst

from rnnshape.fixkit import SAFE, UNSAFE, FixContext, Plan, int_args, layout_call, set_keyword
from rnnshape.shapes.axes import complete, expected_roles, input_roles, layout_conflict
from rnnshape.shapes.dims import FEATURE
from rnnshape.shapes.facts import LayoutOp, LayoutUse, ModuleInfo, RecurrentCall
from rnnshape.syntax import int_value, whole_axis


@dataclass(frozen=True)
class LayoutData:
    """RNN001's finding: the call, the roles its input has, and the roles it needs."""

    call: RecurrentCall
    roles: tuple
    expected: tuple


def offending_op(call: RecurrentCall) -> Optional[LayoutOp]:
    """The layout op that produced the call's input order, when it did so directly."""
    op = call.layout_op
    return op if op is not None and op.after == call.shape else None


def describe_expected(call: RecurrentCall, expected) -> str:
    size = call.module.dim("input_size")
    names = [f"{size}" if r == FEATURE and size.known else r for r in expected]
    return "(" + ", ".join(names) + ")"


def _conflict_perm(call: RecurrentCall, target) -> Optional[tuple[int, ...]]:
    """The permutation of the call's input that gives ``target`` roles, if all roles are known."""
    roles = input_roles(call)
    if roles is None:
        return None
    roles = complete(roles)
    if None in roles or len(set(roles)) != 3:
        return None
    return tuple(roles.index(r) for r in target)


def _op_perm(call: RecurrentCall, target) -> Optional[tuple[int, ...]]:
    """The permutation of the layout op's input that gives ``target`` roles."""
    op = offending_op(call)
    roles = input_roles(call)
    if op is None or roles is None:
        return None
    roles = complete(roles)
    if None in roles:
        return None
    before = [None] * len(op.perm)
    for i, src in enumerate(op.perm):
        before[src] = roles[i]
    if None in before or len(set(before)) != 3:
        return None
    return tuple(before.index(r) for r in target)


def _rewrite_op(op: LayoutOp, perm, fctx: FixContext) -> Optional[dict]:
    """Replace the layout op by one giving ``perm`` of its input (or drop it for identity)."""
    node = op.node
    if not isinstance(node, cst.Call):
        return None
    method = node.func.attr.value if isinstance(node.func, cst.Attribute) else ""
    receiver = op.receiver
    if perm == tuple(range(len(perm))):
        # ``x = x.permute(...)`` that becomes the identity goes away entirely.
        stmt = fctx.statement_of(node)
        if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
            small = stmt.body[0]
            if isinstance(small, cst.Assign) and small.value is node and len(small.targets) == 1 \
                    and fctx.text(small.targets[0].target) == fctx.text(receiver):
                return {stmt: cst.RemovalSentinel.REMOVE}
    return {node: layout_call(receiver, perm, method if method in ("permute", "transpose") else "")}


def _uses_of(fctx: FixContext, module: ModuleInfo, call_node=None) -> list[LayoutUse]:
    """The uses of ``module``'s output (of one call of it), in any file of the run."""
    return [u for u in fctx.facts.layout_uses
            if u.module is module and (call_node is None or u.call is call_node)]


def _here(fctx: FixContext, node) -> bool:
    """Whether ``node`` is in the file being fixed (facts also hold other files' code)."""
    return node in fctx.positions


def _elsewhere(fctx: FixContext, nodes) -> str:
    """The rows of ``nodes`` for a message, and a word for those in other files."""
    here = [n for n in nodes if _here(fctx, n)]
    parts = [fctx.lines_of(here)] if here else []
    if len(here) < len(nodes):
        parts.append("uses in other files")
    return " and ".join(parts)


def default_plan(data: LayoutData, fctx: FixContext) -> Optional[Plan]:
    """Reorder the input (at the layout op that made it, else where it is passed).  Not in a
    loop: the next pass may be fed what this pass made, in the new layout."""
    call, expected = data.call, data.expected
    crash = _crashes(call, data.roles)
    if crash is None:
        return None
    op = offending_op(call)
    if op is not None:
        perm = _op_perm(call, expected)
        if perm is None or fctx.fed_back(op.node, op.receiver):
            return None
        for other in fctx.facts.recurrent_calls:
            if other.layout_op is None or other.layout_op.node is not op.node:
                continue
            wanted = _op_perm(other, expected_roles(bool(other.module.flag("batch_first"))))
            if wanted is not None and wanted != perm:
                return None  # the same op feeds modules that want different orders
        changes = _rewrite_op(op, perm, fctx)
        where = f"`{fctx.text(op.node)}`"
    else:
        perm = _conflict_perm(call, expected)
        if perm is None or not call.node.args or fctx.fed_back(call.node,
                                                                call.node.args[0].value):
            return None
        arg = call.node.args[0].value
        changes = {arg: layout_call(arg, perm)}
        where = f"the input of `{fctx.text(call.node.func)}`"
    if not changes:
        return None
    replacement = next(iter(changes.values()))
    message = _message_of(where, replacement, call, expected, fctx)
    if crash:
        return Plan(SAFE, message, changes)
    if not call.callers_known:
        return Plan(UNSAFE, message + "; the output's layout changes for callers this check "
                                      "cannot see (`fix --batch-first` keeps it)", changes)
    # The output comes out in the module's own layout now: a use that reads one step keeps
    # reading it (rewritten when the code read it at the data's time position); any other use
    # of dims 0/1 may have meant either layout, so a human looks.
    time_at = 1 if call.module.flag("batch_first") else 0
    followed = _follow_uses(_uses_of(fctx, call.module, call.node), fctx, time_at, False, changes)
    if followed is None:
        return None
    rewritten, doubtful = followed
    message += "".join(f"; `{fctx.text(old)}` becomes `{fctx.text(new)}` "
                       f"({fctx.line_of(old)}) so it still reads one time step"
                       for old, new in rewritten)
    if doubtful:
        return Plan(UNSAFE, message + f"; the output's layout changes: check "
                                      f"{_elsewhere(fctx, doubtful)}", changes)
    return Plan(SAFE, message, changes)


def _follow_uses(uses, fctx: FixContext, time_at: int, fallback: bool,
                 changes: dict) -> Optional[tuple[list, list]]:
    """Add the rewrite of each use (see ``rewrite_use``) to ``changes``: (rewritten as
    (old, new) pairs, doubtful nodes), or None when a use is itself being replaced.  A use in
    another file of the run cannot be edited here: it is doubtful."""
    rewritten, doubtful = [], []
    for use in uses:
        new = rewrite_use(use, fctx, time_at, fallback) if _here(fctx, use.node) else None
        if new is None:
            doubtful.append(use.node)
        elif new:
            if use.node in changes:
                return None
            changes[use.node] = new
            rewritten.append((use.node, new))
    return rewritten, doubtful


def _crashes(call: RecurrentCall, roles) -> Optional[bool]:
    """Whether the module cannot run on the call's input as it is (its last dim is not
    input_size, or is a batch or a time while another dim is input_size: nothing downstream
    relied on its output); None when reordering by ``roles`` would not put its
    ``input_size`` last."""
    roles = complete(list(roles))
    size = call.module.dim("input_size")
    if FEATURE not in roles:
        return None
    feature = call.shape.dims[roles.index(FEATURE)]
    crash = call.shape.dims[2].same(size) is False or \
        (roles[2] != FEATURE and feature.same(size) is True)
    if roles.index(FEATURE) != 2 and not _feeds_input_size(feature, size, crash):
        return None
    return crash


def _feeds_input_size(feature, size, crash: bool) -> bool:
    """Whether the dim the fix puts last may be what the module takes: provably its
    ``input_size``, or not provably something else when the module cannot run as it is."""
    same = feature.same(size)
    return same is True or (crash and same is not False)


def _message_of(where: str, replacement, call: RecurrentCall, expected, fctx: FixContext) -> str:
    if replacement is cst.RemovalSentinel.REMOVE:
        return f"remove {where}: the input is already {describe_expected(call, expected)}"
    return (f"replace {where} with `{fctx.text(replacement)}` to get "
            f"{describe_expected(call, expected)}")


def batch_first_plan(module: ModuleInfo, fctx: FixContext) -> Optional[Plan]:
    """Switch ``module`` to ``batch_first=True`` and rewrite what depends on its layout."""
    if module.node is None or any(a.star for a in module.node.args):
        return None
    changes = {module.node: set_keyword(module.node, "batch_first", cst.Name("True"))}
    if not _reorder_inputs(module, fctx, changes):
        return None
    followed = _follow_uses(_uses_of(fctx, module), fctx, 1, True, changes)
    if followed is None:
        return None
    doubtful = followed[1]
    message = (f"set `batch_first=True` on `{module.label or module.kind}` and feed it "
               f"(batch, time, feature)")
    if doubtful:
        return Plan(UNSAFE, message + f"; check {_elsewhere(fctx, doubtful)}, which depend on "
                                      f"the output layout", changes)
    return Plan(SAFE, message, changes)


def _reorder_inputs(module: ModuleInfo, fctx: FixContext, changes: dict) -> bool:
    """Make every input of ``module`` batch-first; False when one cannot be."""
    target = expected_roles(True)
    for call in fctx.facts.recurrent_calls:
        if call.module is not module:
            continue
        if not _here(fctx, call.node):
            return False  # fed from another file: that file's input would have to change too
        conflict = layout_conflict(call)
        if conflict is not None and _crashes(call, conflict[0]) is None:
            return False  # reordering would not put input_size last
        op = offending_op(call)
        if op is not None:
            perm = _op_perm(call, target)
            if perm is None:
                return False
            if op.node not in changes:
                changes.update(_rewrite_op(op, perm, fctx) or {})
        else:
            perm = _conflict_perm(call, target)
            if perm is None or not call.node.args:
                return False
            if perm != (0, 1, 2):
                arg = call.node.args[0].value
                changes[arg] = layout_call(arg, perm)
    return True


def rewrite_use(use: LayoutUse, fctx: FixContext, time_at: int, fallback: bool):
    """New node for a use of a recurrent output once its time axis is ``time_at`` (0 or 1);
    {} when unchanged; None when unsure.

    One reading serves both strategies, so that they give the same program: an index that
    picks one position of dim 0 or 1 and all of the other (``out[-1]``, ``out[:, -1, :]``)
    reads one time step, whichever layout the code had in mind, and keeps reading it.  Any
    other use is read against the module's declared (seq-first) layout when ``fallback``
    (``--batch-first`` then swaps it), and is unsure otherwise."""
    node, dims = use.node, use.shape.dims
    if use.kind == "index" and isinstance(node, cst.Subscript):
        pick = step_pick(node)
        if pick is not None:
            return {} if pick == time_at else swap_index(node)
        return swap_index(node) if fallback else None
    if use.kind == "flatten":
        if dims is not None and len(dims) >= 2 and (dims[0].value == 1 or dims[1].value == 1):
            return {}  # with a batch (or a sequence) of one both orders flatten alike
        return None
    if not fallback:
        return None
    if use.kind in ("permute", "transpose") and isinstance(node, cst.Call) and \
            isinstance(node.func, cst.Attribute) and dims is not None:
        perm = _literal_perm(node, len(dims), use.kind)
        if perm is None:
            return None
        swap = list(range(len(dims)))
        swap[0], swap[1] = 1, 0
        new = tuple(swap[p] for p in perm)
        if new == tuple(range(len(new))):
            return node.func.value
        return layout_call(node.func.value, new, node.func.attr.value)
    if use.kind == "size" and isinstance(node, cst.Call) and node.args:
        value = int_value(node.args[0].value)
        if value is None:
            return None
        swapped = {0: 1, 1: 0, -3: -2, -2: -3}.get(value)
        if swapped is None:
            return {}
        return node.with_changes(args=[node.args[0].with_changes(value=int_args([swapped])[0].value)])
    return None


def step_pick(node: cst.Subscript) -> Optional[int]:
    """0 or 1: the dim that ``node`` picks one integer position of while taking all of the
    other one; None for any other index."""
    elements = list(node.slice)
    if not elements or not all(isinstance(e.slice, cst.Index) or whole_axis(e)
                               for e in elements[:2]):
        return None
    firsts = elements[:2] + [None] * (2 - len(elements[:2]))
    picks = [i for i, e in enumerate(firsts)
             if e is not None and isinstance(e.slice, cst.Index)
             and int_value(e.slice.value) is not None]
    wholes = [i for i, e in enumerate(firsts) if e is None or whole_axis(e)]
    return picks[0] if len(picks) == 1 and len(wholes) == 1 else None


def swap_index(node: cst.Subscript) -> Optional[cst.Subscript]:
    """``out[-1]`` -> ``out[:, -1]``: the first two index positions exchanged."""
    elements = list(node.slice)
    if any(isinstance(e.slice, cst.Index) and (
            isinstance(e.slice.value, cst.Ellipsis) or
            (isinstance(e.slice.value, cst.Name) and e.slice.value.value == "None"))
            for e in elements):
        return None
    full = cst.SubscriptElement(cst.Slice(lower=None, upper=None))
    while len(elements) < 2:
        elements.append(full)
    first, second = elements[0], elements[1]
    elements[0] = second.with_changes(comma=first.comma)
    elements[1] = first.with_changes(comma=second.comma)
    # ``out[-1, :]`` reads better as ``out[-1]``: drop trailing full slices.
    while len(elements) > 1 and whole_axis(elements[-1]):
        elements.pop()
    elements[-1] = elements[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    for i in range(len(elements) - 1):
        if elements[i].comma is cst.MaybeSentinel.DEFAULT:
            elements[i] = elements[i].with_changes(
                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    return node.with_changes(slice=elements)


def _literal_perm(node: cst.Call, rank: int, kind: str):
    values = [int_value(a.value) for a in node.args]
    if None in values:
        return None
    values = [v % rank for v in values]
    if kind == "permute":
        return tuple(values) if sorted(values) == list(range(rank)) else None
    if len(values) != 2:
        return None
    perm = list(range(rank))
    perm[values[0]], perm[values[1]] = perm[values[1]], perm[values[0]]
    return tuple(perm)


def fix_layout(data: LayoutData, fctx: FixContext) -> Optional[Plan]:
    if fctx.options.batch_first and data.call.module.flag("batch_first") is False:
        plan = batch_first_plan(data.call.module, fctx)
        if plan is not None:
            return plan
    return default_plan(data, fctx)
