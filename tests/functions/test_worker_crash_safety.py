"""WorkerFunction when its sandbox dies mid-sync: a create TeamViewer applied but nobody recorded.

The worst moment for a crash is between TeamViewer's 201 and the SyncStateTable write: the
account exists, the mapping does not. If the user's email then changes in Okta before the
event is retried, a lookup by the *new* email misses the account, a second one is created,
and a later deprovisioning deactivates only that one — the first stays active for good.

The crash is simulated as the Lambda runtime sees one: an exception that no ``except
Exception`` catches, raised right after the create returned, so nothing after it runs (no
state write, no idempotency cleanup); its message then comes back once the visibility
timeout and the idempotency record's in-progress window have passed.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import FakeLambdaContext, emf_metrics
from tests.support.pipeline import T0, Pipeline, add_assigned, synced
from tvsync.adapters.errors import TransientError
from tvsync.adapters.sync_state import SyncStateStore
from tvsync.adapters.teamviewer_client import TeamViewerClient
from tvsync.core.plan import PlanReason
from tvsync.local.event_source import lambda_sqs_event
from tvsync.models.teamviewer import TeamViewerAccount


class SandboxKilledError(BaseException):
    """Lambda's sandbox going away (timeout, out of memory): no handler code runs after it."""


def interrupt_next_create(
    monkeypatch: pytest.MonkeyPatch, error: BaseException, *, applied: bool = True
) -> None:
    """The next create raises ``error``, after TeamViewer applied it (``applied``) or before."""
    real_create = TeamViewerClient.create

    def interrupted(self: TeamViewerClient, *args: Any, **kwargs: Any) -> TeamViewerAccount:
        monkeypatch.setattr(TeamViewerClient, "create", real_create)
        if applied:
            real_create(self, *args, **kwargs)
        raise error

    monkeypatch.setattr(TeamViewerClient, "create", interrupted)


def invoke_and_crash(p: Pipeline) -> str:
    """Receive the queued message and run the worker on it, which dies; returns its receipt handle."""
    [message] = p.aws.session.client("sqs").receive_message(
        QueueUrl=p.aws.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
    )["Messages"]
    event = lambda_sqs_event([message], queue_arn=p.source.queue_arn, region=p.source.region)
    with pytest.raises(SandboxKilledError):
        p.worker.lambda_handler(event, FakeLambdaContext())
    return message["ReceiptHandle"]


def time_passes(p: Pipeline, receipt_handle: str) -> None:
    """The crashed invocation's message becomes visible again and its in-progress record expires."""
    p.aws.session.client("sqs").change_message_visibility(
        QueueUrl=p.aws.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=0
    )
    dynamodb = p.aws.session.client("dynamodb")
    table = p.aws.resources.refs["IdempotencyTable"]
    in_progress = [i for i in dynamodb.scan(TableName=table)["Items"] if i["status"]["S"] == "INPROGRESS"]
    assert len(in_progress) == 1, "the crash left its idempotency record in progress"
    dynamodb.delete_item(TableName=table, Key={"id": in_progress[0]["id"]})


def creates(p: Pipeline) -> int:
    return sum(1 for call in p.tv.calls if call.method == "POST" and call.status == 201)


