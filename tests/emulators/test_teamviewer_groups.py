"""Fidelity tests for the emulator's user groups, members and roles (Web API v1).

As in test_teamviewer_emulator.py, test ids and docstrings name the source of each behaviour
([SWAGGER] for ``/usergroups``, [PS] for ``/userroles`` and the 100-id limit, [ADC],
[ENTRA-KB] for the group rights, [PDF] for status codes), or say "choice" where TeamViewer
documents nothing and the emulator picks (each such choice is a knob or stated in the
emulator's docstring), or "machinery" for what the emulator adds for tests.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.support.fakes import SettableMonotonic
from tvsync.emulators.http import FaultKind, FaultPolicy, serve
from tvsync.emulators.teamviewer import (
    ALL_PERMISSIONS,
    DEFAULT_V1_PAGE_SIZE,
    FIRST_GROUP_ID,
    GROUP_SOURCE_API,
    GROUP_SOURCE_UI,
    GROUPS_CREATE,
    GROUPS_DELETE,
    GROUPS_EDIT,
    GROUPS_READ,
    MAX_ACCOUNTS_PER_CALL,
    ROLES_ASSIGN,
    ROLES_VIEW,
    RateLimit,
    TeamViewerEmulator,
)

TOKEN = "tv-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOT_IN_COMPANY = "account must be member of the company associated with the API token"


def http(app: TeamViewerEmulator) -> httpx.Client:
    return httpx.Client(base_url="http://tv.test/api/v1", transport=app.transport(), headers=AUTH)


def numbers_of(app: TeamViewerEmulator, count: int) -> list[int]:
    """Seed ``count`` company users; their account numbers (the ids without the "u")."""
    ids = app.add_users((f"staff{n:05d}@example.test", f"Staff {n}", True) for n in range(count))
    return [int(i.removeprefix("u")) for i in ids]


def walk(client: httpx.Client, path: str, token: str | None = None, **params: str) -> list[dict[str, Any]]:
    """Follow ``nextPaginationToken`` (from ``token`` on) as [PS] does; every page must be a 200."""
    items: list[dict[str, Any]] = []
    while True:
        query = dict(params) | ({"paginationToken": token} if token else {})
        response = client.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["currentPaginationToken"] == token
        items.extend(body["resources"])
        token = body["nextPaginationToken"]
        if token is None:
            return items


@pytest.fixture
def emu() -> TeamViewerEmulator:
    app = TeamViewerEmulator(TOKEN)
    app.add_user("jane.doe@example.test", "Jane Doe")  # u1000002
    app.add_user("john.roe@example.test", "John Roe", active=False)  # u1000003
    app.add_foreign_account("outsider@example.test", "Out Sider")  # u1000004, not in the company
    return app


JANE, JOHN, OUTSIDER = 1000002, 1000003, 1000004


# ---------------------------------------------------------------------- groups


def test_create_is_201_with_the_group_SWAGGER(emu: TeamViewerEmulator) -> None:
    """[SWAGGER] POST /usergroups {name} → 201 with UserGroupModel (id int64, creationSourceType 1 = API)."""
    response = http(emu).post("/usergroups", json={"name": "Support"})
    assert response.status_code == 201
    assert response.json() == {
        "id": FIRST_GROUP_ID,
        "name": "Support",
        "creationSourceType": GROUP_SOURCE_API,
    }
    assert response.headers["Location"] == f"/api/v1/usergroups/{FIRST_GROUP_ID}"
    assert FIRST_GROUP_ID > 2**32, "ids need int64: a client that squeezes them into 32 bits shows up"
    assert emu.groups() == [response.json()]


@pytest.mark.parametrize(("length", "status"), [(0, 400), (1, 201), (100, 201), (101, 400)])
def test_group_names_are_1_to_100_characters_SWAGGER(
    emu: TeamViewerEmulator, length: int, status: int
) -> None:
    """[SWAGGER] POST /usergroups: name 1 to 100 characters, else 400."""
    response = http(emu).post("/usergroups", json={"name": "x" * length})
    assert response.status_code == status
    if status == 400:
        assert response.json()["error"] == "invalid_request"
        assert emu.groups() == []


@pytest.mark.parametrize("body", [{}, {"name": None}, {"name": 7}, ["Support"]])
def test_create_needs_a_name_string_SWAGGER(emu: TeamViewerEmulator, body: Any) -> None:
    """[SWAGGER] name is required; [PDF] §5.1 400 for bad parameters."""
    assert http(emu).post("/usergroups", json=body).status_code == 400


def test_a_taken_name_is_409_in_any_letter_case_by_default_SWAGGER_choice(emu: TeamViewerEmulator) -> None:
    """[SWAGGER] 409 if the name exists; choice: names compare ignoring case (the stricter reading)."""
    client = http(emu)
    assert client.post("/usergroups", json={"name": "Support"}).status_code == 201
    for name in ("Support", "support", "SUPPORT"):
        response = client.post("/usergroups", json={"name": name})
        assert response.status_code == 409
        assert response.json()["error_code"] == 409
    assert [g["name"] for g in emu.groups()] == ["Support"]


def test_case_sensitive_names_knob(emu: TeamViewerEmulator) -> None:
    """Knob ``group_names_ignore_case=False``: only the exact name is taken."""
    emu.group_names_ignore_case = False
    client = http(emu)
    assert client.post("/usergroups", json={"name": "Support"}).status_code == 201
    assert client.post("/usergroups", json={"name": "support"}).status_code == 201
    assert client.post("/usergroups", json={"name": "Support"}).status_code == 409


def test_get_rename_delete_one_group_SWAGGER(emu: TeamViewerEmulator) -> None:
    """[SWAGGER] GET, PUT {name}, DELETE (204) on /usergroups/{id}; 404 once gone."""
    group_id = emu.add_group("Support")
    client = http(emu)
    assert client.get(f"/usergroups/{group_id}").json() == {
        "id": group_id,
        "name": "Support",
        "creationSourceType": GROUP_SOURCE_UI,
    }
    renamed = client.put(f"/usergroups/{group_id}", json={"name": "Helpdesk"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Helpdesk"
    assert client.delete(f"/usergroups/{group_id}").status_code == 204
    assert emu.groups() == []
    for method in ("GET", "DELETE"):
        response = client.request(method, f"/usergroups/{group_id}")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
    assert client.put(f"/usergroups/{group_id}", json={"name": "X"}).status_code == 404


def test_rename_to_a_taken_name_is_409_but_a_case_change_of_its_own_is_not_SWAGGER(
    emu: TeamViewerEmulator,
) -> None:
    """[SWAGGER] 409 for a taken name; a group's own name in other case is not "taken" by itself."""
    support = emu.add_group("Support")
    emu.add_group("Helpdesk")
    client = http(emu)
    assert client.put(f"/usergroups/{support}", json={"name": "helpdesk"}).status_code == 409
    assert client.put(f"/usergroups/{support}", json={"name": "SUPPORT"}).status_code == 200
    assert client.put(f"/usergroups/{support}", json={"name": ""}).status_code == 400
    assert [g["name"] for g in emu.groups()] == ["SUPPORT", "Helpdesk"]


