"""``rnnshape verify``: argument checks, the run, the report, the exit code."""
from __future__ import annotations

import importlib.util
import sys

from rich.console import Console

from rnnshape.diagnostic import FileError


def run_verify(args) -> int:
    # emoji off: ``file.py:100:26`` would otherwise print as ``file.py💯26``
    err = Console(file=sys.stderr, highlight=False, soft_wrap=True, emoji=False)
    # find_spec looks without importing: check and fix stay torch-free, and so does this check.
    if importlib.util.find_spec("torch") is None:
        err.print("rnnshape: error: verify needs torch: pip install 'rnnshape[verify]' "
                  "(or pip install torch)", markup=False)
        return 2
    from rnnshape.harness.verify import verify
    from rnnshape.report.verify_report import render_verify, render_verify_json

    try:
        report = verify(args.file, device=args.device, fixed=args.fixed,
                        batch_first=args.batch_first, seed=args.seed, timeout=args.timeout)
    except FileError as exc:
        err.print(str(exc), markup=False)
        return 2
    if args.output_format == "json":
        print(render_verify_json(report))
    else:
        render_verify(Console(file=sys.stdout, highlight=False, width=160, emoji=False), report)
    return report.exit_code
