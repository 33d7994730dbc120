"""BatchWorker over fakes: what each record's ending means for SQS, with the invocation's clock held.

The Lambda context's remaining time and the worker's deadline read one settable monotonic
clock, so "out of time" is a clock a test moves, not a wait; the SQS client is a recorder of
the redelivery delays asked for (``RecordedVisibility``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from tests.support.fakes import RecordedVisibility, clocked_context
from tests.support.world import World, sqs_event, sqs_record
from tvsync.adapters.errors import ThrottledError, TransientError
from tvsync.core.outcome import Detail
from tvsync.models.sync_request import SyncRequest
from tvsync.services.sqs_batch import MAX_VISIBILITY_SECONDS, BatchWorker, RetryLaterError

Process = Callable[..., dict[str, Any]]


class Scripted:
    """A ``process`` that answers per user as told, and remembers whom it was handed."""

    def __init__(self, world: World, **by_user: Callable[[SyncRequest], dict[str, Any]]) -> None:
        self.world = world
        self.by_user = by_user
        self.handled: list[str] = []

    def __call__(self, *, request: SyncRequest) -> dict[str, Any]:
        self.handled.append(request.okta_user_id)
        answer = self.by_user.get(request.okta_user_id)
        return answer(request) if answer is not None else {"outcome": "no-change"}


def raises(error: Exception) -> Callable[[SyncRequest], dict[str, Any]]:
    def answer(request: SyncRequest) -> dict[str, Any]:
        raise error

    return answer


def takes(world: World, seconds: float) -> Callable[[SyncRequest], dict[str, Any]]:
    """A record whose handling takes ``seconds`` of the invocation's time."""

    def answer(request: SyncRequest) -> dict[str, Any]:
        world.monotonic.advance(seconds)
        return {"outcome": "applied"}

    return answer


def retry_later(
    delay: float | None = None, *, throttled: bool = False
) -> Callable[[SyncRequest], dict[str, Any]]:
    cause = (
        ThrottledError("teamviewer", "create_user", "429", status=429)
        if throttled
        else TransientError("teamviewer", "create_user", "503")
    )
    return raises(RetryLaterError(cause, delay, throttled=throttled))


def invoke(
    world: World,
    worker: BatchWorker,
    *records: dict[str, Any],
    timeout: float = 900.0,
) -> list[str]:
    """One invocation; returns the message ids reported as failed."""
    response = worker.handle(sqs_event(*records), clocked_context(world.monotonic, timeout))
    return [str(item["itemIdentifier"]) for item in response["batchItemFailures"]]


def record_for(
    world: World, user: str, *, receive_count: int = 1, message_id: str | None = None
) -> dict[str, Any]:
    return sqs_record(world.request(user), receive_count=receive_count, message_id=message_id or f"m-{user}")


def test_a_batch_that_succeeds_asks_sqs_for_nothing() -> None:
    w = World()
    sqs = RecordedVisibility()
    process = Scripted(w)
    worker = w.batch_worker(process, sqs=sqs)
    assert invoke(w, worker, record_for(w, "u1"), record_for(w, "u2")) == []
    assert process.handled == ["u1", "u2"] and sqs.batches == []


@pytest.mark.parametrize(("receive_count", "backoff"), [(1, 2), (2, 4), (5, 32), (9, 300), (10, 300)])
def test_a_failed_record_comes_back_after_its_backoff_and_its_group_waits_with_it(
    receive_count: int, backoff: int
) -> None:
    w = World()
    sqs = RecordedVisibility()
    process = Scripted(w, u1=retry_later())
    worker = w.batch_worker(process, sqs=sqs)
    first = record_for(w, "u1", receive_count=receive_count, message_id="m-1")
    same_user = sqs_record(w.request("u1"), receive_count=1, message_id="m-2")
    other = record_for(w, "u2", message_id="m-3")
    assert invoke(w, worker, first, same_user, other) == ["m-1", "m-2"]
    assert process.handled == ["u1", "u2"], "the user's later event is not started; other users go on"
    assert sqs.delays == {"rh-m-1": backoff, "rh-m-2": backoff}


