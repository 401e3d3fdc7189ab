"""State rules: initial states, unpacking final states, summarising bidirectional states."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Optional

import libcst as cst

from rnnshape.fixkit import SAFE, UNSAFE, FixContext, Plan, doubled
from rnnshape.rules.base import Context, Finding, Invalid, Rule
from rnnshape.shapes.axes import axes, layout_conflict
from rnnshape.shapes.dims import Dim
from rnnshape.shapes.facts import ModuleInfo, RecurrentCall, StatePick
from rnnshape.shapes.values import TensorV, TupleV
from rnnshape.syntax import argument, int_value, whole_axis


def expected_state(call: RecurrentCall, cell: bool) -> Optional[list[Dim]]:
    """``(num_layers * directions, batch, size)``: ``size`` is proj_size for an LSTM's h."""
    module = call.module
    dirs = module.directions
    if dirs is None:
        return None
    layers = module.dim("num_layers") * Dim.const(dirs)
    size = module.dim("hidden_size")
    proj = module.cfg.get("proj_size")
    if not cell and module.kind == "LSTM" and isinstance(proj, Dim):
        if proj.value is None:
            return None
        if proj.value > 0:
            size = proj
    dims = call.shape.dims
    batch_first = module.flag("batch_first")
    if dims is not None and len(dims) == 2:
        return [layers, size]  # unbatched input takes unbatched states
    if call.batch is not None:
        batch = call.batch
    elif dims is not None and len(dims) == 3 and batch_first is not None:
        batch = dims[axes(batch_first).batch]
    else:
        batch = Dim.unknown()
    return [layers, batch, size]


def _states(call: RecurrentCall) -> list[tuple[TensorV, bool]]:
    hx = call.hx
    if isinstance(hx, TensorV):
        return [(hx, False)]
    if isinstance(hx, TupleV) and len(hx.items) == 2 and call.module.kind == "LSTM":
        return [(item, i == 1) for i, item in enumerate(hx.items) if isinstance(item, TensorV)]
    return []


def _reordering(actual, expected) -> Optional[tuple[int, ...]]:
    """perm with actual[perm[i]] == expected[i] for all i, proven, when one exists uniquely."""
    found = []
    for perm in itertools.permutations(range(len(actual))):
        if all(actual[perm[i]].same(expected[i]) is True for i in range(len(expected))):
            found.append(perm)
    return found[0] if len(found) == 1 else None


def _constructor(state: TensorV) -> Optional[cst.Call]:
    """The ``torch.zeros(...)``-like call that built the state, when the trace starts there."""
    if not state.trace:
        return None
    node = state.trace[0].node
    if isinstance(node, cst.Call) and len(state.trace) == 1:
        return node
    return None


def _describe(dims) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ")"


@dataclass(frozen=True)
class StateData:
    """RNN003's finding: how to reorder the sizes, and the call that built the state."""

    perm: Optional[tuple[int, ...]]
    constructor: Optional[cst.Call]


