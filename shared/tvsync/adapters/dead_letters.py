"""The event queue's dead-letter queue: what is in it, and moving it back without losing any.

The DLQ is found from the event queue's own ``RedrivePolicy``, so an operator needs nothing
beyond the function environment (``EVENT_QUEUE_URL``) to reach it.

Redrive prefers SQS's server-side message move task. Where the endpoint lacks it (moto, some
emulators) or only part of the queue should move (``max_messages``), a client-side loop
receives a batch, sends it to the event queue with the *same* message group id and
deduplication id, and only then deletes it from the DLQ. An interruption can therefore
duplicate a message, never lose one: the repeated send carries the same deduplication id
(SQS drops it within its 5-minute window) and the same event uuid (the worker's idempotency
record skips it after that).

On AWS a message dead-lettered from a FIFO queue carries the *original message id* as its
deduplication id, not the producer's. Re-sending with that id is what keeps a redrive from
colliding with the original send's deduplication window, so the loop always reuses the
DLQ message's id and never derives one from the body.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from tvsync.models.sync_request import SyncRequest

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef, SendMessageBatchRequestEntryTypeDef

#: Error codes meaning "this endpoint has no message move tasks": fall back to the loop.
UNSUPPORTED_CODES = frozenset(
    {
        "UnsupportedOperation",
        "AWS.SimpleQueueService.UnsupportedOperation",
        "InvalidAction",
        "NotImplemented",
        "501",
    }
)
SYSTEM_ATTRIBUTES: list[Any] = [
    "MessageGroupId",
    "MessageDeduplicationId",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "SentTimestamp",
]


class DeadLetterError(Exception):
    """The DLQ cannot be found or used as configured; the message says what to fix."""


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message; ``request`` is ``None`` when the body is not a sync request."""

    message_id: str
    group_id: str | None
    deduplication_id: str | None
    receive_count: int
    sent_at: datetime | None
    first_received_at: datetime | None
    request: SyncRequest | None
    body_problem: str | None = None

    @property
    def okta_user_id(self) -> str | None:
        return self.request.okta_user_id if self.request else self.group_id


@dataclass
class RedriveResult:
    """What a redrive did. ``method`` is ``move-task`` or ``loop``."""

    method: str
    moved: int = 0
    failed: int = 0
    delete_failed: int = 0
    remaining: int | None = None
    task_handle: str | None = None
    problems: list[str] = field(default_factory=list)


Progress = Callable[[int, int | None], None]
"""``(moved so far, total expected or None)``."""


