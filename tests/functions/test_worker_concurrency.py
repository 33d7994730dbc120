"""WorkerFunction converging several users of a batch at once: order, idempotency, metrics, rate.

The real handler, against embedded AWS (moto) and the emulators over loopback HTTP, with the
template's ``WORKER_RECORD_CONCURRENCY`` (8). What the threads share is checked where the
wiring makes it safe to share: the idempotency store (configured before any thread), the
metrics (added under a lock) and the TeamViewer client (one rate slot per request).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

import tvsync.wiring.worker as wiring
from tests.conftest import Aws, FakeLambdaContext, emf_metrics
from tests.support.pipeline import T0, Pipeline, add_assigned, start_pipeline, synced
from tests.support.world import sqs_event, sqs_record
from tvsync.adapters.http import RequestRate
from tvsync.adapters.request_schedule import SharedRequestSchedule
from tvsync.models.sync_request import SyncRequest
from tvsync.models.table_keys import SCHEDULE_KEY
from tvsync.settings import WorkerSettings


def test_the_template_converges_eight_users_at_once_at_twenty_teamviewer_requests_a_second_in_all() -> None:
    settings = WorkerSettings.model_fields
    assert settings["WORKER_RECORD_CONCURRENCY"].default == 8
    assert settings["TEAMVIEWER_MAX_REQUESTS_PER_SECOND"].default == 20.0
    assert settings["WORKER_MAXIMUM_CONCURRENCY"].default == 5


def test_each_users_events_apply_in_order_while_users_run_side_by_side(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    p = pipeline
    users = [add_assigned(p, f"user{n:02d}@example.com", "User", f"Number{n:02d}") for n in range(6)]
    for user in users:
        p.enqueue(user, "application.user_membership.add")
    p.drain()
    # Three changes per user, queued user by user: a batch of 10 holds several users' events,
    # each user's in order. Only the last one's state must stick.
    for n, user in enumerate(users):
        for step in ("First", "Second", "Final"):
            p.okta.update_profile(user, lastName=f"{step}{n:02d}")
            p.enqueue(user, "user.account.update_profile", uuid=f"{user}-{step}")
    p.okta.update_profile(users[0], lastName="Final00")
    p.drain()
    for n, user in enumerate(users):
        account = p.tv_account(f"user{n:02d}@example.com")
        assert account is not None and account["name"] == f"User Final{n:02d}"
        state = p.state(user)
        assert state is not None and state.last_event_uuid == f"{user}-Final", (
            "the last event is the last applied"
        )
    # Every line is about the record that wrote it: no field leaks from another thread's record.
    lines = [line for line in synced(caplog) if line["event_type"] == "user.account.update_profile"]
    assert len(lines) == 3 * len(users)
    assert all(line["event_uuid"].startswith(f"{line['okta_user_id']}-") for line in lines)
    assert p.dlq_count() == 0


def test_one_event_delivered_in_two_message_groups_at_once_is_applied_once(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    p = pipeline
    alice = add_assigned(p, "alice.archer@example.com", "Alice", "Archer")
    request = SyncRequest(
        okta_user_id=alice, event_uuid="evt-once", event_type="user.lifecycle.create", published=T0
    )
    # The same event twice in one batch, in two groups, so two threads take it at once (SQS
    # would never group it so; a bug upstream might). One applies it; the other finds it
    # done, or in progress and comes back in five seconds to find it done.
    event = sqs_event(
        sqs_record(request, group=alice, message_id="m-one"),
        sqs_record(request, group=f"{alice}-copy", message_id="m-two"),
    )
    response = p.worker.lambda_handler(event, FakeLambdaContext())
    creates = [c for c in p.tv.calls if c.method == "POST" and c.path == "/scim/v2/Users"]
    assert len(creates) == 1
    assert [u["email"] for u in p.tv.users()].count("alice.archer@example.com") == 1
    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    metrics = emf_metrics(capsys.readouterr().out)
    assert metrics.get("UsersCreated") == 1
    assert len(failed) + metrics.get("DuplicateEvents", 0) == 1


def test_the_idempotency_store_is_configured_before_any_record_thread_runs(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Powertools configures its persistence layer on first use, unguarded: a second thread
    could hash an event before the key's JMESPath is set, under another key."""
    configured_on: list[str] = []
    configure = BasePersistenceLayer.configure

    def spy(self: BasePersistenceLayer, *args: Any, **kwargs: Any) -> None:
        if not self.configured:
            configured_on.append(threading.current_thread().name)
        configure(self, *args, **kwargs)

    monkeypatch.setattr(BasePersistenceLayer, "configure", spy)
    p, servers = start_pipeline(aws, monkeypatch)
    try:
        users = [add_assigned(p, f"user{n}@example.com", "User", f"Number{n}") for n in range(4)]
        for user in users:
            p.enqueue(user, "application.user_membership.add")
        p.drain()
    finally:
        for server in servers:
            server.close()
    assert configured_on == [threading.main_thread().name]
    assert all(p.tv_account(f"user{n}@example.com") is not None for n in range(4))


