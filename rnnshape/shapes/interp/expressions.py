"""Expressions: names, literals, attributes, subscripts, arithmetic, comprehensions."""
from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Optional

import libcst as cst

from rnnshape.shapes.dims import Dim, Shape, count_role
from rnnshape.shapes.interp.scope import (Frame, Scope, decorators, int_literal, join_all, truth,
                                          without_grad)
from rnnshape.shapes.ops import Item, binary, index_tensor, loader_batch, tensor_attribute
from rnnshape.shapes.ops.base import int_of
from rnnshape.shapes.ops.builtins import NAMES as BUILTIN_NAMES
from rnnshape.shapes.ops.reduce import broadcast
from rnnshape.shapes.values import (BoundV, ClassV, DatasetV, DictV, InstV, IntV, ListV, Lit, SizesV,
                                    LoaderV, MappingV, ModuleV, ModV, NamespaceV, Ref, StateTupleV,
                                    TensorV, TupleV, same_value)
from rnnshape.syntax import whole_axis

# Library constants that are plain numbers: a tensor scaled by one keeps its shape.
NUMBERS = {name: Lit(3.141592653589793) for name in ("math.pi", "numpy.pi", "torch.pi")}
NUMBERS.update({name: Lit(2.718281828459045) for name in ("math.e", "numpy.e", "torch.e")})
NUMBERS.update({name: Lit(float("inf")) for name in ("math.inf", "numpy.inf", "torch.inf")})

# Names everyone uses for torch (and a few that star imports of libraries built on it, such as
# ``from fastai.basics import *``, bring along), taken to mean those when a star import may
# have bound them.
CONVENTIONAL = {"nn": "torch.nn", "torch": "torch", "F": "torch.nn.functional",
                "OrderedDict": "collections.OrderedDict", "np": "numpy"}


def compare(operator, left, right):
    """A comparison the code settles: of two known numbers or strings, or of a value with
    None (``if hidden is None:`` where hidden is known to be given, or not)."""
    if isinstance(operator, (cst.Is, cst.IsNot)):
        none_right = isinstance(right, Lit) and right.value is None
        if not none_right or left is None:
            return None
        is_none = isinstance(left, Lit) and left.value is None
        return Lit(is_none if isinstance(operator, cst.Is) else not is_none)
    a, b = _constant(left), _constant(right)
    if a is None or b is None or type(a) is not type(b) and not (
            isinstance(a, (int, float)) and isinstance(b, (int, float))):
        return None
    tests = {cst.Equal: lambda: a == b, cst.NotEqual: lambda: a != b,
             cst.LessThan: lambda: a < b, cst.GreaterThan: lambda: a > b,
             cst.LessThanEqual: lambda: a <= b, cst.GreaterThanEqual: lambda: a >= b}
    test = tests.get(type(operator))
    try:
        return Lit(bool(test())) if test is not None else None
    except TypeError:
        return None


