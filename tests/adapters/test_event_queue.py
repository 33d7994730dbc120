"""EventQueue: every request either queued or reported failed, and never past the deadline.

A scripted SQS client plays each case: what each SendMessageBatch call does, in order, and
how long it takes on a fake clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from tvsync.adapters.event_queue import EventQueue, SendOutcome
from tvsync.models.sync_request import SyncRequest

AWS = "https://sqs.us-east-1.amazonaws.com"


def requests(n: int) -> list[SyncRequest]:
    return [
        SyncRequest(
            okta_user_id=f"00u{index:017d}",
            event_uuid=f"evt-{index:03d}",
            event_type="user.lifecycle.create",
            published=datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
        )
        for index in range(n)
    ]


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
