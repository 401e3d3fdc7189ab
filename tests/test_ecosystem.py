"""The ecosystem around the checker, end to end through the real command line.

Notebooks, ``[tool.rnnshape]`` configuration, ``# noqa``, the SARIF and GitHub formats,
``.gitignore`` handling in a real git repository and the pre-commit hooks: each test builds a
small project in ``tmp_path``, runs ``python -m rnnshape`` there in a fresh interpreter (as a
user, CI job or pre-commit would) and asserts exact codes, rows, cells, exit codes and bytes.

The Python source under test is the seed bug (examples/seed/onehot_lstm_bug.py).  Its rows are
found by searching its text, not hard-coded, so an edit to the example moves the expectations
with it; the *set* of findings is still asserted exactly.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_env import cli_env

ROOT = Path(__file__).resolve().parent.parent
SEED = (ROOT / "examples/seed/onehot_lstm_bug.py").read_text(encoding="utf-8")
SEED_LINES = SEED.splitlines()


def _rows(needle: str) -> list[int]:
    return [i for i, line in enumerate(SEED_LINES, start=1) if needle in line]


PERMUTE_ROWS = _rows(".permute(0, 2, 1)")
SEED_ROW = _rows("np.random.seed(42)")[0]
# RNN101 is reported at the first model call after ``net.eval()``.
EVAL_CALL_ROW = next(r for r in _rows("outputs = net.forward(inputs_one_hot)")
                     if r > _rows("net.eval()")[0])
PERMUTE_COLUMN = {r: SEED_LINES[r - 1].index(".permute") + 2 for r in PERMUTE_ROWS}

# Every finding of the seed file, as (row, code).  The example has three permutes (validation
# loop, training loop, prediction), an unseeded torch and a model call after eval().
SEED_FINDINGS = sorted([(SEED_ROW, "RNN103"), (EVAL_CALL_ROW, "RNN101")]
                       + [(r, "RNN001") for r in PERMUTE_ROWS])
# 1-based columns: RNN001 at the `permute` attribute, the others at the start of the call.
SEED_COLUMN = {**{(r, "RNN001"): c for r, c in PERMUTE_COLUMN.items()},
               (SEED_ROW, "RNN103"): SEED_LINES[SEED_ROW - 1].index("np.random.seed") + 1,
               (EVAL_CALL_ROW, "RNN101"): SEED_LINES[EVAL_CALL_ROW - 1].index("net.forward") + 1}


def test_the_seed_example_still_has_the_shape_these_tests_assume():
    # If the example changes this much, the expectations below would be meaningless.
    assert len(PERMUTE_ROWS) == 3
    assert SEED_ROW < PERMUTE_ROWS[0] < EVAL_CALL_ROW < PERMUTE_ROWS[1]


# --- running the command line ---------------------------------------------------------------

def rnnshape(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnnshape", *args], cwd=cwd, env=cli_env(),
                          capture_output=True, text=True, encoding="utf-8", timeout=60)


_CONCISE = re.compile(r"(?P<file>.+?):(?:cell (?P<cell>\d+):)?(?P<row>\d+):(?P<col>\d+): "
                      r"(?P<code>RNN\d{3}) ")


def findings(stdout: str) -> list[tuple]:
    """(file without a leading ./, cell or None, row, column, code) of each concise line."""
    out = []
    for line in stdout.splitlines():
        m = _CONCISE.match(line)
        if m:
            cell = int(m["cell"]) if m["cell"] else None
            out.append((m["file"].removeprefix("./"), cell, int(m["row"]), int(m["col"]),
                        m["code"]))
    return sorted(out, key=lambda f: (f[0], f[1] or 0, f[2], f[3], f[4]))


def row_codes(stdout: str, file: str) -> list[tuple[int, str]]:
    return sorted((row, code) for f, _, row, _, code in findings(stdout) if f == file)


def write_seed(path: Path, edits: dict[int, str] | None = None) -> Path:
    """The seed file at ``path``, with some rows replaced (1-based row -> new line)."""
    lines = list(SEED_LINES)
    for row, line in (edits or {}).items():
        lines[row - 1] = line
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- a notebook as Jupyter writes it ---------------------------------------------------------

PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
       "RU5ErkJggg==\n")
BUG_LINE = "    inputs_one_hot = inputs_one_hot.permute(0, 2, 1)"
FIXED_LINE = "    inputs_one_hot = inputs_one_hot.permute(1, 0, 2)"
TRAIN_CELL = [  # the 8th entry of ``cells`` (markdown counted); the bug is on its row 8
    "%%time",
    "losses = []",
    "net.train()",
    "for inputs, targets in training_set:",
    "    inputs_one_hot = one_hot_encode_sequence(inputs, vocab_size)",
    "    targets_idx = [word_to_idx[word] for word in targets]",
    "    inputs_one_hot = torch.Tensor(inputs_one_hot)",
    BUG_LINE,
    "    targets_idx = torch.LongTensor(targets_idx)",
    "    outputs = net.forward(inputs_one_hot)",
    "    loss = criterion(outputs, targets_idx)",
    "    optimizer.zero_grad()",
    "    loss.backward()",
    "    optimizer.step()",
    "    losses.append(loss.item())",
    "plt.plot(losses)",
]
BUG_CELL, BUG_ROW, BUG_COL = 8, TRAIN_CELL.index(BUG_LINE) + 1, BUG_LINE.index(".permute") + 2


def _source(lines: list[str]) -> list[str]:
    # Jupyter's layout: a list of lines, each but the last ending in "\n".
    return [line + "\n" for line in lines[:-1]] + lines[-1:]


def _md(cell_id: str, lines: list[str]) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": _source(lines)}


def _code(cell_id: str, count: int, lines: list[str], outputs=()) -> dict:
    return {"cell_type": "code", "execution_count": count, "id": cell_id,
            "metadata": {"tags": []}, "outputs": list(outputs), "source": _source(lines)}


IMPORTS_CELL = ["%matplotlib inline", "!pip install x", "import numpy as np", "import torch",
                "import torch.nn as nn", "import matplotlib.pyplot as plt"]


def notebook(train_cell: list[str] = TRAIN_CELL, imports_cell: list[str] = IMPORTS_CELL,
             data_cell: list[str] | None = None) -> dict:
    return {
        "cells": [
            _md("3f2a9c1e", ["# Next-token LSTM on one-hot words", "",
                             "The encoder returns `(1, seq, vocab)`: a batch of one in front."]),
            _code("8b1d0f4a", 1, imports_cell,
                  [{"name": "stdout", "output_type": "stream",
                    "text": ["Requirement already satisfied: x in ./venv (1.0)\n"]}]),
            _code("c5e7a210", 2, data_cell or [
                "word_to_idx = {'a': 0, 'b': 1, 'EOS': 2, 'UNK': 3}",
                "vocab_size = len(word_to_idx)",
                "training_set = [(['a', 'b'], ['b', 'EOS'])]"]),
            _md("d41d8cd9", ["## Encoding — one-hot rows, then a batch of one"]),
            _code("0e9f6b3c", 3, [
                "def one_hot_encode(idx, vocab_size):",
                "    one_hot = np.zeros(vocab_size)",
                "    one_hot[idx] = 1.0",
                "    return one_hot",
                "",
                "",
                "def one_hot_encode_sequence(sequence, vocab_size):",
                "    encoding = np.array([one_hot_encode(word_to_idx[word], vocab_size) "
                "for word in sequence])",
                "    encoding = encoding.reshape(1, len(sequence), vocab_size)",
                "    return encoding"]),
            _code("77aa12fe", 4, [
                "class Net(nn.Module):",
                "    def __init__(self):",
                "        super(Net, self).__init__()",
                "        self.lstm = nn.LSTM(input_size=vocab_size, hidden_size=50, "
                "num_layers=1, bidirectional=False)",
                "        self.l_out = nn.Linear(in_features=50, out_features=vocab_size, "
                "bias=False)",
                "",
                "    def forward(self, x):",
                "        x, (h, c) = self.lstm(x)",
                "        x = x.view(-1, self.lstm.hidden_size)",
                "        x = self.l_out(x)",
                "        return x",
                "",
                "",
                "net = Net()",
                "criterion = nn.CrossEntropyLoss()",
                "optimizer = torch.optim.Adam(net.parameters(), lr=3e-4)"]),
            _md("5c2b8e01", ["## Training"]),
            _code("a9e3c4d2", 5, train_cell, [
                {"name": "stdout", "output_type": "stream",
                 "text": ["CPU times: user 1.2 s, sys: 0 ns, total: 1.2 s\n"]},
                {"data": {"text/plain": ["[<matplotlib.lines.Line2D at 0x7f3a2c1d0e50>]"]},
                 "execution_count": 5, "metadata": {}, "output_type": "execute_result"},
                {"data": {"image/png": PNG, "text/plain": ["<Figure size 640x480 with 1 Axes>"]},
                 "metadata": {"needs_background": "light"}, "output_type": "display_data"}]),
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                           "name": "python3"},
            "language_info": {"codemirror_mode": {"name": "ipython", "version": 3},
                              "file_extension": ".py", "mimetype": "text/x-python",
                              "name": "python", "version": "3.11.4"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def jupyter_bytes(data: dict) -> bytes:
    # What Jupyter (nbformat.write) produces: 1-space indent, sorted keys, raw UTF-8, final \n.
    return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_notebook(path: Path, train_cell: list[str] = TRAIN_CELL, **cells) -> bytes:
    data = jupyter_bytes(notebook(train_cell, **cells))
    path.write_bytes(data)
    return data


def with_line(lines: list[str], old: str, new: str) -> list[str]:
    assert old in lines
    return [new if line == old else line for line in lines]


# --- 1. notebooks -----------------------------------------------------------------------------

def test_notebook_finding_names_the_cell_and_the_row_inside_it(tmp_path):
    write_notebook(tmp_path / "notebook.ipynb")
    result = rnnshape(tmp_path, "check", "--output-format", "concise", "notebook.ipynb")
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    # Cell 8 counts the three markdown cells; row 8 counts the masked `%%time` line.
    assert findings(result.stdout) == [("notebook.ipynb", BUG_CELL, BUG_ROW, BUG_COL, "RNN001")]
    assert result.stdout.startswith(f"notebook.ipynb:cell 8:8:{BUG_COL}: RNN001 [*] `permute` ")

    # The full report quotes the cell's own line under the cell's row number.
    full = rnnshape(tmp_path, "check", "notebook.ipynb")
    assert full.returncode == 1
    assert re.search(rf"\n +8 \| {re.escape(BUG_LINE)}\n", full.stdout), full.stdout
    # Trace steps in other cells carry their cell: the model was built in an earlier one.
    assert re.search(r"\n +cell \d+:\d+  ", full.stdout), full.stdout


def test_notebook_json_is_in_cell_coordinates(tmp_path):
    write_notebook(tmp_path / "notebook.ipynb")
    result = rnnshape(tmp_path, "check", "--output-format", "json", "notebook.ipynb")
    assert result.returncode == 1, result.stderr
    [item] = json.loads(result.stdout)
    assert (item["code"], item["filename"], item["cell"]) == ("RNN001", "notebook.ipynb", 8)
    assert item["location"] == {"row": BUG_ROW, "column": BUG_COL}
    assert item["end_location"] == {"row": BUG_ROW, "column": len(BUG_LINE) + 1}
    assert item["fix"]["applicability"] == "safe"
    assert {edit["cell"] for edit in item["fix"]["edits"]} == {8}
    assert all(step["cell"] is not None for step in item["trace"])


def test_fix_rewrites_only_the_changed_cell_and_keeps_jupyters_layout(tmp_path):
    nb = tmp_path / "notebook.ipynb"
    before = write_notebook(nb)
    result = rnnshape(tmp_path, "fix", "notebook.ipynb")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "Fixed 1 finding (RNN001: 1) in 1 file."
    after = nb.read_bytes()
    assert after != before

    old, new = json.loads(before), json.loads(after)
    assert {k: v for k, v in new.items() if k != "cells"} == \
           {k: v for k, v in old.items() if k != "cells"}
    assert len(new["cells"]) == len(old["cells"])
    for k, (a, b) in enumerate(zip(old["cells"], new["cells"]), start=1):
        if k != BUG_CELL:
            assert a == b, f"cell {k} changed"  # outputs, counts, metadata, ids, magics
    changed_old, changed_new = old["cells"][BUG_CELL - 1], new["cells"][BUG_CELL - 1]
    assert {k: v for k, v in changed_new.items() if k != "source"} == \
           {k: v for k, v in changed_old.items() if k != "source"}
    assert changed_new["source"] == _source(with_line(TRAIN_CELL, BUG_LINE, FIXED_LINE))
    # Byte for byte what Jupyter would have written for the fixed notebook: the 1-space
    # indentation, key order, the non-ASCII dash left unescaped and the final newline are kept.
    assert after == jupyter_bytes(notebook(with_line(TRAIN_CELL, BUG_LINE, FIXED_LINE)))

    # Stable: a second run changes nothing, and the notebook now checks clean.
    again = rnnshape(tmp_path, "fix", "notebook.ipynb")
    assert again.returncode == 0
    assert again.stdout.strip() == "Fixed 0 findings in 0 files."
    assert nb.read_bytes() == after
    check = rnnshape(tmp_path, "check", "--select", "RNN001", "notebook.ipynb")
    assert (check.returncode, check.stdout.strip()) == (0, "All checks passed (1 file).")


def test_fixes_that_add_lines_to_two_cells_restore_their_magics(tmp_path):
    # RNN103 inserts `torch.manual_seed(42)` into the cell holding `%matplotlib inline` and
    # `!pip install x` (masked while checking): the magics must come back as they were, and the
    # cell's list of lines must grow in Jupyter's layout.
    nb = tmp_path / "notebook.ipynb"
    seeded = IMPORTS_CELL + ["np.random.seed(42)"]
    write_notebook(nb, imports_cell=seeded)
    check = rnnshape(tmp_path, "check", "--output-format", "concise", "notebook.ipynb")
    assert findings(check.stdout) == [("notebook.ipynb", 2, 7, 1, "RNN103"),
                                      ("notebook.ipynb", BUG_CELL, BUG_ROW, BUG_COL, "RNN001")]
    result = rnnshape(tmp_path, "fix", "notebook.ipynb")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "Fixed 2 findings (RNN001: 1, RNN103: 1) in 1 file."
    assert nb.read_bytes() == jupyter_bytes(notebook(
        with_line(TRAIN_CELL, BUG_LINE, FIXED_LINE),
        imports_cell=seeded + ["torch.manual_seed(42)"]))


def test_a_cell_with_a_syntax_error_is_skipped_with_a_warning_naming_it(tmp_path):
    # An exercise notebook is still checked: the cell that does not parse is left out, said
    # once on stderr with its cell and row, and the exit code is the other findings'.
    write_notebook(tmp_path / "notebook.ipynb", data_cell=[
        "def f():", "    x = 1", "      y = 2"])
    write_seed(tmp_path / "good.py")
    for command in ("check", "fix"):
        result = rnnshape(tmp_path, command, "notebook.ipynb", "good.py")
        assert result.returncode != 2, result.stderr
        [line] = [ln for ln in result.stderr.splitlines() if "warning" in ln]
        assert line == ("notebook.ipynb:cell 3: warning: skipped a cell that does not parse: "
                        "unexpected indent (line 3)")


def test_invalid_notebooks_are_one_line_errors_and_the_rest_is_still_checked(tmp_path):
    (tmp_path / "bad.ipynb").write_text('{"cells": [', encoding="utf-8")
    (tmp_path / "nocells.ipynb").write_text('{"metadata": {}, "nbformat": 4}\n', encoding="utf-8")
    write_seed(tmp_path / "good.py")
    result = rnnshape(tmp_path, "check", "--output-format", "concise",
                      "bad.ipynb", "nocells.ipynb", "good.py")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "bad.ipynb:1: error: invalid notebook: not valid JSON: Expecting value",
        'nocells.ipynb: error: invalid notebook: no "cells" list',
    ]
    assert row_codes(result.stdout, "good.py") == SEED_FINDINGS
    assert result.stdout.splitlines()[-1] == "2 files could not be checked."

    # fix: the broken notebooks are left alone, the good file is still fixed, exit 2.
    bad_before = (tmp_path / "bad.ipynb").read_bytes()
    fixed = rnnshape(tmp_path, "fix", "bad.ipynb", "nocells.ipynb", "good.py")
    assert fixed.returncode == 2
    assert len(fixed.stderr.splitlines()) == 2
    assert (tmp_path / "bad.ipynb").read_bytes() == bad_before
    assert ".permute(1, 0, 2)" in (tmp_path / "good.py").read_text(encoding="utf-8")


# --- 2. configuration -------------------------------------------------------------------------

def project(tmp_path: Path, config: str, name: str = "pyproject.toml") -> Path:
    """Seed copies at bug.py, legacy/old.py and generated/gen.py, and a configuration."""
    for rel in ("bug.py", "legacy/old.py", "generated/gen.py"):
        write_seed(tmp_path / rel)
    (tmp_path / name).write_text(config, encoding="utf-8")
    return tmp_path


def only(*codes: str) -> list[tuple[int, str]]:
    return [f for f in SEED_FINDINGS if f[1] in codes]


@pytest.mark.parametrize("table, codes", [
    ('select = ["RNN0"]', ["RNN001"]),                           # a prefix
    ('ignore = ["RNN001"]', ["RNN101", "RNN103"]),
    ('select = ["RNN001"]\nextend-select = ["RNN103"]', ["RNN001", "RNN103"]),
])
def test_pyproject_rule_selection(tmp_path, table, codes):
    project(tmp_path, f"[tool.rnnshape]\n{table}\n")
    result = rnnshape(tmp_path, "check", "--output-format", "concise", "bug.py")
    assert result.returncode == 1, result.stderr
    assert row_codes(result.stdout, "bug.py") == only(*codes)


def test_per_file_ignores_exclude_and_configured_output_format(tmp_path):
    project(tmp_path, "\n".join([
        "[tool.project]",  # another tool's table in the same file must not disturb ours
        "name = 'x'",
        "[tool.rnnshape]",
        'output-format = "concise"',
        'extend-exclude = ["generated/"]',
        '[tool.rnnshape.per-file-ignores]',
        '"legacy/*.py" = ["RNN001"]',
    ]) + "\n")
    result = rnnshape(tmp_path, "check", ".")
    assert result.returncode == 1, result.stderr
    # concise from the file: no source frames, no traces
    assert " | " not in result.stdout and "shape trace" not in result.stdout
    assert {f[0] for f in findings(result.stdout)} == {"bug.py", "legacy/old.py"}
    assert row_codes(result.stdout, "bug.py") == SEED_FINDINGS
    assert row_codes(result.stdout, "legacy/old.py") == only("RNN101", "RNN103")

    # An excluded file named on the command line is checked, as in ruff ...
    named = rnnshape(tmp_path, "check", "generated/gen.py")
    assert row_codes(named.stdout, "generated/gen.py") == SEED_FINDINGS
    # ... unless --force-exclude (what pre-commit passes).
    forced = rnnshape(tmp_path, "check", "--force-exclude", "generated/gen.py", "bug.py")
    assert {f[0] for f in findings(forced.stdout)} == {"bug.py"}


def test_patterns_written_from_the_project_root_with_a_dot(tmp_path):
    # ruff reads "./generated/" relative to the project; as a raw gitignore pattern it would
    # silently match nothing and the excluded code would be checked.
    project(tmp_path, "\n".join([
        "[tool.rnnshape]", 'output-format = "concise"', 'extend-exclude = ["./generated/"]',
        "[tool.rnnshape.per-file-ignores]", '"./legacy/*.py" = ["RNN001"]']) + "\n")
    result = rnnshape(tmp_path, "check", ".")
    assert {f[0] for f in findings(result.stdout)} == {"bug.py", "legacy/old.py"}
    assert row_codes(result.stdout, "legacy/old.py") == only("RNN101", "RNN103")


def test_exclude_skips_its_patterns(tmp_path):
    project(tmp_path, '[tool.rnnshape]\nexclude = ["legacy/", "gen*.py"]\n'
                      'output-format = "concise"\n')
    result = rnnshape(tmp_path, "check", ".")
    assert result.returncode == 1, result.stderr
    assert {f[0] for f in findings(result.stdout)} == {"bug.py"}


def test_exclude_replaces_the_default_exclusions(tmp_path):
    # config.py: "`exclude` replaces DEFAULT_EXCLUDE"; build/ is one of the defaults.
    project(tmp_path, '[tool.rnnshape]\nexclude = ["legacy/"]\noutput-format = "concise"\n')
    write_seed(tmp_path / "build" / "lib.py")
    result = rnnshape(tmp_path, "check", ".")
    assert "build/lib.py" in {f[0] for f in findings(result.stdout)}


def test_command_line_overrides_the_file(tmp_path):
    project(tmp_path, '[tool.rnnshape]\nselect = ["RNN1"]\noutput-format = "concise"\n')
    base = rnnshape(tmp_path, "check", "bug.py")
    assert row_codes(base.stdout, "bug.py") == only("RNN101", "RNN103")
    # --select replaces the file's selection (the file had a select of its own).
    selected = rnnshape(tmp_path, "check", "--select", "RNN001", "bug.py")
    assert row_codes(selected.stdout, "bug.py") == only("RNN001")
    ignored = rnnshape(tmp_path, "check", "--ignore", "RNN103", "bug.py")
    assert row_codes(ignored.stdout, "bug.py") == only("RNN101")
    # --output-format beats output-format = "concise".
    as_json = rnnshape(tmp_path, "check", "--output-format", "json", "bug.py")
    assert sorted((d["location"]["row"], d["code"]) for d in json.loads(as_json.stdout)) == \
        only("RNN101", "RNN103")


def test_rnnshape_toml_uses_top_level_keys_and_wins_over_pyproject(tmp_path):
    project(tmp_path, 'select = ["RNN103"]\noutput-format = "concise"\n', name="rnnshape.toml")
    (tmp_path / "pyproject.toml").write_text('[tool.rnnshape]\nselect = ["RNN001"]\n',
                                             encoding="utf-8")
    result = rnnshape(tmp_path, "check", "bug.py")
    assert result.returncode == 1, result.stderr
    assert row_codes(result.stdout, "bug.py") == only("RNN103")


@pytest.mark.parametrize("name, body, message", [
    ("pyproject.toml", '[tool.rnnshape]\nselekt = ["RNN001"]\n',
     '[tool.rnnshape]: unknown key "selekt" (did you mean "select"?)'),
    ("pyproject.toml", '[tool.rnnshape]\nignore = ["RNN999"]\n',
     '[tool.rnnshape] ignore: unknown rule code or prefix "RNN999"'),
    ("rnnshape.toml", 'output_format = "json"\n',
     'unknown key "output_format" (did you mean "output-format"?)'),
    ("rnnshape.toml", '[per-file-ignores]\n"x.py" = ["E501"]\n',
     'per-file-ignores."x.py": unknown rule code or prefix "E501"'),
])
def test_bad_configuration_is_one_line_naming_the_file(tmp_path, name, body, message):
    project(tmp_path, body, name=name)
    before = (tmp_path / "bug.py").read_bytes()
    for command in ("check", "fix"):
        result = rnnshape(tmp_path, command, "bug.py")
        assert result.returncode == 2
        assert result.stdout == ""
        assert result.stderr == f"rnnshape: error: {tmp_path / name}: {message}\n"
    assert (tmp_path / "bug.py").read_bytes() == before  # fix refused to run


def test_unknown_code_on_the_command_line(tmp_path):
    write_seed(tmp_path / "bug.py")
    result = rnnshape(tmp_path, "check", "--select", "RNN999", "bug.py")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "rnnshape: error: unknown rule code or prefix: RNN999\n"


# --- 3. suppression ---------------------------------------------------------------------------

def test_noqa_with_a_code_suppresses_only_that_code_on_that_line(tmp_path):
    first, second = PERMUTE_ROWS[0], PERMUTE_ROWS[1]
    write_seed(tmp_path / "a.py", {
        first: SEED_LINES[first - 1] + "  # noqa: RNN001",
        # another code's noqa on the RNN101 line leaves RNN101 alone
        EVAL_CALL_ROW: SEED_LINES[EVAL_CALL_ROW - 1] + "  # noqa: RNN001, E501",
        # a noqa only inside a string is not a comment
        second: SEED_LINES[second - 1] + '; tag = "# noqa"',
    })
    result = rnnshape(tmp_path, "check", "--output-format", "concise", "a.py")
    assert result.returncode == 1
    assert row_codes(result.stdout, "a.py") == [f for f in SEED_FINDINGS if f != (first, "RNN001")]


def test_bare_noqa_suppresses_every_code_on_its_line(tmp_path):
    # Put the validation loop's permute (RNN001) and its model call (RNN101) on one line, so
    # that one line carries two codes; b.py, without the comment, shows that it does.
    first = PERMUTE_ROWS[0]
    indent = " " * 8
    assert EVAL_CALL_ROW == first + 2 and SEED_LINES[first].startswith(indent + "targets_idx")
    joined = "; ".join(SEED_LINES[r - 1].strip() for r in (first, first + 1, EVAL_CALL_ROW))
    edits = {first: indent + joined, first + 1: indent + "pass", EVAL_CALL_ROW: indent + "pass"}
    write_seed(tmp_path / "b.py", edits)
    write_seed(tmp_path / "a.py", {**edits, first: indent + joined + "  # noqa",
                                   SEED_ROW: SEED_LINES[SEED_ROW - 1] + "  #NOQA"})
    result = rnnshape(tmp_path, "check", "--output-format", "concise", "a.py", "b.py")
    assert result.returncode == 1
    rest = [(r, "RNN001") for r in PERMUTE_ROWS[1:]]
    assert row_codes(result.stdout, "b.py") == sorted(
        [(SEED_ROW, "RNN103"), (first, "RNN001"), (first, "RNN101")] + rest)
    assert row_codes(result.stdout, "a.py") == rest


def test_noqa_on_a_notebook_cells_line(tmp_path):
    write_notebook(tmp_path / "suppressed.ipynb",
                   with_line(TRAIN_CELL, BUG_LINE, BUG_LINE + "  # noqa: RNN001"))
    write_notebook(tmp_path / "other_code.ipynb",
                   with_line(TRAIN_CELL, BUG_LINE, BUG_LINE + "  # noqa: RNN002"))
    result = rnnshape(tmp_path, "check", "--output-format", "concise",
                      "suppressed.ipynb", "other_code.ipynb")
    assert result.returncode == 1
    assert findings(result.stdout) == [("other_code.ipynb", BUG_CELL, BUG_ROW, BUG_COL, "RNN001")]


def test_fix_leaves_a_suppressed_finding_alone(tmp_path):
    # check and fix must agree: what check does not report, fix must not rewrite.
    first = PERMUTE_ROWS[0]
    suppressed = SEED_LINES[first - 1] + "  # noqa: RNN001"
    write_seed(tmp_path / "a.py", {first: suppressed})
    rnnshape(tmp_path, "fix", "a.py")
    # Other fixes may re-indent the line (RNN101 wraps its region in no_grad); its code stays.
    lines = [line.strip() for line in (tmp_path / "a.py").read_text(encoding="utf-8").splitlines()]
    assert suppressed.strip() in lines


# --- 4. output formats ------------------------------------------------------------------------

def test_sarif_output(tmp_path):
    write_seed(tmp_path / "src" / "bug.py")
    write_notebook(tmp_path / "notebook.ipynb")
    result = rnnshape(tmp_path, "check", "--output-format", "sarif", "src/bug.py",
                      "notebook.ipynb")
    assert result.returncode == 1, result.stderr
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    [run] = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "rnnshape"
    ids = [rule["id"] for rule in driver["rules"]]
    assert len(ids) == len(set(ids)) and {"RNN001", "RNN101", "RNN103"} <= set(ids)
    assert all(re.fullmatch(r"RNN\d{3}", i) for i in ids)

    got = []
    for item in run["results"]:
        assert ids[item["ruleIndex"]] == item["ruleId"]
        assert item["message"]["text"]
        [location] = item["locations"]
        physical = location["physicalLocation"]
        region = physical["region"]
        props = item.get("properties", {})
        if "cell" in props:
            # code scanning shows the region as lines of the .ipynb file: it must hold the
            # code the finding is about; the cell's own row and column ride along
            lines = (tmp_path / physical["artifactLocation"]["uri"]).read_text().splitlines()
            assert "permute" in lines[region["startLine"] - 1]
            got.append((physical["artifactLocation"]["uri"], props["cell"], props["row"],
                        props["column"], item["ruleId"]))
            continue
        got.append((physical["artifactLocation"]["uri"], None, region["startLine"],
                    region["startColumn"], item["ruleId"]))
    expected = sorted([("src/bug.py", None, row, SEED_COLUMN[row, code], code)
                       for row, code in SEED_FINDINGS]
                      + [("notebook.ipynb", BUG_CELL, BUG_ROW, BUG_COL, "RNN001")])
    assert sorted(got) == expected
    assert run["invocations"][0]["executionSuccessful"] is True


def test_github_annotations(tmp_path):
    write_seed(tmp_path / "bug.py")
    write_notebook(tmp_path / "notebook.ipynb")
    result = rnnshape(tmp_path, "check", "--output-format", "github", "bug.py", "notebook.ipynb")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    command = re.compile(r"::(error|warning) file=bug\.py,line=(\d+),col=(\d+),endLine=\d+,"
                         r"endColumn=\d+,title=(RNN\d{3}) [a-z-]+::\S.*")
    py = [command.fullmatch(line) for line in lines[:-1]]
    assert all(py), lines
    assert sorted((int(m[2]), m[4]) for m in py) == SEED_FINDINGS
    assert all(int(m[3]) == SEED_COLUMN[int(m[2]), m[4]] for m in py)
    assert {m[4]: m[1] for m in py} == {"RNN001": "error", "RNN101": "warning",
                                        "RNN103": "warning"}
    first = PERMUTE_ROWS[0]
    assert f"::error file=bug.py,line={first},col={PERMUTE_COLUMN[first]}," \
           f"endLine={first},endColumn={PERMUTE_COLUMN[first] + 16}," \
           "title=RNN001 layout-mismatch::`permute` gives" in result.stdout
    # GitHub shows an annotation on a line of the .ipynb file: it is the JSON line that holds
    # the code, and the message still names the cell's own row and column.
    note = re.fullmatch(r"::error file=notebook\.ipynb,line=(\d+),col=(\d+),endLine=\d+,"
                        r"endColumn=\d+,title=RNN001 layout-mismatch::(.*)", lines[-1])
    assert note, lines[-1]
    assert note[3].startswith(f"cell 8, line {BUG_ROW}, column {BUG_COL}: `permute` gives")
    json_line = (tmp_path / "notebook.ipynb").read_text().splitlines()[int(note[1]) - 1]
    assert json_line[int(note[2]) - 1:].startswith("permute(0, 2, 1)")


def test_statistics(tmp_path):
    write_seed(tmp_path / "bug.py")
    write_notebook(tmp_path / "notebook.ipynb")
    result = rnnshape(tmp_path, "check", "--statistics", "--output-format", "concise",
                      "bug.py", "notebook.ipynb")
    assert result.returncode == 1
    assert [line for line in result.stdout.splitlines() if re.match(r" +\d+  RNN", line)] == [
        "    4  RNN001  layout-mismatch",
        "    1  RNN101  eval-without-no-grad",
        "    1  RNN103  unseeded-torch",
    ]
    as_json = rnnshape(tmp_path, "check", "--statistics", "--output-format", "json",
                       "bug.py", "notebook.ipynb")
    assert json.loads(as_json.stdout) == [
        {"code": "RNN001", "name": "layout-mismatch", "count": 4},
        {"code": "RNN101", "name": "eval-without-no-grad", "count": 1},
        {"code": "RNN103", "name": "unseeded-torch", "count": 1},
    ]


# --- 5. .gitignore in a real repository ------------------------------------------------------

@pytest.fixture
def repo(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("gen/\nscratch.py\n", encoding="utf-8")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / ".gitignore").write_text("local_*.py\n", encoding="utf-8")
    for rel in ("src/model.py", "src/local_try.py", "gen/model.py", "scratch.py"):
        write_seed(tmp_path / rel)
    write_notebook(tmp_path / "gen" / "run.ipynb")
    # The premise, according to git itself.
    ignored = subprocess.run(["git", "check-ignore", "src/model.py", "src/local_try.py",
                              "gen/model.py", "gen/run.ipynb", "scratch.py"],
                             cwd=tmp_path, capture_output=True, text=True).stdout.split()
    assert sorted(ignored) == ["gen/model.py", "gen/run.ipynb", "scratch.py", "src/local_try.py"]
    return tmp_path


def files_of(result) -> set[str]:
    return {f[0] for f in findings(result.stdout)}


def test_walking_skips_gitignored_paths(repo):
    result = rnnshape(repo, "check", "--output-format", "concise", ".")
    assert result.returncode == 1, result.stderr
    assert files_of(result) == {"src/model.py"}
    assert result.stdout.splitlines()[-2].endswith("in 1 file.")


def test_named_ignored_files_are_checked_unless_force_exclude(repo):
    named = rnnshape(repo, "check", "--output-format", "concise", "gen/model.py", "scratch.py",
                     "src/local_try.py", "gen/run.ipynb")
    assert files_of(named) == {"gen/model.py", "scratch.py", "src/local_try.py", "gen/run.ipynb"}
    forced = rnnshape(repo, "check", "--output-format", "concise", "--force-exclude",
                      "gen/model.py", "scratch.py", "src/local_try.py", "gen/run.ipynb",
                      "src/model.py")
    assert files_of(forced) == {"src/model.py"}
    # fix --force-exclude (the rnnshape-fix hook) does not touch an ignored file either.
    before = (repo / "scratch.py").read_bytes()
    rnnshape(repo, "fix", "--force-exclude", "scratch.py")
    assert (repo / "scratch.py").read_bytes() == before


# --- 6. pre-commit hooks ----------------------------------------------------------------------

def parse_hooks(text: str) -> list[dict]:
    """Enough YAML for .pre-commit-hooks.yaml: a top-level list of flat mappings whose values
    are plain or double-quoted scalars, or flow lists of plain scalars."""
    hooks: list[dict] = []
    for raw in text.splitlines():
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        if line.startswith("- "):
            hooks.append({})
            line = line[2:]
        elif line.startswith("  "):
            line = line[2:]
        else:
            raise ValueError(f"unexpected line: {raw!r}")
        key, _, value = line.partition(":")
        value = value.strip()
        if value.startswith("[") and value.endswith("]"):
            parsed = [v.strip() for v in value[1:-1].split(",") if v.strip()]
        elif value.startswith('"') and value.endswith('"'):
            parsed = json.loads(value)
        elif value in ("true", "false"):
            parsed = value == "true"
        else:
            parsed = value
        hooks[-1][key.strip()] = parsed
    return hooks


def test_pre_commit_hooks_file(tmp_path):
    text = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    hooks = parse_hooks(text)
    try:
        import yaml
    except ImportError:
        pass
    else:  # the hand parser read it as a real YAML parser does
        assert yaml.safe_load(text) == hooks
    by_id = {hook["id"]: hook for hook in hooks}
    assert sorted(by_id) == ["rnnshape", "rnnshape-fix"]
    for hook in hooks:
        assert hook["language"] == "python"
        assert {"python", "jupyter"} <= set(hook["types_or"])
        # pre-commit passes staged files by name: ignored ones must stay out
        assert "--force-exclude" in hook["entry"].split()
        assert hook["entry"].split()[0] == "rnnshape"  # the console script of pyproject.toml
    assert 'rnnshape = "rnnshape.cli:main"' in (ROOT / "pyproject.toml").read_text()
    assert by_id["rnnshape"]["entry"].split()[1] == "check"
    assert by_id["rnnshape-fix"]["entry"].split()[1] == "fix"

    # Run each entry the way pre-commit does: the entry, then the staged file names.
    write_seed(tmp_path / "model.py")
    nb_before = write_notebook(tmp_path / "notebook.ipynb")
    write_seed(tmp_path / "scratch.py")
    (tmp_path / ".gitignore").write_text("scratch.py\n", encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    staged = ["model.py", "notebook.ipynb", "scratch.py"]

    def entry(hook_id: str) -> list[str]:
        return by_id[hook_id]["entry"].split()[1:] + staged

    check = rnnshape(tmp_path, *entry("rnnshape"))
    assert check.returncode == 1, check.stderr
    assert files_of(check) == {"model.py", "notebook.ipynb"}
    scratch_before = (tmp_path / "scratch.py").read_bytes()
    fix = rnnshape(tmp_path, *entry("rnnshape-fix"))
    assert fix.returncode == 0, fix.stdout + fix.stderr
    assert ".permute(0, 2, 1)" not in (tmp_path / "model.py").read_text(encoding="utf-8")
    assert (tmp_path / "notebook.ipynb").read_bytes() != nb_before
    assert (tmp_path / "scratch.py").read_bytes() == scratch_before
