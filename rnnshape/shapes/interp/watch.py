"""What the interpreter watches for three usage rules: where tensors live (RNN106: made on
the CPU, models moved to a device), which names a training loop feeds back to its model
(RNN107), and which token positions a loss target holds (RNN011)."""
from __future__ import annotations

from dataclasses import replace

import libcst as cst

from rnnshape import torch_api as api
from rnnshape.shapes.facts import CopyTarget, DeviceFree, UnmovedInput
from rnnshape.shapes.interp.modules import CONTAINERS
from rnnshape.shapes.interp.scope import Frame
from rnnshape.shapes.recorder import may_record_graph
from rnnshape.shapes.values import InstV, ListV, Lit, ModV, Ref, StateTupleV, TensorV, TupleV
from rnnshape.syntax import argument

# Tensors these make live on the CPU unless given ``device=``.
CPU_CONSTRUCTORS = frozenset({"zeros", "ones", "empty", "randn", "rand", "full", "randint",
                              "tensor", "as_tensor", "from_numpy", "arange", "linspace", "eye",
                              "Tensor", "FloatTensor", "LongTensor", "DoubleTensor", "IntTensor",
                              "BoolTensor"})
DEFAULT_DEVICE = frozenset({"torch.set_default_device", "torch.set_default_tensor_type"})
# Wrappers that move a call's inputs to the model's device themselves.
SCATTERING = frozenset({"torch.nn.DataParallel", "torch.nn.parallel.DataParallel",
                        "torch.nn.parallel.DistributedDataParallel"})
# Methods that keep which token positions a tensor holds (RNN011).
_SAME_POSITIONS = frozenset({"view", "reshape", "contiguous", "flatten", "long", "to", "cuda",
                             "cpu", "detach", "squeeze", "type", "int"})