@pytest.mark.parametrize("raw_id", ["abc", "-1", "\uff11\uff12"])
def test_a_group_id_is_a_number_SWAGGER(emu: TeamViewerEmulator, raw_id: str) -> None:
    """[SWAGGER] the id is an int64 path parameter: anything else is a bad parameter (400)."""
    assert http(emu).get(f"/usergroups/{raw_id}").status_code == 400


def test_wrong_methods_are_405(emu: TeamViewerEmulator) -> None:
    """Choice, as for users: a path that exists answers 405 with Allow to a method it lacks."""
    group_id = emu.add_group("Support")
    client = http(emu)
    cases = [
        ("DELETE", "/usergroups", "GET, POST"),
        ("PATCH", f"/usergroups/{group_id}", "GET, PUT, DELETE"),
        ("PUT", f"/usergroups/{group_id}/members", "GET, POST, DELETE"),
        ("GET", f"/usergroups/{group_id}/members/{JANE}", "DELETE"),
        ("POST", f"/usergroups/{group_id}/userroles", "GET"),
        ("POST", "/userroles", "GET"),
        ("GET", "/userroles/assign/usergroup", "POST"),
    ]
    for method, path, allowed in cases:
        response = client.request(method, path)
        assert (response.status_code, response.headers.get("Allow")) == (405, allowed), path
    assert client.get(f"/usergroups/{group_id}/owners").status_code == 404


# ---------------------------------------------------------------------- cursor paging


