"""Tensor methods (``x.permute(...)``, ``x.view(...)``, ``x.numpy()``) and the torch/numpy
functions that are the same operation with the tensor as first argument."""
from __future__ import annotations

from dataclasses import replace

from rnnshape import torch_api as api
from rnnshape.shapes.dims import Dim, Shape, normalize_axis
from rnnshape.shapes.facts import ViewCall
from rnnshape.shapes.ops import layout
from rnnshape.shapes.ops.base import (OpCall, as_dim, axis_arg, int_of, sizes_from_args)
from rnnshape.shapes.ops.reduce import elementwise_method, reduce_method
from rnnshape.shapes.values import IntV, Ref, TensorV, TupleV


def permute(call: OpCall):
    args, kwargs = call.args, call.kwargs
    perm = args[0].items if len(args) == 1 and isinstance(args[0], TupleV) else args
    if "dims" in kwargs and isinstance(kwargs["dims"], TupleV):
        perm = kwargs["dims"].items
    ints = [int_of(p) for p in perm]
    if None in ints:
        return None
    return layout.permute(call.receiver, ints, call.node, call.receiver_node)


def transpose(call: OpCall):
    x, args, kwargs = call.receiver, call.args, call.kwargs
    a = axis_arg(args, kwargs, 0, ("dim0", "axis0"))
    b = axis_arg(args, kwargs, 1, ("dim1", "axis1"))
    if a is None and len(args) == 1 and isinstance(args[0], TupleV):  # numpy transpose(axes)
        ints = [int_of(p) for p in args[0].items]
        return layout.permute(x, ints, call.node, call.receiver_node) if None not in ints else None
    if not args and x.numpy and x.shape.dims is not None:
        return layout.reverse_axes(x, call.node, call.receiver_node)
    return layout.transpose(x, a, b, call.node, call.receiver_node)


def t(call: OpCall):
    x = call.receiver
    if x.shape.dims is not None and len(x.shape.dims) == 2:
        return layout.transpose(x, 0, 1, call.node, call.receiver_node)
    return x.step(call.node, x.shape) if x.shape.dims is not None and len(x.shape.dims) < 2 \
        else None


def view(call: OpCall):
    """``view``/``reshape``; a ``view`` of a permuted tensor may break (RNN006)."""
    x, args = call.receiver, call.args
    if len(args) == 1 and isinstance(args[0], TensorV):
        return None  # view(dtype)-like or view_as-like; unknown
    if "shape" in call.kwargs:
        args = [call.kwargs["shape"]]
    result = layout.reshape(x, sizes_from_args(args), call.node)
    if result is not None and call.extra.get("method") == "view" and not x.contiguous:
        if layout.view_breaks(x, result):
            call.recorder.view(ViewCall(call.node, x.shape, result.shape, result.trace))
        result = replace(result, contiguous=False)
    return result


def as_other(call: OpCall):
    """``view_as``/``reshape_as``/``expand_as``: the other tensor's shape."""
    other = call.first
    if not isinstance(other, TensorV):
        return None
    return call.receiver.step(call.node, other.shape, layout_op=None)


def type_as(call: OpCall):
    # the other tensor's dtype and device
    return call.receiver.step(call.node, call.receiver.shape, cpu_made=None) \
        if isinstance(call.first, TensorV) else replace(call.receiver, cpu_made=None)


def unsqueeze(call: OpCall):
    return layout.unsqueeze(call.receiver, axis_arg(call.args, call.kwargs), call.node)


def squeeze(call: OpCall):
    axis = axis_arg(call.args, call.kwargs)
    if (call.args or call.kwargs) and axis is None:
        return None
    return layout.squeeze(call.receiver, axis, call.node)


def flatten(call: OpCall):
    args, kwargs = call.args, call.kwargs
    start = int_of(args[0]) if args else int_of(kwargs.get("start_dim", IntV(Dim.const(0))))
    end = int_of(args[1]) if len(args) > 1 else int_of(kwargs.get("end_dim", IntV(Dim.const(-1))))
    if start is None or end is None:
        return None
    return layout.flatten(call.receiver, start, end, call.node)


def contiguous(call: OpCall):
    return replace(call.receiver, contiguous=True)


def detach(call: OpCall):
    call.recorder.detached()
    return replace(call.receiver, grad=False)


def size(call: OpCall):
    x, args, kwargs = call.receiver, call.args, call.kwargs
    if not args and "dim" not in kwargs:
        return layout.shape_tuple(x)
    axis = int_of(args[0] if args else kwargs["dim"])
    dims = x.shape.dims
    if axis is not None and dims is None and x.shape.name is not None:
        return IntV(x.shape.at(axis))
    if axis is None or dims is None:
        return IntV(Dim.unknown(), fresh=False)
    pos = normalize_axis(axis, len(dims))
    return IntV(dims[pos]) if pos is not None else None


def rank(call: OpCall):
    dims = call.receiver.shape.dims
    return IntV(Dim.const(len(dims))) if dims is not None else None


