"""The fix engine and the fixes: rule examples, the seed pair, safety, the CLI modes."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest

from rnnshape.api import FixOptions, check_source, fix_source
from rnnshape.rules import all_rules
from rnnshape.rules.base import strip_marker

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "seed"


def _fixed_cases():
    # Every invalid example says what ``fix`` makes of it, with either strategy.
    for rule in all_rules():
        for i, example in enumerate(rule.invalid):
            for batch_first, fixed in ((False, example.fixed),
                                       (True, example.fixed_batch_first or example.fixed)):
                name = "fixed_batch_first" if batch_first else "fixed"
                yield pytest.param(rule, example.source, fixed, batch_first,
                                   id=f"{rule.code}-{name}-{i}")


@pytest.mark.parametrize("rule,invalid,fixed,batch_first", list(_fixed_cases()))
def test_rule_fixed_example(rule, invalid, fixed, batch_first):
    source, _ = strip_marker(invalid)
    options = FixOptions(batch_first=batch_first, unsafe=True)
    result = fix_source(source, "example.py", {rule.code}, options)
    if fixed is None:
        assert result.text == source
        return
    assert result.text == fixed
    assert [d.code for d in check_source(fixed) if d.code == rule.code] == []
    again = fix_source(fixed, "example.py", options=options)
    assert again.text == fixed


def test_every_rule_with_a_fix_has_fixed_examples():
    for rule in all_rules():
        if rule.fixable:
            assert any(example.fixed is not None for example in rule.invalid), rule.code
        else:
            assert all(example.fixed is None for example in rule.invalid), rule.code


def _forecaster():
    rule = next(r for r in all_rules() if r.code == "RNN001")
    return rule.invalid[3].clean


def test_silent_swap_insert_is_safe_when_the_output_is_read_one_step_at_a_time():
    # ``out[-1]`` reads one time step: after the transpose it is the last step of every
    # sample, as the code means; nothing else depends on the output's layout.
    source = _forecaster()
    [diag] = [d for d in check_source(source) if d.code == "RNN001"]
    assert diag.fix.applicability == "safe"
    result = fix_source(source, "f.py")
    assert "out, _ = self.lstm(x.transpose(0, 1))" in result.text
    assert "return self.head(out[-1])" in result.text


def test_default_fix_rewrites_a_step_read_at_the_data_time_position():
    # ``out[:, -1, :]`` was written for the data's (batch, time) layout: once the input is
    # transposed it must become ``out[-1]``, in the same edit, and the fix stays safe.
    source = _forecaster().replace("return self.head(out[-1])",
                                   "return self.head(out[:, -1, :])")
    [diag] = [d for d in check_source(source) if d.code == "RNN001"]
    assert diag.fix.applicability == "safe"
    assert "`out[:, -1, :]` becomes `out[-1]` (line 13)" in diag.fix.message
    result = fix_source(source, "f.py")
    assert "out, _ = self.lstm(x.transpose(0, 1))" in result.text
    assert "return self.head(out[-1])" in result.text
    assert [d.code for d in check_source(result.text)] == []


@pytest.mark.parametrize("use, seq_first, batch_first", [
    ("out[-1]", "out[-1]", "out[:, -1]"),
    ("out[:, -1, :]", "out[-1]", "out[:, -1, :]"),
    ("out[0]", "out[0]", "out[:, 0]"),
    ("out[:, 0]", "out[0]", "out[:, 0]"),
])
def test_both_layout_strategies_read_the_same_step(use, seq_first, batch_first):
    # Whichever layout the code had in mind, the two fixes must give the same program: the
    # step ``use`` reads in the default fix's (time, batch) output is the step it reads in the
    # --batch-first fix's (batch, time) output.
    source = _forecaster().replace("return self.head(out[-1])", f"return self.head({use})")
    default = fix_source(source, "f.py").text
    switched = fix_source(source, "f.py", options=FixOptions(batch_first=True)).text
    assert f"self.head({seq_first})" in default and "self.lstm(x.transpose(0, 1))" in default
    assert f"self.head({batch_first})" in switched and "batch_first=True" in switched


def test_default_fix_is_unsafe_when_a_use_may_mean_either_layout():
    source = _forecaster().replace("return self.head(out[-1])",
                                   "return self.head(out.sum(dim=0))")
    [diag] = [d for d in check_source(source) if d.code == "RNN001"]
    assert diag.fix.applicability == "unsafe"
    assert "line(s) 13" in diag.fix.message
    assert fix_source(source, "f.py").text == source


def test_batch_first_rewrites_dependent_indexing_safely():
    source = _forecaster()
    [diag] = [d for d in check_source(source, batch_first=True) if d.code == "RNN001"]
    assert diag.fix.applicability == "safe"
    result = fix_source(source, "f.py", options=FixOptions(batch_first=True))
    assert "nn.LSTM(n_features, hidden, batch_first=True)" in result.text
    assert "self.head(out[:, -1])" in result.text
    assert result.applied == {"RNN001": 1}


def test_batch_first_marks_unrewritable_uses_unsafe():
    source = _forecaster().replace("return self.head(out[-1])",
                                   "return self.head(out.sum(dim=0))")
    [diag] = [d for d in check_source(source, batch_first=True) if d.code == "RNN001"]
    assert diag.fix.applicability == "unsafe"
    assert "line(s) 13" in diag.fix.message


def test_fix_json_edits_reproduce_the_fixed_text():
    from rnnshape.fixes import apply_edits
    source = SEED.joinpath("onehot_lstm_bug.py").read_text()
    diagnostics = check_source(source)
    for diag in diagnostics:
        assert diag.fix is not None, diag.code
        cst.parse_module(apply_edits(source, diag.fix.edits))  # each fix alone stays valid
    # The three permute fixes do not overlap: together they are exactly the permute strategy.
    layout = [e for d in diagnostics if d.code == "RNN001" for e in d.fix.edits]
    assert apply_edits(source, layout) == source.replace("_hot.permute(0, 2, 1)",
                                                         "_hot.permute(1, 0, 2)")
    permute = next(d for d in diagnostics if d.code == "RNN001").fix.edits
    assert [(e.row, e.column, e.end_row, e.end_column, e.content) for e in permute] == \
        [(92, 26, 92, 57, "inputs_one_hot.permute(1, 0, 2)")]


def test_untouched_code_is_byte_identical():
    source = '''import numpy as np
import torch   # keep   this comment
import torch.nn as nn

CONFIG = {'a': 1,
          "b":    2}  # odd formatting stays


def unrelated( x ):
    return  x*2   # spacing stays
np.random.seed(7)
net = nn.GRU(3, 4)
'''
    result = fix_source(source, "f.py")
    assert result.text == source.replace("np.random.seed(7)\n",
                                         "np.random.seed(7)\ntorch.manual_seed(7)\n")


def test_fix_adds_import_torch_only_when_missing():
    source = "import numpy as np\nfrom torch import nn\n\nnp.random.seed(3)\nm = nn.GRU(2, 3)\n"
    result = fix_source(source, "f.py")
    assert result.text == ("import numpy as np\nfrom torch import nn\nimport torch\n\n"
                           "np.random.seed(3)\ntorch.manual_seed(3)\nm = nn.GRU(2, 3)\n")
    aliased = "import numpy as np\nimport torch as T\n\nnp.random.seed(3)\nx = T.randn(2)\n"
    assert "np.random.seed(3)\nT.manual_seed(3)\n" in fix_source(aliased, "f.py").text


def test_numpy_fix_adds_cpu_when_the_file_moves_tensors():
    source = ("import torch\nimport torch.nn as nn\n\nnet = nn.Linear(4, 2).to('cuda')\n"
              "x = torch.zeros(3, 4).to('cuda')\nout = net(x).numpy()\n")
    result = fix_source(source, "f.py")
    assert result.text.endswith("out = net(x).detach().cpu().numpy()\n")


def test_seed_fixed_versions_are_what_fix_produces():
    source = SEED.joinpath("onehot_lstm_bug.py").read_text()
    permute = fix_source(source, "bug.py")
    batch_first = fix_source(source, "bug.py", options=FixOptions(batch_first=True))
    assert permute.text == SEED.joinpath("onehot_lstm_fixed_permute.py").read_text()
    assert batch_first.text == SEED.joinpath("onehot_lstm_fixed_batch_first.py").read_text()
    assert permute.applied == {"RNN001": 3, "RNN101": 1, "RNN103": 1}
    assert batch_first.applied == {"RNN001": 3, "RNN101": 1, "RNN103": 1}
    assert "_hot.permute(1, 0, 2)" in permute.text and "_hot.permute(0, 2, 1)" not in permute.text
    assert "batch_first=True" in batch_first.text and "_hot.permute(" not in batch_first.text
    for text in (permute.text, batch_first.text):
        assert check_source(text) == []


@pytest.mark.parametrize("name", ["onehot_lstm_fixed_permute.py", "onehot_lstm_fixed_batch_first.py"])
def test_fixed_seed_scripts_train(name, tmp_path):
    pytest.importorskip("torch")
    proc = subprocess.run([sys.executable, str(SEED / name)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    losses = [float(m) for m in re.findall(r"training loss: ([0-9.]+)", proc.stdout)]
    assert len(losses) >= 3
    assert losses[-1] < losses[0] * 0.9


def test_bug_seed_script_crashes(tmp_path):
    pytest.importorskip("torch")
    proc = subprocess.run([sys.executable, str(SEED / "onehot_lstm_bug.py")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "input.size(-1) must be equal to input_size" in proc.stderr


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "rnnshape", *args], cwd=cwd,
                          capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})


def test_cli_fix_modes(tmp_path):
    target = tmp_path / "bug.py"
    original = SEED.joinpath("onehot_lstm_bug.py").read_text()
    target.write_text(original)
    target.chmod(0o640)

    proc = _cli("fix", "--check", str(target))
    assert proc.returncode == 1 and target.read_text() == original
    assert "Would fix 5 findings (RNN001: 3, RNN101: 1, RNN103: 1) in 1 file." in proc.stdout

    proc = _cli("fix", "--diff", str(target))
    assert proc.returncode == 1 and target.read_text() == original
    assert "-        inputs_one_hot = inputs_one_hot.permute(0, 2, 1)" in proc.stdout
    assert "+torch.manual_seed(42)" in proc.stdout

    proc = _cli("fix", str(target))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Fixed 5 findings (RNN001: 3, RNN101: 1, RNN103: 1) in 1 file." in proc.stdout
    assert target.read_text() == SEED.joinpath("onehot_lstm_fixed_permute.py").read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640

    fixed = target.read_bytes()
    proc = _cli("fix", str(target))
    assert proc.returncode == 0 and target.read_bytes() == fixed
    assert _cli("fix", "--check", str(target)).returncode == 0
    assert [p.name for p in tmp_path.iterdir()] == ["bug.py"]  # no temp files left behind


def test_cli_fix_reports_what_remains(tmp_path):
    target = tmp_path / "m.py"
    target.write_text("import torch\nimport torch.nn as nn\n\nemb = nn.Embedding(10, 8)\n"
                      "rnn = nn.GRU(5, 4, batch_first=True)\n"
                      "out, h = rnn(emb(torch.zeros(2, 3, dtype=torch.long)))\n")
    proc = _cli("fix", "--output-format", "concise", str(target))
    assert proc.returncode == 1
    assert "m.py:6:10: RNN002" in proc.stdout
    assert "Fixed 0 findings in 0 files. 1 remaining." in proc.stdout


def test_unparseable_fix_result_leaves_file_untouched(tmp_path, monkeypatch):
    from rnnshape.commands.fix import run_fix
    from rnnshape.fixkit import SAFE, Plan
    from rnnshape.rules.hygiene import UnseededTorch

    def broken(self, finding, fctx):
        return Plan(SAFE, "broken", {finding.node: cst.Name("(")})

    monkeypatch.setattr(UnseededTorch, "fix", broken)
    target = tmp_path / "s.py"
    original = "import numpy as np\nimport torch\n\nnp.random.seed(1)\nx = torch.randn(3)\n"
    target.write_text(original)
    args = fix_runner_args([str(target)])
    assert run_fix(args) == 2
    assert target.read_text() == original


def fix_runner_args(paths, **overrides):
    from rnnshape.cli import build_parser
    return build_parser().parse_args(["fix", *paths, *overrides.get("extra", [])])


def test_fix_on_clean_file_is_byte_identical(tmp_path):
    target = tmp_path / "ok.py"
    data = b"import torch\r\nimport torch.nn as nn\r\nlstm = nn.LSTM(3, 4)  # crlf stays\r\n"
    target.write_bytes(data)
    before = target.stat().st_mtime_ns
    assert _cli("fix", str(target)).returncode == 0
    assert target.read_bytes() == data
    assert target.stat().st_mtime_ns == before


def test_fix_keeps_bom_and_crlf(tmp_path):
    target = tmp_path / "b.py"
    target.write_bytes(b"\xef\xbb\xbfimport numpy as np\r\nimport torch\r\n\r\nnp.random.seed(5)\r\n"
                       b"x = torch.rand(2)\r\n")
    assert _cli("fix", str(target)).returncode == 0
    assert target.read_bytes() == (b"\xef\xbb\xbfimport numpy as np\r\nimport torch\r\n\r\n"
                                   b"np.random.seed(5)\r\ntorch.manual_seed(5)\r\nx = torch.rand(2)\r\n")


def test_fixed_examples_run_under_torch(tmp_path):
    pytest.importorskip("torch")
    import json
    sources = {f"{rule.code}-{attr}-{i}": getattr(example, attr)
               for rule in all_rules()
               for attr in ("fixed", "fixed_batch_first")
               for i, example in enumerate(rule.invalid) if getattr(example, attr) is not None}
    runner = tmp_path / "run_all.py"
    runner.write_text(
        "import json, sys, traceback\n"
        "failed = {}\n"
        "for name, source in json.load(open(sys.argv[1])).items():\n"
        "    try:\n"
        "        exec(compile(source, name, 'exec'), {'__name__': '__main__'})\n"
        "    except Exception:\n"
        "        failed[name] = traceback.format_exc(limit=2)\n"
        "print(json.dumps(failed))\n")
    data = tmp_path / "sources.json"
    data.write_text(json.dumps(sources))
    proc = subprocess.run([sys.executable, str(runner), str(data)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {}
    assert len(sources) >= 14


EVAL_IN_HELPER = """\
import torch


def evaluate(net, batches):
    net.eval()
    with torch.no_grad():
        return sum(float(net(x).mean()) for x, _ in batches)


def fit(model, optimizer, batches, epochs):
    for epoch in range(epochs):
        for x, y in batches:
            loss = (model(x) - y).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        evaluate(model, batches)
"""


def test_train_mode_fix_never_names_what_the_loop_cannot_see():
    # ``net`` is the helper's name for the model: ``net.train()`` in fit's loop would raise
    # NameError, so the finding stays without a fix.
    [diag] = [d for d in check_source(EVAL_IN_HELPER) if d.code == "RNN105"]
    assert diag.fix is None
    result = fix_source(EVAL_IN_HELPER, "fit.py", {"RNN105"}, FixOptions(unsafe=True))
    assert result.text == EVAL_IN_HELPER
