"""The shape tracker on small realistic programs: each finding next to its clean twin.

Rows are found by the text of the line they must point at, so the programs can be edited
without renumbering.
"""
from pathlib import Path
from textwrap import dedent

import libcst as cst
import pytest

from rnnshape.api import check_source
from rnnshape.shapes.interp import Interpreter as Tracker

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "seed"


def findings(src: str, codes=None) -> list[tuple[str, int]]:
    out = [(d.code, d.row) for d in check_source(dedent(src))]
    return [f for f in out if codes is None or f[0] in codes]


def layout(src: str) -> list[tuple[str, int]]:
    """RNN001/RNN002 only: the shape findings, without hygiene noise."""
    return findings(src, {"RNN001", "RNN002"})


def track(src: str):
    return Tracker(cst.parse_module(dedent(src))).run()


def rnn_shapes(src: str) -> list[str]:
    return [str(call.shape) for call in track(src).recurrent_calls]


def row(src: str, text: str, nth: int = 0) -> int:
    """1-based row of the nth line of the (dedented) source containing ``text``."""
    rows = [i for i, line in enumerate(dedent(src).splitlines(), start=1) if text in line]
    assert len(rows) > nth, f"{text!r} not in source"
    return rows[nth]


# ============================================================================ imports
SIMPLE = """
{imports}

batch_size, seq_len, n_features = 8, 20, 16
rnn = {ctor}(n_features, 32)
x = {t}.zeros(batch_size, seq_len, n_features)
out, _ = rnn({arg})
"""

IMPORT_FORMS = [
    ("import torch\nimport torch.nn as nn", "nn.LSTM", "torch", "LSTM"),
    ("import torch", "torch.nn.LSTM", "torch", "LSTM"),
    ("import torch\nfrom torch.nn import GRU as G", "G", "torch", "GRU"),
    ("import torch as T", "T.nn.RNN", "T", "RNN"),
    ("import torch\nimport torch.nn.modules.rnn", "torch.nn.modules.rnn.LSTM", "torch", "LSTM"),
    ("import torch\nfrom torch.nn.modules.rnn import LSTM as L", "L", "torch", "LSTM"),
    ("import torch\nfrom torch import nn", "nn.GRU", "torch", "GRU"),
]


@pytest.mark.parametrize("imports, ctor, t, kind", IMPORT_FORMS)
def test_aliased_imports_are_resolved(imports, ctor, t, kind):
    bug = SIMPLE.format(imports=imports, ctor=ctor, t=t, arg="x")
    assert layout(bug) == [("RNN001", row(bug, "out, _ = rnn("))]
    calls = track(bug).recurrent_calls
    assert [c.module.kind for c in calls] == [kind]
    assert str(calls[0].shape) == "(8[batch], 20[time], 16[feature])"

    ok = SIMPLE.format(imports=imports, ctor=ctor, t=t, arg="x.transpose(0, 1)")
    assert layout(ok) == []


@pytest.mark.parametrize("shadow", [
    # a module-level rebinding
    "import mylayers as nn",
    # a class of the same name
    "class nn:\n    @staticmethod\n    def LSTM(a, b):\n        return None",
    # a loop variable
    "for nn in (layers_a, layers_b):\n    pass",
])
def test_shadowed_nn_is_not_torch_nn(shadow):
    src = "import torch\nimport torch.nn as nn\n" + shadow + """
batch_size, seq_len, n_features = 8, 20, 16
rnn = nn.LSTM(n_features, 32)
out, _ = rnn(torch.zeros(batch_size, seq_len, n_features))
"""
    assert track(src).recurrent_calls == []
    assert layout(src) == []
    # the same program without the shadowing line is a finding, so the shadow is what counts
    unshadowed = src.replace(shadow, "")
    assert layout(unshadowed) == [("RNN001", row(unshadowed, "out, _ = rnn("))]


def test_parameter_named_nn_is_not_torch_nn():
    src = """
    import torch
    import torch.nn as nn

    def build(nn, batch_size=8, seq_len=20):
        rnn = nn.LSTM(16, 32)
        out, _ = rnn(torch.zeros(batch_size, seq_len, 16))
        return out

    build(my_layers)
    """
    assert track(src).recurrent_calls == []
    assert layout(src) == []


def test_local_assignment_shadows_nn_only_in_its_function():
    src = """
    import torch
    import torch.nn as nn

    def custom(batch_size, seq_len):
        nn = load_plugin()
        rnn = nn.LSTM(16, 32)
        out, _ = rnn(torch.zeros(batch_size, seq_len, 16))

    def real(batch_size, seq_len):
        rnn = nn.LSTM(16, 32)
        out, _ = rnn(torch.zeros(batch_size, seq_len, 16))

    custom(8, 20)
    real(8, 20)
    """
    assert layout(src) == [("RNN001", row(src, "out, _ = rnn(", nth=1))]


# ============================================================================ DataLoader
LOADER = """
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

n_samples, seq_len, n_features = 1000, 20, 8
X = torch.randn(n_samples, seq_len, n_features)
y = torch.randn(n_samples)
loader = DataLoader(TensorDataset(X, y), batch_size={bs}, shuffle=True)
rnn = nn.GRU(n_features, 16{bf})
{loop}
    out, h = rnn(xb)
"""


@pytest.mark.parametrize("loop", [
    "for xb, yb in loader:",
    "for i, (xb, yb) in enumerate(loader):",
    "for epoch in range(3):\n  for xb, yb in loader:",
    "for batch in loader:\n    xb, yb = batch",
])
def test_loader_batches_into_seq_first_module(loop):
    bug = LOADER.format(bs=32, bf="", loop=loop)
    assert layout(bug) == [("RNN001", row(bug, "out, h = rnn(xb)"))]
    assert rnn_shapes(bug) == ["(32[batch], 20[time], 8[feature])"]

    ok = LOADER.format(bs=32, bf=", batch_first=True", loop=loop)
    assert layout(ok) == []


def test_loader_batch_size_from_an_expression_is_a_batch_symbol():
    src = LOADER.format(bs="args.batch_size", bf="", loop="for xb, yb in loader:")
    assert rnn_shapes(src) == ["(args.batch_size[batch], 20[time], 8[feature])"]
    assert layout(src) == [("RNN001", row(src, "out, h = rnn(xb)"))]


def test_loader_with_collate_fn_is_unknown():
    src = LOADER.format(bs="32, collate_fn=pad", bf="", loop="for xb, yb in loader:")
    assert layout(src) == []


@pytest.mark.parametrize("loop", ["for (xb,) in loader:", "for batch in loader:\n    xb = batch[0]",
                                  "for xb, in loader:"])
def test_loader_over_one_tensor_yields_a_one_element_list(loop):
    src = LOADER.format(bs=32, bf="", loop=loop).replace("TensorDataset(X, y)", "TensorDataset(X)")
    assert rnn_shapes(src) == ["(32[batch], 20[time], 8[feature])"]
    assert layout(src) == [("RNN001", row(src, "out, h = rnn(xb)"))]


def test_permuted_loader_batch_is_clean():
    src = LOADER.format(bs=32, bf="", loop="for xb, yb in loader:\n    xb = xb.permute(1, 0, 2)")
    assert rnn_shapes(src) == ["(20[time], 32[batch], 8[feature])"]
    assert layout(src) == []


