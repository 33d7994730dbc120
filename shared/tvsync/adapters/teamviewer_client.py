"""The TeamViewer Web API as the worker needs it: company users, and the user groups pushed from Okta.

Users go through SCIM v2 (the API TeamViewer built for provisioning, [SCIM]); the two
things SCIM cannot answer — who owns the token, and whether the token works — go through
Web API v1 (``/api/v1/account``, ``/api/v1/ping``). Every failure is translated into one of
``tvsync.adapters.errors``' classes by ``_classify``, so the worker decides on the class,
never on a status code. ``probe_right`` answers the one question ``tvsync check`` asks
before anything is written: which of the user rights the token has, and how we know.

Two facts shape the lookups: the SCIM filter is case-sensitive while emails are unique
regardless of case ([SCIM], [OKTA-KB]). ``find_by_email`` is therefore one cheap exact
query, and ``find_by_email_casefold`` the full scan the worker only pays for when the exact
query missed an account it must find (a create that says the email is taken, an account to
deactivate). The scan takes one call per page of the company, so it stops at a deadline
rather than run a Lambda into its timeout.

User groups, their members and their roles go through Web API v1 (``/api/v1/usergroups``
[SWAGGER], ``/api/v1/userroles`` [PS]); the wire models, the cursor walk and the member-batch
rule live in ``teamviewer_groups``, the calls here, so groups share the token, the pool, the
retries and ``_classify``. Two choices the reference leaves open are made here and relied on
by the worker: a group name is looked up exactly first and then ignoring letter case
(``find_group_by_name``), and member calls are treated as idempotent — adding an existing
member or removing a non-member is taken to change nothing and succeed. TeamViewer does not
document either answer; the emulator answers so and says it chose to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from tvsync.adapters.errors import (
    AuthError,
    ConflictError,
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
    retry_after_seconds,
    send,
)
from tvsync.adapters.retry import NO_RETRY, RetryPolicy
from tvsync.adapters.scim_paging import ScimPage, ThrottleGate, walk_users
from tvsync.adapters.teamviewer_groups import (
    USERGROUPS,
    USERROLES,
    GroupAnswer,
    GroupPage,
    GroupRoleAnswer,
    MemberPage,
    RoleList,
    TeamViewerRole,
    cursor_walk,
    member_batch,
    parse,
)
from tvsync.models.groups import MAX_GROUP_NAME, TeamViewerGroup
from tvsync.models.teamviewer import TeamViewerAccount

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator, Sequence

    import httpx

SERVICE = "teamviewer"
SCIM_USERS = "/scim/v2/Users"
SCIM_USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
SSO_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:teamviewer:1.0:SsoUser"
PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_CONTENT_TYPE = "application/scim+json"
DEFAULT_PAGE_SIZE = 100
#: Server-supplied text is cut to this length before it goes into an exception message.
_MAX_DETAIL = 200


class UserRight(StrEnum):
    """A right of the script token over company users, by the token scope SCIM names it ([SCIM])."""

    READ = "Users.Read"
    CREATE = "Users.CreateUsers"
    EDIT = "Users.ModifyUsers"

    @property
    def action(self) -> str:
        """What the right lets the token do, as an admin reads it: ``read users``."""
        return {UserRight.READ: "read", UserRight.CREATE: "create", UserRight.EDIT: "edit"}[self] + " users"

    @property
    def grant(self) -> str:
        """How to name the right to an admin who must give it to the token: its scope."""
        return self.value


class GroupRight(StrEnum):
    """A right of the script token over user groups and roles, as TeamViewer's console lists it.

    "User groups: create, delete, edit, read" ([ENTRA-KB]) and "User roles: view/assign"
    ([PS]); TeamViewer publishes no scope strings for them, so the admin is told the names
    the console shows.
    """

    READ = "User groups: read"
    CREATE = "User groups: create"
    EDIT = "User groups: edit"
    ROLES_VIEW = "User roles: view"
    ROLES_ASSIGN = "User roles: assign"

    @property
    def action(self) -> str:
        """What the right lets the token do, as an admin reads it: ``read user groups``."""
        return {
            GroupRight.READ: "read user groups",
            GroupRight.CREATE: "create user groups",
            GroupRight.EDIT: "edit user groups",
            GroupRight.ROLES_VIEW: "view user roles",
            GroupRight.ROLES_ASSIGN: "assign user roles",
        }[self]

    @property
    def grant(self) -> str:
        return f"the right “{self.value}”"


class RightVerdict(StrEnum):
    """What TeamViewer's answer to a probe says about a right."""

    GRANTED = "granted"
    """The server let the request through to its own checks (or served it harmlessly)."""
    MISSING = "missing"
    """The server refused the request for the right itself (403, not a rate limit)."""
    WRITE_ACCEPTED = "write-accepted"
    """The server accepted a write it should have refused: the right is there, and the
    probe's premise is not — the company's users deserve a look."""
    INCONCLUSIVE = "inconclusive"
    """Any other answer: it says nothing either way."""


