"""The SyncStateTable items that are not an Okta user's record, and how readers tell them apart.

SyncStateTable is keyed by Okta user id, and two functions keep one item of their own there
rather than in a table each: the reconciler's checkpoint (``CHECKPOINT_KEY``) and the
worker's shared TeamViewer request schedule (``SCHEDULE_KEY``). Okta user ids are letters
and digits, so a key with ``#`` is never a user's; every reader that walks the table skips
such keys (``is_reserved_key``) and never takes one of these items for a user.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CHECKPOINT_KEY", "SCHEDULE_KEY", "is_reserved_key"]

_RESERVED_MARK: Final = "#"

#: Where an unfinished reconcile run stopped walking Okta (``tvsync.models.reconcile_checkpoint``).
CHECKPOINT_KEY: Final = "reconcile#checkpoint"
#: When the next TeamViewer request slot is free (``tvsync.adapters.request_schedule``).
SCHEDULE_KEY: Final = "teamviewer#schedule"


def is_reserved_key(key: str) -> bool:
    """Whether a SyncStateTable key is one of the functions' own items rather than an Okta user's."""
    return _RESERVED_MARK in key
