"""Putting sync requests on the FIFO queue without losing any, and in time for Okta.

``SendMessageBatch`` can fail as a call (SQS unreachable, throttled) or succeed while
failing some entries; both are retried here, briefly, and never past the caller's
deadline: the ingest path has Okta's 3 s budget, and an answer that comes after it is
worth nothing. Whatever still fails is reported back so the caller can answer 503 and let
Okta redeliver — SQS deduplication on the event uuid makes the redelivery of
already-queued events harmless, including a call that timed out after SQS took it.

A call carries at most ten messages and is a network round trip, so calls made one after
another cap what fits in a deadline (a few hundred calls in Okta's budget when each takes
milliseconds). ``EventQueue`` therefore sends in parallel *lanes*, and keeps FIFO order
where SQS defines it — per message group, that is per Okta user, in the order SQS receives
the messages:

- every request of one user goes through the same lane, in the caller's order, and a lane
  makes one call at a time: lanes running side by side never reorder a user;
- users are dealt to lanes heaviest first, each to the lane with the fewest requests so
  far, so lanes finish together (a delivery about one user is one lane: its order demands
  one call after another anyway);
- once a request of a user is not queued, that user's later requests are not sent but
  reported failed — Okta's redelivery sends them all again, in order, after the one that
  failed. (Within one call SQS takes or fails each entry on its own: an entry that fails
  while a later one of its user is taken can only be queued after it. The worker re-reads
  the user for every event, so it ends in the same state either way.);
- once SQS cannot be reached at all, or the deadline has passed, no lane starts another
  call: the rest would fare no better, and the caller should answer now.
"""

from __future__ import annotations

import hashlib
import heapq
import threading
import time
from collections import deque
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

#: A request and its position in the caller's sequence (reports keep the caller's order).
_Indexed = tuple[int, SyncRequest]


@dataclass
class SendOutcome:
    """How a send went: uuids queued, uuids that could not be queued, calls made, errors met.

    ``queued`` and ``failed`` keep the order of the requests given to ``send``.
    """

    queued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    calls: int = 0
    #: Class names of the call-level failures met (e.g. ``ReadTimeoutError``), for the log.
    errors: list[str] = field(default_factory=list)
    #: Lanes the requests were spread over (0 when there was nothing to send).
    lanes: int = 0

    @property
    def complete(self) -> bool:
        return not self.failed


def plan_lanes(requests: Sequence[SyncRequest], max_lanes: int) -> list[list[SyncRequest]]:
    """Spread ``requests`` over at most ``max_lanes`` lanes, every user's requests in one lane.

    No more lanes than chunks of ten: a lane that would carry less than a full call only
    adds a call. Within a lane the requests keep the caller's order.
    """
    return [[request for _, request in lane] for lane in _plan(requests, max_lanes)]


