"""Command line: argument parsing and exit codes.  Each command lives in ``commands/``."""
from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import Optional

from rnnshape import __version__

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
FORMATS = ("full", "concise", "json", "sarif", "github")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnshape",
        description="Shape-checking linter and fixer for PyTorch recurrent-network code.")
    parser.add_argument("--version", action="version", version=f"rnnshape {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check", help="report shape and layout mistakes")
    check.add_argument("paths", nargs="*", default=["."], metavar="PATH")
    check.add_argument("--output-format", choices=FORMATS, default=None,
                       help="default: `output-format` from the configuration, else full")
    check.add_argument("--select", help="comma-separated codes or prefixes to enable")
    check.add_argument("--extend-select", help="codes or prefixes to enable on top of the selection")
    check.add_argument("--ignore", help="comma-separated codes or prefixes to disable")
    check.add_argument("--statistics", action="store_true", help="count findings per code")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even with findings")
    check.add_argument("--jobs", "-j", type=int, default=0, metavar="N",
                       help="processes to use (default: all cores)")
    check.add_argument("--no-cache", action="store_true", help="do not read or write .rnnshape_cache/")
    check.add_argument("--show-shapes", action="store_true",
                       help="print what the tracker sees at each recurrent call: the input's "
                            "shape, what each dim means and why, and why it is or is not a "
                            "finding")

    fix = sub.add_parser("fix", help="apply fixes, then report what remains")
    fix.add_argument("paths", nargs="*", default=["."], metavar="PATH")
    fix.add_argument("--output-format", choices=FORMATS, default=None)
    fix.add_argument("--select", help="comma-separated codes or prefixes to fix and report")
    fix.add_argument("--extend-select", help="codes or prefixes to enable on top of the selection")
    fix.add_argument("--ignore", help="comma-separated codes or prefixes to leave alone")
    fix.add_argument("--unsafe-fixes", action="store_true", help="also apply unsafe fixes")
    fix.add_argument("--batch-first", action="store_true",
                     help="fix layout mismatches by switching modules to batch_first=True")
    fix.add_argument("--verified", action="store_true",
                     help="apply an unsafe fix only when running the model proves it (needs torch)")
    mode = fix.add_mutually_exclusive_group()
    mode.add_argument("--diff", action="store_true", help="print a unified diff, write nothing")
    mode.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 if anything would change")

    verify = sub.add_parser("verify", help="run the model on synthetic tensors to confirm findings")
    verify.add_argument("file", metavar="FILE")
    verify.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu")
    verify.add_argument("--fixed", action="store_true", help="also verify the fixed code")
    verify.add_argument("--batch-first", action="store_true",
                        help="with --fixed: fix layouts by switching to batch_first=True")
    verify.add_argument("--seed", type=int, default=0)
    verify.add_argument("--timeout", type=float, default=60.0, metavar="S")
    verify.add_argument("--output-format", choices=("full", "json"), default="full")

    for command in (check, fix):
        command.add_argument("--file-timeout", type=float, default=60.0, metavar="S",
                             help="skip a file that takes longer than S seconds (0: no limit)")
        command.add_argument("--file-memory", type=float, default=2048, metavar="MB",
                             help="in parallel runs, skip a file whose worker needs more than MB "
                                  "megabytes beyond its start (0: no limit)")
        command.add_argument("--force-exclude", action="store_true",
                             help="skip ignored files even when named explicitly (pre-commit)")
        command.add_argument("--stdin-filename", metavar="NAME",
                             help="the name to report for source read from `-`")

    rule = sub.add_parser("rule", help="show a rule's documentation")
    rule.add_argument("code", nargs="?")
    rule.add_argument("--all", action="store_true", help="list every rule")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_ERROR if exc.code not in (0, None) else EXIT_CLEAN
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    # A run allocates millions of small, long-lived syntax nodes (the parsed files a project
    # keeps): with the default thresholds the collector re-scans that heap thousands of times,
    # a third of a cold run over the torch tree.  Rarer collections leave the memory peak as
    # it was.
    gc.set_threshold(100_000, 50, 100)
    try:
        code = _dispatch(args)
        # Flushed here so that a reader gone early (``| head``) is caught below, not at exit.
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # Python's recommended handling: silence the later flush at interpreter exit instead of
        # printing a traceback about output nobody reads.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR


def _dispatch(args) -> int:
    # Each command is imported when it runs: ``check`` never pays for verify's or fix's code.
    if args.command == "verify":
        from rnnshape.commands.verify import run_verify
        return run_verify(args)
    if args.command == "fix":
        from rnnshape.commands.fix import run_fix
        return run_fix(args)
    if args.command == "check":
        from rnnshape.commands.check import run_check
        return run_check(args)
    if args.command == "rule":
        from rnnshape.commands.rule import run_rule
        return run_rule(args)
    return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
