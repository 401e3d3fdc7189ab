"""``verify`` with real torch on CPU: reproduced, fixed, isolated, bounded."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")

from rnnshape.cli import main  # noqa: E402
from rnnshape.harness.verify import verify  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BUG = ROOT / "examples" / "seed" / "onehot_lstm_bug.py"
SILENT = ROOT / "examples" / "silent_swap.py"


def _by_code(report, code):
    return [f for f in report.findings if f.code == code]


def test_seed_bug_crash_is_reproduced():
    report = verify(str(BUG))
    assert report.error is None and report.device == "cpu"
    layout = _by_code(report, "RNN001")
    assert [f.row for f in layout] == [92, 103, 121]
    for finding in layout:
        assert finding.verdict == "reproduced"
        assert "input.size(-1) must be equal to input_size" in finding.detail
    # distinct bindings: the crash names both sizes, so they cannot have coincided
    values = report.bindings
    assert values["vocab_size"] != values["len(sequence)"]
    [run] = report.runs
    assert run["runtime"][0]["input"] == [1, values["vocab_size"], values["len(sequence)"]]
    usage = [f for f in report.findings if f.code in ("RNN101", "RNN103")]
    assert usage and {f.verdict for f in usage} == {"not checkable"}
    assert all(f.detail.startswith("not checkable by running") for f in usage)
    assert report.exit_code == 1


def test_seed_bug_fixes_pass_and_strategies_agree():
    report = verify(str(BUG), fixed=True)
    assert report.exit_code == 0, [(f.code, f.verdict, f.detail) for f in report.findings]
    # a usage finding's fix is gone, but no run can show it right
    assert {(f.code, f.verdict) for f in report.findings} == {
        ("RNN001", "fixed"), ("RNN101", "not checkable"), ("RNN103", "not checkable")}
    assert report.pairs and all(p["equal"] for p in report.pairs)
    by_program = {r["program"]: r for r in report.runs}
    n, v = report.bindings["len(sequence)"], report.bindings["vocab_size"]
    assert by_program["fixed"]["runtime"][0]["input"] == [n, 1, v]       # permute(1, 0, 2)
    assert by_program["other"]["runtime"][0]["input"] == [1, n, v]       # batch_first=True
    assert by_program["other"]["runtime"][0]["batch_first"] is True


def test_silent_swap_shows_the_wrong_runtime_shape():
    report = verify(str(SILENT))
    [finding] = _by_code(report, "RNN001")
    assert finding.verdict == "reproduced"
    assert finding.runtime_shape == "(32, 24, 5)"
    assert "batch = 24" in finding.detail and "[time]" in finding.detail
    assert report.exit_code == 1
    fixed = verify(str(SILENT), fixed=True, batch_first=True)
    [finding] = _by_code(fixed, "RNN001")
    assert finding.verdict == "fixed" and "agree" in finding.detail
    other = next(r for r in fixed.runs if r["program"] == "other")
    assert other["runtime"][0]["input"] == [24, 32, 5]


def test_top_level_code_is_never_executed(tmp_path):
    marker = tmp_path / "marker.txt"
    source = tmp_path / "model.py"
    source.write_text(textwrap.dedent(f"""
        import torch
        import torch.nn as nn

        open({str(marker)!r}, "w").write("top level ran")
        HIDDEN = 16


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.GRU(4, HIDDEN)
                self.fc = nn.Linear(HIDDEN, 2)

            def forward(self, x):
                out, h = self.rnn(x)
                return self.fc(out)


        if __name__ == "__main__":
            open({str(marker)!r}, "w").write("main ran")
        net = Net()
        y = net(torch.zeros(10, 3, 4))
    """))
    report = verify(str(source))
    assert not marker.exists()
    [run] = report.runs
    assert run["ok"] and run["runtime"][0]["input"] == [10, 3, 4]
    assert run["output"] == [10, 3, 2]
    assert report.exit_code == 0


def test_timeout_is_honoured_and_reported_as_error(tmp_path):
    source = tmp_path / "hang.py"
    source.write_text(textwrap.dedent("""
        import torch
        import torch.nn as nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.LSTM(4, 8, bidirectional=True)
                self.fc = nn.Linear(8, 2)

            def forward(self, x):
                out, _ = self.rnn(x)
                while True:
                    pass
                return self.fc(out)


        net = Net()
        y = net(torch.zeros(10, 3, 4))
    """))
    report = verify(str(source), timeout=5)
    assert "timed out after 5 s" in report.error
    assert report.exit_code == 2
    assert {f.verdict for f in report.findings if f.code == "RNN004"} == {"error"}


def test_import_error_of_user_code_is_not_a_pass(tmp_path):
    source = tmp_path / "imp.py"
    source.write_text("import torch\nimport torch.nn as nn\nimport not_a_module_xyz\n\n"
                      "lstm = nn.LSTM(3, 4)\nout, h = lstm(torch.zeros(5, 2, 6))\n")
    report = verify(str(source))
    assert "not_a_module_xyz" in report.error
    assert report.exit_code == 2
    assert [f.verdict for f in report.findings] == ["error"]


def test_head_mismatch_reproduced_through_loss_pairing(tmp_path):
    source = tmp_path / "bi.py"
    source.write_text(textwrap.dedent("""
        import torch
        import torch.nn as nn


        class Tagger(nn.Module):
            def __init__(self, vocab, hidden_size, tags):
                super().__init__()
                self.emb = nn.Embedding(vocab, 12)
                self.rnn = nn.LSTM(12, hidden_size, batch_first=True, bidirectional=True)
                self.fc = nn.Linear(hidden_size, tags)

            def forward(self, tokens):
                out, _ = self.rnn(self.emb(tokens))
                return self.fc(out)


        model = Tagger(100, 32, 5)
        tokens = torch.zeros(4, 9, dtype=torch.long)
        logits = model(tokens)
    """))
    report = verify(str(source))
    [finding] = _by_code(report, "RNN004")
    assert finding.verdict == "reproduced" and "mat1 and mat2" in finding.detail
    fixed = verify(str(source), fixed=True)
    assert [f.verdict for f in _by_code(fixed, "RNN004")] == ["fixed"]
    assert fixed.exit_code == 0


def test_missing_torch_gives_install_hint(monkeypatch, capsys):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    assert main(["verify", str(BUG)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'rnnshape[verify]'" in err[0]


def test_cli_json_output():
    proc = subprocess.run([sys.executable, "-m", "rnnshape", "verify", "--output-format", "json",
                           str(SILENT)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["device"] == "cpu" and data["exit_code"] == 1
    assert [(f["code"], f["verdict"]) for f in data["findings"]] == [("RNN001", "reproduced")]
    assert data["runs"][0]["runtime"][0]["input"] == [32, 24, 5]


def _cuda_available() -> bool:
    import torch
    return torch.cuda.is_available()


def test_device_auto_runs_where_torch_can():
    # The GPU path itself needs a GPU machine; here: auto picks what torch offers, and the
    # verdicts do not depend on the device.
    report = verify(str(SILENT), device="auto")
    assert report.device == ("cuda" if _cuda_available() else "cpu")
    assert [(f.code, f.verdict) for f in report.findings] == [("RNN001", "reproduced")]


@pytest.mark.skipif("_cuda_available()")
def test_device_cuda_without_a_gpu_is_an_error_not_a_pass():
    report = verify(str(SILENT), device="cuda")
    assert report.error == "--device cuda, but torch sees no CUDA device"
    assert report.exit_code == 2
    assert {f.verdict for f in report.findings} == {"error"}


def test_a_location_in_an_error_is_printed_as_written_not_as_an_emoji(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import torch\n" + "x = 1\n" * 98 + "def (:\n")
    proc = subprocess.run([sys.executable, "-m", "rnnshape", "verify", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"{path}:100:" in proc.stderr and "\U0001f4af" not in proc.stderr


CRASH_NO_FINDING = '''
import torch
import torch.nn as nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 16, batch_first=True)
        self.fc = nn.Linear(16, 2)

    def forward(self, x):
        out, h = self.gru(x)
        return self.fc(out[:, -1]).view(3, 7)


model = M()
y = model(torch.zeros(4, 5, 8))
'''


def test_a_run_that_raises_is_never_a_pass(tmp_path):
    path = tmp_path / "crash.py"
    path.write_text(CRASH_NO_FINDING)
    report = verify(str(path), device="cpu")
    assert report.findings == []
    assert report.exit_code == 2
    assert "RuntimeError: shape '[3, 7]' is invalid" in report.error and "line 18" in report.error


CONSTANTS = '''
from dataclasses import dataclass

import torch
import torch.nn as nn

EMB, HID = 8, 16
CFG = {"layers": 2}


@dataclass
class Config:
    dropout: float = 0.0
    bidirectional: bool = False


cfg = Config(bidirectional=True)


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(EMB, HID, num_layers=CFG["layers"], bidirectional=cfg.bidirectional)

    def forward(self, x):
        out, _ = self.lstm(x)
        return out[-1]


model = M()
y = model(torch.zeros(5, 3, 8))
'''


def test_constants_in_tuples_dicts_and_dataclasses_are_extracted(tmp_path):
    path = tmp_path / "constants.py"
    path.write_text(CONSTANTS)
    report = verify(str(path), device="cpu")
    assert report.error is None
    [run] = report.runs
    assert run["ok"] and run["runtime"][0]["input"] == [5, 3, 8]
    # built as written (two layers, bidirectional): out[-1] is then a real RNN010, shown by
    # the backward direction's recurrent weights getting no gradient
    assert [(f.code, f.verdict) for f in report.findings] == [("RNN010", "reproduced")]


OTHER_CRASH = '''
import torch
import torch.nn as nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, bidirectional=True)
        self.fc = nn.Linear(16, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        total = out.sum(dim=5)
        return self.fc(out[-1]) + total


model = M()
y = model(torch.zeros(5, 3, 8))
'''


def test_a_crash_the_finding_does_not_predict_is_an_error_not_a_reproduction(tmp_path):
    path = tmp_path / "other.py"
    path.write_text(OTHER_CRASH)
    report = verify(str(path), device="cpu")
    [finding] = [f for f in report.findings if f.code == "RNN004"]
    assert finding.verdict == "error" and "Dimension out of range" in finding.detail
    assert report.exit_code == 2 and "Dimension out of range" in report.error