def test_group_list_pages_with_next_pagination_token_SWAGGER() -> None:
    """[SWAGGER] GET /usergroups: {currentPaginationToken, nextPaginationToken, resources};
    loop on nextPaginationToken ([PS]). The default page is small so clients meet the cursor."""
    app = TeamViewerEmulator(TOKEN)
    ids = [app.add_group(f"Group {n:03d}") for n in range(2 * DEFAULT_V1_PAGE_SIZE + 3)]
    client = http(app)
    first = client.get("/usergroups").json()
    assert first["currentPaginationToken"] is None
    assert len(first["resources"]) == DEFAULT_V1_PAGE_SIZE
    assert first["nextPaginationToken"]
    assert [g["id"] for g in walk(client, "/usergroups")] == ids
    calls = [c for c in app.calls if c.path == "/api/v1/usergroups"]
    assert len(calls) == 1 + 3, "three pages for 53 groups, plus the first probe"


def test_an_empty_list_is_one_last_page_SWAGGER(emu: TeamViewerEmulator) -> None:
    """[SWAGGER] the last page has no next token; an empty company is one empty last page."""
    assert http(emu).get("/usergroups").json() == {
        "currentPaginationToken": None,
        "nextPaginationToken": None,
        "resources": [],
    }


@pytest.mark.parametrize(("limit", "page_size", "pages"), [("2", 25, 3), ("500", 4, 2), ("5", 5, 1)])
def test_limit_asks_for_fewer_and_the_page_size_caps_it_SWAGGER_knob(
    limit: str, page_size: int, pages: int
) -> None:
    """[SWAGGER] ``limit``; knob ``v1_page_size``: at most that many whatever ``limit`` asks."""
    app = TeamViewerEmulator(TOKEN, v1_page_size=page_size)
    ids = [app.add_group(f"G{n}") for n in range(5)]
    client = http(app)
    assert [g["id"] for g in walk(client, "/usergroups", limit=limit)] == ids
    assert len(app.calls) == pages


def test_a_cursor_neither_repeats_nor_hides_groups_changed_meanwhile_machinery() -> None:
    """Machinery: the token names where the last page ended, so a group deleted or added mid-walk
    does not shift the rest (an offset would skip one)."""
    app = TeamViewerEmulator(TOKEN, v1_page_size=2)
    ids = [app.add_group(f"G{n}") for n in range(5)]
    client = http(app)
    first = client.get("/usergroups").json()
    app.remove_group(ids[0])
    late = app.add_group("Late")
    rest = walk(client, "/usergroups", first["nextPaginationToken"])
    assert [g["id"] for g in first["resources"] + rest] == [*ids, late]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "many"},
        {"paginationToken": "not a token"},
        {"paginationToken": base64.urlsafe_b64encode(b"members-5000000001:7").decode()},
    ],
    ids=["limit-0", "limit-text", "garbage-token", "token-of-another-listing"],
)
def test_bad_paging_parameters_are_400_PDF_5_1(emu: TeamViewerEmulator, params: dict[str, str]) -> None:
    """[PDF] §5.1 400 for bad parameters: a token is only good for the listing that gave it."""
    emu.add_group("Support")
    assert http(emu).get("/usergroups", params=params).status_code == 400


# ---------------------------------------------------------------------- members


def test_add_members_is_201_with_the_members_SWAGGER(emu: TeamViewerEmulator) -> None:
    """[SWAGGER] POST /usergroups/{id}/members [accountIds] → 201 and the members {accountId, name}.
    The ids are the user ids without the "u" ([PS] Resolve-TeamViewerUserGroupMemberId, [ADC])."""
    group_id = emu.add_group("Support")
    response = http(emu).post(f"/usergroups/{group_id}/members", json=[JANE, JOHN])
    assert response.status_code == 201
    assert response.json() == [
        {"accountId": JANE, "name": "Jane Doe"},
        {"accountId": JOHN, "name": "John Roe"},
    ]
    assert emu.group_members(group_id) == [JANE, JOHN], "a deactivated account is still a company member"


