"""A faithful, in-memory fake of the slice of Okta's management API the product reads.

The worker is level-triggered: for every event it re-reads the user and the user's
assignment to the TeamViewer app, and the reconciler walks whole lists. So the emulator
has to be right about exactly those reads — the object shapes, the 404 bodies that mean
"gone" or "unassigned", cursor paging with ``Link`` headers, which users a list hides, the
``SSWS`` token and the rate-limit headers — and nothing else. Every behaviour carries the
tag of the source it rests on (docs/sources.md):

- [SPEC] Okta management OpenAPI spec; [CORE] core Okta API reference (auth, pagination,
  errors, filter expressions); [RL] rate-limit reference.

It is meant to be as strict as Okta, never kinder: a client that only works against a
lenient fake (a ``filter`` that ignores case, a query Okta refuses, an error body Okta never
sends) must fail here first.

Where Okta's behaviour is not pinned down by those sources the emulator picks something
plausible, says so in the docstring, and — where a test might need the other answer —
makes it a knob.
"""

from __future__ import annotations

import copy
import hmac
import json
import math
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode

from tvsync.emulators.http import EmulatorApp, EmulatorRequest, EmulatorResponse, FaultPolicy, InjectedFault
from tvsync.models.okta import OktaUserStatus

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # ASCII order: sorts like numbers

#: Statuses in which Okta has not (yet) recorded an activation timestamp [SPEC].
_NOT_ACTIVATED = {OktaUserStatus.STAGED, OktaUserStatus.PROVISIONED}

#: One ``<attr> <op> "<JSON string>"`` clause, and the logical operator after it [CORE].
_CLAUSE = re.compile(
    r'\s*(?P<attr>[A-Za-z][A-Za-z0-9_.]*)\s+(?P<op>[A-Za-z]+)\s+(?P<literal>"(?:[^"\\]|\\.)*")\s*'
)
_JOINER = re.compile(r"(?P<joiner>and|or)\s+", re.IGNORECASE)

#: The only properties ``filter`` accepts on users [SPEC]; ``lastUpdated`` is not emulated.
_FILTER_ATTRIBUTES = frozenset(
    {"status", "id", "profile.login", "profile.email", "profile.firstName", "profile.lastName"}
)

#: Okta's error code and summary for an injected server error, from Okta's published error-code
#: list; it has no code for 502, which therefore answers like a 500 (``E0000009``).
_SERVER_ERRORS: Mapping[int, tuple[str, str]] = {
    500: ("E0000009", "Internal Server Error"),
    503: ("E0000010", "Service is in read only mode"),
}


