"""Data pipelines and sequence packing: datasets, loaders, pack/pad, functional losses."""
from __future__ import annotations

from dataclasses import replace

from rnnshape.shapes.axes import axes, data_layout
from rnnshape.shapes.dims import BATCH, TIME, Dim, Shape
from rnnshape.shapes.facts import LossCall, ModuleInfo, PackCall
from rnnshape.shapes.ops.base import OpCall, as_dim, bool_arg
from rnnshape.shapes.values import (DatasetV, DictV, IntV, ListV, Lit, LoaderV, PackedV, TensorV,
                                    TupleV)


def tensor_dataset(call: OpCall) -> DatasetV:
    items = []
    for a in call.args:
        if isinstance(a, TensorV) and a.shape.dims:
            items.append(replace(a, shape=Shape(a.shape.dims[1:]), layout_op=None))
        else:
            items.append(None)
    return DatasetV(tuple(items))


def data_loader(call: OpCall):
    """``DataLoader(dataset, batch_size, collate_fn=...)``: a sample of the dataset, batched by
    the default collation or by the collate function."""
    dataset = call.arg(0, "dataset")
    batch = call.arg(1, "batch_size", IntV(Dim.const(1)))
    if isinstance(batch, Lit) and batch.value is None:
        return None
    dim = as_dim(batch)
    if dim is None:
        dim = Dim.sym(call.keyword_text("batch_size") or "batch_size")
    sample = call.env.sample_of(dataset, call.node)
    if "batch_sampler" in call.kwargs:
        return LoaderV(None, dim, custom=True)
    if "collate_fn" in call.kwargs:
        collate = call.kwargs["collate_fn"]
        batch_dim = dim.with_role(BATCH, "the number of samples a DataLoader collates")
        made = call.env.call_back(collate, [ListV(sample, batch_dim)], call.node) \
            if sample is not None and collate is not None else None
        return LoaderV(sample, dim, made, custom=True)
    return LoaderV(sample, dim.with_role(BATCH, "dim 0 of a DataLoader batch"))


def collate(sample, batch: Dim):
    """PyTorch's default collation of one sample into a batch: tensors and numbers gain the
    batch dim in front, tuples and dicts are collated item by item."""
    if isinstance(sample, TensorV):
        if sample.shape.dims is None:
            return None
        return TensorV(Shape((batch,) + sample.shape.dims), sample.trace, integer=sample.integer,
                       cpu_made=sample.cpu_made, on_device=sample.on_device)
    if isinstance(sample, IntV):
        return TensorV(Shape.of(batch), integer=True)
    if isinstance(sample, Lit) and isinstance(sample.value, float):
        return TensorV(Shape.of(batch))
    if isinstance(sample, TupleV):
        # The default collate gives a list even for a one-item sample: ``for (xb,) in loader``.
        return TupleV(tuple(collate(item, batch) for item in sample.items), is_list=True)
    if isinstance(sample, DictV):
        return DictV(tuple((k, collate(v, batch)) for k, v in sample.items))
    return None


def loader_batch(loader: LoaderV, node=None):
    """One batch of a loader, each tensor with a step at ``node`` (the expression iterated)."""
    made = loader.collated if loader.custom else collate(loader.sample, loader.batch)
    return _stepped(made, node)


def _stepped(value, node):
    if node is None:
        return value
    if isinstance(value, TensorV) and value.shape.dims is not None:
        return value.step(node, value.shape)
    if isinstance(value, TupleV):
        return TupleV(tuple(_stepped(item, node) for item in value.items), value.is_list)
    if isinstance(value, DictV):
        return DictV(tuple((k, _stepped(v, node)) for k, v in value.items))
    return value


def random_split(call: OpCall):
    """``random_split(dataset, lengths)``: parts that hold the same kind of sample."""
    lengths = call.arg(1, "lengths")
    count = Dim.const(len(lengths.items)) if isinstance(lengths, TupleV) else Dim.unknown()
    return ListV(call.first, count) if call.first is not None else None


def subset(call: OpCall):
    return call.arg(0, "dataset")


