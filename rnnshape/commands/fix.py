"""``rnnshape fix``: apply, diff or gate, then report what remains."""
from __future__ import annotations

import difflib
import sys
from collections import Counter

from rnnshape.api import FixOptions
from rnnshape.commands.common import (MACHINE_FORMATS, ConfigError, config_from, consoles, render,
                                      usage_error)
from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.files import decode_source, write_atomic
from rnnshape.parallel import default_jobs
from rnnshape.per_file import FileJob, FileResult, run_files, run_text


def run_fix(args) -> int:
    out, err = consoles()
    try:
        config = config_from(args)
    except (FileError, ConfigError) as exc:
        return usage_error(err, exc)
    options = FixOptions(batch_first=args.batch_first, unsafe=bool(config.unsafe_fixes))
    fmt = config.output_format or "full"
    if getattr(args, "verified", False):
        from rnnshape.commands.fix_verified import run_fix_verified  # torch-side: only on demand
        return run_fix_verified(args, config, options, fmt, out, err)
    dry = args.diff or args.check
    job = FileJob(config, options, fix=True, report=not dry, edits=fmt in MACHINE_FORMATS,
                  seconds=args.file_timeout)
    if args.paths == ["-"]:
        return _fix_stdin(args, job, err)
    applied: Counter = Counter()
    remaining: list[Diagnostic] = []
    errors: list[FileError] = []
    changed = 0
    for result in run_files(args.paths, job, default_jobs(), args.force_exclude,
                            args.file_memory):
        for warning in result.warnings:
            err.print(warning)
        for error in result.errors:
            errors.append(error)
            err.print(str(error))
        remaining.extend(result.diagnostics)
        if not result.changed:
            continue
        if args.diff:
            _print_diff(result)
        elif not args.check and not _write(result, errors, err):
            continue
        changed += 1
        applied.update(result.applied)
    if not dry:
        render(out, fmt, remaining, errors)
    summary = _summary(applied, changed, dry, remaining)
    (err if args.diff or fmt in ("json", "sarif", "github") else out).print(summary)
    if errors:
        return 2
    if dry:
        return 1 if changed else 0
    return 1 if remaining else 0


def _write(result: FileResult, errors: list, err) -> bool:
    try:
        write_atomic(result.path, result.source.encode(result.new_text))
    except OSError as exc:
        error = FileError(result.path, f"cannot write: {exc.strerror or exc}")
        errors.append(error)
        err.print(str(error))
        return False
    return True


def _print_diff(result: FileResult, name: str = "") -> None:
    name = name or result.path
    sys.stdout.writelines(difflib.unified_diff(
        result.source.text.splitlines(keepends=True), result.new_text.splitlines(keepends=True),
        fromfile=f"a/{name}", tofile=f"b/{name}"))


def _summary(applied: Counter, changed: int, dry: bool, remaining: list) -> str:
    total = sum(applied.values())
    per_code = ", ".join(f"{code}: {n}" for code, n in sorted(applied.items()))
    summary = f"{'Would fix' if dry else 'Fixed'} {total} finding{'s' if total != 1 else ''}"
    summary += f" ({per_code})" if per_code else ""
    summary += f" in {changed} file{'s' if changed != 1 else ''}."
    if not dry and remaining:
        summary += f" {len(remaining)} remaining."
    return summary


def _fix_stdin(args, job: FileJob, err) -> int:
    """``fix -``: the fixed source goes to stdout (like a formatter), the summary to stderr."""
    name = args.stdin_filename or "-"
    data = sys.stdin.buffer.read()
    try:
        text = decode_source(data, name).text
    except FileError as exc:
        err.print(str(exc))
        sys.stdout.buffer.write(data)  # an editor piping through us must not lose the buffer
        return 2
    result = run_text(name, text, job)
    if result.errors:
        for error in result.errors:
            err.print(str(error))
        if result.new_text is None or result.new_text == text:
            sys.stdout.buffer.write(data)
            return 2
    if args.diff:
        _print_diff(result, name)
    elif not args.check:
        sys.stdout.write(result.new_text)
    if result.errors:
        return 2
    if args.diff or args.check:
        return 1 if result.changed else 0
    return 1 if result.diagnostics else 0
