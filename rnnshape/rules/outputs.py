"""Output rules: taking time steps, flattening, and feeding losses."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from rnnshape.fixkit import SAFE, FixContext, Plan, layout_call
from rnnshape.rules.base import Context, Finding, Invalid, Rule
from rnnshape.rules.layout_fix import swap_index
from rnnshape.shapes.axes import layout_conflict
from rnnshape.shapes.dims import BATCH, TIME
from rnnshape.shapes.facts import LayoutUse, LossCall, ViewCall
from rnnshape.syntax import int_value, whole_axis


def _index_value(element) -> Optional[int]:
    return int_value(element.slice.value) if isinstance(element.slice, cst.Index) else None


class TimeStepIndex(Rule):
    code = "RNN005"
    name = "time-step-index"
    summary = "out[-1] on batch-first output or out[:, -1] on seq-first output"
    what = ("Finds `out[-1]` taken from the output of a `batch_first=True` module (that is the "
            "last *sample*, not the last step) and `out[:, -1]` taken from a seq-first module's "
            "output (the last *batch element* at every step).  A batch provably of size 1 is "
            "not reported.")
    why = ("Both select a tensor of a plausible shape, so nothing fails: the model trains on "
           "the wrong slice.  With `out[:, -1]` on seq-first output every sample in the batch "
           "gets the features of the last one.")
    fix_note = "Index the time axis instead: `out[:, -1]` for batch-first, `out[-1]` for seq-first (safe)."
    valid = (
        """import torch
import torch.nn as nn

rnn = nn.LSTM(8, 16, batch_first=True)
out, _ = rnn(torch.randn(4, 10, 8))
last = out[:, -1]
seq_rnn = nn.GRU(8, 16)
out2, _ = seq_rnn(torch.randn(10, 4, 8))
last2 = out2[-1]
""",
    )
    invalid = (
        Invalid(
            """import torch
import torch.nn as nn

rnn = nn.LSTM(8, 16, batch_first=True)
out, _ = rnn(torch.randn(4, 10, 8))
last = out[-1]  # <- here
""",
            fixed="""import torch
import torch.nn as nn

rnn = nn.LSTM(8, 16, batch_first=True)
out, _ = rnn(torch.randn(4, 10, 8))
last = out[:, -1]
""",
        ),
        Invalid(
            """import torch
import torch.nn as nn

rnn = nn.GRU(8, 16)
out, _ = rnn(torch.randn(10, 4, 8))
last = out[:, -1, :]  # <- here
""",
            fixed="""import torch
import torch.nn as nn

