"""Reads the current state of Okta users and their app assignments.

The worker never trusts an event's payload: it asks Okta for the user and the user's
assignment to the TeamViewer app, and the reconciler walks whole lists. This client does
those reads and nothing else, and turns every failure into one of the error classes in
``tvsync.adapters.errors`` so the worker decides by type, never by status code.

A 404 on a single read is not an error here: a missing user means "deleted" and a missing
assignment means "unassigned", both of which the core turns into "deactivate". Because that
answer deactivates accounts, only Okta's own "resource not found" (``E0000007``) counts: a
404 page from a proxy or a mistyped org URL is an ``InvalidError``, never a mass offboarding. Lists are
walked by following ``Link: rel="next"`` [CORE] page by page, so memory stays bounded by
one page however large the org is.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import quote

from pydantic import ValidationError

from tvsync.adapters.errors import (
    AuthError,
    InvalidError,
    ThrottledError,
    TransientError,
    UpstreamError,
)
from tvsync.adapters.http import (
    DEFAULT_TIMEOUT,
    HeaderTokenAuth,
    TokenProvider,
    new_http_client,
    rate_limit_reset_seconds,
    retry_after_seconds,
    send,
)
from tvsync.adapters.retry import NO_RETRY, RetryPolicy
from tvsync.models.okta import OktaAppUser, OktaUser

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import TracebackType

    import httpx

SERVICE = "okta"

_Model = TypeVar("_Model", OktaUser, OktaAppUser)

#: Longest server-provided text copied into an exception: enough to diagnose, never a dump.
_MAX_DETAIL = 300


class OktaClient:
    """One pooled HTTP client for one Okta org, authenticated with an ``SSWS`` API token [CORE].

    ``token`` is called for every request, so a rotated secret is picked up without a new
    client. ``clock`` (epoch seconds) turns ``X-Rate-Limit-Reset`` into a wait; tests inject it.
    """

    def __init__(
        self,
        org_url: str,
        token: TokenProvider,
        *,
        retry: RetryPolicy = NO_RETRY,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = new_http_client(
            org_url, HeaderTokenAuth("SSWS", token), timeout=timeout, transport=transport
        )
        self._retry = retry
        self._clock = clock

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ single reads

    def get_user(self, user_id: str) -> OktaUser | None:
        """The user as Okta has it now (by id or login); ``None`` when the user no longer exists."""
        path = f"/api/v1/users/{_segment(user_id, 'user_id')}"
        body = self._get_one("get_user", path)
        return None if body is None else _parse(OktaUser, body, "get_user")

    def get_app_user(self, app_id: str, user_id: str) -> OktaAppUser | None:
        """The user's assignment to ``app_id``; ``None`` when the user is not assigned."""
        path = f"/api/v1/apps/{_segment(app_id, 'app_id')}/users/{_segment(user_id, 'user_id')}"
        body = self._get_one("get_app_user", path)
        return None if body is None else _parse(OktaAppUser, body, "get_app_user")

    def find_by_email(self, email: str) -> OktaUser | None:
        """The Okta user whose email this is, DEPROVISIONED ones included; ``None`` if none.

        Tries the login first (one read; the product requires Email as the username
        format, and Okta matches logins case-insensitively), then ``profile.email`` with a
        filter, which also finds deprovisioned users. Only a user whose ``profile.email``
        really is this address (ignoring case) counts.
        """
        wanted = email.strip().lower()
        by_login = self.get_user(email.strip())
        if by_login is not None and by_login.profile.email.strip().lower() == wanted:
            return by_login
        quoted = email.strip().replace("\\", "\\\\").replace('"', '\\"')
        for user in self.iter_users(page_size=10, filter=f'profile.email eq "{quoted}"'):
            if user.profile.email.strip().lower() == wanted:
                return user
        return None

    def check(self) -> None:
        """Prove the org URL and token work with the cheapest authenticated read; raise otherwise."""
        self._retry.call(lambda: self._exchange("check", "/api/v1/users", {"limit": "1"}))

    # ------------------------------------------------------------------ lists

    def iter_app_users(self, app_id: str, *, page_size: int = 200) -> Iterator[tuple[OktaAppUser, OktaUser]]:
        """Every assignment to ``app_id`` with its user, embedded by ``expand=user`` [SPEC]."""
        path = f"/api/v1/apps/{_segment(app_id, 'app_id')}/users"
        for item in self._paged("list_app_users", path, {"expand": "user", "limit": _limit(page_size)}):
            embedded = item.get("_embedded")
            user = embedded.get("user") if isinstance(embedded, dict) else None
            if user is None:
                raise InvalidError(SERVICE, "list_app_users", "assignment without the embedded user")
            yield _parse(OktaAppUser, item, "list_app_users"), _parse(OktaUser, user, "list_app_users")

    def iter_users(self, *, page_size: int = 200, filter: str | None = None) -> Iterator[OktaUser]:
        """Every user; Okta leaves DEPROVISIONED users out unless ``filter`` is given [SPEC]."""
        params = {"limit": _limit(page_size)}
        if filter is not None:
            params["filter"] = filter
        for item in self._paged("list_users", "/api/v1/users", params):
            yield _parse(OktaUser, item, "list_users")

    def iter_group_users(self, group_id: str, *, page_size: int = 200) -> Iterator[OktaUser]:
        path = f"/api/v1/groups/{_segment(group_id, 'group_id')}/users"
        for item in self._paged("list_group_users", path, {"limit": _limit(page_size)}):
            yield _parse(OktaUser, item, "list_group_users")

    # ------------------------------------------------------------------ plumbing

    def _get_one(self, operation: str, path: str) -> dict[str, Any] | None:
        def attempt() -> dict[str, Any] | None:
            response = self._exchange(operation, path, None, not_found_ok=True)
            return None if response is None else _json_object(response, operation)

        return self._retry.call(attempt)

    def _paged(self, operation: str, path: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Yield items page by page, each page one retried exchange, following rel="next" [CORE]."""
        url: str = path
        query: dict[str, str] | None = params
        seen: set[str] = set()
        while True:

            def attempt(url: str = url, query: dict[str, str] | None = query) -> httpx.Response:
                response = self._exchange(operation, url, query)
                assert response is not None  # only not_found_ok exchanges answer None
                return response

            response = self._retry.call(attempt)
            body = _json(response, operation)
            if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
                raise InvalidError(
                    SERVICE, operation, "expected a JSON array of objects", status=response.status_code
                )
            yield from body
            following = self._next_link(response, operation)
            if following is None:
                return
            if following in seen:
                raise InvalidError(SERVICE, operation, "pagination loops back to a page already read")
            seen.add(following)
            url, query = following, None

    def _next_link(self, response: httpx.Response, operation: str) -> str | None:
        """The rel="next" URL, refused if it leaves the org: the token must never go elsewhere."""
        target = response.links.get("next", {}).get("url")
        if not target:
            return None
        url = self._http.base_url.join(target)
        base = self._http.base_url
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            raise InvalidError(SERVICE, operation, "pagination link points outside the Okta org")
        return str(url)

    def _exchange(
        self, operation: str, url: str, params: dict[str, str] | None, *, not_found_ok: bool = False
    ) -> httpx.Response | None:
        request = self._http.build_request("GET", url, params=params)
        response = send(self._http, SERVICE, operation, request)
        if response.is_success:
            return response
        if response.status_code == 404 and not_found_ok and _error_code(response) == "E0000007":
            return None
        raise _classify(response, operation, now=self._clock())


def _classify(response: httpx.Response, operation: str, *, now: float) -> UpstreamError:
    """Map a failed response to the error class that carries the worker's next step.

    Only the status and Okta's ``errorCode``/``errorSummary`` are used; a garbled or
    non-JSON body degrades to the status line, never to an exception of its own.
    """
    status = response.status_code
    detail = _error_detail(response)
    if status == 401:
        return AuthError(SERVICE, operation, f"token refused: {detail}", status=status)
    if status == 403:
        return AuthError(SERVICE, operation, f"token lacks a permission: {detail}", status=status)
    if status == 429:
        wait = rate_limit_reset_seconds(response.headers.get("X-Rate-Limit-Reset"), now=now)
        if wait is None:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
        return ThrottledError(SERVICE, operation, f"rate limited: {detail}", status=status, retry_after=wait)
    if status >= 500:
        return TransientError(SERVICE, operation, f"server error: {detail}", status=status)
    return InvalidError(SERVICE, operation, f"request refused: {detail}", status=status)


def _error_code(response: httpx.Response) -> str | None:
    body = _error_body(response)
    code = body.get("errorCode") if body else None
    return code if isinstance(code, str) else None


def _error_body(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _error_detail(response: httpx.Response) -> str:
    body = _error_body(response)
    if body is not None:
        code, summary = body.get("errorCode"), body.get("errorSummary")
        parts = [str(part) for part in (code, summary) if isinstance(part, str) and part]
        if parts:
            return " ".join(parts)[:_MAX_DETAIL]
    return response.reason_phrase or f"HTTP {response.status_code}"


def _json(response: httpx.Response, operation: str) -> Any:
    """A 2xx body that is not JSON is a broken proxy or a truncated answer: worth a retry."""
    try:
        return response.json()
    except ValueError:
        raise TransientError(
            SERVICE, operation, "unreadable response body", status=response.status_code
        ) from None


def _json_object(response: httpx.Response, operation: str) -> dict[str, Any]:
    body = _json(response, operation)
    if not isinstance(body, dict):
        raise InvalidError(SERVICE, operation, "expected a JSON object", status=response.status_code)
    return body


def _parse(model: type[_Model], body: dict[str, Any], operation: str) -> _Model:
    """Validate into a model; the error names the fields, never their values (PII)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in error["loc"]) for error in exc.errors()})
        raise InvalidError(
            SERVICE, operation, f"unexpected {model.__name__} shape: {', '.join(fields)}"
        ) from None


def _segment(value: str, name: str) -> str:
    """One path segment, escaped; an empty id would silently turn a read into a list."""
    if not value:
        raise ValueError(f"{name} must not be empty")
    return quote(value, safe="")


def _limit(page_size: int) -> str:
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    return str(page_size)
