#!/usr/bin/env python3
"""Recall on real code: put one known bug at a time into the corpus and count how many of the
mutants rnnshape reports.

    python bench/mutations.py [--cache DIR] [--group script|library] [--operator NAME]
    python bench/mutations.py FILE...      # the same mutations on given files (e.g. examples/)

The corpus (bench/corpus.py, same pinned projects and cache) has only correct recurrent code,
so its findings say nothing about recall.  Here every *site* an operator applies to gets one
mutant: a copy of the file with that one edit and nothing else changed (a mutant that no longer
parses is skipped).  Operators:

``flip-batch-first``
    Each recurrent module (RNN/LSTM/GRU, not the cells) that the tracker feeds an input of
    rank 3 gets its ``batch_first`` flipped (added as ``batch_first=True``, or an existing
    ``True`` set to ``False``).  The input keeps its layout, so the module reads batch as time
    and time as batch: the bug the project exists to catch.
``drop-transpose``
    A recurrent call whose input comes from a ``permute``/``transpose`` (the tracker's layout
    op) loses it: the layout call is replaced by its receiver (``x.transpose(0, 1)`` -> ``x``),
    and a trailing comment on its line, which states the op's result, goes with it.
``halve-bidirectional-head``
    A Linear fed by a bidirectional module's output, with ``in_features`` twice the hidden size
    (provably, or written as ``2 * h``, ``h * 2``, ``h * num_directions``), gets the hidden size
    instead: ``2 * h`` -> ``h``, otherwise the text of the module's ``hidden_size`` argument.
``drop-no-grad``
    In a file that calls ``.eval()``, each ``with torch.no_grad():`` (or ``inference_mode()``)
    block is replaced by its body, dedented into the enclosing block, and each
    ``@torch.no_grad()`` decorator is removed.  (Files without recurrent code count here too:
    RNN101 is checked on any file that calls ``.eval()``.)

A mutant is *detected* when ``check`` reports a finding of the operator's family that the
original file did not have (per code, more findings than before): RNN0xx for the shape
operators, RNN1xx for ``drop-no-grad``.  A file already wrong in the same way shows nothing new.

A mutant is *judgeable* when the file itself holds what proves the bug:

- flip-batch-first: some call of the module has an input of rank 3 whose dims 0 and 1 are not
  provably equal, one of them with a batch or time role.  ``torch.ones(2, 3, 4)`` says neither:
  read either way it is a valid input, and the flip changes no shape downstream (a silent swap),
  so no static tool can call it wrong.
- drop-transpose: the module provably misreads the tensor it now gets (the layout op's input,
  plus any dims added after it, such as an embedding's): at some position a dim not provably
  equal to the one there before has a batch, time or feature role other than the one the
  module reads there (from ``batch_first``; when that is unknown, the roles of the original
  input), or its last dim provably differs from ``input_size``.  For a swap of dims 0 and 1
  this is the flip test.
- halve-bidirectional-head: the Linear's ``in_features`` and the module's ``hidden_size`` are
  known dims (numbers or symbols).
- drop-no-grad (an approximation): the block (or decorated function) calls ``R(...)`` or
  ``R.forward(...)`` where ``R.eval()`` is called somewhere in the file (same receiver text),
  and no enclosing ``with``/decorator of the same function still disables gradients.
- For every operator: the original has no finding of the family at the site already (the
  module's, call's, layout op's or Linear's line; for drop-no-grad an RNN101 on the same
  receiver).  Where it has, the site is wrong before the edit and the mutant puts in no new bug
  (flipping ``batch_first`` at a reported batch/time swap fixes it): cause "already reported
  before mutation", not judgeable.

*Evidence* (flip and drop-transpose): some dim of the call's input has a role learnt from the
code's own statements about it (``Dim.origin`` starting with "shape unpacking", "size read",
"comment", "docstring", "annotation" or "the initial state"; see rnnshape/shapes/evidence.py and
the recurrent ops).  The totals give the recall over the judgeable mutants at such sites too.

An undetected mutant gets a *cause*, the first that applies, computed from the facts of the
original file and of the mutant:

- "input not shaped": the input (or, for drop-transpose, the tensor the module would get) is
  not of rank 3.
- "dims 0 and 1 equal" (flip) / "moved dims equal" (drop-transpose): the dims that change
  places are provably equal.
- "no batch/time role" (flip): neither dim 0 nor dim 1 has a batch or time role;
  "no conflicting role" (drop-transpose): no moved dim has a role the module reads otherwise,
  and the feature size does not provably change.
- "sizes not known": in_features or hidden_size is not a known dim (halve-head).
- "no eval call in block": the block calls no model that the file switches to eval mode.
- "nested in another no_grad": an enclosing block or decorator still disables gradients.
- "check failed": rnnshape raised, or one of its rules failed, on the mutant.
- "tracker truncated": the tracker stopped early on the original or the mutant.
- "module not reached after mutation": the mutant has no call of the module with an input of
  rank 3 (flip, drop-transpose); "roles lost after mutation": it has, but the mutant's own
  facts no longer show the misreading (e.g. a shape comment elsewhere now contradicts the
  code, and the tracker drops the roles it gave; a trailing comment on the layout op's own
  line is removed with the op).
- "head not traced after mutation": no Linear at that line is fed by a recurrent output in
  the mutant; "head input size unknown": it is, but the last dim of its input is unknown;
  "in_features unknown after mutation": the new ``in_features`` is not a known dim there.
- "no eval region": the tracker records no ``.eval()`` region for the receiver (code it never
  runs); "region has backward": the region also calls ``backward()`` (a training step, not an
  evaluation); "model call not reached": the region exists but no call of the model is
  recorded in it outside no_grad; "standalone helper": the region is in code nothing in the file
  calls and calls the model once (RNN101 leaves that to the caller); "no_grad elsewhere": the
  region runs under no_grad from some caller too.
- "other": none of these (worth a look).

Prints one row per mutant (operator, file, line, the site, judgeable, evidence, detected, the
new codes, the cause), then totals per operator.  Nothing is written; the corpus must have been
fetched by corpus.py.
"""
from __future__ import annotations

