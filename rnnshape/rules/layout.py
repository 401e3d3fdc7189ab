"""Layout rules: the order and size of a recurrent module's input."""
from __future__ import annotations

from typing import Optional

from rnnshape.rules.base import Context, Rule
from rnnshape.shapes.dims import BATCH, FEATURE, TIME, Shape
from rnnshape.shapes.facts import RecurrentCall


def expected_roles(batch_first: bool) -> tuple[str, str, str]:
    return (BATCH, TIME, FEATURE) if batch_first else (TIME, BATCH, FEATURE)


def input_roles(call: RecurrentCall) -> Optional[list[Optional[str]]]:
    """The roles of the input's dims, with what ``input_size`` proves added in."""
    dims = call.shape.dims
    if dims is None or len(dims) != 3:
        return None
    roles = [d.role for d in dims]
    input_size = call.module.dim("input_size")
    last_same = dims[2].same(input_size)
    if last_same is True:
        roles[2] = FEATURE
    elif last_same is False:
        # A dim whose origin already names it batch or time keeps that meaning even when its
        # size happens to equal input_size.
        matches = [i for i in (0, 1) if dims[i].same(input_size) is True
                   and roles[i] in (None, FEATURE)]
        if len(matches) == 1:
            roles[matches[0]] = FEATURE
            if roles[2] == FEATURE:
                roles[2] = None
    return roles


def layout_conflict(call: RecurrentCall) -> Optional[tuple[list, tuple]]:
    """(roles, expected) when the input is provably in the wrong order, else None."""
    batch_first = call.module.flag("batch_first")
    if batch_first is None:
        return None
    roles = input_roles(call)
    if roles is None:
        return None
    known = [r for r in roles if r is not None]
    if len(known) != len(set(known)):
        return None  # two dims claim one meaning: the evidence is muddled
    expected = expected_roles(batch_first)
    if any(r is not None and r != e for r, e in zip(roles, expected)):
        return roles, expected
    return None


def complete(roles: list) -> list:
    """Fill in the one missing role when the other two are known."""
    missing = [i for i, r in enumerate(roles) if r is None]
    if len(missing) == 1:
        rest = {BATCH, TIME, FEATURE} - set(roles)
        if len(rest) == 1:
            roles = list(roles)
            roles[missing[0]] = rest.pop()
    return roles


def describe_expected(call: RecurrentCall, expected) -> str:
    size = call.module.dim("input_size")
    names = [f"{size}" if r == FEATURE and size.known else r for r in expected]
    return "(" + ", ".join(names) + ")"


