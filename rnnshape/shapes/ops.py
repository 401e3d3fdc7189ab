"""Shape functions of the operations the tracker follows."""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

import libcst as cst

from rnnshape import torch_api as api
from rnnshape.shapes.dims import BATCH, FEATURE, TIME, Dim, Shape, normalize_axis
from rnnshape.shapes.facts import (LayerCall, LayoutOp, LossCall, ModuleInfo, PackCall,
                                   RecurrentCall)
from rnnshape.shapes.values import (DatasetV, IntV, ListV, Lit, LoaderV, ModV, PackedV,
                                    StateTupleV, TensorV, TupleV)


# ---------------------------------------------------------------------- helpers
def as_dim(value) -> Optional[Dim]:
    if isinstance(value, IntV):
        return value.dim
    return None


def int_of(value) -> Optional[int]:
    dim = as_dim(value)
    return dim.value if dim is not None else None


def sizes_from_args(args) -> Optional[list[Dim]]:
    """``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros([2, 3])``, ``zeros(x.shape)``."""
    if len(args) == 1 and isinstance(args[0], TupleV):
        args = list(args[0].items)
    dims = []
    for value in args:
        dim = as_dim(value)
        if dim is None:
            if isinstance(value, TupleV):
                return None
            dims.append(Dim.unknown())
        else:
            dims.append(dim)
    return dims


def _product(dims) -> Dim:
    out = Dim.const(1)
    for d in dims:
        out = out * d
    return out


def _tensor_from_nested(value, numpy: bool) -> Optional[TensorV]:
    """``[[0.0] * 3] * 2``-like literals, lists of arrays, comprehension rows."""
    if isinstance(value, TensorV):
        return replace(value, numpy=numpy)
    if isinstance(value, ListV):
        inner = _tensor_from_nested(value.elem, numpy)
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
        if not value.items:
            return TensorV(Shape.of(Dim.const(0)), numpy=numpy)
        inners = [_tensor_from_nested(it, numpy) for it in value.items]
        if all(isinstance(it, (IntV, Lit)) for it in value.items):
            return TensorV(Shape.of(Dim.const(len(value.items))), numpy=numpy,
                           integer=all(isinstance(it, IntV) for it in value.items))
        if any(i is None or i.shape.dims is None for i in inners):
            return None
        first = inners[0].shape
        if all(i.shape == first for i in inners[1:]):
            return TensorV(Shape((Dim.const(len(inners)),) + first.dims), numpy=numpy)
    return None


# ---------------------------------------------------------------------- layout ops
def permute(x: TensorV, perm, node, receiver) -> Optional[TensorV]:
    dims = x.shape.dims
    if dims is None or len(perm) != len(dims):
        return None
    norm = [normalize_axis(p, len(dims)) for p in perm]
    if None in norm or sorted(norm) != list(range(len(dims))):
        return None
    after = Shape(tuple(dims[p] for p in norm))
    op = LayoutOp(node, x.shape, after, tuple(norm), receiver)
    return x.step(node, after, layout_op=op, contiguous=tuple(norm) == tuple(range(len(dims))))


def transpose(x: TensorV, a, b, node, receiver) -> Optional[TensorV]:
    dims = x.shape.dims
    if dims is None or a is None or b is None:
        return None
    a, b = normalize_axis(a, len(dims)), normalize_axis(b, len(dims))
    if a is None or b is None:
        return None
    perm = list(range(len(dims)))
    perm[a], perm[b] = perm[b], perm[a]
    return permute(x, perm, node, receiver)


def reshape(x: TensorV, sizes: Optional[list[Dim]], node) -> Optional[TensorV]:
    if sizes is None:
        return None
    old = list(x.shape.dims) if x.shape.dims is not None else None
    infer = [i for i, dim in enumerate(sizes) if dim.value == -1]
    if len(infer) > 1:
        return None  # torch rejects two inferred sizes
    new: list[Dim] = []
    pool = list(old) if old is not None else []
    for i, dim in enumerate(sizes):
        if i in infer:
            new.append(Dim.unknown())
            continue
        matches = [j for j, candidate in enumerate(pool) if candidate.same(dim) is True]
        roles = {pool[j].role for j in matches}
        if matches:
            match = pool.pop(matches[0])
            # A size the code names itself (``seq_len``) keeps its own meaning; one that does
            # not borrows the meaning of the old dim it equals, unless two equal old dims
            # (``batch_size == seq_len == 32``) make that a coin toss.
            if dim.role is None and len(roles) == 1 and match.role is not None:
                dim = dim.with_role(match.role, match.origin)
        new.append(dim)
    if infer:
        at = infer[0]
        inferred = Dim.unknown()
        if old is not None:
            rest = _product(d for k, d in enumerate(new) if k != at)
            quotient = _product(old).exact_div(rest) if rest.known else None
            if quotient is not None:
                inferred = quotient
                if len(pool) == 1 and pool[0].same(quotient) is True:
                    inferred = pool[0]
                elif len(pool) >= 2 and _product(pool).same(quotient) is True:
                    inferred = inferred.with_parts(pool)
        new[at] = inferred
    # ``reshape(1, seq, feat)``: a leading 1 in front of a sequence is a batch of one.
    if old is not None and len(new) == len(old) + 1 and new and new[0].value == 1 and \
            not any(o.value == 1 for o in old) and new[0].role is None:
        roles = {d.role for d in new[1:]}
        if TIME in roles and BATCH not in roles:
            new[0] = new[0].with_role(BATCH, "a batch of one added in front")
    keeps_layout = old is not None and len(new) == len(old) and all(
        a.same(b) is True for a, b in zip(old, new))
    return x.step(node, Shape(tuple(new)), layout_op=x.layout_op if keeps_layout else None,
                  rnn_src=x.rnn_src if _last_kept(x.shape, Shape(tuple(new))) else None)


