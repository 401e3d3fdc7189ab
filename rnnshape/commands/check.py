"""``rnnshape check``: every file under the paths, the report, the exit code."""
from __future__ import annotations

import sys
from typing import Callable, Iterator, Optional

from rnnshape.api import FixOptions
from rnnshape.cache import Cache, open_cache
from rnnshape.commands.common import (MACHINE_FORMATS, TEXT_FORMATS, ConfigError, config_from,
                                      consoles, print_problems, render, render_counts,
                                      report_target, usage_error)
from rnnshape.config import Config
from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.files import decode_source
from rnnshape.guard import DEFAULT_MEGABYTES, DEFAULT_SECONDS
from rnnshape.parallel import default_jobs
from rnnshape.per_file import FileJob, FileResult, run_files, run_text
from rnnshape.report.progress import Progress
from rnnshape.report.terminal import Terminal


def check_paths(paths: list[str], config: Config, jobs: int = 1, cache: Optional[Cache] = None,
                force_exclude: bool = False, stdin_filename: Optional[str] = None,
                edits: bool = True, seconds: float = DEFAULT_SECONDS,
                megabytes: float = DEFAULT_MEGABYTES, shapes: bool = False,
                options: FixOptions = FixOptions(),
                counted: Optional[Callable[[int], None]] = None) -> Iterator[FileResult]:
    """A result for every file under ``paths``, in discovery order.  ``-`` reads the source
    from standard input and reports it as ``stdin_filename``."""
    job = FileJob(config, options, edits=edits, cache=cache, seconds=seconds, shapes=shapes)
    if paths == ["-"]:
        name = stdin_filename or "-"
        try:
            text = decode_source(sys.stdin.buffer.read(), name).text
        except FileError as exc:
            yield FileResult(name, errors=[exc])
            return
        yield run_text(name, text, job)
        return
    yield from run_files(paths, job, jobs, force_exclude, megabytes, counted)


def run_check(args) -> int:
    if args.fix and args.add_noqa:
        return usage_error(consoles(args)[1], FileError("<command line>",
                                                        "--add-noqa cannot be used with --fix"))
    once = _fix_once if args.fix else check_once
    if not args.watch:
        return once(args)
    if args.paths == ["-"]:
        return usage_error(consoles(args)[1], FileError("<command line>",
                                                        "--watch needs files, not `-`"))
    from rnnshape.commands.watch import watch
    return watch(args, once)


def _fix_once(args) -> int:
    from rnnshape.commands.fix import run_fix  # check without --fix never loads the fixer
    return run_fix(args)


def check_once(args) -> int:
    out, err = consoles(args)
    try:
        config = config_from(args)
    except (FileError, ConfigError) as exc:
        return usage_error(err, exc)
    if args.show_settings or args.show_files:
        from rnnshape.commands.show import show_files, show_settings
        return show_settings(out, args, config) if args.show_settings else \
            show_files(out, err, args, config)
    fmt = config.output_format or "full"
    if args.show_shapes and fmt not in TEXT_FORMATS:
        return usage_error(err, FileError("<command line>", "--show-shapes prints text: use it "
                                                            "with --output-format full or concise"))
    if args.add_noqa and args.paths == ["-"]:
        return usage_error(err, FileError("<command line>", "--add-noqa needs files, not `-`"))
    try:
        target = report_target(args)
    except FileError as exc:
        return usage_error(err, exc)
    with target:
        out, err = consoles(args)
        return _report(args, config, fmt, out, err)


def _report(args, config: Config, fmt: str, out: Terminal, err: Terminal) -> int:
    diagnostics: list[Diagnostic] = []
    errors: list[FileError] = []
    files = 0
    paths: list[str] = []  # every file looked at, for the formats that list clean files too
    progress = Progress.for_stream(sys.stderr)
    try:
        for result in check_paths(args.paths, config, args.jobs or default_jobs(),
                                  open_cache(not args.no_cache), args.force_exclude,
                                  args.stdin_filename, edits=fmt in MACHINE_FORMATS,
                                  seconds=args.file_timeout, megabytes=args.file_memory,
                                  shapes=args.show_shapes,
                                  options=FixOptions(batch_first=args.batch_first),
                                  counted=progress.start):
            progress.advance()
            if result.shapes or result.errors or (result.warnings and not args.quiet):
                progress.clear()  # the counter's line is not left under other output
            if result.shapes:
                out.print(result.shapes + "\n")
            print_problems(result, errors, err, args.quiet)
            diagnostics.extend(result.diagnostics)
            paths.append(result.path)
            # checked files only: the summary counts the unreadable ones apart
            files += not result.errors or bool(result.diagnostics)
    finally:
        progress.close()
    if args.add_noqa:
        from rnnshape.commands.add_noqa import add_noqa_to_files
        return add_noqa_to_files(diagnostics, errors, err, quiet=args.quiet)
    if args.statistics:
        render_counts(out, fmt, diagnostics, errors)
    else:
        render(out, fmt, diagnostics, errors, files=paths)
        if fmt in TEXT_FORMATS:
            from rnnshape.report.text import render_fix_list, render_summary
            if args.show_fixes:
                render_fix_list(out, diagnostics)
            render_summary(out, diagnostics, errors, files)
    if errors:
        return 2
    if diagnostics and not args.exit_zero:
        return 1
    return 0
