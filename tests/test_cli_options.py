"""The ruff-level command-line options of ``check`` and ``fix`` (issue 16), run as a user runs
them: a fresh interpreter, files in a temporary folder, real exit codes."""
from __future__ import annotations

import io
import json
import queue
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cli_env import cli_env
from test_ecosystem import BUG_CELL, BUG_LINE, BUG_ROW, write_notebook

from rnnshape.add_noqa import add_noqa
from rnnshape.report.progress import Progress
from rnnshape.rules import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
SEED_BUG = ROOT / "examples" / "seed" / "onehot_lstm_bug.py"
SEED_OK = ROOT / "examples" / "seed" / "onehot_lstm_ok.py"
# One finding (RNN103) whose safe fix leaves nothing behind.
SEEDED = "import numpy as np\nimport torch\n\nnp.random.seed(1)\nx = torch.randn(3)\n"
# One finding (RNN002) that no fix removes.
UNFIXABLE = ("import torch\nimport torch.nn as nn\n\nemb = nn.Embedding(10, 8)\n"
             "rnn = nn.GRU(5, 4, batch_first=True)\n"
             "out, h = rnn(emb(torch.zeros(2, 3, dtype=torch.long)))\n")


def rnnshape(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnnshape", *args], cwd=cwd,
                          env=env or cli_env(), capture_output=True, text=True,
                          encoding="utf-8", timeout=120)


def bug(tmp_path: Path, name: str = "bug.py") -> Path:
    target = tmp_path / name
    shutil.copyfile(SEED_BUG, target)
    return target


def json_findings(cwd: Path, *paths: str) -> list[dict]:
    result = rnnshape(cwd, "check", "--no-cache", "--output-format", "json", *paths)
    return json.loads(result.stdout)


# --- -q / --quiet -----------------------------------------------------------------------------

def test_quiet_prints_nothing_but_errors_and_keeps_the_exit_code(tmp_path):
    bug(tmp_path)
    (tmp_path / "broken.py").write_text("import torch\nx = (\n", encoding="utf-8")
    loud = rnnshape(tmp_path, "check", "--no-cache", "bug.py")
    assert loud.returncode == 1 and "RNN001" in loud.stdout
    quiet = rnnshape(tmp_path, "check", "--no-cache", "-q", "bug.py")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (1, "", "")
    broken = rnnshape(tmp_path, "check", "--no-cache", "--quiet", "bug.py", "broken.py")
    assert broken.returncode == 2 and broken.stdout == ""
    assert broken.stderr.startswith("broken.py:") and "syntax error" in broken.stderr


def test_quiet_fix_still_fixes(tmp_path):
    target = tmp_path / "s.py"
    target.write_text(SEEDED, encoding="utf-8")
    result = rnnshape(tmp_path, "fix", "-q", "s.py")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert "torch.manual_seed(1)" in target.read_text(encoding="utf-8")


# --- -o / --output-file -----------------------------------------------------------------------

def test_output_file_gets_the_report_stdout_gets_nothing(tmp_path):
    bug(tmp_path)
    expected = rnnshape(tmp_path, "check", "--no-cache", "--output-format", "json", "bug.py")
    result = rnnshape(tmp_path, "check", "--no-cache", "--output-format", "json",
                      "-o", "reports/out.json", "bug.py")
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "")
    assert (tmp_path / "reports" / "out.json").read_text(encoding="utf-8") == expected.stdout
    text = rnnshape(tmp_path, "check", "--no-cache", "--output-file", "out.txt", "bug.py")
    assert text.stdout == ""
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == \
        rnnshape(tmp_path, "check", "--no-cache", "bug.py").stdout


def test_output_file_that_cannot_be_written_is_a_usage_error(tmp_path):
    bug(tmp_path)
    (tmp_path / "taken").mkdir()
    result = rnnshape(tmp_path, "check", "--no-cache", "-o", "taken", "bug.py")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("rnnshape: error: cannot write the report to taken: ")


