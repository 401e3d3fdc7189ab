"""``nn`` modules: construction with their configuration, calls through the op tables, and
containers (``Sequential``, ``ModuleList``, ``ModuleDict``, subclasses of them) whose
children run in order."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Optional

from rnnshape import torch_api as api
from rnnshape.shapes.dims import FEATURE, Dim
from rnnshape.shapes.facts import ModuleInfo
from rnnshape.shapes.interp.scope import STAR, Frame
from rnnshape.shapes.recorder import may_record_graph
from rnnshape.shapes.ops import MODULES, OpCall
from rnnshape.shapes.values import (off_cpu, ClassV, DictV, InstV, IntV, ListV, Lit, ModV, StateTupleV,
                                    TensorV, TupleV)

CONTAINERS = {"Sequential", "ModuleList", "ModuleDict"}
# Modules that act on the feature dim only, so the batch/time layout passes through them.
NEUTRAL_MODULES = {"Linear", "LazyLinear"} | api.SHAPE_PRESERVING_MODULES
# Constructor arguments that are sizes: an expression we cannot evaluate still names one.
_SIZE_PARAMETERS = ("input_size", "hidden_size", "in_features", "out_features", "proj_size",
                    "num_layers", "embedding_dim", "num_embeddings", "in_channels", "out_channels")


class Modules:
    """The ``nn`` half of the interpreter (see ``Interpreter``)."""

    def construct(self, kind: str, args, kwargs, node) -> Optional[ModV]:
        if kind in CONTAINERS:
            return self.container(kind, args, node)
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
            written = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
            for name, value in kwargs.items():
                if name in names:  # also keywords spread from a literal dict (``**cfg``)
                    bound[name] = (value, written.get(name))
            if "**" in kwargs:
                # ``nn.LSTM(**cfg)``: we do not know which defaults were overridden
                cfg.update({name: None for name in names if name not in bound})
            for name, (value, expr) in bound.items():
                cfg[name] = self.config_value(value, expr, name)
        if kind in api.RECURRENT or kind in api.RECURRENT_CELLS:
            for key in ("input_size", "hidden_size"):
                if isinstance(cfg.get(key), Dim):
                    cfg[key] = cfg[key].with_role(FEATURE)
        info = ModuleInfo(kind, cfg, node)
        self.recorder.module(info)
        return ModV(info)

    def config_value(self, value, expr, name):
        if isinstance(value, IntV):
            return value.dim
        if isinstance(value, TupleV) and value.items and all(isinstance(v, IntV)
                                                             for v in value.items):
            return tuple(v.dim for v in value.items)  # ``kernel_size=(3, 3)``
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
        if isinstance(x, TensorV) and x.layout_of is not None and info.kind not in NEUTRAL_MODULES \
                and info.kind not in CONTAINERS:
            self.recorder.layout_use(x, node, "other", None)
            x = replace(x, layout_of=None)
            if args:
                args = [x] + list(args[1:])
            else:
                kwargs = dict(kwargs, input=x)
        if info.kind in CONTAINERS:
            return self.run_children(info.children, args, kwargs, node, frame, info.each)
        self.note_layer_inputs(info, args, kwargs, node, frame)
        shape = MODULES.get(info.kind)
        if shape is None:
            return None
        result = shape(info, OpCall(node, list(args), kwargs, self, no_grad=frame.no_grad))
        return off_cpu(result) if may_record_graph(ModV(info)) else result

    # -------------------------------------------------------------- containers
    def container(self, kind: str, args, node) -> ModV:
        """``Sequential(a, b)``, ``Sequential(OrderedDict(...))``, ``ModuleList([a, b])``,
        ``ModuleDict({...})``: the children in order (None when the code does not show them)."""
        info = ModuleInfo(kind, {}, node)
        info.children = children_of(kind, args)
        info.names = child_names(kind, args)
        listed = args[0] if args else None
        if kind == "Sequential" and args == [STAR] and node.args and node.args[0].star == "*":
            listed = self.eval_quiet(node.args[0].value)  # ``Sequential(*layers)``
        if kind in ("ModuleList", "Sequential") and isinstance(listed, ListV) and \
                isinstance(listed.elem, (ModV, InstV)):
            info.each = listed.elem
        self.recorder.module(info)
        return ModV(info)

    def run_children(self, children, args, kwargs, node, frame: Frame, each=None):
        """A Sequential's forward: each child on the previous one's result.  Children built in a
        loop (``each``, how many unknown) run once: what the first sees is what it is given, and
        a block that keeps its input's shape keeps it however often it is repeated."""
        if not (args or kwargs):
            return None
        value = args[0] if args else kwargs.get("input")
        if children is None and each is not None:
            out = self.call_value(each, [value], {}, node, frame)
            same = isinstance(out, TensorV) and isinstance(value, TensorV) and \
                out.shape.dims is not None and out.shape == value.shape
            return out if same else None
        if children is None:
            return None
        for child in children:
            if child is None:
                return None
            value = self.call_value(child, [value], {}, node, frame)
        return value

    def container_method(self, info: ModuleInfo, method: str, args, node, frame: Frame):
        """``ModuleList.append(m)``: one child more (a loop body runs once, so children
        appended in a loop leave the count unknown)."""
        if method in ("append", "extend", "insert", "add_module"):
            new = list(args[-1:]) if method != "extend" else \
                list(args[0].items) if args and isinstance(args[0], TupleV) else None
            if info.children is None or new is None or frame.in_loop:
                info.children = None
            else:
                info.children = tuple(info.children) + tuple(new)
            return None
        if method == "forward":
            return self.run_children(info.children, args, {}, node, frame)
        return None

    def container_item(self, info: ModuleInfo, index):
        """``layers[0]``, ``layers[-1]``, ``heads["pos"]``."""
        children = info.children
        if children is None:
            return info.each if isinstance(index, IntV) else None
        if isinstance(index, Lit) and isinstance(index.value, str):
            return dict(info.names or ()).get(index.value)
        position = index.dim.value if isinstance(index, IntV) else None
        if position is not None and -len(children) <= position < len(children):
            return children[position]
        return None

    # -------------------------------------------------------------- super()
    def super_call(self, inst: InstV, cls: ClassV, method: str, args, kwargs, node, frame: Frame):
        """``super().method(...)`` from a method of ``cls``: the first base that has it; a
        container base's ``__init__`` records the children."""
        for base in self.bases_of(cls):
            if isinstance(base, ClassV) and method in base.methods:
                return self.call_function(base.methods[method], args, kwargs, frame, bound=inst)
            kind = api.nn_class(getattr(base, "qualname", None))
            if kind in CONTAINERS and method == "__init__":
                inst.attrs["__children__"] = children_of(kind, args)
                return None
            if kind in CONTAINERS and method == "forward":
                return self.run_children(inst.attrs.get("__children__"), args, kwargs, node, frame)
        return None

    def bases_of(self, cls: ClassV) -> list:
        if cls.node is None:
            return []
        return [self.eval_quiet(arg.value) for arg in cls.node.bases]


def children_of(kind: str, args) -> Optional[tuple]:
    if any(a is STAR for a in args):
        return None
    if kind == "Sequential":
        if len(args) == 1 and isinstance(args[0], DictV):
            return tuple(v for _, v in args[0].items)
        return tuple(args)
    if not args:
        return ()
    items = args[0]
    if isinstance(items, DictV):
        return tuple(v for _, v in items.items)
    if isinstance(items, TupleV):
        return tuple(items.items)
    if isinstance(items, ListV):
        return None  # built in a loop: how many is unknown
    return None


def child_names(kind: str, args) -> Optional[tuple]:
    """``ModuleDict``/``Sequential(OrderedDict)`` children by name."""
    source = args[0] if args else None
    if isinstance(source, DictV):
        return source.items
    return None