rnn = nn.GRU(8, 16)
out, _ = rnn(torch.randn(10, 4, 8))
last = out[-1]
""",
        ),
    )

    def check(self, ctx: Context):
        calls = {id(c.node): c for c in ctx.facts.recurrent_calls}
        seen = set()
        for use in ctx.facts.layout_uses:
            node = use.node
            if use.kind != "index" or not isinstance(node, cst.Subscript) or id(node) in seen:
                continue
            call = calls.get(id(use.call))
            if call is not None and layout_conflict(call) is not None:
                continue  # the input is in the wrong order: RNN001 says so, and its fix decides
            batch_first = use.module.flag("batch_first")
            dims = use.shape.dims
            elements = list(node.slice)
            if batch_first is None or dims is None or len(dims) != 3 or not elements:
                continue
            if batch_first and _index_value(elements[0]) == -1 and dims[0].value != 1:
                what = "the last sample of the batch, not the last time step"
            elif not batch_first and len(elements) >= 2 and whole_axis(elements[0]) and \
                    _index_value(elements[1]) == -1 and dims[1].value != 1:
                what = "the last batch element at every time step, not the last time step"
            else:
                continue
            seen.add(id(node))
            label = use.module.label or use.module.kind
            message = (f"`{ctx.one_line(node)}` on `{label}` output (batch_first={batch_first}, "
                       f"{use.shape}) takes {what}")
            yield self.finding(node, message, data=use)

    def fix(self, finding: Finding, fctx: FixContext) -> Optional[Plan]:
        use: LayoutUse = finding.data
        # The finding is that the pick is on the wrong one of dims 0 and 1: swap them.
        new = swap_index(use.node) if isinstance(use.node, cst.Subscript) else None
        if not new:
            return None
        return Plan(SAFE, f"index the time axis: `{fctx.text(new)}`", {use.node: new})


def _flatten_order(parts) -> Optional[tuple]:
    return tuple(parts) if parts is not None and len(parts) == 2 else None


def _swapped(a: tuple, b: tuple) -> Optional[bool]:
    """True when two 2-dim flattenings merge the same dims in opposite order."""
    if a[0].same(b[0]) is True and a[1].same(b[1]) is True:
        return False
    if a[0].same(b[1]) is True and a[1].same(b[0]) is True and a[0].same(a[1]) is False:
        return True
    roles_a, roles_b = [d.role for d in a], [d.role for d in b]
    for roles in (roles_a, roles_b):
        if roles.count(None) == 1 and {r for r in roles if r} <= {BATCH, TIME}:
            known = next(r for r in roles if r)
            roles[roles.index(None)] = TIME if known == BATCH else BATCH
    if set(roles_a) == set(roles_b) == {BATCH, TIME}:
        return roles_a != roles_b
    return None


class FlattenOrder(Rule):
    code = "RNN006"
    name = "flatten-order"
    summary = "view on a permuted tensor, or logits and targets flattened in different orders"
    what = ("Finds `.view(...)` on a tensor whose dims a `permute`/`transpose` made "
            "non-contiguous, where the view merges dims that are no longer adjacent in memory; "
            "and a loss whose logits were flattened time-major (`(seq, batch, C).view(-1, C)`) "
            "while its targets were flattened batch-major (`(batch, seq).reshape(-1)`), or the "
            "reverse.  A batch or sequence provably of size 1 flattens alike either way.")
    why = ("The first raises `view size is not compatible with input tensor's size and stride` "
           "at run time.  The second raises nothing: row *i* of the logits is scored against "
           "the target of a different sample and step, and the model learns noise.")
    fix_note = ("`view` becomes `reshape` (safe).  For mismatched flattening there is no automatic "
                "fix: the message says which side to transpose before flattening.")
    valid = (
        """import torch
import torch.nn as nn

rnn = nn.GRU(8, 16, batch_first=True)
head = nn.Linear(16, 5)
criterion = nn.CrossEntropyLoss()
batch_size, seq_len = 4, 10
x = torch.randn(batch_size, seq_len, 8)
y = torch.randint(0, 5, (batch_size, seq_len))
out, _ = rnn(x)
logits = head(out)
loss = criterion(logits.reshape(-1, 5), y.reshape(-1))
flat = x.transpose(1, 2).reshape(batch_size, -1)
""",
    )
    invalid = (
        Invalid(
            """import torch

batch_size, seq_len = 4, 10
x = torch.randn(batch_size, seq_len, 8)
flat = x.transpose(0, 1).view(seq_len * batch_size, 8)  # <- here
""",
            fixed="""import torch

batch_size, seq_len = 4, 10
x = torch.randn(batch_size, seq_len, 8)
flat = x.transpose(0, 1).reshape(seq_len * batch_size, 8)
""",
        ),
        Invalid(
            """import torch
import torch.nn as nn