def test_fix_output_file_takes_the_remaining_report(tmp_path):
    (tmp_path / "m.py").write_text(UNFIXABLE, encoding="utf-8")
    result = rnnshape(tmp_path, "fix", "--output-format", "concise", "-o", "r.txt", "m.py")
    assert result.returncode == 1 and result.stdout == ""
    report = (tmp_path / "r.txt").read_text(encoding="utf-8")
    assert report.startswith("m.py:6:10: RNN002 ")
    assert report.endswith("Fixed 0 findings in 0 files. 1 remaining.\n")


# --- --show-fixes -----------------------------------------------------------------------------

def test_check_show_fixes_lists_each_findings_fix(tmp_path):
    bug(tmp_path)
    data = json_findings(tmp_path, "bug.py")
    result = rnnshape(tmp_path, "check", "--no-cache", "--output-format", "concise",
                      "--show-fixes", "bug.py")
    assert result.returncode == 1
    listed = result.stdout.split("Fixes available:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert listed == [f"  bug.py:{d['location']['row']}:{d['location']['column']}: {d['code']} "
                      f"{d['fix']['applicability']} fix: {d['fix']['message']}"
                      for d in data if d["fix"]]
    assert "Fixes available:" not in rnnshape(tmp_path, "check", "--no-cache", "--output-format",
                                              "concise", "bug.py").stdout


def test_fix_show_fixes_counts_per_file_and_code(tmp_path):
    bug(tmp_path, "a.py")
    (tmp_path / "b.py").write_text(SEEDED, encoding="utf-8")
    result = rnnshape(tmp_path, "fix", "--show-fixes", "a.py", "b.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("Fixed 6 findings:\n"
            "- a.py:\n"
            "    3 x RNN001 (layout-mismatch)\n"
            "    1 x RNN101 (eval-without-no-grad)\n"
            "    1 x RNN103 (unseeded-torch)\n"
            "- b.py:\n"
            "    1 x RNN103 (unseeded-torch)\n") in result.stdout


# --- --color ----------------------------------------------------------------------------------

def _env(**changes) -> dict:
    env = cli_env()
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@pytest.mark.parametrize("flag, env, coloured", [
    ("always", {}, True),  # NO_COLOR=1 and TERM=dumb from cli_env: the flag wins
    ("never", {"NO_COLOR": None, "FORCE_COLOR": "1"}, False),
    ("auto", {"NO_COLOR": None, "FORCE_COLOR": "1"}, True),
    ("auto", {}, False),
], ids=["always", "never", "auto-forced", "auto-no-color"])
def test_color(tmp_path, flag, env, coloured):
    bug(tmp_path)
    result = rnnshape(tmp_path, "check", "--no-cache", "--color", flag, "bug.py",
                      env=_env(**env))
    assert result.returncode == 1
    assert ("\x1b[" in result.stdout) == coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", result.stdout) == \
        rnnshape(tmp_path, "check", "--no-cache", "bug.py").stdout


# --- fix: --exit-non-zero-on-fix, --exit-zero, --statistics, --jobs, --no-cache ----------------

def test_exit_non_zero_on_fix(tmp_path):
    target = tmp_path / "s.py"
    target.write_text(SEEDED, encoding="utf-8")
    assert rnnshape(tmp_path, "fix", "s.py").returncode == 0  # all fixed, nothing remains
    target.write_text(SEEDED, encoding="utf-8")
    assert rnnshape(tmp_path, "fix", "--exit-non-zero-on-fix", "s.py").returncode == 1
    # nothing left to fix: back to 0
    assert rnnshape(tmp_path, "fix", "--exit-non-zero-on-fix", "s.py").returncode == 0
    target.write_text(SEEDED, encoding="utf-8")
    assert rnnshape(tmp_path, "check", "--fix", "--exit-non-zero-on-fix",
                    "s.py").returncode == 1


