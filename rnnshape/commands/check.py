"""``rnnshape check``: every file under the paths, the report, the exit code."""
from __future__ import annotations

import sys
from typing import Iterator, Optional

from rnnshape.cache import Cache, open_cache
from rnnshape.commands.common import (MACHINE_FORMATS, ConfigError, config_from, consoles, render,
                                      usage_error)
from rnnshape.config import Config
from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.files import decode_source
from rnnshape.guard import DEFAULT_MEGABYTES, DEFAULT_SECONDS
from rnnshape.parallel import default_jobs
from rnnshape.per_file import FileJob, FileResult, run_files, run_text


def check_paths(paths: list[str], config: Config, jobs: int = 1, cache: Optional[Cache] = None,
                force_exclude: bool = False, stdin_filename: Optional[str] = None,
                edits: bool = True, seconds: float = DEFAULT_SECONDS,
                megabytes: float = DEFAULT_MEGABYTES, shapes: bool = False
                ) -> Iterator[FileResult]:
    """A result for every file under ``paths``, in discovery order.  ``-`` reads the source
    from standard input and reports it as ``stdin_filename``."""
    job = FileJob(config, edits=edits, cache=cache, seconds=seconds, shapes=shapes)
    if paths == ["-"]:
        name = stdin_filename or "-"
        try:
            text = decode_source(sys.stdin.buffer.read(), name).text
        except FileError as exc:
            yield FileResult(name, errors=[exc])
            return
        yield run_text(name, text, job)
        return
    yield from run_files(paths, job, jobs, force_exclude, megabytes)


def run_check(args) -> int:
    out, err = consoles()
    try:
        config = config_from(args)
    except (FileError, ConfigError) as exc:
        return usage_error(err, exc)
    fmt = config.output_format or "full"
    if args.show_shapes and fmt not in ("full", "concise"):
        return usage_error(err, FileError("<command line>", "--show-shapes prints text: use it "
                                                            "with --output-format full or concise"))
    diagnostics: list[Diagnostic] = []
    errors: list[FileError] = []
    files = 0
    for result in check_paths(args.paths, config, args.jobs or default_jobs(),
                              open_cache(not args.no_cache), args.force_exclude,
                              args.stdin_filename, edits=fmt in MACHINE_FORMATS,
                              seconds=args.file_timeout, megabytes=args.file_memory,
                              shapes=args.show_shapes):
        if result.shapes:
            out.print(result.shapes + "\n")
        for warning in result.warnings:
            err.print(warning)
        for error in result.errors:
            errors.append(error)
            err.print(str(error))
        diagnostics.extend(result.diagnostics)
        # checked files only: the summary counts the unreadable ones apart
        files += not result.errors or bool(result.diagnostics)
    render(out, fmt, diagnostics, errors, args.statistics)
    if fmt in ("full", "concise"):
        from rnnshape.report.text import render_summary
        render_summary(out, diagnostics, errors, files)
    if errors:
        return 2
    if diagnostics and not args.exit_zero:
        return 1
    return 0

