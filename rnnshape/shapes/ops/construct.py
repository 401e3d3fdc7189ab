"""Tensors made from sizes or from data: torch and numpy constructors."""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

from rnnshape.shapes.dims import FEATURE, Dim, Shape
from rnnshape.shapes.ops.base import OpCall, as_dim, dtype_is_integer, sizes_from_args
from rnnshape.shapes.values import IntV, ListV, Lit, TensorV, TupleV

SIZE_CONSTRUCTORS = ("zeros", "ones", "empty", "randn", "rand", "full")
TYPED_TENSORS = ("Tensor", "FloatTensor", "LongTensor", "DoubleTensor", "IntTensor", "BoolTensor")
FROM_DATA = ("tensor", "as_tensor", "from_numpy", "asarray", "array")
RANDOM_ARRAYS = ("random", "uniform", "normal", "standard_normal")
LIKE = ("zeros_like", "ones_like", "randn_like", "rand_like", "empty_like", "full_like")


def tensor_from_nested(value, numpy: bool) -> Optional[TensorV]:
    """``[[0.0] * 3] * 2``-like literals, lists of arrays, comprehension rows."""
    if isinstance(value, TensorV):
        return replace(value, numpy=numpy)
    if isinstance(value, ListV):
        inner = tensor_from_nested(value.elem, numpy)
        if inner is None:
            if isinstance(value.elem, (IntV, Lit)):
                return TensorV(Shape.of(value.length), numpy=numpy,
                               integer=isinstance(value.elem, IntV))
            return None
        if inner.shape.dims is None:
            return None
        return TensorV(Shape((value.length,) + inner.shape.dims), inner.trace, numpy=numpy,
                       grad=inner.grad)
    if isinstance(value, TupleV):
        return _from_tuple(value, numpy)
    return None


def _from_tuple(value: TupleV, numpy: bool) -> Optional[TensorV]:
    if not value.items:
        return TensorV(Shape.of(Dim.const(0)), numpy=numpy)
    if all(isinstance(it, (IntV, Lit)) for it in value.items):
        return TensorV(Shape.of(Dim.const(len(value.items))), numpy=numpy,
                       integer=all(isinstance(it, IntV) for it in value.items))
    inners = [tensor_from_nested(it, numpy) for it in value.items]
    if any(i is None or i.shape.dims is None for i in inners):
        return None
    first = inners[0].shape
    if all(i.shape == first for i in inners[1:]):
        return TensorV(Shape((Dim.const(len(inners)),) + first.dims), numpy=numpy)
    return None


def _name(call: OpCall) -> str:
    return call.qualname.rpartition(".")[2]


def from_data(call: OpCall) -> Optional[TensorV]:
    """``torch.tensor(rows)``, ``np.array(rows)``, ``torch.Tensor(array)``."""
    if call.first is None:
        return None
    made = tensor_from_nested(call.first, numpy=call.numpy)
    if made is None:
        return None
    declared = dtype_is_integer(call.kwargs.get("dtype"))
    integer = _name(call) in ("LongTensor", "IntTensor")
    return replace(made.step(call.node, made.shape), numpy=call.numpy, grad=False,
                   integer=declared if declared is not None else (integer or made.integer))


def typed_tensor(call: OpCall) -> Optional[TensorV]:
    """``torch.FloatTensor(3, 4)`` makes a shape; ``torch.FloatTensor(data)`` wraps data."""
    if len(call.args) == 1 and not isinstance(call.first, IntV):
        return from_data(call)
    return from_sizes(call)


def random_array(call: OpCall) -> Optional[TensorV]:
    """``np.random.random(size)``, ``np.random.uniform(lo, hi, size)``, ..."""
    if not call.numpy:
        return from_sizes(call)
    args, name = call.args, _name(call)
    if name == "normal" and len(args) == 3:
        positional = args[-1]
    elif name in ("random", "standard_normal"):
        positional = call.first
    else:
        positional = args[2] if len(args) > 2 else None
    size = call.kwargs.get("size", positional)
    if size is None:
        return None
    sizes = sizes_from_args([size])
    return TensorV(Shape(tuple(sizes)), numpy=True) if sizes else None


def randint(call: OpCall) -> Optional[TensorV]:
    args = call.args
    positional = args[2] if len(args) > 2 else (
        args[1] if not call.numpy and len(args) == 2 and isinstance(args[1], TupleV) else None)
    size = call.kwargs.get("size", positional)
    if size is None:
        return None
    sizes = sizes_from_args([size])
    return TensorV(Shape(tuple(sizes)), integer=True, numpy=call.numpy) if sizes else None


