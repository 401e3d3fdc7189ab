"""Usage hygiene: gradients in evaluation, numpy conversion, seeding."""
from __future__ import annotations

import re
from typing import Optional

import libcst as cst

from rnnshape import torch_api as api
from rnnshape.fixkit import SAFE, UNSAFE, FixContext, Plan, graft
from rnnshape.rules.base import Context, Finding, Invalid, Rule
from rnnshape.shapes.facts import EvalRegion, SeedCall


class EvalWithoutNoGrad(Rule):
    code = "RNN101"
    name = "eval-without-no-grad"
    summary = "Model called in eval mode outside torch.no_grad()/inference_mode()"
    severity = "warning"
    what = ("Finds model calls that follow `model.eval()` in the same block (up to the next "
            "`.train()`), in a region that never calls `backward()`, and that run outside "
            "`with torch.no_grad()`, `with torch.inference_mode()` or a function decorated with "
            "`@torch.no_grad()`.  Reported at the first such call.")
    why = ("`eval()` only switches dropout and batch-norm behaviour; it does not stop autograd.  "
           "Without `no_grad` every validation step builds a graph it never uses: memory grows "
           "with the validation set, it runs slower, and `.numpy()` on the outputs fails.")
    fix_note = "Wrap the evaluation region in `with torch.no_grad():`."
    valid = (
        """import torch


def evaluate(model, batches):
    model.eval()
    with torch.no_grad():
        for x in batches:
            y = model(x)
""",
        """import torch


@torch.no_grad()
def evaluate(model, batches):
    model.eval()
    for x in batches:
        y = model(x)
""",
        """import torch


def evaluate(model, batches):
    model.eval()
    with torch.inference_mode():
        return [model(x) for x in batches]
""",
    )
    invalid = (
        Invalid(
            """import torch


def evaluate(model, batches):
    model.eval()
    total = 0.0
    for x in batches:
        y = model(x)  # <- here
        total += y.sum().item()
    return total
""",
            fixed="""import torch


def evaluate(model, batches):
    model.eval()
    with torch.no_grad():
        total = 0.0
        for x in batches:
            y = model(x)
            total += y.sum().item()
        return total
""",
        ),
    )

    def fix(self, finding: Finding, fctx: FixContext) -> Optional[Plan]:
        region: EvalRegion = finding.data
        eval_stmt = fctx.statement_of(region.eval_node)
        block = fctx.block_of(eval_stmt)
        if block is None or not hasattr(block, "body"):
            return None
        body = list(block.body)
        if eval_stmt not in body:
            return None
        start = body.index(eval_stmt) + 1
        end = start
        while end < len(body) and not _is_train_call(body[end]) and not _starts_cell(body[end]):
            end += 1
        stmts = body[start:end]
        if not stmts:
            return None
        torch_name, _ = fctx.torch_name()
        first = stmts[0]
        inner = [first.with_changes(leading_lines=())] + stmts[1:]
        if isinstance(block, cst.Module):
            # A blank line at module level carries ``indent=True`` with nothing to indent;
            # inside the new block it would gain trailing whitespace.
            inner = [_unindent_blank_lines(stmt) for stmt in inner]
        wrapped = cst.With(
            items=[cst.WithItem(cst.parse_expression(f"{torch_name}.no_grad()"))],
            body=cst.IndentedBlock(body=inner),
            leading_lines=first.leading_lines)
        changes = {first: wrapped}
        for stmt in stmts[1:]:
            changes[stmt] = cst.RemovalSentinel.REMOVE
        changes = fctx.with_torch_import(changes)
        if changes is None:
            return None
        rows = fctx.row_span(fctx.row(first), fctx.positions[stmts[-1]].end.line)
        return Plan(SAFE, f"wrap {rows} "
                          f"in `with {torch_name}.no_grad():`", changes)

    def check(self, ctx: Context):
        if not ctx.facts.imports_torch:
            return  # ``.eval()`` of another framework's model
        for region in ctx.facts.eval_regions:
            if region.has_backward or region.first_call is None:
                continue
            if region.standalone and not region.repeated:
                continue  # one call in a helper nobody here calls: its caller picks the mode
            if id(region.eval_node) in ctx.facts.no_grad_sites:
                continue
            if region.function is not None and region.function in ctx.facts.no_grad_methods:
                continue  # its callers (through an untyped receiver) run it under no_grad
            message = (f"`{ctx.text(region.first_call.func)}(...)` runs after "
                       f"`{region.receiver}.eval()` without `torch.no_grad()`: autograd still "
                       "records every operation")
            yield self.finding(region.first_call, message, data=region)


