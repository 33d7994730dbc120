"""In-memory fakes of the services' ports (``tvsync.services.ports``): no sockets, no sleeps.

Each fake keeps the behaviours the synchroniser, the batch worker and the reconciler depend
on, and nothing more:

- ``FakeOkta``: users, app assignments and groups; ``get_user`` answers by id or, like Okta,
  by login in any letter case; a plain ``iter_users`` leaves DEPROVISIONED users out and the
  ``status eq "DEPROVISIONED"`` filter lists them [SPEC]; ``find_by_email`` ignores case
  and prefers a user who is not DEPROVISIONED, and so does ``find_by_emails`` for many
  addresses at once; ``iter_app_user_pages`` and ``iter_user_pages`` page by id with a
  cursor, and a cursor of another list is refused (``InvalidError``) as the client refuses
  it. Groups as the client reads them: a deleted
  group reads as None and holds nobody, a deleted user is in no group; the built-in
  ``Everyone`` (``everyone_id``) holds every user; a deactivated user keeps their
  memberships [DEACT-KB], a deleted one loses them; lists come ordered by id.
- ``FakeTeamViewer``: one company behind one script token, plus accounts outside it.
  ``find_by_email`` is TeamViewer's case-sensitive ``userName eq`` filter [SCIM] (a server
  that follows RFC 7643 and ignores case is one flag away); ``find_by_email_casefold`` scans
  the company page by page and stops at the deadline with ``TransientError``, as the client
  does. Emails are unique across all of TeamViewer ignoring case, inside and outside the
  company [OKTA-KB]: a taken one is refused with ``ConflictError``. An account that left
  the company reads as None and refuses updates with 404 (``InvalidError``). ``active`` may
  be left out (None) as SCIM allows (RFC 7643 §4.1.1). User groups and roles (``TeamViewerGroups``)
  answer as the client does over the emulator: a name taken in any letter case is a
  ``ConflictError``, a gone group 404 (``InvalidError``; ``get_group`` None, ``delete_group``
  done), an account outside the company or an unknown role 400 (``InvalidError``), more than
  100 ids a member call ``ValueError``; adding a member twice or removing a non-member
  changes nothing and succeeds.
- ``FakeSyncStateStore``: ``SyncStateStore``'s semantics — ``put`` replaces, while
  ``record_outcome`` and ``mark_pending_create`` set only their fields (creating the record
  when missing), reasons are stored masked, and ``find_by_email`` ignores case.
- ``FakeEventQueue``: what ``EventQueue.send`` reports, with users whose requests fail.
- ``FakeCheckpointStore``: the reconciler's one checkpoint, as ``CheckpointStore`` keeps it.
- ``SettableClock`` / ``SettableMonotonic`` / ``ClockedLambdaContext``: time that moves only
  when a test moves it.

Every fake records its calls (``calls``) and takes injected failures per operation
(``fail``): the error classes of ``tvsync.adapters.errors`` stand for what a real client
raises, anything else for a bug or an AWS failure. Where a fake could disagree with its
adapter, ``tests/contracts/test_fakes_match_adapters.py`` runs the same assertions against
both.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from tvsync.adapters.errors import ConflictError, InvalidError, TransientError
from tvsync.adapters.event_queue import SendOutcome
from tvsync.adapters.teamviewer_client import TokenOwner
from tvsync.adapters.teamviewer_groups import TeamViewerRole, member_batch
from tvsync.models.groups import MAX_GROUP_NAME, GroupLink, OktaGroup, TeamViewerGroup
from tvsync.models.okta import OktaAppUser, OktaUser, OktaUserStatus
from tvsync.models.okta_page import OktaPage
from tvsync.models.reconcile_checkpoint import ReconcileCheckpoint
from tvsync.models.sync_request import SyncRequest
from tvsync.models.sync_state import SyncState
from tvsync.models.teamviewer import TeamViewerAccount
from tvsync.observability import mask_emails

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = [
    "T0",
    "Call",
    "ClockedLambdaContext",
    "FakeCheckpointStore",
    "FakeEventQueue",
    "FakeGroupStateStore",
    "FakeOkta",
    "FakeSyncStateStore",
    "FakeTeamViewer",
    "RecordedVisibility",
    "SettableClock",
    "SettableMonotonic",
    "clocked_context",
]

#: The wall-clock time every fake world starts at.
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

#: The page size of the client's company scan (``teamviewer_client.DEFAULT_PAGE_SIZE``).
SCAN_PAGE_SIZE = 100


@dataclass(frozen=True)
class Call:
    """One call a fake received: the port method and its main argument(s)."""

    operation: str
    args: tuple[Any, ...] = ()


@dataclass
class _Fault:
    error: BaseException
    times: int
    after_apply: bool


class _Recorder:
    """Call log and injected failures, shared by every fake."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._faults: dict[str, list[_Fault]] = {}

    def fail(
        self, operation: str, error: BaseException, *, times: int = 1, after_apply: bool = False
    ) -> None:
        """The next ``times`` calls of ``operation`` raise ``error``.

        ``after_apply``: the call takes effect first (a write TeamViewer applied whose answer
        was lost, a sandbox that died right after it), then raises.
        """
        self._faults.setdefault(operation, []).append(_Fault(error, times, after_apply))

    def operations(self, *names: str) -> list[str]:
        """The operations called so far, in order (only ``names`` when given)."""
        return [c.operation for c in self.calls if not names or c.operation in names]

    def reset_calls(self) -> None:
        self.calls.clear()

    def _enter(self, operation: str, *args: Any) -> _Fault | None:
        """Record the call; raise a failure planned before the effect, return one planned after."""
        self.calls.append(Call(operation, args))
        planned = self._faults.get(operation)
        if not planned:
            return None
        fault = planned[0]
        fault.times -= 1
        if fault.times <= 0:
            planned.pop(0)
        if not fault.after_apply:
            raise fault.error
        return fault


