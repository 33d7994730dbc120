"""HTTP plumbing shared by the Okta and TeamViewer clients.

One ``httpx.Client`` (one connection pool) per client object, and the clients live for the
life of the Lambda container. Tokens are read through a callable on every request so a
rotated secret (cached for minutes by Powertools parameters) takes effect without a
redeploy, and the token never sits in a string that an exception could print.

``RequestRate`` and ``RateLimitedTransport`` bound how fast one process sends to an upstream,
however many threads share the client: the worker converges several users at once, and
TeamViewer's limit is the token's, not a thread's. Any ``RequestGate`` can stand in for
``RequestRate`` — the worker's is shared by all its instances
(``tvsync.adapters.request_schedule``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

from tvsync.adapters.errors import TransientError

#: Connect fast, read with patience for a slow API, never hang a Lambda.
DEFAULT_TIMEOUT = httpx.Timeout(connect=3.0, read=10.0, write=10.0, pool=5.0)

TokenProvider = Callable[[], str]


class HeaderTokenAuth(httpx.Auth):
    """Sets ``Authorization: <scheme> <token>`` from a provider, per request."""

    def __init__(self, scheme: str, token: TokenProvider) -> None:
        self._scheme = scheme
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"{self._scheme} {self._token()}"
        yield request


class RequestGate(Protocol):
    """Makes a request wait for its turn: ``acquire`` returns the seconds waited."""

    def acquire(self) -> float: ...


class RequestRate:
    """A token bucket shared by threads: on average at most ``per_second`` requests a second.

    Up to ``burst`` requests (default: one second's worth, at least 1) may go at once after
    a quiet spell; beyond that each request waits for its slot. Over any interval of ``T``
    seconds at most ``burst + per_second * T`` requests are let through, whatever the number
    of threads — the bound an instance keeps to while the worker's shared schedule
    (``tvsync.adapters.request_schedule``) cannot be reached.

    Slots are handed out in the order they are asked for, under a lock, and the wait happens
    outside it, so a waiting thread holds up no one but the threads queued behind it.
    ``clock`` and ``sleep`` are ``time.monotonic`` and ``time.sleep`` unless a test fakes them.
    """

    def __init__(
        self,
        per_second: float,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        if burst is not None and burst < 1:
            raise ValueError("burst must be at least 1")
        self.per_second = per_second
        self.burst = burst if burst is not None else max(1, int(per_second))
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._updated = clock()

    def __repr__(self) -> str:
        return f"RequestRate(per_second={self.per_second:g}, burst={self.burst})"

    def acquire(self) -> float:
        """Wait for this request's slot; returns the seconds waited (0 when one was free)."""
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.per_second)
            self._updated = now
            self._tokens -= 1.0  # reserved now; negative means queued behind earlier reservations
            wait = -self._tokens / self.per_second if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


class RateLimitedTransport(httpx.BaseTransport):
    """An httpx transport that takes a ``RequestGate`` slot before every request it sends.

    Every attempt counts, retries included, since the server counts them too. The wait
    happens before the request reaches ``inner``, so it never eats into httpx's own
    connect, read or pool timeouts.
    """

    def __init__(self, rate: RequestGate, inner: httpx.BaseTransport | None = None) -> None:
        self.rate = rate
        self._inner = inner if inner is not None else httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.rate.acquire()
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def new_http_client(
    base_url: str,
    auth: httpx.Auth,
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
    user_agent: str = "okta-teamviewer-sync",
) -> httpx.Client:
    """A pooled client for one upstream; ``transport`` lets tests plug in an emulator."""
    return httpx.Client(
        base_url=base_url.rstrip("/"),
        auth=auth,
        timeout=timeout,
        transport=transport,
        headers={"Accept": "application/json", "User-Agent": user_agent},
        follow_redirects=False,
    )


def send(client: httpx.Client, service: str, operation: str, request: httpx.Request) -> httpx.Response:
    """Send ``request``; transport failures become ``TransientError`` without leaking headers."""
    try:
        return client.send(request)
    except httpx.TimeoutException as exc:
        raise TransientError(service, operation, f"timed out ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise TransientError(service, operation, f"connection failed ({type(exc).__name__})") from None


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` header: delta-seconds or an HTTP date. ``None`` if absent/garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def rate_limit_reset_seconds(value: str | None, *, now: float) -> float | None:
    """Parse Okta's ``X-Rate-Limit-Reset`` (UTC epoch seconds) into a wait from ``now``."""
    if not value:
        return None
    try:
        return max(0.0, float(value) - now)
    except ValueError:
        return None
