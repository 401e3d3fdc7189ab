"""``rnnshape server`` end to end: one server process for the module, driven over its pipes by
an LSP client (``lsp_client.py``) the way an editor drives it."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_env import cli_env
from lsp_client import LspClient, apply_edits

from rnnshape.api import analyze, check_source, fix_source

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "seed" / "onehot_lstm_bug.py"
BUGGY, FIXED = "inputs_one_hot.permute(0, 2, 1)", "inputs_one_hot.permute(1, 0, 2)"

MODEL = '''import torch.nn as nn


class Net(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.lstm = nn.LSTM(vocab, 32)

    def forward(self, x):
        out, _ = self.lstm(x)
        return out
'''
TRAIN = '''import torch

from model import Net

batch_size, seq_len, vocab = 8, 20, 50
net = Net(vocab)
x = torch.zeros(batch_size, seq_len, vocab)
y = net(x)
'''
RIGHT_TRAIN = TRAIN.replace("zeros(batch_size, seq_len", "zeros(seq_len, batch_size")
DROPOUT = '''import torch.nn as nn

rnn = nn.LSTM(10, 20, num_layers=1, dropout=0.5)
'''


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("workspace")
    shutil.copy(SEED, root / "seed.py")
    (root / "project").mkdir()
    (root / "project" / "model.py").write_text(MODEL)
    (root / "project" / "train.py").write_text(TRAIN)
    (root / "dropout.py").write_text(DROPOUT)
    return root


@pytest.fixture(scope="module")
def client(workspace):
    pytest.importorskip("pygls")
    client = LspClient(workspace)
    client.capabilities = client.initialize(workspace)["capabilities"]
    yield client
    client.close()
    assert client.proc.returncode == 0  # shutdown, then exit: a clean end


def rows(diagnostics: list[dict]) -> list[tuple]:
    return sorted((d["code"], d["range"]["start"]["line"], d["range"]["start"]["character"],
                   d["range"]["end"]["line"], d["range"]["end"]["character"])
                  for d in diagnostics)


def expected(text: str, path: str) -> list[tuple]:
    """What ``check`` finds, as LSP ranges (0-based)."""
    return sorted((d.code, d.row - 1, d.column - 1, d.end_row - 1, d.end_column - 1)
                  for d in check_source(text, path))


def test_the_server_announces_what_it_does(client):
    capabilities = client.capabilities
    assert capabilities["hoverProvider"] is True
    assert capabilities["codeActionProvider"]["codeActionKinds"] == [
        "quickfix", "source.fixAll.rnnshape"]
    assert capabilities["notebookDocumentSync"]["notebookSelector"] == [
        {"cells": [{"language": "python"}]}]
    assert capabilities["textDocumentSync"]["openClose"] is True
    assert capabilities["textDocumentSync"]["save"] is not None


def test_diagnostics_on_open_are_the_findings_of_check(client, workspace):
    uri = (workspace / "seed.py").as_uri()
    text = SEED.read_text()
    client.open(uri, text)
    found = client.diagnostics(uri, version=1)
    assert rows(found) == expected(text, str(workspace / "seed.py"))
    layout = [d for d in found if d["code"] == "RNN001"]
    assert [d["range"]["start"]["line"] for d in layout] == [91, 102, 120]
    first = layout[0]
    assert first["source"] == "rnnshape"
    assert first["severity"] == 1  # error
    assert first["codeDescription"]["href"].endswith("docs/rules.md#rnn001-layout-mismatch")
    assert first["message"].startswith("`permute` gives (1[batch], vocab_size[feature], "
                                       "len(sequence)[time])")
    trace = [(r["location"]["range"]["start"]["line"], r["message"])
             for r in first["relatedInformation"]]
    assert trace[3] == (90, "torch.Tensor(inputs_one_hot)  "
                            "(1[batch], len(sequence)[time], vocab_size[feature])")
    assert trace[4] == (91, f"{BUGGY}  (1[batch], vocab_size[feature], len(sequence)[time])")
    assert all(r["location"]["uri"] == uri for r in first["relatedInformation"])
    warnings = [d for d in found if d["code"] == "RNN103"]
    assert [d["severity"] for d in warnings] == [2]


def test_an_edit_is_analysed_and_a_newer_one_supersedes_it(client, workspace):
    uri = (workspace / "seed.py").as_uri()
    text = SEED.read_text()
    client.open(uri, text)
    client.diagnostics(uri, version=1)
    before = len(client.published(uri))
    fixed = text.replace(BUGGY, FIXED)
    client.change(uri, fixed, 2)
    assert rows(client.diagnostics(uri, version=2, after=before)) == \
        expected(fixed, str(workspace / "seed.py"))
    assert "RNN001" not in {d["code"] for d in client.diagnostics(uri, version=2, after=before)}
    # Two edits in a row: only the last one's findings are ever published.
    before = len(client.published(uri))
    client.change(uri, text.replace(BUGGY, "inputs_one_hot"), 3)
    client.change(uri, text, 4)
    last = client.diagnostics(uri, version=4, after=before)
    assert rows(last) == expected(text, str(workspace / "seed.py"))
    assert [p["version"] for p in client.published(uri)[before:]] == [4]


def test_a_code_action_applies_the_fix(client, workspace):
    uri = (workspace / "seed.py").as_uri()
    text = SEED.read_text()
    client.open(uri, text, version=10)
    found = client.diagnostics(uri, version=10)
    target = next(d for d in found if d["code"] == "RNN001")
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": target["range"],
        "context": {"diagnostics": [target]}})
    assert [(a["title"], a["kind"], a["isPreferred"]) for a in actions] == [
        (f"RNN001: replace `{BUGGY}` with `{FIXED}` to get (time, batch, vocab_size)",
         "quickfix", True)]
    assert actions[0]["diagnostics"][0]["code"] == "RNN001"
    new = apply_edits(text, actions[0]["edit"]["changes"][uri])
    old_lines, new_lines = text.splitlines(), new.splitlines()
    assert [i for i, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b] == [91]
    assert new_lines[91] == f"        inputs_one_hot = {FIXED}"
    before = len(client.published(uri))
    client.change(uri, new, 11)
    after = client.diagnostics(uri, version=11, after=before)
    assert [d["range"]["start"]["line"] for d in after if d["code"] == "RNN001"] == [102, 120]


def test_an_unsafe_fix_says_so_and_is_not_preferred(client, workspace):
    uri = (workspace / "dropout.py").as_uri()
    client.open(uri, DROPOUT)
    found = client.diagnostics(uri, version=1)
    assert [d["code"] for d in found] == ["RNN104"]
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": found[0]["range"],
        "context": {"diagnostics": found}})
    assert len(actions) == 1
    assert actions[0]["title"].startswith("RNN104: ")
    assert actions[0]["title"].endswith(" (unsafe)")
    assert actions[0]["isPreferred"] is False
    assert apply_edits(DROPOUT, actions[0]["edit"]["changes"][uri]) == \
        "import torch.nn as nn\n\nrnn = nn.LSTM(10, 20, num_layers=1)\n"


def hover_text(client, uri: str, line: int, character: int):
    result = client.request("textDocument/hover", {
        "textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
    return result and result["contents"]["value"]


def test_hover_shows_the_shape_with_roles_and_where_they_came_from(client, workspace):
    uri = (workspace / "seed.py").as_uri()
    text = SEED.read_text()
    client.open(uri, text, version=20)
    client.diagnostics(uri, version=20)
    # ``inputs_one_hot`` assigned from the permute on line 92
    shown = hover_text(client, uri, 91, 10)
    assert shown.splitlines() == [
        "```text",
        "inputs_one_hot: (1[batch], vocab_size[feature], len(sequence)[time])",
        "  dim 0: 1 is batch (a batch of one added in front)",
        "  dim 1: vocab_size is feature",
        "  dim 2: len(sequence) is time (the length of sequence)",
        "from:",
        "  53: np.zeros(vocab_size)  (vocab_size[feature],)",
        "  59: np.array([one_hot_encode(word_to_idx[word], vocab_size) f...  "
        "(len(sequence)[time], vocab_size[feature])",
        "  60: encoding.reshape(1, len(sequence), vocab_size)  "
        "(1[batch], len(sequence)[time], vocab_size[feature])",
        "  91: torch.Tensor(inputs_one_hot)  (1[batch], len(sequence)[time], vocab_size[feature])",
        f"  92: {BUGGY}  (1[batch], vocab_size[feature], len(sequence)[time])",
        "```"]
    # the LSTM's input inside forward(), called from the loops
    assert hover_text(client, uri, 70, 31).splitlines()[1] == \
        "x: (1[batch], vocab_size[feature], len(sequence)[time])"
    # no tensor under the cursor: no hover
    assert hover_text(client, uri, 15, 0) is None


def test_a_file_is_analysed_with_the_project_it_belongs_to(client, workspace):
    model, train = workspace / "project" / "model.py", workspace / "project" / "train.py"
    # model.py alone is clean: train.py, which calls it, gives the input its layout.
    assert check_source(MODEL, str(model)) == []
    client.open(model.as_uri(), MODEL)
    found = client.diagnostics(model.as_uri(), version=1)
    assert rows(found) == [("RNN001", 9, 17, 9, 29)]
    related = found[0]["relatedInformation"][0]
    assert related["location"]["uri"] == train.as_uri()
    assert related["location"]["range"]["start"]["line"] == 6
    # forward()'s input as train.py calls it
    assert hover_text(client, model.as_uri(), 9, 27).splitlines()[1:] == [
        "x: (8[batch], 20[time], 50[feature])",
        "  dim 0: 8 is batch (named batch_size)",
        "  dim 1: 20 is time (named seq_len)",
        "  dim 2: 50 is feature (named vocab)",
        "from:",
        "  train.py:7: torch.zeros(batch_size, seq_len, vocab)  (8[batch], 20[time], 50[feature])",
        "```"]
    # train.py open with a correct, unsaved layout: model.py is analysed with that text.
    client.open(train.as_uri(), RIGHT_TRAIN)
    assert client.diagnostics(train.as_uri(), version=1) == []
    before = len(client.published(model.as_uri()))
    client.change(model.as_uri(), MODEL + "\n", 2)
    assert client.diagnostics(model.as_uri(), version=2, after=before) == []
    # Closed unsaved, train.py is what the disk says again: model.py is analysed again.
    before = len(client.published(model.as_uri()))
    client.notify("textDocument/didClose", {"textDocument": {"uri": train.as_uri()}})
    assert rows(client.diagnostics(model.as_uri(), after=before)) == [("RNN001", 9, 17, 9, 29)]
    # Saved with the right layout: every open file is analysed again, against the disk.
    train.write_text(RIGHT_TRAIN)
    client.open(train.as_uri(), RIGHT_TRAIN, version=5)
    before = len(client.published(model.as_uri()))
    client.notify("textDocument/didSave", {"textDocument": {"uri": train.as_uri()}})
    assert client.diagnostics(model.as_uri(), after=before) == []


CELL_MODEL = '''import torch
import torch.nn as nn

lstm = nn.LSTM(input_size=50, hidden_size=32, batch_first=True)
'''
CELL_CALL = '''batch_size, seq_len = 8, 20
x = torch.zeros(seq_len, batch_size, 50)
out, _ = lstm(x)
'''


def test_a_notebook_is_one_program_and_each_cell_gets_its_findings(client, workspace):
    notebook = (workspace / "nb.ipynb").as_uri()
    cells = [f"vscode-notebook-cell:{(workspace / 'nb.ipynb').as_posix()}#cell{i}"
             for i in range(3)]
    client.notify("notebookDocument/didOpen", {
        "notebookDocument": {"uri": notebook, "notebookType": "jupyter-notebook", "version": 1,
                             "cells": [{"kind": 2, "document": cells[0]},
                                       {"kind": 1, "document": cells[1]},
                                       {"kind": 2, "document": cells[2]}]},
        "cellTextDocuments": [
            {"uri": cells[0], "languageId": "python", "version": 1, "text": CELL_MODEL},
            {"uri": cells[1], "languageId": "markdown", "version": 1, "text": "# The model"},
            {"uri": cells[2], "languageId": "python", "version": 1, "text": CELL_CALL}]})
    found = client.diagnostics(cells[2])
    assert rows(found) == [("RNN001", 2, 9, 2, 16)]
    assert client.diagnostics(cells[0]) == []
    assert [(r["location"]["uri"], r["location"]["range"]["start"]["line"])
            for r in found[0]["relatedInformation"]] == [(cells[2], 1), (cells[2], 2)]
    # the markdown cell counts: the code cell shown second is the notebook's third
    assert hover_text(client, cells[2], 1, 0).splitlines()[1:] == [
        "x: (20[time], 8[batch], 50)",
        "  dim 0: 20 is time (named seq_len)",
        "  dim 1: 8 is batch (named batch_size)",
        "  dim 2: 50 (meaning unknown)",
        "from:",
        "  cell 3:2: torch.zeros(seq_len, batch_size, 50)  (20[time], 8[batch], 50)",
        "```"]
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": cells[2]}, "range": found[0]["range"],
        "context": {"diagnostics": found}})
    assert [a["isPreferred"] for a in actions] == [True]
    edits = actions[0]["edit"]["changes"]
    assert list(edits) == [cells[2]]
    fixed = apply_edits(CELL_CALL, edits[cells[2]])
    assert fixed == CELL_CALL.replace("lstm(x)", "lstm(x.transpose(0, 1))")
    # the cell changed in the editor: the notebook is analysed again
    before = len(client.published(cells[2]))
    client.notify("notebookDocument/didChange", {
        "notebookDocument": {"uri": notebook, "version": 2},
        "change": {"cells": {"textContent": [{
            "document": {"uri": cells[2], "version": 2},
            "changes": [{"text": fixed}]}]}}})
    assert client.diagnostics(cells[2], after=before) == []


def test_a_buffer_that_does_not_parse_has_no_findings_until_it_does(client, workspace):
    uri = (workspace / "dropout.py").as_uri()
    client.open(uri, DROPOUT, version=30)
    assert [d["code"] for d in client.diagnostics(uri, version=30)] == ["RNN104"]
    client.change(uri, DROPOUT + "def broken(:\n", 31)
    assert client.diagnostics(uri, version=31) == []
    client.change(uri, DROPOUT, 32)
    assert [d["code"] for d in client.diagnostics(uri, version=32)] == ["RNN104"]


def test_without_pygls_the_command_says_what_to_install():
    probe = ("import sys\nsys.modules['pygls'] = None\nfrom rnnshape.cli import main\n"
             "sys.exit(main(['server']))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env=cli_env(), timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert result.stderr == ("rnnshape: error: `rnnshape server` needs pygls: "
                             "pip install 'rnnshape[server]'\n")


def test_values_are_recorded_only_when_asked():
    text = SEED.read_text()
    assert analyze(text, str(SEED)).facts.values == {}
    recorded = analyze(text, str(SEED), values=True)
    shapes = {str(v.shape) for _, values in recorded.facts.values.values() for v in values}
    assert "(1[batch], vocab_size[feature], len(sequence)[time])" in shapes


def test_the_source_action_applies_every_safe_fix_like_rnnshape_fix(client, workspace):
    uri = (workspace / "seed.py").as_uri()
    text = SEED.read_text()
    client.open(uri, text, version=40)
    client.diagnostics(uri, version=40)
    everywhere = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": everywhere,
        "context": {"diagnostics": [], "only": ["source.fixAll"]}})
    assert [(a["title"], a["kind"]) for a in actions] == [
        ("rnnshape: apply every safe fix", "source.fixAll.rnnshape")]
    new = apply_edits(text, actions[0]["edit"]["changes"][uri])
    assert new == fix_source(text, str(workspace / "seed.py")).text
    assert BUGGY not in new
    # without `only`, the cursor's quick fixes alone: the fix-all is not computed
    plain = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": everywhere, "context": {"diagnostics": []}})
    assert plain == []


def test_columns_are_counted_in_utf16_units_as_lsp_says(client, workspace):
    uri = (workspace / "wide.py").as_uri()  # never saved: the buffer is all there is
    text = ('import torch.nn as nn\n\n'
            'face = "\U0001F642"; rnn = nn.LSTM(10, 20, num_layers=1, dropout=0.5)\n')
    client.open(uri, text)
    found = client.diagnostics(uri, version=1)
    [(code, line, start, _, end)] = rows(found)
    column = text.splitlines()[2].index("nn.LSTM")  # in code points
    assert (code, line, start, end) == ("RNN104", 2, column + 1, len(text.splitlines()[2]) + 1)
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": found[0]["range"],
        "context": {"diagnostics": found}})
    [edit] = actions[0]["edit"]["changes"][uri]
    assert (edit["range"]["start"], edit["newText"]) == (
        {"line": 2, "character": column + 1}, "nn.LSTM(10, 20, num_layers=1)")


def test_a_deleted_cell_loses_its_findings(client, workspace):
    notebook = (workspace / "deleted.ipynb").as_uri()
    cells = [f"vscode-notebook-cell:{(workspace / 'deleted.ipynb').as_posix()}#cell{i}"
             for i in range(2)]
    client.notify("notebookDocument/didOpen", {
        "notebookDocument": {"uri": notebook, "notebookType": "jupyter-notebook", "version": 1,
                             "cells": [{"kind": 2, "document": cells[0]},
                                       {"kind": 2, "document": cells[1]}]},
        "cellTextDocuments": [
            {"uri": cells[0], "languageId": "python", "version": 1, "text": CELL_MODEL},
            {"uri": cells[1], "languageId": "python", "version": 1, "text": CELL_CALL}]})
    assert [d["code"] for d in client.diagnostics(cells[1])] == ["RNN001"]
    before = len(client.published(cells[1]))
    client.notify("notebookDocument/didChange", {
        "notebookDocument": {"uri": notebook, "version": 2},
        "change": {"cells": {"structure": {"array": {"start": 1, "deleteCount": 1},
                                           "didClose": [{"uri": cells[1]}]}}}})
    assert client.diagnostics(cells[1], after=before) == []
