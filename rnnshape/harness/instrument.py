"""Probes in the model's own code: an expression a finding is about, recorded as it runs."""
from __future__ import annotations

import libcst as cst

# One leading underscore: inside a class body Python would mangle a name with two.  The child
# binds it (``experiments.PROBE``) in the namespace the program runs in.
PROBE = "_rnnshape_probe_"


class Instrument(cst.CSTTransformer):
    """Wraps each probed expression in ``_rnnshape_probe_(key, expr)``: same value, recorded."""

    def __init__(self, probes: dict):
        self.probes = probes  # id(node) -> key

    def on_leave(self, original, updated):
        key = self.probes.get(id(original))
        if key is None or not isinstance(updated, cst.BaseExpression):
            return updated
        return cst.Call(cst.Name(PROBE), [cst.Arg(cst.SimpleString(repr(key))), cst.Arg(updated)])
