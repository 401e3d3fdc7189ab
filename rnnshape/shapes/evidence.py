"""What the code says about its own dims: shape comments and docstrings, annotations, shape
unpacking and size reads, and the names it gives them.

A parameter nobody calls with a known tensor (a library's ``forward(self, x)``) becomes a
tensor whose dims are named by this evidence: ``bs, seq_len, d = x.shape`` makes ``x``
``(bs[batch], seq_len[time], d[feature])``.  Each role keeps how it was learnt, for the trace.
Evidence that disagrees with itself (two names of different meanings for one dim, two ranks)
gives that dim no meaning: only statements that agree count.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Optional

import libcst as cst

from rnnshape.shapes.dims import BATCH, FEATURE, TIME, Dim, Shape, role_from_name
from rnnshape.shapes.facts import Step
from rnnshape.shapes.values import TensorV
from rnnshape.syntax import int_value, walk

# Short names that mean a role where the code writes shapes (a comment, an annotation, a
# shape unpacking) -- not as variable names elsewhere, where ``L`` may be a loss.
_SHAPE_LETTERS = {
    "b": BATCH, "n": BATCH, "bs": BATCH, "bsz": BATCH, "batch": BATCH, "nb": BATCH,
    "t": TIME, "l": TIME, "s": TIME, "seq": TIME, "len": TIME, "q_len": TIME, "n_steps": TIME,
    "c": FEATURE, "h": FEATURE, "d": FEATURE, "e": FEATURE, "f": FEATURE, "dim": FEATURE,
    "d_model": FEATURE, "h_in": FEATURE, "h_out": FEATURE, "c_in": FEATURE, "nvars": FEATURE,
    "n_vars": FEATURE, "channels": FEATURE, "feat": FEATURE, "feats": FEATURE,
}


# Letters that mean one thing in one library and another elsewhere (``N`` is PyTorch's batch
# and speechbrain's filters): in a shape that already has that meaning, they yield.
_AMBIGUOUS_LETTERS = {"n", "l", "s", "h"}


def role_of_dim_name(name: str) -> Optional[str]:
    """The meaning of a dim's name where the code writes a shape."""
    key = name.strip().lower()
    return _SHAPE_LETTERS.get(key) or role_from_name(name)


def shape_roles(names: list[str], meanings: Optional[dict] = None) -> list[Optional[str]]:
    """The meaning of each dim of one written shape.  A letter the text defines
    (``N = number of filters``) means what it says; a lone letter that would give a shape two
    batches or two times (``[B, L, N]``: ``N`` is not the batch here) means nothing."""
    meanings = meanings or {}
    roles = [meanings.get(n) or role_of_dim_name(n) for n in names]
    for weak in (_AMBIGUOUS_LETTERS, None):
        for i, (name, role) in enumerate(zip(names, roles)):
            if role and roles.count(role) > 1 and len(name) == 1 and name not in meanings \
                    and (weak is None or name.lower() in weak):
                roles[i] = None
    if sum(1 for r in roles if r) == 1:
        # ``a, b, _ = x.shape``: one letter alone is a name, not a shape convention
        i = next(i for i, r in enumerate(roles) if r)
        if len(names[i]) == 1 and names[i] not in meanings:
            roles[i] = None
    return roles


@dataclass(frozen=True)
class DimName:
    """One statement about one dim: its name, the meaning the name carries, how it was said."""

    name: str
    role: Optional[str]
    how: str  # "shape unpacking", "size read", "comment", "docstring", "annotation"
    node: cst.CSTNode  # where it is said, for the trace


