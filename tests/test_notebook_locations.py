"""Notebook findings where the user sees them: in the reports, on the line of the .ipynb JSON
that holds the cell's row (code scanning, annotations and merge requests show lines of the
file), and in fix messages, as cells and rows rather than rows of the checked program."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_env import cli_env
from rnnshape.cells import CellRows
from rnnshape.fixes import apply_edits
from rnnshape.notebook import load_notebook

NOTEBOOK = Path(__file__).resolve().parent / "notebooks" / "tagger.ipynb"
TEXT = NOTEBOOK.read_text(encoding="utf-8")
LINES = TEXT.splitlines()


def rnnshape(*args, cwd):
    return subprocess.run([sys.executable, "-m", "rnnshape", *args], cwd=cwd, env=cli_env(),
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


@pytest.fixture
def nb_dir(tmp_path):
    shutil.copy(NOTEBOOK, tmp_path / "tagger.ipynb")
    return tmp_path


def json_line(needle: str) -> int:
    [row] = [i for i, line in enumerate(LINES, start=1) if needle in line]
    return row


def test_sarif_regions_are_lines_and_columns_of_the_json(nb_dir):
    result = rnnshape("check", "--no-cache", "--output-format", "sarif", "tagger.ipynb", cwd=nb_dir)
    assert result.returncode == 1, result.stderr
    results = json.loads(result.stdout)["runs"][0]["results"]
    found = {r["ruleId"]: r for r in results}
    assert sorted(found) == ["RNN001", "RNN101", "RNN103"]
    region = {code: r["locations"][0]["physicalLocation"]["region"] for code, r in found.items()}
    assert region["RNN103"] == {"startLine": 24, "startColumn": 6, "endLine": 24, "endColumn": 23}
    assert region["RNN001"] == {"startLine": 37, "startColumn": 26, "endLine": 37, "endColumn": 42}
    assert region["RNN101"] == {"startLine": 58, "startColumn": 17, "endLine": 58, "endColumn": 44}
    # Each region is exactly the code the finding is about, read from the file itself.
    assert LINES[23][5:22] == "np.random.seed(0)"
    assert LINES[36][25:41] == "permute(0, 1, 2)"
    assert LINES[57][16:43] == "lstm(torch.zeros(12, 4, 8))"
    rnn001 = found["RNN001"]
    assert rnn001["properties"] == {"cell": 3, "row": 4, "column": 21}
    assert rnn001["message"]["text"].startswith("cell 3, line 4, column 21: `permute` gives ")
    steps = [s["location"] for s in rnn001["codeFlows"][0]["threadFlows"][0]["locations"]]
    assert [s["physicalLocation"]["region"]["startLine"] for s in steps] == [35, 35, 37, 37]
    assert [s["properties"] for s in steps] == [{"cell": 3, "row": r} for r in (2, 2, 4, 4)]
    assert steps[0]["message"]["text"] == "`torch.zeros(4, 12, 8)`: (4, 12, 8)"


def test_sarif_fix_of_a_notebook_is_what_fix_writes(nb_dir):
    sarif = rnnshape("check", "--no-cache", "--output-format", "sarif", "--select", "RNN001",
                     "tagger.ipynb", cwd=nb_dir)
    [result] = json.loads(sarif.stdout)["runs"][0]["results"]
    [fix] = result["fixes"]
    [change] = fix["artifactChanges"]
    assert change["artifactLocation"]["uri"] == "tagger.ipynb"
    assert change["replacements"] == [{
        "deletedRegion": {"startLine": 37, "startColumn": 1, "endLine": 38, "endColumn": 1},
        "insertedContent": {"text": '    "out, _ = lstm(batch.permute(1, 0, 2))"\n'}}]
    assert rnnshape("fix", "--select", "RNN001", "tagger.ipynb", cwd=nb_dir).returncode == 0
    written = (nb_dir / "tagger.ipynb").read_text(encoding="utf-8")
    edits = [type("E", (), dict(row=r["deletedRegion"]["startLine"],
                                column=r["deletedRegion"]["startColumn"],
                                end_row=r["deletedRegion"]["endLine"],
                                end_column=r["deletedRegion"]["endColumn"],
                                content=r["insertedContent"]["text"]))
             for r in change["replacements"]]
    assert apply_edits(TEXT, edits) == written
    # A fix that adds rows: the whole-line edit of the JSON, again exactly what fix writes.
    sarif = rnnshape("check", "--no-cache", "--output-format", "sarif", "--select", "RNN101",
                     "tagger.ipynb", cwd=nb_dir)
    [result] = json.loads(sarif.stdout)["runs"][0]["results"]
    [replacement] = result["fixes"][0]["artifactChanges"][0]["replacements"]
    assert replacement["deletedRegion"] == {"startLine": 56, "startColumn": 1, "endLine": 60,
                                            "endColumn": 1}
    assert replacement["insertedContent"]["text"].splitlines()[0] == \
        '    "with torch.no_grad():\\n",'
    before = (nb_dir / "tagger.ipynb").read_text(encoding="utf-8")
    assert rnnshape("fix", "--select", "RNN101", "tagger.ipynb", cwd=nb_dir).returncode == 0
    lines = before.splitlines(keepends=True)
    assert "".join(lines[:55]) + replacement["insertedContent"]["text"] + "".join(lines[59:]) == \
        (nb_dir / "tagger.ipynb").read_text(encoding="utf-8")


def test_github_annotations_and_other_formats_use_the_json_lines(nb_dir):
    out = rnnshape("check", "--no-cache", "--output-format", "github", "tagger.ipynb",
                   cwd=nb_dir).stdout.splitlines()
    assert out[1].startswith("::error file=tagger.ipynb,line=37,col=26,endLine=37,endColumn=42,"
                             "title=RNN001 layout-mismatch::cell 3, line 4, column 21: `permute`")
    assert out[0].startswith("::warning file=tagger.ipynb,line=24,col=6,endLine=24,endColumn=23,")
    gitlab = json.loads(rnnshape("check", "--no-cache", "--output-format", "gitlab",
                                 "tagger.ipynb", cwd=nb_dir).stdout)
    assert [g["location"]["lines"]["begin"] for g in gitlab] == [24, 37, 58]
    assert gitlab[1]["description"].startswith("cell 3, line 4: ")
    junit = rnnshape("check", "--no-cache", "--output-format", "junit", "tagger.ipynb", cwd=nb_dir)
    import xml.etree.ElementTree as ET
    cases = ET.fromstring(junit.stdout.encode("utf-8"))[0]
    assert [(c.get("name"), c.get("line")) for c in cases] == [
        ("RNN103 unseeded-torch at cell 2:5:1", "24"),
        ("RNN001 layout-mismatch at cell 3:4:21", "37"),
        ("RNN101 eval-without-no-grad at cell 5:4:12", "58")]


def test_columns_count_the_escapes_of_the_json_string():
    nb = load_notebook(TEXT, "tagger.ipynb")
    cell = nb.cells[2]
    row = cell.source.splitlines()[2]
    assert row == 'label = "tab\\there — é"'
    raw = LINES[35]
    # each character of the row where the file writes it: ``\"`` and ``\\`` are two there
    for char, written in (('"', '\\"'), ("\\", "\\\\"), ("t", "t"), ("—", "—"), ("é", "é")):
        column = row.rindex(char) + 1
        assert nb.file_position(3, 3, column) == (36, raw.rindex(written) + 1), char
    # past the end of the row: the end of its text, before the escaped line break
    assert nb.file_position(3, 3, 99) == (36, raw.rindex("\\n") + 1)
    assert nb.file_position(1, 1, 1) is None  # a markdown cell is no code


def test_a_string_source_and_surrogate_escapes_are_followed():
    data = json.loads(TEXT)
    data["cells"][2]["source"] = 'x = "\U0001F600é"\ny = 1\n'
    text = json.dumps(data, indent=1)  # ensure_ascii: the emoji is two \\u escapes
    nb = load_notebook(text, "t.ipynb")
    [line_no] = [i for i, line in enumerate(text.splitlines(), start=1) if "y = 1" in line]
    raw = text.splitlines()[line_no - 1]
    assert nb.file_position(3, 2, 1) == (line_no, raw.index("y = 1") + 1)
    assert nb.file_position(3, 1, 7) == (line_no, raw.index("\\u00e9") + 1)


# -- fix messages name cells and rows ---------------------------------------------------------

def test_fix_messages_in_a_notebook_name_the_cell_and_its_rows(nb_dir):
    found = json.loads(rnnshape("check", "--no-cache", "--output-format", "json", "tagger.ipynb",
                                cwd=nb_dir).stdout)
    wrap = next(f for f in found if f["code"] == "RNN101")
    assert wrap["fix"]["message"] == "wrap cell 5 rows 2-5 in `with torch.no_grad():`"
    # a one-row span says so
    one = json.loads(TEXT)
    one["cells"][4]["source"] = ["lstm.eval()\n", "y, _ = lstm(torch.zeros(12, 4, 8))\n",
                                 "lstm.train()"]
    (nb_dir / "one.ipynb").write_text(json.dumps(one, indent=1) + "\n", encoding="utf-8")
    found = json.loads(rnnshape("check", "--no-cache", "--output-format", "json", "--select",
                                "RNN101", "one.ipynb", cwd=nb_dir).stdout)
    assert [f["fix"]["message"] for f in found] == ["wrap cell 5 row 2 in `with torch.no_grad():`"]


def test_fix_message_naming_rows_to_check_names_cells(tmp_path):
    cells = [
        {"cell_type": "code", "execution_count": 1, "id": "a", "metadata": {}, "outputs": [],
         "source": ["import numpy as np\n", "import torch\n", "import torch.nn as nn\n",
                    "np.random.seed(0)"]},
        {"cell_type": "markdown", "id": "m", "metadata": {}, "source": ["Model"]},
        {"cell_type": "code", "execution_count": 2, "id": "b", "metadata": {}, "outputs": [],
         "source": ["lstm = nn.LSTM(8, 16)\n", "x = torch.randn(4, 8, 20)  # (batch, feature, time)\n",
                    "x = x.permute(0, 2, 1)\n", "out, _ = lstm(x)"]},
        {"cell_type": "code", "execution_count": 3, "id": "c", "metadata": {}, "outputs": [],
         "source": ["print(1)\n", "last = out[:, -1]\n", "n = out.size(0)\n", "m = out.size(0)"]},
    ]
    nb = {"cells": cells, "metadata": {"language_info": {"name": "python"}}, "nbformat": 4,
          "nbformat_minor": 5}
    (tmp_path / "u.ipynb").write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")
    [seed, item] = json.loads(rnnshape("check", "--no-cache", "--output-format", "json",
                                       "u.ipynb", cwd=tmp_path).stdout)
    assert seed["code"] == "RNN103"
    assert item["code"] == "RNN001" and item["fix"]["applicability"] == "unsafe"
    assert item["fix"]["message"].endswith(
        "; `out[:, -1]` becomes `out[-1]` (cell 4 row 2) so it still reads one time step"
        "; the output's layout changes: check cell 4 row(s) 3, 4")
    # After the safe fix added a row to cell 1, what remains still names the same rows.
    fixed = rnnshape("fix", "--output-format", "json", "u.ipynb", cwd=tmp_path)
    assert fixed.stderr.startswith("Fixed 1 finding (RNN103: 1)"), fixed.stderr
    [left] = json.loads(fixed.stdout)
    assert left["code"] == "RNN001" and left["location"] == {"row": 3, "column": 7}
    assert left["fix"]["message"] == item["fix"]["message"]
    # The same code as a script names lines of the file, as before.
    script = "".join("".join(c["source"]) + "\n" for c in cells if c["cell_type"] == "code")
    (tmp_path / "u.py").write_text(script, encoding="utf-8")
    [_, item] = json.loads(rnnshape("check", "--no-cache", "--output-format", "json", "u.py",
                                    cwd=tmp_path).stdout)
    assert item["fix"]["message"].endswith(
        "; `out[:, -1]` becomes `out[-1]` (line 10) so it still reads one time step"
        "; the output's layout changes: check line(s) 11, 12")


def test_cell_rows_read_from_the_program():
    program = "a\nb\n# %% rnnshape-cell 4\nc\nd\n# %% rnnshape-cell 7\ne\n"
    cells = CellRows(program, first_cell=2)
    assert [cells.locate(r) for r in range(1, 8)] == [
        (2, 1), (2, 2), (4, 1), (4, 1), (4, 2), (7, 1), (7, 1)]
    nb = load_notebook(TEXT, "tagger.ipynb")
    from_program = CellRows(nb.program(), nb.code_cells[0].index)
    rows = len(nb.program().splitlines())
    assert [from_program.locate(r) for r in range(1, rows + 1)] == \
        [nb.locate(r) for r in range(1, rows + 1)]


def test_places_in_the_json_survive_the_cache(nb_dir):
    def run():
        result = rnnshape("check", "--output-format", "sarif", "tagger.ipynb", cwd=nb_dir)
        assert result.returncode == 1, result.stderr
        return result.stdout
    first = run()
    assert list((nb_dir / ".rnnshape_cache").rglob("*.json"))  # the second run reads it
    assert run() == first
    log = json.loads(first)["runs"][0]["results"]
    assert log[1]["locations"][0]["physicalLocation"]["region"]["startLine"] == 37
    assert "fixes" in log[1] and "codeFlows" in log[1]
