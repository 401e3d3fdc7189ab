"""SARIF 2.1.0 output, for GitHub code scanning and other SARIF viewers.

Usage::

    from rnnshape.rules import all_rules
    print(render_sarif(diagnostics, all_rules(), errors=file_errors))

``rules`` are objects with ``code``, ``name``, ``summary``, ``what`` and ``severity`` (the
rule classes of ``rnnshape.rules``); every rule is listed in ``tool.driver.rules`` in the
order given, and a result points at its rule by ``ruleId`` and ``ruleIndex`` (``ruleIndex``
is left out for a code not among ``rules``).  Locations are relative URIs with forward
slashes (relative to ``base_dir``, default the working directory; a file outside it keeps an
absolute ``file://`` URI).  Columns are 1-based code points (``columnKind``
``unicodeCodePoints``), ``endColumn`` exclusive, as in ``Diagnostic``.  A notebook
diagnostic's rows are rows of its cell, and the cell is in ``result.properties.cell``.
Files that could not be checked (``FileError``) become ``toolExecutionNotifications`` and
make ``executionSuccessful`` false.
"""
from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath
from typing import Iterable, Optional, Sequence
from urllib.parse import quote

from rnnshape import __version__
from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.rule_docs import rule_url

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/rnnshape/rnnshape"


def level(severity: str) -> str:
    return {"error": "error", "warning": "warning"}.get(severity, "note")


def artifact_uri(filename: str, base_dir: Optional[str] = None) -> str:
    base = os.path.abspath(base_dir or os.getcwd())
    path = os.path.abspath(filename)
    try:
        rel = os.path.relpath(path, base)
    except ValueError:  # another drive on Windows
        rel = None
    if rel is None or rel == ".." or rel.startswith(".." + os.sep):
        return Path(path).as_uri()
    return quote(PurePosixPath(*Path(rel).parts).as_posix(), safe="/")


def _region(d: Diagnostic) -> dict:
    row = max(d.row, 1)
    column = max(d.column, 1)
    end_row = max(d.end_row, row)
    end_column = max(d.end_column, 1)
    if end_row == row:
        end_column = max(end_column, column)
    return {"startLine": row, "startColumn": column, "endLine": end_row, "endColumn": end_column}


def render_sarif(diagnostics: Iterable[Diagnostic], rules: Sequence, *,
                 errors: Iterable[FileError] = (), base_dir: Optional[str] = None) -> str:
    """One SARIF log (a JSON text, no trailing newline) with one run."""
    index = {rule.code: i for i, rule in enumerate(rules)}
    driver_rules = [{
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.what},
        "helpUri": rule_url(rule.code, rule.name),
        "defaultConfiguration": {"level": level(rule.severity)},
    } for rule in rules]
    results = []
    for d in diagnostics:
        result = {"ruleId": d.code}
        if d.code in index:
            result["ruleIndex"] = index[d.code]
        result["level"] = level(d.severity)
        result["message"] = {"text": d.message}
        result["locations"] = [{"physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(d.filename, base_dir)},
            "region": _region(d),
        }}]
        if d.cell is not None:
            result["properties"] = {"cell": d.cell}
        results.append(result)
    notifications = []
    for error in errors:
        note = {"level": "error", "message": {"text": error.message}, "locations": [{
            "physicalLocation": {"artifactLocation": {"uri": artifact_uri(error.filename, base_dir)}}}]}
        if error.row:
            note["locations"][0]["physicalLocation"]["region"] = {"startLine": error.row}
        notifications.append(note)
    run = {
        "tool": {"driver": {"name": "rnnshape", "informationUri": INFORMATION_URI,
                            "version": __version__, "rules": driver_rules}},
        "columnKind": "unicodeCodePoints",
        "invocations": [{"executionSuccessful": not notifications,
                         "toolExecutionNotifications": notifications}],
        "results": results,
    }
    log = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False)