@pytest.mark.parametrize("count", [MAX_ACCOUNTS_PER_CALL, MAX_ACCOUNTS_PER_CALL + 1])
def test_at_most_100_accounts_per_member_call_PS_ADC(count: int) -> None:
    """[PS] "Web API accepts a maximum of 100 accounts"; [ADC] batches by 100: 101 is refused whole."""
    app = TeamViewerEmulator(TOKEN)
    numbers = numbers_of(app, count)
    group_id = app.add_group("Everyone in support")
    client = http(app)
    added = client.post(f"/usergroups/{group_id}/members", json=numbers)
    if count <= MAX_ACCOUNTS_PER_CALL:
        assert added.status_code == 201
        assert app.group_members(group_id) == numbers
        assert client.request("DELETE", f"/usergroups/{group_id}/members", json=numbers).status_code == 204
        assert app.group_members(group_id) == []
    else:
        assert added.status_code == 400
        assert app.group_members(group_id) == []
        app.add_group_members(group_id, numbers)
        removed = client.request("DELETE", f"/usergroups/{group_id}/members", json=numbers)
        assert removed.status_code == 400
        assert app.group_members(group_id) == numbers


@pytest.mark.parametrize("stranger", [OUTSIDER, 4242], ids=["outside-the-company", "unknown"])
def test_an_account_outside_the_company_is_400_and_nothing_is_added_SWAGGER(
    emu: TeamViewerEmulator, stranger: int
) -> None:
    """[SWAGGER] 400 "account must be member of the company associated with the API token";
    choice: the whole call is refused, so a batch never half applies."""
    group_id = emu.add_group("Support")
    response = http(emu).post(f"/usergroups/{group_id}/members", json=[JANE, stranger])
    assert response.status_code == 400
    assert response.json()["error_description"] == NOT_IN_COMPANY
    assert emu.group_members(group_id) == []


def test_adding_a_member_again_and_removing_a_non_member_are_harmless_choice(emu: TeamViewerEmulator) -> None:
    """Choice (the reference is silent): a repeated add answers 201 and a removal of a non-member
    204, changing nothing — what a retried call or a level-triggered worker needs."""
    group_id = emu.add_group("Support", members=[JANE])
    client = http(emu)
    again = client.post(f"/usergroups/{group_id}/members", json=[JANE, JANE])
    assert again.status_code == 201
    assert again.json() == [{"accountId": JANE, "name": "Jane Doe"}]
    assert emu.group_members(group_id) == [JANE]
    assert client.request("DELETE", f"/usergroups/{group_id}/members", json=[JOHN]).status_code == 204
    assert client.delete(f"/usergroups/{group_id}/members/{JOHN}").status_code == 204
    assert emu.group_members(group_id) == [JANE]


def test_remove_members_by_array_or_one_by_id_SWAGGER(emu: TeamViewerEmulator) -> None:
    """[SWAGGER] DELETE /usergroups/{id}/members [ids] → 204; DELETE …/members/{accountId} removes one."""
    group_id = emu.add_group("Support", members=[JANE, JOHN])
    client = http(emu)
    assert client.delete(f"/usergroups/{group_id}/members/{JANE}").status_code == 204
    assert emu.group_members(group_id) == [JOHN]
    assert client.request("DELETE", f"/usergroups/{group_id}/members", json=[JOHN]).status_code == 204
    assert emu.group_members(group_id) == []
    assert client.delete(f"/usergroups/{group_id}/members/u{JANE}").status_code == 400


@pytest.mark.parametrize(
    "body",
    [[], {"accountIds": [JANE]}, [f"u{JANE}"], [True], [str(JANE)], "1000002"],
    ids=["empty", "object", "u-id", "bool", "string-number", "string"],
)
@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_a_member_body_is_an_array_of_account_numbers_SWAGGER(
    emu: TeamViewerEmulator, method: str, body: Any
) -> None:
    """[SWAGGER] the body is a JSON array of numeric account ids; anything else is 400 ([PDF] §5.1)."""
    group_id = emu.add_group("Support", members=[JANE])
    response = http(emu).request(method, f"/usergroups/{group_id}/members", json=body)
    assert response.status_code == 400
    assert emu.group_members(group_id) == [JANE]


def test_member_calls_on_a_gone_group_are_404_SWAGGER(emu: TeamViewerEmulator) -> None:
    """[SWAGGER] 404 if the group is not found, for its members too."""
    client = http(emu)
    gone = FIRST_GROUP_ID + 99
    assert client.get(f"/usergroups/{gone}/members").status_code == 404
    assert client.post(f"/usergroups/{gone}/members", json=[JANE]).status_code == 404
    assert client.request("DELETE", f"/usergroups/{gone}/members", json=[JANE]).status_code == 404
    assert client.get(f"/usergroups/{gone}/userroles").status_code == 404