# ============================================================================ Embedding
EMBED = """
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

vocab_size, embedding_dim, hidden_size = 5000, 64, 128
n_samples, seq_len = 1000, 40
tokens = torch.randint(0, vocab_size, (n_samples, seq_len))
labels = torch.randint(0, 2, (n_samples,))
loader = DataLoader(TensorDataset(tokens, labels), batch_size=32)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM({input_size}, hidden_size{bf})
        self.fc = nn.Linear(hidden_size, 2)

    def forward(self, tok):
        emb = self.embedding(tok)
        out, _ = self.lstm(emb)
        return self.fc(out[:, -1])


model = Classifier()
for tok, lab in loader:
    logits = model(tok)
"""


def test_embedding_output_into_batch_first_lstm_is_clean():
    src = EMBED.format(input_size="embedding_dim", bf=", batch_first=True")
    assert rnn_shapes(src) == ["(32[batch], 40[time], 64[feature])"]
    assert layout(src) == []


def test_embedding_output_into_seq_first_lstm():
    src = EMBED.format(input_size="embedding_dim", bf="")
    assert layout(src) == [("RNN001", row(src, "out, _ = self.lstm(emb)"))]


def test_embedding_output_into_lstm_with_wrong_input_size():
    src = EMBED.format(input_size="hidden_size", bf=", batch_first=True")
    assert layout(src) == [("RNN002", row(src, "out, _ = self.lstm(emb)"))]


# ============================================================================ Conv1d
CONV = """
import torch
from torch import nn


class ConvRNN(nn.Module):
    def __init__(self, channels, hidden):
        super().__init__()
        self.conv = nn.Conv1d(channels, 64, kernel_size=3, padding=1)
        self.rnn = nn.LSTM(64, hidden, batch_first=True)

    def forward(self, x):
        feats = torch.relu(self.conv(x))
        out, _ = self.rnn({arg})
        return out


model = ConvRNN(8, 32)
y = model(torch.randn(16, 8, 100))
"""


@pytest.mark.parametrize("arg", ["feats.transpose(1, 2)", "feats.permute(0, 2, 1)",
                                 "feats.transpose(-1, -2)"])
def test_conv1d_transposed_into_batch_first_lstm_is_clean(arg):
    src = CONV.format(arg=arg)
    assert rnn_shapes(src) == ["(16, 100[time], 64[feature])"]
    assert layout(src) == []


def test_conv1d_without_transpose():
    src = CONV.format(arg="feats")
    assert rnn_shapes(src) == ["(16, 64[feature], 100[time])"]
    assert layout(src) == [("RNN001", row(src, "out, _ = self.rnn(feats)"))]


def test_conv1d_stride_changes_the_length():
    src = CONV.format(arg="feats.transpose(1, 2)").replace("padding=1", "stride=2")
    assert rnn_shapes(src) == ["(16, 49[time], 64[feature])"]


# ============================================================================ losses
LM = """
import torch
import torch.nn as nn


class LM(nn.Module):
    def __init__(self, vocab_size, hidden_size):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, hidden_size)
        self.lstm = nn.LSTM(hidden_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens):
        out, _ = self.lstm({arg})
        return self.head(out)


batch_size, seq_len = 8, 30
model = LM(1000, 64)
criterion = nn.CrossEntropyLoss()
tokens = torch.randint(0, 1000, (batch_size, seq_len))
targets = torch.randint(0, 1000, (batch_size, seq_len))
logits = model(tokens)
loss = criterion(logits.permute(0, 2, 1), targets)
loss.backward()
"""


def test_permute_feeding_a_loss_is_not_a_recurrent_input():
    src = LM.format(arg="self.emb(tokens)")
    calls = track(src).recurrent_calls
    assert len(calls) == 1 and str(calls[0].shape) == "(8[batch], 30[time], 64[feature])"
    assert findings(src) == []


def test_the_same_permute_on_the_recurrent_input_is_a_finding():
    src = LM.format(arg="self.emb(tokens).permute(1, 0, 2)")
    assert layout(src) == [("RNN001", row(src, "out, _ = self.lstm("))]


# ============================================================================ heads
HEAD = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Classifier(nn.Module):
    def __init__(self, n_features, hidden, classes):
        super().__init__()
        self.rnn = nn.GRU(n_features, hidden, batch_first=True, bidirectional=True)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear({in_features}, classes)

    def forward(self, x):
        out, h = self.rnn(x)
        return self.fc({head})
"""
CALLED = """
batch_size, seq_len, n_features = 16, 50, 12
model = Classifier(n_features, 64, 5)
y = model(torch.randn(batch_size, seq_len, n_features))
"""

HEAD_INPUTS = [
    "out[:, -1, :]",
    "out[:, -1]",
    "out[-1]",
    "self.drop(out[:, -1, :])",
    "self.drop(out)[:, -1]",
    "F.relu(self.drop(out[:, -1]))",
    "torch.cat((h[-2], h[-1]), dim=1)",
]


@pytest.mark.parametrize("head", HEAD_INPUTS)
def test_bidirectional_head_with_one_direction_of_features(head):
    src = HEAD.format(in_features="hidden", head=head) + CALLED
    assert findings(src, {"RNN004"}) == [("RNN004", row(src, "self.fc = nn.Linear"))]


@pytest.mark.parametrize("head", HEAD_INPUTS)
@pytest.mark.parametrize("in_features", ["hidden * 2", "2 * hidden"])
def test_bidirectional_head_with_both_directions_is_clean(head, in_features):
    src = HEAD.format(in_features=in_features, head=head) + CALLED
    assert findings(src, {"RNN004"}) == []


@pytest.mark.parametrize("head", ["out[:, -1, :]", "out[-1]", "self.drop(out)[:, -1, :]"])
def test_bidirectional_head_proven_without_knowing_any_size(head):
    # Nobody builds the model: hidden is a symbol, and 2*hidden != hidden still holds.
    bug = HEAD.format(in_features="hidden", head=head)
    assert findings(bug, {"RNN004"}) == [("RNN004", row(bug, "self.fc = nn.Linear"))]
    ok = HEAD.format(in_features="hidden * 2", head=head)
    assert findings(ok, {"RNN004"}) == []


def test_one_direction_of_the_final_state_fits_a_hidden_sized_head():
    # h[-1] of a bidirectional module has hidden features: not a head-size mismatch.
    src = HEAD.format(in_features="hidden", head="h[-1]") + CALLED
    assert findings(src, {"RNN004"}) == []


PROJ = """
import torch
import torch.nn as nn


class M(nn.Module):
    def __init__(self, n_features, hidden, proj, classes):
        super().__init__()
        self.rnn = nn.LSTM(n_features, hidden, batch_first=True, proj_size=proj,
                           bidirectional={bi})
        self.fc = nn.Linear({in_features}, classes)

    def forward(self, x):
        out, (h, c) = self.rnn(x)
        return self.fc(out[:, -1, :])


model = M(8, 64, 16, 3)
y = model(torch.randn(4, 10, 8))
"""


@pytest.mark.parametrize("bi, good, bad", [
    ("False", "proj", "hidden"),
    ("True", "proj * 2", "proj"),
    ("True", "2 * proj", "hidden * 2"),
])
def test_lstm_with_proj_size_feeds_proj_features(bi, good, bad):
    assert findings(PROJ.format(bi=bi, in_features=good), {"RNN004"}) == []
    src = PROJ.format(bi=bi, in_features=bad)
    assert findings(src, {"RNN004"}) == [("RNN004", row(src, "self.fc = nn.Linear"))]


# ============================================================================ no_grad
EVAL = """
import torch
import torch.nn as nn