class HiddenStateShape(Rule):
    code = "RNN003"
    name = "hidden-state-shape"
    summary = "Initial h0/c0 not shaped (num_layers * num_directions, batch, hidden)"
    what = ("Finds an initial state passed to a recurrent module whose shape provably differs "
            "from `(num_layers * num_directions, batch, hidden_size)` (`proj_size` for an LSTM's "
            "`h0`).  The state layout does not follow `batch_first`: batch is always the middle "
            "dim.")
    why = ("A wrongly shaped `h0` raises `Expected hidden size (...), got (...)` at the first "
           "call.  The usual cause is building it batch-first because the input is batch-first, "
           "or forgetting the factor 2 of a bidirectional module.")
    fix_note = "When only the order is wrong, reorder the sizes in the constructor call (safe)."
    valid = (
        """import torch
import torch.nn as nn

lstm = nn.LSTM(10, 20, num_layers=2, batch_first=True)
x = torch.randn(8, 5, 10)
h0 = torch.zeros(2, 8, 20)
c0 = torch.zeros(2, 8, 20)
out, (h, c) = lstm(x, (h0, c0))
""",
    )
    invalid = (
        Invalid(
            """import torch
import torch.nn as nn

gru = nn.GRU(10, 20, num_layers=2, batch_first=True)
x = torch.randn(8, 5, 10)
h0 = torch.zeros(8, 2, 20)  # <- here
out, h = gru(x, h0)
""",
            fixed="""import torch
import torch.nn as nn

gru = nn.GRU(10, 20, num_layers=2, batch_first=True)
x = torch.randn(8, 5, 10)
h0 = torch.zeros(2, 8, 20)
out, h = gru(x, h0)
""",
        ),
        Invalid(
            """import torch
import torch.nn as nn

lstm = nn.LSTM(10, 20, bidirectional=True)
x = torch.randn(5, 8, 10)
h0 = torch.zeros(1, 8, 20)  # <- here
c0 = torch.zeros(2, 8, 20)
out, (h, c) = lstm(x, (h0, c0))
""",
            fixed=None,
        ),
    )

    def check(self, ctx: Context):
        seen = set()
        for call in ctx.facts.recurrent_calls:
            for state, cell in _states(call):
                expected = expected_state(call, cell)
                dims = state.shape.dims
                if expected is None or dims is None:
                    continue
                if len(dims) == len(expected) and not any(
                        a.same(b) is False for a, b in zip(dims, expected)):
                    continue
                if len(dims) != len(expected) and len(dims) not in (2, 3):
                    continue
                node = _constructor(state) or call.node
                if id(node) in seen:
                    continue
                seen.add(id(node))
                which = "c0" if cell else ("h0" if call.module.kind == "LSTM" else "the initial state")
                label = call.module.label or call.module.kind
                message = (f"{which} is {_describe(dims)} but `{label}` needs "
                           f"{_describe(expected)} (num_layers * directions, batch, size)")
                perm = _reordering(dims, expected) if len(dims) == len(expected) else None
                yield self.finding(node, message, state.trace,
                                   data=StateData(perm, _constructor(state)))

    def fix(self, finding: Finding, fctx: FixContext) -> Optional[Plan]:
        perm, ctor = finding.data.perm, finding.data.constructor
        if perm is None or ctor is None:
            return None
        sizes = [a for a in ctor.args if a.keyword is None]
        if len(sizes) == 1 and isinstance(sizes[0].value, (cst.Tuple, cst.List)):
            container = sizes[0].value
            elements = list(container.elements)
            if len(elements) != len(perm):
                return None
            new = [elements[p].with_changes(comma=elements[i].comma) for i, p in enumerate(perm)]
            return Plan(SAFE, "reorder the state's sizes", {container: container.with_changes(elements=new)})
        if len(sizes) != len(perm) or any(a.star for a in sizes):
            return None
        new_args = list(ctor.args)
        positions = [ctor.args.index(a) for a in sizes]
        for i, p in enumerate(perm):
            new_args[positions[i]] = sizes[p].with_changes(comma=sizes[i].comma)
        return Plan(SAFE, "reorder the state's sizes to (num_layers * directions, batch, hidden)",
                    {ctor: ctor.with_changes(args=new_args)})


class StateUnpack(Rule):
    code = "RNN009"
    name = "state-unpack"
    summary = "LSTM-style state unpacked from a GRU/RNN, or an LSTM's (h, c) used as a tensor"
    what = ("Finds `out, (h, c) = gru(x)` (a GRU or RNN returns one state tensor, not a pair) "
            "and an LSTM's `(h_n, c_n)` tuple used as if it were `h_n`: a tensor method called on "
            "it, `state[-1]`/`state[1]` (which is `c_n`), or the tuple passed to a layer.")
    why = ("Unpacking a GRU state iterates over its first dimension: it raises unless "
           "`num_layers * directions == 2`, and then silently yields two layers (or directions) "
           "named `h` and `c`.  An LSTM's state tuple has no `.squeeze`; `state[-1]` quietly "
           "returns the cell state instead of the hidden state.")
    valid = (
        """import torch
import torch.nn as nn

gru = nn.GRU(10, 20)
lstm = nn.LSTM(10, 20)
x = torch.randn(5, 3, 10)
out, h = gru(x)
out2, (h2, c2) = lstm(x)
summary = h2[-1]
""",
        # both halves taken from the tuple by index: the cell state is wanted
        """import torch
import torch.nn as nn

lstm = nn.LSTM(10, 20)
x = torch.randn(5, 3, 10)
out, states = lstm(x)
hidden = states[0]
cell = states[1]
""",
    )
    invalid = (
        Invalid(
            """import torch
import torch.nn as nn

gru = nn.GRU(10, 20)
x = torch.randn(5, 3, 10)
out, (h, c) = gru(x)  # <- here
""",
            fixed=None,
        ),
        Invalid(
            """import torch
import torch.nn as nn

lstm = nn.LSTM(10, 20)
head = nn.Linear(20, 2)
x = torch.randn(5, 3, 10)
out, state = lstm(x)
logits = head(state[-1])  # <- here
""",
            fixed=None,
        ),
    )

    def check(self, ctx: Context):
        seen = set()
        for misuse in ctx.facts.state_misuses:
            if id(misuse.node) in seen:
                continue
            seen.add(id(misuse.node))
            if misuse.kind == "tuple-as-tensor" and \
                    0 in ctx.facts.state_tuple_items.get(misuse.tuple_key, ()):
                continue  # ``h = states[0]; c = states[1]``: both taken, by intent
            label = misuse.module.label or misuse.module.kind
            if misuse.kind == "unpack":
                message = f"`{label}` is a {misuse.module.kind}: {misuse.detail}"
            else:
                message = (f"the state of `{label}` (LSTM) is the tuple (h_n, c_n), not a tensor: "
                           f"{misuse.detail}")
            yield self.finding(misuse.node, message)