# ---------------------------------------------------------------------------- Okta


class FakeOkta(_Recorder):
    """An Okta org (``OktaReader`` and the group reads): users by id, assignments to apps, groups.

    Group ids are ``00g`` and five digits in creation order, ``Everyone`` first, like the
    emulator's ids sort in creation order.
    """

    def __init__(self) -> None:
        super().__init__()
        self._users: dict[str, dict[str, Any]] = {}
        self._assignments: dict[tuple[str, str], str] = {}
        self._next = 1
        self._groups: dict[str, OktaGroup] = {}
        self._members: dict[str, set[str]] = {}
        self._next_group = 1
        #: The built-in group every user is in; it cannot be renamed, deleted or edited.
        self.everyone_id = self.add_group("Everyone", type="BUILT_IN")

    # -- seeding and changes, as an Okta admin makes them

    def add_user(
        self,
        email: str,
        first: str | None = None,
        last: str | None = None,
        *,
        status: str = "ACTIVE",
        user_id: str | None = None,
        login: str | None = None,
    ) -> str:
        user_id = user_id or f"00u{self._next:05d}"
        self._next += 1
        if self._by_login(login or email) is not None:
            raise ValueError(f"login {login or email} already exists")
        profile: dict[str, Any] = {"login": login or email, "email": email}
        if first is not None:
            profile["firstName"] = first
        if last is not None:
            profile["lastName"] = last
        self._users[user_id] = {"id": user_id, "status": status, "profile": profile}
        return user_id

    def assign(self, app_id: str, user_id: str, *, status: str = "ACTIVE") -> None:
        self._assignments[(app_id, user_id)] = status

    def unassign(self, app_id: str, user_id: str) -> None:
        del self._assignments[(app_id, user_id)]

    def set_status(self, user_id: str, status: str) -> None:
        """Deactivation deprovisions the user from every app [SPEC]: the assignments go."""
        self._users[user_id]["status"] = status
        if status == OktaUserStatus.DEPROVISIONED:
            self._drop_assignments(user_id)

    def update_profile(self, user_id: str, **fields: str) -> None:
        self._users[user_id]["profile"].update(fields)

    def delete_user(self, user_id: str) -> None:
        """The user's assignments and group memberships end with them."""
        del self._users[user_id]
        self._drop_assignments(user_id)
        for members in self._members.values():
            members.discard(user_id)

    def add_group(self, name: str, *, group_id: str | None = None, type: str = "OKTA_GROUP") -> str:
        """A group without members; returns its id (``type`` as Okta's: OKTA_GROUP, APP_GROUP, BUILT_IN)."""
        if not name:
            raise ValueError("a group needs a name")
        group_id = group_id or f"00g{self._next_group:05d}"
        self._next_group += 1
        if group_id in self._groups:
            raise ValueError(f"group {group_id} already exists")
        self._groups[group_id] = OktaGroup(id=group_id, name=name, type=type)
        if type != "BUILT_IN":
            self._members[group_id] = set()
        return group_id

    def add_to_group(self, group_id: str, user_id: str) -> None:
        """Make a user a member; a member stays one."""
        if user_id not in self._users:
            raise KeyError(f"unknown user {user_id}")
        self._editable(group_id).add(user_id)

    def remove_from_group(self, group_id: str, user_id: str) -> None:
        """End a membership; removing someone who is not a member changes nothing."""
        self._editable(group_id).discard(user_id)

    def rename_group(self, group_id: str, name: str) -> None:
        group = self._require_group(group_id)
        if group.type == "BUILT_IN" or not name:
            raise ValueError(f"group {group_id} cannot be named {name!r}")
        self._groups[group_id] = group.model_copy(update={"name": name})

    def delete_group(self, group_id: str) -> None:
        """Delete a group and its memberships; the built-in group cannot be deleted."""
        if self._require_group(group_id).type == "BUILT_IN":
            raise ValueError(f"the built-in group {group_id} cannot be deleted")
        del self._groups[group_id]
        del self._members[group_id]

    def group_members(self, group_id: str) -> list[str]:
        """The ids of a group's members, ordered (as an admin sees them, no call recorded)."""
        self._require_group(group_id)
        return sorted(self._member_ids(group_id))

    # -- OktaReader

    def get_user(self, user_id: str) -> OktaUser | None:
        self._enter("get_user", user_id)
        raw = self._users.get(user_id) or self._by_login(user_id)
        return None if raw is None else OktaUser.model_validate(raw)

    def get_app_user(self, app_id: str, user_id: str) -> OktaAppUser | None:
        self._enter("get_app_user", app_id, user_id)
        status = self._assignments.get((app_id, user_id))
        return None if status is None else OktaAppUser(id=user_id, status=status)

    def find_by_email(self, email: str) -> OktaUser | None:
        self._enter("find_by_email", email)
        wanted = email.strip().lower()
        owners = [
            OktaUser.model_validate(u)
            for u in self._users.values()
            if u["profile"]["email"].strip().lower() == wanted
        ]
        live = [u for u in owners if u.status is not OktaUserStatus.DEPROVISIONED]
        return next(iter(live or owners), None)

    def iter_users(self, *, page_size: int = 200, filter: str | None = None) -> Iterator[OktaUser]:
        self._enter("iter_users", filter)
        wanted: set[OktaUserStatus]
        if filter is None:
            wanted = {s for s in OktaUserStatus if s is not OktaUserStatus.DEPROVISIONED}
        elif filter == 'status eq "DEPROVISIONED"':
            wanted = {OktaUserStatus.DEPROVISIONED}
        else:  # an honest fake: no filter language it would only pretend to understand
            raise NotImplementedError(f"FakeOkta does not evaluate the filter {filter!r}")
        for raw in list(self._users.values()):
            user = OktaUser.model_validate(raw)
            if user.status in wanted:
                yield user

    def iter_app_users(self, app_id: str, *, page_size: int = 200) -> Iterator[tuple[OktaAppUser, OktaUser]]:
        self._enter("iter_app_users", app_id)
        for (app, user_id), status in list(self._assignments.items()):
            if app == app_id:
                yield OktaAppUser(id=user_id, status=status), OktaUser.model_validate(self._users[user_id])

    def find_by_emails(self, emails: Iterable[str]) -> dict[str, OktaUser]:
        wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
        self._enter("find_by_emails", tuple(wanted))
        found: dict[str, OktaUser] = {}
        for key in wanted:
            owners = [
                OktaUser.model_validate(u)
                for u in self._users.values()
                if u["profile"]["email"].strip().lower() == key
            ]
            live = [u for u in owners if u.status is not OktaUserStatus.DEPROVISIONED]
            if owners:
                found[key] = (live or owners)[0]
        return found

    def iter_app_user_pages(
        self, app_id: str, *, page_size: int = 200, cursor: str | None = None
    ) -> Iterator[OktaPage[tuple[OktaAppUser, OktaUser]]]:
        self._enter("iter_app_user_pages", app_id, cursor)
        ids = sorted(user_id for app, user_id in self._assignments if app == app_id)

        def item(user_id: str) -> tuple[OktaAppUser, OktaUser] | None:
            status = self._assignments.get((app_id, user_id))
            if status is None:
                return None
            return OktaAppUser(id=user_id, status=status), OktaUser.model_validate(self._users[user_id])

        yield from _cursor_pages(f"app:{app_id}", ids, item, page_size, cursor, "list_app_users")

    def iter_user_pages(
        self, *, page_size: int = 200, filter: str | None = None, cursor: str | None = None
    ) -> Iterator[OktaPage[OktaUser]]:
        self._enter("iter_user_pages", filter, cursor)
        if filter not in (None, 'status eq "DEPROVISIONED"'):
            raise NotImplementedError(f"FakeOkta does not evaluate the filter {filter!r}")
        deprovisioned = filter is not None

        def item(user_id: str) -> OktaUser | None:
            raw = self._users.get(user_id)
            if raw is None:
                return None
            user = OktaUser.model_validate(raw)
            return user if (user.status is OktaUserStatus.DEPROVISIONED) == deprovisioned else None

        ids = sorted(self._users)
        yield from _cursor_pages(f"users:{filter}", ids, item, page_size, cursor, "list_users")

    # -- group reads

    def get_group(self, group_id: str) -> OktaGroup | None:
        self._enter("get_group", group_id)
        return self._groups.get(group_id)

    def iter_group_users(self, group_id: str, *, page_size: int = 200) -> Iterator[OktaUser]:
        """Every member, DEPROVISIONED ones included [DEACT-KB]; a deleted group holds nobody."""
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._enter("iter_group_users", group_id)
        if group_id not in self._groups:
            return
        for user_id in sorted(self._member_ids(group_id)):
            yield OktaUser.model_validate(self._users[user_id])

    def iter_user_groups(self, user_id: str) -> Iterator[OktaGroup]:
        """The user's (by id or login) groups, ``Everyone`` included; a deleted user is in none."""
        self._enter("iter_user_groups", user_id)
        raw = self._users.get(user_id) or self._by_login(user_id)
        if raw is None:
            return
        for group_id in sorted(self._groups):
            if raw["id"] in self._member_ids(group_id):
                yield self._groups[group_id]

    # -- internals

    def _require_group(self, group_id: str) -> OktaGroup:
        group = self._groups.get(group_id)
        if group is None:
            raise KeyError(f"unknown group {group_id}")
        return group

    def _editable(self, group_id: str) -> set[str]:
        if self._require_group(group_id).type == "BUILT_IN":
            raise ValueError(f"the memberships of the built-in group {group_id} are managed by Okta")
        return self._members[group_id]

    def _member_ids(self, group_id: str) -> Collection[str]:
        """The built-in group holds every user; any other group its recorded members."""
        if self._groups[group_id].type == "BUILT_IN":
            return self._users.keys()
        return self._members[group_id]

    def _by_login(self, login: str) -> dict[str, Any] | None:
        """Okta matches logins ignoring case."""
        return next((u for u in self._users.values() if u["profile"]["login"].lower() == login.lower()), None)

    def _drop_assignments(self, user_id: str) -> None:
        for key in [k for k in self._assignments if k[1] == user_id]:
            del self._assignments[key]


