"""Guards the sample events in events/.

They are used by `tvsync invoke`, `sam local invoke`, the local demo and other tests, so a drifting id, a
body that no longer matches its Okta delivery, or a real-looking credential would break
things far from here. These tests pin the contract the samples promise.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
OKTA_DIR = EVENTS_DIR / "okta"

HOOK_ID = "who1tvsync0000000001"
ORG_URL = "https://example.okta.com"
TEAMVIEWER_APP_ID = "0oa1tvsync0000000001"
SLACK_APP_ID = "0oa1otherapp00000002"
SAMPLE_SECRET = "sample-hook-secret-for-local-testing"
CHALLENGE = "Me_rShK8jP6dFz4n2RkX8wYQvLq0"

ALICE, BOB, CAROL, DAVE, ERIN, FRANK = (
    "00u1alice00000000001",
    "00u1bob0000000000002",
    "00u1carol00000000003",
    "00u1dave000000000004",
    "00u1erin000000000005",
    "00u1frank00000000006",
)
CAST_EMAILS = {
    ALICE: "alice.archer@example.com",
    BOB: "bob.baker@example.com",
    CAROL: "carol.chen@example.com",
    DAVE: "dave.dunn@example.com",
    ERIN: "erin.evans@example.com",
    FRANK: "frank.fischer@example.com",
}

APIGW_TO_OKTA = {
    "apigw-user-create.json": "01-user-create.json",
    "apigw-app-assignment.json": "02-app-assignment.json",
    "apigw-profile-update.json": "03-profile-update.json",
    "apigw-suspend.json": "04-suspend.json",
    "apigw-deactivate.json": "05-deactivate.json",
    "apigw-mixed-batch.json": "06-mixed-batch.json",
    "apigw-bad-auth.json": "01-user-create.json",
}
SQS_FILES = {"sqs-user-create.json", "sqs-app-assignment.json", "sqs-profile-suspend-deactivate.json"}
EXPECTED_TOP_LEVEL = {*APIGW_TO_OKTA, "apigw-verify.json", "env.json", *SQS_FILES}
#: Deliveries without an API Gateway twin: the group story the demo pushes.
GROUP_ONLY_OKTA = {"07-group-membership.json"}
EXPECTED_OKTA = set(APIGW_TO_OKTA.values()) | GROUP_ONLY_OKTA
ENGINEERING = "00g1engineering00001"

ALL_JSON = sorted([*EVENTS_DIR.glob("*.json"), *OKTA_DIR.glob("*.json")])
OKTA_FILES = sorted(OKTA_DIR.glob("*.json"))


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _events(name: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = _load(OKTA_DIR / name)["data"]["events"]
    return events


def _parse_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")


def _user_ids(event: dict[str, Any]) -> list[str]:
    return [t["id"] for t in event["target"] if t["type"] == "User"]


def _ids(path: Path) -> list[str]:
    """Event uuids and the envelope eventId: the values consumers deduplicate on."""
    delivery = _load(path)
    return [delivery["eventId"], *(e["uuid"] for e in delivery["data"]["events"])]


def test_expected_files_are_present() -> None:
    assert {p.name for p in EVENTS_DIR.glob("*.json")} == EXPECTED_TOP_LEVEL
    assert {p.name for p in OKTA_FILES} == EXPECTED_OKTA
    assert (EVENTS_DIR / "README.md").is_file()


@pytest.mark.parametrize("path", ALL_JSON, ids=lambda p: p.name)
def test_file_is_pretty_printed_json(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("path", ALL_JSON, ids=lambda p: p.name)
def test_file_holds_nothing_that_looks_like_a_real_credential(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for marker in ("SSWS ", "Bearer ", "Basic ", "-----BEGIN", "AKIA", "aws_secret_access_key"):
        assert marker not in text, marker
    # Okta API tokens start with "00" and are 42 characters long; none may appear anywhere.
    assert not re.search(r"\b00[A-Za-z0-9_-]{40}\b", text)


@pytest.mark.parametrize("path", OKTA_FILES, ids=lambda p: p.name)
def test_okta_delivery_envelope(path: Path) -> None:
    delivery = _load(path)
    assert list(delivery) == [
        "eventType",
        "eventTypeVersion",
        "cloudEventsVersion",
        "source",
        "eventId",
        "data",
        "eventTime",
        "contentType",
    ]
    assert delivery["eventType"] == "com.okta.event_hook"
    assert delivery["eventTypeVersion"] == "1.0"
    assert delivery["cloudEventsVersion"] == "0.1"
    assert delivery["source"] == f"{ORG_URL}/api/v1/eventHooks/{HOOK_ID}"
    assert delivery["contentType"] == "application/json"
    events = delivery["data"]["events"]
    assert events
    published = [_parse_time(e["published"]) for e in events]
    assert published == sorted(published)
    assert len(set(published)) == len(published)
    lag = _parse_time(delivery["eventTime"]) - published[-1]
    assert timedelta(seconds=1) <= lag <= timedelta(seconds=10)


@pytest.mark.parametrize("path", OKTA_FILES, ids=lambda p: p.name)
def test_okta_events_are_full_log_events(path: Path) -> None:
    required = {
        "uuid",
        "published",
        "eventType",
        "version",
        "displayMessage",
        "severity",
        "actor",
        "client",
        "outcome",
        "target",
        "transaction",
        "debugContext",
        "legacyEventType",
        "authenticationContext",
        "securityContext",
    }
    for event in _load(path)["data"]["events"]:
        assert required <= set(event), required - set(event)
        assert event["outcome"]["result"] in {"SUCCESS", "FAILURE"}
        assert event["debugContext"]["debugData"]["targetEventHookIds"] == HOOK_ID
        for target in event["target"]:
            assert {"id", "type", "alternateId", "displayName"} <= set(target)


def test_story_is_published_in_file_order() -> None:
    times = [_parse_time(e["published"]) for path in OKTA_FILES for e in _load(path)["data"]["events"]]
    assert times == sorted(times)
    assert times[0] >= _parse_time("2026-11-02T09:00:00.000Z")


def test_ids_are_unique_across_all_files() -> None:
    okta_ids = [i for path in OKTA_FILES for i in _ids(path)]
    request_ids = [_load(EVENTS_DIR / name)["requestContext"]["requestId"] for name in APIGW_TO_OKTA]
    request_ids.append(_load(EVENTS_DIR / "apigw-verify.json")["requestContext"]["requestId"])
    counts = Counter(okta_ids + request_ids)
    assert [i for i, n in counts.items() if n > 1] == []


@pytest.mark.parametrize("path", OKTA_FILES, ids=lambda p: p.name)
def test_every_user_target_is_in_the_cast(path: Path) -> None:
    for event in _load(path)["data"]["events"]:
        for target in event["target"]:
            if target["type"] == "User":
                assert target["id"] in CAST_EMAILS
                assert target["alternateId"] == CAST_EMAILS[target["id"]]


@pytest.mark.parametrize("path", ALL_JSON, ids=lambda p: p.name)
def test_every_email_is_on_example_com(path: Path) -> None:
    emails = re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", path.read_text(encoding="utf-8"))
    assert [e for e in emails if not e.endswith("@example.com")] == []


# (eventType, outcome, User target ids) per event, in delivery order: the story each file tells.
STORY = {
    "01-user-create.json": [
        ("user.lifecycle.create", "SUCCESS", [ALICE]),
        ("user.lifecycle.activate", "SUCCESS", [ALICE]),
        ("user.lifecycle.create", "SUCCESS", [ERIN]),
        ("user.lifecycle.activate", "SUCCESS", [ERIN]),
        ("user.lifecycle.create", "SUCCESS", [FRANK]),
        ("user.lifecycle.activate", "SUCCESS", [FRANK]),
    ],
    "02-app-assignment.json": [
        ("application.user_membership.add", "SUCCESS", [ALICE]),
        ("application.user_membership.add", "SUCCESS", [ERIN]),
        ("application.user_membership.add", "SUCCESS", [FRANK]),
        ("application.user_membership.add", "SUCCESS", [BOB]),
        ("application.user_membership.add", "SUCCESS", [ALICE]),
    ],
    "03-profile-update.json": [("user.account.update_profile", "SUCCESS", [BOB])],
    "04-suspend.json": [("user.lifecycle.suspend", "SUCCESS", [CAROL])],
    "05-deactivate.json": [("user.lifecycle.deactivate", "SUCCESS", [DAVE])],
    "06-mixed-batch.json": [
        ("user.session.start", "SUCCESS", [ALICE]),
        ("user.lifecycle.create", "FAILURE", [ERIN]),
        ("group.user_membership.add", "SUCCESS", [BOB]),
        ("user.account.update_profile", "SUCCESS", [FRANK]),
        ("user.lifecycle.unsuspend", "SUCCESS", [CAROL]),
        ("user.lifecycle.suspend", "SUCCESS", [CAROL]),
        ("group.lifecycle.create", "SUCCESS", []),
    ],
    "07-group-membership.json": [
        ("group.user_membership.add", "SUCCESS", [ALICE]),
        ("group.user_membership.add", "SUCCESS", [FRANK]),
        ("group.user_membership.remove", "SUCCESS", [DAVE]),
    ],
}


@pytest.mark.parametrize(("name", "expected"), STORY.items())
def test_each_delivery_tells_its_story(name: str, expected: list[tuple[str, str, list[str]]]) -> None:
    actual = [(e["eventType"], e["outcome"]["result"], _user_ids(e)) for e in _events(name)]
    assert actual == expected


def test_app_assignments_name_the_app_and_vary_target_positions() -> None:
    events = _events("02-app-assignment.json")
    apps = [[t["id"] for t in e["target"] if t["type"] == "AppInstance"] for e in events]
    assert apps == [[TEAMVIEWER_APP_ID]] * 4 + [[SLACK_APP_ID]]
    for event in events:
        assert sorted(t["type"] for t in event["target"]) == ["AppInstance", "AppUser", "User"]
        app = next(t for t in event["target"] if t["type"] == "AppInstance")
        assert (
            app["alternateId"]
            == app["displayName"]
            == ("TeamViewer" if app["id"] == TEAMVIEWER_APP_ID else "Slack")
        )
    user_positions = {[t["type"] for t in e["target"]].index("User") for e in events}
    assert len(user_positions) > 1


@pytest.mark.parametrize(
    ("name", "user_id", "changed"),
    [("03-profile-update.json", BOB, "firstName"), ("06-mixed-batch.json", FRANK, "title,department")],
)
def test_profile_updates_carry_changed_attribute_names(name: str, user_id: str, changed: str) -> None:
    (event,) = [e for e in _events(name) if e["eventType"] == "user.account.update_profile"]
    assert _user_ids(event) == [user_id]
    assert event["debugContext"]["debugData"]["changedAttributes"] == changed


def test_mixed_batch_group_events_have_the_documented_targets() -> None:
    events = {e["eventType"]: e for e in _events("06-mixed-batch.json")}
    membership = events["group.user_membership.add"]
    assert [t["type"] for t in membership["target"]] == ["User", "UserGroup"]
    group_id = membership["target"][1]["id"]
    assert membership["debugContext"]["debugData"]["requestUri"] == f"/api/v1/groups/{group_id}/users/{BOB}"
    assert [t["type"] for t in events["group.lifecycle.create"]["target"]] == ["UserGroup"]


def test_group_membership_events_name_the_user_and_the_group_as_okta_does() -> None:
    """Targets User then UserGroup ([SPEC] LogEvent), the request URI of the membership call,
    and the legacy type Okta gives each; all about the one group the demo pushes."""
    for event in _events("07-group-membership.json"):
        user, group = event["target"]
        assert (user["type"], group["type"]) == ("User", "UserGroup")
        assert (group["id"], group["displayName"]) == (ENGINEERING, "Engineering")
        debug = event["debugContext"]["debugData"]
        assert debug["requestUri"] == f"/api/v1/groups/{ENGINEERING}/users/{user['id']}"
        removed = event["eventType"].endswith(".remove")
        assert event["legacyEventType"] == (
            "core.user_group_member.user_remove" if removed else "core.user_group_member.user_add"
        )
        assert event["displayMessage"] == (
            "Remove user from group membership" if removed else "Add user to group membership"
        )
    [mixed] = [e for e in _events("06-mixed-batch.json") if e["eventType"] == "group.user_membership.add"]
    assert mixed["target"][1]["id"] == ENGINEERING, "06 and 07 tell one group's story"


def test_the_demo_story_plays_every_okta_delivery_in_order() -> None:
    from tvsync.local.demo_cast import ENGINEERING as PUSHED
    from tvsync.local.demo_cast import STORY as PLAYED

    assert [name for name, _change in PLAYED] == [path.name for path in OKTA_FILES]
    assert PUSHED == ENGINEERING


def _assert_apigw_shape(event: dict[str, Any], method: str) -> None:
    assert event["resource"] == event["path"] == "/okta/events"
    assert event["httpMethod"] == method
    for key in (
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
    ):
        assert event[key] is None
    assert event["isBase64Encoded"] is False
    assert event["multiValueHeaders"] == {k: [v] for k, v in event["headers"].items()}
    ctx = event["requestContext"]
    assert ctx["httpMethod"] == method
    assert ctx["resourcePath"] == "/okta/events"
    assert ctx["path"] == "/Prod/okta/events"
    assert ctx["stage"] == "Prod"
    assert ctx["accountId"] == "123456789012"
    assert ctx["protocol"] == "HTTP/1.1"
    assert ctx["domainName"] == f"{ctx['apiId']}.execute-api.us-east-1.amazonaws.com"
    assert ctx["domainPrefix"] == ctx["apiId"]
    assert ctx["identity"]["userAgent"] == event["headers"]["User-Agent"]
    assert ctx["identity"]["sourceIp"] == event["headers"]["X-Forwarded-For"]
    assert isinstance(ctx["requestTimeEpoch"], int)


def test_verification_get() -> None:
    event = _load(EVENTS_DIR / "apigw-verify.json")
    _assert_apigw_shape(event, "GET")
    headers = event["headers"]
    assert headers["X-Okta-Verification-Challenge"] == CHALLENGE
    assert headers["User-Agent"] == "Okta-Integrations"
    assert headers["Authorization"] == SAMPLE_SECRET
    assert headers["Accept"] == "application/json"
    assert event["body"] is None


@pytest.mark.parametrize(("apigw_name", "okta_name"), APIGW_TO_OKTA.items())
def test_apigw_post_wraps_its_okta_delivery(apigw_name: str, okta_name: str) -> None:
    event = _load(EVENTS_DIR / apigw_name)
    _assert_apigw_shape(event, "POST")
    delivery = _load(OKTA_DIR / okta_name)
    assert json.loads(event["body"]) == delivery
    assert event["body"] == json.dumps(delivery, separators=(",", ":"), ensure_ascii=False)
    headers = event["headers"]
    assert headers["User-Agent"] == f"Okta Hook Service v1.0.0 - {HOOK_ID}"
    assert headers["Accept"] == headers["Content-Type"] == "application/json"
    assert headers["X-Okta-Request-Id"]
    assert "X-Okta-Verification-Challenge" not in headers
    expected_auth = "not-the-secret" if apigw_name == "apigw-bad-auth.json" else SAMPLE_SECRET
    assert headers["Authorization"] == expected_auth
    received = datetime.strptime(event["requestContext"]["requestTime"], "%d/%b/%Y:%H:%M:%S %z")
    assert abs(received - _parse_time(delivery["eventTime"])) < timedelta(seconds=5)


def test_env_json_covers_every_function_and_variable_the_template_sets() -> None:
    """SAM sets only what env.json names, so each function's entry names every variable its
    settings model has the template set, and Powertools' global ones."""
    from tvsync.settings import FUNCTION_SETTINGS, POWERTOOLS_GLOBALS

    env = _load(EVENTS_DIR / "env.json")
    assert set(env) == set(FUNCTION_SETTINGS)
    for function_id, variables in env.items():
        needed = FUNCTION_SETTINGS[function_id].template_variables() | set(POWERTOOLS_GLOBALS)
        assert needed <= set(variables), f"{function_id} misses variables for sam local invoke"
    for variables in env.values():
        assert all(isinstance(v, str) for v in variables.values())
        assert variables["OKTA_APP_ID"] == TEAMVIEWER_APP_ID
        assert variables["OKTA_ORG_URL"] == ORG_URL
        assert variables["OKTA_HOOK_AUTH_HEADER"] == "Authorization"
        assert variables["DRY_RUN"] == "false"
        assert variables["EVENT_QUEUE_URL"].endswith(".fifo")
        for name, value in variables.items():
            if name.endswith("_SECRET_ARN"):
                assert value.startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:")
        assert SAMPLE_SECRET not in variables.values()


