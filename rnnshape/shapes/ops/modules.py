"""Calls of ``nn`` module instances: recurrent modules, layers, losses."""
from __future__ import annotations

from typing import Optional

from rnnshape import torch_api as api
from rnnshape.shapes.axes import axes, expected_roles
from rnnshape.shapes.dims import FEATURE, Dim, Shape
from rnnshape.shapes.facts import LayerCall, LossCall, ModuleInfo, RecurrentCall, Step
from rnnshape.shapes.ops import conv
from rnnshape.shapes.ops.base import OpCall
from rnnshape.shapes.values import PackedV, StateTupleV, TensorV, TupleV


def recurrent(info: ModuleInfo, call: OpCall):
    """``out, h_n = rnn(x, h0)``: the output and the final state(s), and the call's fact."""
    x = call.first if call.args else call.kwargs.get("input")
    hx = call.args[1] if len(call.args) > 1 else call.kwargs.get("hx")
    if isinstance(x, PackedV):
        return _packed(info, x, hx, call)
    if isinstance(x, TensorV):
        step = Step(call.node, None, f"{info.signature()} expects {_expected(info)}")
        call.recorder.recurrent(RecurrentCall(call.node, info, x.shape, x.trace + (step,),
                                              x.layout_op, hx))
        if x.shape.dims is not None and len(x.shape.dims) in (2, 3):
            return _outputs(info, x, call)
        out = TensorV(Shape.unknown(info.out_size), x.trace, rnn_src=info, grad=True)
    else:
        out = TensorV(Shape.unknown(info.out_size), rnn_src=info, grad=True)
    return TupleV((out, _state(info, None)))


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
    packed = PackedV(info.out_size, info, x.batch, x.time)
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
    return x.step(call.node, new, rnn_src=None, layout_op=None, grad=True)


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
    **{kind: same_shape for kind in api.SHAPE_PRESERVING_MODULES},
    **{kind: loss for kind in api.LOSSES},
}
