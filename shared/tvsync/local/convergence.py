"""Does TeamViewer match Okta? The same rules the worker applies, asked of both emulators.

Used by the demo (its exit code) and the end-to-end tests: for every Okta user, the
desired account (pure core) is planned against the TeamViewer account with that email; an
empty plan means converged.
"""

from __future__ import annotations

from dataclasses import dataclass

from tvsync.core.desired_state import Presence, SyncConfig, desired_account
from tvsync.core.plan import plan_changes
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.teamviewer import TeamViewerEmulator
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
