"""A faithful, in-memory fake of the slice of Okta's management API the product reads.

The worker is level-triggered: for every event it re-reads the user and the user's
assignment to the TeamViewer app — and, for pushed groups, the group, its members and the
user's groups — and the reconciler walks whole lists. So the emulator has to be right about
exactly those reads — the object shapes, the 404 bodies that mean "gone" or "unassigned",
cursor paging with ``Link`` headers, which users a list hides, the ``SSWS`` token, the
service apps' ``Bearer`` and ``DPoP`` tokens (``tvsync.emulators.okta_oauth``: the token
endpoint, scopes, admin roles) and the rate-limit headers — and nothing else. Every
behaviour carries the tag of the source it rests on (docs/sources.md):

- [SPEC] Okta management OpenAPI spec; [CORE] core Okta API reference (auth, pagination,
  errors, filter expressions); [RL] rate-limit reference;
- [DEACT-KB] Okta's guide to removing a deactivated user from their groups (a deactivated
  user keeps their memberships; nobody leaves ``Everyone``); [JAVA-SDK] Okta's Java SDK
  threads on ``listUserGroups`` (a user's groups come 200 a page, with ``Link`` headers).

It is meant to be as strict as Okta, never kinder: a client that only works against a
lenient fake (a ``filter`` that ignores case, a query Okta refuses, an error body Okta never
sends) must fail here first.

Where Okta's behaviour is not pinned down by those sources the emulator picks something
plausible, says so in the docstring, and — where a test might need the other answer —
makes it a knob.
"""

from __future__ import annotations

import base64
import bisect
import copy
import hmac
import json
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode

from tvsync.emulators.http import EmulatorApp, EmulatorRequest, EmulatorResponse, FaultPolicy, InjectedFault
from tvsync.emulators.okta_oauth import (
    DEFAULT_SCOPES,
    DEFAULT_TOKEN_LIFETIME,
    TOKEN_PATH,
    OktaOAuthServer,
    ServiceApp,
)
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

#: The scope a service app's token needs for each top-level collection of the API [SPEC]; a
#: user's groups are read through the user API, and need its scope.
_ROUTE_SCOPES: Mapping[str, str] = {
    "users": "okta.users.read",
    "apps": "okta.apps.read",
    "groups": "okta.groups.read",
}

#: Group types [SPEC]: made in Okta, imported from an app (such as Active Directory), or Okta's own.
_GROUP_TYPES = frozenset({"OKTA_GROUP", "APP_GROUP", "BUILT_IN"})

#: The app an ``APP_GROUP`` is imported from unless the seeding says otherwise: an Active
#: Directory instance, the importer the [SPEC] examples show.
_DIRECTORY_APP_ID = "0oaEmuActiveDirect0h7"

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


