"""Runs ``check`` over many files: configuration, discovery, per-file isolation in parallel,
the cache, reporting and the exit code."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Iterator, Optional

from rnnshape.api import Settings
from rnnshape.cache import Cache, open_cache
from rnnshape.config import Config, ConfigError, load_config
from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.files import decode_source, discover, read_bytes, read_source
from rnnshape.guard import DEFAULT_MEGABYTES, DEFAULT_SECONDS, guarded, limit_memory
from rnnshape.parallel import default_jobs, ordered_map
from rnnshape.rules import REGISTRY, all_rules
from rnnshape.units import check_unit


@dataclass(frozen=True)
class Selection:
    """Which rules run on which file: the project configuration under the command line."""

    config: Config
    codes: frozenset

    def for_file(self, path: str) -> Settings:
        return Settings(select=self.config.enabled_codes(path, self.codes))

    def excluded(self, path: str, root: Optional[str] = None) -> bool:
        return self.config.is_excluded(path, root)


def _codes(text: Optional[str]) -> Optional[list[str]]:
    if text is None:
        return None
    return [c.strip().upper() for c in text.split(",") if c.strip()]


def selection_from(args) -> Selection:
    """Raises FileError (a bad flag) or ConfigError (a bad file), each one line."""
    all_rules()
    select, extend, ignore = (_codes(getattr(args, name, None))
                              for name in ("select", "extend_select", "ignore"))
    for code in (select or []) + (extend or []) + (ignore or []):
        if code != "ALL" and not any(known.startswith(code) for known in REGISTRY):
            raise FileError("<command line>", f"unknown rule code or prefix: {code}")
    config = load_config(os.getcwd(), set(REGISTRY))  # ConfigError names the file and key
    config = config.merged_with(select=select, extend_select=extend, ignore=ignore,
                                output_format=getattr(args, "output_format", None),
                                unsafe_fixes=True if getattr(args, "unsafe_fixes", False) else None)
    return Selection(config, frozenset(REGISTRY))


def settings_from(args) -> Settings:
    """One Settings for every file (no per-file ignores): for library callers and bench."""
    selection = selection_from(args)
    return Settings(select=selection.config.enabled_codes("<all>", selection.codes))


def check_file(path: str, settings: Settings) -> list[Diagnostic]:
    """Diagnostics for one path; raises FileError for anything that stops it being checked."""
    return check_text(path, read_source(path), settings)


def check_text(path: str, text: str, settings: Settings, edits: bool = True,
               seconds: float = DEFAULT_SECONDS) -> list[Diagnostic]:
    return guarded(path, lambda: check_unit(path, text, settings, edits=edits), seconds)


@dataclass(frozen=True)
class _Job:
    """One file's work, picklable for the process pool."""

    selection: Selection
    cache: Optional[Cache]
    edits: bool = True
    seconds: float = DEFAULT_SECONDS

    def __call__(self, path: str):
        settings = self.selection.for_file(path)
        try:
            data = read_bytes(path)
        except FileError as exc:
            return exc
        key = None
        if self.cache is not None:
            key = self.cache.key(path, data, ",".join(sorted(settings.select or ())) +
                                 ("+edits" if self.edits else ""))
            hit = self.cache.get(key)
            if hit is not None:
                return _named(hit, path)
        try:
            result = check_text(path, decode_source(data, path).text, settings, self.edits,
                                self.seconds)
        except FileError as exc:
            result = exc
        if key is not None:
            self.cache.put(key, result)
        return result