def _last_kept(before: Shape, after: Shape) -> bool:
    a, b = before.last_dim, after.last_dim
    return a is not None and b is not None and a.same(b) is True


def unsqueeze(x: TensorV, axis, node) -> Optional[TensorV]:
    dims = x.shape.dims
    if dims is None or axis is None:
        return None
    rank = len(dims) + 1
    pos = normalize_axis(axis, rank)
    if pos is None:
        return None
    role, origin = inserted_one_role(dims, pos)
    new = list(dims)
    new.insert(pos, Dim.const(1, role, origin))
    return x.step(node, Shape(tuple(new)), layout_op=None)


def inserted_one_role(dims, pos: int) -> tuple[Optional[str], Optional[str]]:
    """The meaning of a size-1 axis inserted at ``pos`` to make a 3-d recurrent input.

    Added last it is a feature of size one.  Elsewhere it completes whichever of batch and
    time the data already has: ``(seq, feat)`` gains a batch of one, but ``(batch, feat)`` --
    a decoder fed one token per step -- gains a single time step.  With neither known it
    could be either, so it gets no meaning."""
    if len(dims) != 2:
        return None, None
    if pos == 2:
        return FEATURE, "a size-1 feature added last"
    roles = {d.role for d in dims}
    if TIME in roles and BATCH not in roles:
        return BATCH, "a batch of one added"
    if BATCH in roles and TIME not in roles:
        return TIME, "a single time step added"
    return None, None


def squeeze(x: TensorV, axis, node) -> Optional[TensorV]:
    dims = x.shape.dims
    if dims is None:
        return None
    if axis is None:
        if any(d.value is None for d in dims):
            # A symbolic size may be 1 and vanish: the rank is unknown.  Only a last dim that
            # is a constant other than 1 is sure to stay last.
            keep = dims[-1] if dims and dims[-1].value not in (None, 1) else None
            return _unknown_rank(x, node, keep)
        return x.step(node, Shape(tuple(d for d in dims if d.value != 1)), layout_op=None,
                      rnn_src=x.rnn_src if dims and dims[-1].value != 1 else None)
    pos = normalize_axis(axis, len(dims))
    if pos is None:
        return None
    if dims[pos].value is None:
        return _unknown_rank(x, node, dims[-1] if pos != len(dims) - 1 else None)
    if dims[pos].value == 1:
        return x.step(node, Shape(dims[:pos] + dims[pos + 1:]), layout_op=None,
                      rnn_src=x.rnn_src if pos != len(dims) - 1 else None)
    return x.step(node, x.shape)


def _unknown_rank(x: TensorV, node, last: Optional[Dim]) -> TensorV:
    return x.step(node, Shape.unknown(last), layout_op=None,
                  rnn_src=x.rnn_src if last is not None else None)


def flatten(x: TensorV, start: int, end: int, node) -> Optional[TensorV]:
    dims = x.shape.dims
    if dims is None:
        return None
    s, e = normalize_axis(start, len(dims)), normalize_axis(end, len(dims))
    if s is None or e is None or s > e:
        return None
    merged = _product(dims[s:e + 1])
    if e > s:
        merged = merged.with_parts(dims[s:e + 1])
    new = dims[:s] + (merged,) + dims[e + 1:]
    return x.step(node, Shape(new), layout_op=None,
                  rnn_src=x.rnn_src if e < len(dims) - 1 or s == e else None)


