"""Which events of a delivery become sync requests, and why the others do not.

Pure: a parsed delivery, the app filter and the pushed groups in, kept ``SyncRequest`` s and
dropped events (each with a reason) out. The reasons are metric dimensions, so they are a
closed set.

With groups pushed (``GroupConfig``), events about a pushed group become requests about it
(``tvsync.models.sync_request``): a membership change (``group.user_membership.add|remove``)
of a pushed group is a *membership request* in the user's message group, and a change to a
pushed group itself (``group.profile.update``, ``group.lifecycle.delete``) a *group request*
in the group's own message group. A change to a group that is not pushed is dropped
(``group-not-pushed``) — except a membership change, which stays a user request as it has
always been: the group may be one that assigns the user to the app (Okta's group-based
app assignment), and the worker re-reads the assignment anyway. With no group pushed (the
default), the selection is exactly what it was before groups existed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from pydantic import ValidationError

from tvsync.core.groups import GroupConfig
from tvsync.models.okta_hook import EventHookDelivery, HookEvent
from tvsync.models.sync_request import SyncRequest, group_request_key

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

#: A user joined or left a group: with the group pushed, a membership request
#: (targets ``User`` and ``UserGroup`` [FY]); else a user request, as ever.
GROUP_MEMBERSHIP_EVENT_TYPES: Final = frozenset({"group.user_membership.add", "group.user_membership.remove"})

#: A group itself changed (its name, or it was deleted): a group request when it is pushed;
#: dropped as not provisioning-relevant while no group is pushed. The group is the event's
#: one ``UserGroup`` target.
GROUP_EVENT_TYPES: Final = frozenset({"group.profile.update", "group.lifecycle.delete"})

#: No groups pushed: what selection uses when the caller names none.
NO_GROUPS: Final = GroupConfig()


class DropReason(StrEnum):
    """Why an event of a delivery was not queued (a metric dimension: keep it a closed set)."""

    MALFORMED = "malformed"
    NOT_PROVISIONING = "not-provisioning"
    NOT_SUCCESS = "outcome-not-success"
    NO_USER_TARGET = "no-user-target"
    OTHER_APP = "other-app"
    DUPLICATE = "duplicate-in-delivery"
    #: A group event (``GROUP_EVENT_TYPES``) that does not name exactly one ``UserGroup``.
    NO_GROUP_TARGET = "no-group-target"
    #: A change to a group that is not pushed (``PUSH_GROUP_IDS``, ``GROUP_ROLE_MAP``).
    GROUP_NOT_PUSHED = "group-not-pushed"


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


def select_events(
    delivery: EventHookDelivery, *, app_id: str | None, groups: GroupConfig = NO_GROUPS
) -> Selection:
    """Keep provisioning-relevant, successful events about a User or a pushed group, by ``published``.

    With ``app_id`` set, app-membership events for *other* apps are dropped. An app-membership
    event that names no AppInstance is kept: the worker re-reads the assignment anyway, and a
    wrongly kept event costs one no-op while a wrongly dropped one costs a missed change.
    ``groups`` says which groups are pushed (none by default: the module docstring says what
    changes when some are).
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
        reason, subject = _judge(event, app_id, groups)
        if reason is None and event.uuid in seen:
            reason = DropReason.DUPLICATE
        request = (
            None if reason is not None or subject is None else _request(event, subject, delivery.event_id)
        )
        if request is None:
            dropped.append(DroppedEvent(event.uuid, event.event_type, reason or DropReason.MALFORMED))
            continue
        seen.add(event.uuid)
        kept.append(request)
    # Okta may batch events out of order; the FIFO group should see them as they happened.
    kept.sort(key=lambda request: request.published)
    return Selection(kept=kept, dropped=dropped)


@dataclass(frozen=True)
class _Subject:
    """Who a kept event is about: the message group, and the pushed group if any."""

    okta_user_id: str
    okta_group_id: str | None = None


def _judge(
    event: HookEvent, app_id: str | None, groups: GroupConfig
) -> tuple[DropReason | None, _Subject | None]:
    is_group_event = groups.enabled and event.event_type in GROUP_EVENT_TYPES
    if event.event_type not in PROVISIONING_EVENT_TYPES and not is_group_event:
        return DropReason.NOT_PROVISIONING, None
    if event.outcome is None or event.outcome.result.upper() != "SUCCESS":
        return DropReason.NOT_SUCCESS, None
    if is_group_event:
        return _judge_group_event(event, groups)
    users = event.targets_of_type("User")
    if len(users) != 1:
        # None, or several users in one event: neither names "the" user this event is about.
        return DropReason.NO_USER_TARGET, None
    if app_id and event.event_type.startswith(APP_MEMBERSHIP_PREFIX):
        apps = event.targets_of_type("AppInstance")
        if apps and all(app.id != app_id for app in apps):
            return DropReason.OTHER_APP, None
    return None, _Subject(users[0].id, _pushed_group_of_membership(event, groups))


def _judge_group_event(event: HookEvent, groups: GroupConfig) -> tuple[DropReason | None, _Subject | None]:
    targets = event.targets_of_type("UserGroup")
    if len(targets) != 1:
        return DropReason.NO_GROUP_TARGET, None
    group_id = targets[0].id
    if not groups.is_pushed(group_id):
        return DropReason.GROUP_NOT_PUSHED, None
    return None, _Subject(group_request_key(group_id), group_id)


def _pushed_group_of_membership(event: HookEvent, groups: GroupConfig) -> str | None:
    """The pushed group a membership event names, making it a membership request; else None.

    An event that names no group, or several, stays a user request: the worker still
    converges the user (and, with groups pushed, the user's memberships of every pushed group).
    """
    if event.event_type not in GROUP_MEMBERSHIP_EVENT_TYPES or not groups.enabled:
        return None
    targets = event.targets_of_type("UserGroup")
    if len(targets) != 1 or not groups.is_pushed(targets[0].id):
        return None
    return targets[0].id


def _request(event: HookEvent, subject: _Subject, delivery_id: str | None) -> SyncRequest | None:
    try:
        return SyncRequest(
            okta_user_id=subject.okta_user_id,
            event_uuid=event.uuid,
            event_type=event.event_type,
            published=event.published,
            delivery_id=delivery_id,
            source="okta-event-hook",
            okta_group_id=subject.okta_group_id,
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
