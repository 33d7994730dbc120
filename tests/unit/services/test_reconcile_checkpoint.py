"""A reconcile that cannot finish in one Lambda run resumes its Okta walk in the next, over fakes.

Time passes as Okta answers: each page of users costs the world's monotonic clock
``SlowOkta.seconds``, so a run meets its deadline (900 s less the 60 s reserve) after a
known number of pages. What must hold: the runs together compare every Okta user exactly
once; a run that saw only part of Okta decides no deactivation and no orphan; a
checkpoint that is stale, of another scope or refused by Okta is never resumed.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from tests.support.fakes import (
    FakeCheckpointStore,
    FakeEventQueue,
    FakeOkta,
    SettableMonotonic,
    clocked_context,
)
from tests.support.world import APP_ID, World
from tvsync.adapters.errors import InvalidError, ThrottledError, TransientError
from tvsync.core.desired_state import SyncConfig
from tvsync.core.drift import DriftCategory
from tvsync.models.okta import OktaAppUser, OktaUser
from tvsync.models.okta_page import OktaPage
from tvsync.models.reconcile_checkpoint import ReconcileCheckpoint
from tvsync.services.clock import Deadline
from tvsync.services.reconcile import Reconciler
from tvsync.services.reconcile_checkpoint import Checkpointer
from tvsync.services.reconcile_report import ReconcileFailedError, ReconcileReport

C = DriftCategory
#: A Lambda's 900 s less the reserve leave 840 s: the third page of 300 s ends past it, and the
#: deadline is looked at after each page, so a run compares three pages.
PAGE_SECONDS = 300.0
PAGE_SIZE = 10


class SlowOkta(FakeOkta):
    """Okta whose pages of users take ``seconds`` each; ``fail_at`` raises on that page (1-based)."""

    def __init__(self, monotonic: SettableMonotonic) -> None:
        super().__init__()
        self.monotonic = monotonic
        self.seconds = PAGE_SECONDS
        self.fail_at: dict[int, Exception] = {}
        self.pages_read = 0

    def _slow(self, pages: Iterator[OktaPage[object]]) -> Iterator[OktaPage[object]]:
        for page in pages:
            self.pages_read += 1
            failure = self.fail_at.pop(self.pages_read, None)
            if failure is not None:
                raise failure
            self.monotonic.advance(self.seconds)
            yield page

    def iter_app_user_pages(
        self, app_id: str, *, page_size: int = 200, cursor: str | None = None
    ) -> Iterator[OktaPage[tuple[OktaAppUser, OktaUser]]]:
        return self._slow(super().iter_app_user_pages(app_id, page_size=page_size, cursor=cursor))  # type: ignore[arg-type,return-value]

    def iter_user_pages(
        self, *, page_size: int = 200, filter: str | None = None, cursor: str | None = None
    ) -> Iterator[OktaPage[OktaUser]]:
        return self._slow(super().iter_user_pages(page_size=page_size, filter=filter, cursor=cursor))  # type: ignore[arg-type,return-value]


@dataclass
class Setup:
    app_id: str | None = APP_ID
    monotonic: SettableMonotonic = field(default_factory=SettableMonotonic)
    store: FakeCheckpointStore = field(default_factory=FakeCheckpointStore)
    queue: FakeEventQueue = field(default_factory=FakeEventQueue)
    w: World = field(init=False)
    okta: SlowOkta = field(init=False)

    def __post_init__(self) -> None:
        self.okta = SlowOkta(self.monotonic)
        self.w = World(app_id=self.app_id, okta=self.okta, monotonic=self.monotonic)

    def reconciler(self, **options: object) -> Reconciler:
        return Reconciler(
            okta=self.okta,
            teamviewer=self.w.tv,
            queue=self.queue,
            state=self.w.state,
            config=SyncConfig(app_id=self.app_id),
            logger=self.w.logger,
            deadline=Deadline(clock=self.monotonic),
            clock=self.w.clock,
            app_page_size=PAGE_SIZE,
            okta_page_size=PAGE_SIZE,
            checkpoints=Checkpointer(self.store, logger=self.w.logger),
            **options,  # type: ignore[arg-type]
        )

    def users(self, n: int) -> list[str]:
        return [self.w.add_assigned(f"user{i:03d}@example.com", "User", f"N{i:03d}") for i in range(n)]

    def queued(self) -> list[str]:
        sent = [request.okta_user_id for request in self.queue.sent]
        self.queue.sent.clear()
        return sent


def run_scheduled(s: Setup) -> ReconcileReport:
    """One scheduled Lambda run, six hours after the last; its report, failed or not."""
    s.w.clock.advance(6 * 3600)
    reconciler = s.reconciler()
    reports: list[ReconcileReport] = []
    original = reconciler.run

    def recording_run(**kwargs: object) -> ReconcileReport:
        report = original(**kwargs)  # type: ignore[arg-type]
        reports.append(report)
        return report

    reconciler.run = recording_run  # type: ignore[method-assign]
    with contextlib.suppress(ReconcileFailedError):
        reconciler.handle({}, clocked_context(s.monotonic, 900.0))
    [report] = reports
    return report


def test_a_run_cut_at_the_deadline_resumes_where_it_stopped_and_the_runs_compare_every_user_once() -> None:
    s = Setup()
    users = s.users(55)  # six pages of ten: three fit one run
    first = run_scheduled(s)
    assert (first.complete, first.checkpoint_saved, first.resumed_from) == (False, True, None)
    assert first.okta_users == 30
    saved = s.store.checkpoint
    assert saved is not None and (saved.walk, saved.runs, saved.users_done) == ("app_users", 1, 30)
    assert saved.run_id == first.run_id and saved.cursor is not None
    compared_first = s.queued()

    second = run_scheduled(s)
    assert second.complete, second.error
    assert (second.resumed_from, second.okta_users, second.checkpoint_saved) == (first.run_id, 25, False)
    assert s.store.checkpoint is None, "a walk that reached its end forgets the checkpoint"
    compared = Counter(compared_first + s.queued())
    assert set(compared) == set(users) and max(compared.values()) == 1, "every user compared, once"


def test_a_walk_longer_than_two_runs_keeps_resuming_and_counts_its_runs() -> None:
    s = Setup()
    users = s.users(75)  # eight pages: 3 + 3 + 2
    reports = [run_scheduled(s) for _ in range(3)]
    assert [r.okta_users for r in reports] == [30, 30, 15]
    assert [r.checkpoint_saved for r in reports] == [True, True, False]
    assert reports[1].resumed_from == reports[2].resumed_from == reports[0].run_id
    assert s.store.checkpoint is None
    assert sorted(s.queued()) == sorted(users)
    saves = [c for c in s.store.calls if c.operation == "save"]
    assert len(saves) == 2


def test_a_resumed_run_decides_no_deactivation_or_orphan_and_the_next_full_run_does() -> None:
    s = Setup()
    s.w.tv.add_user("dave@example.com", "Dave Dunn")
    s.w.add_assigned("dave@example.com", "Dave", "Dunn", status="SUSPENDED")  # to deactivate
    s.w.tv.add_user("ghost@example.com", "Ghost Account")  # an orphan
    s.users(45)  # five pages with dave: three fit one run
    cut, resumed = run_scheduled(s), run_scheduled(s)
    for report in (cut, resumed):
        assert report.counts[C.TO_DEACTIVATE] == report.counts[C.ORPHAN] == 0
    assert resumed.complete and resumed.resumed_from == cut.run_id
    assert "find_by_emails" not in s.okta.operations(), "a partial view looks no unclaimed account up"
    s.okta.seconds = 0.0  # the next run walks all of Okta by itself
    full = run_scheduled(s)
    assert (full.complete, full.resumed_from) == (True, None)
    assert (full.counts[C.TO_DEACTIVATE], full.counts[C.ORPHAN]) == (1, 1)


def test_a_checkpoint_whose_walk_began_too_long_ago_is_discarded_and_the_walk_starts_afresh() -> None:
    s = Setup()
    s.users(35)
    run_scheduled(s)
    assert s.store.checkpoint is not None
    s.w.clock.advance(19 * 3600)  # with the six-hour schedule: 25 h after the walk began
    s.okta.seconds = 0.0
    report = run_scheduled(s)
    assert (report.complete, report.resumed_from, report.okta_users) == (True, None, 35)
    assert s.store.checkpoint is None
    assert s.w.logs.lines("Reconcile checkpoint forgotten: its walk began more than 1 day, 0:00:00 ago")


def test_a_resume_okta_refuses_starts_the_walk_afresh_in_the_same_run() -> None:
    s = Setup()
    users = s.users(25)
    s.okta.seconds = 0.0
    s.store.checkpoint = ReconcileCheckpoint(
        run_id="20261101T000000Z-abcdef",
        scope=APP_ID,
        walk="app_users",
        cursor="expired-cursor",
        started_at=s.w.clock() + timedelta(hours=5),
        saved_at=s.w.clock() + timedelta(hours=5),
        runs=1,
        users_done=10,
    )
    report = run_scheduled(s)
    assert report.complete and report.resumed_from is None, "a full walk, which decides everything"
    assert report.okta_users == 25 and sorted(s.queued()) == sorted(users)
    assert s.store.checkpoint is None
    assert s.w.logs.lines("Reconcile checkpoint forgotten: it cannot be resumed")


def test_a_checkpoint_of_another_scope_is_never_resumed() -> None:
    s = Setup()
    s.users(15)
    s.okta.seconds = 0.0
    s.store.checkpoint = ReconcileCheckpoint(
        run_id="20261101T000000Z-abcdef",
        scope="0oaAnotherApp0000001",
        walk="app_users",
        cursor=f"app:{APP_ID}>00u",
        started_at=s.w.clock() + timedelta(hours=5),
        saved_at=s.w.clock() + timedelta(hours=5),
        runs=1,
        users_done=10,
    )
    report = run_scheduled(s)
    assert (report.complete, report.resumed_from, report.okta_users) == (True, None, 15)
    assert s.store.checkpoint is None


@pytest.mark.parametrize(
    "failure",
    [
        ThrottledError("okta", "list_app_users", "E0000047", status=429, retry_after=120.0),
        TransientError("okta", "list_app_users", "server error", status=503),
    ],
    ids=["rate-limit-past-the-deadline", "okta-down"],
)
def test_a_walk_okta_stops_answering_stores_where_it_stopped(failure: Exception) -> None:
    s = Setup()
    users = s.users(35)
    s.okta.seconds = 0.0
    s.okta.fail_at[3] = failure
    first = run_scheduled(s)
    assert not first.complete and first.checkpoint_saved and first.okta_users == 20
    second = run_scheduled(s)
    assert second.complete and second.resumed_from == first.run_id and second.okta_users == 15
    assert sorted(s.queued()) == sorted(users)


def test_a_resumed_walk_okta_stops_answering_at_once_keeps_the_checkpoint_as_it_was() -> None:
    s = Setup()
    s.users(45)
    run_scheduled(s)
    saved = s.store.checkpoint
    s.okta.fail_at[s.okta.pages_read + 1] = TransientError("okta", "list_app_users", "down", status=503)
    report = run_scheduled(s)
    assert not report.complete and not report.checkpoint_saved
    assert s.store.checkpoint == saved


def test_without_an_app_the_checkpoint_crosses_from_every_user_to_the_deprovisioned_ones() -> None:
    s = Setup(app_id=None)
    active = s.users(25)
    gone = [
        s.okta.add_user(f"gone{i}@example.com", "Gone", f"{i}", status="DEPROVISIONED") for i in range(12)
    ]
    first = run_scheduled(s)  # 10 + 10 + 5 active users: the walk stops before the deprovisioned
    assert first.okta_users == 25 and s.store.checkpoint is not None
    assert (s.store.checkpoint.walk, s.store.checkpoint.cursor) == ("deprovisioned", None)
    second = run_scheduled(s)
    assert second.complete and second.okta_users == 12
    assert set(active) <= set(s.queued()), "every active user compared (and created)"
    assert second.counts[C.IN_SYNC] == len(gone), "deprovisioned without an account: nothing to do"


def test_dry_runs_and_manual_runs_neither_resume_nor_store_a_checkpoint() -> None:
    s = Setup()
    s.users(45)
    run_scheduled(s)
    saved = s.store.checkpoint
    assert saved is not None
    s.store.reset_calls()
    s.okta.seconds = 0.0
    dry = s.reconciler().handle({"dry_run": True}, clocked_context(s.monotonic, 900.0))
    assert (dry["resumed_from"], dry["okta_users"]) == (None, 45)
    manual = s.reconciler().run()
    assert (manual.resumed_from, manual.okta_users) == (None, 45)
    assert s.store.calls == [] and s.store.checkpoint == saved


def test_a_cut_run_fails_the_lambda_and_says_the_next_run_resumes() -> None:
    s = Setup()
    s.users(45)
    with pytest.raises(ReconcileFailedError) as failed:
        s.reconciler().handle({}, clocked_context(s.monotonic, 900.0))
    assert failed.value.report.summary()["checkpoint_saved"] is True
    [line] = s.w.logs.lines("Reconcile stored where its Okta walk stopped; the next run resumes there")
    assert (line["runs"], line["users_done"]) == (1, 30)


def test_an_unresumable_list_name_is_refused_by_the_walk() -> None:
    s = Setup()
    s.users(5)
    s.okta.seconds = 0.0
    s.store.checkpoint = ReconcileCheckpoint(
        run_id="20261101T000000Z-abcdef",
        scope=APP_ID,
        walk="deprovisioned",  # a list of a walk without an app
        started_at=s.w.clock() + timedelta(hours=5),
        saved_at=s.w.clock() + timedelta(hours=5),
        runs=1,
        users_done=10,
    )
    report = run_scheduled(s)
    assert (report.complete, report.resumed_from, report.okta_users) == (True, None, 5)
    with pytest.raises(InvalidError):
        next(s.okta.iter_app_user_pages(APP_ID, cursor="users:None>00u"))