# ---------------------------------------------------------------------------- TeamViewer


@dataclass
class _Account:
    id: str
    email: str
    name: str
    active: bool = True
    in_company: bool = True


@dataclass
class _Group:
    id: int
    name: str
    members: set[int] = field(default_factory=set)
    role_id: str | None = None


#: The fake's first user group id: above 2**32, as the emulator's, so no test leans on small ids.
FIRST_GROUP_ID = 5_000_000_001
#: TeamViewer's write operations, user and group ones: what ``FakeTeamViewer.writes`` lists.
_WRITES = frozenset(
    {
        "create",
        "update",
        "create_group",
        "rename_group",
        "delete_group",
        "add_group_members",
        "remove_group_members",
        "assign_group_role",
        "unassign_group_role",
    }
)


class FakeTeamViewer(_Recorder):
    """The token owner's TeamViewer company (``TeamViewerAccounts``), and accounts outside it.

    ``filter_ignores_case``: ``find_by_email`` matches other letter case too, as a server
    that follows RFC 7643 (``userName`` is ``caseExact: false``) would; TeamViewer does not
    [SCIM]. ``omit_active``: leave ``active`` out (None) — of every account (True) or of
    the ids given. ``monotonic``: the clock the scan's deadline is compared with.
    ``group_names_ignore_case``: a group name differing from a taken one only in letter case
    is taken too (the emulator's default; TeamViewer does not say).
    """

    OWNER_EMAIL = "admin@example.test"

    def __init__(
        self,
        *,
        filter_ignores_case: bool = False,
        omit_active: bool | frozenset[str] = False,
        monotonic: Callable[[], float] = time.monotonic,
        group_names_ignore_case: bool = True,
    ) -> None:
        super().__init__()
        self.filter_ignores_case = filter_ignores_case
        self.omit_active = omit_active
        self.group_names_ignore_case = group_names_ignore_case
        self._monotonic = monotonic
        self._accounts: dict[str, _Account] = {}
        self._next = 1_000_001
        self._groups: dict[int, _Group] = {}
        self._next_group = FIRST_GROUP_ID
        self._roles: dict[str, str] = {}
        self.owner_id = self._insert(self.OWNER_EMAIL, "Company Admin", in_company=True).id

    # -- seeding and inspection, as an admin sees TeamViewer

    def add_user(self, email: str, name: str, *, active: bool = True) -> TeamViewerAccount:
        account = self._insert(email, name, in_company=True)
        account.active = active
        return self._view(account)

    def add_foreign_account(self, email: str, name: str) -> None:
        """An account outside the company: invisible to the token, but its email is taken."""
        self._insert(email, name, in_company=False)

    def remove_from_company(self, account_id: str) -> None:
        """The account becomes a free one, and so leaves every group: members are company accounts."""
        self._accounts[account_id].in_company = False
        number = int(account_id.removeprefix("u"))
        for group in self._groups.values():
            group.members.discard(number)

    def edit(self, account_id: str, **fields: Any) -> None:
        """An edit made in TeamViewer itself, behind the product's back."""
        for name, value in fields.items():
            setattr(self._accounts[account_id], name, value)

    def account(self, email: str) -> TeamViewerAccount | None:
        """The company account with this email, ignoring case (as stored, ``active`` never omitted)."""
        key = email.casefold()
        found = next((a for a in self._company() if a.email.casefold() == key), None)
        return None if found is None else _account(found, found.active)

    def accounts(self) -> list[TeamViewerAccount]:
        return [_account(a, a.active) for a in self._company()]

    def writes(self) -> list[Call]:
        """Every write sent to TeamViewer, user and group ones, in order."""
        return [c for c in self.calls if c.operation in _WRITES]

    # -- user groups and roles, as an admin makes and sees them in TeamViewer (no call recorded)

    def add_role(self, name: str) -> str:
        """A user role; returns its id, a GUID as TeamViewer's are."""
        role_id = f"9b1e0000-0000-4000-8000-{len(self._roles) + 1:012x}"
        self._roles[role_id] = name
        return role_id

    def add_group(self, name: str, *, members: Iterable[int] = (), role_id: str | None = None) -> int:
        """A user group made in TeamViewer (``ValueError`` for a bad or taken name); returns its id."""
        if not 1 <= len(name) <= MAX_GROUP_NAME or self._group_named(name, None) is not None:
            raise ValueError(f"bad or taken group name: {name!r}")
        group = _Group(id=self._next_group, name=name, role_id=role_id)
        self._next_group += 1
        self._groups[group.id] = group
        self.set_group_members(group.id, members)
        return group.id

    def set_group_members(self, group_id: int, numbers: Iterable[int]) -> None:
        """Replace the group's members by hand (company accounts only, any number)."""
        wanted = set(numbers)
        outside = sorted(n for n in wanted if not self._in_company(n))
        if outside:
            raise ValueError(f"not company accounts: {outside}")
        self._groups[group_id].members = wanted

    def set_group_name(self, group_id: int, name: str) -> None:
        """A rename made in TeamViewer, behind the product's back (TeamViewer's name rules hold)."""
        if not 1 <= len(name) <= MAX_GROUP_NAME or self._group_named(name, group_id) is not None:
            raise ValueError(f"bad or taken group name: {name!r}")
        self._groups[group_id].name = name

    def set_group_role(self, group_id: int, role_id: str | None) -> None:
        """A role assigned (or, with None, unassigned) in TeamViewer, behind the product's back."""
        if role_id is not None and role_id not in self._roles:
            raise KeyError(role_id)
        self._groups[group_id].role_id = role_id

    def remove_group(self, group_id: int) -> None:
        """A group deleted in TeamViewer."""
        del self._groups[group_id]

    def groups(self) -> list[TeamViewerGroup]:
        return [
            TeamViewerGroup(id=g.id, name=g.name) for g in sorted(self._groups.values(), key=lambda g: g.id)
        ]

    def members_of(self, group_id: int) -> list[int]:
        """The group's member account numbers, ascending."""
        return sorted(self._groups[group_id].members)

    def role_of(self, group_id: int) -> str | None:
        return self._groups[group_id].role_id

    # -- TeamViewerAccounts

    def get(self, user_id: str) -> TeamViewerAccount | None:
        self._enter("get", user_id)
        account = self._accounts.get(user_id)
        return self._view(account) if account is not None and account.in_company else None

    def find_by_email(self, email: str) -> TeamViewerAccount | None:
        self._enter("find_by_email", email)
        company = self._company()
        exact = next((a for a in company if a.email == email), None)
        if exact is None and self.filter_ignores_case:
            exact = next((a for a in company if a.email.casefold() == email.casefold()), None)
        return None if exact is None else self._view(exact)

    def find_by_email_casefold(
        self, email: str, *, deadline: float | None = None
    ) -> TeamViewerAccount | None:
        self._enter("find_by_email_casefold", email)
        wanted = email.casefold()
        for account in self._pages(SCAN_PAGE_SIZE, deadline):
            if account.email.casefold() == wanted:
                return account
        return None

    def iter_users(
        self, page_size: int = SCAN_PAGE_SIZE, *, deadline: float | None = None, workers: int = 1
    ) -> Iterator[TeamViewerAccount]:
        if not 1 <= workers <= 8:  # the client's bound (scim_paging.MAX_WORKERS)
            raise ValueError("workers must be between 1 and 8")
        self._enter("iter_users", workers)
        return self._pages(page_size, deadline)

    def create(self, email: str, name: str) -> TeamViewerAccount:
        fault = self._enter("create", email, name)
        self._ensure_email_free(email, None, "create_user")
        account = self._insert(email, name, in_company=True)
        if fault is not None:
            raise fault.error
        return self._view(account)

    def update(
        self,
        user_id: str,
        *,
        active: bool | None = None,
        name: str | None = None,
        email: str | None = None,
    ) -> None:
        if active is None and name is None and email is None:
            return  # the client sends nothing at all
        fault = self._enter("update", user_id, {"active": active, "name": name, "email": email})
        account = self._accounts.get(user_id)
        if account is None or not account.in_company:
            raise InvalidError(
                "teamviewer", "update_user", f"not_found: User {user_id} not found", status=404
            )
        if email is not None:
            self._ensure_email_free(email, account.id, "update_user")
        # All or nothing, as TeamViewer applies one PATCH.
        account.active = account.active if active is None else active
        account.name = name or account.name
        account.email = email or account.email
        if fault is not None:
            raise fault.error

    def token_owner(self) -> TokenOwner:
        self._enter("token_owner")
        owner = self._accounts[self.owner_id]
        return TokenOwner(id=owner.id, email=owner.email, name=owner.name)

    # -- TeamViewerGroups

    def iter_groups(self, *, page_size: int | None = None) -> Iterator[TeamViewerGroup]:
        self._enter("iter_groups")
        yield from self.groups()

    def get_group(self, group_id: int) -> TeamViewerGroup | None:
        self._enter("get_group", group_id)
        group = self._groups.get(group_id)
        return None if group is None else TeamViewerGroup(id=group.id, name=group.name)

    def find_group_by_name(self, name: str) -> TeamViewerGroup | None:
        """The exact spelling first, else one differing only in case, as the client looks."""
        self._enter("find_group_by_name", name)
        ordered = sorted(self._groups.values(), key=lambda g: g.id)
        found = next((g for g in ordered if g.name == name), None) or next(
            (g for g in ordered if g.name.casefold() == name.casefold()), None
        )
        return None if found is None else TeamViewerGroup(id=found.id, name=found.name)

    def create_group(self, name: str) -> TeamViewerGroup:
        _check_group_name(name)
        fault = self._enter("create_group", name)
        if self._group_named(name, None) is not None:
            raise _group_conflict("create_group")
        group = _Group(id=self._next_group, name=name)
        self._next_group += 1
        self._groups[group.id] = group
        if fault is not None:
            raise fault.error
        return TeamViewerGroup(id=group.id, name=group.name)

    def rename_group(self, group_id: int, name: str) -> None:
        _check_group_name(name)
        fault = self._enter("rename_group", group_id, name)
        group = self._group(group_id, "rename_group")
        if self._group_named(name, group_id) is not None:
            raise _group_conflict("rename_group")
        group.name = name
        if fault is not None:
            raise fault.error

    def delete_group(self, group_id: int) -> None:
        fault = self._enter("delete_group", group_id)
        self._groups.pop(group_id, None)  # already gone: done, as the client reads a 404
        if fault is not None:
            raise fault.error

    def iter_group_members(self, group_id: int, *, page_size: int | None = None) -> Iterator[int]:
        self._enter("iter_group_members", group_id)
        yield from sorted(self._group(group_id, "list_group_members").members)

    def add_group_members(self, group_id: int, numbers: Sequence[int]) -> None:
        batch = member_batch(numbers)
        if not batch:
            return  # the client sends nothing at all
        fault = self._enter("add_group_members", group_id, tuple(batch))
        group = self._group(group_id, "add_group_members")
        if not all(self._in_company(n) for n in batch):
            raise InvalidError(
                "teamviewer",
                "add_group_members",
                "invalid_request: account must be member of the company associated with the API token",
                status=400,
            )
        group.members.update(batch)
        if fault is not None:
            raise fault.error

    def remove_group_members(self, group_id: int, numbers: Sequence[int]) -> None:
        batch = member_batch(numbers)
        if not batch:
            return
        fault = self._enter("remove_group_members", group_id, tuple(batch))
        self._group(group_id, "remove_group_members").members.difference_update(batch)
        if fault is not None:
            raise fault.error

    def group_role(self, group_id: int) -> str | None:
        self._enter("group_role", group_id)
        return self._group(group_id, "get_group_role").role_id

    def assign_group_role(self, group_id: int, role_id: str) -> None:
        if not role_id:
            raise ValueError("a role id is required")
        fault = self._enter("assign_group_role", group_id, role_id)
        group = self._groups.get(group_id)
        if group is None or role_id not in self._roles:
            raise InvalidError(
                "teamviewer", "assign_group_role", "invalid_request: no such user group or role", status=400
            )
        group.role_id = role_id
        if fault is not None:
            raise fault.error

    def unassign_group_role(self, group_id: int) -> None:
        fault = self._enter("unassign_group_role", group_id)
        group = self._groups.get(group_id)
        if group is None:
            raise InvalidError(
                "teamviewer", "unassign_group_role", "invalid_request: no such user group", status=400
            )
        group.role_id = None
        if fault is not None:
            raise fault.error

    def iter_roles(self) -> Iterator[TeamViewerRole]:
        self._enter("iter_roles")
        for role_id, name in list(self._roles.items()):
            yield TeamViewerRole(id=role_id, name=name)

    # -- internals

    def _pages(self, page_size: int, deadline: float | None) -> Iterator[TeamViewerAccount]:
        company = self._company()
        for start in range(0, len(company), page_size):
            if deadline is not None and self._monotonic() >= deadline:
                raise TransientError(
                    "teamviewer",
                    "list_users",
                    f"stopped after {start} users: out of time for the whole company",
                )
            yield from (self._view(a) for a in company[start : start + page_size])

    def _ensure_email_free(self, email: str, own_id: str | None, operation: str) -> None:
        key = email.casefold()
        if any(a.id != own_id and a.email.casefold() == key for a in self._accounts.values()):
            raise ConflictError(
                "teamviewer",
                operation,
                "email_in_use: the e-mail is already used by another account",
                status=409,
            )

    def _insert(self, email: str, name: str, *, in_company: bool) -> _Account:
        if any(a.email.casefold() == email.casefold() for a in self._accounts.values()):
            raise ValueError(f"email already taken: {email}")
        account = _Account(id=f"u{self._next}", email=email, name=name, in_company=in_company)
        self._next += 1
        self._accounts[account.id] = account
        return account

    def _company(self) -> list[_Account]:
        return [a for a in self._accounts.values() if a.in_company]

    def _in_company(self, number: int) -> bool:
        account = self._accounts.get(f"u{number}")
        return account is not None and account.in_company

    def _group(self, group_id: int, operation: str) -> _Group:
        group = self._groups.get(group_id)
        if group is None:
            raise InvalidError(
                "teamviewer", operation, f"not_found: User group {group_id} not found", status=404
            )
        return group

    def _group_named(self, name: str, own_id: int | None) -> _Group | None:
        """The other group whose name this one would collide with (in any case, unless told otherwise)."""
        fold = str.casefold if self.group_names_ignore_case else str
        key = fold(name)
        return next((g for g in self._groups.values() if g.id != own_id and fold(g.name) == key), None)

    def _view(self, account: _Account) -> TeamViewerAccount:
        omit = self.omit_active
        hidden = omit is True or (not isinstance(omit, bool) and account.id in omit)
        return _account(account, None if hidden else account.active)


