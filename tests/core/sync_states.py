"""What the core's worker-side tables share: one user, one account, and records of them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tvsync.core.desired_state import DesiredAccount, DesiredReason, Presence
from tvsync.models.sync_state import SyncState
from tvsync.models.teamviewer import TeamViewerAccount

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
EMAIL = "jane.doe@example.test"
ACCOUNT = TeamViewerAccount(id="u1", email=EMAIL, name="Jane Doe", active=True)
ACTIVE = DesiredAccount(Presence.ACTIVE, email=EMAIL, name="Jane Doe", reason=DesiredReason.ACTIVE)


def sync_state(**fields: Any) -> SyncState:
    """User ``00u1``'s record, last written at ``T0``, with ``fields`` set."""
    values: dict[str, Any] = {"okta_user_id": "00u1", "last_outcome": "applied", "updated_at": T0, **fields}
    return SyncState(**values)


#: Mapped to ``ACCOUNT``, as the worker last left it.
MAPPED = sync_state(
    teamviewer_id="u1",
    teamviewer_email=EMAIL,
    teamviewer_name="Jane Doe",
    teamviewer_active=True,
    email=EMAIL,
)
#: Known to the worker, with no account.
UNMAPPED = sync_state(email=EMAIL, last_outcome="no-change")
