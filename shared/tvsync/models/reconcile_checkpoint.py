"""Where a reconcile run that ran out of time stopped walking Okta: one SyncStateTable item.

A run that cannot finish before the Lambda's deadline keeps the Okta cursor it stopped at,
and the next run walks on from there instead of from the first user, so every Okta user is
compared within a bounded number of runs (``tvsync.services.reconcile`` states the rule and
the bound). The item lives in SyncStateTable under a key no Okta user id can have
(``CHECKPOINT_KEY``: Okta ids are letters and digits); every reader of that table that walks
all of it skips the key (``tvsync.models.table_keys``), so it is never taken for a user.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from tvsync.models.table_keys import CHECKPOINT_KEY

__all__ = ["CHECKPOINT_KEY", "ReconcileCheckpoint"]


class ReconcileCheckpoint(BaseModel):
    """How far the Okta walk of an unfinished reconcile got.

    ``walk`` names the list (``app_users``, or ``users`` then ``deprovisioned`` without an
    app) and ``cursor`` the next link to read it from (None: from its first page).
    ``scope`` is the app id the walk was for ("" for the whole org): a checkpoint of
    another scope is never resumed. ``started_at`` is when the walk began, in the run
    ``run_id``; ``runs`` how many runs it has taken so far and ``users_done`` how many Okta
    users they compared.
    """

    model_config = ConfigDict(frozen=True)

    run_id: str = Field(min_length=1)
    scope: str
    walk: str = Field(min_length=1)
    cursor: str | None = None
    started_at: AwareDatetime
    saved_at: AwareDatetime
    runs: int = Field(ge=1)
    users_done: int = Field(ge=0)