import argparse
import ast
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import corpus  # noqa: E402  (the pinned projects, their cache and notebook handling)

KINDS = {"RNN", "LSTM", "GRU"}
ROLES = {"batch", "time"}
EVIDENCE = ("shape unpacking", "size read", "comment", "docstring", "annotation",
            "the initial state")
NO_GRAD_NAMES = {"no_grad", "inference_mode"}

FLIP, TRANSPOSE, HEAD, NO_GRAD = ("flip-batch-first", "drop-transpose",
                                  "halve-bidirectional-head", "drop-no-grad")
OPERATORS = (FLIP, TRANSPOSE, HEAD, NO_GRAD)
FAMILY = {FLIP: "RNN0", TRANSPOSE: "RNN0", HEAD: "RNN0", NO_GRAD: "RNN1"}
EVIDENCE_OPERATORS = (FLIP, TRANSPOSE)


@dataclass
class Mutant:
    operator: str
    line: int
    site: str  # what was changed, for the table
    judgeable: bool
    evidence: Optional[bool]  # None: the operator has no notion of role evidence
    mutated: str
    reason: str = ""  # why not judgeable: the cause if it goes undetected
    lines: set = field(default_factory=set)  # rows of the site ("already reported")
    receivers: set = field(default_factory=set)  # drop-no-grad: the eval'd models it calls
    # After the mutant was checked: a cause read from the mutant's analysis, or "".
    after: Optional[Callable] = None


@dataclass
class Checked:
    """One file checked as ``check`` would: its analysis and its findings per code."""

    analysis: object
    codes: Counter
    rows: dict  # code -> set of rows

    def family(self, prefix: str) -> Counter:
        return Counter({c: n for c, n in self.codes.items() if c.startswith(prefix)})


