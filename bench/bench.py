"""Speed and robustness benchmark of ``rnnshape check`` over a large real tree.

Usage: python bench/bench.py [--tree PATH] [--quick N]

The default tree is the installed torch package: thousands of real files, and
the design promises no crash on any of them.  It is located with find_spec so
that torch is never imported (importing it would take seconds and hundreds of
MiB, and would pollute the measurements of a tool that must not need it).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # bench the working tree, not some installed copy

SINGLE_FILE = REPO / "examples" / "seed" / "onehot_lstm_bug.py"
SINGLE_RUNS = 5


def torch_dir() -> str:
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("bench: torch is not installed; pass --tree PATH")
    return list(spec.submodule_search_locations)[0]


def source_files(tree: str) -> list[str]:
    """Every .py/.pyi file under ``tree``, walked here and not by the CLI's discovery, which
    may skip parts of a tree (.gitignore files above it, folders named build/env/...).
    The library and the bare-parse loop then see exactly these files."""
    found = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        found.extend(os.path.join(dirpath, f) for f in filenames if f.endswith((".py", ".pyi")))
    return sorted(found)


def discovered_count(tree: str) -> int:
    from rnnshape.diagnostic import FileError
    from rnnshape.files import discover
    return sum(1 for f in discover([tree]) if not isinstance(f, FileError))


def run_api(files: list[str]):
    from rnnshape.api import Settings
    from rnnshape.diagnostic import FileError
    from rnnshape.runner import check_file
    settings = Settings()  # built once, as the CLI does
    codes: Counter = Counter()
    errors: list[str] = []
    start = time.perf_counter()
    for path in files:
        try:
            codes.update(d.code for d in check_file(path, settings))
        except FileError as exc:
            errors.append(str(exc))
    return time.perf_counter() - start, codes, errors


def run_bare_parse(files: list[str]):
    import libcst
    from rnnshape.files import read_source
    failed = 0
    start = time.perf_counter()
    for path in files:
        try:
            libcst.parse_module(read_source(path))
        except Exception:  # only the time matters here; failures are counted, not analysed
            failed += 1
    return time.perf_counter() - start, failed


def run_cli(paths: list[str], cwd: str, *flags: str):
    # cwd decides where .rnnshape_cache/ lives: a scratch folder, so runs start cold on purpose.
    cmd = [sys.executable, "-m", "rnnshape", "check", "--output-format", "concise", *flags, *paths]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", help="tree to check (default: the installed torch package)")
    parser.add_argument("--quick", type=int, metavar="N", help="only the first N files")
    args = parser.parse_args()

    tree = os.path.abspath(args.tree or torch_dir())  # the CLI runs in a scratch folder
    files = source_files(tree)
    discovered = discovered_count(tree)
    if discovered != len(files):
        print(f"note: `rnnshape check {tree}` discovers {discovered} of {len(files)} files"
              " (.gitignore, skipped folders); the CLI runs below are given the files by name")
    same_files = discovered == len(files) and not args.quick
    files = files[:args.quick] if args.quick else files
    # The CLI gets the tree itself, as a user would, unless its discovery would check other files.
    cli_paths = [tree] if same_files else files
    print(f"tree: {tree}  ({len(files)} files)")
    if not files:
        return 2

    scratch = tempfile.mkdtemp(prefix="rnnshape-bench-")
    # Median of several runs: interpreter start varies by tens of milliseconds run to run.
    single = [run_cli([str(SINGLE_FILE)], scratch, "--no-cache")[0] for _ in range(SINGLE_RUNS)]

    parse_s, parse_failed = run_bare_parse(files)
    api_s, codes, errors = run_api(files)
    # Cold run fills the scratch cache, the second one is answered from it.
    cli_s, proc = run_cli(cli_paths, scratch)
    warm_s, _ = run_cli(cli_paths, scratch)
    # RUSAGE_CHILDREN's ru_maxrss is the largest single descendant (pool workers included),
    # not a sum.  Linux reports KiB, macOS bytes.
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    rss_mib = rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024
    shutil.rmtree(scratch, ignore_errors=True)

    from rnnshape.parallel import default_jobs
    n = len(files)
    rows = [("bare libcst.parse_module", parse_s), ("check, in process (API)", api_s),
            (f"check, CLI cold, {default_jobs()} jobs", cli_s), ("check, CLI warm cache", warm_s)]
    print(f"\n{'run':<30}{'files':>7}{'seconds':>10}{'files/s':>10}{'vs parse':>10}")
    for name, seconds in rows:
        rate = n / seconds if seconds else float("inf")
        print(f"{name:<30}{n:>7}{seconds:>10.2f}{rate:>10.1f}{seconds / parse_s:>9.2f}x")
    print(f"\nsingle file, subprocess with interpreter start: median {statistics.median(single):.3f} s"
          f"  (runs: {', '.join(f'{s:.3f}' for s in single)})")
    print(f"peak RSS of one subprocess: {rss_mib:.0f} MiB")
    print(f"CLI exit code: {proc.returncode}, stderr lines: {len(proc.stderr.splitlines())};"
          f" bare-parse failures: {parse_failed}")

    print("\nfindings per code (API run):")
    for code, count in sorted(codes.items()):
        print(f"  {code}  {count}")
    if not codes:
        print("  none")
    internal = [e for e in errors if "internal error" in e]
    others = [e for e in errors if "internal error" not in e]
    print(f"\nfile errors: {len(others)}")
    for line in others:
        print(f"  {line}")
    print(f"internal errors: {len(internal)}")
    for line in internal:
        print(f"  {line}")
    # A traceback is a crash outside the per-file isolation: the whole run was lost.
    if "Traceback" in proc.stderr:
        print("\nCLI crashed:\n" + proc.stderr[-2000:])
    return 1 if internal or "Traceback" in proc.stderr else 0


if __name__ == "__main__":
    sys.exit(main())
