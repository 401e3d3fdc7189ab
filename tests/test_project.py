"""Whole projects: a model defined in one file and fed in another is checked with the caller's
shapes, the finding reported where the mistake is, with a trace through both files."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest

from cli_env import cli_env

ROOT = Path(__file__).resolve().parent.parent

MODEL = """\
import torch
import torch.nn as nn

HIDDEN = 32


class Tagger(nn.Module):
    def __init__(self, n_features, hidden=HIDDEN, n_classes=5):
        super().__init__()
        self.lstm = nn.LSTM(n_features, hidden)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x):
        x = x.permute(0, 2, 1)
        out, _ = self.lstm(x)
        return self.head(out[-1])
"""

TRAIN = """\
import torch
from torch.utils.data import DataLoader, TensorDataset

from {module} import Tagger

BATCH_SIZE = 16
N_FEATURES = 8
SEQ_LEN = 20

features = torch.randn(256, N_FEATURES, SEQ_LEN)
labels = torch.randint(0, 5, (256,))
loader = DataLoader(TensorDataset(features, labels), batch_size=BATCH_SIZE)
model = Tagger(N_FEATURES)


def train():
    for xb, yb in loader:
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        loss.backward()


if __name__ == "__main__":
    train()
"""


def write(root: Path, files: dict) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text) if not text.startswith("import") else text)
    return root


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "rnnshape", *args], cwd=cwd, env=cli_env(),
                          capture_output=True, text=True, timeout=120)


def findings(*args, cwd):
    proc = run("check", "--no-cache", "--output-format", "json", *args, cwd=cwd)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def test_model_in_one_file_checked_with_the_batches_of_another(tmp_path):
    write(tmp_path, {"model.py": MODEL, "train.py": TRAIN.format(module="model")})
    [item] = [f for f in findings(".", cwd=tmp_path) if f["code"] == "RNN001"]
    assert (item["filename"], item["location"]["row"]) == ("./model.py", 14)
    assert "(16[batch], 20[time], 8[feature])" in item["message"] or \
        "permute" in item["message"]
    files = [step["filename"] for step in item["trace"]]
    assert "train.py" in {os.path.basename(f) for f in files} and "./model.py" in files
    # ``out[-1]`` (line 16) reads one step, which it still does once the input is transposed
    assert item["fix"]["applicability"] == "safe"
    assert item["fix"]["message"].startswith("replace")


def test_a_file_checked_alone_reads_its_imports_but_reports_only_itself(tmp_path):
    write(tmp_path, {"model.py": MODEL, "train.py": TRAIN.format(module="model")})
    assert [f for f in findings("train.py", cwd=tmp_path) if f["code"].startswith("RNN0")] == []
    # model.py alone has nobody feeding it: nothing to prove either
    assert [f for f in findings("model.py", cwd=tmp_path) if f["code"].startswith("RNN0")] == []


def test_packages_relative_imports_and_module_aliases(tmp_path):
    write(tmp_path, {"pkg/__init__.py": "", "pkg/model.py": MODEL,
                     "pkg/train.py": TRAIN.format(module=".model"),
                     "alias.py": TRAIN.format(module="pkg.model").replace(
                         "from pkg.model import Tagger", "import pkg.model as m\nTagger = m.Tagger")})
    found = [(f["filename"], f["location"]["row"]) for f in findings(".", cwd=tmp_path)
             if f["code"] == "RNN001"]
    assert found == [("./pkg/model.py", 14)]  # one finding, whichever importer showed it


def test_fix_rewrites_the_file_where_the_mistake_is(tmp_path):
    write(tmp_path, {"model.py": MODEL, "train.py": TRAIN.format(module="model")})
    proc = run("fix", "--unsafe-fixes", ".", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "x = x.permute(2, 0, 1)" in (tmp_path / "model.py").read_text()
    assert (tmp_path / "train.py").read_text() == TRAIN.format(module="model")
    assert run("check", "--no-cache", ".", cwd=tmp_path).returncode == 0


def test_an_imported_scripts_main_block_does_not_run_and_cycles_end(tmp_path):
    write(tmp_path, {
        "a.py": """\
            import torch
            from b import helper
            lstm = torch.nn.LSTM(4, 8)
            out, h = lstm(helper())
            """,
        "b.py": """\
            import torch
            import a

            def helper():
                return torch.zeros(3, 4, 4)

            if __name__ == "__main__":
                gru = torch.nn.GRU(4, 8)
                out, (h, c) = gru(torch.zeros(3, 2, 4))
            """})
    codes = {(f["code"], f["filename"]) for f in findings(".", cwd=tmp_path)}
    # b's main block runs when b is checked, not when a imports it
    assert ("RNN009", "./b.py") in codes
    assert not any(code == "RNN009" and name == "./a.py" for code, name in codes)


def test_module_level_instances_and_constants_are_known_where_imported(tmp_path):
    write(tmp_path, {
        "config.py": "BATCH = 4\nSTEPS = 12\nFEATURES = 3\n",
        "net.py": """\
            import torch.nn as nn
            from config import FEATURES
            rnn = nn.GRU(FEATURES, 16, batch_first=True)
            """,
        "run.py": """\
            import torch
            from config import BATCH, STEPS, FEATURES
            from net import rnn
            batch_size, seq_len = BATCH, STEPS
            x = torch.zeros(seq_len, batch_size, FEATURES)
            out, h = rnn(x)
            """})
    [item] = [f for f in findings(".", cwd=tmp_path) if f["code"] == "RNN001"]
    assert (item["filename"], item["location"]["row"]) == ("./run.py", 6)


def test_cached_result_is_redone_when_a_file_it_depends_on_changes(tmp_path):
    write(tmp_path, {"model.py": MODEL, "train.py": TRAIN.format(module="model")})
    first = run("check", "--output-format", "concise", ".", cwd=tmp_path)
    assert first.returncode == 1 and "model.py:14" in first.stdout
    # train.py now feeds (batch, time, features): the permute in model.py is then wrong in
    # another way, still found -- but only if model.py's cached result is not reused blindly.
    (tmp_path / "train.py").write_text(
        TRAIN.format(module="model").replace("torch.randn(256, N_FEATURES, SEQ_LEN)",
                                             "torch.randn(256, SEQ_LEN, N_FEATURES)"))
    second = run("check", "--output-format", "concise", ".", cwd=tmp_path)
    assert second.stdout != first.stdout
    fresh = run("check", "--no-cache", "--output-format", "concise", ".", cwd=tmp_path)
    assert second.stdout == fresh.stdout


@pytest.mark.parametrize("name", ["torch", "numpy"])
def test_a_local_folder_never_shadows_a_library(tmp_path, name):
    write(tmp_path, {f"{name}/__init__.py": "x = 1\n",
                     "m.py": "import torch\nlstm = torch.nn.LSTM(4, 8)\n"
                             "out, h = lstm(torch.zeros(3, 4, 5))\n"})
    # torch still means the library: the LSTM is recognised and its input judged
    assert [f["code"] for f in findings("m.py", cwd=tmp_path)] == ["RNN001"]


EVAL_SCRIPT = """\
import torch
import torch.nn as nn
from export import walk

