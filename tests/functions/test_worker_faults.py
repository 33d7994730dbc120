"""WorkerFunction when things go wrong: rate limits that last, the invocation's clock running
out, and failures nobody classified — each must end somewhere an admin can see it, without
burning the queue's receives on events that only had to wait.

Same harness as the other worker tests (``tests.support.pipeline``): embedded AWS (moto), the
emulators over loopback HTTP, and SQS events built as Lambda's event source mapping builds
them. Some tests invoke the handler on an event they built, to pick the remaining time or the
receive count Lambda would report.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Aws, FakeLambdaContext, emf_metrics
from tests.contracts.okta_payloads import OktaContract
from tests.support.pipeline import Pipeline, add_assigned, start_with_recorded_sqs
from tvsync.adapters.sync_state import SyncStateStore
from tvsync.emulators.http import FaultPolicy, RunningServer
from tvsync.emulators.teamviewer import RateLimit, TeamViewerEmulator
from tvsync.local.event_source import PollResult, lambda_sqs_event
from tvsync.local.template import parameter_defaults
from tvsync.models.sync_state import SyncState


def received_event(p: Pipeline, *, receive_count: int | None = None) -> dict[str, Any]:
    """Receive what is visible, as Lambda would hand it over (optionally as the n-th receive)."""
    sqs = p.aws.session.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=p.aws.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
    ).get("Messages", [])
    event = lambda_sqs_event(messages, queue_arn=p.source.queue_arn, region="us-east-1")
    if receive_count is not None:
        for record in event["Records"]:
            record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return event


def poll_with_time_left(p: Pipeline, remaining_ms: int) -> tuple[PollResult, float]:
    """One invocation on what is visible, with ``remaining_ms`` left; and how long it took."""
    source = dataclasses.replace(
        p.source, handler=lambda event: p.worker.lambda_handler(event, FakeLambdaContext(remaining_ms))
    )
    started = time.monotonic()
    result = source.poll_once()
    return result, time.monotonic() - started


def throttled_teamviewer(requests_per_second: float) -> tuple[TeamViewerEmulator, float]:
    """An emulator whose clock stands still: once its one token is spent, every call is refused
    with the same Retry-After (1 / rate), however long the test takes."""
    tv = TeamViewerEmulator(
        rate_limit=RateLimit(requests_per_second=requests_per_second, burst=1), clock=lambda: 0.0
    )
    return tv, 1 / requests_per_second


def spend_the_token(p: Pipeline, servers: list[RunningServer]) -> None:
    """Another client of the same script token (the reconciler, an admin script) took the budget."""
    httpx.get(f"{servers[0].url}/api/v1/ping", headers={"Authorization": "Bearer tv-test-token"})
    p.tv.reset_calls()


def log_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The worker's log lines with their fields (Powertools passes ``extra`` as attributes)."""
    return [
        {**record.__dict__, "level": record.levelname, "message": record.getMessage()}
        for record in caplog.records
    ]


# ---------------------------------------------------------------------------- rate limits


def test_a_lasting_rate_limit_with_a_short_retry_after_takes_minutes_to_dead_letter(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, servers: list[RunningServer], template: dict[str, Any]
) -> None:
    """Each refusal asks for 2 s; honoured as is, ten receives would be gone in well under a
    minute. The worker waits at least its backoff for the receive count instead."""
    tv, retry_after = throttled_teamviewer(requests_per_second=0.5)
    p, sqs = start_with_recorded_sqs(aws, monkeypatch, servers, tv)
    spend_the_token(p, servers)
    p.enqueue(add_assigned(p, "ivy.irwin@example.com", "Ivy", "Irwin"), "user.lifecycle.create")
    event = received_event(p)
    max_receive_count = 10  # template.yaml EventQueue RedrivePolicy
    for receive_count in range(1, max_receive_count):  # the 10th failure goes to the DLQ
        for record in event["Records"]:
            record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        # 11 s left: the in-process retries (which stop 10 s before the end) cannot wait 2 s.
        response = p.worker.lambda_handler(event, FakeLambdaContext(remaining_ms=11_000))
        assert len(response["batchItemFailures"]) == 1
    assert tv.throttled == max_receive_count - 1 and retry_after == 2
    assert sqs.delays == [2, 4, 8, 16, 32, 64, 128, 256, 300]
    age_alarm = float(parameter_defaults(template)["OldestEventAgeAlarmSeconds"])
    assert 10 * 60 < sum(sqs.delays) < age_alarm, "minutes of throttling survived, within the age alarm"