def _account(account: _Account, active: bool | None) -> TeamViewerAccount:
    return TeamViewerAccount(id=account.id, email=account.email, name=account.name, active=active)


def _check_group_name(name: str) -> None:
    """The client refuses a name TeamViewer would (1 to 100 characters) before sending it."""
    if not 1 <= len(name) <= MAX_GROUP_NAME:
        raise ValueError(f"a user group name has 1 to {MAX_GROUP_NAME} characters, got {len(name)}")


def _group_conflict(operation: str) -> ConflictError:
    return ConflictError(
        "teamviewer", operation, "conflict: A user group with this name already exists", status=409
    )


def _cursor_pages(
    list_name: str,
    ids: list[str],
    item: Callable[[str], Any],
    page_size: int,
    cursor: str | None,
    operation: str,
) -> Iterator[OktaPage[Any]]:
    """Pages of the items of ``ids`` (``item`` None: not in the list now), by id after a cursor
    ``<list>><last id>``, as Okta's emulator pages; a cursor of another list is refused."""
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    after = ""
    if cursor is not None:
        owner, sep, after = cursor.partition(">")
        if not sep or owner != list_name:
            raise InvalidError("okta", operation, "pagination cursor belongs to another list")
    listed = ((user_id, item(user_id)) for user_id in ids if user_id > after)
    remaining = [(user_id, found) for user_id, found in listed if found is not None]
    while True:
        page, remaining = remaining[:page_size], remaining[page_size:]
        following = f"{list_name}>{page[-1][0]}" if remaining else None
        yield OktaPage([found for _, found in page], following)
        if not remaining:
            return