@dataclass
class TensorEvidence:
    """Everything said about one tensor's dims."""

    ranks: set = field(default_factory=set)
    dims: dict = field(default_factory=dict)  # position (from the front) -> [DimName]

    def add(self, position: int, name: DimName) -> None:
        self.dims.setdefault(position, []).append(name)

    def shape(self, rank: int) -> list[Optional[DimName]]:
        """The agreed statement per dim (None where there is none, or they disagree)."""
        return [_agreed(self.dims.get(i, []) + self.dims.get(i - rank, [])) for i in range(rank)]

    @property
    def rank(self) -> Optional[int]:
        return next(iter(self.ranks)) if len(self.ranks) == 1 else None

    def symbolic(self, param: str) -> tuple[Shape, list[tuple[cst.CSTNode, str]]]:
        """The parameter's tensor as this evidence describes it, and the trace notes saying
        where each named dim was learnt.  A dim is the symbol ``param.size(i)`` unless the code
        binds it to a variable (``bs, t, d = x.shape``), whose name it then takes."""
        if len(self.ranks) > 1:
            return Shape.symbolic(param), []  # two ranks: none of what was said holds
        rank = self.rank
        if rank is not None:
            shape = Shape(tuple(_dim(param, i, s) for i, s in enumerate(self.shape(rank))))
        else:
            front = [_dim(param, i, _agreed(self.dims.get(i, [])))
                     for i in range(max((p for p in self.dims if p >= 0), default=-1) + 1)]
            last = _dim(param, -1, _agreed(self.dims[-1])) if -1 in self.dims else None
            shape = Shape.symbolic(param, front, last)
        return shape, self._notes(param)

    def _notes(self, param: str) -> list[tuple[cst.CSTNode, str]]:
        """One note per statement that gave a dim a meaning, in the order of the code."""
        by_node: dict[int, tuple[cst.CSTNode, str, list]] = {}
        for position in sorted(self.dims, key=lambda p: (p < 0, abs(p))):
            for said in self.dims[position]:
                if said.role:
                    entry = by_node.setdefault(id(said.node), (said.node, said.how, []))
                    where = str(position) if position >= 0 else "-1"
                    entry[2].append(f"{where} `{said.name}` ({said.role})")
        return [(node, f"{how}: dims of `{param}`: " + ", ".join(parts))
                for node, how, parts in by_node.values()]


def _agreed(said: list) -> Optional[DimName]:
    """What several statements about one dim agree on: None when they give it two meanings."""
    roles = {s.role for s in said if s.role}
    if len(roles) > 1:
        return None  # the code says two things of this dim: it says nothing
    # A variable's name becomes the symbol, so prefer the statement that binds one.
    ranked = sorted(said, key=lambda s: (not s.role, s.how not in _VARIABLE))
    return ranked[0] if ranked else None


_VARIABLE = ("shape unpacking", "size read")


def _dim(param: str, index: int, said: Optional[DimName]) -> Dim:
    if said is None:
        return Dim.opaque(f"{param}.size({index})")
    if said.name.isdigit():
        return Dim.const(int(said.name))
    # A word the code also uses (``q_len``, ``d_model``) names the same size where the code
    # builds its modules; a lone letter (``B``, ``C``) is too easily something else's name.
    named = said.how in _VARIABLE or len(said.name) > 1
    symbol = said.name if named else f"{param}.size({index})"
    return Dim.opaque(symbol, said.role, f"{said.how}: {said.name}")


# ---------------------------------------------------------------------- shapes in text
_BRACKETED = re.compile(r"[\(\[]([^\(\)\[\]]*)[\)\]]")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$|^\d+$")
# Words inside brackets that make a type tuple or a default, not a shape.
_NOT_DIMS = {"int", "float", "str", "bool", "list", "tuple", "dict", "tensor", "none", "optional",
             "default", "array", "ndarray", "torch", "any"}
_SPACED_X = re.compile(r"\b\w+(?:\s+x\s+\w+)+\b")
_JOINED_X = re.compile(r"\b[A-Z0-9]{1,3}(?:x[A-Z0-9]{1,3})+\b")


def parse_shape(text: str) -> Optional[list[str]]:
    """``(B, T, C)``, ``[bs x nvars x seq_len]``, ``BxTxC``,
    ``bs (batch size) x nvars (features) x seq_len`` -> the dim names, or None."""
    text = text.strip().strip("`")
    m = _BRACKETED.fullmatch(text)
    inner = m.group(1) if m else re.sub(r"\s*\([^()]*\)", "", text)
    parts = [p.strip() for p in re.split(r",|\s+x\s+|\s*[\*×]\s*|(?<=[A-Za-z0-9])x(?=[A-Z0-9])",
                                          inner) if p.strip()]
    if len(parts) < 2 or not all(_NAME.match(p) for p in parts):
        return None
    if all(p.isdigit() for p in parts) or any(p.lower() in _NOT_DIMS for p in parts):
        return None
    return parts


