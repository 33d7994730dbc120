"""Putting sync requests on the FIFO queue without losing any.

``SendMessageBatch`` can fail as a call (SQS unreachable, throttled) or succeed while
failing some entries; both are retried here, briefly, and never past the caller's
deadline: the ingest path has Okta's 3 s budget, and an answer that comes after it is
worth nothing. Whatever still fails is reported back so the caller can answer 503 and let
Okta redeliver — SQS deduplication on the event uuid makes the redelivery of
already-queued events harmless, including a call that timed out after SQS took it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from tvsync.models.sync_request import SyncRequest

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

#: SQS's limit on entries per SendMessageBatch call.
BATCH_SIZE = 10


@dataclass
class SendOutcome:
    """How a send went: uuids queued, uuids that could not be queued, calls made, errors met."""

    queued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    calls: int = 0
    #: Class names of the call-level failures met (e.g. ``ReadTimeoutError``), for the log.
    errors: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.failed


class EventQueue:
    """The ``EventQueue`` FIFO queue: one message group per Okta user, dedup id = event uuid.

    ``attempts`` bounds the calls per chunk of ten (the first and the retries). Where a
    deadline matters, give it a client that does not retry calls itself: only this loop
    knows the deadline.
    """

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        *,
        attempts: int = 3,
        backoff: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._attempts = attempts
        self._backoff = backoff
        self._sleep = sleep
        self._clock = clock

    def send(self, requests: Sequence[SyncRequest], *, deadline: float | None = None) -> SendOutcome:
        """Queue ``requests`` in order, in chunks of ten; never raises for SQS failures.

        ``deadline`` is a ``clock()`` reading after which no call is started. Once a chunk
        cannot be sent at all — SQS unreachable, or the time is up — the chunks after it are
        not tried: they would fare no better, and the caller should answer now.
        """
        outcome = SendOutcome()
        chunks = [list(requests[start : start + BATCH_SIZE]) for start in range(0, len(requests), BATCH_SIZE)]
        for index, chunk in enumerate(chunks):
            if not self._send_chunk(chunk, outcome, deadline):
                outcome.failed.extend(r.event_uuid for rest in chunks[index + 1 :] for r in rest)
                break
        return outcome

    def _send_chunk(self, chunk: list[SyncRequest], outcome: SendOutcome, deadline: float | None) -> bool:
        """Send one chunk; False when SQS could not be reached before the deadline."""
        pending = {str(index): request for index, request in enumerate(chunk)}
        reached = False
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(self._backoff * attempt)
            if deadline is not None and self._clock() >= deadline:
                break
            outcome.calls += 1
            try:
                response = self._sqs.send_message_batch(
                    QueueUrl=self._queue_url, Entries=[_entry(i, r) for i, r in pending.items()]
                )
            except (ClientError, BotoCoreError) as exc:
                outcome.errors.append(type(exc).__name__)
                continue
            reached = True
            for ok in response.get("Successful", []):
                outcome.queued.append(pending.pop(ok["Id"]).event_uuid)
            retryable = {e["Id"] for e in response.get("Failed", []) if not e.get("SenderFault", False)}
            for entry_id in list(pending):
                if entry_id not in retryable:
                    # A sender fault will fail again: stop retrying it now.
                    outcome.failed.append(pending.pop(entry_id).event_uuid)
            if not pending:
                return True
        outcome.failed.extend(request.event_uuid for request in pending.values())
        return reached


def _entry(entry_id: str, request: SyncRequest) -> SendMessageBatchRequestEntryTypeDef:
    return {
        "Id": entry_id,
        "MessageBody": request.model_dump_json(),
        "MessageGroupId": request.okta_user_id,
        "MessageDeduplicationId": request.event_uuid,
    }
