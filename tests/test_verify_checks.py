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


# -- RNN107: state fed back undetached; RNN106: a CPU tensor meets a model moved to CUDA ------

from rnnshape.harness import crash_checks  # noqa: E402
from rnnshape.harness.checks import Planned  # noqa: E402
from rnnshape.harness.judge import _CRASHES  # noqa: E402


def test_rnn107_second_backward_through_the_fed_back_state_is_reproduced_and_the_fix_runs():
    report = verify(str(CASES / "rnn107_state_fed_back.py"))
    assert _verdicts(report) == [("RNN107", "reproduced")] and report.exit_code == 1
    assert report.findings[0].detail == (
        "the second training step's backward() raised RuntimeError: Trying to backward through "
        "the graph a second time (or directly access saved tensors after they have already been "
        "freed): the state fed back still holds the first step's freed graph")
    [check] = report.checks
    assert check["steps"] == 1
    fixed = verify(str(CASES / "rnn107_state_fed_back.py"), fixed=True)
    assert _verdicts(fixed) == [("RNN107", "fixed")] and fixed.exit_code == 0
    assert fixed.checks[-1] == {"id": "f0", "steps": 2, "raised": None}


def test_rnn107_without_a_fix_stays_not_fixed():
    fixed = verify(str(CASES / "rnn107_gru_no_fix.py"), fixed=True)
    assert _verdicts(fixed) == [("RNN107", "not fixed")] and fixed.exit_code == 1


KEYWORD_STATE = '''
import torch
import torch.nn as nn

rnn = nn.GRU(8, 16)
optimizer = torch.optim.SGD(rnn.parameters(), lr=0.1)
hidden = torch.zeros(1, 4, 16)
for step in range(100):
    out, hidden = rnn(torch.randn(5, 4, 8), hx=hidden)
    optimizer.zero_grad()
    out.sum().backward()
    optimizer.step()
'''


def test_rnn107_a_call_the_harness_cannot_repeat_is_not_checkable_and_says_why(tmp_path):
    path = tmp_path / "kw.py"
    path.write_text(KEYWORD_STATE)
    report = verify(str(path))
    assert _verdicts(report) == [("RNN107", "not checkable")] and report.exit_code == 0
    assert report.findings[0].detail == ("not checkable by running: the model call has keyword "
                                         "or starred arguments")


SELF_DETACHING = '''
import torch
import torch.nn as nn


class Cell(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 16)

    def forward(self, x, h):
        out, h = self.gru(x, h)
        return out, h.detach()
'''


def _feedback_check(detach: bool, build: str = "torch.nn.GRU(8, 16)") -> dict:
    return {"kind": "feedback", "detach": detach, "state_arg": 1, "state_out": 1,
            "run": {"id": "r", "build": build, "inputs": [{"shape": [5, 4, 8], "integer": False}]}}


def test_feedback_experiment_raises_only_on_the_second_backward_and_not_once_detached():
    ns = _namespace("import torch\n")
    fed = experiments.feedback(torch, ns, _feedback_check(detach=False), "cpu", 0)
    assert fed["steps"] == 1
    assert "backward through the graph a second time" in fed["raised"].lower()
    assert experiments.feedback(torch, ns, _feedback_check(detach=True), "cpu", 0) == \
        {"steps": 2, "raised": None}
    # a model that detaches the state it returns: two steps run, the finding would be false
    ns = _namespace("import torch\n" + SELF_DETACHING)
    assert experiments.feedback(torch, ns, _feedback_check(False, "Cell()"), "cpu", 0) == \
        {"steps": 2, "raised": None}


def _planned(code: str, kind: str) -> Planned:
    return Planned(None, {"kind": kind}, 3, standalone=True, predicts=_CRASHES[code])