def check_text(text: str) -> Checked:
    """Findings as ``check`` reports them (one per code and position); raises like check_source
    when a rule's own code failed."""
    from rnnshape.api import analyze
    from rnnshape.diagnostic import FileError
    analysis = analyze(text, "m.py")
    codes, rows, seen = Counter(), {}, set()
    if analysis is not None:
        if analysis.errors:
            raise FileError("m.py", analysis.errors[0])
        for finding in analysis.findings:
            start = analysis.positions[finding.anchor or finding.node].start
            key = (finding.code, start.line, start.column)
            if key not in seen:
                seen.add(key)
                codes[finding.code] += 1
                rows.setdefault(finding.code, set()).add(start.line)
    return Checked(analysis, codes, rows)


# ------------------------------------------------------------------------------ helpers
def parses(text: str) -> bool:
    try:
        compile(text, "m.py", "exec", ast.PyCF_ONLY_AST)
        return True
    except (SyntaxError, ValueError):
        return False


def parents(module) -> dict:
    """id(node) -> parent node, for the whole tree."""
    out, stack = {}, [module]
    while stack:
        node = stack.pop()
        for child in node.children:
            out[id(child)] = node
            stack.append(child)
    return out


def walk(node):
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children)


def has_evidence(shape) -> bool:
    dims = getattr(shape, "dims", None) or ()
    dims = tuple(dims) + tuple(getattr(shape, "front", ()) or ())
    return any((d.origin or "").startswith(EVIDENCE) for d in dims)


def swap_visible(shape) -> Optional[str]:
    """None when dims 0 and 1 of a rank-3 input may differ and one has a batch/time role;
    else the reason they cannot show a swap."""
    dims = getattr(shape, "dims", None)
    if dims is None or len(dims) != 3:
        return "input not shaped"
    if dims[0].same(dims[1]) is True:
        return "dims 0 and 1 equal"
    if not {dims[0].role, dims[1].role} & ROLES:
        return "no batch/time role"
    return None


def first_reason(reasons: list) -> str:
    order = ("no batch/time role", "no conflicting role", "dims 0 and 1 equal",
             "moved dims equal", "input not shaped")
    return next((r for r in order if r in reasons), reasons[0] if reasons else "other")


def line_of(analysis, node) -> int:
    return analysis.positions[node].start.line


def shaped_calls_at(analysis, line: int) -> list:
    """The mutant's shaped calls of the recurrent module constructed at ``line``."""
    import libcst
    if analysis is None:
        return []
    return [c for c in analysis.facts.recurrent_calls
            if isinstance(getattr(c.module, "node", None), libcst.Call)
            and analysis.unit.holds(c.module.node) and line_of(analysis, c.module.node) == line
            and getattr(c.shape, "dims", None) is not None]


# ------------------------------------------------------------------------------ flip
def flipped(call):
    """The constructor call with its batch_first flipped."""
    import libcst

    from rnnshape.fixkit import set_keyword
    current = next((arg.value for arg in call.args
                    if arg.keyword is not None and arg.keyword.value == "batch_first"), None)
    value = "False" if getattr(current, "value", None) == "True" else "True"
    return set_keyword(call, "batch_first", libcst.Name(value))


def flip_mutants(analysis, text: str, tree: dict):
    import libcst
    shaped: dict[int, list] = {}
    for call in analysis.facts.recurrent_calls:
        node = getattr(call.module, "node", None)
        if call.module.kind in KINDS and isinstance(node, libcst.Call) and \
                analysis.unit.holds(node) and \
                getattr(call.shape, "dims", None) is not None and len(call.shape.dims) == 3:
            shaped.setdefault(id(node), [node, []])[1].append(call)
    for node, calls in shaped.values():
        # The module reads dims 0 and 1 the other way round: a provable bug only when they
        # may differ and the file gave one of them a batch or time role.
        reasons = [swap_visible(c.shape) for c in calls]
        visible = [c for c, r in zip(calls, reasons) if r is None]
        row = line_of(analysis, node)
        lines = {row} | {line_of(analysis, n) for c in calls
                         for n in (c.node, getattr(c.layout_op, "node", None))
                         if n is not None and analysis.unit.holds(n)}
        dims = calls[0].shape.dims
        yield Mutant(FLIP, row, "(" + ", ".join(str(d) for d in dims) + ")", bool(visible),
                     any(has_evidence(c.shape) for c in (visible or calls)),
                     analysis.module.deep_replace(node, flipped(node)).code,
                     "" if visible else first_reason(reasons), lines,
                     after=lambda mutant, row=row: misread_after(mutant, {row}))


