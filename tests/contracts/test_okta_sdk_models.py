"""The sample Okta data and the Okta emulator held against the okta SDK's own models.

``events/okta/*.json`` are Okta event hook deliveries; every System Log event in them must
be a ``LogEvent`` as Okta's SDK (generated from the management spec [SPEC]) reads it, carry
every field ``tvsync.models.okta_hook`` relies on, and stamp times in Okta's format [CORE].
The ``events/apigw-*.json`` bodies are the same deliveries as API Gateway hands them over;
the ``events/sqs-*.json`` bodies are the product's own sync requests, which embed Okta data
(a user id, an event uuid, type and time) that must match the deliveries they came from.

The second half proves the ``okta_payloads`` plugin can fail: an emulator made to send a
wrong body must produce a violation naming the path, over both transports.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from okta.models import Group, GroupProfile, LogEvent, User

from tests.contracts.okta_payloads import OktaContract, group_violations
from tests.contracts.okta_sdk import SDK_GAPS, alternatives, violations
from tvsync.emulators.http import EmulatorRequest, EmulatorResponse, FaultKind, FaultPolicy, serve
from tvsync.emulators.okta import OktaEmulator
from tvsync.models.okta import OktaUser
from tvsync.models.okta_hook import EventHookDelivery, HookEvent

if TYPE_CHECKING:
    from collections.abc import Iterator

EVENTS = Path(__file__).resolve().parents[2] / "events"
DELIVERIES = sorted((EVENTS / "okta").glob("*.json"))
GATEWAY_EVENTS = sorted(EVENTS.glob("apigw-*.json"))
SQS_EVENTS = sorted(EVENTS.glob("sqs-*.json"))
TOKEN = "okta-test-token"
AUTH = {"Authorization": f"SSWS {TOKEN}"}


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def gateway_delivery(path: Path) -> dict[str, Any] | None:
    """The Okta delivery inside an API Gateway event, decoded as the ingest function decodes it."""
    event = load(path)
    body = event.get("body")
    if body is None:
        return None
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    delivery: dict[str, Any] = json.loads(raw)
    return delivery


def events_of(delivery: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    EventHookDelivery.model_validate(delivery)  # the envelope as the product reads it
    yield from enumerate(delivery["data"]["events"])


# ---------------------------------------------------------------- sample deliveries


def test_the_sample_files_are_there() -> None:
    """A glob that finds nothing would make every parametrized check below vacuous."""
    assert len(DELIVERIES) >= 6
    assert len(GATEWAY_EVENTS) >= 7
    assert SQS_EVENTS


@pytest.mark.parametrize("path", DELIVERIES, ids=lambda p: p.name)
def test_every_delivered_event_is_an_sdk_log_event(path: Path) -> None:
    """[EH][SPEC] each ``data.events[]`` element is a System Log LogEvent."""
    assert log_event_problems(load(path)) == []


def log_event_problems(delivery: dict[str, Any]) -> list[str]:
    """What the SDK's LogEvent (and our HookEvent) find wrong with the delivery's events."""
    return [
        problem
        for index, event in events_of(delivery)
        for problem in violations(LogEvent, event, ours=HookEvent, where=f"events[{index}]")
    ]


@pytest.mark.parametrize("path", GATEWAY_EVENTS, ids=lambda p: p.name)
def test_gateway_bodies_are_deliveries_of_sdk_log_events(path: Path) -> None:
    """The POST bodies are Okta deliveries too (the verification GET has none)."""
    delivery = gateway_delivery(path)
    if delivery is None:
        assert load(path)["httpMethod"] == "GET"
        return
    assert log_event_problems(delivery) == []


@pytest.mark.parametrize("path", GATEWAY_EVENTS, ids=lambda p: p.name)
def test_gateway_bodies_are_the_okta_files_they_say_they_are(path: Path) -> None:
    """Each POST body is one of ``events/okta/`` (compact JSON), so both sets stay one sample."""
    delivery = gateway_delivery(path)
    if delivery is None:
        return
    assert delivery in [load(p) for p in DELIVERIES]


@pytest.mark.parametrize("path", SQS_EVENTS, ids=lambda p: p.name)
def test_sqs_bodies_carry_okta_data_from_a_delivered_event(path: Path) -> None:
    """A sync request's Okta fields (user id, event uuid, type, time) match a delivered LogEvent."""
    by_uuid = {
        event["uuid"]: LogEvent.model_validate_json(json.dumps(event), strict=True)
        for delivery in DELIVERIES
        for _, event in events_of(load(delivery))
    }
    records = load(path)["Records"]
    assert records
    for record in records:
        request = json.loads(record["body"])
        event = by_uuid.get(request["event_uuid"])
        assert event is not None, f"{request['event_uuid']} is in no events/okta delivery"
        assert request["event_type"] == event.event_type
        assert datetime.fromisoformat(request["published"]) == event.published
        users = [t.id for t in event.target or () if t.type == "User"]
        assert request["okta_user_id"] in users
        assert record["attributes"]["MessageGroupId"] == request["okta_user_id"]


