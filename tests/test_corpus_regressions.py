"""False positives found on the real-world corpus (docs/corpus-findings.md), kept fixed.

Each program is a minimal form of what a public project does; each must stay silent, and the
twin next to it shows the rule still fires where the code really is wrong.
"""
from __future__ import annotations

import textwrap

import pytest

from rnnshape.api import check_source


def codes(src: str) -> list[tuple[str, int]]:
    return [(d.code, d.row) for d in check_source(textwrap.dedent(src))]


ISINSTANCE = """
import torch
import torch.nn as nn


class LM(nn.Module):
    def __init__(self, rnn_type="RNN"):
        super().__init__()
        self.emb = nn.Embedding(100, 16)
        if rnn_type == "LSTM":
            self.rnn = nn.LSTM(16, 32, batch_first=True)
        else:
            self.rnn = nn.RNN(16, 32, batch_first=True)

    def forward(self, ys, states):
        out, states = self.rnn(self.emb(ys), states)
        if isinstance(self.rnn, torch.nn.LSTM):
            h, c = states
            return out, (h.detach(), c.detach())
        return out, states.detach()


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(16, 32, bidirectional=True)

    def forward(self, x):
        out, hidden = self.lstm(x)
        if isinstance(hidden, tuple):
            hidden = hidden[0]
        else:
            hidden = hidden
        return hidden


lm = LM()
out, s = lm(torch.zeros(4, 7, dtype=torch.long), None)
t = Tagger()
h = t(torch.zeros(7, 4, 16))
"""

BIDIR_SUMMARY = """
    import torch
    import torch.nn as nn

    class RNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(16, 32, num_layers=2, bidirectional=True)
            self.fc = nn.Linear(64, 1)

        def forward(self, embedded):
            output, (hidden, cell) = self.rnn(embedded)
            hidden = {summary}
            return self.fc(hidden)

    model = RNN()
    predictions = model(torch.zeros(7, 4, 16)).squeeze(1)
"""

NAMES = """
    import torch
    import torch.nn as nn

    def pad(vectorized_seqs, seq_lengths):
        seq_tensor = torch.zeros((len(vectorized_seqs), seq_lengths.max())).long()
        for idx, (seq, seq_len) in enumerate(zip(vectorized_seqs, seq_lengths)):
            seq_tensor[idx, :seq_len] = torch.LongTensor(seq)
        return seq_tensor

    def make_variables(names):
        sequence_and_length = [([ord(c) for c in name], len(name)) for name in names]
        vectorized_seqs = [sl[0] for sl in sequence_and_length]
        seq_lengths = torch.LongTensor([sl[1] for sl in sequence_and_length])
        return pad(vectorized_seqs, seq_lengths)

    embedding = nn.Embedding(128, 16)
    gru = nn.GRU(16, 16)
    inputs = make_variables(["adylov", "solan", "hard", "san"])
    output, hidden = gru(embedding(inputs{layout}))
"""

