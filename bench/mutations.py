#!/usr/bin/env python3
"""Recall on real code: put a layout bug into every shaped recurrent module of the corpus and
count how many of them rnnshape reports.

    python bench/mutations.py [--cache DIR] [--group script|library]
    python bench/mutations.py FILE...      # the same mutation on given files (e.g. examples/)

The corpus (bench/corpus.py, same pinned projects and cache) has only correct recurrent code,
so its findings say nothing about recall.  Here each recurrent module (RNN/LSTM/GRU, not the
cells) that the tracker feeds an input of known shape gets one mutation: its ``batch_first``
is flipped (added as ``batch_first=True``, or an existing ``True`` set to ``False``).  The
input keeps its layout, so the module now reads batch as time and time as batch: the bug the
project exists to catch.  Whether the file can prove it depends on the input: a mutant is
*judgeable* when dims 0 and 1 are not provably equal and the file says which one is the batch or the
time (a role, from a DataLoader batch, a sequence length, a name such as ``seq_len``...).
``torch.ones(2, 3, 4)`` says neither: read either way it is a valid input, and flipping
``batch_first`` changes no shape downstream (a silent swap), so no static tool can call it
wrong.  A mutant is *detected* when ``check`` reports a shape finding (RNN0xx) that the
original file did not have (so a file that is already wrong in the same way shows nothing new).

Prints one row per mutant (file, line of the module, input shape, visible, detected, the new
codes) and the totals.  Nothing is written; the corpus must have been fetched by corpus.py.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import corpus  # noqa: E402  (the pinned projects, their cache and notebook handling)

KINDS = {"RNN", "LSTM", "GRU"}


def flipped(call):
    """The constructor call with its batch_first flipped."""
    import libcst

    from rnnshape.fixkit import set_keyword
    current = next((arg.value for arg in call.args
                    if arg.keyword is not None and arg.keyword.value == "batch_first"), None)
    value = "False" if getattr(current, "value", None) == "True" else "True"
    return set_keyword(call, "batch_first", libcst.Name(value))


def shape_codes(check_source, text: str) -> Counter:
    return Counter(d.code for d in check_source(text, "m.py") if d.code.startswith("RNN0"))


def mutants(text: str):
    """(module line, input shape, judgeable) and the mutated text, per shaped recurrent module."""
    import libcst

    from rnnshape.api import analyze
    analysis = analyze(text, "m.py")
    if analysis is None:
        return
    shaped: dict[int, list] = {}
    for call in analysis.facts.recurrent_calls:
        node = getattr(call.module, "node", None)
        if call.module.kind in KINDS and isinstance(node, libcst.Call) and \
                getattr(call.shape, "dims", None) is not None and len(call.shape.dims) == 3:
            shaped.setdefault(id(node), [node, []])[1].append(call)
    for node, calls in shaped.values():
        dims = calls[0].shape.dims
        # The module reads dims 0 and 1 the other way round: a provable bug only when they
        # may differ and the file gave one of them a batch or time role.
        visible = any(c.shape.dims[0].same(c.shape.dims[1]) is not True and
                      {c.shape.dims[0].role, c.shape.dims[1].role} & {"batch", "time"}
                      for c in calls)
        mutated = analysis.module.deep_replace(node, flipped(node)).code
        row = analysis.positions[node].start.line
        yield row, "(" + ", ".join(str(d) for d in dims) + ")", visible, mutated


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=corpus.DEFAULT_CACHE)
    parser.add_argument("--group", choices=("library", "script"))
    parser.add_argument("files", nargs="*", type=Path, help="mutate these instead of the corpus")
    args = parser.parse_args(argv)
    from rnnshape.api import check_source

    cache = args.cache.expanduser().resolve()
    totals = Counter()
    print("| file | module line | input shape | judgeable | detected | new codes |")
    print("|---|---|---|---|---|---|")
    sources = [("", path.parent, [path]) for path in args.files]
    if not args.files:
        sources = [(f"{p.name}/", root, corpus.python_files(root)) for p in corpus.PROJECTS
                   if not args.group or p.group == args.group
                   for root in [corpus.fetch(p, cache)]]
    for prefix, root, paths in sources:
        for path in paths:
            text = path.read_text(encoding="utf-8", errors="replace")
            if not any(kind in text for kind in KINDS):
                continue
            text = corpus.program_text(path, text)
            try:
                found = list(mutants(text))
            except Exception as exc:  # a file the tracker cannot take is not a mutant
                print(f"skipped {prefix}{path.relative_to(root)}: {exc}", file=sys.stderr)
                continue
            if not found:
                continue
            before = shape_codes(check_source, text)
            for row, shape, visible, mutated in found:
                new = shape_codes(check_source, mutated) - before
                detected = bool(new)
                totals["mutants"] += 1
                totals["judgeable"] += visible
                totals["detected"] += detected
                totals["detected_judgeable"] += detected and visible
                rel = f"{prefix}{path.relative_to(root).as_posix()}"
                codes = ", ".join(f"{c}×{n}" for c, n in sorted(new.items())) or "-"
                print(f"| {rel} | {row} | {shape} | {'yes' if visible else 'no'} | "
                      f"{'yes' if detected else 'no'} | {codes} |")
    print()
    print(f"mutants {totals['mutants']}, judgeable {totals['judgeable']}, detected "
          f"{totals['detected']} ({totals['detected_judgeable']} of the judgeable ones)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