class Watch:
    """The watching half of the interpreter's calls (see ``Interpreter``)."""

    def made_where(self, node, frame: Frame) -> tuple:
        """``cpu_made`` for a tensor made at ``node``: in which module class's method (not its
        ``__init__``, whose tensors become attributes), and a tensor parameter of that method."""
        func = frame.func
        owner = func.owner if func is not None else None
        if owner is None or not owner.is_module or owner.node is None or \
                func.node.name.value == "__init__":
            return (node, None, None, "")
        source = next((p.name.value for p in func.node.params.params[1:]
                       if isinstance(frame.scope.vars.get(p.name.value), TensorV)), None)
        return (node, id(owner.node), source, func.node.name.value)

    # -------------------------------------------------------------- devices (RNN106)
    def note_move(self, model, method: str, args, node) -> None:
        """``model.to(device)``/``model.cuda()``: the model moves unless the target is the CPU
        (or only a dtype)."""
        if method == "cuda":
            self.recorder.moved(model, "cuda")
            return
        if method != "to" or not node.args:
            return
        target = args[0] if args else None
        first = node.args[0]
        if first.keyword is not None and first.keyword.value != "device":
            return
        if isinstance(target, Lit) and isinstance(target.value, str) and \
                target.value.startswith("cpu"):
            return
        if isinstance(target, Ref) and target.qualname.rpartition(".")[2] in api.DTYPES:
            return
        self.recorder.moved(model, self.code(first.value))

    def note_layer_inputs(self, info, args, kwargs, node, frame: Frame) -> None:
        """A layer called in a module's method: tensors that method made on the CPU (RNN106),
        and the method's own tensor parameters fed straight in (RNN011)."""
        x = args[0] if args else kwargs.get("input")
        values = [x]
        if info.kind in api.RECURRENT or info.kind in api.RECURRENT_CELLS:
            hx = args[1] if len(args) > 1 else kwargs.get("hx")
            values.extend(hx.items if isinstance(hx, TupleV) else [hx])
        for value in values if may_record_graph(ModV(info)) else ():
            made = value.cpu_made if isinstance(value, TensorV) else None
            if made is not None and made[1] is not None:
                self.recorder.device_free(DeviceFree(made[0], made[1], node, made[2], made[3]))
            elif made is not None:
                self.recorder.layer_met(made[0])
        if info.kind not in api.RECURRENT and info.kind != "Embedding":
            return
        entry = self.forward_params.get(id(frame.scope))
        if entry is not None and entry[0] is frame.scope and isinstance(x, TensorV):
            for index, param in entry[2]:
                if param is x:
                    self.recorder.direct_input(entry[1], index)

    def note_unmoved(self, callee, args, node) -> None:
        """RNN106: a tensor made on the CPU outside any model, fed to a model moved away."""
        how = self.recorder.moved_how(callee)
        if how is None or self.recorder.scattered(callee):
            return
        positional = [a for a in node.args if a.keyword is None and not a.star]
        for arg, value in zip(positional, args):
            # a tensor, or the first CPU-made one of an LSTM's ``(h0, c0)``
            items = value.items if isinstance(value, TupleV) else (value,)
            made = next((v.cpu_made for v in items if isinstance(v, TensorV) and
                         v.cpu_made is not None and v.cpu_made[1] is None), None)
            if made is not None:
                model = self.code(node.func)
                move = None if how == "cuda" else how
                self.recorder.unmoved_input(UnmovedInput(node, arg.value, made[0], model, move,
                                                         isinstance(value, TupleV)))
                return

    def note_loss_device(self, loss) -> None:
        """RNN106: a loss on a moved model's output, with a target made on the CPU."""
        target = loss.target
        made = target.cpu_made if isinstance(target, TensorV) else None
        if made is None or made[1] is not None or not isinstance(loss.input, TensorV) or \
                not loss.input.on_device:
            return
        target_node = argument(loss.node, 1, "target")
        moves = self.recorder.moves()
        if target_node is None or len(moves) != 1:
            return
        how = moves.pop()
        self.recorder.unmoved_input(UnmovedInput(
            loss.node, target_node, made[0], self.code(loss.node.func),
            None if how == "cuda" else how, loss=True))

    # -------------------------------------------------------------- recurrent state (RNN107)
    def note_state_reads(self, callee, node, frame: Frame) -> None:
        """Names a model call reads: a training loop may feed a state back through them."""
        if not self.recorder.loops:
            return
        if isinstance(callee, ModV) and callee.info.kind not in api.RECURRENT:
            return
        if isinstance(callee, InstV) and not callee.cls.is_module:
            return
        forward = callee.cls.methods.get("forward") if isinstance(callee, InstV) else None
        for arg in node.args:
            if isinstance(arg.value, cst.Name) and not arg.star:
                name = arg.value.value
                self.recorder.feed(name, node, frame.scope.vars.get(name), frame.scope,
                                   id(forward.node) if forward is not None else None)

    # -------------------------------------------------------------- copy targets (RNN011)
    def note_model_inputs(self, callee: InstV, node, frame: Frame) -> None:
        forward = callee.cls.methods.get("forward")
        if forward is None:
            return
        self._current_scope = frame.scope
        keys = []
        positional = [a for a in node.args if a.keyword is None and not a.star]
        for index, arg in enumerate(positional):
            key = self.position_key(arg.value)
            if key is not None:
                keys.append((index, arg.value, key))
        if keys:
            self.model_inputs.append((node, callee, id(forward.node), keys))

    def position_key(self, node):
        """What token positions an expression holds: the value it indexes (an object the
        run keeps) and the indexing, through methods that keep the positions."""
        slices = []
        while True:
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and \
                    node.func.attr.value in _SAME_POSITIONS:
                node = node.func.value
            elif isinstance(node, cst.Subscript):
                slices.append(tuple("".join(self.code(e).split()) for e in node.slice))
                node = node.value
            else:
                break
        if not isinstance(node, (cst.Name, cst.Attribute)):
            return None
        root = self.eval_quiet(node)
        if not isinstance(root, (TensorV, TupleV, ListV)):
            return None
        return root, tuple(slices)

    def note_loss_target(self, loss, frame: Frame) -> None:
        """RNN011: the loss's target holds the positions a recurrent model was just fed."""
        if loss.loss.kind not in ("CrossEntropyLoss", "NLLLoss") or not self.model_inputs:
            return
        target_node = argument(loss.node, 1, "target")
        if target_node is None:
            return
        self._current_scope = frame.scope
        key = self.position_key(target_node)
        if key is None or not isinstance(loss.input, TensorV):
            return
        steps = {id(step.node) for step in loss.input.trace}
        for call, callee, forward, keys in reversed(self.model_inputs):
            rnn = one_recurrent(callee)
            if rnn is None or rnn.flag("bidirectional") is not False:
                continue
            # the loss is on this model's output step by step: its trace passes the recurrent
            # call's output (not only its final state, which an autoencoder decodes)
            if not steps & self.recorder.recurrent_nodes(rnn):
                continue
            direct = self.recorder.direct_inputs.get(forward, set())
            for index, arg, (root, slices) in keys:
                if root is key[0] and slices == key[1] and index in direct:
                    self.recorder.copy_target(CopyTarget(loss.node, target_node, call, arg, rnn))
            return


def on_gpu(how: str) -> bool:
    """A move whose target the code spells as a GPU or a device variable."""
    return "cpu" not in how and ("cuda" in how or "device" in how or "gpu" in how)


def on_device(value):
    if isinstance(value, TensorV):
        return replace(value, on_device=True)
    if isinstance(value, TupleV) and not isinstance(value, StateTupleV):
        return TupleV(tuple(on_device(v) for v in value.items), value.is_list)
    return value


def one_recurrent(model: InstV):
    """The model's recurrent module when it holds exactly one (None: none, several, or
    modules the run does not know)."""
    found = recurrent_modules(model)
    return found[0] if found is not None and len(found) == 1 else None


def recurrent_modules(model: InstV, depth: int = 0):
    """The recurrent modules a model holds, through its submodules; None when some
    attribute is unknown (it may be one)."""
    found = []
    for value in model.attrs.values():
        if value is None:
            return None
        if isinstance(value, ModV):
            if value.info.kind in api.RECURRENT or value.info.kind in api.RECURRENT_CELLS:
                found.append(value.info)
            elif value.info.children is not None:
                if any(c is None for c in value.info.children):
                    return None
                for child in value.info.children:
                    inner = [child.info] if isinstance(child, ModV) and (
                        child.info.kind in api.RECURRENT or
                        child.info.kind in api.RECURRENT_CELLS) else \
                        recurrent_modules(child, depth + 1) if isinstance(child, InstV) else []
                    if inner is None:
                        return None
                    found.extend(inner)
            elif value.info.kind in CONTAINERS:
                return None
        elif isinstance(value, InstV) and value.cls.is_module:
            inner = recurrent_modules(value, depth + 1) if depth < 4 else None
            if inner is None:
                return None
            found.extend(inner)
    return found