class FakeCheckpointStore(_Recorder):
    """The reconciler's checkpoint (``CheckpointStore``): one item, or none."""

    def __init__(self) -> None:
        super().__init__()
        self.checkpoint: ReconcileCheckpoint | None = None

    def load(self) -> ReconcileCheckpoint | None:
        self._enter("load")
        return self.checkpoint

    def save(self, checkpoint: ReconcileCheckpoint) -> None:
        self._enter("save", checkpoint.walk, checkpoint.cursor)
        self.checkpoint = checkpoint

    def clear(self) -> None:
        self._enter("clear")
        self.checkpoint = None


# ---------------------------------------------------------------------------- SyncStateTable


class FakeSyncStateStore(_Recorder):
    """SyncStateTable in a dict (``SyncStateRepository``), with ``SyncStateStore``'s write semantics.

    Records go in and come out through the model, as through DynamoDB, so the reason's email
    mask runs on every read.
    """

    def __init__(self) -> None:
        super().__init__()
        self._items: dict[str, dict[str, Any]] = {}

    # -- inspection and seeding, as someone reading the table (no call recorded)

    def stored(self, okta_user_id: str) -> SyncState | None:
        item = self._items.get(okta_user_id)
        return None if item is None else SyncState.model_validate(item)

    def seed(self, state: SyncState) -> None:
        self._items[state.okta_user_id] = state.model_dump(mode="json")

    # -- SyncStateRepository

    def get(self, okta_user_id: str) -> SyncState | None:
        self._enter("get", okta_user_id)
        return self.stored(okta_user_id)

    def get_many(self, okta_user_ids: Iterable[str]) -> dict[str, SyncState]:
        ids = list(dict.fromkeys(okta_user_ids))
        self._enter("get_many", len(ids))
        return {uid: state for uid in ids if (state := self.stored(uid)) is not None}

    def put(self, state: SyncState) -> None:
        self._enter("put", state.okta_user_id)
        self.seed(state)

    def record_outcome(self, okta_user_id: str, *, outcome: str, reason: str, at: datetime) -> None:
        self._enter("record_outcome", okta_user_id, outcome)
        self._update(
            okta_user_id, last_outcome=outcome, last_reason=mask_emails(reason), updated_at=at.isoformat()
        )

    def mark_pending_create(
        self, okta_user_id: str, *, email: str, outcome: str, reason: str, at: datetime
    ) -> None:
        self._enter("mark_pending_create", okta_user_id, email)
        self._update(
            okta_user_id,
            pending_create_email=email,
            pending_create_at=at.isoformat(),
            updated_at=at.isoformat(),
            last_outcome=outcome,
            last_reason=mask_emails(reason),
        )

    def find_by_email(self, email: str) -> list[SyncState]:
        self._enter("find_by_email", email)
        key = email.lower()
        return [
            SyncState.model_validate(item)
            for item in self._items.values()
            if item.get("email") and str(item["email"]).lower() == key
        ]

    def scan(self) -> Iterator[SyncState]:
        self._enter("scan")
        for item in list(self._items.values()):
            yield SyncState.model_validate(item)

    def _update(self, okta_user_id: str, **fields: Any) -> None:
        """A partial update: only ``fields`` change; the record is created if missing."""
        self._items.setdefault(okta_user_id, {"okta_user_id": okta_user_id}).update(fields)


