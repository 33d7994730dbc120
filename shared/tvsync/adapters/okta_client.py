"""Reads the current state of Okta users and their app assignments.

The worker never trusts an event's payload: it asks Okta for the user and the user's
assignment to the TeamViewer app, and the reconciler walks whole lists. This client does
those reads and nothing else, and turns every failure into one of the error classes in
``tvsync.adapters.errors`` so the worker decides by type, never by status code.

A 404 on a single read is not an error here: a missing user means "deleted" and a missing
assignment means "unassigned", both of which the core turns into "deactivate". Because that
answer deactivates accounts, only Okta's own "resource not found" (``E0000007``) counts: a
404 page from a proxy or a mistyped org URL is an ``InvalidError``, never a mass offboarding.

Lists are walked by following ``Link: rel="next"`` [CORE] page by page until a page carries
none, so memory stays bounded by one page however large the org is. A short or even empty
page is not the end; only the missing link is. Because a walk that silently stops early
would make users look deleted, every way a walk can go wrong (a link out of the org, a
loop, endless empty pages, a link that changes the query) raises instead.
"""

from __future__ import annotations

import json
import time
from itertools import chain
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
from tvsync.models.okta import OktaAppUser, OktaUser, OktaUserStatus

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from types import TracebackType

    import httpx

SERVICE = "okta"

_Model = TypeVar("_Model", OktaUser, OktaAppUser)

#: Longest server-provided text copied into an exception: enough to diagnose, never a dump.
_MAX_DETAIL = 300

#: Empty pages in a row that still link to a next page before a walk is refused. One can be
#: legitimate (the rest of a page deleted while walking); an endless run would never finish.
_MAX_EMPTY_PAGES = 5

#: Query parameters that decide *which* items a list holds: a next link must carry them
#: unchanged, or the walk would silently continue through a different list.
_QUERY_DEFINING = ("filter", "search", "expand")

#: Page size of an email lookup: one page holds every match in practice.
_LOOKUP_PAGE_SIZE = 20


