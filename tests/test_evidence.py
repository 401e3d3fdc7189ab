"""Role evidence: what a function's own text says about the dims of tensors nobody shows it
(shapes/evidence.py), and the findings and silences that follow.

Each finding needs two statements of the code that contradict each other; each silent twin
changes one statement so that they agree, or makes the evidence disagree with itself.
"""
import json
import subprocess
import sys
from textwrap import dedent

import libcst as cst
import pytest

from cli_env import cli_env
from rnnshape.api import check_source
from rnnshape.shapes.dims import role_from_name
from rnnshape.shapes.evidence import (arrow_shapes, comment_shape, legend, named_shapes,
                                      parameter_evidence, parse_shape, shape_roles)
from rnnshape.shapes.interp import Interpreter


def rnn001(src: str) -> list[int]:
    return [d.row for d in check_source(dedent(src)) if d.code == "RNN001"]


def shapes(src: str) -> list[str]:
    return [str(c.shape) for c in Interpreter(cst.parse_module(dedent(src))).run().recurrent_calls]


def row(src: str, text: str) -> int:
    return next(i for i, line in enumerate(dedent(src).splitlines(), 1) if text in line)


def evidence_of(src: str) -> dict:
    func = cst.parse_module(dedent(src)).body[0]
    return {name: str(ev.symbolic(name)[0]) for name, ev in parameter_evidence(func).items()}


# ------------------------------------------------------------------ reading shapes in text
@pytest.mark.parametrize("text, dims", [
    ("(B, T, C)", ["B", "T", "C"]),
    ("[bs x nvars x seq_len]", ["bs", "nvars", "seq_len"]),
    ("BxTxC", ["B", "T", "C"]),
    ("bs (batch size) x nvars (aka features) x seq_len (aka time steps)",
     ["bs", "nvars", "seq_len"]),
    ("(int, float)", None),   # a type tuple
    ("(0, 1)", None),         # numbers only: a default, not a shape
    ("(batch size)", None),
])
def test_parse_shape(text, dims):
    assert parse_shape(text) == dims


def test_named_shapes_in_the_forms_docstrings_use():
    text = """
    Args:
        x (torch.Tensor): Input ids. (batch, len)
        h (tuple): (h, c) of the previous step
        y: Tensor of shape (batch, time, features)

    Arguments
    ---------
    src : torch.Tensor
        Tensor shape [B, L, N]
    """
    assert named_shapes(dedent(text)) == {"x": ["batch", "len"],
                                          "y": ["batch", "time", "features"],
                                          "src": ["B", "L", "N"]}


def test_a_legend_says_what_letters_mean_and_a_lone_letter_means_nothing():
    meanings = legend("where, B = Batchsize, N = number of filters, L = time points")
    assert meanings == {"B": "batch", "N": "feature", "L": "time"}
    assert shape_roles(["B", "L", "N"], meanings) == ["batch", "time", "feature"]
    # without the legend N would be a second batch: the letter then means nothing
    assert shape_roles(["B", "L", "N"]) == ["batch", "time", None]
    assert shape_roles(["a", "b", "_"]) == [None, None, None]


def test_arrow_comments_give_both_shapes_and_the_new_value_the_second():
    comment = "# [bs x nvars x q_len] --> [bs x q_len x nvars]"
    assert arrow_shapes(comment) == (["bs", "nvars", "q_len"], ["bs", "q_len", "nvars"])
    assert comment_shape(comment, "x") == ["bs", "q_len", "nvars"]
    assert comment_shape("# x: (B, T, C)", "x") == ["B", "T", "C"]
    assert comment_shape("# (B, T, C)", "y") == ["B", "T", "C"]


def test_len_of_a_collection_of_sequences_counts_sequences():
    assert role_from_name("len(sequences)") == "batch"
    assert role_from_name("len(sentences)") == "batch"
    assert role_from_name("len(sequence)") == "time"
    assert role_from_name("len(tokens)") == "time"


