"""Calls of ``nn`` module instances: recurrent modules, layers, losses."""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

from rnnshape import torch_api as api
from rnnshape.shapes.axes import axes, expected_roles
from rnnshape.shapes.dims import BATCH, FEATURE, Dim, Shape
from rnnshape.shapes.facts import LayerCall, LossCall, ModuleInfo, RecurrentCall, Step
from rnnshape.shapes.ops import conv
from rnnshape.shapes.ops.base import OpCall
from rnnshape.shapes.ops.layout import ranked
from rnnshape.shapes.values import PackedV, StateTupleV, TensorV, TupleV


def recurrent(info: ModuleInfo, call: OpCall):
    """``out, h_n = rnn(x, h0)``: the output and the final state(s), and the call's fact."""
    x = call.first if call.args else call.kwargs.get("input")
    hx = call.args[1] if len(call.args) > 1 else call.kwargs.get("hx")
    _note_initial_state(info, hx)
    if isinstance(x, PackedV):
        return _packed(info, x, hx, call)
    if isinstance(x, TensorV):
        x = _with_state_evidence(x, hx, call)
        step = Step(call.node, None, f"{info.signature()} expects {_expected(info)}")
        call.recorder.recurrent(RecurrentCall(call.node, info, x.shape, x.trace + (step,),
                                              x.layout_op, hx,
                                              callers_known=not call.env.standalone))
        if x.shape.dims is not None and len(x.shape.dims) in (2, 3):
            return _outputs(info, x, call)
        out = TensorV(Shape.unknown(info.out_size), x.trace, rnn_src=info, grad=True)
    else:
        out = TensorV(Shape.unknown(info.out_size), rnn_src=info, grad=True)
    return TupleV((out, _state(info, None)))


def _note_initial_state(info: ModuleInfo, hx) -> None:
    """Rows picked from another module's final state start this one (an encoder handing its
    state to a decoder)."""
    for part in (hx.items if isinstance(hx, TupleV) else (hx,)):
        if isinstance(part, TensorV) and part.pick is not None:
            part.pick.initial_of = info


def _with_state_evidence(x: TensorV, hx, call: OpCall) -> TensorV:
    """What the call itself says of its input: an initial state of rank 3 makes it a batched
    (3-d) input, as does a dim the code names the batch; and the state's batch (its dim 1),
    built from one of the input's own dims (``zeros(layers, x.size(0), hidden)``), names
    that dim the batch."""
    state = hx.items[0] if isinstance(hx, TupleV) and hx.items else hx
    state_dims = state.shape.dims if isinstance(state, TensorV) else None
    if x.shape.dims is None:
        rank = len(state_dims) if state_dims is not None else None
        if rank is None and any(d.role == BATCH for d in x.shape.front[:2]):
            rank = 3  # only a batched input has a batch dim
        if rank in (2, 3):
            x = ranked(x, rank) or x
    dims = x.shape.dims
    if dims is None or len(dims) != 3 or state_dims is None or len(state_dims) != 3:
        return x
    batch = state_dims[1]
    if not batch.known or batch.value is not None:
        return x  # a number may equal any dim by chance; a symbol is the code's own
    matches = [j for j in (0, 1) if dims[j].same(batch) is True]
    if len(matches) != 1 or dims[matches[0]].role is not None:
        return x
    j = matches[0]
    named = list(dims)
    named[j] = dims[j].with_role(BATCH, "the initial state's batch")
    note = f"the initial state's batch (its dim 1) is `{batch}`, dim {j} of the input"
    where = state.trace[-1].node if state.trace else call.node
    return replace(x, shape=Shape(tuple(named)), trace=x.trace + (Step(where, None, note),))


def _outputs(info: ModuleInfo, x: TensorV, call: OpCall) -> TupleV:
    dims = x.shape.dims
    batched = len(dims) == 3
    out = TensorV(Shape(dims[:-1] + (info.out_size,)), x.trace, rnn_src=info, grad=True,
                  layout_of=(info, call.node) if batched else None)
    out = out.step(call.node, out.shape)
    if not batched:
        return TupleV((out, _state(info, None)))
    batch_first = info.flag("batch_first")
    batch = Dim.unknown() if batch_first is None else dims[axes(batch_first).batch]
    return TupleV((out, _state(info, batch)))


def _packed(info: ModuleInfo, x: PackedV, hx, call: OpCall) -> TupleV:
    call.recorder.recurrent(RecurrentCall(call.node, info, Shape.unknown(x.last), (), None, hx,
                                          batch=x.batch))
    if x.pack is not None and info.flag("batch_first") is not None:
        x.pack.consumer = info
    packed = PackedV(info.out_size, info, x.batch, x.time, x.batch_first, x.pack)
    return TupleV((packed, _state(info, x.batch or Dim.unknown())))


