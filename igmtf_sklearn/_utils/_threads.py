"""How many threads a fit may use without oversubscribing the machine.

torch starts one OpenMP thread per physical core. While other work holds some of
those cores, its threads wait for each other at every parallel region, spinning:
a small IGMTF fit measured 21 minutes with torch's default two threads on a busy
2-core machine, against 3 minutes with one. The networks here are small (a
260-row day per step): on a quiet 2-core machine one thread fitted faster than two
(15.2 s against 18.6 s, ``benchmarks/bench_threads.py``), and with one core busy two
threads took 4x as long. ``"auto"`` is therefore one thread; a second idle core
serves IGMTF's overlap of validation and memory-bank rebuild instead.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Literal

__all__ = ["available_cores", "idle_cores", "resolve_threads", "torch_threads"]


def available_cores():
    """Cores this process may run on (its CPU affinity), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


def _others_running():
    """Runnable threads of other processes right now, or None where unknown.

    Linux's ``/proc/loadavg`` counts the runnable scheduling entities this instant
    (4th field, ``running/total``), this process included. A few samples 10 ms
    apart smooth out a momentary burst. The 1-minute load average would also count
    this process's own recent work (e.g. preparing the data just before ``fit``).
    """
    samples = []
    for _ in range(5):
        try:
            with open("/proc/loadavg") as file:
                samples.append(int(file.read().split()[3].split("/")[0]))
        except (OSError, ValueError, IndexError):
            return None
        time.sleep(0.01)
    return max(sorted(samples)[len(samples) // 2] - 1, 0)


def idle_cores():
    """Cores not busy with other work, at least 1.

    Available cores minus the threads other processes are running (Linux), or
    minus the 1-minute load average elsewhere; every core where neither is known.
    """
    cores = available_cores()
    busy = _others_running()
    if busy is None:
        try:
            busy = int(round(os.getloadavg()[0]))
        except (AttributeError, OSError):
            busy = 0
    return max(min(cores - busy, cores), 1)


def resolve_threads(n_threads):
    """The torch thread count for ``n_threads`` (``"auto"``, an int >= 1, or None).

    ``"auto"``: one thread (see the module's docstring). None: leave torch's
    setting alone (returns None). An int is taken as it is, with a warning when
    it asks for more threads than there are idle cores.
    """
    if n_threads is None:
        return None
    if n_threads == "auto":
        return 1
    idle = idle_cores()
    if n_threads > idle:
        warnings.warn(
            f"n_threads={n_threads} but only {idle} of {available_cores()} cores are idle: "
            "torch's threads will spin-wait for each other and the fit can run several times "
            "slower. Pass n_threads='auto' (one thread) or a smaller number.",
            RuntimeWarning,
            stacklevel=3,
        )
    return int(n_threads)


@contextlib.contextmanager
def torch_threads(n_threads: Literal["auto"] | int | None) -> Iterator[int]:
    """Run the block with ``n_threads`` torch threads, then restore the previous setting.

    The estimators' ``n_threads`` parameter uses it, so a fit does not change the
    thread count of the code around it; ``igmtf demo`` / ``igmtf run`` wrap their
    work in it too.

    Parameters
    ----------
    n_threads : "auto", int or None
        ``"auto"``: one thread, the fastest for these networks; an int:
        that many (with a warning when more than the idle cores); None: leave
        torch's setting as it is.

    Yields
    ------
    count : int
        The thread count in force inside the block.

    Examples
    --------
    >>> import torch
    >>> from igmtf_sklearn.workflow import torch_threads
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1) as count:
    ...     count, torch.get_num_threads()
    (1, 1)
    >>> torch.get_num_threads() == before
    True
    """
    count = resolve_threads(n_threads)
    previous = torch.get_num_threads()
    if count is not None and count != previous:
        torch.set_num_threads(count)
    try:
        yield count if count is not None else previous
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)
