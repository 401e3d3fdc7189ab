"""What a recurrent module's ``batch_first`` means for the axes of its input and output.

Everything that asks "which dim is the batch here" asks ``axes``; the rules, the tracker and
the runtime harness then agree by construction.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from rnnshape.shapes.dims import BATCH, FEATURE, TIME, Shape
from rnnshape.shapes.facts import RecurrentCall


@dataclass(frozen=True)
class Axes:
    """Positions of batch, time and feature in a 3-d recurrent input or output."""

    batch: int
    time: int
    feature: int = 2

    @property
    def roles(self) -> tuple[str, str, str]:
        out = [FEATURE] * 3
        out[self.batch], out[self.time] = BATCH, TIME
        return tuple(out)


BATCH_FIRST = Axes(batch=0, time=1)
SEQ_FIRST = Axes(batch=1, time=0)


def axes(batch_first: bool) -> Axes:
    return BATCH_FIRST if batch_first else SEQ_FIRST


def expected_roles(batch_first: bool) -> tuple[str, str, str]:
    return axes(batch_first).roles


def data_layout(shape: Shape) -> Optional[bool]:
    """True/False when the roles of dims 0 and 1 prove a batch-first/time-first layout."""
    if shape.dims is None or len(shape.dims) < 2:
        return None
    first, second = shape.dims[0].role, shape.dims[1].role
    if (first, second) in ((BATCH, TIME), (BATCH, None), (None, TIME)):
        return True
    if (first, second) in ((TIME, BATCH), (TIME, None), (None, BATCH)):
        return False
    return None


def input_roles(call: RecurrentCall) -> Optional[list[Optional[str]]]:
    """The roles of the input's dims, with what ``input_size`` proves added in."""
    dims = call.shape.dims
    if dims is None or len(dims) != 3:
        return None
    roles = [d.role for d in dims]
    input_size = call.module.dim("input_size")
    last_same = dims[2].same(input_size)
    if last_same is True:
        roles[2] = FEATURE
        # the module's features are these (their size says so); another dim the code calls a
        # feature is, to the module, just another axis
        roles = [None if r == FEATURE and i != 2 else r for i, r in enumerate(roles)]
    elif last_same is False:
        # A dim whose origin already names it batch or time keeps that meaning even when its
        # size happens to equal input_size.
        matches = [i for i in (0, 1) if dims[i].same(input_size) is True
                   and roles[i] in (None, FEATURE)]
        if len(matches) == 1:
            roles[matches[0]] = FEATURE
            if roles[2] == FEATURE:
                roles[2] = None
    return roles


def layout_conflict(call: RecurrentCall) -> Optional[tuple[list, tuple]]:
    """(roles, expected) when the input is provably in the wrong order, else None."""
    batch_first = call.module.flag("batch_first")
    if batch_first is None:
        return None
    roles = input_roles(call)
    if roles is None:
        return None
    known = [r for r in roles if r is not None]
    if len(known) != len(set(known)):
        return None  # two dims claim one meaning: the evidence is muddled
    expected = expected_roles(batch_first)
    if any(r is not None and r != e for r, e in zip(roles, expected)):
        return roles, expected
    return None


def complete(roles) -> list:
    """Fill in the one missing role when the other two are known."""
    missing = [i for i, r in enumerate(roles) if r is None]
    if len(missing) == 1:
        rest = {BATCH, TIME, FEATURE} - set(roles)
        if len(rest) == 1:
            roles = list(roles)
            roles[missing[0]] = rest.pop()
    return list(roles)
