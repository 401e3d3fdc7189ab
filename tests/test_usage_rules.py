"""RNN106 device-mismatch, RNN107 state-not-detached, RNN011 target-not-shifted: the cases that
decide between a finding and silence beyond the rules' documented examples."""
from __future__ import annotations

import subprocess
import sys

import pytest

from rnnshape.api import FixOptions, check_source, fix_source
from tests.cli_env import cli_env

CODES = ("RNN106", "RNN107", "RNN011")


def _found(source: str) -> list[tuple[str, int]]:
    return [(d.code, d.row) for d in check_source(source, "<test>", codes=CODES)]


def _row(source: str, text: str) -> int:
    """The (single) row of ``source`` that holds ``text``."""
    rows = [i for i, line in enumerate(source.splitlines(), start=1) if text in line]
    assert len(rows) == 1, rows
    return rows[0]


LM = """import torch
import torch.nn as nn


class LM(nn.Module):
    def __init__(self, vocab=100):
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.gru = nn.GRU(32, 64)
        self.head = nn.Linear(64, vocab)

    def forward(self, x, h):
        out, h = self.gru(self.embed(x), h)
        return self.head(out), h

"""

TRAIN = """
model = LM()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
criterion = nn.CrossEntropyLoss()
data = torch.randint(0, 100, (1001, 8))
h = torch.zeros(1, 8, 64)
for i in range(0, 1000, 50):
    x, y = data[i:i + 50], data[i + 1:i + 51]
{before}    logits, h = model(x, h)
{after}    loss = criterion(logits.reshape(-1, 100), y.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
"""


def _train(before: str = "", after: str = "") -> str:
    return LM + TRAIN.format(before=before, after=after)


def test_state_fed_back_is_reported_at_the_call():
    source = _train()
    assert _found(source) == [("RNN107", _row(source, "logits, h = model(x, h)"))]


@pytest.mark.parametrize("before, after", [
    ("    h = h.detach()\n", ""),
    ("    h = h.data\n", ""),
    ("", "    h = h.detach()\n"),  # detached after the call: the next pass reads it detached
    ("", "    h.detach_()\n"),
    ("    h = torch.zeros(1, 8, 64)\n", ""),  # a fresh state per batch
])
def test_detached_or_fresh_state_is_silent(before, after):
    assert _found(_train(before, after)) == []


def test_state_detached_on_one_path_only_is_silent():
    # detached every k steps: the tracker cannot tell which pass this is
    after = "    if i % 200 == 0:\n        h = h.detach()\n"
    assert _found(_train("", after)) == []


def test_model_that_detaches_its_own_state_is_silent():
    source = _train().replace("out, h = self.gru(self.embed(x), h)",
                              "out, h = self.gru(self.embed(x), h.detach())")
    assert _found(source) == []


def test_state_loop_without_backward_is_silent():
    source = _train().replace("    loss.backward()\n", "")
    assert _found(source) == []


def test_state_fix_is_safe_and_idempotent():
    fixed = fix_source(_train(), "<test>", options=FixOptions()).text
    assert "    h = h.detach()\n    x, y = data[i:i + 50]" in fixed
    assert _found(fixed) == []
    assert fix_source(fixed, "<test>", options=FixOptions()).text == fixed


MOVED = """import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 16)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
{body}        return out


model = Net(){move}
out = model(torch.randn(5, 4, 8, device=device))
"""


def _moved(body: str, move: str = ".to(device)") -> str:
    return MOVED.format(body=body, move=move)


H0 = "        h0 = torch.zeros(1, x.size(1), 16)\n        out, _ = self.gru(x, h0)\n"


def test_state_made_on_cpu_in_forward_of_a_moved_model():
    source = _moved(H0)
    assert _found(source) == [("RNN106", _row(source, "h0 = torch.zeros"))]


@pytest.mark.parametrize("move", ["", ".to(torch.float64)", ".to(dtype=torch.float64)",
                                  '.to("cpu")', ".cpu()"])
def test_model_not_moved_to_a_device_is_silent(move):
    assert _found(_moved(H0, move)) == []


def test_default_device_set_is_silent():
    source = _moved(H0).replace('device = torch.device(', 'torch.set_default_device("cuda")\ndevice = torch.device(')
    assert _found(source) == []


@pytest.mark.parametrize("line", [
    "h0 = torch.zeros(1, x.size(1), 16).cuda()",
    "h0 = torch.zeros(1, x.size(1), 16).to(x)",
    "h0 = torch.zeros(1, x.size(1), 16).type_as(x)",
    "h0 = torch.zeros_like(x[:1, :, :1]).expand(1, x.size(1), 16).contiguous()",
    "h0 = x.new_zeros(1, x.size(1), 16)",
    "h0 = torch.zeros(1, x.size(1), 16, device=x.device)",
])
def test_state_moved_or_made_in_place_is_silent(line):
    body = f"        {line}\n        out, _ = self.gru(x, h0)\n"
    assert _found(_moved(body)) == []


