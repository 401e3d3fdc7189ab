"""What a rule is: metadata, its documentation, its examples, and a check over the facts.

Rules register themselves by subclassing; there is no hand-kept list.  The examples are
the rule's tests and the source of its documentation page.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar, Iterable, Optional

import libcst as cst

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
    data: dict = field(default_factory=dict)  # what a fix needs to know


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
    invalid: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if getattr(cls, "code", None):
            if cls.code in REGISTRY:
                raise RuntimeError(f"duplicate rule code {cls.code}")
            REGISTRY[cls.code] = cls()

    def check(self, ctx: Context) -> Iterable[Finding]:  # pragma: no cover - interface
        raise NotImplementedError

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


def all_rules() -> list[Rule]:
    from rnnshape.rules import (heads, hygiene, layout, outputs, packing,  # noqa: F401
                                states, training)  # registration
    return [REGISTRY[code] for code in sorted(REGISTRY)]
