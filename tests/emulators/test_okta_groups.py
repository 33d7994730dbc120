"""Fidelity of the Okta emulator's groups: each test pins one behaviour to its reference fact.

Tags name the sources in docs/sources.md: [SPEC] management OpenAPI spec (the Group object,
``/groups/{id}``, ``/groups/{id}/users``, ``/users/{id}/groups``), [CORE] pagination and
errors, [RL] rate limits, [DEACT-KB] a deactivated user keeps their memberships, [JAVA-SDK]
a user's groups come 200 a page with ``Link`` headers.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support.fakes import SettableMonotonic
from tests.support.okta_links import walk
from tvsync.emulators.http import FaultKind, FaultPolicy, serve
from tvsync.emulators.okta import OktaEmulator, OktaRateLimit

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

TOKEN = "okta-test-token"
ORG = "https://acme.okta.test"
AUTH = {"Authorization": f"SSWS {TOKEN}"}
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture
def clock() -> SettableMonotonic:
    return SettableMonotonic(1_700_000_000.5)


@pytest.fixture
def emu(clock: SettableMonotonic) -> OktaEmulator:
    return OktaEmulator(clock=clock)


@pytest.fixture
def http(emu: OktaEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ORG, transport=emu.transport(), headers=AUTH) as client:
        yield client


def seed_users(emu: OktaEmulator, count: int, *, status: str = "ACTIVE") -> list[str]:
    return [
        emu.add_user(f"user{i}@example.com", f"First{i}", f"Last{i}", status=status)["id"]
        for i in range(count)
    ]


# ---------------------------------------------------------------- the Group object


def test_an_okta_group_has_okta_shape(emu: OktaEmulator, http: httpx.Client) -> None:
    """[SPEC] Group: id ``00g…``, timestamps, objectClass, type, profile {name, description}, _links."""
    group = emu.add_group("Support", description="First-line support")
    body = http.get(f"/api/v1/groups/{group['id']}").json()

    assert re.fullmatch(r"00g[0-9A-Za-z]{17}", body["id"])
    for key in ("created", "lastUpdated", "lastMembershipUpdated"):
        assert TIMESTAMP.fullmatch(body[key]), key
    assert body["objectClass"] == ["okta:user_group"]
    assert body["type"] == "OKTA_GROUP"
    assert body["profile"] == {"name": "Support", "description": "First-line support"}
    links = body["_links"]
    assert links["users"]["href"] == f"{ORG}/api/v1/groups/{body['id']}/users"
    assert links["apps"]["href"] == f"{ORG}/api/v1/groups/{body['id']}/apps"
    assert [logo["name"] for logo in links["logo"]] == ["medium", "large"]
    assert "source" not in links, "only an imported group links the app it came from"


def test_an_imported_group_has_its_directory_profile_and_source(
    emu: OktaEmulator, http: httpx.Client
) -> None:
    """[SPEC] an APP_GROUP from Active Directory: ``okta:windows_security_principal``, ``_links.source``."""
    group = emu.add_group("Sales", type="APP_GROUP", source_app_id="0oaDirectory000000h7")
    body = http.get(f"/api/v1/groups/{group['id']}").json()

    assert (body["type"], body["objectClass"]) == ("APP_GROUP", ["okta:windows_security_principal"])
    profile = body["profile"]
    assert (profile["name"], profile["samAccountName"], profile["windowsDomainQualifiedName"]) == (
        "Sales",
        "Sales",
        "CORP\\Sales",
    )
    assert profile["externalId"]
    assert body["_links"]["source"]["href"] == f"{ORG}/api/v1/apps/0oaDirectory000000h7"

    emu.rename_group(group["id"], "Sales EMEA")
    renamed = http.get(f"/api/v1/groups/{group['id']}").json()["profile"]
    assert (renamed["name"], renamed["samAccountName"]) == ("Sales EMEA", "Sales EMEA")
    assert renamed["externalId"] == profile["externalId"], "the directory's object id survives a rename"


def test_the_org_has_the_built_in_everyone_group(emu: OktaEmulator, http: httpx.Client) -> None:
    """[SPEC] BUILT_IN: Okta's own ``Everyone``, holding every user, DEPROVISIONED ones too."""
    active = seed_users(emu, 2)
    gone = emu.add_user("gone@example.com", "Gone", "Away", status="DEPROVISIONED")["id"]
    body = http.get(f"/api/v1/groups/{emu.everyone_id}").json()
    assert (body["type"], body["profile"]["name"]) == ("BUILT_IN", "Everyone")
    members, _ = walk(http, f"/api/v1/groups/{emu.everyone_id}/users")
    assert [m["id"] for m in members] == sorted([*active, gone])


