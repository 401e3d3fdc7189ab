"""Op semantics as tables: a qualified name (or a tensor method, or an ``nn`` module kind)
maps to the shape function that computes its result.  Adding an op is adding a row here or in
the module that groups it; the interpreter never names an op itself.

    FUNCTIONS["torch.zeros"](OpCall(...))        -> TensorV
    METHODS["permute"](OpCall(receiver=x, ...))  -> TensorV
    MODULES["LSTM"](info, OpCall(...))           -> TupleV(out, state)
"""
from __future__ import annotations

from dataclasses import replace

from rnnshape import torch_api as api
from rnnshape.shapes.ops import builtins, combine, construct, data, layout, methods, reduce
from rnnshape.shapes.ops.base import OpCall, axis_arg, sizes_from_args
from rnnshape.shapes.ops.combine import binary
from rnnshape.shapes.ops.data import loader_batch
from rnnshape.shapes.ops.layout import Item, index_tensor, tensor_attribute
from rnnshape.shapes.ops.modules import MODULES
from rnnshape.shapes.values import TensorV, TupleV

__all__ = ["FUNCTIONS", "METHODS", "MODULES", "Item", "OpCall", "binary", "call_function",
           "call_method", "index_tensor", "loader_batch", "tensor_attribute"]

# Where torch and numpy keep their tensor functions.
TENSOR_HEADS = ("torch", "torch.nn.functional", "torch.functional", "torch.special", "numpy",
                "torch.Tensor", "numpy.random", "torch.random", "torch.autograd", "numpy.linalg",
                "numpy.ma")
DATA_HEADS = ("torch.utils.data", "torch.utils.data.dataloader", "torch.utils.data.dataset")


def elementwise(call: OpCall):
    """``torch.relu(x)``, ``F.dropout(x)``: the shape of the first argument."""
    first = call.first
    if not isinstance(first, TensorV):
        return None
    return first.step(call.node, first.shape)


def detached(call: OpCall):
    return replace(call.first, grad=False) if isinstance(call.first, TensorV) else None


def as_method(name: str):
    """``torch.permute(x, ...)``: the method ``name`` of the first argument."""
    def shape(call: OpCall):
        if not isinstance(call.first, TensorV):
            return None
        return call_method(name, replace(call, args=list(call.args[1:]), receiver=call.first,
                                         receiver_node=call.node.args[0].value))
    return shape


def numpy_reshape(call: OpCall):
    if isinstance(call.first, TensorV) and len(call.args) > 1 and isinstance(call.args[1], TupleV):
        return layout.reshape(call.first, sizes_from_args([call.args[1]]), call.node)
    return as_method("reshape")(call)


def numpy_transpose(call: OpCall):
    x = call.first
    if not isinstance(x, TensorV):
        return None
    if len(call.args) > 1 and isinstance(call.args[1], TupleV):
        return as_method("permute")(replace(call, args=[x, call.args[1]], kwargs={}))
    return layout.reverse_axes(x, call.node, call.node.args[0].value)


def expand_dims(call: OpCall):
    if not isinstance(call.first, TensorV):
        return None
    return layout.unsqueeze(call.first, axis_arg(call.args[1:], call.kwargs), call.node)


def _unknown(call: OpCall):
    return None


_TENSOR_FUNCTIONS = {
    **construct.FUNCTIONS,
    **combine.FUNCTIONS,
    **{name: as_method(name) for name in ("permute", "transpose", "swapaxes", "reshape",
                                          "flatten", "squeeze", "unsqueeze", "narrow", "t")},
    "expand_dims": expand_dims, "moveaxis": _unknown, "movedim": _unknown,
    **{name: elementwise for name in api.SHAPE_PRESERVING_FUNCS - {"float", "int", "long"}},
    "detach": detached,
    **{name: reduce.reduce_function for name in api.REDUCTIONS},
    **{name: reduce.elementwise_of_several for name in api.BROADCASTING_FUNCS},
}
_NUMPY_ONLY = {"reshape": numpy_reshape, "transpose": numpy_transpose}


def _table() -> dict:
    table = dict(builtins.FUNCTIONS)
    for head in TENSOR_HEADS:
        for name, shape in _TENSOR_FUNCTIONS.items():
            table[f"{head}.{name}"] = shape
        if head.startswith("numpy"):
            table.update({f"{head}.{name}": shape for name, shape in _NUMPY_ONLY.items()})
    for head in DATA_HEADS:
        table.update({f"{head}.{name}": shape for name, shape in data.DATA_FUNCTIONS.items()})
    table.update({f"torch.nn.utils.rnn.{name}": shape
                  for name, shape in data.PACKING_FUNCTIONS.items()})
    table.update({f"torch.nn.functional.{name}": shape
                  for name, shape in data.LOSS_FUNCTIONS.items()})
    return table


FUNCTIONS = _table()
METHODS = methods.METHODS


def call_function(call: OpCall):
    shape = FUNCTIONS.get(call.qualname)
    return shape(call) if shape is not None else None


def call_method(name: str, call: OpCall):
    """``call.receiver.name(*call.args)`` for a tensor receiver."""
    shape = METHODS.get(name)
    if shape is None:
        return None
    call.extra["method"] = name
    return shape(call)
