"""The DynamoDB shape of the product's flat records (``SyncState``, ``GroupLink``), one codec for both.

Each record is a flat pydantic model: strings (dates as ISO text), booleans, numbers and
lists of strings. Absent values (None, an empty list) are left out of the item rather than
stored as blanks, so a record reads back exactly as it was put and a partial update
(``set_outcome``) never has to know the other attributes.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from tvsync.observability import mask_emails

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["from_item", "set_outcome", "to_item"]


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item from a record's ``model_dump(mode="json")``."""
    item: dict[str, Any] = {}
    for name, value in values.items():
        if value is None or value == []:
            continue
        if isinstance(value, list):
            item[name] = {"L": [{"S": v} for v in value]}
        elif isinstance(value, bool):  # before int: a bool is an int to Python
            item[name] = {"BOOL": value}
        elif isinstance(value, int):
            item[name] = {"N": str(value)}
        else:
            item[name] = {"S": str(value)}
    return item


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """The values to validate a record from; attributes of other types are ignored."""
    values: dict[str, Any] = {}
    for name, value in item.items():
        if "L" in value:
            values[name] = [entry["S"] for entry in value["L"]]
        elif "BOOL" in value:
            values[name] = value["BOOL"]
        elif "N" in value:
            values[name] = int(value["N"])
        elif "S" in value:
            values[name] = value["S"]
    return values


def set_outcome(  # noqa: PLR0913 - the table and key, then the three values, keyword-only
    dynamodb: DynamoDBClient,
    table: str,
    key: dict[str, Any],
    *,
    outcome: str,
    reason: str,
    at: datetime,
) -> None:
    """Set only the last outcome, its reason (emails masked) and the time; create the item if missing."""
    dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET last_outcome = :o, last_reason = :r, updated_at = :t",
        ExpressionAttributeValues={
            ":o": {"S": outcome},
            ":r": {"S": mask_emails(reason)},
            ":t": {"S": at.isoformat()},
        },
    )
