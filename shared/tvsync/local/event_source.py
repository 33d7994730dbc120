"""Emulates Lambda's SQS event source mapping for a FIFO queue, as the template configures it.

What Lambda does, and so what this does: receive up to ``BatchSize`` messages, hand them to
the function as an ``aws:sqs`` event, delete the ones the function did not report in
``batchItemFailures`` (ReportBatchItemFailures), and leave the rest to reappear after their
visibility timeout — where SQS's own ``maxReceiveCount`` moves them to the DLQ. A function
error leaves the whole batch in the queue.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

Handler = Callable[[dict[str, Any]], Mapping[str, Any] | None]

RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "SenderId",
    "MessageDeduplicationId",
    "ApproximateFirstReceiveTimestamp",
)


def lambda_sqs_event(messages: list[MessageTypeDef], *, queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda passes to a function for these received messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    k: v for k, v in message.get("Attributes", {}).items() if k in RECORD_ATTRIBUTES
                },
                "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


@dataclass(frozen=True)
class PollResult:
    received: int
    deleted: int
    failed: int
    error: BaseException | None = None


@dataclass
class SqsEventSource:
    """One event source mapping: a queue, a function, a batch size."""

    sqs: SQSClient
    queue_url: str
    queue_arn: str
    handler: Handler
    batch_size: int = 10
    region: str = "us-east-1"
    wait_seconds: int = 0

    def poll_once(self) -> PollResult:
        """Receive one batch and run the function on it, as one Lambda invocation."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            AttributeNames=["All"],
            WaitTimeSeconds=self.wait_seconds,
        ).get("Messages", [])
        if not messages:
            return PollResult(0, 0, 0)
        event = lambda_sqs_event(messages, queue_arn=self.queue_arn, region=self.region)
        try:
            response = self.handler(event) or {}
        except Exception as exc:
            return PollResult(len(messages), 0, len(messages), error=exc)
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        return PollResult(len(messages), len(done), len(failed))

    def run(self, stop: threading.Event, *, idle_sleep: float = 0.05) -> None:
        """Poll until ``stop`` is set (one poller thread = one concurrent invocation)."""
        while not stop.is_set():
            if self.poll_once().received == 0:
                stop.wait(idle_sleep)