def misread_after(mutant, rows) -> str:
    """Why the mutant's facts show no misreading by the modules built on ``rows``, or ""."""
    shaped = [c for r in rows for c in shaped_calls_at(mutant, r) if len(c.shape.dims) == 3]
    if not shaped:
        return "module not reached after mutation"
    if not any(misread(c.module, c.shape.dims, expected_roles(c.module, c.shape))
               for c in shaped):
        return "roles lost after mutation"
    return ""


# ------------------------------------------------------------------------------ drop-transpose
def expected_roles(module, shape) -> tuple:
    """The role the module reads at each input position: from ``batch_first`` when it is known
    (absent means False), else the roles the correct original input has."""
    first = module.flag("batch_first")
    if first is None and "batch_first" not in module.cfg:
        first = False
    if first is True:
        return ("batch", "time", "feature")
    if first is False:
        return ("time", "batch", "feature")
    return tuple(d.role for d in shape.dims)


def mutated_input(call) -> Optional[tuple]:
    """The dims the module gets once the call's layout op is gone: the op's input, followed by
    the dims added after it (an embedding's feature); None when that cannot be said."""
    dims = getattr(call.shape, "dims", None)
    before = getattr(call.layout_op.before, "dims", None)
    if dims is None or before is None or len(before) > len(dims):
        return None
    return tuple(before) + tuple(dims[len(before):])


def misread(module, given: tuple, expected: tuple, moved=None) -> bool:
    """The module provably misreads ``given``: a dim with a role at a position where the module
    reads another role (only positions whose dim may differ from ``moved``, the dims there
    before the mutation), or a last dim that provably is not ``input_size``."""
    for p, dim in enumerate(given):
        if dim.role in ROLES | {"feature"} and expected[p] is not None and \
                dim.role != expected[p] and \
                (moved is None or dim.same(moved[p]) is not True):
            return True
    return module.dim("input_size").same(given[-1]) is False


def transpose_reason(call) -> Optional[str]:
    """None when dropping the call's layout op is provable from the file; else why not."""
    dims = getattr(call.shape, "dims", None)
    given = mutated_input(call)
    if dims is None or len(dims) != 3 or given is None or len(given) != 3:
        return "input not shaped"
    if all(g.same(d) is True for g, d in zip(given, dims)):
        return "moved dims equal"
    if misread(call.module, given, expected_roles(call.module, call.shape), dims):
        return None
    return "no conflicting role"


def transpose_mutants(analysis, text: str, tree: dict):
    ops: dict[int, list] = {}
    for call in analysis.facts.recurrent_calls:
        op = call.layout_op
        if op is None or call.module.kind not in KINDS or not analysis.unit.holds(op.node) \
                or not analysis.unit.holds(op.receiver):
            continue
        ops.setdefault(id(op.node), [op, []])[1].append(call)
    for op, calls in ops.values():
        reasons = [transpose_reason(c) for c in calls]
        visible = [c for c, r in zip(calls, reasons) if r is None]
        module_nodes = [c.module.node for c in calls
                        if c.module.node is not None and analysis.unit.holds(c.module.node)]
        module_rows = {line_of(analysis, n) for n in module_nodes}
        row = line_of(analysis, op.node)
        lines = {row} | module_rows | {line_of(analysis, c.node) for c in calls
                                       if analysis.unit.holds(c.node)}
        code = analysis.module.code_for_node(op.node)
        site = code if len(code) <= 40 else code[:37] + "..."
        yield Mutant(TRANSPOSE, row, site.replace("|", "\\|"), bool(visible),
                     any(has_evidence(c.shape) or has_evidence(c.layout_op.before)
                         for c in (visible or calls)),
                     without_op(analysis.module, op, tree),
                     "" if visible else first_reason(reasons), lines,
                     after=lambda mutant, rows=module_rows: misread_after(mutant, rows))


