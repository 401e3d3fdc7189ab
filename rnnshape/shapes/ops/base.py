"""What a shape function receives, and the small readers of argument values they share."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol

import libcst as cst

from rnnshape.shapes.dims import Dim
from rnnshape.shapes.recorder import Recorder
from rnnshape.shapes.values import IntV, Lit, Ref, TupleV


class Env(Protocol):
    """The interpreter, as far as a shape function may see it."""

    recorder: Recorder
    standalone: bool  # running code nobody calls, with unknown arguments

    def code(self, node: cst.CSTNode) -> str: ...

    def length_of(self, value, node) -> Dim: ...

    def iter_elem(self, value, node): ...

    def sample_of(self, dataset, node): ...

    def call_back(self, callee, args: list, node): ...


@dataclass
class OpCall:
    """One call of a library function, tensor method or nn module, with evaluated arguments.

    ``receiver`` is the tensor a method is called on (for ``torch.permute(x, ...)`` the first
    argument, with ``args`` the rest), ``receiver_node`` the expression that gave it."""

    node: cst.Call
    args: list
    kwargs: dict
    env: Env
    qualname: str = ""
    receiver: Any = None
    receiver_node: Optional[cst.BaseExpression] = None
    no_grad: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def recorder(self) -> Recorder:
        return self.env.recorder

    @property
    def numpy(self) -> bool:
        """Called through numpy: results are arrays (``.T`` reverses all axes, and so on)."""
        return self.qualname.startswith("numpy")

    @property
    def first(self):
        return self.args[0] if self.args else None

    def arg(self, index: int, name: str, default=None):
        """A positional-or-keyword argument's value."""
        if len(self.args) > index:
            return self.args[index]
        return self.kwargs.get(name, default)

    def keyword_text(self, name: str) -> Optional[str]:
        for arg in self.node.args:
            if arg.keyword is not None and arg.keyword.value == name:
                return self.env.code(arg.value)
        return None


ShapeFn = Callable[[OpCall], Any]


def as_dim(value) -> Optional[Dim]:
    return value.dim if isinstance(value, IntV) else None


def int_of(value) -> Optional[int]:
    dim = as_dim(value)
    return dim.value if dim is not None else None


def axis_arg(args, kwargs, index=0, names=("dim", "axis")) -> Optional[int]:
    value = args[index] if len(args) > index else None
    if value is None:
        for name in names:
            if name in kwargs:
                value = kwargs[name]
    return int_of(value)


def bool_arg(args, kwargs, index: int, name: str, default: bool) -> Optional[bool]:
    value = args[index] if len(args) > index else kwargs.get(name, Lit(default))
    if isinstance(value, Lit) and isinstance(value.value, bool):
        return value.value
    return None


def sizes_from_args(args) -> Optional[list[Dim]]:
    """``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros([2, 3])``, ``zeros(x.shape)``."""
    if len(args) == 1 and isinstance(args[0], TupleV):
        args = list(args[0].items)
    dims = []
    for value in args:
        dim = as_dim(value)
        if dim is None:
            if isinstance(value, TupleV):
                return None
            dims.append(Dim.unknown())
        else:
            dims.append(dim)
    return dims


def product(dims) -> Dim:
    out = Dim.const(1)
    for d in dims:
        out = out * d
    return out


def dtype_is_integer(dtype) -> Optional[bool]:
    """``dtype=torch.long`` -> True, ``torch.float32``/``torch.bool`` -> False, else None."""
    if not isinstance(dtype, Ref):
        return None
    name = dtype.qualname.rpartition(".")[2]
    return name in ("long", "int", "int64", "int32", "int16", "int8", "short")


def or_grad(a, b):
    """Whether a result of two operands may require grad (None: cannot tell)."""
    if a or b:
        return True
    if a is None or b is None:
        return None
    return False
