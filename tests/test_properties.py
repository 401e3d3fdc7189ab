"""Property-based tests: random recurrent-model programs through ``check`` and ``fix``.

A hypothesis strategy writes small but realistic PyTorch programs -- imports under several
aliases, an LSTM/GRU/RNN with random configuration, inputs built from named sizes, layout ops
with valid and invalid axes, a Linear head, initial states, training and evaluation code,
``.numpy()`` and seed calls -- in deliberately odd (but valid) formatting.  The properties are
the promises of DESIGN.md sections 4-5:

* ``check_source`` never raises on a valid program, and on corrupted bytes (read through the
  CLI's ``decode_source``) raises nothing but ``FileError``;
* ``fix_source`` output parses, is idempotent, equals the input when nothing was applied, and
  leaves everything outside its edits alone (byte for byte);
* a layout finding (RNN001) that comes with a fix is gone after ``fix``, with either strategy.

Deterministic regression tests for bugs these properties found are at the end of the file.
"""
from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from typing import Optional

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, note, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import rnnshape.api as api_module  # noqa: E402
from rnnshape.api import FixOptions, check_source, fix_source  # noqa: E402
from rnnshape.diagnostic import FileError  # noqa: E402
from rnnshape.files import decode_source  # noqa: E402

# Sized so that the whole file runs in well under a minute on two cores.  ``deadline=None``:
# the first call warms LibCST up, and shared CI machines are noisy.  ``database=None``: no
# ``.hypothesis/`` folder in the working tree; a failure prints its shrunk program (``note``),
# which goes into a regression test below.  RNNSHAPE_PROPERTY_SCALE=20 runs a longer search.
SCALE = max(1, int(os.environ.get("RNNSHAPE_PROPERTY_SCALE", "1")))
FAST = settings(max_examples=60 * SCALE, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=35 * SCALE, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

PERMUTE_STRATEGY = FixOptions(batch_first=False, unsafe=True)
BATCH_FIRST_STRATEGY = FixOptions(batch_first=True, unsafe=True)
STRATEGIES = [PERMUTE_STRATEGY, BATCH_FIRST_STRATEGY]


# ============================================================================ the generator
@dataclass
class Program:
    """A generated program: its text, plus what the generator knows about it."""

    text: str
    kind: str  # LSTM | GRU | RNN
    comment_lines: list[str] = field(default_factory=list)


@dataclass
class Style:
    """Formatting choices that stay fixed for one program."""

    indent: str = "    "
    newline: str = "\n"


IDENT_WORDS = ["note", "TODO: tune", "shape check", "see paper", "x is (B, T, F)", "noqa-free comment",
               "é unicode ok", "keep"]


@st.composite
def comment(draw) -> str:
    return "# " + draw(st.sampled_from(IDENT_WORDS))


@st.composite
def call(draw, func: str, args: list[str]) -> str:
    """``func(args)`` in one of several valid layouts."""
    style = draw(st.sampled_from(["plain", "plain", "plain", "spaced", "trailing", "multiline",
                                  "multiline_comments", "tight"]))
    if not args:
        return f"{func}()"
    if style == "plain":
        return f"{func}({', '.join(args)})"
    if style == "tight":
        return f"{func}({','.join(args)})"
    if style == "spaced":
        return f"{func}( {' ,  '.join(args)} )"
    if style == "trailing":
        return f"{func}({', '.join(args)},)"
    # Inside brackets the indentation of continuation lines does not matter to Python.
    parts = []
    for arg in args:
        tail = ("  " + draw(comment())) if style == "multiline_comments" and draw(st.booleans()) else ""
        parts.append(f"    {arg},{tail}")
    return f"{func}(\n" + "\n".join(parts) + "\n)"


@st.composite
def assign(draw, target: str, value: str) -> str:
    """``target = value`` with odd spacing, parentheses or a line continuation."""
    style = draw(st.sampled_from(["plain", "plain", "plain", "paren", "continuation", "tight", "wide"]))
    if style == "paren" and "\n" not in value:
        return f"{target} = ({value})"
    if style == "continuation" and "\n" not in value:
        return f"{target} = \\\n    {value}"
    if style == "tight":
        return f"{target}={value}"
    if style == "wide":
        return f"{target}   =  {value}"
    return f"{target} = {value}"


def block(lines: list[str], indent: str) -> list[str]:
    """Indent every physical line (continuation lines too: always valid inside brackets or
    after a backslash)."""
    out = []
    for line in lines:
        for physical in line.split("\n"):
            out.append(indent + physical if physical.strip() else physical)
    return out


@st.composite
def size_name(draw, role: str) -> str:
    names = {
        "batch": ["batch_size", "bs", "B", "n_batch"],
        "time": ["seq_len", "T", "seq_length", "max_len", "window"],
        "feature": ["n_features", "input_size", "feat_dim", "vocab_size", "embedding_dim"],
        "hidden": ["hidden_size", "HIDDEN", "n_hidden", "hidden_dim"],
        "layers": ["num_layers", "N_LAYERS"],
    }[role]
    return draw(st.sampled_from(names))


@st.composite
def layout_op(draw, rank: int) -> tuple[str, Optional[int]]:
    """A method call suffix on the input (``.permute(1, 0, 2)``) and the rank after it
    (None when unknown).  Axes are sometimes invalid: the checker must stay calm."""
    kind = draw(st.sampled_from(["permute", "transpose", "transpose", "swapaxes", "view", "reshape",
                                 "unsqueeze", "squeeze", "contiguous", "float", "to"]))
    axis = st.integers(min_value=-rank - 1, max_value=rank + 1)
    valid = draw(st.integers(0, 4)) > 0  # mostly valid
    if kind == "permute":
        if valid:
            perm = draw(st.permutations(list(range(rank))))
        else:
            perm = draw(st.lists(axis, min_size=max(rank - 1, 0), max_size=rank + 1))
        if draw(st.booleans()) and perm:
            return draw(call(".permute", [f"({', '.join(map(str, perm))}{',' if len(perm) == 1 else ''})"])), rank
        return draw(call(".permute", [str(a) for a in perm])), rank
    if kind in ("transpose", "swapaxes"):
        a = draw(st.integers(0, max(rank - 1, 0)) if valid else axis)
        b = draw(st.integers(0, max(rank - 1, 0)) if valid else axis)
        if draw(st.booleans()):
            a = a - rank if valid and rank else a
        return draw(call(f".{kind}", [str(a), str(b)])), rank
    if kind in ("view", "reshape"):
        dims = draw(st.lists(st.sampled_from(["-1", "1", "2", "batch_size", "seq_len", "x.size(0)",
                                              "x.shape[1]", "n_features", "0"]),
                             min_size=1, max_size=4))
        return draw(call(f".{kind}", dims)), len(dims)
    if kind == "unsqueeze":
        return draw(call(".unsqueeze", [str(draw(axis))])), rank + 1
    if kind == "squeeze":
        if draw(st.booleans()):
            return ".squeeze()", None
        return draw(call(".squeeze", [str(draw(axis))])), None
    if kind == "to":
        return draw(call(".to", [draw(st.sampled_from(["device", "'cpu'", "torch.float32"]))])), rank
    return f".{kind}()", rank


@st.composite
def after_the_call(draw, T: str, nn: str, ref: dict, n_dir: int, kind: str, has_head: bool,
                   batch_first, arg: str) -> list[str]:
    """Optional code on the recurrent output: flattening, a sequence loss, a summary of the
    final state, packing -- the food of RNN005-RNN008 and RNN010."""
    lines = []
    width = f"{ref['hidden']} * {n_dir}" if n_dir == 2 else ref["hidden"]
    for part in draw(st.lists(st.sampled_from(["flatten", "loss", "summary", "pack"]), unique=True,
                              max_size=2)):
        if part == "flatten":
            layout = draw(st.sampled_from(["out.permute(1, 0, 2)", "out.transpose(0, 1)", "out",
                                           "out.contiguous()", "out.transpose(1, 0).contiguous()"]))
            method = draw(st.sampled_from(["view", "reshape"]))
            lines.append(draw(assign("flat", draw(call(f"{layout}.{method}", ["-1", width])))))
        elif part == "loss" and has_head:
            lines.append(draw(assign("logits", "head(out)")))
            dims = [ref["time"], ref["batch"]] if not batch_first else [ref["batch"], ref["time"]]
            if draw(st.booleans()):
                dims.reverse()
            lines.append(draw(assign("targets", draw(call(f"{T}.randint", ["0", "3", f"({', '.join(dims)})"])))))
            lines.append(draw(assign("criterion", draw(st.sampled_from([f"{nn}.CrossEntropyLoss()",
                                                                        f"{nn}.NLLLoss()"])))))
            logits, targets = draw(st.sampled_from([("logits", "targets"),
                                                    ("logits.view(-1, 3)", "targets.view(-1)"),
                                                    ("logits.reshape(-1, 3)", "targets.t().reshape(-1)"),
                                                    ("logits.permute(0, 2, 1)", "targets")]))
            lines.append(draw(assign("loss", f"criterion({logits}, {targets})")))
        elif part == "summary":
            state = "h"
            lines.append(draw(assign(f"out, {'(h, c)' if kind == 'LSTM' else 'h'}", f"rnn({arg})")))
            lines.append(draw(assign("summary", draw(st.sampled_from(
                [f"{state}[-1]", f"{state}[0]", f"{T}.cat(({state}[-2], {state}[-1]), dim=1)",
                 f"{state}[-1, :, :]"])))))
        elif part == "pack":
            lengths = draw(st.sampled_from([f"{T}.tensor([3, 2, 1])", "lengths.cpu()", "lengths.cuda()",
                                            "[3, 2, 1]"]))
            bf = draw(st.sampled_from(["", ", batch_first=True", ", batch_first=False"]))
            lines.append(draw(assign("lengths", f"{T}.tensor([3, 2, 1])")))
            lines.append(draw(assign("packed", draw(call(f"{nn}.utils.rnn.pack_padded_sequence",
                                                         ["x", lengths] + ([bf[2:]] if bf else []))))))
            lines.append(draw(assign("packed_out, _", "rnn(packed)")))
            bf2 = draw(st.sampled_from(["", "batch_first=True", "batch_first=False"]))
            lines.append(draw(assign("padded, lens", draw(call(f"{nn}.utils.rnn.pad_packed_sequence",
                                                               ["packed_out"] + ([bf2] if bf2 else []))))))
    return lines


@st.composite
def programs(draw) -> Program:
    """A recurrent-model program.  Every program compiles (asserted at the end)."""
    style = Style(indent=draw(st.sampled_from(["    ", "    ", "  ", "\t"])),
                  newline=draw(st.sampled_from(["\n", "\n", "\n", "\r\n"])))
    I = style.indent
    kind = draw(st.sampled_from(["LSTM", "GRU", "RNN"]))
    lines: list[str] = []
    comments: list[str] = []

    def maybe_comment() -> None:
        if draw(st.integers(0, 5)) == 0:
            c = draw(comment())
            comments.append(c)
            lines.append(c)
        if draw(st.integers(0, 7)) == 0:
            lines.append("")

    # ---------------------------------------------------------------- imports
    if draw(st.booleans()):
        lines.append('"""A generated recurrent model."""')
    torch_alias = draw(st.sampled_from(["torch", "torch", "torch", "th"]))
    T = torch_alias
    lines.append("import torch" if T == "torch" else "import torch as th")
    nn_style = draw(st.sampled_from(["import torch.nn as nn", "from torch import nn", "torch.nn",
                                     "from torch.nn import {K} as L", "from torch.nn import {K}, Linear",
                                     "import torch.nn as tnn", "from torch import nn as N"]))
    if nn_style == "torch.nn":
        nn, module_name, linear = f"{T}.nn", f"{T}.nn.{kind}", f"{T}.nn.Linear"
    elif nn_style == "from torch.nn import {K} as L":
        lines.append(f"from torch.nn import {kind} as L")
        lines.append("import torch.nn as nn")
        nn, module_name, linear = "nn", "L", "nn.Linear"
    elif nn_style == "from torch.nn import {K}, Linear":
        lines.append(f"from torch.nn import {kind}, Linear")
        lines.append("import torch.nn as nn")
        nn, module_name, linear = "nn", kind, "Linear"
    else:
        lines.append(nn_style)
        nn = nn_style.split()[-1]
        module_name, linear = f"{nn}.{kind}", f"{nn}.Linear"
    seeds = draw(st.lists(st.sampled_from(["np", "random", "torch"]), unique=True, max_size=3))
    if "np" in seeds or draw(st.booleans()):
        lines.append("import numpy as np")
    if "random" in seeds:
        lines.append("import random")
    lines.append("import os")
    maybe_comment()
    for which in seeds:
        seed = draw(st.integers(0, 2 ** 31 - 1) | st.sampled_from([0, 42]))
        stmt = {"np": f"np.random.seed({seed})", "random": f"random.seed({seed})",
                "torch": f"{T}.manual_seed({seed})"}[which]
        lines.append(stmt)
    maybe_comment()

    # ---------------------------------------------------------------- sizes
    roles = ["batch", "time", "feature", "hidden", "layers"]
    names = {r: draw(size_name(r)) for r in roles}
    assume(len(set(names.values())) == len(names))
    values = {"batch": draw(st.integers(1, 64)), "time": draw(st.integers(1, 50)),
              "feature": draw(st.integers(1, 40)), "hidden": draw(st.integers(1, 128)),
              "layers": draw(st.integers(1, 3))}
    size_mode = draw(st.sampled_from(["literal", "named", "named", "tuple", "env"]))
    ref = {}
    if size_mode == "literal":
        ref = {r: str(values[r]) for r in roles}
    else:
        ref = dict(names)
        if size_mode == "tuple":
            lines.append(draw(assign(", ".join(names[r] for r in roles[:3]),
                                     ", ".join(str(values[r]) for r in roles[:3]))))
            lines.append(draw(assign(names["hidden"], str(values["hidden"]))))
            lines.append(draw(assign(names["layers"], str(values["layers"]))))
        else:
            for r in roles:
                value = (f"int(os.environ.get({names[r].upper()!r}, {values[r]}))" if size_mode == "env"
                         else str(values[r]))
                lines.append(draw(assign(names[r], value)))
    maybe_comment()

    # ---------------------------------------------------------------- module configuration
    bidirectional = draw(st.booleans())
    batch_first = draw(st.sampled_from([None, True, False]))
    num_layers = draw(st.sampled_from([None, "layers", "1", "2"]))
    dropout = draw(st.sampled_from([None, None, "0.0", "0.2", "0.5"]))
    input_ok = draw(st.integers(0, 4)) > 0
    input_size = ref["feature"] if input_ok else str(values["feature"] + draw(st.integers(1, 7)))
    args = []
    if draw(st.booleans()):
        args += [input_size, ref["hidden"]]
    else:
        args += [f"input_size={input_size}", f"hidden_size={ref['hidden']}"]
    if num_layers is not None:
        args.append("num_layers=" + (ref["layers"] if num_layers == "layers" else num_layers))
    if batch_first is not None:
        args.append(f"batch_first={batch_first}")
    if bidirectional or draw(st.booleans()):
        args.append(f"bidirectional={bidirectional}")
    if dropout is not None:
        args.append(f"dropout={dropout}")
    if draw(st.booleans()):
        tail = args[2:]
        tail = draw(st.permutations(tail))
        args = args[:2] + list(tail)
    ctor = draw(call(module_name, args))
    n_dir = 2 if bidirectional else 1
    hidden_expr = ref["hidden"]
    head_in = {
        "right": (f"{hidden_expr} * 2" if bidirectional else hidden_expr),
        "wrong": (hidden_expr if bidirectional else f"{hidden_expr} * 2"),
        "literal": str(values["hidden"] * draw(st.sampled_from([1, 2]))),
    }[draw(st.sampled_from(["right", "right", "wrong", "literal"]))]
    has_head = draw(st.booleans())
    head_ctor = draw(call(linear, [head_in, draw(st.sampled_from(["1", "3", ref["feature"]]))]))

    # ---------------------------------------------------------------- input
    dim_order = draw(st.permutations(["batch", "time", "feature"]))
    if draw(st.integers(0, 4)) == 0:
        dim_order = ["time", "feature"]  # unbatched input
    ctor_name = draw(st.sampled_from(["zeros", "randn", "rand", "ones", "empty"]))
    dims = [ref[r] for r in dim_order]
    if draw(st.integers(0, 3)) == 0:
        x_value = draw(call(f"{T}.{ctor_name}", [f"({', '.join(dims)})"]))
    else:
        x_value = draw(call(f"{T}.{ctor_name}", dims))
    rank = len(dims)
    ops = []
    for _ in range(draw(st.integers(0, 2))):
        op, new_rank = draw(layout_op(rank if rank is not None else 3))
        ops.append(op)
        rank = new_rank
    inline_ops = draw(st.booleans())

    # ---------------------------------------------------------------- states
    use_h0 = draw(st.integers(0, 3)) == 0
    state_lines: list[str] = []
    state_arg = ""
    if use_h0:
        parts = [f"{ref['layers'] if num_layers == 'layers' else (num_layers or '1')} * {n_dir}",
                 ref["batch"], ref["hidden"]]
        if draw(st.integers(0, 2)) == 0:
            parts = draw(st.permutations(parts))
        state_lines.append(draw(assign("h0", draw(call(f"{T}.zeros", list(parts))))))
        if kind == "LSTM":
            state_lines.append(draw(assign("c0", draw(call(f"{T}.zeros", list(parts))))))
            state_arg = ", (h0, c0)"
        else:
            state_arg = ", h0"
    unpack = draw(st.sampled_from(["out, _", "out, (h, c)" if kind == "LSTM" else "out, h",
                                   "out, (h, c)", "out, h_n", "(out, _)"]))
    pick = draw(st.sampled_from(["out[-1]", "out[:, -1]", "out[:, -1, :]", "out[-1, :, :]", "out",
                                 "out.mean(dim=1)", "h[-1]" if "h" in unpack.split(",")[1] else "out[0]"]))

    # ---------------------------------------------------------------- model: class or script
    as_class = draw(st.booleans())
    if as_class:
        prefix = "self."
        lines.append("")
        base = "nn.Module" if nn in ("nn",) else f"{nn}.Module"
        lines.append(f"class Model({base}):")
        if draw(st.booleans()):
            lines.append(I + '"""A model."""')
        lines.append(I + "def __init__(self):")
        lines.append(I + I + draw(st.sampled_from(["super().__init__()", "super(Model, self).__init__()"])))
        lines += block([draw(assign("self.rnn", ctor))], I + I)
        if has_head:
            lines += block([draw(assign("self.head", head_ctor))], I + I)
        lines.append("")
        lines.append(I + "def forward(self, x" + (", h0=None" if use_h0 and kind != "LSTM" else "") + "):")
        body: list[str] = []
        if ops and not inline_ops:
            body.append(draw(assign("x", "x" + "".join(ops))))
        arg = "x" + ("".join(ops) if inline_ops else "")
        call_state = ", h0" if use_h0 and kind != "LSTM" else ""
        body.append(draw(assign(unpack, f"self.rnn({arg}{call_state})")))
        if has_head:
            body.append(f"return self.head({pick})")
        else:
            body.append("return out")
        lines += block(body, I + I)
        lines.append("")
        lines.append("")
        lines.append(draw(assign("model", "Model()")))
        lines.append(draw(assign("x", x_value)))
        if use_h0 and kind != "LSTM":
            lines += state_lines[:1]
            run = "model(x, h0)"
        else:
            run = "model(x)"
        lines.append(draw(assign("y", run)))
        model, run_model = "model", run
    else:
        prefix = ""
        lines.append(draw(assign("rnn", ctor)))
        if has_head:
            lines.append(draw(assign("head", head_ctor)))
        maybe_comment()
        lines.append(draw(assign("x", x_value)))
        if ops and not inline_ops:
            lines.append(draw(assign("x", "x" + "".join(ops))))
        arg = "x" + ("".join(ops) if inline_ops else "")
        lines += state_lines
        lines.append(draw(assign(unpack, f"rnn({arg}{state_arg})")))
        if has_head:
            lines.append(draw(assign("y", f"head({pick})")))
        lines += draw(after_the_call(T, nn, ref, n_dir, kind, has_head, batch_first, arg))
        model, run_model = "rnn", f"rnn(x{state_arg})"
    maybe_comment()

    # ---------------------------------------------------------------- training / evaluation
    if draw(st.booleans()):
        opt = draw(call(f"{T}.optim.Adam", [f"{model}.parameters()", "lr=1e-3"]))
        lines.append(draw(assign("optimizer", opt)))
        lines.append(f"for epoch in range({draw(st.integers(1, 5))}):")
        body = []
        if draw(st.booleans()):
            body.append(f"{model}.train()")
        body.append("optimizer.zero_grad()")
        result = "pred" if as_class else "pred, _"
        body.append(draw(assign(result, run_model)))
        body.append(draw(assign("loss", "pred.pow(2).mean()")))
        body.append("loss.backward()")
        body.append("optimizer.step()")
        if draw(st.booleans()):
            # Evaluation inside the loop: RNN105 when .train() is not called at the top.
            body.append(f"{model}.eval()")
            if draw(st.booleans()):
                body.append(f"with {T}.no_grad():")
                body += block([draw(assign(result, run_model))], I)
            else:
                body.append(draw(assign(result, run_model)))
        lines += block(body, I)
        maybe_comment()
    if draw(st.booleans()):
        lines.append(f"{model}.eval()")
        result = "pred" if as_class else "pred, _"
        grad_mode = draw(st.sampled_from(["none", "no_grad", "inference_mode"]))
        body = [draw(assign(result, run_model))]
        numpy_call = draw(st.sampled_from(["pred.numpy()", "pred.detach().numpy()", "pred.cpu().numpy()",
                                           "pred.data.numpy()", None]))
        if numpy_call:
            body.append(draw(assign("arr", numpy_call)))
            body.append("print(arr.shape)")
        if grad_mode == "none":
            lines += body
        else:
            lines.append(f"with {T}.{grad_mode}():")
            lines += block(body, I)
    if draw(st.booleans()):
        lines.append(draw(assign("a", "x.numpy()")))
    maybe_comment()
    if draw(st.integers(0, 5)) == 0:
        lines.append("a = 1; b = 2  # two statements")

    text = style.newline.join(block(lines, ""))
    if draw(st.integers(0, 6)) > 0:
        text += style.newline  # sometimes no final newline
    if style.indent == "\t":
        text = text.replace("\n    ", "\n\t")  # continuation lines: also fine with tabs
    compile(text, "<generated>", "exec", dont_inherit=True)  # every program is valid Python
    return Program(text=text, kind=kind, comment_lines=comments)


# ============================================================================ helpers
def compiles(text: str) -> bool:
    try:
        compile(text, "<fixed>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError:
        return False
    return True


def one_round(text: str, options: FixOptions):
    """``fix_source`` limited to one round of fixes, so that its changes can be compared with the
    edits ``check_source`` reports for the original text."""
    saved = api_module.MAX_ROUNDS
    api_module.MAX_ROUNDS = 1
    try:
        return fix_source(text, "gen.py", options=options)
    finally:
        api_module.MAX_ROUNDS = saved


def untouched_segments(text: str, diagnostics, options: FixOptions) -> list[tuple[str, int, int]]:
    """The runs of whole lines of ``text`` that no edit of a fix ``fix_source`` with ``options``
    may apply touches, as (text, first row, last row); a pure insertion splits a run."""
    covered, cuts = set(), set()
    for diag in diagnostics:
        fix = diag.fix
        if fix is None or (fix.applicability == "unsafe" and not options.unsafe):
            continue
        for e in fix.edits:
            if (e.row, e.column) == (e.end_row, e.end_column):
                (cuts.add(e.row) if e.column == 1 else covered.add(e.row))
            else:
                last = e.end_row if e.end_column > 1 else e.end_row - 1
                covered.update(range(e.row, max(last, e.row) + 1))
    lines = text.splitlines(keepends=True)
    segments, current, first = [], [], 1
    for row, line in enumerate(lines + [None], start=1):
        if row in cuts or row in covered or line is None:
            if current:
                segments.append(("".join(current), first, row - 1))
            current = []
            if line is None or row in covered:
                continue
        if not current:
            first = row
        current.append(line)
    return segments


def assert_segments_kept(text: str, segments, output: str) -> None:
    """Every untouched run appears in ``output`` byte for byte, in order; a run at the start
    or the end of the file stays there."""
    n_rows = len(text.splitlines(keepends=True))
    pos = 0
    for i, (segment, first, last) in enumerate(segments):
        if first == 1:
            assert output.startswith(segment), f"rows {first}-{last} changed or moved"
        found = output.find(segment, pos)
        assert found >= 0, f"untouched rows {first}-{last} not kept: {segment!r}"
        pos = found + len(segment)
        if last == n_rows and i == len(segments) - 1:
            assert output.endswith(segment) and len(output) - len(segment) >= found, \
                f"rows {first}-{last} at the end of the file not kept at the end"


# Names that rules read or fixes rewrite; a statement without any of them is never edited.
TOUCHED = re.compile(r"\b(rnn|model|head|x|out|pred|h|c|h_n|h0|c0|y|arr|a|seed|manual_seed|Linear|LSTM|GRU|RNN|L|"
                     r"optimizer|loss|eval|train|no_grad|inference_mode|numpy|Model|self|super|nn|tnn|N|torch|th)\b")


def quiet_statements(text: str) -> list[str]:
    """The physical lines of one-line simple statements that mention no ``TOUCHED`` name."""
    lines = text.splitlines()
    rows = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.stmt) and not isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.For,
                                                                   ast.With, ast.If)):
            if node.lineno == node.end_lineno:
                if not TOUCHED.search(lines[node.lineno - 1].split("#")[0]):
                    rows.add(node.lineno)
    return [lines[row - 1] for row in sorted(rows)]


