"""Per-file work across all cores, results in input order, surviving a worker that dies."""
from __future__ import annotations

import os
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Below this many files a pool costs more than it saves.
MIN_PARALLEL = 16


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _context():
    import multiprocessing
    # fork keeps start-up cheap (rules and tables are already imported); elsewhere spawn works.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def ordered_map(func: Callable[[T], R], items: list[T], jobs: int,
                on_crash: Callable[[T], R] | None = None,
                initializer: Callable | None = None, initargs: tuple = ()) -> Iterator[R]:
    """``map(func, items)``, in processes when it pays; ``func`` must be picklable.

    If a worker process dies (a native crash, the OOM killer), the items whose results were
    lost are retried one per process, and an item that kills its process again gets
    ``on_crash(item)`` as its result: one bad file never ends the run.  ``initializer`` runs
    once in each worker process (not in a serial run).
    """
    if jobs <= 1 or len(items) < MIN_PARALLEL:
        yield from map(func, items)
        return
    # Imported here: a one-file run (an editor, pre-commit) should not pay for them.
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    chunk = max(1, min(32, len(items) // (jobs * 8)))
    done = 0
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=_context(),
                                 initializer=initializer, initargs=initargs) as pool:
            for result in pool.map(func, items, chunksize=chunk):
                done += 1
                yield result
    except BrokenProcessPool:
        for item in items[done:]:
            yield _isolated(func, item, on_crash, initializer, initargs)


def _isolated(func, item, on_crash, initializer, initargs):
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=_context(),
                                 initializer=initializer, initargs=initargs) as pool:
            return pool.submit(func, item).result()
    except BrokenProcessPool:
        if on_crash is None:
            raise
        return on_crash(item)
