"""The worker benchmark: what one event costs the worker, in upstream calls and in CPU.

The real ``functions/worker/app.py`` runs in this process, driven by
``tvsync.local.event_source.SqsEventSource`` (Lambda's SQS event source mapping) from the
FIFO queue of a moto server on 127.0.0.1; the TeamViewer and Okta emulators answer over
loopback HTTP. Calls are counted from the emulators' call logs, per invocation.

Each scenario runs twice on fresh users: one event per invocation, which attributes every
call to its event exactly (the maximum per event is read there), and in batches of ten as
the template's ``BatchSize`` delivers a burst (CPU per event, amortised).

CPU time is ``time.thread_time()`` of the thread that runs the handler, around the handler
only. The moto server and both emulators serve requests on their own threads, so their
CPU is not in it, and neither is time spent waiting on a socket; what is in it is the
worker's own work, including building and parsing its HTTP and AWS requests.

*Throughput* (``measure_throughput``) is events per second per instance with the emulators
answering at a realistic latency (Okta 80 ms, TeamViewer 120 ms per request, slept on the
servers' threads so concurrent requests overlap) and TeamViewer's limit out of the way (no
limit in the emulator, the worker's rate raised to 1,000 requests a second): once
with one record at a time (``WORKER_RECORD_CONCURRENCY=1``, the worker before it converged
users side by side) and once with the template's default. It is the handler's own time
(the sum of its invocations' wall time): the polling that Lambda's event source does
outside the instance is not in it.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from bench.common import (
    BenchmarkFailure,
    EmbeddedAws,
    FakeLambdaContext,
    embedded_aws,
    load_handler,
    markdown_table,
    ms,
    patched_environ,
    percentile,
    quiet,
    verdict,
)
from tvsync.emulators.http import FaultPolicy, RunningServer, serve
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.teamviewer import TeamViewerEmulator
from tvsync.local.event_source import SqsEventSource
from tvsync.models.sync_request import SyncRequest
from tvsync.settings import WorkerSettings

NAME = "worker"
TV_TOKEN = "tv-bench-token"
OKTA_TOKEN = "okta-bench-token"
APP_ID = "0oabenchtvsync000001"
BATCH_SIZE = 10
DRAIN_TIMEOUT = 120.0
#: Realistic per-request latencies of the two APIs, for the throughput runs.
OKTA_LATENCY = 0.080
TEAMVIEWER_LATENCY = 0.120
#: Events per second per instance, side by side against one at a time: at least this.
THROUGHPUT_GOAL = 3.0
#: What the per-event scenarios run with: one record at a time, TeamViewer's bound raised.
SCENARIO_ENV = {"WORKER_RECORD_CONCURRENCY": "1", "TEAMVIEWER_MAX_REQUESTS_PER_SECOND": "1000"}
#: The template's users converged at once by one instance.
DEFAULT_CONCURRENCY: int = WorkerSettings.model_fields["WORKER_RECORD_CONCURRENCY"].default


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("worker benchmark")
    group.add_argument(
        "--worker-users",
        type=int,
        default=20,
        metavar="N",
        help="users per scenario and mode (one event per invocation / batches of ten) (default: 20)",
    )
    group.add_argument(
        "--worker-throughput-users",
        type=int,
        default=60,
        metavar="N",
        help="users created in each throughput run, at 80/120 ms API latency; 0 skips it (default: 60)",
    )


def run(args: argparse.Namespace) -> str:
    result = measure(users=args.worker_users)
    throughput_users = getattr(args, "worker_throughput_users", 60)
    if throughput_users > 0:
        result = replace(result, throughput=compare_throughput(users=throughput_users))
    return render(result)


# ---------------------------------------------------------------------- results


@dataclass(frozen=True)
class Invocation:
    """One handler invocation: how many events, upstream calls it made, and what it cost.

    ``teamviewer_group_calls`` are the TeamViewer calls on user groups and roles (Web API v1
    ``/usergroups``, ``/userroles``), a part of ``teamviewer_calls``.
    """

    events: int
    teamviewer_calls: int
    okta_calls: int
    cpu_seconds: float
    wall_seconds: float
    teamviewer_group_calls: int = 0


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    teamviewer_goal: int  # at most this many calls per event; 0 means none at all
    okta_goal: int
    single: tuple[Invocation, ...]  # one event per invocation
    batched: tuple[Invocation, ...]  # up to BATCH_SIZE events per invocation

    @property
    def events(self) -> int:
        return sum(i.events for i in (*self.single, *self.batched))

    @property
    def teamviewer_max(self) -> int:
        return max((i.teamviewer_calls for i in self.single), default=0)

    @property
    def okta_max(self) -> int:
        return max((i.okta_calls for i in self.single), default=0)

    @property
    def teamviewer_mean(self) -> float:
        return sum(i.teamviewer_calls for i in (*self.single, *self.batched)) / max(1, self.events)

    @property
    def okta_mean(self) -> float:
        return sum(i.okta_calls for i in (*self.single, *self.batched)) / max(1, self.events)

    @property
    def meets_goals(self) -> bool:
        return self.teamviewer_max <= self.teamviewer_goal and self.okta_max <= self.okta_goal

    @property
    def cpu_single_p50(self) -> float:
        return percentile([i.cpu_seconds for i in self.single], 50)

    @property
    def wall_single_p50(self) -> float:
        return percentile([i.wall_seconds for i in self.single], 50)

    @property
    def cpu_batched_per_event(self) -> float:
        events = sum(i.events for i in self.batched)
        return sum(i.cpu_seconds for i in self.batched) / max(1, events)


@dataclass(frozen=True)
class ThroughputRun:
    """Creates of unknown users through one warm instance, in batches of ten, at API latency."""

    concurrency: int
    okta_latency: float
    teamviewer_latency: float
    invocations: tuple[Invocation, ...]

    @property
    def events(self) -> int:
        return sum(i.events for i in self.invocations)

    @property
    def seconds(self) -> float:
        """The handler's own time: what the instance was busy for."""
        return sum(i.wall_seconds for i in self.invocations)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def teamviewer_per_event(self) -> float:
        return sum(i.teamviewer_calls for i in self.invocations) / max(1, self.events)

    @property
    def okta_per_event(self) -> float:
        return sum(i.okta_calls for i in self.invocations) / max(1, self.events)