# ------------------------------------------------------------------ a function's evidence
def test_parameter_evidence_of_each_kind():
    assert evidence_of("""
    def forward(self, x):
        bs, seq_len, d = x.shape
        return x
    """) == {"x": "(bs[batch], seq_len[time], d[feature])"}
    assert evidence_of("""
    def forward(self, x):
        batch_size = x.size(0)
        return x
    """) == {"x": "(batch_size[batch], ...)"}
    assert evidence_of("""
    def forward(self, x: Float[Tensor, "batch seq feat"]):
        return x
    """) == {"x": "(batch[batch], seq[time], feat[feature])"}
    assert evidence_of("""
    def forward(self, x: TensorType["batch", "time", "feature"]):
        return x
    """) == {"x": "(batch[batch], time[time], feature[feature])"}
    assert evidence_of("""
    def forward(self, x):  # (batch_size, c_in, seq_len)
        return x
    """) == {"x": "(batch_size[batch], c_in[feature], seq_len[time])"}


def test_what_is_said_after_a_rebinding_is_not_about_the_parameter():
    # the comment describes the new x, not the one passed in
    assert evidence_of("""
    def forward(self, x):
        x = self.embed(x)
        # x: (B, T, E)
        return x
    """) == {"x": "x: (...)"}


def test_evidence_that_disagrees_with_itself_gives_no_meaning():
    # the docstring says batch first, the unpacking time first: dims 0 and 1 mean nothing
    assert evidence_of('''
    def forward(self, x):
        """x: (batch, time, feat)"""
        t, b, d = x.shape
        return x
    ''') == {"x": "(x.size(0), x.size(1), d[feature])"}
    # two ranks: nothing holds
    assert evidence_of('''
    def forward(self, x):
        """x: (batch, time)"""
        b, t, d = x.shape
        return x
    ''') == {"x": "x: (...)"}


# ------------------------------------------------------------------ findings and silences
FORWARD = '''
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, n_features, hidden):
        super().__init__()
        self.lstm = nn.LSTM(n_features, hidden{flag})

    def forward(self, x):
        {said}
        out, _ = self.lstm(x)
        return out
'''


@pytest.mark.parametrize("said", [
    '"""x: (batch, seq_len, n_features)"""',
    "bs, seq_len, d = x.shape",
    "batch_size = x.size(0)",
    "# x: [bs x seq_len x n_features]",
])
def test_a_library_forward_that_states_batch_first_contradicts_a_default_lstm(said):
    src = FORWARD.format(flag="", said=said)
    assert rnn001(src) == [row(src, "out, _ = self.lstm(x)")]
    # the same statement agrees with a batch_first module
    assert rnn001(FORWARD.format(flag=", batch_first=True", said=said)) == []


def test_a_forward_that_states_time_first_is_silent():
    assert rnn001(FORWARD.format(flag="", said="seq_len, bs, d = x.shape")) == []
    assert rnn001(FORWARD.format(flag="", said="n = x.size(0)")) == []  # n says nothing


def test_the_trace_shows_the_statement_and_the_module_that_read_it_otherwise():
    src = FORWARD.format(flag="", said="bs, seq_len, d = x.shape")
    [diag] = check_source(dedent(src))
    steps = [(t.row, t.shape) for t in diag.trace]
    assert steps[0] == (row(src, "bs, seq_len, d = x.shape"),
                        "shape unpacking: dims of `x`: 0 `bs` (batch), 1 `seq_len` (time), "
                        "2 `d` (feature)")
    assert steps[-1][0] == row(src, "out, _ = self.lstm(x)")
    assert "expects (time, batch, n_features)" in steps[-1][1]
    # the output goes to callers nobody sees: moving its layout is never a safe fix
    assert diag.fix.applicability == "unsafe"


STATE = '''
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, n_features, hidden, layers=1):
        super().__init__()
        self.hidden, self.layers = hidden, layers
        self.gru = nn.GRU(n_features, hidden, layers)

    def forward(self, x):
        h0 = torch.zeros(self.layers, x.size({dim}), self.hidden)
        out, _ = self.gru(x, h0)
        return out[-1]
'''


