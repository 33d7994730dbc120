"""What the worker and the reconciler read about one group before asking the core: the same reads.

Both hold a group to one rule set (``tvsync.core.groups``), so both gather the facts the rules
need the same way: the TeamViewer group the link points at — or, when nothing is linked, the
company's group with the wanted name and whether another Okta group already links it — with
its role, and the members the group should hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tvsync.core.groups import GroupFacts, GroupPresence, plan_members, wanted_member
from tvsync.models.groups import account_number

if TYPE_CHECKING:
    from collections.abc import Callable

    from tvsync.core.groups import DesiredGroup, MemberPlan
    from tvsync.models.groups import GroupLink, TeamViewerGroup
    from tvsync.services.ports import GroupStateRepository, OktaGroups, SyncStateRepository, TeamViewerGroups

__all__ = [
    "TokenOwnerNumber",
    "links_by_group",
    "plan_group_members",
    "read_group_facts",
    "read_wanted_members",
    "who_links",
]


def read_group_facts(
    teamviewer: TeamViewerGroups,
    desired: DesiredGroup,
    link: GroupLink | None,
    *,
    linked: Callable[[int], TeamViewerGroup | None],
    links: Callable[[], dict[str, GroupLink]],
) -> GroupFacts:
    """Only what the plan depends on: the linked group, or the one to adopt, and its role.

    ``linked`` reads a TeamViewer group by id (the worker asks TeamViewer; the reconciler
    looks in the list it read once); ``links`` gives every stored link, asked for only when a
    group of the wanted name might be adopted.
    """
    group = (
        linked(link.teamviewer_group_id)
        if link is not None and link.teamviewer_group_id is not None
        else None
    )
    same_name = None
    taken_by = None
    if group is None and desired.presence is GroupPresence.PUSHED:
        assert desired.name is not None
        same_name = teamviewer.find_group_by_name(desired.name)
        if same_name is not None:
            taken_by = who_links(links(), same_name.id, besides=desired.okta_group_id)
    target = group or same_name
    role = teamviewer.group_role(target.id) if target is not None else None
    return GroupFacts(link=link, linked=group, same_name=same_name, current_role=role, name_taken_by=taken_by)


def links_by_group(links: GroupStateRepository) -> dict[str, GroupLink]:
    """Every stored link, by Okta group id (one scan of GroupStateTable)."""
    return {link.okta_group_id: link for link in links.scan()}


def who_links(links: dict[str, GroupLink], teamviewer_group_id: int, *, besides: str) -> str | None:
    """The Okta group, other than ``besides``, whose link points at this TeamViewer group."""
    return next(
        (
            okta_group_id
            for okta_group_id, link in links.items()
            if link.teamviewer_group_id == teamviewer_group_id and okta_group_id != besides
        ),
        None,
    )


def read_wanted_members(okta: OktaGroups, users: SyncStateRepository, okta_group_id: str) -> set[int]:
    """The TeamViewer member ids a pushed group should hold: its Okta members the worker keeps active.

    One walk of the group's members and one batched read of their records
    (``tvsync.core.groups.wanted_member`` says who counts).
    """
    members = list(okta.iter_group_users(okta_group_id))
    states = users.get_many([user.id for user in members])
    return {number for user in members if (number := wanted_member(user, states.get(user.id))) is not None}


class TokenOwnerNumber:
    """The member id of the account that owns the script token, read once, when first needed.

    Only a removal needs it (the owner never leaves a group, ``plan_members``), so syncs
    that remove nobody never pay the call.
    """

    def __init__(self, teamviewer: TeamViewerGroups) -> None:
        self._tv = teamviewer
        self._number: int | None = None

    def __call__(self) -> int:
        if self._number is None:
            self._number = account_number(self._tv.token_owner().id)
        return self._number


def plan_group_members(
    teamviewer: TeamViewerGroups, group_id: int, wanted: set[int], owner: TokenOwnerNumber
) -> MemberPlan:
    """The member plan against the group's members now, the token owner never removed."""
    current = list(teamviewer.iter_group_members(group_id))
    planned = plan_members(wanted, current)
    return plan_members(wanted, current, protected=owner()) if planned.remove else planned
