"""The SQS message that asks the worker to converge one Okta user, or one pushed group.

Every producer (the ingest function, the reconciler, a redrive) writes this schema and the
worker reads nothing else. ``schema_version`` lets a future worker read old messages still
in the queue or the DLQ after a deploy.

Three kinds share the schema, told apart by ``okta_group_id`` and ``okta_user_id``:

- a *user request* (no group): converge the user's TeamViewer account;
- a *membership request* (``okta_group_id`` set, ``okta_user_id`` the user): converge the user,
  then their membership of that one pushed group. It stays in the user's message group, so
  it is processed after the event that creates the user's account;
- a *group request* (``okta_group_id`` set, ``okta_user_id`` = ``group-<group id>``,
  ``group_request_key``): converge the group itself — link, name, role, and its whole
  membership when it is first linked — in a message group of its own, as an orphan has
  ``orphan-<teamviewer id>``.

Fields added after version 1 are optional and left out of the JSON when unset, so every
message of an older kind keeps its exact shape and a worker that predates a field ignores it.
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

#: ``okta_user_id`` of a group request: the group's own FIFO message group. Okta user ids
#: start ``00u``, so no user's message group is called this (nor is an orphan's).
GROUP_REQUEST_PREFIX: Final = "group-"

#: What SQS and the worker accept as an Okta group id (Okta's are ``00g`` + 17 characters).
OKTA_GROUP_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$"

#: Optional fields added after the first messages were queued: absent from the JSON when unset.
_OMITTED_WHEN_UNSET: Final = ("teamviewer_id", "okta_group_id")


def group_request_key(okta_group_id: str) -> str:
    """The message group, and ``okta_user_id``, of a group request for ``okta_group_id``."""
    return f"{GROUP_REQUEST_PREFIX}{okta_group_id}"


class SyncRequest(BaseModel):
    """One provisioning-relevant change to an Okta user or a pushed group (group = ``okta_user_id``)."""

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
    okta_group_id: str | None = Field(
        default=None,
        pattern=OKTA_GROUP_ID_PATTERN,
        description=(
            "The pushed Okta group this request is about: with ``okta_user_id`` the user, "
            "a membership request (that user's membership of the group); with "
            "``okta_user_id`` = ``group-<okta_group_id>``, a group request (the group "
            "itself). Unset for a user request. A worker that predates the field converges "
            "the user of a membership request, and reads no Okta user ``group-...`` for a "
            "group request and changes nothing."
        ),
    )

    @property
    def is_group_request(self) -> bool:
        """A request about the group itself, in the group's own message group."""
        return self.okta_group_id is not None and self.okta_user_id == group_request_key(self.okta_group_id)

    @property
    def is_membership_request(self) -> bool:
        """A request about one user's membership of one pushed group (after the user's own sync)."""
        return self.okta_group_id is not None and not self.is_group_request

    @model_serializer(mode="wrap")
    def _omit_unset_optional(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave ``teamviewer_id`` and ``okta_group_id`` out unless set: older kinds keep their shape."""
        data: dict[str, Any] = handler(self)
        for name in _OMITTED_WHEN_UNSET:
            if data.get(name) is None:
                data.pop(name, None)
        return data