rnn = nn.GRU(8, 16)
head = nn.Linear(16, 5)
criterion = nn.CrossEntropyLoss()
batch_size, seq_len = 4, 10
x = torch.randn(seq_len, batch_size, 8)
y = torch.randint(0, 5, (batch_size, seq_len))
out, _ = rnn(x)
logits = head(out)
loss = criterion(logits.view(-1, 5), y.reshape(-1))  # <- here
""",
            fixed=None,
        ),
    )

    def check(self, ctx: Context):
        for view in ctx.facts.view_calls:
            message = (f"`.view` merges dims of {view.before} that the permute/transpose before it "
                       f"made non-adjacent in memory: it raises at run time")
            yield self.finding(view.node, message, view.trace, anchor=view.node.func.attr,
                               data=view)
        for loss in ctx.facts.loss_calls:
            logits, target = loss.input, loss.target
            if not _has_dims(logits) or not _has_dims(target):
                continue
            a = _flatten_order(logits.shape.dims[0].parts)
            b = _flatten_order(target.shape.dims[0].parts)
            if a is None or b is None or any(d.value == 1 for d in a + b):
                continue
            if _swapped(a, b) is not True:
                continue
            order = lambda parts: ", ".join(f"{d}[{d.role}]" if d.role else str(d) for d in parts)  # noqa: E731
            message = (f"logits are flattened from ({order(a)}) but targets from ({order(b)}): "
                       f"each prediction is scored against another sample's target; transpose "
                       f"one side before flattening")
            yield self.finding(loss.node, message, logits.trace)

    def fix(self, finding: Finding, fctx: FixContext) -> Optional[Plan]:
        view: Optional[ViewCall] = finding.data
        if view is None:
            return None  # logits and targets flattened in different orders: no automatic fix
        node = view.node
        return Plan(SAFE, "use `.reshape`, which copies when it must",
                    {node.func.attr: cst.Name("reshape")})


def _has_dims(value) -> bool:
    dims = getattr(getattr(value, "shape", None), "dims", None)
    return bool(dims)


class LossShape(Rule):
    code = "RNN007"
    name = "loss-shape"
    summary = "CrossEntropyLoss/NLLLoss given (N, L, C) logits with (N, L) targets"
    what = ("Finds `nn.CrossEntropyLoss`, `nn.NLLLoss`, `F.cross_entropy` or `F.nll_loss` "
            "called with 3-d logits whose first two dims provably equal the 2-d target's: the "
            "class dim is last, where these losses want it second.")
    why = ("For sequence outputs these losses expect `(N, C, L)` logits (or both sides "
           "flattened).  `(N, L, C)` raises `Expected target size (N, C)` — or, when `L == C`, "
           "silently scores each step's logits across time instead of across classes.")
    fix_note = "Permute the logits to `(N, C, L)`: `logits.permute(0, 2, 1)` (safe)."
    valid = (
        """import torch
import torch.nn as nn
import torch.nn.functional as F

logits = torch.randn(4, 10, 5)
targets = torch.randint(0, 5, (4, 10))
loss = nn.CrossEntropyLoss()(logits.permute(0, 2, 1), targets)
loss2 = F.cross_entropy(logits.reshape(-1, 5), targets.reshape(-1))
""",
    )
    invalid = (
        Invalid(
            """import torch
import torch.nn as nn

rnn = nn.LSTM(8, 16, batch_first=True)
head = nn.Linear(16, 5)
criterion = nn.CrossEntropyLoss()
out, _ = rnn(torch.randn(4, 10, 8))
targets = torch.randint(0, 5, (4, 10))
loss = criterion(head(out), targets)  # <- here
""",
            fixed="""import torch
import torch.nn as nn

rnn = nn.LSTM(8, 16, batch_first=True)
head = nn.Linear(16, 5)
criterion = nn.CrossEntropyLoss()
out, _ = rnn(torch.randn(4, 10, 8))
targets = torch.randint(0, 5, (4, 10))
loss = criterion(head(out).permute(0, 2, 1), targets)
""",
        ),
    )

    def check(self, ctx: Context):
        for loss in ctx.facts.loss_calls:
            if loss.loss.kind not in ("CrossEntropyLoss", "NLLLoss"):
                continue
            logits, target = loss.input, loss.target
            if not _has_dims(logits) or not _has_dims(target):
                continue
            a, b = logits.shape.dims, target.shape.dims
            if len(a) != 3 or len(b) != 2:
                continue
            if a[0].same(b[0]) is not True or a[1].same(b[1]) is not True:
                continue
            if a[2].same(a[1]) is True:
                continue  # square: cannot tell which dim holds the classes
            message = (f"logits {logits.shape} with targets {target.shape}: "
                       f"{loss.loss.label or loss.loss.kind} wants the classes in dim 1, (N, C, L)")
            yield self.finding(loss.node, message, logits.trace, data=loss)

    def fix(self, finding: Finding, fctx: FixContext) -> Optional[Plan]:
        loss: LossCall = finding.data
        node = loss.node
        if not node.args or node.args[0].keyword is not None:
            return None
        arg = node.args[0].value
        new = layout_call(arg, (0, 2, 1), "permute")
        return Plan(SAFE, f"permute the logits to (N, C, L): `{fctx.text(new)}`", {arg: new})