def check_paths(paths: list[str], selection, jobs: int = 1, cache: Optional[Cache] = None,
                force_exclude: bool = False, stdin_filename: Optional[str] = None,
                edits: bool = True, seconds: float = DEFAULT_SECONDS,
                megabytes: float = DEFAULT_MEGABYTES) -> Iterator[tuple[str, object]]:
    """(path, diagnostics or FileError) for every file under ``paths``, in discovery order.

    ``selection`` is a Selection, or a Settings applied to every file.  ``-`` reads the source
    from standard input and reports it as ``stdin_filename``.
    """
    if isinstance(selection, Settings):
        selection = _Fixed(selection)
    if paths == ["-"]:
        name = stdin_filename or "-"
        try:
            text = decode_source(sys.stdin.buffer.read(), name).text
            yield name, check_text(name, text, selection.for_file(name), edits)
        except FileError as exc:
            yield name, exc
        return
    items = list(discover(paths, force_exclude=force_exclude, exclude=selection.excluded))
    files = [item for item in items if not isinstance(item, FileError)]
    results = iter(ordered_map(_Job(selection, cache, edits, seconds), files, jobs,
                               on_crash=_crashed, initializer=limit_memory,
                               initargs=(megabytes,)))
    for item in items:
        if isinstance(item, FileError):
            yield item.filename, item
        else:
            yield item, next(results)


def _named(result, path: str):
    """A cached result as this run spells the path (``a.py``, ``./a.py`` share one entry)."""
    if isinstance(result, FileError):
        return FileError(path, result.message, result.row)
    for diagnostic in result:
        diagnostic.filename = path
    return result


def _crashed(path: str) -> FileError:
    # Twice, in a fresh process: a native crash or the memory cap, not bad luck.
    return FileError(path, "skipped: the checker's process died on this file (out of memory "
                           "or a crash in the parser; see --file-memory)")


@dataclass(frozen=True)
class _Fixed:
    settings: Settings

    def for_file(self, path: str) -> Settings:
        return self.settings

    def excluded(self, path: str, root: Optional[str] = None) -> bool:
        return False


def usage_message(exc: Exception) -> str:
    return exc.message if isinstance(exc, FileError) else str(exc)


MACHINE_FORMATS = ("json", "sarif")  # the formats that print each fix's edits


def render(out, fmt: str, diagnostics: list[Diagnostic], errors: list[FileError],
           statistics: bool = False) -> None:
    """Diagnostics in one of the output formats (the summary is the caller's)."""
    # Imported here: rich and the renderers cost start-up time a cached or empty run can skip.
    from rnnshape.report.github import render_github
    from rnnshape.report.json_report import render_json, render_statistics_json
    from rnnshape.report.sarif import render_sarif
    from rnnshape.report.text import render_concise, render_full, render_statistics

    if fmt == "json":
        # stdout must stay one JSON document, so the statistics replace the list, not follow it.
        print(render_statistics_json(diagnostics) if statistics else render_json(diagnostics))
    elif fmt == "sarif":
        print(render_sarif(diagnostics, all_rules(), errors=errors))
    elif fmt == "github":
        sys.stdout.write(render_github(diagnostics))
    elif fmt == "concise":
        render_concise(out, diagnostics)
    else:
        render_full(out, diagnostics)
    if statistics and fmt not in ("json", "sarif", "github"):
        render_statistics(out, diagnostics)


def consoles():
    from rich.console import Console
    return (Console(file=sys.stdout, highlight=False, soft_wrap=True),
            Console(file=sys.stderr, highlight=False, soft_wrap=True))


def run_check(args) -> int:
    out, err = consoles()
    try:
        selection = selection_from(args)
    except (FileError, ConfigError) as exc:
        err.print(f"rnnshape: error: {usage_message(exc)}", markup=False)
        return 2
    fmt = selection.config.output_format or "full"
    diagnostics: list[Diagnostic] = []
    errors: list[FileError] = []
    files = 0
    cache = open_cache(not args.no_cache, Settings())
    jobs = args.jobs or default_jobs()
    for _, result in check_paths(args.paths, selection, jobs, cache, args.force_exclude,
                                 args.stdin_filename, edits=fmt in MACHINE_FORMATS,
                                 seconds=args.file_timeout, megabytes=args.file_memory):
        if isinstance(result, FileError):
            errors.append(result)
            err.print(str(result), markup=False)
            continue
        diagnostics.extend(result)
        files += 1  # checked files only: the summary counts the unreadable ones apart
    render(out, fmt, diagnostics, errors, args.statistics)
    if fmt in ("full", "concise"):
        from rnnshape.report.text import render_summary
        render_summary(out, diagnostics, errors, files)
    if errors:
        return 2
    if diagnostics and not args.exit_zero:
        return 1
    return 0