def shape_in(text: str) -> Optional[list[str]]:
    """The first shape written in a line of prose."""
    for m in _BRACKETED.finditer(text):
        dims = parse_shape(m.group(0))
        if dims:
            return dims
    bare = re.sub(r"\s*\([^()]*\)", "", text)
    for pattern in (_SPACED_X, _JOINED_X):
        m = pattern.search(bare)
        if m:
            dims = parse_shape(m.group(0))
            if dims:
                return dims
    return None


_PARAM_LINE = re.compile(r"^\s*[-*]?\s*`?(?P<name>[A-Za-z_]\w*)`?\s*(?:\((?P<type>[^)]*)\))?"
                         r"\s*:\s*(?P<rest>.*)$")
_CONTAINER = re.compile(r"\b(tuple|list|dict|int|str|bool|float)\b", re.IGNORECASE)
_LEGEND = re.compile(r"\b(?P<name>[A-Za-z]\w{0,11})\s*=\s*(?P<meaning>[A-Za-z][A-Za-z _-]{2,40})")
_ARROW_TOKEN = r"(?:-+>|→|⟶|=+>)"
_ARROW = re.compile(r"(?P<before>[\(\[]?[\w ,x\*]+[\)\]]?)\s*" + _ARROW_TOKEN +
                    r"\s*(?P<after>[\(\[]?[\w ,x\*]+[\)\]]?)")


def named_shapes(text: str) -> dict[str, list[str]]:
    """``x: (B, T, C)``, ``x : (N, L, H_in)``, ``x (Tensor): ids. (batch, len)``, and numpydoc's
    ``x : Tensor`` with the shape on an indented line below, in a comment or docstring:
    name -> dim names."""
    found: dict[str, list[str]] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _PARAM_LINE.match(line)
        if not m or _CONTAINER.search(m.group("type") or "") or \
                _CONTAINER.match(m.group("rest").strip()):
            continue  # ``h (tuple): (h, c)`` is no tensor
        dims = shape_in(m.group("rest"))
        indent = len(line) - len(line.lstrip())
        for below in lines[i + 1:] if dims is None else ():
            if not below.strip() or len(below) - len(below.lstrip()) <= indent or \
                    _PARAM_LINE.match(below):
                break  # the description ends, or names something else
            dims = shape_in(below)
            if dims:
                break
        if dims:
            found.setdefault(m.group("name"), dims)
    return found


def legend(text: str) -> dict[str, str]:
    """``B = batch size, N = number of filters, L = time points``: what each letter means."""
    out: dict[str, str] = {}
    for m in _LEGEND.finditer(text):
        role = role_from_name(m.group("meaning").strip())
        if role:
            out.setdefault(m.group("name"), role)
    return out


def arrow_shapes(comment: str) -> Optional[tuple[list[str], list[str]]]:
    """``# BxT -> BxCxT``, ``# (B, C, T) -> (B, T, C)``: the shapes before and after."""
    m = _ARROW.search(comment)
    if not m:
        return None
    before, after = parse_shape(m.group("before")), parse_shape(m.group("after"))
    return (before, after) if before and after else None


def shape_comment(comment: str) -> Optional[list[str]]:
    """A trailing ``# (B, T, C)`` or ``# shape: (B, T, C)`` on a line: the dim names."""
    body = comment.lstrip("#").strip()
    body = re.sub(r"^(?:shape|size|dims?)\s*[:=]?\s*", "", body, flags=re.IGNORECASE)
    if not body or body[0] not in "([" or re.search(_ARROW_TOKEN, body):
        return None  # an arrow says two shapes: ``arrow_shapes`` reads them
    m = _BRACKETED.match(body)
    return parse_shape(m.group(0)) if m else None


def comment_shape(comment: str, name: str) -> Optional[list[str]]:
    """The dims a trailing comment gives the value bound on its line to ``name``:
    ``# x: (B, T, C)``, ``# (B, T, C)``, or the right side of ``# B x C x T -> B x T x C``."""
    named = named_shapes(comment.lstrip("#")).get(name)
    if named:
        return named
    arrow = arrow_shapes(comment)
    return arrow[1] if arrow else shape_comment(comment)


