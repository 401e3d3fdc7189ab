"""``fix --verified``: safe fixes as usual, an unsafe fix only when running the model proves it.

Proof is what ``verify --fixed`` says of the fixed program: the finding's verdict is *fixed*
(the fixed model runs clean and the rule's own experiment passes), and for a layout fix both
strategies (the transpose/permute rewrite and ``batch_first=True``) give the same outputs on
the same weights and inputs.  An unsafe fix that is not proved is left out, and the program is
verified again without it (one fix's failure must not sink another's proof), until the set of
proved fixes no longer shrinks.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Collection, Optional

from rnnshape.api import FixOptions, analyze, fix_source
from rnnshape.fixes import span
from rnnshape.fixkit import UNSAFE
from rnnshape.harness.verify import verify
from rnnshape.rules.layout_fix import LayoutData

ROUNDS = 3


@dataclass
class Decision:
    code: str
    row: int  # in the program (a notebook's cells joined); ``where`` says it for people
    column: int
    applied: bool
    why: str
    where: str = ""


@dataclass
class VerifiedFix:
    path: str
    text: str  # the program that was fixed (a notebook's code cells as one program)
    new_text: str
    applied: Counter = field(default_factory=Counter)
    decisions: list[Decision] = field(default_factory=list)
    result: object = None  # the FixResult of the final fix


def _key(analysis, finding) -> tuple[str, int]:
    return finding.code, span(analysis.positions, finding.anchor or finding.node)[0][0]


def _unsafe_findings(program: str, path: str, options: FixOptions,
                     codes: Optional[Collection[str]]) -> dict:
    """(code, row) -> (finding, column) for each finding of the program whose fix is unsafe
    (the rows ``FixOptions.unsafe_only`` names, as verify's fixed program sees them)."""
    analysis = analyze(program, path, codes)
    found = {}
    if analysis is None:
        return found
    for finding in analysis.findings:
        plan = analysis.plan(finding, options)
        if plan is not None and plan.applicability == UNSAFE:
            (row, column), _ = span(analysis.positions, finding.anchor or finding.node)
            found[(finding.code, row)] = (finding, column + 1)
    return found


def _proof(verdict, finding, report) -> tuple[bool, str]:
    if verdict is None:
        return False, "verify did not judge it"
    if verdict.verdict != "fixed":
        return False, f"verify --fixed says {verdict.verdict}: {verdict.detail}"
    if isinstance(finding.data, LayoutData):
        pairs = report.pairs
        if not pairs:
            return False, "the two layout strategies could not be compared on a run"
        if not all(p.get("equal") for p in pairs):
            bad = next(p for p in pairs if not p.get("equal"))
            return False, f"the two layout strategies disagree: {bad.get('error') or bad.get('max_diff')}"
    return True, verdict.detail


def verified_fix(path: str, text: str, notebook=None, batch_first: bool = False,
                 codes: Optional[Collection[str]] = None, device: str = "cpu", seed: int = 0,
                 timeout: float = 60.0) -> VerifiedFix:
    """``text``: the file's text (a notebook's JSON when ``notebook`` is given)."""
    program = notebook.program() if notebook is not None else text
    options = FixOptions(batch_first=batch_first, unsafe=True)
    candidates = _unsafe_findings(program, path, options, codes)
    accepted = set(candidates)
    reasons: dict = {}
    for _ in range(ROUNDS):
        if not accepted:
            break
        report = verify(path, device=device, fixed=True, batch_first=batch_first, seed=seed,
                        timeout=timeout, text=text, unsafe_only=frozenset(accepted))
        if report.error:
            for key in accepted:
                reasons[key] = (False, f"verify failed: {report.error}")
            accepted = set()
            break
        analysis = analyze(program, path)
        verdicts = {_key(analysis, f): v for f, v in zip(analysis.findings, report.findings)}
        proved = set()
        for key in accepted:
            ok, why = _proof(verdicts.get(key), candidates[key][0], report)
            reasons[key] = (ok, why)
            if ok:
                proved.add(key)
        if proved == accepted:
            break
        accepted = proved
    final = fix_source(program, path, codes,
                       FixOptions(batch_first=batch_first, unsafe=bool(accepted),
                                  unsafe_only=frozenset(accepted)))
    out = VerifiedFix(path, program, final.text, final.applied, result=final)
    for key, (finding, column) in sorted(candidates.items(), key=lambda kv: kv[0][1]):
        ok, why = reasons.get(key, (False, "not verified"))
        applied = key in accepted and ok
        where = f"{key[1]}:{column}"
        if notebook is not None:
            cell, line = notebook.locate(key[1])
            where = f"cell {cell}:{line}:{column}"
        out.decisions.append(Decision(key[0], key[1], column, applied, why, where))
    return out


def new_file_text(fixed: VerifiedFix, text: str, notebook) -> str:
    if fixed.new_text == fixed.text:
        return text
    return notebook.with_program(fixed.new_text) if notebook is not None else fixed.new_text

