"""Silent findings settled by running: the step an index reads, the direction a head sees, a
dropout that does nothing, the rows a flattened loss pairs; notebooks verified as one program."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from rnnshape.harness import experiments  # noqa: E402
from rnnshape.harness.verify import verify  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "bench" / "verify_cases"


def _verdicts(report):
    return [(f.code, f.verdict) for f in report.findings]


def test_rnn005_seq_first_index_reads_one_sample_and_the_fix_reads_every_sample():
    report = verify(str(CASES / "rnn005_seq_first_last_batch.py"))
    assert _verdicts(report) == [("RNN005", "reproduced")] and report.exit_code == 1
    [finding] = report.findings
    # (time 9, hidden 12): one sample's features at every step, not every sample's last step
    assert finding.detail == ("changing sample 0's input at the last step leaves the value at "
                              "line 16 (9, 12) unchanged, while changing the last sample's "
                              "changes it: it reads one sample, not the last step of each")
    [check] = report.checks
    assert check["reached"] and check["changed"] is False and check["control_changed"] is True
    fixed = verify(str(CASES / "rnn005_seq_first_last_batch.py"), fixed=True)
    assert _verdicts(fixed) == [("RNN005", "fixed")] and fixed.exit_code == 0


def test_rnn010_final_state_of_one_direction_gets_no_gradient_into_the_other():
    report = verify(str(CASES / "rnn010_hn_last.py"))
    [finding] = report.findings
    assert finding.verdict == "reproduced"
    assert finding.detail.startswith("the forward direction of `gru` gets no gradient at all")
    grads = report.checks[0]["modules"]["gru"]
    assert grads["forward"] == {"ih": 0.0, "hh": 0.0}
    assert grads["reverse"]["hh"] > 0 and grads["reverse"]["ih"] > 0
    fixed = verify(str(CASES / "rnn010_hn_last.py"), fixed=True)
    assert _verdicts(fixed) == [("RNN010", "fixed")]
    assert fixed.findings[0].detail.startswith("both directions of `gru` now get gradient from the value at line 16")


def test_rnn010_last_step_backward_direction_has_read_one_step():
    report = verify(str(CASES / "rnn010_out_last_step.py"))
    [finding] = report.findings
    assert finding.verdict == "reproduced"
    assert "reverse direction of `lstm` gets gradient only through its input weights" in finding.detail
    grads = report.checks[0]["modules"]["lstm"]
    assert grads["reverse"]["hh"] == 0.0 and grads["reverse"]["ih"] > 0
    assert grads["forward"]["hh"] > 0


def test_rnn104_one_layer_dropout_changes_nothing_and_its_removal_is_proved_neutral():
    report = verify(str(CASES / "rnn104_dropout_one_layer.py"))
    assert _verdicts(report) == [("RNN104", "reproduced")]
    assert report.findings[0].detail == ("in train mode `lstm` gives the same outputs with "
                                         "dropout=0.3 and with dropout=0: it does nothing")
    fixed = verify(str(CASES / "rnn104_dropout_one_layer.py"), fixed=True)
    assert _verdicts(fixed) == [("RNN104", "fixed")]


def _namespace(source: str) -> dict:
    ns: dict = {}
    exec(compile(source, "<test>", "exec"), ns)
    return ns


STACKED = """
import torch.nn as nn

