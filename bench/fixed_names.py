#!/usr/bin/env python3
"""Fixes never name what is not bound: run ``fix`` on real code and look for undefined names.

    python bench/fixed_names.py [--cache DIR] [--only a,b] [--mutants] [PATH...]

Each corpus project (bench/corpus.py), or each PATH, is copied to a temporary folder twice and
fixed there with the command line, once with ``fix --unsafe-fixes`` and once with
``fix --batch-first --unsafe-fixes``, so every fix rnnshape offers is applied.  Every file the
fix changed is compared with its original: it must still parse, and pyflakes must find no
undefined name in it that the original did not have.  ``--mutants`` also fixes each mutant of
bench/mutations.py's shape operators (one planted layout bug per copy of a file, the cases
where a layout fix is written) in memory, with both strategies.

Prints one row per project and the totals; exits 1 when a fixed file does not parse or gained
an undefined name.
"""
from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pyflakes.checker
import pyflakes.messages

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402  (the pinned projects and their cache)
import mutations  # noqa: E402  (the planted layout bugs)
from rnnshape.api import FixOptions, fix_source  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
STRATEGIES = {"default": ["--unsafe-fixes"], "batch-first": ["--batch-first", "--unsafe-fixes"]}


def undefined(text: str) -> Counter | None:
    """Undefined names of a program (None when it does not parse)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    checker = pyflakes.checker.Checker(tree)
    return Counter(m.message_args[0] for m in checker.messages
                   if isinstance(m, pyflakes.messages.UndefinedName))


def compare(path: Path, before: str, after: str) -> list[str]:
    """Problems the fix brought into one file."""
    old, new = undefined(corpus.program_text(path, before)), \
        undefined(corpus.program_text(path, after))
    if new is None:
        return ["does not parse after the fix"] if old is not None else []
    gained = new - (old or Counter())
    return [f"undefined name `{name}` after the fix" for name in sorted(gained)]


def fix_tree(root: Path, flags: list[str]) -> tuple[Counter, list[str]]:
    """Fix a copy of ``root``; (counts, problems)."""
    counts, problems = Counter(), []
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / root.name
        shutil.copytree(root, copy, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        proc = subprocess.run([sys.executable, "-m", "rnnshape", "fix", *flags,
                               "--output-format", "concise", "."], cwd=copy,
                              capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        if proc.returncode not in (0, 1):
            problems.append(f"fix exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
        for path in corpus.python_files(root):
            rel = path.relative_to(root)
            before = path.read_text(encoding="utf-8", errors="replace")
            fixed = copy / rel
            after = fixed.read_text(encoding="utf-8", errors="replace") if fixed.exists() else ""
            if after == before:
                continue
            counts["files changed"] += 1
            problems += [f"{rel}: {p}" for p in compare(path, before, after)]
    return counts, problems


def fix_mutants(root: Path) -> tuple[Counter, list[str]]:
    """Fix each shape mutant of each file under root in memory, with both strategies."""
    counts, problems = Counter(), []
    shape_ops = tuple(op for op in mutations.OPERATORS if op != mutations.NO_GRAD)
    for path in corpus.python_files(root):
        text = path.read_text(encoding="utf-8", errors="replace")
        if not any(word in text for word in mutations.KINDS):
            continue
        text = corpus.program_text(path, text)
        try:
            found = list(mutations.mutants(text, shape_ops))
        except Exception:  # a file the tracker cannot take has no mutants
            continue
        for mutant in found:
            for name, batch_first in (("default", False), ("batch-first", True)):
                options = FixOptions(unsafe=True, batch_first=batch_first)
                try:
                    result = fix_source(mutant.mutated, str(path), options=options)
                except Exception as exc:
                    problems.append(f"{path.relative_to(root)}:{mutant.line} ({name}): {exc}")
                    continue
                if result.text == mutant.mutated:
                    continue
                counts[f"mutants fixed ({name})"] += 1
                problems += [f"{path.relative_to(root)}:{mutant.line} {mutant.operator} ({name}): "
                             f"{p}" for p in compare(Path(path.name), mutant.mutated, result.text)]
    return counts, problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=corpus.DEFAULT_CACHE)
    parser.add_argument("--only", help="comma-separated corpus project names")
    parser.add_argument("--mutants", action="store_true",
                        help="also fix every shape mutant of bench/mutations.py")
    parser.add_argument("paths", nargs="*", type=Path, help="fix these instead of the corpus")
    args = parser.parse_args(argv)
    if args.paths:
        roots = [(p.name, p.resolve()) for p in args.paths]
    else:
        wanted = set(args.only.split(",")) if args.only else None
        cache = args.cache.expanduser().resolve()
        roots = [(p.name, corpus.fetch(p, cache)) for p in corpus.PROJECTS
                 if wanted is None or p.name in wanted]
    totals, failed = Counter(), []
    print("| project | files changed (default) | files changed (batch-first) | mutants fixed | "
          "problems |")
    print("|---|---|---|---|---|")
    for name, root in roots:
        print(f"{name} ...", file=sys.stderr, flush=True)
        row, problems = Counter(), []
        for strategy, flags in STRATEGIES.items():
            counts, found = fix_tree(root, flags)
            row[strategy] = counts["files changed"]
            problems += [f"{strategy}: {p}" for p in found]
        if args.mutants:
            counts, found = fix_mutants(root)
            row.update(counts)
            problems += found
        mutants = row["mutants fixed (default)"] + row["mutants fixed (batch-first)"]
        print(f"| {name} | {row['default']} | {row['batch-first']} | {mutants} | "
              f"{len(problems)} |")
        totals.update(row)
        failed += [f"{name}: {p}" for p in problems]
    mutants = totals["mutants fixed (default)"] + totals["mutants fixed (batch-first)"]
    print(f"| **total** | {totals['default']} | {totals['batch-first']} | {mutants} | "
          f"{len(failed)} |")
    for problem in failed:
        print(f"- {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