model = nn.Linear(4, 2)
{body}
"""


@pytest.mark.parametrize("body", [
    # a with block
    """
def evaluate(batches):
    model.eval()
    with torch.no_grad():
        for x in batches:
            y = model(x)
""",
    """
def evaluate(batches):
    model.eval()
    with torch.inference_mode():
        for x in batches:
            y = model(x)
""",
    """
@torch.no_grad()
def evaluate(batches):
    model.eval()
    for x in batches:
        y = model(x)
""",
    """
@torch.inference_mode()
def evaluate(batches):
    model.eval()
    for x in batches:
        y = model(x)
""",
    """
from torch import no_grad

def evaluate(batches):
    model.eval()
    with no_grad():
        for x in batches:
            y = model(x)
""",
    """
def evaluate(batches):
    model.eval()
    with torch.set_grad_enabled(False):
        for x in batches:
            y = model(x)
""",
    # a mode we cannot read may be False: silence
    """
def run_epoch(batches, training):
    model.eval()
    with torch.set_grad_enabled(training):
        for x in batches:
            y = model(x)
""",
    # gradients switched off for the rest of the script
    """
torch.set_grad_enabled(False)
model.eval()
y = model(torch.zeros(3, 4))
""",
])
def test_no_grad_forms_suppress_eval_without_no_grad(body):
    assert findings(EVAL.format(body=body), {"RNN101"}) == []


@pytest.mark.parametrize("body, line", [
    ("""
def evaluate(batches):
    model.eval()
    for x in batches:
        y = model(x)
""", "y = model(x)"),
    ("""
def evaluate(batches):
    model.eval()
    with torch.set_grad_enabled(True):
        for x in batches:
            y = model(x)
""", "y = model(x)"),
    ("""
def evaluate(batches):
    model.eval()
    with torch.inference_mode(False):
        for x in batches:
            y = model(x)
""", "y = model(x)"),
    ("""
model.eval()
first = model(torch.zeros(3, 4))
second = model(torch.zeros(3, 4))
""", "first = model("),
])
def test_eval_without_no_grad(body, line):
    src = EVAL.format(body=body)
    assert findings(src, {"RNN101"}) == [("RNN101", row(src, line))]


def test_region_with_backward_is_training_not_evaluation():
    src = EVAL.format(body="""
def finetune(batches, opt):
    model.eval()
    for x in batches:
        loss = model(x).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
""")
    assert findings(src, {"RNN101"}) == []


def test_train_call_ends_the_region():
    src = EVAL.format(body="""
model.eval()
model.train()
y = model(torch.zeros(3, 4))
""")
    assert findings(src, {"RNN101"}) == []


def test_backward_inside_a_helper_counts_when_its_summary_is_reused():
    src = EVAL.format(body="""
def train_step(x):
    loss = model(x).sum()
    loss.backward()


x0 = torch.zeros(3, 4)
train_step(x0)
model.eval()
preds = model(x0)
train_step(x0)
""")
    assert findings(src, {"RNN101"}) == []
    # without the second (cached) train_step the region has no backward
    bug = src[:src.rindex("train_step(x0)")]
    assert findings(bug, {"RNN101"}) == [("RNN101", row(bug, "preds = model(x0)"))]


# ============================================================================ .numpy()
NUMPY = """
import torch
import torch.nn as nn