def test_state_moved_on_one_path_only_is_silent():
    body = ("        h0 = torch.zeros(1, x.size(1), 16)\n        if x.is_cuda:\n"
            "            h0 = h0.cuda()\n        out, _ = self.gru(x, h0)\n")
    assert _found(_moved(body)) == []


def test_cpu_tensor_fed_only_to_a_parameter_free_layer_is_silent():
    body = "        out = self.drop(torch.ones(5, x.size(1), 16))\n"
    assert _found(_moved(body)) == []


def test_unmoved_batch_and_numpy_of_device_output():
    source = """import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
rnn = nn.GRU(8, 16).to(device)
x = torch.randn(5, 4, 8)
out, h = rnn(x)
with torch.no_grad():
    moved = x.to(device)
    arr = moved.numpy()
    ok = moved.cpu().numpy()
"""
    assert _found(source) == [("RNN106", 7), ("RNN106", 10)]
    fixed = fix_source(source, "<test>", options=FixOptions()).text
    assert "out, h = rnn(x.to(device))" in fixed
    assert "arr = moved.cpu().numpy()" in fixed
    assert _found(fixed) == []


def test_unmoved_batch_moved_on_one_path_only_is_silent():
    source = """import torch
import torch.nn as nn

use_cuda = torch.cuda.is_available()
rnn = nn.GRU(8, 16)
if use_cuda:
    rnn = rnn.cuda()
x = torch.randn(5, 4, 8)
if use_cuda:
    x = x.cuda()
out, h = rnn(x)
"""
    assert _found(source) == []


