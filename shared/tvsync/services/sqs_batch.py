"""The SQS side of the worker: FIFO batches in, each event handed to the synchroniser once.

What happens to a record, by how its handling ended:

- the synchroniser returned (applied, nothing to do, a conflict, a refusal): the record
  succeeds. Each event uuid is handed over at most once (Powertools idempotency, in the
  ``process`` the wiring passes), so a redelivered event costs no call.
- ``RetryLaterError`` (throttled, transient, auth, anything unexpected): the record fails,
  and SQS redelivers it after the longer of the server's requested wait and an exponential
  backoff by receive count, so even a rate limit with a short ``Retry-After`` spreads the
  queue's ``maxReceiveCount`` receives over minutes before the DLQ. A failed record's later
  records in the same message group (the same user) wait with it, in order.
- a body that is not a ``SyncRequest``: dropped, visibly (see ``_drop_unreadable``).

A rate limit applies to the whole token, and a Lambda's time is finite: once either runs
out, the rest of the batch goes back to SQS without being started.

Records of different users (message groups) are handled side by side, up to
``record_concurrency`` at once; one user's records stay strictly in order
(``tvsync.services.fifo_groups``). So "the rest of the batch" is every record not yet
started when the rate limit or the deadline is noticed: records already running on other
threads finish (within their own bounded retries), the others go back unstarted. The
state this class keeps per invocation is shared by those threads and changed only under
``_lock``; nothing per record lives on the logger (each line carries its own fields), so no
record's keys can show up on another's line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from pydantic import ValidationError

from tvsync.core.outcome import Detail
from tvsync.models.sync_request import SyncRequest
from tvsync.services.clock import Deadline
from tvsync.services.failures import describe, traceback_text
from tvsync.services.fifo_groups import ConcurrentFifoProcessor

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_sqs.type_defs import ChangeMessageVisibilityBatchRequestEntryTypeDef

    from tvsync.services.ports import MessageVisibility

__all__ = ["BatchWorker", "HandedBackError", "RetryLaterError"]

#: SQS caps a message's visibility timeout at 12 hours.
MAX_VISIBILITY_SECONDS = 43_200

#: How soon a record handed back unstarted (the invocation ran out of time) is redelivered:
#: it did nothing wrong, so it skips the backoff, but not so soon that a misconfigured
#: timeout turns into a tight loop.
UNSTARTED_DELAY_SECONDS = 1.0


class RetryLaterError(Exception):
    """The event could not be applied now; SQS should redeliver it after ``delay`` seconds.

    ``throttled``: the cause was a rate limit, which holds for every event of the batch.
    """

    def __init__(self, cause: Exception, delay: float | None, *, throttled: bool = False) -> None:
        super().__init__(str(cause))
        self.delay = delay
        self.throttled = throttled


def _ignore_rejection(okta_user_id: str, reason: Detail) -> None:
    return None


class HandedBackError(Exception):
    """A record was not started: the batch hit a rate limit or ran out of time."""


@dataclass(frozen=True)
class _HandBack:
    """Why the rest of the batch goes back to SQS unstarted, and after how long.

    ``backoff``: each record also waits its own receive count's backoff (a rate limit that
    lasts must not use up the receives); without it, just ``delay``.
    """

    reason: str
    delay: float | None
    backoff: bool


@dataclass
class BatchWorker:
    """The SQS side: FIFO partial batches, idempotency per event, redelivery timing."""

    process: Callable[..., dict[str, Any]]  # the idempotent ``converge`` (keyword arg ``request``)
    register_context: Callable[[LambdaContext], None]
    sqs: MessageVisibility
    queue_url: str
    logger: Logger
    metrics: Metrics
    #: Records ``(okta_user_id, reason)`` for a message dropped because its body is unreadable.
    reject: Callable[[str, Detail], None] = _ignore_rejection
    #: Started at each invocation; shared with the in-process retries and the company scan.
    deadline: Deadline = field(default_factory=Deadline)
    #: In-process retries and long scans stop this long before the Lambda timeout.
    retry_budget_seconds: float = 10.0
    #: A record is started only with at least this much time left (the first always is).
    #: One record is two Okta reads and up to three TeamViewer calls, ~1 s when all is well,
    #: but a single attempt may take 13 s (3 s connect + 10 s read) before it times out; 20 s
    #: covers that attempt plus the SyncStateTable write and the redelivery bookkeeping.
    #: Retries stop ``retry_budget_seconds`` before the end, so at least one is possible.
    record_margin_seconds: float = 20.0
    #: Message groups (users) handled at once within one invocation; 1 = one record after
    #: another. The wiring passes ``WORKER_RECORD_CONCURRENCY``.
    record_concurrency: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _group_delays: dict[str, float] = field(default_factory=dict)
    _context: LambdaContext | None = None
    _started: int = 0
    _hand_back: _HandBack | None = None
    _handed_back: int = 0

    def handle(self, event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        self.register_context(context)
        self._group_delays.clear()
        self._context, self._started, self._hand_back, self._handed_back = context, 0, None, 0
        self.deadline.start(context.get_remaining_time_in_millis() / 1000, self.retry_budget_seconds)
        # Powertools' FIFO rule (a failed record's later records in its group fail unstarted),
        # with groups side by side. It reports every failed record instead of raising when all
        # of them failed (Powertools' default): the effect on SQS is the same, without an
        # invocation error per throttled batch.
        processor = ConcurrentFifoProcessor(max_workers=self.record_concurrency)
        response = process_partial_response(
            event=event, record_handler=self._handle_record, processor=processor, context=context
        )
        if self._hand_back is not None and self._handed_back:
            self.logger.warning(
                "Records handed back to SQS without being started",
                extra={"records": self._handed_back, "reason": self._hand_back.reason},
            )
        self._delay_redelivery(event, response)
        return response

    @property
    def hand_back_reason(self) -> str | None:
        """Why records not yet started in this invocation go back to SQS unstarted, if they do."""
        with self._lock:
            return self._hand_back.reason if self._hand_back is not None else None

    def _handle_record(self, record: SQSRecord) -> dict[str, Any]:
        with self._lock:
            # Decided and claimed in one step, so two threads cannot both be "the first".
            hand_back = self._hand_back or self._out_of_time()
            if hand_back is not None:
                self._hand_back = hand_back
                self._handed_back += 1
                self._remember_delay(record, hand_back.delay, backoff=hand_back.backoff)
                raise HandedBackError(hand_back.reason)
            self._started += 1  # an unreadable body counts too: dropping it is progress
        try:
            request = SyncRequest.model_validate_json(record.body)
        except ValidationError as exc:
            return self._drop_unreadable(record, exc)
        try:
            return self.process(request=request)
        except RetryLaterError as exc:
            with self._lock:
                self._remember_delay(record, exc.delay)
                if exc.throttled:
                    # The limit is the token's, not this event's: the next record would only be
                    # refused too, and its refusal would cost it one of its receives.
                    self._hand_back = _rate_limited(self._hand_back, exc.delay)
            raise
        except IdempotencyAlreadyInProgressError:
            # The same event is being applied by another invocation right now: check back soon.
            with self._lock:
                self._remember_delay(record, 5.0)
            raise
        except Exception as exc:
            # Failed outside ``converge`` (the idempotency store, say): still say so, and why.
            self.metrics.add_metric(name="TransientFailures", unit=MetricUnit.Count, value=1)
            self.logger.error(
                "Record failed unexpectedly; SQS will redeliver",
                extra={
                    "okta_user_id": request.okta_user_id,
                    "event_uuid": request.event_uuid,
                    "error": describe(exc),
                    "traceback": traceback_text(exc),
                },
            )
            with self._lock:
                self._remember_delay(record, None)
            raise

    def _out_of_time(self) -> _HandBack | None:
        """Stop starting records near the timeout; the first always starts, so a batch progresses.

        Called with ``_lock`` held.
        """
        if self._context is None or self._started == 0:
            return None
        remaining = self._context.get_remaining_time_in_millis() / 1000
        if remaining >= self.record_margin_seconds:
            return None
        return _HandBack(f"out of time ({remaining:.1f} s left)", UNSTARTED_DELAY_SECONDS, backoff=False)

    def _drop_unreadable(self, record: SQSRecord, exc: ValidationError) -> dict[str, Any]:
        """Drop a body that is not a sync request — visibly — instead of retrying it.

        It fails the same way on every delivery and after any redrive, and while it is
        retried it holds up every later event of its message group (the user). Dropping
        it loses nothing: the worker is level-triggered, so the user's next event, or the
        reconciler, converges them anyway. The log line, the ``InvalidRequests`` metric
        and the user's SyncStateTable record (``invalid``) say what happened.
        """
        problem = _validation_problem(exc)
        group = record.attributes.message_group_id
        self.metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
        self.logger.error(
            "Message is not a sync request; dropped, not retried",
            extra={"message_id": record.message_id, "message_group_id": group, "problem": problem},
        )
        if group:
            self.reject(group, Detail(f"message {record.message_id} dropped, not a sync request: {problem}"))
        return {"dropped": record.message_id, "reason": problem}

    def _remember_delay(self, record: SQSRecord, delay: float | None, *, backoff: bool = True) -> None:
        """The group's redelivery delay: the wait asked for, but (``backoff``) no less than the ladder's.

        A server's ``Retry-After`` alone can be a second or two; honoured as is, a lasting
        rate limit would use up the queue's receives within a minute and dead-letter events
        that only had to wait. Called with ``_lock`` held.
        """
        group = record.attributes.message_group_id or record.message_id
        wanted = delay or 0.0
        if backoff:
            wanted = max(wanted, _backoff(int(record.attributes.approximate_receive_count)))
        self._group_delays[group] = max(self._group_delays.get(group, 0.0), wanted)

    def _delay_redelivery(self, event: dict[str, Any], response: PartialItemFailureResponse) -> None:
        """Make failed records visible again when they should be retried, not after the full timeout.

        A failed group's later records (skipped by the FIFO processor) get the same delay,
        so the group comes back together and in order.
        """
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = []
        for record in event.get("Records", []):
            if record["messageId"] not in failed:
                continue
            attributes = record.get("attributes", {})
            group = attributes.get("MessageGroupId") or record["messageId"]
            delay = self._group_delays.get(
                group, _backoff(int(attributes.get("ApproximateReceiveCount", "1")))
            )
            entries.append(
                {
                    "Id": str(len(entries)),
                    "ReceiptHandle": record["receiptHandle"],
                    "VisibilityTimeout": min(MAX_VISIBILITY_SECONDS, max(0, round(delay))),
                }
            )
        if not entries:
            return
        try:
            self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
        except Exception:
            self.logger.exception("Could not shorten the redelivery delay of failed records")


def _rate_limited(current: _HandBack | None, delay: float | None) -> _HandBack:
    """The hand-back after a rate limit, given the one already decided (records on other threads
    may be refused too): a rate limit outweighs running out of time, and the longest wait
    the server asked for wins."""
    throttled = _HandBack("rate limited", delay, backoff=True)
    if current is None or not current.backoff or (delay or 0.0) > (current.delay or 0.0):
        return throttled
    return current


def _backoff(receive_count: int) -> float:
    """2, 4, 8 … seconds by delivery attempt, capped at 5 minutes.

    With the queue's ``maxReceiveCount`` of 10, the waits after receives 1-9 add up to
    810 s: an event that fails every time reaches the DLQ about 14 minutes after its first
    delivery (plus the time the attempts themselves took).
    """
    return float(min(300, 2 ** max(1, receive_count)))


def _validation_problem(exc: ValidationError) -> str:
    """Which fields failed and why, never their values (a body may carry anything)."""
    problems = (
        f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    )
    return "; ".join(problems)[:300]