SILENT = {
    "private-generator": """
        import random
        import torch

        def make_labels(seed, n):
            random.seed(seed)
            return [random.randint(0, 9) for _ in range(n)]

        def sample_paths(n, seed):
            gen = torch.Generator()
            gen.manual_seed(seed)
            return torch.randn(n, generator=gen)
    """,
    "seed-from-torch": """
        import numpy as np
        import torch

        def quaternion_init(n):
            np.random.seed(seed=torch.initial_seed() % (2**31 - 1))
            return torch.rand(n) * np.random.uniform(0.5, 1.0)
    """,
    "worker-init-fn": """
        import random
        import numpy as np
        from torch.utils.data import DataLoader

        def worker_init_fn(worker_id, base_seed=0):
            random.seed(base_seed + worker_id)
            np.random.seed(base_seed + worker_id)

        def build_loader(dataset, epoch):
            return DataLoader(dataset, batch_size=4, num_workers=2,
                              worker_init_fn=lambda i: worker_init_fn(i, base_seed=epoch))
    """,
    "seed-in-layer-init": """
        import numpy as np
        import torch
        from torch import nn

        class Features(nn.Module):
            def __init__(self, c_in, random_state=None):
                super().__init__()
                np.random.seed(random_state)
                self.register_buffer("picks", torch.zeros(c_in))
    """,
    "test-data-seed": """
        import numpy as np
        from torch import nn

        np.random.seed(1)
        X = np.random.rand(32, 10)

        def test_head_runs():
            head = nn.Sequential(nn.Linear(10, 4), nn.ReLU())
            assert head is not None
    """,
    "eval-method-called-under-no-grad": """
        import torch
        from torch import nn

        class Classifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(8, 16, batch_first=True)

            def forward(self, x):
                return self.lstm(x)[0][:, -1]

            def label(self, batches):
                self.eval()
                return [self(b).argmax(1) for b in batches]

        def process(model, batches):
            with torch.no_grad():
                return model.label(batches)
    """,
    "constant-init-is-not-random": """
        import random
        import torch

        random.seed(0)
        w = torch.empty(3)
        torch.nn.init.zeros_(w)
    """,
    # cause G: a model without parameters builds no graph, so eval() without no_grad is harmless
    "parameter-free-model": """
        import torch
        from torch import nn

        class OuterProduct(nn.Module):
            def forward(self, x, y):
                return torch.einsum("bi,bj->bij", x, y)

        model = OuterProduct()
        model.eval()
        out = model(torch.randn(3, 4), torch.randn(3, 5))
        pool = nn.MaxPool1d(2)
        pool.eval()
        pooled = pool(torch.randn(1, 2, 8))
    """,
    # cause H: another framework's model; torch is not imported at all
    "paddle-model": """
        import paddle

        def predict(net, tokens):
            net.eval()
            return int(paddle.argmax(net(tokens.reshape((1, -1))), axis=1))

        net = paddle.nn.Linear(4, 2)
        print(predict(net, paddle.ones([4])))
    """,
    # cause F3: a public helper making one call; the caller chooses the grad mode
    "single-call-helper": """
        import torch

        def predict(net, tokens):
            net.eval()
            return int(torch.argmax(net(tokens.reshape(1, -1)), dim=1))
    """,
    # M1: only the model put in eval mode is evaluated; the student trains
    "other-model-in-train-mode": """
        import torch
        from torch import nn

        teacher = nn.Linear(4, 4)
        student = nn.Linear(4, 4)
        teacher.eval()
        out = student(torch.randn(1, 4))
    """,
    # nlp-tutorial Seq2Seq(Attention): one sentence's words, one-hot, as a batch of one; the
    # length counts words (time), not sentences
    "words-of-one-sentence": """
        import numpy as np
        import torch
        import torch.nn as nn

        sentences = ["ich mochte ein bier P", "S i want a beer", "i want a beer E"]
        words = " ".join(sentences).split()
        word_dict = {w: i for i, w in enumerate(words)}
        n_class = len(word_dict)
        batch = [np.eye(n_class)[[word_dict[n] for n in sentences[0].split()]]]
        enc = nn.RNN(input_size=n_class, hidden_size=8)
        out, h = enc(torch.FloatTensor(batch).transpose(0, 1))
    """,
    # espnet seq_rnn_lm: the LSTM-only branch of ``isinstance(self.rnn, torch.nn.LSTM)`` for
    # an RNN, and ``isinstance(hidden, tuple)`` for an LSTM's state
    "isinstance-branches": ISINSTANCE,
    # sentiment-analysis, deeplearning-models: both directions as ``hidden[-2, :, :]`` and
    # ``hidden[-1, :, :]``; the model's output squeezed afterwards is no state any more
    "bidirectional-summary-with-full-slices": BIDIR_SUMMARY.format(
        summary="torch.cat((hidden[-2, :, :], hidden[-1, :, :]), dim=1)"),
    # zero-to-all 13_1: names padded into a (names, chars) tensor, transposed for a seq-first GRU
    "padded-names-transposed": NAMES.format(layout=".t()"),
}


@pytest.mark.parametrize("name", sorted(SILENT))
def test_corpus_false_positive_stays_silent(name):
    assert codes(SILENT[name]) == []


def test_script_seed_still_reported():
    src = """
        import numpy as np
        import torch

        np.random.seed(0)
        model = torch.nn.GRU(4, 8)
    """
    assert codes(src) == [("RNN103", 5)]


def test_seeding_helper_still_reported_with_unsafe_fix():
    src = textwrap.dedent("""
        import random
        import torch

        def set_seed(seed):
            random.seed(seed)

        model = torch.nn.GRU(4, 8)
    """)
    [diag] = check_source(src)
    assert (diag.code, diag.row) == ("RNN103", 6)
    assert diag.fix.applicability == "unsafe"  # ``seed`` may be None, which torch refuses


