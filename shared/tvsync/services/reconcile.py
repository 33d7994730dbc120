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
2. every TeamViewer company user (SCIM), into the detector's compact index, a few pages
   requested ahead (``startIndex`` paging allows it: ``tvsync.adapters.scim_paging``);
3. every Okta user in scope, one cursor page after the other (``services/reconcile_okta.py``):
   the app's assignments when ``OKTA_APP_ID`` is set, else all users plus the DEPROVISIONED
   ones Okta's list leaves out unless asked;
4. for accounts still unclaimed: the Okta user the worker last mapped to them (deleted?
   unassigned?) or, with an app, the Okta user with that email, looked up in batches of
   ``or``-joined searches — a missed deprovisioning is the costliest drift there is and
   must not pass for an orphan.

Rate limits on either side are waited out by the clients' ``RetryPolicy`` (Okta's
``X-Rate-Limit-Reset``, TeamViewer's ``Retry-After`` or backoff for a bare 403). Okta is
read one request at a time; TeamViewer's read-ahead shares one ``ThrottleGate``, so a
throttle holds every thread back and concurrency never multiplies the rate past a limit.

**A run that cannot finish** (the Lambda's deadline, or a rate-limit wait that would pass
it) keeps what it compared: creates and updates are decided per user and were queued as
the walk went. A scheduled run (``handle``) also stores where its Okta walk stopped
(``services/reconcile_checkpoint.py``); the next one reads SyncStateTable and TeamViewer in
full again and walks Okta on from there, a whole page at a time (no user skipped or compared
twice). Every Okta user in scope is so compared within ⌈W / (B - I)⌉ runs: B a run's budget
(timeout less ``LAMBDA_RESERVE_SECONDS``), I the time to read SyncStateTable and TeamViewer,
W the Okta walk's (docs/operations.md has the figures).

Deactivations and orphans need the whole picture — an account is claimed by whichever
entitled user the walk meets, anywhere in it. A run that stopped early, and a run that
resumed another's walk (it never saw the users before the cursor), therefore never decide
them: deferred deactivations are dropped and unclaimed accounts are not looked up. Only a
run that walked all of Okta by itself decides them; once a resumed walk completes, the
checkpoint is gone and the next run is such a run.

What a run reports — its counts, items and progress, and the error of a run that could not
finish — is ``tvsync.services.reconcile_report``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeVar

from tvsync.adapters.errors import InvalidError, UpstreamError
from tvsync.adapters.event_queue import BATCH_SIZE
from tvsync.adapters.secrets import SecretUnavailableError
from tvsync.core.drift import DriftDetector, DriftItem
from tvsync.core.outcome import Outcome
from tvsync.services.clock import Deadline, utc_now
from tvsync.services.reconcile_okta import OktaWalk, WalkPosition, find_owners
from tvsync.services.reconcile_report import (
    Phase,
    Progress,
    ReconcileFailedError,
    ReconcileReport,
    publish,
)
from tvsync.services.reconcile_requests import (
    EVENT_TYPE,
    ORPHAN_PREFIX,
    group_request,
    new_run_id,
    orphan_group,
    user_request,
)

if TYPE_CHECKING:
    import logging
    from datetime import datetime

    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from tvsync.core.desired_state import SyncConfig
    from tvsync.models.reconcile_checkpoint import ReconcileCheckpoint
    from tvsync.models.sync_request import SyncRequest
    from tvsync.services.group_reconcile import GroupReconciler
    from tvsync.services.ports import (
        Clock,
        EventPublisher,
        OktaReader,
        SyncStateRepository,
        TeamViewerAccounts,
    )
    from tvsync.services.reconcile_checkpoint import Checkpointer

__all__ = ["EVENT_TYPE", "Reconciler", "new_run_id", "orphan_group"]

#: Time kept free at the end of a Lambda run to queue what was found and report it.
LAMBDA_RESERVE_SECONDS: Final = 60.0
#: How many records pass between two looks at the clock (the Okta walk looks after each page).
_DEADLINE_CHECK_EVERY: Final = 200
#: TeamViewer pages requested ahead while indexing (``tvsync.adapters.scim_paging``).
TEAMVIEWER_READ_AHEAD: Final = 4