def stripped_subsequence(needles: list[str], hay: list[str]) -> bool:
    """Whether ``needles`` (compared without surrounding whitespace) occur in ``hay`` in order."""
    it = iter(line.strip() for line in hay)
    return all(any(n.strip() == h for h in it) for n in needles)


# ============================================================================ properties
@FAST
@given(programs())
def test_check_never_raises_on_valid_programs(program):
    note(program.text)
    diagnostics = check_source(program.text, "gen.py")
    rows = program.text.count("\n") + 2
    for diag in diagnostics:
        assert re.fullmatch(r"RNN\d{3}", diag.code)
        assert 1 <= diag.row <= rows and diag.column >= 1, diag
        assert (diag.end_row, diag.end_column) >= (diag.row, diag.column), diag
    # The other layout strategy only changes the fixes, never the findings.
    other = check_source(program.text, "gen.py", batch_first=True)
    assert [(d.code, d.row, d.column) for d in other] == [(d.code, d.row, d.column) for d in diagnostics]


@SLOW
@given(programs(), st.sampled_from(STRATEGIES + [FixOptions()]))
def test_fix_output_parses_is_idempotent_and_noop_when_nothing_applied(program, options):
    note(program.text)
    result = fix_source(program.text, "gen.py", options=options)  # a valid program: no FileError
    note(result.text)
    assert compiles(result.text)
    if not result.applied:
        assert result.text == program.text
    again = fix_source(result.text, "gen.py", options=options)
    assert again.text == result.text, "a second fix changed the fixed file"
    assert not again.applied