def test_a_server_requested_wait_longer_than_the_backoff_is_honoured_and_capped_at_12_hours() -> None:
    w = World()
    sqs = RecordedVisibility()
    worker = w.batch_worker(Scripted(w, u1=retry_later(50.0), u2=retry_later(10**6)), sqs=sqs)
    assert invoke(w, worker, record_for(w, "u1"), record_for(w, "u2")) == ["m-u1", "m-u2"]
    assert sqs.delays == {"rh-m-u1": 50, "rh-m-u2": MAX_VISIBILITY_SECONDS}


def test_once_rate_limited_the_rest_of_the_batch_goes_back_unstarted_each_after_its_own_backoff() -> None:
    w = World()
    sqs = RecordedVisibility()
    process = Scripted(w, u1=retry_later(10.0, throttled=True))
    worker = w.batch_worker(process, sqs=sqs)
    records = [
        record_for(w, "u1"),
        record_for(w, "u2", receive_count=1),
        record_for(w, "u3", receive_count=5),
    ]
    assert invoke(w, worker, *records) == ["m-u1", "m-u2", "m-u3"]
    assert process.handled == ["u1"], "the limit is the token's: nobody else is refused for nothing"
    # The server's wait, but never less than each record's backoff (u3 is on its fifth receive).
    assert sqs.delays == {"rh-m-u1": 10, "rh-m-u2": 10, "rh-m-u3": 32}
    [line] = w.logs.lines("Records handed back to SQS without being started")
    assert (line["records"], line["reason"]) == (2, "rate limited")


def test_near_the_timeout_records_are_not_started_and_come_back_in_a_second() -> None:
    w = World()
    sqs = RecordedVisibility()
    process = Scripted(w, u1=takes(w, 15.0))
    worker = w.batch_worker(process, sqs=sqs)
    records = [record_for(w, f"u{n}", receive_count=4) for n in range(1, 5)]
    # 30 s left: the first record always starts; it leaves 15 s, under the 20 s a record needs.
    assert invoke(w, worker, *records, timeout=30.0) == ["m-u2", "m-u3", "m-u4"]
    assert process.handled == ["u1"]
    assert sqs.delays == {"rh-m-u2": 1, "rh-m-u3": 1, "rh-m-u4": 1}, "no backoff: they did nothing wrong"
    [line] = w.logs.lines("Records handed back to SQS without being started")
    assert (line["records"], line["reason"]) == (3, "out of time (15.0 s left)")


def test_the_first_record_always_starts_however_little_time_is_left() -> None:
    w = World()
    process = Scripted(w)
    worker = w.batch_worker(process)
    assert invoke(w, worker, record_for(w, "u1"), record_for(w, "u2"), timeout=5.0) == ["m-u2"]
    assert process.handled == ["u1"]


def test_each_invocation_starts_the_deadline_shared_with_retries_and_scans() -> None:
    w = World()
    worker = w.batch_worker(Scripted(w))
    invoke(w, worker, record_for(w, "u1"), timeout=60.0)
    assert w.deadline.at == w.monotonic.now + 60.0 - worker.retry_budget_seconds


def test_a_hand_back_does_not_outlive_its_invocation() -> None:
    w = World()
    process = Scripted(w, u1=retry_later(10.0, throttled=True))
    worker = w.batch_worker(process)
    invoke(w, worker, record_for(w, "u1"), record_for(w, "u2"))
    process.by_user.clear()
    assert invoke(w, worker, record_for(w, "u1", message_id="m-again"), record_for(w, "u2")) == []
    assert process.handled == ["u1", "u1", "u2"]


def test_an_event_in_progress_elsewhere_is_checked_again_in_five_seconds() -> None:
    w = World()
    sqs = RecordedVisibility()
    worker = w.batch_worker(Scripted(w, u1=raises(IdempotencyAlreadyInProgressError("evt"))), sqs=sqs)
    assert invoke(w, worker, record_for(w, "u1", receive_count=3)) == ["m-u1"]
    assert sqs.delays == {"rh-m-u1": 8}, "the backoff of a third receive is longer than 5 s"
    assert invoke(w, worker, record_for(w, "u1", receive_count=1, message_id="m-first")) == ["m-first"]
    assert sqs.delays["rh-m-first"] == 5