def test_the_initial_state_names_the_batch():
    src = STATE.format(dim=0)
    assert shapes(src)[-1] == "(x.size(0)[batch], x.size(1), x.size(2))"
    assert rnn001(src) == [row(src, "out, _ = self.gru(x, h0)")]
    assert rnn001(STATE.format(dim=1)) == []


COMMENTED = '''
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, c_in, d_model):
        super().__init__()
        self.proj = nn.Linear(c_in, d_model)
        self.rnn = nn.GRU(d_model, d_model)

    def forward(self, x):
        x = x.transpose(1, 2)  # {comment}
        x = self.proj(x)
        x, _ = self.rnn(x)
        return x
'''


def test_a_trailing_comment_describes_the_value_made_on_its_line():
    src = COMMENTED.format(comment="(batch_size, seq_len, c_in)")
    assert shapes(src)[-1] == "(x.size(0)[batch], x.size(2)[time], d_model[feature])"
    assert rnn001(src) == [row(src, "x, _ = self.rnn(x)")]
    assert rnn001(COMMENTED.format(comment="(seq_len, batch_size, c_in)")) == []


def test_a_comment_that_contradicts_what_the_tracker_knows_silences_that_dim():
    src = """
    import torch
    import torch.nn as nn

    rnn = nn.LSTM(8, 16)
    x = torch.zeros(4, 20, 8)  # (T, B, C)
    out, _ = rnn(x)
    """
    # the literal sizes carry no meaning; the comment gives them one, and it agrees
    assert rnn001(src) == []
    src = """
    import torch
    import torch.nn as nn

    batch_size, seq_len = 4, 20
    rnn = nn.LSTM(8, 16)
    x = torch.zeros(batch_size, seq_len, 8)  # (T, B, C)
    out, _ = rnn(x)
    """
    # the names say batch first, the comment time first: neither counts
    assert rnn001(src) == []
    assert shapes(src) == ["(4, 20, 8[feature])"]


def test_a_window_count_from_len_is_a_batch():
    src = """
    import torch
    import torch.nn as nn


    class Predictor(nn.Module):
        def __init__(self, n_features, n_hidden, seq_len):
            super().__init__()
            self.seq_len = seq_len
            self.lstm = nn.LSTM(input_size=n_features, hidden_size=n_hidden)

        def forward(self, sequences):
            out, _ = self.lstm(sequences.view(len(sequences), self.seq_len, -1))
            return out


    model = Predictor(1, 32, seq_len=5)
    y = model(load_windows())
    """
    assert shapes(src) == ["(len(sequences)[batch], 5[time], ?)"]
    assert rnn001(src) == [row(src, "out, _ = self.lstm(")]


def test_a_container_subclass_runs_on_the_input_its_docstring_describes():
    src = '''
    from collections import OrderedDict
    import torch.nn as nn


    class Block(nn.Module):
        def __init__(self, d_model, q_len):
            super().__init__()
            self.norm = nn.LayerNorm(d_model)
            self.lstm = nn.LSTM(q_len, q_len, bidirectional=True)

        def forward(self, x):
            return self.lstm(self.norm(x).transpose(1, 2))[0]


    class Model(nn.Sequential):
        """Input:
            x: bs (batch size) x q_len (time steps) x d_model (features)
        """

        def __init__(self, d_model, q_len):
            super().__init__(OrderedDict([("block", Block(d_model, q_len)),
                                          ("head", nn.Linear(d_model, 1))]))
    '''
    assert rnn001(src) == [row(src, "return self.lstm(")]


def test_a_helper_in_a_loop_is_not_fixed_by_reordering_what_it_feeds_back():
    src = '''
    import torch.nn as nn


    class Stack(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.layers = nn.ModuleList([nn.GRU(d, d) for _ in range(3)])

        def forward(self, x):
            bs, seq_len, d = x.shape
            for layer in self.layers:
                x, _ = layer(x)
            return x
    '''
    [diag] = [d for d in check_source(dedent(src)) if d.code == "RNN001"]
    assert diag.row == row(src, "x, _ = layer(x)")
    assert diag.fix is None  # transposing x here would flip it again on the next pass


