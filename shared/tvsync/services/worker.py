"""The worker use case: converge one user's TeamViewer account to their state in Okta.

Level-triggered: a ``SyncRequest`` only says "this Okta user may have changed". The worker
reads the user's *current* state from Okta, derives the desired account (pure core), plans
the smallest change against the account as last seen (SyncStateTable) and applies it. Any
number of duplicate, reordered or missed events therefore converge to the same result.

Failure policy, by error class (``tvsync.adapters.errors``):

- conflict (email owned outside the company), invalid request: permanent for this event —
  recorded with the reason, counted, logged as a warning; the record *succeeds* so the rest
  of the user's queue moves on.
- throttled, transient, auth: the record fails and SQS redelivers it, after the wait the
  server asked for when it gave one (the message's visibility is set to it), else after an
  exponential backoff; after ``maxReceiveCount`` it lands in the DLQ.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from tvsync.adapters.errors import (
    AuthError,
    ConflictError,
    InvalidError,
    ThrottledError,
    TransientError,
)
from tvsync.adapters.secrets import SecretUnavailableError
from tvsync.adapters.sync_state import SyncState, SyncStateStore
from tvsync.core.desired_state import DesiredAccount, Presence, SyncConfig, desired_account
from tvsync.core.plan import Operation, Plan, PlanReason, plan_changes, to_update
from tvsync.models.sync_request import SyncRequest
from tvsync.models.teamviewer import TeamViewerAccount
from tvsync.observability import mask_email

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import ChangeMessageVisibilityBatchRequestEntryTypeDef

    from tvsync.adapters.okta_client import OktaClient
    from tvsync.adapters.teamviewer_client import TeamViewerClient

OPERATION_METRICS = {
    Operation.CREATE: "UsersCreated",
    Operation.ACTIVATE: "UsersActivated",
    Operation.DEACTIVATE: "UsersDeactivated",
    Operation.RENAME: "UsersRenamed",
    Operation.CHANGE_EMAIL: "EmailsChanged",
}

#: Recorded for a user whose email belongs to a TeamViewer account outside the company.
CONFLICT_REASON = "email in use by a TeamViewer account outside the company"

#: SQS caps a message's visibility timeout at 12 hours.
MAX_VISIBILITY_SECONDS = 43_200


class Outcome(StrEnum):
    """How one sync ended (SyncStateTable ``last_outcome``; also a log field)."""

    APPLIED = "applied"
    NO_CHANGE = "no-change"
    CONFLICT = "conflict"
    INVALID = "invalid"
    DRY_RUN = "dry-run"
    RETRYING = "retrying"


@dataclass(frozen=True)
class SyncResult:
    """What happened for one event; stored by the idempotency layer, so JSON-friendly."""

    okta_user_id: str
    event_uuid: str
    outcome: Outcome
    operations: tuple[Operation, ...] = ()
    reason: str | None = None
    teamviewer_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "okta_user_id": self.okta_user_id,
            "event_uuid": self.event_uuid,
            "outcome": self.outcome.value,
            "operations": [op.value for op in self.operations],
            "reason": self.reason,
            "teamviewer_id": self.teamviewer_id,
        }


class RetryLaterError(Exception):
    """The event could not be applied now; SQS should redeliver it after ``delay`` seconds."""

    def __init__(self, cause: Exception, delay: float | None) -> None:
        super().__init__(str(cause))
        self.delay = delay


class UserSynchronizer:
    """Converges one Okta user's TeamViewer account; knows nothing about SQS or Lambda."""

    def __init__(
        self,
        *,
        okta: OktaClient,
        teamviewer: TeamViewerClient,
        state: SyncStateStore,
        config: SyncConfig,
        dry_run: bool,
        logger: Logger,
        metrics: Metrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._okta = okta
        self._tv = teamviewer
        self._state = state
        self._config = config
        self._dry_run = dry_run
        self._logger = logger
        self._metrics = metrics
        self._clock = clock
        self._token_owner_id: str | None = None

    def converge(self, request: SyncRequest) -> SyncResult:
        previous = self._state.get(request.okta_user_id)
        try:
            if request.teamviewer_id is not None:
                return self._deactivate_orphan(request, previous, request.teamviewer_id)
            desired = self._desired(request.okta_user_id)
            if desired.presence is Presence.UNMANAGED:
                return self._finish(request, previous, desired, Outcome.NO_CHANGE, (), desired.reason, None)
            return self._converge(request, previous, desired)
        except (ThrottledError, TransientError, AuthError, SecretUnavailableError) as exc:
            self._record_retry(request, previous, exc)
            raise RetryLaterError(exc, exc.retry_after if isinstance(exc, ThrottledError) else None) from exc

    def _desired(self, okta_user_id: str) -> DesiredAccount:
        user = self._okta.get_user(okta_user_id)
        app_id = self._config.app_id
        assignment = self._okta.get_app_user(app_id, okta_user_id) if app_id and user is not None else None
        return desired_account(user, assignment, self._config)

    def _converge(
        self, request: SyncRequest, previous: SyncState | None, desired: DesiredAccount
    ) -> SyncResult:
        # The reconciler found this user by reading TeamViewer itself: the stored view of
        # the account is what it disagreed with, so read the account again.
        current = self._current_account(desired, previous, refresh=request.source == "reconcile")
        plan = self._plan(desired, current)
        if plan.is_noop:
            return self._finish(request, previous, desired, Outcome.NO_CHANGE, (), plan.reason, current)
        if self._dry_run:
            return self._finish(
                request, previous, desired, Outcome.DRY_RUN, plan.operations, plan.reason, current
            )
        try:
            account, operations = self._apply(plan, desired, current, previous)
        except ConflictError as exc:
            self._metrics.add_metric(name="Conflicts", unit=MetricUnit.Count, value=1)
            self._logger.warning(
                "TeamViewer refused the email: it belongs to an account outside the company",
                extra={
                    "okta_user_id": request.okta_user_id,
                    "email": mask_email(desired.email),
                    "detail": exc.detail,
                },
            )
            return self._finish(request, previous, desired, Outcome.CONFLICT, (), CONFLICT_REASON, current)
        except InvalidError as exc:
            self._metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
            self._logger.warning(
                "TeamViewer refused the request",
                extra={"okta_user_id": request.okta_user_id, "detail": str(exc)},
            )
            return self._finish(request, previous, desired, Outcome.INVALID, (), str(exc), current)
        outcome = Outcome.APPLIED if operations else Outcome.NO_CHANGE
        return self._finish(request, previous, desired, outcome, operations, plan.reason, account)

    def _current_account(
        self, desired: DesiredAccount, previous: SyncState | None, *, refresh: bool = False
    ) -> TeamViewerAccount | None:
        """The account to plan against: the mapped one as last seen, else a lookup by email.

        An unknown user about to be created is *not* looked up: the create itself tells us
        (by conflicting) when the account already exists, which saves a call per new user.
        ``refresh`` re-reads the mapped account instead of trusting the stored view, which
        cannot see edits made in TeamViewer itself; a mapped account that has left the
        company is then treated as no mapping at all.
        """
        known = previous.known_account() if previous else None
        if known is not None and refresh:
            known = self._tv.get(known.id)
        if known is not None:
            return known
        if desired.presence is Presence.ACTIVE:
            return None
        email = desired.email or (previous.email if previous else None)
        return self._tv.find_by_email(email) if email else None

    def _deactivate_orphan(
        self, request: SyncRequest, previous: SyncState | None, teamviewer_id: str
    ) -> SyncResult:
        """Deactivate an account the reconciler found no Okta user for — if that is still true.

        The reconciler's view is minutes old by now, so everything is checked again: the
        account must still be in the company and active, must not be the token owner, and
        no Okta user and no SyncStateTable record may claim it (a user created or assigned
        in the meantime adopts the account instead). This keeps the worker the only writer
        to TeamViewer while orphans have no Okta user to converge.
        """
        account = self._tv.get(teamviewer_id)
        desired = DesiredAccount(
            Presence.INACTIVE, email=account.email if account else None, name=None, reason="orphan"
        )
        skip = self._orphan_skip_reason(request, account)
        if skip is not None or account is None:
            return self._finish(request, previous, desired, Outcome.NO_CHANGE, (), skip, account)
        operations = (Operation.DEACTIVATE,)
        if self._dry_run:
            return self._finish(request, previous, desired, Outcome.DRY_RUN, operations, "orphan", account)
        try:
            self._tv.update(account.id, active=False)
        except InvalidError as exc:  # e.g. it left the company a moment ago: nothing to retry
            return self._finish(request, previous, desired, Outcome.INVALID, (), str(exc), account)
        deactivated = _applied(account, False, None, None)
        return self._finish(request, previous, desired, Outcome.APPLIED, operations, "orphan", deactivated)

    def _orphan_skip_reason(self, request: SyncRequest, account: TeamViewerAccount | None) -> str | None:
        """Why the orphan must be left alone now, or None to deactivate it."""
        if account is None:
            return "orphan-gone"
        if not account.active:
            return PlanReason.ALREADY_INACTIVE
        if account.id == self._owner_id():
            return PlanReason.TOKEN_OWNER_PROTECTED
        # Adopted since the reconciler looked (a new hire's event got here first)?
        claimed = any(
            state.okta_user_id != request.okta_user_id and state.teamviewer_id == account.id
            for state in self._state.find_by_email(account.email)
        )
        if claimed or self._okta.find_by_email(account.email) is not None:
            return "orphan-claimed"
        return None

    def _plan(self, desired: DesiredAccount, current: TeamViewerAccount | None) -> Plan:
        plan = plan_changes(desired, current, token_owner_id=None)
        if Operation.DEACTIVATE in plan.operations:
            # The token owner matters only for a deactivation: fetch it then, once per container.
            plan = plan_changes(desired, current, token_owner_id=self._owner_id())
        return plan

    def _owner_id(self) -> str:
        if self._token_owner_id is None:
            self._token_owner_id = self._tv.token_owner().id
        return self._token_owner_id

    def _apply(
        self,
        plan: Plan,
        desired: DesiredAccount,
        current: TeamViewerAccount | None,
        previous: SyncState | None,
    ) -> tuple[TeamViewerAccount, tuple[Operation, ...]]:
        if Operation.CREATE in plan.operations:
            return self._create(plan, desired, previous)
        assert current is not None and plan.account_id is not None
        update = to_update(plan)
        assert update is not None
        try:
            self._tv.update(plan.account_id, active=update.active, name=update.name, email=update.email)
        except InvalidError as exc:
            if exc.status != 404 or previous is None or previous.known_account() is None:
                raise
            # The mapped account left the company (or was removed): forget it and start over.
            fresh = self._tv.find_by_email(desired.email) if desired.email else None
            replan = self._plan(desired, fresh)
            if replan.is_noop:
                return fresh or current, ()
            return self._apply(replan, desired, fresh, None)
        return _applied(current, update.active, update.name, update.email), plan.operations

    def _create(
        self, plan: Plan, desired: DesiredAccount, previous: SyncState | None
    ) -> tuple[TeamViewerAccount, tuple[Operation, ...]]:
        assert plan.email is not None and plan.name is not None
        try:
            return self._tv.create(plan.email, plan.name), (Operation.CREATE,)
        except ConflictError:
            # Either someone outside the company owns the email (permanent), or the account is
            # already in the company: created by a run that died before recording it, or
            # stored with different letter case (TeamViewer's filter is case-sensitive).
            existing = self._tv.find_by_email(plan.email)
            repeat_conflict = previous is not None and previous.last_outcome == Outcome.CONFLICT
            if existing is None and not repeat_conflict:
                existing = self._tv.find_by_email_casefold(plan.email)
            if existing is None:
                raise
        adopted = self._plan(desired, existing)
        if adopted.is_noop:
            return existing, ()
        update = to_update(adopted)
        assert update is not None
        self._tv.update(existing.id, active=update.active, name=update.name, email=update.email)
        return _applied(existing, update.active, update.name, update.email), adopted.operations

    def _finish(
        self,
        request: SyncRequest,
        previous: SyncState | None,
        desired: DesiredAccount,
        outcome: Outcome,
        operations: tuple[Operation, ...],
        reason: str | None,
        account: TeamViewerAccount | None,
    ) -> SyncResult:
        now = self._clock()
        self._state.put(_next_state(request, previous, desired, outcome, operations, reason, account, now))
        for operation in operations if outcome is Outcome.APPLIED else ():
            self._metrics.add_metric(name=OPERATION_METRICS[operation], unit=MetricUnit.Count, value=1)
        if outcome is Outcome.NO_CHANGE:
            self._metrics.add_metric(name="NoChange", unit=MetricUnit.Count, value=1)
        if outcome in {Outcome.APPLIED, Outcome.NO_CHANGE}:
            latency_ms = max(0.0, (now - request.published).total_seconds() * 1000)
            self._metrics.add_metric(name="SyncLatency", unit=MetricUnit.Milliseconds, value=latency_ms)
        self._logger.info(
            "User synced",
            extra={
                "okta_user_id": request.okta_user_id,
                "event_uuid": request.event_uuid,
                "event_type": request.event_type,
                "outcome": outcome.value,
                "operations": [op.value for op in operations],
                "reason": reason,
                "teamviewer_id": account.id if account else None,
                "email": mask_email(desired.email),
                "dry_run": self._dry_run,
            },
        )
        return SyncResult(
            okta_user_id=request.okta_user_id,
            event_uuid=request.event_uuid,
            outcome=outcome,
            operations=operations,
            reason=reason,
            teamviewer_id=account.id if account else (previous.teamviewer_id if previous else None),
        )

    def _record_retry(self, request: SyncRequest, previous: SyncState | None, exc: Exception) -> None:
        metric = _failure_metric(exc)
        self._metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
        self._logger.warning(
            "Sync failed; SQS will redeliver",
            extra={"okta_user_id": request.okta_user_id, "event_uuid": request.event_uuid, "error": str(exc)},
        )
        if isinstance(exc, AuthError | SecretUnavailableError):
            self._logger.error(
                "Credentials refused or unreadable: check the token secrets", extra={"error": str(exc)}
            )
        state = SyncState(
            **{
                **(previous.model_dump() if previous else {"okta_user_id": request.okta_user_id}),
                "last_outcome": Outcome.RETRYING.value,
                "last_reason": str(exc),
                "updated_at": self._clock(),
            }
        )
        try:
            self._state.put(state)
        except Exception:
            self._logger.exception("Could not record the retry in SyncStateTable")


def _failure_metric(exc: Exception) -> str:
    if isinstance(exc, ThrottledError):
        return "TeamViewerThrottled" if exc.service == "teamviewer" else "OktaThrottled"
    if isinstance(exc, AuthError | SecretUnavailableError):
        return "AuthErrors"
    return "TransientFailures"


def _applied(
    account: TeamViewerAccount, active: bool | None, name: str | None, email: str | None
) -> TeamViewerAccount:
    return account.model_copy(
        update={
            "active": account.active if active is None else active,
            "name": name or account.name,
            "email": email or account.email,
        }
    )


def _next_state(
    request: SyncRequest,
    previous: SyncState | None,
    desired: DesiredAccount,
    outcome: Outcome,
    operations: tuple[Operation, ...],
    reason: str | None,
    account: TeamViewerAccount | None,
    now: datetime,
) -> SyncState:
    newer = (
        previous is None or previous.last_published is None or request.published >= previous.last_published
    )
    base: dict[str, Any] = previous.model_dump() if previous else {"okta_user_id": request.okta_user_id}
    if account is not None:
        base.update(
            teamviewer_id=account.id,
            teamviewer_email=account.email,
            teamviewer_name=account.name,
            teamviewer_active=account.active,
        )
    base.update(
        email=desired.email or base.get("email"),
        last_outcome=outcome.value,
        last_reason=reason,
        last_operations=[op.value for op in operations],
        updated_at=now,
    )
    if newer:
        base.update(
            last_event_uuid=request.event_uuid,
            last_event_type=request.event_type,
            last_published=request.published,
        )
    return SyncState.model_validate(base)


@dataclass
class BatchWorker:
    """The SQS side: FIFO partial batches, idempotency per event, redelivery timing."""

    process: Callable[..., dict[str, Any]]  # the idempotent ``converge`` (keyword arg ``request``)
    register_context: Callable[[LambdaContext], None]
    sqs: SQSClient
    queue_url: str
    logger: Logger
    metrics: Metrics
    retry_budget_seconds: float = 10.0
    _group_delays: dict[str, float] = field(default_factory=dict)
    _deadline: float | None = None

    def deadline(self) -> float | None:
        """When in-process retries must stop (``time.monotonic()``), leaving room to report."""
        return self._deadline

    def handle(self, event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        self.register_context(context)
        self._group_delays.clear()
        remaining = context.get_remaining_time_in_millis() / 1000
        self._deadline = time.monotonic() + max(0.0, remaining - self.retry_budget_seconds)
        processor = SqsFifoPartialProcessor(skip_group_on_error=True)
        # Report every failed record instead of raising when all of them failed (PT#7596):
        # the effect on SQS is the same, without an invocation error per throttled batch.
        processor.raise_on_entire_batch_failure = False
        response = process_partial_response(
            event=event, record_handler=self._record, processor=processor, context=context
        )
        self._delay_redelivery(event, response)
        return response

    def _record(self, record: SQSRecord) -> dict[str, Any]:
        request = SyncRequest.model_validate_json(record.body)
        try:
            return self.process(request=request)
        except RetryLaterError as exc:
            self._remember_delay(record, exc.delay)
            raise
        except IdempotencyAlreadyInProgressError:
            # The same event is being applied by another invocation right now: check back soon.
            self._remember_delay(record, 5.0)
            raise

    def _remember_delay(self, record: SQSRecord, delay: float | None) -> None:
        group = record.attributes.message_group_id or record.message_id
        wanted = delay if delay is not None else _backoff(int(record.attributes.approximate_receive_count))
        self._group_delays[group] = max(self._group_delays.get(group, 0.0), wanted)

    def _delay_redelivery(self, event: dict[str, Any], response: PartialItemFailureResponse) -> None:
        """Make failed records visible again when they should be retried, not after the full timeout.

        A failed group's later records (skipped by the FIFO processor) get the same delay,
        so the group comes back together and in order.
        """
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = []
        for record in event.get("Records", []):
            if record["messageId"] not in failed:
                continue
            attributes = record.get("attributes", {})
            group = attributes.get("MessageGroupId") or record["messageId"]
            delay = self._group_delays.get(
                group, _backoff(int(attributes.get("ApproximateReceiveCount", "1")))
            )
            entries.append(
                {
                    "Id": str(len(entries)),
                    "ReceiptHandle": record["receiptHandle"],
                    "VisibilityTimeout": min(MAX_VISIBILITY_SECONDS, max(0, round(delay))),
                }
            )
        if not entries:
            return
        try:
            self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
        except Exception:
            self.logger.exception("Could not shorten the redelivery delay of failed records")


def _backoff(receive_count: int) -> float:
    """2, 4, 8 … seconds by delivery attempt, capped at 5 minutes."""
    return float(min(300, 2 ** max(1, receive_count)))
