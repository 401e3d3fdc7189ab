"""Machine-readable output: a JSON array, one object per diagnostic."""
from __future__ import annotations

import json
from collections import Counter

from rnnshape.diagnostic import Diagnostic


def render_json(diagnostics: list[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diagnostics], indent=2)


def render_statistics_json(diagnostics: list[Diagnostic]) -> str:
    """``--statistics`` in JSON: counts per code, most frequent first (as ruff does)."""
    counts = Counter((d.code, d.name) for d in diagnostics)
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return json.dumps([{"code": code, "name": name, "count": n} for (code, name), n in rows],
                      indent=2)
