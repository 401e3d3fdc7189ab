"""Runs ``check`` over many files: discovery, per-file isolation, reporting, exit code."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Iterator, Optional

from rich.console import Console

from rnnshape.api import Settings, check_source
from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.cache import Cache, open_cache
from rnnshape.files import decode_source, discover, read_bytes, read_source
from rnnshape.parallel import default_jobs, ordered_map
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
    return check_text(path, read_source(path), settings)


def check_text(path: str, text: str, settings: Settings) -> list[Diagnostic]:
    try:
        return check_source(text, path, settings)
    except FileError:
        raise
    except RecursionError:
        raise FileError(path, "too deeply nested to analyse") from None
    except Exception as exc:  # a bug of ours must not end the run for the other files
        raise FileError(path, f"internal error: {type(exc).__name__}: {exc}") from None


@dataclass(frozen=True)
class _Job:
    """One file's work, picklable for the process pool."""

    settings: Settings
    cache: Optional[Cache]

    def __call__(self, path: str):
        try:
            data = read_bytes(path)
        except FileError as exc:
            return exc
        key = self.cache.key(path, data) if self.cache is not None else None
        if key is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return hit
        try:
            result = check_text(path, decode_source(data, path).text, self.settings)
        except FileError as exc:
            result = exc
        if key is not None:
            self.cache.put(key, result)
        return result


def check_paths(paths: list[str], settings: Settings, jobs: int = 1,
                cache: Optional[Cache] = None, force_exclude: bool = False,
                stdin_filename: Optional[str] = None) -> Iterator[tuple[str, object]]:
    """(path, diagnostics or FileError) for every file under ``paths``, in discovery order.

    ``-`` reads the source from standard input and reports it as ``stdin_filename``.
    """
    if paths == ["-"]:
        name = stdin_filename or "-"
        try:
            yield name, check_text(name, decode_source(sys.stdin.buffer.read(), name).text, settings)
        except FileError as exc:
            yield name, exc
        return
    items = list(discover(paths, force_exclude=force_exclude))
    files = [item for item in items if not isinstance(item, FileError)]
    results = iter(ordered_map(_Job(settings, cache), files, jobs))
    for item in items:
        if isinstance(item, FileError):
            yield item.filename, item
        else:
            yield item, next(results)


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
    cache = open_cache(not args.no_cache, settings)
    jobs = args.jobs or default_jobs()
    for _, result in check_paths(args.paths, settings, jobs, cache, args.force_exclude,
                                 args.stdin_filename):
        if isinstance(result, FileError):
            errors.append(result)
            err.print(str(result), markup=False)
            continue
        diagnostics.extend(result)
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