def test_feedback_results_are_read_against_the_predicted_exceptions():
    planned = _planned("RNN107", "feedback")
    inplace = ("RuntimeError: one of the variables needed for gradient computation has been "
               "modified by an inplace operation: [torch.FloatTensor [16, 48]] is at version 2")
    assert crash_checks.read_feedback(planned, {"steps": 1, "raised": inplace})[0] == "reproduced"
    assert crash_checks.read_feedback(planned, {"steps": 1, "raised": "RuntimeError: boom"}) == \
        ("error", "the second training step raised RuntimeError: boom, which is not what RNN107 "
                  "predicts")
    assert crash_checks.read_feedback(planned, {"steps": 2, "raised": None})[0] == "not reproduced"
    assert crash_checks.read_fixed_feedback(planned, {"steps": 1, "raised": inplace})[0] == \
        "not fixed"


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine runs the experiment")
def test_rnn106_on_a_cpu_only_machine_is_not_checkable_never_reproduced():
    import subprocess
    import sys

    from cli_env import cli_env

    for fixed in (False, True):
        report = verify(str(CASES / "rnn106_forward_h0_not_checkable_on_cpu.py"), fixed=fixed)
        assert [(f.code, f.verdict, f.detail) for f in report.findings] == [
            ("RNN106", "not checkable",
             "not checkable by running: needs a CUDA device (this machine has none)")]
        assert report.exit_code == 0 and report.error is None
    proc = subprocess.run([sys.executable, "-m", "rnnshape", "verify", "--device", "auto",
                           str(CASES / "rnn106_forward_h0_not_checkable_on_cpu.py")],
                          capture_output=True, text=True, env=cli_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "needs a CUDA device (this machine has none)" in proc.stdout


def test_where_a_device_experiment_runs_is_decided_by_cuda_and_the_device_asked_for():
    assert experiments.cuda_target("cpu", False) == \
        (None, "needs a CUDA device (this machine has none)")
    assert experiments.cuda_target("cpu", True) == \
        (None, "needs a CUDA device (run verify with --device cuda or auto)")
    assert experiments.cuda_target("cuda", True) == ("cuda", "")


class _FakeCuda:
    """torch with a CUDA device it does not have: the decision only, never a CUDA tensor."""

    def __init__(self, available: bool):
        self.cuda = type("cuda", (), {"is_available": staticmethod(lambda: available)})


def test_device_experiment_without_cuda_or_without_a_run_reports_why():
    check = {"kind": "device", "run": None, "cpu_args": [], "why": "no call of the model"}
    assert experiments.device(_FakeCuda(False), {}, check, "cpu", 0) == \
        {"skipped": "needs a CUDA device (this machine has none)"}
    assert experiments.device(_FakeCuda(True), {}, check, "cuda", 0) == \
        {"skipped": "no call of the model"}


H0_ON_CPU = '''
import torch
import torch.nn as nn


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 16)

    def forward(self, x):
        h0 = torch.zeros(1, x.size(1), 16{device})
        out, _ = self.gru(x, h0)
        return out
'''


def test_on_device_runs_the_model_away_from_the_cpu_with_the_tensors_the_code_leaves_there():
    # torch's "meta" device stands in for CUDA here: the same branch, the same device check
    run = {"id": "r", "build": "Tagger()", "inputs": [{"shape": [5, 4, 8], "integer": False}]}
    check = {"kind": "device", "run": run, "cpu_args": []}
    made_on_cpu = _namespace(H0_ON_CPU.format(device=""))
    got = experiments.on_device(torch, made_on_cpu, check, "meta", 0)
    assert got["device"] == "meta"
    assert got["raised"].startswith("RuntimeError: Input and hidden tensors are not at the same device")
    planned = _planned("RNN106", "device")
    assert crash_checks.read_device(planned, got) == \
        ("reproduced", "with the model on meta: " + got["raised"])
    fixed = _namespace(H0_ON_CPU.format(device=", device=x.device"))
    clean = experiments.on_device(torch, fixed, check, "meta", 0)
    assert clean == {"device": "meta", "raised": None}
    assert crash_checks.read_fixed_device(planned, clean)[0] == "fixed"
    # an input the code passes unmoved stays on the CPU
    gru = dict(check, run=dict(run, build="torch.nn.GRU(8, 16)"), cpu_args=[0])
    unmoved = experiments.on_device(torch, _namespace("import torch\n"), gru, "meta", 0)
    assert "same device" in unmoved["raised"] or "expected device" in unmoved["raised"].lower()


def test_device_results_are_read_against_the_predicted_exceptions():
    planned = _planned("RNN106", "device")
    for raised in ("RuntimeError: Expected all tensors to be on the same device, but found at "
                   "least two devices, cuda:0 and cpu!",
                   "TypeError: can't convert cuda:0 device type tensor to numpy.",
                   "RuntimeError: Input and parameter tensors are not at the same device, found "
                   "input tensor at cpu and parameter tensor at cuda:0"):
        assert crash_checks.read_device(planned, {"device": "cuda", "raised": raised}) == \
            ("reproduced", f"with the model on cuda: {raised}")
    assert crash_checks.read_device(planned, {"device": "cuda", "raised": "RuntimeError: mat1 "
                                              "and mat2 shapes cannot be multiplied"})[0] == "error"
    assert crash_checks.read_device(planned, {"device": "cuda", "raised": None})[0] == \
        "not reproduced"
    assert crash_checks.read_device(planned, {"skipped": "needs a CUDA device (this machine has "
                                              "none)"}) == \
        ("not checkable", "not checkable by running: needs a CUDA device (this machine has none)")
    assert crash_checks.read_fixed_device(planned, {"device": "cuda", "raised": "RuntimeError: x"}) \
        == ("not fixed", "the fixed model on cuda raised RuntimeError: x")


UNMOVED = '''
import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
model = nn.GRU(8, 16).to(device)
seq_len, batch_size = 5, 4
x = torch.randn(seq_len, batch_size, 8)
out, h = model(x)
'''


def _device_spec(source: str) -> dict:
    from rnnshape.api import analyze
    from rnnshape.harness.bindings import Bindings
    from rnnshape.harness.plan import collect_dims
    analysis = analyze(source, "case.py")
    [finding] = analysis.findings
    assert finding.code == "RNN106"
    return crash_checks.plan_device(finding, analysis,
                                    Bindings(collect_dims(analysis, analysis.scope)))


def test_device_plan_leaves_on_the_cpu_the_argument_the_code_did_not_move():
    spec = _device_spec(UNMOVED)
    assert spec["cpu_args"] == [0]
    assert spec["run"]["build"].startswith("__rnnshape_torch.nn.GRU(")
    assert spec["run"]["inputs"][0]["shape"] == [5, 4, 8]
    assert crash_checks.fixed_spec(spec)["cpu_args"] == [] and \
        crash_checks.fixed_spec(spec)["program"] == "fixed"


def test_device_plan_for_a_tensor_made_in_forward_runs_the_model_call_as_it_is():
    spec = _device_spec((CASES / "rnn106_forward_h0_not_checkable_on_cpu.py").read_text())
    assert (spec["run"]["build"], spec["cpu_args"]) == ("Tagger()", [])
    assert spec["run"]["inputs"][0]["shape"] == [4, 9, 8]


def test_device_plan_for_numpy_says_why_nothing_is_run():
    spec = _device_spec("""import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
x = torch.randn(4, 8).to(device)
z = x.numpy()
""")
    assert spec["run"] is None
    assert spec["why"] == "`.numpy()` on a device tensor is in code verify does not run"


STATE_USED_IN_FORWARD = '''
import torch
import torch.nn as nn


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 16)

    def forward(self, x, h):
        out, h = self.gru(x, h.contiguous())
        return out, h


model = LM()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
hidden = torch.zeros(1, 4, 16)
for step in range(10):
    out, hidden = model(torch.randn(5, 4, 8), hidden)
    optimizer.zero_grad()
    out.sum().backward()
    optimizer.step()
'''


def test_rnn107_first_state_is_made_with_the_shape_the_file_gives_it(tmp_path):
    # forward calls a method on the state: None would not do, zeros of (1, 4, 16) do
    path = tmp_path / "lm.py"
    path.write_text(STATE_USED_IN_FORWARD)
    report = verify(str(path))
    assert _verdicts(report) == [("RNN107", "reproduced")] and report.error is None
    from rnnshape.api import analyze
    from rnnshape.harness.bindings import Bindings
    from rnnshape.harness.plan import collect_dims
    for source, shapes in ((STATE_USED_IN_FORWARD, [1, 4, 16]),
                           ((CASES / "rnn107_state_fed_back.py").read_text(),
                            {"tuple": [[1, 4, 16], [1, 4, 16]]}),
                           ((CASES / "rnn107_gru_no_fix.py").read_text(), None)):
        analysis = analyze(source, "case.py")
        [finding] = analysis.findings
        spec, why = crash_checks.plan_feedback(finding, analysis,
                                               Bindings(collect_dims(analysis, analysis.scope)))
        assert (spec["state_arg"], spec["state_out"], spec["state_shapes"]) == (1, 1, shapes), why
