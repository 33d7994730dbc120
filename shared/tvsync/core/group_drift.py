"""What the reconciler reports for one pushed or linked group: how TeamViewer differs from Okta.

The comparison is the worker's own decision run on a fresh read (``tvsync.core.groups``):
the group plan and the member plan say what a group sync would change, and each kind of
change is one drift reason. A group with any is queued as a group request, and the worker
converges it against the state of that moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from tvsync.core.groups import GroupOperation, GroupPresence

if TYPE_CHECKING:
    from tvsync.core.groups import DesiredGroup, GroupPlan, MemberPlan

__all__ = ["GroupDrift", "GroupDriftReason", "group_drift"]


class GroupDriftReason(StrEnum):
    """One way a group differs from what Okta wants: a closed vocabulary, a metric dimension."""

    #: A pushed group with no TeamViewer group linked (never linked, or deleted in TeamViewer).
    NOT_LINKED = "not-linked"
    NAME = "name-differs"
    ROLE = "role-differs"
    MEMBERS_MISSING = "members-missing"
    MEMBERS_EXTRA = "members-extra"
    #: A released group (deleted in Okta, or no longer pushed) that still holds members or a
    #: role, or that is still to be deleted (``DELETE_UNPUSHED_GROUPS``).
    NOT_RELEASED = "not-released"
    #: The stored link points at a TeamViewer group that no longer exists.
    STALE_LINK = "stale-link"


_OPERATION_REASONS = {
    GroupOperation.CREATE: GroupDriftReason.NOT_LINKED,
    GroupOperation.ADOPT: GroupDriftReason.NOT_LINKED,
    GroupOperation.RENAME: GroupDriftReason.NAME,
    GroupOperation.ASSIGN_ROLE: GroupDriftReason.ROLE,
    GroupOperation.UNASSIGN_ROLE: GroupDriftReason.ROLE,
    GroupOperation.DELETE: GroupDriftReason.NOT_RELEASED,
}


@dataclass(frozen=True)
class GroupDrift:
    """One drifted group, and how many members a sync would add and remove."""

    okta_group_id: str
    reasons: tuple[GroupDriftReason, ...]
    name: str | None = None
    teamviewer_group_id: int | None = None
    members_missing: int = 0
    members_extra: int = 0


def group_drift(desired: DesiredGroup, plan: GroupPlan, members: MemberPlan | None) -> GroupDrift | None:
    """The drift a group sync would repair, None when the group is as Okta wants it.

    ``members`` is the member plan against the TeamViewer group's members (None when there
    is no group to compare: it is to be created, or released without one).
    """
    released = desired.presence is GroupPresence.RELEASED
    reasons: list[GroupDriftReason] = []
    for operation in plan.operations:
        reason = _OPERATION_REASONS[operation]
        if released and reason is GroupDriftReason.ROLE:
            reason = GroupDriftReason.NOT_RELEASED
        if reason not in reasons:
            reasons.append(reason)
    if plan.unlink and not plan.operations:
        reasons.append(GroupDriftReason.STALE_LINK)
    missing = members.added if members is not None else 0
    extra = members.removed if members is not None else 0
    if missing:
        reasons.append(GroupDriftReason.MEMBERS_MISSING)
    if extra:
        reasons.append(GroupDriftReason.NOT_RELEASED if released else GroupDriftReason.MEMBERS_EXTRA)
    if not reasons:
        return None
    return GroupDrift(
        okta_group_id=desired.okta_group_id,
        reasons=tuple(dict.fromkeys(reasons)),
        name=desired.name,
        teamviewer_group_id=plan.teamviewer_group_id,
        members_missing=missing,
        members_extra=extra,
    )
