"""Binding symbolic dims to distinct small integers.

Distinct values make a swap visible: if ``batch`` and ``seq_len`` were both 8, a batch-first
tensor fed to a seq-first module would look right.  Values also avoid every constant the file
itself uses as a size, for the same reason.
"""
from __future__ import annotations

from typing import Iterable, Optional

from rnnshape.shapes.dims import Dim

_POOL = (7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97)


class Bindings:
    def __init__(self, dims: Iterable[Dim]):
        symbols: set[str] = set()
        constants: set[int] = set()
        for dim in dims:
            if dim.poly is None:
                continue
            for mono, coeff in dim.poly:
                if mono:
                    symbols.update(mono)
                else:
                    constants.add(abs(coeff))
        pool = [v for v in _POOL if v not in constants]
        extra = max(_POOL) + 2
        while len(pool) < len(symbols):
            if extra not in constants:
                pool.append(extra)
            extra += 2
        self.values = {name: pool[i] for i, name in enumerate(sorted(symbols))}

    def value(self, dim: Dim) -> Optional[int]:
        if dim.poly is None:
            return None
        total = 0
        for mono, coeff in dim.poly:
            term = coeff
            for name in mono:
                if name not in self.values:
                    return None
                term *= self.values[name]
            total += term
        return total

    def shape(self, dims) -> Optional[list[int]]:
        if dims is None:
            return None
        out = [self.value(d) for d in dims]
        return None if any(v is None or v < 0 for v in out) else out