@SLOW
@given(programs(), st.sampled_from(STRATEGIES))
def test_fix_changes_only_lines_of_reported_edits(program, options):
    """One round of fixes changes only rows that the edits of the reported fixes cover: every
    other line is kept byte for byte and in order (DESIGN.md section 5).  One round, because a
    later round fixes what the first one's output shows, which has no row in the original."""
    note(program.text)
    diagnostics = check_source(program.text, "gen.py", batch_first=options.batch_first)
    result = one_round(program.text, options)
    note(result.text)
    assert_segments_kept(program.text, untouched_segments(program.text, diagnostics, options), result.text)


@SLOW
@given(programs(), st.sampled_from(STRATEGIES))
def test_fix_keeps_standalone_comments_and_untouched_lines(program, options):
    """Over all rounds: the standalone comment lines stay, in order (a wrapped region may
    re-indent them), and every line ending of the file is kept."""
    note(program.text)
    result = fix_source(program.text, "gen.py", options=options)
    note(result.text)
    assert stripped_subsequence(program.comment_lines, result.text.splitlines())
    if "\r\n" in program.text:
        assert "\n" not in result.text.replace("\r\n", ""), "line endings mixed by the fix"
    # One-line statements naming nothing that a rule or fix looks at are kept verbatim (up to
    # the indentation of a wrapped region).
    assert stripped_subsequence(quiet_statements(program.text), result.text.splitlines())


