"""Bad input never crashes ``check``: every problem is one line on stderr naming the file.

The fast tests feed the CLI broken files one kind at a time; the slow one checks the whole
installed torch package, the design's bar for "no crash on any Python file".
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_env import cli_env

ROOT = Path(__file__).resolve().parent.parent
BUG = ROOT / "examples" / "seed" / "onehot_lstm_bug.py"
# Enough for the prefilter to parse and track the file (a file without it is not parsed).
HEADER = "import torch.nn as nn\nlstm = nn.LSTM(8, 16)\n"
# "path:row: error: message" or "path: error: message"
ERROR_LINE = re.compile(r"^(?P<file>.+?)(?::(?P<row>\d+))?: error: (?P<message>.+)$")


def check(*paths, cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    env = cli_env()
    # --no-cache: every run really reads and parses; a cache hit would hide the code under test.
    cmd = [sys.executable, "-m", "rnnshape", "check", "--no-cache", "--output-format", "concise",
           *map(str, paths)]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          encoding="utf-8", errors="replace", timeout=timeout)


def error_lines(result: subprocess.CompletedProcess) -> list[re.Match]:
    """Every stderr line, each asserted to be a one-line file error."""
    assert "Traceback" not in result.stderr, result.stderr
    assert "internal error" not in result.stderr, result.stderr
    matches = []
    for line in result.stderr.splitlines():
        match = ERROR_LINE.match(line)
        assert match, f"not a one-line file error: {line!r}"
        matches.append(match)
    return matches


def only_error(result: subprocess.CompletedProcess, name: str) -> re.Match:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    [match] = error_lines(result)
    assert match["file"] == name
    return match


def test_syntax_error_is_one_line_and_other_files_still_reported(tmp_path):
    (tmp_path / "broken.py").write_text(HEADER + "def f(:\n    pass\n", encoding="utf-8")
    shutil.copy(BUG, tmp_path / "good.py")
    result = check("broken.py", "good.py", cwd=tmp_path)
    match = only_error(result, "broken.py")
    assert match["row"] == "3"
    assert match["message"].startswith("syntax error")
    assert "good.py:" in result.stdout and "RNN001" in result.stdout


def test_syntax_error_without_recurrent_code_is_still_an_error(tmp_path):
    # A file the prefilter would skip must not pass as clean when it does not even parse.
    (tmp_path / "broken.py").write_text("def f(:\n    pass\n", encoding="utf-8")
    match = only_error(check("broken.py", cwd=tmp_path), "broken.py")
    assert match["message"].startswith("syntax error")


def test_non_utf8_bytes(tmp_path):
    (tmp_path / "latin.py").write_bytes(HEADER.encode() + b'name = "caf\xe9 \xff"\n')
    only_error(check("latin.py", cwd=tmp_path), "latin.py")


def test_utf8_bom_is_checked_normally(tmp_path):
    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbf" + HEADER.encode())
    result = check("bom.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "1 file" in result.stdout


def test_nul_bytes(tmp_path):
    (tmp_path / "nul.py").write_bytes(HEADER.encode() + b"x = 1\x00\n")
    only_error(check("nul.py", cwd=tmp_path), "nul.py")


def test_empty_file_is_checked(tmp_path):
    (tmp_path / "empty.py").write_bytes(b"")
    result = check("empty.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "(1 file)" in result.stdout


def test_directory_named_like_a_file_is_walked(tmp_path):
    # A directory is a directory whatever its name: walked, not read as a file.
    (tmp_path / "x.py").mkdir()
    shutil.copy(BUG, tmp_path / "x.py" / "inner.py")
    result = check("x.py", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert error_lines(result) == []
    assert os.path.join("x.py", "inner.py") + ":" in result.stdout


def test_empty_directory_named_like_a_file(tmp_path):
    (tmp_path / "x.py").mkdir()
    result = check("x.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert error_lines(result) == []


def test_broken_symlink(tmp_path):
    (tmp_path / "link.py").symlink_to(tmp_path / "nowhere.py")
    only_error(check("link.py", cwd=tmp_path), "link.py")


def test_broken_symlink_inside_a_directory(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "link.py").symlink_to(tmp_path / "nowhere.py")
    only_error(check("pkg", cwd=tmp_path), os.path.join("pkg", "link.py"))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads a chmod 000 file anyway")
def test_unreadable_file(tmp_path):
    target = tmp_path / "secret.py"
    target.write_text(HEADER, encoding="utf-8")
    target.chmod(0)
    try:
        match = only_error(check("secret.py", cwd=tmp_path), "secret.py")
        assert "cannot read" in match["message"]
    finally:
        target.chmod(0o644)  # so tmp_path can be cleaned up


def test_missing_path(tmp_path):
    only_error(check("missing.py", cwd=tmp_path), "missing.py")


def test_missing_path_does_not_stop_the_others(tmp_path):
    shutil.copy(BUG, tmp_path / "good.py")
    result = check("missing.py", "good.py", cwd=tmp_path)
    only_error(result, "missing.py")
    assert "good.py:" in result.stdout


def test_very_long_file_finishes(tmp_path):
    lines = [f"x{i} = {i}" for i in range(50_000)]
    (tmp_path / "long.py").write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    result = check("long.py", cwd=tmp_path, timeout=300)
    assert result.returncode in (0, 1), result.stderr
    assert error_lines(result) == []


def test_deeply_nested_expression_is_a_clean_error(tmp_path):
    # CPython refuses more than 200 nested parentheses; libcst's native parser overflows its
    # stack (SIGSEGV) somewhere above 1000, so this must be caught before libcst sees it.
    depth = 3000
    source = HEADER + "x = " + "(" * depth + "1" + ")" * depth + "\n"
    (tmp_path / "deep.py").write_text(source, encoding="utf-8")
    only_error(check("deep.py", cwd=tmp_path), "deep.py")


def test_deeply_nested_file_does_not_end_a_parallel_run(tmp_path):
    # Enough files for the process pool: a worker killed by one file must not take the run down.
    for i in range(40):
        shutil.copy(BUG, tmp_path / f"good{i:02}.py")
    depth = 3000
    (tmp_path / "deep.py").write_text(HEADER + "x = " + "(" * depth + "1" + ")" * depth + "\n",
                                      encoding="utf-8")
    result = check(".", cwd=tmp_path)
    only_error(result, os.path.join(".", "deep.py"))
    assert result.stdout.count("RNN001") == 40 * 3


def test_a_file_over_the_memory_limit_is_skipped_and_the_run_goes_on(tmp_path):
    # Each worker may grow by --file-memory MB; one file that needs far more is skipped with
    # the reason (Python's MemoryError, or the worker aborting in native code), not the run.
    for i in range(20):
        shutil.copy(BUG, tmp_path / f"good{i:02}.py")
    lines = "".join(f"v{i} = lstm(torch.zeros({i % 7 + 1}, 3, 8))\n" for i in range(150_000))
    (tmp_path / "huge.py").write_text("import torch\n" + HEADER + lines, encoding="utf-8")
    result = check(".", "--jobs", "2", "--file-memory", "150", cwd=tmp_path, timeout=300)
    match = only_error(result, os.path.join(".", "huge.py"))
    assert match["message"].startswith("skipped: "), match["message"]
    assert "memory" in match["message"]
    assert result.stdout.count("RNN001") == 20 * 3


# --- the whole installed torch package ------------------------------------------------------

def installed_torch_dir() -> str:
    # find_spec locates the package without importing it (seconds and hundreds of MiB).
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("torch is not installed")
    return list(spec.submodule_search_locations)[0]


@pytest.mark.slow
def test_whole_torch_package_without_a_crash(tmp_path):
    tree = installed_torch_dir()
    result = check(tree, cwd=tmp_path, timeout=1800)
    assert result.returncode in (1, 2), (result.returncode, result.stdout[-500:],
                                         result.stderr[-3000:])
    # The package must really have been checked, not skipped as ignored or excluded.
    checked = re.search(r"in (\d+) files\.|\((\d+) files\)", result.stdout)
    assert checked and int(checked[1] or checked[2]) > 1000, result.stdout[-500:]
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, \
        result.stderr[-3000:]
    for match in error_lines(result):
        assert Path(match["file"]).is_relative_to(tree), match.group(0)