def without_op(module, op, tree: dict) -> str:
    """The file with the layout op replaced by its receiver.  A trailing comment on the op's
    line describes the op's result (``X = X.transpose(0, 1)  # X: [n_step, batch, n_class]``):
    it goes with the op, as code written without the op would not claim that layout (left, it
    contradicts the data, and rnnshape treats self-contradicting evidence as unknown)."""
    import libcst
    line = tree.get(id(op.node))
    while line is not None and not isinstance(line, libcst.SimpleStatementLine):
        line = tree.get(id(line))
    if line is None or line.trailing_whitespace.comment is None:
        return module.deep_replace(op.node, op.receiver).code
    new_line = line.deep_replace(op.node, op.receiver).with_changes(
        trailing_whitespace=libcst.TrailingWhitespace())
    return module.deep_replace(line, new_line).code


# ------------------------------------------------------------------------------ halve-head
def _doubling_operand(node):
    """``2 * h`` / ``h * 2`` / ``h * num_directions``: the ``h``; else None."""
    import libcst
    if not isinstance(node, libcst.BinaryOperation) or not isinstance(node.operator,
                                                                      libcst.Multiply):
        return None
    for factor, other in ((node.left, node.right), (node.right, node.left)):
        if isinstance(factor, libcst.Integer) and factor.value == "2":
            return other
        text = libcst.Module([]).code_for_node(factor).lower()
        if "direction" in text or "bidir" in text:
            return other
    return None


def enclosing_function(node, tree: dict):
    import libcst
    parent = tree.get(id(node))
    while parent is not None and not isinstance(parent, libcst.FunctionDef):
        parent = tree.get(id(parent))
    return parent


def head_mutants(analysis, text: str, tree: dict):
    import libcst

    from rnnshape.syntax import argument
    from rnnshape.shapes.dims import Dim
    heads: dict[int, list] = {}  # one Linear may be fed in several runs, with other sizes
    for call in analysis.facts.layer_calls:
        ctor, rnn = call.layer.node, call.source.node
        if isinstance(ctor, libcst.Call) and isinstance(rnn, libcst.Call) and \
                call.layer.kind == "Linear" and analysis.unit.holds(ctor) and \
                analysis.unit.holds(rnn):
            heads.setdefault(id(ctor), [ctor, []])[1].append(call)
    for ctor, calls in heads.values():
        calls = [c for c in calls if c.source.directions == 2 and not _projects(c.source, Dim)]
        if not calls or len({id(c.source.node) for c in calls}) != 1:
            continue  # not bidirectional, projected, or fed by two modules
        rnn = calls[0].source.node
        arg = argument(ctor, 0, "in_features")
        hidden_arg = argument(rnn, 1, "hidden_size")
        if arg is None or hidden_arg is None:
            continue
        sizes = [(c.layer.dim("in_features"), c.source.dim("hidden_size")) for c in calls]
        twice = [i.same(h * Dim.const(2)) for i, h in sizes]
        operand = _doubling_operand(arg)
        if False in twice or (True not in twice and operand is None) or \
                any(i.same(h) is True for i, h in sizes):
            continue
        known = [(i, h) for i, h in sizes if i.known and h.known]
        hidden = (known or sizes)[0][1]
        if operand is not None:
            new = operand
        elif isinstance(hidden_arg, libcst.Integer) or \
                enclosing_function(ctor, tree) is enclosing_function(rnn, tree) or \
                hidden.value is None:
            new = hidden_arg
        else:  # the module's expression may mean nothing where the Linear is built
            new = libcst.Integer(str(hidden.value))
        mutated = analysis.module.deep_replace(arg, new).code
        row = line_of(analysis, ctor)
        old_text, new_text = (analysis.module.code_for_node(n) for n in (arg, new))
        lines = {row} | {line_of(analysis, c.node) for c in calls if analysis.unit.holds(c.node)}

        def after(mutant, row=row):
            heads = [c for c in (mutant.facts.layer_calls if mutant is not None else [])
                     if isinstance(c.layer.node, libcst.Call) and mutant.unit.holds(c.layer.node)
                     and line_of(mutant, c.layer.node) == row]
            if not heads:
                return "head not traced after mutation"
            if all(c.shape.last_dim is None or not c.shape.last_dim.known for c in heads):
                return "head input size unknown"
            if all(not c.layer.dim("in_features").known for c in heads):
                return "in_features unknown after mutation"
            return ""
        yield Mutant(HEAD, row, f"{old_text} -> {new_text}".replace("|", "\\|"), bool(known),
                     None, mutated, "" if known else "sizes not known", lines, after=after)