def _group_profile(name: str, description: str | None, group_type: str, guid: str) -> dict[str, Any]:
    """A group's profile by its ``objectClass`` [SPEC].

    ``okta:user_group`` (Okta and built-in groups) holds a name and a description. An
    imported ``APP_GROUP`` is an Active Directory group here (``okta:windows_security_principal``),
    whose profile also carries the directory's names for it, as in the [SPEC] list example.
    """
    if not name:
        raise ValueError("a group needs a name")
    profile: dict[str, Any] = {"name": name, "description": description}
    if group_type == "APP_GROUP":
        profile.update(
            groupType="Security",
            samAccountName=name,
            groupScope="Global",
            dn=f"CN={name},OU=Groups,DC=corp,DC=example,DC=com",
            windowsDomainQualifiedName=f"CORP\\{name}",
            externalId=guid,
        )
    return profile


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
    """Okta's user, app-assignment and group reads, with seeding helpers.

    Groups [SPEC]: ``GET /api/v1/groups/{id}``, its members (``/groups/{id}/users``) and a
    user's groups (``/users/{id}/groups``, the user by id or login). Like Okta, the org has
    the built-in ``Everyone`` group (``everyone_id``): every user is in it, it cannot be
    renamed or deleted and nobody joins or leaves it by hand [SPEC][DEACT-KB]. A user keeps
    their memberships when deactivated, so group member lists include DEPROVISIONED users
    [DEACT-KB]; deleting a user ends them. Group names are not checked for uniqueness: an
    Okta group and an imported one may share a name.

    Unpinned choices (no source above pins them; change the class attributes if a test
    needs otherwise):

    - ``LIST_LIMITS``: defaults are [SPEC] (users 200, app users 50 / max 500, group members
      1000) and [JAVA-SDK] (a user's groups 200, although the spec lists no ``limit`` for
      that route); maxima the sources do not give equal the default. A larger ``limit`` is
      clamped, a non-positive or non-numeric one is a 400. Parameters a route does not know
      (a ``filter`` on group members, say) are ignored, not refused.
    - ``Everyone`` holds every user, DEPROVISIONED ones included.
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
    - ``MAX_SEARCH_LENGTH`` / ``MAX_SEARCH_CLAUSES``: Okta publishes no limit, only that
      "an overly complex or long search query can result in an error" [SPEC]; the emulator
      refuses a ``search`` longer than the product's own bound (``tvsync.adapters.okta_search``,
      the same numbers) with a 400 ``E0000031``, so a client that would send more fails here.
    - Error codes other than E0000007, E0000011 and E0000047 (E0000001, E0000006,
      E0000009, E0000010, E0000022, E0000031, E0000033) follow Okta's published error-code
      list, which none of the tagged sources spells out. An injected ``SERVER_ERROR``
      fault answers with Okta's error body too (``injected_server_error``).
    """

    service = "okta"

    LIST_LIMITS: Mapping[str, _ListLimits] = {
        "users": _ListLimits(default=200, maximum=200),
        "app_users": _ListLimits(default=50, maximum=500),
        "group_users": _ListLimits(default=1000, maximum=1000),
        "user_groups": _ListLimits(default=200, maximum=200),
    }
    MAX_SEARCH_LENGTH = 3000
    MAX_SEARCH_CLAUSES = 50
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
        self._groups: dict[str, dict[str, Any]] = {}
        self._members: dict[str, set[str]] = {}
        self._group_sources: dict[str, str] = {}
        self._next_user = 0
        self._next_group = 0
        self._next_error = 0
        self._window: int | None = None
        self._used = 0
        self._handled = threading.local()
        #: Bumped by every change to users or assignments: it dates the cached orders and index.
        self._version = 0
        self._orders: dict[str, tuple[int, list[str]]] = {}
        self._email_index: tuple[int, dict[str, list[str]]] | None = None
        self.throttled = 0
        self.calls: list[CallRecord] = []
        #: The org authorization server: service apps, their tokens and DPoP (seed it here).
        self.oauth = OktaOAuthServer(lock=self.lock, clock=clock)
        everyone = self.add_group("Everyone", type="BUILT_IN", description="All users in your organization")
        #: The id of the built-in group every user belongs to.
        self.everyone_id: str = everyone["id"]

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
            self._version += 1
            self._touch_membership(self.everyone_id)
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
            if ids:
                self._touch_membership(self.everyone_id)
                self._version += 1
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
            self._version += 1
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
            self._version += 1

    def delete_user(self, user_id: str) -> None:
        """Remove a user for good: afterwards every read answers 404, as for an unknown id.

        The user's memberships end with them: no group lists a deleted user [SPEC].
        """
        with self.lock:
            self._require_user(user_id)
            del self._users[user_id]
            self._version += 1
            for assignments in self._apps.values():
                assignments.pop(user_id, None)
            for group_id, members in self._members.items():
                if user_id in members:
                    members.discard(user_id)
                    self._touch_membership(group_id)
            self._touch_membership(self.everyone_id)

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
            self._version += 1
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
            self._version += 1

    def add_group(
        self,
        name: str,
        *,
        group_id: str | None = None,
        type: str = "OKTA_GROUP",
        description: str | None = None,
        source_app_id: str = _DIRECTORY_APP_ID,
    ) -> dict[str, Any]:
        """Create a group without members; ids follow Okta's shape (``00g`` + 17 characters).

        ``type`` [SPEC]: ``OKTA_GROUP`` (made in Okta), ``APP_GROUP`` (imported from the
        app ``source_app_id``, an Active Directory here) or ``BUILT_IN`` (managed by Okta:
        it holds every user).
        """
        if type not in _GROUP_TYPES:
            raise ValueError(f"unknown group type {type}")
        with self.lock:
            if group_id is None:
                self._next_group += 1
                group_id = "00g" + _base62(self._next_group, 10) + "tvsEmu7"
            if group_id in self._groups:
                raise ValueError(f"group {group_id} already exists")
            # The base-64 objectGUID an imported group keeps through renames [SPEC].
            guid = base64.b64encode(uuid.uuid5(uuid.NAMESPACE_URL, group_id).bytes).decode()
            now = _timestamp(self._clock())
            group = {
                "id": group_id,
                "created": now,
                "lastUpdated": now,
                "lastMembershipUpdated": now,
                "objectClass": [
                    "okta:windows_security_principal" if type == "APP_GROUP" else "okta:user_group"
                ],
                "type": type,
                "profile": _group_profile(name, description, type, guid),
            }
            self._groups[group_id] = group
            if type != "BUILT_IN":
                self._members[group_id] = set()
            if type == "APP_GROUP":
                self._group_sources[group_id] = source_app_id
            return copy.deepcopy(group)

    def add_to_group(self, group_id: str, user_id: str) -> None:
        """Make a user a member, as an admin, a group rule or an import would; a member stays one."""
        with self.lock:
            members = self._editable_members(group_id)
            self._require_user(user_id)
            if user_id not in members:
                members.add(user_id)
                self._touch_membership(group_id)

    def remove_from_group(self, group_id: str, user_id: str) -> None:
        """End a membership; removing someone who is not a member changes nothing."""
        with self.lock:
            members = self._editable_members(group_id)
            if user_id in members:
                members.discard(user_id)
                self._touch_membership(group_id)

    def rename_group(self, group_id: str, name: str) -> None:
        """Change a group's ``profile.name``; a built-in group cannot be renamed [SPEC].

        An imported group is renamed by its directory: its directory names follow, its
        ``externalId`` (the objectGUID) stays.
        """
        with self.lock:
            group = self._require_group(group_id)
            if group["type"] == "BUILT_IN":
                raise ValueError(f"the built-in group {group_id} cannot be renamed")
            profile = group["profile"]
            group["profile"] = _group_profile(
                name, profile.get("description"), group["type"], profile.get("externalId", "")
            )
            group["lastUpdated"] = _timestamp(self._clock())

    def delete_group(self, group_id: str) -> None:
        """Delete a group and its memberships; a built-in group cannot be deleted [SPEC]."""
        with self.lock:
            group = self._require_group(group_id)
            if group["type"] == "BUILT_IN":
                raise ValueError(f"the built-in group {group_id} cannot be deleted")
            del self._groups[group_id]
            self._members.pop(group_id, None)
            self._group_sources.pop(group_id, None)

    def register_service_app(  # noqa: PLR0913 - the app and its keys, then keyword-only settings
        self,
        client_id: str,
        public_jwks: Mapping[str, Any] | Iterable[Mapping[str, Any]],
        *,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        require_dpop: bool = False,
        token_lifetime: float = DEFAULT_TOKEN_LIFETIME,
        admin_role: bool = True,
    ) -> ServiceApp:
        """Register an API service app (``OktaOAuthServer.register_service_app``)."""
        return self.oauth.register_service_app(
            client_id,
            public_jwks,
            scopes=scopes,
            require_dpop=require_dpop,
            token_lifetime=token_lifetime,
            admin_role=admin_role,
        )

    def require_dpop(self, client_id: str, on: bool = True) -> None:
        """Tick (or untick) "Require DPoP" on a service app."""
        self.oauth.require_dpop(client_id, on)

    def forbid(self, path_prefix: str) -> None:
        """Answer 403 E0000006 under ``path_prefix``, as for a token whose admin lacks a right."""
        with self.lock:
            self._forbidden.append(path_prefix)

    def users(self) -> list[dict[str, Any]]:
        """Every user as stored (API shape without ``_links``), ordered by id."""
        with self.lock:
            return [copy.deepcopy(self._users[uid]) for uid in sorted(self._users)]

    def groups(self) -> list[dict[str, Any]]:
        """Every group as stored (API shape without ``_links``), ordered by id."""
        with self.lock:
            return [copy.deepcopy(self._groups[gid]) for gid in sorted(self._groups)]

    def group_members(self, group_id: str) -> list[str]:
        """The ids of a group's members, ordered."""
        with self.lock:
            self._require_group(group_id)
            return sorted(self._member_ids(group_id))

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
        if request.path == TOKEN_PATH:  # its own rate-limit bucket at Okta [RL], not emulated
            return self.oauth.token(request, self._base_url(request) + TOKEN_PATH)
        limit_headers, throttled = self._count_request()
        if throttled:
            self.throttled += 1
            return self._error(
                429, "E0000047", "API call exceeded rate limit due to too many requests.", limit_headers
            )
        refused = self._authenticate(request)
        if refused is not None:
            return EmulatorResponse(refused.status, refused.body, {**refused.headers, **limit_headers})
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

    def _authenticate(self, request: EmulatorRequest) -> EmulatorResponse | None:
        """``SSWS`` with the org's API token [CORE], or a service app's ``Bearer``/``DPoP`` token [SVC]."""
        authorization = request.header("authorization") or ""
        scheme = authorization.partition(" ")[0]
        if scheme in {"Bearer", "DPoP"}:
            segments = request.path.strip("/").split("/")
            scope = (
                _ROUTE_SCOPES.get(segments[2])
                if segments[:2] == ["api", "v1"] and len(segments) > 2
                else None
            )
            return self.oauth.authenticate(request, base=self._base_url(request), scope=scope)
        if not hmac.compare_digest(authorization.encode(), f"SSWS {self.token}".encode()):
            return self._error(401, "E0000011", "Invalid token provided")
        return None

    def _route(self, request: EmulatorRequest) -> EmulatorResponse:  # noqa: PLR0911 - one return per route
        segments = [unquote(s) for s in request.path.strip("/").split("/")]
        if segments[:2] != ["api", "v1"]:
            return self._not_found(request.path, "Endpoint")
        match segments[2:]:
            case ["users"]:
                return self._list_users(request)
            case ["users", user_ref]:
                return self._get_user(request, user_ref)
            case ["users", user_ref, "groups"]:
                return self._list_user_groups(request, user_ref)
            case ["groups", group_id]:
                return self._get_group(request, group_id)
            case ["groups", group_id, "users"]:
                return self._list_group_users(request, group_id)
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

        def render(user: dict[str, Any]) -> dict[str, Any]:
            return self._render_user(request, user)

        if filter_:
            predicate = _parse_expression(filter_, search=False)
        elif search:
            if len(search) > self.MAX_SEARCH_LENGTH:
                raise _BadQuery("E0000031", "Invalid search criteria.")
            predicate = _parse_expression(search, search=True)
            if len(predicate.tests) > self.MAX_SEARCH_CLAUSES:
                raise _BadQuery("E0000031", "Invalid search criteria.")
            emails = predicate.emails()
            if emails is not None:  # an index lookup, as a search engine answers it
                index = self._emails()
                found = {user_id for email in emails for user_id in index.get(email, ())}
                return self._page(request, "users", [self._users[i] for i in found], render)
        else:
            return self._sorted_page(
                request,
                "users",
                self._users,
                lambda u: u["status"] != OktaUserStatus.DEPROVISIONED.value,
                render,
            )
        return self._sorted_page(request, "users", self._users, predicate, render)

    def _get_app_user(self, request: EmulatorRequest, app_id: str, user_id: str) -> EmulatorResponse:
        assignment = self._apps.get(app_id, {}).get(user_id)
        if assignment is None:
            return self._not_found(user_id, "AppUser")
        return EmulatorResponse(200, self._render_app_user(request, app_id, assignment))

    def _list_app_users(self, request: EmulatorRequest, app_id: str) -> EmulatorResponse:
        assignments = self._apps.get(app_id)
        if assignments is None:
            return self._not_found(app_id, "AppInstance")
        return self._sorted_page(
            request,
            "app_users",
            assignments,
            lambda _a: True,
            lambda a: self._render_app_user(request, app_id, a),
            order=f"app:{app_id}",
        )

    def _get_group(self, request: EmulatorRequest, group_id: str) -> EmulatorResponse:
        group = self._groups.get(group_id)
        if group is None:
            return self._not_found(group_id, "UserGroup")
        return EmulatorResponse(200, self._render_group(request, group))

    def _list_group_users(self, request: EmulatorRequest, group_id: str) -> EmulatorResponse:
        """The members as ``/users`` renders them, DEPROVISIONED ones included [SPEC][DEACT-KB]."""
        if group_id not in self._groups:
            return self._not_found(group_id, "UserGroup")
        members = [self._users[user_id] for user_id in self._member_ids(group_id)]
        return self._page(request, "group_users", members, lambda u: self._render_user(request, u))

    def _list_user_groups(self, request: EmulatorRequest, user_ref: str) -> EmulatorResponse:
        """The user's groups (by id or login [SPEC]), ``Everyone`` included, paged [JAVA-SDK]."""
        user = self._users.get(user_ref) or self._find_by_login(user_ref)
        if user is None:
            return self._not_found(user_ref, "User")
        groups = [g for g in self._groups.values() if self._is_member(g["id"], user["id"])]
        return self._page(request, "user_groups", groups, lambda g: self._render_group(request, g))

    # ------------------------------------------------------------------ helpers

    def _page(
        self,
        request: EmulatorRequest,
        kind: str,
        items: Iterable[dict[str, Any]],
        render: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> EmulatorResponse:
        """One page of ``items`` by id, with ``Link`` rel="self" and, unless last, rel="next" [CORE]."""
        limit = self._limit(request, kind)
        after = request.query.get("after")
        ordered = sorted(items, key=lambda item: str(item["id"]))
        if after:
            ordered = [item for item in ordered if str(item["id"]) > after]
        return self._links(request, ordered[:limit], len(ordered) > limit, limit, render)

    def _sorted_page(  # noqa: PLR0913 - the request, the list and how to read it, all by role
        self,
        request: EmulatorRequest,
        kind: str,
        source: Mapping[str, dict[str, Any]],
        keep: Callable[[dict[str, Any]], bool],
        render: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        order: str | None = None,
    ) -> EmulatorResponse:
        """``_page`` over a large collection: its ids sorted once per change, the cursor found by
        bisection, so a walk of 500,000 users costs one page per request, not one sort."""
        limit = self._limit(request, kind)
        ids = self._sorted_ids(order or kind, source)
        after = request.query.get("after")
        position = bisect.bisect_right(ids, after) if after else 0
        page: list[dict[str, Any]] = []
        more = False
        for item_id in ids[position:] if position else ids:
            item = source[item_id]
            if not keep(item):
                continue
            if len(page) == limit:
                more = True
                break
            page.append(item)
        return self._links(request, page, more, limit, render)

    def _links(
        self,
        request: EmulatorRequest,
        page: list[dict[str, Any]],
        more: bool,
        limit: int,
        render: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> EmulatorResponse:
        base = self._base_url(request) + request.path
        links = [f'<{base}{_query_string(request.query)}>; rel="self"']
        if more:
            following = {**request.query, "after": str(page[-1]["id"]), "limit": str(limit)}
            links.append(f'<{base}{_query_string(following)}>; rel="next"')
        return EmulatorResponse(200, [render(item) for item in page], {"Link": ", ".join(links)})

    def _limit(self, request: EmulatorRequest, kind: str) -> int:
        limits = self.LIST_LIMITS[kind]
        raw_limit = request.query.get("limit")
        if raw_limit is None:
            return limits.default
        try:
            limit = int(raw_limit)
        except ValueError:
            raise _BadQuery("E0000001", "Api validation failed: limit") from None
        if limit < 1:
            raise _BadQuery("E0000001", "Api validation failed: limit")
        return min(limit, limits.maximum)

    def _sorted_ids(self, name: str, source: Mapping[str, Any]) -> list[str]:
        """The keys of ``source`` (ids) in order, kept until the next change to users or assignments."""
        cached = self._orders.get(name)
        if cached is not None and cached[0] == self._version:
            return cached[1]
        ids = sorted(source)
        self._orders[name] = (self._version, ids)
        return ids

    def _emails(self) -> dict[str, list[str]]:
        """User ids by lower-cased ``profile.email``: what a ``profile.email eq`` search looks up."""
        if self._email_index is not None and self._email_index[0] == self._version:
            return self._email_index[1]
        index: dict[str, list[str]] = {}
        for user_id, user in self._users.items():
            email = user["profile"].get("email")
            if isinstance(email, str):
                index.setdefault(email.lower(), []).append(user_id)
        self._email_index = (self._version, index)
        return index

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

    def _render_group(self, request: EmulatorRequest, group: dict[str, Any]) -> dict[str, Any]:
        """``_links`` as in the [SPEC] examples: logos, the importing app (``source``), users, apps."""
        base = self._base_url(request)
        group_id = group["id"]
        logo = "active_directory" if group["type"] == "APP_GROUP" else "okta"
        links: dict[str, Any] = {
            "logo": [
                {"name": size, "href": f"{base}/img/logos/groups/{logo}-{size}.png", "type": "image/png"}
                for size in ("medium", "large")
            ]
        }
        source = self._group_sources.get(group_id)
        if source is not None:
            links["source"] = {"href": f"{base}/api/v1/apps/{source}"}
        links["users"] = {"href": f"{base}/api/v1/groups/{group_id}/users"}
        links["apps"] = {"href": f"{base}/api/v1/groups/{group_id}/apps"}
        rendered = copy.deepcopy(group)
        rendered["_links"] = links
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

    def _require_group(self, group_id: str) -> dict[str, Any]:
        group = self._groups.get(group_id)
        if group is None:
            raise KeyError(f"unknown group {group_id}")
        return group

    def _editable_members(self, group_id: str) -> set[str]:
        """The member set seeding may change: a built-in group's memberships are Okta's [SPEC]."""
        group = self._require_group(group_id)
        if group["type"] == "BUILT_IN":
            raise ValueError(f"the memberships of the built-in group {group_id} are managed by Okta")
        return self._members[group_id]

    def _member_ids(self, group_id: str) -> Iterable[str]:
        """A built-in group holds every user; any other group its recorded members."""
        if self._groups[group_id]["type"] == "BUILT_IN":
            return self._users.keys()
        return self._members[group_id]

    def _is_member(self, group_id: str, user_id: str) -> bool:
        return self._groups[group_id]["type"] == "BUILT_IN" or user_id in self._members[group_id]

    def _touch_membership(self, group_id: str) -> None:
        """Date a membership change: ``lastMembershipUpdated`` [SPEC] (profile edits date ``lastUpdated``)."""
        group = self._groups.get(group_id)
        if group is not None:
            group["lastMembershipUpdated"] = _timestamp(self._clock())

    def _find_by_login(self, login: str) -> dict[str, Any] | None:
        folded = login.casefold()
        for user in self._users.values():
            if str(user["profile"]["login"]).casefold() == folded:
                return user
        return None


def _query_string(query: Mapping[str, str]) -> str:
    return "?" + urlencode(query) if query else ""


@dataclass(frozen=True)
class _Expression:
    """A compiled ``filter`` or ``search``: ``eq`` clauses (attribute path, value), all joined
    by ``or`` (``any_of``) or all by ``and``; called with a user, it says whether it matches."""

    tests: tuple[tuple[tuple[str, ...], str], ...]
    any_of: bool
    search: bool

    def __call__(self, user: dict[str, Any]) -> bool:
        combine = any if self.any_of else all
        return combine(self._matches(_value(user, path), expected) for path, expected in self.tests)

    def _matches(self, actual: Any, expected: str) -> bool:
        if not isinstance(actual, str):
            return False
        return actual.lower() == expected.lower() if self.search else actual == expected

    def emails(self) -> frozenset[str] | None:
        """The lower-cased addresses a ``search`` of only ``profile.email eq`` clauses (joined by
        ``or``) asks for — answerable from an index — else None."""
        if not self.search or (len(self.tests) > 1 and not self.any_of):
            return None
        if any(path != ("profile", "email") for path, _ in self.tests):
            return None
        return frozenset(expected.lower() for _, expected in self.tests)


def _value(user: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = user
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _parse_expression(expression: str, *, search: bool) -> _Expression:
    """Compile the ``eq``/``and``/``or`` subset of Okta's ``filter`` (or ``search``) syntax.

    String literals are JSON strings [CORE]: escapes (a quote, a backslash, ``u`` + four hex
    digits) are decoded as JSON decodes them, and a literal that is not valid JSON is refused.
    """
    invalid = _BadQuery("E0000031", "Invalid search criteria.")
    tests: list[tuple[tuple[str, ...], str]] = []
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
        if not isinstance(expected, str):
            raise invalid
        tests.append((tuple(found["attr"].split(".")), expected))
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
    return _Expression(tuple(tests), any_of=joiners == {"or"}, search=search)


def _attribute_allowed(attribute: str, *, search: bool) -> bool:
    """Attribute names are case-sensitive [CORE]: ``profile.Email`` is not ``profile.email``."""
    if not search:
        return attribute in _FILTER_ATTRIBUTES
    path = attribute.split(".")
    return path in (["status"], ["id"], ["type", "id"]) or (len(path) == 2 and path[0] == "profile")
