"""The library entry points: analyse a source text, turn findings into diagnostics, and fix.

    analysis = analyze(text, "model.py")               # None: nothing any rule looks at
    diagnostics = check_source(text, "model.py")       # sorted, with each finding's fix
    result = fix_source(text, "model.py", options=FixOptions(batch_first=True))

``# noqa`` is applied once, in ``analyze``: a suppressed finding is neither reported nor
fixed.  A rule whose own code raises does not take the file down: its error is kept in
``errors`` next to what the other rules found.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Collection, Optional, Sequence

import libcst as cst

from rnnshape.diagnostic import Diagnostic, FileError, TraceLine
from rnnshape.fixes import (RuleFailure, apply_changes, as_fix, choose, plan_for, span,
                            still_parses)
from rnnshape.fixkit import UNSAFE, FixContext, FixOptions, Plan
from rnnshape.prefilter import may_matter, tree_may_matter
from rnnshape.rules import REGISTRY, Context, Finding, all_rules
from rnnshape.rules.base import one_line
from rnnshape.project import Sources
from rnnshape.shapes.facts import Facts
from rnnshape.shapes.interp import Interpreter
from rnnshape.suppress import is_suppressed, noqa_map
from rnnshape.syntax import Unit, parse, python_tree

MAX_ROUNDS = 8  # fix rounds per file: each applies what does not overlap, then re-checks

__all__ = ["Analysis", "FixOptions", "FixResult", "analyze", "check_source", "diagnostics_of",
           "fix_source"]


@dataclass
class Analysis:
    """The findings of one file: its own run, and the runs of the files that import it (which
    call its code with their shapes); facts of all runs together."""

    unit: Unit
    facts: Facts
    findings: list[Finding]  # what ``check`` reports: suppressed ones are already gone
    scope: dict = field(default_factory=dict)  # module-level names -> tracker values
    errors: list[str] = field(default_factory=list)  # rules whose own code failed
    units: list = field(default_factory=list)  # every source the runs read, this file first
    plans: dict = field(default_factory=dict)  # (id(finding), options) -> its plan
    contexts: dict = field(default_factory=dict)  # options -> FixContext
    first_cell: Optional[int] = None  # a notebook's program: the index of its first code cell

    @property
    def module(self) -> cst.Module:
        return self.unit.module

    @property
    def positions(self):
        # Resolved on first use: LibCST computes positions by generating the whole file's code,
        # which costs more than parsing it, and a file without findings never needs them.
        return self.unit.positions

    def row(self, finding: Finding) -> int:
        return self.positions[finding.anchor or finding.node].start.line

    def unit_of(self, node) -> Optional[Unit]:
        """The source ``node`` is in (a trace may pass through other files)."""
        return next((u for u in self.units if u.holds(node)), None)

    def fix_context(self, options: FixOptions) -> FixContext:
        if options not in self.contexts:
            self.contexts[options] = FixContext(self.unit, self.facts, options, self.first_cell)
        return self.contexts[options]

    def plan(self, finding: Finding, options: FixOptions) -> Optional[Plan]:
        key = (id(finding), options)
        if key not in self.plans:
            try:
                plan = plan_for(finding, self.fix_context(options))
            except RuleFailure as exc:
                self.errors.append(str(exc))
                plan = None
            # A fix edits this file only: one that would reach into another is not offered.
            if plan is not None and not all(self.unit.holds(n) for n in plan.changes):
                plan = None
            self.plans[key] = plan
        return self.plans[key]


def analyze(text: str, filename: str, codes: Optional[Collection[str]] = None,
            sources: Optional[Sources] = None, importers: Sequence[str] = (),
            linked: bool = False, values: bool = False,
            first_cell: Optional[int] = None) -> Optional[Analysis]:
    """Facts and findings of one file (``codes``: the rules to run, None for all), or None
    when no rule can fire on it.  Raises FileError when it does not parse.

    With ``sources`` the project's own modules that the file imports are read (and the
    findings their code gives are left to their own files); ``importers`` are files of the
    run that import this one: each is run too, and what its run finds in this file counts.
    ``linked``: the file reaches recurrent code through a local import, so the keyword
    prefilter does not apply.  ``values``: record what each tensor expression evaluates to
    (``facts.values``), in the file's run and its importers', for the language server's
    hovers.  ``first_cell``: ``text`` is a notebook's program (see
    ``notebook.py``) whose first code cell has that index; fix messages then name cells."""
    # Python's own parser first: several times faster than LibCST, it makes sure a broken
    # file is not passed as clean, and it refuses the deep nesting that overflows the stack
    # of LibCST's native parser (a crash no exception handler could catch).
    tree = python_tree(text, filename)
    relevant = linked or (may_matter(text) and (tree is None or tree_may_matter(tree)))
    if tree is not None and not relevant:
        return None  # nothing here can produce a finding: no LibCST tree is built
    unit = sources.entry(filename, text) if sources is not None else \
        Unit(filename, text, parse(text, filename))
    if not relevant:
        return None
    analysis = Analysis(unit, Facts(), [], first_cell=first_cell)
    seen = set()
    for entry in [unit] + [u for u in map(_importer(sources), importers) if u is not None]:
        if entry is unit:
            interpreter = Interpreter(entry, sources, values=values)
            facts = interpreter.run()
            analysis.scope = interpreter.module_scope.vars
            found = _checked(Context(entry.module, facts), codes, analysis.errors)
        else:
            facts, found = _importer_run(entry, sources, codes, analysis.errors, values)
        analysis.facts.merge(facts)
        for finding in found:
            key = (finding.code, id(finding.anchor or finding.node))
            if key not in seen and unit.holds(finding.anchor or finding.node):
                seen.add(key)
                analysis.findings.append(finding)
    analysis.units = [unit] + [u for u in (sources.units.values() if sources else ())
                               if u is not None and u is not unit]
    if analysis.findings:  # tokenizing for comments costs more than the rare finding
        noqa = noqa_map(text)
        analysis.findings = [f for f in analysis.findings
                             if not is_suppressed(analysis.row(f), f.code, noqa)]
    return analysis


# An importer's run is the same for every file it imports: in a project run each importer
# runs once per process, not once per file it imports (which made whole projects quadratic).
# An entry is reused only while every unit the run used is still the very unit the job reads.
_IMPORTER_RUNS: dict = {}
IMPORTER_RUNS_LIMIT = 256


def _importer_run(entry: Unit, sources: Sources, codes, errors: list[str], values: bool):
    key = (id(entry), None if codes is None else frozenset(codes), values)
    cached = _IMPORTER_RUNS.get(key)
    if cached is not None and cached[0] is entry and all(
            _current(sources, path) is used for path, used in cached[1].items()):
        errors.extend(cached[4])
        return cached[2], cached[3]
    facts = Interpreter(entry, sources, values=values).run()
    failures: list[str] = []
    found = _checked(Context(entry.module, facts), codes, failures)
    errors.extend(failures)
    used = {path: u for path, u in sources.units.items() if u is not None}
    if len(_IMPORTER_RUNS) >= IMPORTER_RUNS_LIMIT:
        _IMPORTER_RUNS.pop(next(iter(_IMPORTER_RUNS)))
    _IMPORTER_RUNS[key] = (entry, used, facts, found, failures)
    return facts, found


def _current(sources: Sources, path: str) -> Optional[Unit]:
    unit = sources.units.get(path)
    return unit if unit is not None else sources.unit(path, limit=False)


def _importer(sources: Optional[Sources]):
    def read(path: str) -> Optional[Unit]:
        return sources.unit(path, limit=False) if sources is not None else None
    return read


def _checked(ctx: Context, codes, errors: list[str]) -> list[Finding]:
    findings = []
    for rule in all_rules():
        if codes is None or rule.code in codes:
            try:
                findings.extend(rule.check(ctx))
            except (RecursionError, MemoryError):
                raise
            except Exception as exc:
                errors.append(str(RuleFailure(rule.code, "checking", exc)))
    return findings


def diagnostics_of(analysis: Optional[Analysis], text: str, filename: str,
                   options: FixOptions = FixOptions(), edits: bool = True) -> list[Diagnostic]:
    """The findings as diagnostics, each with the fix ``fix`` would apply under ``options``.

    ``edits=False`` leaves out each fix's edits, which cost a pass over the tree for
    statement-level fixes and only machine-readable reports show."""
    if analysis is None or not analysis.findings:
        return []  # and the positions are never computed
    lines = text.splitlines()
    out: dict[tuple, Diagnostic] = {}
    for finding in analysis.findings:
        rule = REGISTRY[finding.code]
        start = analysis.positions[finding.anchor or finding.node].start
        end = analysis.positions[finding.node].end
        key = (finding.code, start.line, start.column)
        if key in out:
            continue
        out[key] = Diagnostic(
            code=finding.code, name=rule.name, message=finding.message, severity=rule.severity,
            filename=filename, row=start.line, column=start.column + 1,
            end_row=end.line, end_column=end.column + 1,
            trace=[trace_line(analysis, step) for step in finding.trace],
            fix=_fix_of(analysis, finding, options, text, edits),
            source_line=lines[start.line - 1] if start.line - 1 < len(lines) else "",
        )
    return sorted(out.values(), key=lambda d: (d.row, d.column, d.code))


def _fix_of(analysis: Analysis, finding: Finding, options: FixOptions, text: str, edits: bool):
    plan = analysis.plan(finding, options)
    if plan is None:
        return None
    try:
        return as_fix(plan, analysis.fix_context(options), text, edits)
    except (RecursionError, MemoryError):
        raise
    except Exception as exc:  # a plan LibCST cannot lay out is the rule's bug
        analysis.errors.append(str(RuleFailure(finding.code, "fixing", exc)))
        return None


def trace_line(analysis: Analysis, step) -> TraceLine:
    text = one_line(analysis.module.code_for_node(step.node))
    if len(text) > 60:
        text = text[:57] + "..."
    shape = str(step.shape) if step.shape is not None else step.note
    unit = analysis.unit_of(step.node) or analysis.unit
    path = None if unit is analysis.unit else unit.path
    return TraceLine(row=unit.positions[step.node].start.line, text=text, shape=shape, path=path)


def check_source(text: str, filename: str = "<string>", codes: Optional[Collection[str]] = None,
                 batch_first: bool = False, edits: bool = True) -> list[Diagnostic]:
    """Diagnostics for one file's text, sorted by position.  Raises FileError on bad input
    and when a rule's own code failed (the library caller must not lose that silently)."""
    analysis = analyze(text, filename, codes)
    found = diagnostics_of(analysis, text, filename, FixOptions(batch_first=batch_first), edits)
    if analysis is not None and analysis.errors:
        raise FileError(filename, analysis.errors[0])
    return found


