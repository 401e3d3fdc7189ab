"""Positions and parents computed without a MetadataWrapper are LibCST's own answers."""
from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from rnnshape.rules import all_rules
from rnnshape.syntax import parents, positions

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p.read_text(encoding="utf-8") for p in sorted(ROOT.glob("examples/**/*.py"))] + \
    [example.clean for rule in all_rules() for example in rule.invalid] + \
    ["x = (1,\n     2)  # comment\n\n\nclass A:\n    def f(self): return [i for i in 'ab']\n",
     "if True:\r\n    y = 1\r\n", ""]


@pytest.mark.parametrize("source", SOURCES, ids=range(len(SOURCES)))
def test_positions_and_parents_match_libcst_metadata(source):
    module = cst.parse_module(source)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    expected_positions = wrapper.resolve(PositionProvider)
    expected_parents = wrapper.resolve(ParentNodeProvider)
    got = positions(module)
    assert {id(n): r for n, r in got.items()} == {id(n): r for n, r in expected_positions.items()}
    assert {id(n): id(p) for n, p in parents(module).items()} == \
        {id(n): id(p) for n, p in expected_parents.items()}