def _state(info: ModuleInfo, batch: Optional[Dim]):
    """``h_n`` (and ``c_n`` for an LSTM): ``(layers * directions, batch, size)`` when the batch
    is known (``batch`` None: unbatched input, rank unknown)."""
    if batch is None:
        h = TensorV(Shape.unknown(state_size(info)), rnn_src=info, grad=True, state_of=info)
        c = TensorV(Shape.unknown(), grad=True, state_of=info)
    else:
        layers = _layers(info)
        h = TensorV(Shape.of(layers, batch, state_size(info)), rnn_src=info, grad=True,
                    state_of=info)
        c = TensorV(Shape.of(layers, batch, info.dim("hidden_size")), grad=True, state_of=info)
    return StateTupleV((h, c), module=info) if info.kind == "LSTM" else h


def _layers(info: ModuleInfo) -> Dim:
    if not info.directions:
        return Dim.unknown()
    return info.dim("num_layers") * Dim.const(info.directions)


def _expected(info: ModuleInfo) -> str:
    size = info.dim("input_size")
    feature = str(size) if size.known else "input_size"
    batch_first = info.flag("batch_first")
    if batch_first is None:
        return f"(?, ?, {feature})"
    roles = [feature if r == FEATURE else r for r in expected_roles(batch_first)]
    return "(" + ", ".join(roles) + ")"


def state_size(info: ModuleInfo) -> Dim:
    """The last dim of ``h_n``: ``hidden_size``, or ``proj_size`` for a projecting LSTM."""
    size = info.dim("hidden_size")
    proj = info.cfg.get("proj_size")
    if info.kind == "LSTM" and isinstance(proj, Dim) and proj.value and proj.value > 0:
        size = proj
    return size


def linear(info: ModuleInfo, call: OpCall):
    x = call.first if call.args else call.kwargs.get("input")
    if not isinstance(x, TensorV):
        return None
    if x.pick is not None and info.kind == "Linear":
        x.pick.consumer = info
    if x.rnn_src is not None and x.state_of is None and info.kind == "Linear":
        call.recorder.layer(LayerCall(call.node, info, x.rnn_src, x.shape,
                                      x.trace + (Step(call.node, None, f"{info.signature()}"),)))
    out_features = info.dim("out_features").with_role(FEATURE)
    if x.shape.dims is not None and x.shape.dims:
        new = Shape(x.shape.dims[:-1] + (out_features,))
    else:
        new = Shape.unknown(out_features)
    # a projection of a state is no longer the state: ``fc(h_n).squeeze(0)`` picks nothing
    return x.step(call.node, new, rnn_src=None, layout_op=None, grad=True, state_of=None,
                  pick=None)


def embedding(info: ModuleInfo, call: OpCall):
    x = call.first if call.args else call.kwargs.get("input")
    if not isinstance(x, TensorV) or x.shape.dims is None:
        return None
    dim = info.dim("embedding_dim").with_role(FEATURE, "embedding_dim")
    return x.step(call.node, Shape(x.shape.dims + (dim,)), layout_op=x.layout_op, grad=True,
                  integer=False)


def cell(info: ModuleInfo, call: OpCall):
    """One step of an ``LSTMCell``/``GRUCell``/``RNNCell``: (batch, hidden) from (batch, input)
    (the LSTM's is the pair (h, c))."""
    x = call.first if call.args else call.kwargs.get("input")
    if not isinstance(x, TensorV) or x.shape.dims is None or len(x.shape.dims) not in (1, 2):
        h = TensorV(Shape.unknown(info.dim("hidden_size")), grad=True)
    else:
        h = x.step(call.node, Shape(x.shape.dims[:-1] + (info.dim("hidden_size"),)),
                   layout_op=None, grad=True, integer=False, rnn_src=None)
    return TupleV((h, h)) if info.kind == "LSTMCell" else h


def same_shape(info: ModuleInfo, call: OpCall):
    x = call.first if call.args else call.kwargs.get("input")
    return x.step(call.node, x.shape) if isinstance(x, TensorV) else None


def attention(info: ModuleInfo, call: OpCall):
    """``attn(query, key, value)``: the output has the query's shape with ``embed_dim`` last;
    the weights are left unknown."""
    query = call.first if call.args else call.kwargs.get("query")
    if not isinstance(query, TensorV):
        return TupleV((None, None))
    size = info.dim("embed_dim")
    if query.shape.dims is not None and query.shape.dims:
        shape = Shape(query.shape.dims[:-1] + (size.with_role(FEATURE),))
    else:
        shape = Shape.unknown(size)
    out = query.step(call.node, shape, layout_op=None, grad=True, rnn_src=None)
    return TupleV((out, None))


def loss(info: ModuleInfo, call: OpCall):
    x = call.first if call.args else call.kwargs.get("input")
    call.recorder.loss(LossCall(call.node, info, x, call.arg(1, "target")))
    return TensorV(Shape(()), grad=True)


MODULES = {
    **conv.MODULES,
    **{kind: recurrent for kind in api.RECURRENT},
    **{kind: cell for kind in api.RECURRENT_CELLS},
    "Linear": linear, "LazyLinear": linear,
    "Embedding": embedding,
    **{kind: same_shape for kind in api.SHAPE_PRESERVING_MODULES | api.TRANSFORMER_BLOCKS},
    "MultiheadAttention": attention,
    **{kind: loss for kind in api.LOSSES},
}
