"""Layout rules: the order and size of a recurrent module's input."""
from __future__ import annotations

from typing import Optional

from rnnshape.fixkit import FixContext, Plan
from rnnshape.rules.base import Context, Finding, Invalid, Rule
from rnnshape.rules.layout_fix import LayoutData, describe_expected, fix_layout, offending_op
from rnnshape.shapes.axes import layout_conflict
from rnnshape.shapes.dims import FEATURE, Shape

class LayoutMismatch(Rule):
    code = "RNN001"
    name = "layout-mismatch"
    summary = "Recurrent input whose dims are in the wrong order for the module's batch_first"
    what = ("Finds the input of an `nn.LSTM`/`nn.GRU`/`nn.RNN` whose dimensions are provably in "
            "the wrong order: batch and time swapped for the module's `batch_first` setting, or "
            "the feature dimension not last.  It is reported at the `permute`/`transpose` that "
            "produced the order, or at the recurrent call when no layout op did.")
    why = ("A default recurrent module reads `(time, batch, feature)`; with `batch_first=True` "
           "it reads `(batch, time, feature)`.  A feature dim in the wrong place crashes with a "
           "size error at best.  Swapped batch and time do not crash at all: the model trains "
           "on every batch as if it were one long sequence, and learns the wrong thing.")
    fix_note = ("Rewrite the offending `permute` to the order the module expects (safe), or with "
                "`fix --batch-first` switch the module to `batch_first=True`.")
    valid = (
        """import torch
import torch.nn as nn

seq_len, batch_size, vocab_size = 12, 4, 30
lstm = nn.LSTM(vocab_size, 50)
x = torch.zeros(batch_size, seq_len, vocab_size)
out, (h, c) = lstm(x.permute(1, 0, 2))
""",
        """import torch
from torch import nn


class Tagger(nn.Module):
    def __init__(self, channels, hidden):
        super().__init__()
        self.conv = nn.Conv1d(channels, 64, kernel_size=3, padding=1)
        self.rnn = nn.GRU(64, hidden, batch_first=True)

    def forward(self, x):
        feats = self.conv(x)
        out, h = self.rnn(feats.transpose(1, 2))
        return out


model = Tagger(8, 32)
y = model(torch.randn(16, 8, 100))
""",
    )
    invalid = (
        Invalid(
            """import numpy as np
import torch
import torch.nn as nn


def one_hot_encode_sequence(sequence, vocab_size):
    encoding = np.array([np.zeros(vocab_size) for word in sequence])
    return encoding.reshape(1, len(sequence), vocab_size)


vocab_size = 30
lstm = nn.LSTM(input_size=vocab_size, hidden_size=50)
x = torch.Tensor(one_hot_encode_sequence(["a", "b"], vocab_size))
x = x.permute(0, 2, 1)  # <- here
out, _ = lstm(x)
""",
            fixed="""import numpy as np
import torch
import torch.nn as nn


def one_hot_encode_sequence(sequence, vocab_size):
    encoding = np.array([np.zeros(vocab_size) for word in sequence])
    return encoding.reshape(1, len(sequence), vocab_size)


vocab_size = 30
lstm = nn.LSTM(input_size=vocab_size, hidden_size=50)
x = torch.Tensor(one_hot_encode_sequence(["a", "b"], vocab_size))
x = x.permute(1, 0, 2)
out, _ = lstm(x)
""",
            fixed_batch_first="""import numpy as np
import torch
import torch.nn as nn


def one_hot_encode_sequence(sequence, vocab_size):
    encoding = np.array([np.zeros(vocab_size) for word in sequence])
    return encoding.reshape(1, len(sequence), vocab_size)


vocab_size = 30
lstm = nn.LSTM(input_size=vocab_size, hidden_size=50, batch_first=True)
x = torch.Tensor(one_hot_encode_sequence(["a", "b"], vocab_size))
out, _ = lstm(x)
""",
        ),
        Invalid(
            """import torch
from torch.utils.data import DataLoader, TensorDataset
from torch.nn import GRU as G

features = torch.randn(1000, 20, 8)
labels = torch.randn(1000)
loader = DataLoader(TensorDataset(features, labels), batch_size=32)
rnn = G(8, 16)
for xb, yb in loader:
    out, h = rnn(xb)  # <- here
""",
            fixed="""import torch
from torch.utils.data import DataLoader, TensorDataset
from torch.nn import GRU as G

features = torch.randn(1000, 20, 8)
labels = torch.randn(1000)
loader = DataLoader(TensorDataset(features, labels), batch_size=32)
rnn = G(8, 16)
for xb, yb in loader:
    out, h = rnn(xb.transpose(0, 1))
""",
            fixed_batch_first="""import torch
from torch.utils.data import DataLoader, TensorDataset
from torch.nn import GRU as G

features = torch.randn(1000, 20, 8)
labels = torch.randn(1000)
loader = DataLoader(TensorDataset(features, labels), batch_size=32)
rnn = G(8, 16, batch_first=True)
for xb, yb in loader:
    out, h = rnn(xb)
""",
        ),
        Invalid(
            """import torch
from torch import nn


class Tagger(nn.Module):
    def __init__(self, channels, hidden):
        super().__init__()
        self.conv = nn.Conv1d(channels, 64, kernel_size=3, padding=1)
        self.rnn = nn.GRU(64, hidden, batch_first=True)

    def forward(self, x):
        feats = self.conv(x)
        out, h = self.rnn(feats)  # <- here
        return out


model = Tagger(8, 32)
y = model(torch.randn(16, 8, 100))
""",
            fixed="""import torch
from torch import nn


class Tagger(nn.Module):
    def __init__(self, channels, hidden):
        super().__init__()
        self.conv = nn.Conv1d(channels, 64, kernel_size=3, padding=1)
        self.rnn = nn.GRU(64, hidden, batch_first=True)

    def forward(self, x):
        feats = self.conv(x)
        out, h = self.rnn(feats.transpose(1, 2))
        return out


model = Tagger(8, 32)
y = model(torch.randn(16, 8, 100))
""",
        ),
        Invalid(
            """import torch
import torch.nn as nn


class Forecaster(nn.Module):
    def __init__(self, n_features, hidden):
        super().__init__()
        self.lstm = nn.LSTM(n_features, hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.lstm(x)  # <- here
        return self.head(out[-1])


batch_size, seq_len, n_features = 32, 24, 5
model = Forecaster(n_features, 64)
pred = model(torch.randn(batch_size, seq_len, n_features))
""",
            fixed="""import torch
import torch.nn as nn


class Forecaster(nn.Module):
    def __init__(self, n_features, hidden):
        super().__init__()
        self.lstm = nn.LSTM(n_features, hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.lstm(x.transpose(0, 1))
        return self.head(out[-1])


batch_size, seq_len, n_features = 32, 24, 5
model = Forecaster(n_features, 64)
pred = model(torch.randn(batch_size, seq_len, n_features))
""",
            fixed_batch_first="""import torch
import torch.nn as nn


class Forecaster(nn.Module):
    def __init__(self, n_features, hidden):
        super().__init__()
        self.lstm = nn.LSTM(n_features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


batch_size, seq_len, n_features = 32, 24, 5
model = Forecaster(n_features, 64)
pred = model(torch.randn(batch_size, seq_len, n_features))
""",
        ),
    )

    def fix(self, finding: Finding, fctx: FixContext) -> Optional[Plan]:
        return fix_layout(finding.data, fctx)

    def check(self, ctx: Context):
        for call in ctx.facts.recurrent_calls:
            conflict = layout_conflict(call)
            if conflict is None:
                continue
            roles, expected = conflict
            module = call.module
            label = module.label or module.kind
            shown = _with_roles(call.shape, roles)
            want = describe_expected(call, expected)
            bf = module.flag("batch_first")
            op = offending_op(call)
            data = LayoutData(call, tuple(roles), tuple(expected))
            if op is not None:
                message = (f"`{ctx.text(op.node.func.attr) if hasattr(op.node.func, 'attr') else 'permute'}"
                           f"` gives {shown}, but `{label}` ({module.kind}, batch_first={bf}) "
                           f"expects {want}")
                yield self.finding(op.node, message, call.trace, anchor=_attr_of(op.node), data=data)
            else:
                message = (f"`{label}` ({module.kind}, batch_first={bf}) expects {want} but is "
                           f"given {shown}")
                yield self.finding(call.node, message, call.trace, data=data)


