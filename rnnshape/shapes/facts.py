"""What the tracker records for the rules.  Rules read these; they never walk the tree."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import libcst as cst

from rnnshape.shapes.dims import Dim, Shape


MAX_VALUES = 3  # distinct shapes kept per expression when values are recorded


@dataclass(frozen=True)
class Step:
    """One link of a shape trace: the expression, and the shape it produced."""

    node: cst.CSTNode
    shape: Optional[Shape]
    note: str = ""


@dataclass
class ModuleInfo:
    """An ``nn.*`` module construction and its configuration (dims, bools, floats, or None)."""

    kind: str
    cfg: dict[str, Any]
    node: Optional[cst.Call]
    label: str = ""  # how the code names it: ``self.lstm``
    # A container's modules in order (None: the code does not show them), and by name.
    children: Optional[tuple] = None
    names: Optional[tuple] = None
    # A ModuleList built by a comprehension: how many is unknown, but each child is this one.
    each: Any = None

    def dim(self, key: str) -> Dim:
        value = self.cfg.get(key)
        return value if isinstance(value, Dim) else Dim.unknown()

    def flag(self, key: str) -> Optional[bool]:
        value = self.cfg.get(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, Dim) and value.value is not None:
            return bool(value.value)
        return None

    @property
    def directions(self) -> Optional[int]:
        bidir = self.flag("bidirectional")
        return None if bidir is None else (2 if bidir else 1)

    @property
    def out_size(self) -> Dim:
        """Last dim of the recurrent output: ``hidden`` (or ``proj_size``) times directions."""
        size = self.dim("hidden_size")
        proj = self.cfg.get("proj_size")
        if self.kind == "LSTM" and isinstance(proj, Dim):
            if proj.value is None:
                return Dim.unknown()
            if proj.value > 0:
                size = proj
        dirs = self.directions
        if dirs is None:
            return Dim.unknown()
        return (size * Dim.const(dirs)).with_role("feature")

    def signature(self) -> str:
        keys = {"LSTM": ("input_size", "hidden_size", "batch_first", "bidirectional"),
                "Linear": ("in_features", "out_features")}.get(self.kind)
        if keys is None:
            keys = ("input_size", "hidden_size", "batch_first", "bidirectional")
        parts = []
        for key in keys:
            if key not in self.cfg:
                continue
            value = self.cfg[key]
            if isinstance(value, bool) and key == "bidirectional" and not value:
                continue
            parts.append(f"{key}={value}")
        return f"{self.kind}({', '.join(parts)})"


@dataclass
class LayoutOp:
    node: cst.Call
    before: Shape
    after: Shape
    perm: tuple[int, ...]  # after[i] = before[perm[i]]
    receiver: cst.BaseExpression


@dataclass
class RecurrentCall:
    node: cst.Call
    module: ModuleInfo
    shape: Shape
    trace: tuple[Step, ...]
    layout_op: Optional[LayoutOp]
    hx: Any = None  # the initial state passed in (TensorV, or TupleV of two for an LSTM)
    batch: Optional[Dim] = None  # for packed input, where the shape does not say
    # False in code nobody in the project calls: its output goes to callers nobody can see,
    # so a fix that changes the output's layout is never safe there.
    callers_known: bool = True


@dataclass
class LayerCall:
    """A Linear fed by (something derived from) a recurrent module's output."""

    node: cst.Call
    layer: ModuleInfo
    source: ModuleInfo
    shape: Shape
    trace: tuple[Step, ...]


@dataclass
class LayoutUse:
    """An operation that depends on which of dims 0/1 of a recurrent output is batch.

    ``kind`` is ``index``, ``permute``, ``transpose``, ``flatten`` (view/reshape/flatten),
    ``size`` (``.size(0)``/``.shape``), or ``other`` (anything we cannot rewrite).
    """

    node: cst.CSTNode
    module: ModuleInfo
    call: cst.Call  # the recurrent call that produced the layout
    kind: str
    shape: Shape


@dataclass
class ModelCall:
    """A model (user nn.Module instance or nn module) called from outside any model's code."""

    node: cst.Call
    callee: Any  # InstV or ModV
    args: tuple
    kwargs: dict
    in_loop_of_eval: bool = False