def test_member_list_pages_like_the_group_list_SWAGGER() -> None:
    """[SWAGGER] GET /usergroups/{id}/members?paginationToken=&limit= → resources [{accountId, name}]."""
    app = TeamViewerEmulator(TOKEN)
    numbers = numbers_of(app, 60)
    group_id = app.add_group("Support", members=numbers)
    members = walk(http(app), f"/usergroups/{group_id}/members")
    assert [m["accountId"] for m in members] == numbers
    assert members[0] == {"accountId": numbers[0], "name": "Staff 0"}
    assert len(app.calls) == 3


def test_an_account_that_leaves_the_company_leaves_its_groups_SWAGGER() -> None:
    """[SWAGGER] only company accounts are members; v1 DELETE /users/{id} makes a free account."""
    app = TeamViewerEmulator(TOKEN)
    jane = app.add_user("jane@example.test", "Jane Doe")["id"]
    group_id = app.add_group("Support", members=[jane])
    app.remove_from_company(jane)
    assert app.group_members(group_id) == []


# ---------------------------------------------------------------------- roles


def test_roles_are_listed_with_id_and_name_PS(emu: TeamViewerEmulator) -> None:
    """[PS] GET /userroles → {"Roles": [{"Id": "<guid>", "Name", "Permissions"}]}."""
    supporter = emu.add_role("Supporter")
    admin = emu.add_role("Admin")
    body = http(emu).get("/userroles").json()
    assert [(r["Id"], r["Name"]) for r in body["Roles"]] == [(supporter, "Supporter"), (admin, "Admin")]
    assert all("Permissions" in r for r in body["Roles"])
    assert len(supporter) == 36 and supporter.count("-") == 4, "a GUID, as TeamViewer's role ids are"


def test_a_group_has_one_role_assign_replaces_and_unassign_clears_it_PS(emu: TeamViewerEmulator) -> None:
    """[PS] GET /usergroups/{id}/userroles → assignedRoleId (one per group); POST
    /userroles/assign/usergroup {UserRoleId, UserGroupId}; /unassign/usergroup {UserGroupId}."""
    supporter, admin = emu.add_role("Supporter"), emu.add_role("Admin")
    group_id = emu.add_group("Support")
    client = http(emu)

    def assigned() -> object:
        response = client.get(f"/usergroups/{group_id}/userroles")
        assert response.status_code == 200
        return response.json()["assignedRoleId"]

    assert assigned() is None
    body = {"UserRoleId": supporter, "UserGroupId": group_id}
    assert client.post("/userroles/assign/usergroup", json=body).status_code == 200
    assert assigned() == supporter
    assert client.post("/userroles/assign/usergroup", json=body).status_code == 200, "again: no change"
    assert client.post("/userroles/assign/usergroup", json=body | {"UserRoleId": admin}).status_code == 200
    assert assigned() == admin, "a group holds one role: assigning another replaces it"
    unassign = {"UserGroupId": group_id}
    assert client.post("/userroles/unassign/usergroup", json=unassign).status_code == 200
    assert assigned() is None
    assert client.post("/userroles/unassign/usergroup", json=unassign).status_code == 200, "again: no change"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/userroles/assign/usergroup", {"UserRoleId": "no-such-role", "UserGroupId": FIRST_GROUP_ID}),
        ("/userroles/assign/usergroup", {"UserRoleId": "ROLE", "UserGroupId": FIRST_GROUP_ID + 9}),
        ("/userroles/assign/usergroup", {"UserRoleId": "ROLE", "UserGroupId": str(FIRST_GROUP_ID)}),
        ("/userroles/assign/usergroup", {"UserGroupId": FIRST_GROUP_ID}),
        ("/userroles/assign/usergroup", {"UserRoleId": "ROLE"}),
        ("/userroles/unassign/usergroup", {"UserGroupId": FIRST_GROUP_ID + 9}),
        ("/userroles/unassign/usergroup", {}),
    ],
    ids=[
        "unknown-role",
        "unknown-group",
        "group-id-text",
        "no-role",
        "no-group",
        "unassign-unknown",
        "unassign-none",
    ],
)
def test_a_role_call_naming_nothing_is_400_PDF_5_1_choice(
    emu: TeamViewerEmulator, path: str, body: dict[str, Any]
) -> None:
    """Choice: the ids travel in the body, so one that names nothing is a bad parameter ([PDF] §5.1
    400), as the member call answers for an unknown account ([SWAGGER]) — not a 404 for the path."""
    role = emu.add_role("Supporter")
    group_id = emu.add_group("Support", role_id=role)
    sent = {k: (role if v == "ROLE" else v) for k, v in body.items()}
    response = http(emu).post(path, json=sent)
    assert response.status_code == 400
    assert emu.group_role(group_id) == role