def index_tensor(x: TensorV, node: cst.Subscript, tracker, frame) -> Optional[TensorV]:
    dims = x.shape.dims
    elements = node.slice
    if dims is None:
        # Unknown rank: a single int index keeps the feature dim of an (L, N, H) / (L, H) output.
        if len(elements) == 1 and isinstance(elements[0].slice, cst.Index) and \
                tracker.eval(elements[0].slice.value, frame).__class__ is IntV:
            return x.step(node, x.shape)
        last_el = elements[-1].slice
        if isinstance(last_el, cst.Slice) and last_el.lower is None and last_el.upper is None:
            return x.step(node, x.shape)
        return replace(x, shape=Shape.unknown(), layout_op=None, rnn_src=None)
    out: list[Dim] = []
    pos = 0
    ints = advanced = 0
    for element in elements:
        sl = element.slice
        if isinstance(sl, cst.Index):
            value_node = sl.value
            if isinstance(value_node, cst.Name) and value_node.value == "None":
                plain = len(elements) == 1 or all(
                    isinstance(e.slice, cst.Slice) or e is element for e in elements)
                role, origin = inserted_one_role(dims, len(out)) if plain else (None, None)
                out.append(Dim.const(1, role, origin))
                continue
            if isinstance(value_node, cst.Ellipsis):
                rest = len(dims) - pos - sum(
                    1 for e in elements[elements.index(element) + 1:]
                    if not (isinstance(e.slice, cst.Index) and isinstance(e.slice.value, cst.Name)
                            and e.slice.value.value == "None"))
                out.extend(dims[pos:pos + rest])
                pos += rest
                continue
            value = tracker.eval(value_node, frame)
            if pos >= len(dims):
                return None
            if isinstance(value, IntV):
                ints += 1
                pos += 1
                continue
            picked = _advanced_index(value)
            if picked is None:
                return replace(x, shape=Shape.unknown(), layout_op=None, rnn_src=None)
            advanced += 1
            out.extend(picked)
            pos += 1
            continue
        else:  # Slice
            if pos >= len(dims):
                return None
            if sl.lower is None and sl.upper is None and sl.step is None:
                out.append(dims[pos])
            else:
                out.append(Dim.unknown(dims[pos].role, dims[pos].origin))
            pos += 1
    if advanced and advanced + ints > 1:
        # Several index arrays (ints count as arrays next to one) broadcast together and may
        # move their axes to the front: numpy's rules, not worth guessing at.
        return replace(x, shape=Shape.unknown(), layout_op=None, rnn_src=None)
    out.extend(dims[pos:])
    new = Shape(tuple(out))
    return x.step(node, new, layout_op=None,
                  rnn_src=x.rnn_src if _last_kept(x.shape, new) else None)


def _advanced_index(value) -> Optional[tuple[Dim, ...]]:
    """The dims an index array puts in place of the axis it indexes, when provable.

    Only integer arrays qualify: a boolean mask (or a float tensor we cannot tell from one)
    selects a data-dependent number of elements."""
    if isinstance(value, TensorV):
        return value.shape.dims if value.integer and value.shape.dims is not None else None
    if isinstance(value, TupleV):
        if value.is_list and value.items and all(
                isinstance(i, IntV) and i.dim.known for i in value.items):
            return (Dim.const(len(value.items)),)
        return None
    if isinstance(value, ListV):
        return (value.length,) if isinstance(value.elem, IntV) else None
    return None


# ---------------------------------------------------------------------- tensor methods
def tensor_attribute(x: TensorV, name: str, node):
    if name == "shape":
        return _shape_tuple(x)
    if name == "T" or name == "mT":
        if x.shape.dims is not None and len(x.shape.dims) == 2:
            return transpose(x, 0, 1, node, node.value)
        if name == "T" and x.shape.dims is not None:
            return permute(x, list(reversed(range(len(x.shape.dims)))), node, node.value)
        return None
    if name == "data":
        return replace(x, grad=False)
    if name in ("ndim",):
        return IntV(Dim.const(len(x.shape.dims))) if x.shape.dims is not None else None
    if name in ("is_cuda", "device", "dtype", "requires_grad", "grad_fn"):
        return None
    return None


def _shape_tuple(x: TensorV):
    if x.shape.dims is None:
        return None
    return TupleV(tuple(IntV(d) for d in x.shape.dims))


def _axis_arg(args, kwargs, index=0, names=("dim", "axis")):
    value = args[index] if len(args) > index else None
    if value is None:
        for name in names:
            if name in kwargs:
                value = kwargs[name]
    return int_of(value)


