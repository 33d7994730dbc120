"""What a sync leaves in SyncStateTable: the user's next record, decided from how the sync went.

Pure, so the worker's bookkeeping is a table test: a sync is described by where it started
(``SyncStart``) and how it ended (``SyncEnd``); ``record_sync`` applies the recording rules
of ``tvsync.core.outcome`` (adoption, the reason kept, what dates ``last_applied_at``) and
builds the record to store. The worker stores it, counts what ``Recorded`` says was done and
logs it; it decides none of it.

Rules of the record itself:

- the mapping follows the account the sync ended with; ``SyncEnd.forget`` drops it when the
  mapped account turned out to be gone and nothing replaced it, since a stale mapping would
  make the next event plan against an account that no longer exists;
- a finished sync knows the result of any create it sent, so the pending create is cleared;
- the event fields (``last_event_uuid`` …) move only forward in Okta's time: a redelivered
  older event is recorded as synced, but does not pass for the latest one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tvsync.core.outcome import Outcome, RecordedReason, is_adoption, recorded, records_change
from tvsync.core.plan import PlanReason
from tvsync.models.sync_state import SyncState

if TYPE_CHECKING:
    from datetime import datetime

    from tvsync.core.desired_state import DesiredAccount
    from tvsync.core.plan import Operation, Plan
    from tvsync.models.sync_request import SyncRequest
    from tvsync.models.teamviewer import TeamViewerAccount

__all__ = [
    "Recorded",
    "Settlement",
    "SyncEnd",
    "SyncStart",
    "end_after_writes",
    "end_without_writes",
    "record_sync",
    "settle_interrupted_create",
]


@dataclass(frozen=True)
class SyncStart:
    """Where a sync started: the request, the user's record, and what Okta wants.

    ``previous`` is the record once any interrupted create was settled; ``settled`` says that
    settling adopted an account (already stored and counted, so recorded here, not counted).
    """

    request: SyncRequest
    previous: SyncState | None
    desired: DesiredAccount
    settled: bool = False


@dataclass(frozen=True)
class SyncEnd:
    """How a sync ended, before the recording rules apply.

    ``account`` is the account the user ends mapped to (None: as before, or none at all —
    see ``forget``); ``operations`` are what was sent, or planned in a dry run.
    """

    outcome: Outcome
    reason: RecordedReason | None
    operations: tuple[Operation, ...] = ()
    account: TeamViewerAccount | None = None
    forget: bool = False


@dataclass(frozen=True)
class Recorded:
    """The record to store, and what it says for metrics and the log.

    ``adopted``: the user ends mapped to an account that already existed (the log's field).
    ``counts_adoption``: this sync itself found that account and really mapped it
    (``UsersAdopted``); an adoption settled at the start was counted then.
    """

    state: SyncState
    outcome: Outcome
    reason: RecordedReason | None
    adopted: bool
    counts_adoption: bool


def end_without_writes(
    plan: Plan, current: TeamViewerAccount | None, *, forget: bool, dry_run: bool
) -> SyncEnd | None:
    """How a sync ends that writes nothing to TeamViewer; None when ``plan`` must be executed."""
    if plan.is_noop:
        return SyncEnd(Outcome.NO_CHANGE, plan.reason, (), current, forget=forget)
    if dry_run:
        return SyncEnd(Outcome.DRY_RUN, plan.reason, plan.operations, current, forget=forget)
    return None


def end_after_writes(
    account: TeamViewerAccount | None,
    operations: tuple[Operation, ...],
    reason: PlanReason,
    *,
    email_refused: bool,
) -> SyncEnd:
    """How a sync ends once its plan was executed.

    ``email_refused``: the new email is owned outside the company, but access and name
    were restored all the same — a conflict with the operations that were made; only the
    email waits for a human. ``account`` None: the mapped account was gone and nothing
    replaced it, so the mapping is forgotten.
    """
    if email_refused:
        return SyncEnd(Outcome.CONFLICT, PlanReason.EMAIL_IN_USE, operations, account)
    outcome = Outcome.APPLIED if operations else Outcome.NO_CHANGE
    return SyncEnd(outcome, reason, operations, account, forget=account is None)


def record_sync(start: SyncStart, end: SyncEnd, *, dry_run: bool, now: datetime) -> Recorded:
    """The record a sync leaves, with the outcome and reason as ``tvsync.core.outcome`` records them.

    An adoption is recognised here, where the mapping is stored: the user ends mapped to an
    account other than the one their record held, and this sync did not create it. Orphan
    requests (``teamviewer_id``) map no user, so they adopt nothing.
    """
    previous = start.previous
    mapped_before = previous.teamviewer_id if previous is not None else None
    if end.account is not None:
        mapped_after: str | None = end.account.id
    else:
        mapped_after = None if end.forget else mapped_before
    found = start.request.teamviewer_id is None and is_adoption(mapped_before, mapped_after, end.operations)
    adopted = start.settled or found
    outcome, reason = recorded(end.outcome, end.reason, adopted=adopted, dry_run=dry_run)
    changed = records_change(outcome, end.operations, adopted=adopted)
    state = _next_state(start, replace(end, outcome=outcome, reason=reason), now=now, changed=changed)
    return Recorded(
        state=state,
        outcome=outcome,
        reason=reason,
        adopted=adopted,
        counts_adoption=found and outcome is not Outcome.DRY_RUN,
    )


def _next_state(start: SyncStart, end: SyncEnd, *, now: datetime, changed: bool) -> SyncState:
    """The record after this sync; ``changed`` (``records_change``) dates it in ``last_applied_at``."""
    request, previous = start.request, start.previous
    newer = (
        previous is None or previous.last_published is None or request.published >= previous.last_published
    )
    base: dict[str, Any] = previous.model_dump() if previous else {"okta_user_id": request.okta_user_id}
    if end.account is not None:
        base.update(
            teamviewer_id=end.account.id,
            teamviewer_email=end.account.email,
            teamviewer_name=end.account.name,
            teamviewer_active=end.account.active,
        )
    elif end.forget:
        base.update(teamviewer_id=None, teamviewer_email=None, teamviewer_name=None, teamviewer_active=None)
    base.update(
        email=start.desired.email or base.get("email"),
        pending_create_email=None,
        pending_create_at=None,
        last_outcome=end.outcome.value,
        last_reason=end.reason,
        last_operations=[op.value for op in end.operations],
        updated_at=now,
    )
    if changed:
        base["last_applied_at"] = now
    if newer:
        base.update(
            last_event_uuid=request.event_uuid,
            last_event_type=request.event_type,
            last_published=request.published,
        )
    # Validated, not copied: the record's validators (the reason's email mask) must run.
    return SyncState.model_validate(base)


@dataclass(frozen=True)
class Settlement:
    """An interrupted create, settled: the record to store before anything else is decided.

    ``account``: the create's account, found and not another user's: the user is mapped to
    it. ``adopted``: it was not the user's mapping already.
    """

    state: SyncState
    account: TeamViewerAccount | None
    adopted: bool


def settle_interrupted_create(
    previous: SyncState,
    found: TeamViewerAccount | None,
    *,
    claimed_by_another: bool,
    dry_run: bool,
    now: datetime,
) -> Settlement:
    """Settle a create whose result was never recorded, given what ``interrupted_create``'s lookup found.

    The account found is adopted unless another user's record maps it (``claimed_by_another``:
    its email was reassigned); otherwise the pending create is just cleared. The adoption is
    stored — and, outside a dry run, dated in ``last_applied_at`` — at once, before the rest
    of the sync, so it stays true even if that fails: the retry then starts from the mapping.
    """
    account = None if claimed_by_another else found
    if account is None:
        return Settlement(previous.without_pending_create(), account=None, adopted=False)
    adopted = is_adoption(previous.teamviewer_id, account.id, ())
    state = previous.with_account(account)
    if adopted and not dry_run:
        state = state.model_copy(update={"last_applied_at": now})
    return Settlement(state, account=account, adopted=adopted)
