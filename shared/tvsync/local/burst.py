"""The pipeline benchmark: a burst of users through the full local stack under a rate limit.

N users are created (deliveries of up to 100 events, as Okta batches them), then — once
those have converged — half are renamed and half deactivated. TeamViewer is the rate-limited
emulator, so the figures that matter are how close the pipeline runs to that limit without
losing or dead-lettering anything, and how long an event takes from Okta to TeamViewer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import httpx

from tvsync.emulators.http import FaultPolicy
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.okta_oauth import TOKEN_PATH
from tvsync.emulators.teamviewer import RateLimit, TeamViewerEmulator
from tvsync.local.stack import LocalStack, StackObserver, StackSettings, SyncRecord

APP_ID = "0oa1benchapp00000001"
DELIVERY_SIZE = 40
#: Records one worker instance takes from the queue at once (the template's BatchSize).
WORKER_BATCH = 10


def max_outstanding(worker_count: int) -> int:
    """Most events posted but not yet applied.

    moto's FIFO queue costs O(queued messages) per send and receive (see
    docs/benchmarks.md), so an unbounded backlog would measure moto, not the pipeline. The
    bound is a full batch in flight for each worker instance and one delivery more waiting
    while the next is posted. More would only cost moto time and add latency: the
    instances share one TeamViewer request schedule, so one that waits a moment for work
    leaves its slots to the others instead of losing them.
    """
    return worker_count * WORKER_BATCH + DELIVERY_SIZE


@dataclass(frozen=True)
class BurstConfig:
    users: int = 1000
    rate_limit: float = 20.0
    throttle_style: Literal["429", "403"] = "429"
    worker_concurrency: int | None = None  # None: the template's MaximumConcurrency
    timeout: float = 900.0
    # Seconds each emulator takes to answer a request (0: at once). Realistic: Okta 0.08,
    # TeamViewer 0.12 — what makes an instance's throughput a matter of latency, not CPU.
    okta_latency: float = 0.0
    teamviewer_latency: float = 0.0


@dataclass
class PhaseResult:
    name: str
    events: int
    seconds: float
    writes: int

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass
class BurstReport:
    config: BurstConfig
    phases: list[PhaseResult] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    events_posted: int = 0
    events_applied: int = 0
    dlq: int = 0
    throttles: int = 0
    tv_calls: int = 0
    okta_calls: int = 0
    #: Requests to Okta's token endpoint (the worker instances read Okta as a service app):
    #: a few per instance, whatever the number of events, so not among ``okta_calls``.
    okta_token_requests: int = 0
    worker_concurrency: int = 0

    @property
    def events_lost(self) -> int:
        return self.events_posted - self.events_applied

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.phases)

    @property
    def writes(self) -> int:
        return sum(p.writes for p in self.phases)

    @property
    def write_ratio(self) -> float:
        return (self.writes / self.seconds) / self.config.rate_limit if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def rows(self) -> list[tuple[str, str]]:
        rows = [
            ("users", f"{self.config.users}"),
            ("events posted / applied", f"{self.events_posted} / {self.events_applied}"),
            ("events lost", f"{self.events_lost}"),
            ("DLQ messages", f"{self.dlq}"),
            ("worker concurrency", f"{self.worker_concurrency}"),
            (
                "API latency per request: Okta / TeamViewer",
                f"{self.config.okta_latency * 1000:.0f} ms / {self.config.teamviewer_latency * 1000:.0f} ms",
            ),
        ]
        for phase in self.phases:
            rows.append(
                (
                    f"{phase.name}: events/s",
                    f"{phase.events_per_second:.1f} ({phase.events} in {phase.seconds:.1f} s)",
                )
            )
        rows += [
            ("events/s overall", f"{(self.events_applied / self.seconds) if self.seconds else 0:.1f}"),
            ("TeamViewer writes/s", f"{self.writes / self.seconds if self.seconds else 0:.1f}"),
            (
                "writes/s ÷ rate limit",
                f"{self.write_ratio:.2f} (limit {self.config.rate_limit:g}/s, goal ≥ 0.95)",
            ),
            (
                "event→applied p50 / p95",
                f"{self.percentile(0.5) / 1000:.2f} s / {self.percentile(0.95) / 1000:.2f} s",
            ),
            ("TeamViewer calls per event", f"{self.tv_calls / max(1, self.events_applied):.2f}"),
            ("Okta calls per event", f"{self.okta_calls / max(1, self.events_applied):.2f}"),
            ("Okta token requests", f"{self.okta_token_requests} (all worker instances)"),
            (f"throttles received ({self.config.throttle_style})", f"{self.throttles}"),
        ]
        return rows


@dataclass
class _Tracker:
    """Which benchmark events were posted when, and which the worker has applied."""

    on_progress: Callable[[int, int], None] | None
    total: int
    posted_at: dict[str, float] = field(default_factory=dict)
    applied: set[str] = field(default_factory=set)
    latencies_ms: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def posted(self, uuids: list[str], at: float) -> None:
        with self.lock:
            for uuid in uuids:
                self.posted_at[uuid] = at

    def on_sync(self, sync: SyncRecord) -> None:
        with self.lock:
            if sync.event_uuid in self.posted_at and sync.event_uuid not in self.applied:
                self.applied.add(sync.event_uuid)
                self.latencies_ms.append((sync.at - self.posted_at[sync.event_uuid]) * 1000)
            count = len(self.applied)
        if self.on_progress is not None:
            self.on_progress(count, self.total)

    def wait_until(self, done: Callable[[], bool], deadline: float) -> None:
        """Poll ``done`` (called under the lock) until it holds or ``deadline`` passes."""
        while time.monotonic() < deadline:
            with self.lock:
                if done():
                    return
            time.sleep(0.02)


def run_burst(config: BurstConfig, *, on_progress: Callable[[int, int], None] | None = None) -> BurstReport:
    """Run the burst; ``on_progress(applied, total)`` is called as events are applied."""
    teamviewer = TeamViewerEmulator(
        rate_limit=RateLimit(requests_per_second=config.rate_limit, style=config.throttle_style),
        faults=FaultPolicy(latency=config.teamviewer_latency),
    )
    okta = OktaEmulator(faults=FaultPolicy(latency=config.okta_latency))
    observer = StackObserver()
    report = BurstReport(config=config)
    tracker = _Tracker(on_progress=on_progress, total=2 * config.users)
    observer.listeners.append(tracker.on_sync)
    secret = "bench-hook-secret"  # noqa: S105 - a throwaway secret of a throwaway local stack
    settings = StackSettings(okta_hook_secret=secret, okta_app_id=APP_ID, port=0)
    with LocalStack(
        settings,
        teamviewer=teamviewer,
        okta=okta,
        observer=observer,
        worker_concurrency=config.worker_concurrency,
    ) as stack:
        report.worker_concurrency = stack.worker_count
        users = [
            okta.add_user(f"bench{n:05d}@example.com", "Bench", f"User{n:05d}")["id"]
            for n in range(config.users)
        ]
        for user in users:
            okta.assign(APP_ID, user)
        deadline = time.monotonic() + config.timeout
        with httpx.Client(timeout=30) as client:
            delivery = _Delivery(stack, client, secret, tracker, deadline)

            def phase(name: str, events: list[tuple[str, str]]) -> PhaseResult:
                return _phase(delivery, name, events)

            report.phases.append(phase("creates", [(u, "user.lifecycle.create") for u in users]))
            half = len(users) // 2
            for user in users[:half]:
                okta.update_profile(user, lastName="Renamed")
            for user in users[half:]:
                okta.set_status(user, "DEPROVISIONED")
            changes = [(u, "user.account.update_profile") for u in users[:half]]
            changes += [(u, "user.lifecycle.deactivate") for u in users[half:]]
            report.phases.append(phase("renames + deactivations", changes))
        stack.wait_idle(timeout=max(1.0, deadline - time.monotonic()))
        visible, in_flight = stack.queue_depth(stack.dlq_url)
        report.dlq = visible + in_flight
    report.latencies_ms = tracker.latencies_ms
    report.events_posted = len(tracker.posted_at)
    report.events_applied = len(tracker.applied)
    report.throttles = teamviewer.throttled
    report.tv_calls = len(teamviewer.calls) - report.throttles
    report.okta_token_requests = sum(1 for call in okta.calls if call.path == TOKEN_PATH)
    report.okta_calls = len(okta.calls) - report.okta_token_requests
    return report


@dataclass(frozen=True)
class _Delivery:
    """Where and how a phase posts its events, and by when it must be done."""

    stack: LocalStack
    client: httpx.Client
    secret: str
    tracker: _Tracker
    deadline: float


def _phase(delivery: _Delivery, name: str, events: list[tuple[str, str]]) -> PhaseResult:
    stack, client, secret = delivery.stack, delivery.client, delivery.secret
    tracker, deadline = delivery.tracker, delivery.deadline
    writes_before = _successful_writes(stack)
    started = time.monotonic()
    uuids: list[str] = []

    def room_for_a_delivery() -> bool:
        outstanding = len(tracker.posted_at) - len(tracker.applied)
        return outstanding <= max_outstanding(stack.worker_count) - DELIVERY_SIZE

    for start in range(0, len(events), DELIVERY_SIZE):
        tracker.wait_until(room_for_a_delivery, deadline)
        chunk = events[start : start + DELIVERY_SIZE]
        published = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        chunk_uuids = [f"bench-{name[:6]}-{user}" for user, _ in chunk]
        body_events = [
            {
                "uuid": uuid,
                "published": published,
                "eventType": event_type,
                "outcome": {"result": "SUCCESS"},
                "target": [{"id": user, "type": "User"}],
            }
            for uuid, (user, event_type) in zip(chunk_uuids, chunk, strict=True)
        ]
        uuids += chunk_uuids
        tracker.posted(chunk_uuids, time.monotonic())
        body = {
            "eventType": "com.okta.event_hook",
            "eventId": f"bench-{start}",
            "data": {"events": body_events},
        }
        response = client.post(stack.hook_url, json=body, headers={"Authorization": secret})
        if response.status_code >= 500:
            # As Okta does: one retry of a delivery answered 5xx [EH]. Events the first attempt
            # queued are not queued twice (the FIFO queue deduplicates on the event uuid).
            response = client.post(stack.hook_url, json=body, headers={"Authorization": secret})
        if response.status_code != 200:
            raise RuntimeError(f"the hook answered HTTP {response.status_code} for a benchmark delivery")
    tracker.wait_until(lambda: all(uuid in tracker.applied for uuid in uuids), deadline)
    seconds = time.monotonic() - started
    return PhaseResult(
        name=name, events=len(uuids), seconds=seconds, writes=_successful_writes(stack) - writes_before
    )


def _successful_writes(stack: LocalStack) -> int:
    assert stack.teamviewer is not None
    with stack.teamviewer.lock:
        return sum(
            1
            for call in stack.teamviewer.calls
            if call.method != "GET" and call.status is not None and 200 <= call.status < 300
        )
