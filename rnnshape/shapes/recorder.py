"""The fact recorder: what the interpreter tells it becomes the ``Facts`` the rules read.

The interpreter only reports events (a recurrent call with its input, a ``.eval()``, a
``backward()``, a loop entered); the recorder deduplicates them (a helper runs once per call
site signature, a loop body once per pass), keeps the evaluation regions and training loops
open while their code runs, and closes what the run left open.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

import libcst as cst

from rnnshape import torch_api as api
from rnnshape.shapes.facts import (CopyTarget, DeviceFree, EvalRegion, Facts, LayerCall, LayoutUse,
                                   LossCall, ModelCall, ModuleInfo, NumpyCall, PackCall,
                                   RecurrentCall, SeedCall, StateFeedback, StateMisuse, StatePick,
                                   TrainLoop, UnmovedInput, ViewCall)
from rnnshape.shapes.values import InstV, ModV, TensorV, TupleV


class Loop:
    """A loop whose body is running: whether it switches to eval, trains, and switches back."""

    __slots__ = ("node", "evals", "train", "backward", "trains", "scope", "bound", "fed",
                 "detaches")

    def __init__(self, node, scope=None):
        self.node = node
        self.evals: list[tuple] = []
        self.train = False
        self.backward = False
        self.trains = False  # a backward() the run saw (not one assumed in code not followed)
        # RNN107: the scope the loop runs in, the names its body has bound so far in this
        # pass, and the names a model call read before the body bound them (the previous
        # pass's value): name -> (call, value on the first pass, the model's forward)
        self.scope = scope
        self.bound: set[str] = set()
        self.fed: dict[str, tuple] = {}
        self.detaches = False  # ``h.detach_()`` somewhere in the body


class Recorder:
    def __init__(self):
        self.facts = Facts()
        self.loops: list[Loop] = []
        self.regions: list[EvalRegion] = []  # open evaluation regions, innermost last
        self.backward_calls = 0
        self._state_tuples = []
        self._region_sites: dict[int, EvalRegion] = {}
        self._loops_restored: set[int] = set()
        self._train_loops: dict[int, TrainLoop] = {}
        self._numpy: dict[int, NumpyCall] = {}
        self._recurrent: dict[tuple, RecurrentCall] = {}
        self._layers: dict[tuple, LayerCall] = {}
        self._uses: set[tuple] = set()
        self._model_calls: set[tuple] = set()
        self.detach_events = 0
        self.detaching_functions: set[int] = set()  # functions whose run detaches a tensor
        self._fed_back: dict[int, StateFeedback] = {}
        self._moved: dict[int, str] = {}  # id(InstV or ModuleInfo) -> the move's device text
        self._alive: list = []  # values whose ids key the dicts here
        self._device_free: dict[int, DeviceFree] = {}
        self._unmoved: dict[int, UnmovedInput] = {}
        self._reached: set[int] = set()  # CPU tensors (by the node that made them) a layer met
        self._scattering: set[int] = set()  # models wrapped in DataParallel
        self._device_numpy: dict[int, NumpyCall] = {}
        # RNN011: forward function id -> indices of its parameters fed straight into an
        # Embedding or recurrent layer; the copy targets found
        self.direct_inputs: dict[int, set] = {}
        self._copies: dict[int, CopyTarget] = {}

    # -------------------------------------------------------------- the end of a run
    def finish(self) -> Facts:
        facts = self.facts
        facts.eval_regions.extend(self._region_sites.values())
        facts.numpy_calls.extend(self._numpy.values())
        facts.recurrent_calls.extend(self._recurrent.values())
        facts.train_loops.extend(self._train_loops.values())
        facts.layer_calls.extend(self._layers.values())
        facts.state_feedback.extend(self._fed_back.values())
        facts.device_free.extend(self._device_free.values())
        # an argument only the CPU needs (the lengths for packing) is where it should be
        facts.unmoved_inputs.extend(u for u in self._unmoved.values()
                                    if u.loss or id(u.made) in self._reached)
        facts.device_numpy.extend(self._device_numpy.values())
        facts.copy_targets.extend(self._copies.values())
        return facts

    def truncate(self) -> None:
        """The run stopped early: drop the facts that rest on something never happening."""
        self.facts.truncated = True
        # An open evaluation region may have reached its backward() in the part not run.
        for region in self.regions:
            self._region_sites.pop(id(region.eval_node), None)
        self.regions = []
        # torch may be seeded further down.
        if not any(s.qualname in api.TORCH_SEEDS for s in self.facts.seed_calls):
            self.facts.seed_calls = [s for s in self.facts.seed_calls
                                     if s.qualname not in api.OTHER_SEEDS]

    # -------------------------------------------------------------- modes and loops
    def train_mode(self, opened: list) -> None:
        """``x.train()``: the regions this block opened end, and enclosing loops restore."""
        self.close_regions(opened)
        for loop in self.loops:
            loop.train = True

    def eval_mode(self, region: EvalRegion) -> None:
        for loop in self.loops:
            loop.evals.append((region.eval_node, region.receiver))

    def open_region(self, region: EvalRegion, no_grad: bool) -> EvalRegion:
        """The ``.eval()`` statement has run: its region stays open until the block ends."""
        if no_grad:
            self.facts.no_grad_sites.add(id(region.eval_node))
        key = id(region.eval_node)
        region = self._region_sites.setdefault(key, region)
        self.regions.append(region)
        return region

    def close_regions(self, opened: list) -> None:
        for region in opened:
            if region in self.regions:
                self.regions.remove(region)

    def enter_loop(self, node, scope=None) -> Loop:
        loop = Loop(node, scope)
        self.loops.append(loop)
        return loop

    def exit_loop(self, loop: Loop) -> None:
        self.loops.pop()
        if loop.trains and not loop.detaches and loop.scope is not None:
            self._note_fed_back(loop)
        key = id(loop.node)
        if loop.train:
            self._loops_restored.add(key)
            self._train_loops.pop(key, None)
        elif loop.evals and loop.backward and key not in self._loops_restored:
            node, receiver = loop.evals[0]
            self._train_loops.setdefault(key, TrainLoop(loop.node, node, receiver))

    # -------------------------------------------------------------- recurrent state (RNN107)
    def bind(self, name: str, scope) -> None:
        for loop in self.loops:
            if loop.scope is scope:
                loop.bound.add(name)

    def feed(self, name: str, node, value, scope, forward) -> None:
        """A model call reads ``name``: from the previous pass when the body has not bound it."""
        for loop in self.loops:
            if loop.scope is scope and name not in loop.bound:
                loop.fed.setdefault(name, (node, value, forward))

    def detached(self, in_place: bool = False) -> None:
        self.detach_events += 1
        if in_place:
            for loop in self.loops:
                loop.detaches = True

    def _note_fed_back(self, loop: Loop) -> None:
        for name, (node, first, forward) in loop.fed.items():
            if name not in loop.bound or id(node) in self._fed_back:
                continue
            if forward is not None and forward in self.detaching_functions:
                continue  # the model detaches what it is given (or something) itself
            final = loop.scope.vars.get(name)
            pair = isinstance(final, TupleV)
            if not live_state(final):
                continue
            initial = "pair" if isinstance(first, TupleV) and all(
                isinstance(i, TensorV) for i in first.items) else \
                "tensor" if isinstance(first, TensorV) else None
            self._fed_back[id(node)] = StateFeedback(node, loop.node, name, pair, initial)

    # -------------------------------------------------------------- devices (RNN106)
    def moved(self, model, how: str) -> None:
        """``model.to(device)``/``model.cuda()`` to a device that is not provably the CPU."""
        self._alive.append(model)
        self._moved[_model_key(model)] = how
        for cls_node in module_classes(model):
            self.facts.moved_classes.setdefault(cls_node, how)

    def scatters(self, model) -> None:
        """``nn.DataParallel(model)``: calls move their inputs to the model's devices."""
        if isinstance(model, (InstV, ModV)):
            self._alive.append(model)
            self._scattering.add(_model_key(model))

    def scattered(self, model) -> bool:
        return _model_key(model) in self._scattering

    def moves(self) -> set:
        """How the program moves its models (``device``, ``cuda``, ...)."""
        return set(self._moved.values())

    def moved_how(self, model) -> Optional[str]:
        return self._moved.get(_model_key(model)) if isinstance(model, (InstV, ModV)) else None

    def device_free(self, fact: DeviceFree) -> None:
        self._device_free.setdefault(id(fact.node), fact)

    def unmoved_input(self, fact: UnmovedInput) -> None:
        self._unmoved.setdefault(id(fact.node), fact)

    def layer_met(self, made) -> None:
        self._reached.add(id(made))

    def default_device(self) -> None:
        self.facts.default_device = True

    # -------------------------------------------------------------- copy targets (RNN011)
    def direct_input(self, forward: int, index: int) -> None:
        self.direct_inputs.setdefault(forward, set()).add(index)

    def copy_target(self, fact: CopyTarget) -> None:
        self._copies.setdefault(id(fact.node), fact)

    def backward(self, assumed: bool = False) -> None:
        self.backward_calls += 1
        for region in self.regions:
            region.has_backward = True
        for loop in self.loops:
            loop.backward = True
            loop.trains = loop.trains or not assumed

    def model_use(self, node, target, text: str, no_grad: bool, depth: int) -> None:
        """A call of ``target`` (spelled ``text``) while evaluation regions are open."""
        if not may_record_graph(target):
            return  # a model without parameters builds no graph for autograd to keep
        for region in self.regions:
            # Only calls of the model that was switched to eval mode count: another model
            # called in the region is in train mode, which is a different question.
            same = text == region.receiver or (region.model is not None and target is region.model)
            if not same:
                continue
            if no_grad:
                self.facts.no_grad_sites.add(id(region.eval_node))
            elif region.first_call is None:
                region.first_call = node
                region.repeated = depth > region.loop_depth

    # -------------------------------------------------------------- shape facts
    def recurrent(self, call: RecurrentCall) -> None:
        op = call.layout_op
        key = (id(call.node), str(call.shape), id(op.node) if op is not None else None)
        self._recurrent.setdefault(key, call)

    def recurrent_nodes(self, module: ModuleInfo) -> set:
        """Ids of the calls of ``module`` seen so far."""
        return {id(c.node) for c in self._recurrent.values() if c.module is module}

    def layer(self, call: LayerCall) -> None:
        self._layers.setdefault((id(call.node), str(call.shape)), call)

    def layout_use(self, tensor: TensorV, node, kind: str, result):
        """``node`` depends on the recurrent layout of ``tensor``; ``result`` loses it."""
        if kind == "neutral":
            return result
        info, call = tensor.layout_of
        key = (id(node), kind)
        if key not in self._uses:
            self._uses.add(key)
            self.facts.layout_uses.append(LayoutUse(node, info, call, kind, tensor.shape))
        if isinstance(result, TensorV):
            result = replace(result, layout_of=None)
        return result

    def value(self, node, tensor: TensorV) -> None:
        self.facts.value(node, tensor)

    def module(self, info: ModuleInfo) -> None:
        self.facts.modules.append(info)

    def view(self, call: ViewCall) -> None:
        self.facts.view_calls.append(call)

    def pack(self, call: PackCall) -> None:
        self.facts.pack_calls.append(call)

    def loss(self, call: LossCall) -> None:
        self.facts.loss_calls.append(call)

    def pick(self, node, tensor: TensorV, index: Optional[int],
             stop: Optional[int] = None) -> StatePick:
        pick = StatePick(node, tensor.state_of, index, tensor.trace, stop=stop)
        self.facts.state_picks.append(pick)
        return pick

    def state_misuse(self, node, module: ModuleInfo, kind: str, detail: str = "",
                     tuple_key: int = 0) -> None:
        self.facts.state_misuses.append(StateMisuse(node, module, kind, detail, tuple_key))

    def state_tuple_item(self, state, index: int) -> None:
        # the tuple is kept alive so that its id names it for the whole run
        self._state_tuples.append(state)
        self.facts.state_tuple_items.setdefault(id(state), set()).add(index)

    # -------------------------------------------------------------- usage facts
    def numpy(self, node, tensor: TensorV, no_grad: bool) -> None:
        if no_grad:
            self.facts.no_grad_sites.add(id(node))
        if tensor.grad and id(node) not in self._numpy:
            self._numpy[id(node)] = NumpyCall(node, tensor.trace)
        elif tensor.on_device and tensor.grad is False:
            # with grad, RNN102 reports it and its fix adds ``.cpu()`` too
            self._device_numpy.setdefault(id(node), NumpyCall(node, tensor.trace, True))

    def model_call(self, call: ModelCall, signature: tuple) -> None:
        key = (id(call.node), signature)
        if key not in self._model_calls:
            self._model_calls.add(key)
            self.facts.model_calls.append(call)

    def seed(self, call: SeedCall) -> None:
        self.facts.seed_calls.append(call)

    def torch_random(self, in_program: bool) -> None:
        self.facts.uses_torch_random = True
        if in_program:
            self.facts.torch_random_in_program = True

    def imports_torch(self) -> None:
        self.facts.imports_torch = True

    def device_move(self) -> None:
        self.facts.moves_to_device = True

    def no_grad_method(self, name: str) -> None:
        self.facts.no_grad_methods.add(name)


