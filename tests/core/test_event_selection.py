"""Which events of an Okta delivery are queued, and why the others are not (table tests)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tvsync.core.event_selection import PROVISIONING_EVENT_TYPES, DropReason, select_events
from tvsync.models.okta_hook import EventHookDelivery

USER = {
    "id": "00u1alice00000000001",
    "type": "User",
    "alternateId": "alice@example.com",
    "displayName": "Alice",
}
APP_USER = {"id": "0ua1tvalice000000001", "type": "AppUser", "alternateId": "alice@example.com"}
TV_APP = {"id": "0oa1tvsync0000000001", "type": "AppInstance", "alternateId": "TeamViewer"}
OTHER_APP = {"id": "0oa1otherapp00000002", "type": "AppInstance", "alternateId": "Slack"}
GROUP = {"id": "00g1engineering00001", "type": "UserGroup", "alternateId": "Engineering"}


def event(
    event_type: str = "user.lifecycle.create",
    *,
    uuid: str = "9191ef7a-f669-11e9-b9b3-fd3a55cb1b10",
    result: str | None = "SUCCESS",
    targets: list[dict[str, Any]] | None = None,
    published: str = "2026-11-02T09:00:00.000Z",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "uuid": uuid,
        "published": published,
        "eventType": event_type,
        "version": "0",
        "severity": "INFO",
        "outcome": None if result is None else {"result": result, "reason": None},
        "target": [USER] if targets is None else targets,
        **extra,
    }
    return body


def delivery(*events: dict[str, Any]) -> EventHookDelivery:
    return EventHookDelivery.model_validate(
        {
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "eventId": "6e08cca5-9488-4367-b75b-e0bb1c973c58",
            "data": {"events": list(events)},
        }
    )


KEPT = [pytest.param(event(t), id=f"kept:{t}") for t in sorted(PROVISIONING_EVENT_TYPES)]

KEPT += [
    pytest.param(
        event("application.user_membership.add", targets=[APP_USER, TV_APP, USER]), id="user-target-last"
    ),
    pytest.param(
        event("application.user_membership.add", targets=[TV_APP, USER, APP_USER]), id="user-target-middle"
    ),
    pytest.param(event("group.user_membership.add", targets=[GROUP, USER]), id="user-after-group"),
    pytest.param(
        event(
            "user.account.update_profile",
            debugContext={"debugData": {"changedAttributes": "firstName"}},
            brandNewOktaField={"nested": [1, 2, 3]},
        ),
        id="unknown-extra-fields",
    ),
    pytest.param(
        event(targets=[{**USER, "unknownTargetField": True, "detailEntry": None}]), id="target-extra-fields"
    ),
    pytest.param(event(result="Success"), id="preview-style-outcome-case"),
    pytest.param(
        event("application.user_membership.remove", targets=[USER]), id="membership-without-appinstance"
    ),
]


@pytest.mark.parametrize("raw", KEPT)
def test_kept_events_become_one_request_for_the_user(raw: dict[str, Any]) -> None:
    selection = select_events(delivery(raw), app_id="0oa1tvsync0000000001")
    assert selection.dropped == []
    [request] = selection.kept
    assert request.okta_user_id == USER["id"]
    assert request.event_uuid == raw["uuid"]
    assert request.event_type == raw["eventType"]
    assert request.delivery_id == "6e08cca5-9488-4367-b75b-e0bb1c973c58"
    assert request.source == "okta-event-hook"
    assert request.schema_version == 1


DROPPED = [
    pytest.param(event("user.session.start"), None, DropReason.NOT_PROVISIONING, id="session-start"),
    pytest.param(
        event("user.lifecycle.delete.completed"), None, DropReason.NOT_PROVISIONING, id="delete-completed"
    ),
    pytest.param(
        event("user.account.update_password"), None, DropReason.NOT_PROVISIONING, id="password-change"
    ),
    pytest.param(event(result="FAILURE"), None, DropReason.NOT_SUCCESS, id="failure"),
    pytest.param(event(result="DENY"), None, DropReason.NOT_SUCCESS, id="deny"),
    pytest.param(event(result=None), None, DropReason.NOT_SUCCESS, id="no-outcome"),
    pytest.param(event(targets=[]), None, DropReason.NO_USER_TARGET, id="empty-targets"),
    pytest.param(event(targets=None, target=None), None, DropReason.NO_USER_TARGET, id="null-target"),
    pytest.param(
        event("group.user_membership.add", targets=[GROUP]), None, DropReason.NO_USER_TARGET, id="group-only"
    ),
    pytest.param(
        event(targets=[USER, {**USER, "id": "00u1bob0000000000002"}]),
        None,
        DropReason.NO_USER_TARGET,
        id="two-users",
    ),
    pytest.param(
        event("application.user_membership.add", targets=[APP_USER, OTHER_APP, USER]),
        "0oa1tvsync0000000001",
        DropReason.OTHER_APP,
        id="other-app",
    ),
    pytest.param({"eventType": "user.lifecycle.create"}, None, DropReason.MALFORMED, id="no-uuid"),
    pytest.param(event(published="yesterday"), None, DropReason.MALFORMED, id="bad-published"),
    pytest.param(event(published="2026-11-02T09:00:00"), None, DropReason.MALFORMED, id="naive-published"),
    pytest.param("not an object", None, DropReason.MALFORMED, id="string-event"),
    pytest.param(
        event(targets=[{**USER, "id": "00u 1 bad id"}]), None, DropReason.MALFORMED, id="sqs-unsafe-user-id"
    ),
    pytest.param(event(uuid="a" * 129), None, DropReason.MALFORMED, id="uuid-too-long"),
]


@pytest.mark.parametrize(("raw", "app_id", "reason"), DROPPED)
def test_dropped_events_are_counted_with_their_reason(
    raw: Any, app_id: str | None, reason: DropReason
) -> None:
    selection = select_events(delivery(raw), app_id=app_id)
    assert selection.kept == []
    assert [d.reason for d in selection.dropped] == [reason]
    assert selection.dropped_by_reason() == {reason: 1}


def test_other_app_membership_is_kept_when_no_app_filter_is_set() -> None:
    raw = event("application.user_membership.add", targets=[APP_USER, OTHER_APP, USER])
    assert len(select_events(delivery(raw), app_id=None).kept) == 1


def test_duplicate_uuid_in_one_delivery_is_queued_once() -> None:
    first = event()
    selection = select_events(delivery(first, copy.deepcopy(first)), app_id=None)
    assert len(selection.kept) == 1
    assert selection.dropped_by_reason() == {DropReason.DUPLICATE: 1}


def test_kept_events_are_ordered_by_published_time() -> None:
    late = event("user.lifecycle.suspend", uuid="late", published="2026-11-02T09:00:05.000Z")
    early = event("user.lifecycle.unsuspend", uuid="early", published="2026-11-02T09:00:01.000+00:00")
    middle = event("user.account.update_profile", uuid="middle", published="2026-11-02T10:00:03.000+01:00")
    selection = select_events(delivery(late, early, middle), app_id=None)
    assert [r.event_uuid for r in selection.kept] == ["early", "middle", "late"]


def test_the_mixed_batch_sample_keeps_the_provisioning_events_only() -> None:
    from tests.conftest import ROOT

    raw = (ROOT / "events/okta/06-mixed-batch.json").read_text()
    selection = select_events(EventHookDelivery.model_validate_json(raw), app_id="0oa1tvsync0000000001")
    assert [(r.okta_user_id, r.event_type) for r in selection.kept] == [
        ("00u1bob0000000000002", "group.user_membership.add"),
        ("00u1frank00000000006", "user.account.update_profile"),
        ("00u1carol00000000003", "user.lifecycle.unsuspend"),
        ("00u1carol00000000003", "user.lifecycle.suspend"),
    ]
    # user.session.start and group.lifecycle.create are not provisioning events; the create failed.
    assert selection.dropped_by_reason() == {DropReason.NOT_PROVISIONING: 2, DropReason.NOT_SUCCESS: 1}
