"""Embedded AWS refuses what DynamoDB refuses: two conditional writes of one item never both win.

moto evaluates a condition against the item it read a moment before and then writes, with no
lock: two threads in that moment both see "no item yet". The window is widened here (moto
is made to pause between reading the item and judging the condition) so the race happens
every time, and the test shows it lost once moto's writes are made atomic, and won without.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import moto.dynamodb.models.table as moto_table
import pytest
from moto import mock_aws

from tvsync.local import moto_atomic
from tvsync.local.moto_atomic import make_dynamodb_writes_atomic


@pytest.fixture
def slow_conditions(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto table whose condition checks pause 50 ms after the item was read."""
    original = moto_table.get_filter_expression  # type: ignore[attr-defined]

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)
        return original(*args, **kwargs)

    monkeypatch.setattr(moto_table, "get_filter_expression", slow)
    with mock_aws():
        client = boto3.session.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
        ).client("dynamodb")
        client.create_table(
            TableName="records",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def first_writers(client: Any, threads: int = 4) -> int:
    """How many of ``threads`` threads, starting together, created the item "only if absent"."""
    wins: list[int] = []
    start = threading.Barrier(threads)

    def write(n: int) -> None:
        start.wait()
        with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
            client.put_item(
                TableName="records",
                Item={"id": {"S": "event-1"}, "by": {"N": str(n)}},
                ConditionExpression="attribute_not_exists(id)",
            )
            wins.append(n)

    running = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    return len(wins)


def test_with_atomic_writes_exactly_one_conditional_write_wins(slow_conditions: Any) -> None:
    make_dynamodb_writes_atomic()
    assert first_writers(slow_conditions) == 1


def test_without_the_lock_moto_lets_every_racer_win(
    slow_conditions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_dynamodb_writes_atomic()
    monkeypatch.setattr(moto_atomic, "_LOCK", contextlib.nullcontext())
    assert first_writers(slow_conditions) > 1, "why the lock is there"


def test_making_writes_atomic_twice_wraps_them_once() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    make_dynamodb_writes_atomic()
    wrapped = DynamoDBBackend.put_item
    make_dynamodb_writes_atomic()
    assert DynamoDBBackend.put_item is wrapped