def test_the_built_in_group_cannot_be_changed_by_seeding(emu: OktaEmulator) -> None:
    """[SPEC][DEACT-KB] nobody joins or leaves Everyone by hand; it is neither renamed nor deleted."""
    user_id = seed_users(emu, 1)[0]
    changes: list[Callable[[], object]] = [
        lambda: emu.add_to_group(emu.everyone_id, user_id),
        lambda: emu.remove_from_group(emu.everyone_id, user_id),
        lambda: emu.rename_group(emu.everyone_id, "All"),
        lambda: emu.delete_group(emu.everyone_id),
    ]
    for change in changes:
        with pytest.raises(ValueError, match="built-in"):
            change()


def test_group_seeding_refuses_what_okta_would(emu: OktaEmulator) -> None:
    group = emu.add_group("Support", group_id="00gSupport0000000001")
    with pytest.raises(ValueError, match="already exists"):
        emu.add_group("Other", group_id=group["id"])
    with pytest.raises(ValueError, match="unknown group type"):
        emu.add_group("Odd", type="SECURITY_GROUP")
    with pytest.raises(ValueError, match="needs a name"):
        emu.add_group("")
    with pytest.raises(KeyError):
        emu.add_to_group(group["id"], "00uNoSuchUser0000000")
    with pytest.raises(KeyError):
        emu.add_to_group("00gNoSuchGroup000000", seed_users(emu, 1)[0])


def test_group_ids_are_deterministic_and_ordered() -> None:
    first, second = OktaEmulator(), OktaEmulator()
    ids_a = [first.add_group(f"Group {n}")["id"] for n in range(70)]
    ids_b = [second.add_group(f"Group {n}")["id"] for n in range(70)]
    assert ids_a == ids_b == sorted(ids_a)
    assert first.everyone_id < ids_a[0]


@pytest.mark.parametrize(
    "path", ["/api/v1/groups/{gid}", "/api/v1/groups/{gid}/users"], ids=["group", "members"]
)
@pytest.mark.parametrize("how", ["unknown", "deleted"])
def test_a_missing_group_answers_okta_404(emu: OktaEmulator, http: httpx.Client, path: str, how: str) -> None:
    """[SPEC] E0000007 names the resource type ``UserGroup``."""
    group_id = "00gNoSuchGroup000000"
    if how == "deleted":
        group_id = emu.add_group("Temporary")["id"]
        emu.add_to_group(group_id, seed_users(emu, 1)[0])
        emu.delete_group(group_id)
    response = http.get(path.format(gid=group_id))
    assert response.status_code == 404
    body = response.json()
    assert body["errorCode"] == "E0000007"
    assert body["errorSummary"] == f"Not found: Resource not found: {group_id} (UserGroup)"


def test_membership_and_profile_changes_date_their_own_timestamps(
    emu: OktaEmulator, http: httpx.Client, clock: SettableMonotonic
) -> None:
    """[SPEC] ``lastMembershipUpdated`` dates membership changes, ``lastUpdated`` profile changes."""
    group_id = emu.add_group("Support")["id"]
    user_id = seed_users(emu, 1)[0]
    before = http.get(f"/api/v1/groups/{group_id}").json()

    clock.now += 60
    emu.add_to_group(group_id, user_id)
    joined = http.get(f"/api/v1/groups/{group_id}").json()
    assert joined["lastMembershipUpdated"] > before["lastMembershipUpdated"]
    assert joined["lastUpdated"] == before["lastUpdated"]

    clock.now += 60
    emu.add_to_group(group_id, user_id)  # already a member: nothing changes
    assert http.get(f"/api/v1/groups/{group_id}").json() == joined

    emu.rename_group(group_id, "Support Team")
    renamed = http.get(f"/api/v1/groups/{group_id}").json()
    assert renamed["lastUpdated"] > joined["lastUpdated"]
    assert renamed["lastMembershipUpdated"] == joined["lastMembershipUpdated"]
    assert renamed["profile"]["name"] == "Support Team"


# ---------------------------------------------------------------- members


def test_members_are_listed_like_users_deactivated_ones_included(
    emu: OktaEmulator, http: httpx.Client
) -> None:
    """[SPEC] members render as in ``/users``; [DEACT-KB] a deactivated user stays a member."""
    group_id = emu.add_group("Support")["id"]
    member, suspended, leaver, outsider = seed_users(emu, 4)
    for user_id in (member, suspended, leaver):
        emu.add_to_group(group_id, user_id)
    emu.set_status(suspended, "SUSPENDED")
    emu.set_status(leaver, "DEPROVISIONED")

    members, _ = walk(http, f"/api/v1/groups/{group_id}/users")
    assert [(m["id"], m["status"]) for m in members] == [
        (member, "ACTIVE"),
        (suspended, "SUSPENDED"),
        (leaver, "DEPROVISIONED"),
    ]
    assert members[0] == http.get(f"/api/v1/users/{member}").json()
    assert outsider not in emu.group_members(group_id)


