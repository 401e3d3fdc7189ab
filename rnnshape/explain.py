"""``check --show-shapes``: what the tracker believes at each recurrent call -- the input's
shape, what each dim means and which statement of the code says so, and why that is or is not
a finding -- so a user can see why rnnshape is silent and what to write to make it see."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional

from rnnshape.api import Analysis, trace_line
from rnnshape.diagnostic import TraceLine
from rnnshape.shapes.axes import expected_roles, input_roles, layout_conflict
from rnnshape.shapes.dims import Dim
from rnnshape.shapes.facts import RecurrentCall

HINT = ("say what the dims are where the input is made or read: `bs, seq_len, n_feat = "
        "x.shape`, a comment `# x: (batch, time, features)`, or an annotation "
        "`Float[Tensor, \"batch time feat\"]`")


@dataclass
class CallShapes:
    """One recurrent call as the tracker saw it in one context (a call may be reached from
    several places, with different shapes)."""

    row: int
    column: int
    module: str  # how the code names it, and its configuration
    shape: str
    dims: list[str] = field(default_factory=list)  # per dim: size, meaning and its source
    evidence: list[TraceLine] = field(default_factory=list)  # statements that named dims
    verdict: str = ""


def call_shapes(analysis: Analysis) -> list[CallShapes]:
    """Each distinct view of each recurrent call in the file, in the order of the code."""
    out: dict[tuple, CallShapes] = {}
    for call in analysis.facts.recurrent_calls:
        if analysis.unit_of(call.node) is not analysis.unit:
            continue  # a call in an imported module is that module's to explain
        start = analysis.positions[call.node].start
        shown = _dims(call)
        key = (start.line, start.column, str(call.shape), tuple(shown))
        if key in out:
            continue
        evidence = [trace_line(analysis, step) for step in call.trace
                    if step.shape is None and step.note and step is not call.trace[-1]]
        out[key] = CallShapes(start.line, start.column + 1, _module(call), str(call.shape),
                              shown, evidence, verdict(call))
    return sorted(out.values(), key=lambda c: (c.row, c.column))


def _module(call: RecurrentCall) -> str:
    label = call.module.label or call.module.kind
    return f"{label} = {call.module.signature()}"


def _dims(call: RecurrentCall) -> list[str]:
    dims = call.shape.dims
    if dims is None:
        return []
    return [f"dim {i}: {_dim(d)}" for i, d in enumerate(dims)]


def _dim(dim: Dim) -> str:
    if not dim.role:
        return f"{dim} (meaning unknown)"
    source = f" ({dim.origin})" if dim.origin else ""
    return f"{dim} is {dim.role}{source}"


def verdict(call: RecurrentCall) -> str:
    """Why the call is, or is not, a finding."""
    batch_first = call.module.flag("batch_first")
    if call.shape.dims is None:
        return f"silent: the input's rank is unknown; {HINT}"
    if len(call.shape.dims) != 3:
        return "silent: an unbatched (2-d) input has no batch to mix up"
    if batch_first is None:
        return "silent: whether the module is batch_first is not known here"
    expected = ", ".join(expected_roles(batch_first))
    conflict = layout_conflict(call)
    if conflict is not None:
        return f"finding (RNN001): the module reads ({expected})"
    roles = input_roles(call) or []
    known = [r for r in roles if r]
    if len(known) != len(set(known)):
        return "silent: two dims are given one meaning, so neither counts"
    if not any(r in ("batch", "time") for r in known):
        return f"silent: no dim is known to be the batch or the time; {HINT}"
    return f"consistent: the module reads ({expected})"


def render_text(path: str, calls: list[CallShapes], locate: Optional[callable] = None) -> str:
    """The report for one file; ``locate`` maps a program row to how to name it (a cell)."""
    where = locate or (lambda row: str(row))
    lines = []
    for call in calls:
        lines.append(f"{path}:{where(call.row)}:{call.column}: {call.module}")
        lines.append(f"    input {call.shape}")
        lines.extend(f"      {d}" for d in call.dims)
        for step in call.evidence:
            place = f"{step.path}:{step.row}" if step.path else where(step.row)
            lines.append(f"    {place}: {step.shape}")
        lines.append(f"    -> {call.verdict}")
    return "\n".join(lines)


@dataclass
class ValueShapes:
    """What a tensor expression of the file holds (a hover): its span (1-based rows, 0-based
    columns) and the text that explains it."""

    row: int
    column: int
    end_row: int
    end_column: int
    text: str


def value_at(analysis: Analysis, row: int, column: int,
             locate: Optional[callable] = None) -> Optional[ValueShapes]:
    """The innermost recorded tensor expression at ``row``/``column`` (1-based row, 0-based
    column) of a run made with ``values=True``; None where the tracker knows no shape."""
    best = None
    for node, values in analysis.facts.values.values():
        if not analysis.unit.holds(node):
            continue  # a value seen in an imported module
        where = analysis.positions[node]
        start, end = where.start, where.end
        if (start.line, start.column) <= (row, column) <= (end.line, end.column):
            size = (end.line - start.line, end.column - start.column)
            if best is None or size < best[0]:
                best = (size, node, where, values)
    if best is None:
        return None
    _, node, where, values = best
    # A shape of unknown rank says little next to one the code's callers give in full (a
    # forward() run on its own and again with its importer's tensors).
    known = [v for v in values if v.shape.dims is not None] or \
        [v for v in values if str(v.shape) != "(?)"]
    if not known:
        return None
    return ValueShapes(where.start.line, where.start.column, where.end.line, where.end.column,
                       render_value(analysis, node, known, locate))


def render_value(analysis: Analysis, node, values: list, locate: Optional[callable] = None) -> str:
    """``x: (1[batch], vocab_size[feature], len(sequence)[time])``, each dim's meaning and its
    source, and the statements the shape came through (of the last value seen)."""
    where = locate or (lambda row: str(row))
    label = _label(analysis.module.code_for_node(node))
    lines = [f"{label}: {value.shape}" for value in values]
    if len(values) > 1:
        lines[0:0] = [f"{label} has {len(values)} shapes (the code runs it in several contexts):"]
    last = values[-1]
    shape = last.shape
    dims = shape.dims if shape.dims is not None else shape.front
    lines.extend(f"  dim {i}: {_dim(d)}" for i, d in enumerate(dims or ()))
    steps = [trace_line(analysis, step) for step in last.trace]
    if steps:
        lines.append("from:")
        for step in steps:
            place = f"{_near(step.path, analysis.unit.path)}:{step.row}" if step.path else \
                where(step.row)
            lines.append(f"  {place}: {step.text}  {step.shape}")
    return "\n".join(lines)


def _label(code: str) -> str:
    text = " ".join(code.split())
    return text if len(text) <= 60 else text[:57] + "..."


def _near(path: str, here: str) -> str:
    """Another file of the trace, named from the folder of the file shown (the server sees
    absolute paths)."""
    if not os.path.isabs(path) or not os.path.isabs(here):
        return path
    near = os.path.relpath(path, os.path.dirname(here))
    return path if near.startswith("..") else near