_T = TypeVar("_T")


class _OutOfTimeError(Exception):
    pass


class Reconciler:
    """Compares Okta with TeamViewer and queues one sync request per drifted user.

    ``state`` is optional so the comparison can run without the worker's table (then
    accounts are joined by email only). ``deadline`` is shared with the clients' retry
    policy, so a long rate-limit wait never outlives the Lambda. ``deactivate_orphans``
    is the configured default (``DEACTIVATE_ORPHANS``); a run may override it. ``clock``
    dates the run and its requests. ``checkpoints`` lets a scheduled run resume the Okta
    walk of one that could not finish (None: every run starts afresh);
    ``teamviewer_read_ahead`` is how many SCIM pages are requested at once.
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
        groups: GroupReconciler | None = None,
        checkpoints: Checkpointer | None = None,
        teamviewer_read_ahead: int = TEAMVIEWER_READ_AHEAD,
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
        self._groups = groups
        self._checkpoints = checkpoints
        self._tv_read_ahead = teamviewer_read_ahead

    # ------------------------------------------------------------------ Lambda entry

    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """One scheduled run inside a Lambda invocation; raises if it could not finish.

        A manual invocation may pass ``{"dry_run": true}`` to see the drift without
        queuing anything. The schedule is the retry: a failed run is not re-run by Lambda
        (the template sets no async retries); the next scheduled one resumes its Okta walk
        (see the module docstring) or starts afresh. A dry run leaves the checkpoint alone.
        """
        self.deadline.start(context.get_remaining_time_in_millis() / 1000, LAMBDA_RESERVE_SECONDS)
        dry_run = event.get("dry_run") is True
        report = self.run(dry_run=dry_run, max_items=0, resumable=not dry_run)
        if not report.complete or report.enqueue_failed:
            raise ReconcileFailedError(report)
        return report.summary()

    # ------------------------------------------------------------------ the run

    def run(  # noqa: PLR0913 - keyword-only options of one run, each set by name
        self,
        *,
        dry_run: bool = False,
        deactivate_orphans: bool | None = None,
        run_id: str | None = None,
        progress: Progress | None = None,
        max_items: int | None = None,
        resumable: bool = False,
    ) -> ReconcileReport:
        """Compare both directories; queue the fixes unless ``dry_run``.

        ``deactivate_orphans`` None means "as configured". ``max_items`` bounds the
        report's item list (None: all of them; the counts are always complete).
        ``resumable``: resume the checkpoint's Okta walk, and store one if this run stops
        during its walk (the scheduled run; needs ``checkpoints``).
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
        checkpoints = self._checkpoints if resumable else None
        try:
            scope = self._config.app_id or ""
            resume = checkpoints.resume_point(scope=scope, now=now) if checkpoints else None
            detector = self._index_teamviewer(run)
            self._walk_okta(run, detector, checkpoints, resume)
            if run.report.resumed_from is None:
                self._check_unclaimed(run, detector)
                items = detector.finish(
                    deactivate_orphans=orphans, max_orphan_deactivations=self._max_orphan_deactivations
                )
                for item in items:
                    self._record(run, item)
            self._compare_groups(run)
        except (UpstreamError, SecretUnavailableError) as exc:
            run.report.complete, run.report.error = False, str(exc)
        except _OutOfTimeError:
            run.report.complete, run.report.error = False, "stopped before the Lambda's time limit"
        finally:
            self._flush(run)
            run.report.finished_at = self._clock()
            publish(run.report, self._logger, self._metrics, groups=self._groups is not None)
        return run.report

    def _index_teamviewer(self, run: _Run) -> DriftDetector:
        owner = self._tv.token_owner().id
        mapping, conflicts = self._known_state(run)
        detector = DriftDetector(
            config=self._config, token_owner_id=owner, mapping=mapping, known_conflicts=conflicts
        )
        accounts = self._tv.iter_users(self._tv_page_size, workers=self._tv_read_ahead)
        detector.add_accounts(self._counted(run, Phase.TEAMVIEWER, accounts))
        run.report.teamviewer_users = detector.account_count
        return detector

    def _known_state(self, run: _Run) -> tuple[dict[str, str], dict[str, str]]:
        """The worker's account mapping and its refused creates, from SyncStateTable."""
        mapping: dict[str, str] = {}
        conflicts: dict[str, str] = {}
        if self._state is None:
            return mapping, conflicts
        for state in self._counted(run, Phase.SYNC_STATE, self._state.scan()):
            if state.okta_user_id.startswith(ORPHAN_PREFIX):
                continue
            if state.teamviewer_id:
                mapping[state.okta_user_id] = state.teamviewer_id
            if state.last_outcome == Outcome.CONFLICT and state.email:
                conflicts[state.okta_user_id] = state.email.strip().lower()
        return mapping, conflicts

    def _walk_okta(
        self,
        run: _Run,
        detector: DriftDetector,
        checkpoints: Checkpointer | None,
        resume: ReconcileCheckpoint | None,
    ) -> None:
        """Compare every Okta user in scope, a whole page at a time, from ``resume`` if given.

        The deadline is looked at between pages, so a run stops at a page boundary and the
        position it stores is exactly where comparing goes on.
        """
        start = WalkPosition(resume.walk, resume.cursor) if resume else None
        position: WalkPosition | None = start
        compared = 0
        try:
            walk = OktaWalk(
                self._okta,
                self._config,
                okta_page_size=self._okta_page_size,
                app_page_size=self._app_page_size,
                start=start,
            )
            run.report.resumed_from = resume.run_id if resume else None
            for users, position in walk.pages():
                for user, assignment in users:
                    run.seen.add(user.id)
                    self._record(run, detector.observe(user, assignment))
                compared += len(users)
                run.report.okta_users += len(users)
                run.progress(Phase.OKTA, run.report.okta_users)
                if position is not None and self.deadline.expired():
                    raise _OutOfTimeError
        except (InvalidError, ValueError):
            if resume is None or compared or position != start:
                raise
            # The checkpoint names no list of this scope, or Okta refused its cursor: afresh.
            if checkpoints is not None:
                checkpoints.forget("it cannot be resumed", resume)
            run.report.resumed_from = None
            self._walk_okta(run, detector, checkpoints, None)
            return
        except (UpstreamError, _OutOfTimeError):
            if checkpoints is not None and compared and position is not None:
                run.report.checkpoint_saved = True
                scope = self._config.app_id or ""
                checkpoints.save(
                    resume,
                    run_id=run.report.run_id,
                    scope=scope,
                    position=position,
                    users_done=compared,
                    now=self._clock(),
                )
            raise
        if resume is not None and checkpoints is not None:
            checkpoints.forget("its walk is complete", resume)

    def _check_unclaimed(self, run: _Run, detector: DriftDetector) -> None:
        """Find the Okta owners of the accounts the walk left unclaimed (``find_owners``)."""
        find_owners(
            self._okta,
            detector,
            detector.unclaimed_accounts(),
            app_id=self._config.app_id,
            seen=run.seen,
            record=lambda item: self._record(run, item),
            counted=lambda accounts: self._counted(run, Phase.UNCLAIMED, accounts),
        )

    def _compare_groups(self, run: _Run) -> None:
        """Every pushed or linked group, after the users: a group's members are users' accounts."""
        if self._groups is None:
            return
        for drift in self._groups.compare():
            run.report.add_group(drift, max_items=run.max_items)
            if not run.report.dry_run:
                self._enqueue(
                    run, group_request(drift.okta_group_id, run_id=run.report.run_id, published=run.published)
                )
        run.report.groups_checked = self._groups.checked

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
            self._enqueue(run, user_request(item, run_id=run.report.run_id, published=run.published))

    def _enqueue(self, run: _Run, request: SyncRequest) -> None:
        run.pending.append(request)
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


@dataclass
class _Run:
    """The mutable state of one run."""

    report: ReconcileReport
    progress: Progress
    max_items: int | None
    published: datetime
    pending: list[SyncRequest] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)


def _no_progress(_phase: Phase, _done: int) -> None:
    return None
