"""Device placement: tensors left on the CPU while the model they meet has moved away."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

import libcst as cst

from rnnshape.fixkit import SAFE, FixContext, Plan, graft, set_keyword
from rnnshape.rules.base import Context, Finding, Invalid, Rule
from rnnshape.shapes.facts import DeviceFree, UnmovedInput

# Constructors that take ``device=`` (the legacy typed ones do not).
_TAKES_DEVICE = ("zeros", "ones", "empty", "randn", "rand", "full", "randint", "tensor",
                 "as_tensor", "arange", "linspace", "eye")
_DOTTED = re.compile(r"[A-Za-z_][\w.]*")


@dataclass(frozen=True)
class MadeOnCpu:
    """RNN106's finding on a tensor a model's method makes without ``device=``, and how the
    program moves that model."""

    made: DeviceFree
    how: str


class DeviceMismatch(Rule):
    code = "RNN106"
    name = "device-mismatch"
    summary = "A tensor left on the CPU meets a model the program moves to a device"
    severity = "warning"
    what = ("In a program that moves a model with `.to(device)` or `.cuda()` (to a device that "
            "is not provably the CPU), finds: a tensor that a method of the model (`forward`, "
            "`init_hidden`, ...) makes with a torch constructor without `device=` and feeds to "
            "one of its layers; a tensor made on the CPU outside the model (a constructor, a "
            "`DataLoader` over such tensors) passed unmoved to the moved model, when it reaches one "
            "of its layers with parameters, or given as the target of a loss on the model's "
            "output; and `.numpy()` "
            "on a tensor the program put on the device, without `.cpu()`.  A tensor moved "
            "afterwards (`.to(x.device)`, `.cuda()`, `.type_as(x)`), made with `x.new_zeros`/"
            "`zeros_like` or with `device=`, or a program that never moves its model, is fine.")
    why = ("The code runs on a CPU-only machine and fails the first time it runs on a GPU: "
           "`RuntimeError: Expected all tensors to be on the same device` (or `Input and "
           "hidden tensors are not at the same device`), and `.numpy()` raises `can't convert "
           "cuda:0 device type tensor to numpy`.  Nothing shows it until then.")
    fix_note = ("Make the tensor where its data is: `device=x.device` with a tensor argument "
                "of the method (or the program's own device name), `.to(device)` on the batch, "
                "`.cpu()` before `.numpy()`.  Safe when the name is bound where the edit goes; "
                "otherwise no fix.")
    valid = (
        """import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, batch_first=True)

    def forward(self, x):
        h0 = torch.zeros(1, x.size(0), 16, device=x.device)
        c0 = x.new_zeros(1, x.size(0), 16)
        out, _ = self.lstm(x, (h0, c0))
        return out


model = Tagger().to(device)
out = model(torch.randn(4, 5, 8, device=device))
""",
        """import torch
import torch.nn as nn


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 16)

    def forward(self, x):
        h0 = torch.zeros(1, x.size(1), 16)  # the model stays on the CPU: fine
        out, _ = self.gru(x, h0)
        return out


model = Tagger()
out = model(torch.randn(5, 4, 8))
""",
        """import torch
import torch.nn as nn


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 16)

    def forward(self, x):
        h0 = torch.zeros(1, x.size(1), 16).to(x.device)
        h1 = torch.zeros(1, x.size(1), 16).type_as(x)
        out, _ = self.gru(x, h0)
        out, _ = self.gru(x, h1)
        return out


model = Tagger().cuda()
out = model(torch.randn(5, 4, 8).cuda())
""",
        """import torch
import torch.nn as nn

model = nn.GRU(8, 16).to("cpu")
x = torch.randn(5, 4, 8)
out, h = model(x)
""",
        """import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

device = torch.device("cuda")
loader = DataLoader(TensorDataset(torch.randn(100, 5, 8)), batch_size=10)
model = nn.GRU(8, 16, batch_first=True).to(device)
for (x,) in loader:
    x = x.to(device)
    out, h = model(x)
    with torch.no_grad():
        last = out[:, -1].cpu().numpy()
""",
    )
    invalid = (
        Invalid(
            """import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class CharRNN(nn.Module):
    def __init__(self, vocab, hidden):
        super().__init__()
        self.hidden = hidden
        self.embed = nn.Embedding(vocab, hidden)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)

    def forward(self, x):
        h0 = torch.zeros(1, x.size(0), self.hidden)  # <- here
        out, _ = self.gru(self.embed(x), h0)
        return out


model = CharRNN(65, 32).to(device)
""",
            fixed="""import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class CharRNN(nn.Module):
    def __init__(self, vocab, hidden):
        super().__init__()
        self.hidden = hidden
        self.embed = nn.Embedding(vocab, hidden)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)

    def forward(self, x):
        h0 = torch.zeros(1, x.size(0), self.hidden, device=x.device)
        out, _ = self.gru(self.embed(x), h0)
        return out


model = CharRNN(65, 32).to(device)
""",
        ),
        Invalid(
            """import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16)

    def forward(self, x, hidden):
        return self.lstm(x, hidden)

    def init_hidden(self, batch):
        return (torch.zeros(1, batch, 16),  # <- here
                torch.zeros(1, batch, 16))  # <- here


