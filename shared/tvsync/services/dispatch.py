"""Which synchroniser converges a request: the one step the worker makes idempotent per event.

A request about a group itself goes to the group synchroniser; every other request is a
user's (``tvsync.models.sync_request``), converged by the user synchroniser first and then,
when groups are pushed, followed by that user's group memberships — in the same step, so an
event that is retried or redelivered repeats both halves or neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tvsync.core.outcome import Detail
    from tvsync.models.sync_request import SyncRequest
    from tvsync.services.group_membership import MembershipSync
    from tvsync.services.group_sync import GroupSynchronizer
    from tvsync.services.user_sync import UserSynchronizer

__all__ = ["SyncDispatcher"]


@dataclass(frozen=True)
class SyncDispatcher:
    """Routes each request, and returns its JSON-friendly result for the idempotency record."""

    users: UserSynchronizer
    groups: GroupSynchronizer
    memberships: MembershipSync

    def converge(self, request: SyncRequest) -> dict[str, Any]:
        if request.is_group_request:
            return self.groups.converge(request).as_dict()
        result = self.users.converge(request)
        if request.teamviewer_id is None:  # an orphan has no Okta user, and so no Okta groups
            self.memberships.follow_user(request, result)
        return result.as_dict()

    def record_rejected(self, okta_user_id: str, reason: Detail) -> None:
        """A message dropped as unreadable is shown on the user's record, as before groups."""
        self.users.record_rejected(okta_user_id, reason)