class OktaClient:
    """One pooled HTTP client for one Okta org, authenticated with an ``SSWS`` API token [CORE].

    ``token`` is called for every request, so a rotated secret is picked up without a new
    client. ``clock`` (epoch seconds) turns ``X-Rate-Limit-Reset`` into a wait; tests inject it.
    """

    def __init__(  # noqa: PLR0913 - the org and its token, then keyword-only transport options
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
        """The Okta user whose ``profile.email`` is this address, ignoring case; ``None`` if none.

        This answer keeps a TeamViewer account from being treated as an orphan, so a miss
        must really mean "no such Okta user". Two reads, the second only when the first
        did not find the owner:

        1. the login: one cheap read of current data; Okta matches logins
           case-insensitively and the product requires Email as the username format. A user
           found by login whose ``profile.email`` is another address is not the owner —
           someone else's login can equal this address — so the lookup goes on, and so it
           does for a DEPROVISIONED owner, in case a live user shares the address;
        2. ``search`` on ``profile.email``: its string values are case-insensitive and its
           results include DEPROVISIONED users [SPEC]. ``filter`` would not do: it compares
           values case-sensitively [SPEC], so ``frank.fischer@…`` would miss the live user
           ``Frank.Fischer@…`` and the account would pass for an orphan.

        ``search`` reads an eventually consistent index [SPEC]; the login read covers a
        user created a moment ago. Among several users sharing the address, one that is not
        DEPROVISIONED wins.
        """
        address = email.strip()
        if not address:
            raise ValueError("email must not be empty")
        wanted = address.lower()

        def owns(user: OktaUser) -> bool:
            return user.profile.email.strip().lower() == wanted

        by_login = self.get_user(address)
        owner = by_login if by_login is not None and owns(by_login) else None
        if owner is not None and owner.status is not OktaUserStatus.DEPROVISIONED:
            return owner
        expression = f"profile.email eq {_string_literal(address)}"
        searched = (u for u in self.iter_users(page_size=_LOOKUP_PAGE_SIZE, search=expression) if owns(u))
        return _preferred(chain((owner,) if owner is not None else (), searched))

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

    def iter_users(
        self, *, page_size: int = 200, filter: str | None = None, search: str | None = None
    ) -> Iterator[OktaUser]:
        """Every user, or those matching ``filter`` or ``search`` (Okta refuses both at once).

        Okta leaves DEPROVISIONED users out of a plain list, and includes them when a
        ``filter`` or ``search`` is given [SPEC]. ``filter`` compares values
        case-sensitively and reads current data; ``search`` ignores the case of values
        and reads an eventually consistent index [SPEC].
        """
        if filter is not None and search is not None:
            raise ValueError("Okta accepts filter or search, not both")
        params = {"limit": _limit(page_size)}
        if filter is not None:
            params["filter"] = filter
        if search is not None:
            params["search"] = search
        for item in self._paged("list_users", "/api/v1/users", params):
            yield _parse(OktaUser, item, "list_users")

    # ------------------------------------------------------------------ plumbing

    def _get_one(self, operation: str, path: str) -> dict[str, Any] | None:
        def attempt() -> dict[str, Any] | None:
            response = self._exchange(operation, path, None, not_found_ok=True)
            return None if response is None else _json_object(response, operation)

        return self._retry.call(attempt)

    def _paged(self, operation: str, path: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Yield items page by page, each page one retried exchange, following rel="next" [CORE].

        The walk ends only when a page has no next link — a short page is not the end. A
        next link seen before (a loop) or more than ``_MAX_EMPTY_PAGES`` empty pages in a
        row that still link onwards raise ``InvalidError``: neither would ever finish.
        """
        url: str = path
        query: dict[str, str] | None = params
        seen: set[str] = set()
        empty_in_a_row = 0
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
            following = self._next_link(response, operation, params)
            if following is None:
                return
            if following in seen:
                raise InvalidError(SERVICE, operation, "pagination loops back to a page already read")
            empty_in_a_row = 0 if body else empty_in_a_row + 1
            if empty_in_a_row > _MAX_EMPTY_PAGES:
                raise InvalidError(
                    SERVICE, operation, f"pagination returned {empty_in_a_row} empty pages in a row"
                )
            seen.add(following)
            url, query = following, None

    def _next_link(self, response: httpx.Response, operation: str, params: dict[str, str]) -> str | None:
        """The rel="next" URL, checked, with any parameter of the first request it dropped restored.

        Refused if it leaves the org (the token must never go elsewhere) or if it changes a
        parameter that decides the list's content (``filter``, ``search``, ``expand``): the
        walk would go on through a different list. Okta's next links repeat the request's
        parameters (the [CORE] example keeps ``limit``); one that drops a parameter gets it
        back, so a search page is never followed by a page of everyone. The server's values
        win for the rest (it may clamp ``limit``).
        """
        target = response.links.get("next", {}).get("url")
        if not target:
            return None
        url = self._http.base_url.join(target)
        base = self._http.base_url
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            raise InvalidError(SERVICE, operation, "pagination link points outside the Okta org")
        for name in _QUERY_DEFINING:
            linked = url.params.get_list(name)
            if linked and linked != ([params[name]] if name in params else []):
                raise InvalidError(SERVICE, operation, f"pagination link changes the {name} parameter")
        missing = {name: value for name, value in params.items() if name not in url.params}
        if missing:
            url = url.copy_merge_params(missing)
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


def _string_literal(value: str) -> str:
    """``value`` as a string literal of Okta's filter and search expressions: a JSON string [CORE]."""
    return json.dumps(value, ensure_ascii=False)


def _preferred(users: Iterable[OktaUser]) -> OktaUser | None:
    """The first user not DEPROVISIONED, else the first one; reads further only while needed."""
    fallback: OktaUser | None = None
    for user in users:
        if user.status is not OktaUserStatus.DEPROVISIONED:
            return user
        fallback = fallback or user
    return fallback


def _segment(value: str, name: str) -> str:
    """One path segment, escaped; an empty id would silently turn a read into a list."""
    if not value:
        raise ValueError(f"{name} must not be empty")
    return quote(value, safe="")


def _limit(page_size: int) -> str:
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    return str(page_size)
