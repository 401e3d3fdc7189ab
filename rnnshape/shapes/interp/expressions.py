"""Expressions: names, literals, attributes, subscripts, arithmetic, comprehensions."""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

import libcst as cst

from rnnshape.shapes.dims import Dim, Shape, role_from_name
from rnnshape.shapes.interp.scope import Frame, Scope, decorators, int_literal, without_grad
from rnnshape.shapes.ops import Item, binary, index_tensor, loader_batch, tensor_attribute
from rnnshape.shapes.ops.base import int_of
from rnnshape.shapes.ops.builtins import NAMES as BUILTIN_NAMES
from rnnshape.shapes.values import (BoundV, ClassV, DatasetV, InstV, IntV, ListV, Lit, LoaderV,
                                    ModuleV, ModV, Ref, StateTupleV, TensorV, TupleV, same_value)

# Names everyone uses for torch, taken to mean torch when a star import may have bound them.
CONVENTIONAL = {"nn": "torch.nn", "torch": "torch", "F": "torch.nn.functional"}


class Expressions:
    """The expression half of the interpreter (see ``Interpreter``)."""

    _current_scope: Optional[Scope] = None

    def eval_quiet(self, node):
        """Evaluate a name or attribute chain without side effects (no facts)."""
        if isinstance(node, cst.Name):
            scope = self._current_scope
            value, _ = scope.lookup(node.value) if scope else (None, False)
            return self.force(value, node.value, scope)
        if isinstance(node, cst.Attribute):
            return self.attribute(self.eval_quiet(node.value), node.attr.value, node)
        return None

    def eval_quiet_int(self, node) -> Optional[int]:
        value = int_literal(node)
        if value is not None:
            return value
        found = self.eval_quiet(node)
        return found.dim.value if isinstance(found, IntV) else None

    def eval(self, node, frame: Frame):
        self._current_scope = frame.scope
        return self._eval(node, frame)

    def _eval(self, node, frame: Frame):
        self.tick()
        handler = self._EXPRESSIONS.get(type(node))
        return handler(self, node, frame) if handler is not None else None

    def _name(self, node: cst.Name, frame: Frame):
        value, found = frame.scope.lookup(node.value)
        if found:
            return self.force(value, node.value, frame.scope)
        if node.value in ("True", "False"):
            return Lit(node.value == "True")
        if node.value == "None":
            return Lit(None)
        if node.value in BUILTIN_NAMES:
            return Ref(node.value)
        if self.star_imported and node.value in CONVENTIONAL:
            # ``from .layers import *`` re-exporting ``nn``: the names everyone uses for
            # torch are taken to mean torch when nothing in the file binds them.
            self.recorder.imports_torch()
            return Ref(CONVENTIONAL[node.value])
        return None

    def _integer(self, node: cst.Integer, frame: Frame):
        return IntV(Dim.const(int(node.value.replace("_", ""), 0)))

    def _float(self, node: cst.Float, frame: Frame):
        return Lit(float(node.value.replace("_", "")) if "j" not in node.value.lower() else None)

    def _string(self, node, frame: Frame):
        return Lit(str)

    def _attribute(self, node: cst.Attribute, frame: Frame):
        base = self._eval(node.value, frame)
        self._current_scope = frame.scope
        return self.attribute(base, node.attr.value, node)

    def _call(self, node: cst.Call, frame: Frame):
        result = self.call(node, frame)
        return without_grad(result) if frame.no_grad else result

    def _binary(self, node: cst.BinaryOperation, frame: Frame):
        left = self._eval(node.left, frame)
        right = self._eval(node.right, frame)
        result = binary(left, right, node.operator, node)
        return without_grad(result) if frame.no_grad else result

    def _unary(self, node: cst.UnaryOperation, frame: Frame):
        inner = self._eval(node.expression, frame)
        if isinstance(node.operator, cst.Minus) and isinstance(inner, IntV):
            return IntV(Dim.const(0) - inner.dim) if inner.dim.value is not None else None
        if isinstance(inner, TensorV) and not isinstance(node.operator, cst.Not):
            return inner
        return None

    def _sequence(self, node, frame: Frame):
        items = []
        for element in node.elements:
            if isinstance(element, cst.StarredElement):
                self._eval(element.value, frame)
                return None
            items.append(self._eval(element.value, frame))
        return TupleV(tuple(items), is_list=isinstance(node, cst.List))

    def _if_exp(self, node: cst.IfExp, frame: Frame):
        self._eval(node.test, frame)
        a = self._eval(node.body, frame)
        b = self._eval(node.orelse, frame)
        return a if same_value(a, b) else None

    def _boolean(self, node: cst.BooleanOperation, frame: Frame):
        self._eval(node.left, frame)
        self._eval(node.right, frame)
        return None

    def _comparison(self, node: cst.Comparison, frame: Frame):
        self._eval(node.left, frame)
        for target in node.comparisons:
            self._eval(target.comparator, frame)
        return None

    def _named_expr(self, node: cst.NamedExpr, frame: Frame):
        value = self._eval(node.value, frame)
        self.bind_target(node.target, value, frame)
        return value

    def _await(self, node: cst.Await, frame: Frame):
        return self._eval(node.expression, frame)

    def _nothing(self, node, frame: Frame):
        return None

    # -------------------------------------------------------------- subscripts
    def _subscript(self, node: cst.Subscript, frame: Frame):
        base = self._eval(node.value, frame)
        if isinstance(base, TensorV):
            result = index_tensor(base, self.index_items(node, frame), node)
        else:
            result = self.subscript_value(base, node, frame)
        if isinstance(base, (TensorV, StateTupleV)):
            result = self.note_state_index(base, node, result)
        if isinstance(base, TensorV) and base.layout_of is not None:
            result = self.recorder.layout_use(base, node, "index", result)
        return result

    def index_items(self, node: cst.Subscript, frame: Frame) -> list[Item]:
        items = []
        for element in node.slice:
            sl = element.slice
            if isinstance(sl, cst.Slice):
                full = sl.lower is None and sl.upper is None and sl.step is None
                items.append(Item("full" if full else "part"))
            elif isinstance(sl.value, cst.Name) and sl.value.value == "None":
                items.append(Item("new"))
            elif isinstance(sl.value, cst.Ellipsis):
                items.append(Item("ellipsis"))
            else:
                items.append(Item("value", self._eval(sl.value, frame)))
        return items

    def subscript_value(self, base, node: cst.Subscript, frame: Frame):
        """Indexing a tuple, list or dataset."""
        elements = node.slice
        if len(elements) != 1 or not isinstance(elements[0].slice, cst.Index):
            if isinstance(base, TupleV) and len(elements) == 1:
                sl = elements[0].slice
                lo = int_of(self._eval(sl.lower, frame)) if sl.lower is not None else 0
                hi = int_of(self._eval(sl.upper, frame)) if sl.upper is not None else len(base.items)
                if sl.step is None and lo is not None and hi is not None:
                    return TupleV(base.items[lo:hi], base.is_list)
            return None
        index = self._eval(elements[0].slice.value, frame)
        if isinstance(base, TupleV):
            i = int_of(index)
            if i is not None and -len(base.items) <= i < len(base.items):
                return base.items[i]
            return None
        if isinstance(base, ListV):
            return base.elem
        if isinstance(base, DatasetV):
            return TupleV(base.items)
        return None

    def note_state_index(self, base, node: cst.Subscript, result):
        elements = node.slice
        if len(elements) != 1 or not isinstance(elements[0].slice, cst.Index):
            return result
        index = self.eval_quiet_int(elements[0].slice.value)
        if isinstance(base, StateTupleV):
            if index in (-1, 1):
                self.recorder.state_misuse(
                    node, base.module, "tuple-as-tensor",
                    f"[{index}] of the LSTM's (h_n, c_n) tuple is c_n, the cell state")
            return result
        if base.state_of is not None and base.pick is None and index is not None and \
                isinstance(result, TensorV):
            pick = self.recorder.pick(node, base, index)
            result = replace(result, pick=pick)
        return result

    # -------------------------------------------------------------- comprehensions
    def _comprehension(self, node, frame: Frame):
        self.comprehensions += 1
        try:
            return self.comprehension(node, frame)
        finally:
            self.comprehensions -= 1

    def comprehension(self, node, frame: Frame):
        scope = Scope(frame.scope)
        inner = Frame(scope, frame.no_grad, frame.depth, func=frame.func)
        length = Dim.unknown()
        comp = node.for_in
        first = True
        while comp is not None:
            iterable = self._eval(comp.iter, inner)
            if first:
                length = self.length_of(iterable, comp.iter)
                if isinstance(comp.iter, cst.Name) and length.role is None and length.known:
                    role = role_from_name(comp.iter.value)
                    if role:
                        length = length.with_role(role, f"one row per item of {comp.iter.value}")
                first = False
            else:
                length = Dim.unknown()
            self.bind_target(comp.target, self.iter_elem(iterable, comp.iter), inner)
            if comp.ifs:
                length = Dim.unknown()
            comp = comp.inner_for_in
        self._current_scope = scope
        elem = self._eval(node.elt, inner)
        self._current_scope = frame.scope
        return ListV(elem, length)

    def length_of(self, value, node) -> Dim:
        if isinstance(value, ListV):
            return value.length
        if isinstance(value, TupleV):
            return Dim.const(len(value.items))
        if isinstance(value, TensorV) and value.shape.dims:
            return value.shape.dims[0]
        if isinstance(value, IntV):  # range(n) is represented by its length
            return value.dim
        text = self.code(node)
        if len(text) > 40:
            return Dim.unknown()
        return Dim.sym(f"len({text})", origin=f"the length of {text}")

    def iter_elem(self, iterable, node):
        if isinstance(iterable, LoaderV):
            return loader_batch(iterable, node)
        if isinstance(iterable, IntV):  # a range
            return IntV(Dim.unknown())
        if isinstance(iterable, ListV):
            return iterable.elem
        if isinstance(iterable, TupleV):
            items = iterable.items
            if items and all(same_value(items[0], it) for it in items[1:]):
                return items[0]
            return None
        if isinstance(iterable, TensorV) and iterable.shape.dims:
            return replace(iterable, shape=Shape(iterable.shape.dims[1:]))
        if isinstance(iterable, DatasetV):
            return TupleV(iterable.items)  # a TensorDataset sample is a tuple, even of one
        return None

    # -------------------------------------------------------------- attributes
    def attribute(self, base, name: str, node):
        if isinstance(base, Ref):
            return Ref(f"{base.qualname}.{name}")
        if isinstance(base, InstV):
            return self.instance_attribute(base, name)
        if isinstance(base, ClassV):
            if name in base.methods:
                return base.methods[name]
            return base.class_attrs.get(name)
        if isinstance(base, ModV):
            value = base.info.cfg.get(name)
            if isinstance(value, Dim):
                return IntV(value)
            if isinstance(value, bool):
                return Lit(value)
            return None
        if isinstance(base, TensorV):
            return tensor_attribute(base, name, node)
        if isinstance(base, ModuleV):
            return self.module_attribute(base, name)
        return None

    def instance_attribute(self, base: InstV, name: str):
        if name in base.attrs:
            return base.attrs[name]
        if name in base.cls.methods:
            method = base.cls.methods[name]
            if decorators(method.node) & {"property", "cached_property"}:
                return self.call_function(method, [], {}, Frame(method.env), bound=base)
            return BoundV(base, method)
        return base.cls.class_attrs.get(name)

    _EXPRESSIONS = {
        cst.Name: _name,
        cst.Integer: _integer,
        cst.Float: _float,
        cst.SimpleString: _string, cst.ConcatenatedString: _string, cst.FormattedString: _string,
        cst.Attribute: _attribute,
        cst.Call: _call,
        cst.Subscript: _subscript,
        cst.BinaryOperation: _binary,
        cst.UnaryOperation: _unary,
        cst.Tuple: _sequence, cst.List: _sequence,
        cst.ListComp: _comprehension, cst.GeneratorExp: _comprehension,
        cst.IfExp: _if_exp,
        cst.BooleanOperation: _boolean,
        cst.Comparison: _comparison,
        cst.Lambda: _nothing,
        cst.NamedExpr: _named_expr,
        cst.Dict: _nothing, cst.Set: _nothing, cst.DictComp: _nothing, cst.SetComp: _nothing,
        cst.Await: _await,
    }
