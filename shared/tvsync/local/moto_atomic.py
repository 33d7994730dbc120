"""DynamoDB's per-item atomicity, given to moto.

DynamoDB checks a write's condition and applies the write as one atomic step: that is what
conditional writes rely on — Powertools idempotency's in-progress record, and the worker's
shared TeamViewer request schedule. moto checks and writes in plain Python without a lock,
so two threads of one moto (the threaded moto server, or in-process ``mock_aws`` under the
worker's record threads) can both pass the same condition: both events "first", both slots
claimed. ``make_dynamodb_writes_atomic`` serializes moto's DynamoDB writes under one lock,
once per process, so embedded AWS refuses what DynamoDB refuses.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, Final

from moto.dynamodb.models import DynamoDBBackend

__all__ = ["make_dynamodb_writes_atomic"]

#: Every DynamoDBBackend method that evaluates a condition and writes (batch writes go through
#: ``put_item`` and ``delete_item``). Re-entrant: a transaction's items are written by these.
_WRITES: Final = ("put_item", "update_item", "delete_item", "transact_write_items")
_LOCK = threading.RLock()
_MARK: Final = "_tvsync_atomic"


def make_dynamodb_writes_atomic() -> None:
    """Serialize moto's DynamoDB writes in this process (idempotent)."""
    for name in _WRITES:
        method = getattr(DynamoDBBackend, name)
        if not getattr(method, _MARK, False):
            setattr(DynamoDBBackend, name, _atomic(method))


def _atomic(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def atomic(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(self, *args, **kwargs)

    setattr(atomic, _MARK, True)
    return atomic
