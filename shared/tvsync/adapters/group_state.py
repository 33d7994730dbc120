"""GroupStateTable: stores one ``GroupLink`` (``tvsync.models.groups``) per pushed Okta group.

The link — which TeamViewer user group an Okta group is pushed to — is what makes a rename
in Okta rename the same TeamViewer group instead of creating another, and what lets the
reconciler find a group that is no longer pushed and release it. The record also keeps the
role the worker last left assigned and what the last group sync did, for ``tvsync status``.

Writes are read-modify-write, which is safe because the FIFO queue hands one group's
requests (message group ``group-<okta group id>``) to one worker at a time.

One write is a partial update instead, because it must not replace what is stored with an
older view of it: recording why a group sync failed or was refused (``record_outcome``),
which must keep the link.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tvsync.adapters.dynamodb_records import from_item, set_outcome, to_item
from tvsync.models.groups import GroupLink

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class GroupStateStore:
    """The table, keyed by ``okta_group_id``."""

    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def get(self, okta_group_id: str) -> GroupLink | None:
        item = self._dynamodb.get_item(
            TableName=self._table, Key={"okta_group_id": {"S": okta_group_id}}, ConsistentRead=True
        ).get("Item")
        return _from_item(item) if item else None

    def put(self, link: GroupLink) -> None:
        self._dynamodb.put_item(TableName=self._table, Item=_to_item(link))

    def record_outcome(self, okta_group_id: str, *, outcome: str, reason: str, at: datetime) -> None:
        """Set only the last outcome, its reason and the time; everything else stays as stored.

        Used where the group sync did not finish (a retry, a refusal): the link and the role
        last assigned must survive it, and the record is created if the group has none yet.
        """
        set_outcome(
            self._dynamodb,
            self._table,
            {"okta_group_id": {"S": okta_group_id}},
            outcome=outcome,
            reason=reason,
            at=at,
        )

    def scan(self) -> Iterator[GroupLink]:
        paginator = self._dynamodb.get_paginator("scan")
        for page in paginator.paginate(TableName=self._table):
            for item in page.get("Items", []):
                yield _from_item(item)


def _to_item(link: GroupLink) -> dict[str, Any]:
    # The TeamViewer group id is a number in TeamViewer ([SWAGGER] int64), so in DynamoDB.
    return to_item(link.model_dump(mode="json"))


def _from_item(item: dict[str, Any]) -> GroupLink:
    return GroupLink.model_validate(from_item(item))
