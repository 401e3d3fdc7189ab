"""Convolutions and pooling over 1-d and 2-d inputs: (N, C, L) and (N, C, H, W)."""
from __future__ import annotations

from typing import Optional

from rnnshape.shapes.dims import FEATURE, TIME, Dim, Shape
from rnnshape.shapes.facts import ModuleInfo
from rnnshape.shapes.ops.base import OpCall
from rnnshape.shapes.ops.layout import flatten
from rnnshape.shapes.values import TensorV


def _pair(value, n: int) -> Optional[list]:
    """A size given as one int or as one per spatial dim, as plain ints."""
    if isinstance(value, Dim):
        return [value.value] * n if value.value is not None else None
    if isinstance(value, tuple) and len(value) == n and all(isinstance(v, Dim) for v in value):
        found = [v.value for v in value]
        return found if None not in found else None
    return None


def _length(length: Dim, k: int, s: int, p: int, d: int) -> Dim:
    """PyTorch's output length (L + 2p - d(k - 1) - 1) // s + 1, symbolic where it can be."""
    if s == 1 and 2 * p == d * (k - 1):
        return length
    if length.value is not None:
        return Dim.const((length.value + 2 * p - d * (k - 1) - 1) // s + 1)
    if s == 1:
        return length + Dim.const(2 * p - d * (k - 1))
    return Dim.unknown()


def _spatial(info: ModuleInfo, dims: tuple, n: int, pooling: bool) -> Optional[list]:
    k = _pair(info.cfg.get("kernel_size"), n)
    stride = info.cfg.get("stride")
    s = k if pooling and stride is None else _pair(stride, n)
    p = _pair(info.cfg.get("padding"), n)
    d = _pair(info.cfg.get("dilation", Dim.const(1)), n)
    if None in (k, s, p, d):
        return [Dim.unknown()] * n
    return [_length(dims[i], k[i], s[i], p[i], d[i]) for i in range(n)]


def convolution(info: ModuleInfo, call: OpCall):
    n = 2 if info.kind == "Conv2d" else 1
    x = call.first if call.args else call.kwargs.get("input")
    if not isinstance(x, TensorV) or x.shape.dims is None or len(x.shape.dims) != n + 2:
        return None
    batch, spatial = x.shape.dims[0], x.shape.dims[2:]
    out = _spatial(info, spatial, n, pooling=False)
    channels = info.dim("out_channels")
    if n == 1:  # (N, C, L): a Conv1d's channels are features and its length is time
        channels = channels.with_role(FEATURE, "Conv1d channels")
        out = [out[0].with_role(TIME, "Conv1d length axis")]
    return x.step(call.node, Shape((batch, channels, *out)), layout_op=None, grad=True)


def pooling(info: ModuleInfo, call: OpCall):
    n = 2 if info.kind.endswith("2d") else 1
    x = call.first if call.args else call.kwargs.get("input")
    if not isinstance(x, TensorV) or x.shape.dims is None or len(x.shape.dims) < n + 1:
        return None
    dims = x.shape.dims
    if info.kind.startswith("Adaptive"):
        size = _pair(info.cfg.get("output_size"), n)
        out = [Dim.const(v) for v in size] if size is not None else [Dim.unknown()] * n
    else:
        out = _spatial(info, dims[-n:], n, pooling=True)
    kept = [o.with_role(d.role, d.origin) if d.role and o.same(d) is True else o
            for o, d in zip(out, dims[-n:])]
    return x.step(call.node, Shape(dims[:-n] + tuple(kept)), layout_op=None,
                  rnn_src=None)


def flatten_module(info: ModuleInfo, call: OpCall):
    """``nn.Flatten(start_dim=1, end_dim=-1)``."""
    x = call.first if call.args else call.kwargs.get("input")
    start, end = info.dim("start_dim").value, info.dim("end_dim").value
    if not isinstance(x, TensorV) or start is None or end is None:
        return None
    return flatten(x, start, end, call.node)


MODULES = {
    "Conv1d": convolution, "Conv2d": convolution,
    **{kind: pooling for kind in ("MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
                                  "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d",
                                  "AdaptiveMaxPool2d")},
    "Flatten": flatten_module,
}
