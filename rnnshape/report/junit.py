"""JUnit XML, for CI systems that show test reports (GitLab, Jenkins, Azure, CircleCI).

Usage::

    print(render_junit(diagnostics, files=checked_paths, errors=file_errors))

One ``<testsuite>`` per file, named by its path, inside one ``<testsuites name="rnnshape">``.
Each finding is a ``<testcase>`` with a ``<failure>`` (``type`` the code, ``message`` the
message, the text the location, the shape trace and the fix); a file without findings is one
passing testcase, a file that could not be checked one testcase with an ``<error>``.  Test
cases carry ``file`` and ``line`` attributes (for a notebook, the line of the .ipynb text).
Text from the user's files is escaped by the XML writer, and characters XML 1.0 cannot hold
at all (control characters) are written as ``\\xNN``, so the document always parses.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Iterable, Sequence

from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.report.text import location

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _details(d: Diagnostic) -> str:
    lines = [f"{location(d)}: {d.code} {d.message}"]
    if d.trace:
        lines.append("shape trace:")
        for t in d.trace:
            where = t.path or d.filename
            cell = f"cell {t.cell}:" if t.cell is not None else ""
            lines.append(f"  {where}:{cell}{t.row}  {t.text}  {t.shape}")
    if d.fix is not None:
        lines.append(f"{d.fix.applicability} fix: {d.fix.message}")
    return "\n".join(lines)


def _case(suite: ET.Element, path: str, name: str, line=None) -> ET.Element:
    attrs = {"name": xml_text(name), "classname": xml_text(path), "file": xml_text(path)}
    if line is not None:
        attrs["line"] = str(line)
    return ET.SubElement(suite, "testcase", attrs)


def render_junit(diagnostics: Iterable[Diagnostic], files: Sequence[str] = (),
                 errors: Iterable[FileError] = ()) -> str:
    """The XML document (with its declaration, no trailing newline).  ``files``: the paths
    the run looked at, in order; a path with neither findings nor errors passed."""
    found: dict[str, list[Diagnostic]] = {}
    failed: dict[str, list[FileError]] = {}
    for d in diagnostics:
        found.setdefault(d.filename, []).append(d)
    for error in errors:
        failed.setdefault(error.filename, []).append(error)
    order = list(dict.fromkeys([*files, *found, *failed]))
    root = ET.Element("testsuites", {"name": "rnnshape"})
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for path in order:
        suite = ET.SubElement(root, "testsuite", {"name": xml_text(path)})
        counts = {"tests": 0, "failures": 0, "errors": 0}
        for d in found.get(path, ()):
            where = f"{d.row}:{d.column}" if d.cell is None else f"cell {d.cell}:{d.row}:{d.column}"
            case = _case(suite, path, f"{d.code} {d.name} at {where}", d.file_row)
            failure = ET.SubElement(case, "failure", {"type": d.code,
                                                      "message": xml_text(d.message)})
            failure.text = xml_text(_details(d))
            counts["tests"] += 1
            counts["failures"] += 1
        for error in failed.get(path, ()):
            case = _case(suite, path, "rnnshape", error.row or None)
            ET.SubElement(case, "error", {"message": xml_text(error.message)}).text = \
                xml_text(str(error))
            counts["tests"] += 1
            counts["errors"] += 1
        if not counts["tests"]:
            _case(suite, path, "rnnshape")
            counts["tests"] = 1
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
