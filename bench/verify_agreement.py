"""How often ``verify`` says what each case says it should, and that a crash never passes.

Each file under ``bench/verify_cases/`` (scripts, and notebooks: the first code cell) states its expectation in header comments:

    # expect: RNN005 reproduced      one line per finding: code and verdict (any order)
    # expect: clean                  no finding, and exit 0
    # expect: error                  the harness reports an error (exit 2)
    # fixed: RNN010 not fixed        optional: the verdicts of ``verify --fixed``

The script runs ``verify`` (and ``verify --fixed`` where a case asks), prints expected against
got per case and the totals, and fails (exit 1) if any case whose model raised passed with
exit 0: the harness's one hard promise.

    python bench/verify_agreement.py [--cases DIR] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rnnshape.harness.verify import verify  # noqa: E402


def _header(path: Path) -> str:
    """The text whose leading comments state the expectation (a notebook: its first code cell)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        cell = next(c for c in json.loads(text)["cells"] if c["cell_type"] == "code")
        source = cell["source"]
        return "".join(source) if isinstance(source, list) else source
    return text


def expectations(path: Path) -> dict:
    expect, fixed = [], []
    for line in _header(path).splitlines():
        if not line.startswith("#"):
            break
        key, _, value = line[1:].strip().partition(":")
        if key in ("expect", "fixed"):
            (expect if key == "expect" else fixed).append(value.strip())
    return {"expect": expect, "fixed": fixed}


def _outcome(report) -> list[str]:
    if report.error:
        return ["error"]
    if not report.findings:
        return ["clean"] if report.exit_code == 0 else [f"exit {report.exit_code}"]
    return sorted(f"{f.code} {f.verdict}" for f in report.findings)


def _crashed(report) -> bool:
    # an experiment's run of the model counts too: RNN107's second training step, RNN106 on CUDA
    return any(not r["ok"] or r.get("loss_error") for r in report.runs) or bool(report.error) \
        or any(c.get("raised") for c in report.checks)


def run_case(path: Path) -> dict:
    wanted = expectations(path)
    started = time.perf_counter()
    report = verify(str(path))
    row = {"case": path.name, "expected": sorted(wanted["expect"]), "got": _outcome(report),
           "exit": report.exit_code, "crashed": _crashed(report)}
    if wanted["fixed"]:
        fixed = verify(str(path), fixed=True)
        row["expected_fixed"] = sorted(wanted["fixed"])
        row["got_fixed"] = _outcome(fixed)
    row["agree"] = row["expected"] == row["got"] and \
        row.get("expected_fixed") == row.get("got_fixed")
    row["seconds"] = round(time.perf_counter() - started, 2)
    return row


def kind(row: dict) -> str:
    expected = row["expected"]
    if expected == ["clean"]:
        return "clean"
    if expected == ["error"]:
        return "error"
    return "crash" if row["crashed"] else "silent/other"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=str(ROOT / "bench" / "verify_cases"))
    parser.add_argument("--json", help="write the rows as JSON to this file")
    args = parser.parse_args(argv)
    cases = sorted(p for p in Path(args.cases).iterdir() if p.suffix in (".py", ".ipynb"))
    rows = [run_case(path) for path in cases]
    width = max(len(r["case"]) for r in rows)
    print(f"{'case':<{width}}  {'kind':<12} {'agree':<5} exit  expected -> got")
    for r in rows:
        got = "; ".join(r["got"])
        expected = "; ".join(r["expected"])
        line = f"{r['case']:<{width}}  {kind(r):<12} {'yes' if r['agree'] else 'NO':<5} {r['exit']:<4}  "
        line += f"{expected} -> {got}"
        if "expected_fixed" in r:
            line += f"  | --fixed: {'; '.join(r['expected_fixed'])} -> {'; '.join(r['got_fixed'])}"
        print(line)
    by_kind = Counter(kind(r) for r in rows)
    agree_by_kind = Counter(kind(r) for r in rows if r["agree"])
    print()
    for name in sorted(by_kind):
        print(f"{name:<12} {agree_by_kind[name]:>3} of {by_kind[name]:>3} agree")
    agreed = sum(r["agree"] for r in rows)
    print(f"{'total':<12} {agreed:>3} of {len(rows):>3} agree "
          f"({100.0 * agreed / len(rows):.1f}%), {sum(r['seconds'] for r in rows):.0f} s")
    passed_crashes = [r["case"] for r in rows if r["crashed"] and r["exit"] == 0]
    print(f"models that raised: {sum(r['crashed'] for r in rows)}; of them passed (exit 0): "
          f"{len(passed_crashes)}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")
    if passed_crashes:
        print("FAIL: a model that raised passed: " + ", ".join(passed_crashes))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
