"""An in-memory TeamViewer Web API: SCIM v2 users and the v1 calls the product uses.

Every behaviour is pinned to a documented fact and names its source tag ([SCIM], [PDF],
[SWAGGER], [PS], [OKTA-KB], [ENTRA-KB]; docs/sources.md says what each is). Where TeamViewer
documents nothing (the SCIM error format and codes, rate-limit numbers, ``startIndex``
echo), the emulator follows RFC 7644 or the closest documented v1 behaviour and exposes a
constructor knob, so a test can pin the client against each plausible answer.

What makes it worth faking faithfully, because the product's correctness hangs on it:

- the SCIM ``filter`` is **case-sensitive** [SCIM], while emails are unique across all of
  TeamViewer regardless of case, including accounts *outside* the company [OKTA-KB];
- there is no DELETE: deprovisioning is ``active: false`` [SCIM] [ENTRA-KB];
- a rate limit can come back as 429 or as 403 ``rate_limit_reached`` [PDF] §5.

It is as strict as a real SCIM server where TeamViewer documents nothing looser, because a
lenient fake hides client bugs that a strict server exposes: list pages are capped
(``scim_max_page_size``), so every client meets short pages (RFC 7644 §3.4.2.4); a body
must name every schema whose attributes it carries, and nothing else (RFC 7643 §3); PATCH
needs the RFC's PatchOp URN; writes must be JSON (RFC 7644 §3.8); an empty ``filter`` is
an invalid filter. The suite holds every SCIM body it accepts and sends against
``scim2-models`` and the client against ``scim2-server`` (``tests/contracts``).

User groups and roles (Web API v1, [SWAGGER] ``/usergroups``, [PS] ``/userroles``) are
emulated as the group sync meets them: cursor paging with a small page so every client
follows ``nextPaginationToken`` over several pages, names unique in the company (409), at
most 100 accounts per member call, members only from the company (400), one role per
group. Where the reference is silent the emulator picks, and says so: group names are
unique *ignoring letter case* (the stricter reading; ``group_names_ignore_case`` is the
knob), adding an existing member and removing a non-member are harmless no-ops (retries
and level-triggered callers rely on that), and an id in a role call's body that names no
role or group is a bad parameter (400), as the member call answers for an unknown account.

State lives in memory and is only touched under ``self.lock``; ids are ``u`` + a
sequential number, so a seeded run always produces the same ids; group ids and role ids
are sequential too.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import re
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from tvsync.emulators.http import (
    EmulatorApp,
    EmulatorRequest,
    EmulatorResponse,
    FaultKind,
    FaultPolicy,
    InjectedFault,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

SCIM_USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
SSO_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:teamviewer:1.0:SsoUser"
SCIM_LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SCIM_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
#: The PatchOp message URN of RFC 7644 §3.5.2, which [SCIM]'s parameter list requires ("Must
#: include"). Its PATCH example shows ``urn:ietf:params:scim:schemas:core:2.0:PatchOp``
#: instead; RFC 7644 defines no such URN and ``scim2-server`` refuses it (400 invalidSyntax),
#: so the emulator follows the normative text and refuses it too.
SCIM_PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_CONTENT_TYPE = "application/scim+json"
#: Media types a SCIM write may carry: SCIM's own (RFC 7644 §8.1) and plain JSON.
SCIM_WRITE_MEDIA_TYPES = frozenset({SCIM_CONTENT_TYPE, "application/json"})
#: Schemas a User body may name: the core User and TeamViewer's one extension ([SCIM]).
SCIM_USER_SCHEMAS = frozenset({SCIM_USER_SCHEMA, SSO_USER_SCHEMA})
#: RFC 7643 §4.1's User attributes (lower-cased: attribute names are case-insensitive);
#: a real server refuses any other attribute (``scim2-server``: 400 invalidSyntax).
SCIM_USER_ATTRIBUTES = frozenset(
    {
        "schemas", "id", "externalid", "meta", "username", "name", "displayname", "nickname",
        "profileurl", "title", "usertype", "preferredlanguage", "locale", "timezone", "active",
        "password", "emails", "phonenumbers", "ims", "photos", "addresses", "groups",
        "entitlements", "roles", "x509certificates",
    }
)  # fmt: skip
#: TeamViewer documents no maximum page size ([SCIM]: without ``count`` "all items will be
#: returned"); RFC 7644 §3.4.2.4 lets a server return fewer than asked, and real servers do.
#: The emulator caps pages by default so every client meets short pages.
DEFAULT_SCIM_MAX_PAGE_SIZE = 50

#: The token scopes the user endpoints need ([SCIM] "Authorization").
USERS_READ = "Users.Read"
USERS_CREATE = "Users.CreateUsers"
USERS_MODIFY = "Users.ModifyUsers"
USER_PERMISSIONS: frozenset[str] = frozenset({USERS_READ, USERS_CREATE, USERS_MODIFY})
#: The script token's user-group rights, as TeamViewer lists them for group sync: "User
#: groups: create, delete, edit, read" ([ENTRA-KB]). TeamViewer publishes no scope strings
#: for them; these names follow the SCIM scopes' ``Area.Right`` form.
GROUPS_READ = "Groups.Read"
GROUPS_CREATE = "Groups.Create"
GROUPS_EDIT = "Groups.Edit"
GROUPS_DELETE = "Groups.Delete"
#: The role rights, "User roles: view/assign" ([PS]): listing roles and a group's role needs
#: the first, assigning and unassigning the second.
ROLES_VIEW = "Roles.View"
ROLES_ASSIGN = "Roles.Assign"
GROUP_PERMISSIONS: frozenset[str] = frozenset(
    {GROUPS_READ, GROUPS_CREATE, GROUPS_EDIT, GROUPS_DELETE, ROLES_VIEW, ROLES_ASSIGN}
)
ALL_PERMISSIONS: frozenset[str] = USER_PERMISSIONS | GROUP_PERMISSIONS

FIRST_USER_NUMBER = 1000001
#: Group ids are int64 ([SWAGGER] ``UserGroupModel.id``); they start above 2**32 so a client
#: that squeezes them into 32 bits shows up at once.
FIRST_GROUP_ID = 5_000_000_001
#: User group names are 1 to 100 characters ([SWAGGER] ``POST /usergroups``).
MAX_GROUP_NAME_LENGTH = 100
#: "Web API accepts a maximum of 100 accounts" per member call ([PS]
#: ``Add-TeamViewerUserGroupMember.ps1``; [ADC] batches the same way).
MAX_ACCOUNTS_PER_CALL = 100
#: The v1 list page when ``limit`` asks for no fewer. TeamViewer documents no default or
#: maximum ([SWAGGER] only names ``limit``); a small page makes every client meet the cursor.
DEFAULT_V1_PAGE_SIZE = 25
#: ``creationSourceType`` of a user group ([SWAGGER] ``UserGroupModel``).
GROUP_SOURCE_API, GROUP_SOURCE_UI, GROUP_SOURCE_SCIM = 1, 2, 3

# [SWAGGER] POST /users: email 6-100 characters "plus a regex" (the regex itself is not
# in the reference, so this one only rejects what is clearly not an address).
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FILTER_RE = re.compile(r'^\s*([A-Za-z][\w.]*)\s+([A-Za-z]+)\s+("(?:[^"\\]|\\.)*")\s*$')
_USER_PATH_RE = re.compile(r"^/Users/([^/]+)$")
_V1_USER_PATH_RE = re.compile(r"^/users/([^/]+)$")
_GROUP_PATH_RE = re.compile(r"^/usergroups/([^/]+)(?:/(members|userroles)(?:/([^/]+))?)?$")

# [SCIM] list: filterable attributes and operators; matching is case-sensitive. Attribute
# names and operators themselves are case-insensitive per RFC 7644 §3.4.2.2.
_FILTER_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "eq": lambda have, want: have == want,
    "ne": lambda have, want: have != want,
    "co": lambda have, want: want in have,
    "sw": lambda have, want: have.startswith(want),
    "ew": lambda have, want: have.endswith(want),
}


@dataclass(frozen=True)
class RateLimit:
    """A token bucket over all requests, since TeamViewer publishes no numbers ([PDF] §5).

    ``burst`` defaults to one second's worth of requests (at least 1). ``style`` picks the
    answer: ``"429"`` with ``Retry-After`` (what HTTP clients expect; omitted when
    ``retry_after`` is false) or ``"403"`` with ``{"error": "rate_limit_reached"}``, the
    only rate-limit answer TeamViewer documents ([PDF] §5.1/§5.2).
    """

    requests_per_second: float
    burst: int | None = None
    style: Literal["429", "403"] = "429"
    retry_after: bool = True

    def __post_init__(self) -> None:
        if self.requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive")
        if self.burst is not None and self.burst < 1:
            raise ValueError("burst must be at least 1")

    @property
    def capacity(self) -> int:
        return self.burst if self.burst is not None else max(1, math.ceil(self.requests_per_second))


@dataclass(frozen=True)
class CallRecord:
    """One request as the emulator saw it, for assertions on what a client sent.

    ``status`` is what the client received, ``None`` when a timeout or dropped connection
    swallowed the answer; ``fault`` names the injected fault, and ``after_apply`` whether
    the request changed state before the fault hit.
    """

    method: str
    path: str
    query: Mapping[str, str]
    status: int | None
    fault: FaultKind | None
    after_apply: bool
    timestamp: float

    @property
    def outcome(self) -> str:
        """The status code, or the fault kind when a fault decided the outcome."""
        return self.fault.value if self.fault is not None else str(self.status)


@dataclass
class _Account:
    id: str
    email: str
    name: str
    active: bool = True
    in_company: bool = True
    sso_customer_id: str | None = None
    language: str = "en"


@dataclass
class _Group:
    """A user group ([SWAGGER] ``UserGroupModel``), its members by account number, its role."""

    id: int
    name: str
    source: int
    members: set[int] = field(default_factory=set)
    role_id: str | None = None


@dataclass(frozen=True)
class _Role:
    """A user role ([PS] ``ConvertTo-TeamViewerRole``: ``Id`` a GUID, ``Name``, ``Permissions``)."""

    id: str
    name: str


class _Problem(Exception):
    """A refused request; rendered as a SCIM or a v1 error body depending on the endpoint."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        error: str = "invalid_request",
        scim_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.error = error
        self.scim_type = scim_type
        self.headers = dict(headers or {})


