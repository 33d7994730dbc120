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

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tvsync.adapters.dynamodb_records import from_item, set_outcome, to_item
from tvsync.models.sync_state import SyncState
from tvsync.models.table_keys import is_reserved_key
from tvsync.observability import mask_emails

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EMAIL_INDEX = "by-email"
#: DynamoDB's BatchGetItem takes at most 100 keys a call.
_BATCH_GET_KEYS = 100
#: Rounds of retrying keys DynamoDB left unprocessed (throttling) before the read is refused.
_UNPROCESSED_ROUNDS = 8


class SyncStateStore:
    """The table; ``email_key`` (``SyncState.email_key``) feeds the ``by-email`` index."""

    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def get(self, okta_user_id: str) -> SyncState | None:
        if is_reserved_key(okta_user_id):  # a function's own item, never a user's record
            return None
        item = self._dynamodb.get_item(
            TableName=self._table, Key={"okta_user_id": {"S": okta_user_id}}, ConsistentRead=True
        ).get("Item")
        return _from_item(item) if item else None

    def get_many(self, okta_user_ids: Iterable[str]) -> dict[str, SyncState]:
        """The records of many users at once (a group's members), by Okta id; absent ids are left out.

        100 keys a call; keys DynamoDB leaves unprocessed under load are asked for again, a
        bounded number of times, and then the read fails rather than return a partial answer
        (which would make members with a record look like members without one).
        """
        ids = list(dict.fromkeys(okta_user_ids))
        found: dict[str, SyncState] = {}
        for start in range(0, len(ids), _BATCH_GET_KEYS):
            keys: list[Any] = [{"okta_user_id": {"S": uid}} for uid in ids[start : start + _BATCH_GET_KEYS]]
            for _ in range(_UNPROCESSED_ROUNDS):
                response = self._dynamodb.batch_get_item(
                    RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}}
                )
                for item in response["Responses"].get(self._table, []):
                    state = _from_item(item)
                    found[state.okta_user_id] = state
                unprocessed = response.get("UnprocessedKeys") or {}
                keys = list(unprocessed[self._table]["Keys"]) if self._table in unprocessed else []
                if not keys:
                    break
            else:
                raise RuntimeError(f"DynamoDB left {len(keys)} SyncStateTable keys unprocessed")
        return found

    def put(self, state: SyncState) -> None:
        self._dynamodb.put_item(TableName=self._table, Item=_to_item(state))

    def record_outcome(self, okta_user_id: str, *, outcome: str, reason: str, at: datetime) -> None:
        """Set only the last outcome, its reason and the time; everything else stays as stored.

        Used where the sync did not finish (a retry, a refusal): the mapping, a pending create
        and ``last_applied_at`` must survive it, and the record is created if the user has none yet.
        """
        set_outcome(
            self._dynamodb,
            self._table,
            {"okta_user_id": {"S": okta_user_id}},
            outcome=outcome,
            reason=reason,
            at=at,
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
        """Every user's record; the functions' own items, which share the table, are no user's."""
        paginator = self._dynamodb.get_paginator("scan")
        for page in paginator.paginate(TableName=self._table):
            for item in page.get("Items", []):
                if not is_reserved_key(item.get("okta_user_id", {}).get("S", "")):
                    yield _from_item(item)


def _to_item(state: SyncState) -> dict[str, Any]:
    item = to_item(state.model_dump(mode="json"))
    if state.email_key:
        item["email_key"] = {"S": state.email_key}
    return item


def _from_item(item: dict[str, Any]) -> SyncState:
    values = from_item(item)
    values.pop("email_key", None)
    return SyncState.model_validate(values)
