"""Per-file limits, so one pathological file cannot stall a run or exhaust the machine.

Time: an interval timer and SIGALRM, which only the main thread of a process may arm: worker
processes check files on their main thread, and so does a serial run.  Where that is not
possible (another thread, no SIGALRM on the platform) the limit is simply not applied.

Memory: a cap on each worker process's address space, set when the worker starts.  Past it
an allocation fails: Python raises MemoryError (the file is skipped with that reason), and a
native allocation aborts the worker, which the pool turns into a skipped file too.  Serial
runs (one job, or too few files for a pool) are not capped: an abort there would end the run.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

from rnnshape.diagnostic import FileError

DEFAULT_SECONDS = 60.0
DEFAULT_MEGABYTES = 2048


class _Expired(BaseException):
    """Raised from the signal handler; a BaseException so user-style ``except Exception``
    blocks in our own code cannot swallow it."""


@contextmanager
def time_limit(path: str, seconds: float):
    usable = (seconds and seconds > 0 and hasattr(signal, "SIGALRM")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise _Expired()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Expired:
        raise FileError(path, f"skipped: took longer than {seconds:g} s "
                              f"(raise the limit with --file-timeout)") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def guarded(path: str, work, seconds: float = DEFAULT_SECONDS):
    """``work()`` for one file, every way it can fail turned into that file's FileError."""
    try:
        with time_limit(path, seconds):
            return work()
    except FileError:
        raise
    except RecursionError:
        raise FileError(path, "too deeply nested to analyse") from None
    except MemoryError:
        raise FileError(path, "skipped: ran out of memory "
                              "(raise the limit with --file-memory)") from None
    except Exception as exc:  # a bug of ours must not end the run for the other files
        raise FileError(path, f"internal error: {type(exc).__name__}: {exc}") from None


def limit_memory(megabytes: float) -> None:
    """Pool initializer: cap this process at what it holds now plus ``megabytes``."""
    if not megabytes or megabytes <= 0:
        return
    try:
        import resource
        with open("/proc/self/statm") as handle:  # Linux: the address space now, in pages
            size = int(handle.read().split()[0]) * resource.getpagesize()
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = size + int(megabytes * 2 ** 20)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, OSError, ValueError):
        pass  # no /proc or no RLIMIT_AS here: the limit is not applied
