"""``group_drift``, table-driven: which drift reasons a group plan and member plan amount to.

Each row is a group plan (``tvsync.core.groups.plan_group``'s answer) and a member plan, for
a pushed or a released group, and the drift the reconciler reports for it — None when a
group sync would change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tvsync.core.group_drift import GroupDrift, GroupDriftReason, group_drift
from tvsync.core.groups import (
    DesiredGroup,
    GroupOperation,
    GroupPlan,
    GroupPresence,
    GroupReason,
    MemberPlan,
    plan_members,
)

R = GroupDriftReason
Op = GroupOperation
GID = "00gSupport001"
TV = 5_000_000_001

PUSHED = DesiredGroup(GID, GroupPresence.PUSHED, GroupReason.PUSHED, name="Support", role_id="role-1")
DELETED = DesiredGroup(GID, GroupPresence.RELEASED, GroupReason.DELETED)
NOT_PUSHED = DesiredGroup(GID, GroupPresence.RELEASED, GroupReason.NOT_PUSHED)


def plan(*operations: GroupOperation, group_id: int | None = TV, unlink: bool = False) -> GroupPlan:
    return GroupPlan(
        operations, GroupReason.CONVERGE, teamviewer_group_id=group_id, members=True, unlink=unlink
    )


def members(add: int = 0, remove: int = 0) -> MemberPlan:
    """A member plan adding ``add`` ids and removing ``remove`` others."""
    return plan_members(range(add), range(1_000, 1_000 + remove))


IN_STEP = members()


@dataclass(frozen=True)
class Row:
    desired: DesiredGroup
    plan: GroupPlan
    members: MemberPlan | None
    reasons: tuple[GroupDriftReason, ...]
    missing: int = 0
    extra: int = 0


ROWS = {
    "pushed, in step": Row(PUSHED, plan(), IN_STEP, ()),
    "pushed, to create": Row(
        PUSHED, plan(Op.CREATE, Op.ASSIGN_ROLE, group_id=None), None, (R.NOT_LINKED, R.ROLE)
    ),
    "pushed, to adopt": Row(PUSHED, plan(Op.ADOPT), None, (R.NOT_LINKED,)),
    "pushed, renamed": Row(PUSHED, plan(Op.RENAME), IN_STEP, (R.NAME,)),
    "pushed, role missing": Row(PUSHED, plan(Op.ASSIGN_ROLE), IN_STEP, (R.ROLE,)),
    "pushed, role replaced: one reason": Row(
        PUSHED, plan(Op.UNASSIGN_ROLE, Op.ASSIGN_ROLE), IN_STEP, (R.ROLE,)
    ),
    "pushed, role no longer mapped": Row(PUSHED, plan(Op.UNASSIGN_ROLE), IN_STEP, (R.ROLE,)),
    "pushed, members missing": Row(PUSHED, plan(), members(add=3), (R.MEMBERS_MISSING,), missing=3),
    "pushed, members extra": Row(PUSHED, plan(), members(remove=2), (R.MEMBERS_EXTRA,), extra=2),
    "pushed, 250 missing, 1 extra": Row(
        PUSHED, plan(), members(add=250, remove=1), (R.MEMBERS_MISSING, R.MEMBERS_EXTRA), missing=250, extra=1
    ),
    "pushed, everything at once": Row(
        PUSHED,
        plan(Op.RENAME, Op.UNASSIGN_ROLE, Op.ASSIGN_ROLE),
        members(add=1, remove=1),
        (R.NAME, R.ROLE, R.MEMBERS_MISSING, R.MEMBERS_EXTRA),
        missing=1,
        extra=1,
    ),
    "deleted, released already": Row(DELETED, plan(), IN_STEP, ()),
    "deleted, still holding members": Row(DELETED, plan(), members(remove=4), (R.NOT_RELEASED,), extra=4),
    "deleted, still holding its role": Row(DELETED, plan(Op.UNASSIGN_ROLE), IN_STEP, (R.NOT_RELEASED,)),
    "deleted, role and members: one reason": Row(
        DELETED, plan(Op.UNASSIGN_ROLE), members(remove=1), (R.NOT_RELEASED,), extra=1
    ),
    "not pushed, still holding members": Row(
        NOT_PUSHED, plan(), members(remove=1), (R.NOT_RELEASED,), extra=1
    ),
    "not pushed, to delete": Row(NOT_PUSHED, plan(Op.DELETE, unlink=True), None, (R.NOT_RELEASED,)),
    "released, stale link": Row(DELETED, plan(group_id=None, unlink=True), None, (R.STALE_LINK,)),
    "released, never linked": Row(NOT_PUSHED, plan(group_id=None), None, ()),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_group_drift(row: Row) -> None:
    found = group_drift(row.desired, row.plan, row.members)
    if not row.reasons:
        assert found is None
        return
    assert found == GroupDrift(
        okta_group_id=GID,
        reasons=row.reasons,
        name=row.desired.name,
        teamviewer_group_id=row.plan.teamviewer_group_id,
        members_missing=row.missing,
        members_extra=row.extra,
    )


def test_every_reason_is_reachable_from_some_row() -> None:
    reached = {reason for row in ROWS.values() for reason in row.reasons}
    assert reached == set(GroupDriftReason)
