"""Calls: methods on known receivers, library functions through the op tables, and what a
call is (a model called, a seed set, a configuration read); ``nn`` modules are in
``modules.py``, user code in ``functions.py``."""
from __future__ import annotations

from dataclasses import replace

import libcst as cst

from rnnshape import torch_api as api
from rnnshape.shapes.dims import Dim, Shape
from rnnshape.shapes.facts import ModelCall, SeedCall
from rnnshape.shapes.interp.modules import CONTAINERS
from rnnshape.shapes.interp.scope import STAR, Frame, join_all, signature
from rnnshape.shapes.interp.watch import (CPU_CONSTRUCTORS, DEFAULT_DEVICE, SCATTERING, on_device,
                                          on_gpu)
from rnnshape.shapes.ops import OpCall, call_function, call_method
from rnnshape.shapes.ops.base import int_of
from rnnshape.shapes.values import (BoundV, ClassV, DatasetV, DictV, FuncV, InstV, IntV, ListV,
                                    Lit, MappingV, ModV, NamespaceV, ParserV, Ref, StateTupleV,
                                    SuperV, TensorV, TupleV)

# Methods that return the module itself (``model.to(device)``, ``model.eval()``).
_SELF_METHODS = ("to", "cuda", "cpu", "eval", "train", "float", "double", "half")
_LIST_MUTATORS = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"}
_LAYOUT_METHODS = {"permute": "permute", "transpose": "transpose", "swapaxes": "transpose",
                   "swapdims": "transpose", "t": "transpose", "view": "flatten",
                   "reshape": "flatten", "flatten": "flatten"}