def test_star_imported_nn_is_followed():
    src = """
        from .layers import *

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.GRU(8, 16, bidirectional=True)
                self.fc = nn.Linear(16, 2)

            def forward(self, x):
                out, h = self.rnn(x)
                return self.fc(out)
    """
    assert codes(src) == [("RNN004", 8)]


def test_eval_twins_still_reported():
    # The twins of the silent cases above: a model with parameters, a helper that loops, the
    # teacher itself called.
    with_params = """
        import torch
        from torch import nn

        class Scaled(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.ones(4))

            def forward(self, x):
                return x * self.w

        model = Scaled()
        model.eval()
        out = model(torch.randn(3, 4))
    """
    assert codes(with_params) == [("RNN101", 15)]
    looping_helper = """
        import torch

        def predict_all(net, batches):
            net.eval()
            return [net(b).argmax(1) for b in batches]
    """
    assert codes(looping_helper) == [("RNN101", 6)]
    teacher = """
        import torch
        from torch import nn

        teacher = nn.Linear(4, 4)
        student = nn.Linear(4, 4)
        teacher.eval()
        out = student(torch.randn(1, 4))
        soft = teacher(torch.randn(1, 4))
    """
    assert codes(teacher) == [("RNN101", 9)]


def test_a_pytest_function_is_an_entry_point_for_grad_mode():
    # hls4ml / pytorch-forecasting tests: one call after eval() in a test function, which
    # pytest runs with autograd on.  The same body in a helper is the caller's business.
    test = """
        import torch
        from torch import nn

        def test_forward():
            model = nn.Linear(4, 2)
            model.eval()
            out = model(torch.randn(1, 4)).detach().numpy()
            assert out.shape == (1, 2)
    """
    assert codes(test) == [("RNN101", 8)]
    assert codes(test.replace("def test_forward", "def run_forward")) == []


def test_notebook_fix_stays_inside_the_cell_of_the_call(tmp_path, capsys):
    # N1: the wrap used to run to the end of the program, across the next cell, and fix refused.
    import json

    from rnnshape.cli import main

    def cell(source):
        return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                "source": source}

    nb = {"cells": [cell(["import torch\n", "from torch import nn\n", "\n",
                          "model = nn.Linear(4, 2)\n", "model.eval()\n",
                          "for _ in range(3):\n", "    y = model(torch.randn(1, 4))"]),
                    cell(["print(y)"])],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")
    assert main(["fix", str(path)]) == 0
    fixed = json.loads(path.read_text(encoding="utf-8"))
    assert fixed["cells"][0]["source"][-3:] == [
        "with torch.no_grad():\n", "    for _ in range(3):\n",
        "        y = model(torch.randn(1, 4))"]
    assert fixed["cells"][1]["source"] == ["print(y)"]


def test_padded_names_not_transposed_still_reported():
    assert codes(NAMES.format(layout="")) == [("RNN001", 20)]


def test_the_branch_a_recurrent_module_takes_is_still_checked():
    wrong = ISINSTANCE.replace("torch.nn.LSTM)", "torch.nn.RNN)")
    assert codes(wrong) == [("RNN009", 18)]


def test_one_direction_with_full_slices_still_reported():
    one = BIDIR_SUMMARY.format(summary="hidden[-1, :, :]").replace("Linear(64", "Linear(32")
    assert codes(one) == [("RNN010", 13)]


PATH_SENSITIVE = """
import torch
import torch.nn as nn


class C(nn.Module):
    def __init__(self, batch_first=True, layers=1):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, num_layers=layers, batch_first=batch_first,
                            dropout=0.2 if layers > 1 else 0.0)
        self.batch_first = batch_first

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        if self.lstm.batch_first:
            last = out[:, -1]
        else:
            last = out[-1]
        if self.lstm.num_layers > 1:
            h = h[-1]
        else:
            h = h.squeeze(0)
        if self.training:
            last = last * 1.0
        return last, h


batch_size, seq_len = 4, 10
model = C()
a = model(torch.randn(batch_size, seq_len, 8))
"""


def test_tests_of_the_modules_own_properties_pick_the_branch():
    # batch_first, num_layers and training decide which branch runs: only that one is judged
    assert codes(PATH_SENSITIVE) == []
    wrong = PATH_SENSITIVE.replace("if self.lstm.batch_first:", "if not self.lstm.batch_first:")
    assert codes(wrong) == [("RNN005", 18)]
