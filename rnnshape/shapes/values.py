"""The abstract values the tracker computes.  ``None`` everywhere means unknown."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Optional

import libcst as cst

from rnnshape.shapes.dims import Dim, Shape
from rnnshape.shapes.facts import LayoutOp, ModuleInfo, Step

TRACE_LIMIT = 10


@dataclass(frozen=True)
class Ref:
    """A name imported from a library: ``torch.nn.LSTM``."""

    qualname: str


@dataclass(frozen=True)
class IntV:
    dim: Dim
    fresh: bool = False  # minted by this expression, so an assignment may name it


@dataclass(frozen=True)
class Lit:
    value: Any


@dataclass(frozen=True)
class TupleV:
    items: tuple
    # ``[3, 4]`` indexes rows where ``(3, 4)`` indexes two axes, so the literal's kind is kept.
    is_list: bool = False


@dataclass(frozen=True)
class StateTupleV(TupleV):
    """An LSTM's ``(h_n, c_n)``: a tuple where code sometimes expects a tensor."""

    module: Optional[ModuleInfo] = None


@dataclass(frozen=True)
class ListV:
    """A list whose elements all look like ``elem``; ``length`` when known."""

    elem: Any
    length: Dim


@dataclass(frozen=True)
class TensorV:
    shape: Shape
    trace: tuple[Step, ...] = ()
    layout_op: Optional[LayoutOp] = None
    rnn_src: Optional[ModuleInfo] = None  # derived from this recurrent module's output
    # Dims 0 and 1 are in the layout of this recurrent call's output: (ModuleInfo, call node).
    layout_of: Optional[tuple] = None
    grad: Optional[bool] = False  # may require grad (None: cannot tell)
    contiguous: bool = True
    numpy: bool = False
    integer: bool = False
    state_of: Optional[ModuleInfo] = None  # h_n/c_n of this module (or picked from it)
    pick: Optional[object] = None  # the StatePick fact that produced it, if any
    on_device: bool = False  # moved with .cuda()/.to(device) and not back with .cpu()
    # Made on the CPU by a constructor without ``device=`` (or collated from such tensors):
    # (the node that made it, id of the module class whose method made it or None, a tensor
    # parameter of that method)
    cpu_made: Optional[tuple] = None

    def step(self, node: cst.CSTNode, shape: Shape, note: str = "", **changes) -> "TensorV":
        return replace(self, shape=shape, trace=clipped(self.trace + (Step(node, shape, note),)),
                       **changes)


def off_cpu(value):
    """What a layer with parameters computes lives where its parameters do."""
    if isinstance(value, TensorV) and value.cpu_made is not None:
        return replace(value, cpu_made=None)
    if isinstance(value, TupleV) and any(isinstance(v, TensorV) and v.cpu_made is not None
                                         for v in value.items):
        return type(value)(tuple(off_cpu(v) for v in value.items), value.is_list)
    return value


def clipped(trace: tuple) -> tuple:
    """The last steps of a trace, and the statements that gave its dims their meaning (a step
    without a shape: a docstring, a shape unpacking), which a finding must show."""
    if len(trace) <= TRACE_LIMIT:
        return trace
    said = [s for s in trace[:-TRACE_LIMIT] if s.shape is None and s.note][:2]
    return tuple(said) + trace[len(trace) - TRACE_LIMIT + len(said):]


@dataclass(frozen=True)
class SizesV:
    """``x.shape`` of a tensor of unknown rank with a name (``Shape.symbolic``): indexing it
    or unpacking it into ``n`` names reads dims that stay the same symbol on every read."""

    shape: Shape

    def item(self, index: int) -> "Optional[IntV]":
        dim = self.shape.at(index)
        return IntV(dim) if dim is not None else None

    def unpacked(self, count: int) -> list:
        shape = self.shape.with_rank(count)
        return [IntV(d) for d in shape.dims] if shape is not None else [None] * count


@dataclass
class ModV:
    info: ModuleInfo


@dataclass
class ClassV:
    node: Optional[cst.ClassDef]  # None for a class made by a call (``namedtuple(...)``)
    env: dict  # the scope it was defined in
    is_module: bool
    methods: dict = field(default_factory=dict)
    class_attrs: dict = field(default_factory=dict)
    # A record class (dataclass, NamedTuple, namedtuple) without its own __init__: the
    # constructor binds these names, in order, falling back to the class's defaults.
    fields: Optional[tuple] = None


@dataclass
class InstV:
    cls: ClassV
    attrs: dict = field(default_factory=dict)
    label: str = ""
    ctor: Optional[cst.Call] = None  # where it was built, so verify can build it again
    ctor_args: tuple = ()
    ctor_kwargs: dict = field(default_factory=dict)


@dataclass
class FuncV:
    node: cst.FunctionDef
    env: dict
    owner: Optional[ClassV] = None


@dataclass(frozen=True)
class SuperV:
    """``super()`` in a method of ``cls`` bound to ``inst``."""

    inst: "InstV"
    cls: "ClassV"


@dataclass(frozen=True)
class BoundV:
    inst: InstV
    func: FuncV


@dataclass(frozen=True)
class DatasetV:
    items: tuple  # per-sample values


@dataclass(frozen=True)
class LoaderV:
    """A DataLoader: one sample of its dataset (None: unknown) and the batch size; or, with a
    ``collate_fn``, the batch that function makes (``collated``)."""

    sample: Any
    batch: Dim
    collated: Any = None
    custom: bool = False  # a collate_fn or batch_sampler decides what a batch is


@dataclass(frozen=True)
class MappingV:
    """A dict built by a comprehension (``{ch: i for i, ch in enumerate(chars)}``): any key
    gives ``value``."""

    key: Any
    value: Any


@dataclass(frozen=True)
class DictV:
    """A dict with string keys written in the code (a config, a batch of named tensors)."""

    items: tuple  # ((key, value), ...)

    def get(self, key, default=None):
        return next((v for k, v in self.items if k == key), default)


@dataclass(frozen=True)
class PackedV:
    """A PackedSequence: no shape of its own, but it remembers feature, batch and time sizes."""

    last: Optional[Dim]
    rnn_src: Optional[ModuleInfo] = None
    batch: Optional[Dim] = None
    time: Optional[Dim] = None
    # the layout it was packed from (``pack_padded_sequence``'s batch_first); None: unknown
    batch_first: Optional[bool] = None
    pack: Any = None  # the PackCall fact that made it


@dataclass
class ModuleV:
    """A module of the project, imported: its names as its top level bound them."""

    unit: Any  # syntax.Unit
    scope: Any  # interp.scope.Scope


@dataclass(frozen=True)
class LazyV:
    """A name bound by an import of a local module that has not been read yet: ``path`` is
    the module's file, ``name`` the name taken from it (None: the module itself)."""

    path: str
    name: Optional[str] = None


@dataclass
class ParserV:
    """An ``argparse.ArgumentParser`` and the options added to it: dest -> whether it holds a
    whole number (an ``int`` type or default)."""

    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class NamespaceV:
    """What ``parse_args()`` returns.  A whole-number option is a size the user chooses on
    the command line: a symbol named after it, never its default."""

    options: tuple  # ((dest, whole number?), ...)

    def get(self, name: str):
        for dest, whole in self.options:
            if dest == name:
                return IntV(Dim.sym(dest)) if whole else None
        return None


def same_value(a, b) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, TensorV):
        return a.shape == b.shape and a.rnn_src is b.rnn_src
    if isinstance(a, (IntV, Lit, Ref, TupleV, ListV, DatasetV, LoaderV, DictV, MappingV)):
        return a == b
    return False