def _projects(source, Dim) -> bool:
    """An LSTM whose output may be ``proj_size`` wide rather than ``hidden_size``."""
    proj = source.cfg.get("proj_size")
    return source.kind == "LSTM" and proj is not None and \
        (not isinstance(proj, Dim) or proj.value is None or proj.value > 0)


# ------------------------------------------------------------------------------ drop-no-grad
def _dotted(node) -> Optional[str]:
    import libcst
    if isinstance(node, libcst.Name):
        return node.value
    if isinstance(node, libcst.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr.value}"
    return None


def is_no_grad(expr) -> bool:
    """``torch.no_grad()``, ``no_grad()``, ``torch.inference_mode()`` (also undecorated by a
    call, as a decorator may be written)."""
    import libcst
    if isinstance(expr, libcst.Call):
        if expr.args:
            return False
        expr = expr.func
    name = _dotted(expr)
    return name is not None and name.rpartition(".")[2] in NO_GRAD_NAMES and \
        (name.count(".") == 0 or name.startswith("torch."))


def unwrapped(with_node):
    """The statements that replace a ``with`` block: its body, or the ``with`` without its
    no_grad item when it has others."""
    import libcst
    items = [i for i in with_node.items if not is_no_grad(i.item)]
    if items:
        items[-1] = items[-1].with_changes(comma=libcst.MaybeSentinel.DEFAULT)
        return with_node.with_changes(items=items)
    body = with_node.body
    if isinstance(body, libcst.SimpleStatementSuite):
        stmts = [libcst.SimpleStatementLine(body=body.body)]
    else:
        stmts = list(body.body)
    stmts[0] = stmts[0].with_changes(leading_lines=list(with_node.leading_lines) +
                                     list(stmts[0].leading_lines))
    return libcst.FlattenSentinel(stmts)


def eval_receivers(module) -> set:
    import libcst
    out = set()
    for node in walk(module):
        if isinstance(node, libcst.Call) and not node.args and \
                isinstance(node.func, libcst.Attribute) and node.func.attr.value == "eval":
            out.add(module.code_for_node(node.func.value))
    return out


def called_receivers(module, block, receivers: set) -> set:
    """Which of ``receivers`` the block calls (``R(...)`` or ``R.forward(...)``)."""
    import libcst
    out = set()
    for node in walk(block):
        if isinstance(node, libcst.Call):
            func = node.func
            if isinstance(func, libcst.Attribute) and func.attr.value == "forward":
                func = func.value
            text = module.code_for_node(func)
            if text in receivers:
                out.add(text)
    return out


def still_no_grad(node, tree: dict) -> bool:
    """An enclosing ``with`` or decorator of the same function still disables gradients."""
    import libcst
    parent = tree.get(id(node))
    while parent is not None:
        if isinstance(parent, libcst.With) and any(is_no_grad(i.item) for i in parent.items):
            return True
        if isinstance(parent, libcst.FunctionDef):
            return any(is_no_grad(d.decorator) for d in parent.decorators if d is not node)
        parent = tree.get(id(parent))
    return False


