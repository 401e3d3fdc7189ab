"""``fix --verified``: an unsafe fix is written only with the runtime harness's proof."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from cli_env import cli_env  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "bench" / "verify_cases"


def _fix(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnnshape", "fix", "--verified", *map(str, args)],
                          capture_output=True, text=True, env=cli_env(), timeout=600)


def test_a_proved_unsafe_fix_is_applied_and_says_why(tmp_path):
    path = tmp_path / "bi.py"
    shutil.copy(CASES / "rnn010_hn_last.py", path)
    proc = _fix(path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"{path}:16:26: RNN010 unsafe fix applied: both directions of "
                               f"`gru` now get gradient from the value at line 16")
    assert lines[-1] == ("Fixed 1 finding (RNN010: 1) in 1 file; unsafe fixes verified and "
                         "applied: 1, not applied: 0.")
    text = path.read_text()
    assert "self.head = nn.Linear(40, 2)" in text
    assert "return self.head(torch.cat((h_n[-2], h_n[-1]), dim=1))" in text
    assert _fix(path).stdout.splitlines()[-1].startswith("Fixed 0 findings")  # idempotent


def test_an_unsafe_fix_the_run_disproves_is_not_applied(tmp_path):
    path = tmp_path / "shared_head.py"
    shutil.copy(CASES / "rnn010_fix_refused.py", path)
    before = path.read_text()
    proc = _fix(path)
    assert proc.returncode == 1  # the finding remains
    assert proc.stdout.splitlines()[0] == (
        f"{path}:18:26: RNN010 unsafe fix not applied: verify --fixed says not fixed: "
        f"RuntimeError: mat1 and mat2 shapes cannot be multiplied (3x20 and 40x2)")
    assert path.read_text() == before
    assert "unsafe fixes verified and applied: 0, not applied: 1. 1 remaining." in proc.stdout


def test_a_layout_fix_needs_both_strategies_to_agree(tmp_path):
    # out.mean(0): the transpose fix averages over time, batch_first=True over the batch
    path = tmp_path / "swap.py"
    shutil.copy(CASES / "rnn001_strategies_disagree.py", path)
    before = path.read_text()
    proc = _fix(path)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0] == (
        f"{path}:17:18: RNN001 unsafe fix not applied: verify --fixed says not fixed: the two "
        f"strategies disagree: outputs differ in shape: [32, 1] vs [24, 1]")
    assert path.read_text() == before


def test_safe_fixes_are_applied_as_usual(tmp_path):
    path = tmp_path / "index.py"
    shutil.copy(CASES / "rnn005_batch_first_last_sample.py", path)
    proc = _fix("--diff", path)
    assert proc.returncode == 1
    assert "-        return self.fc(out[-1])\n+        return self.fc(out[:, -1])\n" in proc.stdout
    assert "unsafe fixes verified and applied: 0, not applied: 0." in proc.stderr


def test_fix_verified_without_torch_is_a_one_line_error(monkeypatch, capsys, tmp_path):
    import importlib.util

    from rnnshape.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    path = tmp_path / "bi.py"
    shutil.copy(CASES / "rnn010_hn_last.py", path)
    assert main(["fix", "--verified", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fix --verified needs torch" in err[0]
    assert path.read_text() == (CASES / "rnn010_hn_last.py").read_text()


def test_a_notebook_gets_its_proved_unsafe_fix_in_its_cell(tmp_path):
    import json

    source = (CASES / "rnn010_hn_last.py").read_text()
    head, rest = source.split("class Net", 1)
    model, tail = ("class Net" + rest).split("\n\nnet = Net()", 1)
    cells = [head, "%time\n" + model + "\n", "net = Net()" + tail]
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
                           "execution_count": None, "source": c.splitlines(True)} for c in cells],
                "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
                "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook, indent=1))
    proc = _fix(path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[0].startswith(
        f"{path}:cell 2:10:26: RNN010 unsafe fix applied: both directions of `gru` now get "
        f"gradient from the value at cell 2, line 10")
    fixed = json.loads(path.read_text())["cells"][1]["source"]
    assert fixed[0] == "%time\n"  # the magic survives
    assert "        return self.head(torch.cat((h_n[-2], h_n[-1]), dim=1))\n" in fixed
    assert "        self.head = nn.Linear(40, 2)\n" in fixed
