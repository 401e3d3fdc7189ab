"""``--show-settings`` and ``--show-files``: what a run would use, without running it."""
from __future__ import annotations

from rnnshape.config import Config
from rnnshape.diagnostic import FileError
from rnnshape.files import discover
from rnnshape.parallel import default_jobs
from rnnshape.report.terminal import Terminal
from rnnshape.rules import REGISTRY


def show_settings(out: Terminal, args, config: Config) -> int:
    """The resolved settings for the first path, one ``key = value`` line each."""
    path = args.paths[0] if args.paths else "."
    codes = sorted(config.enabled_codes(path, REGISTRY))
    source = str(config.path) if config.path is not None else \
        "none (isolated)" if getattr(args, "isolated", False) else "none (defaults)"
    lines = [
        ("path", path),
        ("configuration file", source),
        ("project root", str(config.root)),
        ("rules", f"{len(codes)} enabled: {', '.join(codes)}" if codes else "none enabled"),
        ("per-file-ignores", "; ".join(f"{glob} = {', '.join(c)}"
                                       for glob, c in config.per_file_ignores) or "none"),
        ("exclude", ", ".join(config.exclude_patterns) or "none"),
        ("output-format", config.output_format or "full"),
        ("unsafe-fixes", "true" if config.unsafe_fixes else "false"),
        ("jobs", str(getattr(args, "jobs", 0) or default_jobs())),
        ("cache", "off" if getattr(args, "no_cache", False) else ".rnnshape_cache/"),
        ("file-timeout", f"{args.file_timeout:g} s"),
        ("file-memory", f"{args.file_memory:g} MB"),
    ]
    width = max(len(key) for key, _ in lines)
    for key, value in lines:
        out.print(f"{key:<{width}} = {value}")
    return 0


def show_files(out: Terminal, err: Terminal, args, config: Config) -> int:
    """Every file a run over the paths would check, in the order it would check them."""
    failed = False
    for item in discover(args.paths, force_exclude=args.force_exclude,
                         exclude=config.is_excluded):
        if isinstance(item, FileError):
            failed = True
            err.print(str(item))
        else:
            out.print(item)
    return 2 if failed else 0