def no_grad_mutants(analysis, text: str, tree: dict):
    import libcst
    module = analysis.module
    receivers = eval_receivers(module)
    if not receivers:
        return
    sites = []
    for node in walk(module):
        if isinstance(node, libcst.With) and any(is_no_grad(i.item) for i in node.items):
            sites.append((node, node.body, "with", unwrapped(node), node))
        elif isinstance(node, libcst.FunctionDef):
            for deco in node.decorators:
                if is_no_grad(deco.decorator):
                    new = node.with_changes(
                        decorators=[d for d in node.decorators if d is not deco])
                    sites.append((deco, node.body, "@" + module.code_for_node(deco.decorator),
                                  new, node))
    for site, block, label, replacement, target in sites:
        called = called_receivers(module, block, receivers)
        nested = still_no_grad(site, tree)
        reason = "nested in another no_grad" if nested else \
            "" if called else "no eval call in block"
        row = line_of(analysis, site)
        mutated = module.deep_replace(target, replacement).code

        def after(mutant, called=called):
            regions = [r for r in (mutant.facts.eval_regions if mutant is not None else [])
                       if r.receiver in called]
            if not regions:
                return "no eval region"
            if all(r.has_backward for r in regions):
                return "region has backward"
            regions = [r for r in regions if not r.has_backward]
            if all(r.first_call is None for r in regions):
                return "model call not reached"
            regions = [r for r in regions if r.first_call is not None]
            if all(r.standalone and not r.repeated for r in regions):
                return "standalone helper"
            facts = mutant.facts
            if all(id(r.eval_node) in facts.no_grad_sites or
                   (r.function is not None and r.function in facts.no_grad_methods)
                   for r in regions):
                return "no_grad elsewhere"
            return ""
        yield Mutant(NO_GRAD, row, label.replace("|", "\\|"), not reason, None, mutated, reason,
                     {row}, called, after=after)


MUTANTS = {FLIP: flip_mutants, TRANSPOSE: transpose_mutants, HEAD: head_mutants,
           NO_GRAD: no_grad_mutants}


def mutants(text: str, operators=OPERATORS, original: Optional[Checked] = None):
    """The mutants of one file's text, for the operators given."""
    if original is None:
        original = check_text(text)
    analysis = original.analysis
    if analysis is None:
        return
    tree = parents(analysis.module)
    for operator in operators:
        for mutant in sorted(MUTANTS[operator](analysis, text, tree), key=lambda m: m.line):
            if mutant.mutated != text and parses(mutant.mutated):
                yield mutant


# ------------------------------------------------------------------------------ judging
def already_reported(mutant: Mutant, original: Checked) -> bool:
    """The original already has a finding of the family at the site: it is wrong there, so the
    mutant puts in no new bug (flipping ``batch_first`` at a reported swap fixes it)."""
    if mutant.operator == NO_GRAD:
        return any(f.code == "RNN101" and getattr(f.data, "receiver", None) in mutant.receivers
                   for f in original.analysis.findings)
    prefix = FAMILY[mutant.operator]
    return any(code.startswith(prefix) and rows & mutant.lines
               for code, rows in original.rows.items())


