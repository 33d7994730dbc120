"""Converge one Okta user's TeamViewer account to their state in Okta: the core decides, this executes.

Level-triggered: a ``SyncRequest`` only says "this Okta user may have changed". The
synchroniser reads the user's *current* state from Okta and then follows the core, step by
step: what the account should be (``tvsync.core.desired_state``), which account to plan
against (``tvsync.core.lookup``), the smallest change (``tvsync.core.plan``), what to do when
TeamViewer refuses part of it, and what to record (``tvsync.core.record``); orphans the
reconciler found are judged by ``tvsync.core.orphan``. This module makes the calls those
decisions ask for, in order, and counts and logs what happened. Any number of duplicate,
reordered or missed events therefore converge to the same result.

Failure policy, by error class (``tvsync.adapters.errors``):

- conflict (email owned outside the company), invalid request (a refused write *or* read):
  permanent for this event — recorded with the reason, counted, logged, and the sync
  returns, so the rest of the user's queue moves on. Nothing is lost by not retrying: the
  next event for the user, or the reconciler, converges them to Okta's state of that moment.
- throttled, transient, auth, and anything unexpected (a DynamoDB error, a bug): the last
  error is recorded in SyncStateTable (for ``tvsync dlq list``) and ``RetryLaterError``
  hands the event back to SQS (``tvsync.services.sqs_batch``).
"""

from __future__ import annotations

from concurrent.futures import wait
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tvsync.adapters.errors import AuthError, ConflictError, InvalidError, ThrottledError, TransientError
from tvsync.adapters.secrets import SecretUnavailableError
from tvsync.core.desired_state import DesiredAccount, Presence, SyncConfig, desired_account
from tvsync.core.lookup import (
    AccountSource,
    LookUp,
    RereadMapped,
    TrustStored,
    account_source,
    after_create_conflict,
    after_missing_account,
    claimed_by_another_user,
    interrupted_create,
    mapping_lost,
)
from tvsync.core.orphan import OrphanFacts, judge_orphan, orphan_target
from tvsync.core.outcome import Detail, Outcome
from tvsync.core.plan import (
    Need,
    Operation,
    Plan,
    PlannedUpdate,
    PlanReason,
    account_after,
    after_email_refused,
    plan_changes,
    plan_sync,
    to_update,
    unmanaged_reason,
)
from tvsync.core.record import (
    SyncEnd,
    SyncStart,
    end_after_writes,
    end_without_writes,
    settle_interrupted_create,
)
from tvsync.services.failures import describe
from tvsync.services.sqs_batch import RetryLaterError
from tvsync.services.sync_outcomes import OutcomeRecorder, SyncResult

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from aws_lambda_powertools import Logger, Metrics

    from tvsync.models.sync_request import SyncRequest
    from tvsync.models.sync_state import SyncState
    from tvsync.models.teamviewer import TeamViewerAccount
    from tvsync.services.ports import (
        Clock,
        DeadlineSource,
        OktaReader,
        SyncStateRepository,
        TeamViewerAccounts,
    )

__all__ = ["UserSynchronizer"]


@dataclass(frozen=True)
class Executed:
    """What executing a plan left in TeamViewer, before the recording rules apply.

    ``account`` is None when the mapped account turned out to be gone and nothing replaced
    it; ``email_conflict`` is set when the new email was refused but the rest was applied.
    """

    account: TeamViewerAccount | None
    operations: tuple[Operation, ...]
    reason: PlanReason
    email_conflict: ConflictError | None = None


