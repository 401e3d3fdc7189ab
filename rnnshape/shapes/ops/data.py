"""Data pipelines and sequence packing: datasets, loaders, pack/pad, functional losses."""
from __future__ import annotations

from dataclasses import replace

from rnnshape.shapes.axes import axes
from rnnshape.shapes.dims import BATCH, Dim, Shape
from rnnshape.shapes.facts import LossCall, ModuleInfo, PackCall
from rnnshape.shapes.ops.base import OpCall, as_dim, bool_arg
from rnnshape.shapes.values import DatasetV, IntV, Lit, LoaderV, PackedV, TensorV, TupleV


def tensor_dataset(call: OpCall) -> DatasetV:
    items = []
    for a in call.args:
        if isinstance(a, TensorV) and a.shape.dims:
            items.append(replace(a, shape=Shape(a.shape.dims[1:]), layout_op=None))
        else:
            items.append(None)
    return DatasetV(tuple(items))


def data_loader(call: OpCall):
    first, kwargs = call.first, call.kwargs
    dataset = first if isinstance(first, DatasetV) else kwargs.get("dataset")
    batch = kwargs.get("batch_size", call.args[1] if len(call.args) > 1 else IntV(Dim.const(1)))
    if isinstance(batch, Lit) and batch.value is None:
        return None
    dim = as_dim(batch)
    if dim is None:
        dim = Dim.sym(call.keyword_text("batch_size") or "batch_size")
    if "batch_sampler" in kwargs or "collate_fn" in kwargs:
        return LoaderV(None, dim)
    return LoaderV(dataset if isinstance(dataset, DatasetV) else None,
                   dim.with_role(BATCH, "dim 0 of a DataLoader batch"))


def loader_batch(loader: LoaderV, node=None):
    """One batch of a loader: each sample's tensors with the batch dim in front (``node``:
    the expression iterated, shown in the trace)."""
    if loader.dataset is None:
        return None
    items = []
    for item in loader.dataset.items:
        if isinstance(item, TensorV) and item.shape.dims is not None:
            batch = TensorV(Shape((loader.batch,) + item.shape.dims), item.trace,
                            integer=item.integer)
            items.append(batch.step(node, batch.shape) if node is not None else batch)
        else:
            items.append(None)
    # The default collate gives a list even for a one-tensor dataset: ``for (xb,) in loader``.
    return TupleV(tuple(items), is_list=True)


def pack(call: OpCall) -> PackedV:
    """``pack_padded_sequence(x, lengths, batch_first)`` and ``pack_sequence``."""
    x = call.first
    last = x.shape.last_dim if isinstance(x, TensorV) else None
    batch = time = None
    if call.qualname.endswith("pack_padded_sequence"):
        batch_first = bool_arg(call.args, call.kwargs, 2, "batch_first", False)
        call.recorder.pack(PackCall(call.node, "pack", batch_first, x, call.arg(1, "lengths")))
        dims = x.shape.dims if isinstance(x, TensorV) else None
        if dims is not None and len(dims) >= 2 and batch_first is not None:
            where = axes(batch_first)
            batch, time = dims[where.batch], dims[where.time]
    return PackedV(last, x.rnn_src if isinstance(x, TensorV) else None, batch, time)


def unpack(call: OpCall):
    """``pad_packed_sequence(packed, batch_first)``: the padded output and the lengths."""
    packed = call.first
    if not isinstance(packed, PackedV):
        return None
    batch_first = bool_arg(call.args, call.kwargs, 1, "batch_first", False)
    call.recorder.pack(PackCall(call.node, "pad", batch_first, packed, module=packed.rnn_src))
    shape = Shape.unknown(packed.last)
    if None not in (packed.batch, packed.time, packed.last, batch_first):
        where = axes(batch_first)
        dims = [None, None]
        dims[where.batch], dims[where.time] = packed.batch, packed.time
        shape = Shape(tuple(dims) + (packed.last,))
    return TupleV((TensorV(shape, rnn_src=packed.rnn_src, grad=True), None))


def functional_loss(call: OpCall) -> TensorV:
    name = call.qualname.rpartition(".")[2]
    kind = "CrossEntropyLoss" if name == "cross_entropy" else "NLLLoss"
    call.recorder.loss(LossCall(call.node, ModuleInfo(kind, {}, None, name), call.first,
                                call.arg(1, "target")))
    return TensorV(Shape(()), grad=True)


DATA_FUNCTIONS = {"TensorDataset": tensor_dataset, "DataLoader": data_loader}
PACKING_FUNCTIONS = {"pack_padded_sequence": pack, "pack_sequence": pack,
                     "pad_packed_sequence": unpack}
LOSS_FUNCTIONS = {"cross_entropy": functional_loss, "nll_loss": functional_loss}
