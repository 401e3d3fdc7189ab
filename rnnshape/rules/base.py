"""What a rule is: metadata, its documentation, its examples, a check over the facts and,
where it can, a fix.

Rules register themselves by subclassing; there is no hand-kept list.  The examples are
the rule's tests and the source of its documentation page: each invalid example carries the
text ``fix`` makes of it (and ``fix --batch-first``, where that differs), or says it has none.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Optional

import libcst as cst

from rnnshape.fixkit import FixContext, Plan
from rnnshape.shapes.facts import Facts, Step

# Invalid examples mark the line that must be reported with this trailing comment.
MARKER = re.compile(r"\s*# <- here$")


@dataclass
class Finding:
    code: str
    node: cst.CSTNode
    message: str
    trace: tuple[Step, ...] = ()
    anchor: Optional[cst.CSTNode] = None  # a tighter start than ``node`` (e.g. ``.numpy``)
    # What the rule's fix needs: a fact, or a small dataclass of the rule's family.
    data: Any = None


@dataclass(frozen=True)
class Invalid:
    """An example the rule must report, on the rows marked ``# <- here``.

    ``fixed``: the text ``fix --unsafe-fixes`` makes of it, or None when no fix applies.
    ``fixed_batch_first``: the text with ``--batch-first`` too, when it differs from ``fixed``.
    """

    source: str
    fixed: Optional[str]
    fixed_batch_first: Optional[str] = None

    @property
    def clean(self) -> str:
        return strip_marker(self.source)[0]

    @property
    def rows(self) -> list[int]:
        return strip_marker(self.source)[1]


@dataclass
class Context:
    module: cst.Module
    facts: Facts

    def text(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def one_line(self, node: cst.CSTNode) -> str:
        return one_line(self.text(node))


def one_line(code: str) -> str:
    """Code shown inside a message or trace: on one line, without spaces inside brackets."""
    text = " ".join(code.split())
    return re.sub(r"([(\[{]) | ([)\]}])", lambda m: m.group(1) or m.group(2), text)


REGISTRY: dict[str, "Rule"] = {}


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    severity: ClassVar[str] = "error"
    what: ClassVar[str]
    why: ClassVar[str]
    fix_note: ClassVar[str] = "No automatic fix."
    valid: ClassVar[tuple[str, ...]] = ()
    invalid: ClassVar[tuple[Invalid, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if getattr(cls, "code", None):
            if cls.code in REGISTRY:
                raise RuntimeError(f"duplicate rule code {cls.code}")
            REGISTRY[cls.code] = cls()

    def check(self, ctx: Context) -> Iterable[Finding]:  # pragma: no cover - interface
        raise NotImplementedError

    def fix(self, finding: Finding, fctx: FixContext) -> Optional[Plan]:
        """The edits that correct ``finding``, or None when the rule cannot prove any."""
        return None

    @property
    def fixable(self) -> bool:
        return type(self).fix is not Rule.fix

    def finding(self, node, message, trace=(), **kw) -> Finding:
        return Finding(self.code, node, message, tuple(trace), **kw)


def strip_marker(source: str) -> tuple[str, list[int]]:
    """Remove ``# <- here`` markers; return the clean source and the marked rows (1-based)."""
    rows, lines = [], []
    for i, line in enumerate(source.splitlines(keepends=True), start=1):
        body = line.rstrip("\n")
        if MARKER.search(body):
            rows.append(i)
            body = MARKER.sub("", body)
            line = body + ("\n" if line.endswith("\n") else "")
        lines.append(line)
    return "".join(lines), rows