@dataclass(frozen=True)
class RightProbe:
    """One right, the verdict, and how it was reached.

    ``status`` is the HTTP status the verdict rests on; ``error`` TeamViewer's own error code
    or text, if it sent one (cut short, the token blanked out); ``evidence`` says in a
    sentence how the status was read.
    """

    right: UserRight | GroupRight
    verdict: RightVerdict
    status: int
    error: str
    evidence: str


class _ProbeKind(StrEnum):
    """How a right probe's request is built, and so what a success answer says about the right."""

    READ = "read"
    """A read: 200 means the right is there."""
    INVALID = "invalid"
    """A write the server can only refuse: 400 means it looked, so the right is there."""
    EMPTY_CHANGE = "empty-change"
    """A write that changes nothing: 200/204 means the right is there, 400 too."""


@dataclass(frozen=True)
class _Call:
    """One request to TeamViewer, as a value: what to send, and the operation it is logged and
    classified under. Each attempt builds its own ``httpx.Request`` from it (``_request``)."""

    operation: str
    method: str
    path: str
    params: dict[str, str] | None = None
    scim_body: dict[str, Any] | None = None
    json_body: object = None


class TokenOwner(BaseModel):
    """The account that owns the script token; the worker must never deactivate it."""

    model_config = ConfigDict(frozen=True)

    id: str
    email: str
    name: str


