"""The part of a file that defines the model, without the part that runs it.

Kept: imports, function and class definitions, and module-level assignments whose values are
literals or arithmetic on other kept constants.  A module-level name the tracker knows as a
size (``vocab_size = len(word_to_idx)``) is bound to its integer.  A module-level ``nn.*``
construction is rebuilt from its configuration.  Everything else (loading data, training
loops, ``if __name__ == "__main__"``) is dropped and never executed.
"""
from __future__ import annotations

from typing import Optional

import libcst as cst

from rnnshape.harness.bindings import Bindings
from rnnshape.shapes.dims import Dim
from rnnshape.shapes.facts import ModuleInfo
from rnnshape.shapes.values import IntV, Lit, ModV

TORCH = "__rnnshape_torch"


def _is_constant(node, known: set[str]) -> bool:
    if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString,
                         cst.ConcatenatedString)):
        return True
    if isinstance(node, cst.Name):
        return node.value in known or node.value in ("True", "False", "None")
    if isinstance(node, cst.UnaryOperation):
        return _is_constant(node.expression, known)
    if isinstance(node, cst.BinaryOperation):
        return _is_constant(node.left, known) and _is_constant(node.right, known)
    if isinstance(node, (cst.Tuple, cst.List)):
        return all(not isinstance(e, cst.StarredElement) and _is_constant(e.value, known)
                   for e in node.elements)
    if isinstance(node, cst.Dict):  # ``CFG = {"hidden": 16}``
        return all(isinstance(e, cst.DictElement) and _is_constant(e.key, known) and
                   _is_constant(e.value, known) for e in node.elements)
    if isinstance(node, cst.Subscript):  # ``CFG["hidden"]``
        return _is_constant(node.value, known) and all(
            isinstance(e.slice, cst.Index) and _is_constant(e.slice.value, known)
            for e in node.slice)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and \
            node.func.value in known:
        # a dataclass of the file built from constants (``Config(hidden=16)``): a record, no
        # behaviour of its own
        return all(arg.star == "" and _is_constant(arg.value, known) for arg in node.args)
    if isinstance(node, cst.Attribute):  # ``cfg.hidden``
        return _is_constant(node.value, known)
    return False


def _is_dataclass(node: cst.ClassDef) -> bool:
    return any(cst.Module([]).code_for_node(d.decorator).split("(")[0].rpartition(".")[2]
               == "dataclass" for d in node.decorators)


def _only_imports(body) -> bool:
    for stmt in body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            return False
        if not all(isinstance(s, (cst.Import, cst.ImportFrom, cst.Pass, cst.Assign)) for s in stmt.body):
            return False
    return True


def module_expression(info: ModuleInfo, bindings: Bindings) -> Optional[str]:
    """``torch.nn.LSTM(input_size=11, ...)`` from what the tracker saw."""
    parts = []
    for key, value in info.cfg.items():
        if isinstance(value, bool):
            parts.append(f"{key}={value}")
        elif isinstance(value, Dim):
            number = bindings.value(value)
            if number is None:
                return None
            parts.append(f"{key}={number}")
        elif isinstance(value, float):
            parts.append(f"{key}={value!r}")
        elif value is None:
            continue
        elif isinstance(value, str):
            parts.append(f"{key}={value!r}")
    return f"{TORCH}.nn.{info.kind}({', '.join(parts)})"


def build_program(module: cst.Module, scope: dict, bindings: Bindings) -> str:
    known: set[str] = set()
    kept: list[str] = [f"import torch as {TORCH}\n"]
    for stmt in module.body:
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            kept.append(module.code_for_node(stmt.with_changes(leading_lines=())))
            if isinstance(stmt, cst.ClassDef) and _is_dataclass(stmt):
                known.add(stmt.name.value)
            continue
        if isinstance(stmt, cst.Try) and _only_imports(stmt.body.body):
            kept.append(module.code_for_node(stmt.with_changes(leading_lines=())))
            continue
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if isinstance(small, (cst.Import, cst.ImportFrom)):
                if isinstance(small, cst.ImportFrom) and small.module is not None and \
                        module.code_for_node(small.module) == "__future__":
                    continue  # must stay first in a file; the harness does not need it
                kept.append(module.code_for_node(small) + "\n")
                continue
            pairs = _tuple_assignment(small)
            if pairs is not None:  # ``EMB, HID = 8, 16``
                if all(_is_constant(v, known) for _, v in pairs):
                    kept.extend(f"{t} = {module.code_for_node(v)}\n" for t, v in pairs)
                    known.update(t for t, _ in pairs)
                continue
            target, value = _simple_assignment(small)
            if target is None:
                continue
            if _is_constant(value, known):
                kept.append(f"{target} = {module.code_for_node(value)}\n")
                known.add(target)
                continue
            bound = scope.get(target)
            if isinstance(bound, IntV):
                number = bindings.value(bound.dim)
                if number is not None:
                    kept.append(f"{target} = {number}  # rnnshape: bound size\n")
                    known.add(target)
            elif isinstance(bound, Lit) and isinstance(bound.value, (bool, int, float)):
                kept.append(f"{target} = {bound.value!r}\n")
                known.add(target)
            elif isinstance(bound, ModV):
                expr = module_expression(bound.info, bindings)
                if expr is not None:
                    kept.append(f"{target} = {expr}\n")
                    known.add(target)
    return "".join(kept)


def _tuple_assignment(small) -> Optional[list]:
    """``a, b = 1, 2``: the (name, value) pairs; None for any other statement."""
    if not (isinstance(small, cst.Assign) and len(small.targets) == 1):
        return None
    target, value = small.targets[0].target, small.value
    if not (isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List))
            and len(target.elements) == len(value.elements)):
        return None
    if not all(isinstance(e.value, cst.Name) and not isinstance(e, cst.StarredElement)
               for e in target.elements):
        return None
    return [(t.value.value, v.value) for t, v in zip(target.elements, value.elements)]


def _simple_assignment(small):
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and \
            isinstance(small.targets[0].target, cst.Name):
        return small.targets[0].target.value, small.value
    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name) and \
            small.value is not None:
        return small.target.value, small.value
    return None, None