# Most generated programs have no fixable layout finding and are filtered out; how many
# depends on the rules, not on the property, so a high filter rate is no health problem here.
@settings(SLOW, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(programs(), st.sampled_from(STRATEGIES))
def test_layout_findings_with_fixes_are_gone_after_fix(program, options):
    diagnostics = check_source(program.text, "gen.py", batch_first=options.batch_first)
    layout = [d for d in diagnostics if d.code == "RNN001"]
    assume(layout and all(d.fix is not None for d in layout))
    note(program.text)
    result = fix_source(program.text, "gen.py", options=options)
    note(result.text)
    after = [(d.row, d.message) for d in check_source(result.text, "gen.py") if d.code == "RNN001"]
    assert not after


# Corrupted source can hold invalid escape sequences and the like: Python's warnings about them
# leak from the checker (a bug, see test_checking_a_file_emits_no_python_warnings); in the two
# corruption tests they are noise, not the property under test, and are filtered.


@st.composite
def corrupted(draw) -> bytes:
    data = bytearray(draw(programs()).text.encode("utf-8"))
    if draw(st.integers(0, 4)) == 0:
        data[:0] = draw(st.sampled_from([b"# -*- coding: latin-1 -*-\n", b"# coding: nonexistent-codec\n",
                                         b"\xef\xbb\xbf", b"# vim: set fileencoding=utf-16 :\n",
                                         b"\xef\xbb\xbf# coding: latin-1\n"]))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "nul", "invalid_utf8", "bracket"]))
        if action == "flip" and where < len(data):
            data[where] ^= draw(st.integers(1, 255))
        elif action == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=4))
        elif action == "delete":
            del data[where:where + draw(st.integers(1, 12))]
        elif action == "nul":
            data[where:where] = b"\x00"
        elif action == "invalid_utf8":
            data[where:where] = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"]))
        elif action == "bracket":
            data[where:where] = draw(st.sampled_from([b"(", b")", b"[" * 120, b"\\", b"\t", b"\r", b'"""']))
    return bytes(data)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@FAST