def test_device_finding_across_files(tmp_path):
    model = MOVED.split("\n\nmodel = Net()")[0].format(body=H0) + "\n"
    (tmp_path / "model.py").write_text(model)
    (tmp_path / "train.py").write_text(
        "import torch\nfrom model import Net, device\n\nmodel = Net().to(device)\n"
        "out = model(torch.randn(5, 4, 8, device=device))\n")
    proc = subprocess.run([sys.executable, "-m", "rnnshape", "check", "--no-cache",
                           "--select", "RNN106", "--output-format", "concise", str(tmp_path)],
                          capture_output=True, text=True, env=cli_env(), timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    row = _row(model, "h0 = torch.zeros")
    assert f"{tmp_path / 'model.py'}:{row}:14: RNN106" in proc.stdout
    assert "train.py" not in proc.stdout


COPY = """import torch
import torch.nn as nn


class LM(nn.Module):
    def __init__(self, vocab=100, bidirectional=False):
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.lstm = nn.LSTM(32, 64, bidirectional=bidirectional)
        self.head = nn.Linear(64 * (2 if bidirectional else 1), vocab)

    def forward(self, x):
        out, _ = self.lstm(self.embed(x))
        return self.head(out)


model = LM({args})
criterion = nn.CrossEntropyLoss()
seq = torch.randint(0, 100, (21, 8))
logits = model({input})
loss = criterion(logits.reshape(-1, 100), {target}.reshape(-1))
"""


@pytest.mark.parametrize("args, input, target, found", [
    ("", "seq", "seq", [("RNN011", 21)]),
    ("", "seq[:-1]", "seq[:-1]", [("RNN011", 21)]),
    ("", "seq[:-1]", "seq[1:]", []),  # time-major shift
    ("", "seq", "seq.long()", [("RNN011", 21)]),
    ("bidirectional=True", "seq", "seq", []),
    ("", "seq", "torch.randint(0, 100, (21, 8))", []),
])
def test_copy_target(args, input, target, found):
    assert _found(COPY.format(args=args, input=input, target=target)) == found


def test_copy_target_on_another_models_output_is_silent():
    source = COPY.format(args="", input="seq", target="seq").replace(
        "logits = model(seq)\n", "logits = model(seq)\nlogits = torch.randn(21, 8, 100)\n")
    assert _found(source) == []


def test_lengths_left_on_the_cpu_for_packing_are_silent():
    # corpus: deeplearning-models rnn_*_packed_imdb, sentiment-analysis 2: the lengths go to
    # pack_padded_sequence, which wants them on the CPU; only the tokens meet a layer
    source = """import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(100, 32)
        self.rnn = nn.GRU(32, 64)
        self.fc = nn.Linear(64, 2)

    def forward(self, text, lengths):
        packed = pack_padded_sequence(self.embedding(text), lengths, enforce_sorted=False)
        _, hidden = self.rnn(packed)
        return self.fc(hidden[-1])


model = Classifier().to(DEVICE)
ids = [4, 8, 15, 16]
tensor = torch.LongTensor(ids).to(DEVICE).unsqueeze(1)
length_tensor = torch.LongTensor([len(ids)])
prediction = model(tensor, length_tensor)
unmoved = model(torch.LongTensor([ids, ids]).t(), length_tensor)  # the tokens: reported
"""
    assert _found(source) == [("RNN106", _row(source, "unmoved = model("))]


def test_lstm_state_made_on_the_cpu_outside_the_model_has_no_fix():
    # corpus mutation (yunjey language_model without `.to(device)` on the states)
    source = """import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, batch_first=True)

    def forward(self, x, h):
        return self.lstm(x, h)


model = LM().to(device)
states = (torch.zeros(1, 4, 16), torch.zeros(1, 4, 16))
out, states = model(torch.randn(4, 5, 8, device=device), states)
"""
    [diag] = check_source(source, "<test>", codes=CODES)
    assert (diag.code, diag.row) == ("RNN106", _row(source, "out, states = model("))
    assert fix_source(source, "<test>", options=FixOptions(unsafe=True)).text == source


def test_copy_target_of_a_model_returning_its_state():
    # forward returns (logits, state): the loss input's trace passes the LSTM, not the call
    source = """import torch
import torch.nn as nn


class CharRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(65, 32)
        self.lstm = nn.LSTM(32, 64, batch_first=True)
        self.fc = nn.Linear(64, 65)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embed(x), state)
        return self.fc(out), state


model = CharRNN()
chunk = torch.randint(0, 65, (8, 100))
logits, _ = model(chunk)
loss = nn.CrossEntropyLoss()(logits.reshape(-1, 65), chunk.reshape(-1))
shifted, _ = model(chunk[:, :-1])
fine = nn.CrossEntropyLoss()(shifted.reshape(-1, 65), chunk[:, 1:].reshape(-1))
"""
    assert _found(source) == [("RNN011", _row(source, "loss = nn.CrossEntropyLoss()"))]


def test_loss_target_left_on_the_cpu_beside_a_moved_models_output():
    source = """import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 16, batch_first=True)
        self.fc = nn.Linear(16, 2)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.fc(out[:, -1])


loader = DataLoader(TensorDataset(torch.randn(64, 5, 8), torch.randint(0, 2, (64,))),
                    batch_size=8)
model = Classifier().to(device)
criterion = nn.CrossEntropyLoss()
for xb, yb in loader:
    logits = model(xb.to(device))
    loss = criterion(logits, yb)
    moved = criterion(logits, yb.to(device))
"""
    assert _found(source) == [("RNN106", _row(source, "loss = criterion(logits, yb)"))]
    fixed = fix_source(source, "<test>", options=FixOptions()).text
    assert "    loss = criterion(logits, yb.to(device))\n" in fixed
    assert _found(fixed) == []


@pytest.mark.parametrize("wrap", ["nn.DataParallel(Classifier())",
                                  "nn.parallel.DistributedDataParallel(Classifier())"])
def test_inputs_of_a_data_parallel_model_are_moved_by_it(wrap):
    source = """import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 16, batch_first=True)

    def forward(self, x):
        return self.gru(x)[0]


model = WRAP.cuda()
out = model(torch.randn(4, 5, 8))
""".replace("WRAP", wrap)
    assert _found(source) == []
    assert _found(source.replace(wrap, "Classifier()")) == [("RNN106", _row(source, "out = model("))]


def test_reconstruction_from_the_final_state_is_silent():
    # one unidirectional GRU, but the logits come from its final state, not step by step
    source = """import torch
import torch.nn as nn


class SeqAutoencoder(nn.Module):
    def __init__(self, vocab=50, length=12):
        super().__init__()
        self.vocab, self.length = vocab, length
        self.embed = nn.Embedding(vocab, 32)
        self.gru = nn.GRU(32, 64, batch_first=True)
        self.decode = nn.Linear(64, length * vocab)

    def forward(self, x):
        _, h = self.gru(self.embed(x))
        return self.decode(h[-1]).view(-1, self.length, self.vocab)


model = SeqAutoencoder()
tokens = torch.randint(0, 50, (8, 12))
logits = model(tokens)
loss = nn.CrossEntropyLoss()(logits.reshape(-1, 50), tokens.reshape(-1))
"""
    assert _found(source) == []


def test_a_second_recurrent_module_in_a_submodule_is_silent():
    source = COPY.format(args="", input="seq", target="seq").replace(
        "        self.head = nn.Linear(", "        self.extra = Extra()\n        self.head = nn.Linear(")
    source = source.replace("class LM(nn.Module):", """class Extra(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 4)

    def forward(self, x):
        return self.gru(x)[0]


class LM(nn.Module):""")
    assert _found(source) == []
    assert _found(source.replace("self.gru = nn.GRU(4, 4)", "self.fc = nn.Linear(4, 4)").replace(
        "return self.gru(x)[0]", "return self.fc(x)")) == [("RNN011", _row(source, "loss = "))]
