"""The reconciler's group half: compare every pushed or linked group with Okta, queue the fixes.

For each Okta group that is pushed, or that GroupStateTable still links to a TeamViewer
group, it reads Okta's group and members and TeamViewer's group, role and members, and asks
the worker's own rules (``tvsync.core.groups``) what a group sync would change
(``tvsync.core.group_drift``). Each drifted group is one group request; the worker converges
it against the state of that moment, as for users.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tvsync.core.group_drift import group_drift
from tvsync.core.groups import desired_group, plan_group
from tvsync.services.group_reads import (
    TokenOwnerNumber,
    links_by_group,
    plan_group_members,
    read_group_facts,
    read_wanted_members,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tvsync.core.group_drift import GroupDrift
    from tvsync.core.groups import GroupConfig
    from tvsync.models.groups import GroupLink, TeamViewerGroup
    from tvsync.services.ports import GroupStateRepository, OktaGroups, SyncStateRepository, TeamViewerGroups

__all__ = ["GroupReconciler"]


class GroupReconciler:
    """Finds every drifted group; reads only, the worker writes."""

    def __init__(
        self,
        *,
        okta: OktaGroups,
        teamviewer: TeamViewerGroups,
        links: GroupStateRepository,
        users: SyncStateRepository,
        config: GroupConfig,
    ) -> None:
        self._okta = okta
        self._tv = teamviewer
        self._links = links
        self._users = users
        self._config = config
        self._owner = TokenOwnerNumber(teamviewer)
        #: How many groups the last ``compare`` looked at.
        self.checked = 0

    def compare(self) -> Iterator[GroupDrift]:
        """Every drifted group, in id order: the pushed ones and the ones still linked."""
        self.checked = 0
        links = links_by_group(self._links)
        linked_ids = {gid for gid, link in links.items() if link.teamviewer_group_id is not None}
        if not self._config.enabled and not linked_ids:
            return
        groups = {group.id: group for group in self._tv.iter_groups()}
        for okta_group_id in sorted(self._config.pushed | linked_ids):
            self.checked += 1
            drift = self._compare_one(okta_group_id, links, groups)
            if drift is not None:
                yield drift

    def _compare_one(
        self, okta_group_id: str, links: dict[str, GroupLink], groups: dict[int, TeamViewerGroup]
    ) -> GroupDrift | None:
        link = links.get(okta_group_id)
        desired = desired_group(self._config, okta_group_id, self._okta.get_group(okta_group_id))
        facts = read_group_facts(self._tv, desired, link, linked=groups.get, links=lambda: links)
        linked = facts.linked
        plan = plan_group(desired, facts, delete_unpushed=self._config.delete_unpushed)
        members = None
        if linked is not None and plan.members:
            wanted = (
                set() if desired.name is None else read_wanted_members(self._okta, self._users, okta_group_id)
            )
            members = plan_group_members(self._tv, linked.id, wanted, self._owner)
        return group_drift(desired, plan, members)
