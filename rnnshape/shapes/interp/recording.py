"""Recording runs (the language server's hovers): what each tensor expression evaluated to.

``Interpreter(..., values=True)`` puts these two methods in place of ``_eval`` and
``bind_target`` on its instance, so a run that does not record keeps the plain methods and
pays nothing per expression.
"""
from __future__ import annotations

import libcst as cst

from rnnshape.shapes.interp.expressions import Expressions
from rnnshape.shapes.interp.scope import Frame
from rnnshape.shapes.interp.statements import Statements
from rnnshape.shapes.values import TensorV

# The expressions a hover can point at: a name, ``self.h``, a call's result, ``out[:, -1]``.
RECORDED = (cst.Name, cst.Attribute, cst.Call, cst.Subscript)


class Recording:
    """The recording half of the interpreter (see ``Interpreter``)."""

    def _eval_recorded(self, node, frame: Frame):
        value = Expressions._eval(self, node, frame)
        if isinstance(value, TensorV) and isinstance(node, RECORDED):
            self.recorder.value(node, value)
        return value

    def _bind_recorded(self, target, value, frame: Frame):
        # An assignment's target shows the value it receives.
        if isinstance(value, TensorV) and isinstance(target, (cst.Name, cst.Attribute)):
            self.recorder.value(target, value)
        Statements.bind_target(self, target, value, frame)