def cause_of(mutant: Mutant, original: Checked, after: Optional[Checked], failed: bool) -> str:
    if not mutant.judgeable:
        return mutant.reason
    if failed:
        return "check failed"
    if original.analysis.facts.truncated or (after.analysis is not None and
                                              after.analysis.facts.truncated):
        return "tracker truncated"
    return (mutant.after(after.analysis) if mutant.after else "") or "other"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=corpus.DEFAULT_CACHE)
    parser.add_argument("--group", choices=("library", "script"))
    parser.add_argument("--operator", choices=OPERATORS, action="append",
                        help="run only this operator (repeatable)")
    parser.add_argument("files", nargs="*", type=Path, help="mutate these instead of the corpus")
    args = parser.parse_args(argv)
    operators = tuple(args.operator) if args.operator else OPERATORS

    cache = args.cache.expanduser().resolve()
    totals = {op: Counter() for op in operators}
    causes = {op: Counter() for op in operators}
    print("| operator | file | line | site | judgeable | evidence | detected | new codes | cause |")
    print("|---|---|---|---|---|---|---|---|---|")
    sources = [("", path.parent, [path]) for path in args.files]
    if not args.files:
        sources = [(f"{p.name}/", root, corpus.python_files(root)) for p in corpus.PROJECTS
                   if not args.group or p.group == args.group
                   for root in [corpus.fetch(p, cache)]]
    wanted = tuple(KINDS) if operators != (NO_GRAD,) else ()
    if NO_GRAD in operators:
        wanted += (".eval(",)
    for prefix, root, paths in sources:
        if prefix:
            print(f"{prefix} ...", file=sys.stderr, flush=True)
        for path in paths:
            text = path.read_text(encoding="utf-8", errors="replace")
            if not any(word in text for word in wanted):
                continue
            text = corpus.program_text(path, text)
            rel = f"{prefix}{path.relative_to(root).as_posix()}"
            try:
                original = check_text(text)
                found = list(mutants(text, operators, original))
            except Exception as exc:  # a file the tracker cannot take is not a mutant
                print(f"skipped {rel}: {exc}", file=sys.stderr)
                continue
            for mutant in found:
                op = mutant.operator
                if mutant.judgeable and already_reported(mutant, original):
                    mutant.judgeable, mutant.reason = False, "already reported before mutation"
                family = FAMILY[op]
                try:
                    after = check_text(mutant.mutated)
                    failed = False
                    new = after.family(family) - original.family(family)
                except Exception as exc:
                    print(f"check failed on a mutant of {rel}:{mutant.line} ({op}): {exc}",
                          file=sys.stderr)
                    after, failed, new = None, True, Counter()
                detected = bool(new)
                cause = "" if detected else cause_of(mutant, original, after, failed)
                t = totals[op]
                t["mutants"] += 1
                t["judgeable"] += mutant.judgeable
                t["detected"] += detected
                t["detected_judgeable"] += detected and mutant.judgeable
                if mutant.judgeable and mutant.evidence:
                    t["evidence"] += 1
                    t["detected_evidence"] += detected
                if not detected:
                    causes[op][(mutant.judgeable, cause)] += 1
                codes = ", ".join(f"{c}×{n}" for c, n in sorted(new.items())) or "-"
                evidence = "-" if mutant.evidence is None else "yes" if mutant.evidence else "no"
                print(f"| {op} | {rel} | {mutant.line} | `{mutant.site}` | "
                      f"{'yes' if mutant.judgeable else 'no'} | {evidence} | "
                      f"{'yes' if detected else 'no'} | {codes} | {cause or '-'} |", flush=True)
    print()
    print("| operator | mutants | judgeable | detected | detected (judgeable) "
          "| recall (judgeable) |")
    print("|---|---|---|---|---|---|")
    for op in operators:
        t = totals[op]
        print(f"| {op} | {t['mutants']} | {t['judgeable']} | {t['detected']} | "
              f"{t['detected_judgeable']} | {percent(t['detected_judgeable'], t['judgeable'])} |")
    shown = [op for op in operators if op in EVIDENCE_OPERATORS]
    if shown:
        print()
        evidence = sum(totals[op]["evidence"] for op in shown)
        detected = sum(totals[op]["detected_evidence"] for op in shown)
        per = "; ".join(f"{op} {totals[op]['detected_evidence']}/{totals[op]['evidence']}"
                        for op in shown)
        print(f"role-evidence sites ({', '.join(shown)}): {detected} of {evidence} judgeable "
              f"mutants detected, recall {percent(detected, evidence)} ({per})")
    print()
    print("undetected mutants by cause:")
    for op in operators:
        for (judgeable, cause), n in sorted(causes[op].items(), key=lambda kv: (-kv[0][0], -kv[1])):
            print(f"- {op}, {'judgeable' if judgeable else 'not judgeable'}: {cause} ×{n}")
    return 0


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


if __name__ == "__main__":
    sys.exit(main())
