"""The SQS message that asks the worker to converge one Okta user.

Every producer (the ingest function, the reconciler, a redrive) writes this schema and the
worker reads nothing else. ``schema_version`` lets a future worker read old messages still
in the queue or the DLQ after a deploy.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION: Final = 1


class SyncRequest(BaseModel):
    """One provisioning-relevant change to one Okta user (message group = ``okta_user_id``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: Literal[1] = 1
    # Both become SQS ids (MessageGroupId, MessageDeduplicationId): alphanumerics and
    # punctuation only, at most 128 characters.
    okta_user_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,128}$")
    event_uuid: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")
    event_type: str
    published: AwareDatetime
    delivery_id: str | None = Field(
        default=None, description="The Okta event hook delivery's eventId (absent for reconcile)."
    )
    source: Literal["okta-event-hook", "reconcile", "replay"] = "okta-event-hook"