def test_once_teamviewer_throttles_the_rest_of_the_batch_is_not_started(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    servers: list[RunningServer],
) -> None:
    """The limit belongs to the token: trying the next records would only be refused as well."""
    tv, retry_after = throttled_teamviewer(requests_per_second=0.1)  # 10 s: back to SQS at once
    p, sqs = start_with_recorded_sqs(aws, monkeypatch, servers, tv)
    # One record after another, so exactly which records started is known; users side by
    # side: tests/unit/services/test_sqs_batch_concurrency.py.
    monkeypatch.setattr(p.worker.worker, "record_concurrency", 1)
    spend_the_token(p, servers)
    users = [add_assigned(p, f"user{n}@example.com", "User", f"Number{n}") for n in range(3)]
    for user in users:
        p.enqueue(user, "user.lifecycle.create")
    p.okta.reset_calls()
    capsys.readouterr()
    caplog.clear()
    result = p.source.poll_once()
    assert (result.received, result.failed) == (3, 3)
    assert [c.status for c in tv.calls] == [429], "one refused create, no other TeamViewer call"
    assert {c.path.rsplit("/", 1)[1] for c in p.okta.calls} == {users[0]}, "only the first user was read"
    assert sqs.delays == [retry_after] * 3
    handed_back = [line for line in log_lines(caplog) if "without being started" in line["message"]]
    assert [(line["records"], line["reason"]) for line in handed_back] == [(2, "rate limited")]
    assert p.state(users[0]).last_outcome == "retrying"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------- the clock


def test_records_are_not_started_when_the_invocation_is_about_to_time_out(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, servers: list[RunningServer]
) -> None:
    """Lambda kills an invocation at its timeout with nothing reported: every record of the batch
    then waits out the queue's six-minute visibility timeout. Unstarted records go back at once."""
    p, sqs = start_with_recorded_sqs(
        aws, monkeypatch, servers, TeamViewerEmulator(faults=FaultPolicy(latency=0.2))
    )
    users = [add_assigned(p, f"user{n}@example.com", "User", f"Number{n}") for n in range(4)]
    for user in users:
        p.enqueue(user, "user.lifecycle.create")
    result, took = poll_with_time_left(p, remaining_ms=15_000)
    assert took < 5
    assert (result.received, result.failed) == (4, 3), "the first record always runs; the rest wait"
    assert len(p.tv.users()) == 2, "the token owner and the one user whose record was started"
    assert sqs.delays == [1, 1, 1]
    time.sleep(1.2)
    waiting = aws.session.client("sqs").get_queue_attributes(
        QueueUrl=aws.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert waiting == "3", "visible again after a second, not six minutes"
    p.drain()
    assert sorted(u["email"] for u in p.tv.users())[1:] == [f"user{n}@example.com" for n in range(4)]
    assert p.dlq_count() == 0


def test_the_company_scan_for_an_account_to_revoke_stops_before_the_timeout(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, servers: list[RunningServer]
) -> None:
    tv = TeamViewerEmulator(faults=FaultPolicy(latency=0.1))
    tv.add_users([(f"staff{n}@example.com", f"Staff {n}", True) for n in range(3000)])
    tv.add_user("Dave.Dunn@example.com", "Dave Dunn")  # last page, other case
    p, _ = start_with_recorded_sqs(aws, monkeypatch, servers, tv)
    dave = add_assigned(p, "dave.dunn@example.com", "Dave", "Dunn")
    p.okta.set_status(dave, "SUSPENDED")
    p.enqueue(dave, "user.lifecycle.suspend")
    # 10.5 s left: retries and scans stop 10 s before the end, so after about half a second.
    result, took = poll_with_time_left(p, remaining_ms=10_500)
    assert took < 3
    assert result.failed == 1
    assert len(tv.calls) < 15, "stopped well before the 31 pages"
    state = p.state(dave)
    assert state is not None and state.last_outcome == "retrying"
    assert "out of time" in (state.last_reason or "")
    # With a whole invocation to spend, the scan completes and access is revoked.
    p.drain()
    assert p.tv_account("dave.dunn@example.com")["active"] is False  # type: ignore[index]


# ---------------------------------------------------------------------------- unclassified failures


def test_a_message_that_is_not_a_sync_request_is_dropped_visibly_and_the_user_moves_on(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    servers: list[RunningServer],
) -> None:
    """It would fail the same way on every receive and after any redrive, holding up the user's
    later events meanwhile; the next event converges the user anyway."""
    p, _ = start_with_recorded_sqs(aws, monkeypatch, servers)
    alice = add_assigned(p, "alice.archer@example.com", "Alice", "Archer")
    bob = add_assigned(p, "bob.baker@example.com", "Bob", "Baker")
    sqs = aws.session.client("sqs")
    newer_schema = {"schema_version": 2, "okta_user_id": alice, "event_uuid": "evt-v2", "event_type": "x"}
    for user, body, uuid in [(alice, json.dumps(newer_schema), "evt-v2"), (bob, "{not json", "evt-garbled")]:
        sqs.send_message(
            QueueUrl=aws.queue_url, MessageBody=body, MessageGroupId=user, MessageDeduplicationId=uuid
        )
    p.enqueue(alice, "user.lifecycle.create")  # behind the unreadable one, same message group
    capsys.readouterr()
    caplog.clear()
    result = p.source.poll_once()
    assert (result.received, result.failed) == (3, 0)
    assert p.tv_account("alice.archer@example.com") is not None, "the user's next event still ran"
    out = capsys.readouterr().out
    dropped = [line for line in log_lines(caplog) if "not a sync request" in line["message"]]
    assert [(line["level"], line["message_group_id"]) for line in dropped] == [
        ("ERROR", alice),
        ("ERROR", bob),
    ]
    assert "schema_version" in dropped[0]["problem"]
    assert emf_metrics(out).get("InvalidRequests") == 2
    state = p.state(bob)
    assert state is not None and state.last_outcome == "invalid"
    assert "not a sync request" in (state.last_reason or "")
    assert p.dlq_count() == 0
    assert aws.drain() == []


def test_a_user_okta_describes_unreadably_is_recorded_as_invalid_not_retried(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    servers: list[RunningServer],
    okta_contract: OktaContract,
) -> None:
    p, _ = start_with_recorded_sqs(aws, monkeypatch, servers)
    user = add_assigned(p, "carol.chen@example.com", "Carol", "Chen")
    p.okta.update_profile(user, email=None)  # Okta requires it; an API client wrote null anyway
    uuid = p.enqueue(user, "user.account.update_profile")
    capsys.readouterr()
    caplog.clear()
    result = p.source.poll_once()
    assert (result.received, result.failed) == (1, 0), "the same answer every time: not retried"
    state = p.state(user)
    assert state is not None
    assert (state.last_outcome, state.last_reason) == (
        "invalid",
        "okta get_user failed: unexpected OktaUser shape: profile.email",
    )
    out = capsys.readouterr().out
    assert emf_metrics(out).get("InvalidRequests") == 1
    assert any(line.get("event_uuid") == uuid and line["level"] == "WARNING" for line in log_lines(caplog))
    # The body is broken on purpose: take back the Okta contract violation it provokes.
    assert [v.split(": ", 1)[1] for v in okta_contract.take()] == [
        "$.profile.email: missing, but OktaProfile requires it"
    ]


def test_an_unreadable_sync_state_is_logged_and_counted_and_keeps_the_mapping(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    servers: list[RunningServer],
) -> None:
    p, _ = start_with_recorded_sqs(aws, monkeypatch, servers)
    user = add_assigned(p, "dan.dale@example.com", "Dan", "Dale")
    p.enqueue(user, "user.lifecycle.create")
    p.drain()
    mapped = p.state(user)
    assert mapped is not None and mapped.teamviewer_id is not None

    throttled = ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "GetItem"
    )

    def unreadable(self: SyncStateStore, okta_user_id: str) -> SyncState | None:
        raise throttled

    with monkeypatch.context() as patched:
        patched.setattr(SyncStateStore, "get", unreadable)
        p.okta.set_status(user, "SUSPENDED")
        uuid = p.enqueue(user, "user.lifecycle.suspend")
        capsys.readouterr()
        caplog.clear()
        assert p.source.poll_once().failed == 1
    out = capsys.readouterr().out
    [line] = [line for line in log_lines(caplog) if line.get("event_uuid") == uuid]
    assert line["level"] == "ERROR" and "ProvisionedThroughputExceededException" in line["error"]
    assert "Traceback" in line["traceback"]
    assert emf_metrics(out).get("TransientFailures") == 1
    after = p.state(user)
    assert after is not None
    # Only the outcome is recorded (a partial update): the mapping it could not read survives.
    assert after.model_dump(exclude={"last_outcome", "last_reason", "updated_at"}) == mapped.model_dump(
        exclude={"last_outcome", "last_reason", "updated_at"}
    )
    assert after.last_outcome == "retrying"
    assert "ProvisionedThroughputExceededException" in (after.last_reason or "")


