"""How one sync is recorded: its outcome, its reason, and whether it counts as a change.

Pure, so that each rule is a table test and so that the worker, ``tvsync status`` and the
reconciler read one vocabulary. The worker decides *what happened*; this module decides how
that is written down in SyncStateTable and in the ``User synced`` log line.

Adoption. A user is *adopted* when a sync maps them to a TeamViewer account that already
existed — one the worker did not create in that sync: an account from before the product
(found because a create was answered "email taken", or found by email for a user being
revoked), one whose email is stored in other letter case, or the account of a create whose
result was never recorded (settled by the next sync). Adoption is recorded, not hidden in a
``no-change``, because an admin reading ``tvsync status`` must be able to tell "the product
manages an account it found" from "the product made this account" and from "nothing
happened". The representation:

- adopted, nothing else to change: outcome ``adopted``, reason ``account-adopted``;
- adopted, and the account was changed too (activated, deactivated, renamed, email changed):
  outcome ``applied``, reason ``account-adopted``, the operations listed as usual;
- adopted by a worker running with ``DRY_RUN``: outcome ``dry-run`` (nothing was written to
  TeamViewer), reason ``account-adopted``, the planned operations listed; such a sync is not
  counted as an adoption and does not move ``last_applied_at``. The mapping it records is
  kept (a dry run records what it saw), so once ``DRY_RUN`` is switched off that user's
  account is already known and is not reported as adopted again;
- adopted while the sync ended in a problem (``conflict``, ``invalid``): the problem's
  outcome and reason stay, since they are what someone has to act on; the log line's
  ``adopted`` field still says so;
- a reason that matters more than the adoption is kept: ``token-owner-protected`` (Okta says
  revoke, the product never will).

``last_applied_at`` (``records_change``) moves when the worker changed TeamViewer or adopted
an account — never on ``no-change``, ``dry-run``, ``retrying`` or ``creating``.

Reasons. What is recorded with an outcome is a ``PlanReason`` (a closed vocabulary), except
for a failure (``invalid``, ``retrying``), whose reason is what went wrong in one masked
line: a ``Detail``, a distinct type so that no free text passes for a reason code.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum
from typing import Final, NewType, TypeAlias

from tvsync.core.plan import Operation, PlanReason

__all__ = ["Detail", "Outcome", "RecordedReason", "is_adoption", "recorded", "records_change"]

Detail = NewType("Detail", str)
"""What went wrong, in one line with every email masked: the reason of a failed sync."""

RecordedReason: TypeAlias = PlanReason | Detail
"""The reason recorded with an outcome (SyncStateTable ``last_reason``, the log's ``reason``)."""


class Outcome(StrEnum):
    """How one sync ended (SyncStateTable ``last_outcome``; also a log field)."""

    APPLIED = "applied"
    NO_CHANGE = "no-change"
    #: An existing account was mapped to the user and needed no change (see the module docstring).
    ADOPTED = "adopted"
    CONFLICT = "conflict"
    INVALID = "invalid"
    DRY_RUN = "dry-run"
    RETRYING = "retrying"
    #: A create was sent and its result not recorded: lasts only if the invocation died there.
    CREATING = "creating"


#: Outcomes whose reason says what went wrong: adoption never replaces it.
_PROBLEMS: Final = frozenset({Outcome.CONFLICT, Outcome.INVALID})
#: Reasons that say more than "adopted" and so are kept when an account is adopted.
_STRONGER_REASONS: Final = frozenset({PlanReason.TOKEN_OWNER_PROTECTED})
#: Outcomes that may carry operations actually sent to TeamViewer.
_WRITES: Final = frozenset({Outcome.APPLIED, Outcome.CONFLICT})
#: Outcomes under which an adopted mapping was really stored (not a dry run, not unfinished).
_SETTLED: Final = frozenset({Outcome.APPLIED, Outcome.ADOPTED, Outcome.NO_CHANGE, *_PROBLEMS})


def is_adoption(
    mapped_before: str | None, mapped_after: str | None, operations: Collection[Operation]
) -> bool:
    """Whether a sync that left the user mapped to ``mapped_after`` adopted that account.

    ``mapped_before`` is the account id the user's record held before the step being judged.
    For a sync (``tvsync.core.record.record_sync``) that is the record *after* any
    interrupted create was settled (``SyncStart.previous``), so an account the settling
    already adopted is not found adopted a second time — the settling says so itself
    (``SyncStart.settled``). For the settling (``settle_interrupted_create``) it is the
    record as stored. An account the sync created (CREATE) is not adopted; a mapping that
    did not change, or that was dropped, is no adoption either.
    """
    return mapped_after is not None and mapped_after != mapped_before and Operation.CREATE not in operations


def recorded(
    outcome: Outcome, reason: RecordedReason | None, *, adopted: bool, dry_run: bool
) -> tuple[Outcome, RecordedReason | None]:
    """The outcome and reason to record for a sync that ended as ``outcome`` with ``reason``.

    ``dry_run``: the worker runs with ``DRY_RUN``; an adoption that needed no change is then
    recorded as ``dry-run`` too, like everything else such a worker does.
    """
    if not adopted or outcome in _PROBLEMS:
        return outcome, reason
    if outcome is Outcome.NO_CHANGE:
        outcome = Outcome.DRY_RUN if dry_run else Outcome.ADOPTED
    if reason in _STRONGER_REASONS:
        return outcome, reason
    return outcome, PlanReason.ADOPTED


def records_change(outcome: Outcome, operations: Collection[Operation], *, adopted: bool) -> bool:
    """Whether this sync changed TeamViewer or adopted an account: what ``last_applied_at`` dates.

    ``outcome`` is the recorded one (after ``recorded``). A conflict may come with changes made
    all the same (access restored, name fixed); a dry run changes nothing, whatever it planned.
    """
    if outcome is Outcome.ADOPTED:
        return True
    if outcome in _WRITES and operations:
        return True
    return adopted and outcome in _SETTLED
