"""What a reconcile run tells the world: its phases, its counts and items, how it failed.

The run itself (``tvsync.services.reconcile``) reads, compares and queues; everything that
leaves it — the Lambda's response and log line, the ``DriftDetected`` metric, the CLI's
progress bar, table and ``--json`` — is read from the types here. Keeping them apart lets
the CLI and the benchmark import what a run reports without the run's machinery, and keeps
the one rule about emails in one place: ``summary`` (logs, the Lambda response) carries
counts only; ``as_dict`` (an admin's own terminal) carries everything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.metrics import MetricUnit

from tvsync.core.drift import FIXABLE, DriftCategory, DriftItem
from tvsync.core.group_drift import GroupDrift, GroupDriftReason

if TYPE_CHECKING:
    import logging
    from datetime import datetime

    from aws_lambda_powertools import Logger, Metrics

__all__ = ["Phase", "Progress", "ReconcileFailedError", "ReconcileReport", "publish"]

#: Categories nobody has to act on: left out of the report's item list (they are counted).
_UNLISTED: Final = frozenset({DriftCategory.IN_SYNC, DriftCategory.IGNORED, DriftCategory.PROTECTED})


class Phase(StrEnum):
    """What the reconciler is reading; progress is reported per phase."""

    SYNC_STATE = "sync state records"
    TEAMVIEWER = "TeamViewer users"
    OKTA = "Okta users"
    UNCLAIMED = "unclaimed accounts checked"
    QUEUED = "sync requests queued"


Progress = Callable[[Phase, int], None]
"""Called with a phase and how many records it has handled so far."""


class ReconcileFailedError(RuntimeError):
    """The run could not finish (or could not queue every fix); the report says how far it got."""

    def __init__(self, report: ReconcileReport) -> None:
        super().__init__(report.error or f"{report.enqueue_failed} sync requests could not be queued")
        self.report = report


@dataclass
class ReconcileReport:
    """What one run found and did; counts like TeamViewer's AD connector reports them.

    ``items`` lists every user or account that is not in sync (up to ``max_items``;
    ``items_omitted`` says how many more there were): the data behind ``--json``.
    """

    run_id: str
    started_at: datetime
    dry_run: bool
    deactivate_orphans: bool
    finished_at: datetime | None = None
    complete: bool = True
    error: str | None = None
    teamviewer_users: int = 0
    okta_users: int = 0
    counts: dict[DriftCategory, int] = field(default_factory=lambda: dict.fromkeys(DriftCategory, 0))
    enqueued: int = 0
    enqueue_failed: int = 0
    items: list[DriftItem] = field(default_factory=list)
    items_omitted: int = 0
    #: Pushed or linked groups compared, and those that drifted (listed up to ``max_items``).
    groups_checked: int = 0
    groups_drifted: int = 0
    group_counts: dict[GroupDriftReason, int] = field(
        default_factory=lambda: dict.fromkeys(GroupDriftReason, 0)
    )
    group_items: list[GroupDrift] = field(default_factory=list)
    #: The run whose Okta walk this run resumed (None: it walked from the first page), and
    #: whether this run stored where its own walk stopped (``tvsync.services.reconcile``).
    resumed_from: str | None = None
    checkpoint_saved: bool = False

    def add(self, item: DriftItem, *, max_items: int | None) -> None:
        """Count ``item``; list it too when someone has to act on it, while the list has room.

        ``max_items`` None lists every such item; the counts are complete either way.
        """
        self.counts[item.category] += 1
        if item.category in _UNLISTED:
            return
        if max_items is None or len(self.items) < max_items:
            self.items.append(item)
        else:
            self.items_omitted += 1

    def add_group(self, drift: GroupDrift, *, max_items: int | None) -> None:
        """Count a drifted group under each of its reasons, and list it while the list has room."""
        self.groups_drifted += 1
        for reason in drift.reasons:
            self.group_counts[reason] += 1
        if max_items is None or len(self.group_items) < max_items:
            self.group_items.append(drift)

    @property
    def drifted(self) -> int:
        """Users and accounts that differ from Okta's desired state and that someone must act on.

        The ``DriftDetected`` metric. Known conflicts are left out (the worker already
        counted them as ``Conflicts``), and so is the token owner's account (``protected``),
        which no Okta user claims in most companies and which never changes.
        """
        fixable = sum(self.counts[category] for category in FIXABLE)
        return fixable + self.counts[DriftCategory.ORPHAN]

    @property
    def duration_seconds(self) -> float:
        """How long the run took; 0 until it has finished."""
        end = self.finished_at or self.started_at
        return (end - self.started_at).total_seconds()

    def summary(self) -> dict[str, Any]:
        """Counts only: safe for logs (no emails) and for the Lambda's response."""
        return {
            "run_id": self.run_id,
            "complete": self.complete,
            "error": self.error,
            "dry_run": self.dry_run,
            "deactivate_orphans": self.deactivate_orphans,
            "teamviewer_users": self.teamviewer_users,
            "okta_users": self.okta_users,
            **{category.value: count for category, count in self.counts.items()},
            "drifted": self.drifted,
            "groups_checked": self.groups_checked,
            "groups_drifted": self.groups_drifted,
            "group_drift": {reason.value: count for reason, count in self.group_counts.items() if count},
            "enqueued": self.enqueued,
            "enqueue_failed": self.enqueue_failed,
            "resumed_from": self.resumed_from,
            "checkpoint_saved": self.checkpoint_saved,
            "duration_seconds": round(self.duration_seconds, 3),
        }

    def as_dict(self) -> dict[str, Any]:
        """Everything, emails included: for the admin running ``tvsync reconcile --json``."""
        return {
            **self.summary(),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "items": [
                {
                    "category": item.category.value,
                    "reason": str(item.reason),
                    "okta_user_id": item.okta_user_id,
                    "teamviewer_id": item.teamviewer_id,
                    "email": item.email,
                    "operations": [op.value for op in item.operations],
                    "enqueue": item.enqueue,
                }
                for item in self.items
            ],
            "items_omitted": self.items_omitted,
            "groups": [
                {
                    "okta_group_id": drift.okta_group_id,
                    "name": drift.name,
                    "teamviewer_group_id": drift.teamviewer_group_id,
                    "reasons": [reason.value for reason in drift.reasons],
                    "members_missing": drift.members_missing,
                    "members_extra": drift.members_extra,
                }
                for drift in self.group_items
            ],
        }


def publish(
    report: ReconcileReport, logger: Logger | logging.Logger, metrics: Metrics | None, *, groups: bool
) -> None:
    """The metrics and the one log line of a finished run (counts only: ``summary``)."""
    if metrics is not None:
        metrics.add_metric(name="DriftDetected", unit=MetricUnit.Count, value=report.drifted)
        if groups:
            metrics.add_metric(name="GroupDriftDetected", unit=MetricUnit.Count, value=report.groups_drifted)
    summary = report.summary()
    if report.complete:
        logger.info("Reconcile finished", extra=summary)
    else:
        logger.error("Reconcile did not finish", extra=summary)