def _plan(requests: Sequence[SyncRequest], max_lanes: int) -> list[list[_Indexed]]:
    if not requests:
        return []
    chunks = -(-len(requests) // BATCH_SIZE)
    count = max(1, min(max_lanes, chunks))
    per_user: dict[str, int] = {}
    for request in requests:
        per_user[request.okta_user_id] = per_user.get(request.okta_user_id, 0) + 1
    # Longest first onto the least-loaded lane; ties by first appearance, then lane number,
    # so the same requests always make the same lanes.
    loads = [(0, lane) for lane in range(count)]
    lane_of: dict[str, int] = {}
    for user, size in sorted(per_user.items(), key=lambda item: -item[1]):
        load, lane = heapq.heappop(loads)
        lane_of[user] = lane
        heapq.heappush(loads, (load + size, lane))
    lanes: list[list[_Indexed]] = [[] for _ in range(count)]
    for index, request in enumerate(requests):
        lanes[lane_of[request.okta_user_id]].append((index, request))
    return [lane for lane in lanes if lane]


@dataclass
class _LaneResult:
    queued: list[tuple[int, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    calls: int = 0
    errors: list[str] = field(default_factory=list)


class EventQueue:
    """The ``EventQueue`` FIFO queue: one message group per Okta user, dedup id = event uuid.

    (A group request has the group's own message group, and a request about a group has
    the group in its dedup id: ``deduplication_id``.)

    ``attempts`` bounds the calls per chunk of ten (the first and the retries).
    ``concurrency`` is the number of lanes sent in parallel, one thread each; the client's
    connection pool must hold as many connections (botocore's ``max_pool_connections``,
    10 by default), or the extra ones are opened and dropped for every call. ``1`` sends
    one chunk after another from the calling thread. Where a deadline matters, give it a
    client that does not retry calls itself: only this loop knows the deadline.
    """

    def __init__(  # noqa: PLR0913 - keyword-only tuning and injected clocks, each named
        self,
        sqs: SQSClient,
        queue_url: str,
        *,
        attempts: int = 3,
        backoff: float = 0.05,
        concurrency: int = 1,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if attempts < 1 or concurrency < 1:
            raise ValueError("attempts and concurrency must be at least 1")
        self._sqs = sqs
        self._queue_url = queue_url
        self._attempts = attempts
        self._backoff = backoff
        self._concurrency = concurrency
        self._sleep = sleep
        self._clock = clock

    def send(self, requests: Sequence[SyncRequest], *, deadline: float | None = None) -> SendOutcome:
        """Queue ``requests``, each user's in the given order; never raises for SQS failures.

        ``deadline`` is a ``clock()`` reading after which no call is started; calls already
        under way are waited for, so the outcome is exact when this returns.
        """
        lanes = _plan(requests, self._concurrency)
        results = self._run_lanes(lanes, deadline)
        outcome = SendOutcome(lanes=len(lanes))
        queued: list[tuple[int, str]] = []
        failed: list[tuple[int, str]] = []
        for result in results:
            queued += result.queued
            failed += result.failed
            outcome.calls += result.calls
            outcome.errors += result.errors
        outcome.queued = [uuid for _, uuid in sorted(queued)]
        outcome.failed = [uuid for _, uuid in sorted(failed)]
        return outcome

    def _run_lanes(self, lanes: list[list[_Indexed]], deadline: float | None) -> list[_LaneResult]:
        """One thread per lane (a single lane runs in the caller's), all joined before returning."""
        stop = threading.Event()
        if len(lanes) <= 1:
            return [self._send_lane(lane, deadline, stop) for lane in lanes]
        unfinished = RuntimeError("an SQS lane ended without a result")
        results: list[_LaneResult | Exception] = [unfinished] * len(lanes)

        def run(position: int) -> None:
            try:
                results[position] = self._send_lane(lanes[position], deadline, stop)
            except Exception as exc:  # a bug, not an SQS failure: stop the others, raise it below
                stop.set()
                results[position] = exc

        threads = [
            threading.Thread(target=run, args=(position,), name=f"sqs-lane-{position}", daemon=True)
            for position in range(len(lanes))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done: list[_LaneResult] = []
        for result in results:
            if isinstance(result, Exception):
                raise result
            done.append(result)
        return done

    def _send_lane(self, lane: list[_Indexed], deadline: float | None, stop: threading.Event) -> _LaneResult:
        """One lane: chunks of ten, one call at a time, skipping users that already failed."""
        result = _LaneResult()
        blocked: set[str] = set()
        pending = deque(lane)
        while pending:
            chunk: list[_Indexed] = []
            while pending and len(chunk) < BATCH_SIZE:
                index, request = pending.popleft()
                if request.okta_user_id in blocked:
                    # Sending it now would put it ahead of the user's earlier event.
                    result.failed.append((index, request.event_uuid))
                else:
                    chunk.append((index, request))
            if not chunk:
                break
            failed_before = len(result.failed)
            reached = self._send_chunk(chunk, result, deadline, stop)
            failed_now = {uuid for _, uuid in result.failed[failed_before:]}
            blocked.update(r.okta_user_id for _, r in chunk if r.event_uuid in failed_now)
            if not reached:
                stop.set()
                break
        result.failed += [(index, request.event_uuid) for index, request in pending]
        return result

    def _send_chunk(
        self, chunk: list[_Indexed], result: _LaneResult, deadline: float | None, stop: threading.Event
    ) -> bool:
        """Send one chunk; False when SQS could not be reached before the deadline."""
        pending = {str(position): item for position, item in enumerate(chunk)}
        reached = False
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(self._backoff * attempt)
            if stop.is_set() or (deadline is not None and self._clock() >= deadline):
                break
            result.calls += 1
            try:
                response = self._sqs.send_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[_entry(entry_id, request) for entry_id, (_, request) in pending.items()],
                )
            except (ClientError, BotoCoreError) as exc:
                result.errors.append(type(exc).__name__)
                continue
            reached = True
            for ok in response.get("Successful", []):
                index, request = pending.pop(ok["Id"])
                result.queued.append((index, request.event_uuid))
            retryable = {e["Id"] for e in response.get("Failed", []) if not e.get("SenderFault", False)}
            for entry_id in list(pending):
                if entry_id not in retryable:
                    # A sender fault will fail again: stop retrying it now.
                    index, request = pending.pop(entry_id)
                    result.failed.append((index, request.event_uuid))
            if not pending:
                return True
        result.failed += [(index, request.event_uuid) for index, request in pending.values()]
        return reached


#: SQS's limit on a MessageDeduplicationId's length.
MAX_DEDUPLICATION_ID = 128


def deduplication_id(request: SyncRequest) -> str:
    """The event uuid, plus what a request about a group is about: unique in any scope.

    SQS drops a message whose deduplication id it saw in the last five minutes. A membership
    request is in its user's message group, beside the user requests, and a group request
    may come from the same event as a membership request: were their ids the bare event
    uuid, a user request, a membership request and a group request made from one event (by
    a redrive or a replay, say) would swallow each other. So a membership request adds the
    group id, and a group request its own message group (``group-<id>``): the ids stay unique
    whether SQS deduplicates per message group or per queue. An id over SQS's 128 characters
    (a long event uuid and a long group id) is replaced by its SHA-256. Requests without a
    group keep the bare uuid they have always had.
    """
    if request.okta_group_id is None:
        return request.event_uuid
    about = request.okta_user_id if request.is_group_request else request.okta_group_id
    combined = f"{request.event_uuid}.{about}"
    if len(combined) <= MAX_DEDUPLICATION_ID:
        return combined
    return hashlib.sha256(combined.encode("utf-8")).hexdigest()


def _entry(entry_id: str, request: SyncRequest) -> SendMessageBatchRequestEntryTypeDef:
    return {
        "Id": entry_id,
        "MessageBody": request.model_dump_json(),
        "MessageGroupId": request.okta_user_id,
        "MessageDeduplicationId": deduplication_id(request),
    }