def tensor_method(tracker, x: TensorV, method: str, args, kwargs, node, frame, receiver=None):
    receiver = receiver if receiver is not None else node.func.value
    if method == "permute":
        perm = args[0].items if len(args) == 1 and isinstance(args[0], TupleV) else args
        if "dims" in kwargs and isinstance(kwargs["dims"], TupleV):
            perm = kwargs["dims"].items
        ints = [int_of(p) for p in perm]
        if None in ints:
            return None
        return permute(x, ints, node, receiver)
    if method in ("transpose", "swapaxes", "swapdims"):
        a = _axis_arg(args, kwargs, 0, ("dim0", "axis0"))
        b = _axis_arg(args, kwargs, 1, ("dim1", "axis1"))
        if a is None and len(args) == 1 and isinstance(args[0], TupleV):  # numpy transpose(axes)
            ints = [int_of(p) for p in args[0].items]
            return permute(x, ints, node, receiver) if None not in ints else None
        if not args and x.numpy and x.shape.dims is not None:
            return permute(x, list(reversed(range(len(x.shape.dims)))), node, receiver)
        return transpose(x, a, b, node, receiver)
    if method == "t":
        if x.shape.dims is not None and len(x.shape.dims) == 2:
            return transpose(x, 0, 1, node, receiver)
        return x.step(node, x.shape) if x.shape.dims is not None and len(x.shape.dims) < 2 else None
    if method in ("view", "reshape"):
        if len(args) == 1 and isinstance(args[0], TensorV):
            return None  # view(dtype)-like or view_as-like; unknown
        if "shape" in kwargs:
            args = [kwargs["shape"]]
        result = reshape(x, sizes_from_args(args), node)
        if result is not None and method == "view" and not x.contiguous:
            if _view_breaks(x, result):
                from rnnshape.shapes.facts import ViewCall
                tracker.facts.view_calls.append(ViewCall(node, x.shape, result.shape, result.trace))
            result = replace(result, contiguous=False)
        return result
    if method in ("view_as", "reshape_as", "expand_as", "type_as") and args and isinstance(args[0], TensorV):
        if method == "type_as":
            return x.step(node, x.shape)
        return x.step(node, args[0].shape, layout_op=None)
    if method == "unsqueeze":
        return unsqueeze(x, _axis_arg(args, kwargs), node)
    if method == "squeeze":
        axis = _axis_arg(args, kwargs)
        if (args or kwargs) and axis is None:
            return None
        return squeeze(x, axis, node)
    if method == "flatten":
        start = int_of(args[0]) if args else int_of(kwargs.get("start_dim", IntV(Dim.const(0))))
        end = int_of(args[1]) if len(args) > 1 else int_of(kwargs.get("end_dim", IntV(Dim.const(-1))))
        if start is None or end is None:
            return None
        return flatten(x, start, end, node)
    if method == "contiguous":
        return replace(x, contiguous=True)
    if method == "detach" or method == "detach_":
        return replace(x, grad=False)
    if method in ("size",):
        if args or "dim" in kwargs:
            axis = int_of(args[0] if args else kwargs["dim"])
            dims = x.shape.dims
            if axis is None or dims is None:
                return IntV(Dim.unknown(), fresh=False)
            pos = normalize_axis(axis, len(dims))
            return IntV(dims[pos]) if pos is not None else None
        return _shape_tuple(x)
    if method in ("dim", "ndimension"):
        return IntV(Dim.const(len(x.shape.dims))) if x.shape.dims is not None else None
    if method == "numpy":
        tracker.record_numpy(node, x, frame)
        return replace(x, numpy=True, grad=False)
    if method in ("to", "cuda"):
        tracker.facts.moves_to_device = True
        target = tracker.module.code_for_node(node.args[0].value) if node.args else ""
        if method == "cuda" or "cuda" in target or (target and "device" in target):
            return replace(x, on_device="cpu" not in target)
        return x
    if method == "cpu":
        return replace(x, on_device=False)
    if method in ("long", "int"):
        return replace(x, integer=True)
    if method == "narrow":
        axis, length = int_of(args[0]) if args else None, as_dim(args[2]) if len(args) > 2 else None
        if axis is None or length is None or x.shape.dims is None:
            return None
        pos = normalize_axis(axis, len(x.shape.dims))
        if pos is None:
            return None
        dims = list(x.shape.dims)
        dims[pos] = length.with_role(dims[pos].role, dims[pos].origin)
        return x.step(node, Shape(tuple(dims)))
    if method in api.SHAPE_PRESERVING_FUNCS:
        return replace(x, layout_op=x.layout_op)
    if method in ("new_zeros", "new_ones", "new_empty", "new_full", "new_tensor"):
        sizes = sizes_from_args(args[:1] if method == "new_full" else args)
        if method == "new_tensor" or sizes is None:
            return None
        return TensorV(Shape(tuple(sizes)), grad=False)
    if method in ("item", "tolist"):
        return None
    if method in ("repeat", "expand", "sum", "mean", "max", "min", "argmax", "argmin", "std",
                  "var", "norm", "prod", "cumsum", "topk", "sort", "index_select", "gather",
                  "masked_select", "split", "chunk", "unbind"):
        return None
    if method == "astype":
        return x
    return None


