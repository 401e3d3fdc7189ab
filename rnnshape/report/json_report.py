"""Machine-readable output: a JSON array, one object per diagnostic."""
from __future__ import annotations

import json

from rnnshape.diagnostic import Diagnostic


def render_json(diagnostics: list[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diagnostics], indent=2)
