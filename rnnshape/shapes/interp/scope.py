"""Scopes, frames and the small value helpers the interpreter's parts share."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

import libcst as cst

from rnnshape.shapes.dims import Dim, Shape, role_from_name
from rnnshape.torch_api import RECURRENT, SHAPE_PRESERVING_MODULES
from rnnshape.shapes.values import FuncV, IntV, Lit, ModV, Ref, TensorV, TupleV, same_value

MAX_DEPTH = 6
MAX_STEPS = 60_000  # statements interpreted per file, so one file cannot stall a run

# ``f(*xs)`` with xs of unknown length: no argument position after it is known.
STAR = object()
MISSING = object()


class Budget(Exception):
    """The step budget is spent: the run stops and its facts are marked truncated."""


class Scope:
    __slots__ = ("vars", "parent", "unit")

    def __init__(self, parent: Optional["Scope"] = None, vars: Optional[dict] = None,
                 unit=None):
        self.vars = vars if vars is not None else {}
        self.parent = parent
        # The source a module scope belongs to; nested scopes find it through their parents.
        self.unit = unit if unit is not None else (parent.unit if parent is not None else None)

    def lookup(self, name: str):
        scope = self
        while scope is not None:
            if name in scope.vars:
                return scope.vars[name], True
            scope = scope.parent
        return None, False

    def owner_of(self, name: str) -> "Scope":
        """The scope that binds ``name``, or this one."""
        scope = self
        while scope is not None and name not in scope.vars:
            scope = scope.parent
        return scope or self


@dataclass
class Frame:
    scope: Scope
    no_grad: bool = False
    depth: int = 0
    returns: list = field(default_factory=list)
    func: Optional[FuncV] = None
    in_loop: bool = False  # loop bodies run once, so accumulators are not followed
    # This path has ended (a return, a raise, a break): what follows in the block is not run.
    done: bool = False

    @property
    def unit(self):
        """The source whose code this frame runs."""
        return self.scope.unit

    @property
    def function_name(self) -> Optional[str]:
        return self.func.node.name.value if self.func is not None else None


@dataclass
class BranchAttrs:
    """The attributes a set of branches writes, as they were before the first branch."""

    before: dict = field(default_factory=dict)  # (id(inst), name) -> (inst, name, old value)
    created: set = field(default_factory=set)  # objects built inside: nothing to go back to

    def note(self, inst, name: str):
        if id(inst) not in self.created:
            self.before.setdefault((id(inst), name), (inst, name, inst.attrs.get(name, MISSING)))

    def snapshot(self) -> dict:
        return {key: inst.attrs.get(name, MISSING) for key, (inst, name, _) in self.before.items()}

    def rewind(self) -> None:
        for inst, name, old in self.before.values():
            if old is MISSING:
                inst.attrs.pop(name, None)
            else:
                inst.attrs[name] = old

    def join(self, after: list[dict]) -> None:
        """Each attribute keeps the one value every branch gave it, else becomes unknown."""
        for key, (inst, name, old) in self.before.items():
            vals = [branch.get(key, old) for branch in after]
            if all(v is MISSING for v in vals):
                continue
            first = vals[0]
            if all(v is not MISSING and same_value(first, v) for v in vals):
                inst.attrs[name] = first
            else:
                inst.attrs[name] = _one_module(vals)


def _one_module(values: list):
    """The recurrent module one branch builds where the others build something unknown
    (``getattr(nn, rnn_type)(...)`` beside ``nn.RNN(...)``): calling the attribute runs that
    module on that branch's path, so what is found there holds on that path."""
    modules = [v for v in values if isinstance(v, ModV)]
    rest = [v for v in values if not isinstance(v, ModV)]
    if len(modules) == 1 and modules[0].info.kind in RECURRENT and all(v is None for v in rest):
        return modules[0]
    return _shape_keeping(values)


