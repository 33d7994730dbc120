"""GroupStateStore on DynamoDB (moto, the table as template.yaml defines it): what DynamoDB holds.

What every implementation of ``GroupStateRepository`` must do is asserted against the store
and its fake alike in tests/contracts/test_fakes_match_adapters.py; this file checks what
only the real table shows — the item's attribute types, the key, paging through a scan, and
that a partial update never touches the link.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.fakes import T0
from tvsync.adapters.group_state import GroupStateStore
from tvsync.models.groups import GroupLink

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from tests.conftest import Aws

LINKED = GroupLink(
    okta_group_id="00g1support0000000001",
    teamviewer_group_id=9_000_000_001,  # TeamViewer's group ids are int64 ([SWAGGER])
    name="Support",
    role_id="9b1e0000-0000-4000-8000-000000000001",
    last_outcome="applied",
    last_reason="group-missing",
    last_operations=["create", "assign_role", "add_members"],
    updated_at=T0,
    last_applied_at=T0,
)


@pytest.fixture
def dynamodb(aws: Aws) -> DynamoDBClient:
    return aws.session.client("dynamodb")


@pytest.fixture
def table(aws: Aws) -> str:
    return aws.resources.refs["GroupStateTable"]


@pytest.fixture
def store(dynamodb: DynamoDBClient, table: str) -> GroupStateStore:
    return GroupStateStore(dynamodb, table)


def _item(dynamodb: DynamoDBClient, table: str, okta_group_id: str) -> dict[str, Any]:
    item: dict[str, Any] = dynamodb.get_item(TableName=table, Key={"okta_group_id": {"S": okta_group_id}})[
        "Item"
    ]
    return item


def test_the_table_is_keyed_by_the_okta_group_id(dynamodb: DynamoDBClient, table: str) -> None:
    described = dynamodb.describe_table(TableName=table)["Table"]
    assert described["KeySchema"] == [{"AttributeName": "okta_group_id", "KeyType": "HASH"}]


def test_the_teamviewer_group_id_is_stored_as_a_number_and_unset_fields_not_at_all(
    store: GroupStateStore, dynamodb: DynamoDBClient, table: str
) -> None:
    store.put(LINKED)
    item = _item(dynamodb, table, LINKED.okta_group_id)
    assert item["teamviewer_group_id"] == {"N": "9000000001"}
    assert item["last_operations"] == {"L": [{"S": "create"}, {"S": "assign_role"}, {"S": "add_members"}]}
    assert store.get(LINKED.okta_group_id) == LINKED

    released = GroupLink(okta_group_id="00g1gone000000000002", last_outcome="no-change", updated_at=T0)
    store.put(released)
    assert set(_item(dynamodb, table, released.okta_group_id)) == {
        "okta_group_id",
        "last_outcome",
        "updated_at",
    }
    assert store.get(released.okta_group_id) == released


def test_record_outcome_is_one_partial_update_that_keeps_the_link_and_masks_the_reason(
    store: GroupStateStore, dynamodb: DynamoDBClient, table: str
) -> None:
    store.put(LINKED)
    later = T0 + timedelta(minutes=5)
    store.record_outcome(
        LINKED.okta_group_id, outcome="retrying", reason="400 for member ann.lee@example.com", at=later
    )
    item = _item(dynamodb, table, LINKED.okta_group_id)
    assert item["last_reason"] == {"S": "400 for member a***@example.com"}, "no email reaches the table"
    assert item["teamviewer_group_id"] == {"N": "9000000001"}
    after = store.get(LINKED.okta_group_id)
    assert after == LINKED.model_copy(
        update={
            "last_outcome": "retrying",
            "last_reason": "400 for member a***@example.com",
            "updated_at": later,
        }
    )


def test_scan_reads_every_page(store: GroupStateStore, dynamodb: DynamoDBClient, table: str) -> None:
    # Items of about 40 kB: DynamoDB answers a scan 1 MB at a time, so these take several pages.
    padding = "x" * 40_000
    ids = [f"00g1group{n:011d}" for n in range(60)]
    for okta_group_id in ids:
        store.put(LINKED.model_copy(update={"okta_group_id": okta_group_id, "name": "Support"}))
        dynamodb.update_item(
            TableName=table,
            Key={"okta_group_id": {"S": okta_group_id}},
            UpdateExpression="SET padding = :p",
            ExpressionAttributeValues={":p": {"S": padding}},
        )
    assert dynamodb.scan(TableName=table).get("LastEvaluatedKey"), "the table must span several pages"
    assert sorted(link.okta_group_id for link in store.scan()) == ids
