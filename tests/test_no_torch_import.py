"""``check`` and ``rule`` never import torch or numpy: start-up stays fast, pre-commit envs small.

Each command runs in a fresh interpreter (this test process may well have imported torch
already), which prints the heavy modules it ended up with; the parent asserts on that.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "numpy")

PROBE = """
import contextlib, io, json, sys
from rnnshape.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    code = main({argv!r})
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
print(json.dumps({{"code": code, "loaded": loaded}}))
"""


def run_probe(argv: list[str]) -> dict:
    env = dict(os.environ, NO_COLOR="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    source = PROBE.format(argv=argv, heavy=set(HEAVY))
    result = subprocess.run([sys.executable, "-c", source], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv, code", [
    # --no-cache: a cache hit would skip the analysis whose imports are under test.
    (["check", "--no-cache", "examples/seed/onehot_lstm_bug.py"], 1),
    (["rule", "--all"], 0),
])
def test_command_does_not_import_torch_or_numpy(argv, code):
    outcome = run_probe(argv)
    assert outcome["code"] == code
    assert outcome["loaded"] == []
