"""Does TeamViewer match Okta? The same rules the worker applies, asked of both emulators.

Used by the demo (its exit code) and the end-to-end tests: for every Okta user, the
desired account (pure core) is planned against the TeamViewer account with that email; an
empty plan means converged. For every pushed group (``compare_groups``): a TeamViewer group
with the name the core gives it, exactly the mapped role, and as members exactly the
accounts of the Okta group's members whose account should be active and is.
"""

from __future__ import annotations

from dataclasses import dataclass

from tvsync.core.desired_state import Presence, SyncConfig, desired_account
from tvsync.core.groups import GroupConfig, group_name
from tvsync.core.plan import plan_changes
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.teamviewer import TeamViewerEmulator
from tvsync.models.groups import account_number
from tvsync.models.okta import OktaAppUser, OktaUser
from tvsync.models.teamviewer import TeamViewerAccount


@dataclass(frozen=True)
class UserComparison:
    okta_user_id: str
    email: str
    okta_status: str
    assigned: bool
    teamviewer: TeamViewerAccount | None
    desired: Presence
    pending: tuple[str, ...]  # operations still needed; empty = converged

    @property
    def converged(self) -> bool:
        return not self.pending


def compare(okta: OktaEmulator, teamviewer: TeamViewerEmulator, config: SyncConfig) -> list[UserComparison]:
    accounts = [TeamViewerAccount.model_validate(u) for u in teamviewer.users()]
    by_email = {a.email.lower(): a for a in accounts}
    results = []
    for raw in okta.users():
        user = OktaUser.model_validate(raw)
        assignment = None
        if config.app_id:
            raw_assignment = okta.app_user(config.app_id, user.id)
            assignment = OktaAppUser.model_validate(raw_assignment) if raw_assignment else None
        desired = desired_account(user, assignment, config)
        account = by_email.get(user.profile.email.lower())
        plan = plan_changes(desired, account, token_owner_id=teamviewer.owner_id)
        results.append(
            UserComparison(
                okta_user_id=user.id,
                email=user.profile.email,
                okta_status=user.status.value,
                assigned=assignment is not None or not config.app_id,
                teamviewer=account,
                desired=desired.presence,
                pending=tuple(op.value for op in plan.operations),
            )
        )
    return results


@dataclass(frozen=True)
class GroupComparison:
    """One pushed group: what Okta wants of its TeamViewer group, and what TeamViewer has."""

    okta_group_id: str
    name: str
    role_id: str | None
    teamviewer_group_id: int | None
    teamviewer_role_id: str | None
    wanted_members: frozenset[int]
    teamviewer_members: frozenset[int]

    @property
    def converged(self) -> bool:
        return (
            self.teamviewer_group_id is not None
            and self.teamviewer_role_id == self.role_id
            and self.wanted_members == self.teamviewer_members
        )


def compare_groups(
    okta: OktaEmulator, teamviewer: TeamViewerEmulator, config: SyncConfig, groups: GroupConfig
) -> list[GroupComparison]:
    """Every pushed group Okta has, in id order, against the TeamViewer group of its name."""
    users = {comparison.okta_user_id: comparison for comparison in compare(okta, teamviewer, config)}
    by_name = {group["name"]: int(group["id"]) for group in teamviewer.groups()}
    okta_groups = {group["id"]: group for group in okta.groups()}
    results = []
    for okta_group_id in sorted(groups.pushed & okta_groups.keys()):
        name = group_name(str(okta_groups[okta_group_id]["profile"]["name"]), okta_group_id)
        wanted = frozenset(
            account_number(user.teamviewer.id)
            for member in okta.group_members(okta_group_id)
            if (user := users.get(member)) is not None
            and user.desired is Presence.ACTIVE
            and user.teamviewer is not None
            and user.teamviewer.active is not False
        )
        group_id = by_name.get(name)
        results.append(
            GroupComparison(
                okta_group_id=okta_group_id,
                name=name,
                role_id=groups.role_for(okta_group_id),
                teamviewer_group_id=group_id,
                teamviewer_role_id=teamviewer.group_role(group_id) if group_id is not None else None,
                wanted_members=wanted,
                teamviewer_members=frozenset(teamviewer.group_members(group_id))
                if group_id is not None
                else frozenset(),
            )
        )
    return results