model = LM().to(device)
hidden = model.init_hidden(4)
out, hidden = model(torch.randn(5, 4, 8, device=device), hidden)
""",
            fixed="""import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16)

    def forward(self, x, hidden):
        return self.lstm(x, hidden)

    def init_hidden(self, batch):
        return (torch.zeros(1, batch, 16, device=device),
                torch.zeros(1, batch, 16, device=device))


model = LM().to(device)
hidden = model.init_hidden(4)
out, hidden = model(torch.randn(5, 4, 8, device=device), hidden)
""",
        ),
        Invalid(
            """import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
features = torch.tensor(np.zeros((100, 5, 8), dtype=np.float32))
loader = DataLoader(TensorDataset(features), batch_size=10)
model = nn.GRU(8, 16, batch_first=True).to(device)
for (x,) in loader:
    out, h = model(x)  # <- here
""",
            fixed="""import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
features = torch.tensor(np.zeros((100, 5, 8), dtype=np.float32))
loader = DataLoader(TensorDataset(features), batch_size=10)
model = nn.GRU(8, 16, batch_first=True).to(device)
for (x,) in loader:
    out, h = model(x.to(device))
""",
        ),
        Invalid(
            """import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
x = torch.randn(4, 8).to(device)
z = x.numpy()  # <- here
""",
            fixed="""import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
x = torch.randn(4, 8).to(device)
z = x.cpu().numpy()
""",
        ),
    )

    def check(self, ctx: Context):
        facts = ctx.facts
        if not facts.imports_torch or facts.default_device:
            return
        for made in facts.device_free:
            how = facts.moved_classes.get(made.owner)
            if how is None:
                continue
            move = ".cuda()" if how == "cuda" else f".to({how})"
            where = f" in `{made.method}`" if made.method else ""
            message = (f"`{ctx.one_line(made.node.func)}(...)`{where} makes a tensor on the "
                       f"CPU (no `device=`), but the program moves the model with `{move}`: "
                       f"on a GPU, `{ctx.one_line(made.use.func)}(...)` fails with tensors on "
                       "two devices")
            yield self.finding(made.node, message, data=MadeOnCpu(made, how))
        for unmoved in facts.unmoved_inputs:
            move = ".cuda()" if unmoved.move is None else f".to({unmoved.move})"
            moved = "the model's output it compares it with is on the device" if unmoved.loss \
                else f"`{unmoved.model}` is moved with `{move}`"
            message = (f"`{ctx.one_line(unmoved.arg)}` is made on the CPU "
                       f"(`{ctx.one_line(unmoved.made)}`), but {moved}: on a GPU the call "
                       "fails with tensors on two devices")
            yield self.finding(unmoved.node, message, data=unmoved)
        for call in facts.device_numpy:
            receiver = ctx.one_line(call.node.func.value)
            if len(receiver) > 40:
                receiver = receiver[:37] + "..."
            message = (f"`{receiver}` is on the device: `.numpy()` raises for a GPU tensor "
                       "unless it is moved with `.cpu()` first")
            yield self.finding(call.node, message, call.trace, anchor=call.node.func.attr,
                               data=call)

    def fix(self, finding: Finding, fctx: FixContext) -> Optional[Plan]:
        data = finding.data
        if isinstance(data, MadeOnCpu):
            return _device_keyword(data.made, data.how, fctx)
        if isinstance(data, UnmovedInput):
            return _move_argument(data, fctx)
        node = finding.node
        receiver = graft("_.cpu()", node.func.value)
        return Plan(SAFE, "insert `.cpu()` before `.numpy()`",
                    {node: node.with_changes(func=node.func.with_changes(value=receiver))})


def _device_keyword(made: DeviceFree, how: str, fctx: FixContext) -> Optional[Plan]:
    node = made.node
    if not isinstance(node.func, cst.Attribute) or node.func.attr.value not in _TAKES_DEVICE:
        return None
    if made.source is not None and fctx.bound_at(made.source, node):
        device = f"{made.source}.device"
    elif how != "cuda" and _DOTTED.fullmatch(how) and fctx.bound_at(how.split(".")[0], node) \
            and how.split(".")[0] != "self":
        device = how  # the name the program moves the model to, seen from here
    else:
        return None
    new = set_keyword(node, "device", cst.parse_expression(device))
    return Plan(SAFE, f"add `device={device}`", {node: new})


def _move_argument(unmoved: UnmovedInput, fctx: FixContext) -> Optional[Plan]:
    if unmoved.pair:
        return None  # a tuple has no ``.to()``; where it is made is the place to fix
    if unmoved.move is None:
        template = "_.cuda()"
    elif _DOTTED.fullmatch(unmoved.move) and fctx.bound_at(unmoved.move.split(".")[0],
                                                           unmoved.node):
        template = f"_.to({unmoved.move})"
    else:
        return None
    arg = unmoved.arg
    return Plan(SAFE, f"move `{fctx.text(arg)}` with `{template[1:]}`",
                {arg: graft(template, arg)})
