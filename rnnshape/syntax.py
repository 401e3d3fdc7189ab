"""Source to trees: Python's parser first (syntax errors, and the ``ast`` the prefilter reads),
then LibCST's, and the two things rules and fixes ask of a LibCST tree: where a node is, and
what contains it.

Positions and parents are what LibCST's metadata providers compute; asking the providers
directly instead of through a ``MetadataWrapper`` skips the wrapper's extra pass over the
tree, which costs more than the answer on a one-file run (DESIGN section 7).
"""
from __future__ import annotations

import ast
import warnings
from typing import Optional

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from rnnshape.diagnostic import FileError


def _compile(text: str, filename: str):
    # Only the verdict matters: warnings about the user's code (invalid escapes, ``is`` with a
    # literal) are not ours to print, and ``-W error`` must not turn them into parse failures.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compile(text, filename, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)


def python_tree(text: str, filename: str) -> Optional[ast.Module]:
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


def positions(module: cst.Module) -> dict:
    """Node -> ``CodeRange`` (1-based lines, 0-based columns) for every node of ``module``."""
    provider = PositionProvider()
    try:
        provider._gen_impl(module)
        return provider._computed
    except AttributeError:  # a LibCST whose provider keeps its results elsewhere
        return dict(MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider))


def int_value(node) -> Optional[int]:
    """The value of an integer literal (``3``, ``-1``), else None."""
    if isinstance(node, cst.Integer):
        return int(node.value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus) and \
            isinstance(node.expression, cst.Integer):
        return -int(node.expression.value)
    return None


def argument(call: cst.Call, index: int, keyword: str) -> Optional[cst.BaseExpression]:
    """The value node of a call's argument, by keyword or position."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if index < len(positional):
        return positional[index].value
    return None


def whole_axis(part) -> bool:
    """``:`` in a subscript (a SubscriptElement or its slice): the whole axis."""
    if isinstance(part, cst.SubscriptElement):
        part = part.slice
    return isinstance(part, cst.Slice) and part.lower is None and part.upper is None and \
        part.step is None


def walk(node: cst.CSTNode, prune: tuple = ()):
    """Every node under ``node`` (itself included), read from the dataclass fields: libcst's
    ``children`` and ``visit`` rebuild each node they pass, which costs more than the
    analysis that asks.  Nodes of a ``prune`` type are yielded but not entered."""
    root, stack = node, [node]
    while stack:
        node = stack.pop()
        yield node
        if prune and node is not root and isinstance(node, prune):
            continue
        kids = []
        for name in _node_fields(type(node)):
            value = getattr(node, name)
            if isinstance(value, cst.CSTNode):
                kids.append(value)
            elif isinstance(value, (list, tuple)):
                kids.extend(item for item in value if isinstance(item, cst.CSTNode))
        stack.extend(reversed(kids))


_FIELDS: dict = {}
# Field types that never hold a node worth visiting (plain values, and whitespace that cannot
# carry a comment): skipping them saves most of a walk's getattr/isinstance work.
_LEAF_TYPES = (str, bool, int, cst.SimpleWhitespace)


def _node_fields(kind) -> tuple:
    fields = _FIELDS.get(kind)
    if fields is None:
        fields = _FIELDS[kind] = tuple(
            name for name, spec in kind.__dataclass_fields__.items()
            if not name.startswith("__") and spec.type not in _LEAF_TYPES)
    return fields


def parents(module: cst.Module, expressions: bool = True) -> dict:
    """Node -> the node that contains it (the module has none).  With ``expressions`` False
    the walk stops at simple statements and expressions: the statement skeleton, a tenth of
    the nodes, which is what climbing from a statement to its block needs."""
    found: dict = {}
    stack = [module]
    leaves = () if expressions else (cst.BaseExpression, cst.SimpleStatementLine)
    while stack:
        node = stack.pop()
        if leaves and isinstance(node, leaves):
            continue
        for name in node.__dataclass_fields__:
            value = getattr(node, name)
            if isinstance(value, cst.CSTNode):
                found[value] = node
                stack.append(value)
            elif isinstance(value, (list, tuple)):
                for item in value:
                    if isinstance(item, cst.CSTNode):
                        found[item] = node
                        stack.append(item)
    return found


class Unit:
    """One parsed source of a run: a file (or a notebook's program), its text and its tree,
    with positions and the statement skeleton computed the first time they are asked for."""

    __slots__ = ("path", "text", "module", "_positions", "_skeleton")

    def __init__(self, path: str, text: str, module: cst.Module):
        self.path = path
        self.text = text
        self.module = module
        self._positions = None
        self._skeleton = None

    @property
    def positions(self) -> dict:
        if self._positions is None:
            self._positions = positions(self.module)
        return self._positions

    @property
    def skeleton(self) -> dict:
        """Statement -> the node that holds it (see ``parents``)."""
        if self._skeleton is None:
            self._skeleton = parents(self.module, expressions=False)
        return self._skeleton

    def holds(self, node) -> bool:
        return node in self.positions

    def __repr__(self) -> str:
        return f"Unit({self.path!r})"
