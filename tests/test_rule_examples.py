"""Tests generated from the rules' own examples and metadata.

A rule's examples are its documentation and its tests at once, so adding an example to a rule
adds a test here without touching this file.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pyflakes.checker
import pyflakes.messages
import pytest

from rnnshape.api import check_source
from rnnshape.rule_docs import rules_page
from rnnshape.rules import REGISTRY, Invalid, all_rules
from rnnshape.rules.base import MARKER, strip_marker

RULES = all_rules()
DOCS = Path(__file__).resolve().parent.parent / "docs" / "rules.md"


def _cases(kind: str):
    for rule in RULES:
        for i, example in enumerate(getattr(rule, kind)):
            source = example.source if kind == "invalid" else example
            yield pytest.param(rule, i, source, id=f"{rule.code}-{kind}-{i}")


def _show(diagnostics) -> str:
    # Printed on failure: the whole picture beats a bare set difference.
    return "\n".join(f"  {d.row}:{d.column} {d.code} [{d.severity}] {d.message}"
                     for d in diagnostics) or "  (no diagnostics)"


@pytest.mark.parametrize("rule, index, source", list(_cases("valid")))
def test_valid_example_is_clean(rule, index, source):
    assert not any(MARKER.search(line) for line in source.splitlines()), \
        "a valid example must not carry a '# <- here' marker"
    diagnostics = check_source(source, f"<{rule.code} valid {index}>")
    own = [d for d in diagnostics if d.code == rule.code]
    assert not own, f"{rule.code} fires on its own valid example:\n{_show(diagnostics)}"


@pytest.mark.parametrize("rule, index, source", list(_cases("invalid")))
def test_invalid_example_reports_marked_rows(rule, index, source):
    clean, rows = strip_marker(source)
    assert rows, "an invalid example must mark the reported line with '# <- here'"
    diagnostics = check_source(clean, f"<{rule.code} invalid {index}>")
    got = {(d.code, d.row) for d in diagnostics if d.code == rule.code}
    assert got == {(rule.code, row) for row in rows}, \
        f"marked rows {rows}, diagnostics:\n{_show(diagnostics)}"
    # An example that also trips another error would document two bugs as one.
    foreign = [d for d in diagnostics if d.code != rule.code and d.severity == "error"]
    assert not foreign, f"other rules' errors in the example:\n{_show(foreign)}"


# Fixed examples are compared with the fixer's output in tests/test_fixes.py.


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_examples_are_declared_as_such(rule):
    assert all(isinstance(v, str) for v in rule.valid)
    assert all(isinstance(i, Invalid) for i in rule.invalid)


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_rule_metadata(rule):
    assert re.fullmatch(r"RNN\d{3}", rule.code)
    assert REGISTRY[rule.code] is rule
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name), "names are kebab-case"
    for attr in ("summary", "what", "why"):
        assert getattr(rule, attr, "").strip(), f"{rule.code}.{attr} is empty"
    assert rule.valid, f"{rule.code} has no valid example"
    assert rule.invalid, f"{rule.code} has no invalid example"
    # RNN0xx are shape errors and RNN1xx hygiene warnings (DESIGN.md section 4).
    assert rule.severity == ("error" if rule.code.startswith("RNN0") else "warning")


def test_rule_names_unique():
    names = [r.name for r in RULES]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_rules_are_sorted_by_code():
    # The docs page and `rule --all` list rules in this order.
    assert [r.code for r in RULES] == sorted(REGISTRY)


def test_rules_doc_is_up_to_date():
    assert DOCS.exists(), "run: python -m rnnshape.rule_docs > docs/rules.md"
    assert DOCS.read_text(encoding="utf-8") == rules_page(), \
        "docs/rules.md is stale; run: python -m rnnshape.rule_docs > docs/rules.md"


def _undefined(source: str) -> set:
    checker = pyflakes.checker.Checker(ast.parse(source))
    return {m.message_args[0] for m in checker.messages
            if isinstance(m, pyflakes.messages.UndefinedName)}


@pytest.mark.parametrize("rule, index, source", list(_cases("invalid")))
def test_a_fixed_example_reads_no_name_its_invalid_one_did_not_bind(rule, index, source):
    # A fix may only use names bound where it edits: a NameError is worse than the warning.
    example = rule.invalid[index]
    before = _undefined(strip_marker(source)[0])
    for fixed in (example.fixed, example.fixed_batch_first):
        if isinstance(fixed, str):
            assert _undefined(fixed) <= before, f"{rule.code} fix reads an unbound name"
