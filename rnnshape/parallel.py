"""Per-file work across all cores, results in input order."""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Below this many files a pool costs more than it saves.
MIN_PARALLEL = 16


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def ordered_map(func: Callable[[T], R], items: list[T], jobs: int) -> Iterator[R]:
    """``map(func, items)``, in processes when it pays; ``func`` must be picklable."""
    if jobs <= 1 or len(items) < MIN_PARALLEL:
        yield from map(func, items)
        return
    # fork keeps start-up cheap (rules and tables are already imported); elsewhere spawn works too.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    chunk = max(1, min(64, len(items) // (jobs * 8)))
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        yield from pool.map(func, items, chunksize=chunk)
