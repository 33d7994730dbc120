"""SyncStateTable: one item per Okta user — what the worker last did for them, and why.

The item doubles as the Okta-user -> TeamViewer-account mapping: with the account id known,
the worker reads the account by id (one call) instead of searching by email, and it still
finds the account after the user's email changed in Okta. Writes are read-modify-write,
which is safe because the FIFO queue hands one user's messages to one worker at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from tvsync.models.teamviewer import TeamViewerAccount

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EMAIL_INDEX = "by-email"


class SyncState(BaseModel):
    """The item; ``email_key`` (lower-cased email) feeds the ``by-email`` index for lookups."""

    model_config = ConfigDict(frozen=True)

    okta_user_id: str
    teamviewer_id: str | None = None
    email: str | None = None
    # The TeamViewer account as this worker last saw or left it: planning against it saves
    # a read per event. Out-of-band edits in TeamViewer are the reconciler's job.
    teamviewer_email: str | None = None
    teamviewer_name: str | None = None
    teamviewer_active: bool | None = None
    last_event_uuid: str | None = None
    last_event_type: str | None = None
    last_published: AwareDatetime | None = None
    last_outcome: str
    last_reason: str | None = None
    last_operations: list[str] = []
    updated_at: AwareDatetime

    @property
    def email_key(self) -> str | None:
        return self.email.lower() if self.email else None

    def known_account(self) -> TeamViewerAccount | None:
        """The mapped account as last seen, or ``None`` when no complete view is stored."""
        if self.teamviewer_id is None or self.teamviewer_email is None or self.teamviewer_name is None:
            return None
        return TeamViewerAccount(
            id=self.teamviewer_id,
            email=self.teamviewer_email,
            name=self.teamviewer_name,
            active=bool(self.teamviewer_active),
        )


class SyncStateStore:
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