# ---------------------------------------------------------------------- library functions
def call_library(tracker, qual: str, args, kwargs, node, frame):
    head, _, name = qual.rpartition(".")
    if qual == "len":
        if args:
            return IntV(tracker.length_of(args[0], node.args[0].value), fresh=True)
        return None
    # A range is represented by its length; iterating it gives ints of unknown value.
    if qual == "range":
        if len(args) == 1:
            return IntV(as_dim(args[0]) or Dim.unknown())
        if len(args) == 2 and as_dim(args[0]) is not None and as_dim(args[1]) is not None:
            return IntV(as_dim(args[1]) - as_dim(args[0]))
        return IntV(Dim.unknown()) if args else None
    if qual in ("enumerate",):
        if args:
            elem = tracker.iter_elem(args[0], node)
            return ListV(TupleV((IntV(Dim.unknown()), elem)), tracker.length_of(args[0], node))
        return None
    if qual == "zip":
        elems = tuple(tracker.iter_elem(a, node) for a in args)
        return ListV(TupleV(elems), Dim.unknown())
    if qual in ("list", "tuple") and args:
        if isinstance(args[0], (ListV, TupleV)):
            return args[0]
        return None
    if qual == "int" and args:
        return args[0] if isinstance(args[0], IntV) else IntV(Dim.unknown())
    if qual == "ord":
        return IntV(Dim.unknown())
    if qual in ("max", "min", "sum", "abs", "round", "float", "str", "print", "isinstance"):
        return None
    if head in ("torch", "torch.nn.functional", "torch.functional", "torch.special",
                "torch.nn.utils.rnn", "torch.utils.data", "torch.utils.data.dataloader",
                "torch.utils.data.dataset", "numpy", "torch.Tensor", "numpy.random", "torch.random",
                "torch.autograd", "numpy.linalg", "numpy.ma"):
        pass
    else:
        return None
    is_np = head.startswith("numpy")
    first = args[0] if args else None
    if name in api.SHAPE_PRESERVING_FUNCS and isinstance(first, TensorV) and \
            name not in ("float", "int", "long"):
        return first.step(node, first.shape) if name not in ("detach",) else replace(first, grad=False)
    if name in ("zeros", "ones", "empty", "randn", "rand", "full", "Tensor", "FloatTensor",
                "LongTensor", "DoubleTensor", "IntTensor", "BoolTensor", "tensor", "as_tensor",
                "from_numpy", "asarray", "array", "randint", "normal", "standard_normal",
                "random", "uniform"):
        return construct_tensor(tracker, head, name, args, kwargs, node, is_np)
    if name in ("zeros_like", "ones_like", "randn_like", "rand_like", "empty_like", "full_like") \
            and isinstance(first, TensorV):
        return TensorV(first.shape, numpy=is_np)
    if name == "eye" and first is not None:
        n = as_dim(first)
        m = as_dim(args[1]) if len(args) > 1 else n
        if n is None or m is None:
            return None
        return TensorV(Shape.of(n.with_role(FEATURE, "a one-hot row"), m.with_role(FEATURE)),
                       numpy=is_np)
    if name in ("permute", "transpose", "swapaxes", "reshape", "flatten", "squeeze", "unsqueeze",
                "narrow", "t", "expand_dims", "moveaxis", "movedim") and isinstance(first, TensorV):
        if name == "expand_dims":
            return unsqueeze(first, _axis_arg(args[1:], kwargs), node)
        if name in ("moveaxis", "movedim"):
            return None
        if name == "reshape" and is_np and len(args) > 1 and isinstance(args[1], TupleV):
            return reshape(first, sizes_from_args([args[1]]), node)
        if name == "transpose" and is_np:
            if len(args) > 1 and isinstance(args[1], TupleV):
                return tensor_method(tracker, first, "permute", [args[1]], {}, node, frame)
            if first.shape.dims is not None:
                return permute(first, list(reversed(range(len(first.shape.dims)))), node,
                               node.args[0].value)
            return None
        return tensor_method(tracker, first, name, list(args[1:]), kwargs, node, frame,
                             receiver=node.args[0].value)
    if name in ("cat", "concat", "concatenate", "stack", "hstack", "vstack"):
        return cat_or_stack(name, args, kwargs, node, is_np)
    if name == "one_hot" and isinstance(first, TensorV) and first.shape.dims is not None:
        classes = as_dim(args[1]) if len(args) > 1 else as_dim(kwargs.get("num_classes"))
        if classes is None:
            return None
        return first.step(node, Shape(first.shape.dims + (classes.with_role(FEATURE, "one-hot classes"),)),
                          integer=True, layout_op=None)
    if name == "TensorDataset":
        items = []
        for a in args:
            if isinstance(a, TensorV) and a.shape.dims:
                items.append(replace(a, shape=Shape(a.shape.dims[1:]), layout_op=None))
            else:
                items.append(None)
        return DatasetV(tuple(items))
    if name == "DataLoader":
        dataset = first if isinstance(first, DatasetV) else kwargs.get("dataset")
        batch = kwargs.get("batch_size", args[1] if len(args) > 1 else IntV(Dim.const(1)))
        if isinstance(batch, Lit) and batch.value is None:
            return None
        dim = as_dim(batch)
        if dim is None:
            text = "batch_size"
            for arg in node.args:
                if arg.keyword is not None and arg.keyword.value == "batch_size":
                    text = tracker.module.code_for_node(arg.value)
            dim = Dim.sym(text)
        if "batch_sampler" in kwargs or "collate_fn" in kwargs:
            return LoaderV(None, dim)
        return LoaderV(dataset if isinstance(dataset, DatasetV) else None,
                       dim.with_role(BATCH, "dim 0 of a DataLoader batch"))
    if name == "pack_padded_sequence" or name == "pack_sequence":
        x = first
        last = x.shape.last_dim if isinstance(x, TensorV) else None
        batch = time = None
        if name == "pack_padded_sequence":
            batch_first = _bool_arg(args, kwargs, 2, "batch_first", False)
            lengths = args[1] if len(args) > 1 else kwargs.get("lengths")
            tracker.facts.pack_calls.append(PackCall(node, "pack", batch_first, x, lengths))
            if isinstance(x, TensorV) and x.shape.dims is not None and len(x.shape.dims) >= 2 \
                    and batch_first is not None:
                batch, time = (x.shape.dims[0], x.shape.dims[1]) if batch_first else \
                    (x.shape.dims[1], x.shape.dims[0])
        return PackedV(last, x.rnn_src if isinstance(x, TensorV) else None, batch, time)
    if name == "pad_packed_sequence":
        if isinstance(first, PackedV):
            batch_first = _bool_arg(args, kwargs, 1, "batch_first", False)
            tracker.facts.pack_calls.append(PackCall(node, "pad", batch_first, first,
                                                     module=first.rnn_src))
            dims = None
            if first.batch is not None and first.time is not None and first.last is not None \
                    and batch_first is not None:
                dims = (first.batch, first.time) if batch_first else (first.time, first.batch)
            shape = Shape(dims + (first.last,)) if dims else Shape.unknown(first.last)
            out = TensorV(shape, rnn_src=first.rnn_src, grad=True)
            return TupleV((out, None))
        return None
    if name in ("cross_entropy", "nll_loss") and head == "torch.nn.functional":
        kind = "CrossEntropyLoss" if name == "cross_entropy" else "NLLLoss"
        target = args[1] if len(args) > 1 else kwargs.get("target")
        tracker.facts.loss_calls.append(LossCall(node, ModuleInfo(kind, {}, None, name), first, target))
        return TensorV(Shape(()), grad=True)
    if name in ("matmul", "mm", "bmm") and len(args) > 1:
        return matmul(args[0], args[1], node)
    return None


