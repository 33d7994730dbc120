"""The sync requests a reconcile queues: one per drifted user, orphan or group.

Each is a ``SyncRequest`` with source ``reconcile`` on the same FIFO queue the event hooks
feed, so the worker converges it like an event. Its event uuid — the worker's idempotency
key — names the run and the subject, so a request is applied once however often SQS
delivers it, and two runs never share one.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from tvsync.models.sync_request import SyncRequest, group_request_key

if TYPE_CHECKING:
    from tvsync.core.drift import DriftItem

__all__ = ["EVENT_TYPE", "ORPHAN_PREFIX", "group_request", "new_run_id", "orphan_group", "user_request"]

EVENT_TYPE: Final = "tvsync.reconcile"
ORPHAN_PREFIX: Final = "orphan-"


def orphan_group(teamviewer_id: str) -> str:
    """The message group (and SyncStateTable key) of an orphan deactivation."""
    return f"{ORPHAN_PREFIX}{teamviewer_id}"


def new_run_id(now: datetime) -> str:
    """Sortable, and unique enough that two runs never share an event uuid (the idempotency key)."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def user_request(item: DriftItem, *, run_id: str, published: datetime) -> SyncRequest:
    """The request for a drifted Okta user, or for an orphan (``okta_user_id`` None)."""
    if item.okta_user_id is not None:
        return _request(item.okta_user_id, run_id=run_id, published=published)
    assert item.teamviewer_id is not None  # an orphan always names its account
    return _request(
        orphan_group(item.teamviewer_id), run_id=run_id, published=published, teamviewer_id=item.teamviewer_id
    )


def group_request(okta_group_id: str, *, run_id: str, published: datetime) -> SyncRequest:
    """The request for a drifted pushed or linked group."""
    subject = group_request_key(okta_group_id)
    return _request(subject, run_id=run_id, published=published, okta_group_id=okta_group_id)


def _request(
    subject: str,
    *,
    run_id: str,
    published: datetime,
    teamviewer_id: str | None = None,
    okta_group_id: str | None = None,
) -> SyncRequest:
    """A reconcile request in ``subject``'s message group, its event uuid naming the run and the subject."""
    return SyncRequest(
        okta_user_id=subject,
        event_uuid=f"reconcile-{run_id}-{subject}",
        event_type=EVENT_TYPE,
        published=published,
        source="reconcile",
        teamviewer_id=teamviewer_id,
        okta_group_id=okta_group_id,
    )