def described(x: TensorV, names: list[str], comment: cst.Comment) -> TensorV:
    """``x`` as a comment on the line that made it describes it.  A dim the tracker already
    gives another meaning keeps neither: the code disagrees with itself there."""
    shape = x.shape if x.shape.dims is not None else x.shape.with_rank(len(names))
    if shape is None or shape.dims is None or len(shape.dims) != len(names):
        return x
    dims, said = [], []
    for dim, name, role in zip(shape.dims, names, shape_roles(names, legend(comment.value))):
        if role is None or dim.role == role:
            dims.append(dim)
        elif dim.role is None:
            dims.append(dim.with_role(role, f"comment: {name}"))
            said.append(f"{len(dims) - 1} `{name}` ({role})")
        else:
            dims.append(dim.with_role(None))
    if not said and dims == list(shape.dims) and \
            all(a.role == b.role for a, b in zip(dims, shape.dims)):
        return x if shape is x.shape else replace(x, shape=shape)
    note = "comment: dims: " + ", ".join(said) if said else "comment disagrees with the dims"
    return replace(x, shape=Shape(tuple(dims)), trace=x.trace + (Step(comment, None, note),))


# ---------------------------------------------------------------------- annotations
def annotation_shape(annotation: cst.BaseExpression) -> Optional[list[str]]:
    """jaxtyping ``Float[Tensor, "batch seq feat"]``, torchtyping
    ``TensorType["batch", "time", "feature"]``: the dim names."""
    if not isinstance(annotation, cst.Subscript):
        return None
    strings = [e.slice.value for e in annotation.slice if isinstance(e.slice, cst.Index)
               and isinstance(e.slice.value, cst.SimpleString)]
    values = [s.evaluated_value for s in strings if isinstance(s.evaluated_value, str)]
    if len(values) == 1 and " " in values[0].strip():
        names = values[0].split()  # jaxtyping: one string of names
    elif len(values) >= 2:
        names = values  # torchtyping: one string per dim
    else:
        return None
    names = [n.lstrip("*#").split("=")[0] for n in names]
    return names if all(_NAME.match(n) for n in names) else None


def _is_tensor_type(annotation: cst.BaseExpression) -> bool:
    """``Tensor``, ``torch.Tensor``, ``torch.FloatTensor``: no dims, but a tensor."""
    if isinstance(annotation, cst.Subscript):
        annotation = annotation.value  # Float[Tensor, ...] without readable dims
    name = annotation.attr.value if isinstance(annotation, cst.Attribute) else \
        annotation.value if isinstance(annotation, cst.Name) else ""
    return name.endswith("Tensor") or name in ("Float", "Int", "Bool", "Shaped")


# ---------------------------------------------------------------------- a function's evidence
class _Collector:
    def __init__(self):
        self.found: dict[str, TensorEvidence] = {}
        self.tensors: set[str] = set()  # parameters the body uses as tensors

    def shape(self, param: str, dims: list[str], how: str, where, meanings=None) -> None:
        """``param`` has these dims, in order (``meanings``: what the text says its letters
        mean)."""
        evidence = self.found.setdefault(param, TensorEvidence())
        evidence.ranks.add(len(dims))
        for i, (dim, role) in enumerate(zip(dims, shape_roles(dims, meanings))):
            evidence.add(i, DimName(dim, role, how, where))

    def dim(self, param: str, position: int, name: str, how: str, where) -> None:
        """Dim ``position`` of ``param`` is bound to the variable ``name``."""
        evidence = self.found.setdefault(param, TensorEvidence())
        evidence.add(position, DimName(name, role_from_name(name), how, where))


