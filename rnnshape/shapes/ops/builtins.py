"""Python builtins that carry sizes: ``len``, ``range``, ``enumerate``, ``zip``."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from rnnshape.shapes.dims import Dim, count_role
from rnnshape.shapes.ops.base import OpCall, as_dim
from rnnshape.shapes.values import IntV, ListV, Lit, ModV, Ref, TensorV, TupleV
from rnnshape.torch_api import RECURRENT, RECURRENT_CELLS


def length(call: OpCall):
    if not call.args:
        return None
    arg = call.node.args[0].value
    dim = call.env.length_of(call.first, arg)
    if dim.role is None and isinstance(arg, cst.Name):
        # ``len(vectorized_seqs)`` of a list the tracker counted: still a number of sequences
        role = count_role(arg.value)
        if role:
            dim = dim.with_role(role, f"the number of {arg.value}")
    return IntV(dim, fresh=True)


def range_(call: OpCall):
    """A range is represented by its length; iterating it gives ints of unknown value."""
    args = call.args
    if len(args) == 1:
        return IntV(as_dim(args[0]) or Dim.unknown())
    if len(args) == 2 and as_dim(args[0]) is not None and as_dim(args[1]) is not None:
        return IntV(as_dim(args[1]) - as_dim(args[0]))
    return IntV(Dim.unknown()) if args else None


def enumerate_(call: OpCall):
    if not call.args:
        return None
    elem = call.env.iter_elem(call.first, call.node)
    return ListV(TupleV((IntV(Dim.unknown()), elem)), call.env.length_of(call.first, call.node))


def zip_(call: OpCall):
    elems = tuple(call.env.iter_elem(a, call.node) for a in call.args)
    return ListV(TupleV(elems), Dim.unknown())


def sequence(call: OpCall):
    """``list(xs)``, ``tuple(xs)`` of a known sequence."""
    return call.first if isinstance(call.first, (ListV, TupleV)) else None


def integer(call: OpCall):
    if not call.args:
        return None
    return call.first if isinstance(call.first, IntV) else IntV(Dim.unknown())


def unknown_int(call: OpCall):
    return IntV(Dim.unknown())


def first_item(call: OpCall):
    """``next(iter(loader))``: one element of what is iterated."""
    return call.env.iter_elem(call.first, call.node) if call.args else None


def itself(call: OpCall):
    return call.first


_BASES = {kind: {"RNNBase", "Module"} for kind in RECURRENT}
_BASES.update({kind: {"RNNCellBase", "Module"} for kind in RECURRENT_CELLS})


def _is_instance(value, cls) -> Optional[bool]:
    """``isinstance(value, cls)`` for one class, when the value's type is certain."""
    if not isinstance(cls, Ref):
        return None
    name = cls.qualname
    if isinstance(value, ModV) and value.info.kind in _BASES and name.startswith("torch.nn."):
        short = name.rpartition(".")[2]
        if short == value.info.kind or short in _BASES[value.info.kind]:
            return True
        # Only another recurrent class is certainly not a base of it.
        return False if short in _BASES else None
    if isinstance(value, TupleV) and name in ("tuple", "torch.Tensor"):
        return name == "tuple"
    if isinstance(value, TensorV) and name in ("tuple", "list", "torch.Tensor"):
        return name == "torch.Tensor"
    return None


def isinstance_(call: OpCall):
    """Certain for recurrent modules and tensors vs tuples: ``if isinstance(self.rnn, nn.LSTM)``
    and ``if isinstance(hidden, tuple)`` then run only the branch the value takes."""
    if len(call.args) != 2:
        return None
    classes = call.args[1].items if isinstance(call.args[1], TupleV) else (call.args[1],)
    answers = [_is_instance(call.first, cls) for cls in classes]
    if True in answers:
        return Lit(True)
    return Lit(False) if answers and all(a is False for a in answers) else None


FUNCTIONS = {"isinstance": isinstance_, "next": first_item, "iter": itself, "len": length, "range": range_, "enumerate": enumerate_, "zip": zip_,
             "list": sequence, "tuple": sequence, "sorted": sequence, "reversed": sequence, "int": integer, "ord": unknown_int}
# Names of builtins the interpreter resolves even though nothing in the file binds them.
NAMES = {"len", "range", "enumerate", "zip", "list", "tuple", "int", "ord", "max", "min", "sum",
         "iter", "next", "dict", "vars",
         "abs", "round", "float", "str", "print", "isinstance", "sorted", "reversed", "super"}
