"""Which events of an Okta delivery are queued, and why the others are not (table tests)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tvsync.core.event_selection import PROVISIONING_EVENT_TYPES, DropReason, select_events
from tvsync.core.groups import GroupConfig
from tvsync.models.okta_hook import EventHookDelivery, HookEvent

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


# ---------------------------------------------------------------------------- pushed groups

OTHER_GROUP = {"id": "00g1sales00000000002", "type": "UserGroup", "alternateId": "Sales"}
ROLE = "9b1e0000-0000-4000-8000-000000000001"
#: Engineering pushed; a third group only through the role map (which pushes it too).
PUSHING = GroupConfig.parse(GROUP["id"], f"00g1support0000000003={ROLE}", delete_unpushed=False)
SUPPORT = {"id": "00g1support0000000003", "type": "UserGroup", "alternateId": "Support"}


@pytest.mark.parametrize(
    ("raw", "user_id", "group_id"),
    [
        pytest.param(
            event("group.user_membership.add", targets=[USER, GROUP]),
            USER["id"],
            GROUP["id"],
            id="membership-add-of-pushed-group",
        ),
        pytest.param(
            event("group.user_membership.remove", targets=[GROUP, USER]),
            USER["id"],
            GROUP["id"],
            id="membership-remove-group-first",
        ),
        pytest.param(
            event("group.user_membership.add", targets=[USER, SUPPORT]),
            USER["id"],
            SUPPORT["id"],
            id="membership-of-a-group-only-the-role-map-names",
        ),
        pytest.param(
            event("group.user_membership.add", targets=[USER, OTHER_GROUP]),
            USER["id"],
            None,
            id="membership-of-a-group-not-pushed-stays-a-user-request",
        ),
        pytest.param(
            event("group.user_membership.add", targets=[USER, GROUP, OTHER_GROUP]),
            USER["id"],
            None,
            id="membership-naming-two-groups-stays-a-user-request",
        ),
        pytest.param(
            event("group.user_membership.add", targets=[USER]),
            USER["id"],
            None,
            id="membership-naming-no-group-stays-a-user-request",
        ),
        pytest.param(
            event("group.profile.update", targets=[GROUP]),
            f"group-{GROUP['id']}",
            GROUP["id"],
            id="rename-of-pushed-group",
        ),
        pytest.param(
            event("group.lifecycle.delete", targets=[SUPPORT]),
            f"group-{SUPPORT['id']}",
            SUPPORT["id"],
            id="delete-of-mapped-group",
        ),
        pytest.param(
            event("group.profile.update", targets=[USER, GROUP]),
            f"group-{GROUP['id']}",
            GROUP["id"],
            id="group-event-that-also-names-its-actor-user",
        ),
        pytest.param(event("user.lifecycle.suspend"), USER["id"], None, id="user-events-are-as-ever"),
    ],
)
def test_with_groups_pushed_events_about_them_become_requests_about_them(
    raw: dict[str, Any], user_id: str, group_id: str | None
) -> None:
    selection = select_events(delivery(raw), app_id="0oa1tvsync0000000001", groups=PUSHING)
    assert selection.dropped == []
    [request] = selection.kept
    assert (request.okta_user_id, request.okta_group_id) == (user_id, group_id)
    assert (request.event_uuid, request.event_type) == (raw["uuid"], raw["eventType"])
    assert request.is_group_request is user_id.startswith("group-")
    assert request.is_membership_request is (group_id is not None and not user_id.startswith("group-"))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(
            event("group.profile.update", targets=[OTHER_GROUP]),
            DropReason.GROUP_NOT_PUSHED,
            id="rename-of-a-group-not-pushed",
        ),
        pytest.param(
            event("group.lifecycle.delete", targets=[OTHER_GROUP]),
            DropReason.GROUP_NOT_PUSHED,
            id="delete-of-a-group-not-pushed",
        ),
        pytest.param(
            event("group.profile.update", targets=[USER]), DropReason.NO_GROUP_TARGET, id="no-group-target"
        ),
        pytest.param(
            event("group.lifecycle.delete", targets=[GROUP, SUPPORT]),
            DropReason.NO_GROUP_TARGET,
            id="two-group-targets",
        ),
        pytest.param(
            event("group.profile.update", targets=[GROUP], result="FAILURE"),
            DropReason.NOT_SUCCESS,
            id="failed-rename",
        ),
        pytest.param(
            event("group.lifecycle.create", targets=[GROUP]),
            DropReason.NOT_PROVISIONING,
            id="group-create-waits-for-members",
        ),
        pytest.param(
            event("group.user_membership.add", targets=[GROUP]),
            DropReason.NO_USER_TARGET,
            id="membership-without-its-user",
        ),
        pytest.param(
            event("group.profile.update", targets=[{**GROUP, "id": "00g 1 bad"}]),
            DropReason.GROUP_NOT_PUSHED,
            id="unsafe-group-id-is-never-pushed",
        ),
    ],
)
def test_with_groups_pushed_other_group_events_are_dropped_with_their_reason(
    raw: dict[str, Any], reason: DropReason
) -> None:
    selection = select_events(delivery(raw), app_id=None, groups=PUSHING)
    assert selection.kept == []
    assert selection.dropped_by_reason() == {reason: 1}


@pytest.mark.parametrize("groups", [None, GroupConfig(), GroupConfig.parse("", "", delete_unpushed=True)])
@pytest.mark.parametrize(
    ("raw", "outcome"),
    [
        pytest.param(
            event("group.profile.update", targets=[GROUP]), DropReason.NOT_PROVISIONING, id="rename"
        ),
        pytest.param(
            event("group.lifecycle.delete", targets=[GROUP]), DropReason.NOT_PROVISIONING, id="delete"
        ),
        pytest.param(event("group.user_membership.add", targets=[USER, GROUP]), USER["id"], id="membership"),
    ],
)
def test_with_no_group_pushed_the_selection_is_what_it_always_was(
    groups: GroupConfig | None, raw: dict[str, Any], outcome: str | DropReason
) -> None:
    selection = (
        select_events(delivery(raw), app_id=None)
        if groups is None
        else select_events(delivery(raw), app_id=None, groups=groups)
    )
    if isinstance(outcome, DropReason):
        assert (selection.kept, selection.dropped_by_reason()) == ([], {outcome: 1})
        return
    [request] = selection.kept
    assert (request.okta_user_id, request.okta_group_id) == (outcome, None)
    assert "okta_group_id" not in request.model_dump(mode="json"), "the message keeps its exact shape"


def test_group_requests_are_ordered_with_the_users_and_deduplicated_by_uuid() -> None:
    rename = event(
        "group.profile.update", uuid="rename", targets=[GROUP], published="2026-11-02T09:00:03.000Z"
    )
    join = event(
        "group.user_membership.add", uuid="join", targets=[USER, GROUP], published="2026-11-02T09:00:02.000Z"
    )
    create = event(uuid="create", published="2026-11-02T09:00:01.000Z")
    selection = select_events(
        delivery(rename, join, copy.deepcopy(join), create), app_id=None, groups=PUSHING
    )
    assert [(r.event_uuid, r.okta_user_id, r.okta_group_id) for r in selection.kept] == [
        ("create", USER["id"], None),
        ("join", USER["id"], GROUP["id"]),
        ("rename", f"group-{GROUP['id']}", GROUP["id"]),
    ]
    assert selection.dropped_by_reason() == {DropReason.DUPLICATE: 1}


def test_the_mixed_batch_sample_pushing_its_group_makes_a_membership_request() -> None:
    from tests.conftest import ROOT

    raw = (ROOT / "events/okta/06-mixed-batch.json").read_text()
    sample = EventHookDelivery.model_validate_json(raw)
    group_id = next(
        t.id for e in sample.data.events for t in HookEvent.model_validate(e).targets_of_type("UserGroup")
    )
    groups = GroupConfig.parse(group_id, "", delete_unpushed=False)
    selection = select_events(sample, app_id="0oa1tvsync0000000001", groups=groups)
    assert [(r.okta_user_id, r.okta_group_id, r.event_type) for r in selection.kept] == [
        ("00u1bob0000000000002", group_id, "group.user_membership.add"),
        ("00u1frank00000000006", None, "user.account.update_profile"),
        ("00u1carol00000000003", None, "user.lifecycle.unsuspend"),
        ("00u1carol00000000003", None, "user.lifecycle.suspend"),
    ]
    assert selection.dropped_by_reason() == {DropReason.NOT_PROVISIONING: 2, DropReason.NOT_SUCCESS: 1}
