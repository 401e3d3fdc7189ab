"""What the commands share: the configuration under the command line, where the report goes,
and the reports."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager, nullcontext, redirect_stdout
from pathlib import Path
from typing import ContextManager, Iterator, Optional, Sequence

from rnnshape.config import Config, ConfigError, load_config, load_config_file
from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.report.terminal import Terminal
from rnnshape.rules import REGISTRY, all_rules

MACHINE_FORMATS = ("json", "json-lines", "sarif")  # the formats that print each fix's edits
TEXT_FORMATS = ("full", "concise")  # for a person: a summary and statistics follow


def _codes(text: Optional[str]) -> Optional[list[str]]:
    if text is None:
        return None
    return [c.strip().upper() for c in text.split(",") if c.strip()]


def config_from(args) -> Config:
    """The project configuration with the command line on top.  Raises FileError (a bad
    flag) or ConfigError (a bad file), each one line."""
    select, extend, ignore = (_codes(getattr(args, name, None))
                              for name in ("select", "extend_select", "ignore"))
    for code in (select or []) + (extend or []) + (ignore or []):
        if code != "ALL" and not any(known.startswith(code) for known in REGISTRY):
            raise FileError("<command line>", f"unknown rule code or prefix: {code}")
    if getattr(args, "config", None):
        config = load_config_file(args.config, set(REGISTRY))
    elif getattr(args, "isolated", False):
        config = Config(path=None, root=Path.cwd())
    else:
        config = load_config(os.getcwd(), set(REGISTRY))  # ConfigError names the file and key
    return config.merged_with(select=select, extend_select=extend, ignore=ignore,
                              output_format=getattr(args, "output_format", None),
                              unsafe_fixes=True if getattr(args, "unsafe_fixes", False) else None)


def usage_error(err: Terminal, exc: Exception) -> int:
    message = exc.message if isinstance(exc, FileError) else str(exc)
    err.print(f"rnnshape: error: {message}")
    return 2


def consoles(args=None) -> tuple[Terminal, Terminal]:
    """(report, errors) on the current stdout and stderr, coloured as ``--color`` says."""
    color = {"always": True, "never": False}.get(getattr(args, "color", "auto"))
    return Terminal(sys.stdout, color), Terminal(sys.stderr, color)


@contextmanager
def _stdout_to(handle) -> Iterator[None]:
    with handle, redirect_stdout(handle):
        yield


def report_target(args) -> ContextManager[None]:
    """Standard output, while the report is written, turned to ``--output-file`` or (for
    ``--quiet``) to nowhere; every renderer writes to ``sys.stdout``, so they all follow.
    FileError when the file cannot be opened."""
    if getattr(args, "quiet", False):
        return _stdout_to(open(os.devnull, "w", encoding="utf-8"))
    path = getattr(args, "output_file", None)
    if not path:
        return nullcontext()
    try:
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        return _stdout_to(open(path, "w", encoding="utf-8"))
    except OSError as exc:
        raise FileError(path, f"cannot write the report to {path}: {exc.strerror or exc}") \
            from None


def render(out, fmt: str, diagnostics: list[Diagnostic], errors: list[FileError],
           statistics: bool = False, files: Sequence[str] = ()) -> None:
    """Diagnostics in one of the output formats (the summary is the caller's).  ``files``:
    the paths the run looked at (``junit`` reports a clean one as a passing test)."""
    # Each renderer is imported in its branch: a run needs one of them (junit's XML library
    # alone costs more than checking a small file).
    if fmt in ("json", "json-lines"):
        from rnnshape.report.json_report import (render_json, render_json_lines,
                                                 render_statistics_json,
                                                 render_statistics_json_lines)
        if fmt == "json":
            # stdout must stay one JSON document: the statistics replace the list
            print(render_statistics_json(diagnostics) if statistics else render_json(diagnostics))
        else:
            sys.stdout.write(render_statistics_json_lines(diagnostics) if statistics
                             else render_json_lines(diagnostics))
    elif fmt == "sarif":
        from rnnshape.report.sarif import render_sarif
        print(render_sarif(diagnostics, all_rules(), errors=errors))
    elif fmt == "github":
        from rnnshape.report.github import render_github
        sys.stdout.write(render_github(diagnostics))
    elif fmt == "gitlab":
        from rnnshape.report.gitlab import render_gitlab
        print(render_gitlab(diagnostics))
    elif fmt == "junit":
        from rnnshape.report.junit import render_junit
        print(render_junit(diagnostics, files, errors))
    else:
        from rnnshape.report.text import render_concise, render_full, render_statistics
        (render_concise if fmt == "concise" else render_full)(out, diagnostics)
        if statistics:
            render_statistics(out, diagnostics)


def render_counts(out: Terminal, fmt: str, diagnostics: list[Diagnostic],
                  errors: list[FileError]) -> None:
    """``--statistics``: the number of findings per code in place of the findings (a format
    for machines keeps its document: ``render`` says what it does with statistics)."""
    if fmt in TEXT_FORMATS:
        from rnnshape.report.text import render_statistics
        render_statistics(out, diagnostics)
    else:
        render(out, fmt, diagnostics, errors, statistics=True)


__all__ = ["Config", "ConfigError", "MACHINE_FORMATS", "TEXT_FORMATS", "config_from", "consoles",
           "render", "render_counts", "report_target", "usage_error"]


def print_problems(result, errors: list, err, quiet: bool) -> None:
    """A file's warnings (not when quiet) and errors on stderr; errors are kept for the exit
    code."""
    for warning in [] if quiet else result.warnings:
        err.print(warning)
    for error in result.errors:
        errors.append(error)
        err.print(str(error))
