"""EventQueue: every request either queued or reported failed, never past the deadline, and
each user's requests reach SQS in order, whatever the lanes sent side by side.

A scripted SQS client plays the one-lane cases: what each SendMessageBatch call does, in
order, and how long it takes on a fake clock. The lane cases use a thread-safe fake that
decides by the message group instead of the call order (which threads make unpredictable),
and the ordering case uses SQS FIFO in moto.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from tests.conftest import Aws
from tests.support.clocks import LaneClock
from tvsync.adapters.event_queue import EventQueue, SendOutcome, deduplication_id, plan_lanes
from tvsync.models.sync_request import SyncRequest, group_request_key

AWS = "https://sqs.us-east-1.amazonaws.com"


def request(user: str, uuid: str, event_type: str = "user.lifecycle.create", second: int = 0) -> SyncRequest:
    return SyncRequest(
        okta_user_id=user,
        event_uuid=uuid,
        event_type=event_type,
        published=datetime(2026, 11, 2, 9, 0, second, tzinfo=UTC),
    )


def requests(n: int) -> list[SyncRequest]:
    return [request(f"00u{index:017d}", f"evt-{index:03d}") for index in range(n)]


@dataclass
class ScriptedSqs:
    """``steps``: per call, "ok" (all taken), "down", "timeout" or "throttled" (the call
    fails), "retry:<ids>" (those entry ids fail retryably) or "reject:<ids>" (they fail as
    the sender's fault); calls beyond the script succeed. Each call takes ``seconds``."""

    steps: list[str]
    seconds: float = 0.0
    now: float = 0.0
    calls: list[list[str]] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.now += self.seconds
        step = self.steps.pop(0) if self.steps else "ok"
        if step == "down":
            raise EndpointConnectionError(endpoint_url=AWS)
        if step == "timeout":
            raise ReadTimeoutError(endpoint_url=AWS)
        if step == "throttled":
            raise ClientError({"Error": {"Code": "ThrottlingException"}}, "SendMessageBatch")
        kind, _, ids = step.partition(":")
        failing = set(ids.split(",")) if ids else set()
        ok = [e for e in Entries if e["Id"] not in failing]
        self.calls.append([e["MessageDeduplicationId"] for e in Entries])
        sender_fault = kind == "reject"
        failed = [{"Id": e["Id"], "SenderFault": sender_fault, "Code": "X"} for e in Entries if e not in ok]
        return {"Successful": [{"Id": e["Id"]} for e in ok], "Failed": failed}


def send(sqs: ScriptedSqs, events: int, deadline: float | None = None) -> SendOutcome:
    queue = EventQueue(sqs, "queue-url", sleep=lambda _: None, clock=sqs.clock)  # type: ignore[arg-type]
    return queue.send(requests(events), deadline=deadline)


@pytest.mark.parametrize(
    ("events", "steps", "queued", "calls"),
    [
        pytest.param(25, [], 25, 3, id="all taken: one call per ten"),
        pytest.param(10, ["down", "ok"], 10, 2, id="a failed call is retried"),
        pytest.param(10, ["throttled", "timeout", "ok"], 10, 3, id="throttled, timed out, then taken"),
        pytest.param(10, ["retry:3,4", "ok"], 10, 2, id="entries failing inside a call are retried"),
        pytest.param(10, ["retry:3", "retry:3", "retry:3"], 9, 3, id="an entry failing every time"),
        pytest.param(20, ["reject:0", "ok"], 19, 2, id="a sender fault is not retried; the rest go on"),
        pytest.param(30, ["down", "down", "down"], 0, 3, id="SQS unreachable: later chunks not tried"),
        pytest.param(30, ["ok", "down", "down", "down"], 10, 4, id="SQS lost after the first chunk"),
    ],
)
def test_every_request_is_queued_or_reported(events: int, steps: list[str], queued: int, calls: int) -> None:
    sqs = ScriptedSqs(steps)
    outcome = send(sqs, events)
    assert (len(outcome.queued), outcome.calls) == (queued, calls)
    assert sorted(outcome.queued + outcome.failed) == [r.event_uuid for r in requests(events)]
    assert outcome.complete == (queued == events)
    # The worker re-reads each user, so order across retries is harmless; within a call the
    # entries keep the delivery's order (the order SQS keeps within a message group).
    assert all(call == sorted(call) for call in sqs.calls)


@pytest.mark.parametrize(
    ("deadline", "steps", "queued", "calls"),
    [
        pytest.param(0.0, [], 0, 0, id="deadline already passed: no call at all"),
        pytest.param(1.5, [], 20, 2, id="1 s calls: the third would start after the deadline"),
        pytest.param(2.5, ["timeout"] * 3, 0, 3, id="hanging SQS: three tries fit"),
        pytest.param(1.5, ["timeout"] * 3, 0, 2, id="hanging SQS: no retry starts after it"),
    ],
)
def test_no_call_starts_past_the_deadline(deadline: float, steps: list[str], queued: int, calls: int) -> None:
    outcome = send(ScriptedSqs(steps, seconds=1.0), 30, deadline=deadline)
    assert (len(outcome.queued), outcome.calls) == (queued, calls)
    assert len(outcome.failed) == 30 - queued


def test_call_failures_are_named_for_the_log() -> None:
    outcome = send(ScriptedSqs(["down", "timeout", "throttled"]), 1)
    assert outcome.errors == ["EndpointConnectionError", "ReadTimeoutError", "ClientError"]
    assert outcome.failed == ["evt-000"]


# ------------------------------------------------------------------ lanes


def user_requests(users: int, per_user: int) -> list[SyncRequest]:
    """``users`` users with ``per_user`` events each, interleaved as a bulk change arrives."""
    return [
        request(f"00u{user:017d}", f"evt-{round_:02d}-{user:03d}", "user.account.update_profile", round_)
        for round_ in range(per_user)
        for user in range(users)
    ]


def by_user(requests: list[SyncRequest]) -> dict[str, list[str]]:
    order: dict[str, list[str]] = {}
    for request in requests:
        order.setdefault(request.okta_user_id, []).append(request.event_uuid)
    return order


def test_lanes_keep_each_user_whole_and_in_order_and_balance_the_events() -> None:
    skewed = [
        request(user, f"{user}-{n:02d}")
        for user, count in (("heavy", 30), ("a", 10), ("b", 10), ("c", 10))
        for n in range(count)
    ]
    assert sorted(len(lane) for lane in plan_lanes(skewed, 2)) == [30, 30]
    many = user_requests(users=25, per_user=1)
    # No more lanes than calls of ten: 25 events make 3 lanes, not 16.
    assert sorted(len(lane) for lane in plan_lanes(many, 16)) == [8, 8, 9]
    assert len(plan_lanes(user_requests(users=1, per_user=50), 16)) == 1
    assert plan_lanes([], 16) == []
    requests = user_requests(users=40, per_user=6)
    lanes = plan_lanes(requests, 8)
    assert len(lanes) == 8
    for lane in lanes:
        # Every user of the lane has all its events there, in the caller's order.
        assert by_user(lane) == {user: by_user(requests)[user] for user in by_user(lane)}
    assert sorted(r.event_uuid for lane in lanes for r in lane) == sorted(r.event_uuid for r in requests)


def test_each_users_messages_reach_sqs_in_delivery_order_under_concurrency(aws: Aws) -> None:
    requests = user_requests(users=37, per_user=6)
    queue = EventQueue(aws.session.client("sqs"), aws.queue_url, concurrency=8)
    outcome = queue.send(requests)
    assert outcome.complete and outcome.lanes == 8
    assert outcome.queued == [r.event_uuid for r in requests]
    assert outcome.calls == sum(-(-len(lane) // 10) for lane in plan_lanes(requests, 8))
    received: dict[str, list[str]] = {}
    for message in aws.drain():
        attributes = message["Attributes"]
        received.setdefault(attributes["MessageGroupId"], []).append(attributes["MessageDeduplicationId"])
    assert received == by_user(requests)


def taken(
    entries: list[dict[str, Any]], failing: Collection[str] = (), sender_fault: bool = False
) -> dict[str, Any]:
    ok = [e for e in entries if e["MessageGroupId"] not in failing]
    return {
        "Successful": [{"Id": e["Id"]} for e in ok],
        "Failed": [{"Id": e["Id"], "SenderFault": sender_fault, "Code": "X"} for e in entries if e not in ok],
    }


@dataclass
class ConcurrentSqs:
    """A thread-safe fake: ``behaviour`` decides each call from its entries (or raises), after
    ``barrier`` (when set) has gathered that many calls in flight at once."""

    behaviour: Callable[[list[dict[str, Any]]], dict[str, Any]] = taken
    barrier: threading.Barrier | None = None
    in_flight: int = 0
    max_in_flight: int = 0
    #: Per call: the thread, and the dedup ids it carried.
    calls: list[tuple[threading.Thread, list[str]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.calls.append((threading.current_thread(), [e["MessageDeduplicationId"] for e in Entries]))
        try:
            if self.barrier is not None and not self.barrier.broken:
                with contextlib.suppress(threading.BrokenBarrierError):
                    self.barrier.wait(timeout=10)
            return self.behaviour(Entries)
        finally:
            with self._lock:
                self.in_flight -= 1

    def sent(self) -> dict[str, list[str]]:
        """Dedup ids by message group, in the order the calls were made."""
        groups: dict[str, list[str]] = {}
        for _, uuids in self.calls:
            for uuid in uuids:
                groups.setdefault(f"00u{int(uuid.rsplit('-', 1)[1]):017d}", []).append(uuid)
        return groups


def test_no_more_calls_are_in_flight_than_the_concurrency() -> None:
    sqs = ConcurrentSqs(barrier=threading.Barrier(4))
    outcome = EventQueue(sqs, "queue-url", concurrency=4).send(user_requests(users=40, per_user=5))  # type: ignore[arg-type]
    assert outcome.complete and outcome.lanes == 4
    # The barrier only opens once four calls are in flight together: four lanes ran at once.
    assert not sqs.barrier.broken  # type: ignore[union-attr]
    assert sqs.max_in_flight == 4
    assert outcome.calls == len(sqs.calls) == 20


def test_no_lane_starts_a_call_after_the_deadline() -> None:
    clock = LaneClock()
    starts: list[float] = []

    def slow(entries: list[dict[str, Any]]) -> dict[str, Any]:
        starts.append(clock.last_reading)
        clock.advance(0.3)
        return taken(entries)

    requests = user_requests(users=40, per_user=5)  # 4 lanes of 5 calls; 4 fit before 1.0
    sqs = ConcurrentSqs(slow)
    queue = EventQueue(sqs, "queue-url", concurrency=4, sleep=lambda _: None, clock=clock)  # type: ignore[arg-type]
    outcome = queue.send(requests, deadline=1.0)
    assert starts and max(starts) < 1.0
    assert outcome.calls == len(starts) <= 4 * 4
    assert outcome.failed, "the last call of every lane would have started after the deadline"
    assert sorted(outcome.queued + outcome.failed) == sorted(r.event_uuid for r in requests)
    assert not set(outcome.queued) & set(outcome.failed)
    # What was queued is, for every user, the start of its events.
    for user, uuids in by_user(requests).items():
        queued = [u for u in uuids if u in set(outcome.queued)]
        assert queued == uuids[: len(queued)], user


@pytest.mark.parametrize("sender_fault", [False, True], ids=["retryable", "sender-fault"])
def test_a_user_whose_event_failed_gets_no_later_event_sent(sender_fault: bool) -> None:
    stuck = "00u00000000000000007"
    sqs = ConcurrentSqs(lambda entries: taken(entries, {stuck}, sender_fault))
    requests = user_requests(users=40, per_user=5)
    outcome = EventQueue(sqs, "queue-url", concurrency=4, sleep=lambda _: None).send(requests)  # type: ignore[arg-type]
    stuck_events = by_user(requests)[stuck]
    assert outcome.failed == stuck_events
    assert outcome.queued == [r.event_uuid for r in requests if r.okta_user_id != stuck]
    # Only its first event was ever sent (tried three times when retryable); the later ones
    # would have reached the queue ahead of it.
    assert sqs.sent()[stuck] == [stuck_events[0]] * (1 if sender_fault else 3)
    assert {user: uuids for user, uuids in sqs.sent().items() if user != stuck} == {
        user: uuids for user, uuids in by_user(requests).items() if user != stuck
    }


def test_once_sqs_is_unreachable_no_lane_starts_another_call() -> None:
    requests = [
        request(user, f"{user}-{n:02d}") for n in range(30) for user in ("00uunreachable", "00ureachable")
    ]
    failing_lane: list[threading.Thread] = []
    failing, started = threading.Event(), threading.Event()

    def behaviour(entries: list[dict[str, Any]]) -> dict[str, Any]:
        if entries[0]["MessageGroupId"] == "00uunreachable":
            # SQS is lost while the other lane's first call is under way...
            assert started.wait(10)
            failing_lane.append(threading.current_thread())
            failing.set()
            raise EndpointConnectionError(endpoint_url=AWS)
        started.set()
        # ...which ends only once the failing lane has given up.
        assert failing.wait(10)
        failing_lane[0].join(10)
        assert not failing_lane[0].is_alive()
        return taken(entries)

    sqs = ConcurrentSqs(behaviour)
    outcome = EventQueue(sqs, "queue-url", concurrency=2, sleep=lambda _: None).send(requests)  # type: ignore[arg-type]
    reachable = [f"00ureachable-{n:02d}" for n in range(30)]
    assert outcome.queued == reachable[:10], "the chunk under way when SQS was lost is kept"
    assert sorted(outcome.failed) == sorted([f"00uunreachable-{n:02d}" for n in range(30)] + reachable[10:])
    assert (outcome.calls, outcome.errors) == (4, ["EndpointConnectionError"] * 3)
    assert len(sqs.calls) == 4


def test_a_bug_in_a_lane_is_raised_not_reported_as_an_sqs_failure() -> None:
    def broken(entries: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Successful": [{"Id": "no-such-entry"}]}

    queue = EventQueue(ConcurrentSqs(broken), "queue-url", concurrency=4)  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        queue.send(user_requests(users=40, per_user=2))


# ---------------------------------------------------------------------------- requests about groups


def test_a_membership_request_and_a_user_request_of_one_event_are_both_queued(aws: Aws) -> None:
    # Same user (so the same message group), same event uuid: SQS would drop the second as
    # a duplicate if the group were not part of its deduplication id; and the group request
    # must not collide with the membership request where SQS deduplicates per queue.
    user = request("00u1alice00000000001", "evt-membership")
    membership = user.model_copy(update={"okta_group_id": "00g1support0000000001"})
    group = SyncRequest(
        okta_user_id=group_request_key("00g1support0000000001"),
        okta_group_id="00g1support0000000001",
        event_uuid="evt-membership",
        event_type="group.profile.update",
        published=user.published,
    )
    outcome = EventQueue(aws.session.client("sqs"), aws.queue_url).send([user, membership, group])
    assert outcome.complete
    received = {
        (
            m["Attributes"]["MessageGroupId"],
            m["Attributes"]["MessageDeduplicationId"],
        ): SyncRequest.model_validate_json(m["Body"])
        for m in aws.drain()
    }
    assert received == {
        ("00u1alice00000000001", "evt-membership"): user,
        ("00u1alice00000000001", "evt-membership.00g1support0000000001"): membership,
        ("group-00g1support0000000001", "evt-membership.group-00g1support0000000001"): group,
    }


def test_a_deduplication_id_stays_within_what_sqs_accepts() -> None:
    plain = request("00u1", "e" * 128)
    assert deduplication_id(plain) == "e" * 128, "a request without a group keeps its bare uuid"
    long = plain.model_copy(update={"okta_group_id": "g" * 64})
    other = plain.model_copy(update={"okta_group_id": "h" * 64})
    assert len(deduplication_id(long)) <= 128
    assert re.fullmatch(r"[0-9a-f]{64}", deduplication_id(long))
    assert deduplication_id(long) != deduplication_id(other) != deduplication_id(plain)
    group = long.model_copy(update={"okta_user_id": group_request_key("g" * 64)})
    assert group.is_group_request and not long.is_group_request and long.is_membership_request
    assert deduplication_id(group) not in {deduplication_id(long), deduplication_id(plain)}
