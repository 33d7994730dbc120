"""The reconciler use case: find where TeamViewer drifted from Okta and queue the fixes.

Okta event hooks are best-effort (one retry, a daily cap, no replay), so every few hours
this reads both directories in full, compares them with the worker's rules
(``tvsync.core.drift``) and puts one ``SyncRequest`` (source ``reconcile``) per drifted
user on the same FIFO queue the event hooks feed. The worker stays the only writer to
TeamViewer: it re-reads the user and converges exactly as for an event, so a fix queued
from a view that is minutes old is still applied against the current state.

Reads happen in this order, each streamed page by page:

1. SyncStateTable (the worker's account mapping and known conflicts), so the comparison
   finds accounts the way the worker does;
2. every TeamViewer company user (SCIM), into the detector's compact index;
3. every Okta user in scope: the app's assignments when ``OKTA_APP_ID`` is set, else all
   users plus the DEPROVISIONED ones Okta's list leaves out unless asked;
4. for accounts still unclaimed: the Okta user the worker last mapped to them (deleted?
   unassigned?) or, with an app, the Okta user with that email — a missed deprovisioning
   is the costliest drift there is and must not pass for an orphan.

Rate limits on either side are waited out by the clients' ``RetryPolicy`` (Okta's
``X-Rate-Limit-Reset``, TeamViewer's ``Retry-After`` or backoff for a bare 403); a run
fails only when a service keeps refusing until the deadline. A failed or cut-short walk
still queues the creates and updates it found, but no deactivation and no orphan: those
need the whole picture.

What a run reports — its counts, items and progress, and the error of a run that could not
finish — is ``tvsync.services.reconcile_report``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from tvsync.adapters.errors import UpstreamError
from tvsync.adapters.event_queue import BATCH_SIZE
from tvsync.adapters.secrets import SecretUnavailableError
from tvsync.core.drift import DriftDetector, DriftItem
from tvsync.core.outcome import Outcome
from tvsync.models.sync_request import SyncRequest
from tvsync.services.clock import Deadline, utc_now
from tvsync.services.reconcile_report import Phase, Progress, ReconcileFailedError, ReconcileReport

if TYPE_CHECKING:
    import logging

    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from tvsync.core.desired_state import SyncConfig
    from tvsync.models.okta import OktaAppUser, OktaUser
    from tvsync.services.ports import (
        Clock,
        EventPublisher,
        OktaReader,
        SyncStateRepository,
        TeamViewerAccounts,
    )

__all__ = ["EVENT_TYPE", "Reconciler", "new_run_id", "orphan_group"]

EVENT_TYPE: Final = "tvsync.reconcile"
#: Time kept free at the end of a Lambda run to queue what was found and report it.
LAMBDA_RESERVE_SECONDS: Final = 60.0
#: How many Okta users pass between two looks at the clock.
_DEADLINE_CHECK_EVERY: Final = 200
_ORPHAN_PREFIX: Final = "orphan-"

_T = TypeVar("_T")


class _OutOfTimeError(Exception):
    pass


def orphan_group(teamviewer_id: str) -> str:
    """The message group (and SyncStateTable key) of an orphan deactivation."""
    return f"{_ORPHAN_PREFIX}{teamviewer_id}"


class Reconciler:
    """Compares Okta with TeamViewer and queues one sync request per drifted user.

    ``state`` is optional so the comparison can run without the worker's table (then
    accounts are joined by email only). ``deadline`` is shared with the clients' retry
    policy, so a long rate-limit wait never outlives the Lambda. ``deactivate_orphans``
    is the configured default (``DEACTIVATE_ORPHANS``); a run may override it. ``clock``
    dates the run and its requests.
    """

    def __init__(  # noqa: PLR0913 - collaborators and limits are injected by name, all keyword-only
        self,
        *,
        okta: OktaReader,
        teamviewer: TeamViewerAccounts,
        queue: EventPublisher,
        state: SyncStateRepository | None,
        config: SyncConfig,
        logger: Logger | logging.Logger,
        metrics: Metrics | None = None,
        deadline: Deadline | None = None,
        deactivate_orphans: bool = False,
        max_orphan_deactivations: int | None = 50,
        okta_page_size: int = 200,
        app_page_size: int = 500,
        teamviewer_page_size: int = 100,
        clock: Clock = utc_now,
    ) -> None:
        self._okta = okta
        self._tv = teamviewer
        self._queue = queue
        self._state = state
        self._config = config
        self._logger = logger
        self._metrics = metrics
        self.deadline = deadline or Deadline()
        self.deactivate_orphans = deactivate_orphans
        self._max_orphan_deactivations = max_orphan_deactivations
        self._okta_page_size = okta_page_size
        self._app_page_size = app_page_size
        self._tv_page_size = teamviewer_page_size
        self._clock = clock

    # ------------------------------------------------------------------ Lambda entry

    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """One scheduled run inside a Lambda invocation; raises if it could not finish.

        A manual invocation may pass ``{"dry_run": true}`` to see the drift without
        queuing anything. The schedule is the retry: a failed run is not re-run by Lambda
        (the template sets no async retries), the next scheduled one starts afresh.
        """
        self.deadline.start(context.get_remaining_time_in_millis() / 1000, LAMBDA_RESERVE_SECONDS)
        report = self.run(dry_run=event.get("dry_run") is True, max_items=0)
        if not report.complete or report.enqueue_failed:
            raise ReconcileFailedError(report)
        return report.summary()

    # ------------------------------------------------------------------ the run

    def run(
        self,
        *,
        dry_run: bool = False,
        deactivate_orphans: bool | None = None,
        run_id: str | None = None,
        progress: Progress | None = None,
        max_items: int | None = None,
    ) -> ReconcileReport:
        """Compare both directories; queue the fixes unless ``dry_run``.

        ``deactivate_orphans`` None means "as configured". ``max_items`` bounds the
        report's item list (None: all of them; the counts are always complete).
        """
        orphans = self.deactivate_orphans if deactivate_orphans is None else deactivate_orphans
        now = self._clock()
        run = _Run(
            report=ReconcileReport(
                run_id=run_id or new_run_id(now), started_at=now, dry_run=dry_run, deactivate_orphans=orphans
            ),
            progress=progress or _no_progress,
            max_items=max_items,
            published=now,
        )
        try:
            detector = self._index_teamviewer(run)
            self._walk_okta(run, detector)
            self._check_unclaimed(run, detector)
            items = detector.finish(
                deactivate_orphans=orphans, max_orphan_deactivations=self._max_orphan_deactivations
            )
            for item in items:
                self._record(run, item)
        except (UpstreamError, SecretUnavailableError) as exc:
            run.report.complete, run.report.error = False, str(exc)
        except _OutOfTimeError:
            run.report.complete, run.report.error = False, "stopped before the Lambda's time limit"
        finally:
            self._flush(run)
            run.report.finished_at = self._clock()
            self._publish(run.report)
        return run.report

    def _index_teamviewer(self, run: _Run) -> DriftDetector:
        owner = self._tv.token_owner().id
        mapping, conflicts = self._known_state(run)
        detector = DriftDetector(
            config=self._config, token_owner_id=owner, mapping=mapping, known_conflicts=conflicts
        )
        detector.add_accounts(self._counted(run, Phase.TEAMVIEWER, self._tv.iter_users(self._tv_page_size)))
        run.report.teamviewer_users = detector.account_count
        return detector

    def _known_state(self, run: _Run) -> tuple[dict[str, str], dict[str, str]]:
        """The worker's account mapping and its refused creates, from SyncStateTable."""
        mapping: dict[str, str] = {}
        conflicts: dict[str, str] = {}
        if self._state is None:
            return mapping, conflicts
        for state in self._counted(run, Phase.SYNC_STATE, self._state.scan()):
            if state.okta_user_id.startswith(_ORPHAN_PREFIX):
                continue
            if state.teamviewer_id:
                mapping[state.okta_user_id] = state.teamviewer_id
            if state.last_outcome == Outcome.CONFLICT and state.email:
                conflicts[state.okta_user_id] = state.email.strip().lower()
        return mapping, conflicts

    def _walk_okta(self, run: _Run, detector: DriftDetector) -> None:
        for user, assignment in self._counted(run, Phase.OKTA, self._okta_users()):
            run.seen.add(user.id)
            run.report.okta_users += 1
            self._record(run, detector.observe(user, assignment))

    def _okta_users(self) -> Iterator[tuple[OktaUser, OktaAppUser | None]]:
        """Every Okta user in scope, with the assignment when an app defines the scope."""
        app_id = self._config.app_id
        if app_id:
            for assignment, user in self._okta.iter_app_users(app_id, page_size=self._app_page_size):
                yield user, assignment
            return
        yield from ((user, None) for user in self._okta.iter_users(page_size=self._okta_page_size))
        # Okta lists DEPROVISIONED users only when asked; they are the ones to catch.
        deprovisioned = self._okta.iter_users(
            page_size=self._okta_page_size, filter='status eq "DEPROVISIONED"'
        )
        yield from ((user, None) for user in deprovisioned)

    def _check_unclaimed(self, run: _Run, detector: DriftDetector) -> None:
        """Find the Okta owner of each active account no walked user claimed.

        First the Okta user the worker last mapped to the account (deleted in Okta, or no
        longer in scope), then — only when the walk covered just the app's assignments —
        the Okta user with that email. Whoever is found is out of scope, so the account is
        drift to deactivate; an account with no owner at all is an orphan.
        """
        unclaimed = {account.id: account for account in detector.unclaimed_accounts()}
        mapped_to = {tv_id: okta_id for okta_id, tv_id in detector.mapping.items() if tv_id in unclaimed}
        for account in self._counted(run, Phase.UNCLAIMED, list(unclaimed.values())):
            mapped_user = mapped_to.get(account.id)
            owner: OktaUser | None = None
            if mapped_user is not None and mapped_user not in run.seen:
                owner = self._okta.get_user(mapped_user)
                if owner is None:
                    run.seen.add(mapped_user)
                    self._record(run, detector.observe_deleted(mapped_user))
                    continue
            elif self._config.app_id:
                owner = self._okta.find_by_email(account.email)
            if owner is not None and owner.id not in run.seen:
                run.seen.add(owner.id)
                self._record(run, detector.observe(owner, None))

    # ------------------------------------------------------------------ bookkeeping

    def _counted(self, run: _Run, phase: Phase, items: Iterable[_T]) -> Iterator[_T]:
        """Pass ``items`` through, reporting progress and stopping at the deadline."""
        done = 0
        for item in items:
            done += 1
            if done % _DEADLINE_CHECK_EVERY == 0:
                run.progress(phase, done)
                if self.deadline.expired():
                    raise _OutOfTimeError
            yield item
        run.progress(phase, done)

    def _record(self, run: _Run, item: DriftItem | None) -> None:
        if item is None:
            return
        run.report.add(item, max_items=run.max_items)
        if item.enqueue and not run.report.dry_run:
            run.pending.append(_request(item, run))
            if len(run.pending) >= BATCH_SIZE:
                self._flush(run)

    def _flush(self, run: _Run) -> None:
        if not run.pending:
            return
        outcome = self._queue.send(run.pending)
        run.pending = []
        run.report.enqueued += len(outcome.queued)
        run.report.enqueue_failed += len(outcome.failed)
        if outcome.failed:
            self._logger.error(
                "Could not queue sync requests",
                extra={"failed": len(outcome.failed), "queued": len(outcome.queued)},
            )
        run.progress(Phase.QUEUED, run.report.enqueued)

    def _publish(self, report: ReconcileReport) -> None:
        if self._metrics is not None:
            self._metrics.add_metric(name="DriftDetected", unit=MetricUnit.Count, value=report.drifted)
        summary = report.summary()
        if report.complete:
            self._logger.info("Reconcile finished", extra=summary)
        else:
            self._logger.error("Reconcile did not finish", extra=summary)


@dataclass
class _Run:
    """The mutable state of one run."""

    report: ReconcileReport
    progress: Progress
    max_items: int | None
    published: datetime
    pending: list[SyncRequest] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)


def _request(item: DriftItem, run: _Run) -> SyncRequest:
    subject = item.okta_user_id
    if subject is None:
        assert item.teamviewer_id is not None  # an orphan always names its account
        subject = orphan_group(item.teamviewer_id)
    return SyncRequest(
        okta_user_id=subject,
        event_uuid=f"reconcile-{run.report.run_id}-{subject}",
        event_type=EVENT_TYPE,
        published=run.published,
        source="reconcile",
        teamviewer_id=item.teamviewer_id if item.okta_user_id is None else None,
    )


def new_run_id(now: datetime) -> str:
    """Sortable, and unique enough that two runs never share an event uuid (the idempotency key)."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _no_progress(_phase: Phase, _done: int) -> None:
    return None
