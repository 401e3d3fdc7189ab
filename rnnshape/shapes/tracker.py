"""An abstract interpreter over one module that follows tensor shapes.

It runs the module body in order, binds names to abstract values (``values.py``), walks into
``forward`` when a module instance is called and into local helpers when they are called, and
records facts (``facts.py``) for the rules.  Both branches of an ``if`` run and are joined;
loop bodies run once.  Whatever it does not understand becomes unknown, and unknown never
produces a finding.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Optional

import libcst as cst
from libcst import matchers

from rnnshape import torch_api as api
from rnnshape.shapes import ops
from rnnshape.shapes.dims import BATCH, FEATURE, TIME, Dim, Shape, role_from_name
from rnnshape.shapes.facts import (EvalRegion, Facts, LayerCall, LayoutUse, LossCall, ModelCall,
                                   ModuleInfo, NumpyCall, RecurrentCall, SeedCall, StateMisuse,
                                   StatePick, TrainLoop)
from rnnshape.shapes.values import (BoundV, ClassV, DatasetV, FuncV, InstV, IntV, ListV, Lit,
                                    LoaderV, ModV, PackedV, Ref, StateTupleV, TensorV, TupleV,
                                    same_value)

MAX_DEPTH = 6
MAX_STEPS = 60_000  # statements interpreted per file, so one file cannot stall a run


class Budget(Exception):
    pass


class Scope:
    __slots__ = ("vars", "parent")

    def __init__(self, parent: Optional["Scope"] = None, vars: Optional[dict] = None):
        self.vars = vars if vars is not None else {}
        self.parent = parent

    def lookup(self, name: str):
        scope = self
        while scope is not None:
            if name in scope.vars:
                return scope.vars[name], True
            scope = scope.parent
        return None, False


@dataclass
class Frame:
    scope: Scope
    no_grad: bool = False
    depth: int = 0
    returns: list = field(default_factory=list)
    func: Optional[FuncV] = None
    in_loop: bool = False  # loop bodies run once, so accumulators are not followed


def dotted(node: cst.BaseExpression) -> Optional[str]:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def _is_name(node: cst.BaseExpression, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name


def _int_literal(node: cst.BaseExpression) -> Optional[int]:
    if isinstance(node, cst.Integer):
        return int(node.value, 0)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = _int_literal(node.expression)
        return -inner if inner is not None else None
    return None


class Tracker:
    def __init__(self, module: cst.Module):
        self.module = module
        self.facts = Facts()
        self.steps = 0
        self.module_scope = Scope()
        self.visited_funcs: set[int] = set()
        self.classes: list[ClassV] = []
        self.instantiated: set[int] = set()
        self.summaries: dict[tuple, Any] = {}
        self.active: list[int] = []  # functions on the abstract call stack
        self.regions: list[EvalRegion] = []
        self.region_sites: dict[int, EvalRegion] = {}
        self.seen_numpy: dict[int, NumpyCall] = {}
        self.seen_recurrent: dict[tuple, RecurrentCall] = {}
        self.seen_layer: dict[tuple, LayerCall] = {}
        self.seen_uses: set[tuple] = set()
        self.seen_model_calls: set[tuple] = set()
        self.standalone = False  # True while analysing code nothing in the file calls
        self.grad_mode_known = False  # ... but that runs with autograd on (a test function)
        self.star_imported = False
        self.comprehensions = 0
        self.loops: list[dict] = []
        self.loops_restored: set[int] = set()
        self.train_loops: dict[int, TrainLoop] = {}
        self.funcs: list[FuncV] = []
        self.backward_calls = 0
        self.attr_branches: list[_BranchAttrs] = []  # one per exec_branches in progress

    # ------------------------------------------------------------------ entry point
    def run(self) -> Facts:
        frame = Frame(self.module_scope)
        try:
            self.exec_block(self.module.body, frame)
            # Code nobody calls in this file (library classes, train() functions) is still
            # analysed, with unknown arguments.
            self.standalone = True
            for cls in list(self.classes):
                if id(cls) not in self.instantiated and cls.is_module:
                    self.instantiate(cls, [], {}, frame, label="self")
            for func in list(self.funcs):
                if id(func.node) not in self.visited_funcs:
                    # pytest calls ``test*`` functions itself, with autograd on: for grad mode
                    # they are entry points like module-level code, not helpers whose
                    # caller decides.
                    name = getattr(getattr(func.node, "name", None), "value", "")
                    self.grad_mode_known = name.startswith("test")
                    self.call_function(func, [], {}, frame, bound=None, unknown_args=True)
            self.grad_mode_known = False
        except (Budget, RecursionError):
            self.truncate()
        for region in self.region_sites.values():
            self.facts.eval_regions.append(region)
        self.facts.numpy_calls.extend(self.seen_numpy.values())
        self.facts.recurrent_calls.extend(self.seen_recurrent.values())
        self.facts.train_loops.extend(self.train_loops.values())
        self.facts.layer_calls.extend(self.seen_layer.values())
        return self.facts

    def truncate(self):
        """The run stopped early: drop the facts that rest on something never happening."""
        self.facts.truncated = True
        # An open evaluation region may have reached its backward() in the part not run.
        for region in self.regions:
            self.region_sites.pop(id(region.eval_node), None)
        self.regions = []
        # torch may be seeded further down.
        if not any(s.qualname in api.TORCH_SEEDS for s in self.facts.seed_calls):
            self.facts.seed_calls = [s for s in self.facts.seed_calls
                                     if s.qualname not in api.OTHER_SEEDS]

    def tick(self):
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise Budget()

    # ------------------------------------------------------------------ statements
    def exec_block(self, stmts, frame: Frame):
        opened = []
        for stmt in stmts:
            self.tick()
            region = self.eval_marker(stmt)
            if region == "train":
                self.close_regions(opened)
                opened = []
                for loop in self.loops:
                    loop["train"] = True
            elif isinstance(region, EvalRegion):
                region.function = frame.func.node.name.value if frame.func is not None else None
                for loop in self.loops:
                    loop["evals"].append((region.eval_node, region.receiver))
            self.exec_stmt(stmt, frame)
            if isinstance(region, EvalRegion):
                if frame.no_grad:
                    self.facts.no_grad_sites.add(id(region.eval_node))
                key = id(region.eval_node)
                if key not in self.region_sites:
                    self.region_sites[key] = region
                    self.regions.append(region)
                    opened.append(region)
                else:
                    existing = self.region_sites[key]
                    self.regions.append(existing)
                    opened.append(existing)
        self.close_regions(opened)

    def close_regions(self, opened):
        for region in opened:
            if region in self.regions:
                self.regions.remove(region)

    def eval_marker(self, stmt):
        """``x.eval()`` opens an evaluation region, ``x.train()`` closes it."""
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            return None
        expr = stmt.body[0]
        if not isinstance(expr, cst.Expr) or not isinstance(expr.value, cst.Call):
            return None
        call = expr.value
        if not isinstance(call.func, cst.Attribute):
            return None
        name = call.func.attr.value
        if name == "eval" and not call.args:
            region = EvalRegion(call, self.module.code_for_node(call.func.value))
            region.model = self.eval_quiet(call.func.value)
            region.loop_depth = len(self.loops) + self.comprehensions
            region.standalone = self.standalone and not self.grad_mode_known
            return region
        if name == "train":
            return "train"
        return None

    def exec_stmt(self, stmt, frame: Frame):
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                self.exec_small(small, frame, stmt)
        elif isinstance(stmt, cst.FunctionDef):
            func = FuncV(stmt, frame.scope)
            self.funcs.append(func)
            frame.scope.vars[stmt.name.value] = func
            for deco in stmt.decorators:
                self.eval(deco.decorator, frame)
        elif isinstance(stmt, cst.ClassDef):
            self.exec_class(stmt, frame)
        elif isinstance(stmt, cst.If):
            self.eval(stmt.test, frame)
            self.exec_branches([stmt.body.body, self.orelse_body(stmt.orelse)], frame)
        elif isinstance(stmt, cst.For):
            iterable = self.eval(stmt.iter, frame)
            self.bind_target(stmt.target, self.iter_elem(iterable, stmt.iter), frame)
            self.exec_loop_body(stmt, frame)
            if stmt.orelse:
                self.exec_block(stmt.orelse.body.body, frame)
        elif isinstance(stmt, cst.While):
            self.eval(stmt.test, frame)
            self.exec_loop_body(stmt, frame)
            if stmt.orelse:
                self.exec_block(stmt.orelse.body.body, frame)
        elif isinstance(stmt, cst.With):
            self.exec_with(stmt, frame)
        elif isinstance(stmt, (cst.Try, cst.TryStar)):
            self.exec_block(stmt.body.body, frame)
            for handler in stmt.handlers:
                if handler.name and isinstance(handler.name.name, cst.Name):
                    frame.scope.vars[handler.name.name.value] = None
                self.exec_block(handler.body.body, frame)
            if stmt.orelse:
                self.exec_block(stmt.orelse.body.body, frame)
            if stmt.finalbody:
                self.exec_block(stmt.finalbody.body.body, frame)
        elif isinstance(stmt, cst.Match):
            self.eval(stmt.subject, frame)
            # Any one case runs, or none matches; the names a pattern captures hold parts of
            # the subject, which we do not follow.
            self.exec_branches([case.body.body for case in stmt.cases] + [[]], frame,
                               unknown=[_pattern_names(c.pattern) for c in stmt.cases] + [[]])
        elif hasattr(stmt, "body") and hasattr(stmt.body, "body"):
            # anything newer with a body: run the body, learn nothing from the head
            self.exec_block(stmt.body.body, frame)

    @staticmethod
    def orelse_body(orelse):
        if orelse is None:
            return []
        if isinstance(orelse, cst.If):
            return [orelse]
        return orelse.body.body

    def exec_branches(self, branches, frame: Frame, unknown=None):
        """Run each body from the same state and join; ``unknown[i]``: names branch i rebinds
        to something unknown before its body (a match pattern's captures)."""
        base = dict(frame.scope.vars)
        results = []
        # Attributes (``self.rnn = ...`` in one branch of __init__) are joined like locals:
        # each branch starts from the attributes as they were, and what differs is unknown.
        record = _BranchAttrs()
        attrs_after = []
        self.attr_branches.append(record)
        try:
            for i, body in enumerate(branches):
                frame.scope.vars = dict(base)
                for name in (unknown[i] if unknown else ()):
                    frame.scope.vars[name] = None
                self.exec_block(body, frame)
                results.append(frame.scope.vars)
                attrs_after.append({key: inst.attrs.get(name, _MISSING)
                                    for key, (inst, name, old) in record.before.items()})
                for inst, name, old in record.before.values():
                    if old is _MISSING:
                        inst.attrs.pop(name, None)
                    else:
                        inst.attrs[name] = old
        finally:
            self.attr_branches.pop()
        for key, (inst, name, old) in record.before.items():
            vals = [after.get(key, old) for after in attrs_after]
            if all(v is _MISSING for v in vals):
                continue
            first = vals[0]
            inst.attrs[name] = first if all(
                v is not _MISSING and same_value(first, v) for v in vals) else None
        merged = dict(base)
        names = set().union(*[r.keys() for r in results])
        for name in names:
            vals = [r.get(name, base.get(name)) for r in results]
            first = vals[0]
            merged[name] = first if all(same_value(first, v) for v in vals[1:]) else None
        frame.scope.vars = merged

    def exec_with(self, stmt: cst.With, frame: Frame):
        no_grad = frame.no_grad
        for item in stmt.items:
            value = self.eval(item.item, frame)
            if self.is_no_grad(item.item, value):
                no_grad = True
            if item.asname is not None:
                self.bind_target(item.asname.name, None, frame)
        saved = frame.no_grad
        frame.no_grad = no_grad
        try:
            self.exec_block(stmt.body.body, frame)
        finally:
            frame.no_grad = saved

    def is_no_grad(self, node, value) -> bool:
        call_qual = None
        if isinstance(node, cst.Call):
            func_val = self.eval_quiet(node.func)
            call_qual = func_val.qualname if isinstance(func_val, Ref) else None
            # ``set_grad_enabled(is_train)``: only a literal True proves that gradients stay on,
            # so an unknown mode counts as no_grad and keeps the hygiene rules silent.
            if call_qual == "torch.set_grad_enabled":
                return not (node.args and _is_name(node.args[0].value, "True"))
            if call_qual == "torch.inference_mode" and node.args:
                return not _is_name(node.args[0].value, "False")
        elif isinstance(value, Ref):
            call_qual = value.qualname
        return call_qual in api.NO_GRAD_CONTEXTS

    def grad_mode_switch(self, node) -> Optional[bool]:
        """``torch.set_grad_enabled(False)`` as a statement: no_grad for the rest of the block."""
        if not isinstance(node, cst.Call):
            return None
        func_val = self.eval_quiet(node.func)
        if not isinstance(func_val, Ref) or func_val.qualname != "torch.set_grad_enabled":
            return None
        return not (node.args and _is_name(node.args[0].value, "True"))

    def exec_class(self, node: cst.ClassDef, frame: Frame):
        bases = [self.eval(arg.value, frame) for arg in node.bases]
        is_module = any(
            (isinstance(b, Ref) and (api.is_nn_module_base(b.qualname) or api.nn_class(b.qualname)))
            or (isinstance(b, ClassV) and b.is_module) for b in bases)
        cls = ClassV(node, frame.scope, is_module)
        for base in bases:
            if isinstance(base, ClassV):
                cls.methods.update(base.methods)
                cls.class_attrs.update(base.class_attrs)
        body_scope = Scope(frame.scope)
        body_frame = Frame(body_scope, frame.no_grad, frame.depth)
        for stmt in node.body.body:
            if isinstance(stmt, cst.FunctionDef):
                func = FuncV(stmt, frame.scope, owner=cls)
                # ``@x.setter`` reuses the property's name; the getter is what reads see.
                if not _decorators(stmt) & {"setter", "deleter"}:
                    cls.methods[stmt.name.value] = func
                self.funcs.append(func)
            else:
                self.exec_stmt(stmt, body_frame)
        cls.class_attrs.update(body_scope.vars)
        frame.scope.vars[node.name.value] = cls
        self.classes.append(cls)

    def exec_small(self, small, frame: Frame, line):
        if isinstance(small, cst.Assign):
            value = self.eval(small.value, frame)
            for target in small.targets:
                self.bind_target(target.target, value, frame)
        elif isinstance(small, cst.AnnAssign):
            if small.value is not None:
                self.bind_target(small.target, self.eval(small.value, frame), frame)
        elif isinstance(small, cst.AugAssign):
            right = self.eval(small.value, frame)
            left = self.eval(small.target, frame)
            result = ops.binary(left, right, small.operator)
            if frame.in_loop and not isinstance(result, TensorV):
                # ``total += len(s)`` after one pass of the body is not the total
                result = None
            self.bind_target(small.target, result, frame)
        elif isinstance(small, cst.Expr):
            self.eval(small.value, frame, line=line)
            mode = self.grad_mode_switch(small.value)
            if mode is not None:
                frame.no_grad = mode
        elif isinstance(small, cst.Return):
            frame.returns.append(self.eval(small.value, frame) if small.value else Lit(None))
        elif isinstance(small, cst.Import):
            for alias in small.names:
                full = dotted(alias.name)
                if full is None:
                    continue
                if full == "torch" or full.startswith("torch."):
                    self.facts.imports_torch = True
                if alias.asname is not None:
                    frame.scope.vars[alias.asname.name.value] = Ref(full)
                else:
                    top = full.split(".")[0]
                    frame.scope.vars[top] = Ref(top)
        elif isinstance(small, cst.ImportFrom):
            mod = dotted(small.module) if small.module is not None else None
            if mod is None or small.relative:
                if isinstance(small.names, cst.ImportStar):
                    self.star_imported = True
                names = small.names if not isinstance(small.names, cst.ImportStar) else []
                for alias in names:
                    frame.scope.vars[(alias.asname.name if alias.asname else alias.name).value] = None
                return
            if mod == "torch" or mod.startswith("torch."):
                self.facts.imports_torch = True
            if isinstance(small.names, cst.ImportStar):
                self.star_imported = True
                return
            for alias in small.names:
                name = dotted(alias.name)
                bound = alias.asname.name.value if alias.asname else name
                frame.scope.vars[bound] = Ref(f"{mod}.{name}")
        elif isinstance(small, (cst.Global, cst.Nonlocal, cst.Pass, cst.Break, cst.Continue)):
            pass
        elif isinstance(small, cst.Del):
            pass
        elif isinstance(small, (cst.Raise, cst.Assert)):
            pass

    # ------------------------------------------------------------------ binding
    def bind_target(self, target, value, frame: Frame):
        if isinstance(target, cst.Name):
            if isinstance(value, IntV):
                if value.fresh:
                    value = IntV(Dim.sym(target.value), False)
                elif value.dim.role is None and value.dim.known:
                    role = role_from_name(target.value)
                    if role:
                        value = IntV(value.dim.with_role(role, f"named {target.value}"))
            if isinstance(value, InstV) and not value.label:
                value.label = target.value
            if isinstance(value, ModV) and not value.info.label:
                value.info.label = target.value
            frame.scope.vars[target.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            if isinstance(value, TensorV) and value.state_of is not None and \
                    value.state_of.kind in ("GRU", "RNN") and len(elements) == 2:
                self.note_state_unpack(target, value.state_of)
            items = self.unpack(value, len(elements))
            for element, item in zip(elements, items):
                if isinstance(element, cst.StarredElement):
                    self.bind_target(element.value, None, frame)
                else:
                    self.bind_target(element.value, item, frame)
        elif isinstance(target, cst.Attribute):
            base = self.eval_quiet(target.value)
            if isinstance(base, InstV):
                name = target.attr.value
                if isinstance(value, IntV) and value.fresh:
                    value = IntV(Dim.sym(f"{dotted(target) or name}"), False)
                if isinstance(value, ModV) and not value.info.label:
                    value.info.label = dotted(target) or name
                for record in self.attr_branches:
                    record.note(base, name)
                base.attrs[name] = value
        elif isinstance(target, cst.Subscript):
            self.eval(target.value, frame)

    @staticmethod
    def unpack(value, count: int) -> list:
        if isinstance(value, TupleV) and len(value.items) == count:
            return list(value.items)
        if isinstance(value, ListV):
            return [value.elem] * count
        return [None] * count

    def iter_elem(self, iterable, node):
        if isinstance(iterable, LoaderV):
            return ops.loader_batch(iterable)
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

    # ------------------------------------------------------------------ expressions
    def eval_quiet(self, node):
        """Evaluate a name or attribute chain without side effects (no facts)."""
        if isinstance(node, cst.Name):
            frame_scope = self._current_scope
            value, _ = frame_scope.lookup(node.value) if frame_scope else (None, False)
            return value
        if isinstance(node, cst.Attribute):
            return self.attribute(self.eval_quiet(node.value), node.attr.value, node)
        return None

    _current_scope: Optional[Scope] = None

    def eval(self, node, frame: Frame, line=None):
        self._current_scope = frame.scope
        try:
            return self._eval(node, frame)
        except RecursionError:
            raise
        except Budget:
            raise

    def _eval(self, node, frame: Frame):
        self.tick()
        if isinstance(node, cst.Name):
            value, found = frame.scope.lookup(node.value)
            if found:
                return value
            if node.value in ("True", "False"):
                return Lit(node.value == "True")
            if node.value == "None":
                return Lit(None)
            if node.value in _BUILTINS:
                return Ref(node.value)
            if self.star_imported and node.value in _CONVENTIONAL:
                # ``from .layers import *`` re-exporting ``nn``: the names everyone uses for
                # torch are taken to mean torch when nothing in the file binds them.
                self.facts.imports_torch = True
                return Ref(_CONVENTIONAL[node.value])
            return None
        if isinstance(node, cst.Integer):
            return IntV(Dim.const(int(node.value.replace("_", ""), 0)))
        if isinstance(node, cst.Float):
            return Lit(float(node.value.replace("_", "")) if "j" not in node.value.lower() else None)
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
            return Lit(str)
        if isinstance(node, cst.Attribute):
            base = self._eval(node.value, frame)
            self._current_scope = frame.scope
            return self.attribute(base, node.attr.value, node)
        if isinstance(node, cst.Call):
            result = self.call(node, frame)
            return _without_grad(result) if frame.no_grad else result
        if isinstance(node, cst.Subscript):
            base = self._eval(node.value, frame)
            result = ops.subscript(self, base, node, frame)
            if isinstance(base, (TensorV, StateTupleV)):
                result = self.note_state_index(base, node, result, frame)
            if isinstance(base, TensorV) and base.layout_of is not None:
                result = self.layout_use(base, node, "index", result)
            return result
        if isinstance(node, cst.BinaryOperation):
            left = self._eval(node.left, frame)
            right = self._eval(node.right, frame)
            result = ops.binary(left, right, node.operator, node)
            return _without_grad(result) if frame.no_grad else result
        if isinstance(node, cst.UnaryOperation):
            inner = self._eval(node.expression, frame)
            if isinstance(node.operator, cst.Minus) and isinstance(inner, IntV):
                return IntV(Dim.const(0) - inner.dim) if inner.dim.value is not None else None
            if isinstance(inner, TensorV) and not isinstance(node.operator, cst.Not):
                return inner
            return None
        if isinstance(node, (cst.Tuple, cst.List)):
            items = []
            for element in node.elements:
                if isinstance(element, cst.StarredElement):
                    self._eval(element.value, frame)
                    return TupleV(()) if False else None
                items.append(self._eval(element.value, frame))
            return TupleV(tuple(items), is_list=isinstance(node, cst.List))
        if isinstance(node, (cst.ListComp, cst.GeneratorExp)):
            return self.comprehension(node, frame)
        if isinstance(node, cst.IfExp):
            self._eval(node.test, frame)
            a = self._eval(node.body, frame)
            b = self._eval(node.orelse, frame)
            return a if same_value(a, b) else None
        if isinstance(node, cst.BooleanOperation):
            self._eval(node.left, frame)
            self._eval(node.right, frame)
            return None
        if isinstance(node, cst.Comparison):
            self._eval(node.left, frame)
            for target in node.comparisons:
                self._eval(target.comparator, frame)
            return None
        if isinstance(node, cst.Lambda):
            return None
        if isinstance(node, cst.NamedExpr):
            value = self._eval(node.value, frame)
            self.bind_target(node.target, value, frame)
            return value
        if isinstance(node, (cst.Dict, cst.Set, cst.DictComp, cst.SetComp)):
            return None
        if isinstance(node, cst.Await):
            return self._eval(node.expression, frame)
        return None

    def comprehension(self, node, frame: Frame):
        self.comprehensions += 1
        try:
            return self._comprehension(node, frame)
        finally:
            self.comprehensions -= 1

    def _comprehension(self, node, frame: Frame):
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
        text = self.module.code_for_node(node)
        if len(text) > 40:
            return Dim.unknown()
        return Dim.sym(f"len({text})", origin=f"the length of {text}")

    def attribute(self, base, name: str, node):
        if isinstance(base, Ref):
            return Ref(f"{base.qualname}.{name}")
        if isinstance(base, InstV):
            if name in base.attrs:
                return base.attrs[name]
            if name in base.cls.methods:
                method = base.cls.methods[name]
                if _decorators(method.node) & {"property", "cached_property"}:
                    return self.call_function(method, [], {}, Frame(self.module_scope),
                                              bound=base)
                return BoundV(base, method)
            if name in base.cls.class_attrs:
                return base.cls.class_attrs[name]
            return None
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
            return ops.tensor_attribute(base, name, node)
        return None

    # ------------------------------------------------------------------ calls
    def call(self, node: cst.Call, frame: Frame):
        func_node = node.func
        if isinstance(func_node, cst.Attribute):
            receiver = self._eval(func_node.value, frame)
            method = func_node.attr.value
            self.note_region_call(node, receiver, method, frame)
            args, kwargs = self.eval_args(node, frame)
            self._current_scope = frame.scope
            if isinstance(receiver, StateTupleV) and method not in ("count", "index"):
                self.facts.state_misuses.append(StateMisuse(
                    node, receiver.module, "tuple-as-tensor", f".{method}()"))
            if isinstance(receiver, TensorV) and receiver.state_of is not None and \
                    method == "squeeze" and receiver.pick is None:
                self.note_pick(node, receiver, 0 if args else None)
            if isinstance(receiver, TensorV):
                if any(a is _STAR for a in args):
                    result = None  # ``x.view(*sizes)``: the rank itself is unknown
                else:
                    result = ops.tensor_method(self, receiver, method, args, kwargs, node, frame)
                if receiver.layout_of is not None:
                    result = self.layout_use(receiver, node, _method_kind(method, args), result)
                return result
            if isinstance(receiver, InstV):
                if method == "forward":
                    return self.call_value(receiver, args, kwargs, node, frame)
                func = receiver.cls.methods.get(method)
                if func is not None:
                    return self.call_function(func, args, kwargs, frame, bound=receiver)
                attr = receiver.attrs.get(method)
                if attr is not None:
                    return self.call_value(attr, args, kwargs, node, frame)
                return receiver if method in ("to", "cuda", "cpu", "eval", "train", "float",
                                              "double", "half") else None
            if isinstance(receiver, ModV):
                if method == "forward":
                    return self.call_value(receiver, args, kwargs, node, frame)
                return receiver if method in ("to", "cuda", "cpu", "eval", "train", "float",
                                              "double", "half") else None
            if isinstance(receiver, ClassV):
                func = receiver.methods.get(method)
                if func is not None:
                    # bound to the class only if it is a classmethod (see call_function)
                    return self.call_function(func, args, kwargs, frame, bound=receiver)
                return None
            if isinstance(receiver, (TupleV, ListV)) and method in _LIST_MUTATORS:
                self.mutate_list(func_node.value, receiver, method, args, frame)
                return None
            callee = self.attribute(receiver, method, func_node)
            if callee is None and method in ("backward", "manual_backward"):
                self.note_backward()
            if callee is None and method in ("to", "cuda") and receiver is None:
                self.facts.moves_to_device = True
            return self.call_value(callee, args, kwargs, node, frame)
        callee = self._eval(func_node, frame)
        self.note_region_call(node, callee, None, frame)
        args, kwargs = self.eval_args(node, frame)
        self._current_scope = frame.scope
        return self.call_value(callee, args, kwargs, node, frame)

    def mutate_list(self, target, value, method, args, frame: Frame):
        """``xs.append(x)``: a loop body runs once here, so the length becomes unknown; the
        elements stay known while they all look alike."""
        items = list(value.items) if isinstance(value, TupleV) else [value.elem]
        if method == "append" and args:
            items.append(args[0])
        elif method == "insert" and len(args) > 1:
            items.append(args[1])
        elif method == "extend" and args:
            other = args[0]
            items.extend(other.items if isinstance(other, TupleV) else
                         [other.elem] if isinstance(other, ListV) else [None])
        elif method in ("append", "insert", "extend"):
            items.append(None)
        elem = _join_all(items)
        new = ListV(elem, Dim.unknown())
        if isinstance(target, cst.Name):
            scope = frame.scope
            while scope is not None and target.value not in scope.vars:
                scope = scope.parent
            (scope or frame.scope).vars[target.value] = new
        else:
            self.bind_target(target, new, frame)

    def eval_args(self, node: cst.Call, frame: Frame):
        args, kwargs = [], {}
        for arg in node.args:
            value = self._eval(arg.value, frame)
            if arg.star == "*":
                if isinstance(value, TupleV):
                    args.extend(value.items)
                else:
                    args.append(_STAR)
            elif arg.star == "**":
                kwargs["**"] = None
            elif arg.keyword is not None:
                kwargs[arg.keyword.value] = value
            else:
                args.append(value)
        return args, kwargs

    def note_backward(self):
        self.backward_calls += 1
        for region in self.regions:
            region.has_backward = True
        for loop in self.loops:
            loop["backward"] = True

    def exec_loop_body(self, stmt, frame: Frame):
        """Run a loop body once, noting whether it switches to eval, trains, and switches back."""
        loop = {"node": stmt, "evals": [], "train": False, "backward": False}
        self.loops.append(loop)
        saved_in_loop = frame.in_loop
        frame.in_loop = True
        try:
            self.exec_block(stmt.body.body, frame)
        finally:
            self.loops.pop()
            frame.in_loop = saved_in_loop
        key = id(stmt)
        if loop["train"]:
            self.loops_restored.add(key)
            self.train_loops.pop(key, None)
        elif loop["evals"] and loop["backward"] and key not in self.loops_restored:
            node, receiver = loop["evals"][0]
            self.train_loops.setdefault(key, TrainLoop(stmt, node, receiver))

    def note_state_unpack(self, target, module: ModuleInfo):
        """``out, (h, c) = gru(x)``: a GRU/RNN returns one state tensor, not two."""
        layers = module.dim("num_layers").value
        dirs = module.directions
        names = [self.module.code_for_node(e.value) for e in target.elements]
        cell_like = names[1].lstrip("_").lower().startswith(("c", "cell"))
        if layers is not None and dirs is not None and layers * dirs == 2 and not cell_like:
            return  # ``h_fwd, h_bwd = h_n`` of a one-layer bidirectional GRU is fine
        detail = (f"{module.kind} returns a single state tensor; unpacking it iterates over its "
                  f"first dim")
        self.facts.state_misuses.append(StateMisuse(target, module, "unpack", detail))

    def note_pick(self, node, tensor: TensorV, index):
        pick = StatePick(node, tensor.state_of, index, tensor.trace)
        self.facts.state_picks.append(pick)
        return pick

    def note_state_index(self, base, node: cst.Subscript, result, frame):
        elements = node.slice
        if len(elements) != 1 or not isinstance(elements[0].slice, cst.Index):
            return result
        index = self.eval_quiet_int(elements[0].slice.value)
        if isinstance(base, StateTupleV):
            if index in (-1, 1):
                self.facts.state_misuses.append(StateMisuse(
                    node, base.module, "tuple-as-tensor",
                    f"[{index}] of the LSTM's (h_n, c_n) tuple is c_n, the cell state"))
            return result
        if base.state_of is not None and base.pick is None and index is not None and \
                isinstance(result, TensorV):
            pick = self.note_pick(node, base, index)
            result = replace(result, pick=pick)
        return result

    def eval_quiet_int(self, node) -> Optional[int]:
        value = _int_literal(node)
        if value is not None:
            return value
        found = self.eval_quiet(node)
        return found.dim.value if isinstance(found, IntV) else None

    def note_region_call(self, node, callee, method, frame):
        if method in ("backward", "manual_backward"):
            self.note_backward()
            return
        if not self.regions:
            return
        if method is None:
            target, text = callee, self.module.code_for_node(node.func)
        elif method == "forward":
            target, text = self.eval_quiet(node.func.value), self.module.code_for_node(node.func.value)
        else:
            return
        if not _may_record_graph(target):
            return  # a model without parameters builds no graph for autograd to keep
        in_loop = len(self.loops) + self.comprehensions
        for region in self.regions:
            # Only calls of the model that was switched to eval mode count: another model
            # called in the region is in train mode, which is a different question.
            same = text == region.receiver or (
                region.model is not None and target is region.model)
            if not same:
                continue
            if frame.no_grad:
                self.facts.no_grad_sites.add(id(region.eval_node))
            elif region.first_call is None:
                region.first_call = node
                region.repeated = in_loop > region.loop_depth

    def call_value(self, callee, args, kwargs, node, frame: Frame):
        if isinstance(callee, Ref):
            return self.call_ref(callee.qualname, args, kwargs, node, frame)
        if isinstance(callee, (ModV, InstV)):
            self.note_model_call(callee, args, kwargs, node, frame)
        if isinstance(callee, ModV):
            return self.call_module(callee.info, args, kwargs, node, frame)
        if callee is None and isinstance(node.func, cst.Attribute) and frame.no_grad:
            # ``model.label(x)`` on a receiver we cannot type: remember that a method of this
            # name runs under no_grad somewhere, so its own eval regions are not reported.
            self.facts.no_grad_methods.add(node.func.attr.value)
        if isinstance(callee, InstV):
            forward = callee.cls.methods.get("forward")
            if forward is None:
                forward = callee.cls.methods.get("__call__")
            if forward is None:
                return None
            result = self.call_function(forward, args, kwargs, frame, bound=callee)
            if isinstance(result, TensorV):
                result = result.step(node, result.shape)
            return result
        if isinstance(callee, ClassV):
            return self.instantiate(callee, args, kwargs, frame, node=node)
        if isinstance(callee, FuncV):
            return self.call_function(callee, args, kwargs, frame, bound=None)
        if isinstance(callee, BoundV):
            return self.call_function(callee.func, args, kwargs, frame, bound=callee.inst)
        return None

    def call_ref(self, qual: str, args, kwargs, node, frame):
        if (qual in api.TORCH_RANDOM or qual in api.RANDOM_INITS) and "generator" not in kwargs:
            self.note_torch_random()  # a private Generator does not draw from the global one
        if qual in api.TORCH_SEEDS or qual in api.OTHER_SEEDS:
            self.record_seed(qual, node, frame)
            return None
        kind = api.nn_class(qual)
        if kind is not None:
            self.note_torch_random()  # initial weights, dropout masks
            return self.construct(kind, args, kwargs, node)
        if any(a is _STAR for a in args):
            result = None  # ``torch.zeros(*sizes)``: the rank itself is unknown
        else:
            result = ops.call_library(self, qual, args, kwargs, node, frame)
        for arg in args:
            if isinstance(arg, TensorV) and arg.layout_of is not None:
                name = qual.rpartition(".")[2]
                result = self.layout_use(arg, node, _function_kind(name, args, kwargs), result)
        return result

    def note_torch_random(self):
        self.facts.uses_torch_random = True
        if not self.standalone:
            self.facts.torch_random_in_program = True

    def record_seed(self, qual, node, frame: Frame):
        seed = None
        if node.args:
            seed = self.module.code_for_node(node.args[0].value)
        func = frame.func.node.name.value if frame.func is not None else None
        self.facts.seed_calls.append(SeedCall(qual, node, None, seed, func))

    def construct(self, kind: str, args, kwargs, node) -> Optional[ModV]:
        sig = api.CONSTRUCTORS.get(kind)
        cfg: dict[str, Any] = {}
        if sig is not None:
            names, defaults = sig
            for name, value in defaults.items():
                cfg[name] = value if not isinstance(value, int) or isinstance(value, bool) else Dim.const(value)
            bound = {}
            for i, value in enumerate(args):
                if value is _STAR:
                    return ModV(ModuleInfo(kind, {}, node))
                if i < len(names):
                    bound[names[i]] = (value, node.args[i].value if i < len(node.args) else None)
            for arg in node.args:
                if arg.keyword is not None and arg.keyword.value in kwargs:
                    bound[arg.keyword.value] = (kwargs[arg.keyword.value], arg.value)
            if "**" in kwargs:
                # ``nn.LSTM(**cfg)``: we do not know which defaults were overridden
                for name in names:
                    if name not in bound:
                        cfg[name] = None
            for name, (value, expr) in bound.items():
                cfg[name] = self.config_value(value, expr, name)
        if kind in api.RECURRENT or kind == "Linear":
            if kind in api.RECURRENT:
                for key in ("input_size", "hidden_size"):
                    if isinstance(cfg.get(key), Dim):
                        cfg[key] = cfg[key].with_role(FEATURE)
        info = ModuleInfo(kind, cfg, node)
        self.facts.modules.append(info)
        return ModV(info)

    def config_value(self, value, expr, name):
        if isinstance(value, IntV):
            return value.dim
        if isinstance(value, Lit):
            if isinstance(value.value, bool):
                return value.value
            if isinstance(value.value, float):
                return value.value
            if value.value is None:
                return None
            return None
        if value is None and expr is not None:
            text = self.module.code_for_node(expr)
            if name in ("input_size", "hidden_size", "in_features", "out_features", "proj_size",
                        "num_layers", "embedding_dim", "num_embeddings", "in_channels",
                        "out_channels") and len(text) <= 60 and "(" not in text.replace("len(", ""):
                # An expression we cannot evaluate still names one size everywhere it is
                # written the same way in this file.
                return Dim.sym(text, role=FEATURE if name != "num_layers" else None)
            return None
        return None

    def call_module(self, info: ModuleInfo, args, kwargs, node, frame):
        x = args[0] if args else kwargs.get("input")
        kind = info.kind
        if isinstance(x, StateTupleV):
            self.facts.state_misuses.append(StateMisuse(
                node, x.module, "tuple-as-tensor", f"passed to {kind}"))
        if isinstance(x, TensorV) and x.layout_of is not None and kind not in _NEUTRAL_MODULES:
            self.layout_use(x, node, "other", None)
            x = replace(x, layout_of=None)
        if kind in api.RECURRENT:
            return ops.recurrent_call(self, info, x, args[1:] if len(args) > 1 else [kwargs.get("hx")],
                                      node, frame)
        if kind in ("Linear", "LazyLinear"):
            return ops.linear_call(self, info, x, node)
        if kind == "Embedding":
            return ops.embedding_call(info, x, node)
        if kind == "Conv1d":
            return ops.conv1d_call(info, x, node)
        if kind in api.SHAPE_PRESERVING_MODULES:
            return x.step(node, x.shape) if isinstance(x, TensorV) else None
        if kind in api.LOSSES:
            target = args[1] if len(args) > 1 else kwargs.get("target")
            self.facts.loss_calls.append(LossCall(node, info, x, target))
            return TensorV(Shape(()), grad=True)
        return None

    def layout_use(self, tensor: TensorV, node, kind: str, result):
        """Record that ``node`` depends on the recurrent layout of ``tensor``."""
        if kind == "neutral":
            return result
        info, call = tensor.layout_of
        key = (id(node), kind)
        if key not in self.seen_uses:
            self.seen_uses.add(key)
            self.facts.layout_uses.append(LayoutUse(node, info, call, kind, tensor.shape))
        if isinstance(result, TensorV):
            result = replace(result, layout_of=None)
        return result

    def record_recurrent(self, call: RecurrentCall):
        op = call.layout_op
        key = (id(call.node), str(call.shape), id(op.node) if op is not None else None)
        if key not in self.seen_recurrent:
            self.seen_recurrent[key] = call

    def record_layer(self, call: LayerCall):
        key = (id(call.node), str(call.shape))
        if key not in self.seen_layer:
            self.seen_layer[key] = call

    def record_numpy(self, node, tensor: TensorV, frame: Frame):
        if frame.no_grad:
            self.facts.no_grad_sites.add(id(node))
        if tensor.grad and id(node) not in self.seen_numpy:
            self.seen_numpy[id(node)] = NumpyCall(node, tensor.trace)

    # ------------------------------------------------------------------ user code
    def note_model_call(self, callee, args, kwargs, node, frame: Frame):
        """Calls from outside any model's own code are what ``verify`` re-runs."""
        owner = frame.func.owner if frame.func is not None else None
        if owner is not None and owner.is_module:
            return
        if isinstance(callee, InstV) and not callee.cls.is_module:
            return
        if isinstance(callee, ModV) and callee.info.kind not in api.RECURRENT:
            return
        key = (id(node), tuple(_signature(a) for a in args))
        if key in self.seen_model_calls:
            return
        self.seen_model_calls.add(key)
        self.facts.model_calls.append(ModelCall(node, callee, tuple(args), dict(kwargs)))

    def instantiate(self, cls: ClassV, args, kwargs, frame: Frame, label: str = "", node=None):
        self.instantiated.add(id(cls))
        if cls.is_module:
            self.facts.uses_torch_random = True
        inst = InstV(cls, label=label, ctor=node, ctor_args=tuple(args), ctor_kwargs=dict(kwargs))
        for record in self.attr_branches:
            record.created.add(id(inst))
        init = cls.methods.get("__init__")
        if init is not None:
            self.call_function(init, args, kwargs, frame, bound=inst,
                               unknown_args=not args and not kwargs and label == "self")
        if label == "self":
            # Nobody in this file builds it: look at its other methods with unknown inputs.
            for name, method in cls.methods.items():
                if name != "__init__" and id(method.node) not in self.visited_funcs:
                    self.call_function(method, [], {}, frame, bound=inst, unknown_args=True)
        return inst

    def call_function(self, func: FuncV, args, kwargs, frame: Frame, bound=None,
                      unknown_args: bool = False):
        node = func.node
        binding = _decorators(node)
        if "staticmethod" in binding:
            bound = None
        elif "classmethod" in binding:
            bound = bound.cls if isinstance(bound, InstV) else bound
        elif isinstance(bound, ClassV):
            bound = None  # ``Cls.method(inst, ...)``: the instance is passed explicitly
        if frame.depth >= MAX_DEPTH or self.active.count(id(node)) >= 1:
            # Not followed, so whatever it does is unknown -- including a backward() that
            # would make an evaluation region a training one.
            self.note_backward()
            return None
        self.visited_funcs.add(id(node))
        params = node.params
        scope = Scope(func.env)
        positional = list(params.posonly_params) + list(params.params)
        values = list(args)
        if bound is not None:
            scope.vars[positional[0].name.value if positional else "self"] = bound
            positional = positional[1:]
        # After ``*rest`` of unknown length, no position is known, and with ``**extra`` any
        # parameter may have been passed: neither may fall back to its default.
        star_at = next((i for i, v in enumerate(values) if v is _STAR), None)
        if star_at is not None:
            values = values[:star_at]
        spread = star_at is not None or "**" in kwargs
        for i, param in enumerate(positional):
            name = param.name.value
            if i < len(values):
                scope.vars[name] = _named(values[i], name)
            elif name in kwargs:
                scope.vars[name] = _named(kwargs[name], name)
            elif spread:
                scope.vars[name] = None
            elif unknown_args:
                scope.vars[name] = self.default_of(param, frame)
            elif param.default is not None:
                scope.vars[name] = self.eval(param.default, Frame(func.env))
            else:
                scope.vars[name] = None
        for param in params.kwonly_params:
            name = param.name.value
            if name in kwargs:
                scope.vars[name] = _named(kwargs[name], name)
            elif param.default is not None and not unknown_args and "**" not in kwargs:
                scope.vars[name] = self.eval(param.default, Frame(func.env))
            else:
                scope.vars[name] = None
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                scope.vars[star.name.value] = None
        no_grad = frame.no_grad or any(self.is_no_grad(d.decorator, self.eval_quiet(
            d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator))
            for d in node.decorators)
        key = None
        if not unknown_args:
            key = (id(node), id(bound), no_grad, tuple(_signature(v) for v in scope.vars.values()))
            if key in self.summaries:
                result, calls_backward = self.summaries[key]
                if calls_backward:
                    # The summary stands in for running the body, side effects included.
                    self.note_backward()
                return result
        backward_before = self.backward_calls
        inner = Frame(scope, no_grad, frame.depth + 1, func=func)
        self.active.append(id(node))
        saved_scope = self._current_scope
        try:
            self.exec_block(node.body.body, inner)
        finally:
            self.active.pop()
            self._current_scope = saved_scope
        result = _join(inner.returns)
        if key is not None:
            self.summaries[key] = (result, self.backward_calls != backward_before)
        return result

    def default_of(self, param: cst.Param, frame: Frame):
        """A parameter nobody passed: its default if it is a size, else unknown."""
        if param.default is not None:
            value = self.eval(param.default, Frame(self.module_scope))
            if isinstance(value, IntV):
                return IntV(Dim.sym(param.name.value))
            # A flag's default (``batch_first=False``) is only what callers get when they do
            # not say otherwise; nobody here said anything, so the flag is unknown.
            if isinstance(value, Lit) and not isinstance(value.value, (bool, float)):
                return value
        return None


_STAR = object()
# nn modules without parameters: calling them in eval mode records nothing for autograd.
_PARAMETER_FREE = (api.SHAPE_PRESERVING_MODULES - {"LayerNorm", "PReLU"}) | {
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d", "Flatten", "Unflatten", "Upsample", "CrossEntropyLoss", "MSELoss"}


def _may_record_graph(model) -> bool:
    """False only when the model provably has no parameters: a parameter-free nn module, or a
    user nn.Module whose class declares none and whose attributes hold no module that has."""
    if isinstance(model, ModV):
        return model.info.kind not in _PARAMETER_FREE
    if isinstance(model, InstV):
        if not model.cls.is_module:
            return False
        node = model.cls.node
        bases = [dotted(arg.value) or "" for arg in node.bases]
        if any(b.split(".")[-1] not in ("Module", "LightningModule") for b in bases):
            return True  # a user base class may build parameters we did not see
        if _mentions(node, "Parameter"):
            return True
        return any(v is None or _may_record_graph(v) for v in model.attrs.values()
                   if v is None or isinstance(v, (ModV, InstV)))
    return True


def _mentions(node, word: str) -> bool:
    return bool(matchers.findall(node, matchers.Name(word)))


_CONVENTIONAL = {"nn": "torch.nn", "torch": "torch", "F": "torch.nn.functional"}
_MISSING = object()


@dataclass
class _BranchAttrs:
    """The attributes a set of branches writes, as they were before the first branch."""

    before: dict = field(default_factory=dict)  # (id(inst), name) -> (inst, name, old value)
    created: set = field(default_factory=set)  # objects built inside: nothing to go back to

    def note(self, inst, name: str):
        if id(inst) not in self.created:
            self.before.setdefault((id(inst), name), (inst, name, inst.attrs.get(name, _MISSING)))
_LIST_MUTATORS = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"}


def _pattern_names(pattern) -> list[str]:
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


def _decorators(node: cst.FunctionDef) -> set[str]:
    """Last names of a function's decorators: ``functools.cached_property`` -> ``cached_property``."""
    names = set()
    for deco in node.decorators:
        expr = deco.decorator.func if isinstance(deco.decorator, cst.Call) else deco.decorator
        if isinstance(expr, cst.Attribute):
            names.add(expr.attr.value)
        elif isinstance(expr, cst.Name):
            names.add(expr.value)
    return names


def _named(value, name: str):
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


def _without_grad(value):
    """What an expression computes under no_grad does not require grad."""
    if isinstance(value, TensorV) and value.grad is not False:
        return replace(value, grad=False)
    if isinstance(value, TupleV):
        items = tuple(_without_grad(item) for item in value.items)
        return value if all(a is b for a, b in zip(items, value.items)) else TupleV(items, value.is_list)
    return value


# Modules that act on the feature dim only, so the batch/time layout passes through them.
_NEUTRAL_MODULES = {"Linear", "LazyLinear"} | api.SHAPE_PRESERVING_MODULES
_LAYOUT_METHODS = {"permute": "permute", "transpose": "transpose", "swapaxes": "transpose",
                   "swapdims": "transpose", "t": "transpose", "view": "flatten",
                   "reshape": "flatten", "flatten": "flatten"}
_NEUTRAL_METHODS = api.SHAPE_PRESERVING_FUNCS | {"numpy", "dim", "ndimension", "contiguous",
                                                  "detach", "type_as"}


def _method_kind(method: str, args) -> str:
    if method in _LAYOUT_METHODS:
        return _LAYOUT_METHODS[method]
    if method == "size":
        axis = args[0].dim.value if args and isinstance(args[0], IntV) else None
        if axis is None:
            return "size" if not args else "other"
        return "size" if axis in (0, 1, -2, -3) else "neutral"
    if method in _NEUTRAL_METHODS:
        return "neutral"
    return "other"


def _function_kind(name: str, args, kwargs) -> str:
    if name in ("permute",):
        return "permute"
    if name in ("transpose", "swapaxes"):
        return "transpose"
    if name in ("reshape", "flatten"):
        return "flatten"
    if name in api.SHAPE_PRESERVING_FUNCS:
        return "neutral"
    if name in ("cat", "concat", "concatenate"):
        axis = args[1] if len(args) > 1 else kwargs.get("dim")
        if isinstance(axis, IntV) and axis.dim.value == -1:
            return "neutral"
    return "other"


_BUILTINS = {"len", "range", "enumerate", "zip", "list", "tuple", "int", "ord", "max", "min", "sum",
             "abs", "round", "float", "str", "print", "isinstance", "sorted", "reversed"}


def _signature(value):
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


def _join_all(values):
    """The one value all of ``values`` are, else unknown."""
    if not values:
        return None
    first = values[0]
    return first if all(same_value(first, v) for v in values[1:]) else None


def _join(values):
    values = [v for v in values if not (isinstance(v, Lit) and v.value is None)] or values
    if not values:
        return None
    first = values[0]
    return first if all(same_value(first, v) for v in values[1:]) else None
