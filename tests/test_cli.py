"""The command line as a user runs it: a fresh interpreter, real files, real exit codes.

Golden outputs live in tests/golden/; after an intended change to the reports, regenerate them
with ``UPDATE_GOLDEN=1 python -m pytest tests/test_cli.py`` and read the diff before committing.
"""
from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_env import cli_env

from rnnshape import __version__
from rnnshape.rules import all_rules

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
BUG = "examples/seed/onehot_lstm_bug.py"
OK = "examples/seed/onehot_lstm_ok.py"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


@functools.lru_cache(maxsize=None)
def run(*args: str) -> subprocess.CompletedProcess:
    """``rnnshape ARGS`` from the repo root; cached because several tests read one run."""
    return subprocess.run([sys.executable, "-m", "rnnshape", *args], cwd=ROOT, env=cli_env(),
                          capture_output=True, text=True, encoding="utf-8", timeout=60)


def permute_rows(path: str) -> list[int]:
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines()
    return [i for i, line in enumerate(lines, start=1) if ".permute(0, 2, 1)" in line]


# --- golden reports -----------------------------------------------------------------------

@pytest.mark.parametrize("fmt, name", [("full", "onehot_lstm_bug.full.txt"),
                                       ("concise", "onehot_lstm_bug.concise.txt"),
                                       ("json", "onehot_lstm_bug.json")])
def test_golden_report(fmt, name):
    result = run("check", "--output-format", fmt, BUG)
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    golden = GOLDEN / name
    if UPDATE:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(result.stdout, encoding="utf-8", newline="\n")
    assert golden.exists(), "no golden file yet: rerun with UPDATE_GOLDEN=1"
    assert result.stdout == golden.read_text(encoding="utf-8")


def test_full_report_frames_the_permute():
    # What the golden file shows, spelled out, so a regenerated golden cannot silently lose it.
    out = run("check", "--output-format", "full", BUG).stdout
    source = (ROOT / BUG).read_text(encoding="utf-8").splitlines()
    for row in permute_rows(BUG):
        line = source[row - 1]
        column = line.index("permute") + 1
        assert f"{BUG}:{row}:{column}: RNN001 " in out
        framed = re.search(rf"^ *{row} \| {re.escape(line)}\n *\| ( *)(\^+) RNN001$", out,
                           re.MULTILINE)
        assert framed, f"no source frame for row {row}"
        assert len(framed.group(1)) == column - 1
        assert len(framed.group(2)) == len("permute(0, 2, 1)")
    assert "= shape trace:" in out
    encoder = "encoding.reshape(1, len(sequence), vocab_size)"
    row = next(i for i, line in enumerate(source, start=1) if encoder in line)
    assert re.search(rf"^\s+{row}  {re.escape(encoder)}\s+"
                     r"\(1\[batch\], len\(sequence\)\[time\], vocab_size\[feature\]\)$",
                     out, re.MULTILINE)


