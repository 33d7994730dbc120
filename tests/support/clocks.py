"""Fake clocks for code that reads ``time.monotonic()`` from several threads."""

from __future__ import annotations

import threading


class LaneClock:
    """A fake monotonic clock per thread.

    ``EventQueue`` sends its lanes side by side, each on its own thread, so a fake call in one
    lane must advance only that lane's time (every thread, the request's included, starts at
    0). ``last_reading`` is what this thread last read: the reading that let its call start.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def __call__(self) -> float:
        now = self.now
        self._local.last = now
        return now

    @property
    def now(self) -> float:
        now: float = getattr(self._local, "now", 0.0)
        return now

    @property
    def last_reading(self) -> float:
        last: float = self._local.last
        return last

    def advance(self, seconds: float) -> None:
        self._local.now = self.now + seconds