def test_members_page_with_links_default_1000(emu: OktaEmulator, http: httpx.Client) -> None:
    """[SPEC] default page 1000 (the maximum here); [CORE] ``after`` cursor in ``Link: rel="next"``."""
    group_id = emu.add_group("Everybody Else")["id"]
    ids = emu.add_users((f"m{i}@example.com", "M", str(i)) for i in range(1003))
    for user_id in ids:
        emu.add_to_group(group_id, user_id)

    first = http.get(f"/api/v1/groups/{group_id}/users")
    assert len(first.json()) == 1000
    assert 'rel="self"' in first.headers["Link"]
    members, responses = walk(http, f"/api/v1/groups/{group_id}/users?limit=5000")
    assert [len(r.json()) for r in responses] == [1000, 3], "a larger limit is clamped"
    assert [m["id"] for m in members] == ids


def test_member_pages_follow_the_limit_asked_for(emu: OktaEmulator, http: httpx.Client) -> None:
    group_id = emu.add_group("Support")["id"]
    ids = seed_users(emu, 7)
    for user_id in ids:
        emu.add_to_group(group_id, user_id)
    members, responses = walk(http, f"/api/v1/groups/{group_id}/users?limit=3")
    assert [m["id"] for m in members] == ids
    assert [len(r.json()) for r in responses] == [3, 3, 1]
    assert "limit=3" in responses[0].links["next"]["url"]
    assert "after=" in responses[0].links["next"]["url"]
    assert http.get(f"/api/v1/groups/{group_id}/users?limit=0").status_code == 400


def test_a_removed_or_deleted_member_is_no_longer_listed(emu: OktaEmulator, http: httpx.Client) -> None:
    """Removing ends a membership; deleting a user ends all of theirs [SPEC]."""
    support, sales = emu.add_group("Support")["id"], emu.add_group("Sales")["id"]
    stays, removed, deleted = seed_users(emu, 3)
    for group_id in (support, sales):
        for user_id in (stays, removed, deleted):
            emu.add_to_group(group_id, user_id)
    emu.remove_from_group(support, removed)
    emu.remove_from_group(support, removed)  # no longer a member: nothing changes
    emu.set_status(deleted, "DEPROVISIONED")
    emu.delete_user(deleted)

    assert [m["id"] for m in walk(http, f"/api/v1/groups/{support}/users")[0]] == [stays]
    assert [m["id"] for m in walk(http, f"/api/v1/groups/{sales}/users")[0]] == [stays, removed]
    assert deleted not in emu.group_members(emu.everyone_id)


# ---------------------------------------------------------------- a user's groups


def test_a_users_groups_are_groups_everyone_included(emu: OktaEmulator, http: httpx.Client) -> None:
    """[SPEC] by id or login; the groups render as ``/groups/{id}`` does; Everyone is one of them."""
    jane, john = seed_users(emu, 2)
    support, sales, other = (emu.add_group(n)["id"] for n in ("Support", "Sales", "Other"))
    emu.add_to_group(sales, jane)
    emu.add_to_group(support, jane)
    emu.add_to_group(other, john)

    groups, _ = walk(http, f"/api/v1/users/{jane}/groups")
    assert [g["id"] for g in groups] == [emu.everyone_id, support, sales]
    assert groups[1] == http.get(f"/api/v1/groups/{support}").json()
    by_login, _ = walk(http, "/api/v1/users/USER0%40example.com/groups")
    assert by_login == groups


def test_a_deactivated_user_keeps_their_groups(emu: OktaEmulator, http: httpx.Client) -> None:
    """[DEACT-KB] deactivation leaves memberships alone (only app assignments go [SPEC])."""
    user_id = seed_users(emu, 1)[0]
    group_id = emu.add_group("Support")["id"]
    emu.add_to_group(group_id, user_id)
    emu.set_status(user_id, "DEPROVISIONED")
    assert [g["id"] for g in walk(http, f"/api/v1/users/{user_id}/groups")[0]] == [emu.everyone_id, group_id]