def test_trace_shapes_line_up():
    # One column for the code and one for the shapes, even when a step's code is long.
    out = run("check", "--output-format", "full", BUG).stdout
    first = json.loads(run("check", "--output-format", "json", BUG).stdout)
    steps = next(item for item in first if item["code"] == "RNN001")["trace"]
    after = out.split("= shape trace:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    block = [line for line in after if not line.lstrip().startswith("=")]  # e.g. "= safe fix"
    assert len(block) == len(steps)
    starts = set()
    for line, step in zip(block, steps):
        assert line.split()[0] == str(step["row"])
        text_end = line.index(step["text"]) + len(step["text"])
        assert line.endswith(step["shape"])
        starts.add(line.index(step["shape"], text_end))
    assert len(starts) == 1, block


def check_fix(fix):
    if fix is None:
        return
    assert set(fix) == {"applicability", "message", "edits"}
    assert fix["applicability"] in ("safe", "unsafe") and fix["message"]
    assert fix["edits"]
    for edit in fix["edits"]:
        assert set(edit) == {"cell", "location", "end_location", "content"}
        assert edit["cell"] is None  # a .py file
        start, end = edit["location"], edit["end_location"]
        assert start["row"] >= 1 and start["column"] >= 1
        assert (end["row"], end["column"]) >= (start["row"], start["column"])
        assert isinstance(edit["content"], str)


def test_json_schema():
    result = run("check", "--output-format", "json", BUG)
    data = json.loads(result.stdout)
    assert isinstance(data, list) and data
    keys = {"code", "name", "url", "message", "severity", "filename", "cell", "location",
            "end_location", "fix", "trace"}
    n_lines = len((ROOT / BUG).read_text(encoding="utf-8").splitlines())
    for item in data:
        assert set(item) == keys
        assert re.fullmatch(r"RNN\d{3}", item["code"])
        assert item["url"].endswith(f"/docs/rules.md#{item['code'].lower()}-{item['name']}")
        assert item["severity"] in ("error", "warning")
        assert item["filename"] == BUG
        assert item["cell"] is None
        check_fix(item["fix"])
        start, end = item["location"], item["end_location"]
        assert set(start) == set(end) == {"row", "column"}
        assert 1 <= start["row"] <= end["row"] <= n_lines
        assert start["column"] >= 1 and end["column"] >= 1
        assert (end["row"], end["column"]) > (start["row"], start["column"])
        for step in item["trace"]:
            assert set(step) == {"filename", "cell", "row", "text", "shape"}
            assert step["filename"] == item["filename"]  # one file: every step is in it
            assert step["cell"] is None
            assert 1 <= step["row"] <= n_lines
            assert step["text"] and step["shape"]
    layout = [item for item in data if item["code"] == "RNN001"]
    assert [item["location"]["row"] for item in layout] == permute_rows(BUG)
    for item in layout:
        assert item["name"] == "layout-mismatch" and item["severity"] == "error"
        assert item["location"]["row"] in {step["row"] for step in item["trace"]}


# --- exit codes ---------------------------------------------------------------------------

@pytest.mark.parametrize("args, code", [
    (("check", "--select", "RNN001", OK), 0),
    (("check", BUG), 1),
    (("check", "--exit-zero", BUG), 0),
    (("check", "--select", "RNN999", BUG), 2),
    (("check", "examples/seed/does_not_exist.py"), 2),
], ids=["clean", "findings", "exit-zero", "unknown-code", "missing-path"])
def test_exit_code(args, code):
    result = run(*args)
    assert result.returncode == code, result.stdout + result.stderr


def test_clean_run_says_so():
    assert "All checks passed (1 file)." in run("check", "--select", "RNN001", OK).stdout


def test_exit_zero_still_reports():
    assert "RNN001" in run("check", "--exit-zero", BUG).stdout


def test_errors_go_to_stderr():
    unknown = run("check", "--select", "RNN999", BUG)
    assert "RNN999" in unknown.stderr and unknown.stdout == ""
    missing = run("check", "examples/seed/does_not_exist.py")
    assert "does_not_exist.py: error: no such file or directory" in missing.stderr


def test_unreadable_file_does_not_stop_the_run(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import torch\nlstm = torch.nn.LSTM(\n", encoding="utf-8")
    result = run("check", "--output-format", "concise", str(broken), BUG)
    assert result.returncode == 2  # an error outranks findings
    assert f"{broken}:" in result.stderr and "syntax error" in result.stderr
    assert f"{BUG}:" in result.stdout
    # The count is of files checked; the one that could not be is counted apart.
    assert re.search(r"^Found \d+ findings .* in 1 file\.$", result.stdout, re.MULTILINE)
    assert "1 file could not be checked." in result.stdout


def test_statistics():
    result = run("check", "--statistics", "--output-format", "concise", BUG)
    assert result.returncode == 1
    data = json.loads(run("check", "--output-format", "json", BUG).stdout)
    expected: dict[str, int] = {}
    for item in data:
        expected[item["code"]] = expected.get(item["code"], 0) + 1
    counted = {m.group(2): int(m.group(1))
               for m in re.finditer(r"^\s*(\d+)  (RNN\d{3})  [a-z-]+$", result.stdout, re.MULTILINE)}
    assert counted == expected


def test_statistics_json_stays_json():
    # One JSON document on stdout, whatever the flags: tools pipe it straight into a parser.
    result = run("check", "--statistics", "--output-format", "json", BUG)
    stats = json.loads(result.stdout)
    assert {s["code"]: s["count"] for s in stats}["RNN001"] == len(permute_rows(BUG))


# --- other commands -----------------------------------------------------------------------

def test_rule_docs():
    result = run("rule", "RNN001")
    assert result.returncode == 0
    assert result.stdout.startswith("# RNN001 layout-mismatch\n")
    for heading in ("## What it finds", "## Why it matters", "## Example", "## Fix"):
        assert heading in result.stdout


def test_rule_unknown():
    result = run("rule", "RNN999")
    assert result.returncode == 2
    assert "unknown rule RNN999" in result.stderr


def test_rule_all():
    result = run("rule", "--all")
    assert result.returncode == 0
    listed = re.findall(r"^\| (RNN\d{3}) \|", result.stdout, re.MULTILINE)
    assert listed == [r.code for r in all_rules()]


def test_version():
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"rnnshape {__version__}"


def test_no_command_prints_help():
    result = run()
    assert result.returncode == 2
    assert result.stdout.startswith("usage: rnnshape")
    assert "check" in result.stdout and "rule" in result.stdout


def test_closed_stdout_is_quiet():
    # `rnnshape rule RNN001 | head -1` must not end in a BrokenPipeError traceback.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, "-m", "rnnshape", "rule", "RNN001"], cwd=ROOT,
                                env=cli_env(), stdout=write_end, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write_end)
    assert b"Traceback" not in result.stderr, result.stderr.decode()


# --- source frames on awkward lines -------------------------------------------------------

@pytest.mark.parametrize("line, shown", [
    ("\tnp.random.seed(42)", "    np.random.seed(42)"),
    ('\tx = "日本語"; np.random.seed(42)', '    x = "日本語"; np.random.seed(42)'),
], ids=["tab", "wide"])
def test_carets_under_span(tmp_path, line, shown):
    # Tabs are shown expanded and CJK characters take two terminal cells; the carets must
    # still sit under `np.random.seed(42)`, not where the character column would put them.
    path = tmp_path / "seeded.py"
    path.write_text(f"import numpy as np\nimport torch\n\nif True:\n{line}\nnet = torch.nn.GRU(2, 3)\n",
                    encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "rnnshape", "check", "--select", "RNN103",
                             str(path)], cwd=ROOT, env=cli_env(), capture_output=True, text=True,
                            encoding="utf-8", timeout=60)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    at = lines.index(f"5 | {shown}")
    carets = lines[at + 1]
    assert carets.endswith(" RNN103")
    before = shown[:shown.index("np.")]
    wide = sum(1 for ch in before if "\u4e00" <= ch <= "\u9fff")
    assert carets.index("^") == len("  | ") + len(before) + wide
    assert carets.count("^") == len("np.random.seed(42)")


def test_one_line_per_finding_in_concise(tmp_path):
    # The receiver quoted in the message spans two source lines; concise output is read by
    # grep and editors' problem matchers, which need each finding on one line.
    path = tmp_path / "multi.py"
    path.write_text("import torch\nimport torch.nn as nn\n\nnet = nn.Linear(4, 2)\n"
                    "out = net(\n    torch.zeros(3, 4)).numpy()\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "rnnshape", "check", "--output-format",
                             "concise", "--select", "RNN102", str(path)], cwd=ROOT, env=cli_env(),
                            capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{path}:6:") and "RNN102" in lines[0]
    assert lines[0].endswith("detached first")  # the rest of the message is on this line too
    assert lines[1].startswith("Found 1 finding")


@pytest.mark.parametrize("applicabilities, hint", [
    (("safe", "safe", None), "[*] 2 fixable with `rnnshape fix`."),
    (("safe", "unsafe"), "[*] 1 fixable with `rnnshape fix` (1 more with "
                         "`rnnshape fix --unsafe-fixes`)."),
    (("unsafe",), "1 fixable with `rnnshape fix --unsafe-fixes`."),
    ((None,), None),
], ids=["safe", "both", "unsafe", "none"])
def test_summary_explains_fix_marker(applicabilities, hint):
    # The [*] in front of a message means nothing to a new user unless the summary says it.
    import io

    from rnnshape.diagnostic import Diagnostic, Edit, Fix
    from rnnshape.report.terminal import Terminal
    from rnnshape.report.text import render_summary

    diagnostics = [
        Diagnostic("RNN001", "layout-mismatch", "m", "error", "f.py", 1, 1, 1, 2,
                   fix=None if a is None else Fix(a, "m", (Edit(1, 1, 1, 2, "x"),)))
        for a in applicabilities]
    out = Terminal(io.StringIO(), color=False)
    render_summary(out, diagnostics, [], 1)
    lines = out.stream.getvalue().splitlines()
    assert lines[0].startswith(f"Found {len(diagnostics)} finding")
    assert lines[1:] == ([hint] if hint else [])