def test_fix_exit_zero_jobs_and_no_cache(tmp_path):
    (tmp_path / "m.py").write_text(UNFIXABLE, encoding="utf-8")
    assert rnnshape(tmp_path, "fix", "m.py").returncode == 1
    result = rnnshape(tmp_path, "fix", "--exit-zero", "--jobs", "1", "--no-cache", "m.py")
    assert result.returncode == 0, result.stderr
    assert "m.py:6:10: RNN002" in result.stdout


def test_statistics_prints_counts_only(tmp_path):
    bug(tmp_path)
    check = rnnshape(tmp_path, "check", "--no-cache", "--statistics", "bug.py")
    assert check.returncode == 1
    assert check.stdout == ("    3  RNN001  layout-mismatch\n"
                            "    1  RNN101  eval-without-no-grad\n"
                            "    1  RNN103  unseeded-torch\n")
    (tmp_path / "m.py").write_text(UNFIXABLE, encoding="utf-8")
    fix = rnnshape(tmp_path, "fix", "--statistics", "m.py")
    assert fix.returncode == 1
    assert fix.stdout == (f"    1  RNN002  {REGISTRY['RNN002'].name}\n"
                          "Fixed 0 findings in 0 files. 1 remaining.\n")
    as_json = rnnshape(tmp_path, "fix", "--statistics", "--output-format", "json", "m.py")
    assert json.loads(as_json.stdout) == [
        {"code": "RNN002", "name": REGISTRY["RNN002"].name, "count": 1}]


# --- check --fix ------------------------------------------------------------------------------

def test_check_fix_is_fix_then_report(tmp_path):
    by_check, by_fix = bug(tmp_path, "a.py"), bug(tmp_path, "b.py")
    fixed = rnnshape(tmp_path, "fix", "b.py")
    result = rnnshape(tmp_path, "check", "--fix", "a.py")
    assert result.returncode == fixed.returncode == 0
    assert by_check.read_bytes() == by_fix.read_bytes() != SEED_BUG.read_bytes()
    assert result.stdout == fixed.stdout.replace("b.py", "a.py")
    assert "Fixed 5 findings" in result.stdout


# --- --add-noqa -------------------------------------------------------------------------------

def test_add_noqa_suppresses_every_finding_and_merges_existing_comments(tmp_path):
    rows = {d["location"]["row"]: d["code"] for d in json_findings(ROOT, str(SEED_BUG))}
    first, second = sorted(r for r, code in rows.items() if code == "RNN001")[:2]
    lines = SEED_BUG.read_text(encoding="utf-8").split("\n")
    lines[first - 1] += "  # noqa: E501"
    lines[second - 1] += "  # keep this"
    target = tmp_path / "bug.py"
    target.write_text("\n".join(lines), encoding="utf-8")
    result = rnnshape(tmp_path, "check", "--no-cache", "--add-noqa", "bug.py")
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == f"Added {len(rows)} noqa directives.\n"
    new = target.read_text(encoding="utf-8").split("\n")
    assert new[first - 1] == lines[first - 1] + ", RNN001"
    assert new[second - 1] == lines[second - 1] + "  # noqa: RNN001"
    assert [i for i, (a, b) in enumerate(zip(lines, new), 1) if a != b] == sorted(rows)
    clean = rnnshape(tmp_path, "check", "--no-cache", "bug.py")
    assert clean.returncode == 0 and "All checks passed (1 file)." in clean.stdout
    again = rnnshape(tmp_path, "check", "--no-cache", "--add-noqa", "bug.py")
    assert again.stderr == "Added 0 noqa directives.\n"
    assert target.read_text(encoding="utf-8").split("\n") == new