class NumpyWithoutDetach(Rule):
    code = "RNN102"
    name = "numpy-without-detach"
    summary = "`.numpy()` on a tensor that can require grad"
    severity = "warning"
    what = ("Finds `.numpy()` called on a tensor derived from a module's output or a loss, with "
            "no `.detach()`/`.data` on the way and outside `no_grad`.")
    why = ("`Tensor.numpy()` raises `RuntimeError: Can't call numpy() on Tensor that requires "
           "grad` for any tensor attached to the autograd graph, so the line crashes as soon as "
           "it runs (often only at the end of training, when the results are printed).")
    fix_note = "Insert `.detach()` before `.numpy()` (and `.cpu()` when the code moves tensors to a device)."
    valid = (
        """import torch
import torch.nn as nn

net = nn.Linear(4, 2)
out = net(torch.zeros(3, 4)).detach().numpy()
with torch.no_grad():
    out2 = net(torch.zeros(3, 4)).numpy()
""",
    )
    invalid = (
        Invalid(
            """import torch
import torch.nn as nn

net = nn.Linear(4, 2)
out = net(torch.zeros(3, 4)).numpy()  # <- here
""",
            fixed="""import torch
import torch.nn as nn

net = nn.Linear(4, 2)
out = net(torch.zeros(3, 4)).detach().numpy()
""",
        ),
    )

    def fix(self, finding: Finding, fctx: FixContext) -> Optional[Plan]:
        node = finding.node
        receiver = node.func.value
        chain = "detach()"
        receiver_text = fctx.text(receiver)
        if fctx.facts.moves_to_device and ".cpu()" not in receiver_text:
            chain = "detach().cpu()"
        new_receiver = graft(f"_.{chain}", receiver)
        return Plan(SAFE, f"insert `.{chain}` before `.numpy()`",
                    {node: node.with_changes(func=node.func.with_changes(value=new_receiver))})

    def check(self, ctx: Context):
        if not ctx.facts.imports_torch:
            return
        for call in ctx.facts.numpy_calls:
            # No exemption for no_grad sites: the tracker already knows which tensors were
            # made under no_grad, and a tensor made outside still raises inside.
            receiver = ctx.one_line(call.node.func.value)
            if len(receiver) > 40:
                receiver = receiver[:37] + "..."
            message = (f"`{receiver}` can require grad: `.numpy()` raises unless it is "
                       "detached first")
            yield self.finding(call.node, message, call.trace, anchor=call.node.func.attr)


class UnseededTorch(Rule):
    code = "RNN103"
    name = "unseeded-torch"
    summary = "numpy/random seeded but torch not"
    severity = "warning"
    what = ("Finds a file that seeds `numpy.random` or `random` but never calls "
            "`torch.manual_seed` (or a framework's `seed_everything`/`set_seed`), while it builds "
            "`nn` modules or draws from torch's generator (`torch.randn`, a `DataLoader`, ...).")
    why = ("Weight initialisation, dropout masks and DataLoader shuffling draw from torch's own "
           "generator.  Seeding numpy alone looks reproducible and is not: two runs of the same "
           "script give different models.")
    fix_note = "Add `torch.manual_seed(<same seed>)` after the seed call."
    valid = (
        """import numpy as np
import torch

np.random.seed(42)
torch.manual_seed(42)
model = torch.nn.LSTM(8, 16)
""",
        """import random

import torch

random.seed(0)  # shuffles kernel configs; no torch randomness in this file
configs = sorted(range(10), key=lambda _: random.random())
""",
    )
    invalid = (
        Invalid(
            """import numpy as np
import torch

np.random.seed(42)  # <- here
model = torch.nn.LSTM(8, 16)
""",
            fixed="""import numpy as np
import torch

np.random.seed(42)
torch.manual_seed(42)
model = torch.nn.LSTM(8, 16)
""",
        ),
    )

    def fix(self, finding: Finding, fctx: FixContext) -> Optional[Plan]:
        seed: SeedCall = finding.data
        if seed.seed is None or "\n" in seed.seed:
            return None
        # Safe where the argument is a plain number or constant of a script; in a seeding
        # helper the argument may be None, which torch.manual_seed refuses.
        constant = seed.function is None and re.fullmatch(r"[\w.]+", seed.seed) is not None
        stmt = fctx.statement_of(seed.node)
        if not isinstance(stmt, cst.SimpleStatementLine):
            return None
        torch_name, _ = fctx.torch_name()
        new = cst.parse_statement(f"{torch_name}.manual_seed({seed.seed})\n")
        changes = fctx.with_torch_import({stmt: cst.FlattenSentinel([stmt, new])})
        if changes is None:
            return None
        return Plan(SAFE if constant else UNSAFE, f"add `{torch_name}.manual_seed({seed.seed})`",
                    changes)

    def check(self, ctx: Context):
        facts = ctx.facts
        if not facts.imports_torch or not facts.uses_torch_random:
            return
        if any(s.qualname in api.TORCH_SEEDS for s in facts.seed_calls):
            return
        others = [s for s in facts.seed_calls if s.qualname in api.OTHER_SEEDS and _seeds_program(s)]
        if not others:
            return
        first = others[0]
        if first.function is None and not facts.torch_random_in_program:
            return  # the script itself never draws from torch; only functions it never calls do
        message = (f"`{ctx.text(first.node.func)}` is seeded but torch is not: weights, dropout "
                   "and shuffling stay random")
        yield self.finding(first.node, message, data=first)


def _is_train_call(stmt) -> bool:
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return False
    expr = stmt.body[0]
    return isinstance(expr, cst.Expr) and isinstance(expr.value, cst.Call) and \
        isinstance(expr.value.func, cst.Attribute) and expr.value.func.attr.value == "train"


def _unindent_blank_lines(stmt):
    lines = [line.with_changes(indent=False)
             if line.comment is None and not line.whitespace.value else line
             for line in stmt.leading_lines]
    return stmt.with_changes(leading_lines=lines)


def _starts_cell(stmt) -> bool:
    """A notebook's next cell begins here: a fix region never crosses into it."""
    return any(line.comment is not None and line.comment.value.startswith("# %% rnnshape-cell")
               for line in getattr(stmt, "leading_lines", ()))


def _seeds_program(seed) -> bool:
    """A seed call meant to make the run reproducible: at module level (or in a seeding helper,
    named so), with a seed that is not itself drawn from torch.  Seeds in worker init functions
    or in a layer's constructor serve other purposes."""
    if seed.seed is not None and "torch" in seed.seed:
        return False
    return seed.function is None or "seed" in seed.function.lower()
