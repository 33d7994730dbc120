"""The smallest set of TeamViewer changes that makes the current account match the desired one.

Pure so that every combination of Okta state and TeamViewer state is a table test, and so
that ``DRY_RUN``, ``tvsync check`` and the worker all share one answer to "what would
change?". The worker executes a plan; it never decides anything itself.

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

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from tvsync.core.desired_state import Presence

if TYPE_CHECKING:
    from tvsync.core.desired_state import DesiredAccount
    from tvsync.models.teamviewer import TeamViewerAccount

__all__ = [
    "Operation",
    "Plan",
    "PlanReason",
    "PlannedUpdate",
    "emails_match",
    "plan_changes",
    "to_update",
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
    """Why a plan is what it is; a closed vocabulary so it can be a metric dimension.

    ``DesiredAccount.reason`` says why Okta wants this state; this says what that means for
    the account that exists today. ``ADOPTED`` is never a plan's reason: it is what the worker
    records when a sync mapped the user to an account that already existed
    (``tvsync.core.outcome``).
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
    reason: str
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


def _id(account: TeamViewerAccount | None) -> str | None:
    return account.id if account is not None else None


def _plan_inactive(
    desired: DesiredAccount, current: TeamViewerAccount | None, token_owner_id: str | None
) -> Plan:
    if current is None:
        return Plan((), PlanReason.NO_ACCOUNT, email=desired.email)
    email = desired.email or current.email
    # Unknown (None) is possibly active: only a definite False spares the deactivation.
    if current.active is False:
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