def test_add_noqa_in_a_notebook_goes_on_the_cells_line(tmp_path):
    write_notebook(tmp_path / "notebook.ipynb")
    before = json.loads((tmp_path / "notebook.ipynb").read_text(encoding="utf-8"))
    result = rnnshape(tmp_path, "check", "--no-cache", "--add-noqa", "--select", "RNN001",
                      "notebook.ipynb")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "Added 1 noqa directive.\n"
    after = json.loads((tmp_path / "notebook.ipynb").read_text(encoding="utf-8"))
    cell = after["cells"][BUG_CELL - 1]["source"]
    assert cell[BUG_ROW - 1] == BUG_LINE + "  # noqa: RNN001\n"
    assert cell[0] == "%%time\n"  # the masked magic came back
    # nothing else in the notebook changed
    before["cells"][BUG_CELL - 1]["source"][BUG_ROW - 1] = cell[BUG_ROW - 1]
    assert after == before
    assert rnnshape(tmp_path, "check", "--no-cache", "--select", "RNN001",
                    "notebook.ipynb").returncode == 0


def test_add_noqa_never_puts_a_comment_inside_a_string_or_after_a_backslash():
    text = ('x = """a\nb"""\n'       # row 1 ends inside the string
            "y = 1 + \\\n    2\n"     # row 3 ends with a continuation
            "z = f(1,\r\n      2)\n"  # row 5 is inside brackets: a comment may end it
            "w = 3  # noqa:RNN002 trailing words\n")
    edit = add_noqa(text, {1: {"RNN001"}, 3: {"RNN001"}, 5: {"RNN004"}, 7: {"RNN001"}})
    assert edit.added == [5, 7]
    assert [row for row, _ in edit.skipped] == [1, 3]
    assert edit.text.split("\n")[4] == "z = f(1,  # noqa: RNN004\r"
    assert edit.text.split("\n")[6] == "w = 3  # noqa: RNN002, RNN001 trailing words"
    compile(edit.text, "t", "exec")


def test_add_noqa_leaves_a_bare_noqa_and_untokenizable_text_alone():
    assert add_noqa("x = 1  # noqa\n", {1: {"RNN001"}}).text == "x = 1  # noqa\n"
    broken = 'x = """never closed\n'
    edit = add_noqa(broken, {1: {"RNN001"}})
    assert (edit.text, edit.added) == (broken, [])


def test_add_noqa_cannot_be_combined_with_fix(tmp_path):
    bug(tmp_path)
    result = rnnshape(tmp_path, "check", "--fix", "--add-noqa", "bug.py")
    assert result.returncode == 2
    assert result.stderr == "rnnshape: error: --add-noqa cannot be used with --fix\n"
    assert (tmp_path / "bug.py").read_bytes() == SEED_BUG.read_bytes()


# --- --config, --isolated, --show-settings, --show-files -------------------------------------

def _settings(stdout: str) -> dict[str, str]:
    return {key.strip(): value for key, value in
            (line.split(" = ", 1) for line in stdout.splitlines())}


def test_config_and_isolated_choose_the_configuration(tmp_path):
    bug(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.rnnshape]\nselect = ["RNN103"]\n',
                                             encoding="utf-8")
    (tmp_path / "other.toml").write_text('select = ["RNN101"]\n', encoding="utf-8")

    def codes(*args: str) -> set[str]:
        result = rnnshape(tmp_path, "check", "--no-cache", "--output-format", "json", *args)
        return {d["code"] for d in json.loads(result.stdout)}

    assert codes("bug.py") == {"RNN103"}
    assert codes("--config", "other.toml", "bug.py") == {"RNN101"}
    assert codes("--isolated", "bug.py") == {"RNN001", "RNN101", "RNN103"}
    settings = _settings(rnnshape(tmp_path, "check", "--show-settings", "--config", "other.toml",
                                  "bug.py").stdout)
    assert settings["configuration file"] == str(tmp_path / "other.toml")
    assert settings["rules"] == "1 enabled: RNN101"


@pytest.mark.parametrize("body, message", [
    (None, "cannot read: no such file"),
    ("select = [", "invalid TOML"),
    ('select = ["XYZ9"]', 'unknown rule code or prefix "XYZ9"'),
])
def test_config_that_cannot_be_used_is_exit_2(tmp_path, body, message):
    bug(tmp_path)
    if body is not None:
        (tmp_path / "bad.toml").write_text(body, encoding="utf-8")
    result = rnnshape(tmp_path, "check", "--config", "bad.toml", "bug.py")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("rnnshape: error: ") and message in result.stderr


