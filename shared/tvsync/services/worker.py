"""The worker use case: converge one user's TeamViewer account to their state in Okta.

Level-triggered: a ``SyncRequest`` only says "this Okta user may have changed". The worker
reads the user's *current* state from Okta, derives the desired account (pure core), plans
the smallest change against the account as last seen (SyncStateTable) and applies it. Any
number of duplicate, reordered or missed events therefore converge to the same result.

Failure policy, by error class (``tvsync.adapters.errors``):

- conflict (email owned outside the company), invalid request (a refused write *or* read,
  a message body that is not a ``SyncRequest``): permanent for this event — recorded with
  the reason, counted, logged; the record *succeeds* so the rest of the user's queue moves
  on. Nothing is lost by not retrying: the next event for the user, or the reconciler,
  converges them to Okta's state of that moment.
- throttled, transient, auth, and anything unexpected (a DynamoDB error, a bug): the record
  fails and SQS redelivers it after the longer of the server's requested wait and an
  exponential backoff by receive count, so even a rate limit with a short ``Retry-After``
  spreads the queue's ``maxReceiveCount`` receives over minutes before the DLQ. The last
  error is recorded in SyncStateTable for ``tvsync dlq list``.
- a rate limit applies to the whole token, and a Lambda's time is finite: once either runs
  out, the rest of the batch goes back to SQS without being started.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from pydantic import ValidationError

from tvsync.adapters.errors import (
    AuthError,
    ConflictError,
    InvalidError,
    ThrottledError,
    TransientError,
    UpstreamError,
)
from tvsync.adapters.secrets import SecretUnavailableError
from tvsync.adapters.sync_state import SyncState, SyncStateStore
from tvsync.core.desired_state import DesiredAccount, Presence, SyncConfig, desired_account
from tvsync.core.outcome import Outcome, is_adoption, recorded, records_change
from tvsync.core.plan import Operation, Plan, PlanReason, plan_changes, to_update, without_email_change
from tvsync.models.sync_request import SyncRequest
from tvsync.models.teamviewer import TeamViewerAccount
from tvsync.observability import mask_email, mask_emails

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

#: How soon a record handed back unstarted (the invocation ran out of time) is redelivered:
#: it did nothing wrong, so it skips the backoff, but not so soon that a misconfigured
#: timeout turns into a tight loop.
UNSTARTED_DELAY_SECONDS = 1.0


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
    """The event could not be applied now; SQS should redeliver it after ``delay`` seconds.

    ``throttled``: the cause was a rate limit, which holds for every event of the batch.
    """

    def __init__(self, cause: Exception, delay: float | None, *, throttled: bool = False) -> None:
        super().__init__(str(cause))
        self.delay = delay
        self.throttled = throttled


@dataclass(frozen=True)
class _Applied:
    """What applying a plan left behind.

    ``account`` is None when the mapped account turned out to be gone and nothing replaced
    it; ``conflict`` is set when the new email was refused but the rest was applied.
    """

    account: TeamViewerAccount | None
    operations: tuple[Operation, ...]
    reason: str
    conflict: ConflictError | None = None


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
        deadline: Callable[[], float | None] = lambda: None,
    ) -> None:
        self._okta = okta
        self._tv = teamviewer
        self._state = state
        self._config = config
        self._dry_run = dry_run
        self._logger = logger
        self._metrics = metrics
        self._clock = clock
        self._deadline = deadline  # time.monotonic() by which long scans must give up
        self._token_owner_id: str | None = None

    def converge(self, request: SyncRequest) -> SyncResult:
        previous: SyncState | None = None
        try:
            stored = self._state.get(request.okta_user_id)
            previous, settled = self._resolve_interrupted_create(request, stored)
            if request.teamviewer_id is not None:
                return self._deactivate_orphan(request, previous, request.teamviewer_id)
            desired = self._desired(request.okta_user_id)
            if desired.presence is Presence.UNMANAGED:
                return self._finish(
                    request, previous, desired, Outcome.NO_CHANGE, (), desired.reason, None, settled=settled
                )
            return self._converge(request, previous, desired, settled=settled)
        except (ThrottledError, TransientError, AuthError, SecretUnavailableError) as exc:
            self._record_retry(request, exc)
            throttled = isinstance(exc, ThrottledError)
            delay = exc.retry_after if isinstance(exc, ThrottledError) else None
            raise RetryLaterError(exc, delay, throttled=throttled) from exc
        except InvalidError as exc:
            # Okta or TeamViewer refused a read: asking again in a minute gets the same answer.
            return self._give_up(request, previous, exc)
        except Exception as exc:
            self._record_retry(request, exc)
            raise RetryLaterError(exc, None) from exc

    def record_rejected(self, okta_user_id: str, reason: str) -> None:
        """Show in SyncStateTable that a message for this user was dropped as unreadable."""
        try:
            self._record_outcome(okta_user_id, Outcome.INVALID, reason)
        except Exception:
            self._logger.exception("Could not record the dropped message in SyncStateTable")

    def _resolve_interrupted_create(
        self, request: SyncRequest, previous: SyncState | None
    ) -> tuple[SyncState | None, bool]:
        """Settle a create whose result was never recorded, before anything else is decided.

        A create is marked in SyncStateTable before it is sent (``_create``). If the mark is
        still there, the invocation that sent it died, or gave up, before recording what
        TeamViewer did — and the account may exist. It must be found by the email it was
        created with, not by the user's email now: had the user's email changed in Okta in
        the meantime, a lookup by the new one would miss the account, the sync would create
        a second one, and a later deprovisioning would deactivate only that second account.
        An account another user is mapped to is not adopted (its email was reassigned).

        Returns the record as settled and whether an account was adopted. The adoption is
        stored (and counted, and dated in ``last_applied_at``) here, at once, so that it stays
        true even if the rest of this sync fails: the retry then starts from the mapping.
        """
        if previous is None or previous.pending_create_email is None:
            return previous, False
        email = previous.pending_create_email
        found = self._lookup(email, scan=True)
        if found is not None and self._claimed_by_another_user(request.okta_user_id, found):
            found = None
        adopted = found is not None and is_adoption(previous.teamviewer_id, found.id, ())
        resolved = previous.with_account(found) if found is not None else previous.without_pending_create()
        if adopted and not self._dry_run:
            resolved = resolved.model_copy(update={"last_applied_at": self._clock()})
        self._state.put(resolved)
        if adopted and not self._dry_run:
            self._metrics.add_metric(name="UsersAdopted", unit=MetricUnit.Count, value=1)
        self._logger.info(
            "Interrupted create resolved",
            extra={
                "okta_user_id": request.okta_user_id,
                "adopted": adopted,
                "teamviewer_id": found.id if found is not None else None,
                "email": mask_email(email),
            },
        )
        return resolved, adopted

    def _claimed_by_another_user(self, okta_user_id: str, account: TeamViewerAccount) -> bool:
        return any(
            state.okta_user_id != okta_user_id and state.teamviewer_id == account.id
            for state in self._state.find_by_email(account.email)
        )

    def _desired(self, okta_user_id: str) -> DesiredAccount:
        user = self._okta.get_user(okta_user_id)
        app_id = self._config.app_id
        assignment = self._okta.get_app_user(app_id, okta_user_id) if app_id and user is not None else None
        return desired_account(user, assignment, self._config)

    def _converge(
        self, request: SyncRequest, previous: SyncState | None, desired: DesiredAccount, *, settled: bool
    ) -> SyncResult:
        """Plan and apply; ``settled``: this sync already adopted an account (an interrupted create)."""
        # The reconciler found this user by reading TeamViewer itself: the stored view of
        # the account is what it disagreed with, so read the account again.
        current = self._current_account(desired, previous, refresh=request.source == "reconcile")
        # The mapped account was read again and is gone, and no other has the email.
        forget = current is None and previous is not None and previous.known_account() is not None
        plan = self._plan(desired, current)
        finish = partial(self._finish, request, previous, desired, settled=settled)
        if plan.is_noop:
            return finish(Outcome.NO_CHANGE, (), plan.reason, current, forget=forget)
        if self._dry_run:
            return finish(Outcome.DRY_RUN, plan.operations, plan.reason, current, forget=forget)
        try:
            applied = self._apply(request, plan, desired, current, previous)
        except ConflictError as exc:
            self._count_conflict(request, desired, exc)
            return finish(Outcome.CONFLICT, (), CONFLICT_REASON, current, forget=forget)
        except InvalidError as exc:
            self._metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
            self._logger.warning(
                "TeamViewer refused the request",
                extra={"okta_user_id": request.okta_user_id, "detail": _describe(exc)},
            )
            return finish(Outcome.INVALID, (), _describe(exc), current)
        if applied.conflict is not None:
            # Access and name were restored all the same; only the email waits for a human.
            self._count_conflict(request, desired, applied.conflict)
            return finish(Outcome.CONFLICT, applied.operations, CONFLICT_REASON, applied.account)
        outcome = Outcome.APPLIED if applied.operations else Outcome.NO_CHANGE
        return finish(
            outcome, applied.operations, applied.reason, applied.account, forget=applied.account is None
        )

    def _count_conflict(self, request: SyncRequest, desired: DesiredAccount, exc: ConflictError) -> None:
        self._metrics.add_metric(name="Conflicts", unit=MetricUnit.Count, value=1)
        self._logger.warning(
            "TeamViewer refused the email: it belongs to an account outside the company",
            extra={
                "okta_user_id": request.okta_user_id,
                "email": mask_email(desired.email),
                "detail": mask_emails(exc.detail),
            },
        )

    def _current_account(
        self, desired: DesiredAccount, previous: SyncState | None, *, refresh: bool = False
    ) -> TeamViewerAccount | None:
        """The account to plan against: the mapped one as last seen, else a lookup by email.

        An unknown user about to be created is *not* looked up: the create itself tells us
        (by conflicting) when the account already exists, which saves a call per new user.
        A dry run creates nothing, so it must look, or it would report a create for every
        user whose account exists but is not mapped yet.
        ``refresh`` re-reads the mapped account instead of trusting the stored view, which
        cannot see edits made in TeamViewer itself; a mapped account that has left the
        company is then treated as no mapping at all.

        An account to deactivate must be found whatever the letter case TeamViewer stored
        its email in, or access is never revoked; that costs a scan of the company when the
        exact query misses. The scan is skipped when the last run already scanned for this
        email and found nothing, unless the reconciler (``refresh``), which compares emails
        ignoring case, says it saw an account.
        """
        known = previous.known_account() if previous else None
        if known is not None and refresh:
            known = self._tv.get(known.id)
        if known is not None:
            return known
        if desired.presence is Presence.ACTIVE and not self._dry_run:
            return None
        email = desired.email or (previous.email if previous else None)
        if not email:
            return None
        scanned_before = (
            previous is not None
            and previous.last_reason == PlanReason.NO_ACCOUNT
            and previous.email_key == email.lower()
        )
        return self._lookup(email, scan=refresh or not scanned_before)

    def _lookup(self, email: str, *, scan: bool) -> TeamViewerAccount | None:
        """The company account with this email: one exact query, then (``scan``) ignoring case."""
        found = self._tv.find_by_email(email)
        if found is None and scan:
            found = self._tv.find_by_email_casefold(email, deadline=self._deadline())
        return found

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
            return self._finish(request, previous, desired, Outcome.INVALID, (), _describe(exc), account)
        deactivated = _applied(account, False, None, None)
        return self._finish(request, previous, desired, Outcome.APPLIED, operations, "orphan", deactivated)

    def _orphan_skip_reason(self, request: SyncRequest, account: TeamViewerAccount | None) -> str | None:
        """Why the orphan must be left alone now, or None to deactivate it."""
        if account is None:
            return "orphan-gone"
        if account.active is False:
            return PlanReason.ALREADY_INACTIVE
        if account.id == self._owner_id():
            return PlanReason.TOKEN_OWNER_PROTECTED
        # Adopted since the reconciler looked (a new hire's event got here first)?
        claimed = self._claimed_by_another_user(request.okta_user_id, account)
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
        request: SyncRequest,
        plan: Plan,
        desired: DesiredAccount,
        current: TeamViewerAccount | None,
        previous: SyncState | None,
    ) -> _Applied:
        if Operation.CREATE in plan.operations:
            return self._create(request.okta_user_id, plan, desired, previous)
        assert current is not None
        try:
            return self._update(plan, current)
        except InvalidError as exc:
            if exc.status != 404 or previous is None or previous.known_account() is None:
                raise
            # The mapped account left the company (or was removed): forget it and start over.
            # Finding nothing means there is no account any more, not the one just lost.
            scan = desired.presence is Presence.INACTIVE
            fresh = self._lookup(desired.email, scan=scan) if desired.email else None
            replan = self._plan(desired, fresh)
            if replan.is_noop:
                return _Applied(fresh, (), replan.reason)
            return self._apply(request, replan, desired, fresh, None)

    def _update(self, plan: Plan, current: TeamViewerAccount) -> _Applied:
        """One update call; if the new email is taken, the rest of the plan without it.

        TeamViewer applies an update all or nothing, so a refused email would otherwise
        keep a returning user locked out for as long as the email stays taken.
        """
        update = to_update(plan)
        assert update is not None and plan.account_id is not None
        try:
            self._tv.update(plan.account_id, active=update.active, name=update.name, email=update.email)
        except ConflictError as exc:
            rest = without_email_change(plan, current.email)
            if update.email is None or rest.is_noop:
                raise
            partial = to_update(rest)
            assert partial is not None
            self._tv.update(plan.account_id, active=partial.active, name=partial.name)
            account = _applied(current, partial.active, partial.name, None)
            return _Applied(account, rest.operations, rest.reason, conflict=exc)
        account = _applied(current, update.active, update.name, update.email)
        return _Applied(account, plan.operations, plan.reason)

    def _create(
        self, okta_user_id: str, plan: Plan, desired: DesiredAccount, previous: SyncState | None
    ) -> _Applied:
        assert plan.email is not None and plan.name is not None
        # Crash safety: see ``_resolve_interrupted_create``. Cleared when the outcome is recorded.
        self._state.mark_pending_create(
            okta_user_id, email=plan.email, outcome=Outcome.CREATING.value, at=self._clock()
        )
        try:
            return _Applied(self._tv.create(plan.email, plan.name), (Operation.CREATE,), plan.reason)
        except ConflictError:
            # Either someone outside the company owns the email (permanent), or the account is
            # already in the company: created by a run that died before recording it, or
            # stored with different letter case (TeamViewer's filter is case-sensitive).
            repeat_conflict = previous is not None and previous.last_outcome == Outcome.CONFLICT
            existing = self._lookup(plan.email, scan=not repeat_conflict)
            if existing is None:
                raise
        adopted = self._plan(desired, existing)
        if adopted.is_noop:
            return _Applied(existing, (), plan.reason)
        applied = self._update(adopted, existing)
        return _Applied(applied.account, applied.operations, plan.reason, applied.conflict)

    def _finish(
        self,
        request: SyncRequest,
        previous: SyncState | None,
        desired: DesiredAccount,
        outcome: Outcome,
        operations: tuple[Operation, ...],
        reason: str | None,
        account: TeamViewerAccount | None,
        *,
        forget: bool = False,
        settled: bool = False,
    ) -> SyncResult:
        """Record and report the outcome; ``forget`` drops the stored account (it is gone).

        An adoption is recognised here, where the mapping is stored: the user ends mapped to
        an account other than the one their record held, and this sync did not create it
        (``tvsync.core.outcome``). ``settled``: ``_resolve_interrupted_create`` already stored
        and counted an adoption for this sync, so it is recorded again, not counted again.
        Orphan requests (``teamviewer_id``) map no user, so they adopt nothing.
        """
        now = self._clock()
        mapped_before = previous.teamviewer_id if previous else None
        mapped_after = account.id if account is not None else None if forget else mapped_before
        found = request.teamviewer_id is None and is_adoption(mapped_before, mapped_after, operations)
        adopted = settled or found
        outcome, reason = recorded(outcome, reason, adopted=adopted, dry_run=self._dry_run)
        changed = records_change(outcome, operations, adopted=adopted)
        state = _next_state(
            request,
            previous,
            desired,
            outcome,
            operations,
            reason,
            account,
            now,
            forget=forget,
            changed=changed,
        )
        self._state.put(state)
        # A conflict can come with changes made all the same (reactivated, renamed).
        for operation in operations if outcome in {Outcome.APPLIED, Outcome.CONFLICT} else ():
            self._metrics.add_metric(name=OPERATION_METRICS[operation], unit=MetricUnit.Count, value=1)
        if found and outcome is not Outcome.DRY_RUN:
            self._metrics.add_metric(name="UsersAdopted", unit=MetricUnit.Count, value=1)
        if outcome is Outcome.NO_CHANGE:
            self._metrics.add_metric(name="NoChange", unit=MetricUnit.Count, value=1)
        if outcome in {Outcome.APPLIED, Outcome.ADOPTED, Outcome.NO_CHANGE}:
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
                "adopted": adopted,
                "teamviewer_id": state.teamviewer_id,
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
            teamviewer_id=state.teamviewer_id,
        )

    def _give_up(self, request: SyncRequest, previous: SyncState | None, exc: InvalidError) -> SyncResult:
        """Record a refusal no retry can change; the record then succeeds."""
        reason = _describe(exc)
        self._metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
        self._logger.warning(
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

    def _record_retry(self, request: SyncRequest, exc: Exception) -> None:
        """Log, count and record why the event goes back to SQS.

        The record is what ``tvsync dlq list`` shows as the last error once the retries are
        used up, so anything unexpected is recorded too, with its type. Only the outcome is
        written: the mapping and a pending create stay as stored, whatever this run read.
        """
        error = _describe(exc)
        self._metrics.add_metric(name=_failure_metric(exc), unit=MetricUnit.Count, value=1)
        fields = {"okta_user_id": request.okta_user_id, "event_uuid": request.event_uuid, "error": error}
        if isinstance(exc, UpstreamError | SecretUnavailableError):
            self._logger.warning("Sync failed; SQS will redeliver", extra=fields)
        else:
            self._logger.error(
                "Sync failed unexpectedly; SQS will redeliver", extra={**fields, "traceback": _traceback(exc)}
            )
        if isinstance(exc, AuthError | SecretUnavailableError):
            self._logger.error(
                "Credentials refused or unreadable: check the token secrets", extra={"error": error}
            )
        try:
            self._record_outcome(request.okta_user_id, Outcome.RETRYING, error)
        except Exception:
            self._logger.exception("Could not record the retry in SyncStateTable")

    def _record_outcome(self, okta_user_id: str, outcome: Outcome, reason: str) -> None:
        self._state.record_outcome(okta_user_id, outcome=outcome.value, reason=reason, at=self._clock())


def _failure_metric(exc: Exception) -> str:
    """The retry reason's metric; anything unclassified counts with the transient failures."""
    if isinstance(exc, ThrottledError):
        return "TeamViewerThrottled" if exc.service == "teamviewer" else "OktaThrottled"
    if isinstance(exc, AuthError | SecretUnavailableError):
        return "AuthErrors"
    return "TransientFailures"


