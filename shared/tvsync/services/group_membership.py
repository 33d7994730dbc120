"""A user's TeamViewer group memberships, right after the user's own sync.

Runs in the same idempotent step as the user's sync (``tvsync.services.dispatch``), so a
retried event repeats both. A *membership request* settles that one membership: the user
belongs in the group's TeamViewer group when Okta says they are in the group now and their
account should be active — one TeamViewer call once the group is linked, and a group not yet
linked is linked instead, which converges its whole membership. A *user request* lets a user
whose account should be active join their pushed, linked groups, and a user who lost access
leave every linked one (a deleted user's groups are no longer known to Okta).

Adding a member who is already one, and removing one who is not, are harmless in TeamViewer
(docs/groups.md): so the worker keeps no member lists and needs no read to change one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from tvsync.adapters.errors import InvalidError
from tvsync.core.desired_state import Presence
from tvsync.core.groups import GroupOperation, member_belongs
from tvsync.models.groups import account_number
from tvsync.services.failures import describe
from tvsync.services.group_reads import TokenOwnerNumber

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tvsync.core.groups import GroupConfig
    from tvsync.models.groups import GroupLink
    from tvsync.models.sync_request import SyncRequest
    from tvsync.services.group_outcomes import GroupOutcomes
    from tvsync.services.group_sync import GroupSynchronizer
    from tvsync.services.ports import GroupStateRepository, OktaGroups, TeamViewerGroups
    from tvsync.services.sync_outcomes import SyncResult

__all__ = ["MembershipSync"]


class MembershipSync:
    """Follows a user's sync with their memberships of pushed groups."""

    def __init__(  # noqa: PLR0913 - collaborators are injected by name, all keyword-only
        self,
        *,
        groups: GroupSynchronizer,
        okta: OktaGroups,
        teamviewer: TeamViewerGroups,
        links: GroupStateRepository,
        config: GroupConfig,
        dry_run: bool,
        outcomes: GroupOutcomes,
    ) -> None:
        self._groups = groups
        self._okta = okta
        self._tv = teamviewer
        self._links = links
        self._config = config
        self._owner = TokenOwnerNumber(teamviewer)
        self._dry_run = dry_run
        self._outcomes = outcomes

    def follow_user(self, request: SyncRequest, result: SyncResult) -> None:
        """After a user's sync: their membership of one group, or of all their pushed groups.

        Nothing happens without a mapped account (a member without one is added by the sync
        that creates it), for a sync that did not finish, or in a dry run.
        """
        if (
            not self._config.enabled
            or self._dry_run
            or result.presence is None
            or result.teamviewer_id is None
        ):
            return
        number = account_number(result.teamviewer_id)
        active = result.presence is Presence.ACTIVE
        try:
            self._outcomes.guarded(request, lambda: self._follow_user(request, active, number))
        except InvalidError as exc:  # a refused read: the reconciler repairs what this left
            self._outcomes.metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
            self._outcomes.logger.warning(
                "Group memberships not synced: a read was refused",
                extra={"okta_user_id": request.okta_user_id, "error": describe(exc)},
            )

    def _follow_user(self, request: SyncRequest, active: bool, number: int) -> None:
        if request.okta_group_id is not None:
            self._follow_membership(request, request.okta_group_id, active=active, number=number)
            return
        links = {link.okta_group_id: link.teamviewer_group_id for link in self._linked_pushed_groups()}
        if active:
            in_groups = {group.id for group in self._okta.iter_user_groups(request.okta_user_id)}
            targets = [gid for gid in links if gid in in_groups]
        else:
            targets = list(links)  # a deleted user's groups are unknown: leave every linked one
        for okta_group_id in targets:
            group_id = links[okta_group_id]
            assert group_id is not None
            self._set_membership(request, okta_group_id, group_id, number, add=active)

    def _follow_membership(
        self, request: SyncRequest, okta_group_id: str, *, active: bool, number: int
    ) -> None:
        """One membership: at most one TeamViewer call once the group is linked."""
        if not self._config.is_pushed(okta_group_id):
            return
        link = self._links.get(okta_group_id)
        if link is None or link.teamviewer_group_id is None:
            # Not linked yet: linking converges the whole membership, this member's included.
            self._groups.converge_group(request, okta_group_id)
            return
        in_group = active and any(
            group.id == okta_group_id for group in self._okta.iter_user_groups(request.okta_user_id)
        )
        belongs = member_belongs(Presence.ACTIVE if active else Presence.INACTIVE, in_okta_group=in_group)
        self._set_membership(request, okta_group_id, link.teamviewer_group_id, number, add=belongs)

    def _set_membership(
        self, request: SyncRequest, okta_group_id: str, group_id: int, number: int, *, add: bool
    ) -> None:
        if not add and number == self._owner():
            return  # the script token's owner never leaves a group (``plan_members``)
        change = self._tv.add_group_members if add else self._tv.remove_group_members
        try:
            change(group_id, (number,))
        except InvalidError as exc:
            if exc.status == 404:  # the TeamViewer group was deleted by hand: link it again
                self._groups.converge_group(request, okta_group_id)
                return
            self._outcomes.logger.warning(
                "TeamViewer refused a group membership change",
                extra={
                    "okta_group_id": okta_group_id,
                    "teamviewer_group_id": group_id,
                    "error": describe(exc),
                },
            )
            self._outcomes.metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
            return
        operation = GroupOperation.ADD_MEMBERS if add else GroupOperation.REMOVE_MEMBERS
        self._outcomes.count(operation, 1)
        self._outcomes.logger.info(
            "Group membership synced",
            extra={
                "okta_user_id": request.okta_user_id,
                "okta_group_id": okta_group_id,
                "teamviewer_group_id": group_id,
                "operation": operation.value,
            },
        )

    def _linked_pushed_groups(self) -> Iterator[GroupLink]:
        return (
            link
            for link in self._links.scan()
            if link.teamviewer_group_id is not None and self._config.is_pushed(link.okta_group_id)
        )