class TeamViewerClient:
    """A pooled client for one TeamViewer company (one script token).

    ``sso_customer_id`` is sent with every create, the only moment TeamViewer applies it
    ([SCIM], [OKTA-KB]). Each HTTP exchange runs inside ``retry.call``; response bodies are
    parsed outside it, so a garbled success answer is never retried into a duplicate write.
    """

    def __init__(  # noqa: PLR0913 - the company and its token, then keyword-only create and transport options
        self,
        base_url: str,
        token: TokenProvider,
        *,
        sso_customer_id: str | None = None,
        retry: RetryPolicy = NO_RETRY,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._token = token
        self._sso_customer_id = sso_customer_id
        self._retry = retry
        self._http = new_http_client(
            base_url, HeaderTokenAuth("Bearer", token), timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TeamViewerClient(base_url={str(self._http.base_url)!r})"

    # ------------------------------------------------------------------ lookups

    def find_by_email(self, email: str) -> TeamViewerAccount | None:
        """One ``userName eq`` SCIM query, for the account with this email in any letter case.

        TeamViewer's filter is case-sensitive ([SCIM]), so there it finds the account only
        when it is stored in the same case; a server that follows RFC 7643 (``userName`` is
        ``caseExact: false``) also answers other cases. Either way the client keeps only
        the asked-for email: the exact spelling first, else one differing only in case.
        """
        value = email.replace("\\", "\\\\").replace('"', '\\"')
        body = self._json(
            _Call("find_by_email", "GET", SCIM_USERS, params={"filter": f'userName eq "{value}"'})
        )
        accounts = [_account(r, "find_by_email") for r in _resources(body, "find_by_email")]
        for account in accounts:
            if account.email == email:
                return account
        return next((a for a in accounts if a.email.casefold() == email.casefold()), None)

    def find_by_email_casefold(
        self, email: str, *, deadline: float | None = None
    ) -> TeamViewerAccount | None:
        """Scan all company users for the email, ignoring case: O(company) calls, use sparingly.

        ``deadline`` (``time.monotonic()``): see ``iter_users``.
        """
        wanted = email.casefold()
        for account in self.iter_users(DEFAULT_PAGE_SIZE, deadline=deadline):
            if account.email.casefold() == wanted:
                return account
        return None

    def iter_users(
        self, page_size: int = DEFAULT_PAGE_SIZE, *, deadline: float | None = None, workers: int = 1
    ) -> Generator[TeamViewerAccount]:
        """All company users, in order, a few SCIM pages in memory at a time.

        A page may hold fewer users than asked for (RFC 7644 §3.4.2.4: ``count`` is a
        maximum), so a short page is no sign of the end: the walk goes on until
        ``totalResults`` users have been received, or a page comes back empty (the company
        shrank meanwhile). Stopping early would hide accounts: the case-insensitive scan
        before a deactivation would miss the account (access never revoked) and the
        reconciler would see part of the company. A walk that does not end is refused with
        ``TransientError`` rather than followed; the guards are ``tvsync.adapters.scim_paging``'s.

        ``workers`` > 1 requests that many pages ahead (``startIndex`` paging allows it),
        with one ``ThrottleGate`` per walk so a rate limit holds back every thread.

        No page is requested once ``deadline`` (``time.monotonic()``) has passed: the walk
        raises ``TransientError`` instead, so a caller inside a Lambda can still report
        and try again later rather than be killed mid-walk with nothing recorded.
        """
        gate = ThrottleGate() if workers > 1 else None

        def fetch(start: int, count: int) -> ScimPage:
            params = {"startIndex": str(start), "count": str(count)}
            body = self._json(_Call("list_users", "GET", SCIM_USERS, params=params), gate=gate)
            accounts = [_account(r, "list_users") for r in _resources(body, "list_users")]
            return ScimPage(accounts, _total_results(body))

        return walk_users(fetch, page_size, deadline=deadline, workers=workers)

    def get(self, user_id: str) -> TeamViewerAccount | None:
        """The company user, or ``None`` if TeamViewer answers 404 (not in the company)."""
        response = self._exchange(_Call("get_user", "GET", _user_path(user_id)), missing_ok=True)
        if response is None:
            return None
        return _account(_decode(response, "get_user"), "get_user")

    # ------------------------------------------------------------------ writes

    def create(self, email: str, name: str, *, language: str | None = None) -> TeamViewerAccount:
        """SCIM POST; TeamViewer answers 201 ([SCIM]). A taken email raises ``ConflictError``."""
        schemas = [SCIM_USER_SCHEMA]
        user: dict[str, Any] = {
            "userName": email,
            "displayName": name,
            "emails": [{"value": email, "primary": True}],
            "name": {"formatted": name},
            "active": True,
        }
        if language:
            user["preferredLanguage"] = language
        if self._sso_customer_id:
            schemas.append(SSO_USER_SCHEMA)
            user[SSO_USER_SCHEMA] = {"ssoCustomerId": self._sso_customer_id}
        # 200 is tolerated too: a success is a success, whatever code a proxy rewrote it to.
        call = _Call("create_user", "POST", SCIM_USERS, scim_body={"schemas": schemas, **user})
        response = self._exchange(call, ok=(200, 201))
        assert response is not None
        return _account(_decode(response, "create_user"), "create_user")

    def update(
        self,
        user_id: str,
        *,
        active: bool | None = None,
        name: str | None = None,
        email: str | None = None,
    ) -> None:
        """One SCIM PATCH with a ``replace`` per given field; nothing given, nothing sent.

        SCIM cannot delete users ([SCIM], [ENTRA-KB]): deprovisioning is ``active=False``.
        Changing ``userName`` changes the email and mails a verification to it ([SCIM]).
        """
        operations: list[dict[str, Any]] = []
        if active is not None:
            operations.append({"op": "replace", "path": "active", "value": active})
        if name is not None:
            operations.append({"op": "replace", "path": "displayName", "value": name})
        if email is not None:
            operations.append({"op": "replace", "path": "userName", "value": email})
        if not operations:
            return
        patch = {"schemas": [PATCH_OP_SCHEMA], "Operations": operations}
        self._exchange(_Call("update_user", "PATCH", _user_path(user_id), scim_body=patch), ok=(200, 204))

    # ------------------------------------------------------------------ v1

    def token_owner(self) -> TokenOwner:
        """v1 ``GET /account`` ([SWAGGER]); ``userid`` is accepted with or without its "u"."""
        body = self._json(_Call("token_owner", "GET", "/api/v1/account"))
        userid, email, name = body.get("userid"), body.get("email"), body.get("name")
        if not isinstance(userid, str | int) or isinstance(userid, bool) or not isinstance(email, str):
            raise _unexpected("token_owner")
        text = str(userid)
        return TokenOwner(
            id=text if text.startswith("u") else f"u{text}",
            email=email,
            name=name if isinstance(name, str) else "",
        )

    def ping(self) -> bool:
        """v1 ``GET /ping`` ([PS]): whether TeamViewer accepts the token. A 401 also means no."""
        try:
            body = self._json(_Call("ping", "GET", "/api/v1/ping"))
        except AuthError as exc:
            if exc.status == 401:
                return False
            raise
        return body.get("token_valid") is True

    # ------------------------------------------------------------------ v1 user groups and roles

    def iter_groups(self, *, page_size: int | None = None) -> Iterator[TeamViewerGroup]:
        """Every user group of the company, one cursor page in memory at a time ([SWAGGER]).

        Pages follow ``nextPaginationToken`` until it is absent; a token handed out twice
        raises ``TransientError`` (``cursor_walk``). ``page_size`` is sent as ``limit`` only
        when given: TeamViewer documents no default or maximum, so the server's own page
        size is the safe one.
        """

        def fetch(token: str | None) -> GroupPage:
            params = _page_params(token, page_size)
            body = self._json(_Call("list_groups", "GET", USERGROUPS, params=params))
            return parse(GroupPage, body, "list_groups")

        for page in cursor_walk(fetch, "list_groups"):
            yield from page.groups()

    def get_group(self, group_id: int) -> TeamViewerGroup | None:
        """The group ([SWAGGER] ``GET /usergroups/{id}``), or None when TeamViewer answers 404."""
        response = self._exchange(_Call("get_group", "GET", _group_path(group_id)), missing_ok=True)
        if response is None:
            return None
        return parse(GroupAnswer, _decode(response, "get_group"), "get_group").group()

    def find_group_by_name(self, name: str) -> TeamViewerGroup | None:
        """The company's group with this name: the exact spelling first, else one differing only in case.

        The v1 API has no name filter ([SWAGGER]), so this walks ``iter_groups``. TeamViewer
        does not say whether ``Support`` and ``support`` may coexist; if it refuses the
        second as taken (the emulator's default), a group differing only in case is the one
        a create would collide with, so it is the one to adopt (the plan then renames it to
        the exact spelling). If TeamViewer allows both, an exact match still wins.
        """
        wanted = name.casefold()
        other_case: TeamViewerGroup | None = None
        for group in self.iter_groups():
            if group.name == name:
                return group
            if other_case is None and group.name.casefold() == wanted:
                other_case = group
        return other_case

    def create_group(self, name: str) -> TeamViewerGroup:
        """[SWAGGER] ``POST /usergroups {name}`` → 201 with the group; a taken name raises ``ConflictError``.

        A create retried after a lost answer may meet the group it made itself as "taken":
        the caller adopts by name (``find_group_by_name``), so no duplicate is ever made.
        """
        _check_group_name(name)
        call = _Call("create_group", "POST", USERGROUPS, json_body={"name": name})
        response = self._exchange(call, ok=(200, 201))
        assert response is not None
        return parse(GroupAnswer, _decode(response, "create_group"), "create_group").group()

    def rename_group(self, group_id: int, name: str) -> None:
        """[SWAGGER] ``PUT /usergroups/{id} {name}``; a taken name raises ``ConflictError``, a gone
        group ``InvalidError`` (404). The answer's body is not needed and not read."""
        _check_group_name(name)
        call = _Call("rename_group", "PUT", _group_path(group_id), json_body={"name": name})
        self._exchange(call, ok=(200, 204))

    def delete_group(self, group_id: int) -> None:
        """[SWAGGER] ``DELETE /usergroups/{id}`` → 204. A group already gone (404) is done too:
        a delete retried after a lost answer must not fail on its own success."""
        self._exchange(_Call("delete_group", "DELETE", _group_path(group_id)), ok=(200, 204), missing_ok=True)

    def iter_group_members(self, group_id: int, *, page_size: int | None = None) -> Iterator[int]:
        """The account numbers of the group's members ([SWAGGER] ``GET /usergroups/{id}/members``).

        Paged like ``iter_groups``. A gone group raises ``InvalidError`` (404) rather than
        read as empty: an empty group and a missing one need different repairs.
        """
        path = f"{_group_path(group_id)}/members"

        def fetch(token: str | None) -> MemberPage:
            params = _page_params(token, page_size)
            body = self._json(_Call("list_group_members", "GET", path, params=params))
            return parse(MemberPage, body, "list_group_members")

        for page in cursor_walk(fetch, "list_group_members"):
            yield from page.numbers()

    def add_group_members(self, group_id: int, numbers: Sequence[int]) -> None:
        """[SWAGGER] ``POST /usergroups/{id}/members [numbers]`` → 201; nothing to add, nothing sent.

        ``numbers`` are account numbers (``u1234567`` → 1234567), at most 100 (``ValueError``
        above: the core batches). An account outside the company is refused by TeamViewer
        with 400 (``InvalidError``), the whole call with it. Adding an existing member is
        treated as harmless (module docstring), so a retried add is safe.
        """
        batch = member_batch(numbers)
        if batch:
            call = _Call("add_group_members", "POST", f"{_group_path(group_id)}/members", json_body=batch)
            self._exchange(call, ok=(200, 201, 204))

    def remove_group_members(self, group_id: int, numbers: Sequence[int]) -> None:
        """[SWAGGER] ``DELETE /usergroups/{id}/members [numbers]`` → 204; nothing to remove, nothing sent.

        The same 100-id rule as ``add_group_members``; removing a non-member is treated as
        harmless, so a retried removal is safe.
        """
        batch = member_batch(numbers)
        if batch:
            call = _Call(
                "remove_group_members", "DELETE", f"{_group_path(group_id)}/members", json_body=batch
            )
            self._exchange(call, ok=(200, 204))

    def group_role(self, group_id: int) -> str | None:
        """The id of the one role assigned to the group, or None ([PS] ``GET /usergroups/{id}/userroles``
        → ``assignedRoleId``). A gone group raises ``InvalidError`` (404)."""
        body = self._json(_Call("get_group_role", "GET", f"{_group_path(group_id)}/userroles"))
        return parse(GroupRoleAnswer, body, "get_group_role").assignedRoleId

    def assign_group_role(self, group_id: int, role_id: str) -> None:
        """[PS] ``POST /userroles/assign/usergroup {UserRoleId, UserGroupId}``.

        A group holds one role ([PS] ``assignedRoleId``), so this replaces the one it had.
        An unknown role or group is refused (``InvalidError``).
        """
        if not role_id:
            raise ValueError("a role id is required")
        body = {"UserRoleId": role_id, "UserGroupId": group_id}
        self._exchange(
            _Call("assign_group_role", "POST", f"{USERROLES}/assign/usergroup", json_body=body), ok=(200, 204)
        )

    def unassign_group_role(self, group_id: int) -> None:
        """[PS] ``POST /userroles/unassign/usergroup {UserGroupId}``: the group keeps no role."""
        call = _Call(
            "unassign_group_role",
            "POST",
            f"{USERROLES}/unassign/usergroup",
            json_body={"UserGroupId": group_id},
        )
        self._exchange(call, ok=(200, 204))

    def iter_roles(self) -> Iterator[TeamViewerRole]:
        """The company's user roles ([PS] ``GET /userroles`` → ``Roles``): what ``tvsync check``
        holds ``GROUP_ROLE_MAP``'s role ids against."""
        body = self._json(_Call("list_roles", "GET", USERROLES))
        yield from parse(RoleList, body, "list_roles").roles()

    # ------------------------------------------------------------------ rights

    def probe_right(self, right: UserRight, *, account_id: str | None = None) -> RightProbe:
        """Whether the token has ``right``, found out without changing anything.

        READ lists one user. CREATE and EDIT send requests that can never succeed — a
        create without ``userName``, and a PATCH of ``account_id`` (required for EDIT; the
        token owner's account is the natural one) with an empty ``Operations`` list, which
        changes nothing whatever the server makes of it. SCIM answers a request the token
        may not make with 403 before it looks at the body, and a request it may make but
        cannot accept with 400 (the order the emulator follows too), so 403 means the right
        is missing and 400 that it is there. That is an inference — TeamViewer does not
        document the order — and any other answer is ``INCONCLUSIVE``, never ``GRANTED``.

        A refused token (401) raises ``AuthError`` and a rate limit ``ThrottledError``:
        neither says anything about the right.
        """
        operation = f"probe_{right.name.lower()}"
        if right is UserRight.READ:
            call = _Call(operation, "GET", SCIM_USERS, params={"startIndex": "1", "count": "1"})
        elif right is UserRight.CREATE:
            # No userName and no emails: TeamViewer can only refuse it, so nothing is created.
            invalid = {"schemas": [SCIM_USER_SCHEMA], "displayName": "permission probe (invalid on purpose)"}
            call = _Call(operation, "POST", SCIM_USERS, scim_body=invalid)
        else:
            if not account_id:
                raise ValueError("probing the right to edit users needs an account to probe")
            empty = {"schemas": [PATCH_OP_SCHEMA], "Operations": []}
            call = _Call(operation, "PATCH", _user_path(account_id), scim_body=empty)

        if right is UserRight.READ:
            return self._probe(call, right, _ProbeKind.READ, listed="the company's users")
        kind = _ProbeKind.EMPTY_CHANGE if right is UserRight.EDIT else _ProbeKind.INVALID
        return self._probe(call, right, kind)

    def probe_group_right(self, right: GroupRight, *, group: TeamViewerGroup | None = None) -> RightProbe:
        """Whether the token has a user-group or role ``right``, found out without changing anything.

        The same inference as ``probe_right`` (403 before the body is looked at), on the v1
        endpoints group sync uses ([SWAGGER], [PS]): READ and ROLES_VIEW list one page;
        CREATE posts a group with an empty name, which TeamViewer's 1-to-100-character rule
        can only refuse (400); ROLES_ASSIGN posts an assignment naming no role and no group
        (400); EDIT renames ``group`` (required) to the name it already has — an empty
        change, as EDIT of a user is. DELETE is not probed: no request to delete a group is
        both harmless and sure to reach the right's check.
        """
        operation = f"probe_groups_{right.name.lower()}"
        if right is GroupRight.READ:
            call = _Call(operation, "GET", USERGROUPS, params={"limit": "1"})
            return self._probe(call, right, _ProbeKind.READ, listed="the company's user groups")
        if right is GroupRight.ROLES_VIEW:
            call = _Call(operation, "GET", USERROLES)
            return self._probe(call, right, _ProbeKind.READ, listed="the company's user roles")
        if right is GroupRight.CREATE:
            call = _Call(operation, "POST", USERGROUPS, json_body={"name": ""})
            return self._probe(call, right, _ProbeKind.INVALID)
        if right is GroupRight.ROLES_ASSIGN:
            call = _Call(operation, "POST", f"{USERROLES}/assign/usergroup", json_body={})
            return self._probe(call, right, _ProbeKind.INVALID)
        if group is None:
            raise ValueError("probing the right to edit user groups needs a group to probe")
        call = _Call(operation, "PUT", _group_path(group.id), json_body={"name": group.name})
        return self._probe(call, right, _ProbeKind.EMPTY_CHANGE)

    def _probe(
        self, call: _Call, right: UserRight | GroupRight, kind: _ProbeKind, *, listed: str = ""
    ) -> RightProbe:
        """Send one probe and read its answer as a verdict on ``right`` (see ``probe_right``)."""
        operation = call.operation

        def attempt() -> httpx.Response:
            response = send(self._http, SERVICE, operation, self._request(call))
            if response.status_code == 401 or _is_rate_limited(response):
                raise _classify(operation, response, secret=self._secret())
            return response

        response = self._retry.call(attempt)
        status = response.status_code
        error = _error_text(response, secret=self._secret())

        def verdict(found: RightVerdict, evidence: str) -> RightProbe:
            return RightProbe(right=right, verdict=found, status=status, error=error, evidence=evidence)

        if status == 403:
            return verdict(RightVerdict.MISSING, "TeamViewer refused the request before looking at it")
        if kind is _ProbeKind.READ:
            if status == 200:
                return verdict(RightVerdict.GRANTED, f"TeamViewer listed {listed}: HTTP 200")
        elif status == 400:
            return verdict(
                RightVerdict.GRANTED, "TeamViewer checked the deliberately invalid request: HTTP 400"
            )
        elif kind is _ProbeKind.EMPTY_CHANGE and status in (200, 204):
            return verdict(RightVerdict.GRANTED, "TeamViewer accepted an empty change: nothing modified")
        elif 200 <= status < 300:
            return verdict(
                RightVerdict.WRITE_ACCEPTED, f"TeamViewer accepted a request it should refuse (HTTP {status})"
            )
        return verdict(RightVerdict.INCONCLUSIVE, f"TeamViewer answered HTTP {status}")

    # ------------------------------------------------------------------ plumbing

    def _json(self, call: _Call, *, gate: ThrottleGate | None = None) -> dict[str, Any]:
        response = self._exchange(call, gate=gate)
        assert response is not None
        return _decode(response, call.operation)

    def _exchange(
        self,
        call: _Call,
        *,
        ok: tuple[int, ...] = (200,),
        missing_ok: bool = False,
        gate: ThrottleGate | None = None,
    ) -> httpx.Response | None:
        """``call`` under the retry policy: ``ok`` are its successes; with ``missing_ok``, a 404 is None.

        ``gate``: shared by the threads of one concurrent walk; each attempt waits for it.
        """

        def attempt() -> httpx.Response | None:
            if gate is not None:
                gate.wait()
            response = send(self._http, SERVICE, call.operation, self._request(call))
            if response.status_code in ok:
                return response
            if missing_ok and response.status_code == 404:
                return None
            raise _classify(call.operation, response, secret=self._secret())

        return (self._retry if gate is None else gate.around(self._retry)).call(attempt)

    def _request(self, call: _Call) -> httpx.Request:
        """The ``httpx.Request`` for one attempt at ``call``, with SCIM's media types where they apply."""
        headers: dict[str, str] = {}
        content: bytes | None = None
        if call.path.startswith("/scim/"):
            headers["Accept"] = f"{SCIM_CONTENT_TYPE}, application/json"
        if call.scim_body is not None:
            headers["Content-Type"] = SCIM_CONTENT_TYPE
            content = json.dumps(call.scim_body).encode()
        elif call.json_body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(call.json_body).encode()
        return self._http.build_request(
            call.method, call.path, params=call.params, headers=headers, content=content
        )

    def _secret(self) -> str:
        try:
            return self._token()
        except Exception:  # redaction must never replace the real error
            return ""


def _is_rate_limited(response: httpx.Response) -> bool:
    """429, or [PDF] §5's documented answer: 403 with error ``rate_limit_reached``."""
    if response.status_code == 429:
        return True
    body = _json_or_none(response) if response.status_code == 403 else None
    return body is not None and _text(body.get("error")) == "rate_limit_reached"


def _error_text(response: httpx.Response, *, secret: str = "") -> str:
    """The server's own word on a refusal — ``error``, else ``scimType``, else ``detail`` —
    cut short and with the token blanked out if echoed; empty when the body has none."""
    body = _json_or_none(response) or {}
    text = next((value for key in ("error", "scimType", "detail") if (value := _text(body.get(key)))), "")
    text = text[:_MAX_DETAIL]
    return text.replace(secret, "***") if secret else text


def _classify(operation: str, response: httpx.Response, *, secret: str = "") -> UpstreamError:
    """Map a failed TeamViewer answer to the error class that carries the worker's decision.

    Bodies are read defensively (any shape, or none) and only the server's error code and
    description reach the message, cut short and with the token blanked out if echoed.
    """
    status = response.status_code
    body = _json_or_none(response)
    error = _text(body.get("error")) if body else ""
    scim_type = _text(body.get("scimType")) if body else ""
    description = ""
    if body:
        description = _text(body.get("error_description")) or _text(body.get("detail"))
    detail = ": ".join(part for part in (error, description) if part) or f"HTTP {status}"
    detail = detail[:_MAX_DETAIL]
    if secret:
        detail = detail.replace(secret, "***")

    kind: type[UpstreamError]
    if status == 401:
        kind = AuthError
    elif _is_rate_limited(response):
        kind = ThrottledError
    elif status == 403:
        # A token without a needed right: no retry fixes it, only the admin can; alarm as auth.
        kind = AuthError
    elif (
        status == 409 or error == "email_in_use" or scim_type == "uniqueness" or "email_in_use" in description
    ):
        kind = ConflictError
    elif status >= 500:
        kind = TransientError
    elif 400 <= status < 500:
        kind = InvalidError
    else:
        # 1xx/2xx/3xx where something else was expected: it says nothing about the request.
        kind, detail = TransientError, f"unexpected HTTP {status}"
    if kind is ThrottledError:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        return ThrottledError(SERVICE, operation, detail, status=status, retry_after=retry_after)
    return kind(SERVICE, operation, detail, status=status)


def _json_or_none(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _unexpected(operation: str) -> TransientError:
    # A body the client cannot read is most likely a gateway or an outage page, not our request.
    return TransientError(SERVICE, operation, "unexpected response body")


def _decode(response: httpx.Response, operation: str) -> dict[str, Any]:
    body = _json_or_none(response)
    if body is None:
        raise _unexpected(operation)
    return body


def _resources(body: dict[str, Any], operation: str) -> list[dict[str, Any]]:
    resources = body.get("Resources", [])
    if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
        raise _unexpected(operation)
    return resources


def _total_results(body: dict[str, Any]) -> int | None:
    """``totalResults`` when the server gave a usable one (a non-negative integer), else None."""
    total = body.get("totalResults")
    if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
        return total
    return None


def _account(resource: dict[str, Any], operation: str) -> TeamViewerAccount:
    """A SCIM User as a ``TeamViewerAccount``, with [SCIM]'s mapping rules for email and name."""
    user_id, active = resource.get("id"), resource.get("active")
    email = _text(resource.get("userName")) or _primary_email(resource.get("emails"))
    # ``active`` is optional (RFC 7643 §4.1.1) and null means unassigned (RFC 7643 §2.5):
    # both are "unknown", which the core plans for; any other non-boolean is garbage.
    if not isinstance(user_id, str) or not user_id or not email or not isinstance(active, bool | None):
        raise _unexpected(operation)
    return TeamViewerAccount(id=user_id, email=email, name=_display_name(resource), active=active)


def _primary_email(emails: object) -> str:
    if not isinstance(emails, list):
        return ""
    values = [e for e in emails if isinstance(e, dict) and _text(e.get("value"))]
    primary = [e for e in values if e.get("primary") is True]
    return _text((primary or values)[0].get("value")) if values else ""


def _display_name(resource: dict[str, Any]) -> str:
    display = _text(resource.get("displayName"))
    if display:
        return display
    name = resource.get("name")
    if not isinstance(name, dict):
        return ""
    formatted = _text(name.get("formatted"))
    if formatted:
        return formatted
    return " ".join(p for p in (_text(name.get("givenName")), _text(name.get("familyName"))) if p)


def _user_path(user_id: str) -> str:
    return f"{SCIM_USERS}/{quote(user_id, safe='')}"


def _group_path(group_id: int) -> str:
    """``/api/v1/usergroups/{id}``; ``ValueError`` for anything but a group id (an int64, [SWAGGER])."""
    if not isinstance(group_id, int) or isinstance(group_id, bool) or group_id <= 0:
        raise ValueError(f"not a TeamViewer user group id: {group_id!r}")
    return f"{USERGROUPS}/{group_id}"


def _check_group_name(name: str) -> None:
    """1 to 100 characters ([SWAGGER]): a longer name is the caller's bug (the core cuts names)."""
    if not 1 <= len(name) <= MAX_GROUP_NAME:
        raise ValueError(f"a user group name has 1 to {MAX_GROUP_NAME} characters, got {len(name)}")


def _page_params(token: str | None, page_size: int | None) -> dict[str, str] | None:
    """[SWAGGER] ``paginationToken`` and ``limit``, each only when there is one to send."""
    if page_size is not None and page_size < 1:
        raise ValueError("page_size must be at least 1")
    params = {"paginationToken": token, "limit": None if page_size is None else str(page_size)}
    kept = {key: value for key, value in params.items() if value is not None}
    return kept or None