class TeamViewerEmulator(EmulatorApp):
    """A fake TeamViewer company behind one script token.

    ``scim_conflict_status``: the status SCIM answers for a taken email. TeamViewer does not
    document it ([SCIM] has no error section); 409 ``uniqueness`` is RFC 7644's answer.
    ``scim_zero_start_index``: echo ``startIndex: 0`` in list responses, as the [SCIM]
    example does, instead of the requested 1-based index (RFC 7644); unconfirmed either way.
    ``scim_max_page_size``: the most users one list page holds, whatever ``count`` asks
    (``None``: no cap, [SCIM]'s documented "all items"); ``itemsPerPage`` says how many came.
    ``scim_omit_active``: leave ``active`` out of SCIM users — of all of them (``True``) or
    of the ids given — as a server may: it is optional in RFC 7643 §4.1.1.
    ``v1_page_size``: the most items one v1 list page (user groups, group members) holds,
    whatever ``limit`` asks. ``group_names_ignore_case``: whether a group name that differs
    from a taken one only in letter case is taken too (the default: TeamViewer does not say,
    and the stricter answer is the one a client must survive).
    ``clock`` drives the rate limiter, so tests can advance time instead of sleeping.
    """

    service = "teamviewer"

    def __init__(  # noqa: PLR0913 - keyword-only knobs, each set by name; scim_* = what TeamViewer leaves open
        self,
        token: str = "tv-test-token",  # noqa: S107 - a fake credential for a fake server
        *,
        owner_email: str = "admin@example.test",
        owner_name: str = "Company Admin",
        faults: FaultPolicy | None = None,
        rate_limit: RateLimit | None = None,
        permissions: frozenset[str] = ALL_PERMISSIONS,
        scim_conflict_status: int = 409,
        scim_zero_start_index: bool = False,
        scim_max_page_size: int | None = DEFAULT_SCIM_MAX_PAGE_SIZE,
        scim_omit_active: bool | frozenset[str] = False,
        v1_page_size: int = DEFAULT_V1_PAGE_SIZE,
        group_names_ignore_case: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if v1_page_size < 1:
            raise ValueError("v1_page_size must be at least 1")
        super().__init__(faults)
        self.token = token
        self.permissions = frozenset(permissions)
        self.scim_conflict_status = scim_conflict_status
        self.scim_zero_start_index = scim_zero_start_index
        self.scim_max_page_size = scim_max_page_size
        self.scim_omit_active = scim_omit_active
        self.v1_page_size = v1_page_size
        self.group_names_ignore_case = group_names_ignore_case
        self.calls: list[CallRecord] = []
        self.throttled = 0
        self.company_name = "Example Company"
        self._clock = clock
        self._accounts: dict[str, _Account] = {}
        #: The company's accounts in order, kept until an account joins or leaves it.
        self._company_cache: list[_Account] | None = None
        self._next_number = FIRST_USER_NUMBER
        self._groups: dict[int, _Group] = {}
        self._next_group_id = FIRST_GROUP_ID
        self._roles: dict[str, _Role] = {}
        self._bucket_level = 0.0
        self._bucket_time = 0.0
        self.rate_limit = rate_limit
        self.owner_id = self._insert(owner_email, owner_name, in_company=True).id

    @property
    def rate_limit(self) -> RateLimit | None:
        return self._rate_limit

    @rate_limit.setter
    def rate_limit(self, limit: RateLimit | None) -> None:
        """Setting a limit (also mid-test) starts with a full bucket."""
        with self.lock:
            self._rate_limit = limit
            self._bucket_level = float(limit.capacity) if limit else 0.0
            self._bucket_time = self._clock()

    # ------------------------------------------------------------------ seeding / inspection

    def add_user(self, email: str, name: str, *, active: bool = True) -> dict[str, Any]:
        """Seed a company user; raises ``ValueError`` if the email is taken (any case)."""
        with self.lock:
            account = self._insert(email, name, in_company=True)
            account.active = active
            return _dump(account)

    def add_users(self, users: Iterable[tuple[str, str, bool]]) -> list[str]:
        """Seed many company users (email, name, active) in one pass; returns their ids.

        ``add_user`` checks each email against every account, which is quadratic for the
        50,000-user reconcile benchmark; this checks against a set, with the same rules.
        """
        with self.lock:
            taken = {a.email.casefold() for a in self._accounts.values()}
            ids: list[str] = []
            for email, name, active in users:
                if email.casefold() in taken:
                    raise ValueError(f"email already taken: {email}")
                taken.add(email.casefold())
                account = _Account(id=f"u{self._next_number}", email=email, name=name, active=active)
                self._next_number += 1
                self._accounts[account.id] = account
                ids.append(account.id)
            self._company_cache = None
            return ids

    def add_foreign_account(self, email: str, name: str) -> dict[str, Any]:
        """Seed an account outside the company: invisible to the token, but its email is taken.

        This is the [OKTA-KB] limitation: creating a company user with that email fails.
        """
        with self.lock:
            return _dump(self._insert(email, name, in_company=False))

    def remove_from_company(self, user_id: str) -> None:
        """Turn a company user into a free account, as v1 ``DELETE /users/{id}`` does ([SWAGGER]).

        The product never calls it; tests use it for "removed and must be re-created".
        """
        with self.lock:
            account = self._accounts.get(user_id)
            if account is None or not account.in_company:
                raise KeyError(user_id)
            if account.id == self.owner_id:
                raise ValueError("the token owner cannot leave the company")
            account.in_company = False
            self._company_cache = None
            # Only company accounts can be group members ([SWAGGER] POST members: "account
            # must be member of the company"), so leaving the company leaves every group.
            number = _account_number(account.id)
            for group in self._groups.values():
                group.members.discard(number)

    def users(self) -> list[dict[str, Any]]:
        """All company users, in id order: id, email, name, active, sso_customer_id."""
        with self.lock:
            return [_dump(a) for a in self._company()]

    def user_by_email(self, email: str, casefold: bool = True) -> dict[str, Any] | None:
        """The company user with this email (case-insensitive unless ``casefold=False``)."""
        with self.lock:
            key = email.casefold() if casefold else email
            for account in self._company():
                if (account.email.casefold() if casefold else account.email) == key:
                    return _dump(account)
            return None

    # -- user groups and roles, as an admin makes and sees them in TeamViewer's console

    def add_role(self, name: str) -> str:
        """Seed a user role; returns its id, a GUID as TeamViewer's are ([PS])."""
        with self.lock:
            role = _Role(id=f"9b1e0000-0000-4000-8000-{len(self._roles) + 1:012x}", name=name)
            self._roles[role.id] = role
            return role.id

    def add_group(
        self,
        name: str,
        *,
        members: Iterable[int | str] = (),
        role_id: str | None = None,
        source: int = GROUP_SOURCE_UI,
    ) -> int:
        """Seed a user group (made in the console unless ``source`` says otherwise); returns its id.

        The name follows the API's rules (``ValueError`` when too long or taken); ``members``
        (account numbers or ``u…`` ids, any number of them) must be company accounts and
        ``role_id`` a seeded role (``KeyError``). All is checked first: a refused seed makes
        no group.
        """
        with self.lock:
            try:
                self._check_group_name(name, None)
            except _Problem as problem:
                raise ValueError(problem.detail) from None
            numbers = self._seeded_members(members)
            if role_id is not None and role_id not in self._roles:
                raise KeyError(role_id)
            group = self._insert_group(name, source)
            group.members.update(numbers)
            group.role_id = role_id
            return group.id

    def add_group_members(self, group_id: int, members: Iterable[int | str]) -> None:
        """Add company accounts to a group by hand, as many at once as wanted."""
        with self.lock:
            group = self._seeded_group(group_id)
            group.members.update(self._seeded_members(members))

    def set_group_name(self, group_id: int, name: str) -> None:
        """Rename a group by hand (a rename the product did not make)."""
        with self.lock:
            group = self._seeded_group(group_id)
            try:
                self._check_group_name(name, group.id)
            except _Problem as problem:
                raise ValueError(problem.detail) from None
            group.name = name

    def set_group_role(self, group_id: int, role_id: str | None) -> None:
        """Assign a role to a group by hand (replacing its one role), or unassign it with None."""
        with self.lock:
            group = self._seeded_group(group_id)
            if role_id is not None and role_id not in self._roles:
                raise KeyError(role_id)
            group.role_id = role_id

    def remove_group(self, group_id: int) -> None:
        """Delete a group by hand."""
        with self.lock:
            del self._groups[self._seeded_group(group_id).id]

    def groups(self) -> list[dict[str, Any]]:
        """All user groups in id order: id, name, creationSourceType ([SWAGGER] ``UserGroupModel``)."""
        with self.lock:
            return [_v1_group(g) for g in sorted(self._groups.values(), key=lambda g: g.id)]

    def group_members(self, group_id: int) -> list[int]:
        """The group's member account numbers, ascending."""
        with self.lock:
            return sorted(self._seeded_group(group_id).members)

    def group_role(self, group_id: int) -> str | None:
        """The id of the one role assigned to the group, or None."""
        with self.lock:
            return self._seeded_group(group_id).role_id

    def roles(self) -> list[dict[str, Any]]:
        """All user roles: Id, Name (in the order they were added)."""
        with self.lock:
            return [{"Id": r.id, "Name": r.name} for r in self._roles.values()]

    def writes(self) -> int:
        """How many non-GET requests arrived (throttled and faulted ones included)."""
        with self.lock:
            return sum(1 for call in self.calls if call.method != "GET")

    def reset_calls(self) -> None:
        with self.lock:
            self.calls.clear()
            self.throttled = 0

    # ------------------------------------------------------------------ dispatch

    def dispatch(self, request: EmulatorRequest) -> tuple[EmulatorResponse | None, InjectedFault | None]:
        """The rate limiter sits in front of everything, like an API gateway would."""
        throttled = self._throttle(request)
        if throttled is not None:
            self._record(request, throttled.status, None)
            return throttled, None
        response, fault = super().dispatch(request)
        self._record(request, response.status if response is not None else None, fault)
        return response, fault

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        path = request.path.rstrip("/") or "/"
        if path == "/scim/v2" or path.startswith("/scim/v2/"):
            try:
                return self._scim(request, path.removeprefix("/scim/v2"))
            except _Problem as problem:
                return _scim_error(problem)
        if path == "/api/v1" or path.startswith("/api/v1/"):
            try:
                return self._v1(request, path.removeprefix("/api/v1"))
            except _Problem as problem:
                return _v1_error(problem)
        return _v1_error(_Problem(404, f"No route for {path}", error="not_found"))

    # ------------------------------------------------------------------ SCIM v2, from the SCIM doc

    def _scim(self, request: EmulatorRequest, path: str) -> EmulatorResponse:
        self._authenticate(request)
        method = request.method
        if path == "/Users":
            if method == "GET":
                self._require(USERS_READ)
                return self._scim_list(request)
            if method == "POST":
                self._require(USERS_CREATE)
                return self._scim_create(request)
            raise _method_not_allowed("GET, POST")
        match = _USER_PATH_RE.match(path)
        if match is None:
            raise _Problem(404, f"Unknown SCIM resource {path}", error="not_found")
        user_id = match.group(1)
        if method == "GET":
            self._require(USERS_READ)
            return _scim_ok(200, self._scim_user(self._company_user(user_id)))
        if method == "PUT":
            self._require(USERS_MODIFY)
            return self._scim_replace(request, user_id)
        if method == "PATCH":
            self._require(USERS_MODIFY)
            return self._scim_patch(request, user_id)
        # No DELETE: [SCIM] documents none and [ENTRA-KB] says "the SCIM API can't delete
        # Users" (IdPs must deactivate instead). The real status is unknown; 405 states it.
        raise _method_not_allowed("GET, PUT, PATCH")

    def _scim_list(self, request: EmulatorRequest) -> EmulatorResponse:
        matches = self._company()
        raw_filter = request.query.get("filter")
        if raw_filter is not None:
            # An empty filter is not "no filter": RFC 7644 §3.4.2.2 has no empty expression,
            # and scim2-server answers it 400 invalidFilter.
            attribute, predicate = _parse_filter(raw_filter)
            matches = [a for a in matches if predicate(_filter_value(a, attribute))]
        # [SCIM] startIndex is 1-based; RFC 7644 §3.4.2.4: below 1 means 1, negative count means 0.
        start = max(1, _int_param(request.query, "startIndex", 1))
        if request.query.get("count") is not None:
            page = matches[start - 1 : start - 1 + max(0, _int_param(request.query, "count", 0))]
        else:
            page = matches[start - 1 :]
        if self.scim_max_page_size is not None:
            # RFC 7644 §3.4.2.4: a server may return fewer results than asked for.
            page = page[: self.scim_max_page_size]
        body = {
            "schemas": [SCIM_LIST_SCHEMA],
            "totalResults": len(matches),
            "startIndex": 0 if self.scim_zero_start_index else start,
            "itemsPerPage": len(page),
            "Resources": [self._scim_user(a) for a in page],
        }
        return _scim_ok(200, body)

    def _scim_user(self, account: _Account) -> dict[str, Any]:
        omit = self.scim_omit_active
        user = _scim_user(account)
        if omit is True or (not isinstance(omit, bool) and account.id in omit):
            del user["active"]
        return user

    def _scim_create(self, request: EmulatorRequest) -> EmulatorResponse:
        body = _scim_user_body(request)
        email = _scim_email(body)
        name = _scim_name(body)
        if email is None:
            raise _Problem(400, "userName or emails is required", scim_type="invalidValue")
        if not name:
            raise _Problem(400, "displayName or name is required", scim_type="invalidValue")
        _check_email(email)
        active = body.get("active", True)
        if not isinstance(active, bool):
            raise _Problem(400, "active must be a boolean", scim_type="invalidValue")
        language = body.get("preferredLanguage") or "en"  # [SCIM] default en, create only
        sso_id = _sso_customer_id(body)
        self._ensure_email_free(email, None, scim=True)
        account = self._insert(email, name, in_company=True)
        account.active = active
        account.language = str(language)
        account.sso_customer_id = sso_id  # [SCIM] SsoUser extension, applied on create only
        return _scim_ok(201, self._scim_user(account), {"Location": f"/scim/v2/Users/{account.id}"})

    def _scim_replace(self, request: EmulatorRequest, user_id: str) -> EmulatorResponse:
        """[SCIM] PUT is a full replacement: what is left out takes its default.

        Leaving out ``active`` therefore (re)activates, per RFC 7644 §3.5.1 and the SCIM
        default; that is exactly why the product PATCHes instead.
        """
        account = self._company_user(user_id)
        body = _scim_user_body(request)
        email = _scim_email(body)
        name = _scim_name(body)
        if email is None or not name:
            raise _Problem(400, "PUT needs userName (or emails) and a name", scim_type="invalidValue")
        _check_email(email)
        active = body.get("active", True)
        if not isinstance(active, bool):
            raise _Problem(400, "active must be a boolean", scim_type="invalidValue")
        self._ensure_email_free(email, account.id, scim=True)
        account.email, account.name, account.active = email, name, active
        return _scim_ok(200, self._scim_user(account))

    def _scim_patch(self, request: EmulatorRequest, user_id: str) -> EmulatorResponse:
        """[SCIM] PATCH: only ``replace``, ``path`` optional in dot notation; all or nothing."""
        account = self._company_user(user_id)
        body = _scim_json_object(request)
        schemas = body.get("schemas")
        if not isinstance(schemas, list) or SCIM_PATCH_SCHEMA not in schemas:
            raise _Problem(400, f"schemas must include {SCIM_PATCH_SCHEMA}", scim_type="invalidSyntax")
        operations = body.get("Operations")
        if not isinstance(operations, list) or not operations:
            raise _Problem(400, "Operations must be a non-empty list", scim_type="invalidSyntax")
        draft = replace(account)
        for operation in operations:
            if not isinstance(operation, dict):
                raise _Problem(400, "each operation must be an object", scim_type="invalidSyntax")
            op = operation.get("op")
            # Op names are case-insensitive (RFC 7644 §3.5.2); Entra sends "Replace".
            if not isinstance(op, str) or op.lower() != "replace":
                raise _Problem(400, f"unsupported op {op!r}: only replace", scim_type="invalidSyntax")
            path = operation.get("path")
            value = operation.get("value")
            if path is None:
                if not isinstance(value, dict):
                    raise _Problem(
                        400, "replace without path needs an object value", scim_type="invalidValue"
                    )
                for key, item in value.items():
                    _patch_attribute(draft, key, item)
            elif isinstance(path, str):
                _patch_attribute(draft, path, value)
            else:
                raise _Problem(400, "path must be a string", scim_type="invalidPath")
        if not draft.name:
            raise _Problem(400, "name must not be empty", scim_type="invalidValue")
        _check_email(draft.email)
        self._ensure_email_free(draft.email, account.id, scim=True)
        account.email, account.name, account.active = draft.email, draft.name, draft.active
        return _scim_ok(200, self._scim_user(account))

    # ------------------------------------------------------------------ Web API v1, from SWAGGER and PDF

    def _v1(self, request: EmulatorRequest, path: str) -> EmulatorResponse:  # noqa: PLR0911 - a router, one return per route
        method = request.method
        if path == "/ping" and method == "GET":
            # [PS] Invoke-TeamViewerPing: a 200 either way, the body says whether the token is good.
            return EmulatorResponse(200, {"token_valid": self._authorized(request)})
        self._authenticate(request)
        if path == "/account" and method == "GET":
            owner = self._accounts[self.owner_id]
            # [SWAGGER] AccountModel. Whether ``userid`` carries the "u" is not pinned down;
            # the emulator sends the bare number and the client accepts both forms.
            body = {
                "userid": owner.id.removeprefix("u"),
                "email": owner.email,
                "name": owner.name,
                "company_name": self.company_name,
                "email_validated": True,
                "email_language": owner.language,
            }
            return EmulatorResponse(200, body)
        if path.lstrip("/").split("/")[0] in {"usergroups", "userroles"}:
            return self._v1_groups(request, path)
        if path == "/users":
            if method == "GET":
                self._require(USERS_READ)
                return self._v1_list(request)
            if method == "POST":
                self._require(USERS_CREATE)
                return self._v1_create(request)
            raise _method_not_allowed("GET, POST")
        match = _V1_USER_PATH_RE.match(path)
        if match is None:
            raise _Problem(404, f"No route for /api/v1{path}", error="not_found")
        user_id = match.group(1)
        if not user_id.startswith("u"):
            raise _Problem(400, "The user id must start with 'u'")  # [SWAGGER] GET /users/{id}
        if method == "GET":
            self._require(USERS_READ)
            return EmulatorResponse(200, _v1_user(self._company_user(user_id)))
        if method == "PUT":
            self._require(USERS_MODIFY)
            return self._v1_update(request, user_id)
        # v1 DELETE exists ([SWAGGER]) but the product must never remove users; the emulator
        # refuses it so an accidental call shows up loudly. Tests use remove_from_company().
        raise _Problem(501, "DELETE is not emulated", error="not_implemented")

    def _v1_list(self, request: EmulatorRequest) -> EmulatorResponse:
        """[SWAGGER] GET /users: ``email`` exact and comma-separated ([PDF] §4.4.1), ``name`` substring.

        "Exact" is taken as case-sensitive, like the SCIM filter: the conservative reading.
        There is no paging; ``full_list`` only adds detail in the real API, and every field
        the emulator models is always returned.
        """
        accounts = self._company()
        emails = request.query.get("email")
        if emails:
            wanted = {e.strip() for e in emails.split(",") if e.strip()}
            accounts = [a for a in accounts if a.email in wanted]
        name = request.query.get("name")
        if name:
            accounts = [a for a in accounts if name.casefold() in a.name.casefold()]
        return EmulatorResponse(200, {"users": [_v1_user(a) for a in accounts]})

    def _v1_create(self, request: EmulatorRequest) -> EmulatorResponse:
        """[SWAGGER] POST /users: email, name, language required; 200 with the user ([PDF] p.28)."""
        body = _json_object(request)
        email = _v1_string(body, "email", 6, 100, required=True)
        name = _v1_string(body, "name", 2, 50, required=True)
        language = _v1_string(body, "language", 2, 10, required=True)
        sso_id = _v1_string(body, "sso_customer_id", 1, 1000, required=False)
        assert email is not None and name is not None and language is not None
        _check_email(email, v1=True)
        self._ensure_email_free(email, None, scim=False)
        account = self._insert(email, name, in_company=True)
        account.language = language
        account.sso_customer_id = sso_id
        # [PDF] p.28: the new URI is "also in a header"; Location is the natural one.
        return EmulatorResponse(200, _v1_user(account), {"Location": f"/api/v1/users/{account.id}"})

    def _v1_update(self, request: EmulatorRequest, user_id: str) -> EmulatorResponse:
        """[SWAGGER] PUT /users/{id}: only the fields sent change; 204 ([PDF] p.31)."""
        account = self._company_user(user_id)
        body = _json_object(request)
        email = _v1_string(body, "email", 6, 100, required=False)
        name = _v1_string(body, "name", 2, 50, required=False)
        sso_id = _v1_string(body, "sso_customer_id", 1, 1000, required=False)
        active = body.get("active")
        if active is not None and not isinstance(active, bool):
            raise _Problem(400, "active must be a boolean")
        if email is not None:
            _check_email(email, v1=True)
            self._ensure_email_free(email, account.id, scim=False)
            account.email = email
        if name is not None:
            account.name = name
        if active is not None:
            account.active = active
        if sso_id is not None:
            account.sso_customer_id = sso_id
        return EmulatorResponse(204)

    # ------------------------------------------------------------------ Web API v1 user groups and roles

    def _v1_groups(self, request: EmulatorRequest, path: str) -> EmulatorResponse:  # noqa: PLR0911 - a router, one return per route
        """Route ``/usergroups…`` ([SWAGGER]) and ``/userroles…`` ([PS]).

        As for users, the right is checked before the request is looked at (403 before 400
        or 404), and a path that exists answers 405 to a method it does not have.
        """
        method = request.method
        if path == "/usergroups":
            if method == "GET":
                self._require(GROUPS_READ)
                return self._list_groups(request)
            if method == "POST":
                self._require(GROUPS_CREATE)
                return self._create_group(request)
            raise _method_not_allowed("GET, POST")
        if path == "/userroles":
            if method != "GET":
                raise _method_not_allowed("GET")
            self._require(ROLES_VIEW)
            roles = [{"Id": r.id, "Name": r.name, "Permissions": {}} for r in self._roles.values()]
            return EmulatorResponse(200, {"Roles": roles})
        if path in {"/userroles/assign/usergroup", "/userroles/unassign/usergroup"}:
            if method != "POST":
                raise _method_not_allowed("POST")
            self._require(ROLES_ASSIGN)
            return self._assign_role(request, assign=path.startswith("/userroles/assign/"))
        match = _GROUP_PATH_RE.match(path)
        if match is None:
            raise _Problem(404, f"No route for /api/v1{path}", error="not_found")
        raw_id, sub, member = match.groups()
        if sub is None:
            return self._one_group(request, raw_id)
        if sub == "userroles" and member is None:
            if method != "GET":
                raise _method_not_allowed("GET")
            self._require(ROLES_VIEW)
            # [PS] Get-TeamViewerRoleByUserGroup: ``assignedRoleId``, null when none.
            return EmulatorResponse(200, {"assignedRoleId": self._group(raw_id).role_id})
        if sub == "members":
            return self._members(request, raw_id, member)
        raise _Problem(404, f"No route for /api/v1{path}", error="not_found")

    def _one_group(self, request: EmulatorRequest, raw_id: str) -> EmulatorResponse:
        """[SWAGGER] GET, PUT ``{name}`` and DELETE on ``/usergroups/{id}``; 404 for an unknown id."""
        method = request.method
        if method == "GET":
            self._require(GROUPS_READ)
            return EmulatorResponse(200, _v1_group(self._group(raw_id)))
        if method == "PUT":
            self._require(GROUPS_EDIT)
            group = self._group(raw_id)
            name = _group_name(_json_object(request))
            self._check_group_name(name, group.id)
            group.name = name
            # [PS] Set-TeamViewerUserGroup reads the changed group from the answer.
            return EmulatorResponse(200, _v1_group(group))
        if method == "DELETE":
            self._require(GROUPS_DELETE)
            del self._groups[self._group(raw_id).id]  # its members and role assignment go with it
            return EmulatorResponse(204)
        raise _method_not_allowed("GET, PUT, DELETE")

    def _list_groups(self, request: EmulatorRequest) -> EmulatorResponse:
        """[SWAGGER] GET /usergroups: one page of the company's groups, in id order."""
        groups = sorted(self._groups.values(), key=lambda g: g.id)
        return self._page(request, "usergroups", groups, lambda g: g.id, _v1_group)

    def _create_group(self, request: EmulatorRequest) -> EmulatorResponse:
        """[SWAGGER] POST /usergroups ``{name}``: 201 with the group; 409 when the name is taken."""
        name = _group_name(_json_object(request))
        self._check_group_name(name, None)
        group = self._insert_group(name, GROUP_SOURCE_API)
        return EmulatorResponse(201, _v1_group(group), {"Location": f"/api/v1/usergroups/{group.id}"})

    def _members(self, request: EmulatorRequest, raw_id: str, member: str | None) -> EmulatorResponse:
        """[SWAGGER] ``/usergroups/{id}/members``: list (paged), add, remove; and remove one.

        Member ids are account numbers (the user id without its "u", [PS]
        ``Resolve-TeamViewerUserGroupMemberId``). A member call carries 1 to 100 of them
        ([PS]); adding is all or nothing, refused with 400 when any is not a company account
        ([SWAGGER]). The reference is silent on adding a member twice and removing a
        non-member: both are harmless no-ops here (201 and 204), the answer a retried or
        repeated call needs.
        """
        method = request.method
        if member is not None:
            if method != "DELETE":
                raise _method_not_allowed("DELETE")
            self._require(GROUPS_EDIT)
            group = self._group(raw_id)
            if not _is_number(member):
                raise _Problem(400, "accountId must be a number")
            group.members.discard(int(member))
            return EmulatorResponse(204)
        if method == "GET":
            self._require(GROUPS_READ)
            group = self._group(raw_id)
            numbers = sorted(group.members)
            return self._page(request, f"members-{group.id}", numbers, lambda n: n, self._v1_member)
        if method == "POST":
            self._require(GROUPS_EDIT)
            group = self._group(raw_id)
            numbers = _account_numbers(request)
            if any(self._company_account(n) is None for n in numbers):
                raise _Problem(400, "account must be member of the company associated with the API token")
            group.members.update(numbers)
            return EmulatorResponse(201, [self._v1_member(n) for n in numbers])
        if method == "DELETE":
            self._require(GROUPS_EDIT)
            group = self._group(raw_id)
            group.members.difference_update(_account_numbers(request))
            return EmulatorResponse(204)
        raise _method_not_allowed("GET, POST, DELETE")

    def _assign_role(self, request: EmulatorRequest, *, assign: bool) -> EmulatorResponse:
        """[PS] ``POST /userroles/assign/usergroup {UserRoleId, UserGroupId}`` and ``…/unassign/…
        {UserGroupId}``: a group has one role ([PS] ``assignedRoleId``), so assigning replaces it.

        The ids travel in the body, and an id there that names nothing is a bad parameter
        (400, [PDF] §5.1), as the member call answers for an unknown account ([SWAGGER]).
        Assigning the role a group already has, and unassigning from a group without one,
        change nothing and succeed.
        """
        body = _json_object(request)
        group_id = body.get("UserGroupId")
        if not isinstance(group_id, int) or isinstance(group_id, bool):
            raise _Problem(400, "UserGroupId must be a number")
        group = self._groups.get(group_id)
        if group is None:
            raise _Problem(400, f"UserGroupId {group_id} does not exist")
        if not assign:
            group.role_id = None
            return EmulatorResponse(200)
        role_id = body.get("UserRoleId")
        if not isinstance(role_id, str) or not role_id:
            raise _Problem(400, "UserRoleId must be a role id")
        if role_id not in self._roles:
            raise _Problem(400, f"UserRoleId {role_id} does not exist")
        group.role_id = role_id
        return EmulatorResponse(200)

    def _page(
        self,
        request: EmulatorRequest,
        scope: str,
        items: list[Any],
        key: Callable[[Any], int],
        render: Callable[[Any], dict[str, Any]],
    ) -> EmulatorResponse:
        """One cursor page of ``items`` (sorted by ``key``) ([SWAGGER] ``paginationToken``, ``limit``).

        The token is opaque to clients and names where the last page ended (the key of its
        last item), so items added or removed meanwhile neither repeat nor hide the rest. A
        token from another listing, or one that is not a token at all, is 400. The last page
        has ``nextPaginationToken: null``; [PS] loops while it is set.
        """
        limit = _int_param(request.query, "limit", self.v1_page_size)
        if limit < 1:
            raise _Problem(400, "limit must be at least 1")
        size = min(limit, self.v1_page_size)
        token = request.query.get("paginationToken") or None
        after = _read_page_token(token, scope) if token is not None else None
        rest = [item for item in items if after is None or key(item) > after]
        page = rest[:size]
        following = _page_token(scope, key(page[-1])) if len(rest) > size else None
        body = {
            "currentPaginationToken": token,
            "nextPaginationToken": following,
            "resources": [render(item) for item in page],
        }
        return EmulatorResponse(200, body)

    def _v1_member(self, number: int) -> dict[str, Any]:
        """[SWAGGER] a member: ``accountId`` (int32) and ``name``."""
        account = self._accounts.get(f"u{number}")
        return {"accountId": number, "name": account.name if account is not None else ""}

    def _group(self, raw_id: str) -> _Group:
        if not _is_number(raw_id):
            raise _Problem(400, "The user group id must be a number")
        group = self._groups.get(int(raw_id))
        if group is None:
            raise _Problem(404, f"User group {raw_id} not found", error="not_found")
        return group

    def _seeded_members(self, members: Iterable[int | str]) -> list[int]:
        """Seeded members as account numbers; ``ValueError`` unless all are company accounts."""
        numbers = [_account_number(m) if isinstance(m, str) else m for m in members]
        outside = [n for n in numbers if self._company_account(n) is None]
        if outside:
            raise ValueError(f"not company accounts: {outside}")
        return numbers

    def _seeded_group(self, group_id: int) -> _Group:
        group = self._groups.get(group_id)
        if group is None:
            raise KeyError(group_id)
        return group

    def _check_group_name(self, name: str, own_id: int | None) -> None:
        """1 to 100 characters ([SWAGGER]); unique in the company, 409 when taken ([SWAGGER]).

        TeamViewer does not say whether ``Support`` and ``support`` may coexist; by default
        the emulator refuses the second (``group_names_ignore_case``).
        """
        if not 1 <= len(name) <= MAX_GROUP_NAME_LENGTH:
            raise _Problem(400, f"name must be 1 to {MAX_GROUP_NAME_LENGTH} characters")
        fold = str.casefold if self.group_names_ignore_case else str
        key = fold(name)
        for group in self._groups.values():
            if group.id != own_id and fold(group.name) == key:
                raise _Problem(409, "A user group with this name already exists", error="conflict")

    def _insert_group(self, name: str, source: int) -> _Group:
        group = _Group(id=self._next_group_id, name=name, source=source)
        self._next_group_id += 1
        self._groups[group.id] = group
        return group

    def _company_account(self, number: int) -> _Account | None:
        account = self._accounts.get(f"u{number}")
        return account if account is not None and account.in_company else None

    # ------------------------------------------------------------------ shared rules

    def _authorized(self, request: EmulatorRequest) -> bool:
        header = request.header("authorization") or ""
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self.token.encode())

    def _authenticate(self, request: EmulatorRequest) -> None:
        if not self._authorized(request):
            # [PDF] §5.1/§5.2: 401 invalid_token. The body never echoes what was sent.
            raise _Problem(401, "The access token is missing, invalid or expired", error="invalid_token")

    def _require(self, permission: str) -> None:
        if permission not in self.permissions:
            # [SCIM] token scopes; [PS] ConvertTo-ErrorRecord maps ``invalid_permission``.
            raise _Problem(
                403, f"invalid_permission: the token lacks {permission}", error="invalid_permission"
            )

    def _ensure_email_free(self, email: str, own_id: str | None, *, scim: bool) -> None:
        """Emails are unique across all of TeamViewer ([OKTA-KB] §6), compared case-insensitively.

        The reference does not say whether TeamViewer compares case; an email service that
        let ``A@x`` and ``a@x`` coexist would be unusual, so the emulator refuses both.
        """
        key = email.casefold()
        for account in self._accounts.values():
            if account.id != own_id and account.email.casefold() == key:
                detail = "email_in_use: the e-mail is already used by another account"
                if scim:
                    raise _Problem(
                        self.scim_conflict_status, detail, error="email_in_use", scim_type="uniqueness"
                    )
                raise _Problem(400, detail, error="email_in_use")  # [PDF] §5.2

    def _insert(self, email: str, name: str, *, in_company: bool) -> _Account:
        with self.lock:
            if any(a.email.casefold() == email.casefold() for a in self._accounts.values()):
                raise ValueError(f"email already taken: {email}")
            account = _Account(id=f"u{self._next_number}", email=email, name=name, in_company=in_company)
            self._next_number += 1
            self._accounts[account.id] = account
            self._company_cache = None
            return account

    def _company(self) -> list[_Account]:
        """The company's accounts in creation order; shared, so callers only read it.

        Kept between requests: a SCIM walk of 500,000 users would otherwise rebuild the list
        for each of its 5,000 pages.
        """
        if self._company_cache is None:
            self._company_cache = [a for a in self._accounts.values() if a.in_company]
        return self._company_cache

    def _company_user(self, user_id: str) -> _Account:
        account = self._accounts.get(user_id)
        if account is None or not account.in_company:
            raise _Problem(404, f"User {user_id} not found", error="not_found")
        return account

    def _throttle(self, request: EmulatorRequest) -> EmulatorResponse | None:
        limit = self.rate_limit
        if limit is None:
            return None
        with self.lock:
            now = self._clock()
            elapsed = max(0.0, now - self._bucket_time)
            self._bucket_time = now
            self._bucket_level = min(
                float(limit.capacity), self._bucket_level + elapsed * limit.requests_per_second
            )
            if self._bucket_level >= 1.0:
                self._bucket_level -= 1.0
                return None
            self.throttled += 1
            wait = (1.0 - self._bucket_level) / limit.requests_per_second
        if limit.style == "403":
            # [PDF] §5.1 "403 Forbidden / Rate Limit Reached" with error rate_limit_reached; the
            # reference only knows the v1 body, so SCIM paths get the same one.
            return _v1_error(
                _Problem(403, "Too many calls with the same access token", error="rate_limit_reached")
            )
        headers = {"Retry-After": str(max(1, math.ceil(wait)))} if limit.retry_after else {}
        problem = _Problem(429, "Too many requests", error="rate_limit_reached", headers=headers)
        return _scim_error(problem) if request.path.startswith("/scim/") else _v1_error(problem)

    def _record(self, request: EmulatorRequest, status: int | None, fault: InjectedFault | None) -> None:
        record = CallRecord(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            status=status,
            fault=fault.kind if fault is not None else None,
            after_apply=fault.after_apply if fault is not None else False,
            timestamp=time.time(),
        )
        with self.lock:
            self.calls.append(record)