@lru_cache(maxsize=4096)
def parameter_evidence(func: cst.FunctionDef) -> dict[str, TensorEvidence]:
    """What the function's own text says about the dims of each of its parameters (cached per
    function node: the files of a project are read by several runs; callers must not change
    the result)."""
    params = [p for p in list(func.params.posonly_params) + list(func.params.params)
              + list(func.params.kwonly_params)]
    names = {p.name.value for p in params}
    collector = _Collector()
    for param in params:
        if param.annotation is not None:
            annotation = param.annotation.annotation
            dims = annotation_shape(annotation)
            if dims:
                collector.shape(param.name.value, dims, "annotation", param.annotation)
            if dims or _is_tensor_type(annotation):
                collector.tensors.add(param.name.value)
    for text, how, where in _texts(func):
        meanings = legend(text)
        for name, dims in named_shapes(text).items():
            if name in names:
                collector.shape(name, dims, how, where, meanings)
    inputs = [p.name.value for p in func.params.params if p.default is None and
              p.name.value not in ("self", "cls")]
    header = func.body.header.comment if isinstance(func.body, cst.IndentedBlock) else None
    if header is not None and len(inputs) == 1:
        # ``def forward(self, x):  # (batch, c_in, seq_len)``: of the one input there is
        dims = shape_comment(header.value)
        if dims:
            collector.shape(inputs[0], dims, "comment", header, legend(header.value))
    if func.name.value == "forward" and inputs and func.params.params[0].name.value == "self":
        collector.tensors.add(inputs[0])  # what a module is called with: a tensor, mostly
    _statements(func, names, collector)
    for name in collector.tensors - set(collector.found):
        collector.found[name] = TensorEvidence()
    return {name: ev for name, ev in collector.found.items()
            if name in collector.tensors or ev.dims or ev.ranks}


# What only a tensor (or an array) answers: a parameter read this way holds one.
_TENSOR_ATTRS = frozenset({
    "shape", "size", "permute", "transpose", "view", "reshape", "contiguous", "unsqueeze",
    "squeeze", "flatten", "dim", "ndim", "float", "masked_fill", "transpose_", "unbind",
    "new_zeros", "new_ones", "new_full", "expand", "repeat", "narrow", "chunk", "split",
    "is_cuda", "device", "dtype",
})


