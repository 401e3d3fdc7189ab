"""Runs ``check`` over many files: discovery, per-file isolation, reporting, exit code."""
from __future__ import annotations

import sys

from rich.console import Console

from rnnshape.api import Settings, check_source
from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.files import discover, read_source
from rnnshape.report.json_report import render_json, render_statistics_json
from rnnshape.report.text import render_concise, render_full, render_statistics, render_summary
from rnnshape.rules import REGISTRY, all_rules


def settings_from(args) -> Settings:
    all_rules()
    select, ignore = _codes(args.select), _codes(args.ignore) or set()
    for code in (select or set()) | ignore:
        if not any(known.startswith(code) for known in REGISTRY):
            raise FileError("<command line>", f"unknown rule code or prefix: {code}")
    return Settings(select=select, ignore=ignore)


def _codes(text):
    if text is None:
        return None
    return {c.strip().upper() for c in text.split(",") if c.strip()}


def check_file(path: str, settings: Settings) -> list[Diagnostic]:
    """Diagnostics for one path; raises FileError for anything that stops it being checked."""
    text = read_source(path)
    try:
        return check_source(text, path, settings)
    except FileError:
        raise
    except RecursionError:
        raise FileError(path, "too deeply nested to analyse") from None
    except Exception as exc:  # a bug of ours must not end the run for the other files
        raise FileError(path, f"internal error: {type(exc).__name__}: {exc}") from None


def run_check(args) -> int:
    out = Console(file=sys.stdout, highlight=False, soft_wrap=True)
    err = Console(file=sys.stderr, highlight=False, soft_wrap=True)
    try:
        settings = settings_from(args)
    except FileError as exc:
        err.print(f"rnnshape: error: {exc.message}", markup=False)
        return 2
    diagnostics: list[Diagnostic] = []
    errors: list[FileError] = []
    files = 0
    for item in discover(args.paths):
        if isinstance(item, FileError):
            errors.append(item)
            err.print(str(item), markup=False)
            continue
        try:
            diagnostics.extend(check_file(item, settings))
        except FileError as exc:
            errors.append(exc)
            err.print(str(exc), markup=False)
            continue
        files += 1  # checked files only: the summary counts the unreadable ones apart
    if args.output_format == "json":
        # stdout must stay one JSON document, so the statistics replace the list, not follow it.
        print(render_statistics_json(diagnostics) if args.statistics else render_json(diagnostics))
    elif args.output_format == "concise":
        render_concise(out, diagnostics)
    else:
        render_full(out, diagnostics)
    if args.statistics and args.output_format != "json":
        render_statistics(out, diagnostics)
    if args.output_format != "json":
        render_summary(out, diagnostics, errors, files)
    if errors:
        return 2
    if diagnostics and not args.exit_zero:
        return 1
    return 0
