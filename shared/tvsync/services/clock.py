"""The real clocks the wiring injects, and the deadline a service shares with its clients' retries.

A Lambda's time is finite: retries, a scan of the company and the reconciler's walk must
stop early enough to report and hand work back. One ``Deadline`` per service is started at
each invocation and read by everything that may wait: the service itself, and the clients'
``RetryPolicy``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tvsync.services.ports import MonotonicClock

__all__ = ["Deadline", "utc_now"]


def utc_now() -> datetime:
    """The wall clock services are given (``tvsync.services.ports.Clock``)."""
    return datetime.now(UTC)


@dataclass
class Deadline:
    """When long work must stop: a ``clock`` value (``time.monotonic`` by default), or None.

    Callable, so it is the ``deadline`` of a ``RetryPolicy`` and of a company scan.
    The clock must be the one the clients compare it with: ``time.monotonic`` for the real ones.
    """

    at: float | None = None
    clock: MonotonicClock = time.monotonic

    def __call__(self) -> float | None:
        return self.at

    def start(self, remaining_seconds: float, reserve_seconds: float) -> None:
        """Set the deadline ``reserve_seconds`` before the end of the ``remaining_seconds`` left."""
        self.at = self.clock() + max(0.0, remaining_seconds - reserve_seconds)

    def expired(self) -> bool:
        return self.at is not None and self.clock() >= self.at
