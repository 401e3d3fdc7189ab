"""Command line: argument parsing and exit codes.  Each command lives in ``commands/``."""
from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import Optional

from rnnshape import __version__

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
FORMATS = ("full", "concise", "json", "sarif", "github", "json-lines", "junit", "gitlab")

EXIT_CODES = """\
exit codes:
  0  clean: no findings (or --exit-zero)
  1  findings (fix: findings remain; with --exit-non-zero-on-fix, also anything fixed)
  2  an error: a bad option or configuration, or a file that could not be read or parsed
"""

TOP_EPILOG = EXIT_CODES + """
examples:
  rnnshape check train.py notebooks/          report shape and layout mistakes
  rnnshape fix --diff train.py                show the fixes without writing them
  rnnshape rule RNN001                        what a rule finds and how to fix it
"""

CHECK_EPILOG = EXIT_CODES + """
examples:
  rnnshape check .                            every .py/.ipynb file under the folder
  rnnshape check --output-format concise --statistics src/
  rnnshape check --watch --select RNN0 train.py
"""

FIX_EPILOG = EXIT_CODES + """
examples:
  rnnshape fix train.py                       apply the safe fixes, report what remains
  rnnshape fix --unsafe-fixes --show-fixes src/
  rnnshape fix --check .                      CI gate: exit 1 if anything would change
"""


class Parser(argparse.ArgumentParser):
    """argparse with a "did you mean" for a mistyped option or command."""

    def suggest(self, word: str, choices) -> str:
        import difflib  # only a mistake pays for it
        close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
        return f" (did you mean {close[0]}?)" if close else ""

    def reject(self, unknown: list[str]) -> None:
        """Exit 2 with this parser's usage, naming the unknown arguments and the nearest option."""
        options = [o for action in self._actions for o in action.option_strings]
        first = next((u for u in unknown if u.startswith("-")), unknown[0])
        hint = self.suggest(first.split("=", 1)[0], options) if first.startswith("-") else ""
        self.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")


def build_parser() -> Parser:
    parser = Parser(
        prog="rnnshape",
        description="Shape-checking linter and fixer for PyTorch recurrent-network code.",
        epilog=TOP_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"rnnshape {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    check = sub.add_parser("check", help="report shape and layout mistakes", epilog=CHECK_EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even with findings")
    check.add_argument("--show-shapes", action="store_true",
                       help="print what the tracker sees at each recurrent call: the input's "
                            "shape, what each dim means and why, and why it is or is not a "
                            "finding")
    check.add_argument("--fix", action="store_true",
                       help="apply the fixes, then report what remains (as `rnnshape fix`)")
    check.add_argument("--unsafe-fixes", action="store_true",
                       help="with --fix: also apply unsafe fixes")
    check.add_argument("--add-noqa", action="store_true",
                       help="append `# noqa: CODE` to every reported line instead of reporting")
    check.add_argument("--watch", action="store_true",
                       help="check again whenever a file changes (Ctrl-C stops)")

    fix = sub.add_parser("fix", help="apply fixes, then report what remains", epilog=FIX_EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    fix.add_argument("--unsafe-fixes", action="store_true", help="also apply unsafe fixes")
    fix.add_argument("--exit-zero", action="store_true", help="exit 0 even when findings remain")
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
        command.add_argument("paths", nargs="*", default=["."], metavar="PATH")
        command.add_argument("--output-format", choices=FORMATS, default=None,
                             help="default: `output-format` from the configuration, else full")
        command.add_argument("--select", help="comma-separated codes or prefixes to enable")
        command.add_argument("--extend-select",
                             help="codes or prefixes to enable on top of the selection")
        command.add_argument("--ignore", help="comma-separated codes or prefixes to disable")
        command.add_argument("--batch-first", action="store_true",
                             help="fix layout mismatches by switching modules to batch_first=True")
        command.add_argument("--exit-non-zero-on-fix", action="store_true",
                             help="exit 1 when anything was fixed, even if nothing remains")
        command.add_argument("--statistics", action="store_true",
                             help="print the number of findings per code instead of the findings")
        command.add_argument("--show-fixes", action="store_true",
                             help="list the fixes available (check) or applied (fix) per finding")
        command.add_argument("-q", "--quiet", action="store_true",
                             help="print nothing but errors (the exit code is unchanged)")
        command.add_argument("-o", "--output-file", metavar="PATH",
                             help="write the report to PATH instead of standard output")
        command.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                             help="auto: on a terminal, unless NO_COLOR is set (FORCE_COLOR "
                                  "forces it)")
        command.add_argument("--show-settings", action="store_true",
                             help="print the settings that apply to the first PATH, and exit")
        command.add_argument("--show-files", action="store_true",
                             help="print the files that would be checked, and exit")
        where = command.add_mutually_exclusive_group()
        where.add_argument("--config", metavar="FILE",
                           help="use this pyproject.toml or rnnshape.toml instead of looking "
                                "for one")
        where.add_argument("--isolated", action="store_true",
                           help="ignore every configuration file")
        command.add_argument("--jobs", "-j", type=int, default=0, metavar="N",
                             help="processes to use (default: all cores)")
        command.add_argument("--no-cache", action="store_true",
                             help="do not read or write .rnnshape_cache/ (fix never reads it)")
        command.add_argument("--file-timeout", type=float, default=60.0, metavar="S",
                             help="skip a file that takes longer than S seconds (0: no limit)")
        command.add_argument("--file-memory", type=float, default=2048, metavar="MB",
                             help="in parallel runs, skip a file whose worker needs more than MB "
                                  "megabytes beyond its start (0: no limit)")
        command.add_argument("--force-exclude", action="store_true",
                             help="skip ignored files even when named explicitly (pre-commit)")
        command.add_argument("--stdin-filename", metavar="NAME",
                             help="the name to report for source read from `-`")

    server = sub.add_parser("server", help="run the language server on standard input and output")
    server.add_argument("--stdio", action="store_true", help="accepted for clients that pass it")

    rule = sub.add_parser("rule", help="show a rule's documentation")
    rule.add_argument("code", nargs="?")
    rule.add_argument("--all", action="store_true", help="list every rule")
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, Parser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def parse(parser: Parser, argv: list[str]) -> argparse.Namespace:
    """The arguments, or SystemExit after a usage error on stderr that names the closest
    command or option."""
    commands = _subparsers(parser)
    first = next((a for a in argv if not a.startswith("-")), None)
    if argv and first is not None and argv[0] == first and first not in commands:
        parser.error(f"unknown command {first!r}{parser.suggest(first, commands)}")
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        commands.get(args.command, parser).reject(unknown)
    return args


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parse(parser, sys.argv[1:] if argv is None else list(argv))
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
    if args.command == "server":
        from rnnshape.server import run_server
        return run_server(args)
    if args.command == "rule":
        from rnnshape.commands.rule import run_rule
        return run_rule(args)
    return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