# ---------------------------------------------------------------------- representations


def _dump(account: _Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "email": account.email,
        "name": account.name,
        "active": account.active,
        "sso_customer_id": account.sso_customer_id,
    }


def _split_name(name: str) -> tuple[str | None, str | None]:
    """[SCIM] output splits the name on the first space; both parts null without one."""
    given, space, family = name.partition(" ")
    return (given, family) if space else (None, None)


def _scim_user(account: _Account) -> dict[str, Any]:
    """[SCIM] User: schemas, id, name (given, family, formatted), displayName, emails, userName, active."""
    given, family = _split_name(account.name)
    return {
        "schemas": [SCIM_USER_SCHEMA],
        "id": account.id,
        "userName": account.email,
        "displayName": account.name,
        "name": {"givenName": given, "familyName": family, "formatted": account.name},
        "emails": [{"primary": True, "value": account.email}],
        "active": account.active,
    }


def _v1_group(group: _Group) -> dict[str, Any]:
    """[SWAGGER] ``UserGroupModel``: id (int64), name, creationSourceType (1 API, 2 UI, 3 SCIM)."""
    return {"id": group.id, "name": group.name, "creationSourceType": group.source}


def _account_number(account_id: str) -> int:
    """``u1234567`` -> ``1234567``, the member id of group calls ([PS], [ADC] ``.Trim('u')``)."""
    digits = account_id.removeprefix("u")
    if not digits.isdigit():
        raise ValueError(f"not an account id: {account_id!r}")
    return int(digits)


