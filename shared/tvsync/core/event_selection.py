"""Which events of a delivery become sync requests, and why the others do not.

Pure: a parsed delivery and the app filter in, kept ``SyncRequest`` s and dropped events
(each with a reason) out. The reasons are metric dimensions, so they are a closed set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from pydantic import ValidationError

from tvsync.models.okta_hook import EventHookDelivery, HookEvent
from tvsync.models.sync_request import SyncRequest

#: Okta event types after which a user's TeamViewer account may need to change.
PROVISIONING_EVENT_TYPES: Final = frozenset(
    {
        "user.lifecycle.create",
        "user.lifecycle.activate",
        "user.lifecycle.deactivate",
        "user.lifecycle.suspend",
        "user.lifecycle.unsuspend",
        "user.lifecycle.reactivate",
        "user.lifecycle.delete.initiated",
        "user.account.update_profile",
        "application.user_membership.add",
        "application.user_membership.remove",
        "application.user_membership.update",
        "group.user_membership.add",
        "group.user_membership.remove",
    }
)

APP_MEMBERSHIP_PREFIX: Final = "application.user_membership."


class DropReason(StrEnum):
    """Why an event of a delivery was not queued (a metric dimension: keep it a closed set)."""

    MALFORMED = "malformed"
    NOT_PROVISIONING = "not-provisioning"
    NOT_SUCCESS = "outcome-not-success"
    NO_USER_TARGET = "no-user-target"
    OTHER_APP = "other-app"
    DUPLICATE = "duplicate-in-delivery"


@dataclass(frozen=True)
class DroppedEvent:
    uuid: str | None
    event_type: str | None
    reason: DropReason


@dataclass(frozen=True)
class Selection:
    """The outcome of selecting one delivery: queue ``kept`` in order, count ``dropped``."""

    kept: list[SyncRequest] = field(default_factory=list)
    dropped: list[DroppedEvent] = field(default_factory=list)

    def dropped_by_reason(self) -> dict[DropReason, int]:
        counts: dict[DropReason, int] = {}
        for event in self.dropped:
            counts[event.reason] = counts.get(event.reason, 0) + 1
        return counts


def select_events(delivery: EventHookDelivery, *, app_id: str | None) -> Selection:
    """Keep provisioning-relevant, successful events about a User; order them by ``published``.

    With ``app_id`` set, app-membership events for *other* apps are dropped. An app-membership
    event that names no AppInstance is kept: the worker re-reads the assignment anyway, and a
    wrongly kept event costs one no-op while a wrongly dropped one costs a missed change.
    """
    kept: list[SyncRequest] = []
    dropped: list[DroppedEvent] = []
    seen: set[str] = set()
    for raw in delivery.data.events:
        event = _parse(raw)
        if event is None:
            dropped.append(
                DroppedEvent(_raw_field(raw, "uuid"), _raw_field(raw, "eventType"), DropReason.MALFORMED)
            )
            continue
        reason, user_id = _judge(event, app_id)
        if reason is None and event.uuid in seen:
            reason = DropReason.DUPLICATE
        request = None if reason is not None else _request(event, user_id, delivery.event_id)
        if request is None:
            dropped.append(DroppedEvent(event.uuid, event.event_type, reason or DropReason.MALFORMED))
            continue
        seen.add(event.uuid)
        kept.append(request)
    # Okta may batch events out of order; the FIFO group should see them as they happened.
    kept.sort(key=lambda request: request.published)
    return Selection(kept=kept, dropped=dropped)


def _judge(event: HookEvent, app_id: str | None) -> tuple[DropReason | None, str | None]:
    if event.event_type not in PROVISIONING_EVENT_TYPES:
        return DropReason.NOT_PROVISIONING, None
    if event.outcome is None or event.outcome.result.upper() != "SUCCESS":
        return DropReason.NOT_SUCCESS, None
    users = event.targets_of_type("User")
    if len(users) != 1:
        # None, or several users in one event: neither names "the" user this event is about.
        return DropReason.NO_USER_TARGET, None
    if app_id and event.event_type.startswith(APP_MEMBERSHIP_PREFIX):
        apps = event.targets_of_type("AppInstance")
        if apps and all(app.id != app_id for app in apps):
            return DropReason.OTHER_APP, None
    return None, users[0].id


def _request(event: HookEvent, user_id: str | None, delivery_id: str | None) -> SyncRequest | None:
    try:
        return SyncRequest(
            okta_user_id=user_id or "",
            event_uuid=event.uuid,
            event_type=event.event_type,
            published=event.published,
            delivery_id=delivery_id,
            source="okta-event-hook",
        )
    except ValidationError:
        # An id SQS would refuse (not an Okta id): queueing it could only fail.
        return None


def _parse(raw: Any) -> HookEvent | None:
    try:
        return HookEvent.model_validate(raw)
    except ValidationError:
        return None


def _raw_field(raw: Any, name: str) -> str | None:
    value = raw.get(name) if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None
