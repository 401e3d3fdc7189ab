"""Whole trees that are not ours: the standard library through check and fix.

Marked slow.  They assert no internal error, no file touched, and a one-line error for each
file that cannot be used.  The torch package is checked once, in test_robustness.py.
"""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig

import pytest

pytestmark = pytest.mark.slow

STDLIB = sysconfig.get_paths()["stdlib"]


def _mtimes(root):
    return {os.path.join(d, f): os.stat(os.path.join(d, f)).st_mtime_ns
            for d, _, files in os.walk(root) for f in files if f.endswith(".py")}


def _run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "rnnshape", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=900, env={**os.environ, "NO_COLOR": "1"})


def _assert_clean_run(proc):
    assert proc.returncode in (0, 1, 2), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr[-3000:]
    for line in proc.stderr.splitlines():
        if line.startswith(("Would fix", "Fixed")):
            continue  # the summary goes to stderr when stdout carries the diff
        assert ": error: " in line, line  # one line per unusable file, naming it


def test_check_standard_library(tmp_path):
    before = _mtimes(STDLIB)
    proc = _run("check", "--no-cache", "--output-format", "concise", STDLIB, cwd=tmp_path)
    _assert_clean_run(proc)
    # The standard library's test suite holds files that do not parse on purpose; each is one
    # line, and the run goes on: there must be far more checked files than errors.
    summary = proc.stdout.strip().splitlines()[-1]
    assert "files" in summary
    assert len(proc.stderr.splitlines()) < 50, proc.stderr
    assert _mtimes(STDLIB) == before


def test_fix_diff_over_the_standard_library(tmp_path):
    root = STDLIB
    before = _mtimes(root)
    proc = _run("fix", "--diff", root, cwd=tmp_path)
    _assert_clean_run(proc)
    assert _mtimes(root) == before  # --diff writes nothing
    # Every hunk printed must be a well-formed unified diff of a .py file.
    for line in proc.stdout.splitlines():
        if line.startswith("+++ "):
            assert line.endswith(".py"), line
