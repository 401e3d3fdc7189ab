"""``rnnshape fix`` (and ``check --fix``): apply, diff or gate, then report what remains."""
from __future__ import annotations

import difflib
import sys
from collections import Counter

from rnnshape.api import FixOptions
from rnnshape.commands.common import (MACHINE_FORMATS, TEXT_FORMATS, ConfigError, config_from,
                                      consoles, print_problems, render, render_counts,
                                      report_target, usage_error)
from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.files import decode_source, write_atomic
from rnnshape.parallel import default_jobs
from rnnshape.per_file import FileJob, FileResult, run_files, run_text
from rnnshape.report.progress import Progress
from rnnshape.report.terminal import Terminal
from rnnshape.rules import REGISTRY


def run_fix(args) -> int:
    out, err = consoles(args)
    try:
        config = config_from(args)
    except (FileError, ConfigError) as exc:
        return usage_error(err, exc)
    if args.show_settings or args.show_files:
        from rnnshape.commands.show import show_files, show_settings
        return show_settings(out, args, config) if args.show_settings else \
            show_files(out, err, args, config)
    options = FixOptions(batch_first=args.batch_first, unsafe=bool(config.unsafe_fixes))
    fmt = config.output_format or "full"
    if getattr(args, "verified", False):
        from rnnshape.commands.fix_verified import run_fix_verified  # torch-side: only on demand
        return run_fix_verified(args, config, options, fmt, out, err)
    # ``check --fix`` shares this code; it has no --diff or --check
    diff, gate = getattr(args, "diff", False), getattr(args, "check", False)
    job = FileJob(config, options, fix=True, report=not (diff or gate),
                  edits=fmt in MACHINE_FORMATS, seconds=args.file_timeout)
    if args.paths == ["-"]:
        # The fixed source is data for an editor, not a report: --quiet/--output-file leave it.
        return _fix_stdin(args, job, err, diff, gate)
    try:
        target = report_target(args)
    except FileError as exc:
        return usage_error(err, exc)
    with target:
        out, err = consoles(args)
        return _fix_files(args, job, fmt, out, err, diff, gate)


def _fix_files(args, job: FileJob, fmt: str, out: Terminal, err: Terminal, diff: bool,
               gate: bool) -> int:
    dry = diff or gate
    applied: Counter = Counter()
    fixed: list[tuple[str, Counter]] = []
    remaining: list[Diagnostic] = []
    paths: list[str] = []  # every file looked at, for the formats that list clean files too
    errors: list[FileError] = []
    progress = Progress.for_stream(sys.stderr)
    try:
        for result in run_files(args.paths, job, args.jobs or default_jobs(),
                                args.force_exclude, args.file_memory, progress.start):
            progress.advance()
            if result.errors or (result.warnings and not args.quiet) or (diff and result.changed):
                progress.clear()  # the counter's line is not left under other output
            print_problems(result, errors, err, args.quiet)
            remaining.extend(result.diagnostics)
            paths.append(result.path)
            if not result.changed:
                continue
            if diff:
                _print_diff(result)
            elif not gate and not _write(result, errors, err):
                continue
            fixed.append((result.path, result.applied))
            applied.update(result.applied)
    finally:
        progress.close()
    if not dry:
        if args.statistics:
            render_counts(out, fmt, remaining, errors)
        else:
            render(out, fmt, remaining, errors, files=paths)
    changed = len(fixed)
    # A diff or a machine format owns stdout: what was fixed is said on stderr then.
    aside = err if diff or fmt not in TEXT_FORMATS else out
    if args.show_fixes and not args.quiet:
        from rnnshape.report.text import render_fixed
        render_fixed(aside, fixed, {code: rule.name for code, rule in REGISTRY.items()}, dry)
    if not args.quiet:
        aside.print(_summary(applied, changed, dry, remaining))
    if errors:
        return 2
    if args.exit_zero:
        return 0
    if dry or (args.exit_non_zero_on_fix and changed):
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


def _fix_stdin(args, job: FileJob, err, diff: bool, gate: bool) -> int:
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
    if diff:
        _print_diff(result, name)
    elif not gate:
        sys.stdout.write(result.new_text)
    if result.errors:
        return 2
    if args.exit_zero:
        return 0
    if diff or gate or (args.exit_non_zero_on_fix and result.changed):
        return 1 if result.changed else 0
    return 1 if result.diagnostics else 0
