"""The reconciler's checkpoint in SyncStateTable (moto, the table as template.yaml defines it).

One item under a key no Okta user id can have; it must round-trip, and no reader that walks
the whole table — the reconciler's own mapping scan, ``tvsync status`` — may take it for a user.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from tests.support.fakes import T0
from tvsync.adapters.reconcile_checkpoint import CheckpointStore
from tvsync.adapters.sync_state import SyncStateStore
from tvsync.models.reconcile_checkpoint import CHECKPOINT_KEY, ReconcileCheckpoint
from tvsync.models.sync_state import SyncState
from tvsync.models.table_keys import SCHEDULE_KEY, is_reserved_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from tests.conftest import Aws

CHECKPOINT = ReconcileCheckpoint(
    run_id="20261102T090000Z-a1b2c3",
    scope="0oa1tvsync0000000001",
    walk="app_users",
    cursor="https://acme.okta.test/api/v1/apps/0oa1tvsync0000000001/users?after=00u9&limit=500&expand=user",
    started_at=T0,
    saved_at=T0 + timedelta(minutes=14),
    runs=1,
    users_done=250_000,
)


@pytest.fixture
def table(aws: Aws) -> tuple[DynamoDBClient, str]:
    return aws.session.client("dynamodb"), aws.env("ReconcileFunction")["SYNC_STATE_TABLE_NAME"]


def test_the_checkpoint_round_trips_and_is_gone_once_cleared(table: tuple[DynamoDBClient, str]) -> None:
    store = CheckpointStore(*table)
    assert store.load() is None
    store.save(CHECKPOINT)
    assert store.load() == CHECKPOINT
    store.save(CHECKPOINT.model_copy(update={"runs": 2, "cursor": None, "walk": "deprovisioned"}))
    reloaded = store.load()
    assert reloaded is not None and (reloaded.runs, reloaded.cursor, reloaded.walk) == (
        2,
        None,
        "deprovisioned",
    )
    store.clear()
    assert store.load() is None
    store.clear()  # clearing nothing is fine


def test_no_scan_of_the_table_takes_the_checkpoint_for_a_user(table: tuple[DynamoDBClient, str]) -> None:
    dynamodb, name = table
    users = SyncStateStore(dynamodb, name)
    users.put(SyncState(okta_user_id="00u1alice", teamviewer_id="u1", last_outcome="applied", updated_at=T0))
    CheckpointStore(dynamodb, name).save(CHECKPOINT)
    assert dynamodb.scan(TableName=name)["Count"] == 2
    assert [state.okta_user_id for state in users.scan()] == ["00u1alice"]
    assert users.get(CHECKPOINT_KEY) is None


def test_an_item_written_by_another_version_reads_as_no_checkpoint(table: tuple[DynamoDBClient, str]) -> None:
    dynamodb, name = table
    dynamodb.put_item(
        TableName=name,
        Item={"okta_user_id": {"S": CHECKPOINT_KEY}, "checkpoint": {"S": '{"walk": "app_users"}'}},
    )
    assert CheckpointStore(dynamodb, name).load() is None


def test_no_okta_user_id_can_be_a_reserved_key() -> None:
    assert is_reserved_key(CHECKPOINT_KEY)
    assert is_reserved_key(SCHEDULE_KEY)
    assert not is_reserved_key("00u1abcdEFGH2345ijkl")
    assert not is_reserved_key("orphan-u1234567")
