"""Training-behaviour rules: settings that silently do nothing, modes left switched."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from rnnshape import torch_api as api
from rnnshape.fixkit import SAFE, UNSAFE, FixContext, Plan
from rnnshape.rules.base import Context, Finding, Invalid, Rule
from rnnshape.shapes.facts import ModuleInfo, TrainLoop


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
        body = loop.loop.body
        if not isinstance(body, cst.IndentedBlock) or not body.body:
            return None
        first = body.body[0]
        root = loop.receiver.split(".")[0].split("[")[0]
        if not fctx.bound_at(root, first):
            return None  # the model is named in a helper the loop calls, not in the loop
        new = cst.parse_statement(f"{loop.receiver}.train()\n")
        return Plan(SAFE, f"add `{loop.receiver}.train()` at the top of the loop",
                    {first: cst.FlattenSentinel([new, first])})