@dataclass
class LossCall:
    node: cst.Call
    loss: ModuleInfo
    input: Any
    target: Any


@dataclass
class StatePick:
    """``h_n[-1]``, ``h_n[0]`` or ``h_n.squeeze(0)``: one slice of a final hidden state; or
    ``h_n[:n]``, its first rows."""

    node: cst.CSTNode
    module: ModuleInfo
    index: Optional[int]
    trace: tuple = ()
    combined: bool = False  # concatenated with another pick, as the bidirectional idiom does
    consumer: Optional[ModuleInfo] = None  # the Linear it feeds, when the tracker saw one
    stop: Optional[int] = None  # ``h_n[:stop]``: the first ``stop`` rows (index is then None)
    initial_of: Optional[ModuleInfo] = None  # the recurrent module it starts, as h0


@dataclass
class StateMisuse:
    """A GRU/RNN state unpacked as ``(h, c)``, or an LSTM's ``(h, c)`` tuple used as a tensor."""

    node: cst.CSTNode
    module: ModuleInfo
    kind: str  # "unpack" | "tuple-as-tensor"
    detail: str = ""
    tuple_key: int = 0  # tuple-as-tensor: which (h_n, c_n) tuple (see Facts.state_tuple_items)


@dataclass
class ViewCall:
    """``.view`` on a tensor whose memory order no longer matches its dims."""

    node: cst.Call
    before: Shape
    after: Shape
    trace: tuple = ()


@dataclass
class PackCall:
    node: cst.Call
    kind: str  # "pack" | "pad"
    batch_first: Optional[bool]
    data: Any = None  # pack: the padded tensor; pad: the PackedV
    lengths: Any = None
    module: Optional[ModuleInfo] = None  # pad: the module that produced the packed output
    explicit: bool = False  # batch_first written in the call, not left to its default
    # pack: the module that read the packed sequence, and the batch_first the code later
    # unpacked it with (when written): what the code says about the data's layout
    consumer: Optional[ModuleInfo] = None
    unpacked_with: Optional[bool] = None


@dataclass
class TrainLoop:
    """A loop that calls ``.eval()`` and trains, with no ``.train()`` anywhere in it."""

    loop: cst.CSTNode
    eval_node: cst.Call
    receiver: str


@dataclass
class EvalRegion:
    eval_node: cst.Call
    receiver: str
    has_backward: bool = False
    first_call: Optional[cst.Call] = None  # first model call outside no_grad
    function: Optional[str] = None  # the function the region is in
    model: Any = None  # the tracker's value for the receiver, when it has one
    loop_depth: int = 0
    repeated: bool = False  # the first call runs in a loop or comprehension inside the region
    standalone: bool = False  # found in code nothing in the file calls


@dataclass
class NumpyCall:
    node: cst.Call
    trace: tuple[Step, ...]
    device_moves: bool = False


@dataclass
class DeviceFree:
    """RNN106: a tensor made on the CPU (no ``device=``) in a module's method and fed to one of
    its layers; ``owner``: id of the module class whose code made it."""

    node: cst.Call  # the construction
    owner: int
    use: cst.CSTNode  # the layer call it reaches
    source: Optional[str] = None  # a tensor parameter of the method, to take the device from
    method: str = ""


@dataclass
class UnmovedInput:
    """RNN106: a tensor made on the CPU passed to a model the program moved to a device."""

    node: cst.Call  # the model call
    arg: cst.CSTNode  # the argument
    made: cst.CSTNode  # where the tensor was made
    model: str  # how the call names the model
    move: Optional[str]  # the device expression of ``.to(...)``; None for ``.cuda()``
    pair: bool = False  # the argument is a tuple (an LSTM's state): no ``.to()`` of its own
    loss: bool = False  # a loss target beside the moved model's output, not a model input


@dataclass
class StateFeedback:
    """RNN107: a recurrent state that a training loop feeds back into the model undetached."""

    node: cst.Call  # the model call reading the state
    loop: cst.CSTNode
    name: str
    pair: bool  # an LSTM's (h, c) tuple
    initial: Optional[str] = None  # what the name holds on the first pass: tensor | pair | None