# ---------------------------------------------------------------------------- EventQueue


class FakeEventQueue(_Recorder):
    """The EventQueue (``EventPublisher``): what was queued, in order; ``refused_users``' requests fail."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[SyncRequest] = []
        self.refused_users: set[str] = set()

    def send(self, requests: Sequence[SyncRequest], *, deadline: float | None = None) -> SendOutcome:
        self._enter("send", len(requests))
        outcome = SendOutcome(calls=1, lanes=1 if requests else 0)
        for request in requests:
            if request.okta_user_id in self.refused_users:
                outcome.failed.append(request.event_uuid)
            else:
                self.sent.append(request)
                outcome.queued.append(request.event_uuid)
        return outcome


# ---------------------------------------------------------------------------- time and Lambda


class SettableClock:
    """The wall clock (``Clock``), still until a test moves it."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class SettableMonotonic:
    """A ``MonotonicClock`` (seconds), still until a test moves it."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class ClockedLambdaContext:
    """The parts of Lambda's context the worker reads, its remaining time on a settable clock."""

    clock: SettableMonotonic
    timeout_seconds: float
    function_name: str = "WorkerFunction"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float | None = None

    def __post_init__(self) -> None:
        self._started = self.clock()

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        assert self._started is not None
        return max(0, int((self.timeout_seconds - (self.clock() - self._started)) * 1000))


