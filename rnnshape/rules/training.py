"""Training-behaviour rules: settings that silently do nothing, modes left switched, state
carried across steps."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from rnnshape import torch_api as api
from rnnshape.fixkit import SAFE, UNSAFE, FixContext, Plan, insert_before, loop_top
from rnnshape.rules.base import Context, Finding, Invalid, Rule
from rnnshape.shapes.facts import ModuleInfo, StateFeedback, TrainLoop


class DropoutSingleLayer(Rule):
    code = "RNN104"
    name = "dropout-single-layer"
    summary = "dropout > 0 on a recurrent module with num_layers=1 (no effect)"
    severity = "warning"
    what = ("Finds `nn.LSTM`/`nn.GRU`/`nn.RNN` constructed with `dropout > 0` and "
            "`num_layers` provably 1.")
    why = ("A recurrent module applies `dropout` only *between* stacked layers.  With one layer "
           "it does nothing (PyTorch only warns, once, at run time): the model is not "
           "regularised the way the code says.")
    fix_note = ("Remove the argument (unsafe: you may rather want `num_layers=2`, or an "
                "`nn.Dropout` on the output).")
    valid = (
        """import torch.nn as nn

rnn = nn.LSTM(8, 16, num_layers=2, dropout=0.3)
single = nn.GRU(8, 16)
""",
    )
    invalid = (
        Invalid(
            """import torch.nn as nn

rnn = nn.LSTM(8, 16, dropout=0.3)  # <- here
""",
            fixed="""import torch.nn as nn

rnn = nn.LSTM(8, 16)
""",
        ),
    )

    def check(self, ctx: Context):
        for module in ctx.facts.modules:
            if module.kind not in api.RECURRENT or module.node is None:
                continue
            dropout = module.cfg.get("dropout")
            layers = module.dim("num_layers").value
            if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or dropout <= 0:
                continue
            if layers != 1:
                continue
            label = module.label or module.kind
            message = (f"`{label}` has dropout={dropout} but num_layers=1: recurrent dropout "
                       f"only acts between layers, so it does nothing")
            yield self.finding(module.node, message, data=module)

    def fix(self, finding: Finding, fctx: FixContext) -> Optional[Plan]:
        module: ModuleInfo = finding.data
        node = module.node
        args = [a for a in node.args if not (a.keyword is not None and a.keyword.value == "dropout")]
        if len(args) == len(node.args):
            return None  # given positionally: too easy to shift the others
        if args:
            last_original = node.args[-1]
            args[-1] = args[-1].with_changes(comma=last_original.comma if
                                             args[-1] is last_original else cst.MaybeSentinel.DEFAULT)
        return Plan(UNSAFE, "remove `dropout` (it has no effect with one layer)",
                    {node: node.with_changes(args=args)})


class TrainModeNotRestored(Rule):
    code = "RNN105"
    name = "train-mode-not-restored"
    summary = ".eval() inside a training loop with no .train() to switch back"
    severity = "warning"
    what = ("Finds `model.eval()` inside a loop whose iterations also train (`backward()`), "
            "when nothing in the loop — directly or in the functions it calls — calls "
            "`.train()`.")
    why = ("After the first evaluation the model stays in eval mode: from the second epoch on "
           "it trains with dropout off and batch-norm statistics frozen, which quietly changes "
           "what it learns.")
    fix_note = "Call `model.train()` as the first statement of the loop body (safe)."
    valid = (
        """import torch


def fit(model, optimizer, batches, epochs):
    for epoch in range(epochs):
        model.train()
        for x, y in batches:
            loss = (model(x) - y).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
""",
    )
    invalid = (
        Invalid(
            """import torch


def fit(model, optimizer, batches, epochs):
    for epoch in range(epochs):
        for x, y in batches:
            loss = (model(x) - y).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()  # <- here
""",
            fixed="""import torch


def fit(model, optimizer, batches, epochs):
    for epoch in range(epochs):
        model.train()
        for x, y in batches:
            loss = (model(x) - y).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
