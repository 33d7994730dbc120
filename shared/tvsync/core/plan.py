"""The smallest set of TeamViewer changes that makes the current account match the desired one.

Pure so that every combination of Okta state and TeamViewer state is a table test, and so
that ``DRY_RUN``, ``tvsync check`` and the worker all share one answer to "what would
change?". The worker executes a plan; it never decides anything itself. The decisions
around the plan are pure too, beside this module: which account to plan against and where
to look when it is gone (``tvsync.core.lookup``), what becomes of an orphan
(``tvsync.core.orphan``), and what a sync records (``tvsync.core.record``).

An account whose ``active`` is unknown (``None``: the SCIM server left the optional
attribute out, RFC 7643 §4.1.1) is planned for with two rules, one per direction, both
chosen so that an unknown state can only ever err on the side of Okta's intent:

- desired INACTIVE: only ``active is False`` is "already inactive". Unknown is treated as
  possibly active, so the deactivation is still sent — a revocation must hold, and an
  extra ``active: false`` to an account that was already inactive changes nothing. The
  price, accepted: a server that never states ``active`` gets that write again whenever
  the account is read afresh (each reconcile), because it never reads as inactive.
- desired ACTIVE: only ``active is False`` asks for an ACTIVATE. Unknown is no evidence of
  an inactive account, and planning an ACTIVATE for it would be repeated on every run
  (the answer never says ``true``) — endless drift and a write per reconcile. Name and
  email still converge.

``tvsync.core.drift`` reads accounts with the same rules (it calls ``plan_changes``), and
treats an unclaimed account with unknown ``active`` as a possibly active orphan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum, StrEnum, auto
from typing import TYPE_CHECKING, Final, Literal

from tvsync.core.desired_state import DesiredReason, Presence

if TYPE_CHECKING:
    from tvsync.core.desired_state import DesiredAccount
    from tvsync.models.teamviewer import TeamViewerAccount

__all__ = [
    "Need",
    "Operation",
    "Plan",
    "PlanReason",
    "PlannedUpdate",
    "account_after",
    "after_email_refused",
    "emails_match",
    "plan_changes",
    "plan_sync",
    "to_update",
    "unmanaged_reason",
    "without_email_change",
]


class Operation(StrEnum):
    """One change to a TeamViewer account."""

    CREATE = "create"
    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"
    RENAME = "rename"
    CHANGE_EMAIL = "change_email"


class PlanReason(StrEnum):
    """Why a sync ended as it did; a closed vocabulary so it can be a metric dimension.

    ``DesiredAccount.reason`` says why Okta wants this state; this says what that means for
    the account that exists today. Every reason the worker and the reconciler record is one
    of these (or, for a failure, the error itself: ``tvsync.core.outcome.Detail``).

    Reasons ``plan_changes`` gives a plan: ``CREATE`` … ``UNMANAGED``. The others are
    recorded for syncs no plan describes alone: ``ADOPTED`` when a sync mapped the user to an
    account that already existed (``tvsync.core.outcome``), ``EMAIL_IN_USE`` when TeamViewer
    refused the email because an account outside the company owns it, ``CREATE_SENT`` while a
    create's result is not recorded yet (crash safety), ``STAGED`` and
    ``NO_EMAIL`` for a user Okta keeps out of scope (``unmanaged_reason``), and the
    ``ORPHAN`` reasons for an account the reconciler found no Okta user for
    (``tvsync.core.orphan``).
    """

    CREATE = "account-missing"
    ADOPTED = "account-adopted"
    CONVERGE = "account-drifted"
    DEACTIVATE = "account-revoked"
    IN_SYNC = "in-sync"
    ALREADY_INACTIVE = "already-inactive"
    NO_ACCOUNT = "no-account"
    TOKEN_OWNER_PROTECTED = "token-owner-protected"  # noqa: S105 - a reason code, not a secret
    UNMANAGED = "unmanaged"
    #: The text stays a sentence: it is what ``tvsync status`` has always shown for a conflict.
    EMAIL_IN_USE = "email in use by a TeamViewer account outside the company"
    #: With the outcome ``creating``: shown only if the sync died before recording its result.
    CREATE_SENT = "create sent; its result is not recorded yet"
    STAGED = "staged"
    NO_EMAIL = "no-email"
    #: An orphan deactivated (or, in a dry run, to deactivate).
    ORPHAN = "orphan"
    #: The orphan left the company before the worker got to it.
    ORPHAN_GONE = "orphan-gone"
    #: An Okta user or another user's record claims the orphan now: it is adopted, not revoked.
    ORPHAN_CLAIMED = "orphan-claimed"


class Need(Enum):
    """A fact a decision cannot be made without; the service fetches it and asks again.

    Decisions ask for what costs a call only when the answer depends on it, so the common
    paths pay nothing for it: the token owner matters only to a deactivation.
    """

    #: Who owns the script token (``GET /api/v1/account``): never deactivated.
    TOKEN_OWNER = auto()
    #: Whether an Okta user, or another user's SyncStateTable record, claims an account.
    CLAIMS = auto()


#: ``DesiredAccount.reason``\ s of an UNMANAGED target that are recorded, each as its own ``PlanReason``.
_UNMANAGED_REASONS: Final[Mapping[DesiredReason, PlanReason]] = {
    DesiredReason.STAGED: PlanReason.STAGED,
    DesiredReason.NO_EMAIL: PlanReason.NO_EMAIL,
}


_UPDATE_ORDER: Final = (Operation.ACTIVATE, Operation.CHANGE_EMAIL, Operation.RENAME)
"""Order of the changes to an existing account, most important first.

