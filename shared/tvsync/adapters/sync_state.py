"""SyncStateTable: stores one ``SyncState`` (``tvsync.models.sync_state``) per Okta user.

Writes are read-modify-write, which is safe because the FIFO queue hands one user's
messages to one worker at a time.

Two writes are partial updates instead, because they must not replace what is stored with
an older view of it: recording why a sync failed or was refused (``record_outcome``) and
recording, just before a create, which email is being created (``mark_pending_create``).
The second is what makes a create crash-safe: should the invocation die after TeamViewer
created the account but before the mapping is stored, the next sync of the user finds the
intent and adopts that account before deciding anything, even if the user's email has
changed in Okta since.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tvsync.models.sync_state import SyncState
from tvsync.observability import mask_emails

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EMAIL_INDEX = "by-email"


class SyncStateStore:
    """The table; ``email_key`` (``SyncState.email_key``) feeds the ``by-email`` index."""

    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def get(self, okta_user_id: str) -> SyncState | None:
        item = self._dynamodb.get_item(
            TableName=self._table, Key={"okta_user_id": {"S": okta_user_id}}, ConsistentRead=True
        ).get("Item")
        return _from_item(item) if item else None

    def put(self, state: SyncState) -> None:
        self._dynamodb.put_item(TableName=self._table, Item=_to_item(state))

    def record_outcome(self, okta_user_id: str, *, outcome: str, reason: str, at: datetime) -> None:
        """Set only the last outcome, its reason and the time; everything else stays as stored.

        Used where the sync did not finish (a retry, a refusal): the mapping, a pending create
        and ``last_applied_at`` must survive it, and the record is created if the user has none yet.
        """
        self._dynamodb.update_item(
            TableName=self._table,
            Key={"okta_user_id": {"S": okta_user_id}},
            UpdateExpression="SET last_outcome = :o, last_reason = :r, updated_at = :t",
            ExpressionAttributeValues={
                ":o": {"S": outcome},
                ":r": {"S": mask_emails(reason)},
                ":t": {"S": at.isoformat()},
            },
        )

    def mark_pending_create(
        self, okta_user_id: str, *, email: str, outcome: str, reason: str, at: datetime
    ) -> None:
        """Record, before the create is sent, that an account with ``email`` may be about to exist.

        ``outcome`` and ``reason`` are what the record shows until the sync records its real
        ones: visible in ``tvsync status`` only if the sync never got that far.
        """
        self._dynamodb.update_item(
            TableName=self._table,
            Key={"okta_user_id": {"S": okta_user_id}},
            UpdateExpression=(
                "SET pending_create_email = :e, pending_create_at = :t, updated_at = :t,"
                " last_outcome = :o, last_reason = :r"
            ),
            ExpressionAttributeValues={
                ":e": {"S": email},
                ":t": {"S": at.isoformat()},
                ":o": {"S": outcome},
                ":r": {"S": mask_emails(reason)},
            },
        )

    def find_by_email(self, email: str) -> list[SyncState]:
        response = self._dynamodb.query(
            TableName=self._table,
            IndexName=EMAIL_INDEX,
            KeyConditionExpression="email_key = :e",
            ExpressionAttributeValues={":e": {"S": email.lower()}},
        )
        return [_from_item(item) for item in response.get("Items", [])]

    def scan(self) -> Iterator[SyncState]:
        paginator = self._dynamodb.get_paginator("scan")
        for page in paginator.paginate(TableName=self._table):
            for item in page.get("Items", []):
                yield _from_item(item)


def _to_item(state: SyncState) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for name, value in state.model_dump(mode="json").items():
        if value is None or value == []:
            continue
        if isinstance(value, list):
            item[name] = {"L": [{"S": v} for v in value]}
        elif isinstance(value, bool):
            item[name] = {"BOOL": value}
        else:
            item[name] = {"S": str(value)}
    if state.email_key:
        item["email_key"] = {"S": state.email_key}
    return item


def _from_item(item: dict[str, Any]) -> SyncState:
    values: dict[str, Any] = {}
    for name, value in item.items():
        if "L" in value:
            values[name] = [entry["S"] for entry in value["L"]]
        elif "BOOL" in value:
            values[name] = value["BOOL"]
        elif "S" in value:
            values[name] = value["S"]
    return SyncState.model_validate(values)