def test_every_teamviewer_request_takes_a_slot_of_the_schedule_all_instances_share(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedules: list[SharedRequestSchedule] = []
    slots: list[float] = []

    class CountedSchedule(SharedRequestSchedule):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            schedules.append(self)

        def acquire(self) -> float:
            slots.append(self.per_second)
            return super().acquire()

    monkeypatch.setattr(wiring, "SharedRequestSchedule", CountedSchedule)
    p, servers = start_pipeline(aws, monkeypatch, TEAMVIEWER_MAX_REQUESTS_PER_SECOND="250")
    try:
        users = [add_assigned(p, f"user{n}@example.com", "User", f"Number{n}") for n in range(5)]
        for user in users:
            p.enqueue(user, "application.user_membership.add")
        p.drain()
    finally:
        for server in servers:
            server.close()
    [schedule] = schedules
    assert schedule.per_second == 250.0, "the whole worker's rate, from the setting"
    fallback = schedule.fallback
    assert isinstance(fallback, RequestRate)
    assert fallback.per_second == 250.0 / 5, "without the table: the template's 5 instances' share each"
    assert len(slots) == len(p.tv.calls) >= 5
    item = aws.session.client("dynamodb").get_item(
        TableName=aws.env("WorkerFunction")["SYNC_STATE_TABLE_NAME"],
        Key={"okta_user_id": {"S": SCHEDULE_KEY}},
    )
    assert "next_slot" in item["Item"], "the slots were claimed in SyncStateTable"


def test_metrics_added_from_many_threads_go_through_one_lock() -> None:
    """Powertools' ``add_metric`` reads, changes and writes back one shared dict."""

    class Provider:
        """Counts who is inside ``add_metric``; two callers meet at a barrier only without a lock."""

        def __init__(self) -> None:
            self.inside = 0
            self.most_inside = 0
            self.values: list[float] = []
            self.lock = threading.Lock()
            self.meet = threading.Barrier(2, timeout=0.2)

        def add_metric(self, *, name: str, unit: Any, value: float, resolution: Any) -> None:
            with self.lock:
                self.inside += 1
                self.most_inside = max(self.most_inside, self.inside)
            try:
                self.meet.wait()
            except threading.BrokenBarrierError:
                self.meet.reset()
            with self.lock:
                self.values.append(value)
                self.inside -= 1

    provider = Provider()
    metrics = wiring.SerializedMetrics(Metrics(provider=provider))  # type: ignore[arg-type]
    start = threading.Barrier(4)

    def add() -> None:
        start.wait()
        for _ in range(3):
            metrics.add_metric(name="UsersCreated", unit="Count", value=1)

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert provider.most_inside == 1
    assert provider.values == [1.0] * 12