def test_show_settings(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.rnnshape]\nignore = ["RNN1"]\noutput-format = "concise"\n'
        'per-file-ignores = { "tests/*" = ["RNN001"] }\n', encoding="utf-8")
    result = rnnshape(tmp_path, "fix", "--show-settings", "tests/a.py")
    assert result.returncode == 0 and result.stderr == ""
    settings = _settings(result.stdout)
    ours = sorted(c for c in REGISTRY if not c.startswith("RNN1") and c != "RNN001")
    assert settings["path"] == "tests/a.py"
    assert settings["configuration file"] == str(tmp_path / "pyproject.toml")
    assert settings["rules"] == f"{len(ours)} enabled: {', '.join(ours)}"
    assert settings["per-file-ignores"] == "tests/* = RNN001"
    assert settings["output-format"] == "concise"
    isolated = _settings(rnnshape(tmp_path, "check", "--show-settings", "--isolated").stdout)
    assert isolated["configuration file"] == "none (isolated)"
    assert isolated["rules"] == f"{len(REGISTRY)} enabled: {', '.join(sorted(REGISTRY))}"
    assert isolated["output-format"] == "full"


def test_show_files(tmp_path):
    for name in ("a.py", "pkg/b.py", "pkg/c.ipynb", "build/d.py", "notes.txt", "skip/e.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "rnnshape.toml").write_text('extend-exclude = ["skip/"]\n', encoding="utf-8")
    result = rnnshape(tmp_path, "check", "--show-files", ".")
    assert result.returncode == 0 and result.stderr == ""
    assert sorted(Path(p).as_posix() for p in result.stdout.splitlines()) == \
        ["a.py", "pkg/b.py", "pkg/c.ipynb"]
    missing = rnnshape(tmp_path, "fix", "--show-files", "a.py", "nope.py")
    assert missing.returncode == 2
    assert missing.stdout == "a.py\n" and "nope.py: error: no such file" in missing.stderr


# --- mistakes on the command line, --help --------------------------------------------------

@pytest.mark.parametrize("args, usage, hint", [
    (("check", "--outptu-format", "json", "x.py"), "usage: rnnshape check", "--output-format"),
    (("check", "--statistcs=1"), "usage: rnnshape check", "--statistics"),
    (("fix", "--exit-non-zero-on-fx"), "usage: rnnshape fix", "--exit-non-zero-on-fix"),
    (("chek", "x.py"), "usage: rnnshape ", "check"),
])
def test_mistyped_option_or_command_suggests_the_closest(args, usage, hint):
    result = rnnshape(ROOT, *args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(usage)
    assert result.stderr.rstrip().endswith(f"(did you mean {hint}?)")


@pytest.mark.parametrize("command", [(), ("check",), ("fix",)])
def test_help_shows_exit_codes_and_examples(command):
    result = rnnshape(ROOT, *command, "--help")
    assert result.returncode == 0
    epilog = result.stdout.split("\nexit codes:\n", 1)[1]
    codes, examples = epilog.split("\nexamples:\n")
    assert [line.split()[0] for line in codes.strip().splitlines()] == ["0", "1", "2"]
    assert "clean" in codes and "findings" in codes and "error" in codes
    listed = [line for line in examples.splitlines() if line.startswith("  rnnshape ")]
    assert len(listed) >= 2


# --- progress ---------------------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_appears_only_after_the_delay():
    clock, stream = Clock(), io.StringIO()
    progress = Progress(stream, enabled=True, delay=2.0, clock=clock)
    progress.start(10)
    clock.now += 1.9
    progress.advance()
    assert stream.getvalue() == ""  # a short run never shows it
    clock.now += 0.2
    progress.advance()
    assert stream.getvalue() == "\r2/10 files checked"
    clock.now += 0.01
    progress.advance()  # redrawn at most ten times a second
    assert stream.getvalue() == "\r2/10 files checked"
    clock.now += 0.2
    progress.advance()
    assert stream.getvalue().endswith("\r4/10 files checked")
    progress.clear()
    assert stream.getvalue().endswith("\r\x1b[2K")
    progress.close()  # nothing shown: nothing to erase
    assert stream.getvalue().count("\x1b[2K") == 1


def test_progress_is_off_when_disabled():
    clock, stream = Clock(), io.StringIO()
    progress = Progress(stream, enabled=False, delay=0.0, clock=clock)
    progress.start(2)
    clock.now += 10
    progress.advance()
    progress.close()
    assert stream.getvalue() == ""


class FakeTerminal(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("tty, term, forced, enabled, delay", [
    (True, "xterm", None, True, 2.0),
    (False, "xterm", None, False, 2.0),
    (True, "dumb", None, False, 2.0),
    (True, "xterm", "never", False, 2.0),
    (False, "dumb", "0.5", True, 0.5),
])
def test_progress_only_on_a_terminal_unless_forced(monkeypatch, tty, term, forced, enabled,
                                                    delay):
    monkeypatch.setenv("TERM", term)
    if forced is None:
        monkeypatch.delenv("RNNSHAPE_PROGRESS", raising=False)
    else:
        monkeypatch.setenv("RNNSHAPE_PROGRESS", forced)
    progress = Progress.for_stream(FakeTerminal(tty))
    assert (progress.enabled, progress.delay) == (enabled, delay)


def test_progress_on_the_command_line_goes_to_stderr_only(tmp_path):
    shutil.copyfile(SEED_OK, tmp_path / "a.py")
    shutil.copyfile(SEED_OK, tmp_path / "b.py")
    plain = rnnshape(tmp_path, "check", "--no-cache", "--jobs", "1", ".")
    assert plain.stderr == ""  # captured: never shown
    # bytes: text mode would read each \r as a line break
    forced = subprocess.run([sys.executable, "-m", "rnnshape", "check", "--no-cache", "--jobs",
                             "1", "."], cwd=tmp_path, env=_env(RNNSHAPE_PROGRESS="0"),
                            capture_output=True, timeout=120)
    assert forced.stdout.decode("utf-8") == plain.stdout
    assert forced.stderr == b"\r1/2 files checked\r2/2 files checked\r\x1b[2K"


# --- --watch ----------------------------------------------------------------------------------

def _lines(stream, sink: queue.Queue) -> None:
    for line in stream:
        sink.put(line)
    sink.put(None)


def _until(sink: queue.Queue, pattern: str) -> list[str]:
    seen = []
    while True:
        line = sink.get(timeout=60)  # a safety net, not a measurement
        assert line is not None, "".join(seen)
        seen.append(line)
        if re.search(pattern, line):
            return seen


def test_watch_checks_again_when_a_file_changes(tmp_path):
    target = tmp_path / "a.py"
    shutil.copyfile(SEED_OK, target)
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnshape", "check", "--no-cache", "--watch", "--select",
         "RNN001", "--output-format", "concise", "."],
        cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        encoding="utf-8")
    out, err = queue.Queue(), queue.Queue()
    for stream, sink in ((proc.stdout, out), (proc.stderr, err)):
        threading.Thread(target=_lines, args=(stream, sink), daemon=True).start()
    try:
        assert _until(out, r"^All checks passed")[-1] == "All checks passed (1 file).\n"
        _until(err, r"^Watching for file changes")
        shutil.copyfile(SEED_BUG, target)
        second = _until(out, r"^Found ")
        assert [line.split(": ")[1].split()[0] for line in second[:-1]] == ["RNN001"] * 3
        assert second[-1].startswith("Found 3 findings")
        assert "File change detected" in "".join(_until(err, r"^Watching for file changes"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
