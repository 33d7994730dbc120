"""FIFO partial batches with message groups side by side: Powertools' FIFO semantics, concurrently.

Powertools' ``SqsFifoPartialProcessor(skip_group_on_error=True)`` handles a batch's records
one after another and, once a record fails, fails every later record of the same message
group without handing it over, so a group's order survives the redelivery. That is what
SQS FIFO asks of a partial batch response: a failed message's successors in its group must
come back with it, never be applied ahead of it. Records of *different* groups carry no
order between them, so nothing requires them to wait for each other — yet one after
another, an instance's throughput is bounded by API latency (each record waits on Okta and
TeamViewer in turn), not by the TeamViewer rate limit.

``ConcurrentFifoProcessor`` keeps the first half of that contract and drops the needless
wait: each message group is handled by one thread, in the batch's order, with the same
skip-on-error rule (and the same ``SQSFifoMessageGroupCircuitBreakerError``), while up to
``max_workers`` groups run at once. A group's later record therefore never starts before
its earlier one has finished, and never starts at all after it failed. A record without a
``MessageGroupId`` (a standard queue) is a group of its own, as Powertools treats it.

Powertools' processor keeps its bookkeeping (the current group, the lists of successes and
failures) in plain attributes that are not safe to share between threads, so this
processor tracks each group's failure in the thread that runs it, appends results under a
lock, and reports failures in the batch's order whatever order the threads finished in.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.base import FailureResponse, SuccessResponse
from aws_lambda_powertools.utilities.batch.exceptions import (
    ExceptionInfo,
    SQSFifoMessageGroupCircuitBreakerError,
)

__all__ = ["ConcurrentFifoProcessor"]

#: What a record skipped behind its group's failure fails with: Powertools' own.
_GROUP_CIRCUIT_BREAKER: ExceptionInfo = (
    SQSFifoMessageGroupCircuitBreakerError,
    SQSFifoMessageGroupCircuitBreakerError("A previous record from this message group failed processing"),
    None,
)


class ConcurrentFifoProcessor(BatchProcessor):
    """Message groups in parallel (at most ``max_workers`` at once), each group's records in order."""

    def __init__(self, max_workers: int) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        super().__init__(EventType.SQS, raise_on_entire_batch_failure=False)
        self.max_workers = max_workers
        self._lock = threading.Lock()

    def process(self) -> list[tuple[Any, ...]]:
        groups: dict[str, list[int]] = {}
        for index, record in enumerate(self.records):
            group = record.get("attributes", {}).get("MessageGroupId") or f"message:{record['messageId']}"
            groups.setdefault(group, []).append(index)
        results: list[tuple[Any, ...]] = [() for _ in self.records]

        def run(index: int, group: str, failed: set[str]) -> None:
            """One record, unless an earlier record of its group failed (``failed``)."""
            record = self.records[index]
            if group in failed:
                skipped = self._to_batch_type(record, event_type=self.event_type)
                results[index] = self.failure_handler(skipped, _GROUP_CIRCUIT_BREAKER)
                return
            results[index] = self._process_record(record)
            if results[index][0] == "fail":
                failed.add(group)

        def run_group(group: str, indexes: list[int]) -> None:
            failed_here: set[str] = set()  # each group's thread keeps its own
            for index in indexes:
                run(index, group, failed_here)

        workers = min(self.max_workers, len(groups))
        if workers <= 1:
            # One thread: the batch's own order, exactly as Powertools' FIFO processor.
            group_of = {index: group for group, indexes in groups.items() for index in indexes}
            failed_groups: set[str] = set()
            for index in range(len(self.records)):
                run(index, group_of[index], failed_groups)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tvsync-record") as pool:
                # Submitted in the batch's order: the first groups start first.
                futures = [pool.submit(run_group, group, indexes) for group, indexes in groups.items()]
                for future in futures:
                    future.result()
        position = {record["messageId"]: index for index, record in enumerate(self.records)}
        self.fail_messages.sort(
            key=lambda message: position.get(getattr(message, "message_id", ""), len(position))
        )
        return results

    def success_handler(self, record: Any, result: Any) -> SuccessResponse:
        with self._lock:
            return super().success_handler(record, result)

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        with self._lock:
            return super().failure_handler(record, exception)