@given(corrupted())
def test_corrupted_bytes_give_diagnostics_or_file_error(data):
    note(repr(data))
    try:
        source = decode_source(data, "x.py")
        check_source(source.text, "x.py")
    except FileError:
        pass


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@FAST
@given(st.text(max_size=300), programs())
def test_text_corruption_gives_diagnostics_or_file_error(junk, program):
    """Random text spliced into a program (possibly mid-token): a FileError or findings."""
    text = program.text
    where = len(junk) % (len(text) + 1)
    try:
        check_source(text[:where] + junk + text[where:], "x.py")
    except FileError:
        pass


# ============================================================================ regressions
# Shrunk examples from the properties above, kept deterministic.

WRAP_TWO_REGIONS = """\
import torch
import torch.nn as nn

rnn = nn.LSTM(input_size=1, hidden_size=1)
x = torch.zeros((1, 1))
optimizer = torch.optim.Adam(rnn.parameters(), lr=1e-3)
for epoch in range(1):
    optimizer.zero_grad()
    pred, _ = rnn(x)
    pred.sum().backward()
    optimizer.step()
    rnn.eval()
    pred, _ = rnn(x)
rnn.eval()
pred, _ = rnn(x)

a = 1; b = 2  # two statements"""


def test_two_wrapped_regions_keep_every_other_line():
    """Two `no_grad` wraps with identical lines in them: the lines between the wraps stay put.
    (Found by the edit-locality property; a line diff aligned the twin lines wrongly, so the
    property compares untouched runs of lines instead.)"""
    diagnostics = check_source(WRAP_TWO_REGIONS, "gen.py")
    assert [d.code for d in diagnostics] == ["RNN105", "RNN101", "RNN101"]
    result = one_round(WRAP_TWO_REGIONS, PERMUTE_STRATEGY)
    assert_segments_kept(WRAP_TWO_REGIONS, untouched_segments(WRAP_TWO_REGIONS, diagnostics, PERMUTE_STRATEGY),
                         result.text)
    assert "rnn.eval()\nwith torch.no_grad():\n    pred, _ = rnn(x)\n" in result.text


