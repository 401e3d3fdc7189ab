"""Runs ``fix`` over many files in parallel: apply, diff or gate, then report what remains."""
from __future__ import annotations

import difflib
import sys
from collections import Counter
from dataclasses import dataclass

from rnnshape.config import ConfigError
from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.files import decode_source, discover, read_source_file, write_atomic
from rnnshape.fixes import Options
from rnnshape.guard import DEFAULT_SECONDS, guarded, limit_memory
from rnnshape.parallel import default_jobs, ordered_map
from rnnshape.runner import (MACHINE_FORMATS, Selection, _crashed, consoles, render,
                             selection_from, usage_message)
from rnnshape.units import check_unit, fix_unit


@dataclass(frozen=True)
class _FixJob:
    """One file: its source, the fixed text, what was applied and what remains."""

    selection: Selection
    options: Options
    report: bool
    edits: bool = True
    seconds: float = DEFAULT_SECONDS

    def __call__(self, path: str):
        settings = self.selection.for_file(path)
        try:
            source = read_source_file(path)
            new, applied = guarded(path, lambda: fix_unit(path, source.text, settings, self.options),
                                    self.seconds)
            remaining = []
            if self.report:
                remaining = guarded(path, lambda: check_unit(path, new, settings,
                                                              self.options.batch_first, self.edits),
                                     self.seconds)
        except FileError as exc:
            return exc
        return source, new, Counter(applied), remaining


def run_fix(args) -> int:
    out, err = consoles()
    try:
        selection = selection_from(args)
    except (FileError, ConfigError) as exc:
        err.print(f"rnnshape: error: {usage_message(exc)}", markup=False)
        return 2
    config = selection.config
    options = Options(batch_first=args.batch_first, unsafe=bool(config.unsafe_fixes))
    fmt = config.output_format or "full"
    dry = args.diff or args.check
    if args.paths == ["-"]:
        return _fix_stdin(args, selection, options, err)
    applied: Counter = Counter()
    remaining: list[Diagnostic] = []
    errors: list[FileError] = []
    changed = 0
    items = list(discover(args.paths, force_exclude=args.force_exclude, exclude=selection.excluded))
    files = [item for item in items if not isinstance(item, FileError)]
    results = iter(ordered_map(_FixJob(selection, options, not dry, fmt in MACHINE_FORMATS,
                                       args.file_timeout),
                               files, default_jobs(),
                               on_crash=_crashed, initializer=limit_memory,
                               initargs=(args.file_memory,)))
    for item in items:
        result = item if isinstance(item, FileError) else next(results)
        if isinstance(result, FileError):
            errors.append(result)
            err.print(str(result), markup=False)
            continue
        source, new, counts, left = result
        remaining.extend(left)
        if new == source.text:
            continue
        if args.diff:
            sys.stdout.writelines(difflib.unified_diff(
                source.text.splitlines(keepends=True), new.splitlines(keepends=True),
                fromfile=f"a/{item}", tofile=f"b/{item}"))
        elif not args.check:
            try:
                write_atomic(item, source.encode(new))
            except OSError as exc:
                error = FileError(item, f"cannot write: {exc.strerror or exc}")
                errors.append(error)
                err.print(str(error), markup=False)
                continue
        changed += 1
        applied.update(counts)
    if not dry:
        render(out, fmt, remaining, errors)
    total = sum(applied.values())
    per_code = ", ".join(f"{code}: {n}" for code, n in sorted(applied.items()))
    verb = "Would fix" if dry else "Fixed"
    summary = f"{verb} {total} finding{'s' if total != 1 else ''}"
    summary += f" ({per_code})" if per_code else ""
    summary += f" in {changed} file{'s' if changed != 1 else ''}."
    if not dry and remaining:
        summary += f" {len(remaining)} remaining."
    machine = fmt in ("json", "sarif", "github")
    (err if args.diff or machine else out).print(summary, markup=False)
    if errors:
        return 2
    if dry:
        return 1 if changed else 0
    return 1 if remaining else 0


def _fix_stdin(args, selection: Selection, options: Options, err) -> int:
    """``fix -``: the fixed source goes to stdout (like a formatter), the summary to stderr."""
    name = args.stdin_filename or "-"
    settings = selection.for_file(name)
    data = sys.stdin.buffer.read()
    try:
        source = decode_source(data, name)
        new, _ = guarded(name, lambda: fix_unit(name, source.text, settings, options))
    except FileError as exc:
        err.print(str(exc), markup=False)
        sys.stdout.buffer.write(data)  # an editor piping through us must not lose the buffer
        return 2
    if args.diff:
        sys.stdout.writelines(difflib.unified_diff(
            source.text.splitlines(keepends=True), new.splitlines(keepends=True),
            fromfile=f"a/{name}", tofile=f"b/{name}"))
    elif not args.check:
        sys.stdout.write(new)
    if args.diff or args.check:
        return 1 if new != source.text else 0
    return 1 if check_unit(name, new, settings, options.batch_first) else 0
