"""How each sync ended, written down: the user's SyncStateTable record, the metrics, the log line.

The synchroniser (``tvsync.services.user_sync``) hands every end here; what the record says
is decided in ``tvsync.core.record``. Emails reach the log masked, and never a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from tvsync.core.desired_state import Presence
from tvsync.core.outcome import Detail, Outcome, RecordedReason
from tvsync.core.plan import Operation
from tvsync.core.record import record_sync
from tvsync.observability import mask_email, mask_emails
from tvsync.services.failures import describe, report_retry

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

    from tvsync.adapters.errors import ConflictError, InvalidError
    from tvsync.core.record import Settlement, SyncEnd, SyncStart
    from tvsync.models.sync_request import SyncRequest
    from tvsync.models.sync_state import SyncState
    from tvsync.services.ports import Clock, SyncStateRepository

__all__ = ["OPERATION_METRICS", "OutcomeRecorder", "SyncResult"]

OPERATION_METRICS = {
    Operation.CREATE: "UsersCreated",
    Operation.ACTIVATE: "UsersActivated",
    Operation.DEACTIVATE: "UsersDeactivated",
    Operation.RENAME: "UsersRenamed",
    Operation.CHANGE_EMAIL: "EmailsChanged",
}


@dataclass(frozen=True)
class SyncResult:
    """What happened for one event; stored by the idempotency layer, so JSON-friendly."""

    okta_user_id: str
    event_uuid: str
    outcome: Outcome
    operations: tuple[Operation, ...] = ()
    reason: RecordedReason | None = None
    teamviewer_id: str | None = None
    #: What the sync decided the account should be (None when it did not finish): group
    #: memberships follow it (``tvsync.services.group_sync``). Not stored with the result.
    presence: Presence | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "okta_user_id": self.okta_user_id,
            "event_uuid": self.event_uuid,
            "outcome": self.outcome.value,
            "operations": [op.value for op in self.operations],
            "reason": self.reason,
            "teamviewer_id": self.teamviewer_id,
        }


@dataclass(frozen=True)
class OutcomeRecorder:
    """Records, counts and logs how each sync ended."""

    state: SyncStateRepository
    logger: Logger
    metrics: Metrics
    clock: Clock
    dry_run: bool

    def finished(self, start: SyncStart, end: SyncEnd) -> SyncResult:
        """A sync that ran to its end, whatever the end: the record replaces the user's."""
        now = self.clock()
        done = record_sync(start, end, dry_run=self.dry_run, now=now)
        self.state.put(done.state)
        outcome, request = done.outcome, start.request
        # A conflict can come with changes made all the same (reactivated, renamed).
        for operation in end.operations if outcome in {Outcome.APPLIED, Outcome.CONFLICT} else ():
            self.metrics.add_metric(name=OPERATION_METRICS[operation], unit=MetricUnit.Count, value=1)
        if done.counts_adoption:
            self.metrics.add_metric(name="UsersAdopted", unit=MetricUnit.Count, value=1)
        if outcome is Outcome.NO_CHANGE:
            self.metrics.add_metric(name="NoChange", unit=MetricUnit.Count, value=1)
        if outcome in {Outcome.APPLIED, Outcome.ADOPTED, Outcome.NO_CHANGE}:
            latency_ms = max(0.0, (now - request.published).total_seconds() * 1000)
            self.metrics.add_metric(name="SyncLatency", unit=MetricUnit.Milliseconds, value=latency_ms)
        self.logger.info(
            "User synced",
            extra={
                "okta_user_id": request.okta_user_id,
                "event_uuid": request.event_uuid,
                "event_type": request.event_type,
                "outcome": outcome.value,
                "operations": [op.value for op in end.operations],
                "reason": done.reason,
                "adopted": done.adopted,
                "teamviewer_id": done.state.teamviewer_id,
                "email": mask_email(start.desired.email),
                "dry_run": self.dry_run,
            },
        )
        return SyncResult(
            okta_user_id=request.okta_user_id,
            event_uuid=request.event_uuid,
            outcome=outcome,
            operations=end.operations,
            reason=done.reason,
            teamviewer_id=done.state.teamviewer_id,
            presence=start.desired.presence,
        )

    def settled(self, okta_user_id: str, settlement: Settlement, email: str) -> None:
        """An interrupted create settled: stored, and an adoption counted, before the sync goes on."""
        self.state.put(settlement.state)
        if settlement.adopted and not self.dry_run:
            self.metrics.add_metric(name="UsersAdopted", unit=MetricUnit.Count, value=1)
        self.logger.info(
            "Interrupted create resolved",
            extra={
                "okta_user_id": okta_user_id,
                "adopted": settlement.adopted,
                "teamviewer_id": settlement.account.id if settlement.account is not None else None,
                "email": mask_email(email),
            },
        )

    def email_conflict(self, start: SyncStart, exc: ConflictError) -> None:
        self.metrics.add_metric(name="Conflicts", unit=MetricUnit.Count, value=1)
        self.logger.warning(
            "TeamViewer refused the email: it belongs to an account outside the company",
            extra={
                "okta_user_id": start.request.okta_user_id,
                "email": mask_email(start.desired.email),
                "detail": mask_emails(exc.detail),
            },
        )

    def write_refused(self, start: SyncStart, exc: InvalidError) -> Detail:
        """TeamViewer refused a write: counted and logged; returns the reason to record."""
        detail = describe(exc)
        self.metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
        self.logger.warning(
            "TeamViewer refused the request",
            extra={"okta_user_id": start.request.okta_user_id, "detail": detail},
        )
        return detail

    def gave_up(self, request: SyncRequest, previous: SyncState | None, exc: InvalidError) -> SyncResult:
        """A refusal no retry can change (a read, mostly): recorded, and the record then succeeds."""
        reason = describe(exc)
        self.metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
        self.logger.warning(
            "Request refused; recorded, not retried",
            extra={"okta_user_id": request.okta_user_id, "event_uuid": request.event_uuid, "error": reason},
        )
        self._record_outcome(request.okta_user_id, Outcome.INVALID, reason)
        return SyncResult(
            okta_user_id=request.okta_user_id,
            event_uuid=request.event_uuid,
            outcome=Outcome.INVALID,
            reason=reason,
            teamviewer_id=previous.teamviewer_id if previous else None,
        )

    def retrying(self, request: SyncRequest, exc: Exception) -> None:
        """Log, count and record why the event goes back to SQS.

        The record is what ``tvsync dlq list`` shows as the last error once the retries are
        used up, so anything unexpected is recorded too, with its type. Only the outcome is
        written: the mapping and a pending create stay as stored, whatever this run read.
        """
        fields = {"okta_user_id": request.okta_user_id, "event_uuid": request.event_uuid}
        error = report_retry(self.logger, self.metrics, exc, fields)
        try:
            self._record_outcome(request.okta_user_id, Outcome.RETRYING, error)
        except Exception:
            self.logger.exception("Could not record the retry in SyncStateTable")

    def rejected(self, okta_user_id: str, reason: Detail) -> None:
        """Show in SyncStateTable that a message for this user was dropped as unreadable."""
        try:
            self._record_outcome(okta_user_id, Outcome.INVALID, reason)
        except Exception:
            self.logger.exception("Could not record the dropped message in SyncStateTable")

    def _record_outcome(self, okta_user_id: str, outcome: Outcome, reason: Detail) -> None:
        self.state.record_outcome(okta_user_id, outcome=outcome.value, reason=reason, at=self.clock())