class _Scan:
    """One walk of a statement: the names it binds, its comments, and which of ``names`` it
    reads as a tensor (``x.size(1)``, ``x.shape``)."""

    _BINDS = (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For, cst.NamedExpr)

    def __init__(self, node, names: set):
        self.assigned: set[str] = set()
        self.comments: list[cst.Comment] = []
        self.tensors: set[str] = set()
        # a nested def or lambda has its own parameters: what it reads says nothing of ours
        for child in walk(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            if isinstance(child, cst.Attribute):
                if isinstance(child.value, cst.Name) and child.value.value in names and \
                        child.attr.value in _TENSOR_ATTRS:
                    self.tensors.add(child.value.value)
            elif isinstance(child, cst.Comment):
                self.comments.append(child)
            elif isinstance(child, self._BINDS):
                _names(child.target, self.assigned)


def class_input(cls: cst.ClassDef) -> Optional[tuple[str, TensorEvidence]]:
    """A module class without its own ``forward`` (an ``nn.Sequential`` subclass) whose
    docstring describes one input tensor (``Input: x: bs x nvars x seq_len``): its name and
    what is said of it."""
    first = cls.body.body[0] if isinstance(cls.body, cst.IndentedBlock) and cls.body.body \
        else None
    if not (isinstance(first, cst.SimpleStatementLine) and isinstance(first.body[0], cst.Expr)
            and isinstance(first.body[0].value, cst.SimpleString)):
        return None
    doc = first.body[0].value
    text = doc.evaluated_value if isinstance(doc.evaluated_value, str) else ""
    found = named_shapes(text)
    if len(found) != 1:
        return None  # no input described, or several things: which one is the input?
    (name, dims), = found.items()
    collector = _Collector()
    collector.shape(name, dims, "docstring", doc, legend(text))
    return name, collector.found[name]


def _texts(func: cst.FunctionDef):
    """(text, how, node) of what speaks of the parameters as they come in: the docstring and
    the comment after the ``def`` line."""
    body = func.body
    if not isinstance(body, cst.IndentedBlock):
        return
    if body.header.comment is not None:
        yield body.header.comment.value.lstrip("#"), "comment", body.header.comment
    first = body.body[0] if body.body else None
    if isinstance(first, cst.SimpleStatementLine) and isinstance(first.body[0], cst.Expr) \
            and isinstance(first.body[0].value, cst.SimpleString):
        doc = first.body[0].value
        text = doc.evaluated_value if isinstance(doc.evaluated_value, str) else ""
        yield text, "docstring", doc


def _statements(func: cst.FunctionDef, names: set, collector: _Collector) -> None:
    """Statements at the top of the body, each about the parameters as they are until
    something rebinds them: shape unpacking and size reads, ``# x: (B, T, C)`` comments, the
    arrow comment of a statement that reads one, a tensor attribute read (``x.size(1)``)."""
    if not isinstance(func.body, cst.IndentedBlock):
        collector.tensors |= _Scan(func.body, names).tensors
        return
    rebound: set[str] = set()
    names = names - {"self", "cls"}
    for stmt in func.body.body:
        if not names - rebound:
            break  # every parameter rebound: what follows speaks of other values
        for line in stmt.leading_lines:
            if line.comment is not None:
                _named_comment(line.comment, names - rebound, collector)
        scan = _Scan(stmt, names - rebound)
        collector.tensors |= scan.tensors
        assigned = scan.assigned
        if not isinstance(stmt, cst.SimpleStatementLine):
            for comment in scan.comments:
                _named_comment(comment, names - rebound - assigned, collector)
            rebound |= assigned
            continue
        comment = stmt.trailing_whitespace.comment
        for small in stmt.body:
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                _unpacking(small, names - rebound, collector)
                if comment is not None:
                    _arrow(small.value, comment, names - rebound, collector)
        if comment is not None:
            _named_comment(comment, names - rebound - assigned, collector)
        rebound |= assigned


def _named_comment(comment: cst.Comment, names: set, collector: _Collector) -> None:
    for name, dims in named_shapes(comment.value.lstrip("#")).items():
        if name in names:
            collector.shape(name, dims, "comment", comment, legend(comment.value))


def _unpacking(small: cst.Assign, names: set, collector: _Collector) -> None:
    target, value = small.targets[0].target, small.value
    source = _shape_of(value)
    if source is not None and source[0] in names and isinstance(target, (cst.Tuple, cst.List)):
        dims = [_target_name(e.value) for e in target.elements]
        if all(dims) and source[1] is None:
            collector.shape(source[0], dims, "shape unpacking", small)
        return
    pairs = list(zip(target.elements, value.elements)) \
        if isinstance(target, cst.Tuple) and isinstance(value, cst.Tuple) else [(target, value)]
    for element, item in pairs:
        name = _target_name(element.value if isinstance(element, cst.BaseElement) else element)
        read = _shape_of(item.value if isinstance(item, cst.BaseElement) else item)
        if name and read is not None and read[0] in names and read[1] is not None \
                and role_from_name(name):
            collector.dim(read[0], read[1], name, "size read", small)


def _arrow(value, comment: cst.Comment, names: set, collector: _Collector) -> None:
    """``x = x.permute(0, 2, 1)  # B x T x C -> B x C x T``: x was (B, T, C)."""
    shapes = arrow_shapes(comment.value)
    receiver = value.func.value if isinstance(value, cst.Call) and \
        isinstance(value.func, cst.Attribute) else None
    if shapes and isinstance(receiver, cst.Name) and receiver.value in names:
        collector.shape(receiver.value, shapes[0], "comment", comment)


def _shape_of(node) -> Optional[tuple[str, Optional[int]]]:
    """``x.shape`` / ``x.size()`` -> (x, None); ``x.shape[i]`` / ``x.size(i)`` -> (x, i)."""
    if isinstance(node, cst.Attribute) and node.attr.value == "shape" and \
            isinstance(node.value, cst.Name):
        return node.value.value, None
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and \
            node.func.attr.value == "size" and isinstance(node.func.value, cst.Name):
        if not node.args:
            return node.func.value.value, None
        index = int_value(node.args[0].value)
        return (node.func.value.value, index) if index is not None else None
    if isinstance(node, cst.Subscript) and len(node.slice) == 1 and \
            isinstance(node.slice[0].slice, cst.Index):
        inner = _shape_of(node.value)
        index = int_value(node.slice[0].slice.value)
        if inner is not None and inner[1] is None and index is not None:
            return inner[0], index
    return None


def _target_name(node) -> Optional[str]:
    return node.value if isinstance(node, cst.Name) else None


def _names(target, found: set) -> None:
    if isinstance(target, cst.Name):
        found.add(target.value)
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            _names(element.value, found)
    elif isinstance(target, cst.StarredElement):
        _names(target.value, found)