def _view_breaks(x: TensorV, result: TensorV) -> bool:
    """Does this ``view`` merge dims that a permute made non-adjacent in memory?

    After ``permute(p)`` of a contiguous tensor, dims i and i+1 can be merged only when
    ``p[i+1] == p[i] + 1`` (size-1 dims do not matter).  PyTorch raises for any other merge.
    """
    op = x.layout_op
    old, new = x.shape.dims, result.shape.dims
    if op is None or op.after != x.shape or old is None or new is None:
        return False
    groups, i = [], 0
    for dim in new:
        if i >= len(old):
            return False
        start, acc = i, old[i]
        i += 1
        while acc.same(dim) is not True and i < len(old):
            acc = acc * old[i]
            i += 1
        if acc.same(dim) is not True:
            return False  # not a pure merge/keep of whole dims: cannot tell
        groups.append((start, i))
    for start, end in groups:
        kept = [k for k in range(start, end) if old[k].value != 1]
        for a, b in zip(kept, kept[1:]):
            if op.perm[b] != op.perm[a] + 1:
                return True
    return False


def _bool_arg(args, kwargs, index: int, name: str, default: bool) -> Optional[bool]:
    value = args[index] if len(args) > index else kwargs.get(name, Lit(default))
    if isinstance(value, Lit) and isinstance(value.value, bool):
        return value.value
    return None


def construct_tensor(tracker, head, name, args, kwargs, node, is_np) -> Optional[TensorV]:
    first = args[0] if args else None
    integer = name in ("LongTensor", "IntTensor", "randint")
    data_like = name in ("tensor", "as_tensor", "from_numpy", "asarray", "array") or (
        name in ("Tensor", "FloatTensor", "LongTensor", "DoubleTensor", "IntTensor", "BoolTensor")
        and len(args) == 1 and not isinstance(first, IntV))
    if data_like:
        if first is None:
            return None
        made = _tensor_from_nested(first, numpy=is_np)
        if made is None:
            return None
        step_shape = made.shape
        declared = _dtype_is_integer(kwargs.get("dtype"))
        return replace(made.step(node, step_shape), numpy=is_np, grad=False,
                       integer=declared if declared is not None else (integer or made.integer))
    if name in ("random", "uniform", "normal", "standard_normal") and is_np:
        size = kwargs.get("size", args[-1] if name == "normal" and len(args) == 3 else
                          (first if name in ("random", "standard_normal") else
                           (args[2] if len(args) > 2 else None)))
        if size is None:
            return None
        sizes = sizes_from_args([size])
        return TensorV(Shape(tuple(sizes)), numpy=True) if sizes else None
    if name == "randint":
        size = kwargs.get("size", args[2] if len(args) > 2 else (args[1] if is_np is False and len(args) == 2 and isinstance(args[1], TupleV) else None))
        if size is None:
            return None
        sizes = sizes_from_args([size])
        return TensorV(Shape(tuple(sizes)), integer=True, numpy=is_np) if sizes else None
    if name == "full":
        args = args[:1]
    if "size" in kwargs and not args:
        args = [kwargs["size"]]
    if is_np and "shape" in kwargs and not args:
        args = [kwargs["shape"]]
    sizes = sizes_from_args(args)
    if not sizes:
        return None
    declared = _dtype_is_integer(kwargs.get("dtype"))
    made = TensorV(Shape(tuple(sizes)), numpy=is_np,
                   integer=declared if declared is not None else integer)
    grad = kwargs.get("requires_grad")
    if isinstance(grad, Lit) and grad.value is True:
        made = replace(made, grad=True)
    return made.step(node, made.shape)


def _dtype_is_integer(dtype) -> Optional[bool]:
    """``dtype=torch.long`` -> True, ``torch.float32``/``torch.bool`` -> False, else None."""
    from rnnshape.shapes.values import Ref
    if not isinstance(dtype, Ref):
        return None
    name = dtype.qualname.rpartition(".")[2]
    if name in ("long", "int", "int64", "int32", "int16", "int8", "short"):
        return True
    return False


def cat_or_stack(name, args, kwargs, node, is_np):
    """Concatenation; two picks of a final state joined is the bidirectional summary idiom."""
    seq = args[0] if args else kwargs.get("tensors")
    items = seq.items if isinstance(seq, TupleV) else ()
    picks = [i.pick for i in items if isinstance(i, TensorV) and i.pick is not None]
    result = _cat_or_stack(name, args, kwargs, node, is_np)
    if len(picks) >= 2:
        for pick in picks:
            pick.combined = True
        if isinstance(result, TensorV):
            result = replace(result, state_of=None, pick=None)
    return result


