"""Layout operations: the order, grouping and number of a tensor's dims."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

from rnnshape.shapes.dims import BATCH, FEATURE, TIME, Dim, Shape, normalize_axis
from rnnshape.shapes.facts import LayoutOp
from rnnshape.shapes.ops.base import product
from rnnshape.shapes.values import IntV, ListV, SizesV, TensorV, TupleV


def permute(x: TensorV, perm, node, receiver) -> Optional[TensorV]:
    x = ranked(x, len(perm))
    if x is None:
        return None
    dims = x.shape.dims
    if dims is None or len(perm) != len(dims):
        return None
    norm = [normalize_axis(p, len(dims)) for p in perm]
    if None in norm or sorted(norm) != list(range(len(dims))):
        return None
    after = Shape(tuple(dims[p] for p in norm))
    op = LayoutOp(node, x.shape, after, tuple(norm), receiver)
    return x.step(node, after, layout_op=op, contiguous=tuple(norm) == tuple(range(len(dims))))


def ranked(x: TensorV, rank: int) -> Optional[TensorV]:
    """``x`` once the code shows its rank (a permute names every axis); None when that
    contradicts what is known."""
    if x.shape.dims is not None or x.shape.name is None:
        return x
    shape = x.shape.with_rank(rank)
    return replace(x, shape=shape) if shape is not None else None


def transpose(x: TensorV, a, b, node, receiver) -> Optional[TensorV]:
    dims = x.shape.dims
    if dims is None and x.shape.name is not None and a is not None and b is not None \
            and a >= 0 and b >= 0:
        return _swap_front(x, a, b, node)
    if dims is None or a is None or b is None:
        return None
    a, b = normalize_axis(a, len(dims)), normalize_axis(b, len(dims))
    if a is None or b is None:
        return None
    perm = list(range(len(dims)))
    perm[a], perm[b] = perm[b], perm[a]
    return permute(x, perm, node, receiver)


def _swap_front(x: TensorV, a: int, b: int, node) -> TensorV:
    """``transpose(0, 1)`` of a tensor of unknown rank: the first dims change places and the
    rest keep their symbols; the last dim may have been one of the two, so it is forgotten."""
    front = [x.shape.at(i) for i in range(max(a, b, len(x.shape.front) - 1) + 1)]
    front[a], front[b] = front[b], front[a]
    shape = Shape.symbolic(x.shape.name, front)
    return x.step(node, shape, layout_op=None, contiguous=False)


def reverse_axes(x: TensorV, node, receiver) -> Optional[TensorV]:
    """numpy's ``.T`` and ``transpose()`` without axes."""
    if x.shape.dims is None:
        return None
    return permute(x, list(reversed(range(len(x.shape.dims)))), node, receiver)


def _matched(sizes: list[Dim], old: Optional[list[Dim]]) -> tuple[list[Dim], list[Dim]]:
    """The new dims, each taking the meaning of an old dim it provably equals; the old dims
    left over."""
    new: list[Dim] = []
    pool = list(old) if old is not None else []
    for dim in sizes:
        if dim.value == -1:
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
    return new, pool


def _inferred(new: list[Dim], at: int, old: Optional[list[Dim]], pool: list[Dim]) -> Dim:
    """The size ``-1`` stands for, when the old and new products prove it."""
    if old is None:
        return Dim.unknown()
    rest = product(d for k, d in enumerate(new) if k != at)
    quotient = product(old).exact_div(rest) if rest.known else None
    if quotient is None:
        return _merged(new, at, old)
    if len(pool) == 1 and pool[0].same(quotient) is True:
        return pool[0]
    if len(pool) >= 2 and product(pool).same(quotient) is True:
        return quotient.with_parts(pool)
    return quotient


def _merged(new: list[Dim], at: int, old: list[Dim]) -> Dim:
    """An unknown ``-1`` that provably merges a run of old dims (the new dims around it equal
    the old ones around the run): its size is unknown, but which dims it flattens, in which
    order, is known (``tags.view(-1)`` of ``(batch, time)``)."""
    after = len(new) - at - 1
    if len(old) - at - after < 2 or \
            any(a.same(b) is not True for a, b in zip(old[:at], new[:at])) or \
            any(a.same(b) is not True for a, b in zip(old[len(old) - after:], new[at + 1:])):
        return Dim.unknown()
    return Dim.unknown().with_parts(old[at:len(old) - after])


