"""Which files can produce a finding at all, decided before LibCST parses them.

Parsing with LibCST costs several times more than Python's own parser, and most files of a large
tree have nothing a rule looks at.  Two cheap stages, each a superset of what the rules need:
a substring scan of the text, then a walk over the ``ast`` tree that the syntax check built
anyway, which drops files whose keywords sit only in comments, strings or unrelated names.
"""
from __future__ import annotations

import ast
import re

# ``in`` is a fast byte search, where a regex alternation walks the text once per start offset.
_WORDS = ("LSTM", "GRU", "RNN",  # recurrent modules and cells: RNN001-010, RNN104
          ".eval(", ".numpy(",  # RNN101, RNN105; RNN102
          "pack_padded", "pad_packed",  # RNN008
          "CrossEntropy", "cross_entropy", "NLLLoss", "nll_loss")  # RNN006, RNN007
# RNN103 starts from a numpy/random seed call (perhaps under an alias); ``manual_seed(`` alone
# cannot produce it.
_SEED = re.compile(r"\bseed\b")
# RNN006's view check needs a layout op that makes the tensor non-contiguous.
_NON_CONTIGUOUS = re.compile(r"permute|transpose|swapaxes|swapdims|movedim|moveaxis|\.m?T\b|\.t\(")

_RECURRENT = {"LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell"}
_NAMES = _RECURRENT | {"pack_padded_sequence", "pad_packed_sequence", "CrossEntropyLoss",
                       "cross_entropy", "NLLLoss", "nll_loss"}
_CALLS = {"eval", "numpy", "seed"}
_LAYOUT = {"permute", "transpose", "swapaxes", "swapdims", "movedim", "moveaxis", "T", "mT", "t"}


def may_matter(text: str) -> bool:
    """False when no rule can fire on ``text``, whatever its code does."""
    if any(word in text for word in _WORDS):
        return True
    if "seed" in text and _SEED.search(text):
        return True
    return ".view(" in text and _NON_CONTIGUOUS.search(text) is not None


def tree_may_matter(tree: ast.AST) -> bool:
    """The same question on the parsed file: only names and calls in code count."""
    names: set[str] = set()
    calls: set[str] = set()
    for node in ast.walk(tree):
        kind = type(node)
        if kind is ast.Attribute:
            names.add(node.attr)
        elif kind is ast.Name:
            names.add(node.id)
        elif kind is ast.alias:
            # ``from numpy.random import seed as s``: the alias hides the name from calls
            imported = node.name.rpartition(".")[2]
            names.add(imported)
            if imported == "seed":
                calls.add(imported)
        elif kind is ast.Call:
            func = node.func
            if type(func) is ast.Attribute:
                calls.add(func.attr)
            elif type(func) is ast.Name:
                calls.add(func.id)
    if not names.isdisjoint(_NAMES) or not calls.isdisjoint(_CALLS):
        return True
    return "view" in calls and not names.isdisjoint(_LAYOUT)
