"""Bounded in-process retries for calls to Okta and TeamViewer.

The worker's real retry mechanism is SQS: a failed record comes back after its visibility
timeout and goes to the DLQ after ``maxReceiveCount``. In-process retries exist only to
absorb what is cheaper to wait out than to re-queue — a short ``Retry-After``, a dropped
connection — within a strict budget, so a Lambda never sleeps its timeout away.

Clients take a ``RetryPolicy`` and wrap each HTTP exchange in ``policy.call``; the default
``NO_RETRY`` makes one attempt, so every error class surfaces unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tvsync.adapters.errors import ThrottledError, TransientError, UpstreamError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Retry throttled and transient failures, waiting at most ``max_wait`` per attempt.

    A throttle whose server-requested wait exceeds ``max_wait`` is raised at once: the
    caller (SQS visibility, the reconciler's pacing) handles long waits better than a sleep.
    ``deadline`` (a ``time.monotonic()`` value) stops retries before a Lambda timeout.
    """

    max_attempts: int = 1
    max_wait: float = 2.0
    base_backoff: float = 0.2
    deadline: Callable[[], float | None] = field(default=lambda: None)
    sleep: Callable[[float], None] = field(default=time.sleep)
    on_retry: Callable[[UpstreamError, float], None] | None = None

    def call(self, fn: Callable[[], T]) -> T:
        attempt = 1
        while True:
            try:
                return fn()
            except (ThrottledError, TransientError) as exc:
                wait = self._wait_for(exc, attempt)
                if wait is None:
                    raise
                if self.on_retry is not None:
                    self.on_retry(exc, wait)
                self.sleep(wait)
                attempt += 1

    def _wait_for(self, exc: UpstreamError, attempt: int) -> float | None:
        if attempt >= self.max_attempts:
            return None
        if isinstance(exc, ThrottledError) and exc.retry_after is not None:
            wait = exc.retry_after
        else:
            wait = self.base_backoff * (2 ** (attempt - 1))
        if wait > self.max_wait:
            return None
        deadline = self.deadline()
        if deadline is not None and time.monotonic() + wait >= deadline:
            return None
        return wait


NO_RETRY = RetryPolicy(max_attempts=1)