def test_the_sample_group_events_name_their_group_as_okta_does() -> None:
    """[EH][FY] a group event targets the ``UserGroup`` (``00g…``), a membership event the ``User`` too."""
    group_events = [
        event
        for path in DELIVERIES
        for _, event in events_of(load(path))
        if str(event["eventType"]).startswith("group.")
    ]
    assert {e["eventType"] for e in group_events} >= {"group.user_membership.add", "group.lifecycle.create"}
    for event in group_events:
        groups = [t for t in event["target"] if t["type"] == "UserGroup"]
        assert len(groups) == 1 and groups[0]["id"].startswith("00g") and len(groups[0]["id"]) == 20
        users = [t for t in event["target"] if t["type"] == "User"]
        assert len(users) == (1 if ".user_membership." in event["eventType"] else 0)


def test_log_event_device_is_checked_with_the_sdk_log_device() -> None:
    """The SDK's LogEvent has no ``device`` field although Okta sends one; it is not let through blind."""
    assert "device" not in {f.alias or n for n, f in LogEvent.model_fields.items()}
    event = load(DELIVERIES[0])["data"]["events"][0]
    assert violations(LogEvent, {**event, "device": None}) == []
    wrong = violations(LogEvent, {**event, "device": {"id": 42}})
    assert wrong and all(w.startswith("$.device.id") for w in wrong), wrong
    assert ("LogEvent", "device") in SDK_GAPS


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"published": "2026-11-02T09:00:00.541+00:00"}, "$.published: timestamp not in Okta's"),
        ({"published": "yesterday"}, "$.published: Input should be a valid datetime"),
        ({"severity": "LOUD"}, "$.severity: Input should be"),
        ({"uuid": None}, "$.uuid: missing, but HookEvent requires it"),
        ({"eventTyp": "user.lifecycle.create"}, "$.eventTyp: not a field of the SDK's LogEvent"),
        ({"target": [{"id": 7, "type": "User"}]}, "$.target.0.id: Input should be a valid string"),
        ({"target": [{"type": "User"}]}, "$.target[0].id: missing, but HookTarget requires it"),
    ],
)
def test_the_event_check_catches_what_it_should(change: dict[str, Any], expected: str) -> None:
    """The check is only worth something if a wrong event fails it, naming the field (not its value)."""
    event = {**load(DELIVERIES[0])["data"]["events"][0], **change}
    found = violations(LogEvent, event, ours=HookEvent)
    assert any(problem.startswith(expected) for problem in found), found
    assert not any("@" in problem for problem in found), "messages must not carry emails"


# ---------------------------------------------------------------- the plugin can fail


@pytest.fixture
def emulator() -> OktaEmulator:
    emulator = OktaEmulator(TOKEN)
    frank = emulator.add_user("Frank.Fischer@example.com", "Frank", "Fischer")
    emulator.assign("0oaTeamViewerApp0h7", frank["id"])
    return emulator