def pack(call: OpCall) -> PackedV:
    """``pack_padded_sequence(x, lengths, batch_first)`` and ``pack_sequence``."""
    x = call.first
    last = x.shape.last_dim if isinstance(x, TensorV) else None
    batch = time = batch_first = fact = None
    if call.qualname.endswith("pack_padded_sequence"):
        batch_first = bool_arg(call.args, call.kwargs, 2, "batch_first", False)
        fact = PackCall(call.node, "pack", batch_first, x, call.arg(1, "lengths"),
                        explicit=call.arg(2, "batch_first") is not None)
        call.recorder.pack(fact)
        dims = x.shape.dims if isinstance(x, TensorV) else None
        if dims is not None and len(dims) >= 2 and batch_first is not None:
            # Packed against what the data's roles prove, RNN008 reports the call; what follows
            # is followed as if it were right, so one mistake makes one finding.
            stated = data_layout(x.shape)
            where = axes(batch_first if stated is None else stated)
            batch, time = dims[where.batch], dims[where.time]
    return PackedV(last, x.rnn_src if isinstance(x, TensorV) else None, batch, time, batch_first,
                   fact)


def unpack(call: OpCall):
    """``pad_packed_sequence(packed, batch_first)``: the padded output and the lengths."""
    packed = call.first
    if not isinstance(packed, PackedV):
        return None
    batch_first = bool_arg(call.args, call.kwargs, 1, "batch_first", False)
    explicit = call.arg(1, "batch_first") is not None
    call.recorder.pack(PackCall(call.node, "pad", batch_first, packed, module=packed.rnn_src,
                                explicit=explicit))
    if packed.pack is not None and explicit and batch_first is not None:
        packed.pack.unpacked_with = batch_first
    shape = Shape.unknown(packed.last)
    if None not in (packed.batch, packed.time, packed.last, batch_first):
        where = axes(batch_first)
        dims = [None, None]
        dims[where.batch], dims[where.time] = packed.batch, packed.time
        shape = Shape(tuple(dims) + (packed.last,))
    return TupleV((TensorV(shape, rnn_src=packed.rnn_src, grad=True), None))


def _sequences(value):
    """(one sequence, how many) of a list of sequences."""
    if isinstance(value, ListV):
        return value.elem, value.length
    if isinstance(value, TupleV) and value.items:
        first = value.items[0]
        if all(isinstance(i, TensorV) and i.shape.rank == getattr(first.shape, "rank", None)
               for i in value.items):
            return first, Dim.const(len(value.items))
    return None, None


def pad_sequence(call: OpCall):
    """``pad_sequence(seqs, batch_first)``: (longest, n, ...) or (n, longest, ...)."""
    seq, count = _sequences(call.arg(0, "sequences"))
    batch_first = bool_arg(call.args, call.kwargs, 1, "batch_first", False)
    if not isinstance(seq, TensorV) or not seq.shape.dims or batch_first is None:
        return None
    length, rest = seq.shape.dims[0], seq.shape.dims[1:]
    if length.value is None:
        length = Dim.unknown(TIME, "padded to the longest sequence")
    elif not length.role:
        length = length.with_role(TIME, "padded to the longest sequence")
    if count.known and not count.role:
        count = count.with_role(BATCH, "one row per sequence padded")
    where = axes(batch_first)
    dims = [None, None]
    dims[where.batch], dims[where.time] = count, length
    made = TensorV(Shape(tuple(dims) + rest), seq.trace, integer=seq.integer, grad=seq.grad)
    return made.step(call.node, made.shape)


def pack_sequence(call: OpCall):
    seq, count = _sequences(call.arg(0, "sequences"))
    if not isinstance(seq, TensorV):
        return PackedV(None)
    return PackedV(seq.shape.last_dim, None, count if count is not None and count.known else None)


def functional_loss(call: OpCall) -> TensorV:
    name = call.qualname.rpartition(".")[2]
    kind = "CrossEntropyLoss" if name == "cross_entropy" else "NLLLoss"
    call.recorder.loss(LossCall(call.node, ModuleInfo(kind, {}, None, name), call.first,
                                call.arg(1, "target")))
    return TensorV(Shape(()), grad=True)


DATA_FUNCTIONS = {"TensorDataset": tensor_dataset, "DataLoader": data_loader,
                  "random_split": random_split, "Subset": subset}
PACKING_FUNCTIONS = {"pack_padded_sequence": pack, "pack_sequence": pack_sequence,
                     "pad_packed_sequence": unpack, "pad_sequence": pad_sequence}
LOSS_FUNCTIONS = {"cross_entropy": functional_loss, "nll_loss": functional_loss}
