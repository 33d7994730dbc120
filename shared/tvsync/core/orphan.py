"""Whether the worker deactivates an orphan: an account the reconciler found no Okta user for.

The reconciler's view is minutes old by the time its request is handled, so everything is
checked again: the account must still be in the company and possibly active, must not be
the token owner's, and no Okta user and no other user's SyncStateTable record may claim it
(a user created or assigned in the meantime adopts the account instead). This keeps the
worker the only writer to TeamViewer while orphans have no Okta user to converge.

Pure: the verdict asks for the facts that cost a call (``Need``) one at a time, in the
order above, so an orphan that is gone or already inactive costs no further call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from tvsync.core.desired_state import DesiredAccount, DesiredReason, Presence
from tvsync.core.plan import Need, Operation, Plan, PlanReason

if TYPE_CHECKING:
    from tvsync.models.teamviewer import TeamViewerAccount

__all__ = ["OrphanFacts", "judge_orphan", "orphan_target"]


@dataclass(frozen=True)
class OrphanFacts:
    """What is known about the orphan so far.

    ``account`` is the account as read now (None: no longer in the company).
    ``token_owner_id`` and ``claimed`` are None until fetched (``Need``).
    """

    account: TeamViewerAccount | None
    token_owner_id: str | None = None
    claimed: bool | None = None


def judge_orphan(facts: OrphanFacts) -> Plan | Literal[Need.TOKEN_OWNER, Need.CLAIMS]:
    """The plan for the orphan — deactivate it, or leave it and say why — or the next fact it needs."""
    account = facts.account
    if account is None:
        return Plan((), PlanReason.ORPHAN_GONE)
    leave = _reason_to_leave(account, facts)
    if isinstance(leave, Need):
        return leave
    if leave is not None:
        return Plan((), leave, email=account.email, account_id=account.id)
    return Plan((Operation.DEACTIVATE,), PlanReason.ORPHAN, email=account.email, account_id=account.id)


def _reason_to_leave(
    account: TeamViewerAccount, facts: OrphanFacts
) -> PlanReason | Literal[Need.TOKEN_OWNER, Need.CLAIMS] | None:
    if account.active is False:  # unknown (None) is possibly active: still deactivated
        return PlanReason.ALREADY_INACTIVE
    if facts.token_owner_id is None:
        return Need.TOKEN_OWNER
    if account.id == facts.token_owner_id:
        return PlanReason.TOKEN_OWNER_PROTECTED
    if facts.claimed is None:
        return Need.CLAIMS
    return PlanReason.ORPHAN_CLAIMED if facts.claimed else None


def orphan_target(account: TeamViewerAccount | None) -> DesiredAccount:
    """What the product wants for an orphan: inactive, known by the account's own email."""
    return DesiredAccount(
        Presence.INACTIVE,
        email=account.email if account is not None else None,
        name=None,
        reason=DesiredReason.ORPHAN,
    )
