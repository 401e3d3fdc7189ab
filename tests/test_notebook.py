"""Notebooks as one program: loading, masking IPython syntax, row mapping, writing back."""
import ast
import copy
import json

import pytest

from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.notebook import load_notebook

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def make_nb():
    return {
        "cells": [
            {"cell_type": "markdown", "id": "0a1b2c3d", "metadata": {},
             "source": ["# Character model — ünïcode\n", "\n", "Trains an LSTM."]},
            {"cell_type": "code", "execution_count": 1, "id": "1b2c3d4e",
             "metadata": {"tags": ["setup"]},
             "outputs": [{"name": "stdout", "output_type": "stream", "text": ["ok\n"]}],
             "source": ["%matplotlib inline\n", "import torch\n", "import torch.nn as nn\n",
                        "!pip install tqdm"]},
            {"cell_type": "code", "execution_count": 2, "id": "2c3d4e5f", "metadata": {},
             "outputs": [{"data": {"image/png": PNG, "text/plain": ["<Figure size 640x480>"]},
                          "metadata": {"needs_background": "light"},
                          "output_type": "display_data"}],
             "source": ["lstm = nn.LSTM(10, 20)\n", "x = torch.zeros(5, 3, 10)\n",
                        "out, _ = lstm(x)"]},
            {"cell_type": "markdown", "id": "3d4e5f60", "metadata": {}, "source": ["## Shell"]},
            {"cell_type": "code", "execution_count": 3, "id": "4e5f6071", "metadata": {},
             "outputs": [], "source": ["%%bash\n", "echo 'unterminated\n", "ls -la"]},
            {"cell_type": "code", "execution_count": None, "id": "5f607182", "metadata": {},
             "outputs": [{"ename": "NameError", "evalue": "name 'y' is not defined",
                          "output_type": "error", "traceback": ["\u001b[0;31mNameError\u001b[0m"]}],
             "source": ["%%time\n", "for i in range(2):\n", "    out, _ = lstm(x)\n", "lstm?"]},
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"},
                     "language_info": {"name": "python", "version": "3.11.7"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def jupyter(nb, **kw):
    """What Jupyter (nbformat.writes) writes."""
    options = dict(indent=1, sort_keys=True, ensure_ascii=False)
    options.update(kw)
    return json.dumps(nb, **options) + "\n"


NB_TEXT = jupyter(make_nb())

EXPECTED_PROGRAM = """\
pass  # rnnshape: masked magic 0
import torch
import torch.nn as nn
pass  # rnnshape: masked magic 1
# %% rnnshape-cell 3
lstm = nn.LSTM(10, 20)
x = torch.zeros(5, 3, 10)
out, _ = lstm(x)
# %% rnnshape-cell 5
pass  # rnnshape: masked magic 2
pass  # rnnshape: masked magic 3
pass  # rnnshape: masked magic 4
# %% rnnshape-cell 6
pass  # rnnshape: masked magic 5
for i in range(2):
    out, _ = lstm(x)
pass  # rnnshape: masked magic 6
"""


def test_program_is_code_cells_with_magics_masked_and_cell_sentinels():
    nb = load_notebook(NB_TEXT, "model.ipynb")
    assert nb.program() == EXPECTED_PROGRAM
    ast.parse(nb.program())
    assert nb.is_python


def test_locate_maps_every_program_row_to_its_cell_counting_markdown():
    nb = load_notebook(NB_TEXT, "model.ipynb")
    rows = {row: nb.locate(row) for row in range(1, 18)}
    assert rows[1] == (2, 1) and rows[4] == (2, 4)
    assert rows[6] == (3, 1) and rows[8] == (3, 3)
    assert rows[10] == (5, 1) and rows[12] == (5, 3)
    assert rows[14] == (6, 1) and rows[17] == (6, 4)
    # Sentinel rows belong to no cell; they name the cell that follows.
    assert rows[5] == (3, 1) and rows[9] == (5, 1) and rows[13] == (6, 1)
    with pytest.raises(ValueError):
        nb.locate(0)


def test_unchanged_program_gives_the_file_back_byte_for_byte():
    nb = load_notebook(NB_TEXT, "model.ipynb")
    assert nb.with_program(nb.program()) == NB_TEXT


def _edited(program, old, new):
    assert program.count(old) == 1
    return program.replace(old, new)


def test_adding_lines_to_one_cell_rewrites_only_that_cell_as_jupyter_would():
    nb = load_notebook(NB_TEXT, "model.ipynb")
    new = _edited(nb.program(), "x = torch.zeros(5, 3, 10)\n",
                  "x = torch.zeros(5, 3, 10)\nx = x.permute(1, 0, 2)\nx = x.contiguous()\n")
    out = nb.with_program(new)
    expected = make_nb()
    expected["cells"][2]["source"] = ["lstm = nn.LSTM(10, 20)\n", "x = torch.zeros(5, 3, 10)\n",
                                      "x = x.permute(1, 0, 2)\n", "x = x.contiguous()\n",
                                      "out, _ = lstm(x)"]
    assert out == jupyter(expected)


def test_removing_lines_maps_back_and_later_cells_keep_their_magics():
    nb = load_notebook(NB_TEXT, "model.ipynb")
    new = _edited(nb.program(), "import torch.nn as nn\n", "")
    new = _edited(new, "lstm = nn.LSTM(10, 20)\n", "import torch.nn as nn\nlstm = nn.LSTM(10, 20)\n")
    out = nb.with_program(new)
    expected = make_nb()
    expected["cells"][1]["source"] = ["%matplotlib inline\n", "import torch\n", "!pip install tqdm"]
    expected["cells"][2]["source"].insert(0, "import torch.nn as nn\n")
    assert out == jupyter(expected)


def test_masked_line_moved_into_a_block_is_restored_with_the_new_indentation():
    nb = load_notebook(NB_TEXT, "model.ipynb")
    new = _edited(nb.program(), "for i in range(2):\n    out, _ = lstm(x)\n",
                  "with torch.no_grad():\n    for i in range(2):\n        out, _ = lstm(x)\n")
    new = _edited(new, "pass  # rnnshape: masked magic 6", "    pass  # rnnshape: masked magic 6")
    data = json.loads(nb.with_program(new))
    assert data["cells"][5]["source"] == [
        "%%time\n", "with torch.no_grad():\n", "    for i in range(2):\n",
        "        out, _ = lstm(x)\n", "    lstm?"]
    assert data["cells"][5]["outputs"] == make_nb()["cells"][5]["outputs"]


@pytest.mark.parametrize("style", [
    dict(indent=2, sort_keys=False),
    dict(indent=4, sort_keys=True, ensure_ascii=True),
    dict(indent=None, separators=(",", ":")),
    dict(indent=None),            # json.dumps' compact default: ", " and ": "
    dict(indent="\t"),
])
def test_a_changed_cell_follows_the_files_json_style(style):
    text = jupyter(make_nb(), **style)
    nb = load_notebook(text, "model.ipynb")
    assert nb.with_program(nb.program()) == text
    new = _edited(nb.program(), "out, _ = lstm(x)\n# %% rnnshape-cell 5",
                  "out, _ = lstm(x.permute(1, 0, 2))\n# %% rnnshape-cell 5")
    expected = make_nb()
    expected["cells"][2]["source"][2] = "out, _ = lstm(x.permute(1, 0, 2))"
    assert nb.with_program(new) == jupyter(expected, **style)


def test_string_sources_stay_strings_and_crlf_files_keep_their_line_ends():
    nb_data = make_nb()
    for cell in nb_data["cells"]:
        cell["source"] = "".join(cell["source"])
    text = jupyter(nb_data).replace("\n", "\r\n")
    nb = load_notebook(text, "model.ipynb")
    new = _edited(nb.program(), "lstm = nn.LSTM(10, 20)", "lstm = nn.LSTM(10, 20, batch_first=True)")
    out = nb.with_program(new)
    nb_data["cells"][2]["source"] = nb_data["cells"][2]["source"].replace(
        "nn.LSTM(10, 20)", "nn.LSTM(10, 20, batch_first=True)")
    assert out == jupyter(nb_data).replace("\n", "\r\n")


def test_a_hand_laid_out_source_list_keeps_its_layout():
    # Element indentation unlike the file's one-space unit: the rewritten list copies the
    # original list's own whitespace, not what the unit would give.
    text = ('{\n "cells": [\n  {\n   "cell_type": "code",\n   "source": [\n'
            '        "a = 1\\n",\n        "b = 2"\n      ]\n  }\n ],\n "nbformat": 4\n}')
    nb = load_notebook(text, "odd.ipynb")
    assert nb.program() == "a = 1\nb = 2\n"
    out = nb.with_program("a = 1\nb = 2\nc = 3\n")
    assert out == text.replace('"b = 2"', '"b = 2\\n",\n        "c = 3"')


def test_empty_source_list_gets_a_jupyter_style_list():
    data = make_nb()
    data["cells"].append({"cell_type": "code", "execution_count": None, "id": "x", "metadata": {},
                          "outputs": [], "source": []})
    nb = load_notebook(jupyter(data), "model.ipynb")
    assert nb.program().endswith("# %% rnnshape-cell 7\n\n")
    out = nb.with_program(nb.program()[:-1] + "import torch\ntorch.manual_seed(0)\n")
    data["cells"][-1]["source"] = ["import torch\n", "torch.manual_seed(0)"]
    assert out == jupyter(data)


def test_byte_order_mark_is_kept():
    text = "\ufeff" + NB_TEXT
    nb = load_notebook(text, "model.ipynb")
    out = nb.with_program(nb.program().replace("nn.LSTM(10, 20)", "nn.GRU(10, 20)"))
    assert out.startswith("\ufeff{")
    assert json.loads(out[1:])["cells"][2]["source"][0] == "lstm = nn.GRU(10, 20)\n"
    assert out.replace("nn.GRU(10, 20)", "nn.LSTM(10, 20)") == text


def test_a_fix_across_a_cell_boundary_is_refused():
    nb = load_notebook(NB_TEXT, "model.ipynb")
    with pytest.raises(FileError, match="cell boundary"):
        nb.with_program(nb.program().replace("# %% rnnshape-cell 5\n", ""))
    with pytest.raises(FileError, match="cell boundary"):
        nb.with_program(nb.program().replace("# %% rnnshape-cell 5\n", "    # %% rnnshape-cell 5\n"))


def program_of(*sources):
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": s} for s in sources]
    return load_notebook(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                     "nbformat_minor": 5}), "t.ipynb").program()


@pytest.mark.parametrize("line", [
    "%load_ext autoreload", "  %time y = f(x)", "!ls -la", "files = !ls *.csv",
    "a, b = %sx echo 1", "x.shape?", "??torch.nn.LSTM", "np.*load*?", "%%writefile x.py",
])
def test_ipython_lines_are_masked_keeping_indentation(line):
    indent = " " * (len(line) - len(line.lstrip()))
    # (a cell that still does not parse once masked is skipped whole: see below)
    prefix = "if True:\n" if indent else "x = 1\n"
    assert program_of(f"{prefix}{line}\n") == f"{prefix}{indent}pass  # rnnshape: masked magic 0\n\n"


@pytest.mark.parametrize("source", [
    "y = (a\n% b)\n",                       # a modulo continuing an open bracket
    's = """\n%d items\n!done\n"""\n',      # text of a multi-line string
    "x = 1  # really?\n",                   # a question in a comment
    "q = 'why?'\n",
    "t = a \\\n    % b\n",                  # backslash continuation
    "s = 'abc\\\n%d'\n",                    # a one-quote string continued past the line end
    "x = get_ipython().run_line_magic('time', 'f()')\n",
    "if a != b:\n    pass\n",
])
def test_python_that_looks_like_magic_is_left_alone(source):
    assert program_of(source) == source + "\n"


def test_shell_line_continuation_is_masked_at_the_commands_indentation():
    program = program_of("for p in ps:\n    !pip install \\\n  torch\n    y = 1\n")
    assert program == ("for p in ps:\n    pass  # rnnshape: masked magic 0\n"
                       "    pass  # rnnshape: masked magic 1\n    y = 1\n\n")
    ast.parse(program)


def test_map_diagnostic_sets_cell_and_in_cell_rows():
    nb = load_notebook(NB_TEXT, "model.ipynb")
    d = Diagnostic("RNN001", "layout-mismatch", "m", "error", "model.ipynb", row=8, column=10,
                   end_row=8, end_column=17)
    mapped = nb.map_diagnostic(d)
    assert (mapped.cell, mapped.row, mapped.column, mapped.end_row, mapped.end_column) == (3, 3, 10, 3, 17)
    assert d.cell is None  # the original is untouched
    spanning = nb.map_diagnostic(Diagnostic("RNN001", "n", "m", "error", "model.ipynb",
                                            row=7, column=1, end_row=11, end_column=3))
    # Cut at the end of cell 3's last line, "out, _ = lstm(x)".
    assert (spanning.cell, spanning.row, spanning.end_row, spanning.end_column) == (3, 2, 3, 17)
    assert nb.describe_row(15) == "cell 6, line 2"


def test_language_of_a_non_python_kernel():
    data = make_nb()
    data["metadata"] = {"kernelspec": {"language": "R", "name": "ir"}}
    assert load_notebook(jupyter(data), "r.ipynb").language == "r"
    assert not load_notebook(jupyter(data), "r.ipynb").is_python
    data["metadata"] = {}
    assert load_notebook(jupyter(data), "p.ipynb").is_python


@pytest.mark.parametrize("mutate, reason", [
    (lambda nb: "{\"cells\": [", "not valid JSON"),
    (lambda nb: json.dumps([1, 2]), "top level is not a JSON object"),
    (lambda nb: json.dumps({k: v for k, v in nb.items() if k != "cells"}), 'no "cells" list'),
    (lambda nb: json.dumps(dict(nb, nbformat=3)), "format 3 is not supported"),
    (lambda nb: json.dumps(dict(nb, cells=[{"source": "x"}])), 'cell 1 has no "cell_type"'),
    (lambda nb: json.dumps(dict(nb, cells=[nb["cells"][0], {"cell_type": "code"}])),
     'cell 2 has no "source"'),
    (lambda nb: json.dumps(dict(nb, cells=[{"cell_type": "code", "source": 3}])),
     "neither a string nor a list"),
    (lambda nb: json.dumps(dict(nb, cells=["x"])), "cell 1 is not a JSON object"),
])
def test_unusable_files_raise_one_line_file_errors(mutate, reason):
    with pytest.raises(FileError) as info:
        load_notebook(mutate(copy.deepcopy(make_nb())), "bad.ipynb")
    assert info.value.filename == "bad.ipynb"
    assert reason in info.value.message
    assert "\n" not in str(info.value)


def test_invalid_json_reports_its_line():
    with pytest.raises(FileError) as info:
        load_notebook('{\n "cells": [\n  oops\n ]\n}', "bad.ipynb")
    assert info.value.row == 3


def test_trace_steps_and_fix_edits_name_their_own_cells():
    from rnnshape.config import Config
    from rnnshape.files import Source
    from rnnshape.per_file import FileJob

    def code(source):
        return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                "source": source}

    nb = {"cells": [code(["import torch\n", "import torch.nn as nn\n", "\n",
                          "rnn = nn.GRU(8, 16, bidirectional=True)\n",
                          "out, _ = rnn(torch.zeros(5, 3, 8))"]),
                    {"cell_type": "markdown", "metadata": {}, "source": ["# Head"]},
                    code(["head = nn.Linear(16, 2)\n", "y = head(out)"])],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    job = FileJob(Config(), edits=True)
    [d] = job.run("n.ipynb", Source(json.dumps(nb)), job.codes_for("n.ipynb")).diagnostics
    assert (d.code, d.cell, d.row) == ("RNN004", 3, 1)
    assert [(t.cell, t.row) for t in d.trace] == [(1, 5), (1, 5), (3, 2)]
    [edit] = d.fix.edits
    assert (edit.cell, edit.row, edit.column, edit.end_row, edit.end_column, edit.content) == \
        (3, 1, 18, 1, 20, "32")
    assert d.to_json()["trace"][0] == {"filename": "n.ipynb", "cell": 1, "row": 5,
                                       "text": "torch.zeros(5, 3, 8)",
                                       "shape": "(5, 3, 8)"}


def _code(source):
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": source}


EXERCISE = {"cells": [_code(["import torch\n", "import torch.nn as nn\n"]),
                      _code(["criterion = \n"]),  # the blank a student fills in
                      _code(["import numpy as np\n", "np.random.seed(0)\n",
                             "lstm = nn.LSTM(4, 8)"])],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_a_cell_that_does_not_parse_is_skipped_and_the_others_are_checked(tmp_path):
    import subprocess
    import sys

    from cli_env import cli_env

    path = tmp_path / "exercise.ipynb"
    text = json.dumps(EXERCISE, indent=1)
    path.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "rnnshape", "check", "--no-cache",
                           "--output-format", "concise", str(path)], capture_output=True,
                          text=True, env=cli_env(), timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert f"{path}:cell 2: warning: skipped a cell that does not parse: invalid syntax (line 1)" \
        in proc.stderr
    assert f"{path}:cell 3:2:1: RNN103" in proc.stdout
    # fix leaves the skipped cell as it was
    fixed = subprocess.run([sys.executable, "-m", "rnnshape", "fix", str(path)],
                           capture_output=True, text=True, env=cli_env(), timeout=60)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    cells = json.loads(path.read_text())["cells"]
    assert cells[1]["source"] == ["criterion = \n"]
    assert "np.random.seed(0)\ntorch.manual_seed(0)\n" in "".join(cells[2]["source"])


def test_skipped_cells_are_listed_with_their_reason():
    nb = load_notebook(json.dumps(EXERCISE), "e.ipynb")
    assert [index for index, _ in nb.skipped] == [2]
    assert "criterion" not in nb.program()


def test_a_script_exported_with_ipython_lines_is_checked_and_left_alone(tmp_path):
    import subprocess
    import sys

    from cli_env import cli_env

    path = tmp_path / "exported.py"
    text = ("# %%\n!pip install torch\n%matplotlib inline\nimport numpy as np\nimport torch\n\n"
            "# %%\nnp.random.seed(0)\nlstm = torch.nn.LSTM(4, 8)\n")
    path.write_text(text)
    check = subprocess.run([sys.executable, "-m", "rnnshape", "check", "--no-cache",
                            "--output-format", "concise", str(path)], capture_output=True,
                           text=True, env=cli_env(), timeout=60)
    assert check.returncode == 1, check.stderr
    assert f"{path}:8:1: RNN103 " in check.stdout  # rows as in the file, no [*]: not fixed
    assert "2 IPython lines (an exported notebook?) do not parse as Python" in check.stderr
    fix = subprocess.run([sys.executable, "-m", "rnnshape", "fix", str(path)],
                         capture_output=True, text=True, env=cli_env(), timeout=60)
    assert fix.returncode == 1 and "fixes nothing in it" in fix.stderr
    assert path.read_text() == text
