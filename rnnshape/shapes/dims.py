"""Symbolic dimensions and shapes.

A dimension is a polynomial over positive integer symbols with integer coefficients
(``2*hidden_size``, ``len(sequence)``, ``50``) or unknown.  Keeping polynomials instead
of opaque text lets us *prove* that ``2*hidden`` differs from ``hidden`` without knowing
``hidden``: every symbol stands for a size, so it is at least 1.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Optional

BATCH, TIME, FEATURE = "batch", "time", "feature"
INDEX = "a loop index"  # the origin of a loop variable's symbol

Monomial = tuple[str, ...]  # sorted symbol names; () is the constant term

# Names that show what a size means.  Matching is on whole words of snake/camel case,
# so ``embedding_dim`` is a feature and ``max_len`` a time, while ``b`` means nothing.
_ROLE_WORDS = {
    BATCH: {"batch", "bs", "bsz", "nbatch", "batchsize", "batch_size", "n_batch", "num_batch"},
    TIME: {"seq", "sequence", "sequences", "len", "length", "lengths", "time", "timesteps", "steps",
           "step", "window", "sentence", "text", "tokens", "words", "chars", "seqlen", "seq_len",
           "horizon", "lookback", "frames", "maxlen", "max_len", "t"},
    FEATURE: {"vocab", "embed", "embedding", "emb", "hidden", "input", "feature", "features",
              "feat", "feats", "dim", "channels", "chan", "size", "units", "d", "nfeat",
              "n_features", "filters", "nvars", "n_vars",
              "input_size", "hidden_size", "in", "classes", "vocabulary", "num_features", "ninp",
              "nhid", "ntoken", "ntokens"},
}


# Feature words that stay a width even before a length (``vocab_length``, ``feature_len``).
_WIDTHS = {"vocab", "vocabulary", "embed", "embedding", "emb", "feature", "features", "feat",
           "feats", "channels", "nfeat", "n_features", "num_features"}

# Plural names of whole sequences: their length is a number of sequences, not of steps.
_COLLECTIONS = {"sequences", "seqs", "sentences", "windows", "samples", "examples", "texts",
                "documents", "docs", "utterances", "series"}


def role_from_name(name: str) -> Optional[str]:
    text = re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
    words = [w for w in re.split(r"[^a-z0-9]+", text) if w]
    if not words:
        return None
    # ``len(x)`` names the length of x: its role is that of a sequence length unless x is batchy,
    # or a collection of sequences (``len(sentences)`` counts sentences: a batch, once stacked).
    # An item taken out of it is one sequence: ``len(sentences[0].split())`` counts its words.
    if text.startswith("len(") or text.startswith("len "):
        inner_name = text[4:].rstrip(")")
        if re.fullmatch(r"[\w.]+", inner_name) and count_role(inner_name) == BATCH:
            return BATCH
        return TIME
    words_set = set(words) | {"_".join(words)}
    # ``size`` alone is too vague; it only counts next to another feature word.
    if words_set & _ROLE_WORDS[BATCH]:
        return BATCH
    # A strong feature word outranks a time word: ``text_vocab_size`` and
    # ``sentence_embedding_dim`` are sizes of a feature axis that merely mention sequences.
    # But a name whose last word is a length counts steps of what the first words name:
    # ``hidden_length`` is how many hidden states (time), not how wide each one is.
    strong_feature = _ROLE_WORDS[FEATURE] - {"size", "d", "in", "input", "dim"}
    if len(words) > 1 and words[-1] in {"len", "length", "lengths"} and \
            not words_set & _WIDTHS:
        return TIME
    if words_set & strong_feature:
        return FEATURE
    if words_set & (_ROLE_WORDS[TIME] - {"len", "t", "length"}):
        return TIME
    if words_set & {"len", "length", "lengths"}:
        return TIME
    if "dim" in words_set and len(words) > 1:
        return FEATURE
    return None


def count_role(name: str) -> Optional[str]:
    """The role of the number of items of the collection called ``name`` (one row per item,
    as a comprehension over it makes): sequences, sentences or a batch count samples; the items
    of one sequence, sentence or text are its steps.  A name that joins two things
    (``sequence_and_length``) names the parts of each item, not what the items are: no role."""
    words = set(re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()))
    if words & {"and", "pairs", "pair", "zip"}:
        return None
    role = role_from_name(name)
    if role == BATCH or words & _COLLECTIONS:
        return BATCH
    return role if role == TIME else None


def _poly_from(items: Iterable[tuple[Monomial, int]]) -> tuple[tuple[Monomial, int], ...]:
    acc: dict[Monomial, int] = {}
    for mono, coeff in items:
        acc[mono] = acc.get(mono, 0) + coeff
    return tuple(sorted((m, c) for m, c in acc.items() if c != 0))


@dataclass(frozen=True)
class Dim:
    """One dimension.  ``poly`` None means unknown; ``role`` never takes part in equality."""

    poly: Optional[tuple[tuple[Monomial, int], ...]]
    role: Optional[str] = field(default=None, compare=False)
    origin: Optional[str] = field(default=None, compare=False)  # why the role, for traces
    # For a dim made by flattening: the merged dims, outermost first.  Logits flattened as
    # (time, batch) and targets as (batch, time) pair the wrong elements.
    parts: Optional[tuple] = field(default=None, compare=False)

    # -- construction -------------------------------------------------------------------------
    @staticmethod
    def const(value: int, role: Optional[str] = None, origin: Optional[str] = None) -> "Dim":
        return Dim(_poly_from([((), int(value))]), role, origin)

    @staticmethod
    def sym(name: str, role: Optional[str] = None, origin: Optional[str] = None) -> "Dim":
        if role is None:
            role = role_from_name(name)
        return Dim(((((name,), 1)),), role, origin)

    @staticmethod
    def unknown(role: Optional[str] = None, origin: Optional[str] = None) -> "Dim":
        return Dim(None, role, origin)

    @staticmethod
    def opaque(name: str, role: Optional[str] = None, origin: Optional[str] = None) -> "Dim":
        """A size symbol whose name carries no meaning (``x.size(0)``)."""
        return Dim(((((name,), 1)),), role, origin if role else None)

    @staticmethod
    def index(name: str) -> "Dim":
        """A loop variable (``for i in range(n)``): a value, not a size, so its name gives no
        meaning; sums with it cancel (``(i + w) - i`` is ``w``)."""
        return Dim(((((f"{name}",), 1)),), None, INDEX)

    def with_parts(self, parts) -> "Dim":
        return Dim(self.poly, self.role, self.origin, tuple(parts))

    def with_role(self, role: Optional[str], origin: Optional[str] = None) -> "Dim":
        return Dim(self.poly, role, origin if role else None)

    # -- queries ------------------------------------------------------------------------------
    @property
    def known(self) -> bool:
        return self.poly is not None

    @property
    def value(self) -> Optional[int]:
        """The integer when the dim is a constant."""
        if self.poly is None:
            return None
        if not self.poly:
            return 0
        if len(self.poly) == 1 and self.poly[0][0] == ():
            return self.poly[0][1]
        return None

    def same(self, other: "Dim") -> Optional[bool]:
        """True when provably equal, False when provably different, None when unknown."""
        if self.poly is None or other.poly is None:
            return None
        if self.poly == other.poly:
            return True
        diff = _poly_from(list(self.poly) + [(m, -c) for m, c in other.poly])
        # All symbols are sizes (>= 1), so a difference whose terms all have one sign is
        # never zero: ``2*h - h = h > 0``, ``h + 1 - h = 1``.
        signs = {c > 0 for _, c in diff}
        if len(signs) == 1:
            return False
        return None

    # -- arithmetic -----------------------------------------------------------------------
    def __add__(self, other: "Dim") -> "Dim":
        if self.poly is None or other.poly is None:
            return Dim.unknown()
        return Dim(_poly_from(list(self.poly) + list(other.poly)), *self._shifted_role(other))

    def __sub__(self, other: "Dim") -> "Dim":
        if self.poly is None or other.poly is None:
            return Dim.unknown()
        return Dim(_poly_from(list(self.poly) + [(m, -c) for m, c in other.poly]),
                   *self._shifted_role(other))

    def _shifted_role(self, other: "Dim") -> tuple[Optional[str], Optional[str]]:
        """A size moved by a constant or a loop index keeps its meaning: ``seq_len - 1``,
        ``i + window`` (and ``(i + window) - i``).  Two meaningful sizes added do not."""
        def offset(d: "Dim") -> bool:
            return not d.role and (d.value is not None or d.origin == INDEX)

        for a, b in ((self, other), (other, self)):
            if a.role and offset(b):
                return a.role, a.origin
        if offset(self) and offset(other) and INDEX in (self.origin, other.origin):
            return None, INDEX  # ``i + 1`` is still a position, and cancels like one
        return None, None

    def __mul__(self, other: "Dim") -> "Dim":
        if self.poly is None or other.poly is None:
            return Dim.unknown()
        terms = []
        for m1, c1 in self.poly:
            for m2, c2 in other.poly:
                terms.append((tuple(sorted(m1 + m2)), c1 * c2))
        role = self.role if other.value is not None else (other.role if self.value is not None else None)
        return Dim(_poly_from(terms), role)

    def floordiv(self, other: "Dim") -> "Dim":
        a, b = self.value, other.value
        if b == 0:
            return Dim.unknown()  # the program raises here; no size comes out of it
        if a is not None and b:
            return Dim.const(a // b)
        if b is not None and b > 0 and self.poly is not None and all(c % b == 0 for _, c in self.poly):
            return Dim(tuple((m, c // b) for m, c in self.poly), self.role)
        if self.poly is not None and other.poly is not None:
            return Dim.sym(f"({self}) // ({other})")
        return Dim.unknown()

    def exact_div(self, other: "Dim") -> Optional["Dim"]:
        """``self / other`` when ``other`` is one term dividing every term of ``self``, else None."""
        if self.poly is None or other.poly is None or len(other.poly) != 1:
            return None
        (mono, coeff), = other.poly
        if coeff == 0:
            return None
        terms = []
        for m, c in self.poly:
            rest = list(m)
            for name in mono:
                if name not in rest:
                    return None
                rest.remove(name)
            if c % coeff:
                return None
            terms.append((tuple(rest), c // coeff))
        return Dim(_poly_from(terms))

    # -- display --------------------------------------------------------------------------
    def __str__(self) -> str:
        if self.poly is None:
            return "?"
        if not self.poly:
            return "0"
        parts = []
        for mono, coeff in sorted(self.poly, key=lambda t: (len(t[0]) == 0, t[0])):
            body = "*".join(mono)
            if not mono:
                parts.append(str(coeff))
            elif coeff == 1:
                parts.append(body)
            elif coeff == -1:
                parts.append("-" + body)
            else:
                parts.append(f"{coeff}*{body}")
        text = " + ".join(parts).replace("+ -", "- ")
        return text

    def describe(self) -> str:
        return f"{self}[{self.role}]" if self.role else str(self)


@dataclass(frozen=True)
class Shape:
    """A tuple of dims, or unknown rank.  Unknown rank may still know its last dim.

    A tensor that came from nowhere the tracker can see (a parameter nobody in the project
    passes) has unknown rank but a ``name``: its dim ``i`` is the symbol ``name.size(i)``, the
    same every time the code reads it, so ``zeros(layers, x.size(0), hidden)`` and ``x`` share
    a dim.  ``front`` holds what is known of its first dims (roles from the code's evidence)."""

    dims: Optional[tuple[Dim, ...]]
    last: Optional[Dim] = None  # only meaningful when dims is None
    name: Optional[str] = None  # only meaningful when dims is None
    front: tuple = ()  # ditto: the dims at positions 0, 1, ... as far as known

    @staticmethod
    def of(*dims: Dim) -> "Shape":
        return Shape(tuple(dims))

    @staticmethod
    def unknown(last: Optional[Dim] = None) -> "Shape":
        return Shape(None, last)

    @staticmethod
    def symbolic(name: str, front=(), last: Optional[Dim] = None) -> "Shape":
        return Shape(None, last, name, tuple(front))

    @property
    def rank(self) -> Optional[int]:
        return None if self.dims is None else len(self.dims)

    @property
    def last_dim(self) -> Optional[Dim]:
        if self.dims is not None:
            return self.dims[-1] if self.dims else None
        return self.last

    def at(self, index: int) -> Optional[Dim]:
        """Dim ``index`` (negative from the back); None when nothing names it."""
        if self.dims is not None:
            pos = normalize_axis(index, len(self.dims))
            return self.dims[pos] if pos is not None else None
        if index == -1 and self.last is not None:
            return self.last
        if 0 <= index < len(self.front):
            return self.front[index]
        if self.name is not None:
            return Dim.opaque(f"{self.name}.size({index})")
        return None

    def with_rank(self, rank: int) -> Optional["Shape"]:
        """This shape once its rank is known (None when the rank contradicts what is known)."""
        if self.dims is not None:
            return self if len(self.dims) == rank else None
        if self.name is None or rank < max(len(self.front), 1):
            return None
        dims = [self.at(i) for i in range(rank)]
        if self.last is not None:
            if rank == len(self.front) and self.front:
                return None  # the last dim would be one the front already names
            dims[-1] = self.last
        return Shape(tuple(dims))

    def __str__(self) -> str:
        if self.dims is None:
            if self.front:
                inner = ", ".join(d.describe() for d in self.front)
                return f"({inner}, ...)"
            if self.name is not None:
                return f"{self.name}: (...)" if self.last is None else \
                    f"{self.name}: (..., {self.last.describe()})"
            return f"(..., {self.last.describe()})" if self.last is not None else "(?)"
        inner = ", ".join(d.describe() for d in self.dims)
        return f"({inner},)" if len(self.dims) == 1 else f"({inner})"


def normalize_axis(axis: int, rank: int) -> Optional[int]:
    if -rank <= axis < rank:
        return axis % rank
    return None
