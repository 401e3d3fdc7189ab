"""Operations on several operands: concatenation, matrix products, arithmetic."""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

import libcst as cst

from rnnshape.shapes.dims import Dim, Shape, normalize_axis
from rnnshape.shapes.ops.base import OpCall, axis_arg, or_grad
from rnnshape.shapes.ops.reduce import broadcast
from rnnshape.shapes.values import IntV, ListV, Lit, TensorV, TupleV, same_value


def cat_or_stack(call: OpCall):
    """Concatenation; two picks of a final state joined is the bidirectional summary idiom."""
    seq = call.first if call.args else call.kwargs.get("tensors")
    items = seq.items if isinstance(seq, TupleV) else ()
    picks = [i.pick for i in items if isinstance(i, TensorV) and i.pick is not None]
    result = _cat_or_stack(call, seq)
    if len(picks) >= 2:
        for pick in picks:
            pick.combined = True
        if isinstance(result, TensorV):
            result = replace(result, state_of=None, pick=None)
    return result


def _pieces(seq) -> Optional[tuple[list, Dim]]:
    if isinstance(seq, ListV):
        # ``torch.stack([step(t) for t in range(seq_len)])``: n copies of one element shape.
        items, count = [seq.elem], seq.length
    elif isinstance(seq, TupleV):
        items, count = list(seq.items), Dim.const(len(seq.items))
    else:
        return None
    if not items or not all(isinstance(i, TensorV) and i.shape.dims is not None for i in items):
        return None
    rank = len(items[0].shape.dims)
    if any(len(i.shape.dims) != rank for i in items):
        return None
    return items, count


def _cat_or_stack(call: OpCall, seq):
    name = call.qualname.rpartition(".")[2]
    axis = axis_arg(call.args, call.kwargs, 1)
    if axis is None:
        if len(call.args) > 1 or any(k in call.kwargs for k in ("dim", "axis")):
            return None  # an axis we cannot read
        axis = 0
    if name in ("hstack", "vstack"):
        return None
    found = _pieces(seq)
    if found is None:
        return None
    items, count = found
    rank = len(items[0].shape.dims)
    grad = any(i.grad for i in items)
    # The result still comes from one recurrent module when every piece does; its feature
    # size is computed below, so a head fed by ``cat((h[-2], h[-1]), 1)`` is checked exactly.
    src = items[0].rnn_src if all(i.rnn_src is items[0].rnn_src for i in items) else None
    dims = list(items[0].shape.dims)
    if name == "stack":
        pos = normalize_axis(axis, rank + 1)
        if pos is None:
            return None
        dims.insert(pos, count)
        return items[0].step(call.node, Shape(tuple(dims)), grad=grad, layout_op=None,
                             rnn_src=src if pos != rank else None)
    pos = normalize_axis(axis, rank)
    if pos is None:
        return None
    # ``cat((cls_token.expand(b, -1, -1), x), 1)``: the data is the piece whose dims say the
    # most; its trace and meanings carry on, and a few tokens more keep the time a time.
    main = max(items, key=lambda i: sum(1 for d in i.shape.dims if d.role))
    dims = list(main.shape.dims)
    if isinstance(seq, ListV):
        total = dims[pos] * count
    else:
        total = Dim.const(0)
        for item in items:
            total = total + item.shape.dims[pos]
    roles = {i.shape.dims[pos].role for i in items} - {None}
    extra_is_count = all(i is main or i.shape.dims[pos].value is not None for i in items)
    role = dims[pos].role if len(roles) == 1 and (extra_is_count or dims[pos].role in roles) \
        and all(i.shape.dims[pos].role in (None, dims[pos].role) for i in items) else None
    dims[pos] = total.with_role(role, dims[pos].origin)
    return main.step(call.node, Shape(tuple(dims)), grad=grad, layout_op=None, rnn_src=src)


def matmul(a, b, node):
    if not isinstance(a, TensorV) or not isinstance(b, TensorV):
        return None
    da, db = a.shape.dims, b.shape.dims
    if da is None or db is None or len(db) < 2 or not da:
        return None
    if len(db) == 2:
        dims = da[:-1] + (db[-1],)
    elif len(da) == len(db):
        # batched: the leading dims broadcast, so only provably equal ones are known
        lead = tuple(x if x.same(y) is True else Dim.unknown() for x, y in zip(da[:-2], db[:-2]))
        dims = lead + (da[-2], db[-1])
    else:
        return None
    return a.step(node, Shape(dims), grad=or_grad(a.grad, b.grad), layout_op=None, rnn_src=None)


def matmul_call(call: OpCall):
    if len(call.args) < 2:
        return None
    return matmul(call.args[0], call.args[1], call.node)


_INT_OPS = {cst.Add: Dim.__add__, cst.AddAssign: Dim.__add__,
            cst.Subtract: Dim.__sub__, cst.SubtractAssign: Dim.__sub__,
            cst.Multiply: Dim.__mul__, cst.MultiplyAssign: Dim.__mul__,
            cst.FloorDivide: Dim.floordiv, cst.FloorDivideAssign: Dim.floordiv}


# Operators whose result on two whole numbers is a whole number.
_WHOLE = (cst.Modulo, cst.ModuloAssign, cst.BitAnd, cst.BitOr, cst.BitXor, cst.LeftShift,
          cst.RightShift)