def correct_permutation(call: RecurrentCall, roles, expected) -> Optional[tuple[int, ...]]:
    """The permutation of the layout op's *input* that gives the expected order."""
    op = call.layout_op
    if op is None or op.after != call.shape or op.before.dims is None:
        return None
    roles = complete(roles)
    if None in roles:
        return None
    before_roles: list = [None] * len(op.perm)
    for i, src in enumerate(op.perm):
        before_roles[src] = roles[i]
    return tuple(before_roles.index(r) for r in expected)


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
    )

    fixed = (
        """import numpy as np
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
        """import torch
from torch.utils.data import DataLoader, TensorDataset
from torch.nn import GRU as G

features = torch.randn(1000, 20, 8)
labels = torch.randn(1000)
loader = DataLoader(TensorDataset(features, labels), batch_size=32)
rnn = G(8, 16)
for xb, yb in loader:
    out, h = rnn(xb.transpose(0, 1))
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
        """import torch
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
    )
    # The same examples fixed with `fix --batch-first`.
    fixed_batch_first = (
        """import numpy as np
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
        """import torch
from torch.utils.data import DataLoader, TensorDataset
from torch.nn import GRU as G

features = torch.randn(1000, 20, 8)
labels = torch.randn(1000)
loader = DataLoader(TensorDataset(features, labels), batch_size=32)
rnn = G(8, 16, batch_first=True)
for xb, yb in loader:
    out, h = rnn(xb)
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
        """import torch
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
    )

    def fix(self, finding, fctx):
        return fix_layout(finding, fctx)

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
            op = call.layout_op if call.layout_op is not None and call.layout_op.after == call.shape else None
            data = {"call": call, "roles": roles, "expected": expected,
                    "permutation": correct_permutation(call, roles, expected)}
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
        """import torch
import torch.nn as nn

emb = nn.Embedding(1000, 64)
rnn = nn.LSTM(100, 128, batch_first=True)
tokens = torch.zeros(8, 20, dtype=torch.long)
out, _ = rnn(emb(tokens))  # <- here
""",
    )

    fixed = (
        None,
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


# ---------------------------------------------------------------------- fixes
def _conflict_perm(call: RecurrentCall, target) -> Optional[tuple[int, ...]]:
    """The permutation of the call's input that gives ``target`` roles, if all roles are known."""
    roles = input_roles(call)
    if roles is None:
        return None
    roles = complete(roles)
    if None in roles or len(set(roles)) != 3:
        return None
    return tuple(roles.index(r) for r in target)


def _op_perm(call: RecurrentCall, target) -> Optional[tuple[int, ...]]:
    """The permutation of the layout op's input that gives ``target`` roles."""
    op = call.layout_op
    roles = input_roles(call)
    if op is None or roles is None or op.after != call.shape:
        return None
    roles = complete(roles)
    if None in roles:
        return None
    before = [None] * len(op.perm)
    for i, src in enumerate(op.perm):
        before[src] = roles[i]
    if None in before or len(set(before)) != 3:
        return None
    return tuple(before.index(r) for r in target)


def _rewrite_op(op, perm, fctx) -> Optional[dict]:
    """Replace the layout op by one giving ``perm`` of its input (or drop it for identity)."""
    import libcst as cst
    from rnnshape.fixes import layout_call

    node = op.node
    if not isinstance(node, cst.Call):
        return None
    method = node.func.attr.value if isinstance(node.func, cst.Attribute) else ""
    receiver = op.receiver
    if perm == tuple(range(len(perm))):
        # ``x = x.permute(...)`` that becomes the identity goes away entirely.
        stmt = fctx.statement_of(node)
        if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
            small = stmt.body[0]
            if isinstance(small, cst.Assign) and small.value is node and len(small.targets) == 1 \
                    and fctx.text(small.targets[0].target) == fctx.text(receiver):
                return {stmt: cst.RemovalSentinel.REMOVE}
    return {node: layout_call(receiver, perm, method if method in ("permute", "transpose") else "")}


def _rows(fctx, nodes) -> str:
    rows = sorted({fctx.row(n) for n in nodes})
    return ", ".join(str(r) for r in rows)


def _uses_of(fctx, module, call_node=None):
    return [u for u in fctx.facts.layout_uses
            if u.module is module and (call_node is None or u.call is call_node)]


def default_plan(finding, fctx):
    import libcst as cst
    from rnnshape.fixes import SAFE, UNSAFE, Plan, layout_call

    call: RecurrentCall = finding.data["call"]
    expected = finding.data["expected"]
    roles = complete(list(finding.data["roles"]))
    crash = roles[2] != FEATURE  # the module never ran on this input, so nothing downstream relied on it
    op = call.layout_op if call.layout_op is not None and call.layout_op.after == call.shape else None
    if op is not None:
        perm = _op_perm(call, expected)
        if perm is None:
            return None
        for other in fctx.facts.recurrent_calls:
            if other.layout_op is not None and other.layout_op.node is op.node and \
                    _op_perm(other, expected_roles(bool(other.module.flag("batch_first")))) != perm:
                return None  # the same op feeds modules that want different orders
        changes = _rewrite_op(op, perm, fctx)
        where = f"`{fctx.text(op.node)}`"
    else:
        perm = _conflict_perm(call, expected)
        if perm is None or not call.node.args:
            return None
        arg = call.node.args[0].value
        changes = {arg: layout_call(arg, perm)}
        where = f"the input of `{fctx.text(call.node.func)}`"
    if not changes:
        return None
    uses = [] if crash else _uses_of(fctx, call.module, call.node)
    replacement = next(iter(changes.values()))
    if replacement is cst.RemovalSentinel.REMOVE:
        message = f"remove {where}: the input is already {describe_expected(call, expected)}"
    else:
        message = (f"replace {where} with `{fctx.text(replacement)}` to get "
                   f"{describe_expected(call, expected)}")
    if uses:
        return Plan(UNSAFE, message + f"; the output's layout changes: check line(s) {_rows(fctx, [u.node for u in uses])}",
                    changes)
    return Plan(SAFE, message, changes)


def batch_first_plan(module, fctx):
    """Switch ``module`` to ``batch_first=True`` and rewrite what depends on its layout."""
    import libcst as cst
    from rnnshape.fixes import SAFE, UNSAFE, Plan, layout_call, set_keyword

    if module.node is None or any(a.star for a in module.node.args):
        return None
    changes = {module.node: set_keyword(module.node, "batch_first", cst.Name("True"))}
    target = expected_roles(True)
    for call in fctx.facts.recurrent_calls:
        if call.module is not module:
            continue
        op = call.layout_op if call.layout_op is not None and call.layout_op.after == call.shape else None
        if op is not None:
            perm = _op_perm(call, target)
            if perm is None:
                return None
            if op.node not in changes:
                changes.update(_rewrite_op(op, perm, fctx) or {})
        else:
            perm = _conflict_perm(call, target)
            if perm is None or not call.node.args:
                return None
            if perm != (0, 1, 2):
                arg = call.node.args[0].value
                changes[arg] = layout_call(arg, perm)
    doubtful = []
    for use in _uses_of(fctx, module):
        rewritten = _rewrite_use(use, fctx)
        if rewritten is None:
            doubtful.append(use.node)
        elif rewritten:
            if use.node in changes:
                return None
            changes[use.node] = rewritten
    message = f"set `batch_first=True` on `{module.label or module.kind}` and feed it (batch, time, feature)"
    if doubtful:
        return Plan(UNSAFE, message + f"; check line(s) {_rows(fctx, doubtful)}, which depend on the output layout",
                    changes)
    return Plan(SAFE, message, changes)


def _rewrite_use(use, fctx):
    """New node for a use of the output once it is batch-first; {} when unchanged; None when unsure."""
    import libcst as cst
    from rnnshape.fixes import int_args

    node = use.node
    dims = use.shape.dims
    if use.kind == "index" and isinstance(node, cst.Subscript):
        elements = list(node.slice)
        if any(isinstance(e.slice, cst.Index) and (
                isinstance(e.slice.value, cst.Ellipsis) or
                (isinstance(e.slice.value, cst.Name) and e.slice.value.value == "None"))
                for e in elements):
            return None
        full = cst.SubscriptElement(cst.Slice(lower=None, upper=None))
        while len(elements) < 2:
            elements.append(full)
        first, second = elements[0], elements[1]
        elements[0] = second.with_changes(comma=first.comma)
        elements[1] = first.with_changes(comma=second.comma)
        # ``out[-1, :]`` reads better as ``out[-1]``: drop trailing full slices.
        while len(elements) > 1 and isinstance(elements[-1].slice, cst.Slice) and \
                elements[-1].slice.lower is None and elements[-1].slice.upper is None and \
                elements[-1].slice.step is None:
            elements.pop()
        elements[-1] = elements[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        for i in range(len(elements) - 1):
            if elements[i].comma is cst.MaybeSentinel.DEFAULT:
                elements[i] = elements[i].with_changes(
                    comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        return node.with_changes(slice=elements)
    if use.kind == "flatten":
        if dims is not None and len(dims) >= 2 and (dims[0].value == 1 or dims[1].value == 1):
            return {}  # with a batch (or a sequence) of one both orders flatten alike
        return None
    if use.kind in ("permute", "transpose") and isinstance(node, cst.Call) and \
            isinstance(node.func, cst.Attribute) and dims is not None:
        perm = _literal_perm(node, len(dims), use.kind)
        if perm is None:
            return None
        swap = list(range(len(dims)))
        swap[0], swap[1] = 1, 0
        new = tuple(swap[p] for p in perm)
        from rnnshape.fixes import layout_call
        if new == tuple(range(len(new))):
            return node.func.value
        return layout_call(node.func.value, new, node.func.attr.value)
    if use.kind == "size" and isinstance(node, cst.Call) and node.args:
        axis = node.args[0].value
        value = _int(axis)
        if value is None:
            return None
        swapped = {0: 1, 1: 0, -3: -2, -2: -3}.get(value)
        if swapped is None:
            return {}
        return node.with_changes(args=[node.args[0].with_changes(value=int_args([swapped])[0].value)])
    return None


def _int(node):
    import libcst as cst
    if isinstance(node, cst.Integer):
        return int(node.value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus) and \
            isinstance(node.expression, cst.Integer):
        return -int(node.expression.value)
    return None


def _literal_perm(node, rank, kind):
    values = [_int(a.value) for a in node.args]
    if None in values:
        return None
    values = [v % rank for v in values]
    if kind == "permute":
        return tuple(values) if sorted(values) == list(range(rank)) else None
    if len(values) != 2:
        return None
    perm = list(range(rank))
    perm[values[0]], perm[values[1]] = perm[values[1]], perm[values[0]]
    return tuple(perm)


def fix_layout(finding, fctx):
    call: RecurrentCall = finding.data["call"]
    if fctx.options.batch_first and call.module.flag("batch_first") is False:
        plan = batch_first_plan(call.module, fctx)
        if plan is not None:
            return plan
    return default_plan(finding, fctx)