def _cat_or_stack(name, args, kwargs, node, is_np):
    seq = args[0] if args else kwargs.get("tensors")
    axis = _axis_arg(args, kwargs, 1)
    if axis is None:
        if len(args) > 1 or any(k in kwargs for k in ("dim", "axis")):
            return None  # an axis we cannot read
        axis = 0
    if name in ("hstack", "vstack"):
        return None
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
    grad = any(i.grad for i in items)
    # The result still comes from one recurrent module when every piece does; its feature
    # size is computed below, so a head fed by ``cat((h[-2], h[-1]), 1)`` is checked exactly.
    src = items[0].rnn_src if all(i.rnn_src is items[0].rnn_src for i in items) else None
    if name == "stack":
        pos = normalize_axis(axis, rank + 1)
        if pos is None:
            return None
        dims = list(items[0].shape.dims)
        dims.insert(pos, count)
        return items[0].step(node, Shape(tuple(dims)), grad=grad, layout_op=None,
                             rnn_src=src if pos != rank else None)
    pos = normalize_axis(axis, rank)
    if pos is None:
        return None
    dims = list(items[0].shape.dims)
    if isinstance(seq, ListV):
        total = dims[pos] * count
    else:
        total = Dim.const(0)
        for item in items:
            total = total + item.shape.dims[pos]
    dims[pos] = total.with_role(dims[pos].role, dims[pos].origin)
    return items[0].step(node, Shape(tuple(dims)), grad=grad, layout_op=None, rnn_src=src)


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
    return a.step(node, Shape(dims), grad=_or(a.grad, b.grad), layout_op=None, rnn_src=None)


def binary(left, right, operator, node=None):
    if isinstance(left, IntV) and isinstance(right, IntV):
        a, b = left.dim, right.dim
        if isinstance(operator, (cst.Add, cst.AddAssign)):
            return IntV(a + b)
        if isinstance(operator, (cst.Subtract, cst.SubtractAssign)):
            return IntV(a - b)
        if isinstance(operator, (cst.Multiply, cst.MultiplyAssign)):
            return IntV(a * b)
        if isinstance(operator, (cst.FloorDivide, cst.FloorDivideAssign)):
            return IntV(a.floordiv(b))
        return _number(a.value, b.value, operator)
    if isinstance(left, (IntV, Lit)) and isinstance(right, (IntV, Lit)):
        return _number(_constant(left), _constant(right), operator)
    if isinstance(operator, cst.MatrixMultiply):
        return matmul(left, right, node)
    if isinstance(left, TensorV) and isinstance(right, TensorV):
        if left.shape == right.shape:
            return replace(left, grad=_or(left.grad, right.grad),
                           rnn_src=left.rnn_src or right.rnn_src)
        if right.shape.dims == ():
            return replace(left, grad=_or(left.grad, right.grad))
        if left.shape.dims == ():
            return replace(right, grad=_or(left.grad, right.grad))
        return TensorV(Shape.unknown(), grad=_or(left.grad, right.grad))
    if isinstance(left, TensorV) and isinstance(right, (IntV, Lit)):
        return left
    if isinstance(right, TensorV) and isinstance(left, (IntV, Lit)):
        return right
    if isinstance(left, ListV) and isinstance(right, IntV) and isinstance(operator, cst.Multiply):
        return ListV(left.elem, left.length * right.dim)
    if isinstance(left, TupleV) and isinstance(right, IntV) and isinstance(operator, cst.Multiply):
        if len(left.items) == 1:
            return ListV(left.items[0], right.dim)
    if isinstance(left, TupleV) and isinstance(right, TupleV) and isinstance(operator, cst.Add):
        return TupleV(left.items + right.items, left.is_list)
    if isinstance(left, TensorV) or isinstance(right, TensorV):
        t = left if isinstance(left, TensorV) else right
        return TensorV(Shape.unknown(), grad=t.grad)
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


def _or(a, b):
    if a or b:
        return True
    if a is None or b is None:
        return None
    return False


def subscript(tracker, base, node: cst.Subscript, frame):
    if isinstance(base, TensorV):
        return index_tensor(base, node, tracker, frame)
    elements = node.slice
    if len(elements) != 1 or not isinstance(elements[0].slice, cst.Index):
        if isinstance(base, TupleV) and len(elements) == 1:
            sl = elements[0].slice
            lo = int_of(tracker.eval(sl.lower, frame)) if sl.lower is not None else 0
            hi = int_of(tracker.eval(sl.upper, frame)) if sl.upper is not None else len(base.items)
            if sl.step is None and lo is not None and hi is not None:
                return TupleV(base.items[lo:hi], base.is_list)
        return None
    index = tracker.eval(elements[0].slice.value, frame)
    if isinstance(base, TupleV):
        i = int_of(index)
        if i is not None and -len(base.items) <= i < len(base.items):
            return base.items[i]
        return None
    if isinstance(base, ListV):
        return base.elem
    if isinstance(base, DatasetV):
        return TupleV(base.items)
    return None


def loader_batch(loader: LoaderV):
    if loader.dataset is None:
        return None
    items = []
    for item in loader.dataset.items:
        if isinstance(item, TensorV) and item.shape.dims is not None:
            items.append(TensorV(Shape((loader.batch,) + item.shape.dims), item.trace,
                                 integer=item.integer))
        else:
            items.append(None)
    # The default collate gives a list even for a one-tensor dataset: ``for (xb,) in loader``.
    return TupleV(tuple(items), is_list=True)


