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
``unicodeCodePoints``), ``endColumn`` exclusive, as in ``Diagnostic``.

Code scanning shows a region as lines of the file, so a notebook finding's region is where
its cell's row is in the .ipynb JSON text (``Diagnostic.file_span``); the message starts with
``cell N, line L, column C: `` and ``result.properties`` holds ``cell``, ``row`` and
``column`` in the cell.  The shape trace is a ``codeFlows`` thread flow, one location per step
(steps can be in other files), and the planned fix a ``fixes`` entry whose replacements are
the fix's edits (for a notebook, of its JSON text).
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
    where = d.file_span or d
    row = max(where.row, 1)
    column = max(where.column, 1)
    end_row = max(where.end_row, row)
    end_column = max(where.end_column, 1)
    if end_row == row:
        end_column = max(end_column, column)
    return {"startLine": row, "startColumn": column, "endLine": end_row, "endColumn": end_column}


def _physical(uri: str, region: Optional[dict]) -> dict:
    place = {"artifactLocation": {"uri": uri}}
    if region is not None:
        place["region"] = region
    return {"physicalLocation": place}


def _in_cell(d: Diagnostic) -> str:
    return f"cell {d.cell}, line {d.row}, column {d.column}: " if d.cell is not None else ""


def _code_flows(d: Diagnostic, uri: str, base_dir: Optional[str]) -> list:
    """The shape trace as one thread flow, a location per step, each saying the step's code
    and the shape it has there.  A notebook step is on its line of the .ipynb text (its cell
    and row in ``properties``)."""
    steps = []
    for t in d.trace:
        if t.path is not None:
            location = _physical(artifact_uri(t.path, base_dir), {"startLine": max(t.row, 1)})
        elif t.cell is not None:
            location = _physical(uri, {"startLine": t.file_row} if t.file_row else None)
            location["properties"] = {"cell": t.cell, "row": t.row}
        else:
            location = _physical(uri, {"startLine": max(t.row, 1)})
        location["message"] = {"text": f"`{t.text}`: {t.shape}"}
        steps.append({"location": location})
    return [{"threadFlows": [{"locations": steps}]}]


def _replacement(edit) -> dict:
    return {"deletedRegion": {"startLine": edit.row, "startColumn": edit.column,
                              "endLine": edit.end_row, "endColumn": edit.end_column},
            "insertedContent": {"text": edit.content}}


def _fixes(d: Diagnostic, uri: str) -> list:
    """The planned fix as a SARIF ``fix``: its edits of the file (for a notebook, of its
    JSON text), or nothing when they are not known in the file's own lines and columns."""
    edits = d.fix.file_edits if d.cell is not None else d.fix.edits
    if not edits:
        return []
    return [{"description": {"text": d.fix.message},
             "artifactChanges": [{"artifactLocation": {"uri": uri},
                                  "replacements": [_replacement(e) for e in edits]}],
             "properties": {"applicability": d.fix.applicability}}]


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
        result["message"] = {"text": _in_cell(d) + d.message}
        uri = artifact_uri(d.filename, base_dir)
        # A notebook place known only as a cell row is no line of the file: left out.
        known = d.cell is None or d.file_span is not None
        result["locations"] = [_physical(uri, _region(d) if known else None)]
        if d.trace:
            result["codeFlows"] = _code_flows(d, uri, base_dir)
        fixes = _fixes(d, uri) if d.fix is not None else []
        if fixes:
            result["fixes"] = fixes
        if d.cell is not None:
            result["properties"] = {"cell": d.cell, "row": d.row, "column": d.column}
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
