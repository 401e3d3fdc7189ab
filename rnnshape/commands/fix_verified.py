"""``rnnshape fix --verified``: safe fixes as usual; an unsafe fix only with a runtime proof.

One line per unsafe fix says whether it was applied and why (the harness's evidence, or what
it showed instead); then what remains, as ``fix`` reports it.
"""
from __future__ import annotations

import difflib
import importlib.util
import sys
from collections import Counter

from rnnshape.commands.common import TEXT_FORMATS, render
from rnnshape.diagnostic import FileError
from rnnshape.files import decode_source, discover, read_bytes, write_atomic
from rnnshape.rules import REGISTRY


def run_fix_verified(args, config, options, fmt, out, err) -> int:
    if importlib.util.find_spec("torch") is None:
        err.print("rnnshape: error: fix --verified needs torch to run the model: "
                  "pip install 'rnnshape[verify]' (or pip install torch)")
        return 2
    from rnnshape.harness.verified_fix import new_file_text, verified_fix
    from rnnshape.per_file import is_notebook, load_notebook

    # stdout stays one document in the machine formats, and the diff alone with --diff
    notes = err if args.diff or fmt not in TEXT_FORMATS else out
    errors: list[FileError] = []
    remaining = []
    applied: Counter = Counter()
    unsafe = refused = changed = 0
    for path in discover(args.paths, args.force_exclude):
        if isinstance(path, FileError):
            errors.append(path)
            err.print(str(path))
            continue
        try:
            source = decode_source(read_bytes(path), path)
            notebook = load_notebook(source.text, path) if is_notebook(path) else None
            codes = frozenset(config.enabled_codes(path, REGISTRY))
            result = verified_fix(path, source.text, notebook, args.batch_first, codes)
        except FileError as exc:
            errors.append(exc)
            err.print(str(exc))
            continue
        for decision in result.decisions:
            verb = "applied" if decision.applied else "not applied"
            notes.print(f"{path}:{decision.where}: {decision.code} unsafe fix {verb}: {decision.why}")
            unsafe += decision.applied
            refused += not decision.applied
        new_text = new_file_text(result, source.text, notebook)
        if not args.check and not args.diff:
            remaining.extend(_remaining(result, path, options, notebook, new_text))
        if new_text == source.text:
            continue
        changed += 1
        applied.update(result.applied)
        if args.diff:
            sys.stdout.writelines(difflib.unified_diff(
                source.text.splitlines(keepends=True), new_text.splitlines(keepends=True),
                fromfile=f"a/{path}", tofile=f"b/{path}"))
        elif not args.check:
            try:
                write_atomic(path, source.encode(new_text))
            except OSError as exc:
                errors.append(FileError(path, f"cannot write: {exc.strerror or exc}"))
                err.print(str(errors[-1]))
    dry = args.diff or args.check
    if not dry:
        render(out, fmt, remaining, errors)
    total = sum(applied.values())
    per_code = ", ".join(f"{code}: {n}" for code, n in sorted(applied.items()))
    summary = (f"{'Would fix' if dry else 'Fixed'} {total} finding{'s' if total != 1 else ''}"
               f"{f' ({per_code})' if per_code else ''} in {changed} "
               f"file{'s' if changed != 1 else ''}; unsafe fixes verified and applied: {unsafe}, "
               f"not applied: {refused}.")
    if not dry and remaining:
        summary += f" {len(remaining)} remaining."
    notes.print(summary)
    if errors:
        return 2
    if dry:
        return 1 if changed else 0
    return 1 if remaining else 0


def _remaining(result, path, options, notebook, new_text):
    found = result.result.remaining(path, options) if result.result is not None else []
    if notebook is None or not found:
        return found
    from rnnshape.per_file import load_notebook
    fresh = load_notebook(new_text, path)
    return [fresh.map_diagnostic(d) for d in found]