@dataclass
class FixResult:
    text: str
    applied: Counter  # per code, the findings the fixes made go away
    analysis: Optional[Analysis] = None  # of ``text``: what remains
    errors: list[str] = field(default_factory=list)

    def remaining(self, filename: str, options: FixOptions, edits: bool = True) -> list[Diagnostic]:
        return diagnostics_of(self.analysis, self.text, filename, options, edits)


def _counts(analysis: Optional[Analysis]) -> Counter:
    if analysis is None:
        return Counter()
    seen = {(f.code, span(analysis.positions, f.anchor or f.node)[0]) for f in analysis.findings}
    return Counter(code for code, _ in seen)


def _round(analysis: Analysis, options: FixOptions) -> dict:
    """The changes of one round: every applicable plan that does not overlap an earlier one."""
    plans = []
    for finding in sorted(analysis.findings, key=lambda f: span(analysis.positions, f.node)):
        plan = analysis.plan(finding, options)
        if plan is not None and (plan.applicability != UNSAFE or _unsafe_allowed(
                finding, analysis, options)):
            plans.append((finding, plan))
    return choose(plans, analysis.positions)[0] if plans else {}


def _unsafe_allowed(finding, analysis: Analysis, options: FixOptions) -> bool:
    if not options.unsafe:
        return False
    if options.unsafe_only is None:
        return True
    row = span(analysis.positions, finding.anchor or finding.node)[0][0]
    return (finding.code, row) in options.unsafe_only