def _v1_user(account: _Account) -> dict[str, Any]:
    """[SWAGGER] user fields the product reads; the rest (licenses, tfa, ...) is not modelled."""
    return {"id": account.id, "name": account.name, "email": account.email, "active": account.active}


def _scim_ok(status: int, body: Any, headers: Mapping[str, str] | None = None) -> EmulatorResponse:
    return EmulatorResponse(status, body, dict(headers or {}), content_type=SCIM_CONTENT_TYPE)


def _scim_error(problem: _Problem) -> EmulatorResponse:
    """RFC 7644 §3.12 error body ([SCIM] documents none): status as a string, detail, scimType."""
    body: dict[str, Any] = {
        "schemas": [SCIM_ERROR_SCHEMA],
        "status": str(problem.status),
        "detail": problem.detail,
    }
    if problem.scim_type:
        body["scimType"] = problem.scim_type
    return EmulatorResponse(problem.status, body, problem.headers, content_type=SCIM_CONTENT_TYPE)


def _v1_error(problem: _Problem) -> EmulatorResponse:
    """[PDF] §5.2 error body: error, error_description, error_code."""
    body = {"error": problem.error, "error_description": problem.detail, "error_code": problem.status}
    return EmulatorResponse(problem.status, body, problem.headers)


def _method_not_allowed(allowed: str) -> _Problem:
    return _Problem(405, "Method not allowed", error="invalid_request", headers={"Allow": allowed})


