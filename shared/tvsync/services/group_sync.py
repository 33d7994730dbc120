"""Converge pushed Okta groups to TeamViewer user groups: the core decides, this executes.

Level-triggered like users (``tvsync.services.user_sync``). A *group request*
(``okta_user_id`` = ``group-<id>``) says "this group may have changed": the synchroniser
reads the group in Okta and the group it is linked to in TeamViewer, asks
``tvsync.core.groups`` what to change, links the group (creates it, or adopts the company's
group of that name), renames it, sets its role, and converges its whole membership — Okta's
members whose account the worker keeps active, in calls of at most 100 ids, removals first.
A released group (deleted in Okta, or no longer pushed) is emptied and its role unassigned,
or deleted when the deployment says so. A user's own memberships follow their sync
(``tvsync.services.group_membership``).

A refusal no retry changes (a name taken by a group the company cannot see, an unknown role
id, an account that left the company) is recorded in GroupStateTable and the rest of the
group still converges; one bad account in a batch of 100 costs only itself. Everything else
follows ``tvsync.services.group_outcomes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tvsync.adapters.errors import ConflictError, InvalidError
from tvsync.core.groups import (
    GroupFacts,
    GroupOperation,
    GroupPlan,
    GroupPresence,
    GroupReason,
    desired_group,
    plan_group,
)
from tvsync.core.outcome import Outcome
from tvsync.services.failures import describe
from tvsync.services.group_outcomes import GroupRun
from tvsync.services.group_reads import (
    TokenOwnerNumber,
    links_by_group,
    plan_group_members,
    read_group_facts,
    read_wanted_members,
    who_links,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from tvsync.core.groups import DesiredGroup, GroupConfig
    from tvsync.models.groups import GroupLink
    from tvsync.models.sync_request import SyncRequest
    from tvsync.services.group_outcomes import GroupOutcomes, GroupSyncResult
    from tvsync.services.ports import (
        GroupStateRepository,
        OktaGroups,
        SyncStateRepository,
        TeamViewerGroups,
    )

__all__ = ["GroupSynchronizer"]


class GroupSynchronizer:
    """Converges one pushed (or released) group; knows nothing about SQS or Lambda."""

    def __init__(  # noqa: PLR0913 - collaborators are injected by name, all keyword-only
        self,
        *,
        okta: OktaGroups,
        teamviewer: TeamViewerGroups,
        links: GroupStateRepository,
        users: SyncStateRepository,
        config: GroupConfig,
        dry_run: bool,
        outcomes: GroupOutcomes,
    ) -> None:
        self._okta = okta
        self._tv = teamviewer
        self._links = links
        self._users = users
        self._config = config
        self._dry_run = dry_run
        self._outcomes = outcomes
        self._owner = TokenOwnerNumber(teamviewer)

    def converge(self, request: SyncRequest) -> GroupSyncResult:
        """Converge the group a group request names: link, name, role and every member."""
        okta_group_id = request.okta_group_id
        assert okta_group_id is not None  # a group request always names its group
        try:
            return self._outcomes.guarded(request, lambda: self.converge_group(request, okta_group_id))
        except InvalidError as exc:  # a refused read: asking again gets the same answer
            return self._outcomes.gave_up(request, okta_group_id, exc)

    def converge_group(self, request: SyncRequest, okta_group_id: str) -> GroupSyncResult:
        desired = desired_group(self._config, okta_group_id, self._okta.get_group(okta_group_id))
        link = self._links.get(okta_group_id)
        facts = self._facts(desired, link)
        plan = plan_group(desired, facts, delete_unpushed=self._config.delete_unpushed)
        if self._dry_run:
            return self._outcomes.planned(request, desired, plan)
        run = GroupRun(desired, plan, facts)
        group_id = self._execute(desired, plan, facts, run)
        if group_id is not None and plan.members:
            self._converge_members(okta_group_id, group_id, desired, run)
        return self._outcomes.finished(request, group_id, run)

    def _facts(self, desired: DesiredGroup, link: GroupLink | None) -> GroupFacts:
        return read_group_facts(
            self._tv,
            desired,
            link,
            linked=self._tv.get_group,
            links=lambda: links_by_group(self._links),
        )

    def _execute(
        self, desired: DesiredGroup, plan: GroupPlan, facts: GroupFacts, run: GroupRun
    ) -> int | None:
        """Send the group's own changes; returns the TeamViewer group the members go to (if any)."""
        group_id = plan.teamviewer_group_id
        if plan.reason is GroupReason.NAME_TAKEN:
            # The company's group of this name is another Okta group's: a conflict to show, as
            # when TeamViewer refuses the name, never a quiet "no change".
            assert facts.same_name is not None
            run.refused(
                Outcome.CONFLICT,
                f"{GroupReason.NAME_TAKEN}: the TeamViewer group {facts.same_name.id} is linked to "
                f"the Okta group {facts.name_taken_by}",
            )
            return None
        if GroupOperation.CREATE in plan.operations:
            group_id = self._create(desired, run)
            if group_id is None:
                return None
        elif GroupOperation.ADOPT in plan.operations:
            # Linking a group is a change even when nothing is written: record it as one.
            run.operations.append(GroupOperation.ADOPT)
        if plan.links and group_id is not None:
            # Stored before anything else: a crash from here on resumes from the link.
            managed = facts.current_role if facts.current_role == plan.role_id else None
            self._outcomes.linked(desired, group_id, managed, run)
        assert group_id is not None or not plan.operations
        for operation in plan.operations:
            if operation in {GroupOperation.CREATE, GroupOperation.ADOPT}:
                continue
            assert group_id is not None
            self._apply(operation, group_id, plan, run)
        return None if plan.unlink else group_id

    def _create(self, desired: DesiredGroup, run: GroupRun) -> int | None:
        """Create the group; if the name was taken meanwhile, adopt the group that has it."""
        assert desired.name is not None
        try:
            created = self._tv.create_group(desired.name)
        except ConflictError as exc:
            existing = self._tv.find_group_by_name(desired.name)
            links = links_by_group(self._links) if existing else {}
            if existing is None or who_links(links, existing.id, besides=desired.okta_group_id):
                # Taken, yet not listed (a name the company cannot use), or linked meanwhile
                # to another Okta group of the same name: never shared.
                run.refused(Outcome.CONFLICT, f"{GroupReason.NAME_TAKEN}: {describe(exc)}")
                return None
            run.operations.append(GroupOperation.ADOPT)
            return existing.id
        run.operations.append(GroupOperation.CREATE)
        self._outcomes.count(GroupOperation.CREATE, 1)
        return created.id

    def _apply(self, operation: GroupOperation, group_id: int, plan: GroupPlan, run: GroupRun) -> None:
        try:
            if operation is GroupOperation.RENAME:
                assert plan.name is not None
                self._tv.rename_group(group_id, plan.name)
            elif operation is GroupOperation.UNASSIGN_ROLE:
                self._tv.unassign_group_role(group_id)
            elif operation is GroupOperation.ASSIGN_ROLE:
                assert plan.role_id is not None
                self._tv.assign_group_role(group_id, plan.role_id)
            elif operation is GroupOperation.DELETE:
                self._tv.delete_group(group_id)
        except ConflictError as exc:
            run.refused(Outcome.CONFLICT, f"{GroupReason.NAME_TAKEN}: {describe(exc)}")
            return
        except InvalidError as exc:
            run.refused(Outcome.INVALID, describe(exc))
            return
        run.operations.append(operation)
        self._outcomes.count(operation, 1)

    def _converge_members(
        self, okta_group_id: str, group_id: int, desired: DesiredGroup, run: GroupRun
    ) -> None:
        """Take the TeamViewer group's members to exactly the wanted ones (none when released)."""
        wanted: set[int] = set()
        if desired.presence is GroupPresence.PUSHED:
            wanted = read_wanted_members(self._okta, self._users, okta_group_id)
        members_plan = plan_group_members(self._tv, group_id, wanted, self._owner)
        # Removals first: access that Okta no longer grants goes before anything is added.
        for batch in members_plan.remove:
            run.removed += self._change_members(self._tv.remove_group_members, group_id, batch, run)
        for batch in members_plan.add:
            run.added += self._change_members(self._tv.add_group_members, group_id, batch, run)
        if run.removed:
            run.operations.append(GroupOperation.REMOVE_MEMBERS)
            self._outcomes.count(GroupOperation.REMOVE_MEMBERS, run.removed)
        if run.added:
            run.operations.append(GroupOperation.ADD_MEMBERS)
            self._outcomes.count(GroupOperation.ADD_MEMBERS, run.added)

    def _change_members(
        self,
        change: Callable[[int, tuple[int, ...]], None],
        group_id: int,
        batch: tuple[int, ...],
        run: GroupRun,
    ) -> int:
        """One member call; when TeamViewer refuses the batch, each id alone, skipping the refused.

        TeamViewer refuses a whole call for one account outside the company (one that left
        since the worker mapped it): the other 99 must not wait for the reconciler. A 404
        says the group itself went meanwhile: no id alone would fare better, so the refusal
        ends the sync (recorded; the next sync links the group again).
        """
        try:
            change(group_id, batch)
        except InvalidError as exc:
            if exc.status == 404:
                raise
            if len(batch) == 1:
                run.refused(Outcome.INVALID, describe(exc))
                return 0
            return sum(self._change_members(change, group_id, (number,), run) for number in batch)
        return len(batch)
