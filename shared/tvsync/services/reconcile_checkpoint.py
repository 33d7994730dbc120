"""When a reconcile resumes an earlier run's Okta walk, and when it stores or forgets where it stopped.

The rules (``tvsync.services.reconcile``'s docstring says why they are safe):

- only the Okta walk resumes. A run that stops during it — the Lambda's deadline, or a
  rate limit it may not wait out before then — stores the list and cursor of the next
  page it did not read; pages are compared whole, so no user is skipped or compared twice;
- a checkpoint is resumed only for the same scope (``OKTA_APP_ID``) and only while its walk
  began less than ``max_age`` ago: the users compared before it were compared then, and
  a picture older than that is better redone from the start;
- a resume Okta refuses (its cursor expired or no longer names the list) is forgotten,
  and the run starts the walk afresh;
- a walk that reaches its end, resumed or not, forgets the checkpoint.

Dry runs and manual runs neither read nor write it: they leave the schedule's walk as it is.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Final

from tvsync.models.reconcile_checkpoint import ReconcileCheckpoint

if TYPE_CHECKING:
    import logging
    from datetime import datetime

    from aws_lambda_powertools import Logger

    from tvsync.services.ports import CheckpointRepository
    from tvsync.services.reconcile_okta import WalkPosition

__all__ = ["DEFAULT_MAX_AGE", "Checkpointer"]

#: Four runs of the default six-hour schedule.
DEFAULT_MAX_AGE: Final = timedelta(hours=24)


class Checkpointer:
    """The checkpoint of one reconciler, with the rules above."""

    def __init__(
        self,
        store: CheckpointRepository,
        *,
        logger: Logger | logging.Logger,
        max_age: timedelta = DEFAULT_MAX_AGE,
    ) -> None:
        self._store = store
        self._logger = logger
        self.max_age = max_age

    def resume_point(self, *, scope: str, now: datetime) -> ReconcileCheckpoint | None:
        """The checkpoint to resume, or None (a missing, foreign or stale one is forgotten)."""
        checkpoint = self._store.load()
        if checkpoint is None:
            return None
        if checkpoint.scope != scope:
            self.forget("its walk covered another scope", checkpoint)
            return None
        if now - checkpoint.started_at > self.max_age:
            self.forget(f"its walk began more than {self.max_age} ago", checkpoint)
            return None
        return checkpoint

    def save(  # noqa: PLR0913 - where the walk began and where it stands, all by name
        self,
        previous: ReconcileCheckpoint | None,
        *,
        run_id: str,
        scope: str,
        position: WalkPosition,
        users_done: int,
        now: datetime,
    ) -> ReconcileCheckpoint:
        """Store where the walk stands; ``previous`` is the checkpoint this run resumed, if any."""
        checkpoint = ReconcileCheckpoint(
            run_id=previous.run_id if previous else run_id,
            scope=scope,
            walk=position.walk,
            cursor=position.cursor,
            started_at=previous.started_at if previous else now,
            saved_at=now,
            runs=previous.runs + 1 if previous else 1,
            users_done=(previous.users_done if previous else 0) + users_done,
        )
        self._store.save(checkpoint)
        self._logger.warning(
            "Reconcile stored where its Okta walk stopped; the next run resumes there",
            extra={
                "walk_run_id": checkpoint.run_id,
                "runs": checkpoint.runs,
                "users_done": checkpoint.users_done,
            },
        )
        return checkpoint

    def forget(self, why: str, checkpoint: ReconcileCheckpoint | None = None) -> None:
        """Delete the checkpoint; ``why`` goes to the log."""
        self._store.clear()
        extra = {"walk_run_id": checkpoint.run_id, "runs": checkpoint.runs} if checkpoint else {}
        self._logger.info(f"Reconcile checkpoint forgotten: {why}", extra=extra)
