"""User code: classes instantiated through ``__init__``, functions and methods called with the
argument values of each call site (summarised once per signature)."""
from __future__ import annotations

import re
from dataclasses import replace

import libcst as cst

from rnnshape.shapes.dims import Dim
from rnnshape.shapes.evidence import parameter_evidence
from rnnshape.shapes.facts import Step
from rnnshape.shapes.interp.scope import (MAX_DEPTH, STAR, Frame, Scope, decorators, join_returns,
                                          named, signature)
from rnnshape.shapes.values import ClassV, FuncV, InstV, IntV, Lit, TensorV, TupleV

# A call of backward() anywhere in a file (``loss.backward()``, ``manual_backward(loss)``).
_BACKWARD = re.compile(r"backward\s*\(")
_RECURRENT_WORD = re.compile(r"LSTM|GRU|RNN|[Rr]ecurrent")


class UserCode:
    """The user-code half of the interpreter (see ``Interpreter``)."""

    def instantiate(self, cls: ClassV, args, kwargs, frame: Frame, label: str = "", node=None):
        self.instantiated.add(id(cls))
        if cls.is_module:
            self.recorder.torch_random(in_program=False)
        inst = InstV(cls, label=label, ctor=node, ctor_args=tuple(args), ctor_kwargs=dict(kwargs))
        if cls.is_module:
            self.instances.setdefault(id(cls), []).append(inst)
        for record in self.attr_branches:
            record.created.add(id(inst))
        init = cls.methods.get("__init__")
        if init is None and cls.fields is not None:
            self.bind_fields(inst, args, kwargs)
        if init is not None:
            self.call_function(init, args, kwargs, frame, bound=inst,
                               unknown_args=not args and not kwargs and label == "self")
        if label == "self":
            # Nobody in this file builds it: look at its other methods with unknown inputs.
            for name, method in cls.methods.items():
                if name != "__init__" and id(method.node) not in self.visited_funcs:
                    self.call_function(method, [], {}, frame, bound=inst, unknown_args=True)
        return inst

    @staticmethod
    def bind_fields(inst: InstV, args, kwargs) -> None:
        """A record class's generated constructor: fields in order, then by name, then the
        class's default; what a ``*args`` hides is unknown."""
        fields = inst.cls.fields
        spread = any(a is STAR for a in args) or "**" in kwargs
        for i, name in enumerate(fields):
            if i < len(args) and args[i] is not STAR and not any(a is STAR for a in args[:i]):
                inst.attrs[name] = args[i]
            elif name in kwargs:
                inst.attrs[name] = kwargs[name]
            elif spread:
                inst.attrs[name] = None
            else:
                inst.attrs[name] = inst.cls.class_attrs.get(name)

    def call_function(self, func: FuncV, args, kwargs, frame: Frame, bound=None,
                      unknown_args: bool = False):
        # Binding evaluates defaults in the function's own module: the caller's scope comes back
        # afterwards, so the caller can go on reading its names.
        saved_scope = self._current_scope
        try:
            return self._run_function(func, args, kwargs, frame, bound, unknown_args)
        finally:
            self._current_scope = saved_scope

    def _run_function(self, func: FuncV, args, kwargs, frame: Frame, bound, unknown_args: bool):
        node = func.node
        bound = _binding(node, bound)
        if frame.depth >= MAX_DEPTH or self.active.count(id(node)) >= 1:
            # Not followed, so whatever it does is unknown -- including a backward() that
            # would make an evaluation region a training one.  Only code whose file calls
            # backward at all is suspected: a project's converter or plotting library reached
            # at the depth limit would otherwise hide every evaluation region that calls it.
            if self.mentions(func.env.unit, _BACKWARD):
                self.recorder.backward(assumed=True)
            return None
        self.visited_funcs.add(id(node))
        if isinstance(bound, InstV) and node.name.value == "forward":
            self.forwarded.add(id(bound))
        scope = self.bind_parameters(func, bound, args, kwargs, unknown_args)
        no_grad = frame.no_grad or any(self.is_no_grad(d.decorator, self.eval_quiet(
            d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator))
            for d in node.decorators)
        key = None
        if not unknown_args:
            key = (id(node), id(bound), no_grad, tuple(signature(v) for v in scope.vars.values()))
            if key in self.summaries:
                result, calls_backward = self.summaries[key]
                if calls_backward:
                    # The summary stands in for running the body, side effects included.
                    self.recorder.backward()
                return result
        backward_before = self.recorder.backward_calls
        detach_before = self.recorder.detach_events
        inner = Frame(scope, no_grad, frame.depth + 1, func=func)
        if isinstance(bound, InstV) and node.name.value == "forward":
            self.forward_params[id(scope)] = (scope, id(node), [
                (i, value) for i, value in enumerate(
                    scope.vars.get(p.name.value) for p in node.params.params[1:])
                if isinstance(value, TensorV)])
        self.active.append(id(node))
        try:
            self.exec_block(node.body.body, inner)
        finally:
            self.active.pop()
        if self.recorder.detach_events != detach_before:
            self.recorder.detaching_functions.add(id(node))
        result = join_returns(inner.returns)
        if isinstance(result, TensorV) and result.layout_op is not None and \
                func.env.unit is not frame.unit and not any(
                    isinstance(a, TensorV) and a.layout_op is result.layout_op
                    for a in list(args) + list(kwargs.values())):
            # The layout op was made in another file's code (``Transpose(1, 2)``'s forward in a
            # library of layers): what the caller does with it is the caller's mistake, to be
            # reported where the caller is, not on the helper's line.
            result = replace(result, layout_op=None)
        if key is not None:
            self.summaries[key] = (result, self.recorder.backward_calls != backward_before)
        return result

    def bind_parameters(self, func: FuncV, bound, args, kwargs, unknown_args: bool) -> Scope:
        params = func.node.params
        scope = Scope(func.env)
        positional = list(params.posonly_params) + list(params.params)
        values = list(args)
        if bound is not None:
            scope.vars[positional[0].name.value if positional else "self"] = bound
            positional = positional[1:]
        # After ``*rest`` of unknown length, no position is known, and with ``**extra`` any
        # parameter may have been passed: neither may fall back to its default.
        star_at = next((i for i, v in enumerate(values) if v is STAR), None)
        if star_at is not None:
            values = values[:star_at]
        spread = star_at is not None or "**" in kwargs
        for i, param in enumerate(positional):
            name = param.name.value
            if i < len(values):
                scope.vars[name] = named(values[i], name)
            elif name in kwargs:
                scope.vars[name] = named(kwargs[name], name)
            elif spread:
                scope.vars[name] = None
            elif unknown_args:
                scope.vars[name] = self.default_of(param, func.env)
                if param.default is None:
                    scope.vars[name] = self.symbolic_parameter(func, name)
            elif param.default is not None:
                scope.vars[name] = self.eval(param.default, Frame(func.env))
            else:
                scope.vars[name] = None
        for param in params.kwonly_params:
            name = param.name.value
            if name in kwargs:
                scope.vars[name] = named(kwargs[name], name)
            elif unknown_args and param.default is None:
                scope.vars[name] = self.symbolic_parameter(func, name)
            elif param.default is not None and not unknown_args and "**" not in kwargs:
                scope.vars[name] = self.eval(param.default, Frame(func.env))
            else:
                scope.vars[name] = None
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                scope.vars[star.name.value] = None
        if isinstance(params.star_arg, cst.Param) and star_at is None and not unknown_args:
            # ``def __init__(self, *dims)`` called as ``Transpose(1, 2)``: the rest, in order
            scope.vars[params.star_arg.name.value] = TupleV(tuple(values[len(positional):]))
        if not unknown_args and not spread:
            # A caller passed something the tracker cannot see into: where the function reads
            # it as a tensor, it is one, described by the function's own text.
            for param in positional + list(params.kwonly_params):
                name = param.name.value
                if scope.vars.get(name) is None and (
                        name in kwargs or positional.index(param) < len(values)
                        if param in positional else name in kwargs):
                    scope.vars[name] = self.symbolic_parameter(func, name)
        return scope

    def symbolic_parameter(self, func: FuncV, name: str):
        """A parameter nobody passes: a tensor of the shape its function's text describes
        (``evidence.py``) when the function reads it as one, else unknown."""
        found = self.evidence.get(id(func.node))
        if found is None:
            # Only a recurrent module reads roles.  Code whose file never names one (most of a
            # large library) gets no symbolic parameters: reading its text for evidence cost
            # more than the rest of the analysis of the torch tree.
            found = parameter_evidence(func.node) \
                if self.mentions(func.env.unit, _RECURRENT_WORD) else {}
            self.evidence[id(func.node)] = found
        if name not in found:
            return None
        shape, notes = found[name].symbolic(name)
        return TensorV(shape, tuple(Step(node, None, note) for node, note in notes), grad=None)

    def mentions(self, unit, pattern) -> bool:
        """Whether a file's text matches ``pattern`` (asked per function, answered per file:
        a search of a large file for each function cost more than its analysis)."""
        if unit is None:
            return True
        key = (id(unit), pattern)
        known = self.unit_mentions.get(key)
        if known is None:
            known = self.unit_mentions[key] = bool(pattern.search(unit.text))
        return known

    def default_of(self, param: cst.Param, env: Scope):
        """A parameter nobody passed: its default if it is a size, else unknown."""
        if param.default is not None:
            value = self.eval(param.default, Frame(env))
            if isinstance(value, IntV):
                return IntV(Dim.sym(param.name.value))
            # A flag's default (``batch_first=False``) is only what callers get when they do
            # not say otherwise; nobody here said anything, so the flag is unknown.
            if isinstance(value, Lit) and not isinstance(value.value, (bool, float)):
                return value
        return None


def _binding(node: cst.FunctionDef, bound):
    """What the first parameter is bound to: nothing for a static method, the class for a
    class method, nothing for ``Cls.method(inst, ...)`` (the instance is passed explicitly)."""
    found = decorators(node)
    if "staticmethod" in found:
        return None
    if "classmethod" in found:
        return bound.cls if isinstance(bound, InstV) else bound
    if isinstance(bound, ClassV):
        return None
    return bound