def _describe(exc: Exception) -> str:
    """One line for logs and SyncStateTable: the error class when it is not ours, emails masked.

    The clients' errors never carry a token; anything else may quote its input, which can be
    an email, so those are masked as everywhere else in the logs.
    """
    text = str(exc) if isinstance(exc, UpstreamError) else f"{type(exc).__name__}: {exc}"
    return mask_emails(text)


def _traceback(exc: BaseException) -> str:
    return mask_emails("".join(traceback.format_exception(exc)))[-4000:]


def _validation_problem(exc: ValidationError) -> str:
    """Which fields failed and why, never their values (a body may carry anything)."""
    problems = (
        f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    )
    return "; ".join(problems)[:300]


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
    *,
    forget: bool = False,
    changed: bool = False,
) -> SyncState:
    """The record after this sync; ``changed`` (``records_change``) dates it in ``last_applied_at``."""
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
    elif forget:
        # A stale mapping would make the next event plan against an account that is gone.
        base.update(teamviewer_id=None, teamviewer_email=None, teamviewer_name=None, teamviewer_active=None)
    base.update(
        email=desired.email or base.get("email"),
        # The sync finished, so the result of any create it sent is known and recorded.
        pending_create_email=None,
        pending_create_at=None,
        last_outcome=outcome.value,
        last_reason=reason,
        last_operations=[op.value for op in operations],
        updated_at=now,
    )
    if changed:
        base["last_applied_at"] = now
    if newer:
        base.update(
            last_event_uuid=request.event_uuid,
            last_event_type=request.event_type,
            last_published=request.published,
        )
    return SyncState.model_validate(base)