""",
        ),
    )

    def check(self, ctx: Context):
        if not ctx.facts.imports_torch:
            return
        for loop in ctx.facts.train_loops:
            message = (f"`{loop.receiver}.eval()` inside a loop that trains, with no "
                       f"`{loop.receiver}.train()` in it: later iterations train in eval mode")
            yield self.finding(loop.eval_node, message, data=loop)

    def fix(self, finding: Finding, fctx: FixContext) -> Optional[Plan]:
        loop: TrainLoop = finding.data
        first = loop_top(loop.loop)
        root = loop.receiver.split(".")[0].split("[")[0]
        if first is None or not fctx.bound_at(root, first):
            return None  # the model is named in a helper the loop calls, not in the loop
        return Plan(SAFE, f"add `{loop.receiver}.train()` at the top of the loop",
                    insert_before(first, f"{loop.receiver}.train()\n"))


class StateNotDetached(Rule):
    code = "RNN107"
    name = "state-not-detached"
    summary = "Recurrent state fed back into the next training step without .detach()"
    severity = "warning"
    what = ("Finds a training loop (one that calls `backward()`) that passes a name to the "
            "model before the loop body binds it, and binds it afterwards to the model's own "
            "final state (`h_n`, or an LSTM's `(h_n, c_n)`) still attached to the graph: "
            "truncated backpropagation through time without the truncation.  Detaching the "
            "state (`h.detach()`, `h.detach_()`, `h = h.data`, `repackage_hidden(h)`, "
            "`tuple(s.detach() for s in h)`), a fresh `init_hidden()` per batch, or a model "
            "that detaches its state itself, are fine.")
    why = ("Each step's state carries the graph of every step before it.  The second "
           "`backward()` goes back into the previous batch's graph, which the first one freed: "
           "`RuntimeError: Trying to backward through the graph a second time`.  With "
           "`retain_graph=True` it fails once the optimizer has updated the weights that "
           "graph saved (`modified by an inplace operation`), or, without a step, each "
           "iteration is slower and larger than the last until memory runs out.")
    fix_note = ("Detach the state at the top of the loop body: `hidden = hidden.detach()`, or "
                "`hidden = tuple(s.detach() for s in hidden)` for an LSTM's pair (safe when "
                "the name is bound before the loop and holds tensors on its first pass).")
    valid = (
        """import torch
import torch.nn as nn

rnn = nn.LSTM(8, 16)
optimizer = torch.optim.SGD(rnn.parameters(), lr=0.1)
state = (torch.zeros(1, 4, 16), torch.zeros(1, 4, 16))
for step in range(100):
    state = tuple(s.detach() for s in state)
    out, state = rnn(torch.randn(5, 4, 8), state)
    optimizer.zero_grad()
    out.sum().backward()
    optimizer.step()
""",
        """import torch
import torch.nn as nn


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


rnn = nn.GRU(8, 16)
optimizer = torch.optim.SGD(rnn.parameters(), lr=0.1)
hidden = torch.zeros(1, 4, 16)
for step in range(100):
    hidden = repackage_hidden(hidden)
    out, hidden = rnn(torch.randn(5, 4, 8), hidden)
    optimizer.zero_grad()
    out.sum().backward()
    optimizer.step()
""",
        """import torch
import torch.nn as nn

rnn = nn.GRU(8, 16)
optimizer = torch.optim.SGD(rnn.parameters(), lr=0.1)
for epoch in range(10):
    hidden = torch.zeros(1, 4, 16)  # a fresh state per sequence
    for step in range(100):
        out, hidden = rnn(torch.randn(5, 4, 8), hidden)
        optimizer.zero_grad()
        out.sum().backward()
        optimizer.step()
        hidden.detach_()
""",
        """import torch
import torch.nn as nn

rnn = nn.GRU(8, 16)
hidden = torch.zeros(1, 4, 16)
with torch.no_grad():
    for step in range(100):  # generation: no backward
        out, hidden = rnn(torch.randn(1, 4, 8), hidden)