@dataclass(frozen=True)
class ThroughputResult:
    before: ThroughputRun  # one record at a time
    after: ThroughputRun  # the template's concurrency

    @property
    def ratio(self) -> float:
        return self.after.events_per_second / self.before.events_per_second if self.before.seconds else 0.0


@dataclass(frozen=True)
class WorkerResult:
    users: int
    scenarios: tuple[ScenarioResult, ...]
    throughput: ThroughputResult | None = None

    def scenario(self, name: str) -> ScenarioResult:
        return next(s for s in self.scenarios if s.name == name)


# ---------------------------------------------------------------------- harness


@dataclass
class _User:
    okta_id: str
    email: str
    last_event_uuid: str = ""


class WorkerHarness:
    """The worker handler in one warm container, with everything it talks to on loopback."""

    def __init__(
        self, aws: EmbeddedAws, tv: TeamViewerEmulator, okta: OktaEmulator, worker: ModuleType
    ) -> None:
        self.aws = aws
        self.tv = tv
        self.okta = okta
        self.worker = worker
        self.sqs = aws.client("sqs")
        self.queue_arn = self.sqs.get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.invocations: list[Invocation] = []
        self._serial = 0

    def invoke(self, event: dict[str, Any]) -> Mapping[str, Any]:
        tv_before, okta_before = len(self.tv.calls), len(self.okta.calls)
        wall, cpu = time.perf_counter(), time.thread_time()
        response: Mapping[str, Any] = self.worker.lambda_handler(event, FakeLambdaContext())
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        tv_calls = self.tv.calls[tv_before:]
        self.invocations.append(
            Invocation(
                events=len(event["Records"]),
                teamviewer_calls=len(tv_calls),
                okta_calls=len(self.okta.calls) - okta_before,
                cpu_seconds=cpu,
                wall_seconds=wall,
                teamviewer_group_calls=sum(1 for call in tv_calls if is_group_call(call.path)),
            )
        )
        return response

    def send(self, requests: Sequence[SyncRequest]) -> None:
        """Queue these requests as ingest would: each in its subject's FIFO message group."""
        for start in range(0, len(requests), 10):
            entries: list[dict[str, str]] = []
            for request in requests[start : start + 10]:
                self._serial += 1
                entries.append(
                    {
                        "Id": str(len(entries)),
                        "MessageBody": request.model_dump_json(),
                        "MessageGroupId": request.okta_user_id,
                        "MessageDeduplicationId": f"{request.event_uuid}-{self._serial}",
                    }
                )
            self.sqs.send_message_batch(QueueUrl=self.aws.queue_url, Entries=entries)

    def enqueue(self, users: Sequence[_User], event_type: str, *, redeliver: bool = False) -> None:
        """One event per user; ``redeliver`` re-sends each user's last event uuid.

        A redelivery gets a fresh SQS deduplication id, as when Okta retries a delivery after
        SQS's five-minute window: only the worker's idempotency record can catch it.
        """
        entries: list[dict[str, str]] = []
        for user in users:
            self._serial += 1
            if not redeliver:
                user.last_event_uuid = f"bench-evt-{self._serial:06d}"
            request = SyncRequest(
                okta_user_id=user.okta_id,
                event_uuid=user.last_event_uuid,
                event_type=event_type,
                published=datetime.now(UTC),
                delivery_id=f"bench-delivery-{self._serial:06d}",
            )
            entries.append(
                {
                    "Id": str(len(entries)),
                    "MessageBody": request.model_dump_json(),
                    "MessageGroupId": user.okta_id,
                    "MessageDeduplicationId": f"{user.last_event_uuid}-{self._serial}",
                }
            )
        for start in range(0, len(entries), 10):
            self.sqs.send_message_batch(QueueUrl=self.aws.queue_url, Entries=entries[start : start + 10])

    def drain(self, batch_size: int) -> list[Invocation]:
        """Run the event source until the queue is empty; the invocations it made."""
        source = SqsEventSource(
            sqs=self.sqs,
            queue_url=self.aws.queue_url,
            queue_arn=self.queue_arn,
            handler=self.invoke,
            batch_size=batch_size,
        )
        first = len(self.invocations)
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while time.monotonic() < deadline:
            polled = source.poll_once()
            if polled.error is not None or polled.failed:
                raise BenchmarkFailure(f"the worker failed records: {polled.error or polled.failed}")
            if polled.received:
                continue
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=self.aws.queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            if attributes == {
                "ApproximateNumberOfMessages": "0",
                "ApproximateNumberOfMessagesNotVisible": "0",
            }:
                return self.invocations[first:]
            time.sleep(0.05)
        raise BenchmarkFailure(f"the queue did not drain within {DRAIN_TIMEOUT:.0f} s")


