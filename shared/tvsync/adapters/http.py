"""HTTP plumbing shared by the Okta and TeamViewer clients.

One ``httpx.Client`` (one connection pool) per client object, and the clients live for the
life of the Lambda container. Tokens are read through a callable on every request so a
rotated secret (cached for minutes by Powertools parameters) takes effect without a
redeploy, and the token never sits in a string that an exception could print.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

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
