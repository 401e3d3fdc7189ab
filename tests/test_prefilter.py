"""The prefilter may skip a file only when no rule could fire on it."""
import ast

import pytest

from rnnshape.api import check_source
from rnnshape.prefilter import may_matter, tree_may_matter
from rnnshape.rules import all_rules


def passes(text: str) -> bool:
    return may_matter(text) and tree_may_matter(ast.parse(text))


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_every_invalid_example_passes_both_stages(rule):
    for example in rule.invalid:
        assert passes(example.clean), rule.code


@pytest.mark.parametrize("text", [
    '"""Wraps an LSTM; call .eval( before .numpy( and seed( first."""\nx = 1\n',
    "# model = nn.LSTM(4, 8); model.eval()\ny = 2\n",
    "import torch\nmodel = torch.nn.Linear(4, 2)\ntorch.manual_seed(0)\n",
    "import torch\nx = torch.zeros(4, 6).view(2, 12)\n",  # a view, but nothing made it non-contiguous
    "import torch\nseed = 3\nprint(seed)\n",  # a variable named seed is not a seed call
])
def test_files_with_nothing_to_check_are_skipped(text):
    assert not passes(text)


@pytest.mark.parametrize("text", [
    "from torch.nn import GRU as G\n",
    "import torch.nn as nn\nm = nn.modules.rnn.LSTM(4, 8)\n",
    "from numpy.random import seed as s\ns(0)\n",
    "import random\nrandom.seed(1)\n",
    "def f(x):\n    return x.transpose(0, 1).view(-1)\n",
    "def f(x):\n    return x.T.view(-1)\n",
    "import torch.nn.functional as F\nloss = F.cross_entropy(a, b)\n",
    "from torch.nn.utils.rnn import pack_padded_sequence\n",
    "def f(m, x):\n    m.eval()\n    return m(x)\n",
    "def f(t):\n    return t.numpy()\n",
])
def test_files_a_rule_may_need_pass(text):
    assert passes(text)


def test_keyword_only_in_a_docstring_gives_no_finding_and_no_parse():
    assert check_source('"""An LSTM tagger."""\nx = [1, 2]\n') == []


def test_a_broken_file_without_keywords_still_reports_its_syntax_error():
    from rnnshape.diagnostic import FileError
    with pytest.raises(FileError) as caught:
        check_source("x = (\n", "broken.py")
    assert str(caught.value).startswith("broken.py:1")