net = nn.LSTM(4, 8, batch_first=True)
x = torch.zeros(2, 5, 4)
{body}
"""


@pytest.mark.parametrize("body", [
    "out, _ = net(x)\nres = out.detach().numpy()",
    "out, _ = net(x)\nres = out.data.numpy()",
    "out, _ = net(x)\nres = out.detach().cpu().numpy()",
    "out, _ = net(x)\nres = out.cpu().detach().numpy()",
    "with torch.no_grad():\n    out, _ = net(x)\n    res = out.numpy()",
    # computed without gradients, converted later
    "with torch.no_grad():\n    out, _ = net(x)\nres = out[:, -1].numpy()",
    "@torch.no_grad()\ndef predict(inp):\n    out, _ = net(inp)\n    return out.numpy()",
    # the model's input never required grad
    "res = x.numpy()",
    # argmax has no gradient
    "out, _ = net(x)\nres = out.argmax(-1).numpy()",
])
def test_numpy_of_a_detached_tensor_is_clean(body):
    assert findings(NUMPY.format(body=body), {"RNN102"}) == []


@pytest.mark.parametrize("body, line", [
    ("out, _ = net(x)\nres = out.numpy()", "res = out.numpy()"),
    ("out, _ = net(x)\nres = out.cpu().numpy()", "res = out.cpu().numpy()"),
    ("out, (h, c) = net(x)\nprint(h.numpy())", "print(h.numpy())"),
    ("out, _ = net(x)\nres = out[:, -1].numpy()", "res = out[:, -1].numpy()"),
    ("def predict(inp):\n    out, _ = net(inp)\n    return out.numpy()", "return out.numpy()"),
])
def test_numpy_of_a_tensor_that_requires_grad(body, line):
    src = NUMPY.format(body=body)
    assert findings(src, {"RNN102"}) == [("RNN102", row(src, line))]


# ============================================================================ seeds
# Each program also builds a module, so torch's generator matters to it.
MODEL_LINE = "rnn = nn.LSTM(8, 16)\n"


@pytest.mark.parametrize("src", [
    "import numpy as np\nimport torch\nimport torch.nn as nn\nnp.random.seed(0)\n"
    "torch.manual_seed(0)\n",
    "import random\nimport torch as T\nfrom torch import nn\nrandom.seed(0)\nT.manual_seed(0)\n",
    "import numpy as np\nfrom torch import manual_seed, nn\nnp.random.seed(0)\nmanual_seed(0)\n",
    "import numpy as np\nimport torch\nimport torch.nn as nn\nnp.random.seed(0)\nif use_cuda:\n"
    "    torch.cuda.manual_seed_all(0)\n",
    "import numpy as np\nimport pytorch_lightning as pl\nimport torch.nn as nn\n"
    "np.random.seed(1)\npl.seed_everything(1)\n",
    "import numpy as np\nimport torch\nimport torch.nn as nn\n\ndef seed_all(s):\n"
    "    np.random.seed(s)\n    torch.manual_seed(s)\n",
])
def test_torch_seeded_is_clean(src):
    assert findings(src + MODEL_LINE, {"RNN103"}) == []


def test_file_without_torch_is_clean():
    assert findings("import random\nrandom.seed(0)\nx = random.random()\n", {"RNN103"}) == []


@pytest.mark.parametrize("src, line", [
    ("import numpy as np\nimport torch\nimport torch.nn as nn\nnp.random.seed(42)\n",
     "np.random.seed"),
    ("import random\nimport torch\nfrom torch import nn\nrandom.seed(0)\n", "random.seed"),
    ("from numpy.random import seed\nimport torch.nn as nn\nseed(1)\n", "seed(1)"),
    ("import numpy\nimport torch.nn as nn\nnumpy.random.seed(0)\n", "numpy.random.seed"),
    ("import numpy as np\nimport torch.nn as nn\n\ndef seed_all(s):\n    np.random.seed(s)\n",
     "np.random.seed"),
])
def test_numpy_seeded_torch_not(src, line):
    src += MODEL_LINE
    assert findings(src, {"RNN103"}) == [("RNN103", row(src, line))]


# ============================================================================ the seed pair
def test_seed_bug_reports_each_permute():
    text = (EXAMPLES / "onehot_lstm_bug.py").read_text()
    permute_rows = [i for i, line in enumerate(text.splitlines(), start=1)
                    if "permute(0, 2, 1)" in line and not line.lstrip().startswith(("#", "`"))
                    and "=" in line]
    assert len(permute_rows) == 3
    diags = [d for d in check_source(text) if d.code == "RNN001"]
    assert [d.row for d in diags] == permute_rows
    for d in diags:
        shapes = [t.shape for t in d.trace]
        assert "(1[batch], len(sequence)[time], vocab_size[feature])" in shapes
        assert "(1[batch], vocab_size[feature], len(sequence)[time])" in shapes
        assert any(t.row == d.row and "permute(0, 2, 1)" in t.text for t in d.trace)


def test_seed_ok_has_no_layout_finding():
    text = (EXAMPLES / "onehot_lstm_ok.py").read_text()
    assert [d for d in check_source(text) if d.code in ("RNN001", "RNN002")] == []
    shapes = {str(c.shape) for c in Tracker(cst.parse_module(text)).run().recurrent_calls}
    assert shapes == {"(len(sequence)[time], 1, vocab_size[feature])"}


# ============================================================================ helpers
def test_helpers_are_summarised_per_helper():
    src = """
    import torch
    import torch.nn as nn

    seq_len, n_features = 20, 8
    rnn = nn.LSTM(n_features, 16)

    def add_batch(x):
        return x.unsqueeze(1)

    def add_batch_front(x):
        return x.unsqueeze(0)

    a = add_batch(torch.zeros(seq_len, n_features))
    out, _ = rnn(a)
    b = add_batch_front(torch.zeros(seq_len, n_features))
    out, _ = rnn(b)
    """
    assert rnn_shapes(src) == ["(20[time], 1[batch], 8[feature])",
                               "(1[batch], 20[time], 8[feature])"]
    assert layout(src) == [("RNN001", row(src, "out, _ = rnn(b)"))]


def test_one_helper_is_summarised_per_call_signature():
    src = """
    import torch
    import torch.nn as nn

    seq_len, n_features, batch_size = 20, 8, 4
    rnn = nn.LSTM(n_features, 16)

    def to_time_major(x):
        return x.permute(1, 0, 2)

    out, _ = rnn(to_time_major(torch.zeros(batch_size, seq_len, n_features)))
    out, _ = rnn(to_time_major(torch.zeros(seq_len, batch_size, n_features)))
    """
    # the second call's input was already time-major: the permute inside the helper is wrong
    assert rnn_shapes(src) == ["(20[time], 4[batch], 8[feature])",
                               "(4[batch], 20[time], 8[feature])"]
    assert layout(src) == [("RNN001", row(src, "return x.permute(1, 0, 2)"))]


def test_helper_summary_does_not_mix_roles_of_equal_sizes():
    # 20 is a time in the first call and a batch in the second: one summary cannot serve both.
    src = """
    import torch
    import torch.nn as nn

    rnn = nn.GRU(8, 16)

    def one_more_axis(x):
        return x.unsqueeze(0)

    def encode(seq_len):
        return rnn(one_more_axis(torch.zeros(seq_len, 8)))

    def decode(batch_size):
        return rnn(one_more_axis(torch.zeros(batch_size, 8)))

    encode(20)
    decode(20)
    """
    assert rnn_shapes(src) == ["(1[batch], 20[time], 8)", "(1[time], 20[batch], 8)"]
    assert layout(src) == [("RNN001", row(src, "return rnn(one_more_axis(torch.zeros(seq_len"))]


def test_a_size_passed_to_a_helper_keeps_its_symbol():
    src = """
    import torch
    import torch.nn as nn

    vocab_size = 30
    rnn = nn.GRU(vocab_size, 16)

    def encode(length):
        n = length
        return rnn(torch.zeros(n, 1, vocab_size))

    sentence = "hello world".split()
    encode(len(sentence))
    """
    assert rnn_shapes(src) == ["(len(sentence)[time], 1, 30[feature])"]


MODEL = """
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, n_features, hidden):
        super().__init__()
        self.hidden = hidden
        self.n_features = n_features
        self.rnn = nn.GRU(self.n_features, self.hidden)

    def forward(self, x):
        batch_size = x.size(0)
        seq_len = x.shape[1]
        out, h = self.rnn({arg})
        return out


encoder = Encoder(8, 16)
y = encoder{call}(torch.zeros(4, 20, 8))
"""


@pytest.mark.parametrize("call", ["", ".forward"])
def test_instance_call_flows_into_forward_with_attrs_from_init(call):
    src = MODEL.format(arg="x.reshape(batch_size, seq_len, -1)", call=call)
    calls = track(src).recurrent_calls
    assert len(calls) == 1
    module = calls[0].module
    assert module.label == "self.rnn"
    assert module.dim("input_size").value == 8 and module.dim("hidden_size").value == 16
    # x.size(0) and x.shape[1] are named, so they say which is batch and which is time
    assert str(calls[0].shape) == "(4[batch], 20[time], 8)"
    assert layout(src) == [("RNN001", row(src, "out, h = self.rnn("))]


def test_size_and_shape_dims_reordered_correctly_are_clean():
    src = MODEL.format(arg="x.permute(1, 0, 2)", call="")
    assert layout(src) == []
    src = MODEL.format(arg="x.reshape(batch_size, seq_len, -1).transpose(0, 1)", call="")
    assert rnn_shapes(src) == ["(20[time], 4[batch], 8)"]
    assert layout(src) == []


def test_unpacked_shape_tuple_names_dims():
    src = """
    import torch
    import torch.nn as nn

    rnn = nn.LSTM(8, 16)

    def step(x):
        batch_size, seq_len, n_features = x.shape
        return rnn(x.view(batch_size, seq_len, n_features))

    step(torch.randn(4, 20, 8))
    """
    assert rnn_shapes(src) == ["(4[batch], 20[time], 8[feature])"]
    assert layout(src) == [("RNN001", row(src, "return rnn("))]


METHODS = """
import torch
import torch.nn as nn