@dataclass(frozen=True)
class Scenario:
    """A change made in Okta, the event that announces it, and how TeamViewer must end up."""

    name: str
    event_type: str
    change: Callable[[OktaEmulator, _User], None]
    check: Callable[[TeamViewerEmulator, _User], bool]
    teamviewer_goal: int = 2
    okta_goal: int = 2
    redeliver: bool = False


def _new_email(user: _User) -> str:
    return user.email.replace("@", ".renamed@")


def _change_email(okta: OktaEmulator, user: _User) -> None:
    okta.update_profile(user.okta_id, email=_new_email(user), login=_new_email(user))


def _account(tv: TeamViewerEmulator, email: str) -> dict[str, Any]:
    return tv.user_by_email(email) or {}


SCENARIOS = (
    Scenario(
        "create (unknown user)",
        "application.user_membership.add",
        change=lambda okta, user: okta.assign(APP_ID, user.okta_id),
        check=lambda tv, user: _account(tv, user.email).get("active") is True,
    ),
    Scenario(
        "rename (mapped user)",
        "user.account.update_profile",
        change=lambda okta, user: okta.update_profile(user.okta_id, lastName="Renamed"),
        check=lambda tv, user: str(_account(tv, user.email).get("name", "")).endswith(" Renamed"),
    ),
    Scenario(
        "email change (mapped user)",
        "user.account.update_profile",
        change=_change_email,
        check=lambda tv, user: bool(_account(tv, _new_email(user))) and not _account(tv, user.email),
    ),
    Scenario(
        "deactivate (mapped user)",
        "user.lifecycle.deactivate",
        change=lambda okta, user: okta.set_status(user.okta_id, "DEPROVISIONED"),
        check=lambda tv, user: _account(tv, _new_email(user)).get("active") is False,
    ),
    Scenario(
        "duplicate (redelivered event)",
        "user.lifecycle.deactivate",
        change=lambda okta, user: None,
        check=lambda tv, user: _account(tv, _new_email(user)).get("active") is False,
        teamviewer_goal=0,
        okta_goal=0,
        redeliver=True,
    ),
)


def is_group_call(path: str) -> bool:
    """A TeamViewer call on user groups or roles (Web API v1), as opposed to one on users."""
    return path.startswith(("/api/v1/usergroups", "/api/v1/userroles"))