def test_crash_after_create_then_email_change_then_deprovision_leaves_one_inactive_account(
    pipeline: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    p = pipeline
    user = add_assigned(p, "hana.hill@example.com", "Hana", "Hill")
    p.enqueue(user, "user.lifecycle.create")
    interrupt_next_create(monkeypatch, SandboxKilledError())
    receipt = invoke_and_crash(p)
    assert p.tv.user_by_email("hana.hill@example.com") is not None, "TeamViewer applied the create"
    crashed = p.state(user)
    assert crashed is not None
    assert (crashed.last_outcome, crashed.pending_create_email) == ("creating", "hana.hill@example.com")
    caplog.clear()

    p.okta.update_profile(user, email="hana.berg@example.com", login="hana.berg@example.com", lastName="Berg")
    p.enqueue(user, "user.account.update_profile")
    time_passes(p, receipt)
    p.drain()

    messages = [record.getMessage() for record in caplog.records]
    assert "Interrupted create resolved" in messages
    assert not [m for m in messages if m.startswith("Sync failed")], "settled first time, no retry"
    # The account made by the crashed run was adopted, then given the new email and name; the
    # update_profile event that follows finds it in step.
    assert [
        (line["outcome"], line["reason"], line["operations"], line["adopted"]) for line in synced(caplog)
    ] == [
        ("applied", "account-adopted", ["change_email", "rename"], True),
        ("no-change", "in-sync", [], False),
    ]
    settled = p.state(user)
    assert settled is not None and settled.last_applied_at is not None
    assert settled.last_applied_at < settled.updated_at, "dated by the adoption, not by the no-change"
    assert emf_metrics(capsys.readouterr().out).get("UsersAdopted") == 1

    p.okta.set_status(user, "DEPROVISIONED")
    p.enqueue(user, "user.lifecycle.deactivate")
    p.drain()

    assert creates(p) == 1, "exactly one account was ever created for the user"
    mine = [u for u in p.tv.users() if u["email"] in {"hana.hill@example.com", "hana.berg@example.com"}]
    assert len(mine) == 1
    assert mine[0]["active"] is False, "the one account is deactivated: access revoked"
    state = p.state(user)
    assert state is not None
    assert state.teamviewer_id == mine[0]["id"]
    assert state.pending_create_email is None
    assert p.dlq_count() == 0


def test_a_create_whose_answer_was_lost_is_settled_by_the_retry_even_after_an_email_change(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every in-process attempt timed out after TeamViewer applied it: the retry record keeps the intent."""
    p = pipeline
    user = add_assigned(p, "ivo.iles@example.com", "Ivo", "Iles")
    interrupt_next_create(monkeypatch, TransientError("teamviewer", "create_user", "read timed out"))
    p.enqueue(user, "user.lifecycle.create")
    assert p.source.poll_once().failed == 1
    state = p.state(user)
    assert state is not None
    assert (state.last_outcome, state.pending_create_email) == ("retrying", "ivo.iles@example.com")

    p.okta.update_profile(user, email="ivo.moss@example.com", login="ivo.moss@example.com")
    p.drain()  # waits out the worker's redelivery delay (2 s after a first receive)

    assert creates(p) == 1
    [account] = [u for u in p.tv.users() if u["email"] in {"ivo.iles@example.com", "ivo.moss@example.com"}]
    assert (account["email"], account["active"]) == ("ivo.moss@example.com", True), "adopted, then converged"
    state = p.state(user)
    assert state is not None
    assert (state.last_outcome, state.last_reason, state.last_operations) == (
        "applied",
        "account-adopted",
        ["change_email"],
    )


def test_an_interrupted_create_settled_with_nothing_left_to_do_is_recorded_as_adopted_and_counted_once(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    p = pipeline
    user = add_assigned(p, "lea.lund@example.com", "Lea", "Lund")
    p.enqueue(user, "user.lifecycle.create")
    interrupt_next_create(monkeypatch, SandboxKilledError())
    receipt = invoke_and_crash(p)
    capsys.readouterr()
    time_passes(p, receipt)
    p.drain()

    account = p.tv.user_by_email("lea.lund@example.com")
    assert account is not None and creates(p) == 1
    state = p.state(user)
    assert state is not None
    assert (state.last_outcome, state.last_reason, state.last_operations, state.teamviewer_id) == (
        "adopted",
        "account-adopted",
        [],
        account["id"],
    )
    assert state.last_applied_at is not None and state.pending_create_email is None
    metrics = emf_metrics(capsys.readouterr().out)
    assert (metrics.get("UsersAdopted"), metrics.get("NoChange")) == (1, None)


def test_an_adoption_settled_before_the_sync_fails_stays_dated_and_is_not_counted_twice(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The interrupted create is settled first; Okta then fails, and the retry finishes the sync."""
    p = pipeline
    user = add_assigned(p, "max.mohr@example.com", "Max", "Mohr")
    p.enqueue(user, "user.lifecycle.create")
    interrupt_next_create(monkeypatch, SandboxKilledError())
    receipt = invoke_and_crash(p)
    capsys.readouterr()
    p.okta.token = "rotated-token"  # the read after the settlement is refused: retried
    time_passes(p, receipt)
    assert p.source.poll_once().failed == 1
    failed = p.state(user)
    assert failed is not None
    assert (failed.last_outcome, failed.pending_create_email) == ("retrying", None)
    assert failed.teamviewer_id == p.tv.user_by_email("max.mohr@example.com")["id"]  # type: ignore[index]
    assert failed.last_applied_at is not None, "the adoption was stored, and dated, before the failure"

    p.okta.token = "okta-test-token"
    p.drain()
    done = p.state(user)
    assert done is not None and done.last_outcome == "no-change"
    assert done.last_applied_at == failed.last_applied_at
    assert creates(p) == 1
    assert emf_metrics(capsys.readouterr().out).get("UsersAdopted") == 1


def test_a_create_that_never_reached_teamviewer_is_sent_again(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = pipeline
    user = add_assigned(p, "jon.jung@example.com", "Jon", "Jung")
    interrupt_next_create(monkeypatch, SandboxKilledError(), applied=False)
    p.enqueue(user, "user.lifecycle.create")
    receipt = invoke_and_crash(p)
    assert p.tv.user_by_email("jon.jung@example.com") is None
    time_passes(p, receipt)
    p.drain()

    assert creates(p) == 1
    account = p.tv.user_by_email("jon.jung@example.com")
    assert account is not None and account["active"] is True
    state = p.state(user)
    assert state is not None
    assert (state.teamviewer_id, state.pending_create_email, state.last_outcome, state.last_reason) == (
        account["id"],
        None,
        "applied",
        "account-missing",
    ), "created, not adopted: TeamViewer never had it"


def test_an_interrupted_create_never_adopts_an_account_another_user_is_mapped_to(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The email went to someone else (mapped to that account) before the interrupted create was settled."""
    p = pipeline
    owner = add_assigned(p, "kim.kent@example.com", "Kim", "Kent")
    p.enqueue(owner, "user.lifecycle.create")
    p.drain()
    owners_account = p.tv.user_by_email("kim.kent@example.com")
    assert owners_account is not None

    other = add_assigned(p, "kim.other@example.com", "Kim", "Other")
    store = SyncStateStore(p.aws.session.client("dynamodb"), p.aws.resources.refs["SyncStateTable"])
    store.mark_pending_create(
        other, email="kim.kent@example.com", outcome="creating", reason=PlanReason.CREATE_SENT, at=T0
    )
    p.enqueue(other, "user.lifecycle.create")
    p.drain()

    owner_state, other_state = p.state(owner), p.state(other)
    assert owner_state is not None and other_state is not None
    assert owner_state.teamviewer_id == owners_account["id"]
    assert other_state.teamviewer_id != owners_account["id"], "not taken from the user it belongs to"
    assert other_state.pending_create_email is None
    assert p.tv.user_by_email("kim.other@example.com") is not None, (
        "the other user got an account of their own"
    )
