"""Discovery (gitignore, virtualenvs, force-exclude), stdin, parallel order, the cache."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rnnshape.cache import Cache
from rnnshape.commands.check import check_paths as _check_paths
from rnnshape.config import Config
from rnnshape.files import discover

ROOT = Path(__file__).resolve().parent.parent
BUG = ROOT / "examples" / "seed" / "onehot_lstm_bug.py"
SWAP = "import torch\nlstm = torch.nn.LSTM(4, 8)\nout, h = lstm(torch.zeros(3, 4, 5))\n"


def check_paths(paths, jobs=1, cache=None):
    """(path, diagnostics or the file's error) for each file, as a report lists them."""
    return [(r.path, r.errors[0] if r.errors else r.diagnostics)
            for r in _check_paths(paths, Config(), jobs, cache)]


def _cli(*args, cwd, stdin=None):
    return subprocess.run([sys.executable, "-m", "rnnshape", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)})


@pytest.fixture
def repo(tmp_path):
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    else:
        (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("generated/\n*_tmp.py\n!keep_tmp.py\n")
    for rel in ("src/model.py", "generated/out.py", "src/scratch_tmp.py", "src/keep_tmp.py",
                "src/sub/deep.py", "src/sub/local.py", "venv/lib/x.py", "myenv/lib/y.py",
                "notes.txt"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(SWAP)
    (tmp_path / "src" / "sub" / ".gitignore").write_text("local.py\n")
    (tmp_path / "myenv" / "pyvenv.cfg").write_text("home = /usr\n")
    return tmp_path


def test_walk_honours_gitignore_and_skips_virtualenvs(repo):
    found = sorted(os.path.relpath(p, repo) for p in discover([str(repo)]))
    assert found == ["src/keep_tmp.py", "src/model.py", "src/sub/deep.py"]


def test_git_check_ignore_agrees(repo):
    if not shutil.which("git"):
        pytest.skip("git not installed")
    candidates = ["generated/out.py", "src/scratch_tmp.py", "src/keep_tmp.py", "src/sub/local.py",
                  "src/model.py"]
    proc = subprocess.run(["git", "check-ignore", *candidates], cwd=repo, capture_output=True,
                          text=True)
    ignored_by_git = set(proc.stdout.split())
    found = {os.path.relpath(p, repo) for p in discover([str(repo)])}
    for rel in candidates:
        assert (rel in ignored_by_git) == (rel not in found), rel


def test_explicit_file_is_checked_unless_force_exclude(repo):
    target = str(repo / "generated" / "out.py")
    assert list(discover([target])) == [target]
    assert list(discover([target], force_exclude=True)) == []
    proc = _cli("check", "--force-exclude", target, cwd=repo)
    assert proc.returncode == 0 and "All checks passed (0 files)" in proc.stdout


def test_stdin_check_and_fix(tmp_path):
    proc = _cli("check", "-", "--stdin-filename", "pipe.py", "--output-format", "concise",
                cwd=tmp_path, stdin=BUG.read_text())
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[1].startswith("pipe.py:92:41: RNN001")
    proc = _cli("fix", "-", cwd=tmp_path, stdin=BUG.read_text())
    assert proc.returncode == 0
    fixed = ROOT / "examples" / "seed" / "onehot_lstm_fixed_permute.py"
    assert proc.stdout == fixed.read_text()
    broken = "import torch\nm = torch.nn.LSTM(\n"
    proc = _cli("fix", "-", "--stdin-filename", "b.py", cwd=tmp_path, stdin=broken)
    assert proc.returncode == 2 and proc.stdout == broken and "b.py:2: error: syntax error" in proc.stderr


def _tree(tmp_path, count):
    for i in range(count):
        body = SWAP if i % 3 == 0 else "import torch\nx = torch.zeros(2)\n# LSTM mentioned\n"
        (tmp_path / f"m{i:03d}.py").write_text(body)
    (tmp_path / "m005.py").write_text("def broken(:\n  LSTM\n")


def test_parallel_results_in_input_order(tmp_path):
    _tree(tmp_path, 40)
    serial = check_paths([str(tmp_path)], jobs=1)
    parallel = check_paths([str(tmp_path)], jobs=2)
    assert [p for p, _ in parallel] == [p for p, _ in serial] == sorted(p for p, _ in serial)
    flat = lambda results: [(p, str(r)) if not isinstance(r, list) else  # noqa: E731
                            (p, [(d.code, d.row) for d in r]) for p, r in results]
    assert flat(parallel) == flat(serial)
    assert flat(serial)[0] == (str(tmp_path / "m000.py"), [("RNN001", 3)])
    assert "syntax error" in dict(flat(serial))[str(tmp_path / "m005.py")]


def test_cache_hits_and_invalidation(tmp_path):
    _tree(tmp_path, 20)
    cache = Cache(str(tmp_path / ".cache"))
    cold = check_paths([str(tmp_path)], 1, cache)
    entries = list((tmp_path / ".cache").rglob("*.json"))
    assert len(entries) == 20  # syntax errors are remembered too
    warm = check_paths([str(tmp_path)], 1, cache)
    assert [(p, str(r)) for p, r in warm] == [(p, str(r)) for p, r in cold]
    target = tmp_path / "m003.py"
    target.write_text(SWAP.replace("torch.zeros(3, 4, 5)", "torch.zeros(3, 5, 4)"))
    after = dict(check_paths([str(tmp_path)], 1, cache))
    assert after[str(target)] == []  # the edit fixed it: served fresh, not from the cache
    assert cache.get(cache.key(str(target), target.read_bytes(), "other-settings")) is None


def test_corrupt_cache_entry_is_a_miss(tmp_path):
    (tmp_path / "m.py").write_text(SWAP)
    cache = Cache(str(tmp_path / ".cache"))
    check_paths([str(tmp_path / "m.py")], 1, cache)
    [entry] = list((tmp_path / ".cache").rglob("*.json"))
    entry.write_text("{not json")
    [(_, result)] = check_paths([str(tmp_path / "m.py")], 1, cache)
    assert [(d.code, d.row) for d in result] == [("RNN001", 3)]


def test_cli_cache_and_no_cache(tmp_path):
    (tmp_path / "m.py").write_text(SWAP)
    assert _cli("check", "--no-cache", "m.py", cwd=tmp_path).returncode == 1
    assert not (tmp_path / ".rnnshape_cache").exists()
    first = _cli("check", "m.py", cwd=tmp_path)
    second = _cli("check", "m.py", cwd=tmp_path)
    assert first.returncode == second.returncode == 1 and first.stdout == second.stdout
    assert (tmp_path / ".rnnshape_cache").is_dir()


def test_per_file_time_limit_skips_only_that_file(tmp_path):
    lines = ["import torch", "import torch.nn as nn", "lstm = nn.LSTM(3, 4)"]
    lines += [f"x{i} = torch.zeros({i % 7 + 1}, 3, 3)" for i in range(30000)]
    (tmp_path / "huge.py").write_text("\n".join(lines) + "\n")
    (tmp_path / "small.py").write_text(SWAP)
    proc = _cli("check", "--no-cache", "--file-timeout", "1", "--output-format", "concise",
                "huge.py", "small.py", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("huge.py: error: skipped: took longer than 1 s "
                                   "(raise the limit with --file-timeout)")
    assert proc.stdout.startswith("small.py:3:10: RNN001")
