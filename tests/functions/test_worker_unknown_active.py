"""WorkerFunction against a SCIM server that leaves ``active`` out of its users (RFC 7643 allows it).

Unknown is not inactive: access must still be revoked (``active: false`` sent), an orphan
must still be deactivated, and nothing is activated on a guess.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.conftest import Aws
from tests.support.pipeline import T0, Pipeline, add_assigned, start_pipeline
from tvsync.emulators.teamviewer import TeamViewerEmulator
from tvsync.models.sync_request import SyncRequest


@pytest.fixture
def pipeline(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    built, servers = start_pipeline(aws, monkeypatch, tv=TeamViewerEmulator(scim_omit_active=True))
    yield built
    for server in servers:
        server.close()


def deactivations(p: Pipeline, account_id: str) -> int:
    return sum(1 for call in p.tv.calls if call.method == "PATCH" and call.path.endswith(account_id))


def test_an_adopted_account_of_unknown_state_is_still_revoked(pipeline: Pipeline) -> None:
    p = pipeline
    account = p.tv.add_user("lena.lind@example.com", "Lena Lind")
    user = add_assigned(p, "lena.lind@example.com", "Lena", "Lind")
    p.enqueue(user, "user.lifecycle.create")
    p.drain()
    state = p.state(user)
    assert state is not None
    assert (state.teamviewer_id, state.teamviewer_active) == (account["id"], None), "stored as unknown"
    assert deactivations(p, account["id"]) == 0, "no activation sent on a guess"

    p.okta.set_status(user, "SUSPENDED")
    p.enqueue(user, "user.lifecycle.suspend")
    p.drain()

    assert p.tv.user_by_email("lena.lind@example.com")["active"] is False  # type: ignore[index]
    after = p.state(user)
    assert after is not None and after.last_operations == ["deactivate"]


def test_an_orphan_of_unknown_state_is_deactivated_not_skipped(pipeline: Pipeline) -> None:
    p = pipeline
    ghost = p.tv.add_user("ghost@example.com", "Ghost Account")["id"]
    request = SyncRequest(
        okta_user_id=f"orphan-{ghost}",
        event_uuid="orphan-run-1",
        event_type="tvsync.reconcile",
        published=T0 + timedelta(minutes=1),
        source="reconcile",
        teamviewer_id=ghost,
    )
    p.aws.session.client("sqs").send_message(
        QueueUrl=p.aws.queue_url,
        MessageBody=request.model_dump_json(),
        MessageGroupId=request.okta_user_id,
        MessageDeduplicationId=request.event_uuid,
    )
    p.drain()

    assert p.tv.user_by_email("ghost@example.com")["active"] is False  # type: ignore[index]
    state = p.state(f"orphan-{ghost}")
    assert state is not None and (state.last_outcome, state.last_operations) == ("applied", ["deactivate"])