def from_sizes(call: OpCall) -> Optional[TensorV]:
    """``torch.zeros(2, 3)``, ``np.ones((2, 3))``, ``torch.full((2, 3), 0.5)``."""
    args, kwargs = call.args, call.kwargs
    if _name(call) == "full":
        args = args[:1]
    if "size" in kwargs and not args:
        args = [kwargs["size"]]
    if call.numpy and "shape" in kwargs and not args:
        args = [kwargs["shape"]]
    sizes = sizes_from_args(args)
    if not sizes:
        return None
    declared = dtype_is_integer(kwargs.get("dtype"))
    integer = _name(call) in ("LongTensor", "IntTensor", "randint")
    made = TensorV(Shape(tuple(sizes)), numpy=call.numpy,
                   integer=declared if declared is not None else integer)
    grad = kwargs.get("requires_grad")
    if isinstance(grad, Lit) and grad.value is True:
        made = replace(made, grad=True)
    return made.step(call.node, made.shape)


def arange(call: OpCall) -> Optional[TensorV]:
    """``arange(n)``, ``arange(a, b)``: ``n`` and ``b - a`` elements (a step: unknown)."""
    args = [a for a in call.args if not isinstance(a, TensorV)]
    if len(args) == 1:
        length = as_dim(args[0])
    elif len(args) == 2 and "step" not in call.kwargs:
        start, end = as_dim(args[0]), as_dim(args[1])
        length = end - start if start is not None and end is not None else None
    else:
        length = None
    declared = dtype_is_integer(call.kwargs.get("dtype"))
    integer = declared if declared is not None else all(isinstance(a, IntV) for a in args)
    made = TensorV(Shape.of(length if length is not None else Dim.unknown()), numpy=call.numpy,
                   integer=integer)
    return made.step(call.node, made.shape)


def linspace(call: OpCall) -> Optional[TensorV]:
    """``linspace(start, end, steps)``: ``steps`` elements."""
    if call.numpy:
        steps = call.arg(2, "num", IntV(Dim.const(50)))
    else:
        steps = call.arg(2, "steps")
    length = as_dim(steps)
    if length is None:
        return None
    made = TensorV(Shape.of(length), numpy=call.numpy)
    return made.step(call.node, made.shape)


def permutation(call: OpCall) -> Optional[TensorV]:
    """``randperm(n)``, ``np.random.permutation(n)``: n indices."""
    length = as_dim(call.first)
    if length is None:
        return None
    made = TensorV(Shape.of(length), numpy=call.numpy, integer=True)
    return made.step(call.node, made.shape)


def convolve(call: OpCall) -> Optional[TensorV]:
    """``np.convolve(a, v, mode="same")``: as long as ``a`` (other modes: unknown)."""
    mode = call.arg(2, "mode")
    first = call.first
    if not isinstance(first, TensorV) or not (isinstance(mode, Lit) and mode.value == "same"):
        return None
    return first.step(call.node, first.shape)


def like(call: OpCall) -> Optional[TensorV]:
    if not isinstance(call.first, TensorV):
        return None
    return TensorV(call.first.shape, numpy=call.numpy)


def eye(call: OpCall) -> Optional[TensorV]:
    if call.first is None:
        return None
    n = as_dim(call.first)
    m = as_dim(call.args[1]) if len(call.args) > 1 else n
    if n is None or m is None:
        return None
    return TensorV(Shape.of(n.with_role(FEATURE, "a one-hot row"), m.with_role(FEATURE)),
                   numpy=call.numpy)


def one_hot(call: OpCall) -> Optional[TensorV]:
    first = call.first
    if not isinstance(first, TensorV) or first.shape.dims is None:
        return None
    classes = as_dim(call.arg(1, "num_classes"))
    if classes is None:
        return None
    return first.step(call.node,
                      Shape(first.shape.dims + (classes.with_role(FEATURE, "one-hot classes"),)),
                      integer=True, layout_op=None)


FUNCTIONS = {
    **{name: from_sizes for name in SIZE_CONSTRUCTORS},
    **{name: typed_tensor for name in TYPED_TENSORS},
    **{name: from_data for name in FROM_DATA},
    **{name: random_array for name in RANDOM_ARRAYS},
    **{name: like for name in LIKE},
    "randint": randint, "integers": randint,
    "arange": arange, "linspace": linspace, "logspace": linspace,
    "randperm": permutation, "permutation": permutation,
    "eye": eye, "convolve": convolve,
    "one_hot": one_hot,
}
