"""GitLab Code Quality report: a JSON array GitLab shows in merge requests.

Usage::

    print(render_gitlab(diagnostics))

Each finding is ``{"description", "check_name", "fingerprint", "severity", "location":
{"path", "lines": {"begin"}}}``.  ``path`` is relative to the working directory (the
repository root in CI) with forward slashes.  ``severity``: error -> ``major``, warning ->
``minor``, anything else ``info``.  GitLab tells new findings from fixed ones by
``fingerprint``, so it must not move when unrelated lines are added above a finding: it is a
hash of the path, the code and the text of the finding's line (blanks around it ignored), not
of the line number; findings that share all three are told apart by their order.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from typing import Iterable

from rnnshape.diagnostic import Diagnostic

SEVERITY = {"error": "major", "warning": "minor"}


def relative_path(filename: str) -> str:
    path = os.path.abspath(filename)
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        rel = path
    if rel == ".." or rel.startswith(".." + os.sep):
        rel = path
    return rel.replace(os.sep, "/")


def fingerprint(path: str, code: str, line_text: str, occurrence: int) -> str:
    digest = hashlib.sha256()
    for part in (path, code, line_text.strip(), str(occurrence)):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def issue(d: Diagnostic, occurrence: int = 0) -> dict:
    path = relative_path(d.filename)
    where = f"cell {d.cell}, line {d.row}: " if d.cell is not None else ""
    return {
        "description": f"{where}{d.message}",
        "check_name": d.code,
        "fingerprint": fingerprint(path, d.code, d.source_line, occurrence),
        "severity": SEVERITY.get(d.severity, "info"),
        "location": {"path": path, "lines": {"begin": d.file_row}},
    }


def render_gitlab(diagnostics: Iterable[Diagnostic]) -> str:
    seen: Counter = Counter()
    issues = []
    for d in diagnostics:
        key = (relative_path(d.filename), d.code, d.source_line.strip())
        issues.append(issue(d, seen[key]))
        seen[key] += 1
    return json.dumps(issues, indent=2, ensure_ascii=False)