def test_a_failure_outside_the_synchroniser_is_counted_logged_and_retried() -> None:
    w = World()
    sqs = RecordedVisibility()
    worker = w.batch_worker(Scripted(w, u1=raises(RuntimeError("idempotency table unreachable"))), sqs=sqs)
    assert invoke(w, worker, record_for(w, "u1")) == ["m-u1"]
    assert w.metric("TransientFailures") == 1
    [line] = w.logs.lines("Record failed unexpectedly; SQS will redeliver")
    assert (line["level"], line["okta_user_id"], line["error"]) == (
        "ERROR",
        "u1",
        "RuntimeError: idempotency table unreachable",
    )
    assert sqs.delays == {"rh-m-u1": 2}


def test_an_unreadable_body_is_dropped_visibly_and_its_user_moves_on() -> None:
    w = World()
    rejected: list[tuple[str, Detail]] = []
    process = Scripted(w)
    worker = w.batch_worker(process, reject=lambda user, reason: rejected.append((user, reason)))
    newer_schema = {"schema_version": 2, "okta_user_id": "u1", "event_uuid": "e", "event_type": "x"}
    records = [
        sqs_record(json.dumps(newer_schema), group="u1", message_id="m-v2"),
        sqs_record('{"okta_user_id": "jane.doe@example.com", not json', group="u2", message_id="m-garbled"),
        record_for(w, "u1"),  # behind the unreadable one, same message group
    ]
    assert invoke(w, worker, *records) == [], "dropped, not retried"
    assert process.handled == ["u1"]
    assert w.metric("InvalidRequests") == 2
    dropped = w.logs.lines("Message is not a sync request; dropped, not retried")
    assert [(line["level"], line["message_group_id"]) for line in dropped] == [
        ("ERROR", "u1"),
        ("ERROR", "u2"),
    ]
    assert "schema_version" in dropped[0]["problem"]
    assert [user for user, _ in rejected] == ["u1", "u2"]
    assert rejected[1][1].startswith("message m-garbled dropped, not a sync request: ")
    assert "jane.doe" not in str(w.logs.lines()) + str(rejected), "the problem names fields, never values"


def test_an_unreadable_body_recorded_through_the_synchroniser_keeps_the_mapping() -> None:
    w = World()
    alice = w.add_assigned("alice.archer@example.com", "Alice", "Archer")
    w.sync(alice)
    worker = w.batch_worker()
    assert invoke(w, worker, sqs_record("{}", group=alice, message_id="m-empty")) == []
    state = w.record(alice)
    assert state.last_outcome == "invalid" and state.teamviewer_id is not None
    assert (state.last_reason or "").startswith(
        "message m-empty dropped, not a sync request: okta_user_id: Field required"
    )


def test_a_redelivery_delay_sqs_refuses_is_logged_and_the_response_still_returned() -> None:
    w = World()
    sqs = RecordedVisibility(error=RuntimeError("SQS is down"))
    worker = w.batch_worker(Scripted(w, u1=retry_later()), sqs=sqs)
    assert invoke(w, worker, record_for(w, "u1")) == ["m-u1"]
    [line] = w.logs.lines("Could not shorten the redelivery delay of failed records")
    assert line["level"] == "ERROR"


def test_through_the_synchroniser_a_rate_limited_teamviewer_stops_the_batch_after_one_call() -> None:
    w = World()
    users = [w.add_assigned(f"user{n}@example.com", "User", f"Number{n}") for n in range(3)]
    w.tv.fail("create", ThrottledError("teamviewer", "create_user", "429", status=429, retry_after=10.0))
    sqs = RecordedVisibility()
    worker = w.batch_worker(sqs=sqs)
    failed = invoke(w, worker, *(record_for(w, user) for user in users))
    assert failed == [f"m-{user}" for user in users]
    assert w.tv.operations() == ["create"]
    assert {c.args[-1] for c in w.okta.calls} == {users[0]}, "only the first user was read"
    assert w.record(users[0]).last_outcome == "retrying"
    assert w.state.stored(users[1]) is None
    assert set(sqs.delays.values()) == {10}
    assert w.metric("TeamViewerThrottled") == 1