def dotted(node: cst.BaseExpression) -> Optional[str]:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def is_name(node: cst.BaseExpression, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name


def int_literal(node: cst.BaseExpression) -> Optional[int]:
    if isinstance(node, cst.Integer):
        return int(node.value, 0)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = int_literal(node.expression)
        return -inner if inner is not None else None
    return None


def decorators(node: cst.FunctionDef) -> set[str]:
    """Last names of a function's decorators: ``functools.cached_property`` -> ``cached_property``."""
    names = set()
    for deco in node.decorators:
        expr = deco.decorator.func if isinstance(deco.decorator, cst.Call) else deco.decorator
        if isinstance(expr, cst.Attribute):
            names.add(expr.attr.value)
        elif isinstance(expr, cst.Name):
            names.add(expr.value)
    return names


def pattern_names(pattern) -> list[str]:
    """The names a ``match`` pattern captures."""
    names = []

    class Collect(cst.CSTVisitor):
        def visit_MatchAs(self, node):
            if node.name is not None:
                names.append(node.name.value)

        def visit_MatchStar(self, node):
            if node.name is not None:
                names.append(node.name.value)

        def visit_MatchMapping(self, node):
            if node.rest is not None:
                names.append(node.rest.value)

    pattern.visit(Collect())
    return names


def named(value, name: str):
    """A size passed as ``batch_size`` means a batch, as it would if assigned to that name.

    Once bound to a parameter it is no longer fresh: ``n = seq_len`` in the callee must stay
    the caller's ``len(s)``, not become a new symbol ``n``."""
    if isinstance(value, IntV):
        dim = value.dim
        if dim.known and dim.role is None:
            role = role_from_name(name)
            if role:
                dim = dim.with_role(role, f"named {name}")
        return IntV(dim) if (dim is not value.dim or value.fresh) else value
    return value


def without_grad(value):
    """What an expression computes under no_grad does not require grad."""
    if isinstance(value, TensorV) and value.grad is not False:
        return replace(value, grad=False)
    if isinstance(value, TupleV):
        items = tuple(without_grad(item) for item in value.items)
        return value if all(a is b for a, b in zip(items, value.items)) else TupleV(items, value.is_list)
    return value


def signature(value):
    """What a helper's result may depend on: the key under which its summary is kept."""
    # Roles take no part in dim equality but do in what a helper returns: a summary made for
    # (20[time], 8) must not answer for (20[batch], 8).
    if isinstance(value, TensorV):
        shape = value.shape
        roles = tuple(d.role for d in shape.dims) if shape.dims is not None else (
            shape.last.role if shape.last is not None else None)
        layout = tuple(id(part) for part in value.layout_of) if value.layout_of else None
        return ("T", shape, roles, value.grad, id(value.rnn_src), id(value.layout_op), layout)
    if isinstance(value, IntV):
        return (value, value.dim.role)
    if isinstance(value, (Lit, Ref)):
        return value
    return id(value) if value is not None else None


def truth(value) -> Optional[bool]:
    """Whether a value is true, when the code makes that certain (a flag, a constant)."""
    if isinstance(value, Lit):
        if value.value is None or isinstance(value.value, (bool, int, float, str)):
            return bool(value.value)
        return None
    if isinstance(value, IntV) and value.dim.value is not None:
        return bool(value.dim.value)
    return None


def join_all(values):
    """The one value all of ``values`` are, else unknown."""
    if not values:
        return None
    first = values[0]
    if all(same_value(first, v) for v in values[1:]):
        if isinstance(first, TensorV) and any(
                v.cpu_made != first.cpu_made or v.on_device != first.on_device
                for v in values[1:]):
            # moved on one path only: where it is depends on the path
            return replace(first, cpu_made=None, on_device=False)
        return first
    return _tensor_join(values) or _shape_keeping(values)


def _tensor_join(values):
    """Tensors of one rank from different paths: what every path agrees on (a dim that differs
    is unknown, keeping a meaning all paths give it)."""
    if not all(isinstance(v, TensorV) and v.shape.dims is not None for v in values):
        return None
    rank = len(values[0].shape.dims)
    if any(len(v.shape.dims) != rank for v in values):
        return None
    dims = []
    for column in zip(*(v.shape.dims for v in values)):
        roles = {d.role for d in column}
        role = roles.pop() if len(roles) == 1 else None
        same = all(d.same(column[0]) is True for d in column[1:])
        dims.append(column[0].with_role(role, column[0].origin) if same else Dim.unknown(role))
    first = values[0]
    grads = {v.grad for v in values}
    made = {v.cpu_made for v in values}
    return replace(first, shape=Shape(tuple(dims)), layout_op=None, layout_of=None,
                   cpu_made=made.pop() if len(made) == 1 else None,
                   on_device=all(v.on_device for v in values),
                   rnn_src=first.rnn_src if all(v.rnn_src is first.rnn_src for v in values)
                   else None, grad=grads.pop() if len(grads) == 1 else None,
                   pick=None, state_of=None)


def _shape_keeping(values):
    """``nn.Dropout(p) if p else nn.Identity()``: modules that all keep their input's shape act
    the same on shapes, whichever is built."""
    if all(isinstance(v, ModV) and v.info.kind in SHAPE_PRESERVING_MODULES for v in values):
        return values[0]
    return None


def join_returns(values):
    """A function's result: what every ``return`` gives (bare returns aside), else unknown."""
    values = [v for v in values if not (isinstance(v, Lit) and v.value is None)] or values
    return join_all(values)