# ---------------------------------------------------------------------- rights, limits, faults


@pytest.mark.parametrize(
    ("missing", "method", "path", "body"),
    [
        (GROUPS_READ, "GET", "/usergroups", None),
        (GROUPS_READ, "GET", "/usergroups/{gid}", None),
        (GROUPS_READ, "GET", "/usergroups/{gid}/members", None),
        (GROUPS_CREATE, "POST", "/usergroups", {"name": "New"}),
        (GROUPS_EDIT, "PUT", "/usergroups/{gid}", {"name": "Renamed"}),
        (GROUPS_EDIT, "POST", "/usergroups/{gid}/members", [JANE]),
        (GROUPS_EDIT, "DELETE", "/usergroups/{gid}/members", [JOHN]),
        (GROUPS_EDIT, "DELETE", "/usergroups/{gid}/members/{JOHN}", None),
        (GROUPS_DELETE, "DELETE", "/usergroups/{gid}", None),
        (ROLES_VIEW, "GET", "/userroles", None),
        (ROLES_VIEW, "GET", "/usergroups/{gid}/userroles", None),
        (
            ROLES_ASSIGN,
            "POST",
            "/userroles/assign/usergroup",
            {"UserRoleId": "{rid}", "UserGroupId": "{gid}"},
        ),
        (ROLES_ASSIGN, "POST", "/userroles/unassign/usergroup", {"UserGroupId": "{gid}"}),
    ],
)
def test_missing_group_or_role_right_is_403_invalid_permission_ENTRA_KB_PS(
    missing: str, method: str, path: str, body: Any
) -> None:
    """[ENTRA-KB] user groups: create, delete, edit, read; [PS] user roles: view/assign;
    [PS] maps invalid_permission. The right is checked before the request is looked at."""

    def attempt(permissions: frozenset[str]) -> tuple[int, str, list[dict[str, Any]], list[int], str | None]:
        app = TeamViewerEmulator(TOKEN, permissions=permissions)
        app.add_user("jane.doe@example.test", "Jane Doe")
        app.add_user("john.roe@example.test", "John Roe")
        role = app.add_role("Supporter")
        gid = app.add_group("Support", members=[JOHN])

        def fill(value: Any) -> Any:
            if isinstance(value, str):
                text = value.format(gid=gid, rid=role, JOHN=JOHN)
                return int(text) if text.isdigit() else text
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            return value

        response = http(app).request(method, fill(path), json=fill(body))
        state = (
            app.groups(),
            app.group_members(gid) if app.groups() else [],
            app.group_role(gid) if app.groups() else None,
        )
        return response.status_code, response.text, *state

    status, text, *unchanged = attempt(ALL_PERMISSIONS - {missing})
    assert status == 403
    assert "invalid_permission" in text
    _, _, *before = attempt(frozenset())  # nothing at all can change without rights
    assert unchanged == before
    assert attempt(ALL_PERMISSIONS)[0] in {200, 201, 204}, "the same call succeeds with the right"


def test_group_routes_are_rate_limited_like_every_route_PDF_5() -> None:
    """[PDF] §5.1 403 rate_limit_reached (and the 429 knob): the limiter sits in front of every route,
    and a throttled write changes nothing."""
    app = TeamViewerEmulator(
        TOKEN,
        rate_limit=RateLimit(requests_per_second=1, burst=1, style="403"),
        clock=SettableMonotonic(1000.0),
    )
    group_id = app.add_group("Support")
    app.add_user("jane.doe@example.test", "Jane Doe")
    client = http(app)
    assert client.get("/usergroups").status_code == 200
    throttled = client.post(f"/usergroups/{group_id}/members", json=[JANE])
    assert (throttled.status_code, throttled.json()["error"]) == (403, "rate_limit_reached")
    assert app.group_members(group_id) == []
    app.rate_limit = RateLimit(requests_per_second=1, burst=1)
    client.get("/userroles")
    limited = client.get("/userroles")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert app.throttled == 2