def test_segment_check_rejects_a_change_outside_the_edits():
    """The edit-locality helpers are not vacuous: a change outside every edit is caught."""
    text = WRAP_TWO_REGIONS
    diagnostics = check_source(text, "gen.py")
    result = one_round(text, PERMUTE_STRATEGY).text
    segments = untouched_segments(text, diagnostics, PERMUTE_STRATEGY)
    tampered = result.replace("x = torch.zeros((1, 1))", "x = torch.zeros((1, 2))")
    with pytest.raises(AssertionError):
        assert_segments_kept(text, segments, tampered)


# Found by the properties above: compile() of the user file used to leak its SyntaxWarnings.
def test_checking_a_file_emits_no_python_warnings():
    import warnings

    text = 'import torch.nn as nn\nlstm = nn.LSTM(8, 16)\npattern = "\\d+"\n'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_source(text, "user.py")
    assert [str(w.message) for w in caught] == []


# Found by the properties above: the no_grad wrap used to indent module-level blank lines.
def test_no_grad_wrap_adds_no_trailing_whitespace():
    text = ("import torch\nimport torch.nn as nn\n\nrnn = nn.LSTM(1, 1)\nx = torch.zeros((1, 1))\n"
            "rnn.eval()\npred, _ = rnn(x)\n\nprint(pred)\n")
    result = fix_source(text, "gen.py")
    assert result.applied == {"RNN101": 1}
    assert [line for line in result.text.splitlines() if line != line.rstrip()] == []