@contextlib.contextmanager
def running_worker(
    *,
    tv: TeamViewerEmulator | None = None,
    okta: OktaEmulator | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[WorkerHarness]:
    """The worker in one warm container; ``tv``/``okta`` (seeded, tokens TV_TOKEN/OKTA_TOKEN) and
    extra worker ``env`` (``PUSH_GROUP_IDS``, ...) are the caller's to choose."""
    tv = tv or TeamViewerEmulator(TV_TOKEN)
    okta = okta or OktaEmulator(OKTA_TOKEN)
    servers: list[RunningServer] = [serve(tv), serve(okta)]
    try:
        tv_url, okta_url = servers[0].url, servers[1].url
        with embedded_aws(
            secrets={"TeamViewerTokenSecret": TV_TOKEN, "OktaApiTokenSecret": OKTA_TOKEN},
            parameters={"OktaOrgUrl": okta_url, "TeamViewerApiUrl": tv_url, "OktaAppId": APP_ID},
        ) as aws:
            worker_env = aws.env(
                "WorkerFunction",
                TEAMVIEWER_API_URL=tv_url,
                OKTA_ORG_URL=okta_url,
                OKTA_APP_ID=APP_ID,
                **(env or {}),
            )
            with quiet(), patched_environ(worker_env):
                yield WorkerHarness(aws, tv, okta, load_handler("worker"))
    finally:
        for server in servers:
            server.close()


def _people(okta: OktaEmulator, prefix: str, count: int) -> list[_User]:
    users = []
    for index in range(count):
        email = f"bench.{prefix}{index:04d}@example.com"
        okta_id = str(okta.add_user(email, "Bench", f"User {prefix}{index:04d}")["id"])
        users.append(_User(okta_id=okta_id, email=email))
    return users


def measure(*, users: int) -> WorkerResult:
    if users < 1:
        raise ValueError("users must be at least 1")
    # One record at a time, and the worker's TeamViewer rate out of the way: every call and
    # every CPU second of an event is then the handler thread's, and the wall time the
    # event's own rather than the rate the schedule allows (throughput: ``measure_throughput``).
    with running_worker(env=SCENARIO_ENV) as harness:
        # Warm the container first: secrets read, connection pools open, Powertools ready.
        warm = _people(harness.okta, "warmup", 1)
        SCENARIOS[0].change(harness.okta, warm[0])
        harness.enqueue(warm, SCENARIOS[0].event_type)
        harness.drain(1)
        groups = {
            1: _people(harness.okta, "single", users),
            BATCH_SIZE: _people(harness.okta, "batched", users),
        }
        results = []
        for scenario in SCENARIOS:
            runs: dict[int, list[Invocation]] = {}
            for batch_size, people in groups.items():
                for user in people:
                    scenario.change(harness.okta, user)
                harness.enqueue(people, scenario.event_type, redeliver=scenario.redeliver)
                runs[batch_size] = harness.drain(batch_size)
                handled = sum(i.events for i in runs[batch_size])
                if handled != len(people):
                    raise BenchmarkFailure(
                        f"{scenario.name}: the worker saw {handled} of {len(people)} events"
                    )
                wrong = [u.email for u in people if not scenario.check(harness.tv, u)]
                if wrong:
                    raise BenchmarkFailure(
                        f"{scenario.name}: TeamViewer not converged for {len(wrong)} users"
                    )
            results.append(
                ScenarioResult(
                    name=scenario.name,
                    teamviewer_goal=scenario.teamviewer_goal,
                    okta_goal=scenario.okta_goal,
                    single=tuple(runs[1]),
                    batched=tuple(runs[BATCH_SIZE]),
                )
            )
    return WorkerResult(users=users, scenarios=tuple(results))


def measure_throughput(
    *,
    users: int,
    concurrency: int,
    okta_latency: float = OKTA_LATENCY,
    teamviewer_latency: float = TEAMVIEWER_LATENCY,
) -> ThroughputRun:
    """``users`` creates through one instance converging ``concurrency`` users at once."""
    if users < 1:
        raise ValueError("users must be at least 1")
    tv = TeamViewerEmulator(TV_TOKEN, faults=FaultPolicy(latency=teamviewer_latency))
    okta = OktaEmulator(OKTA_TOKEN, faults=FaultPolicy(latency=okta_latency))
    env = {**SCENARIO_ENV, "WORKER_RECORD_CONCURRENCY": str(concurrency)}
    with running_worker(tv=tv, okta=okta, env=env) as harness:
        create = SCENARIOS[0]
        warm = _people(okta, f"warmup{concurrency}-", 1)
        create.change(okta, warm[0])
        harness.enqueue(warm, create.event_type)
        harness.drain(1)
        people = _people(okta, f"throughput{concurrency}-", users)
        for user in people:
            create.change(okta, user)
        harness.enqueue(people, create.event_type)
        invocations = harness.drain(BATCH_SIZE)
        handled = sum(i.events for i in invocations)
        wrong = [u.email for u in people if not create.check(tv, u)]
        if handled != users or wrong:
            raise BenchmarkFailure(
                f"throughput at concurrency {concurrency}: {handled} of {users} events handled, "
                f"{len(wrong)} users not converged"
            )
    return ThroughputRun(
        concurrency=concurrency,
        okta_latency=okta_latency,
        teamviewer_latency=teamviewer_latency,
        invocations=tuple(invocations),
    )


def compare_throughput(*, users: int, concurrency: int = DEFAULT_CONCURRENCY) -> ThroughputResult:
    return ThroughputResult(
        before=measure_throughput(users=users, concurrency=1),
        after=measure_throughput(users=users, concurrency=concurrency),
    )


def render_throughput(result: ThroughputResult) -> str:
    runs = (result.before, result.after)
    rows = [
        [
            f"{run.concurrency} ({'one after another' if run.concurrency == 1 else 'template default'})",
            run.events,
            len(run.invocations),
            f"{run.seconds:.2f}",
            f"{run.events_per_second:.1f}",
            f"{run.okta_per_event:.2f}",
            f"{run.teamviewer_per_event:.2f}",
        ]
        for run in runs
    ]
    after = result.after
    return "\n".join(
        [
            "#### Worker throughput per instance",
            "",
            f"Creates of unknown users through one warm instance in batches of {BATCH_SIZE}; Okta "
            f"answering in {after.okta_latency * 1000:.0f} ms and TeamViewer in "
            f"{after.teamviewer_latency * 1000:.0f} ms per request (slept on the emulators' server "
            "threads), TeamViewer's limit out of the way (none in the emulator, the worker's rate "
            "at 1,000 requests/s); SQS and DynamoDB in moto on loopback. Time is the handler's own "
            "(sum of its invocations' wall time).",
            "",
            markdown_table(
                [
                    "users at once (WORKER_RECORD_CONCURRENCY)",
                    "events",
                    "invocations",
                    "handler s",
                    "events/s per instance",
                    "Okta calls / event",
                    "TeamViewer calls / event",
                ],
                rows,
            ),
            "",
            f"**{result.ratio:.1f}x** the events per second of one record at a time "
            f"(goal ≥ {THROUGHPUT_GOAL:g}x) {verdict(result.ratio >= THROUGHPUT_GOAL)}",
        ]
    )


def _goal(goal: int) -> str:
    return "0" if goal == 0 else f"≤ {goal}"


def render(result: WorkerResult) -> str:
    rows = [
        [
            s.name,
            s.events,
            f"{s.teamviewer_max} ({s.teamviewer_mean:.2f})",
            f"{_goal(s.teamviewer_goal)} {verdict(s.teamviewer_max <= s.teamviewer_goal)}",
            f"{s.okta_max} ({s.okta_mean:.2f})",
            f"{_goal(s.okta_goal)} {verdict(s.okta_max <= s.okta_goal)}",
            ms(s.cpu_single_p50),
            ms(s.cpu_batched_per_event),
            ms(s.wall_single_p50),
        ]
        for s in result.scenarios
    ]
    return (
        "\n".join(
            [
                "### Worker",
                "",
                f"Warm `functions/worker/app.py` driven by the SQS event source emulation; TeamViewer and "
                f"Okta emulators over loopback HTTP; SQS and DynamoDB in a moto server on loopback; "
                f"`OKTA_APP_ID` set; one record at a time (`WORKER_RECORD_CONCURRENCY=1`) and the "
                f"worker's TeamViewer rate at 1,000 requests/s, so each figure is one event's own. "
                f"Each scenario runs on {result.users} users with one event per "
                f"invocation (the max per event is taken there) and on {result.users} more in batches of "
                f"{BATCH_SIZE}; the mean covers both. CPU is the handler thread's `time.thread_time()`: "
                "the emulators' and moto's threads and socket waits are not in it.",
                "",
                markdown_table(
                    [
                        "scenario",
                        "events",
                        "TeamViewer calls / event: max (mean)",
                        "goal",
                        "Okta calls / event: max (mean)",
                        "goal",
                        "CPU ms / event, 1 per invocation (p50)",
                        "CPU ms / event, batches of 10",
                        "wall ms / event, 1 per invocation (p50)",
                    ],
                    rows,
                ),
                "",
                "A deactivation's max includes the token owner lookup (`GET /api/v1/account`), made "
                "once per container, by the first deactivation it handles.",
                *(["", render_throughput(result.throughput)] if result.throughput is not None else []),
            ]
        )
        + "\n"
    )
