"""A rule whose own code raises is an internal error named with the file and the rule: the
run goes on (the other rules' findings, the other files), and it exits 2 -- never silence."""
from __future__ import annotations

import pytest

from rnnshape.api import check_source
from rnnshape.cli import main
from rnnshape.diagnostic import FileError
from rnnshape.rules.hygiene import UnseededTorch
from rnnshape.rules.layout import LayoutMismatch

# RNN001 (a fix) and RNN103 (a fix) in one file.
SOURCE = ("import numpy as np\nimport torch\n\nnp.random.seed(1)\n"
          "lstm = torch.nn.LSTM(4, 8)\nout, h = lstm(torch.zeros(3, 4, 5))\n")


def _boom(*args, **kwargs):
    raise ValueError("boom")


def test_a_failing_check_is_reported_with_the_rule_and_the_rest_still_runs(tmp_path, capsys,
                                                                           monkeypatch):
    monkeypatch.setattr(UnseededTorch, "check", _boom)
    target = tmp_path / "m.py"
    target.write_text(SOURCE)
    other = tmp_path / "n.py"
    other.write_text(SOURCE)
    code = main(["check", "--no-cache", "--output-format", "concise", str(target), str(other)])
    out, err = capsys.readouterr()
    assert code == 2
    for path in (target, other):
        assert f"{path}: error: internal error in rule RNN103 (unseeded-torch) while checking: " \
               f"ValueError: boom" in err
        assert f"{path}:6:" in out and "RNN001" in out  # the other rule's finding is kept


def test_a_failing_fix_keeps_the_finding_and_names_the_rule(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(LayoutMismatch, "fix", _boom)
    target = tmp_path / "m.py"
    target.write_text(SOURCE)
    code = main(["check", "--no-cache", "--output-format", "concise", str(target)])
    out, err = capsys.readouterr()
    assert code == 2
    assert "internal error in rule RNN001 (layout-mismatch) while fixing: ValueError: boom" in err
    assert "RNN001" in out and "RNN103 [*]" in out  # reported; only RNN103 offers a fix


def test_fix_applies_the_other_fixes_and_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(LayoutMismatch, "fix", _boom)
    target = tmp_path / "m.py"
    target.write_text(SOURCE)
    assert main(["fix", str(target)]) == 2
    assert "torch.manual_seed(1)" in target.read_text()
    assert "internal error in rule RNN001" in capsys.readouterr().err


def test_library_callers_get_the_error_too(monkeypatch):
    monkeypatch.setattr(UnseededTorch, "check", _boom)
    with pytest.raises(FileError, match="RNN103"):
        check_source(SOURCE, "m.py")