class UserSynchronizer:
    """Converges one Okta user's TeamViewer account; knows nothing about SQS or Lambda."""

    def __init__(  # noqa: PLR0913 - collaborators are injected by name, all keyword-only
        self,
        *,
        okta: OktaReader,
        teamviewer: TeamViewerAccounts,
        state: SyncStateRepository,
        config: SyncConfig,
        dry_run: bool,
        logger: Logger,
        metrics: Metrics,
        clock: Clock,
        deadline: DeadlineSource,
        reads: Executor | None = None,
    ) -> None:
        self._okta = okta
        self._tv = teamviewer
        self._state = state
        self._config = config
        self._dry_run = dry_run
        self._clock = clock
        self._outcomes = OutcomeRecorder(
            state=state, logger=logger, metrics=metrics, clock=clock, dry_run=dry_run
        )
        self._deadline = deadline  # by when a scan of the company must give up
        self._reads = reads  # runs the assignment read beside the user's; None: one after the other
        # Fetched when first needed, once per container. Records on several threads may each
        # fetch it before the first answer is kept: the same id, at worst a call or two more.
        self._token_owner_id: str | None = None

    def converge(self, request: SyncRequest) -> SyncResult:
        previous: SyncState | None = None
        try:
            previous, settled = self._settle_interrupted_create(request)
            if request.teamviewer_id is not None:
                return self._deactivate_orphan(request, previous, request.teamviewer_id)
            start = SyncStart(request, previous, self._desired(request.okta_user_id), settled=settled)
            if start.desired.presence is Presence.UNMANAGED:
                return self._outcomes.finished(
                    start, SyncEnd(Outcome.NO_CHANGE, unmanaged_reason(start.desired))
                )
            return self._converge(start)
        except (ThrottledError, TransientError, AuthError, SecretUnavailableError) as exc:
            self._outcomes.retrying(request, exc)
            delay = exc.retry_after if isinstance(exc, ThrottledError) else None
            raise RetryLaterError(exc, delay, throttled=isinstance(exc, ThrottledError)) from exc
        except InvalidError as exc:
            # Okta or TeamViewer refused a read: asking again in a minute gets the same answer.
            return self._outcomes.gave_up(request, previous, exc)
        except Exception as exc:
            self._outcomes.retrying(request, exc)
            raise RetryLaterError(exc, None) from exc

    def record_rejected(self, okta_user_id: str, reason: Detail) -> None:
        """Show in SyncStateTable that a message for this user was dropped as unreadable."""
        self._outcomes.rejected(okta_user_id, reason)

    # ------------------------------------------------------------------ reading

    def _settle_interrupted_create(self, request: SyncRequest) -> tuple[SyncState | None, bool]:
        """The user's record, with a create whose result was never recorded settled first.

        Stored (and an adoption counted) at once, so it holds even if the rest of the sync
        fails. Returns the record and whether an account was adopted.
        """
        stored = self._state.get(request.okta_user_id)
        lookup = interrupted_create(stored) if stored is not None else None
        if stored is None or lookup is None:
            return stored, False
        found = self._look_up(lookup)
        claimed = found is not None and self._claimed_by_another_user(request.okta_user_id, found)
        settled = settle_interrupted_create(
            stored, found, claimed_by_another=claimed, dry_run=self._dry_run, now=self._clock()
        )
        self._outcomes.settled(request.okta_user_id, settled, lookup.email)
        return settled.state, settled.adopted

    def _desired(self, okta_user_id: str) -> DesiredAccount:
        """What the account should be, from the user and their assignment as Okta has them now.

        The two reads are independent, so with ``reads`` the assignment is read while the
        user is: one Okta round trip instead of two. A deleted user (404) needs no
        assignment, so its answer — even a failure — is then waited for and discarded,
        exactly as if it had never been asked: a user who is gone is revoked whatever the
        assignment read said. Without ``reads``, the assignment is read only for a user
        who exists.
        """
        app_id = self._config.app_id
        if not app_id:
            return desired_account(self._okta.get_user(okta_user_id), None, self._config)
        if self._reads is None:
            user = self._okta.get_user(okta_user_id)
            assignment = self._okta.get_app_user(app_id, okta_user_id) if user is not None else None
            return desired_account(user, assignment, self._config)
        pending = self._reads.submit(self._okta.get_app_user, app_id, okta_user_id)
        try:
            user = self._okta.get_user(okta_user_id)
        finally:
            # Waited for either way, so no read of this record outlives it.
            wait([pending])
        assignment = pending.result() if user is not None else None
        return desired_account(user, assignment, self._config)

    def _locate(self, source: AccountSource) -> TeamViewerAccount | None:
        """The account ``source`` (``tvsync.core.lookup``) points at, None when there is none."""
        if isinstance(source, TrustStored):
            return source.account
        if isinstance(source, RereadMapped):
            account = self._tv.get(source.account_id)
            return account if account is not None else self._locate(source.if_gone)
        if isinstance(source, LookUp):
            return self._look_up(source)
        return None

    def _look_up(self, lookup: LookUp) -> TeamViewerAccount | None:
        found = self._tv.find_by_email(lookup.email)
        if found is None and lookup.scan:
            found = self._tv.find_by_email_casefold(lookup.email, deadline=self._deadline())
        return found

    def _claimed_by_another_user(self, okta_user_id: str, account: TeamViewerAccount) -> bool:
        return claimed_by_another_user(okta_user_id, account.id, self._state.find_by_email(account.email))

    def _plan(self, desired: DesiredAccount, current: TeamViewerAccount | None) -> Plan:
        """The plan, computed once; the token owner is fetched only when the plan depends on it."""
        planned = plan_sync(desired, current, token_owner_id=self._token_owner_id)
        if isinstance(planned, Plan):
            return planned
        return plan_changes(desired, current, token_owner_id=self._token_owner())

    def _token_owner(self) -> str:
        if self._token_owner_id is None:
            self._token_owner_id = self._tv.token_owner().id
        return self._token_owner_id

    # ------------------------------------------------------------------ executing

    def _converge(self, start: SyncStart) -> SyncResult:
        """Find the account, plan once, and execute the plan unless nothing is to be written."""
        refresh = start.request.source == "reconcile"
        source = account_source(start.desired, start.previous, refresh=refresh, dry_run=self._dry_run)
        current = self._locate(source)
        forget = mapping_lost(start.previous, current)
        plan = self._plan(start.desired, current)
        end = end_without_writes(plan, current, forget=forget, dry_run=self._dry_run)
        if end is not None:
            return self._outcomes.finished(start, end)
        try:
            executed = self._execute(start, plan, current, start.previous)
        except ConflictError as exc:
            self._outcomes.email_conflict(start, exc)
            end = SyncEnd(Outcome.CONFLICT, PlanReason.EMAIL_IN_USE, (), current, forget)
            return self._outcomes.finished(start, end)
        except InvalidError as exc:
            refusal = self._outcomes.write_refused(start, exc)
            return self._outcomes.finished(start, SyncEnd(Outcome.INVALID, refusal, (), current))
        if executed.email_conflict is not None:
            self._outcomes.email_conflict(start, executed.email_conflict)
        refused = executed.email_conflict is not None
        end = end_after_writes(executed.account, executed.operations, executed.reason, email_refused=refused)
        return self._outcomes.finished(start, end)

    def _execute(
        self, start: SyncStart, plan: Plan, current: TeamViewerAccount | None, previous: SyncState | None
    ) -> Executed:
        """Send ``plan``; ``previous`` is None once the record no longer describes the account."""
        if Operation.CREATE in plan.operations:
            return self._create(start, plan, previous)
        assert current is not None
        try:
            return self._update(plan, current)
        except InvalidError as exc:
            source = after_missing_account(exc.status, start.desired, previous)
            if source is None:
                raise
            fresh = self._locate(source)
            replan = self._plan(start.desired, fresh)
            if replan.is_noop:
                return Executed(fresh, (), replan.reason)
            return self._execute(start, replan, fresh, None)

    def _update(self, plan: Plan, current: TeamViewerAccount) -> Executed:
        """One update call; if the new email is taken, the rest of the plan without it."""
        update = to_update(plan)
        assert update is not None and plan.account_id is not None
        try:
            self._send_update(plan.account_id, update)
        except ConflictError as exc:
            rest = after_email_refused(plan, current.email)
            if rest is None:
                raise
            partial = to_update(rest)
            assert partial is not None
            self._send_update(plan.account_id, partial)
            return Executed(account_after(current, partial), rest.operations, rest.reason, email_conflict=exc)
        return Executed(account_after(current, update), plan.operations, plan.reason)

    def _send_update(self, account_id: str, update: PlannedUpdate) -> None:
        self._tv.update(account_id, active=update.active, name=update.name, email=update.email)

    def _create(self, start: SyncStart, plan: Plan, previous: SyncState | None) -> Executed:
        """Create the account; if its email is taken, adopt the company account that has it."""
        assert plan.email is not None and plan.name is not None
        # Crash safety (``tvsync.core.lookup``): cleared when the outcome is recorded.
        self._state.mark_pending_create(
            start.request.okta_user_id,
            email=plan.email,
            outcome=Outcome.CREATING.value,
            reason=PlanReason.CREATE_SENT,
            at=self._clock(),
        )
        try:
            return Executed(self._tv.create(plan.email, plan.name), (Operation.CREATE,), plan.reason)
        except ConflictError:
            existing = self._look_up(after_create_conflict(plan.email, previous))
            if existing is None:  # owned outside the company: a conflict no retry changes
                raise
        adoption = self._plan(start.desired, existing)
        if adoption.is_noop:
            return Executed(existing, (), plan.reason)
        return replace(self._update(adoption, existing), reason=plan.reason)

    def _deactivate_orphan(
        self, request: SyncRequest, previous: SyncState | None, teamviewer_id: str
    ) -> SyncResult:
        """Deactivate an account the reconciler found no Okta user for, if ``tvsync.core.orphan`` agrees."""
        account = self._tv.get(teamviewer_id)
        start = SyncStart(request, previous, orphan_target(account))
        plan = self._judge_orphan(request.okta_user_id, account)
        end = end_without_writes(plan, account, forget=False, dry_run=self._dry_run)
        if end is not None:
            return self._outcomes.finished(start, end)
        update = to_update(plan)
        assert account is not None and update is not None
        try:
            self._send_update(account.id, update)
        except InvalidError as exc:  # e.g. it left the company a moment ago: nothing to retry
            return self._outcomes.finished(start, SyncEnd(Outcome.INVALID, describe(exc), (), account))
        deactivated = account_after(account, update)
        return self._outcomes.finished(
            start, end_after_writes(deactivated, plan.operations, plan.reason, email_refused=False)
        )

    def _judge_orphan(self, okta_user_id: str, account: TeamViewerAccount | None) -> Plan:
        facts = OrphanFacts(account, token_owner_id=self._token_owner_id)
        while not isinstance(verdict := judge_orphan(facts), Plan):
            if verdict is Need.TOKEN_OWNER:
                facts = replace(facts, token_owner_id=self._token_owner())
                continue
            assert account is not None
            # Adopted since the reconciler looked (a new hire's event got here first)?
            claimed = self._claimed_by_another_user(okta_user_id, account)
            facts = replace(facts, claimed=claimed or self._okta.find_by_email(account.email) is not None)
        return verdict