# nn modules without parameters: calling them in eval mode records nothing for autograd.
_PARAMETER_FREE = (api.SHAPE_PRESERVING_MODULES - {"LayerNorm", "PReLU"}) | {
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d", "Flatten", "Unflatten", "Upsample", "CrossEntropyLoss", "MSELoss"}


def may_record_graph(model) -> bool:
    """False only when the model provably has no parameters: a parameter-free nn module, or a
    user nn.Module whose class declares none and whose attributes hold no module that has."""
    if isinstance(model, ModV):
        return model.info.kind not in _PARAMETER_FREE
    if isinstance(model, InstV):
        if not model.cls.is_module:
            return False
        node = model.cls.node
        bases = [_dotted(arg.value) or "" for arg in node.bases]
        if any(b.split(".")[-1] not in ("Module", "LightningModule") for b in bases):
            return True  # a user base class may build parameters we did not see
        if _mentions(node, "Parameter"):
            return True
        return any(v is None or may_record_graph(v) for v in model.attrs.values()
                   if v is None or isinstance(v, (ModV, InstV)))
    return True


def live_state(value) -> bool:
    """A recurrent module's final state (or an LSTM's pair of them) still on the graph."""
    if isinstance(value, TupleV):
        return bool(value.items) and all(live_state(i) for i in value.items)
    return isinstance(value, TensorV) and value.grad is True and value.state_of is not None


def module_classes(model, depth: int = 0) -> set:
    """Ids of the class nodes whose methods run on ``model``: its class, the classes its
    methods come from, and those of the modules it holds."""
    found: set = set()
    if not isinstance(model, InstV) or depth > 4:
        return found
    if model.cls.node is not None:
        found.add(id(model.cls.node))
    for method in model.cls.methods.values():
        if method.owner is not None and method.owner.node is not None:
            found.add(id(method.owner.node))
    for value in model.attrs.values():
        found |= module_classes(value, depth + 1)
    return found


def _dotted(node) -> Optional[str]:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


class _NameFinder(cst.CSTVisitor):
    def __init__(self, word: str):
        self.word = word
        self.found = False

    def visit_Name(self, node: cst.Name) -> bool:
        if node.value == self.word:
            self.found = True
        return False

    def on_visit(self, node) -> bool:
        return not self.found and super().on_visit(node)


def _mentions(node, word: str) -> bool:
    finder = _NameFinder(word)
    node.visit(finder)
    return finder.found


def _model_key(model) -> int:
    """One key for a model however the code holds it: an nn module value shares its info
    with every other value of the same construction."""
    return id(model.info if isinstance(model, ModV) else model)
