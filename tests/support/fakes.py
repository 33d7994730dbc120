"""In-memory fakes of the services' ports (``tvsync.services.ports``): no sockets, no sleeps.

Each fake keeps the behaviours the synchroniser, the batch worker and the reconciler depend
on, and nothing more:

- ``FakeOkta``: users and app assignments; ``get_user`` answers by id or, like Okta, by
  login in any letter case; a plain ``iter_users`` leaves DEPROVISIONED users out and the
  ``status eq "DEPROVISIONED"`` filter lists them [SPEC]; ``find_by_email`` ignores case
  and prefers a user who is not DEPROVISIONED.
- ``FakeTeamViewer``: one company behind one script token, plus accounts outside it.
  ``find_by_email`` is TeamViewer's case-sensitive ``userName eq`` filter [SCIM] (a server
  that follows RFC 7643 and ignores case is one flag away); ``find_by_email_casefold`` scans
  the company page by page and stops at the deadline with ``TransientError``, as the client
  does. Emails are unique across all of TeamViewer ignoring case, inside and outside the
  company [OKTA-KB]: a taken one is refused with ``ConflictError``. An account that left
  the company reads as None and refuses updates with 404 (``InvalidError``). ``active`` may
  be left out (None) as SCIM allows (RFC 7643 §4.1.1).
- ``FakeSyncStateStore``: ``SyncStateStore``'s semantics — ``put`` replaces, while
  ``record_outcome`` and ``mark_pending_create`` set only their fields (creating the record
  when missing), reasons are stored masked, and ``find_by_email`` ignores case.
- ``FakeEventQueue``: what ``EventQueue.send`` reports, with users whose requests fail.
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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from tvsync.adapters.errors import ConflictError, InvalidError, TransientError
from tvsync.adapters.event_queue import SendOutcome
from tvsync.adapters.teamviewer_client import TokenOwner
from tvsync.models.okta import OktaAppUser, OktaUser, OktaUserStatus
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
    "FakeEventQueue",
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
    """An Okta org (``OktaReader``): users by id, and assignments to apps."""

    def __init__(self) -> None:
        super().__init__()
        self._users: dict[str, dict[str, Any]] = {}
        self._assignments: dict[tuple[str, str], str] = {}
        self._next = 1

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
        del self._users[user_id]
        self._drop_assignments(user_id)

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

    # -- internals

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


class FakeTeamViewer(_Recorder):
    """The token owner's TeamViewer company (``TeamViewerAccounts``), and accounts outside it.

    ``filter_ignores_case``: ``find_by_email`` matches other letter case too, as a server
    that follows RFC 7643 (``userName`` is ``caseExact: false``) would; TeamViewer does not
    [SCIM]. ``omit_active``: leave ``active`` out (None) — of every account (True) or of
    the ids given. ``monotonic``: the clock the scan's deadline is compared with.
    """

    OWNER_EMAIL = "admin@example.test"

    def __init__(
        self,
        *,
        filter_ignores_case: bool = False,
        omit_active: bool | frozenset[str] = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.filter_ignores_case = filter_ignores_case
        self.omit_active = omit_active
        self._monotonic = monotonic
        self._accounts: dict[str, _Account] = {}
        self._next = 1_000_001
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
        self._accounts[account_id].in_company = False

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
        return [c for c in self.calls if c.operation in {"create", "update"}]

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
        self, page_size: int = SCAN_PAGE_SIZE, *, deadline: float | None = None
    ) -> Iterator[TeamViewerAccount]:
        self._enter("iter_users")
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

    def _view(self, account: _Account) -> TeamViewerAccount:
        omit = self.omit_active
        hidden = omit is True or (not isinstance(omit, bool) and account.id in omit)
        return _account(account, None if hidden else account.active)


def _account(account: _Account, active: bool | None) -> TeamViewerAccount:
    return TeamViewerAccount(id=account.id, email=account.email, name=account.name, active=active)


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
