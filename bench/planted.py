#!/usr/bin/env python3
"""Recall and precision on a set of projects with planted mistakes and an answer key.

    python bench/planted.py DIR [--json OUT]

``DIR`` holds one folder per project and ``ANSWERS.json``: a list of
``{"project": ..., "mistake": null | {"kind": ..., "name": ..., "file": ..., "line": ...,
"also_acceptable": [{"file": ..., "line": ...}, ...]}}``.  Each project folder is checked as a
user would (``rnnshape check <folder>``, from the folder above); a mistake counts as found
when a finding names its file and line (or an acceptable alternative).  Every other finding
is listed for triage: on a control project (``mistake`` null) it is a false positive unless
the triage says otherwise.  The set itself is not part of this repository: it is code written
to test rnnshape from outside.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def check(folder: Path) -> list[dict]:
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    proc = subprocess.run([sys.executable, "-m", "rnnshape", "check", "--no-cache",
                           "--output-format", "json", folder.name], cwd=folder.parent, env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode not in (0, 1):
        print(f"  {folder.name}: exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    try:
        return json.loads(proc.stdout or "[]")
    except ValueError:
        return []


def places(mistake: dict) -> set[tuple[str, int]]:
    spots = [mistake] + list(mistake.get("also_acceptable", []))
    return {(spot["file"], spot["line"]) for spot in spots}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--json", type=Path, help="write every finding, matched or not")
    args = parser.parse_args(argv)
    answers = json.loads((args.dir / "ANSWERS.json").read_text())
    found = missed = 0
    extra: list[str] = []
    rows = []
    for answer in answers:
        folder = args.dir / answer["project"]
        results = check(folder)
        seen = {(os.path.relpath(r["filename"], answer["project"]), r["location"]["row"]): r
                for r in results}
        mistake = answer.get("mistake")
        hit = None
        if mistake:
            hit = next((seen[p] for p in places(mistake) if p in seen), None)
            found += hit is not None
            missed += hit is None
        spots = places(mistake) if mistake else set()
        others = [r for r in results
                  if (os.path.relpath(r["filename"], answer["project"]), r["location"]["row"])
                  not in spots]
        for r in others:
            where = f"{os.path.relpath(r['filename'], answer['project'])}:{r['location']['row']}"
            extra.append(f"{answer['project']}/{where} {r['code']} {r['message']}"
                         + ("  [control]" if not mistake else ""))
        label = (f"kind {mistake['kind']} {mistake['name']}" if mistake else "control")
        verdict = "-" if not mistake else (f"found ({hit['code']})" if hit else "missed")
        rows.append((answer["project"], label, verdict, len(others)))
        print(f"| {answer['project']} | {label} | {verdict} | {len(others)} |", flush=True)
    planted = found + missed
    print(f"\nplanted mistakes found: {found} of {planted}")
    print(f"other findings (to triage): {len(extra)}")
    for line in extra:
        print(f"  {line}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "extra": extra}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
