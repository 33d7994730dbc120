"""The reconciler against embedded AWS (moto) and both emulators over loopback HTTP.

Drift is made the way it happens in production — Okta changes the worker never heard
about, edits made in TeamViewer itself — then found by a reconcile run and fixed by the
real WorkerFunction draining the queue, and checked in the emulators' final state.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypedDict, Unpack

import pytest

from tests.conftest import TV_APP_ID, Aws, FakeLambdaContext, emf_metrics, load_function
from tests.support.pipeline import Pipeline, add_assigned, start_pipeline
from tvsync.adapters.event_queue import EventQueue
from tvsync.adapters.okta_client import OktaClient
from tvsync.adapters.retry import RetryPolicy
from tvsync.adapters.sync_state import SyncStateStore
from tvsync.adapters.teamviewer_client import TeamViewerClient
from tvsync.core.desired_state import SyncConfig
from tvsync.core.drift import DriftCategory
from tvsync.emulators.http import RunningServer
from tvsync.emulators.okta import OktaRateLimit
from tvsync.emulators.teamviewer import RateLimit
from tvsync.services.reconcile import Reconciler
from tvsync.services.reconcile_report import ReconcileFailedError, ReconcileReport
from tvsync.wiring.reconcile import build_reconciler

LOG = logging.getLogger("tests.reconcile")
C = DriftCategory


@dataclass
class Setup:
    p: Pipeline
    servers: list[RunningServer]

    @property
    def tv_url(self) -> str:
        return self.servers[0].url

    @property
    def okta_url(self) -> str:
        return self.servers[1].url

    def env(self, **overrides: str) -> dict[str, str]:
        return self.p.aws.env(
            "ReconcileFunction",
            TEAMVIEWER_API_URL=self.tv_url,
            OKTA_ORG_URL=self.okta_url,
            OKTA_APP_ID=TV_APP_ID,
            **overrides,
        )

    def reconciler(self, **env: str) -> Reconciler:
        return build_reconciler(logger=LOG, metrics=None, environ=self.env(**env), session=self.p.aws.session)

    def admin(self) -> TeamViewerClient:
        """An admin editing users in TeamViewer itself, behind the product's back."""
        return TeamViewerClient(self.tv_url, lambda: "tv-test-token")

    def queued(self) -> list[dict[str, object]]:
        return [json.loads(str(m["Body"])) for m in self.p.aws.drain()]


