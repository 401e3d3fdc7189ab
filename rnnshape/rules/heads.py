"""Head rules: layers fed by a recurrent module's output."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from rnnshape.fixkit import SAFE, FixContext, Plan, doubled
from rnnshape.rules.base import Context, Finding, Invalid, Rule
from rnnshape.shapes.facts import LayerCall
from rnnshape.syntax import argument


class HeadSizeMismatch(Rule):
    code = "RNN004"
    name = "head-size-mismatch"
    summary = "Layer fed by recurrent output whose in_features differ from hidden * directions"
    what = ("Finds an `nn.Linear` fed by a recurrent module's output (directly or through "
            "indexing, dropout, activations, reshapes that keep the last dim) whose "
            "`in_features` provably differ from the output's feature size: `hidden_size` times "
            "2 for a bidirectional module, or `proj_size` for an LSTM with a projection.")
    why = ("A bidirectional module concatenates both directions, so its output has "
           "`2 * hidden_size` features.  A head built with `Linear(hidden_size, ...)` fails with "
           "a matrix-size error as soon as the model runs, typically after the data pipeline has "
           "already been built and the first epoch started.")
    fix_note = "Write `in_features` as `2 * <hidden expression>` (or the `proj_size`) of the module."
    valid = (
        """import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self, vocab, hidden_size, classes):
        super().__init__()
        self.emb = nn.Embedding(vocab, 32)
        self.rnn = nn.LSTM(32, hidden_size, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(hidden_size * 2, classes)

    def forward(self, tokens):
        out, _ = self.rnn(self.emb(tokens))
        return self.fc(out[:, -1, :])
""",
    )
    invalid = (
        Invalid(
            """import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self, vocab, hidden_size, classes):
        super().__init__()
        self.emb = nn.Embedding(vocab, 32)
        self.rnn = nn.LSTM(32, hidden_size, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(hidden_size, classes)  # <- here

    def forward(self, tokens):
        out, _ = self.rnn(self.emb(tokens))
        return self.fc(out[:, -1, :])
""",
            fixed="""import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self, vocab, hidden_size, classes):
        super().__init__()
        self.emb = nn.Embedding(vocab, 32)
        self.rnn = nn.LSTM(32, hidden_size, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden_size, classes)

    def forward(self, tokens):
        out, _ = self.rnn(self.emb(tokens))
        return self.fc(out[:, -1, :])
""",
        ),
    )

    def fix(self, finding: Finding, fctx: FixContext) -> Optional[Plan]:
        call: LayerCall = finding.data
        layer, source = call.layer, call.source
        ctor = layer.node
        arg = argument(ctor, 0, "in_features") if ctor is not None else None
        if arg is None or source.node is None:
            return None
        if source.kind == "LSTM" and source.dim("proj_size").value:
            size_node = argument(source.node, 8, "proj_size")
        else:
            size_node = argument(source.node, 1, "hidden_size")
        dirs = source.directions
        if size_node is None or dirs is None:
            return None
        if not isinstance(size_node, cst.Integer) and fctx.scope_of(ctor) is not fctx.scope_of(source.node):
            return None  # the module's own expression may mean something else where the layer is built
        if isinstance(size_node, cst.Integer):
            new_text = str(int(size_node.value) * dirs)
        elif dirs == 1:
            new_text = fctx.text(size_node)
        else:
            new_text = doubled(size_node, fctx.text(size_node))
        return Plan(SAFE, f"in_features = {new_text}", {arg: cst.parse_expression(new_text)})

    def check(self, ctx: Context):
        seen = set()
        for call in ctx.facts.layer_calls:
            layer, source = call.layer, call.source
            in_features = layer.dim("in_features")
            last = call.shape.last_dim
            if last is None or in_features.same(last) is not False:
                continue
            node = layer.node if layer.node is not None else call.node
            if id(node) in seen:
                continue
            seen.add(id(node))
            why = ""
            if source.flag("bidirectional"):
                why = " (bidirectional: both directions are concatenated)"
            elif source.kind == "LSTM" and source.dim("proj_size").value:
                why = " (the LSTM projects to proj_size)"
            label = layer.label or "Linear"
            src_label = source.label or source.kind
            message = (f"`{label}` has in_features={in_features} but is fed `{src_label}` output "
                       f"with {last} features{why}")
            yield self.finding(node, message, call.trace, data=call)