# ------------------------------------------------------------------ --show-shapes
def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "rnnshape", *args], cwd=cwd, env=cli_env(),
                          capture_output=True, text=True, timeout=120)


def test_show_shapes_says_what_each_dim_means_and_why_a_call_is_silent(tmp_path):
    path = tmp_path / "enc.py"
    path.write_text(dedent(FORWARD.format(flag="", said="n, t, d = x.shape")) +
                    dedent(STATE.format(dim=0)).replace("class Encoder", "class Other"))
    proc = run_cli("check", "--no-cache", "--show-shapes", "enc.py", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    # the first call: the letters n, t, d name dims; t is time, and nothing says batch
    assert "enc.py:13:18: self.lstm = LSTM(input_size=n_features, hidden_size=hidden, " \
           "batch_first=False)" in out
    assert "      dim 0: n (meaning unknown)" not in out  # n with t and d reads as a batch
    assert "    input (n[batch], t[time], d[feature])" in out
    # the second: the state's batch is dim 0 of x
    assert "the initial state's batch (its dim 1) is `x.size(0)`, dim 0 of the input" in out
    assert out.count("-> finding (RNN001)") == 2


def test_show_shapes_explains_silence(tmp_path):
    path = tmp_path / "enc.py"
    path.write_text(dedent(FORWARD.format(flag="", said="pass")))
    proc = run_cli("check", "--no-cache", "--show-shapes", "enc.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "-> silent: the input's rank is unknown; say what the dims are" in proc.stdout


def test_show_shapes_is_text_only(tmp_path):
    (tmp_path / "enc.py").write_text("x = 1\n")
    proc = run_cli("check", "--show-shapes", "--output-format", "json", "enc.py", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--show-shapes prints text" in proc.stderr
    proc = run_cli("check", "--no-cache", "--output-format", "json", "enc.py", cwd=tmp_path)
    assert json.loads(proc.stdout) == []


# ------------------------------------------------------------------ the bug, run
LANGUAGE_MODEL = '''
import torch
import torch.nn as nn


class LanguageModel(nn.Module):
    def __init__(self, n_tokens, n_embed, n_hidden):
        super().__init__()
        self.embed = nn.Embedding(n_tokens, n_embed)
        self.rnn = nn.LSTM(n_embed, n_hidden)
        self.head = nn.Linear(n_hidden, n_tokens)

    def forward(self, ids):
        """ids (torch.Tensor): token ids, (batch, len)"""
        out, _ = self.rnn(self.embed(ids))
        return self.head(out)
'''


def test_the_swap_found_from_a_docstring_mixes_samples_and_the_fix_separates_them():
    torch = pytest.importorskip("torch")
    from rnnshape.api import FixOptions, fix_source

    assert rnn001(LANGUAGE_MODEL) == [row(LANGUAGE_MODEL, "out, _ = self.rnn(")]
    fixed = fix_source(dedent(LANGUAGE_MODEL), "lm.py",
                       options=FixOptions(batch_first=True)).text
    assert "nn.LSTM(n_embed, n_hidden, batch_first=True)" in fixed
    assert rnn001(fixed) == []

    def leak(source: str) -> float:
        """How much the other samples' outputs move when only sample 1 changes."""
        scope: dict = {}
        exec(compile(source, "lm.py", "exec"), scope)
        torch.manual_seed(0)
        model = scope["LanguageModel"](50, 8, 16).eval()
        ids = torch.randint(0, 50, (4, 12))  # (batch, len), as the docstring says
        other = ids.clone()
        other[1] = torch.randint(0, 50, (12,))
        with torch.no_grad():
            moved = (model(ids) - model(other)).abs()
        return torch.cat([moved[:1], moved[2:]]).max().item()

    # as written the recurrence runs across the samples: sample 1 reaches samples 2 and 3
    assert leak(dedent(LANGUAGE_MODEL)) > 1e-4
    assert leak(fixed) == 0.0
