"""Putting sync requests on the FIFO queue without losing any.

``SendMessageBatch`` can succeed as a call while failing some entries; those are retried
(briefly: the ingest path has Okta's 3 s budget). Whatever still fails is reported back so
the caller can answer 503 and let Okta redeliver — SQS deduplication on the event uuid
makes the redelivery of already-queued events harmless.
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
    """How a send went: uuids queued, uuids that could not be queued, and calls made."""

    queued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    calls: int = 0

    @property
    def complete(self) -> bool:
        return not self.failed


class EventQueue:
    """The ``EventQueue`` FIFO queue: one message group per Okta user, dedup id = event uuid."""

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        *,
        entry_attempts: int = 3,
        backoff: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._entry_attempts = entry_attempts
        self._backoff = backoff
        self._sleep = sleep

    def send(self, requests: Sequence[SyncRequest]) -> SendOutcome:
        """Queue ``requests`` in order, in chunks of ten; never raises for SQS failures."""
        outcome = SendOutcome()
        for start in range(0, len(requests), BATCH_SIZE):
            self._send_chunk(list(requests[start : start + BATCH_SIZE]), outcome)
        return outcome

    def _send_chunk(self, chunk: list[SyncRequest], outcome: SendOutcome) -> None:
        pending = {str(index): request for index, request in enumerate(chunk)}
        for attempt in range(self._entry_attempts):
            if attempt:
                self._sleep(self._backoff * attempt)
            outcome.calls += 1
            try:
                response = self._sqs.send_message_batch(
                    QueueUrl=self._queue_url, Entries=[_entry(i, r) for i, r in pending.items()]
                )
            except (ClientError, BotoCoreError):
                # botocore already retried the call itself; a failed call is an outage.
                break
            for ok in response.get("Successful", []):
                outcome.queued.append(pending.pop(ok["Id"]).event_uuid)
            retryable = {e["Id"] for e in response.get("Failed", []) if not e.get("SenderFault", False)}
            for entry_id in list(pending):
                if entry_id not in retryable:
                    # A sender fault will fail again: stop retrying it now.
                    outcome.failed.append(pending.pop(entry_id).event_uuid)
            if not pending:
                return
        outcome.failed.extend(request.event_uuid for request in pending.values())


def _entry(entry_id: str, request: SyncRequest) -> SendMessageBatchRequestEntryTypeDef:
    return {
        "Id": entry_id,
        "MessageBody": request.model_dump_json(),
        "MessageGroupId": request.okta_user_id,
        "MessageDeduplicationId": request.event_uuid,
    }
