"""Reads the current state of Okta users, their app assignments and their groups.

The worker never trusts an event's payload: it asks Okta for the user and the user's
assignment to the TeamViewer app — and, for pushed groups, the group, its members and the
user's groups — and the reconciler walks whole lists. This client does those reads and
nothing else, and turns every failure into one of the error classes in
``tvsync.adapters.errors`` so the worker decides by type, never by status code.

A 404 on a single read is not an error here: a missing user means "deleted", a missing
assignment "unassigned" and a missing group "deleted", which the core turns into
"deactivate" or "release the group". Because that answer deactivates accounts and empties
groups, only Okta's own "resource not found" (``E0000007``) counts: a 404 page from a proxy
or a mistyped org URL is an ``InvalidError``, never a mass offboarding. The same holds for
the lists of one user's groups and one group's members: Okta's 404 for the first page means
the user or group is gone, and so belongs to or holds nobody; a 404 on a later page means it
went while being read, and the walk is refused as incomplete (``TransientError``: a fresh
read will see it gone).

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

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tvsync.adapters.errors import (
    AuthError,
    InvalidError,
    ThrottledError,
    TransientError,
    UpstreamError,
)
from tvsync.adapters.http import (
    DEFAULT_TIMEOUT,
    TokenProvider,
    new_http_client,
    rate_limit_reset_seconds,
    retry_after_seconds,
    send,
)
from tvsync.adapters.okta_auth import AuthStatus, OktaAuthorizer
from tvsync.adapters.okta_search import email_searches
from tvsync.adapters.retry import NO_RETRY, RetryPolicy
from tvsync.models.groups import OktaGroup
from tvsync.models.okta import OktaAppUser, OktaUser, OktaUserStatus
from tvsync.models.okta_page import OktaPage

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Iterator
    from types import TracebackType

SERVICE = "okta"


class OktaGroupProfile(BaseModel):
    """The part of a group's profile the product reads: its name, which names the TeamViewer group."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(min_length=1)


class OktaGroupBody(BaseModel):
    """A Group as ``GET /api/v1/groups/{id}`` sends it [SPEC], reduced to what pushing needs.

    The name sits in ``profile`` whatever the group's ``objectClass`` (an Okta group's
    ``okta:user_group`` profile or an imported directory group's); ``to_group`` flattens it
    into the product's ``OktaGroup``.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    type: str | None = None
    profile: OktaGroupProfile

    def to_group(self) -> OktaGroup:
        return OktaGroup(id=self.id, name=self.profile.name, type=self.type)


_Model = TypeVar("_Model", OktaUser, OktaAppUser, OktaGroupBody)

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

#: Page size of a batched email lookup: Okta's maximum [SPEC], above one search's clause cap,
#: so one page holds every match in practice.
_BATCH_LOOKUP_PAGE_SIZE = 200


class _Authorize(httpx.Auth):
    """Lets the authorizer set each request's ``Authorization`` (and ``DPoP``) headers as it is sent."""

    def __init__(self, authorizer: OktaAuthorizer) -> None:
        self._authorizer = authorizer

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self._authorizer.authorize(request)
        yield request