def clocked_context(clock: SettableMonotonic, timeout_seconds: float) -> LambdaContext:
    """A ``ClockedLambdaContext``, typed as the ``LambdaContext`` handlers take (they read only its parts)."""
    return cast("LambdaContext", ClockedLambdaContext(clock, timeout_seconds))


@dataclass
class RecordedVisibility:
    """The worker's SQS client (``MessageVisibility``): remembers each redelivery delay asked for."""

    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    error: Exception | None = None

    def change_message_visibility_batch(self, *, QueueUrl: str, Entries: Iterable[Any]) -> object:
        if self.error is not None:
            raise self.error
        self.batches.append([dict(entry) for entry in Entries])
        return {"Successful": [], "Failed": []}

    @property
    def delays(self) -> dict[str, int]:
        """Receipt handle -> the visibility timeout last asked for it."""
        return {
            entry["ReceiptHandle"]: entry["VisibilityTimeout"] for batch in self.batches for entry in batch
        }


# ---------------------------------------------------------------------------- GroupStateTable


class FakeGroupStateStore(_Recorder):
    """GroupStateTable in a dict (``GroupStateRepository``), with ``GroupStateStore``'s write semantics.

    ``put`` replaces; ``record_outcome`` sets only the outcome, its masked reason and the time,
    keeping the link (and creating the record when missing). Records go in and come out
    through the model, as through DynamoDB.
    """

    def __init__(self) -> None:
        super().__init__()
        self._items: dict[str, dict[str, Any]] = {}

    # -- inspection and seeding, as someone reading the table (no call recorded)

    def stored(self, okta_group_id: str) -> GroupLink | None:
        item = self._items.get(okta_group_id)
        return None if item is None else GroupLink.model_validate(item)

    def seed(self, link: GroupLink) -> None:
        self._items[link.okta_group_id] = link.model_dump(mode="json")

    # -- GroupStateRepository

    def get(self, okta_group_id: str) -> GroupLink | None:
        self._enter("get", okta_group_id)
        return self.stored(okta_group_id)

    def put(self, link: GroupLink) -> None:
        self._enter("put", link.okta_group_id)
        self.seed(link)

    def record_outcome(self, okta_group_id: str, *, outcome: str, reason: str, at: datetime) -> None:
        self._enter("record_outcome", okta_group_id, outcome)
        item = self._items.setdefault(okta_group_id, {"okta_group_id": okta_group_id})
        item.update(last_outcome=outcome, last_reason=mask_emails(reason), updated_at=at.isoformat())

    def scan(self) -> Iterator[GroupLink]:
        self._enter("scan")
        for item in list(self._items.values()):
            yield GroupLink.model_validate(item)