def numpy(call: OpCall):
    call.recorder.numpy(call.node, call.receiver, call.no_grad)
    return replace(call.receiver, numpy=True, grad=False)


def to_device(call: OpCall):
    """``.to(device)``/``.cuda()``: on the GPU unless the target says cpu."""
    x = call.receiver
    call.recorder.device_move()
    target = call.env.code(call.node.args[0].value) if call.node.args else ""
    if call.extra.get("method") != "cuda" and _only_dtype(call):
        return x
    x = replace(x, cpu_made=None)  # wherever it goes, it goes with what it meets
    if call.extra.get("method") == "cuda" or "cuda" in target or (target and "device" in target):
        return replace(x, on_device="cpu" not in target)
    return x


def _only_dtype(call: OpCall) -> bool:
    """``x.to(torch.float16)``, ``x.to(dtype=...)``: a conversion that does not move."""
    if not call.node.args:
        return True
    first = call.node.args[0]
    if first.keyword is not None:
        return first.keyword.value != "device" and "device" not in call.kwargs
    value = call.first
    return isinstance(value, Ref) and value.qualname.rpartition(".")[2] in api.DTYPES


def cpu(call: OpCall):
    return replace(call.receiver, on_device=False)


def integer(call: OpCall):
    return replace(call.receiver, integer=True)


def narrow(call: OpCall):
    args = call.args
    axis = int_of(args[0]) if args else None
    length = as_dim(args[2]) if len(args) > 2 else None
    return layout.narrow(call.receiver, axis, length, call.node)


def unchanged(call: OpCall):
    return call.receiver


def new_tensor(call: OpCall):
    """``x.new_zeros(sizes)`` and friends: a fresh tensor of the given sizes."""
    method = call.extra.get("method")
    sizes = sizes_from_args(call.args[:1] if method == "new_full" else call.args)
    if method == "new" and len(call.args) == 1 and isinstance(call.first, TensorV):
        return None  # ``x.new(data)``: a copy of data, not sizes
    if method == "new_tensor" or sizes is None:
        return None
    return TensorV(Shape(tuple(sizes)), grad=False)


def repeat(call: OpCall):
    """``x.repeat(a, b)``: each dim times its count (new leading dims for extra counts)."""
    x, sizes = call.receiver, sizes_from_args(call.args)
    dims = x.shape.dims
    if dims is None or sizes is None or len(sizes) < len(dims):
        return None
    lead = len(sizes) - len(dims)
    new = tuple(sizes[:lead]) + tuple(d * s for d, s in zip(dims, sizes[lead:]))
    return x.step(call.node, Shape(new), layout_op=None)


def expand(call: OpCall):
    """``x.expand(b, -1, -1)``: -1 keeps a dim, other sizes replace it."""
    x, sizes = call.receiver, sizes_from_args(call.args)
    dims = x.shape.dims
    if dims is None or sizes is None or len(sizes) < len(dims):
        return None
    lead = len(sizes) - len(dims)
    kept = tuple(d if s.value == -1 else s for d, s in zip(dims, sizes[lead:]))
    return x.step(call.node, Shape(tuple(sizes[:lead]) + kept), layout_op=None)


def repeat_interleave(call: OpCall):
    """``x.repeat_interleave(n, dim=d)``: dim d n times as long."""
    x = call.receiver
    count = as_dim(call.first)
    axis = axis_arg(call.args, call.kwargs, 1)
    dims = x.shape.dims
    if dims is None or count is None or axis is None:
        return None
    pos = normalize_axis(axis, len(dims))
    if pos is None:
        return None
    new = list(dims)
    new[pos] = (dims[pos] * count).with_role(dims[pos].role, dims[pos].origin)
    return x.step(call.node, Shape(tuple(new)), layout_op=None)


def nothing(call: OpCall):
    return None


METHODS = {
    **{name: unchanged for name in api.SHAPE_PRESERVING_FUNCS},
    "permute": permute,
    **{name: transpose for name in ("transpose", "swapaxes", "swapdims")},
    "t": t,
    "view": view, "reshape": view,
    "view_as": as_other, "reshape_as": as_other, "expand_as": as_other, "type_as": type_as,
    "unsqueeze": unsqueeze, "squeeze": squeeze, "flatten": flatten,
    "contiguous": contiguous, "detach": detach, "detach_": detach,
    "size": size, "dim": rank, "ndimension": rank,
    "numpy": numpy,
    "to": to_device, "cuda": to_device, "cpu": cpu,
    "long": integer, "int": integer,
    "narrow": narrow,
    **{name: new_tensor for name in ("new_zeros", "new_ones", "new_empty", "new_full",
                                     "new_tensor", "new")},
    "astype": unchanged,
    "repeat": repeat, "expand": expand, "repeat_interleave": repeat_interleave,
    **{name: reduce_method for name in api.REDUCTIONS},
    **{name: elementwise_method for name in api.BROADCASTING_FUNCS & api.SHAPE_PRESERVING_FUNCS},
}