@dataclass
class CopyTarget:
    """RNN011: a loss whose target holds the same positions as the model's input."""

    node: cst.Call  # the loss call
    target: cst.CSTNode
    model_call: cst.Call
    arg: cst.CSTNode
    module: Optional[ModuleInfo] = None


@dataclass
class SeedCall:
    qualname: str
    node: cst.Call
    stmt: Optional[cst.SimpleStatementLine]
    seed: Optional[str]
    function: Optional[str] = None  # the function it is in; None at module level


@dataclass
class Facts:
    recurrent_calls: list[RecurrentCall] = field(default_factory=list)
    layer_calls: list[LayerCall] = field(default_factory=list)
    eval_regions: list[EvalRegion] = field(default_factory=list)
    numpy_calls: list[NumpyCall] = field(default_factory=list)
    layout_uses: list[LayoutUse] = field(default_factory=list)
    modules: list[ModuleInfo] = field(default_factory=list)  # every nn.* construction
    state_picks: list[StatePick] = field(default_factory=list)
    state_misuses: list[StateMisuse] = field(default_factory=list)
    # tuple_key -> the indices the code takes from that LSTM (h_n, c_n) tuple
    state_tuple_items: dict[int, set] = field(default_factory=dict)
    view_calls: list[ViewCall] = field(default_factory=list)
    pack_calls: list[PackCall] = field(default_factory=list)
    train_loops: list[TrainLoop] = field(default_factory=list)
    model_calls: list[ModelCall] = field(default_factory=list)
    loss_calls: list[LossCall] = field(default_factory=list)
    seed_calls: list[SeedCall] = field(default_factory=list)
    imports_torch: bool = False
    # Builds nn modules or draws from torch's generator: only then does seeding torch matter.
    uses_torch_random: bool = False
    torch_random_in_program: bool = False  # ... in code the file itself runs or calls
    no_grad_methods: set[str] = field(default_factory=set)
    moves_to_device: bool = False
    # RNN106: module classes whose instances the program moves to a device (id of the class
    # node -> how), tensors made on the CPU, ``.numpy()`` on device tensors
    moved_classes: dict[int, str] = field(default_factory=dict)
    device_free: list[DeviceFree] = field(default_factory=list)
    unmoved_inputs: list[UnmovedInput] = field(default_factory=list)
    device_numpy: list[NumpyCall] = field(default_factory=list)
    default_device: bool = False  # torch.set_default_device(...): constructors follow it
    state_feedback: list[StateFeedback] = field(default_factory=list)
    copy_targets: list[CopyTarget] = field(default_factory=list)
    # Sites seen at least once under no_grad: a finding there is not proven.
    no_grad_sites: set[int] = field(default_factory=set)
    # The tracker stopped early (step budget, deep recursion): what it never reached is
    # missing, so facts about something *not* happening have been dropped.
    truncated: bool = False
    # Only when the run was asked to record them (the language server's hovers): id(node) ->
    # (node, the distinct tensor values the expression had, last seen last).
    values: dict[int, tuple] = field(default_factory=dict)

    def merge(self, other: "Facts") -> None:
        """Add another run's facts (of the same file's importers) to these."""
        for name, value in vars(other).items():
            mine = getattr(self, name)
            if name == "values":
                for node, tensors in value.values():
                    for tensor in tensors:
                        self.value(node, tensor)
            elif isinstance(value, list):
                mine.extend(value)
            elif isinstance(value, set):
                mine |= value
            elif isinstance(value, bool):
                setattr(self, name, mine or value)
            elif isinstance(value, dict):
                mine.update(value)

    def value(self, node, tensor) -> None:
        """What an expression evaluated to (only in runs that record values).  One expression
        may run in several contexts (a helper called with different shapes, a file's code
        called from its importers): each distinct shape is kept, a few at most, the last seen
        last."""
        _, seen = self.values.setdefault(id(node), (node, []))
        shape = str(tensor.shape)
        seen[:] = [t for t in seen if str(t.shape) != shape][-(MAX_VALUES - 1):] + [tensor]
