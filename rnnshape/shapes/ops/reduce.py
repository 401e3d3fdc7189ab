"""Reductions (``sum``, ``mean``, ``max`` over a dim, with or without ``keepdim``) and
broadcasting elementwise operations of several tensors."""
from __future__ import annotations

from typing import Optional

from rnnshape.shapes.dims import Dim, Shape, normalize_axis
from rnnshape.shapes.ops.base import OpCall, int_of, or_grad
from rnnshape.shapes.values import IntV, Lit, TensorV, TupleV

# torch's ``max``/``min``/``median`` over a dim return (values, indices).
_PAIRED = {"max", "min", "median"}
_INDICES = {"argmax", "argmin"}


def broadcast(a: Shape, b: Shape) -> Shape:
    """The shape of an elementwise result: dims aligned from the right, a 1 stretching."""
    if a.dims is None or b.dims is None:
        return Shape.unknown()
    out = []
    for i in range(1, max(len(a.dims), len(b.dims)) + 1):
        x = a.dims[-i] if i <= len(a.dims) else None
        y = b.dims[-i] if i <= len(b.dims) else None
        if x is None or y is None:
            out.append(x if y is None else y)
        elif not y.known and x.known and x.value != 1:
            out.append(x)  # the other is 1 or the same, or the program stops here
        elif not x.known and y.known and y.value != 1:
            out.append(y)
        elif y.value == 1:
            out.append(x)
        elif x.value == 1:
            out.append(y)
        elif x.same(y) is True:
            out.append(x if x.role or not y.role else y)
        else:
            out.append(Dim.unknown(x.role if x.role == y.role else None))
    return Shape(tuple(reversed(out)))


def _dims_arg(call: OpCall, index: int) -> Optional[list]:
    """The dims a reduction runs over: an int, a tuple of ints, or None for all of them."""
    value = call.args[index] if len(call.args) > index else None
    for name in ("dim", "axis"):
        if name in call.kwargs:
            value = call.kwargs[name]
    if value is None or (isinstance(value, Lit) and value.value is None):
        return None
    if isinstance(value, TupleV):
        axes = [int_of(v) for v in value.items]
        return axes if None not in axes else []
    axis = int_of(value)
    return [axis] if axis is not None else []


def _keepdim(call: OpCall) -> Optional[bool]:
    value = call.kwargs.get("keepdim", call.kwargs.get("keepdims", Lit(False)))
    if isinstance(value, Lit) and isinstance(value.value, bool):
        return value.value
    return None


def reduction(call: OpCall, x: TensorV, name: str, first_arg: int):
    """``x.name(dim)`` (``first_arg`` 0) or ``torch.name(x, dim)`` (1)."""
    dims = x.shape.dims
    axes = _dims_arg(call, first_arg)
    integer = name in _INDICES or name in ("all", "any", "count_nonzero")
    grad = False if integer else x.grad  # indices and truth values carry no gradient
    if axes is None:
        return TensorV(Shape(()), grad=grad, numpy=x.numpy, integer=integer)
    keep = _keepdim(call)
    if dims is None or axes == [] or keep is None:
        return TensorV(Shape.unknown(), grad=grad, numpy=x.numpy, integer=integer)
    positions = {normalize_axis(a, len(dims)) for a in axes}
    if None in positions:
        return None
    kept = tuple(Dim.const(1) if i in positions else d
                 for i, d in enumerate(dims) if keep or i not in positions)
    result = x.step(call.node, Shape(kept), layout_op=None, integer=integer, grad=grad,
                    rnn_src=x.rnn_src if len(dims) - 1 not in positions else None)
    if name in _PAIRED and not x.numpy:
        indices = TensorV(Shape(kept), integer=True, numpy=x.numpy, grad=False)
        return TupleV((result, indices))
    return result


def reduce_method(call: OpCall):
    return reduction(call, call.receiver, call.extra["method"], 0)


def reduce_function(call: OpCall):
    if not isinstance(call.first, TensorV):
        return None
    if len(call.args) > 1 and isinstance(call.args[1], TensorV):
        return elementwise_of_several(call)  # ``torch.max(a, b)``: elementwise
    name = call.qualname.rpartition(".")[2]
    return reduction(call, call.first, name, 1)


def elementwise_of_several(call: OpCall):
    """``torch.maximum(a, b)``, ``np.where(c, a, b)``, ``torch.add(a, b)``: the broadcast
    shape of the tensor operands (scalars broadcast to anything)."""
    tensors = [a for a in call.args if isinstance(a, TensorV)]
    if not tensors or any(not isinstance(a, (TensorV, IntV, Lit)) for a in call.args):
        return None
    shape = tensors[0].shape
    for other in tensors[1:]:
        shape = broadcast(shape, other.shape)
    grad = tensors[0].grad
    for other in tensors[1:]:
        grad = or_grad(grad, other.grad)
    first = tensors[0]
    same = shape == first.shape
    return first.step(call.node, shape, grad=grad, layout_op=first.layout_op if same else None,
                      rnn_src=first.rnn_src if same else None)


def elementwise_method(call: OpCall):
    """``x.add(y)``, ``x.mul(mask)``: the receiver broadcast with the other operand."""
    other = call.first
    x = call.receiver
    if isinstance(other, TensorV):
        shape = broadcast(x.shape, other.shape)
        if shape != x.shape:
            return x.step(call.node, shape, layout_op=None, grad=or_grad(x.grad, other.grad))
        return x.step(call.node, shape, grad=or_grad(x.grad, other.grad))
    return x
