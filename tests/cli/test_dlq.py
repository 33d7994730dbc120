"""``tvsync dlq list`` / ``redrive`` against the template's queues in moto.

moto has no message move tasks, so ``auto`` takes the receive-send-delete loop there, as it
would against any endpoint without them; the move-task path is driven through a client
whose two move-task calls behave as SQS documents them.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Aws
from tvsync.adapters.dead_letters import DeadLetterQueue
from tvsync.adapters.sync_state import SyncStateStore
from tvsync.cli.main import main
from tvsync.cli.output import console
from tvsync.models.sync_request import SyncRequest
from tvsync.models.sync_state import SyncState

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def stack(aws: Aws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Aws:
    """The CLI finds the stack through the environment (no local stack state file)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(console, "width", 200)
    env = aws.env("WorkerFunction")
    monkeypatch.setenv("EVENT_QUEUE_URL", env["EVENT_QUEUE_URL"])
    monkeypatch.setenv("SYNC_STATE_TABLE_NAME", env["SYNC_STATE_TABLE_NAME"])
    return aws


def dead_letter(aws: Aws, user: str, uuid: str, event_type: str = "user.lifecycle.create") -> str:
    request = SyncRequest(
        okta_user_id=user, event_uuid=uuid, event_type=event_type, published=T0, delivery_id="delivery-1"
    )
    aws.session.client("sqs").send_message(
        QueueUrl=aws.dlq_url,
        MessageBody=request.model_dump_json(),
        MessageGroupId=user,
        MessageDeduplicationId=uuid,
    )
    return request.model_dump_json()


def record(aws: Aws, user: str, outcome: str, reason: str | None) -> None:
    store = SyncStateStore(aws.session.client("dynamodb"), aws.resources.refs["SyncStateTable"])
    store.put(
        SyncState(
            okta_user_id=user,
            email=f"{user}@example.com",
            last_outcome=outcome,
            last_reason=reason,
            updated_at=T0 + timedelta(minutes=30),
        )
    )


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main(list(argv))
    return code, json.loads(capsys.readouterr().out)