def test_an_unexpected_failure_is_recorded_as_the_last_error_with_emails_masked(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    servers: list[RunningServer],
) -> None:
    """``tvsync dlq list`` shows the SyncStateTable reason next to a dead-lettered event."""
    from tvsync.adapters.dead_letters import DeadLetter
    from tvsync.adapters.teamviewer_client import TeamViewerClient
    from tvsync.cli.dlq import DeadLetterView

    p, _ = start_with_recorded_sqs(aws, monkeypatch, servers)
    user = add_assigned(p, "erin.evans@example.com", "Erin", "Evans")

    def broken(self: TeamViewerClient, email: str, name: str, **kwargs: Any) -> Any:
        raise KeyError(email)  # a bug, say

    monkeypatch.setattr(TeamViewerClient, "create", broken)
    uuid = p.enqueue(user, "user.lifecycle.create")
    capsys.readouterr()
    caplog.clear()
    assert p.source.poll_once().failed == 1
    out = capsys.readouterr().out
    assert "erin.evans@example.com" not in out + str(log_lines(caplog))
    [line] = [line for line in log_lines(caplog) if line.get("event_uuid") == uuid]
    assert (line["level"], line["error"]) == ("ERROR", "KeyError: 'e***@example.com'")
    assert emf_metrics(out).get("TransientFailures") == 1
    state = p.state(user)
    assert state is not None and state.last_outcome == "retrying"
    letter = DeadLetter("m-1", user, uuid, 10, None, None, request=None)
    assert DeadLetterView(letter, state).last_error == "KeyError: 'e***@example.com'"