class BidirectionalFinalState(Rule):
    code = "RNN010"
    name = "bidirectional-final-state"
    summary = ("One direction of a bidirectional module used as its summary (h_n[-1], out[:, -1]), "
               "or its layer-0 rows handed to a decoder (h_n[:n_layers])")
    what = ("Finds a single slice of a bidirectional module's final state — `h_n[-1]`, `h_n[0]`, "
            "`h_n.squeeze(0)` — that is not concatenated with the other direction, and the "
            "output's last time step (`out[:, -1]`, `out[-1]`) taken as its summary, where the "
            "backward direction has read one step; and the first rows of its final state "
            "(`h_n[:n_layers]`, `h_n[:1]`) handed to another recurrent module as its initial "
            "state.")
    why = ("`h_n` of a bidirectional module stacks the directions: `h_n[-1]` is the backward "
           "direction of the last layer only, which has read the sequence from the end and "
           "summarises its *first* step best.  A classifier fed with it ignores half of what the "
           "module computed.  The rows are ordered layer by layer, both directions of a layer "
           "together, so an encoder's `h_n[:n_layers]` given to an `n_layers` decoder is layer "
           "0's forward and backward states, not each layer's: the decoder's second layer starts "
           "from the encoder's first layer read backwards.")
    fix_note = ("Use `torch.cat((h_n[-2], h_n[-1]), dim=1)` (unsafe: the feature size doubles; the "
                "consuming `Linear`'s in_features are doubled in the same edit when the tracker "
                "saw it).")
    valid = (
        """import torch
import torch.nn as nn

gru = nn.GRU(10, 20, bidirectional=True)
head = nn.Linear(40, 2)
x = torch.randn(5, 3, 10)
out, h_n = gru(x)
logits = head(torch.cat((h_n[-2], h_n[-1]), dim=1))
""",
        """import torch
import torch.nn as nn

encoder = nn.GRU(10, 20, num_layers=2, bidirectional=True)
decoder = nn.GRU(10, 20, num_layers=2)
_, h_n = encoder(torch.randn(5, 3, 10))
out, _ = decoder(torch.randn(4, 3, 10), h_n[0::2])
""",
    )
    invalid = (
        Invalid(
            """import torch
import torch.nn as nn

gru = nn.GRU(10, 20, bidirectional=True)
head = nn.Linear(20, 2)
x = torch.randn(5, 3, 10)
out, h_n = gru(x)
logits = head(h_n[-1])  # <- here
""",
            fixed="""import torch
import torch.nn as nn

gru = nn.GRU(10, 20, bidirectional=True)
head = nn.Linear(40, 2)
x = torch.randn(5, 3, 10)
out, h_n = gru(x)
logits = head(torch.cat((h_n[-2], h_n[-1]), dim=1))
""",
        ),
        Invalid(
            """import torch
import torch.nn as nn

gru = nn.GRU(10, 20, batch_first=True, bidirectional=True)
head = nn.Linear(40, 2)
batch_size, seq_len = 3, 5
out, h_n = gru(torch.randn(batch_size, seq_len, 10))
logits = head(out[:, -1])  # <- here
""",
            fixed=None,
        ),
        Invalid(
            """import torch
import torch.nn as nn

n_layers = 2
encoder = nn.LSTM(10, 20, num_layers=n_layers, bidirectional=True)
decoder = nn.LSTM(10, 20, num_layers=n_layers)
_, (h_n, c_n) = encoder(torch.randn(5, 3, 10))
state = (h_n[:n_layers], c_n[:n_layers])  # <- here
out, _ = decoder(torch.randn(4, 3, 10), state)
""",
            fixed=None,
        ),
    )

    def check(self, ctx: Context):
        seen = set()
        for pick in ctx.facts.state_picks:
            if pick.combined or not pick.module.flag("bidirectional") or id(pick.node) in seen:
                continue
            if pick.stop is not None:
                # an LSTM hands over h and c sliced alike: one mistake, one finding
                key = ("handoff", id(pick.module), id(pick.initial_of))
                if pick.initial_of is not None and key not in seen:
                    seen.add(key)
                    yield self._handoff(ctx, pick)
                continue
            seen.add(id(pick.node))
            label = pick.module.label or pick.module.kind
            what = "`.squeeze(0)`" if pick.index is None else f"index {pick.index}"
            message = (f"{what} of `{label}`'s final state keeps one direction of a bidirectional "
                       f"{pick.module.kind}; concatenate both directions")
            yield self.finding(pick.node, message, pick.trace, data=pick)
        yield from self._last_steps(ctx, seen)

    def _handoff(self, ctx: Context, pick: StatePick) -> Finding:
        """``h_n[:n]`` of a bidirectional module starting another module."""
        label = pick.module.label or pick.module.kind
        target = pick.initial_of.label or pick.initial_of.kind
        starts = f"the other `{target}`" if target == label else f"`{target}`"
        base = ctx.one_line(pick.node.value) if isinstance(pick.node, cst.Subscript) else "h_n"
        both = (f"`{base}[0::2] + {base}[1::2]`, or `torch.cat(({base}[0::2], {base}[1::2]), "
                f"dim=2)` with a decoder of twice the hidden size")
        if pick.stop == 1:
            rows = (f"row 0 of the stacked state is the forward direction of the first layer "
                    f"only; to use both directions: {both}")
        else:
            rows = (f"the first {pick.stop} rows of the stacked state are (forward, backward) "
                    f"pairs from layer 0 up, not one state per layer: {starts}'s layer 1 "
                    f"starts from layer 0 read backwards; use `{base}[0::2]` (each layer's "
                    f"forward state), {both}")
        message = f"`{ctx.one_line(pick.node)}` of bidirectional `{label}` starts {starts}; {rows}"
        return self.finding(pick.node, message, pick.trace, data=pick)

    def _last_steps(self, ctx: Context, seen: set):
        """``fc(out[:, -1])`` of a bidirectional module: the forward half has read the whole
        sequence there, the backward half one step."""
        calls = {id(c.node): c for c in ctx.facts.recurrent_calls}
        for use in ctx.facts.layout_uses:
            node, module = use.node, use.module
            if use.kind != "index" or not isinstance(node, cst.Subscript) or \
                    id(node) in seen or not module.flag("bidirectional"):
                continue
            call = calls.get(id(use.call))
            batch_first = module.flag("batch_first")
            if batch_first is None or call is None or layout_conflict(call) is not None or \
                    use.shape.dims is None or len(use.shape.dims) != 3:
                continue
            time = 1 if batch_first else 0
            elements = list(node.slice)
            if len(elements) <= time or not all(whole_axis(e) for e in elements[:time]) or \
                    not isinstance(elements[time].slice, cst.Index) or \
                    int_value(elements[time].slice.value) != -1 or \
                    any(not whole_axis(e) for e in elements[time + 1:]):
                continue
            seen.add(id(node))
            label = module.label or module.kind
            hidden = ctx.one_line(argument(module.node, 1, "hidden_size")) \
                if isinstance(module.node, cst.Call) and \
                argument(module.node, 1, "hidden_size") is not None else "hidden_size"
            base = ctx.one_line(node.value)
            first, last = ("[:, 0", "[:, -1") if batch_first else ("[0, :", "[-1, :")
            message = (f"`{ctx.one_line(node)}` of bidirectional `{label}`: the backward "
                       f"direction has read only the last step there; use "
                       f"`torch.cat(({base}{last}, :{hidden}], {base}{first}, {hidden}:]), "
                       f"dim=-1)` or the final state h_n")
            yield self.finding(node, message, data=use)

    def fix(self, finding: Finding, fctx: FixContext) -> Optional[Plan]:
        pick = finding.data
        if not isinstance(pick, StatePick):
            return None  # a last step of the output: which fix fits depends on the head
        node = pick.node
        if pick.index != -1 or not isinstance(node, cst.Subscript):
            return None
        torch_name, needs_import = fctx.torch_name()
        if needs_import:
            return None
        base = fctx.text(node.value)
        new = cst.parse_expression(f"{torch_name}.cat(({base}[-2], {base}[-1]), dim=1)")
        changes = {node: new}
        message = f"use both directions: `{torch_name}.cat(({base}[-2], {base}[-1]), dim=1)`"
        consumer: Optional[ModuleInfo] = pick.consumer
        if consumer is not None and consumer.node is not None:
            arg = argument(consumer.node, 0, "in_features")
            hidden = pick.module.dim("hidden_size")
            if arg is not None and consumer.dim("in_features").same(hidden) is True:
                twice = doubled(arg, fctx.text(arg))
                changes[arg] = cst.parse_expression(twice)
                message += f", and in_features = {twice}"
        return Plan(UNSAFE, message, changes)