class Net(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.lstm = nn.LSTM(4, 8, num_layers=layers, dropout=0.5)

    def forward(self, x):
        return self.lstm(x)[0]
"""


@pytest.mark.filterwarnings("ignore:dropout option adds dropout")
@pytest.mark.parametrize("layers, equal", [(1, True), (2, False)])
def test_dropout_experiment_tells_an_inert_dropout_from_a_working_one(layers, equal):
    run = {"build": f"Net({layers})", "inputs": [{"shape": [5, 3, 4], "integer": False}]}
    result = experiments.dropout(torch, _namespace(STACKED), {"run": run, "module": "lstm"},
                                 "cpu", 0)
    assert result["found"] and result["deterministic"]
    assert result["equal"] is equal


@pytest.mark.parametrize("logits, target, wrong", [
    ("logits.view(-1, 5)", "y.reshape(-1)", 36),                         # time-major vs batch-major
    ("logits.transpose(0, 1).reshape(-1, 5)", "y.reshape(-1)", 0),       # both batch-major
    ("logits.view(-1, 5)", "y.t().reshape(-1)", 0),                      # both time-major
])
def test_pairing_experiment_counts_rows_scored_against_another_position(logits, target, wrong):
    check = {"logits": {"expr": logits, "root": "logits", "shape": [10, 4, 5], "batch": 1, "time": 0},
             "target": {"expr": target, "root": "y", "shape": [4, 10], "batch": 0, "time": 1}}
    result = experiments.pairing(torch, {}, check, "cpu", 0)
    assert result["rows"] == 40 and result["wrong"] == wrong


def test_rnn006_pairing_is_shown_by_tagging_rows():
    report = verify(str(CASES / "rnn006_pairing.py"))
    [finding] = report.findings
    assert finding.verdict == "reproduced"
    assert finding.detail == ("36 of 40 flattened rows pair a logit with another position's "
                              "target: row 1 is (sample 1, step 0) in the logits but (sample 0, "
                              "step 1) in the targets")


def test_loss_shape_crash_uses_the_files_target_shape():
    report = verify(str(CASES / "rnn007_loss_shape.py"))
    [finding] = report.findings
    assert finding.verdict == "reproduced"
    assert finding.detail == "RuntimeError: Expected target size [4, 5], got [4, 10]"
    [run] = report.runs
    assert run["ok"] and run["loss_error"] == finding.detail


def test_top_level_index_is_evaluated_on_tagged_positions():
    report = verify(str(CASES / "rnn005_toplevel_index.py"))
    assert _verdicts(report) == [("RNN005", "reproduced")]
    assert report.findings[0].detail == ("`out[-1]` reads sample(s) 3 at step(s) 0..9, not step "
                                         "9 of every sample (tagged by position)")
    fixed = verify(str(CASES / "rnn005_toplevel_index.py"), fixed=True)
    assert _verdicts(fixed) == [("RNN005", "fixed")]
    assert fixed.findings[0].detail == ("`out[:, -1]` reads sample(s) 0..3 at step(s) 9: the "
                                        "last step of every sample")


def test_top_level_state_pick_is_not_checkable_rather_than_guessed():
    report = verify(str(CASES / "toplevel_rnn010_not_checkable.py"))
    assert _verdicts(report) == [("RNN010", "not checkable")]
    assert report.findings[0].detail == ("not checkable by running: line 10 is top-level code, "
                                         "which verify never runs")
    assert report.exit_code == 0


def test_notebook_code_cells_are_verified_as_one_program(tmp_path):
    path = tmp_path / "nb.ipynb"
    shutil.copy(CASES / "notebook_rnn005.ipynb", path)
    report = verify(str(path))
    # the last cell raises SystemExit at top level: never run, so no error
    assert report.error is None
    [finding] = report.findings
    assert (finding.code, finding.verdict, finding.cell, finding.row) == ("RNN005", "reproduced", 3, 10)
    assert "the value at cell 3, line 10" in finding.detail
    [run] = report.runs
    assert (run["cell"], run["row"]) == (4, 3) and run["ok"]


def test_notebook_verify_json_from_the_cli(tmp_path):
    import subprocess
    import sys

    from cli_env import cli_env

    path = tmp_path / "nb.ipynb"
    shutil.copy(CASES / "notebook_rnn005.ipynb", path)
    proc = subprocess.run([sys.executable, "-m", "rnnshape", "verify", "--output-format", "json",
                           str(path)], capture_output=True, text=True, env=cli_env(), timeout=300)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert [(f["code"], f["verdict"], f["cell"], f["row"]) for f in data["findings"]] == \
        [("RNN005", "reproduced", 3, 10)]


TOKENS_UNSEEN = '''
import torch
import torch.nn as nn


class CharRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(30, 8)
        self.lstm = nn.LSTM(8, 16, batch_first=True)

    def forward(self, idx):
        out, state = self.lstm(self.emb(idx))
        return out


model = CharRNN()
idx = torch.tensor([[3, 1, 4, 1, 5]])
out = model(idx)
'''


def test_an_input_dtype_the_harness_guessed_wrong_is_rebuilt_once(tmp_path):
    # torch.tensor of ints: the tracker does not know the ids are integers, the embedding does
    path = tmp_path / "chars.py"
    path.write_text(TOKENS_UNSEEN)
    report = verify(str(path))
    assert report.error is None and report.exit_code == 0
    [run] = report.runs
    assert run["ok"] and run["runtime"][0]["input"] == [1, 5, 8]
    assert run["note"].startswith("inputs rebuilt as integer after: RuntimeError: Expected tensor "
                                  "for argument #1 'indices'")
