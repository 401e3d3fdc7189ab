"""Packing rules: pack_padded_sequence / pad_packed_sequence and their lengths."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst

from rnnshape.fixkit import SAFE, FixContext, Plan, set_keyword
from rnnshape.rules.base import Context, Finding, Invalid, Rule
from rnnshape.shapes.axes import data_layout
from rnnshape.shapes.facts import PackCall
from rnnshape.shapes.values import TensorV


@dataclass(frozen=True)
class PackData:
    """RNN008's finding: the call, and the ``batch_first`` it needs (None: move the lengths
    back to the CPU instead)."""

    call: PackCall
    batch_first: Optional[bool] = None


def _data_batch_first(data) -> Optional[bool]:
    """True/False when the padded data's roles prove its layout, else None."""
    return data_layout(data.shape) if isinstance(data, TensorV) else None


class PackedSequence(Rule):
    code = "RNN008"
    name = "packed-sequence"
    summary = "pack/pad batch_first disagreeing with the data or the module; lengths on the GPU"
    what = ("Finds `pack_padded_sequence` whose `batch_first` disagrees with the layout the "
            "tracker proves for the padded data (or, left to its default, with what the code "
            "says elsewhere: a `pad_packed_sequence(..., batch_first=True)` of the result, a "
            "batch-first module reading it), `pad_packed_sequence` whose `batch_first` "
            "disagrees with the layout the sequences were packed from (or, when that is not "
            "known, with the module that produced the packed output), and `lengths` moved to "
            "the GPU (`.cuda()`, `.to(device)`).")
    why = ("With the wrong `batch_first`, packing reads batch as time: sequences are cut at the "
           "wrong lengths and mixed across samples, silently.  A module ignores its own "
           "`batch_first` for packed input, so unpacking with another layout than the one "
           "packed hands batch-first code a time-first tensor.  And "
           "`lengths` must be a CPU int64 tensor: a CUDA one raises.")
    fix_note = "Set `batch_first` to the data's (or the module's) layout, or move lengths back with `.cpu()` (safe)."
    valid = (
        """import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

rnn = nn.GRU(8, 16, batch_first=True)
batch_size, max_len = 4, 12
x = torch.randn(batch_size, max_len, 8)
lengths = torch.tensor([12, 9, 5, 2])
packed = pack_padded_sequence(x, lengths, batch_first=True)
out, h = rnn(packed)
padded, _ = pad_packed_sequence(out, batch_first=True)
""",
        # a packed sequence ignores the module's batch_first: packed and unpacked alike is right
        """import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

rnn = nn.LSTM(8, 16)
batch_size, max_len = 4, 12
x = torch.randn(batch_size, max_len, 8)
lengths = torch.tensor([12, 9, 5, 2])
out, _ = rnn(pack_padded_sequence(x, lengths, batch_first=True))
padded, _ = pad_packed_sequence(out, batch_first=True)
""",
    )
    invalid = (
        Invalid(
            """import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

rnn = nn.LSTM(8, 16, batch_first=True)
batch_size, max_len = 4, 12
x = torch.randn(batch_size, max_len, 8)
lengths = torch.tensor([12, 9, 5, 2])
out, _ = rnn(pack_padded_sequence(x, lengths, batch_first=True))
padded, _ = pad_packed_sequence(out)  # <- here
""",
            fixed="""import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

rnn = nn.LSTM(8, 16, batch_first=True)
batch_size, max_len = 4, 12
x = torch.randn(batch_size, max_len, 8)
lengths = torch.tensor([12, 9, 5, 2])
out, _ = rnn(pack_padded_sequence(x, lengths, batch_first=True))
padded, _ = pad_packed_sequence(out, batch_first=True)
""",
        ),
        Invalid(
            """import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence

rnn = nn.GRU(8, 16, batch_first=True)
batch_size, max_len = 4, 12
x = torch.randn(batch_size, max_len, 8)
lengths = torch.tensor([12, 9, 5, 2])
packed = pack_padded_sequence(x, lengths)  # <- here
out, h = rnn(packed)
""",
            fixed="""import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence

rnn = nn.GRU(8, 16, batch_first=True)
batch_size, max_len = 4, 12
x = torch.randn(batch_size, max_len, 8)
lengths = torch.tensor([12, 9, 5, 2])
packed = pack_padded_sequence(x, lengths, batch_first=True)
out, h = rnn(packed)
""",
        ),
        Invalid(
            """import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 16)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)  # <- here
        out, _ = self.rnn(packed)
        padded, _ = pad_packed_sequence(out, batch_first=True)
        return padded
""",
            fixed="""import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 16)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False, batch_first=True)
        out, _ = self.rnn(packed)
        padded, _ = pad_packed_sequence(out, batch_first=True)
        return padded
""",
        ),
        Invalid(
            """import torch
from torch.nn.utils.rnn import pack_padded_sequence

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
batch_size, max_len = 4, 12
x = torch.randn(batch_size, max_len, 8).to(device)
lengths = torch.tensor([12, 9, 5, 2]).to(device)
packed = pack_padded_sequence(x, lengths, batch_first=True)  # <- here
""",
            fixed="""import torch
from torch.nn.utils.rnn import pack_padded_sequence

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
batch_size, max_len = 4, 12
x = torch.randn(batch_size, max_len, 8).to(device)
lengths = torch.tensor([12, 9, 5, 2]).to(device)
packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True)
""",
        ),
    )

    def check(self, ctx: Context):
        for call in ctx.facts.pack_calls:
            name = ctx.text(call.node.func)
            if call.kind == "pack":
                data_bf = _data_batch_first(call.data)
                if call.batch_first is not None and data_bf is not None and data_bf != call.batch_first:
                    message = (f"`{name}` has batch_first={call.batch_first} but the data is "
                               f"{call.data.shape}: it would pack batch as time")
                    yield self.finding(call.node, message, call.data.trace,
                                       data=PackData(call, data_bf))
                elif data_bf is None and call.batch_first is False and not call.explicit:
                    stated = self._stated_layout(call)
                    if stated is not None:
                        message = (f"`{name}` packs with the default batch_first=False, but "
                                   f"{stated} says the data is batch-first: it would pack "
                                   f"batch as time")
                        trace = call.data.trace if isinstance(call.data, TensorV) else ()
                        yield self.finding(call.node, message, trace, data=PackData(call, True))
                if isinstance(call.lengths, TensorV) and call.lengths.on_device:
                    message = f"`{name}` needs lengths on the CPU (int64), but they were moved to the GPU"
                    yield self.finding(call.node, message, call.lengths.trace,
                                       data=PackData(call))
            elif call.batch_first is not None:
                finding = self._unpacked(call, name)
                if finding is not None:
                    yield finding

    @staticmethod
    def _stated_layout(call) -> Optional[str]:
        """What else in the code says the packed data is batch-first: the pad call that
        unpacks it with batch_first=True written, or the module it feeds built batch-first."""
        if call.unpacked_with is True:
            return "`pad_packed_sequence(..., batch_first=True)` later"
        if call.consumer is not None and call.consumer.flag("batch_first") is True:
            label = call.consumer.label or call.consumer.kind
            return f"`{label}` (batch_first=True)"
        return None

    def _unpacked(self, call, name: str) -> Optional[Finding]:
        """A packed sequence ignores the module's batch_first: what the padded output should
        match is the layout the sequences were packed from, and only when that is unknown the
        module's flag (the layout its author works in)."""
        packed_bf = getattr(call.data, "batch_first", None)
        pack = getattr(call.data, "pack", None)
        if pack is not None and not pack.explicit and call.explicit:
            return None  # the pack left to its default is the one to fix (see _stated_layout)
        if packed_bf is not None:
            if packed_bf == call.batch_first:
                return None
            message = (f"`{name}` has batch_first={call.batch_first} but the sequences were "
                       f"packed with batch_first={packed_bf}: the padded output comes back in "
                       f"the other layout")
            return self.finding(call.node, message, data=PackData(call, packed_bf))
        module_bf = call.module.flag("batch_first") if call.module is not None else None
        if module_bf is None or module_bf == call.batch_first:
            return None
        label = call.module.label or call.module.kind
        message = (f"`{name}` has batch_first={call.batch_first} but `{label}` is "
                   f"batch_first={module_bf}: the padded output comes back in the other layout")
        return self.finding(call.node, message, data=PackData(call, module_bf))

    def fix(self, finding: Finding, fctx: FixContext) -> Optional[Plan]:
        data: PackData = finding.data
        call = data.call
        node = call.node
        if data.batch_first is None:
            arg = node.args[1].value if len(node.args) > 1 and node.args[1].keyword is None else None
            if arg is None:
                return None
            new = cst.Call(cst.Attribute(arg, cst.Name("cpu")), [])
            return Plan(SAFE, f"`{fctx.text(new)}`", {arg: new})
        value = data.batch_first
        positional = [a for a in node.args if a.keyword is None]
        limit = 3 if call.kind == "pack" else 2
        if len(positional) >= limit:
            return None  # batch_first given positionally: leave the call's shape to a human
        new = set_keyword(node, "batch_first", cst.Name(str(value)))
        return Plan(SAFE, f"set `batch_first={value}`", {node: new})