_NEUTRAL_METHODS = api.SHAPE_PRESERVING_FUNCS | {"numpy", "dim", "ndimension", "contiguous",
                                                  "detach", "type_as"}


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
            losses = len(self.recorder.facts.loss_calls)
            result = self.call_method(receiver, method, args, kwargs, node, frame)
        else:
            callee = self._eval(func_node, frame)
            self.note_region_call(node, callee, None, frame)
            if isinstance(callee, Ref) and callee.qualname == "zip" and len(node.args) == 1 \
                    and node.args[0].star == "*":
                return unzipped(self._eval(node.args[0].value, frame))
            args, kwargs = self.eval_args(node, frame)
            self._current_scope = frame.scope
            losses = len(self.recorder.facts.loss_calls)
            result = self.call_value(callee, args, kwargs, node, frame)
        if len(self.recorder.facts.loss_calls) > losses:
            self.note_loss_target(self.recorder.facts.loss_calls[-1], frame)
            self.note_loss_device(self.recorder.facts.loss_calls[-1])
        return result

    def call_method(self, receiver, method: str, args, kwargs, node, frame: Frame):
        if isinstance(receiver, StateTupleV) and method not in ("count", "index"):
            self.recorder.state_misuse(node, receiver.module, "tuple-as-tensor", f".{method}()")
        if isinstance(receiver, TensorV):
            return self.tensor_method(receiver, method, args, kwargs, node, frame)
        if isinstance(receiver, InstV):
            return self.instance_method(receiver, method, args, kwargs, node, frame)
        if isinstance(receiver, ModV):
            if receiver.info.children is not None or receiver.info.kind in CONTAINERS:
                return self.container_method(receiver.info, method, args, node, frame)
            if method == "forward":
                return self.call_value(receiver, args, kwargs, node, frame)
            self.note_move(receiver, method, args, node)
            return receiver if method in _SELF_METHODS else None
        if isinstance(receiver, SuperV):
            return self.super_call(receiver.inst, receiver.cls, method, args, kwargs, node, frame)
        if isinstance(receiver, ClassV):
            func = receiver.methods.get(method)
            # bound to the class only if it is a classmethod (see call_function)
            return self.call_function(func, args, kwargs, frame, bound=receiver) if func else None
        if isinstance(receiver, (TupleV, ListV)) and method in _LIST_MUTATORS:
            self.mutate_list(node.func.value, receiver, method, args, frame)
            return None
        if isinstance(receiver, (DictV, MappingV, ParserV, NamespaceV)):
            return record_method(receiver, method, args, kwargs)
        callee = self.attribute(receiver, method, node.func)
        if callee is None and method in ("backward", "manual_backward"):
            self.recorder.backward()
        if callee is None and method in ("to", "cuda") and receiver is None:
            self.recorder.device_move()
        return self.call_value(callee, args, kwargs, node, frame)

    def tensor_method(self, receiver: TensorV, method: str, args, kwargs, node, frame: Frame):
        if receiver.state_of is not None and method == "squeeze" and receiver.pick is None and \
                (not args or int_of(args[0]) == 0):
            # only ``squeeze()`` and ``squeeze(0)`` take the layer axis away
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
        if receiver.cls.is_module:
            self.note_move(receiver, method, args, node)
        if method in ("parameters", "buffers") and receiver.cls.is_module:
            # ``next(self.parameters()).new(...)``: some tensor of the model's, shape unknown
            return ListV(TensorV(Shape.unknown(), grad=True), Dim.unknown())
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
                if isinstance(value, DictV):  # ``nn.LSTM(**cfg)`` with cfg a literal dict
                    kwargs.update(value.items)
                else:
                    kwargs["**"] = None
            elif arg.keyword is not None:
                kwargs[arg.keyword.value] = value
            else:
                args.append(value)
        return args, kwargs

    def note_region_call(self, node, callee, method, frame: Frame):
        if method == "detach_":
            self.recorder.detached(in_place=True)
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
            if isinstance(node, cst.Call):
                self.note_state_reads(callee, node, frame)
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
            # a subclass of Sequential that only builds its children
            return self.run_children(callee.attrs.get("__children__"), args, kwargs, node, frame)
        result = self.call_function(forward, args, kwargs, frame, bound=callee)
        if isinstance(result, TensorV):
            result = result.step(node, result.shape)
        how = self.recorder.moved_how(callee)
        if how is not None and on_gpu(how):
            result = on_device(result)
        return result

    def call_back(self, callee, args: list, node):
        """Call ``callee`` from an op (a dataset's ``__getitem__``, a ``collate_fn``)."""
        return self.call_value(callee, args, {}, node, Frame(self._current_scope or
                                                            self.module_scope, depth=1))

    def sample_of(self, dataset, node):
        """One sample of a dataset: what ``dataset[i]`` gives."""
        if isinstance(dataset, DatasetV):
            return TupleV(dataset.items)
        if isinstance(dataset, ListV):
            return dataset.elem
        if isinstance(dataset, TupleV):
            return join_all(list(dataset.items))
        if isinstance(dataset, TensorV) and dataset.shape.dims:
            return replace(dataset, shape=Shape(dataset.shape.dims[1:]), layout_op=None)
        if isinstance(dataset, InstV):
            getitem = dataset.cls.methods.get("__getitem__")
            if getitem is not None:
                frame = Frame(getitem.env, depth=1)
                return self.call_function(getitem, [IntV(Dim.index("index"))], {}, frame,
                                          bound=dataset)
        return None

    def call_ref(self, qual: str, args, kwargs, node, frame: Frame):
        if qual == "super":
            return self.super_of(frame)
        special = _SPECIAL.get(qual)
        if qual in SCATTERING and args:
            self.recorder.scatters(args[0])  # it moves the inputs to the model itself
        if special is not None:
            return special(args, kwargs)
        if (qual in api.TORCH_RANDOM or qual in api.RANDOM_INITS) and "generator" not in kwargs:
            self.note_torch_random()  # a private Generator does not draw from the global one
        if qual in DEFAULT_DEVICE:
            self.recorder.default_device()
        if qual in api.TORCH_SEEDS or qual in api.OTHER_SEEDS:
            seed = self.code(node.args[0].value) if node.args else None
            self.recorder.seed(SeedCall(qual, node, None, seed, frame.function_name))
            return None
        kind = api.nn_class(qual)
        if kind in ("Parameter", "Buffer"):
            # a tensor the module owns: its shape is the data's, it learns, it moves with it
            data = args[0] if args else kwargs.get("data")
            return replace(data, grad=True, cpu_made=None) if isinstance(data, TensorV) else None
        if kind is not None:
            self.note_torch_random()  # initial weights, dropout masks
            return self.construct(kind, args, kwargs, node)
        if qual.endswith(".from_pretrained") and api.nn_class(qual[:-16]) == "Embedding":
            return self.pretrained_embedding(args, kwargs, node)
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
        if isinstance(result, TensorV) and not result.numpy and qual.startswith("torch.") and \
                qual.rpartition(".")[2] in CPU_CONSTRUCTORS and "device" not in kwargs and \
                "**" not in kwargs:
            result = replace(result, cpu_made=self.made_where(node, frame))
        return result

    def pretrained_embedding(self, args, kwargs, node):
        """``nn.Embedding.from_pretrained(w)``: an Embedding with w's sizes."""
        weights = args[0] if args else kwargs.get("embeddings")
        dims = weights.shape.dims if isinstance(weights, TensorV) else None
        if dims is None or len(dims) != 2:
            return None
        return self.construct("Embedding", [IntV(dims[0]), IntV(dims[1])], {}, node)

    def super_of(self, frame: Frame):
        """``super()`` in a method: the instance, seen from the method's class."""
        func = frame.func
        if func is None or func.owner is None:
            return None
        params = func.node.params.params
        inst = frame.scope.vars.get(params[0].name.value) if params else None
        return SuperV(inst, func.owner) if isinstance(inst, InstV) else None

    def note_torch_random(self):
        self.recorder.torch_random(in_program=not self.standalone)

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
        if not isinstance(node, cst.Call):
            return  # a container class run on its docstring's input: no call to read
        self.note_unmoved(callee, args, node)
        if isinstance(callee, InstV):
            self.note_model_inputs(callee, node, frame)


