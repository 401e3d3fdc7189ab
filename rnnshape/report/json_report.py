"""Machine-readable output: a JSON array (``json``) or one JSON object a line (``json-lines``),
one object per diagnostic, each naming its rule's documentation page in ``url``."""
from __future__ import annotations

import json
from collections import Counter

from rnnshape.diagnostic import Diagnostic
from rnnshape.rule_docs import rule_url


def diagnostic_object(d: Diagnostic) -> dict:
    data = d.to_json()
    # ``url`` right after the rule it documents, so a reader meets them together.
    out = {key: data.pop(key) for key in ("code", "name")}
    out["url"] = rule_url(d.code, d.name)
    out.update(data)
    return out


def render_json(diagnostics: list[Diagnostic]) -> str:
    return json.dumps([diagnostic_object(d) for d in diagnostics], indent=2)


def render_json_lines(diagnostics: list[Diagnostic]) -> str:
    """One compact object per line, each line ending in a newline; "" when there are none.
    A consumer can act on each finding as it reads it, and ``cat`` joins two runs."""
    return "".join(json.dumps(diagnostic_object(d)) + "\n" for d in diagnostics)


def _statistics(diagnostics: list[Diagnostic]) -> list[dict]:
    counts = Counter((d.code, d.name) for d in diagnostics)
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"code": code, "name": name, "count": n} for (code, name), n in rows]


def render_statistics_json(diagnostics: list[Diagnostic]) -> str:
    """``--statistics`` in JSON: counts per code, most frequent first (as ruff does)."""
    return json.dumps(_statistics(diagnostics), indent=2)


def render_statistics_json_lines(diagnostics: list[Diagnostic]) -> str:
    return "".join(json.dumps(row) + "\n" for row in _statistics(diagnostics))