# ---------------------------------------------------------------------- nn module calls
def recurrent_call(tracker, info: ModuleInfo, x, state_args, node, frame):
    from rnnshape.shapes.facts import Step

    out_size = info.out_size
    states_h = _state_size(info)
    hx = state_args[0] if state_args else None
    if isinstance(x, PackedV):
        tracker.record_recurrent(RecurrentCall(node, info, Shape.unknown(x.last), (), None, hx,
                                               batch=x.batch))
        packed = PackedV(out_size, info, x.batch, x.time)
        layers = _layers(info)
        h = TensorV(Shape.of(layers, x.batch or Dim.unknown(), states_h), rnn_src=info, grad=True,
                    state_of=info)
        c = TensorV(Shape.of(layers, x.batch or Dim.unknown(), info.dim("hidden_size")), grad=True,
                    state_of=info)
        return TupleV((packed, StateTupleV((h, c), module=info) if info.kind == "LSTM" else h))
    if isinstance(x, TensorV):
        shape = x.shape
        call_step = Step(node, None, f"{info.signature()} expects {_expected(info)}")
        op = x.layout_op
        tracker.record_recurrent(RecurrentCall(node, info, shape, x.trace + (call_step,), op, hx))
        dims = shape.dims
        if dims is not None and len(dims) in (2, 3):
            out = TensorV(Shape(dims[:-1] + (out_size,)), x.trace, rnn_src=info, grad=True,
                          layout_of=(info, node) if len(dims) == 3 else None)
            out = out.step(node, out.shape)
            if len(dims) == 3:
                batch = dims[0] if info.flag("batch_first") else dims[1]
                if info.flag("batch_first") is None:
                    batch = Dim.unknown()
                layers = _layers(info)
                h = TensorV(Shape.of(layers, batch, states_h), rnn_src=info, grad=True,
                            state_of=info)
                c = TensorV(Shape.of(layers, batch, info.dim("hidden_size")), grad=True,
                            state_of=info)
            else:
                h = TensorV(Shape.unknown(states_h), rnn_src=info, grad=True, state_of=info)
                c = TensorV(Shape.unknown(), grad=True, state_of=info)
        else:
            out = TensorV(Shape.unknown(out_size), x.trace, rnn_src=info, grad=True)
            h = TensorV(Shape.unknown(states_h), rnn_src=info, grad=True, state_of=info)
            c = TensorV(Shape.unknown(), grad=True, state_of=info)
    else:
        out = TensorV(Shape.unknown(out_size), rnn_src=info, grad=True)
        h = TensorV(Shape.unknown(states_h), rnn_src=info, grad=True, state_of=info)
        c = TensorV(Shape.unknown(), grad=True, state_of=info)
    state = StateTupleV((h, c), module=info) if info.kind == "LSTM" else h
    return TupleV((out, state))


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
    return f"(batch, time, {feature})" if batch_first else f"(time, batch, {feature})"


def _state_size(info: ModuleInfo) -> Dim:
    size = info.dim("hidden_size")
    proj = info.cfg.get("proj_size")
    if info.kind == "LSTM" and isinstance(proj, Dim) and proj.value and proj.value > 0:
        size = proj
    return size


def linear_call(tracker, info: ModuleInfo, x, node):
    if not isinstance(x, TensorV):
        return None
    if x.pick is not None and info.kind == "Linear":
        x.pick.consumer = info
    if x.rnn_src is not None and x.state_of is None and info.kind == "Linear":
        from rnnshape.shapes.facts import Step
        tracker.record_layer(LayerCall(node, info, x.rnn_src, x.shape,
                                       x.trace + (Step(node, None, f"{info.signature()}"),)))
    out_features = info.dim("out_features").with_role(FEATURE)
    if x.shape.dims is not None and x.shape.dims:
        new = Shape(x.shape.dims[:-1] + (out_features,))
    else:
        new = Shape.unknown(out_features)
    return x.step(node, new, rnn_src=None, layout_op=None, grad=True)


def embedding_call(info: ModuleInfo, x, node):
    if not isinstance(x, TensorV) or x.shape.dims is None:
        return None
    dim = info.dim("embedding_dim").with_role(FEATURE, "embedding_dim")
    return x.step(node, Shape(x.shape.dims + (dim,)), layout_op=x.layout_op, grad=True,
                  integer=False)


def conv1d_call(info: ModuleInfo, x, node):
    if not isinstance(x, TensorV) or x.shape.dims is None or len(x.shape.dims) != 3:
        return None
    n, _, length = x.shape.dims
    out_len = _conv_len(info, length)
    out = (n, info.dim("out_channels").with_role(FEATURE, "Conv1d channels"),
           out_len.with_role(TIME, "Conv1d length axis"))
    return x.step(node, Shape(out), layout_op=None, grad=True)


def _conv_len(info: ModuleInfo, length: Dim) -> Dim:
    k = info.dim("kernel_size").value
    s = info.dim("stride").value
    d = info.dim("dilation").value
    p = info.cfg.get("padding")
    p = p.value if isinstance(p, Dim) else None
    if None in (k, s, d, p):
        return Dim.unknown()
    if s == 1 and 2 * p == d * (k - 1):
        return length
    if length.value is not None:
        return Dim.const((length.value + 2 * p - d * (k - 1) - 1) // s + 1)
    if s == 1:
        return length + Dim.const(2 * p - d * (k - 1))
    return Dim.unknown()