# ---------------------------------------------------------------------- request parsing


def _json_object(request: EmulatorRequest) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        raise _Problem(400, "The body is not valid JSON", scim_type="invalidSyntax") from None
    if not isinstance(body, dict):
        raise _Problem(400, "The body must be a JSON object", scim_type="invalidSyntax")
    return body


def _scim_json_object(request: EmulatorRequest) -> dict[str, Any]:
    """A SCIM write's body, refused unless it is declared JSON (RFC 7644 §3.8, §8.1).

    No ``Content-Type`` at all is read as JSON, JSON being SCIM's default format (RFC 7644
    §3.8; ``scim2-server`` does the same). Any other media type is 415 Unsupported Media
    Type (RFC 9110 §15.5.16), as ``scim2-server`` answers: RFC 7644's ``scimType`` values
    describe 400s only, so the error carries none.
    """
    content_type = request.header("content-type")
    if content_type is not None:
        media_type = content_type.partition(";")[0].strip().lower()
        if media_type not in SCIM_WRITE_MEDIA_TYPES:
            raise _Problem(415, "The request body must be application/scim+json or application/json")
    return _json_object(request)


def _scim_user_body(request: EmulatorRequest) -> dict[str, Any]:
    """A User body for POST or PUT, with RFC 7643 §3's rules on ``schemas``.

    ``schemas`` must include the core User schema ([SCIM]: "Must include"), may name
    TeamViewer's SsoUser extension and nothing else, and must name every extension whose
    attributes the body carries: an extension attribute under a schema the body does not
    declare is refused, not quietly applied. Attributes no User schema defines are refused
    as a real server does (``scim2-server``: 400 invalidSyntax), so a misspelt attribute
    cannot pass for an ignored one.

    ``userName`` is required (RFC 7643 §4.1.1, and every real server refuses a User without
    it). [SCIM] describes a fallback to ``emails`` when it is missing; the emulator does not
    offer it, so no client can come to depend on a leniency only TeamViewer documents.
    """
    body = _scim_json_object(request)
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
        raise _Problem(400, "schemas must be a list of schema URIs", scim_type="invalidSyntax")
    if SCIM_USER_SCHEMA not in schemas:
        raise _Problem(400, f"schemas must include {SCIM_USER_SCHEMA}", scim_type="invalidSyntax")
    unknown = sorted(set(schemas) - SCIM_USER_SCHEMAS)
    if unknown:
        raise _Problem(400, f"Unknown schemas: {', '.join(unknown)}", scim_type="invalidSyntax")
    for key in body:
        if key.lower().startswith("urn:"):
            if key not in schemas:
                raise _Problem(
                    400,
                    f"{key} attributes are present but schemas does not name it",
                    scim_type="invalidSyntax",
                )
        elif key.lower() not in SCIM_USER_ATTRIBUTES:
            raise _Problem(400, f"Unknown attribute: {key}", scim_type="invalidSyntax")
    user_name = body.get("userName")
    if not isinstance(user_name, str) or not user_name.strip():
        raise _Problem(400, "userName is required", scim_type="invalidValue")
    _sso_customer_id(body)  # the extension must be well-formed even where it is not applied
    return body