""",
    )
    invalid = (
        Invalid(
            """import torch
import torch.nn as nn


class CharRNN(nn.Module):
    def __init__(self, vocab, hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state):
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


model = CharRNN(65, 128)
optimizer = torch.optim.Adam(model.parameters())
criterion = nn.CrossEntropyLoss()
text = torch.randint(0, 65, (32, 1001))
state = (torch.zeros(1, 32, 128), torch.zeros(1, 32, 128))
for i in range(0, 1000, 100):
    x, y = text[:, i:i + 100], text[:, i + 1:i + 101]
    logits, state = model(x, state)  # <- here
    loss = criterion(logits.reshape(-1, 65), y.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
""",
            fixed="""import torch
import torch.nn as nn


class CharRNN(nn.Module):
    def __init__(self, vocab, hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state):
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


model = CharRNN(65, 128)
optimizer = torch.optim.Adam(model.parameters())
criterion = nn.CrossEntropyLoss()
text = torch.randint(0, 65, (32, 1001))
state = (torch.zeros(1, 32, 128), torch.zeros(1, 32, 128))
for i in range(0, 1000, 100):
    state = tuple(s.detach() for s in state)
    x, y = text[:, i:i + 100], text[:, i + 1:i + 101]
    logits, state = model(x, state)
    loss = criterion(logits.reshape(-1, 65), y.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
""",
        ),
        Invalid(
            """import torch
import torch.nn as nn

rnn = nn.GRU(8, 16)
head = nn.Linear(16, 1)
optimizer = torch.optim.SGD(list(rnn.parameters()) + list(head.parameters()), lr=0.1)
hidden = torch.zeros(1, 4, 16)
for step in range(100):
    out, hidden = rnn(torch.randn(5, 4, 8), hidden)  # <- here
    loss = head(out).pow(2).mean()
    optimizer.zero_grad()
    loss.backward(retain_graph=True)
    optimizer.step()
""",
            fixed="""import torch
import torch.nn as nn

rnn = nn.GRU(8, 16)
head = nn.Linear(16, 1)
optimizer = torch.optim.SGD(list(rnn.parameters()) + list(head.parameters()), lr=0.1)
hidden = torch.zeros(1, 4, 16)
for step in range(100):
    hidden = hidden.detach()
    out, hidden = rnn(torch.randn(5, 4, 8), hidden)
    loss = head(out).pow(2).mean()
    optimizer.zero_grad()
    loss.backward(retain_graph=True)
    optimizer.step()
""",
        ),
        Invalid(
            """import torch
import torch.nn as nn

rnn = nn.GRU(8, 16)
optimizer = torch.optim.SGD(rnn.parameters(), lr=0.1)
hidden = None
for step in range(100):
    out, hidden = rnn(torch.randn(5, 4, 8), hidden)  # <- here
    optimizer.zero_grad()
    out.sum().backward()
    optimizer.step()
""",
            fixed=None,
        ),
    )

    def check(self, ctx: Context):
        if not ctx.facts.imports_torch:
            return
        for fed in ctx.facts.state_feedback:
            kind = "`(h_n, c_n)` state" if fed.pair else "final state"
            message = (f"`{fed.name}` is the model's {kind} from the previous training step, "
                       f"fed back without `.detach()`: the next `backward()` reaches into a "
                       "graph already freed (or memory grows with every step)")
            yield self.finding(fed.node, message, data=fed)

    def fix(self, finding: Finding, fctx: FixContext) -> Optional[Plan]:
        fed: StateFeedback = finding.data
        first = loop_top(fed.loop)
        if first is None or fed.initial is None or not fctx.bound_at(fed.name, first):
            return None  # on the first pass it holds no tensor (``None``) or is not seen here
        name = fed.name
        if fed.pair:
            item = "s" if name != "s" else "t"
            text = f"{name} = tuple({item}.detach() for {item} in {name})\n"
        else:
            text = f"{name} = {name}.detach()\n"
        return Plan(SAFE, f"detach `{name}` at the top of the loop", insert_before(first, text))