def fix_source(text: str, filename: str, codes: Optional[Collection[str]] = None,
               options: FixOptions = FixOptions(), sources: Optional[Sources] = None,
               importers: Sequence[str] = (), linked: bool = False,
               first_cell: Optional[int] = None) -> FixResult:
    """Apply fixes, re-check, and repeat until the file is stable.  Raises FileError if the
    result would not parse (the caller then leaves the file as it was)."""
    current = text
    seen = {current}
    analysis = analyze(current, filename, codes, sources, importers, linked,
                       first_cell=first_cell)
    errors = list(analysis.errors) if analysis is not None else []
    before = _counts(analysis)
    for _ in range(MAX_ROUNDS):
        if analysis is None or not analysis.findings:
            break
        changes = _round(analysis, options)
        errors.extend(e for e in analysis.errors if e not in errors)
        if not changes:
            break
        new = apply_changes(analysis.module, changes).code
        if new == current or new in seen:
            break  # nothing changed, or we are going round in circles: stop where we are
        try:
            analysis = analyze(new, filename, codes, sources, importers, linked,
                               first_cell=first_cell)
        except FileError:
            raise FileError(filename, "a fix produced code that does not parse; file left unchanged")
        seen.add(new)
        current = new
    if current != text and not still_parses(text, current):
        raise FileError(filename, "a fix produced code that does not parse; file left unchanged")
    after = _counts(analysis) if current != text else before
    applied = Counter({code: n - after.get(code, 0) for code, n in before.items()
                       if n - after.get(code, 0) > 0})
    return FixResult(current, applied, analysis, errors)
