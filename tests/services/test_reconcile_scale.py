"""The reconciler at scale, as ReconcileFunction wires it: moto, and both emulators over loopback HTTP.

A tenth of the company's accounts is unclaimed — half of them former staff unassigned from
the app, half orphans — so Okta must be asked about each in batched searches, not one by
one; TeamViewer's listing (capped at 50 users a page) is read several pages ahead; and a
scheduled run resumes the Okta walk a checkpoint left, then forgets it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

import pytest

from tests.conftest import TV_APP_ID, Aws, FakeLambdaContext
from tests.support.pipeline import start_pipeline
from tvsync.adapters.okta_client import OktaClient
from tvsync.adapters.okta_search import MAX_SEARCH_CLAUSES
from tvsync.adapters.reconcile_checkpoint import CheckpointStore
from tvsync.emulators.http import RunningServer
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.teamviewer import TeamViewerEmulator
from tvsync.models.reconcile_checkpoint import ReconcileCheckpoint
from tvsync.services.reconcile import Reconciler
from tvsync.wiring.reconcile import build_reconciler

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

LOG = logging.getLogger("tests.reconcile_scale")
USERS = 400
#: Every tenth account is unclaimed: even ones belong to users unassigned from the app, odd ones
#: to nobody (orphans).
UNCLAIMED_EVERY = 10


class Company:
    def __init__(self, aws: Aws, okta: OktaEmulator, tv: TeamViewerEmulator, servers: list[RunningServer]):
        self.aws, self.okta, self.tv, self.servers = aws, okta, tv, servers

    def reconciler(self) -> Reconciler:
        env = self.aws.env(
            "ReconcileFunction",
            TEAMVIEWER_API_URL=self.servers[0].url,
            OKTA_ORG_URL=self.servers[1].url,
            OKTA_APP_ID=TV_APP_ID,
        )
        return build_reconciler(logger=LOG, metrics=None, environ=env, session=self.aws.session)

    @property
    def table(self) -> str:
        return self.aws.env("ReconcileFunction")["SYNC_STATE_TABLE_NAME"]


@pytest.fixture
def company(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Company]:
    p, servers = start_pipeline(aws, monkeypatch)
    okta, tv = p.okta, p.tv
    accounts: list[tuple[str, str, bool]] = []
    ids = okta.add_users((f"user{n:04d}@example.com", "User", f"N{n:04d}") for n in range(USERS))
    for n, user_id in enumerate(ids):
        unclaimed = n % UNCLAIMED_EVERY == 0
        if not unclaimed:
            okta.assign(TV_APP_ID, user_id)
            accounts.append((f"user{n:04d}@example.com", f"User N{n:04d}", True))
        elif n % (2 * UNCLAIMED_EVERY) == 0:  # former staff: unassigned, their account still active
            accounts.append((f"User{n:04d}@Example.com", f"User N{n:04d}", True))
        else:  # an account nobody in Okta has
            accounts.append((f"orphan{n:04d}@example.com", f"Orphan {n}", True))
    tv.add_users(accounts)
    yield Company(aws, okta, tv, servers)
    for server in servers:
        server.close()


def test_unclaimed_accounts_are_looked_up_in_batched_searches_and_teamviewer_read_ahead(
    company: Company,
) -> None:
    company.okta.reset_calls()
    company.tv.reset_calls()
    report = company.reconciler().run(dry_run=True)
    assert report.complete, report.error
    unclaimed = USERS // UNCLAIMED_EVERY
    counts = report.summary()
    assert (counts["to_deactivate"], counts["orphan"]) == (unclaimed // 2, unclaimed // 2)
    assert counts["in_sync"] == USERS - unclaimed
    # The token owner's account is unclaimed too: one more address to ask about.
    searches = [c for c in company.okta.calls if "search" in c.query]
    assert len(searches) == math.ceil((unclaimed + 1) / MAX_SEARCH_CLAUSES)
    assert not [c for c in company.okta.calls if c.path.startswith("/api/v1/users/")], "no one-by-one reads"
    pages = [c for c in company.tv.calls if c.path == "/scim/v2/Users" and "filter" not in c.query]
    assert len(pages) == math.ceil((USERS + 1) / 50), "every page of 50 once, none past the end"
    assert report.teamviewer_users == USERS + 1


def test_a_scheduled_run_resumes_the_checkpoints_walk_and_then_forgets_it(company: Company) -> None:
    okta = OktaClient(company.servers[1].url, lambda: "okta-test-token")
    first = next(okta.iter_app_user_pages(TV_APP_ID, page_size=100))
    assert first.next_cursor is not None
    store = CheckpointStore(company.aws.session.client("dynamodb"), company.table)
    now = datetime.now(UTC)
    store.save(
        ReconcileCheckpoint(
            run_id="20261102T000000Z-abc123",
            scope=TV_APP_ID,
            walk="app_users",
            cursor=first.next_cursor,
            started_at=now,
            saved_at=now,
            runs=1,
            users_done=100,
        )
    )
    context = cast("LambdaContext", FakeLambdaContext(remaining_ms=900_000))
    summary = company.reconciler().handle({}, context)
    assert summary["resumed_from"] == "20261102T000000Z-abc123"
    assert summary["okta_users"] == USERS - USERS // UNCLAIMED_EVERY - 100
    assert summary["to_deactivate"] == summary["orphan"] == 0, "a partial view decides neither"
    assert store.load() is None