def get(emulator: OktaEmulator, path: str, *, loopback: bool) -> httpx.Response:
    if loopback:
        with serve(emulator) as server, httpx.Client(base_url=server.url, headers=AUTH) as http:
            return http.get(path)
    with httpx.Client(
        base_url="https://acme.okta.test", transport=emulator.transport(), headers=AUTH
    ) as http:
        return http.get(path)


@pytest.mark.parametrize("loopback", [False, True], ids=["in-process", "loopback"])
def test_a_wrong_user_body_is_a_violation(
    emulator: OktaEmulator, okta_contract: OktaContract, monkeypatch: pytest.MonkeyPatch, loopback: bool
) -> None:
    render = emulator._render_user

    def wrong(request: EmulatorRequest, user: dict[str, Any]) -> dict[str, Any]:
        body = render(request, user)
        body["status"] = "GONE"  # not a UserStatus
        body["created"] = "2026-11-02 09:00:00"  # not Okta's timestamp format
        body["profile"] = {k: v for k, v in body["profile"].items() if k != "email"}
        return body

    monkeypatch.setattr(emulator, "_render_user", wrong)
    user_id = emulator.users()[0]["id"]
    assert get(emulator, f"/api/v1/users/{user_id}", loopback=loopback).status_code == 200

    found = okta_contract.take()
    prefix = f"GET /api/v1/users/{user_id} -> 200: "
    assert any(v.startswith(prefix + "$.status: Input should be") for v in found), found
    assert prefix + "$.created: timestamp not in Okta's YYYY-MM-DDTHH:mm:ss.SSSZ format" in found
    assert prefix + "$.profile.email: missing, but OktaProfile requires it" in found


def test_a_wrong_embedded_user_and_error_body_are_violations(
    emulator: OktaEmulator, okta_contract: OktaContract, monkeypatch: pytest.MonkeyPatch
) -> None:
    render = emulator._render_user
    monkeypatch.setattr(emulator, "_render_user", lambda r, u: {**render(r, u), "lastLogin": 0})
    assert get(emulator, "/api/v1/apps/0oaTeamViewerApp0h7/users?expand=user", loopback=False).is_success

    monkeypatch.setattr(emulator, "_error", lambda status, *_a, **_k: EmulatorResponse(status, {"oops": 1}))
    assert get(emulator, "/api/v1/users/00uNobody", loopback=False).status_code == 404

    found = okta_contract.take()
    assert any(
        v.startswith("GET /api/v1/apps/0oaTeamViewerApp0h7/users -> 200: $[0]._embedded.user.lastLogin")
        for v in found
    ), found
    assert "GET /api/v1/users/00uNobody -> 404: $.oops: not a field of the SDK's Error" in found
    assert "GET /api/v1/users/00uNobody -> 404: $.errorCode: missing, but OktaErrorBody requires it" in found


def test_collected_violations_fail_the_test_naming_the_path(okta_contract: OktaContract) -> None:
    """What the autouse fixture runs at teardown: a failure that names path and fault."""
    request = EmulatorRequest("GET", "/api/v1/users/00u1", {}, {})
    okta_contract.check(request, EmulatorResponse(200, {"id": 1, "status": "ACTIVE"}))
    with pytest.raises(pytest.fail.Exception) as failed:
        okta_contract.assert_clean()
    message = str(failed.value)
    assert "GET /api/v1/users/00u1 -> 200: $.id: Input should be a valid string" in message
    assert "$.profile: missing, but OktaUser requires it" in message
    okta_contract.assert_clean()  # taken: nothing left to fail on


def test_injected_server_errors_send_an_error_body_the_sdk_accepts(okta_contract: OktaContract) -> None:
    emulator = OktaEmulator(TOKEN, faults=FaultPolicy(failure_rate=1.0, kinds=(FaultKind.SERVER_ERROR,)))
    for _ in range(6):
        response = get(emulator, "/api/v1/users", loopback=False)
        assert response.status_code in {500, 502, 503}
    assert okta_contract.take() == []


