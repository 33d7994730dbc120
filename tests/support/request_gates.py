"""Counting what a request gate (``RequestRate``, ``SharedRequestSchedule``) lets through.

Time is a fake clock that only the fake ``sleep`` moves, so each request's release time is
exact, and a bound is checked by counting requests per window, never by measuring.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class FakeTime:
    """A clock that only ``sleep`` moves; ``sleeps`` lists what was slept."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def most_in_any_window(times: list[float], window: float) -> int:
    """The most of ``times`` that fall in any half-open interval ``window`` long."""
    ordered = sorted(times)
    return max(sum(1 for t in ordered[i:] if t < start + window - 1e-9) for i, start in enumerate(ordered))


def waits_of_threads_at_once(acquire: Callable[[], float], *, threads: int, each: int) -> list[float]:
    """What ``acquire`` handed back to ``threads`` threads asking ``each`` times from one instant.

    The worst case for a gate under a worker instance's record threads: with a frozen clock
    and a ``sleep`` that returns at once, each wait is that request's release time.
    """
    waits: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def requests() -> None:
        start.wait()
        for _ in range(each):
            wait = acquire()
            with lock:
                waits.append(wait)

    running = [threading.Thread(target=requests) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    return waits