def test_env_json_names_what_the_local_stack_creates() -> None:
    """events/env.json works with a local stack as it is (``tvsync invoke --env-vars``): the
    local stack names its queue, tables and secrets after ``LOCAL_STACK_NAME`` in moto's
    account and region, and env.json names the same ones — secrets by partial ARN, without
    the random suffix Secrets Manager adds, which both Secrets Manager and moto accept."""
    import boto3
    from moto import mock_aws

    from tvsync.local.aws import LOCAL_STACK_NAME, provision
    from tvsync.local.template import load_template

    template = load_template()
    env = _load(EVENTS_DIR / "env.json")
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        resources = provision(session, template, parameters={"OktaOrgUrl": ORG_URL})
        assert resources.stack_name == LOCAL_STACK_NAME
        secretsmanager = session.client("secretsmanager")
        resource_types = {rid: r["Type"] for rid, r in template["Resources"].items()}
        for function_id, variables in env.items():
            created = resources.environment(template, function_id)
            own = template["Resources"][function_id]["Properties"]["Environment"]["Variables"]
            # The queue and tables: every variable the template sets from one of them.
            named = {
                name
                for name, value in own.items()
                if isinstance(value, dict)
                and resource_types.get(value.get("Ref", "")) in {"AWS::SQS::Queue", "AWS::DynamoDB::Table"}
            }
            assert named, function_id
            for name in named:
                assert variables[name] == created[name], (function_id, name)
            for name, arn in created.items():
                if name.endswith("_SECRET_ARN"):
                    partial = variables[name]
                    assert arn.startswith(f"{partial}-") and len(arn) == len(partial) + 7, (function_id, name)
                    assert secretsmanager.describe_secret(SecretId=partial)["ARN"] == arn