Access comes first (ACTIVATE), then the join key and SSO identity (CHANGE_EMAIL — the one
change that can fail permanently with ``email_in_use`` and that mails the user), then the
cosmetic RENAME. The client sends them in one request, which TeamViewer applies all or
nothing; when that request fails on the email, the executor splits it with
``without_email_change`` and so still restores access and the name.
"""


@dataclass(frozen=True)
class Plan:
    """What to do to one TeamViewer account, with everything needed to do it.

    ``email`` and ``name`` are the values the account must have once the plan has run
    (set whenever the desired account is ACTIVE, whether or not they change; the
    operations alone decide what is sent). ``account_id`` is the existing account's
    TeamViewer id, None when there is none (CREATE, or nothing to do).
    """

    operations: tuple[Operation, ...]
    reason: PlanReason
    email: str | None = None
    name: str | None = None
    account_id: str | None = None

    @property
    def is_noop(self) -> bool:
        return not self.operations


@dataclass(frozen=True)
class PlannedUpdate:
    """One update call to an existing account; None fields are left untouched."""

    active: bool | None
    name: str | None
    email: str | None


def emails_match(left: str, right: str) -> bool:
    """Whether two emails name the same TeamViewer account.

    Case-insensitive because neither Okta nor TeamViewer treats case as identity, and a
    case-only "change" would make TeamViewer send the user a verification mail for
    nothing. ``str.lower`` rather than ``casefold``: casefolding maps "ß" to "ss", which
    would equate two different mailboxes.
    """
    return left.strip().lower() == right.strip().lower()


def plan_changes(
    desired: DesiredAccount, current: TeamViewerAccount | None, *, token_owner_id: str | None
) -> Plan:
    """The smallest plan that takes ``current`` to ``desired``.

    ``current`` is the company account the worker found for the user (by email, or by a
    recorded id when Okta has deleted the user), None when there is none.
    ``token_owner_id`` is the TeamViewer id of the account that owns the script token
    (``GET /api/v1/account``); it is never deactivated, because that would lock the
    product out of TeamViewer for every other user.
    """
    if desired.presence is Presence.UNMANAGED:
        return Plan((), PlanReason.UNMANAGED, email=desired.email, account_id=_id(current))
    if desired.presence is Presence.INACTIVE:
        return _plan_inactive(desired, current, token_owner_id)
    return _plan_active(desired, current)


def plan_sync(
    desired: DesiredAccount, current: TeamViewerAccount | None, *, token_owner_id: str | None
) -> Plan | Literal[Need.TOKEN_OWNER]:
    """``plan_changes`` as the worker asks it, where ``token_owner_id`` None means *not fetched yet*.

    Only a deactivation depends on who owns the token, so this answers ``Need.TOKEN_OWNER``
    exactly when the plan would deactivate an account and the owner is not known: the
    worker then fetches it (once per container) and asks again. Every other plan is final
    at once, and no plan is computed twice.
    """
    if token_owner_id is None and _deactivates(desired, current):
        return Need.TOKEN_OWNER
    return plan_changes(desired, current, token_owner_id=token_owner_id)


def unmanaged_reason(desired: DesiredAccount) -> PlanReason:
    """What is recorded for a user the product leaves alone: why Okta keeps them out of scope.

    ``DesiredAccount.reason`` says it (a STAGED user, a user without a usable email); any
    other UNMANAGED target is recorded as ``UNMANAGED``.
    """
    return _UNMANAGED_REASONS.get(desired.reason, PlanReason.UNMANAGED)


def _deactivates(desired: DesiredAccount, current: TeamViewerAccount | None) -> bool:
    """Whether revoking ``desired`` means a write: an account exists that is not known to be off.

    Unknown (None) is possibly active: only a definite False spares the deactivation.
    """
    return desired.presence is Presence.INACTIVE and current is not None and current.active is not False


def _id(account: TeamViewerAccount | None) -> str | None:
    return account.id if account is not None else None


def _plan_inactive(
    desired: DesiredAccount, current: TeamViewerAccount | None, token_owner_id: str | None
) -> Plan:
    if current is None:
        return Plan((), PlanReason.NO_ACCOUNT, email=desired.email)
    email = desired.email or current.email
    if not _deactivates(desired, current):
        return Plan((), PlanReason.ALREADY_INACTIVE, email=email, account_id=current.id)
    if token_owner_id is not None and current.id == token_owner_id:
        return Plan((), PlanReason.TOKEN_OWNER_PROTECTED, email=email, account_id=current.id)
    return Plan((Operation.DEACTIVATE,), PlanReason.DEACTIVATE, email=email, account_id=current.id)


def _plan_active(desired: DesiredAccount, current: TeamViewerAccount | None) -> Plan:
    email, name = desired.email, desired.name
    # DesiredAccount guarantees both for ACTIVE; the check narrows the types.
    if email is None or name is None:  # pragma: no cover - enforced by DesiredAccount
        raise ValueError("an ACTIVE desired account needs both an email and a name")
    if current is None:
        return Plan((Operation.CREATE,), PlanReason.CREATE, email=email, name=name)
    needed = {
        # Unknown (None) is no evidence of an inactive account: nothing to activate.
        Operation.ACTIVATE: current.active is False,
        Operation.CHANGE_EMAIL: not emails_match(current.email, email),
        Operation.RENAME: current.name != name,
    }
    operations = tuple(operation for operation in _UPDATE_ORDER if needed[operation])
    reason = PlanReason.CONVERGE if operations else PlanReason.IN_SYNC
    return Plan(operations, reason, email=email, name=name, account_id=current.id)


def without_email_change(plan: Plan, current_email: str) -> Plan:
    """What is left of ``plan`` once its new email turned out to be taken.

    TeamViewer refuses a whole update when the new email belongs to another account, and
    that refusal is permanent; reactivating the account or fixing its name does not depend
    on the email, so those must not wait for it. ``current_email`` is what the account
    keeps. A plan with nothing left is a no-op.
    """
    operations = tuple(op for op in plan.operations if op is not Operation.CHANGE_EMAIL)
    return replace(plan, operations=operations, email=current_email)


def after_email_refused(plan: Plan, current_email: str) -> Plan | None:
    """What to send once TeamViewer refused ``plan``'s update because the new email is taken.

    The rest of the plan (``without_email_change``) when it changed the email and leaves
    something else to do; None when the refusal stands as it is — the plan sent no new
    email (the conflict is not about one), or the email was all it had to change.
    """
    if Operation.CHANGE_EMAIL not in plan.operations:
        return None
    rest = without_email_change(plan, current_email)
    return None if rest.is_noop else rest


def account_after(account: TeamViewerAccount, update: PlannedUpdate) -> TeamViewerAccount:
    """``account`` as TeamViewer holds it once ``update`` succeeded: what the worker records.

    Recording it saves reading the account back; a field the update left out keeps its value.
    """
    return account.model_copy(
        update={
            "active": account.active if update.active is None else update.active,
            "name": update.name or account.name,
            "email": update.email or account.email,
        }
    )


def to_update(plan: Plan) -> PlannedUpdate | None:
    """The single update call that executes ``plan`` on an existing account.

    The TeamViewer client's ``update(user_id, active=..., name=..., email=...)`` sends
    everything in one request, so an account is never left half-converged by a crash
    between two calls. None when there is no existing account to update (CREATE) or
    nothing to do.
    """
    operations = set(plan.operations)
    if not operations or Operation.CREATE in operations:
        return None
    active: bool | None = None
    if Operation.ACTIVATE in operations:
        active = True
    elif Operation.DEACTIVATE in operations:
        active = False
    return PlannedUpdate(
        active=active,
        name=plan.name if Operation.RENAME in operations else None,
        email=plan.email if Operation.CHANGE_EMAIL in operations else None,
    )