def _ignore_rejection(okta_user_id: str, reason: str) -> None:
    return None


class HandedBackError(Exception):
    """A record was not started: the batch hit a rate limit or ran out of time."""


@dataclass(frozen=True)
class _HandBack:
    """Why the rest of the batch goes back to SQS unstarted, and after how long.

    ``backoff``: each record also waits its own receive count's backoff (a rate limit that
    lasts must not use up the receives); without it, just ``delay``.
    """

    reason: str
    delay: float | None
    backoff: bool


@dataclass
class BatchWorker:
    """The SQS side: FIFO partial batches, idempotency per event, redelivery timing."""

    process: Callable[..., dict[str, Any]]  # the idempotent ``converge`` (keyword arg ``request``)
    register_context: Callable[[LambdaContext], None]
    sqs: SQSClient
    queue_url: str
    logger: Logger
    metrics: Metrics
    #: Records ``(okta_user_id, reason)`` for a message dropped because its body is unreadable.
    reject: Callable[[str, str], None] = _ignore_rejection
    #: In-process retries and long scans stop this long before the Lambda timeout.
    retry_budget_seconds: float = 10.0
    #: A record is started only with at least this much time left (the first always is).
    #: One record is two Okta reads and up to three TeamViewer calls, ~1 s when all is well,
    #: but a single attempt may take 13 s (3 s connect + 10 s read) before it times out; 20 s
    #: covers that attempt plus the SyncStateTable write and the redelivery bookkeeping.
    #: Retries stop ``retry_budget_seconds`` before the end, so at least one is possible.
    record_margin_seconds: float = 20.0
    _group_delays: dict[str, float] = field(default_factory=dict)
    _deadline: float | None = None
    _context: LambdaContext | None = None
    _started: int = 0
    _hand_back: _HandBack | None = None
    _handed_back: int = 0

    def deadline(self) -> float | None:
        """When in-process retries must stop (``time.monotonic()``), leaving room to report."""
        return self._deadline

    def handle(self, event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        self.register_context(context)
        self._group_delays.clear()
        self._context, self._started, self._hand_back, self._handed_back = context, 0, None, 0
        remaining = context.get_remaining_time_in_millis() / 1000
        self._deadline = time.monotonic() + max(0.0, remaining - self.retry_budget_seconds)
        processor = SqsFifoPartialProcessor(skip_group_on_error=True)
        # Report every failed record instead of raising when all of them failed (PT#7596):
        # the effect on SQS is the same, without an invocation error per throttled batch.
        processor.raise_on_entire_batch_failure = False
        response = process_partial_response(
            event=event, record_handler=self._record, processor=processor, context=context
        )
        if self._hand_back is not None and self._handed_back:
            self.logger.warning(
                "Records handed back to SQS without being started",
                extra={"records": self._handed_back, "reason": self._hand_back.reason},
            )
        self._delay_redelivery(event, response)
        return response

    def _record(self, record: SQSRecord) -> dict[str, Any]:
        hand_back = self._hand_back or self._out_of_time()
        if hand_back is not None:
            self._hand_back = hand_back
            self._handed_back += 1
            self._remember_delay(record, hand_back.delay, backoff=hand_back.backoff)
            raise HandedBackError(hand_back.reason)
        try:
            request = SyncRequest.model_validate_json(record.body)
        except ValidationError as exc:
            return self._drop_unreadable(record, exc)
        self._started += 1
        try:
            return self.process(request=request)
        except RetryLaterError as exc:
            self._remember_delay(record, exc.delay)
            if exc.throttled:
                # The limit is the token's, not this event's: the next record would only be
                # refused too, and its refusal would cost it one of its receives.
                self._hand_back = _HandBack("rate limited", exc.delay, backoff=True)
            raise
        except IdempotencyAlreadyInProgressError:
            # The same event is being applied by another invocation right now: check back soon.
            self._remember_delay(record, 5.0)
            raise
        except Exception as exc:
            # Failed outside ``converge`` (the idempotency store, say): still say so, and why.
            self.metrics.add_metric(name="TransientFailures", unit=MetricUnit.Count, value=1)
            self.logger.error(
                "Record failed unexpectedly; SQS will redeliver",
                extra={
                    "okta_user_id": request.okta_user_id,
                    "event_uuid": request.event_uuid,
                    "error": _describe(exc),
                    "traceback": _traceback(exc),
                },
            )
            self._remember_delay(record, None)
            raise

    def _out_of_time(self) -> _HandBack | None:
        """Stop starting records near the timeout; the first always starts, so a batch progresses."""
        if self._context is None or self._started == 0:
            return None
        remaining = self._context.get_remaining_time_in_millis() / 1000
        if remaining >= self.record_margin_seconds:
            return None
        return _HandBack(f"out of time ({remaining:.1f} s left)", UNSTARTED_DELAY_SECONDS, backoff=False)

    def _drop_unreadable(self, record: SQSRecord, exc: ValidationError) -> dict[str, Any]:
        """Drop a body that is not a sync request — visibly — instead of retrying it.

        It fails the same way on every delivery and after any redrive, and while it is
        retried it holds up every later event of its message group (the user). Dropping
        it loses nothing: the worker is level-triggered, so the user's next event, or the
        reconciler, converges them anyway. The log line, the ``InvalidRequests`` metric
        and the user's SyncStateTable record (``invalid``) say what happened.
        """
        problem = _validation_problem(exc)
        group = record.attributes.message_group_id
        self.metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
        self.logger.error(
            "Message is not a sync request; dropped, not retried",
            extra={"message_id": record.message_id, "message_group_id": group, "problem": problem},
        )
        if group:
            self.reject(group, f"message {record.message_id} dropped, not a sync request: {problem}")
        return {"dropped": record.message_id, "reason": problem}

    def _remember_delay(self, record: SQSRecord, delay: float | None, *, backoff: bool = True) -> None:
        """The group's redelivery delay: the wait asked for, but (``backoff``) no less than the ladder's.

        A server's ``Retry-After`` alone can be a second or two; honoured as is, a lasting
        rate limit would use up the queue's receives within a minute and dead-letter events
        that only had to wait.
        """
        group = record.attributes.message_group_id or record.message_id
        wanted = delay or 0.0
        if backoff:
            wanted = max(wanted, _backoff(int(record.attributes.approximate_receive_count)))
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
    """2, 4, 8 … seconds by delivery attempt, capped at 5 minutes.

    With the queue's ``maxReceiveCount`` of 10, the waits after receives 1-9 add up to
    810 s: an event that fails every time reaches the DLQ about 14 minutes after its first
    delivery (plus the time the attempts themselves took).
    """
    return float(min(300, 2 ** max(1, receive_count)))