def test_a_member_write_whose_answer_is_lost_still_applied_machinery() -> None:
    """Machinery: faults hit group routes too; after_apply is the case a retried member call meets."""
    app = TeamViewerEmulator(
        TOKEN, faults=FaultPolicy(failure_rate=1.0, kinds=(FaultKind.DROP,), after_apply_share=1.0)
    )
    app.add_user("jane.doe@example.test", "Jane Doe")
    group_id = app.add_group("Support")
    with pytest.raises(httpx.TransportError):
        http(app).post(f"/usergroups/{group_id}/members", json=[JANE])
    assert app.group_members(group_id) == [JANE]
    (call,) = app.calls
    assert (call.method, call.path, call.fault, call.after_apply) == (
        "POST",
        f"/api/v1/usergroups/{group_id}/members",
        FaultKind.DROP,
        True,
    )
    assert app.writes() == 1


def test_the_call_log_records_group_calls_with_their_query_machinery(emu: TeamViewerEmulator) -> None:
    """Machinery: tests count TeamViewer calls per event from the log (method, path, query, status)."""
    group_id = emu.add_group("Support")
    client = http(emu)
    client.get("/usergroups", params={"limit": "10"})
    client.post(f"/usergroups/{group_id}/members", json=[JANE])
    assert [(c.method, c.path, dict(c.query), c.status) for c in emu.calls] == [
        ("GET", "/api/v1/usergroups", {"limit": "10"}, 200),
        ("POST", f"/api/v1/usergroups/{group_id}/members", {}, 201),
    ]
    assert emu.writes() == 1


def test_group_calls_over_loopback_machinery() -> None:
    """Machinery: a DELETE with a JSON body travels over real HTTP as in-process."""
    app = TeamViewerEmulator(TOKEN)
    app.add_user("jane.doe@example.test", "Jane Doe")
    group_id = app.add_group("Support", members=[JANE])
    with (
        serve(app) as server,
        httpx.Client(base_url=f"{server.url}/api/v1", headers=AUTH, timeout=2.0) as client,
    ):
        assert client.request("DELETE", f"/usergroups/{group_id}/members", json=[JANE]).status_code == 204
        assert client.get(f"/usergroups/{group_id}/members").json()["resources"] == []
    assert app.group_members(group_id) == []


# ---------------------------------------------------------------------- seeding


def test_seeding_follows_the_apis_rules_machinery(emu: TeamViewerEmulator) -> None:
    """Machinery with [SWAGGER]'s rules: seeded names are unique and 1 to 100 characters, members are
    company accounts (``u…`` ids or numbers); hand edits are what an admin does in the console."""
    role = emu.add_role("Supporter")
    group_id = emu.add_group("Support", members=["u1000002", JOHN], role_id=role)
    assert (emu.group_members(group_id), emu.group_role(group_id)) == ([JANE, JOHN], role)
    with pytest.raises(ValueError, match="already exists"):
        emu.add_group("SUPPORT")
    with pytest.raises(ValueError, match="1 to 100"):
        emu.add_group("x" * 101)
    with pytest.raises(ValueError, match="not company accounts"):
        emu.add_group_members(group_id, [OUTSIDER])
    with pytest.raises(KeyError):
        emu.set_group_role(group_id, "no-such-role")
    emu.set_group_name(group_id, "Helpdesk")
    emu.set_group_role(group_id, None)
    assert emu.groups()[0]["name"] == "Helpdesk"
    assert emu.group_role(group_id) is None
    assert emu.roles() == [{"Id": role, "Name": "Supporter"}]
    emu.remove_group(group_id)
    with pytest.raises(KeyError):
        emu.group_members(group_id)
    assert emu.calls == [], "seeding and inspection are not calls"


def test_a_refused_seed_leaves_no_half_made_group_behind_machinery(emu: TeamViewerEmulator) -> None:
    """Machinery: seeding a group with a stranger as member, or an unknown role, makes no group at
    all — a half-seeded group would let a test pass against state it never asked for."""
    with pytest.raises(ValueError, match="not company accounts"):
        emu.add_group("Support", members=[JANE, OUTSIDER])
    with pytest.raises(KeyError):
        emu.add_group("Support", role_id="no-such-role")
    assert emu.groups() == []
    assert emu.add_group("Support") == FIRST_GROUP_ID, "no id was used up either"