class Seq2Vec(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.hidden = hidden
        self.rnn = nn.LSTM(8, hidden, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(self.features, 2)

    @property
    def features(self):
        return {features}

    @staticmethod
    def batch_major(x, ref):
        return x.permute({perm})

    @classmethod
    def small(cls):
        return cls(16)

    def forward(self, x):
        batch_size = x.size(dim=0)
        seq_len = x.size(1)
        t = torch.zeros(seq_len, batch_size, 8)
        out, _ = self.rnn(self.batch_major(t, x))
        return self.fc(out[:, -1])


model = Seq2Vec.small()
y = model(torch.zeros(4, 20, 8))
"""


def test_static_and_class_methods_and_properties():
    src = METHODS.format(features="2 * self.hidden", perm="1, 0, 2")
    assert rnn_shapes(src) == ["(4[batch], 20[time], 8)"]
    assert findings(src, {"RNN001", "RNN002", "RNN004"}) == []


def test_static_method_arguments_are_not_shifted_by_self():
    src = METHODS.format(features="2 * self.hidden", perm="0, 1, 2")
    assert findings(src, {"RNN001", "RNN002", "RNN004"}) == [
        ("RNN001", row(src, "return x.permute("))]


def test_property_value_reaches_the_layer():
    src = METHODS.format(features="self.hidden", perm="1, 0, 2")
    assert findings(src, {"RNN001", "RNN002", "RNN004"}) == [
        ("RNN004", row(src, "self.fc = nn.Linear"))]


# ============================================================================ ops
OPS = """
import torch
import torch.nn as nn

seq_len, batch_size, n_features = 20, 4, 8
rnn = nn.LSTM({input_size}, 16)
{body}
out, _ = rnn({arg})
"""


@pytest.mark.parametrize("body, arg, shape", [
    ("a = torch.randn(seq_len, batch_size, n_features)\nb = torch.randn(seq_len, batch_size, n_features)",
     "torch.cat([a, b], dim=2)", "(20[time], 4[batch], 16[feature])"),
    ("a = torch.randn(seq_len, batch_size, n_features)\nb = torch.randn(seq_len, batch_size, n_features)",
     "torch.cat((a, b), -1)", "(20[time], 4[batch], 16[feature])"),
    ("steps = [torch.randn(batch_size, n_features * 2) for _ in range(seq_len)]",
     "torch.stack(steps)", "(20[time], 4[batch], 16[feature])"),
    ("steps = [torch.randn(batch_size, n_features * 2) for _ in range(seq_len)]",
     "torch.stack(steps, dim=0)", "(20[time], 4[batch], 16[feature])"),
])
def test_cat_and_stack(body, arg, shape):
    src = OPS.format(input_size="n_features * 2", body=body, arg=arg)
    assert rnn_shapes(src) == [shape]
    assert layout(src) == []


def test_lists_built_in_loops_have_unknown_length():
    # the loop body runs once in the tracker; the list it fills is not one element long
    src = """
    import numpy as np
    import torch
    import torch.nn as nn

    batch_size, n_features = 4, 8
    rnn = nn.GRU(n_features, 16)
    steps = []
    for t in range(num_steps):
        steps.append(torch.randn(batch_size, n_features))
    out, _ = rnn(torch.stack(steps))
    windows = []
    for start in range(0, 100, 5):
        windows.append(np.zeros((5, n_features)))
    out, _ = rnn(torch.from_numpy(np.array(windows)))
    """
    assert rnn_shapes(src) == ["(?, 4[batch], 8[feature])", "(?, 5, 8[feature])"]
    assert layout(src) == []


def test_sizes_accumulated_in_loops_are_unknown():
    src = """
    import torch
    import torch.nn as nn

    rnn = nn.GRU(8, 16)
    total_len = 0
    for s in sentences:
        total_len += len(s)
    out, _ = rnn(torch.zeros(total_len, 4, 8))
    """
    assert rnn_shapes(src) == ["(?, 4, 8)"]


def test_cat_on_the_wrong_axis_changes_the_feature_size():
    body = ("a = torch.randn(seq_len, batch_size, n_features)\n"
            "b = torch.randn(seq_len, batch_size, n_features)")
    src = OPS.format(input_size="n_features * 2", body=body, arg="torch.cat([a, b], dim=0)")
    assert rnn_shapes(src) == ["(40[time], 4[batch], 8[feature])"]
    assert layout(src) == [("RNN002", row(src, "out, _ = rnn("))]


def test_stack_on_the_batch_axis_gives_batch_major():
    body = "steps = [torch.randn(batch_size, n_features) for _ in range(seq_len)]"
    src = OPS.format(input_size="n_features", body=body, arg="torch.stack(steps, dim=1)")
    assert rnn_shapes(src) == ["(4[batch], 20[time], 8[feature])"]
    assert layout(src) == [("RNN001", row(src, "out, _ = rnn("))]


def test_cat_with_an_unreadable_axis_is_unknown():
    body = ("a = torch.randn(seq_len, batch_size, n_features)\n"
            "b = torch.randn(seq_len, batch_size, n_features)")
    src = OPS.format(input_size="n_features * 2", body=body, arg="torch.cat([a, b], axis_of(a))")
    # not dim 0 by default: that would be (40, 4, 8) and a false RNN002
    assert rnn_shapes(src) == []
    assert layout(src) == []


def test_matmul_broadcasts_batched_operands():
    src = """
    import torch
    import torch.nn as nn

    rnn = nn.GRU(5, 3)
    a = torch.zeros(7, 4)
    w = torch.zeros(4, 5)
    batched = torch.zeros(2, 4, 5)
    out, _ = rnn((a @ w).unsqueeze(1))
    out, _ = rnn(torch.zeros(2, 7, 4) @ batched)
    out, _ = rnn(a @ batched)
    """
    # the last is (2, 7, 5) at run time; ranks that differ are not followed
    assert rnn_shapes(src) == ["(7, 1, 5)", "(2, 7, 5)"]


@pytest.mark.parametrize("arg, shape, code", [
    ("x.view(batch_size, seq_len, -1).transpose(0, 1)", "(20[time], 4[batch], 8)", None),
    ("x.view(seq_len, batch_size, -1)", "(20[time], 4[batch], 8)", None),
    ("x.reshape(-1, batch_size, n_features)", "(20, 4[batch], 8[feature])", None),
    ("x.view(batch_size, seq_len, -1)", "(4[batch], 20[time], 8)", "RNN001"),
    ("x.view(seq_len * 2, batch_size, -1)", "(40[time], 4[batch], 4)", "RNN002"),
])
def test_view_and_reshape_infer_minus_one(arg, shape, code):
    # x is (batch, seq*feat): -1 is what is left over
    src = OPS.format(input_size="n_features",
                     body="x = torch.randn(batch_size, seq_len * n_features)", arg=arg)
    assert rnn_shapes(src) == [shape]
    assert layout(src) == ([(code, row(src, "out, _ = rnn("))] if code else [])


def test_reshape_does_not_borrow_roles_from_an_equal_size():
    # batch_size == seq_len: the reshape's own names say which is which, not the old order
    src = """
    import torch
    import torch.nn as nn

    seq_len, batch_size, n_features = 32, 32, 8
    rnn = nn.LSTM(n_features, 16)
    x = torch.randn(batch_size, seq_len, n_features)
    out, _ = rnn(x.reshape(seq_len, batch_size, n_features))
    """
    assert rnn_shapes(src) == ["(32[time], 32[batch], 8[feature])"]
    assert layout(src) == []


@pytest.mark.parametrize("arg, shape, bug", [
    ("x[None]", "(1[batch], 20[time], 8[feature])", True),
    ("x.unsqueeze(0)", "(1[batch], 20[time], 8[feature])", True),
    ("x[:, None]", "(20[time], 1[batch], 8[feature])", False),
    ("x[:, None, :]", "(20[time], 1[batch], 8[feature])", False),
    ("x.unsqueeze(1)", "(20[time], 1[batch], 8[feature])", False),
    ("x.unsqueeze(-2)", "(20[time], 1[batch], 8[feature])", False),
    ("x.unsqueeze(1).squeeze(1).unsqueeze(1)", "(20[time], 1[batch], 8[feature])", False),
    ("torch.zeros(seq_len, 1, n_features).squeeze().unsqueeze(1)",
     "(20[time], 1[batch], 8[feature])", False),
    ("x.unsqueeze(-1)", "(20[time], 8[feature], 1[feature])", True),
])
def test_unsqueeze_squeeze_and_none(arg, shape, bug):
    src = OPS.format(input_size="n_features", body="x = torch.randn(seq_len, n_features)",
                     arg=arg)
    assert rnn_shapes(src) == [shape]
    assert [c for c, _ in layout(src)] == (["RNN001"] if bug else [])


DECODER = """
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(1000, 64)
        self.lstm = nn.LSTM(64, 128{bf})

    def forward(self, token, state):
        emb = self.embedding(token).unsqueeze({axis})
        out, state = self.lstm(emb, state)
        return out, state


decoder = Decoder()
loader = DataLoader(TensorDataset(torch.randint(0, 1000, (500,))), batch_size=32)
for (tok,) in loader:
    decoder(tok, None)
"""


@pytest.mark.parametrize("bf, axis, shape", [
    ("", 0, "(1[time], 32[batch], 64[feature])"),
    (", batch_first=True", 1, "(32[batch], 1[time], 64[feature])"),
])
def test_one_step_decoder_adds_a_time_step_not_a_batch(bf, axis, shape):
    src = DECODER.format(bf=bf, axis=axis)
    assert rnn_shapes(src) == [shape]
    assert layout(src) == []


def test_one_step_decoder_with_the_axis_on_the_wrong_side():
    src = DECODER.format(bf="", axis=1)
    assert rnn_shapes(src) == ["(32[batch], 1[time], 64[feature])"]
    assert layout(src) == [("RNN001", row(src, "out, state = self.lstm("))]


def test_inserted_axis_without_known_roles_has_no_meaning():
    # (32, 64) might be (batch, feat) or (seq, feat): the new axis cannot be told
    src = DECODER.format(bf="", axis=1).replace(
        "for (tok,) in loader:\n    decoder(tok, None)",
        "decoder(torch.zeros(32, dtype=torch.long), None)")
    assert rnn_shapes(src) == ["(32, 1, 64[feature])"]
    assert layout(src) == []


def test_squeeze_of_an_unknown_dim_stays_unknown():
    src = """
    import torch
    import torch.nn as nn

    seq_len, n_features = 20, 8
    rnn = nn.GRU(n_features, 16)

    def load(k):
        return torch.randn(k, seq_len, n_features).squeeze(0)

    out, _ = rnn(load(num_windows).unsqueeze(1))
    out, _ = rnn(load(num_windows))
    """
    # ``k`` may be 1 or not: the rank is unknown, only the last dim survives
    assert rnn_shapes(src) == ["(..., 8[feature])"]
    assert layout(src) == []


def test_squeeze_without_axis_of_symbolic_dims_is_unknown_rank():
    src = """
    import torch
    import torch.nn as nn

    rnn = nn.GRU(8, 16)

    def run(seq_len, batch_size):
        x = torch.randn(seq_len, batch_size, 8).squeeze()
        return rnn(x)

    run(n, m)
    """
    assert rnn_shapes(src) == ["(..., 8)"]
    assert layout(src) == []


NP_ONEHOT = """
import numpy as np
import torch
import torch.nn as nn

vocab_size = 30
rnn = nn.LSTM(vocab_size, 16)
{body}
x = torch.from_numpy(onehot).float()
out, _ = rnn(x.unsqueeze({axis}))
"""


@pytest.mark.parametrize("body, rows", [
    ("onehot = np.eye(vocab_size)[[3, 4, 5, 6]]", "4"),
    ("idx = [3, 4, 5, 6]\nonehot = np.eye(vocab_size)[idx]", "4"),
    ("idx = np.array([3, 4, 5])\nonehot = np.eye(vocab_size)[idx]", "3"),
    ("word = 'hello'\nonehot = np.eye(vocab_size)[[ord(c) - 97 for c in word]]", "len(word)[time]"),
])
def test_numpy_eye_rows(body, rows):
    shape = f"({rows}, 1, 30[feature])"
    src = NP_ONEHOT.format(body=body, axis=1)
    shapes = rnn_shapes(src)
    assert shapes[0].replace("1[batch]", "1") == shape
    assert layout(src) == []


def test_numpy_eye_rows_of_a_word_with_a_batch_in_front():
    src = NP_ONEHOT.format(
        body="word = 'hello'\nonehot = np.eye(vocab_size)[[ord(c) - 97 for c in word]]", axis=0)
    assert rnn_shapes(src) == ["(1[batch], len(word)[time], 30[feature])"]
    assert layout(src) == [("RNN001", row(src, "out, _ = rnn("))]


@pytest.mark.parametrize("index", [
    "np.zeros(5, dtype=bool)",    # a mask picks a data-dependent number of rows
    "(3, 4)",                     # a tuple indexes two axes
    "mask",                       # unknown
])
def test_numpy_eye_with_unprovable_index_is_unknown(index):
    src = NP_ONEHOT.format(body=f"onehot = np.eye(vocab_size)[{index}]", axis=1)
    assert rnn_shapes(src) == []
    assert layout(src) == []


def test_time_step_loops_index_with_an_int():
    src = """
    import torch
    import torch.nn as nn

    batch_size, seq_len, n_features = 4, 20, 8
    rnn = nn.LSTM(n_features, 16, batch_first=True)
    x = torch.randn(batch_size, seq_len, n_features)
    h = None
    for t in range(1, seq_len):
        out, h = rnn(x[:, t, :].unsqueeze(1), h)
    for i, t in enumerate(range(seq_len)):
        out, h = rnn(x[:, t].unsqueeze(0), h)
    """
    assert rnn_shapes(src) == ["(4[batch], 1[time], 8[feature])",
                               "(1[time], 4[batch], 8[feature])"]
    assert layout(src) == [("RNN001", row(src, "rnn(x[:, t].unsqueeze(0), h)"))]


BRANCHES = """
import torch
import torch.nn as nn


class M(nn.Module):
    def __init__(self, n_features, hidden, cell):
        super().__init__()
        if cell == "lstm":
            self.rnn = {first}
        else:
            self.rnn = {second}
        self.fc = nn.Linear(2 * hidden, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


m = M(8, 16, input("cell: "))
m(torch.randn(4, 20, 8))
"""
BIDIR = "nn.LSTM(n_features, hidden, bidirectional=True, batch_first=True)"
UNIDIR = "nn.GRU(n_features, hidden, batch_first=True)"


@pytest.mark.parametrize("first, second", [(BIDIR, UNIDIR), (UNIDIR, BIDIR)])
def test_attribute_set_differently_in_branches_is_unknown(first, second):
    # which branch runs is not known, so neither module's output size is proven
    src = BRANCHES.format(first=first, second=second)
    assert findings(src, {"RNN004"}) == []


@pytest.mark.parametrize("cell, found", [('"lstm"', []), ('"gru"', ["RNN004"])])
def test_a_branch_the_arguments_decide_is_the_only_one_run(cell, found):
    # M(..., "gru") builds the unidirectional GRU: its output has hidden features, not 2 * hidden
    src = BRANCHES.format(first=BIDIR, second=UNIDIR).replace('input("cell: ")', cell)
    assert [code for code, _ in findings(src, {"RNN004"})] == found


def test_attributes_the_branches_leave_alone_are_kept():
    src = BRANCHES.format(first=UNIDIR, second=UNIDIR).replace(
        """        if cell == "lstm":""", """        self.gru = {}
        if cell == "lstm":""".format(UNIDIR)).replace(
        "out, _ = self.rnn(x)", "out, _ = self.gru(x)")
    assert findings(src, {"RNN004"}) == [("RNN004", row(src, "self.fc = nn.Linear"))]


# ============================================================================ unknown
UNPACKED = """
import torch
import torch.nn as nn


class M(nn.Module):
    def __init__(self, n_features, hidden):
        super().__init__()
        self.rnn = nn.LSTM(n_features, hidden)

    def forward(self, x):
        {names} = x.shape
        out, _ = self.rnn(x)
        return out.reshape(batch_size * seq_len, -1)


model = M(8, 16)
for batch in get_loader():
    y = model(batch)
"""


def test_an_unknown_input_takes_its_dims_from_the_shape_unpacking():
    # Nothing shows what ``get_loader`` yields, but forward names the dims itself: the batch
    # first, which the default LSTM reads as time.
    src = UNPACKED.format(names="batch_size, seq_len, _")
    assert [str(c.shape) for c in track(src).recurrent_calls] == [
        "(batch_size[batch], seq_len[time], _)"]
    assert layout(src) == [("RNN001", row(src, "out, _ = self.rnn(x)"))]


def test_an_unknown_input_whose_unpacking_names_nothing_is_silent():
    src = UNPACKED.format(names="a, b, _")
    assert [str(c.shape) for c in track(src).recurrent_calls] == ["(a, b, _)"]
    assert layout(src) == []


@pytest.mark.parametrize("ctor", ["nn.LSTM(**cfg)", "nn.LSTM(8, 16, **extra)", "nn.LSTM(*args)",
                                  "nn.LSTM(8, 16, batch_first=flag)",
                                  "nn.LSTM(8, 16, batch_first=args.batch_first)"])
def test_unknown_configuration_is_silent(ctor):
    src = f"""
    import torch
    import torch.nn as nn

    batch_size, seq_len = 4, 20
    rnn = {ctor}
    out, _ = rnn(torch.zeros(batch_size, seq_len, 8))
    """
    assert rnn_shapes(src) == ["(4[batch], 20[time], 8)"]
    assert layout(src) == []


def test_bool_default_of_an_unbuilt_class_is_not_proof():
    src = """
    import torch
    import torch.nn as nn


    class Enc(nn.Module):
        def __init__(self, n_features, batch_first=False):
            super().__init__()
            self.rnn = nn.GRU(n_features, 32, batch_first=batch_first)
            self.n_features = n_features

        def forward(self, batch_size, seq_len):
            return self.rnn(torch.zeros(batch_size, seq_len, self.n_features))
    """
    assert layout(src) == []
    # the same class built and called here with the default is a finding
    built = dedent(src) + "\n\nenc = Enc(8)\nenc(4, 20)\n"
    assert layout(built) == [("RNN001", row(built, "return self.rnn("))]


def test_star_args_leave_parameters_unknown():
    src = """
    import torch
    import torch.nn as nn

    def make(x, batch_first=False):
        return nn.GRU(8, 16, batch_first=batch_first)(x)

    batch_size, seq_len = 4, 20
    x = torch.zeros(batch_size, seq_len, 8)
    make(x, *extra)
    make(x, **options)
    """
    assert rnn_shapes(src) == ["(4[batch], 20[time], 8)"]
    assert layout(src) == []


def test_star_sizes_make_the_rank_unknown():
    src = """
    import torch
    import torch.nn as nn

    rnn = nn.GRU(8, 16)
    x = torch.zeros(*sizes, 8)
    y = torch.zeros(20, 4, 8).view(*sizes)
    out, _ = rnn(x)
    out, _ = rnn(y)
    """
    assert rnn_shapes(src) == []
    assert layout(src) == []


# ============================================================================ robustness
def test_recursion_does_not_loop():
    src = """
    import torch
    import torch.nn as nn

    def grow(x, n):
        if n == 0:
            return x
        return grow(x.unsqueeze(0), n - 1)

    def ping(x):
        return pong(x)

    def pong(x):
        return ping(x)

    class Loop(nn.Module):
        def forward(self, x):
            return self(x)

    rnn = nn.LSTM(4, 8)
    out, _ = rnn(grow(torch.zeros(3, 4), 2))
    ping(1)
    Loop()(torch.zeros(1))
    batch_size, seq_len = 2, 3
    out, _ = rnn(torch.zeros(batch_size, seq_len, 4))
    """
    assert layout(src) == [("RNN001", row(src, "out, _ = rnn(torch.zeros(batch_size"))]


WEIRD = '''
import torch
import torch.nn as nn

match command:
    case [x, *rest]:
        pass
    case {"a": 1, **kw}:
        pass
    case Point(x=0) | None:
        pass
    case _:
        pass

if (n := len(data)) > 3:
    pass


async def main():
    async with lock:
        await thing()
    async for b in stream():
        yield b


f = lambda x, *a, **k: x.permute(1, 0, 2)


def g(*args, **kwargs):
    return f(*args, **kwargs)


g(torch.zeros(2, 3, 4))
a, *rest = [1, 2, 3]
print(*rest, **{})
xs = [*rest, *a]
d = {**kw, "k": 1}
s = {i for i in range(3)}
m = {i: i for i in range(3)}


def gen():
    yield from range(3)


class C[T]:
    pass


type Alias = list[int]
try:
    pass
except* ValueError as e:
    pass
with (open("a") as f1, open("b") as f2):
    pass
del xs
global zz
print(f"{n!r:>{10}}")
z = torch.zeros(2)[..., None, ::2]
w = z[1:2, None, ...]
q = torch.zeros(3, 4)[torch.zeros(2, dtype=torch.bool)]
r = torch.zeros(3, 4)[0, [1, 2]]
t = torch.zeros(3, 4)[True]
u = torch.zeros(3)[::-1] @ torch.zeros(3, 3)
v = -torch.zeros(3) ** 2 if cond else +torch.ones(3)
e = torch.zeros(2, 2, 2).permute(5, 0, 1)
e2 = torch.zeros(2, 2).transpose(0, 7).view(-1, -1)
e3 = 1 // 0
e4 = torch.zeros(0).reshape(3, 0, -1)


@decorator(arg)
class D(nn.LSTM):
    pass


dd = D(4, 8)
dd(torch.zeros(3, 3, 4))

batch_size, seq_len = 2, 3
rnn = nn.LSTM(4, 8)
out, _ = rnn(torch.zeros(batch_size, seq_len, 4))
'''


def test_weird_syntax_never_raises_and_the_rest_is_still_checked():
    assert layout(WEIRD) == [("RNN001", row(WEIRD, "out, _ = rnn(torch.zeros(batch_size"))]


def test_match_case_bodies_are_followed():
    src = """
    import torch
    import torch.nn as nn

    batch_size, seq_len = 2, 3
    x = torch.zeros(batch_size, seq_len, 4)
    match kind:
        case "gru":
            out, _ = nn.GRU(4, 8)(x)
        case [x, *_]:
            out, _ = nn.LSTM(4, 8)(x)
    """
    # the first case sees the real x; the second captures a new, unknown x
    assert rnn_shapes(src) == ["(2[batch], 3[time], 4)"]
    assert layout(src) == [("RNN001", row(src, "nn.GRU(4, 8)(x)"))]


def test_deep_nesting_never_raises():
    body = "".join("    " * i + f"if c{i}:\n" for i in range(60))
    src = ("import torch\nimport torch.nn as nn\nrnn = nn.LSTM(3, 4)\nbatch_size, seq_len = 2, 5\n"
           + body + "    " * 60 + "out, _ = rnn(torch.zeros(batch_size, seq_len, 3))\n")
    assert layout(src) == [("RNN001", src.count("\n"))]
    nested = "import torch\nx = " + "(" * 100 + "torch.zeros(1)" + ")" * 100 + ".numpy()\n"
    assert findings(nested) == []


def test_long_file_is_checked_to_the_end():
    lines = ["import torch", "import torch.nn as nn", "rnn = nn.LSTM(3, 4)"]
    for i in range(800):
        lines.append(f"x{i} = torch.zeros({i % 7 + 1}, 3).unsqueeze(0)")
    lines += ["batch_size, seq_len = 2, 5", "out, _ = rnn(torch.zeros(batch_size, seq_len, 3))"]
    assert layout("\n".join(lines) + "\n") == [("RNN001", len(lines))]


def test_cut_short_run_drops_facts_about_absence(monkeypatch):
    # The step budget ends the run before torch is seeded and before backward() is reached:
    # neither "never seeded" nor "never trained" is proven then.
    filler = "".join(f"a{i} = torch.zeros({i % 5 + 1}, 2).t()\n" for i in range(60))
    src = ("import numpy as np\nimport torch\nimport torch.nn as nn\n"
           "np.random.seed(0)\nmodel = nn.Linear(2, 2)\nmodel.eval()\n"
           "y = model(torch.zeros(3, 2))\n" + filler +
           "y.sum().backward()\ntorch.manual_seed(0)\n")
    assert findings(src, {"RNN101", "RNN103"}) == []
    monkeypatch.setattr(Tracker, "max_steps", 200)
    facts = track(src)
    assert facts.truncated
    assert findings(src, {"RNN101", "RNN103"}) == []
    # a finding the run did reach is still reported
    positive = src.replace("model.eval()\n", "model.eval()\nout, _ = nn.GRU(2, 2)(torch.zeros(1, 2).unsqueeze(2))\n")
    assert findings(positive, {"RNN001"}) == [("RNN001", row(positive, "nn.GRU(2, 2)"))]


def test_scaling_by_a_constant_expression_keeps_the_shape():
    # hls4ml's recurrent tests quantise their input with ``np.round(X * 2**16) * 2**-16``.
    src = """
import numpy as np
import torch
import torch.nn as nn

n = 2**3
X = torch.randn(1, n, 10)
X = np.round(X * 2**16) * 2**-16
Y = X / 255.0 * (1 / 2)
rnn = nn.LSTM(10, 20)
"""
    from rnnshape.api import analyze
    scope = analyze(src, "q.py").scope
    assert str(scope["X"].shape) == "(1, 8, 10)"
    assert str(scope["Y"].shape) == "(1, 8, 10)"


EVAL_BRANCH = """
import torch
import torch.nn as nn

model = nn.LSTM(8, 16)
opt = torch.optim.SGD(model.parameters(), lr=0.1)


def run_epoch(batches, train):
    if train:
        model.train()
    else:
        model.eval()
    total = 0.0
    for x in batches:
        out, _ = model(x)
        loss = out.pow(2).mean()
        if train:
            opt.zero_grad()
            loss.backward()
            opt.step()
        total += loss.item()
    return total


batches = [torch.zeros(5, 3, 8)]
for epoch in range(3):
    run_epoch(batches, True)
    run_epoch(batches, {mode})
"""


def test_an_eval_mode_chosen_by_an_if_lasts_after_it():
    src = EVAL_BRANCH.format(mode="False")
    assert [(d.code, d.row) for d in check_source(dedent(src))] == [
        ("RNN101", row(src, "out, _ = model(x)"))]


def test_an_eval_mode_on_some_paths_with_backward_on_others_stays_silent():
    # ``train`` unknown: the same loop may be the training one
    src = EVAL_BRANCH.format(mode="bool(epoch % 2)")
    assert [d.code for d in check_source(dedent(src))] == []


TAGGER = """
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset


class Sentences(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        length = 3 + i % 5
        return torch.randint(1, 20, (length,)), torch.randint(0, 5, (length,))


def collate(batch):
    words, tags = zip(*batch)
    return pad_sequence(words, batch_first=True), pad_sequence(tags, batch_first=True)


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 8)
        self.lstm = nn.LSTM(8, 16)
        self.fc = nn.Linear(16, 5)

    def forward(self, words):
        out, _ = self.lstm(self.emb(words).transpose(0, 1))
        return self.fc(out)


model = Tagger()
criterion = nn.CrossEntropyLoss()
for words, tags in DataLoader(Sentences(40), batch_size=8, collate_fn=collate):
    logits = model(words)
    loss = criterion(logits.view(-1, 5), tags.view(-1))
"""


def test_a_flatten_of_unknown_length_keeps_which_dims_it_merges():
    # the padded length is unknown, but tags.view(-1) still flattens (batch, time) while the
    # time-major logits flatten (time, batch)
    assert [(d.code, d.row) for d in check_source(dedent(TAGGER))] == [
        ("RNN006", row(TAGGER, "loss = criterion"))]
    fixed = TAGGER.replace("self.fc(out)", "self.fc(out).transpose(0, 1)")
    assert [d.code for d in check_source(dedent(fixed))] == []


TRANSPOSED_TARGETS = """
import torch
import torch.nn as nn

seq_len, batch_size, vocab = 12, 4, 30
emb = nn.Embedding(vocab, 8)
rnn = nn.GRU(8, 16)
fc = nn.Linear(16, vocab)
criterion = nn.CrossEntropyLoss()
tokens = torch.randint(0, vocab, (seq_len, batch_size))
targets = torch.randint(0, vocab, (seq_len, batch_size))
out, _ = rnn(emb(tokens))
logits = fc(out)
loss = criterion(logits.view(-1, vocab), targets.t().reshape(-1))
loss2 = criterion(logits.view(-1, vocab), targets.transpose(0, 1).contiguous().view(-1))
"""


def test_time_major_logits_against_targets_transposed_to_batch_major():
    assert [(d.code, d.row) for d in check_source(dedent(TRANSPOSED_TARGETS))] == [
        ("RNN006", row(TRANSPOSED_TARGETS, "loss = criterion")),
        ("RNN006", row(TRANSPOSED_TARGETS, "loss2 = criterion"))]
    right = TRANSPOSED_TARGETS.replace("targets.t().reshape(-1)", "targets.reshape(-1)")
    assert [d.row for d in check_source(dedent(right))] == [
        row(TRANSPOSED_TARGETS, "loss2 = criterion")]
