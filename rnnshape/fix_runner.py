"""Runs ``fix`` over many files: apply, diff or gate, then report what remains."""
from __future__ import annotations

import difflib
import sys
from collections import Counter

from rich.console import Console

from rnnshape.api import check_source
from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.files import decode_source, discover, read_source_file, write_atomic
from rnnshape.fixes import Options, fix_text
from rnnshape.report.json_report import render_json
from rnnshape.report.text import render_concise, render_full
from rnnshape.runner import settings_from


def fix_file(path: str, settings, options: Options):
    """(source, new text, applied counts); raises FileError when the file cannot be fixed."""
    source = read_source_file(path)
    try:
        result = fix_text(source.text, path, settings, options)
    except FileError:
        raise
    except RecursionError:
        raise FileError(path, "too deeply nested to analyse") from None
    except Exception as exc:  # a bug of ours must not cost the user this file or the others
        raise FileError(path, f"internal error while fixing: {type(exc).__name__}: {exc}") from None
    return source, result.text, result.applied


def run_fix(args) -> int:
    out = Console(file=sys.stdout, highlight=False, soft_wrap=True)
    err = Console(file=sys.stderr, highlight=False, soft_wrap=True)
    try:
        settings = settings_from(args)
    except FileError as exc:
        err.print(f"rnnshape: error: {exc.message}", markup=False)
        return 2
    options = Options(batch_first=args.batch_first, unsafe=args.unsafe_fixes)
    dry = args.diff or args.check
    if args.paths == ["-"]:
        return _fix_stdin(args, settings, options, err)
    applied: Counter = Counter()
    remaining: list[Diagnostic] = []
    errors: list[FileError] = []
    changed = 0
    for item in discover(args.paths, force_exclude=args.force_exclude):
        if isinstance(item, FileError):
            errors.append(item)
            err.print(str(item), markup=False)
            continue
        try:
            source, new, counts = fix_file(item, settings, options)
            if new != source.text:
                changed += 1
                applied.update(counts)
                if args.diff:
                    sys.stdout.writelines(difflib.unified_diff(
                        source.text.splitlines(keepends=True), new.splitlines(keepends=True),
                        fromfile=f"a/{item}", tofile=f"b/{item}"))
                elif not args.check:
                    write_atomic(item, source.encode(new))
            if not dry:
                remaining.extend(check_source(new, item, settings, batch_first=args.batch_first))
        except FileError as exc:
            errors.append(exc)
            err.print(str(exc), markup=False)
        except OSError as exc:
            error = FileError(item, f"cannot write: {exc.strerror or exc}")
            errors.append(error)
            err.print(str(error), markup=False)
    if not dry:
        if args.output_format == "json":
            print(render_json(remaining))
        elif args.output_format == "concise":
            render_concise(out, remaining)
        else:
            render_full(out, remaining)
    total = sum(applied.values())
    per_code = ", ".join(f"{code}: {n}" for code, n in sorted(applied.items()))
    verb = "Would fix" if dry else "Fixed"
    summary = f"{verb} {total} finding{'s' if total != 1 else ''}"
    summary += f" ({per_code})" if per_code else ""
    summary += f" in {changed} file{'s' if changed != 1 else ''}."
    if not dry and remaining:
        summary += f" {len(remaining)} remaining."
    (err if args.diff or args.output_format == "json" else out).print(summary, markup=False)
    if errors:
        return 2
    if dry:
        return 1 if changed else 0
    return 1 if remaining else 0


def _fix_stdin(args, settings, options: Options, err: Console) -> int:
    """``fix -``: the fixed source goes to stdout (like a formatter), the summary to stderr."""
    name = args.stdin_filename or "-"
    data = sys.stdin.buffer.read()
    try:
        source = decode_source(data, name)
        result = fix_text(source.text, name, settings, options)
    except FileError as exc:
        err.print(str(exc), markup=False)
        sys.stdout.buffer.write(data)  # an editor piping through us must not lose the buffer
        return 2
    if args.diff:
        sys.stdout.writelines(difflib.unified_diff(
            source.text.splitlines(keepends=True), result.text.splitlines(keepends=True),
            fromfile=f"a/{name}", tofile=f"b/{name}"))
    elif not args.check:
        sys.stdout.write(result.text)
    changed = result.text != source.text
    if args.diff or args.check:
        return 1 if changed else 0
    remaining = check_source(result.text, name, settings, batch_first=args.batch_first)
    return 1 if remaining else 0