class DeadLetterQueue:
    """The event queue and its DLQ, as a pair: peeking at the DLQ, moving messages back."""

    def __init__(  # noqa: PLR0913 - keyword-only: the queues and the timings, each named
        self,
        sqs: SQSClient,
        *,
        queue_url: str,
        dlq_url: str,
        queue_arn: str,
        dlq_arn: str,
        visibility_timeout: int = 60,
        wait_seconds: int = 2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sqs = sqs
        self.queue_url = queue_url
        self.dlq_url = dlq_url
        self.queue_arn = queue_arn
        self.dlq_arn = dlq_arn
        # How long a received DLQ message stays hidden: after an interruption it reappears
        # (to be redriven again) once this has passed.
        self._visibility = visibility_timeout
        # Long polling asks every SQS host, so "nothing received" really means empty.
        self._wait = wait_seconds
        self._sleep = sleep

    @classmethod
    def of_queue(cls, sqs: SQSClient, queue_url: str, **options: Any) -> DeadLetterQueue:
        """The DLQ named by ``queue_url``'s RedrivePolicy — no extra configuration to drift."""
        try:
            attributes = sqs.get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=["QueueArn", "RedrivePolicy"]
            )["Attributes"]
        except ClientError as exc:
            raise DeadLetterError(f"cannot read the event queue {queue_url}: {_message(exc)}") from None
        policy = attributes.get("RedrivePolicy")
        if not policy:
            raise DeadLetterError(f"the event queue {queue_url} has no RedrivePolicy, so it has no DLQ")
        dlq_arn = str(json.loads(policy)["deadLetterTargetArn"])
        # arn:aws:sqs:<region>:<account>:<name>
        _, _, _, _, account, name = dlq_arn.split(":", 5)
        try:
            dlq_url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        except ClientError as exc:
            raise DeadLetterError(f"cannot find the DLQ {dlq_arn}: {_message(exc)}") from None
        return cls(
            sqs,
            queue_url=queue_url,
            dlq_url=dlq_url,
            queue_arn=attributes["QueueArn"],
            dlq_arn=dlq_arn,
            **options,
        )

    def depth(self) -> int:
        """Messages in the DLQ, visible or not (approximate, as SQS reports it)."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.dlq_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", "0")) + int(
            attributes.get("ApproximateNumberOfMessagesNotVisible", "0")
        )

    def peek(self, limit: int = 100) -> list[DeadLetter]:
        """Up to ``limit`` messages, left in the DLQ (visible again as soon as this returns).

        Receiving is the only way to read SQS, so each look adds one to a message's receive
        count. FIFO locks a message group while any of its messages is in flight, so a look
        sees at most the first ten messages of each group.
        """
        handles: list[str] = []
        letters: list[DeadLetter] = []
        try:
            while len(letters) < limit:
                batch = self._receive(min(10, limit - len(letters)), visibility=max(self._visibility, 30))
                if not batch:
                    break
                handles.extend(m["ReceiptHandle"] for m in batch)
                letters.extend(_letter(m) for m in batch)
        finally:
            self._release(handles)
        return letters

    def redrive(
        self,
        *,
        max_messages: int | None = None,
        method: str = "auto",
        progress: Progress | None = None,
        poll_interval: float = 2.0,
    ) -> RedriveResult:
        """Move messages back to the event queue: ``method`` is ``auto``, ``move-task`` or ``loop``.

        ``auto`` uses a move task when the whole DLQ is to move and the endpoint has them.
        """
        if method not in {"auto", "move-task", "loop"}:
            raise ValueError(f"unknown redrive method {method!r}")
        if method == "move-task" and max_messages is not None:
            raise DeadLetterError("a move task always moves the whole DLQ: use the loop for --max")
        if method != "loop" and max_messages is None:
            result = self._redrive_with_task(progress, poll_interval)
            if result is not None:
                return result
            if method == "move-task":
                raise DeadLetterError("this SQS endpoint does not support message move tasks")
        return self.redrive_loop(max_messages=max_messages, progress=progress)

    def redrive_loop(
        self, *, max_messages: int | None = None, progress: Progress | None = None
    ) -> RedriveResult:
        """Receive, send to the event queue (same group and dedup id), then delete; in batches of ten."""
        result = RedriveResult(method="loop")
        total = max_messages if max_messages is not None else self.depth()
        while max_messages is None or result.moved < max_messages:
            want = 10 if max_messages is None else min(10, max_messages - result.moved)
            batch = self._receive(want, visibility=self._visibility)
            if not batch:
                break
            sent = self._send(batch, result)
            self._delete(sent, result)
            if progress:
                progress(result.moved, total)
            if len(sent) < len(batch):
                # A send failed: stop rather than spin; the unsent messages stay in the DLQ.
                break
        result.remaining = self.depth()
        return result

    def _redrive_with_task(self, progress: Progress | None, poll_interval: float) -> RedriveResult | None:
        try:
            handle = self._sqs.start_message_move_task(SourceArn=self.dlq_arn, DestinationArn=self.queue_arn)[
                "TaskHandle"
            ]
        except NotImplementedError:  # moto in-process
            return None
        except ClientError as exc:
            if _code(exc) in UNSUPPORTED_CODES or exc.response.get("ResponseMetadata", {}).get(
                "HTTPStatusCode"
            ) in {500, 501}:
                return None
            raise DeadLetterError(f"SQS refused the message move task: {_message(exc)}") from None
        result = RedriveResult(method="move-task", task_handle=handle)
        for task in self._task_updates(poll_interval):
            moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
            expected = task.get("ApproximateNumberOfMessagesToMove")
            if progress:
                progress(moved, int(expected) if expected is not None else None)
            result.moved = moved
            status = task.get("Status")
            if status == "FAILED":
                result.problems.append(f"move task failed: {task.get('FailureReason', 'no reason given')}")
            if status != "RUNNING":
                break
        result.remaining = self.depth()
        return result

    def _task_updates(self, poll_interval: float) -> Iterator[dict[str, Any]]:
        while True:
            tasks = self._sqs.list_message_move_tasks(SourceArn=self.dlq_arn, MaxResults=1).get("Results", [])
            if not tasks:
                return
            yield dict(tasks[0])
            self._sleep(poll_interval)

    def _receive(self, count: int, *, visibility: int) -> list[MessageTypeDef]:
        """A short poll; when it finds nothing but SQS counts visible messages, a long poll.

        A short poll samples only some SQS hosts and can come back empty from a non-empty
        queue; the long poll asks them all, and is skipped when the queue is really empty.
        """
        messages = self._receive_once(count, visibility=visibility, wait=0)
        if messages or not self._wait:
            return messages
        visible = self._sqs.get_queue_attributes(
            QueueUrl=self.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"].get("ApproximateNumberOfMessages", "0")
        if visible == "0":
            return []
        return self._receive_once(count, visibility=visibility, wait=self._wait)

    def _receive_once(self, count: int, *, visibility: int, wait: int) -> list[MessageTypeDef]:
        return self._sqs.receive_message(
            QueueUrl=self.dlq_url,
            MaxNumberOfMessages=count,
            VisibilityTimeout=visibility,
            WaitTimeSeconds=wait,
            MessageSystemAttributeNames=SYSTEM_ATTRIBUTES,
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def _send(self, batch: list[MessageTypeDef], result: RedriveResult) -> list[MessageTypeDef]:
        entries: list[SendMessageBatchRequestEntryTypeDef] = []
        for index, message in enumerate(batch):
            attributes = message.get("Attributes", {})
            entry: SendMessageBatchRequestEntryTypeDef = {"Id": str(index), "MessageBody": message["Body"]}
            if "MessageGroupId" in attributes:
                entry["MessageGroupId"] = attributes["MessageGroupId"]
            if "MessageDeduplicationId" in attributes:
                entry["MessageDeduplicationId"] = attributes["MessageDeduplicationId"]
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        try:
            response = self._sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except ClientError as exc:
            result.failed += len(batch)
            result.problems.append(f"could not send to the event queue: {_message(exc)}")
            self._release([m["ReceiptHandle"] for m in batch])
            return []
        ok = {entry["Id"] for entry in response.get("Successful", [])}
        for failure in response.get("Failed", []):
            result.failed += 1
            result.problems.append(
                f"message {batch[int(failure['Id'])]['MessageId']}: {failure.get('Message', '')}"
            )
        self._release([m["ReceiptHandle"] for i, m in enumerate(batch) if str(i) not in ok])
        return [m for i, m in enumerate(batch) if str(i) in ok]

    def _delete(self, sent: list[MessageTypeDef], result: RedriveResult) -> None:
        if not sent:
            return
        response = self._sqs.delete_message_batch(
            QueueUrl=self.dlq_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(sent)],
        )
        failed = response.get("Failed", [])
        # Sent but still in the DLQ: the next redrive sends it again, harmlessly (same ids).
        result.delete_failed += len(failed)
        result.moved += len(sent)

    def _release(self, handles: list[str]) -> None:
        """Make received messages visible again now instead of after the visibility timeout."""
        for start in range(0, len(handles), 10):
            chunk = handles[start : start + 10]
            try:
                self._sqs.change_message_visibility_batch(
                    QueueUrl=self.dlq_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                        for i, h in enumerate(chunk)
                    ],
                )
            except ClientError:
                # They reappear by themselves once the visibility timeout has passed.
                continue


def _letter(message: MessageTypeDef) -> DeadLetter:
    attributes = message.get("Attributes", {})
    request: SyncRequest | None = None
    problem: str | None = None
    try:
        request = SyncRequest.model_validate_json(message["Body"])
    except ValidationError as exc:
        problem = _body_problem(exc)
    return DeadLetter(
        message_id=message["MessageId"],
        group_id=attributes.get("MessageGroupId"),
        deduplication_id=attributes.get("MessageDeduplicationId"),
        receive_count=int(attributes.get("ApproximateReceiveCount", "0")),
        sent_at=_epoch_ms(attributes.get("SentTimestamp")),
        first_received_at=_epoch_ms(attributes.get("ApproximateFirstReceiveTimestamp")),
        request=request,
        body_problem=problem,
    )


def _body_problem(exc: ValidationError) -> str:
    """Why a body is not a sync request: which fields failed and how, never their values."""
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    )
    return f"not a sync request: {problems}"[:300]


def _epoch_ms(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _message(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
