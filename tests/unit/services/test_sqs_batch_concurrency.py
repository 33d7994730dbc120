"""BatchWorker with several users' records side by side: FIFO order per user, failures per user.

The ``process`` fakes here run on the batch worker's threads. Where a test needs records to
overlap, or one record to wait for the worker to have noticed something, it synchronises
on a barrier or on the worker's own state — with a generous timeout that only a broken
worker ever reaches — never on how long something took. The unit tier does not sleep: a
record's random "delay" is a random number of yields of the processor to the other threads.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from tests.support.fakes import RecordedVisibility, clocked_context
from tests.support.world import World, sqs_event, sqs_record
from tvsync.adapters.errors import ThrottledError, TransientError
from tvsync.models.sync_request import SyncRequest
from tvsync.services.sqs_batch import BatchWorker, RetryLaterError

#: Only a broken worker makes a test wait this long.
PATIENCE = 10.0


def invoke(world: World, worker: BatchWorker, *records: dict[str, Any]) -> list[str]:
    response = worker.handle(sqs_event(*records), clocked_context(world.monotonic, 900.0))
    return [str(item["itemIdentifier"]) for item in response["batchItemFailures"]]


def concurrent_worker(
    world: World,
    process: Callable[..., dict[str, Any]],
    concurrency: int,
    sqs: RecordedVisibility | None = None,
) -> BatchWorker:
    worker = world.batch_worker(process, sqs=sqs)
    worker.record_concurrency = concurrency
    return worker


def record(world: World, user: str, n: int, *, receive_count: int = 1) -> dict[str, Any]:
    """The ``n``-th event of ``user``; its uuid names both, its message id is ``m-<user>-<n>``."""
    request = world.request(user).model_copy(update={"event_uuid": f"{user}-{n}"})
    return sqs_record(request, receive_count=receive_count, message_id=f"m-{user}-{n}")


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the worker never got there")
        os.sched_yield()


def dawdle(yields: int) -> None:
    """A bounded delay without sleeping: let the other threads run ``yields`` times."""
    for _ in range(yields):
        os.sched_yield()


class Recorder:
    """A ``process`` that notes each event it starts and finishes, per user, and who overlapped."""

    def __init__(self, answer: Callable[[SyncRequest], dict[str, Any]] | None = None) -> None:
        self.answer = answer
        self.lock = threading.Lock()
        self.started: dict[str, list[str]] = defaultdict(list)
        self.running: dict[str, int] = defaultdict(int)
        self.overlaps: list[str] = []  # users with two of their events running at once
        self.handled: list[str] = []

    def __call__(self, *, request: SyncRequest) -> dict[str, Any]:
        user = request.okta_user_id
        with self.lock:
            self.running[user] += 1
            if self.running[user] > 1:
                self.overlaps.append(user)
            self.started[user].append(request.event_uuid)
            self.handled.append(user)
        try:
            return self.answer(request) if self.answer is not None else {"outcome": "applied"}
        finally:
            with self.lock:
                self.running[user] -= 1


def test_users_run_side_by_side_and_each_users_events_stay_in_order() -> None:
    w = World()
    users, per_user, concurrency = [f"u{n:02d}" for n in range(12)], 4, 4
    rng = random.Random(14)
    delays = {f"{u}-{n}": rng.randrange(200) for u in users for n in range(per_user)}
    # The first event of each of the first `concurrency` users meets the others at a barrier:
    # it passes only if that many events really run at once.
    together = threading.Barrier(concurrency, timeout=PATIENCE)
    meet = {f"{u}-0" for u in users[:concurrency]}

    def answer(request: SyncRequest) -> dict[str, Any]:
        if request.event_uuid in meet:
            together.wait()
        dawdle(delays[request.event_uuid])  # bounded, seeded jitter: reorders the threads
        return {"outcome": "applied"}

    process = Recorder(answer)
    worker = concurrent_worker(w, process, concurrency)
    # Interleaved as SQS FIFO may deliver them: u00-0, u01-0, …, u00-1, u01-1, …
    records = [record(w, u, n) for n in range(per_user) for u in users]
    assert invoke(w, worker, *records) == []
    assert process.overlaps == [], "a user's later event started before the earlier one finished"
    assert {u: process.started[u] for u in users} == {u: [f"{u}-{n}" for n in range(per_user)] for u in users}


def test_a_failure_hands_back_that_users_later_events_unstarted_and_no_one_elses() -> None:
    w = World()
    sqs = RecordedVisibility()
    failing = RetryLaterError(TransientError("teamviewer", "update_user", "503"), None)

    def answer(request: SyncRequest) -> dict[str, Any]:
        if request.event_uuid == "u1-1":
            raise failing
        return {"outcome": "applied"}

    process = Recorder(answer)
    worker = concurrent_worker(w, process, 3, sqs=sqs)
    records = [
        record(w, "u1", 0),
        record(w, "u2", 0),
        record(w, "u1", 1, receive_count=3),  # fails
        record(w, "u3", 0),
        record(w, "u1", 2),  # behind the failure: must not start
        record(w, "u2", 1),
        record(w, "u1", 3),
    ]
    assert invoke(w, worker, *records) == ["m-u1-1", "m-u1-2", "m-u1-3"], "reported in the batch's order"
    assert process.started["u1"] == ["u1-0", "u1-1"]
    assert process.started["u2"] == ["u2-0", "u2-1"] and process.started["u3"] == ["u3-0"]
    # The user's events come back together, after the failed one's backoff (third receive: 8 s).
    assert sqs.delays == {"rh-m-u1-1": 8, "rh-m-u1-2": 8, "rh-m-u1-3": 8}


def test_once_rate_limited_records_not_yet_started_go_back_and_running_ones_finish() -> None:
    w = World()
    sqs = RecordedVisibility()
    throttled = ThrottledError("teamviewer", "create_user", "429", status=429, retry_after=10.0)
    worker: BatchWorker

    def answer(request: SyncRequest) -> dict[str, Any]:
        if request.okta_user_id == "u1":
            wait_until(lambda: "u2" in process.handled)  # u2 is running on the other thread
            raise RetryLaterError(throttled, 10.0, throttled=True)
        if request.okta_user_id == "u2":
            # Running beside u1 when the limit is hit: it finishes, and only then does its
            # thread look for more work — which must all go back unstarted.
            wait_until(lambda: worker.hand_back_reason is not None)
        return {"outcome": "applied"}

    process = Recorder(answer)
    worker = concurrent_worker(w, process, 2, sqs=sqs)
    records = [
        record(w, "u1", 0),
        record(w, "u2", 0),
        record(w, "u3", 0, receive_count=5),
        record(w, "u4", 0),
    ]
    assert invoke(w, worker, *records) == ["m-u1-0", "m-u3-0", "m-u4-0"]
    assert sorted(process.handled) == ["u1", "u2"], "nobody is started after the limit was hit"
    # The server's wait, never less than each record's backoff (u3 is on its fifth receive).
    assert sqs.delays == {"rh-m-u1-0": 10, "rh-m-u3-0": 32, "rh-m-u4-0": 10}
    [line] = w.logs.lines("Records handed back to SQS without being started")
    assert (line["records"], line["reason"]) == (2, "rate limited")


def test_one_thread_keeps_the_batch_strictly_in_order() -> None:
    w = World()
    process = Recorder()
    worker = concurrent_worker(w, process, 1)
    records = [record(w, u, n) for n in range(2) for u in ("u1", "u2", "u3")]
    assert invoke(w, worker, *records) == []
    assert process.handled == ["u1", "u2", "u3", "u1", "u2", "u3"]
