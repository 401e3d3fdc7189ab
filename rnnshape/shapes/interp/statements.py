"""Statements: blocks in order, both branches of an ``if`` joined, loop bodies run once,
class bodies, imports and the binding of assignment targets."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from rnnshape import torch_api as api
from rnnshape.shapes.dims import Dim, role_from_name
from rnnshape.shapes.facts import EvalRegion, ModuleInfo
from rnnshape.shapes.evidence import comment_shape, described
from rnnshape.shapes.interp.scope import (BranchAttrs, Frame, Scope, decorators, dotted, is_name,
                                          join_all, pattern_names, truth)
from rnnshape.shapes.ops import binary
from rnnshape.shapes.values import (ClassV, FuncV, InstV, IntV, ListV, Lit, ModV, Ref, SizesV, TensorV,
                                    TupleV)

TRAIN = "train"
UNROLL_LIMIT = 8  # items of a sequence of modules a loop is run over one by one


def _record_fields(node: cst.ClassDef, bases) -> Optional[tuple]:
    """The fields of a dataclass or NamedTuple class, in order (None for another class)."""
    named = decorators(node) & {"dataclass"} or any(
        isinstance(b, Ref) and b.qualname in ("typing.NamedTuple", "typing_extensions.NamedTuple")
        for b in bases)
    inherited = next((b.fields for b in bases if isinstance(b, ClassV) and b.fields), ())
    if not named and not inherited:
        return None
    own = tuple(stmt.body[0].target.value for stmt in node.body.body
                if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
                and isinstance(stmt.body[0], cst.AnnAssign)
                and isinstance(stmt.body[0].target, cst.Name))
    return tuple(inherited) + tuple(f for f in own if f not in inherited)


class Statements:
    """The statement half of the interpreter (see ``Interpreter``)."""

    def exec_block(self, stmts, frame: Frame, branch: bool = False):
        """``branch``: the body of an ``if``; an evaluation region it opens and does not end
        goes on after the ``if`` (``if train: model.train() else: model.eval()``), unless the
        branch returns."""
        opened = []
        for stmt in stmts:
            if frame.done:
                break  # after a return, raise, break or continue nothing here runs
            self.tick()
            marker = self.mode_marker(stmt, frame)
            if marker == TRAIN:
                self.recorder.train_mode(opened)
                opened = []
            elif marker is not None:
                self.recorder.eval_mode(marker)
            self.exec_stmt(stmt, frame)
            if self.carried:  # regions the branches of this statement left open
                opened.extend(self.carried)
                self.carried = []
            if isinstance(marker, EvalRegion):
                opened.append(self.recorder.open_region(marker, frame.no_grad))
        if branch and not frame.done:
            self.carried.extend(opened)
        else:
            self.recorder.close_regions(opened)

    def mode_marker(self, stmt, frame: Frame):
        """``x.eval()`` opens an evaluation region (returned), ``x.train()`` closes it."""
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
            region = EvalRegion(call, self.code(call.func.value))
            region.model = self.eval_quiet(call.func.value)
            region.loop_depth = len(self.recorder.loops) + self.comprehensions
            region.standalone = self.standalone and not self.grad_mode_known
            region.function = frame.function_name
            return region
        return TRAIN if name == "train" else None

    def exec_stmt(self, stmt, frame: Frame):
        handler = self._STATEMENTS.get(type(stmt))
        if handler is not None:
            handler(self, stmt, frame)
        elif isinstance(stmt, cst.BaseSmallStatement):
            self.exec_small(stmt, frame)  # the body of a one-line ``if x: y = 1`` or ``def``
        elif hasattr(stmt, "body") and hasattr(stmt.body, "body"):
            # anything newer with a body: run the body, learn nothing from the head
            self.exec_block(stmt.body.body, frame)

    def _simple_line(self, stmt, frame: Frame):
        for small in stmt.body:
            self.exec_small(small, frame)
        comment = stmt.trailing_whitespace.comment
        if comment is not None and len(stmt.body) == 1 and \
                isinstance(stmt.body[0], (cst.Assign, cst.AnnAssign)):
            self.note_shape_comment(stmt.body[0], comment, frame)

    def note_shape_comment(self, small, comment: cst.Comment, frame: Frame) -> None:
        """``x = x.permute(0, 2, 1)  # (B, C, T)``: the comment names the new value's dims."""
        target = small.targets[0].target if isinstance(small, cst.Assign) else small.target
        if isinstance(target, (cst.Tuple, cst.List)) and target.elements:
            target = target.elements[0].value
        if not isinstance(target, cst.Name):
            return
        value = frame.scope.vars.get(target.value)
        names = comment_shape(comment.value, target.value) if isinstance(value, TensorV) else None
        if names:
            frame.scope.vars[target.value] = described(value, names, comment)

    def _function_def(self, stmt, frame: Frame):
        func = FuncV(stmt, frame.scope)
        if frame.unit is self.entry:  # another file's functions are that file's to analyse
            self.funcs.append(func)
        frame.scope.vars[stmt.name.value] = func
        for deco in stmt.decorators:
            self.eval(deco.decorator, frame)

    def _if(self, stmt, frame: Frame):
        if self.is_main_guard(stmt.test, frame):
            self.exec_block(orelse_body(stmt.orelse), frame)
            return
        known = truth(self.eval(stmt.test, frame))
        if known is None:
            self.exec_branches([stmt.body.body, orelse_body(stmt.orelse)], frame)
        else:
            # ``if self.bidirectional:`` with the flag known: only that branch runs
            self.exec_block(stmt.body.body if known else orelse_body(stmt.orelse), frame,
                            branch=True)

    def _for(self, stmt, frame: Frame):
        iterable = self.eval(stmt.iter, frame)
        items = self.unrolled(iterable)
        if items is not None:
            # ``for layer in self.layers: x = layer(x)``: each item in turn, not their join
            loop = self.recorder.enter_loop(stmt, frame.scope)
            for item in items:
                self.bind_target(stmt.target, item, frame)
                self.exec_loop_body(stmt, frame, loop)
            self.recorder.exit_loop(loop)
        else:
            self.bind_target(stmt.target, self.loop_value(iterable, stmt.iter, stmt.target),
                             frame)
            self.exec_loop_body(stmt, frame)
        if stmt.orelse:
            self.exec_block(stmt.orelse.body.body, frame)

    def _while(self, stmt, frame: Frame):
        self.eval(stmt.test, frame)
        self.exec_loop_body(stmt, frame)
        if stmt.orelse:
            self.exec_block(stmt.orelse.body.body, frame)

    def _try(self, stmt, frame: Frame):
        self.exec_block(stmt.body.body, frame)
        if stmt.orelse:
            self.exec_block(stmt.orelse.body.body, frame)
        ended = frame.done
        for handler in stmt.handlers:
            # a handler runs when the body raised: wherever that was, it starts afresh
            frame.done = False
            if handler.name and isinstance(handler.name.name, cst.Name):
                frame.scope.vars[handler.name.name.value] = None
            self.exec_block(handler.body.body, frame)
            ended = ended and frame.done
        if stmt.finalbody:
            frame.done = False
            self.exec_block(stmt.finalbody.body.body, frame)
            ended = ended or frame.done
        frame.done = ended

    def _match(self, stmt, frame: Frame):
        self.eval(stmt.subject, frame)
        # Any one case runs, or none matches; the names a pattern captures hold parts of
        # the subject, which we do not follow.
        self.exec_branches([case.body.body for case in stmt.cases] + [[]], frame,
                           unknown=[pattern_names(c.pattern) for c in stmt.cases] + [[]])

    def exec_branches(self, branches, frame: Frame, unknown=None):
        """Run each body from the same state and join; ``unknown[i]``: names branch i rebinds
        to something unknown before its body (a match pattern's captures)."""
        base = dict(frame.scope.vars)
        results = []
        ended = []
        # Attributes (``self.rnn = ...`` in one branch of __init__) are joined like locals:
        # each branch starts from the attributes as they were, and what differs is unknown.
        record = BranchAttrs()
        attrs_after = []
        self.attr_branches.append(record)
        try:
            for i, body in enumerate(branches):
                frame.scope.vars = dict(base)
                for name in (unknown[i] if unknown else ()):
                    frame.scope.vars[name] = None
                frame.done = False
                self.exec_block(body, frame, branch=True)
                results.append(frame.scope.vars)
                ended.append(frame.done)
                attrs_after.append(record.snapshot())
                record.rewind()
        finally:
            self.attr_branches.pop()
        record.join(attrs_after)
        # What comes after sees only the branches that get there (not one that returned).
        live = [r for r, done in zip(results, ended) if not done]
        frame.done = not live
        merged = dict(base)
        for name in set().union(*[r.keys() for r in live]):
            merged[name] = join_all([r.get(name, base.get(name)) for r in live])
        frame.scope.vars = merged

    def _with(self, stmt: cst.With, frame: Frame):
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
                return not (node.args and is_name(node.args[0].value, "True"))
            if call_qual == "torch.inference_mode" and node.args:
                return not is_name(node.args[0].value, "False")
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
        return not (node.args and is_name(node.args[0].value, "True"))

    def _class_def(self, node: cst.ClassDef, frame: Frame):
        bases = [self.eval(arg.value, frame) for arg in node.bases]
        is_module = any(
            (isinstance(b, Ref) and (api.is_nn_module_base(b.qualname) or api.nn_class(b.qualname)))
            or (isinstance(b, ClassV) and b.is_module) for b in bases)
        if not is_module and None in bases and any(
                isinstance(s, cst.FunctionDef) and s.name.value == "forward" for s in node.body.body):
            # a base from a library this run cannot read (fastai's ``Module``) and a forward of
            # its own: a module by the look of it
            is_module = True
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
                if not decorators(stmt) & {"setter", "deleter"}:
                    cls.methods[stmt.name.value] = func
                if frame.unit is self.entry:
                    self.funcs.append(func)
            else:
                self.exec_stmt(stmt, body_frame)
        cls.class_attrs.update(body_scope.vars)
        cls.fields = _record_fields(node, bases)
        frame.scope.vars[node.name.value] = cls
        if frame.unit is self.entry:
            self.classes.append(cls)

    # -------------------------------------------------------------- simple statements
    def exec_small(self, small, frame: Frame):
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
            result = binary(left, right, small.operator)
            if frame.in_loop and not isinstance(result, TensorV):
                # ``total += len(s)`` after one pass of the body is not the total
                result = None
            self.bind_target(small.target, result, frame)
        elif isinstance(small, cst.Expr):
            self.eval(small.value, frame)
            mode = self.grad_mode_switch(small.value)
            if mode is not None:
                frame.no_grad = mode
        elif isinstance(small, cst.Return):
            frame.returns.append(self.eval(small.value, frame) if small.value else Lit(None))
            frame.done = True
        elif isinstance(small, (cst.Raise, cst.Break, cst.Continue)):
            if isinstance(small, cst.Raise) and small.exc is not None:
                self.eval(small.exc, frame)
            frame.done = True
        elif isinstance(small, cst.Import):
            self.exec_import(small, frame)
        elif isinstance(small, cst.ImportFrom):
            self.exec_import_from(small, frame)

    # -------------------------------------------------------------- binding
    def bind_target(self, target, value, frame: Frame):
        if isinstance(target, cst.Name):
            self.bind_name(target.value, value, frame)
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            if isinstance(value, TensorV) and value.state_of is not None and \
                    value.state_of.kind in ("GRU", "RNN") and len(elements) == 2:
                self.note_state_unpack(target, value.state_of)
            for element, item in zip(elements, self.unpack(value, len(elements))):
                if isinstance(element, cst.StarredElement):
                    self.bind_target(element.value, None, frame)
                else:
                    self.bind_target(element.value, item, frame)
        elif isinstance(target, cst.Attribute):
            self.bind_attribute(target, value)
        elif isinstance(target, cst.Subscript):
            self.eval(target.value, frame)

    def bind_name(self, name: str, value, frame: Frame):
        if isinstance(value, IntV):
            if value.fresh:
                value = IntV(Dim.sym(name), False)
            elif value.dim.role is None and value.dim.known:
                role = role_from_name(name)
                if role:
                    value = IntV(value.dim.with_role(role, f"named {name}"))
        if isinstance(value, InstV) and not value.label:
            value.label = name
        if isinstance(value, ModV) and not value.info.label:
            value.info.label = name
        if self.recorder.loops:
            self.recorder.bind(name, frame.scope)
        frame.scope.vars[name] = value

    def bind_attribute(self, target: cst.Attribute, value):
        base = self.eval_quiet(target.value)
        if not isinstance(base, InstV):
            return
        name = target.attr.value
        if isinstance(value, IntV) and value.fresh:
            value = IntV(Dim.sym(f"{dotted(target) or name}"), False)
        if isinstance(value, ModV) and not value.info.label:
            value.info.label = dotted(target) or name
        for record in self.attr_branches:
            record.note(base, name)
        base.attrs[name] = value

    @staticmethod
    def unpack(value, count: int) -> list:
        if isinstance(value, TupleV) and len(value.items) == count:
            return list(value.items)
        if isinstance(value, ListV):
            return [value.elem] * count
        if isinstance(value, SizesV):
            return value.unpacked(count)
        return [None] * count

    def note_state_unpack(self, target, module: ModuleInfo):
        """``out, (h, c) = gru(x)``: a GRU/RNN returns one state tensor, not two."""
        layers = module.dim("num_layers").value
        dirs = module.directions
        names = [self.code(e.value) for e in target.elements]
        cell_like = names[1].lstrip("_").lower().startswith(("c", "cell"))
        if layers is not None and dirs is not None and layers * dirs == 2 and not cell_like:
            return  # ``h_fwd, h_bwd = h_n`` of a one-layer bidirectional GRU is fine
        detail = (f"{module.kind} returns a single state tensor; unpacking it iterates over its "
                  f"first dim")
        self.recorder.state_misuse(target, module, "unpack", detail)

    def exec_loop_body(self, stmt, frame: Frame, loop=None):
        """Run a loop body once, noting whether it switches to eval, trains, and switches back
        (``loop``: the loop already entered, for a body run once per item)."""
        own = loop is None
        if own:
            loop = self.recorder.enter_loop(stmt, frame.scope)
        saved_in_loop = frame.in_loop
        frame.in_loop = True
        try:
            self.exec_block(stmt.body.body, frame)
        finally:
            frame.in_loop = saved_in_loop
        # a return or break in the body ends one pass, not what follows the loop (which
        # also runs when the loop runs zero times)
        frame.done = False
        if own:
            self.recorder.exit_loop(loop)

    @staticmethod
    def unrolled(iterable) -> Optional[list]:
        """The items of a short sequence of modules, to run a loop over one by one."""
        if isinstance(iterable, ModV) and iterable.info.children is not None:
            items = list(iterable.info.children)
        elif isinstance(iterable, TupleV) and any(isinstance(i, (ModV, InstV))
                                                  for i in iterable.items):
            items = list(iterable.items)
        else:
            return None
        return items if 0 < len(items) <= UNROLL_LIMIT else None

    _STATEMENTS = {
        cst.SimpleStatementLine: _simple_line,
        cst.FunctionDef: _function_def,
        cst.ClassDef: _class_def,
        cst.If: _if,
        cst.For: _for,
        cst.While: _while,
        cst.With: _with,
        cst.Try: _try,
        cst.TryStar: _try,
        cst.Match: _match,
    }


def orelse_body(orelse) -> list:
    """The statements of an ``else`` (an ``elif`` is one ``if`` statement)."""
    if orelse is None:
        return []
    if isinstance(orelse, cst.If):
        return [orelse]
    return orelse.body.body