def dlq_depth(aws: Aws) -> int:
    attrs = aws.session.client("sqs").get_queue_attributes(
        QueueUrl=aws.dlq_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_list_joins_each_message_with_the_users_last_error_and_leaves_it_in_place(
    stack: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    dead_letter(stack, "00uAlice", "evt-1")
    dead_letter(stack, "00uAlice", "evt-2", "user.lifecycle.suspend")
    dead_letter(stack, "00uBob", "evt-3")
    record(stack, "00uAlice", "retrying", "auth: TeamViewer answered 401")
    record(stack, "00uBob", "applied", None)

    code, listing = run_json(capsys, "dlq", "list", "--json")

    assert code == 0
    assert listing["depth"] == 3
    rows = {m["event_uuid"]: m for m in listing["messages"]}
    assert set(rows) == {"evt-1", "evt-2", "evt-3"}
    assert rows["evt-2"]["event_type"] == "user.lifecycle.suspend"
    assert rows["evt-1"]["okta_user_id"] == rows["evt-1"]["message_group_id"] == "00uAlice"
    assert rows["evt-1"]["last_error"] == "auth: TeamViewer answered 401"
    assert rows["evt-1"]["last_attempt_at"] == (T0 + timedelta(minutes=30)).isoformat()
    assert rows["evt-1"]["receive_count"] == 1
    assert rows["evt-1"]["first_received_at"] is not None
    # Bob's last sync went through after this event failed: no error to show, his outcome is.
    assert (rows["evt-3"]["last_error"], rows["evt-3"]["user_last_outcome"]) == (None, "applied")
    # Listing is a look, not a move: everything is still there, and visible again at once.
    assert dlq_depth(stack) == 3
    code, again = run_json(capsys, "dlq", "list", "--json")
    assert len(again["messages"]) == 3
    assert {m["receive_count"] for m in again["messages"]} == {2}


def test_list_as_a_table_and_an_unreadable_body(
    stack: Aws, piped: None, capsys: pytest.CaptureFixture[str]
) -> None:
    dead_letter(stack, "00uAlice", "evt-1")
    record(stack, "00uAlice", "retrying", "TeamViewer answered 503")
    broken = stack.session.client("sqs").send_message(
        QueueUrl=stack.dlq_url, MessageBody="not json", MessageGroupId="00uBroken", MessageDeduplicationId="x"
    )["MessageId"]
    assert main(["dlq", "list"]) == 0
    out = capsys.readouterr().out
    assert "Dead-lettered events (2 messages shown)" in out
    alice = row(out, "00uAlice")
    assert alice[:3] == ["00uAlice", "user.lifecycle.create", "evt-1"]
    assert alice[-1] == "TeamViewer answered 503"
    # Not a sync request: no event, and its SQS message id is not passed off as an event uuid.
    assert row(out, "00uBroken")[:3] == ["00uBroken", "-", "-"]
    assert row(out, "00uBroken")[-1] == (
        f"unreadable message {broken}: not a sync request: "
        "body: Invalid JSON: expected ident at line 1 column 2"
    )


def test_an_unreadable_message_in_json(stack: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    broken = stack.session.client("sqs").send_message(
        QueueUrl=stack.dlq_url, MessageBody="{}", MessageGroupId="00uBroken", MessageDeduplicationId="x"
    )["MessageId"]
    code, listing = run_json(capsys, "dlq", "list", "--json")
    assert code == 0
    [message] = listing["messages"]
    assert (message["unreadable"], message["event_uuid"], message["message_id"]) == (True, None, broken)
    assert message["last_error"].startswith(
        f"unreadable message {broken}: not a sync request: okta_user_id: Field required; "
    )


def test_one_message_is_one_message(stack: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    dead_letter(stack, "00uAlice", "evt-1")
    assert main(["dlq", "list"]) == 0
    assert "Dead-lettered events (1 message shown)" in capsys.readouterr().out
    assert main(["dlq", "redrive"]) == 0
    assert capsys.readouterr().out == "Moved 1 message back to the event queue (receive-send-delete loop).\n"


def row(out: str, first_cell: str) -> list[str]:
    """The cells of the table row that starts with ``first_cell``: one line, never wrapped."""
    [line] = [line for line in out.splitlines() if line.startswith(f"│ {first_cell} ")]
    return [cell.strip() for cell in line.split("│")[1:-1]]


def test_list_of_an_empty_dlq(stack: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dlq", "list"]) == 0
    assert "The DLQ is empty" in capsys.readouterr().out


def test_redrive_keeps_group_and_deduplication_ids_and_order(
    stack: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    bodies = {dead_letter(stack, "00uAlice", f"evt-a{n}") for n in range(4)}
    bodies.add(dead_letter(stack, "00uBob", "evt-b0"))

    code, result = run_json(capsys, "dlq", "redrive", "--json")

    assert code == 0
    assert (result["method"], result["moved"], result["failed"], result["remaining"]) == ("loop", 5, 0, 0)
    queued = stack.drain()
    assert len(queued) == 5
    for message in queued:
        body = SyncRequest.model_validate_json(message["Body"])
        assert message["Attributes"]["MessageGroupId"] == body.okta_user_id
        assert message["Attributes"]["MessageDeduplicationId"] == body.event_uuid
    assert {m["Body"] for m in queued} == bodies
    alice = [SyncRequest.model_validate_json(m["Body"]).event_uuid for m in queued]
    assert [u for u in alice if u.startswith("evt-a")] == ["evt-a0", "evt-a1", "evt-a2", "evt-a3"]
    assert dlq_depth(stack) == 0


def test_redrive_max_moves_only_the_oldest_n(stack: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    for n in range(5):
        dead_letter(stack, "00uAlice", f"evt-{n}")
    code, result = run_json(capsys, "dlq", "redrive", "--max", "2", "--json")
    assert code == 0
    assert (result["moved"], result["remaining"]) == (2, 3)
    assert [SyncRequest.model_validate_json(m["Body"]).event_uuid for m in stack.drain()] == [
        "evt-0",
        "evt-1",
    ]
    assert dlq_depth(stack) == 3


def test_the_redrive_summary_counts_in_words(stack: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    for n in range(4):
        dead_letter(stack, "00uAlice", f"evt-{n}")
    assert main(["dlq", "redrive", "--max", "1"]) == 0
    assert capsys.readouterr().out == (
        "Moved 1 message back to the event queue (receive-send-delete loop).\n"
        "About 3 messages remain in the DLQ.\n"
    )
    assert main(["dlq", "redrive", "--max", "2"]) == 0
    assert capsys.readouterr().out == (
        "Moved 2 messages back to the event queue (receive-send-delete loop).\n"
        "About 1 message remains in the DLQ.\n"
    )


def test_an_interrupted_redrive_loses_nothing_and_the_rerun_sends_no_duplicate(
    stack: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        dead_letter(stack, f"00uUser{n}", f"evt-{n}")
    sqs = stack.session.client("sqs")
    queue = DeadLetterQueue.of_queue(sqs, stack.queue_url, visibility_timeout=1, wait_seconds=0)

    def crash(**_: Any) -> Any:
        raise KeyboardInterrupt("the operator's laptop went to sleep between send and delete")

    monkeypatch.setattr(sqs, "delete_message_batch", crash)
    with pytest.raises(KeyboardInterrupt):
        queue.redrive(method="loop")
    # Sent, not deleted: every event is in the event queue *and* still in the DLQ.
    assert dlq_depth(stack) == 3
    monkeypatch.undo()
    time.sleep(1.1)  # the DLQ copies reappear once the redrive's visibility timeout passes

    rerun = DeadLetterQueue.of_queue(stack.session.client("sqs"), stack.queue_url, wait_seconds=0).redrive()

    assert (rerun.moved, rerun.remaining) == (3, 0)
    # The repeated sends carried the same deduplication ids: SQS kept one copy of each.
    uuids = [SyncRequest.model_validate_json(m["Body"]).event_uuid for m in stack.drain()]
    assert sorted(uuids) == ["evt-0", "evt-1", "evt-2"]


def test_a_repeat_that_dedup_cannot_catch_is_absorbed_by_the_workers_idempotency(
    stack: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker consumed the first copy before the rerun (or the 5-minute window passed)."""
    from tests.support.pipeline import add_assigned, start_pipeline

    pipeline, servers = start_pipeline(stack, monkeypatch)
    try:
        user = add_assigned(pipeline, "alice.archer@example.com", "Alice", "Archer")
        dead_letter(stack, user, "evt-once")
        sqs = stack.session.client("sqs")
        queue = DeadLetterQueue.of_queue(sqs, stack.queue_url, visibility_timeout=1, wait_seconds=0)
        with monkeypatch.context() as patch:
            patch.setattr(sqs, "delete_message_batch", _raising(KeyboardInterrupt()))
            with pytest.raises(KeyboardInterrupt):
                queue.redrive(method="loop")
        pipeline.drain()
        calls = len(pipeline.tv.calls)
        time.sleep(1.1)
        assert queue.redrive().moved == 1
        pipeline.drain()
        assert len(pipeline.tv.calls) == calls, "the duplicate reached the worker but did nothing"
        assert [u["email"] for u in pipeline.tv.users()].count("alice.archer@example.com") == 1
        assert dlq_depth(stack) == 0
    finally:
        for server in servers:
            server.close()


def test_move_task_is_used_when_the_endpoint_has_it(stack: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(3):
        dead_letter(stack, "00uAlice", f"evt-{n}")
    sqs = stack.session.client("sqs")
    fake = _MoveTasks(stack, sqs)
    monkeypatch.setattr(sqs, "start_message_move_task", fake.start)
    monkeypatch.setattr(sqs, "list_message_move_tasks", fake.list)
    seen: list[tuple[int, int | None]] = []

    result = DeadLetterQueue.of_queue(sqs, stack.queue_url).redrive(
        progress=lambda moved, total: seen.append((moved, total)), poll_interval=0
    )

    assert (result.method, result.moved, result.task_handle, result.remaining) == (
        "move-task",
        3,
        "task-1",
        0,
    )
    assert fake.started == [
        {"SourceArn": _arn(stack, stack.dlq_url), "DestinationArn": _arn(stack, stack.queue_url)}
    ]
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
    assert len(stack.drain()) == 3


def test_max_never_starts_a_move_task(stack: Aws) -> None:
    dead_letter(stack, "00uAlice", "evt-0")
    sqs = stack.session.client("sqs")
    sqs.start_message_move_task = _raising(AssertionError("a move task cannot stop after N"))  # type: ignore[method-assign]
    assert DeadLetterQueue.of_queue(sqs, stack.queue_url).redrive(max_messages=1).method == "loop"


def test_a_queue_without_a_dlq_is_one_clear_error(
    stack: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EVENT_QUEUE_URL", stack.dlq_url)
    assert main(["dlq", "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no RedrivePolicy" in err


def test_redrive_method_move_task_on_an_endpoint_without_it_is_an_error(
    stack: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dlq", "redrive", "--method", "move-task"]) == 2
    assert "does not support message move tasks" in capsys.readouterr().err


class _MoveTasks:
    """SQS's move task as documented: runs on the server, reported by ListMessageMoveTasks."""

    def __init__(self, aws: Aws, sqs: Any) -> None:
        self._aws = aws
        self._sqs = sqs
        self.started: list[dict[str, Any]] = []
        self._polls = 0
        self._total = 0

    def start(self, **kwargs: Any) -> dict[str, Any]:
        self.started.append(kwargs)
        self._total = dlq_depth(self._aws)
        return {"TaskHandle": "task-1"}

    def list(self, **_: Any) -> dict[str, Any]:
        self._polls += 1
        if self._polls == 1:
            return {
                "Results": [
                    {
                        "Status": "RUNNING",
                        "ApproximateNumberOfMessagesMoved": 0,
                        "ApproximateNumberOfMessagesToMove": self._total,
                    }
                ]
            }
        moved = DeadLetterQueue(
            self._sqs,
            queue_url=self._aws.queue_url,
            dlq_url=self._aws.dlq_url,
            queue_arn="",
            dlq_arn="",
            wait_seconds=0,
        ).redrive_loop()
        return {
            "Results": [
                {
                    "Status": "COMPLETED",
                    "ApproximateNumberOfMessagesMoved": moved.moved,
                    "ApproximateNumberOfMessagesToMove": self._total,
                }
            ]
        }


def _raising(exc: BaseException) -> Any:
    def call(**_: Any) -> Any:
        raise exc

    return call


def _arn(aws: Aws, url: str) -> str:
    return str(
        aws.session.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
    )