def test_a_users_groups_page_by_200(emu: OktaEmulator, http: httpx.Client) -> None:
    """[JAVA-SDK] 200 groups a page, the next one linked, although the spec lists no ``limit``."""
    user_id = seed_users(emu, 1)[0]
    ids = [emu.add_group(f"Group {n:03d}")["id"] for n in range(250)]
    for group_id in ids:
        emu.add_to_group(group_id, user_id)
    groups, responses = walk(http, f"/api/v1/users/{user_id}/groups")
    assert [len(r.json()) for r in responses] == [200, 51]
    assert [g["id"] for g in groups] == [emu.everyone_id, *ids]


def test_the_groups_of_a_missing_user_answer_404(emu: OktaEmulator, http: httpx.Client) -> None:
    user_id = seed_users(emu, 1)[0]
    emu.delete_user(user_id)
    for ref in (user_id, "nobody@example.com"):
        response = http.get(f"/api/v1/users/{ref}/groups")
        assert response.status_code == 404
        assert response.json()["errorCode"] == "E0000007"
        assert "(User)" in response.json()["errorSummary"]


def test_a_smaller_page_size_for_a_users_groups_can_be_configured(
    emu: OktaEmulator, http: httpx.Client
) -> None:
    """``LIST_LIMITS`` is a knob: a test may make the pages small to walk many of them."""
    emu.LIST_LIMITS = {
        **emu.LIST_LIMITS,
        "user_groups": dataclasses.replace(emu.LIST_LIMITS["user_groups"], default=2, maximum=2),
    }
    user_id = seed_users(emu, 1)[0]
    for n in range(4):
        emu.add_to_group(emu.add_group(f"Group {n}")["id"], user_id)
    groups, responses = walk(http, f"/api/v1/users/{user_id}/groups")
    assert [len(r.json()) for r in responses] == [2, 2, 1]
    assert len(groups) == 5


# ---------------------------------------------------------------- rights, limits, faults


def test_a_forbidden_prefix_covers_the_group_routes(emu: OktaEmulator, http: httpx.Client) -> None:
    """A token whose admin may not read groups gets 403 E0000006 there, and only there."""
    user_id = seed_users(emu, 1)[0]
    group_id = emu.add_group("Support")["id"]
    emu.forbid("/api/v1/groups/")
    for path in (f"/api/v1/groups/{group_id}", f"/api/v1/groups/{group_id}/users"):
        response = http.get(path)
        assert (response.status_code, response.json()["errorCode"]) == (403, "E0000006")
    assert http.get(f"/api/v1/users/{user_id}/groups").status_code == 200


def test_group_reads_count_against_the_rate_limit(clock: SettableMonotonic) -> None:
    """[RL] every route draws on the bucket; over it, 429 E0000047 with the ``X-Rate-Limit-*`` headers."""
    emu = OktaEmulator(clock=clock, rate_limit=OktaRateLimit(limit=2))
    group_id = emu.add_group("Support")["id"]
    with httpx.Client(base_url=ORG, transport=emu.transport(), headers=AUTH) as http:
        assert http.get(f"/api/v1/groups/{group_id}").status_code == 200
        assert http.get(f"/api/v1/groups/{group_id}/users").status_code == 200
        throttled = http.get(f"/api/v1/groups/{group_id}")
    assert throttled.status_code == 429
    assert throttled.json()["errorCode"] == "E0000047"
    assert throttled.headers["X-Rate-Limit-Remaining"] == "0"
    assert emu.throttled == 1


def test_group_reads_need_the_token(emu: OktaEmulator) -> None:
    group_id = emu.add_group("Support")["id"]
    with httpx.Client(base_url=ORG, transport=emu.transport()) as http:
        response = http.get(f"/api/v1/groups/{group_id}")
    assert (response.status_code, response.json()["errorCode"]) == (401, "E0000011")


def test_group_reads_take_injected_faults_over_loopback(emu: OktaEmulator) -> None:
    group_id = emu.add_group("Support")["id"]
    emu.faults = FaultPolicy(failure_rate=1.0, kinds=(FaultKind.SERVER_ERROR,))
    with serve(emu) as server, httpx.Client(base_url=server.url, headers=AUTH) as http:
        response = http.get(f"/api/v1/groups/{group_id}/users")
        assert response.status_code in {500, 502, 503}
        assert response.json()["errorCode"] in {"E0000009", "E0000010"}
        emu.faults = FaultPolicy()
        body = http.get(f"/api/v1/groups/{group_id}").json()
    assert body["_links"]["users"]["href"] == f"{server.url}/api/v1/groups/{group_id}/users"
    assert [c.path for c in emu.calls] == [f"/api/v1/groups/{group_id}/users", f"/api/v1/groups/{group_id}"]