def _attr_of(node):
    func = getattr(node, "func", None)
    return getattr(func, "attr", None)


def _with_roles(shape: Shape, roles) -> str:
    dims = shape.dims or ()
    parts = []
    for dim, role in zip(dims, roles):
        parts.append(f"{dim}[{role}]" if role else str(dim))
    return "(" + ", ".join(parts) + ")"


class InputSizeMismatch(Rule):
    code = "RNN002"
    name = "input-size-mismatch"
    summary = "Last dim of a recurrent input provably differs from input_size"
    what = ("Finds a call of a recurrent module whose input's last dimension is provably "
            "different from the module's `input_size` (and no other dim of the input matches, "
            "which would be a layout mismatch instead).")
    why = ("PyTorch raises `RuntimeError: input.size(-1) must be equal to input_size` on the "
           "first batch: the model cannot run.  Usually the wrong constant was passed to the "
           "constructor, or an embedding/feature size changed in one place only.")
    valid = (
        """import torch
import torch.nn as nn

emb = nn.Embedding(1000, 64)
rnn = nn.LSTM(64, 128, batch_first=True)
tokens = torch.zeros(8, 20, dtype=torch.long)
out, _ = rnn(emb(tokens))
""",
    )
    invalid = (
        Invalid(
            """import torch
import torch.nn as nn

emb = nn.Embedding(1000, 64)
rnn = nn.LSTM(100, 128, batch_first=True)
tokens = torch.zeros(8, 20, dtype=torch.long)
out, _ = rnn(emb(tokens))  # <- here
""",
            fixed=None,
        ),
    )

    def check(self, ctx: Context):
        for call in ctx.facts.recurrent_calls:
            dims = call.shape.dims
            if dims is None or len(dims) not in (2, 3) or layout_conflict(call) is not None:
                continue
            size = call.module.dim("input_size")
            if dims[-1].same(size) is not False:
                continue
            if any(d.same(size) is True and d.role in (None, FEATURE) for d in dims[:-1]):
                continue  # the feature is elsewhere: a layout question, not a size one
            label = call.module.label or call.module.kind
            message = (f"`{label}` has input_size={size} but its input {call.shape} ends in "
                       f"{dims[-1]}")
            yield self.finding(call.node, message, call.trace)