def reshape(x: TensorV, sizes: Optional[list[Dim]], node) -> Optional[TensorV]:
    if sizes is None:
        return None
    old = list(x.shape.dims) if x.shape.dims is not None else None
    infer = [i for i, dim in enumerate(sizes) if dim.value == -1]
    if len(infer) > 1:
        return None  # torch rejects two inferred sizes
    new, pool = _matched(sizes, old)
    if infer:
        new[infer[0]] = _inferred(new, infer[0], old, pool)
    # ``reshape(1, seq, feat)``: a leading 1 in front of a sequence is a batch of one.
    if old is not None and len(new) == len(old) + 1 and new and new[0].value == 1 and \
            not any(o.value == 1 for o in old) and new[0].role is None:
        roles = {d.role for d in new[1:]}
        if TIME in roles and BATCH not in roles:
            new[0] = new[0].with_role(BATCH, "a batch of one added in front")
    keeps_layout = old is not None and len(new) == len(old) and all(
        a.same(b) is True for a, b in zip(old, new))
    return x.step(node, Shape(tuple(new)), layout_op=x.layout_op if keeps_layout else None,
                  rnn_src=x.rnn_src if last_kept(x.shape, Shape(tuple(new))) else None)


def last_kept(before: Shape, after: Shape) -> bool:
    a, b = before.last_dim, after.last_dim
    return a is not None and b is not None and a.same(b) is True


def unsqueeze(x: TensorV, axis, node) -> Optional[TensorV]:
    dims = x.shape.dims
    if dims is None or axis is None:
        return None
    pos = normalize_axis(axis, len(dims) + 1)
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
            return unknown_rank(x, node, keep)
        return x.step(node, Shape(tuple(d for d in dims if d.value != 1)), layout_op=None,
                      rnn_src=x.rnn_src if dims and dims[-1].value != 1 else None)
    pos = normalize_axis(axis, len(dims))
    if pos is None:
        return None
    if dims[pos].value is None:
        return unknown_rank(x, node, dims[-1] if pos != len(dims) - 1 else None)
    if dims[pos].value == 1:
        return x.step(node, Shape(dims[:pos] + dims[pos + 1:]), layout_op=None,
                      rnn_src=x.rnn_src if pos != len(dims) - 1 else None)
    return x.step(node, x.shape)


def unknown_rank(x: TensorV, node, last: Optional[Dim]) -> TensorV:
    return x.step(node, Shape.unknown(last), layout_op=None,
                  rnn_src=x.rnn_src if last is not None else None)


def flatten(x: TensorV, start: int, end: int, node) -> Optional[TensorV]:
    dims = x.shape.dims
    if dims is None:
        return None
    s, e = normalize_axis(start, len(dims)), normalize_axis(end, len(dims))
    if s is None or e is None or s > e:
        return None
    merged = product(dims[s:e + 1])
    if e > s:
        merged = merged.with_parts(dims[s:e + 1])
    new = dims[:s] + (merged,) + dims[e + 1:]
    return x.step(node, Shape(new), layout_op=None,
                  rnn_src=x.rnn_src if e < len(dims) - 1 or s == e else None)


def narrow(x: TensorV, axis: Optional[int], length: Optional[Dim], node) -> Optional[TensorV]:
    if axis is None or length is None or x.shape.dims is None:
        return None
    pos = normalize_axis(axis, len(x.shape.dims))
    if pos is None:
        return None
    dims = list(x.shape.dims)
    dims[pos] = length.with_role(dims[pos].role, dims[pos].origin)
    return x.step(node, Shape(tuple(dims)))


# ---------------------------------------------------------------------- indexing
@dataclass(frozen=True)
class Item:
    """One element of a subscript, as the interpreter read it.

    ``kind``: ``new`` (``None``/``np.newaxis``), ``ellipsis``, ``full`` (``:``), ``part`` (any
    other slice) or ``value`` (an index expression, ``value`` its abstract value)."""

    kind: str
    value: Any = None


