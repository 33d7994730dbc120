"""Which TeamViewer account a sync plans against, and where to look when that account fails it.

Pure: each answer is an intent (an ``AccountSource``) that the worker executes with at most
a read by id, an exact query and a scan of the company, so every rule is a table test.

The rules weigh two costs. A call per event is what the worker spends most on, so the
mapped account is trusted as the worker last saw or left it (SyncStateTable), and an
unknown user about to be created is not looked up at all: the create itself says, by
conflicting, when the account already exists. A missed account is worse when access is to
be *revoked*: it must be found whatever the letter case TeamViewer stored its email in,
and TeamViewer's filter is case-sensitive ([SCIM]), so a miss of the exact query then costs
a scan of the company (``LookUp.scan``) — unless the last run already scanned for this
email and found nothing.

Creates are crash-safe: just before one is sent, its email is recorded as pending; if it is
still pending when the next sync starts, the invocation that sent it died before recording
what TeamViewer did, and the account may exist. ``interrupted_create`` says how to find it
— by the email it was created with, not the user's email now: had the email changed in Okta
meanwhile, a lookup by the new one would miss the account, the sync would create a second
one, and a later deprovisioning would deactivate only that one. ``tvsync.core.record``
settles what was found.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from tvsync.core.desired_state import Presence
from tvsync.core.outcome import Outcome
from tvsync.core.plan import PlanReason

if TYPE_CHECKING:
    from tvsync.core.desired_state import DesiredAccount
    from tvsync.models.sync_state import SyncState
    from tvsync.models.teamviewer import TeamViewerAccount

__all__ = [
    "AccountSource",
    "LookUp",
    "NoLookup",
    "RereadMapped",
    "TrustStored",
    "account_source",
    "after_create_conflict",
    "after_missing_account",
    "claimed_by_another_user",
    "interrupted_create",
    "mapping_lost",
]


@dataclass(frozen=True)
class TrustStored:
    """Plan against the mapped account as the worker last saw or left it: no call."""

    account: TeamViewerAccount


@dataclass(frozen=True)
class LookUp:
    """One exact query for ``email``; when it misses and ``scan`` is set, a scan ignoring case."""

    email: str
    scan: bool


@dataclass(frozen=True)
class NoLookup:
    """Plan as if there were no account, without a call.

    ``create_tells``: an unknown user who is to have an account: creating it answers
    whether it already exists. Otherwise there is no email to look for.
    """

    create_tells: bool


@dataclass(frozen=True)
class RereadMapped:
    """Read the mapped account again (one call); if it is no longer in the company, ``if_gone``."""

    account_id: str
    if_gone: LookUp | NoLookup


AccountSource: TypeAlias = TrustStored | RereadMapped | LookUp | NoLookup


def account_source(
    desired: DesiredAccount, previous: SyncState | None, *, refresh: bool, dry_run: bool
) -> AccountSource:
    """Where the account to plan against comes from: the mapped one as last seen, else by email.

    ``refresh`` (a sync the reconciler asked for) re-reads the mapped account instead of
    trusting the stored view: the reconciler found the user by reading TeamViewer itself,
    so the stored view is what it disagreed with (edits made in TeamViewer never reach it).
    A mapped account that has left the company then counts as no mapping at all.

    A dry run creates nothing, so it must look up an unknown user it would create, or it
    would report a create for every user whose account exists but is not mapped yet.
    """
    known = previous.known_account() if previous is not None else None
    if known is None:
        return _by_email(desired, previous, refresh=refresh, dry_run=dry_run)
    if refresh:
        return RereadMapped(known.id, if_gone=_by_email(desired, previous, refresh=True, dry_run=dry_run))
    return TrustStored(known)


def _by_email(
    desired: DesiredAccount, previous: SyncState | None, *, refresh: bool, dry_run: bool
) -> LookUp | NoLookup:
    """The lookup of a user with no usable mapping.

    The scan is skipped when the last run already scanned for this email and found nothing
    (its reason was ``no-account``), unless the reconciler — which compares emails ignoring
    case — says it saw an account (``refresh``).
    """
    if desired.presence is Presence.ACTIVE and not dry_run:
        return NoLookup(create_tells=True)
    email = desired.email or (previous.email if previous is not None else None)
    if not email:
        return NoLookup(create_tells=False)
    scanned_before = (
        previous is not None
        and previous.last_reason == PlanReason.NO_ACCOUNT
        and previous.email_key == email.lower()
    )
    return LookUp(email, scan=refresh or not scanned_before)


def mapping_lost(previous: SyncState | None, current: TeamViewerAccount | None) -> bool:
    """Whether the sync found no account although one was mapped: the mapping must be forgotten.

    A stale mapping would make the next event plan against an account that is gone.
    """
    return current is None and previous is not None and previous.known_account() is not None


def after_missing_account(
    status: int | None, desired: DesiredAccount, previous: SyncState | None
) -> LookUp | NoLookup | None:
    """Where to look after TeamViewer refused an update of the mapped account with ``status``.

    A 404 means the mapped account left the company (or was removed): forget it, look the
    user up by email and plan again against what is found. Finding nothing means there is
    no account any more, not the one just lost. Only an account to revoke is worth a scan;
    one to keep active is created, and the create says if it exists after all.

    None when the refusal stands: another status, or no mapped account to have lost (the
    worker then starts over once with no record, so a second 404 is final).
    """
    if status != 404 or previous is None or previous.known_account() is None:
        return None
    if not desired.email:
        return NoLookup(create_tells=False)
    return LookUp(desired.email, scan=desired.presence is Presence.INACTIVE)


def after_create_conflict(email: str, previous: SyncState | None) -> LookUp:
    """Where to look after a create was refused because ``email`` is taken.

    Either someone outside the company owns the email (permanent: nothing is found), or the
    account is already in the company — created by a run that died before recording it, or
    stored in other letter case — and is adopted. When the last sync of this user already
    ended in that conflict, it already scanned: the exact query is enough.
    """
    repeat_conflict = previous is not None and previous.last_outcome == Outcome.CONFLICT
    return LookUp(email, scan=not repeat_conflict)


def interrupted_create(previous: SyncState) -> LookUp | None:
    """How to find the account of a create whose result was never recorded; None if there is none.

    Always with a scan: the user's account must not be created twice.
    """
    if previous.pending_create_email is None:
        return None
    return LookUp(previous.pending_create_email, scan=True)


def claimed_by_another_user(okta_user_id: str, account_id: str, records: Iterable[SyncState]) -> bool:
    """Whether one of ``records`` (those with the account's email) maps another user to the account.

    Such an account is not adopted: its email was reassigned, and it is that user's.
    """
    return any(
        record.okta_user_id != okta_user_id and record.teamviewer_id == account_id for record in records
    )