@pytest.fixture
def setup(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    p, servers = start_pipeline(aws, monkeypatch)
    p.okta.add_app(TV_APP_ID)  # an app with no assignments yet still exists
    yield Setup(p, servers)
    for server in servers:
        server.close()


def counts(report: ReconcileReport) -> dict[str, int]:
    return {category.value: n for category, n in report.counts.items() if n}


def seed_drift_in_every_direction(s: Setup) -> dict[str, str]:
    """Users the worker synced, then drift on both sides; returns name -> Okta user id."""
    p = s.p
    users = {
        "bob": add_assigned(p, "bob.baker@example.com", "Bob", "Baker"),
        "carol": add_assigned(p, "carol.chen@example.com", "Carol", "Chen"),
        "dave": add_assigned(p, "dave.dunn@example.com", "Dave", "Dunn"),
        "erin": add_assigned(p, "erin.evans@example.com", "Erin", "Evans"),
        "frank": add_assigned(p, "frank.fischer@example.com", "Frank", "Fischer"),
        "gina": add_assigned(p, "gina.gray@example.com", "Gina", "Gray"),
        "hank": add_assigned(p, "hank.hill@example.com", "Hank", "Hill"),
    }
    for user in users.values():
        p.enqueue(user, "user.lifecycle.create")
    p.drain()
    assert len(p.tv.users()) == 1 + len(users)
    admin = s.admin()
    by_email = {u["email"]: u["id"] for u in p.tv.users()}
    # Okta events the hook never delivered:
    users["alice"] = add_assigned(p, "alice.archer@example.com", "Alice", "Archer")  # to create
    p.okta.set_status(users["dave"], "SUSPENDED")  # to deactivate
    p.okta.unassign(TV_APP_ID, users["erin"])  # to deactivate, found by email
    p.okta.set_status(users["gina"], "DEPROVISIONED")
    p.okta.delete_user(users["gina"])  # to deactivate, found through the worker's mapping
    p.okta.update_profile(users["hank"], email="henry.hill@example.com", login="henry.hill@example.com")
    users["ida"] = p.okta.add_user("ida.ito@example.com", "Ida", "Ito", status="STAGED")["id"]  # ignored
    p.okta.assign(TV_APP_ID, users["ida"])
    # Edits made in TeamViewer itself:
    admin.update(by_email["bob.baker@example.com"], active=False)  # to update: activate
    admin.update(by_email["carol.chen@example.com"], name="C. Chen")  # to update: rename
    p.tv.add_user("ghost@example.com", "Ghost Account")  # orphan
    return users


def test_drift_in_every_direction_is_found_and_fixed_through_the_worker(setup: Setup) -> None:
    s, p = setup, setup.p
    users = seed_drift_in_every_direction(s)
    report = s.reconciler().run()
    assert report.complete, report.error
    assert counts(report) == {
        "in_sync": 1,  # frank
        "to_create": 1,  # alice
        "to_update": 3,  # bob, carol, hank (email)
        "to_deactivate": 3,  # dave, erin, gina
        "orphan": 1,  # ghost
        "protected": 1,  # the token owner: never an orphan
        "ignored": 1,  # ida
    }
    assert report.drifted == 8
    assert C.PROTECTED not in {item.category for item in report.items}, "listed only as a count"
    assert report.enqueued == 7
    by_user = {item.okta_user_id: item for item in report.items if item.okta_user_id}
    assert {name for name, user in users.items() if user in by_user} == {
        "alice",
        "bob",
        "carol",
        "dave",
        "erin",
        "gina",
        "hank",
    }, "the report lists what is not in sync (ignored users only count)"
    assert [op.value for op in by_user[users["hank"]].operations] == ["change_email"]

    p.drain()
    final = {u["email"]: u for u in p.tv.users()}
    assert final["alice.archer@example.com"]["active"] is True
    assert final["bob.baker@example.com"]["active"] is True
    assert final["carol.chen@example.com"]["name"] == "Carol Chen"
    assert final["dave.dunn@example.com"]["active"] is False
    assert final["erin.evans@example.com"]["active"] is False
    assert final["gina.gray@example.com"]["active"] is False
    assert "hank.hill@example.com" not in final and final["henry.hill@example.com"]["active"] is True
    assert final["ghost@example.com"]["active"] is True, "orphans are only reported by default"
    assert final["admin@example.test"]["active"] is True
    assert p.dlq_count() == 0
    state = p.state(users["bob"])
    assert state is not None and state.last_event_type == "tvsync.reconcile"

    again = s.reconciler().run()
    # Erin's and Gina's accounts are inactive now and no walked user claims them: not drift.
    assert counts(again) == {"in_sync": 6, "orphan": 1, "protected": 1, "ignored": 1}
    assert again.enqueued == 0


def test_dry_run_reports_the_same_drift_and_changes_nothing(setup: Setup) -> None:
    s, p = setup, setup.p
    seed_drift_in_every_direction(s)
    before = p.tv.users()
    writes = p.tv.writes()
    report = s.reconciler().run(dry_run=True, deactivate_orphans=True)
    assert report.complete and report.dry_run
    assert report.counts[C.TO_CREATE] == 1 and report.counts[C.TO_DEACTIVATE] == 3
    assert report.enqueued == 0
    assert s.queued() == [], "a dry run queues nothing"
    assert p.tv.writes() == writes and p.tv.users() == before


def test_orphans_are_reported_deactivated_only_when_opted_in_and_never_the_token_owner(setup: Setup) -> None:
    s, p = setup, setup.p
    ghost = p.tv.add_user("ghost@example.com", "Ghost Account")["id"]

    reported = s.reconciler().run()
    assert (reported.counts[C.ORPHAN], reported.counts[C.PROTECTED], reported.enqueued) == (1, 1, 0)
    p.drain()
    assert p.tv_account("ghost@example.com")["active"] is True  # type: ignore[index]

    opted_in = s.reconciler(DEACTIVATE_ORPHANS="true").run()
    assert opted_in.enqueued == 1
    [orphan] = [i for i in opted_in.items if i.teamviewer_id == ghost]
    assert orphan.enqueue and orphan.okta_user_id is None
    p.drain()
    assert p.tv_account("ghost@example.com")["active"] is False  # type: ignore[index]
    assert p.tv_account("admin@example.test")["active"] is True  # type: ignore[index]
    state = p.state(f"orphan-{ghost}")
    assert state is not None and (state.last_outcome, state.last_operations) == ("applied", ["deactivate"])


def test_an_orphan_claimed_before_the_worker_gets_to_it_is_left_alone(setup: Setup) -> None:
    s, p = setup, setup.p
    p.tv.add_user("new.hire@example.com", "New Hire")
    report = s.reconciler().run(deactivate_orphans=True)
    assert report.enqueued == 1
    # The new hire is created in Okta while the orphan deactivation waits in the queue.
    add_assigned(p, "new.hire@example.com", "New", "Hire")
    p.drain()
    assert p.tv_account("new.hire@example.com")["active"] is True  # type: ignore[index]


def test_orphan_deactivation_stops_at_the_configured_limit(setup: Setup) -> None:
    s, p = setup, setup.p
    for n in range(3):
        p.tv.add_user(f"ghost{n}@example.com", f"Ghost {n}")
    report = s.reconciler(DEACTIVATE_ORPHANS="true", MAX_ORPHAN_DEACTIVATIONS="2").run()
    assert (report.counts[C.ORPHAN], report.counts[C.PROTECTED], report.enqueued) == (3, 1, 0)
    assert s.queued() == []


def test_a_create_teamviewer_refused_is_a_known_conflict_not_requeued_every_run(setup: Setup) -> None:
    s, p = setup, setup.p
    p.tv.add_foreign_account("erin.evans@example.com", "Erin Private")
    erin = add_assigned(p, "erin.evans@example.com", "Erin", "Evans")
    p.enqueue(erin, "user.lifecycle.create")
    p.drain()
    report = s.reconciler().run()
    assert report.counts[C.CONFLICT] == 1 and report.enqueued == 0
    assert report.drifted == 0, "the worker already counted the conflict"


def _client_pair(s: Setup, retry: RetryPolicy | None = None) -> tuple[OktaClient, TeamViewerClient]:
    policy = retry or RetryPolicy(max_attempts=12, max_wait=5.0, base_backoff=0.05)
    return (
        OktaClient(s.okta_url, lambda: "okta-test-token", retry=policy),
        TeamViewerClient(s.tv_url, lambda: "tv-test-token", retry=policy),
    )


class _PageSizes(TypedDict, total=False):
    """The page sizes a test sets; ``Reconciler``'s own defaults stand for the rest."""

    okta_page_size: int
    app_page_size: int
    teamviewer_page_size: int


def _reconciler(
    s: Setup, *, app_id: str | None, retry: RetryPolicy | None = None, **pages: Unpack[_PageSizes]
) -> Reconciler:
    okta, tv = _client_pair(s, retry)
    aws = s.p.aws
    return Reconciler(
        okta=okta,
        teamviewer=tv,
        queue=EventQueue(aws.session.client("sqs"), aws.queue_url),
        state=SyncStateStore(aws.session.client("dynamodb"), aws.resources.refs["SyncStateTable"]),
        config=SyncConfig(app_id=app_id),
        logger=LOG,
        **pages,
    )


def _seed_many(s: Setup, count: int, *, assign: bool) -> None:
    """``count`` Okta users, every tenth missing in TeamViewer, every seventh suspended."""
    p = s.p
    for n in range(count):
        email = f"user{n:05d}@example.com"
        user = p.okta.add_user(email, "User", f"N{n:05d}", status="SUSPENDED" if n % 7 == 0 else "ACTIVE")
        if assign:
            p.okta.assign(TV_APP_ID, user["id"])
        if n % 10:
            p.tv.add_user(email, f"User N{n:05d}")


def _expected_many(count: int) -> dict[str, int]:
    suspended = {n for n in range(count) if n % 7 == 0}
    missing = {n for n in range(count) if n % 10 == 0}
    return {
        "to_create": len(missing - suspended),
        "to_deactivate": len(suspended - missing),
        "in_sync": count - len(missing - suspended) - len(suspended - missing),
        "protected": 1,  # the token owner
    }


def test_paging_across_many_pages_of_app_users(setup: Setup) -> None:
    s, p = setup, setup.p
    _seed_many(s, 1_050, assign=True)
    p.okta.reset_calls()
    p.tv.reset_calls()
    report = _reconciler(s, app_id=TV_APP_ID, app_page_size=100, teamviewer_page_size=100).run(dry_run=True)
    assert report.complete, report.error
    assert (report.okta_users, report.teamviewer_users) == (1_050, 946)
    assert counts(report) == _expected_many(1_050)
    okta_pages = [c for c in p.okta.calls if c.path == f"/api/v1/apps/{TV_APP_ID}/users"]
    tv_pages = [c for c in p.tv.calls if c.path == "/scim/v2/Users" and c.method == "GET"]
    # The emulator caps SCIM pages below the 100 asked for (RFC 7644 §3.4.2.4), as a real server may.
    tv_page = min(100, p.tv.scim_max_page_size or 100)
    assert (len(okta_pages), len(tv_pages)) == (11, -(-946 // tv_page))


def test_paging_across_many_pages_of_all_users_includes_the_deprovisioned(setup: Setup) -> None:
    s, p = setup, setup.p
    _seed_many(s, 1_050, assign=False)
    gone = [
        p.okta.add_user(f"left{n}@example.com", "Left", f"N{n}", status="DEPROVISIONED") for n in range(3)
    ]
    for user in gone:
        p.tv.add_user(user["profile"]["email"], "Left Company")
    report = _reconciler(s, app_id=None, okta_page_size=200, teamviewer_page_size=100).run(dry_run=True)
    expected = _expected_many(1_050)
    expected["to_deactivate"] += 3
    assert counts(report) == expected
    assert report.okta_users == 1_053


def test_rate_limits_on_both_sides_are_waited_out(setup: Setup) -> None:
    s, p = setup, setup.p
    _seed_many(s, 300, assign=True)
    # TeamViewer's documented answer (403 rate_limit_reached, no Retry-After) and Okta's 429
    # with X-Rate-Limit-Reset: both must be waited out, not fail the run.
    p.tv.rate_limit = RateLimit(requests_per_second=10, burst=2, style="403")
    # Seven or more Okta calls against 3 per 2 s: throttled however fast the machine is.
    p.okta.rate_limit = OktaRateLimit(limit=3, window_seconds=2)
    retry = RetryPolicy(max_attempts=30, max_wait=5.0, base_backoff=0.05)
    report = _reconciler(s, app_id=TV_APP_ID, retry=retry, app_page_size=50, teamviewer_page_size=20).run()
    assert report.complete, report.error
    assert counts(report) == _expected_many(300)
    assert report.enqueued == report.counts[C.TO_CREATE] + report.counts[C.TO_DEACTIVATE]
    assert p.tv.throttled > 0 and p.okta.throttled > 0, "both sides must really have throttled"


def test_a_service_that_keeps_refusing_ends_the_run_without_deactivating_anything(
    setup: Setup,
) -> None:
    s, p = setup, setup.p
    dave = add_assigned(p, "dave.dunn@example.com", "Dave", "Dunn")
    p.tv.add_user("dave.dunn@example.com", "Dave Dunn")
    p.okta.set_status(dave, "SUSPENDED")
    p.okta.forbid(f"/api/v1/apps/{TV_APP_ID}/users")
    report = s.reconciler().run()
    assert not report.complete and "403" in (report.error or "")
    assert report.enqueued == 0 and s.queued() == []


def test_the_lambda_handler_emits_drift_detected_and_fails_loudly(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    s, p = setup, setup.p
    add_assigned(p, "alice.archer@example.com", "Alice", "Archer")
    p.tv.add_user("ghost@example.com", "Ghost")
    module = load_function("reconcile", s.env(), monkeypatch)
    capsys.readouterr()
    summary = module.lambda_handler({}, FakeLambdaContext(remaining_ms=900_000))
    assert (summary["to_create"], summary["orphan"], summary["protected"], summary["enqueued"]) == (
        1,
        1,
        1,
        1,
    )
    assert "protected_orphans" not in summary, "the token owner has a category of its own"
    out = capsys.readouterr().out
    assert emf_metrics(out)["DriftDetected"] == 2  # alice and the ghost; not the token owner
    assert "ghost@example.com" not in out, "no email reaches the logs"
    [message] = s.queued()
    assert message["okta_user_id"] == summary_user(p, "alice.archer@example.com")
    assert (message["source"], message["event_type"]) == ("reconcile", "tvsync.reconcile")
    assert "teamviewer_id" not in message, "only orphan requests carry it"

    dry = module.lambda_handler({"dry_run": True}, FakeLambdaContext(remaining_ms=900_000))
    assert dry["dry_run"] is True and dry["enqueued"] == 0

    wrong_token = s.env(TEAMVIEWER_TOKEN_SECRET_ARN=s.env()["OKTA_API_TOKEN_SECRET_ARN"])
    broken = load_function("reconcile", wrong_token, monkeypatch)
    with pytest.raises(ReconcileFailedError):
        broken.lambda_handler({}, FakeLambdaContext(remaining_ms=900_000))


def summary_user(p: Pipeline, email: str) -> str:
    [user] = [u for u in p.okta.users() if u["profile"]["email"] == email]
    return str(user["id"])