def index_tensor(x: TensorV, items: list[Item], node) -> Optional[TensorV]:
    dims = x.shape.dims
    if dims is None:
        # Unknown rank: a single int index keeps the feature dim of an (L, N, H) / (L, H) output.
        if len(items) == 1 and items[0].kind == "value" and items[0].value.__class__ is IntV:
            return x.step(node, x.shape)
        if items[-1].kind == "full":
            return x.step(node, x.shape)
        return _lost(x)
    out: list[Dim] = []
    pos = ints = advanced = 0
    for n, item in enumerate(items):
        if item.kind == "new":
            plain = len(items) == 1 or _only_slices_but(items, n)
            role, origin = inserted_one_role(dims, len(out)) if plain else (None, None)
            out.append(Dim.const(1, role, origin))
            continue
        if item.kind == "ellipsis":
            rest = len(dims) - pos - sum(1 for i in items[n + 1:] if i.kind != "new")
            out.extend(dims[pos:pos + rest])
            pos += rest
            continue
        if pos >= len(dims):
            return None
        if item.kind == "value":
            if isinstance(item.value, IntV):
                ints += 1
            else:
                picked = _advanced_index(item.value)
                if picked is None:
                    return _lost(x)
                advanced += 1
                out.extend(picked)
        elif item.kind == "full":
            out.append(dims[pos])
        else:
            out.append(slice_length(dims[pos], *item.value))
        pos += 1
    if advanced and advanced + ints > 1:
        # Several index arrays (ints count as arrays next to one) broadcast together and may
        # move their axes to the front: numpy's rules, not worth guessing at.
        return _lost(x)
    out.extend(dims[pos:])
    new = Shape(tuple(out))
    return x.step(node, new, layout_op=None, rnn_src=x.rnn_src if last_kept(x.shape, new) else None)


def slice_length(dim: Dim, lower, upper, step) -> Dim:
    """The length of ``dim[lower:upper:step]`` when the bounds prove it (``t[:-1]``, ``t[1:]``,
    ``x[i:i + bs]``), assuming they lie inside the dim, as code that slices means them to.
    The sliced axis keeps its meaning; without one, the length's own counts."""
    unknown = Dim.unknown(dim.role, dim.origin)
    if step is not None and not (isinstance(step, IntV) and step.dim.value == 1):
        return unknown
    start = Dim.const(0) if lower is None or _is_none(lower) else _bound(dim, lower)
    end = dim if upper is None or _is_none(upper) else _bound(dim, upper)
    if start is None or end is None:
        return unknown
    length = end - start
    if not length.known or (length.value is not None and length.value < 0):
        return unknown
    if dim.role:
        return length.with_role(dim.role, dim.origin)
    return length


def _is_none(value) -> bool:
    return getattr(value, "value", 0) is None and not isinstance(value, IntV)


def _bound(dim: Dim, value) -> Optional[Dim]:
    """A slice bound as a position: negative constants count from the end."""
    if not isinstance(value, IntV) or not value.dim.known:
        return None
    if value.dim.value is not None and value.dim.value < 0:
        return dim + value.dim if dim.known else None
    return value.dim


def _only_slices_but(items: list[Item], n: int) -> bool:
    return all(i.kind in ("full", "part") or k == n for k, i in enumerate(items))


def _lost(x: TensorV) -> TensorV:
    return replace(x, shape=Shape.unknown(), layout_op=None, rnn_src=None)


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


def view_breaks(x: TensorV, result: TensorV) -> bool:
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


def shape_tuple(x: TensorV):
    if x.shape.dims is None:
        return SizesV(x.shape) if x.shape.name is not None else None
    return TupleV(tuple(IntV(d) for d in x.shape.dims))


def tensor_attribute(x: TensorV, name: str, node):
    """``x.shape``, ``x.T``, ``x.data``, ``x.ndim``; None for what carries no shape."""
    if name == "shape":
        return shape_tuple(x)
    if name in ("T", "mT"):
        if x.shape.dims is not None and len(x.shape.dims) == 2:
            return transpose(x, 0, 1, node, node.value)
        return reverse_axes(x, node, node.value) if name == "T" else None
    if name == "data":
        return replace(x, grad=False)
    if name == "ndim":
        return IntV(Dim.const(len(x.shape.dims))) if x.shape.dims is not None else None
    return None
