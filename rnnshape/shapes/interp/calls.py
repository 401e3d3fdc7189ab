"""Calls: methods on known receivers, library functions through the op tables, ``nn``
modules built and called, and user code (see ``UserCode``)."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Optional

import libcst as cst

from rnnshape import torch_api as api
from rnnshape.shapes.dims import FEATURE, Dim
from rnnshape.shapes.facts import ModelCall, ModuleInfo, SeedCall
from rnnshape.shapes.interp.scope import STAR, Frame, join_all, signature
from rnnshape.shapes.ops import MODULES, OpCall, call_function, call_method
from rnnshape.shapes.values import (BoundV, ClassV, FuncV, InstV, IntV, ListV, Lit, ModV, Ref,
                                    StateTupleV, TensorV, TupleV)

# Methods that return the module itself (``model.to(device)``, ``model.eval()``).
_SELF_METHODS = ("to", "cuda", "cpu", "eval", "train", "float", "double", "half")
_LIST_MUTATORS = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"}
# Modules that act on the feature dim only, so the batch/time layout passes through them.
_NEUTRAL_MODULES = {"Linear", "LazyLinear"} | api.SHAPE_PRESERVING_MODULES
_LAYOUT_METHODS = {"permute": "permute", "transpose": "transpose", "swapaxes": "transpose",
                   "swapdims": "transpose", "t": "transpose", "view": "flatten",
                   "reshape": "flatten", "flatten": "flatten"}
_NEUTRAL_METHODS = api.SHAPE_PRESERVING_FUNCS | {"numpy", "dim", "ndimension", "contiguous",
                                                  "detach", "type_as"}
# Constructor arguments that are sizes: an expression we cannot evaluate still names one.
_SIZE_PARAMETERS = ("input_size", "hidden_size", "in_features", "out_features", "proj_size",
                    "num_layers", "embedding_dim", "num_embeddings", "in_channels", "out_channels")


class Calls:
    """The call half of the interpreter (see ``Interpreter``)."""

    def call(self, node: cst.Call, frame: Frame):
        func_node = node.func
        if isinstance(func_node, cst.Attribute):
            receiver = self._eval(func_node.value, frame)
            method = func_node.attr.value
            self.note_region_call(node, receiver, method, frame)
            args, kwargs = self.eval_args(node, frame)
            self._current_scope = frame.scope
            return self.call_method(receiver, method, args, kwargs, node, frame)
        callee = self._eval(func_node, frame)
        self.note_region_call(node, callee, None, frame)
        args, kwargs = self.eval_args(node, frame)
        self._current_scope = frame.scope
        return self.call_value(callee, args, kwargs, node, frame)

    def call_method(self, receiver, method: str, args, kwargs, node, frame: Frame):
        if isinstance(receiver, StateTupleV) and method not in ("count", "index"):
            self.recorder.state_misuse(node, receiver.module, "tuple-as-tensor", f".{method}()")
        if isinstance(receiver, TensorV):
            return self.tensor_method(receiver, method, args, kwargs, node, frame)
        if isinstance(receiver, InstV):
            return self.instance_method(receiver, method, args, kwargs, node, frame)
        if isinstance(receiver, ModV):
            if method == "forward":
                return self.call_value(receiver, args, kwargs, node, frame)
            return receiver if method in _SELF_METHODS else None
        if isinstance(receiver, ClassV):
            func = receiver.methods.get(method)
            # bound to the class only if it is a classmethod (see call_function)
            return self.call_function(func, args, kwargs, frame, bound=receiver) if func else None
        if isinstance(receiver, (TupleV, ListV)) and method in _LIST_MUTATORS:
            self.mutate_list(node.func.value, receiver, method, args, frame)
            return None
        callee = self.attribute(receiver, method, node.func)
        if callee is None and method in ("backward", "manual_backward"):
            self.recorder.backward()
        if callee is None and method in ("to", "cuda") and receiver is None:
            self.recorder.device_move()
        return self.call_value(callee, args, kwargs, node, frame)

    def tensor_method(self, receiver: TensorV, method: str, args, kwargs, node, frame: Frame):
        if receiver.state_of is not None and method == "squeeze" and receiver.pick is None:
            self.recorder.pick(node, receiver, 0 if args else None)
        if any(a is STAR for a in args):
            result = None  # ``x.view(*sizes)``: the rank itself is unknown
        else:
            result = call_method(method, OpCall(node, args, kwargs, self, receiver=receiver,
                                                receiver_node=node.func.value,
                                                no_grad=frame.no_grad))
        if receiver.layout_of is not None:
            result = self.recorder.layout_use(receiver, node, method_kind(method, args), result)
        return result

    def instance_method(self, receiver: InstV, method: str, args, kwargs, node, frame: Frame):
        if method == "forward":
            return self.call_value(receiver, args, kwargs, node, frame)
        func = receiver.cls.methods.get(method)
        if func is not None:
            return self.call_function(func, args, kwargs, frame, bound=receiver)
        attr = receiver.attrs.get(method)
        if attr is not None:
            return self.call_value(attr, args, kwargs, node, frame)
        return receiver if method in _SELF_METHODS else None

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
        new = ListV(join_all(items), Dim.unknown())
        if isinstance(target, cst.Name):
            frame.scope.owner_of(target.value).vars[target.value] = new
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
                    args.append(STAR)
            elif arg.star == "**":
                kwargs["**"] = None
            elif arg.keyword is not None:
                kwargs[arg.keyword.value] = value
            else:
                args.append(value)
        return args, kwargs

    def note_region_call(self, node, callee, method, frame: Frame):
        if method in ("backward", "manual_backward"):
            self.recorder.backward()
            return
        if not self.recorder.regions:
            return
        if method is None:
            target, text = callee, self.code(node.func)
        elif method == "forward":
            target, text = self.eval_quiet(node.func.value), self.code(node.func.value)
        else:
            return
        depth = len(self.recorder.loops) + self.comprehensions
        self.recorder.model_use(node, target, text, frame.no_grad, depth)

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
            self.recorder.no_grad_method(node.func.attr.value)
        if isinstance(callee, InstV):
            return self.call_instance(callee, args, kwargs, node, frame)
        if isinstance(callee, ClassV):
            return self.instantiate(callee, args, kwargs, frame, node=node)
        if isinstance(callee, FuncV):
            return self.call_function(callee, args, kwargs, frame, bound=None)
        if isinstance(callee, BoundV):
            return self.call_function(callee.func, args, kwargs, frame, bound=callee.inst)
        return None

    def call_instance(self, callee: InstV, args, kwargs, node, frame: Frame):
        forward = callee.cls.methods.get("forward") or callee.cls.methods.get("__call__")
        if forward is None:
            return None
        result = self.call_function(forward, args, kwargs, frame, bound=callee)
        if isinstance(result, TensorV):
            result = result.step(node, result.shape)
        return result

    def call_ref(self, qual: str, args, kwargs, node, frame: Frame):
        if (qual in api.TORCH_RANDOM or qual in api.RANDOM_INITS) and "generator" not in kwargs:
            self.note_torch_random()  # a private Generator does not draw from the global one
        if qual in api.TORCH_SEEDS or qual in api.OTHER_SEEDS:
            seed = self.code(node.args[0].value) if node.args else None
            self.recorder.seed(SeedCall(qual, node, None, seed, frame.function_name))
            return None
        kind = api.nn_class(qual)
        if kind is not None:
            self.note_torch_random()  # initial weights, dropout masks
            return self.construct(kind, args, kwargs, node)
        if any(a is STAR for a in args):
            result = None  # ``torch.zeros(*sizes)``: the rank itself is unknown
        else:
            result = call_function(OpCall(node, args, kwargs, self, qualname=qual,
                                          no_grad=frame.no_grad))
        for arg in args:
            if isinstance(arg, TensorV) and arg.layout_of is not None:
                name = qual.rpartition(".")[2]
                result = self.recorder.layout_use(arg, node, function_kind(name, args, kwargs),
                                                  result)
        return result

    def note_torch_random(self):
        self.recorder.torch_random(in_program=not self.standalone)

    # -------------------------------------------------------------- nn modules
    def construct(self, kind: str, args, kwargs, node) -> Optional[ModV]:
        sig = api.CONSTRUCTORS.get(kind)
        cfg: dict[str, Any] = {}
        if sig is not None:
            names, defaults = sig
            for name, value in defaults.items():
                cfg[name] = value if not isinstance(value, int) or isinstance(value, bool) \
                    else Dim.const(value)
            if any(value is STAR for value in args):
                return ModV(ModuleInfo(kind, {}, node))
            bound = {names[i]: (value, node.args[i].value if i < len(node.args) else None)
                     for i, value in enumerate(args) if i < len(names)}
            for arg in node.args:
                if arg.keyword is not None and arg.keyword.value in kwargs:
                    bound[arg.keyword.value] = (kwargs[arg.keyword.value], arg.value)
            if "**" in kwargs:
                # ``nn.LSTM(**cfg)``: we do not know which defaults were overridden
                cfg.update({name: None for name in names if name not in bound})
            for name, (value, expr) in bound.items():
                cfg[name] = self.config_value(value, expr, name)
        if kind in api.RECURRENT:
            for key in ("input_size", "hidden_size"):
                if isinstance(cfg.get(key), Dim):
                    cfg[key] = cfg[key].with_role(FEATURE)
        info = ModuleInfo(kind, cfg, node)
        self.recorder.module(info)
        return ModV(info)

    def config_value(self, value, expr, name):
        if isinstance(value, IntV):
            return value.dim
        if isinstance(value, Lit):
            return value.value if isinstance(value.value, (bool, float)) else None
        if value is None and expr is not None and name in _SIZE_PARAMETERS:
            text = self.code(expr)
            if len(text) <= 60 and "(" not in text.replace("len(", ""):
                # An expression we cannot evaluate still names one size everywhere it is
                # written the same way in this file.
                return Dim.sym(text, role=FEATURE if name != "num_layers" else None)
        return None

    def call_module(self, info: ModuleInfo, args, kwargs, node, frame: Frame):
        x = args[0] if args else kwargs.get("input")
        if isinstance(x, StateTupleV):
            self.recorder.state_misuse(node, x.module, "tuple-as-tensor", f"passed to {info.kind}")
        if isinstance(x, TensorV) and x.layout_of is not None and info.kind not in _NEUTRAL_MODULES:
            self.recorder.layout_use(x, node, "other", None)
            x = replace(x, layout_of=None)
            if args:
                args = [x] + list(args[1:])
            else:
                kwargs = dict(kwargs, input=x)
        shape = MODULES.get(info.kind)
        if shape is None:
            return None
        return shape(info, OpCall(node, list(args), kwargs, self, no_grad=frame.no_grad))

    def note_model_call(self, callee, args, kwargs, node, frame: Frame):
        """Calls from outside any model's own code are what ``verify`` re-runs."""
        owner = frame.func.owner if frame.func is not None else None
        if owner is not None and owner.is_module:
            return
        if isinstance(callee, InstV) and not callee.cls.is_module:
            return
        if isinstance(callee, ModV) and callee.info.kind not in api.RECURRENT:
            return
        self.recorder.model_call(ModelCall(node, callee, tuple(args), dict(kwargs)),
                                 tuple(signature(a) for a in args))


def method_kind(method: str, args) -> str:
    """How a tensor method depends on which of dims 0/1 of a recurrent output is batch."""
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


def function_kind(name: str, args, kwargs) -> str:
    """The same for ``torch.<name>(output, ...)``."""
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