def _group_name(body: Mapping[str, Any]) -> str:
    name = body.get("name")
    if not isinstance(name, str):
        raise _Problem(400, "name is required")
    return name


def _account_numbers(request: EmulatorRequest) -> list[int]:
    """A member call's body: a JSON array of 1 to 100 account numbers ([SWAGGER], [PS]).

    A number sent twice counts once in the result but twice against the limit: the
    limit is on what the call carries.
    """
    try:
        body = request.json()
    except ValueError:
        raise _Problem(400, "The body is not valid JSON") from None
    if not isinstance(body, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in body):
        raise _Problem(400, "The body must be a JSON array of numeric account ids")
    if not body:
        raise _Problem(400, "The body must name at least one account")
    if len(body) > MAX_ACCOUNTS_PER_CALL:
        raise _Problem(400, f"At most {MAX_ACCOUNTS_PER_CALL} accounts per call")
    return list(dict.fromkeys(body))


def _is_number(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also takes other scripts' digits."""
    return text.isascii() and text.isdigit()


def _page_token(scope: str, after: int) -> str:
    return base64.urlsafe_b64encode(f"{scope}:{after}".encode()).decode()


def _read_page_token(token: str, scope: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise _Problem(400, "paginationToken is not valid") from None
    token_scope, _, after = text.rpartition(":")
    if token_scope != scope or not _is_number(after):
        raise _Problem(400, "paginationToken is not valid")
    return int(after)


def _int_param(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _Problem(400, f"{name} must be an integer", scim_type="invalidValue") from None


def _check_email(email: str, *, v1: bool = False) -> None:
    too_long = v1 and not 6 <= len(email) <= 100
    if too_long or not _EMAIL_RE.match(email):
        raise _Problem(400, "Invalid email address", scim_type="invalidValue")


def _sso_customer_id(body: Mapping[str, Any]) -> str | None:
    """[SCIM] ``ssoCustomerId``, the SsoUser extension's only attribute, if the body has one."""
    sso = body.get(SSO_USER_SCHEMA)
    if sso is None:
        return None
    if not isinstance(sso, dict):
        raise _Problem(400, f"{SSO_USER_SCHEMA} must be an object", scim_type="invalidSyntax")
    unknown = sorted(key for key in sso if key.lower() != "ssocustomerid")
    if unknown:
        raise _Problem(400, f"Unknown SsoUser attribute: {', '.join(unknown)}", scim_type="invalidSyntax")
    sso_id = next((value for key, value in sso.items() if key.lower() == "ssocustomerid"), None)
    if sso_id is not None and not isinstance(sso_id, str):
        raise _Problem(400, "ssoCustomerId must be a string", scim_type="invalidValue")
    return sso_id


def _scim_email(body: Mapping[str, Any]) -> str | None:
    """[SCIM] email = ``userName`` (wins) or ``emails[primary or first].value``."""
    user_name = body.get("userName")
    if isinstance(user_name, str) and user_name:
        return user_name
    raw = body.get("emails")
    entries = raw if isinstance(raw, list) else []
    values = [e for e in entries if isinstance(e, dict) and isinstance(e.get("value"), str) and e["value"]]
    for entry in values:
        if entry.get("primary") is True:
            return str(entry["value"])
    return str(values[0]["value"]) if values else None


def _scim_name(body: Mapping[str, Any]) -> str:
    """[SCIM] name = ``displayName`` > ``name.formatted`` > ``givenName`` + " " + ``familyName``."""
    display = body.get("displayName")
    if isinstance(display, str) and display.strip():
        return display.strip()
    name = body.get("name")
    if not isinstance(name, dict):
        return ""
    formatted = name.get("formatted")
    if isinstance(formatted, str) and formatted.strip():
        return formatted.strip()
    parts = [name.get("givenName"), name.get("familyName")]
    return " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())


def _parse_filter(raw: str) -> tuple[str, Callable[[str], bool]]:
    match = _FILTER_RE.match(raw)
    if match is None:
        raise _Problem(400, f"Unsupported filter: {raw}", scim_type="invalidFilter")
    attribute, operator, quoted = match.group(1).lower(), match.group(2).lower(), match.group(3)
    if attribute not in {"username", "emails.value", "displayname", "name", "name.formatted"}:
        raise _Problem(400, f"Unsupported filter attribute: {match.group(1)}", scim_type="invalidFilter")
    compare = _FILTER_OPERATORS.get(operator)
    if compare is None:
        raise _Problem(400, f"Unsupported filter operator: {match.group(2)}", scim_type="invalidFilter")
    try:
        wanted = json.loads(quoted)  # RFC 7644 filter values are JSON strings
    except ValueError:
        raise _Problem(400, f"Malformed filter value: {quoted}", scim_type="invalidFilter") from None
    return attribute, lambda have: compare(have, wanted)


def _filter_value(account: _Account, attribute: str) -> str:
    return account.email if attribute in {"username", "emails.value"} else account.name


def _patch_attribute(draft: _Account, attribute: str, value: Any) -> None:
    """Apply one [SCIM] patchable attribute (attribute names are case-insensitive, RFC 7644)."""
    key = attribute.lower()
    given, family = _split_name(draft.name)
    if key in {"username", "emails.value"}:
        draft.email = _patch_string(attribute, value)
    elif key == "emails":
        chosen = _scim_email({"emails": value}) if isinstance(value, list) else None
        if chosen is None:
            raise _Problem(400, "emails must be a list with a value", scim_type="invalidValue")
        draft.email = chosen
    elif key in {"displayname", "name.formatted"}:
        draft.name = _patch_string(attribute, value).strip()
    elif key == "name.givenname":
        draft.name = f"{_patch_string(attribute, value).strip()} {family or ''}".strip()
    elif key == "name.familyname":
        draft.name = f"{given or draft.name} {_patch_string(attribute, value).strip()}".strip()
    elif key == "name":
        if not isinstance(value, dict):
            raise _Problem(400, "name must be an object", scim_type="invalidValue")
        for sub_key, sub_value in value.items():
            _patch_attribute(draft, f"name.{sub_key}", sub_value)
    elif key == "active":
        if not isinstance(value, bool):
            raise _Problem(400, "active must be a boolean", scim_type="invalidValue")
        draft.active = value
    else:
        raise _Problem(400, f"Attribute {attribute} cannot be patched", scim_type="invalidPath")


def _patch_string(attribute: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _Problem(400, f"{attribute} must be a non-empty string", scim_type="invalidValue")
    return value


def _v1_string(body: Mapping[str, Any], field: str, low: int, high: int, *, required: bool) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise _Problem(400, f"{field} is required")
        return None
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise _Problem(400, f"{field} must be a string of {low} to {high} characters")
    return value
