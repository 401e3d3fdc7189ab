"""The library entry points: check a source text, get diagnostics (never raises on bad input)."""
from __future__ import annotations

import ast
import functools
import re
import warnings
from dataclasses import dataclass, field
from typing import Optional

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from rnnshape.prefilter import may_matter, tree_may_matter
from rnnshape.diagnostic import Diagnostic, FileError, TraceLine
from rnnshape.rules import Context, Finding, all_rules
from rnnshape.rules.base import one_line
from rnnshape.shapes.tracker import Tracker



@dataclass
class Settings:
    select: Optional[set[str]] = None  # None: all rules
    ignore: set[str] = field(default_factory=set)

    def enabled(self, code: str) -> bool:
        if code in self.ignore or any(code.startswith(p) for p in self.ignore):
            return False
        if self.select is None:
            return True
        return code in self.select or any(code.startswith(p) for p in self.select)


@dataclass
class Analysis:
    module: cst.Module
    facts: object
    findings: list[Finding]
    scope: dict = field(default_factory=dict)  # module-level names -> tracker values

    @functools.cached_property
    def positions(self):
        # Resolved on first use: LibCST computes positions by generating the whole file's code,
        # which costs more than parsing it, and a file without findings never needs them.
        return MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)


def parse(text: str, filename: str) -> cst.Module:
    """Parse or raise FileError with the offending line."""
    try:
        return cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        raise _syntax_error(text, filename, exc) from None
    except RecursionError:
        raise FileError(filename, "file too deeply nested to parse") from None
    except MemoryError:
        raise  # the guard reports the file as skipped, with the limit to raise
    except Exception as exc:  # libcst raises a few other types on odd input
        raise FileError(filename, f"cannot parse: {type(exc).__name__}: {exc}") from None


def _compile(text: str, filename: str):
    # Only the verdict matters: warnings about the user's code (invalid escapes, ``is`` with a
    # literal) are not ours to print, and ``-W error`` must not turn them into parse failures.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compile(text, filename, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)


def _python_tree(text: str, filename: str):
    """The running Python's ``ast`` of ``text``, or None for syntax newer than this Python
    (left to LibCST).  Nesting too deep for it raises, since it would crash LibCST."""
    try:
        return _compile(text, filename)
    except SyntaxError as exc:
        if "nested" in (exc.msg or ""):
            raise FileError(filename, f"syntax error: {exc.msg}", exc.lineno) from None
        return None
    except (ValueError, RecursionError) as exc:
        raise FileError(filename, f"cannot parse: {type(exc).__name__}") from None


def _syntax_error(text: str, filename: str, exc: cst.ParserSyntaxError) -> FileError:
    """Python's own message when it has one: shorter and better placed than the parser's."""
    try:
        _compile(text, filename)
    except SyntaxError as py_exc:
        return FileError(filename, f"syntax error: {py_exc.msg}", py_exc.lineno)
    except (ValueError, RecursionError, MemoryError):
        pass
    message = exc.message.split(": expected one of")[0]
    return FileError(filename, f"syntax error: {message}", exc.editor_line)


def analyze(text: str, filename: str, settings: Optional[Settings] = None) -> Optional[Analysis]:
    settings = settings or Settings()
    # Python's own parser first: several times faster than LibCST, it makes sure a broken
    # file is not passed as clean, and it refuses the deep nesting that overflows the stack
    # of LibCST's native parser (a crash no exception handler could catch).
    tree = _python_tree(text, filename)
    relevant = may_matter(text) and (tree is None or tree_may_matter(tree))
    if tree is not None and not relevant:
        return None  # nothing here can produce a finding: no LibCST tree is built
    module = parse(text, filename)
    if not relevant:
        return None
    tracker = Tracker(module)
    facts = tracker.run()
    ctx = Context(module, facts)
    findings = []
    for rule in all_rules():
        if settings.enabled(rule.code):
            findings.extend(rule.check(ctx))
    return Analysis(module, facts, findings, tracker.module_scope.vars)


def check_source(text: str, filename: str = "<string>", settings: Optional[Settings] = None,
                 batch_first: bool = False, edits: bool = True) -> list[Diagnostic]:
    """Diagnostics for one file's text, sorted by position.  Raises FileError on bad input.

    Each diagnostic carries the fix that ``fix`` would apply for it (with ``batch_first``
    choosing the layout strategy); ``edits=False`` leaves out its edits, which cost a pass
    over the tree for statement-level fixes and only machine-readable reports show.
    """
    analysis = analyze(text, filename, settings)
    if analysis is None:
        return []
    return to_diagnostics(analysis, text, filename, batch_first, edits)


def to_diagnostics(analysis: Analysis, text: str, filename: str,
                   batch_first: bool = False, edits: bool = True) -> list[Diagnostic]:
    from rnnshape.fixes import FixContext, Options, fix_of

    if not analysis.findings:
        return []  # and the positions are never computed
    rules = {r.code: r for r in all_rules()}
    fctx = FixContext(Context(analysis.module, analysis.facts), analysis.positions,
                      Options(batch_first=batch_first))
    lines = text.splitlines()
    out: dict[tuple, Diagnostic] = {}
    for finding in analysis.findings:
        rule = rules[finding.code]
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
            fix=fix_of(finding, fctx, text, edits),
            source_line=lines[start.line - 1] if start.line - 1 < len(lines) else "",
        )
    return sorted(out.values(), key=lambda d: (d.row, d.column, d.code))


def trace_line(analysis: Analysis, step) -> TraceLine:
    text = analysis.module.code_for_node(step.node)
    text = one_line(text)
    if len(text) > 60:
        text = text[:57] + "..."
    shape = str(step.shape) if step.shape is not None else step.note
    row = analysis.positions[step.node].start.line
    return TraceLine(row=row, text=text, shape=shape)