def test_the_sdk_alone_would_accept_an_empty_user() -> None:
    """Why the contract adds checks of its own: every SDK field is optional."""
    assert User.model_validate_json("{}", strict=True) == User()
    assert violations(User, {}, ours=None) == []
    assert violations(User, {}, ours=OktaUser) != []


# ---------------------------------------------------------------- groups


@pytest.mark.parametrize("loopback", [False, True], ids=["in-process", "loopback"])
def test_a_wrong_group_body_is_a_violation_alone_and_in_a_list(
    emulator: OktaEmulator, okta_contract: OktaContract, monkeypatch: pytest.MonkeyPatch, loopback: bool
) -> None:
    group = emulator.add_group("Support")
    user_id = emulator.users()[0]["id"]
    emulator.add_to_group(group["id"], user_id)
    render = emulator._render_group

    def wrong(request: EmulatorRequest, stored: dict[str, Any]) -> dict[str, Any]:
        body = render(request, stored)
        body["type"] = "SECURITY"  # not a GroupType
        body["lastMembershipUpdated"] = "2026-11-02T09:00:00Z"  # no milliseconds
        body["profile"] = {"description": 7}  # no name, and not a string
        body["objectClass"] = ["okta:windows_security_principal"]
        return body

    monkeypatch.setattr(emulator, "_render_group", wrong)
    assert get(emulator, f"/api/v1/groups/{group['id']}", loopback=loopback).status_code == 200
    assert get(emulator, f"/api/v1/users/{user_id}/groups", loopback=loopback).status_code == 200

    found = okta_contract.take()
    one = f"GET /api/v1/groups/{group['id']} -> 200: "
    assert any(v.startswith(one + "$.type: Input should be") for v in found), found
    assert one + "$.lastMembershipUpdated: timestamp not in Okta's YYYY-MM-DDTHH:mm:ss.SSSZ format" in found
    assert one + "$.profile.name: missing, but OktaGroupProfile requires it" in found
    assert any(v.startswith(one + "$.profile.description: Input should be a valid string") for v in found)
    listed = f"GET /api/v1/users/{user_id}/groups -> 200: "
    assert listed + "$[1].profile.name: missing, but OktaGroupProfile requires it" in found


def test_the_sdk_alone_would_accept_any_group_profile() -> None:
    """Why profiles are checked as one of their alternatives: the SDK's anyOf wrapper takes anything."""
    nonsense = {"id": "00g1", "profile": {"name": 5, "objectClass": ["x"]}}
    assert Group.model_validate_json(json.dumps(nonsense), strict=True).profile == GroupProfile()
    assert {m.__name__ for m in alternatives(GroupProfile)} == {
        "OktaUserGroupProfile",
        "OktaActiveDirectoryGroupProfile",
    }
    found = violations(Group, nonsense)
    assert found[0] == (
        "$.profile: fits none of OktaUserGroupProfile, OktaActiveDirectoryGroupProfile (SDK GroupProfile)"
    ), found
    assert any(problem.startswith("$.profile.name: Input should be a valid string") for problem in found)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"objectClass": ["okta:ldap_group"]}, "$.objectClass: not one group profile class"),
        ({"objectClass": None}, "$.objectClass: not one group profile class"),
        ({"type": "OKTA_GROUP"}, "$.objectClass: a group of type OKTA_GROUP has Okta's group profile"),
        ({"id": None}, "$.id: missing, but OktaGroupBody requires it"),
        ({"created": "2026-11-02"}, "$.created: timestamp not in Okta's"),
        ({"profile": {"name": "Sales", "samAccountName": 1}}, "$.profile.samAccountName: Input should be"),
        ({"_links": {"users": {"hreff": "x"}}}, "$._links.users.href: Field required"),
    ],
)
def test_the_group_check_catches_what_it_should(change: dict[str, Any], expected: str) -> None:
    """An imported (Active Directory) group made wrong one field at a time."""
    stored = OktaEmulator(TOKEN).add_group("Sales", type="APP_GROUP")
    assert group_violations(stored, "$") == []
    found = group_violations({**stored, **change}, "$")
    assert any(problem.startswith(expected) for problem in found), found
