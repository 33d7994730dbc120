"""The SQS message that asks the worker to converge one Okta user.

Every producer (the ingest function, the reconciler, a redrive) writes this schema and the
worker reads nothing else. ``schema_version`` lets a future worker read old messages still
in the queue or the DLQ after a deploy.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

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
    teamviewer_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description=(
            "Set only by the reconciler for an orphan: a TeamViewer account no Okta user has. "
            "The worker then deactivates that account (never the token owner) instead of "
            "converging an Okta user, and ``okta_user_id`` is just the message group "
            "(``orphan-<teamviewer id>``). A worker that predates the field ignores it, reads "
            "no such Okta user and changes nothing."
        ),
    )

    @model_serializer(mode="wrap")
    def _omit_unset_orphan(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave ``teamviewer_id`` out unless set: every other message keeps its exact shape."""
        data: dict[str, Any] = handler(self)
        if data.get("teamviewer_id") is None:
            data.pop("teamviewer_id", None)
        return data