def _constant(value):
    if isinstance(value, IntV):
        return value.dim.value
    if isinstance(value, Lit) and isinstance(value.value, (bool, int, float, str)):
        return value.value
    return None


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
        # A plain literal keeps its text (a dict key, an option name); others are some str.
        if isinstance(node, cst.SimpleString):
            raw = node.value
            if len(raw) >= 2 and raw[0] in "'\"" and raw[-1] == raw[0] and "\\" not in raw \
                    and not raw.startswith(raw[0] * 3):
                return Lit(raw[1:-1])  # most strings: no prefix, escape or triple quote
            try:
                with warnings.catch_warnings():  # ``"\d"``: the user's warning, not ours
                    warnings.simplefilter("ignore")
                    return Lit(node.evaluated_value)
            except Exception:  # an escape LibCST cannot evaluate
                return Lit(str)
        return Lit(str)

    def _dict(self, node: cst.Dict, frame: Frame):
        """``{"hidden": 32, **base}`` with string keys: a DictV; anything else unknown."""
        items: list = []
        known = True
        for element in node.elements:
            if isinstance(element, cst.StarredDictElement):
                other = self._eval(element.value, frame)
                if isinstance(other, DictV):
                    items.extend(other.items)
                else:
                    known = False
                continue
            key = self._eval(element.key, frame)
            value = self._eval(element.value, frame)
            if isinstance(key, Lit) and isinstance(key.value, str):
                items = [(k, v) for k, v in items if k != key.value] + [(key.value, value)]
            else:
                known = False
        return DictV(tuple(items)) if known else None

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
        if isinstance(node.operator, cst.Not):
            known = truth(inner)
            return Lit(not known) if known is not None else None
        if isinstance(inner, Lit) and isinstance(inner.value, float) and \
                isinstance(node.operator, (cst.Minus, cst.Plus)):
            return Lit(-inner.value if isinstance(node.operator, cst.Minus) else inner.value)
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
        known = truth(self._eval(node.test, frame))
        if known is not None:
            return self._eval(node.body if known else node.orelse, frame)
        a = self._eval(node.body, frame)
        b = self._eval(node.orelse, frame)
        return join_all([a, b])

    def _boolean(self, node: cst.BooleanOperation, frame: Frame):
        left = truth(self._eval(node.left, frame))
        right = truth(self._eval(node.right, frame))
        if isinstance(node.operator, cst.And):
            if left is False or right is False:
                return Lit(False)
            return Lit(True) if left and right else None
        if left is True or right is True:
            return Lit(True)
        return Lit(False) if left is False and right is False else None

    def _comparison(self, node: cst.Comparison, frame: Frame):
        """``x > 0``, ``lengths == 0``: for tensors, a mask of their broadcast shape."""
        left = self._eval(node.left, frame)
        operands = [left] + [self._eval(t.comparator, frame) for t in node.comparisons]
        if len(operands) != 2:
            return None
        if isinstance(node.comparisons[0].operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)):
            return compare(node.comparisons[0].operator, operands[0], operands[1])
        tensors = [v for v in operands if isinstance(v, TensorV)]
        if not tensors:
            return compare(node.comparisons[0].operator, operands[0], operands[1])
        if not all(isinstance(v, (TensorV, IntV, Lit)) for v in operands):
            return None
        shape = tensors[0].shape if len(tensors) == 1 else broadcast(tensors[0].shape,
                                                                      tensors[1].shape)
        return TensorV(shape, numpy=tensors[0].numpy, grad=False)

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
            result = note_state_index(self, base, node, result)
        if isinstance(base, TensorV) and base.layout_of is not None:
            result = self.recorder.layout_use(base, node, "index", result)
        return result

    def index_items(self, node: cst.Subscript, frame: Frame) -> list[Item]:
        items = []
        for element in node.slice:
            sl = element.slice
            if isinstance(sl, cst.Slice):
                full = whole_axis(sl)
                bounds = tuple(self._eval(b, frame) if b is not None else None
                               for b in (sl.lower, sl.upper, sl.step))
                items.append(Item("full") if full else Item("part", bounds))
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
        if isinstance(base, DictV):
            return base.get(index.value) if isinstance(index, Lit) else None
        if isinstance(base, MappingV):
            return base.value
        if isinstance(base, ModV):
            return self.container_item(base.info, index)
        if isinstance(base, TupleV):
            i = int_of(index)
            if i is not None and -len(base.items) <= i < len(base.items):
                return base.items[i]
            return None
        if isinstance(base, ListV):
            return base.elem
        if isinstance(base, SizesV):
            i = int_of(index)
            return base.item(i) if i is not None else None
        if isinstance(base, DatasetV):
            return TupleV(base.items)
        return None

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
                    role = count_role(comp.iter.value)
                    if role:
                        length = length.with_role(role, f"one row per item of {comp.iter.value}")
                first = False
            else:
                length = Dim.unknown()
            self.bind_target(comp.target, self.loop_value(iterable, comp.iter, comp.target), inner)
            if comp.ifs:
                length = Dim.unknown()
            comp = comp.inner_for_in
        self._current_scope = scope
        if isinstance(node, cst.DictComp):
            found = MappingV(self._eval(node.key, inner), self._eval(node.value, inner))
        else:
            found = ListV(self._eval(node.elt, inner), length)
        self._current_scope = frame.scope
        return found

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

    def loop_value(self, iterable, node, target):
        """What a ``for`` target is bound to: an element, or for a range a symbol of the loop
        variable's name, so that ``x[i:i + w]`` is ``w`` long."""
        if isinstance(iterable, IntV) and isinstance(target, cst.Name):
            return IntV(Dim.index(target.value))
        return self.iter_elem(iterable, node)

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
        if isinstance(iterable, ModV) and iterable.info.children:
            return join_all(list(iterable.info.children))
        if isinstance(iterable, ModV) and iterable.info.each is not None:
            return iterable.info.each
        return None

    # -------------------------------------------------------------- attributes
    def attribute(self, base, name: str, node):
        if isinstance(base, Ref):
            qualname = f"{base.qualname}.{name}"
            return NUMBERS.get(qualname, Ref(qualname))
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
            if name == "data":
                self.recorder.detached()
            return tensor_attribute(base, name, node)
        if isinstance(base, ModuleV):
            return self.module_attribute(base, name)
        if isinstance(base, NamespaceV):
            return base.get(name)
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
        cst.Dict: _dict, cst.Set: _nothing, cst.DictComp: _comprehension, cst.SetComp: _nothing,
        cst.Await: _await,
    }


def _first_rows(part) -> Optional[cst.BaseExpression]:
    """``n`` of a slice ``:n`` (or ``0:n``), else None."""
    if isinstance(part, cst.Slice) and part.upper is not None and part.step is None and \
            (part.lower is None or int_literal(part.lower) == 0):
        return part.upper
    return None


def note_state_index(ex: Expressions, base, node: cst.Subscript, result):
    """What an index of a recurrent state picks: a layer (``h_n[-1]``), its first rows
    (``h_n[:n]``), or an item of an LSTM's ``(h, c)`` tuple."""
    elements = node.slice
    # ``h_n[-2, :, :]`` picks a layer just as ``h_n[-2]`` does
    rest_full = all(whole_axis(e) for e in elements[1:])
    first = elements[0].slice
    upper = _first_rows(first) if rest_full else None
    if upper is not None and isinstance(base, TensorV) and base.state_of is not None and \
            base.pick is None and isinstance(result, TensorV):
        # ``h_n[:n_layers]``: which rows these are matters once it starts another module
        stop = ex.eval_quiet_int(upper)
        if stop is not None and stop > 0:
            return replace(result, pick=ex.recorder.pick(node, base, None, stop))
    if not isinstance(first, cst.Index) or not rest_full:
        if len(elements) > 1 and isinstance(result, TensorV) and result.state_of is not None:
            result = replace(result, state_of=None, pick=None)  # not a layer of the state
        return result
    index = ex.eval_quiet_int(elements[0].slice.value)
    if isinstance(base, StateTupleV):
        if index is not None:
            ex.recorder.state_tuple_item(base, index)
        if index in (-1, 1):
            ex.recorder.state_misuse(
                node, base.module, "tuple-as-tensor",
                f"[{index}] of the LSTM's (h_n, c_n) tuple is c_n, the cell state", id(base))
        return result
    if base.state_of is not None and base.pick is None and index is not None and \
            isinstance(result, TensorV):
        pick = ex.recorder.pick(node, base, index)
        result = replace(result, pick=pick)
    return result