def _base62(number: int, width: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
    return digits.rjust(width, "0")


def _timestamp(epoch: float) -> str:
    """Okta's timestamp format: UTC, millisecond precision, ``Z`` suffix [SPEC]."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _profile(login: str, email: str, first_name: str | None, last_name: str | None) -> dict[str, Any]:
    """A seeded user's profile: ``displayName`` is the two names joined, None without either."""
    return {
        "login": login,
        "email": email,
        "firstName": first_name,
        "lastName": last_name,
        "displayName": " ".join(p for p in (first_name, last_name) if p) or None,
    }


@dataclass(frozen=True)
class OktaRateLimit:
    """One fixed-window request bucket for the whole emulated org.

    Okta keeps a bucket per endpoint family, mostly per minute, and publishes the numbers
    only in the Admin Console [RL]; one shared bucket is enough to exercise a client's
    throttling path. Windows are aligned to multiples of ``window_seconds`` on the
    emulator's clock, and every request that reaches the app counts — including ones
    refused for a bad token (Okta does not document whether those count).
    """

    limit: int
    window_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_seconds <= 0:
            raise ValueError("rate limit needs limit >= 1 and window_seconds > 0")


@dataclass(frozen=True)
class CallRecord:
    """One request as the emulator saw it.

    ``status`` is what the app answered, ``None`` when a fault struck before it ran; a
    record with both a ``status`` and a ``fault`` is a request the app served but whose
    answer the client never received (``fault.after_apply``).
    """

    method: str
    path: str
    query: Mapping[str, str]
    status: int | None
    fault: InjectedFault | None
    time: float


@dataclass(frozen=True)
class _ListLimits:
    default: int
    maximum: int


class _BadQuery(ValueError):
    """A query parameter the emulator refuses with a 400."""

    def __init__(self, code: str, summary: str) -> None:
        super().__init__(summary)
        self.code = code
        self.summary = summary


class OktaEmulator(EmulatorApp):
    """Okta's user and app-assignment reads, with seeding helpers.

    Unpinned choices (no source above pins them; change the class attributes if a test
    needs otherwise):

    - ``LIST_LIMITS``: defaults are [SPEC] (users 200, app users 50 / max 500); the users
      maximum is not documented, so it equals the default. A larger ``limit`` is clamped,
      a non-positive or non-numeric one is a 400.
    - Lists are ordered by id and the ``after`` cursor is the last id returned, so a
      user deleted between pages does not break the walk. Clients must treat it as opaque
      [CORE].
    - ``public_url``: the scheme and host used in ``Link`` and ``_links`` URLs. By default
      it is derived from the request's ``Host`` (``http`` for loopback, else ``https``).
    - ``filter``/``search`` understand only ``<attr> eq "<value>"`` clauses joined by all
      ``and`` or all ``or`` (no parentheses, no ``sw``/``co``/``gt``...); anything else is a
      400 ``E0000031``. What the subset does is Okta's [SPEC][CORE]: values are JSON string
      literals, ``eq`` is case-insensitive, attribute names are case-sensitive; ``filter``
      takes only ``status``, ``id``, ``profile.login``, ``profile.email``,
      ``profile.firstName`` and ``profile.lastName`` and compares values case-sensitively;
      ``search`` takes ``status``, ``id``, ``type.id`` and any ``profile.<name>`` and
      compares string values case-insensitively (``lower()``, so diacritics still count);
      both include DEPROVISIONED users; both at once is a 400 ``E0000033``. ``search`` is
      answered immediately, although Okta's is eventually consistent [SPEC].
    - Error codes other than E0000007, E0000011 and E0000047 (E0000001, E0000006,
      E0000009, E0000010, E0000022, E0000031, E0000033) follow Okta's published error-code
      list, which none of the tagged sources spells out. An injected ``SERVER_ERROR``
      fault answers with Okta's error body too (``injected_server_error``).
    """

    service = "okta"

    LIST_LIMITS: Mapping[str, _ListLimits] = {
        "users": _ListLimits(default=200, maximum=200),
        "app_users": _ListLimits(default=50, maximum=500),
    }
    public_url: str | None = None

    def __init__(
        self,
        token: str = "okta-test-token",  # noqa: S107 - a fake org's fake token
        *,
        faults: FaultPolicy | None = None,
        rate_limit: OktaRateLimit | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(faults)
        self.token = token
        self.rate_limit = rate_limit
        self._clock = clock
        self._users: dict[str, dict[str, Any]] = {}
        self._apps: dict[str, dict[str, dict[str, Any]]] = {}
        self._forbidden: list[str] = []
        self._next_user = 0
        self._next_error = 0
        self._window: int | None = None
        self._used = 0
        self._handled = threading.local()
        self.throttled = 0
        self.calls: list[CallRecord] = []

    # ------------------------------------------------------------------ seeding API

    def add_user(  # noqa: PLR0913 - the person (email and names), then keyword-only seeding options
        self,
        email: str,
        first_name: str | None,
        last_name: str | None,
        *,
        status: str = "ACTIVE",
        user_id: str | None = None,
        login: str | None = None,
    ) -> dict[str, Any]:
        """Create a user; ids follow Okta's shape (``00u`` + 17 characters) and creation order."""
        state = OktaUserStatus(status)
        login = login or email
        with self.lock:
            if user_id is None:
                self._next_user += 1
                user_id = "00u" + _base62(self._next_user, 10) + "tvsEmu7"
            if user_id in self._users:
                raise ValueError(f"user {user_id} already exists")
            if self._find_by_login(login) is not None:
                raise ValueError(f"login {login} already exists")
            user = self._new_user(user_id, state, _profile(login, email, first_name, last_name))
            self._users[user_id] = user
            return copy.deepcopy(user)

    def add_users(
        self, users: Iterable[tuple[str, str | None, str | None]], *, status: str = "ACTIVE"
    ) -> list[str]:
        """Seed many users (email, first name, last name) in one pass; returns their ids.

        ``add_user`` checks each login against every user, which is quadratic for the
        50,000-user reconcile benchmark; this checks against a set, with the same rules.
        """
        state = OktaUserStatus(status)
        with self.lock:
            logins = {str(u["profile"]["login"]).casefold() for u in self._users.values()}
            ids: list[str] = []
            for email, first_name, last_name in users:
                if email.casefold() in logins:
                    raise ValueError(f"login {email} already exists")
                logins.add(email.casefold())
                self._next_user += 1
                user_id = "00u" + _base62(self._next_user, 10) + "tvsEmu7"
                self._users[user_id] = self._new_user(
                    user_id, state, _profile(email, email, first_name, last_name)
                )
                ids.append(user_id)
            return ids

    def _new_user(self, user_id: str, state: OktaUserStatus, profile: dict[str, Any]) -> dict[str, Any]:
        """A user as Okta returns one, created now in ``state``; ``profile`` from ``_profile``."""
        now = _timestamp(self._clock())
        return {
            "id": user_id,
            "status": state.value,
            "created": now,
            "activated": None if state in _NOT_ACTIVATED else now,
            "statusChanged": now,
            "lastLogin": None,
            "lastUpdated": now,
            "passwordChanged": None,
            "type": {"id": "otyEmuDefaultType0h7"},
            "profile": profile,
            "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
        }

    def set_status(self, user_id: str, status: str, *, keep_assignments: bool = False) -> None:
        """Move a user to ``status``, as the lifecycle operations would.

        Deactivation (-> DEPROVISIONED) deprovisions the user from all apps [SPEC], so the
        user's app assignments disappear unless ``keep_assignments`` is set; Okta does not
        say whether a group-based assignment lingers, hence the knob.
        """
        state = OktaUserStatus(status)
        with self.lock:
            user = self._require_user(user_id)
            now = _timestamp(self._clock())
            if user["status"] != state.value:
                user["status"] = state.value
                user["statusChanged"] = now
            if user["activated"] is None and state not in _NOT_ACTIVATED:
                user["activated"] = now
            user["lastUpdated"] = now
            if state is OktaUserStatus.DEPROVISIONED and not keep_assignments:
                for assignments in self._apps.values():
                    assignments.pop(user_id, None)

    def update_profile(self, user_id: str, **fields: Any) -> None:
        """Set profile attributes by their Okta names (``firstName``, ``email``, ``login``...)."""
        with self.lock:
            user = self._require_user(user_id)
            login = fields.get("login")
            if login is not None:
                other = self._find_by_login(login)
                if other is not None and other["id"] != user_id:
                    raise ValueError(f"login {login} already exists")
            user["profile"].update(fields)
            user["lastUpdated"] = _timestamp(self._clock())

    def delete_user(self, user_id: str) -> None:
        """Remove a user for good: afterwards every read answers 404, as for an unknown id."""
        with self.lock:
            self._require_user(user_id)
            del self._users[user_id]
            for assignments in self._apps.values():
                assignments.pop(user_id, None)

    def add_app(self, app_id: str) -> None:
        """Declare an app with no assignments (``assign`` declares apps implicitly)."""
        with self.lock:
            self._apps.setdefault(app_id, {})

    def assign(self, app_id: str, user_id: str, *, status: str = "ACTIVE", scope: str = "USER") -> None:
        """Assign a user to an app, or change an existing assignment's status/scope."""
        with self.lock:
            user = self._require_user(user_id)
            assignments = self._apps.setdefault(app_id, {})
            now = _timestamp(self._clock())
            existing = assignments.get(user_id)
            if existing is None:
                assignments[user_id] = {
                    "id": user_id,  # an AppUser's id is the Okta user's id [SPEC]
                    "externalId": None,
                    "created": now,
                    "lastUpdated": now,
                    "scope": scope,
                    "status": status,
                    "statusChanged": now,
                    "passwordChanged": None,
                    "syncState": "DISABLED",
                    "credentials": {"userName": user["profile"]["login"]},
                    "profile": {},
                }
            else:
                if existing["status"] != status:
                    existing["statusChanged"] = now
                existing.update(status=status, scope=scope, lastUpdated=now)

    def unassign(self, app_id: str, user_id: str) -> None:
        with self.lock:
            self._apps.get(app_id, {}).pop(user_id, None)

    def forbid(self, path_prefix: str) -> None:
        """Answer 403 E0000006 under ``path_prefix``, as for a token whose admin lacks a right."""
        with self.lock:
            self._forbidden.append(path_prefix)

    def users(self) -> list[dict[str, Any]]:
        """Every user as stored (API shape without ``_links``), ordered by id."""
        with self.lock:
            return [copy.deepcopy(self._users[uid]) for uid in sorted(self._users)]

    def app_user(self, app_id: str, user_id: str) -> dict[str, Any] | None:
        """The user's assignment to the app as stored, or ``None`` when unassigned."""
        with self.lock:
            found = self._apps.get(app_id, {}).get(user_id)
            return copy.deepcopy(found) if found is not None else None

    def reset_calls(self) -> None:
        with self.lock:
            self.calls.clear()

    # ------------------------------------------------------------------ HTTP

    def dispatch(self, request: EmulatorRequest) -> tuple[EmulatorResponse | None, InjectedFault | None]:
        """Run the base pipeline and log the call, including what a fault hid from the client."""
        self._handled.status = None
        response, fault = super().dispatch(request)
        status = response.status if response is not None and fault is None else self._handled.status
        record = CallRecord(request.method, request.path, dict(request.query), status, fault, self._clock())
        with self.lock:
            self.calls.append(record)
        return response, fault

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        response = self._handle(request)
        self._handled.status = response.status
        return response

    def injected_server_error(self, fault: InjectedFault) -> EmulatorResponse:
        """Okta's error body for an injected 5xx [CORE]: a client must read Okta's format, not another's."""
        code, summary = _SERVER_ERRORS.get(fault.status, _SERVER_ERRORS[500])
        with self.lock:
            return self._error(fault.status, code, summary)

    def _handle(self, request: EmulatorRequest) -> EmulatorResponse:
        limit_headers, throttled = self._count_request()
        if throttled:
            self.throttled += 1
            return self._error(
                429, "E0000047", "API call exceeded rate limit due to too many requests.", limit_headers
            )
        expected = f"SSWS {self.token}"
        if not hmac.compare_digest((request.header("authorization") or "").encode(), expected.encode()):
            return self._error(401, "E0000011", "Invalid token provided", limit_headers)
        if any(request.path.startswith(prefix) for prefix in self._forbidden):
            return self._error(
                403, "E0000006", "You do not have permission to perform the requested action", limit_headers
            )
        if request.method != "GET":
            return self._error(
                405, "E0000022", "The endpoint does not support the provided HTTP method", limit_headers
            )
        try:
            response = self._route(request)
        except _BadQuery as exc:
            response = self._error(400, exc.code, exc.summary)
        return EmulatorResponse(response.status, response.body, {**response.headers, **limit_headers})

    def _route(self, request: EmulatorRequest) -> EmulatorResponse:
        segments = [unquote(s) for s in request.path.strip("/").split("/")]
        if segments[:2] != ["api", "v1"]:
            return self._not_found(request.path, "Endpoint")
        match segments[2:]:
            case ["users"]:
                return self._list_users(request)
            case ["users", user_ref]:
                return self._get_user(request, user_ref)
            case ["apps", app_id, "users"]:
                return self._list_app_users(request, app_id)
            case ["apps", app_id, "users", user_id]:
                return self._get_app_user(request, app_id, user_id)
            case _:
                return self._not_found(request.path, "Endpoint")

    def _get_user(self, request: EmulatorRequest, user_ref: str) -> EmulatorResponse:
        """By id or login [SPEC]; a deactivated user is still readable until deleted."""
        user = self._users.get(user_ref) or self._find_by_login(user_ref)
        if user is None:
            return self._not_found(user_ref, "User")
        return EmulatorResponse(200, self._render_user(request, user))

    def _list_users(self, request: EmulatorRequest) -> EmulatorResponse:
        """A plain list leaves DEPROVISIONED users out; ``filter`` and ``search`` results include them [SPEC].

        ``filter`` compares values case-sensitively, ``search`` case-insensitively [SPEC]:
        a lookup by email that must ignore case has to use ``search``.
        """
        filter_, search = request.query.get("filter"), request.query.get("search")
        if filter_ and search:
            raise _BadQuery(
                "E0000033", "Bad request. Can't specify a search query and filter in the same request."
            )
        if filter_:
            predicate = _parse_expression(filter_, search=False)
            users = [u for u in self._users.values() if predicate(u)]
        elif search:
            predicate = _parse_expression(search, search=True)
            users = [u for u in self._users.values() if predicate(u)]
        else:
            users = [u for u in self._users.values() if u["status"] != OktaUserStatus.DEPROVISIONED.value]
        return self._page(request, "users", users, lambda u: self._render_user(request, u))

    def _get_app_user(self, request: EmulatorRequest, app_id: str, user_id: str) -> EmulatorResponse:
        assignment = self._apps.get(app_id, {}).get(user_id)
        if assignment is None:
            return self._not_found(user_id, "AppUser")
        return EmulatorResponse(200, self._render_app_user(request, app_id, assignment))

    def _list_app_users(self, request: EmulatorRequest, app_id: str) -> EmulatorResponse:
        assignments = self._apps.get(app_id)
        if assignments is None:
            return self._not_found(app_id, "AppInstance")
        return self._page(
            request,
            "app_users",
            list(assignments.values()),
            lambda a: self._render_app_user(request, app_id, a),
        )

    # ------------------------------------------------------------------ helpers

    def _page(
        self,
        request: EmulatorRequest,
        kind: str,
        items: Iterable[dict[str, Any]],
        render: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> EmulatorResponse:
        """One page of ``items`` by id, with ``Link`` rel="self" and, unless last, rel="next" [CORE]."""
        limits = self.LIST_LIMITS[kind]
        raw_limit = request.query.get("limit")
        if raw_limit is None:
            limit = limits.default
        else:
            try:
                limit = int(raw_limit)
            except ValueError:
                raise _BadQuery("E0000001", "Api validation failed: limit") from None
            if limit < 1:
                raise _BadQuery("E0000001", "Api validation failed: limit")
            limit = min(limit, limits.maximum)
        after = request.query.get("after")
        ordered = sorted(items, key=lambda item: str(item["id"]))
        if after:
            ordered = [item for item in ordered if str(item["id"]) > after]
        page = ordered[:limit]
        base = self._base_url(request) + request.path
        links = [f'<{base}{_query_string(request.query)}>; rel="self"']
        if len(ordered) > limit:
            following = {**request.query, "after": str(page[-1]["id"]), "limit": str(limit)}
            links.append(f'<{base}{_query_string(following)}>; rel="next"')
        return EmulatorResponse(200, [render(item) for item in page], {"Link": ", ".join(links)})

    def _render_user(self, request: EmulatorRequest, user: dict[str, Any]) -> dict[str, Any]:
        rendered = copy.deepcopy(user)
        rendered["_links"] = {"self": {"href": f"{self._base_url(request)}/api/v1/users/{user['id']}"}}
        return rendered

    def _render_app_user(
        self, request: EmulatorRequest, app_id: str, assignment: dict[str, Any]
    ) -> dict[str, Any]:
        """``expand=user`` embeds the Okta user under ``_embedded.user`` [SPEC]."""
        base = self._base_url(request)
        rendered = copy.deepcopy(assignment)
        rendered["_links"] = {
            "app": {"href": f"{base}/api/v1/apps/{app_id}"},
            "user": {"href": f"{base}/api/v1/users/{assignment['id']}"},
        }
        if request.query.get("expand") == "user":
            rendered["_embedded"] = {"user": self._render_user(request, self._users[assignment["id"]])}
        return rendered

    def _base_url(self, request: EmulatorRequest) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = request.header("host") or "okta.invalid"
        loopback = host.startswith(("127.", "localhost", "[::1]"))
        return f"{'http' if loopback else 'https'}://{host}"

    def _count_request(self) -> tuple[dict[str, str], bool]:
        """Charge one request to the current window; return the [RL] headers and whether it is over."""
        if self.rate_limit is None:
            return {}, False
        now = self._clock()
        window = math.floor(now / self.rate_limit.window_seconds)
        if window != self._window:
            self._window, self._used = window, 0
        over = self._used >= self.rate_limit.limit
        if not over:
            self._used += 1
        reset = math.ceil((window + 1) * self.rate_limit.window_seconds)
        headers = {
            "X-Rate-Limit-Limit": str(self.rate_limit.limit),
            "X-Rate-Limit-Remaining": str(max(0, self.rate_limit.limit - self._used)),
            "X-Rate-Limit-Reset": str(reset),
        }
        return headers, over

    def _not_found(self, ref: str, kind: str) -> EmulatorResponse:
        """The 404 body Okta sends for an unknown resource, naming its type [SPEC]."""
        return self._error(404, "E0000007", f"Not found: Resource not found: {ref} ({kind})")

    def _error(
        self, status: int, code: str, summary: str, headers: Mapping[str, str] | None = None
    ) -> EmulatorResponse:
        self._next_error += 1
        body = {
            "errorCode": code,
            "errorSummary": summary,
            "errorLink": code,
            "errorId": "oae" + _base62(self._next_error, 22),
            "errorCauses": [],
        }
        return EmulatorResponse(status, body, dict(headers or {}))

    def _require_user(self, user_id: str) -> dict[str, Any]:
        user = self._users.get(user_id)
        if user is None:
            raise KeyError(f"unknown user {user_id}")
        return user

    def _find_by_login(self, login: str) -> dict[str, Any] | None:
        folded = login.casefold()
        for user in self._users.values():
            if str(user["profile"]["login"]).casefold() == folded:
                return user
        return None


def _query_string(query: Mapping[str, str]) -> str:
    return "?" + urlencode(query) if query else ""


def _parse_expression(expression: str, *, search: bool) -> Callable[[dict[str, Any]], bool]:
    """Compile the ``eq``/``and``/``or`` subset of Okta's ``filter`` (or ``search``) syntax.

    String literals are JSON strings [CORE]: escapes (a quote, a backslash, ``u`` + four hex
    digits) are decoded as JSON decodes them, and a literal that is not valid JSON is refused.
    """
    invalid = _BadQuery("E0000031", "Invalid search criteria.")
    tests: list[tuple[list[str], str]] = []
    joiners: set[str] = set()
    position = 0
    while True:
        # Scanned clause by clause, so an "and" or "or" inside a quoted value stays in the value.
        found = _CLAUSE.match(expression, position)
        if (
            found is None
            or found["op"].lower() != "eq"
            or not _attribute_allowed(found["attr"], search=search)
        ):
            raise invalid
        try:
            expected = json.loads(found["literal"])
        except ValueError:
            raise invalid from None
        tests.append((found["attr"].split("."), expected))
        position = found.end()
        if position == len(expression):
            break
        joiner = _JOINER.match(expression, position)
        if joiner is None:
            raise invalid
        joiners.add(joiner["joiner"].lower())
        position = joiner.end()
    if len(joiners) > 1:
        raise invalid
    combine = any if joiners == {"or"} else all

    def matches(actual: Any, expected: str) -> bool:
        if not isinstance(actual, str):
            return False
        return actual.lower() == expected.lower() if search else actual == expected

    def predicate(user: dict[str, Any]) -> bool:
        def value(path: list[str]) -> Any:
            node: Any = user
            for key in path:
                node = node.get(key) if isinstance(node, dict) else None
            return node

        return combine(matches(value(path), expected) for path, expected in tests)

    return predicate


def _attribute_allowed(attribute: str, *, search: bool) -> bool:
    """Attribute names are case-sensitive [CORE]: ``profile.Email`` is not ``profile.email``."""
    if not search:
        return attribute in _FILTER_ATTRIBUTES
    path = attribute.split(".")
    return path in (["status"], ["id"], ["type", "id"]) or (len(path) == 2 and path[0] == "profile")