model = nn.GRU(4, 8)
model.eval()
out, h = model(torch.zeros(5, 2, 4))
walk(model)
"""


@pytest.mark.parametrize("step, codes", [("pass", ["RNN101"]), ("model.loss().backward()", [])])
def test_a_project_function_not_followed_hides_an_eval_region_only_if_its_file_trains(
        tmp_path, step, codes):
    # ``walk`` recurses, so the tracker does not follow it; whether it might train depends on
    # whether its file calls backward at all.
    write(tmp_path, {"run.py": EVAL_SCRIPT, "export.py": f"""\
        def walk(model):
            for child in model.children():
                walk(child)
            {step}
        """})
    assert [f["code"] for f in findings(".", cwd=tmp_path)] == codes


def test_batch_first_fix_leaves_uses_in_other_files_to_a_human(tmp_path):
    # The model's output is indexed in train.py: switching the module to batch_first=True in
    # model.py changes what that line reads, and model.py's fix cannot edit train.py.
    model = dedent("""\
        import torch.nn as nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.GRU(8, 16)

            def forward(self, x):
                out, _ = self.rnn(x)
                return out
        """)
    train = dedent("""\
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        from model import Net

        loader = DataLoader(TensorDataset(torch.randn(256, 20, 8)), batch_size=16)
        net = Net()
        for (xb,) in loader:
            out = net(xb)
            summary = out.sum(dim=0)
        """)
    write(tmp_path, {"model.py": model, "train.py": train})
    proc = run("check", "--no-cache", "--batch-first", "--output-format", "json", ".",
               cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    [item] = [f for f in json.loads(proc.stdout) if f["code"] == "RNN001"]
    assert item["filename"] == "./model.py" and item["fix"]["applicability"] == "unsafe"
    assert "uses in other files" in item["fix"]["message"]
    proc = run("fix", "--batch-first", "--unsafe-fixes", ".", cwd=tmp_path)
    assert "internal error" not in proc.stderr
