"""The reconciler's checkpoint (``tvsync.models.reconcile_checkpoint``) in SyncStateTable.

One item under ``CHECKPOINT_KEY``, written and deleted only by the reconciler, which may
touch no other item of the table (its role allows these writes for that key alone:
``dynamodb:LeadingKeys``). Reads are consistent: the run that follows a cut must see the
cursor the cut stored. An item that no longer parses (written by another version) reads
as no checkpoint — the run starts afresh, which is always correct, only slower.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from tvsync.models.reconcile_checkpoint import CHECKPOINT_KEY, ReconcileCheckpoint

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["CheckpointStore"]

_KEY_ATTRIBUTE = "okta_user_id"
_BODY_ATTRIBUTE = "checkpoint"


class CheckpointStore:
    """Load, save and clear the one checkpoint of SyncStateTable."""

    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def load(self) -> ReconcileCheckpoint | None:
        item = self._dynamodb.get_item(TableName=self._table, Key=_key(), ConsistentRead=True).get("Item")
        body = item.get(_BODY_ATTRIBUTE, {}).get("S") if item else None
        if body is None:
            return None
        try:
            return ReconcileCheckpoint.model_validate_json(body)
        except ValidationError:
            return None

    def save(self, checkpoint: ReconcileCheckpoint) -> None:
        item: dict[str, Any] = {**_key(), _BODY_ATTRIBUTE: {"S": checkpoint.model_dump_json()}}
        self._dynamodb.put_item(TableName=self._table, Item=item)

    def clear(self) -> None:
        self._dynamodb.delete_item(TableName=self._table, Key=_key())


def _key() -> dict[str, Any]:
    return {_KEY_ATTRIBUTE: {"S": CHECKPOINT_KEY}}