def unzipped(pairs):
    """``zip(*batch)`` of a list of samples: a list per field (``seqs, labels = ...``)."""
    if isinstance(pairs, ListV) and isinstance(pairs.elem, TupleV):
        return TupleV(tuple(ListV(item, pairs.length) for item in pairs.elem.items))
    if isinstance(pairs, TupleV) and pairs.items and all(
            isinstance(p, TupleV) and len(p.items) == len(pairs.items[0].items)
            for p in pairs.items):
        return TupleV(tuple(TupleV(column, True) for column in zip(*(p.items for p in pairs.items))))
    return None


def record_method(receiver, method: str, args, kwargs):
    """Methods of configuration values: ``cfg.get(k)``, ``parser.add_argument(...)``,
    ``parser.parse_args()``."""
    if isinstance(receiver, MappingV):
        found = {"get": receiver.value, "items": ListV(TupleV((receiver.key, receiver.value)),
                                                          Dim.unknown()),
                 "values": ListV(receiver.value, Dim.unknown()),
                 "keys": ListV(receiver.key, Dim.unknown())}
        return found.get(method)
    if isinstance(receiver, DictV):
        if method == "get" and args and isinstance(args[0], Lit):
            return receiver.get(args[0].value, args[1] if len(args) > 1 else None)
        if method == "copy":
            return receiver
        return None
    if isinstance(receiver, ParserV):
        if method == "add_argument":
            _add_option(receiver, args, kwargs)
        elif method in ("parse_args", "parse_known_args"):
            space = NamespaceV(tuple(receiver.options.items()))
            return space if method == "parse_args" else TupleV((space, None))
    return None


def _add_option(parser: ParserV, args, kwargs) -> None:
    names = [a.value for a in args if isinstance(a, Lit) and isinstance(a.value, str)]
    dest = kwargs.get("dest")
    if isinstance(dest, Lit) and isinstance(dest.value, str):
        name = dest.value
    else:
        longs = [n for n in names if n.startswith("--")]
        name = (longs[0] if longs else names[0] if names else "").lstrip("-").replace("-", "_")
    if not name:
        return
    kind, default = kwargs.get("type"), kwargs.get("default")
    parser.options[name] = (isinstance(kind, Ref) and kind.qualname == "int") or \
        isinstance(default, IntV)


def _wrapped(args, kwargs):
    """``nn.DataParallel(model)``, ``Variable(x)``: the value they wrap."""
    return args[0] if args else kwargs.get("module", kwargs.get("data"))


def _new_dict(args, kwargs):
    base = args[0] if args else DictV(())
    if not isinstance(base, DictV) or "**" in kwargs:
        return None
    return DictV(tuple((k, v) for k, v in base.items if k not in kwargs) + tuple(kwargs.items()))


def _namespace_dict(args, kwargs):
    space = args[0] if args else None
    if isinstance(space, NamespaceV):
        return DictV(tuple((dest, space.get(dest)) for dest, _ in space.options))
    return None


def _named_tuple(args, kwargs):
    names = args[1] if len(args) > 1 else kwargs.get("field_names")
    if isinstance(names, Lit) and isinstance(names.value, str):
        fields = tuple(names.value.replace(",", " ").split())
    elif isinstance(names, TupleV) and all(isinstance(n, Lit) for n in names.items):
        fields = tuple(n.value for n in names.items)
    else:
        return None
    return ClassV(None, {}, False, fields=fields)


def _ordered_dict(args, kwargs):
    """``OrderedDict([("lstm", m), ...])``: the pairs, as a dict in order."""
    pairs = args[0] if args else TupleV(())
    if not isinstance(pairs, TupleV) or not all(
            isinstance(p, TupleV) and len(p.items) == 2 and isinstance(p.items[0], Lit)
            for p in pairs.items):
        return None
    return DictV(tuple((p.items[0].value, p.items[1]) for p in pairs.items))


def _generator(args, kwargs):
    """``np.random.default_rng(seed)``: its ``normal``/``uniform``/``integers`` are numpy's."""
    return Ref("numpy.random")


_SPECIAL = {
    "collections.OrderedDict": _ordered_dict,
    "numpy.random.default_rng": _generator, "numpy.random.RandomState": _generator,
    "numpy.random.Generator": _generator,
    "torch.nn.DataParallel": _wrapped, "torch.nn.parallel.DataParallel": _wrapped,
    "torch.nn.parallel.DistributedDataParallel": _wrapped, "torch.autograd.Variable": _wrapped,
    "dict": _new_dict, "vars": _namespace_dict,
    "argparse.ArgumentParser": lambda args, kwargs: ParserV(),
    "collections.namedtuple": _named_tuple,
    # ``torch.device("cpu")`` is the string it names, so a move to it is no move
    "torch.device": lambda args, kwargs: args[0] if args and isinstance(args[0], Lit) else None,
}


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