def binary(left, right, operator, node=None):
    if isinstance(left, IntV) and isinstance(right, IntV):
        combine = _INT_OPS.get(type(operator))
        if combine is not None:
            return IntV(combine(left.dim, right.dim))
        found = _number(left.dim.value, right.dim.value, operator)
        if found is None and isinstance(operator, _WHOLE):
            return IntV(Dim.unknown())  # ``ord(c) % n``: some whole number
        return found
    if isinstance(left, (IntV, Lit)) and isinstance(right, (IntV, Lit)):
        return _number(_constant(left), _constant(right), operator)
    if isinstance(operator, cst.MatrixMultiply):
        return matmul(left, right, node)
    if isinstance(left, TensorV) and isinstance(right, TensorV):
        return _tensors(left, right)
    if isinstance(left, TensorV) and isinstance(right, (IntV, Lit)):
        return left
    if isinstance(right, TensorV) and isinstance(left, (IntV, Lit)):
        return right
    if isinstance(operator, _ELEMENTWISE) and (left is None) != (right is None):
        known = left if right is None else right
        if isinstance(known, TensorV) and known.shape.dims is not None:
            return _with_unknown(known)
    return _sequences(left, right, operator)


# ``x + pos_embedding`` where the embedding is unknown: elementwise, so x's dims stay, those of
# size 1 excepted (the other side may stretch them).  Model code adds positions, masks and
# residuals to a tensor; it does not grow one's rank that way.
_ELEMENTWISE = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide)


def _with_unknown(known: TensorV) -> TensorV:
    dims = tuple(Dim.unknown(d.role) if d.value == 1 else d for d in known.shape.dims)
    return replace(known, shape=Shape(dims), grad=None if known.grad is False else known.grad)


def _tensors(left: TensorV, right: TensorV) -> TensorV:
    grad = or_grad(left.grad, right.grad)
    if left.shape == right.shape:
        return replace(left, grad=grad, rnn_src=left.rnn_src or right.rnn_src)
    if right.shape.dims == ():
        return replace(left, grad=grad)
    if left.shape.dims == ():
        return replace(right, grad=grad)
    shape = broadcast(left.shape, right.shape)
    if shape == left.shape:
        return replace(left, grad=grad)
    if shape == right.shape:
        return replace(right, grad=grad)
    return TensorV(shape, left.trace, grad=grad, numpy=left.numpy and right.numpy)


def _sequences(left, right, operator):
    multiply = isinstance(operator, cst.Multiply)
    if isinstance(left, ListV) and isinstance(right, IntV) and multiply:
        return ListV(left.elem, left.length * right.dim)
    if isinstance(left, TupleV) and isinstance(right, IntV) and multiply:
        if len(left.items) == 1:
            return ListV(left.items[0], right.dim)
    if isinstance(left, TupleV) and isinstance(right, TupleV) and isinstance(operator, cst.Add):
        return TupleV(left.items + right.items, left.is_list)
    if isinstance(operator, cst.Add) and isinstance(left, (ListV, TupleV)) and \
            isinstance(right, (ListV, TupleV)):
        # ``ids + [0] * (max_len - len(ids))``: one list of both lengths, when alike
        a, b = _as_list(left), _as_list(right)
        if a is not None and b is not None:
            elem = a.elem if same_value(a.elem, b.elem) else (
                IntV(Dim.unknown()) if isinstance(a.elem, IntV) and isinstance(b.elem, IntV)
                else None)
            if elem is not None:
                return ListV(elem, a.length + b.length)
    if isinstance(left, TensorV) or isinstance(right, TensorV):
        t = left if isinstance(left, TensorV) else right
        return TensorV(Shape.unknown(), grad=t.grad)
    return None


def _as_list(value) -> Optional[ListV]:
    if isinstance(value, ListV):
        return value
    items = value.items
    if items and all(same_value(items[0], i) for i in items[1:]):
        return ListV(items[0], Dim.const(len(items)))
    if items and all(isinstance(i, IntV) for i in items):
        return ListV(IntV(Dim.unknown()), Dim.const(len(items)))
    return None


def _constant(value):
    if isinstance(value, IntV):
        return value.dim.value
    return value.value if isinstance(value.value, (int, float)) else None


def _number(a, b, operator):
    """A scalar from two known numbers (``2**16``, ``1 / 255``), so that a tensor scaled by it
    keeps its shape; None when either is unknown or the result is not a plain number."""
    if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
        return None
    ops = {cst.Power: lambda: a ** b if abs(b) <= 64 else None,
           cst.Divide: lambda: a / b if b else None,
           cst.Add: lambda: a + b, cst.Subtract: lambda: a - b, cst.Multiply: lambda: a * b}
    compute = ops.get(type(operator))
    try:
        result = compute() if compute is not None else None
    except (OverflowError, ZeroDivisionError, ValueError):
        return None
    if isinstance(result, int):
        return IntV(Dim.const(result))
    return Lit(result) if isinstance(result, float) else None


FUNCTIONS = {
    **{name: cat_or_stack for name in ("cat", "concat", "concatenate", "stack", "hstack", "vstack")},
    **{name: matmul_call for name in ("matmul", "mm", "bmm")},
}