class OktaClient:
    """One pooled HTTP client for one Okta org, authenticated by what its secret holds.

    ``auth`` is an ``OktaAuthorizer`` (``tvsync.adapters.okta_auth``), or the secret's
    provider, which gets one with the base scopes: an ``SSWS`` API token [CORE] or a service
    app's key (OAuth 2.0, ``private_key_jwt``, DPoP). The secret is read for every request,
    so a rotated one is picked up without a new client. A 401 to a service app's token is
    answered by one retry with a new token (or the nonce the server asked for). ``clock``
    (epoch seconds) turns ``X-Rate-Limit-Reset`` into a wait and dates tokens; tests inject it.
    """

    def __init__(  # noqa: PLR0913 - the org and its credentials, then keyword-only transport options
        self,
        org_url: str,
        auth: OktaAuthorizer | TokenProvider,
        *,
        retry: RetryPolicy = NO_RETRY,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(auth, OktaAuthorizer):
            auth = OktaAuthorizer(org_url, auth, transport=transport, timeout=timeout, clock=clock)
        self.authorizer = auth
        self._http = new_http_client(org_url, _Authorize(auth), timeout=timeout, transport=transport)
        self._retry = retry
        self._clock = clock

    def close(self) -> None:
        self._http.close()
        self.authorizer.close()

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

    def get_group(self, group_id: str) -> OktaGroup | None:
        """The group as Okta has it now; ``None`` when Okta no longer has it (deleted)."""
        path = f"/api/v1/groups/{_segment(group_id, 'group_id')}"
        body = self._get_one("get_group", path)
        return None if body is None else _parse(OktaGroupBody, body, "get_group").to_group()

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

    def find_by_emails(self, emails: Iterable[str]) -> dict[str, OktaUser]:
        """The Okta owner of each address, by lower-cased address; addresses nobody owns are absent.

        The reconciler's lookup of many unclaimed accounts at once: ``search`` with several
        ``profile.email eq`` clauses joined by ``or``, as many as Okta's query limits allow
        (``tvsync.adapters.okta_search``), each search walked to its last page like any list.
        ``search`` ignores the case of values and includes DEPROVISIONED users [SPEC]; a
        user is kept only for an address it really has (ignoring case), and among several
        users sharing one, one that is not DEPROVISIONED wins — as in ``find_by_email``.

        Unlike ``find_by_email`` there is no login read first: that read covers a user
        created a moment ago, whom ``search``'s eventually consistent index may not hold
        yet [SPEC], at one call per address. Here a miss only makes the account an orphan
        candidate, and the worker asks ``find_by_email`` again before it deactivates one.
        """
        found: dict[str, list[OktaUser]] = {}
        for expression, wanted in email_searches(emails):
            for user in self.iter_users(page_size=_BATCH_LOOKUP_PAGE_SIZE, search=expression):
                key = user.profile.email.strip().lower()
                if key in wanted:
                    found.setdefault(key, []).append(user)
        owners = {key: _preferred(users) for key, users in found.items()}
        return {key: owner for key, owner in owners.items() if owner is not None}

    def check(self) -> None:
        """Prove the org URL and token work with the cheapest authenticated read; raise otherwise."""
        self._retry.call(lambda: self._exchange("check", "/api/v1/users", {"limit": "1"}))

    def auth_status(self) -> AuthStatus:
        """How the secret authenticates and, for a service app, the scopes Okta granted and DPoP."""
        return self._retry.call(self.authorizer.status)

    # ------------------------------------------------------------------ lists

    def iter_app_users(self, app_id: str, *, page_size: int = 200) -> Iterator[tuple[OktaAppUser, OktaUser]]:
        """Every assignment to ``app_id`` with its user, embedded by ``expand=user`` [SPEC]."""
        path = f"/api/v1/apps/{_segment(app_id, 'app_id')}/users"
        for item in self._paged("list_app_users", path, {"expand": "user", "limit": _limit(page_size)}):
            yield _app_user(item)

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

    def iter_app_user_pages(
        self, app_id: str, *, page_size: int = 200, cursor: str | None = None
    ) -> Iterator[OktaPage[tuple[OktaAppUser, OktaUser]]]:
        """``iter_app_users`` a page at a time, each with the cursor to resume after it.

        ``cursor``: a ``next_cursor`` an earlier walk of the same list stopped at; the walk
        starts there, after the checks a next link gets (``tvsync.models.okta_page``).
        """
        path = f"/api/v1/apps/{_segment(app_id, 'app_id')}/users"
        params = {"expand": "user", "limit": _limit(page_size)}
        for body, following in self._pages("list_app_users", path, params, cursor=cursor):
            yield OktaPage([_app_user(item) for item in body], following)

    def iter_user_pages(
        self, *, page_size: int = 200, filter: str | None = None, cursor: str | None = None
    ) -> Iterator[OktaPage[OktaUser]]:
        """``iter_users`` (with an optional ``filter``) a page at a time, resumable like
        ``iter_app_user_pages``."""
        params = {"limit": _limit(page_size)}
        if filter is not None:
            params["filter"] = filter
        for body, following in self._pages("list_users", "/api/v1/users", params, cursor=cursor):
            yield OktaPage([_parse(OktaUser, item, "list_users") for item in body], following)

    def iter_group_users(self, group_id: str, *, page_size: int = 200) -> Iterator[OktaUser]:
        """Every member of the group, whatever their status: DEPROVISIONED users stay members [DEACT-KB].

        Okta's default page is 1000 members, the spec recommends 200 [SPEC]. A group Okta
        does not have (deleted) has no members; see the module docstring for a 404 mid-walk.
        """
        path = f"/api/v1/groups/{_segment(group_id, 'group_id')}/users"
        for item in self._paged("list_group_users", path, {"limit": _limit(page_size)}, gone_ok=True):
            yield _parse(OktaUser, item, "list_group_users")

    def iter_user_groups(self, user_id: str) -> Iterator[OktaGroup]:
        """Every group the user (by id or login) is in, the built-in ``Everyone`` included [SPEC].

        The spec lists no parameters for this read, yet Okta pages it (200 groups a page)
        with ``Link`` headers [JAVA-SDK]: the walk follows them like any other list, with
        Okta's own page size. A user Okta does not have (deleted) is in no group.
        """
        path = f"/api/v1/users/{_segment(user_id, 'user_id')}/groups"
        for item in self._paged("list_user_groups", path, {}, gone_ok=True):
            yield _parse(OktaGroupBody, item, "list_user_groups").to_group()

    # ------------------------------------------------------------------ plumbing

    def _get_one(self, operation: str, path: str) -> dict[str, Any] | None:
        def attempt() -> dict[str, Any] | None:
            response = self._exchange(operation, path, None, not_found_ok=True)
            return None if response is None else _json_object(response, operation)

        return self._retry.call(attempt)

    def _paged(
        self, operation: str, path: str, params: dict[str, str], *, gone_ok: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Every item of the list, page by page (``_pages``)."""
        for body, _following in self._pages(operation, path, params, gone_ok=gone_ok):
            yield from body

    def _pages(
        self,
        operation: str,
        path: str,
        params: dict[str, str],
        *,
        gone_ok: bool = False,
        cursor: str | None = None,
    ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """Yield each page's items and its checked next link, each page one retried exchange,
        following rel="next" [CORE].

        The walk ends only when a page has no next link — a short page is not the end. A
        next link seen before (a loop) or more than ``_MAX_EMPTY_PAGES`` empty pages in a
        row that still link onwards raise ``InvalidError``: neither would ever finish.

        ``gone_ok``: the list belongs to one user or group, and Okta's 404 (``E0000007``)
        for its first page means that owner is gone — an empty list. The same 404 on a
        later page means it went mid-walk: what was yielded is not the whole list, and the
        walk raises ``TransientError`` rather than end as if it were.

        ``cursor``: a next link an earlier walk of this list stopped at
        (``tvsync.models.okta_page``); the walk starts there once it passes the checks
        of a next link and names the same list.
        """
        url: str = path
        query: dict[str, str] | None = params
        if cursor is not None:
            url, query = self._checked_link(cursor, operation, params, path=path), None
        seen: set[str] = set()
        empty_in_a_row = 0
        while True:

            def attempt(url: str = url, query: dict[str, str] | None = query) -> httpx.Response | None:
                return self._exchange(operation, url, query, not_found_ok=gone_ok)

            answered = self._retry.call(attempt)
            if answered is None:  # Okta's own 404, only asked for with gone_ok
                if not seen:
                    return
                raise TransientError(
                    SERVICE, operation, "the list's owner was deleted while it was read", status=404
                )
            response = answered
            body = _json(response, operation)
            if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
                raise InvalidError(
                    SERVICE, operation, "expected a JSON array of objects", status=response.status_code
                )
            try:
                following = self._next_link(response, operation, params)
            except InvalidError:
                yield body, None  # the page was read; the walk fails only where it cannot go on
                raise
            yield body, following
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
        return self._checked_link(target, operation, params)

    def _checked_link(
        self, target: str, operation: str, params: dict[str, str], *, path: str | None = None
    ) -> str:
        """``target`` as ``_next_link`` accepts it; with ``path``, it must also name that list."""
        url = self._http.base_url.join(target)
        base = self._http.base_url
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            raise InvalidError(SERVICE, operation, "pagination link points outside the Okta org")
        if path is not None and url.path != base.join(path).path:
            raise InvalidError(SERVICE, operation, "pagination cursor belongs to another list")
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
        response = self._send(operation, url, params)
        if response.is_success:
            return response
        if response.status_code == 404 and not_found_ok and _error_code(response) == "E0000007":
            return None
        hint = self.authorizer.refusal(response) if response.status_code in (401, 403) else None
        raise _classify(response, operation, now=self._clock(), hint=hint)

    def _send(self, operation: str, url: str, params: dict[str, str] | None) -> httpx.Response:
        """One GET; a 401 the authorizer can answer (a new token, a server nonce) is sent once more."""
        request = self._http.build_request("GET", url, params=params)
        response = send(self._http, SERVICE, operation, request)
        if response.status_code == 401 and self.authorizer.retry_refused(request, response):
            request = self._http.build_request("GET", url, params=params)
            response = send(self._http, SERVICE, operation, request)
        self.authorizer.observe(response)
        return response


def _classify(
    response: httpx.Response, operation: str, *, now: float, hint: str | None = None
) -> UpstreamError:
    """Map a failed response to the error class that carries the worker's next step.

    Only the status and Okta's ``errorCode``/``errorSummary`` are used; a garbled or
    non-JSON body degrades to the status line, never to an exception of its own. ``hint``
    is what a 401 or 403 means for a service app (``OktaAuthorizer.refusal``).
    """
    status = response.status_code
    detail = _error_detail(response)
    if hint:
        detail = f"{hint} ({detail})"
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


def _app_user(item: dict[str, Any]) -> tuple[OktaAppUser, OktaUser]:
    """An assignment listed with ``expand=user`` and the user embedded in it [SPEC]."""
    embedded = item.get("_embedded")
    user = embedded.get("user") if isinstance(embedded, dict) else None
    if user is None:
        raise InvalidError(SERVICE, "list_app_users", "assignment without the embedded user")
    return _parse(OktaAppUser, item, "list_app_users"), _parse(OktaUser, user, "list_app_users")


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
