"""Fidelity tests: each emulator behaviour pinned to a documented fact (sources: docs/sources.md).

Test ids and docstrings name the source tag ([SCIM], [PDF], [SWAGGER], [PS], [OKTA-KB],
[ENTRA-KB]), or say "RFC 7643/7644" (and, where it agrees, "scim2-server": the real SCIM
server the client's contract tests run against) or "knob" where TeamViewer documents
nothing, or "machinery" for what the emulator adds for tests (faults, call log, seeding).

Every SCIM body exchanged here is also held against scim2-models by the suite-wide
``tests/contracts/scim_payloads.py`` plugin; the last section proves that plugin bites.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.fakes import SettableMonotonic
from tvsync.emulators import teamviewer as teamviewer_module
from tvsync.emulators.http import FaultKind, FaultPolicy, serve
from tvsync.emulators.teamviewer import (
    ALL_PERMISSIONS,
    DEFAULT_SCIM_MAX_PAGE_SIZE,
    SCIM_ERROR_SCHEMA,
    SCIM_LIST_SCHEMA,
    SCIM_USER_SCHEMA,
    SSO_USER_SCHEMA,
    USERS_CREATE,
    USERS_MODIFY,
    USERS_READ,
    RateLimit,
    TeamViewerEmulator,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.contracts.scim_payloads import ScimPayloadLog

TOKEN = "tv-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PATCH_RFC = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
PATCH_DOC_EXAMPLE = "urn:ietf:params:scim:schemas:core:2.0:PatchOp"


@pytest.fixture
def emu() -> TeamViewerEmulator:
    emulator = TeamViewerEmulator(TOKEN)
    emulator.add_user("Jane.Doe@Example.test", "Jane Doe")
    emulator.add_user("john.roe@example.test", "John Roe", active=False)
    emulator.add_foreign_account("outsider@example.test", "Out Sider")
    return emulator


def http(app: TeamViewerEmulator, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(
        base_url="http://tv.test", transport=app.transport(), headers=AUTH if headers is None else headers
    )


def scim_user(email: str, name: str = "New User", **extra: Any) -> dict[str, Any]:
    return {"schemas": [SCIM_USER_SCHEMA], "userName": email, "displayName": name, **extra}


def emails_of(response: httpx.Response) -> list[str]:
    return [r["userName"] for r in response.json()["Resources"]]


# ---------------------------------------------------------------------- authentication


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}],
    ids=["missing", "wrong-token", "wrong-scheme", "no-scheme"],
)
@pytest.mark.parametrize("path", ["/scim/v2/Users", "/api/v1/users", "/api/v1/account"])
def test_bearer_token_required_PS_PDF_5_1(
    emu: TeamViewerEmulator, headers: dict[str, str], path: str
) -> None:
    """[PS] Authorization: Bearer <token>; [PDF] §5.1 401 for a bad or missing token."""
    response = http(emu, headers).get(path)
    assert response.status_code == 401
    body = response.json()
    if path.startswith("/scim"):
        assert body["schemas"] == [SCIM_ERROR_SCHEMA]
        assert body["status"] == "401"
    else:
        assert body["error"] == "invalid_token"
        assert body["error_code"] == 401
    assert TOKEN not in response.text


def test_bearer_scheme_is_case_insensitive(emu: TeamViewerEmulator) -> None:
    """RFC 6750/7235: the auth scheme name is case-insensitive."""
    assert http(emu, {"Authorization": f"bearer {TOKEN}"}).get("/scim/v2/Users").status_code == 200


@pytest.mark.parametrize(
    ("headers", "valid"), [(AUTH, True), ({"Authorization": "Bearer nope"}, False), ({}, False)]
)
def test_ping_PS(emu: TeamViewerEmulator, headers: dict[str, str], valid: bool) -> None:
    """[PS] Invoke-TeamViewerPing: 200 {"token_valid": true|false}."""
    response = http(emu, headers).get("/api/v1/ping")
    assert response.status_code == 200
    assert response.json() == {"token_valid": valid}


def test_account_is_token_owner_SWAGGER() -> None:
    """[SWAGGER] GET /account: userid, email, name, company_name, email_validated, email_language."""
    app = TeamViewerEmulator(TOKEN, owner_email="boss@example.test", owner_name="Big Boss")
    body = http(app).get("/api/v1/account").json()
    assert body["userid"] == "1000001"
    assert body["email"] == "boss@example.test"
    assert body["name"] == "Big Boss"
    assert set(body) >= {"company_name", "email_validated", "email_language"}
    assert app.users()[0]["id"] == "u1000001"


# ---------------------------------------------------------------------- SCIM list


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ('userName eq "Jane.Doe@Example.test"', ["Jane.Doe@Example.test"]),
        ('userName eq "jane.doe@example.test"', []),  # case-sensitive
        ('userName ne "Jane.Doe@Example.test"', ["admin@example.test", "john.roe@example.test"]),
        ('userName co "Doe@Ex"', ["Jane.Doe@Example.test"]),
        ('userName co "doe@ex"', []),
        ('userName sw "john"', ["john.roe@example.test"]),
        ('userName ew "@example.test"', ["admin@example.test", "john.roe@example.test"]),
        ('emails.value eq "john.roe@example.test"', ["john.roe@example.test"]),
        ('displayName eq "Jane Doe"', ["Jane.Doe@Example.test"]),
        ('displayName eq "jane doe"', []),
        (
            'USERNAME EQ "Jane.Doe@Example.test"',
            ["Jane.Doe@Example.test"],
        ),  # RFC 7644: names/ops case-insensitive
        ('userName eq "outsider@example.test"', []),  # [OKTA-KB] foreign accounts are not company users
    ],
    ids=[
        "eq",
        "eq-is-case-sensitive",
        "ne",
        "co",
        "co-is-case-sensitive",
        "sw",
        "ew",
        "emails.value",
        "displayName",
        "displayName-case-sensitive",
        "rfc-attr-op-case",
        "foreign-invisible",
    ],
)
def test_list_filter_SCIM(emu: TeamViewerEmulator, filter_: str, expected: list[str]) -> None:
    """[SCIM] filter operators eq ne co sw ew on userName/emails.value/displayName; case-sensitive."""
    response = http(emu).get("/scim/v2/Users", params={"filter": filter_})
    assert response.status_code == 200
    assert emails_of(response) == expected
    assert response.json()["totalResults"] == len(expected)


def test_filter_value_is_a_json_string_with_escapes(emu: TeamViewerEmulator) -> None:
    """RFC 7644 §3.4.2.2: filter values are JSON strings, so \\" and \\\\ are escapes.

    The address carries both characters in a quoted local part (RFC 5321 §4.1.2), the only
    way a valid address can.
    """
    weird = '"we\\"ird\\\\one"@example.test'
    emu.add_user(weird, "Weird One")
    response = http(emu).get(
        "/scim/v2/Users", params={"filter": 'userName eq "\\"we\\\\\\"ird\\\\\\\\one\\"@example.test"'}
    )
    assert emails_of(response) == [weird]


@pytest.mark.parametrize(
    "filter_",
    [
        "userName pr",
        'userName eq "a@b.c" and active eq true',
        'title eq "x"',
        'userName gt "a"',
        "userName eq a@b.c",
        "active eq true",
    ],
)
def test_unsupported_filter_is_400_RFC7644(emu: TeamViewerEmulator, filter_: str) -> None:
    """[SCIM] lists only eq/ne/co/sw/ew on a few attributes; the rest is RFC 7644 400 invalidFilter."""
    response = http(emu).get("/scim/v2/Users", params={"filter": filter_})
    assert response.status_code == 400
    assert response.json() == {
        "schemas": [SCIM_ERROR_SCHEMA],
        "status": "400",
        "detail": response.json()["detail"],
        "scimType": "invalidFilter",
    }


@pytest.mark.parametrize(
    ("params", "expected_numbers", "start_echo"),
    [
        ({}, [1, 2, 3, 4, 5, 6], 1),
        ({"startIndex": "1", "count": "2"}, [1, 2], 1),
        ({"startIndex": "3", "count": "2"}, [3, 4], 3),
        ({"startIndex": "5", "count": "10"}, [5, 6], 5),
        ({"startIndex": "7", "count": "2"}, [], 7),
        ({"startIndex": "4"}, [4, 5, 6], 4),
        ({"count": "3"}, [1, 2, 3], 1),
        ({"count": "0"}, [], 1),
        ({"startIndex": "0", "count": "2"}, [1, 2], 1),  # RFC 7644: < 1 means 1
        ({"count": "-5"}, [], 1),  # RFC 7644: negative count means 0
    ],
)
def test_paging_SCIM(params: dict[str, str], expected_numbers: list[int], start_echo: int) -> None:
    """[SCIM] startIndex is 1-based; without count everything (up to the page cap); ListResponse shape."""
    app = TeamViewerEmulator(TOKEN)
    for n in range(2, 7):
        app.add_user(f"user{n}@example.test", f"User {n}")
    body = http(app).get("/scim/v2/Users", params=params).json()
    assert body["schemas"] == [SCIM_LIST_SCHEMA]
    assert body["totalResults"] == 6
    assert body["startIndex"] == start_echo
    assert body["itemsPerPage"] == len(expected_numbers)
    assert [r["id"] for r in body["Resources"]] == [f"u{1000000 + n}" for n in expected_numbers]


def test_zero_start_index_echo_knob_SCIM_example() -> None:
    """[SCIM]'s example answers startIndex 0; the knob reproduces it."""
    app = TeamViewerEmulator(TOKEN, scim_zero_start_index=True)
    body = http(app).get("/scim/v2/Users", params={"startIndex": "1", "count": "5"}).json()
    assert body["startIndex"] == 0
    assert body["itemsPerPage"] == 1


@pytest.mark.parametrize(
    ("cap", "params", "expected_count"),
    [
        (DEFAULT_SCIM_MAX_PAGE_SIZE, {"count": "100"}, DEFAULT_SCIM_MAX_PAGE_SIZE),
        (DEFAULT_SCIM_MAX_PAGE_SIZE, {}, DEFAULT_SCIM_MAX_PAGE_SIZE),
        (DEFAULT_SCIM_MAX_PAGE_SIZE, {"startIndex": "51", "count": "100"}, 11),
        (DEFAULT_SCIM_MAX_PAGE_SIZE, {"count": "7"}, 7),
        (2, {"count": "5"}, 2),
        (None, {"count": "100"}, 61),
        (None, {}, 61),
    ],
    ids=["count-above-cap", "no-count", "last-page", "count-below-cap", "knob-2", "knob-off", "knob-off-all"],
)
def test_page_cap_RFC7644_3_4_2_4_knob(cap: int | None, params: dict[str, str], expected_count: int) -> None:
    """RFC 7644 §3.4.2.4: a server may return fewer than ``count``. [SCIM] documents no cap
    (without count, "all items"); the emulator caps pages (knob, on by default) so that
    every client meets short pages, and says truthfully how many came (``itemsPerPage``).
    """
    app = TeamViewerEmulator(TOKEN, scim_max_page_size=cap)
    app.add_users((f"user{n}@example.test", f"User {n}", True) for n in range(60))
    body = http(app).get("/scim/v2/Users", params=params).json()
    assert body["totalResults"] == 61
    assert body["itemsPerPage"] == len(body["Resources"]) == expected_count


def test_default_page_cap_is_on() -> None:
    """Knob default: short pages for every test that does not ask otherwise."""
    assert TeamViewerEmulator(TOKEN).scim_max_page_size == DEFAULT_SCIM_MAX_PAGE_SIZE == 50


@pytest.mark.parametrize("param", ["startIndex", "count"])
def test_non_integer_paging_is_400_RFC7644(emu: TeamViewerEmulator, param: str) -> None:
    """RFC 7644 §3.12 invalidValue; scim2-server answers the same."""
    response = http(emu).get("/scim/v2/Users", params={param: "two"})
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"


@pytest.mark.parametrize("filter_", ["", "   "], ids=["empty", "blank"])
def test_empty_filter_is_400_invalid_filter_RFC7644(emu: TeamViewerEmulator, filter_: str) -> None:
    """RFC 7644 §3.4.2.2 has no empty filter expression: ``filter=`` is not "no filter".

    scim2-server answers 400 invalidFilter; the emulator used to list everyone.
    """
    response = http(emu).get("/scim/v2/Users", params={"filter": filter_})
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"


def test_user_shape_and_name_split_SCIM(emu: TeamViewerEmulator) -> None:
    """[SCIM] User fields; name split on the first space, both null without one."""
    emu.add_user("cher@example.test", "Cher")
    emu.add_user("mary@example.test", "Mary Ann Smith")
    users = {r["userName"]: r for r in http(emu).get("/scim/v2/Users").json()["Resources"]}
    assert users["john.roe@example.test"] == {
        "schemas": [SCIM_USER_SCHEMA],
        "id": "u1000003",
        "userName": "john.roe@example.test",
        "displayName": "John Roe",
        "name": {"givenName": "John", "familyName": "Roe", "formatted": "John Roe"},
        "emails": [{"primary": True, "value": "john.roe@example.test"}],
        "active": False,
    }
    assert users["cher@example.test"]["name"] == {"givenName": None, "familyName": None, "formatted": "Cher"}
    assert users["mary@example.test"]["name"]["familyName"] == "Ann Smith"


@pytest.mark.parametrize(
    ("user_id", "status"),
    [("u1000002", 200), ("u1000004", 404), ("u9999999", 404)],
    ids=["company", "foreign", "none"],
)
def test_get_by_id_SCIM(emu: TeamViewerEmulator, user_id: str, status: int) -> None:
    """[SCIM] GET /Users/{id}; a foreign account ([OKTA-KB]) is not visible to the company token."""
    response = http(emu).get(f"/scim/v2/Users/{user_id}")
    assert response.status_code == status
    if status == 200:
        assert response.json()["userName"] == "Jane.Doe@Example.test"
        assert response.headers["content-type"].startswith("application/scim+json")
    else:
        assert response.json()["status"] == "404"


# ---------------------------------------------------------------------- SCIM create / replace / patch


def test_create_201_with_sso_extension_SCIM(emu: TeamViewerEmulator) -> None:
    """[SCIM] POST -> 201; the SsoUser extension's ssoCustomerId is stored (create only)."""
    body = {
        "schemas": [SCIM_USER_SCHEMA, SSO_USER_SCHEMA],
        "userName": "new.person@example.test",
        "displayName": "New Person",
        "emails": [{"value": "new.person@example.test", "primary": True}],
        "name": {"givenName": "New", "familyName": "Person"},
        "preferredLanguage": "de_DE",
        SSO_USER_SCHEMA: {"ssoCustomerId": "a1b2bc4d5e6f7"},
    }
    response = http(emu).post("/scim/v2/Users", json=body, headers={"Content-Type": "application/scim+json"})
    assert response.status_code == 201
    created = response.json()
    assert created["id"] == "u1000005"
    assert created["userName"] == "new.person@example.test"
    assert created["active"] is True
    assert response.headers["Location"] == "/scim/v2/Users/u1000005"
    assert emu.user_by_email("new.person@example.test") == {
        "id": "u1000005",
        "email": "new.person@example.test",
        "name": "New Person",
        "active": True,
        "sso_customer_id": "a1b2bc4d5e6f7",
    }


@pytest.mark.parametrize(
    ("fields", "email", "name"),
    [
        (
            {"userName": "a@x.test", "displayName": "Dis Play", "name": {"formatted": "For Matted"}},
            "a@x.test",
            "Dis Play",
        ),
        (
            {"userName": "a@x.test", "name": {"formatted": "For Matted", "givenName": "G"}},
            "a@x.test",
            "For Matted",
        ),
        ({"userName": "a@x.test", "name": {"givenName": "Giv", "familyName": "Fam"}}, "a@x.test", "Giv Fam"),
        (
            {
                "userName": "user@x.test",
                "emails": [{"value": "mail@x.test", "primary": True}],
                "displayName": "N N",
            },
            "user@x.test",
            "N N",
        ),
    ],
    ids=["displayName-wins", "formatted-next", "given-family", "userName-wins"],
)
def test_create_attribute_mapping_SCIM(
    emu: TeamViewerEmulator, fields: dict[str, Any], email: str, name: str
) -> None:
    """[SCIM] mapping table: name = displayName > name.formatted > given+family; email = userName > emails."""
    response = http(emu).post("/scim/v2/Users", json={"schemas": [SCIM_USER_SCHEMA], **fields})
    assert response.status_code == 201
    stored = emu.user_by_email(email, casefold=False)
    assert stored is not None
    assert stored["name"] == name


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ({"userName": "a@x.test", "displayName": "No Schema"}, "invalidSyntax"),
        ({"schemas": [SCIM_USER_SCHEMA], "displayName": "No Email"}, "invalidValue"),
        ({"schemas": [SCIM_USER_SCHEMA], "userName": "a@x.test"}, "invalidValue"),
        (
            {"schemas": [SCIM_USER_SCHEMA], "userName": "not-an-email", "displayName": "Bad Mail"},
            "invalidValue",
        ),
        (
            {"schemas": [SCIM_USER_SCHEMA], "userName": "a@x.test", "displayName": "A B", "active": "yes"},
            "invalidValue",
        ),
        (
            {
                "schemas": [SCIM_USER_SCHEMA],
                "emails": [{"value": "prim@x.test", "primary": True}],
                "displayName": "N N",
            },
            "invalidValue",
        ),
    ],
    ids=["no-schema", "no-email", "no-name", "bad-email", "bad-active", "emails-without-userName"],
)
def test_create_rejects_invalid_bodies_SCIM_RFC7643(
    emu: TeamViewerEmulator, body: dict[str, Any], scim_type: str
) -> None:
    """[SCIM] "schemas: Must include" the User schema, name and email needed; RFC 7643 §4.1.1
    makes ``userName`` required, so [SCIM]'s fallback to ``emails`` is refused as a real
    server (scim2-server) refuses it: no client may come to depend on it.
    """
    before = emu.users()
    response = http(emu).post("/scim/v2/Users", json=body)
    assert response.status_code == 400
    assert response.json()["status"] == "400"
    assert response.json()["scimType"] == scim_type
    assert emu.users() == before


def test_create_rejects_non_json_RFC7644(emu: TeamViewerEmulator) -> None:
    """RFC 7644 §3.12 invalidSyntax for a body that does not parse."""
    response = http(emu).post(
        "/scim/v2/Users", content=b"{not json", headers={"Content-Type": "application/scim+json"}
    )
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"


SSO_BODY = {
    "userName": "sso.user@example.test",
    "displayName": "Sso User",
    SSO_USER_SCHEMA: {"ssoCustomerId": "cust-1"},
}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"schemas": [SCIM_USER_SCHEMA], **SSO_BODY}, "does not name it"),
        (
            {
                "schemas": [SCIM_USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                **SSO_BODY,
            },
            "Unknown schemas",
        ),
        (
            {"schemas": [SCIM_USER_SCHEMA, SSO_USER_SCHEMA], **SSO_BODY, "favouriteColour": "blue"},
            "Unknown attribute",
        ),
        (
            {"schemas": [SCIM_USER_SCHEMA, SSO_USER_SCHEMA], **SSO_BODY, SSO_USER_SCHEMA: "cust-1"},
            "must be an object",
        ),
        (
            {"schemas": [SCIM_USER_SCHEMA, SSO_USER_SCHEMA], **SSO_BODY, SSO_USER_SCHEMA: {"tenant": "x"}},
            "Unknown SsoUser attribute",
        ),
        ({"schemas": SCIM_USER_SCHEMA, **SSO_BODY}, "list of schema URIs"),
    ],
    ids=[
        "extension-not-in-schemas",
        "unknown-schema",
        "unknown-attribute",
        "extension-not-an-object",
        "unknown-extension-attribute",
        "schemas-not-a-list",
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_user_body_schemas_must_declare_what_is_present_RFC7643_3(
    emu: TeamViewerEmulator, body: dict[str, Any], detail: str, method: str
) -> None:
    """RFC 7643 §3: ``schemas`` names the schemas of the attributes present — an extension
    attribute under an undeclared schema is refused, not quietly applied ([SCIM]'s SsoUser
    example declares it). Unknown schemas and attributes: 400 invalidSyntax, as scim2-server.
    """
    before = emu.users()
    path = "/scim/v2/Users" if method == "POST" else "/scim/v2/Users/u1000002"
    response = http(emu).request(method, path, json=body)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"
    assert detail in response.json()["detail"]
    assert emu.users() == before


def test_user_body_with_declared_extension_is_accepted_SCIM() -> None:
    """[SCIM] example #2: the SsoUser extension, declared in ``schemas``, is applied on create."""
    app = TeamViewerEmulator(TOKEN)
    response = http(app).post(
        "/scim/v2/Users", json={"schemas": [SCIM_USER_SCHEMA, SSO_USER_SCHEMA], **SSO_BODY}
    )
    assert response.status_code == 201
    stored = app.user_by_email("sso.user@example.test")
    assert stored is not None
    assert stored["sso_customer_id"] == "cust-1"


PATCH_ACTIVE = {"schemas": [PATCH_RFC], "Operations": [{"op": "replace", "path": "active", "value": False}]}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/scim/v2/Users", scim_user("ct@example.test", "Con Tent")),
        ("PUT", "/scim/v2/Users/u1000002", scim_user("ct@example.test", "Con Tent")),
        ("PATCH", "/scim/v2/Users/u1000002", PATCH_ACTIVE),
    ],
    ids=["post", "put", "patch"],
)
@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("application/scim+json", True),
        ("application/scim+json; charset=utf-8", True),
        ("Application/SCIM+JSON;charset=UTF-8", True),
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        (None, True),
        ("text/plain", False),
        ("application/x-www-form-urlencoded", False),
        ("application/xml", False),
    ],
)
def test_writes_must_be_json_RFC7644_3_8(
    method: str, path: str, body: dict[str, Any], content_type: str | None, accepted: bool
) -> None:
    """RFC 7644 §3.8/§8.1: SCIM bodies are ``application/scim+json`` (plain JSON accepted, with
    any parameters; no Content-Type at all means JSON, SCIM's default). Anything else is 415
    Unsupported Media Type (RFC 9110 §15.5.16) with a SCIM error body and, RFC 7644's
    ``scimType`` values being for 400s only, no scimType — exactly scim2-server's answer.
    """
    app = TeamViewerEmulator(TOKEN)
    app.add_user("jane@example.test", "Jane Doe")
    before = app.users()
    headers = dict(AUTH)
    if content_type is not None:
        headers["Content-Type"] = content_type
    with httpx.Client(base_url="http://tv.test", transport=app.transport()) as client:
        response = client.request(method, path, content=json.dumps(body).encode(), headers=headers)
    if accepted:
        assert response.status_code in {200, 201}
        return
    assert response.status_code == 415
    assert response.json() == {
        "schemas": [SCIM_ERROR_SCHEMA],
        "status": "415",
        "detail": response.json()["detail"],
    }
    assert app.users() == before


@pytest.mark.parametrize(
    "email",
    ["outsider@example.test", "OUTSIDER@example.test", "jane.doe@example.test", "ADMIN@EXAMPLE.TEST"],
    ids=["foreign", "foreign-other-case", "company-other-case", "owner-other-case"],
)
def test_scim_create_with_taken_email_is_409_uniqueness_OKTA_KB(emu: TeamViewerEmulator, email: str) -> None:
    """[OKTA-KB] emails are unique across TeamViewer; SCIM's code is undocumented: RFC 7644 409 uniqueness."""
    response = http(emu).post("/scim/v2/Users", json=scim_user(email))
    assert response.status_code == 409
    body = response.json()
    assert body["scimType"] == "uniqueness"
    assert body["status"] == "409"
    assert "email_in_use" in body["detail"]
    assert len(emu.users()) == 3


def test_scim_conflict_status_knob() -> None:
    app = TeamViewerEmulator(TOKEN, scim_conflict_status=400)
    app.add_foreign_account("taken@example.test", "Tak En")
    response = http(app).post("/scim/v2/Users", json=scim_user("taken@example.test"))
    assert response.status_code == 400
    assert response.json()["scimType"] == "uniqueness"


def test_put_is_full_replacement_SCIM(emu: TeamViewerEmulator) -> None:
    """[SCIM] PUT replaces the user: userName changes the email; an omitted active defaults to true."""
    body = scim_user("John.New@example.test", "Johnny Roe")
    response = http(emu).put("/scim/v2/Users/u1000003", json=body)
    assert response.status_code == 200
    assert response.json()["userName"] == "John.New@example.test"
    assert emu.user_by_email("john.new@example.test") == {
        "id": "u1000003",
        "email": "John.New@example.test",
        "name": "Johnny Roe",
        "active": True,
        "sso_customer_id": None,
    }


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"schemas": [SCIM_USER_SCHEMA], "displayName": "No Email"}, 400),
        (scim_user("outsider@example.test"), 409),
    ],
    ids=["missing-userName", "taken-email"],
)
def test_put_rejections_leave_user_unchanged_SCIM(
    emu: TeamViewerEmulator, body: dict[str, Any], status: int
) -> None:
    """[SCIM] PUT needs the whole user; [OKTA-KB] a taken email conflicts (RFC 7644 409)."""
    before = emu.users()
    assert http(emu).put("/scim/v2/Users/u1000002", json=body).status_code == status
    assert emu.users() == before


def test_put_and_patch_unknown_user_is_404_RFC7644(emu: TeamViewerEmulator) -> None:
    """RFC 7644 §3.12 404 for a resource that does not exist (or, [OKTA-KB], is not the company's)."""
    client = http(emu)
    assert client.put("/scim/v2/Users/u1000004", json=scim_user("x@example.test")).status_code == 404
    patch = {"schemas": [PATCH_RFC], "Operations": [{"op": "replace", "value": {"active": False}}]}
    assert client.patch("/scim/v2/Users/u9999999", json=patch).status_code == 404


@pytest.mark.parametrize(
    ("operations", "expected"),
    [
        ([{"op": "replace", "value": {"active": False}}], {"active": False}),
        ([{"op": "replace", "path": "active", "value": False}], {"active": False}),
        ([{"op": "replace", "path": "displayName", "value": "Janet Doe"}], {"name": "Janet Doe"}),
        ([{"op": "replace", "path": "name.formatted", "value": "Janet Doe"}], {"name": "Janet Doe"}),
        ([{"op": "replace", "path": "name.givenName", "value": "Janet"}], {"name": "Janet Doe"}),
        ([{"op": "replace", "path": "name.familyName", "value": "Smith"}], {"name": "Jane Smith"}),
        (
            [{"op": "replace", "value": {"name": {"givenName": "Ann", "familyName": "Lee"}}}],
            {"name": "Ann Lee"},
        ),
        ([{"op": "replace", "path": "userName", "value": "jd@example.test"}], {"email": "jd@example.test"}),
        (
            [{"op": "replace", "path": "emails.value", "value": "jd@example.test"}],
            {"email": "jd@example.test"},
        ),
        (
            [{"op": "replace", "value": {"userName": "JANE.DOE@example.test"}}],
            {"email": "JANE.DOE@example.test"},
        ),
        (
            [
                {"op": "replace", "value": {"active": False}},
                {"op": "replace", "path": "displayName", "value": "X Y"},
            ],
            {"active": False, "name": "X Y"},
        ),
        ([{"op": "Replace", "path": "active", "value": False}], {"active": False}),
    ],
    ids=[
        "no-path",
        "path-active",
        "displayName",
        "name.formatted",
        "name.givenName",
        "name.familyName",
        "nested-name",
        "userName",
        "emails.value",
        "own-email-other-case",
        "doc-example",
        "op-case-insensitive",
    ],
)
def test_patch_replace_SCIM(
    emu: TeamViewerEmulator, operations: list[dict[str, Any]], expected: dict[str, Any]
) -> None:
    """[SCIM] PATCH: only replace, path optional (dot notation), with the RFC's PatchOp URN."""
    before = emu.user_by_email("jane.doe@example.test")
    assert before is not None
    response = http(emu).patch(
        "/scim/v2/Users/u1000002", json={"schemas": [PATCH_RFC], "Operations": operations}
    )
    assert response.status_code == 200
    after = dict(before)
    after.update(expected)
    assert [u for u in emu.users() if u["id"] == "u1000002"] == [after]
    assert response.json()["active"] == after["active"]


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        (
            {"schemas": [PATCH_RFC], "Operations": [{"op": "add", "path": "displayName", "value": "X"}]},
            "invalidSyntax",
        ),
        ({"schemas": [PATCH_RFC], "Operations": [{"op": "remove", "path": "displayName"}]}, "invalidSyntax"),
        (
            {"schemas": [SCIM_USER_SCHEMA], "Operations": [{"op": "replace", "value": {"active": False}}]},
            "invalidSyntax",
        ),
        (
            {"schemas": [PATCH_DOC_EXAMPLE], "Operations": [{"op": "replace", "value": {"active": False}}]},
            "invalidSyntax",
        ),
        ({"schemas": [PATCH_RFC], "Operations": []}, "invalidSyntax"),
        (
            {"schemas": [PATCH_RFC], "Operations": [{"op": "replace", "path": "title", "value": "X"}]},
            "invalidPath",
        ),
        (
            {"schemas": [PATCH_RFC], "Operations": [{"op": "replace", "path": "active", "value": "False"}]},
            "invalidValue",
        ),
        (
            {
                "schemas": [PATCH_RFC],
                "Operations": [
                    {"op": "replace", "path": "active", "value": False},
                    {"op": "add", "path": "displayName", "value": "X"},
                ],
            },
            "invalidSyntax",
        ),
    ],
    ids=[
        "add",
        "remove",
        "wrong-schema",
        "doc-example-urn",
        "no-ops",
        "unknown-path",
        "string-bool",
        "atomic",
    ],
)
def test_patch_rejections_change_nothing_SCIM(
    emu: TeamViewerEmulator, body: dict[str, Any], scim_type: str
) -> None:
    """[SCIM] only replace is supported; other ops are 400 (RFC 7644 body); a rejected PATCH is atomic.

    The PatchOp URN: [SCIM]'s parameter list says schemas "Must include"
    ``urn:ietf:params:scim:api:messages:2.0:PatchOp`` (RFC 7644 §3.5.2), while its PATCH
    example shows ``urn:ietf:params:scim:schemas:core:2.0:PatchOp``, a URN no RFC defines.
    The normative text, the RFC and scim2-server (400 invalidSyntax) agree: refused.
    """
    before = emu.users()
    response = http(emu).patch("/scim/v2/Users/u1000002", json=body)
    assert response.status_code == 400
    assert response.json()["scimType"] == scim_type
    assert emu.users() == before


@pytest.mark.parametrize(
    "email", ["outsider@example.test", "John.Roe@example.test"], ids=["foreign", "company"]
)
def test_patch_email_to_taken_address_conflicts_OKTA_KB(emu: TeamViewerEmulator, email: str) -> None:
    """[OKTA-KB] emails are unique across TeamViewer, so a PATCH to a taken one is RFC 7644's 409."""
    patch = {"schemas": [PATCH_RFC], "Operations": [{"op": "replace", "path": "userName", "value": email}]}
    response = http(emu).patch("/scim/v2/Users/u1000002", json=patch)
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"
    assert emu.user_by_email("jane.doe@example.test") is not None


def test_no_delete_ENTRA_KB(emu: TeamViewerEmulator) -> None:
    """[ENTRA-KB] "the SCIM API can't delete Users"; [SCIM] documents no DELETE: 405, user kept."""
    response = http(emu).delete("/scim/v2/Users/u1000002")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, PUT, PATCH"
    assert emu.user_by_email("jane.doe@example.test") is not None


# ---------------------------------------------------------------------- v1 users


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"email": "john.roe@example.test"}, ["u1000003"]),
        ({"email": "john.roe@example.test,Jane.Doe@Example.test"}, ["u1000002", "u1000003"]),
        ({"email": "jane.doe@example.test"}, []),
        ({"email": "outsider@example.test"}, []),
        ({"full_list": "true"}, ["u1000001", "u1000002", "u1000003"]),
        ({"name": "roe"}, ["u1000003"]),
    ],
    ids=[
        "exact",
        "comma-list",
        "exact-is-case-sensitive",
        "foreign-invisible",
        "full_list",
        "name-substring",
    ],
)
def test_v1_list_users_PDF_4_4_1(emu: TeamViewerEmulator, query: dict[str, str], expected: list[str]) -> None:
    """[PDF] §4.4.1 email is an exact match and may be a comma list; [SWAGGER] {"users": [...]}, no paging."""
    response = http(emu).get("/api/v1/users", params=query)
    assert response.status_code == 200
    assert [u["id"] for u in response.json()["users"]] == expected


def test_v1_create_returns_200_with_id_SWAGGER(emu: TeamViewerEmulator) -> None:
    """[SWAGGER]/[PDF] p.28 POST /users: 200 with the user incl. id; the new URI in a header."""
    body = {"email": "v1.user@example.test", "name": "Vee One", "language": "en", "sso_customer_id": "cust"}
    response = http(emu).post("/api/v1/users", json=body)
    assert response.status_code == 200
    assert response.json() == {
        "id": "u1000005",
        "name": "Vee One",
        "email": "v1.user@example.test",
        "active": True,
    }
    assert response.headers["Location"] == "/api/v1/users/u1000005"
    assert emu.user_by_email("v1.user@example.test") == {
        "id": "u1000005",
        "email": "v1.user@example.test",
        "name": "Vee One",
        "active": True,
        "sso_customer_id": "cust",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"name": "No Mail", "language": "en"},
        {"email": "a@x.test", "language": "en"},
        {"email": "ok@example.test", "name": "No Language"},
        {"email": "ok@example.test", "name": "X", "language": "en"},
        {"email": "ok@example.test", "name": "Long Lang", "language": "e"},
        {"email": "nope", "name": "Bad Mail", "language": "en"},
    ],
    ids=["no-email", "short-email", "no-language", "short-name", "short-language", "bad-email"],
)
def test_v1_create_validation_PDF_5_2(emu: TeamViewerEmulator, body: dict[str, Any]) -> None:
    """[SWAGGER] email 6-100, name 2-50, language 2-10, all required; [PDF] §5.2 error body."""
    response = http(emu).post("/api/v1/users", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_code"] == 400
    assert len(emu.users()) == 3


@pytest.mark.parametrize("email", ["outsider@example.test", "Outsider@Example.Test", "john.roe@example.test"])
def test_v1_email_in_use_PDF(emu: TeamViewerEmulator, email: str) -> None:
    """[PDF] §5.2 email_in_use on create and on email change ([OKTA-KB] foreign accounts too)."""
    client = http(emu)
    created = client.post("/api/v1/users", json={"email": email, "name": "Some One", "language": "en"})
    assert created.status_code == 400
    assert created.json()["error"] == "email_in_use"
    changed = client.put("/api/v1/users/u1000002", json={"email": email})
    assert changed.status_code == 400
    assert changed.json()["error"] == "email_in_use"
    assert emu.user_by_email("jane.doe@example.test") is not None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"active": False}, {"active": False}),
        ({"name": "Janet Doe"}, {"name": "Janet Doe"}),
        ({"email": "janet@example.test"}, {"email": "janet@example.test"}),
        ({"sso_customer_id": "cust-1"}, {"sso_customer_id": "cust-1"}),
        ({"name": "Janet Doe", "active": False}, {"name": "Janet Doe", "active": False}),
    ],
)
def test_v1_update_changes_only_sent_fields_PDF(
    emu: TeamViewerEmulator, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    """[SWAGGER] PUT /users/{id}: send only what changes; [PDF] p.31: 204."""
    before = emu.user_by_email("jane.doe@example.test")
    assert before is not None
    response = http(emu).put("/api/v1/users/u1000002", json=body)
    assert response.status_code == 204
    assert response.content == b""
    assert [u for u in emu.users() if u["id"] == "u1000002"] == [{**before, **expected}]


@pytest.mark.parametrize(
    ("user_id", "status"),
    [("u1000004", 404), ("u9999999", 404), ("1000002", 400)],
    ids=["foreign", "none", "no-u"],
)
def test_v1_user_by_id_SWAGGER(emu: TeamViewerEmulator, user_id: str, status: int) -> None:
    """[SWAGGER] the id must start with "u"; foreign accounts are not the company's."""
    client = http(emu)
    assert client.get(f"/api/v1/users/{user_id}").status_code == status
    assert client.put(f"/api/v1/users/{user_id}", json={"active": False}).status_code == status
    assert client.get("/api/v1/users/u1000002").json()["email"] == "Jane.Doe@Example.test"


# ---------------------------------------------------------------------- permissions


@pytest.mark.parametrize(
    ("missing", "method", "path", "body"),
    [
        (USERS_READ, "GET", "/scim/v2/Users", None),
        (USERS_READ, "GET", "/scim/v2/Users/u1000002", None),
        (USERS_READ, "GET", "/api/v1/users", None),
        (USERS_CREATE, "POST", "/scim/v2/Users", scim_user("p@example.test")),
        (USERS_CREATE, "POST", "/api/v1/users", {"email": "p@example.test", "name": "P Q", "language": "en"}),
        (
            USERS_MODIFY,
            "PATCH",
            "/scim/v2/Users/u1000002",
            {"schemas": [PATCH_RFC], "Operations": [{"op": "replace", "value": {"active": False}}]},
        ),
        (USERS_MODIFY, "PUT", "/scim/v2/Users/u1000002", scim_user("p@example.test")),
        (USERS_MODIFY, "PUT", "/api/v1/users/u1000002", {"active": False}),
    ],
)
def test_missing_permission_is_403_invalid_permission_SCIM_PS(
    missing: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    """[SCIM] token scopes Users.Read/CreateUsers/ModifyUsers; [PS] maps invalid_permission."""
    app = TeamViewerEmulator(TOKEN, permissions=ALL_PERMISSIONS - {missing})
    app.add_user("jane@example.test", "Jane Doe")
    before = app.users()
    response = http(app).request(method, path, json=body)
    assert response.status_code == 403
    assert "invalid_permission" in response.text
    assert app.users() == before
    # the same call succeeds with the right in place (proves the 403 is about the permission)
    full = TeamViewerEmulator(TOKEN)
    full.add_user("jane@example.test", "Jane Doe")
    assert http(full).request(method, path, json=body).status_code in {200, 201, 204}


# ---------------------------------------------------------------------- rate limits


def test_rate_limit_429_with_retry_after_knob() -> None:
    """Token bucket; 429 + Retry-After = ceil(time until a token is free), at least 1."""
    clock = SettableMonotonic(1000.0)
    app = TeamViewerEmulator(TOKEN, rate_limit=RateLimit(requests_per_second=0.25, burst=2), clock=clock)
    client = http(app)
    assert [client.get("/scim/v2/Users").status_code for _ in range(2)] == [200, 200]
    throttled = client.get("/scim/v2/Users")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "4"
    assert throttled.json()["status"] == "429"
    clock.advance(1.5)
    assert client.get("/api/v1/users").headers["Retry-After"] == "3"
    clock.advance(2.5)
    assert client.get("/scim/v2/Users").status_code == 200
    assert app.throttled == 2
    assert [c.status for c in app.calls] == [200, 200, 429, 429, 200]


def test_rate_limit_retry_after_never_below_one_second() -> None:
    """Knob: RFC 9110 §10.2.3 Retry-After is whole seconds, so never 0 while still limited."""
    clock = SettableMonotonic(1000.0)
    app = TeamViewerEmulator(TOKEN, rate_limit=RateLimit(requests_per_second=100, burst=1), clock=clock)
    client = http(app)
    assert client.get("/api/v1/ping").status_code == 200
    response = client.get("/api/v1/ping")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    clock.advance(0.02)
    assert client.get("/api/v1/ping").status_code == 200


def test_rate_limit_without_retry_after_header() -> None:
    """Knob: [PDF] §5 documents no Retry-After, so the emulator can leave it out."""
    app = TeamViewerEmulator(
        TOKEN,
        rate_limit=RateLimit(requests_per_second=1, burst=1, retry_after=False),
        clock=SettableMonotonic(1000.0),
    )
    client = http(app)
    client.get("/api/v1/ping")
    response = client.get("/api/v1/ping")
    assert response.status_code == 429
    assert "Retry-After" not in response.headers


@pytest.mark.parametrize("path", ["/api/v1/users", "/scim/v2/Users"])
def test_rate_limit_403_rate_limit_reached_PDF_5(path: str) -> None:
    """[PDF] §5.1 "403 Forbidden / Rate Limit Reached", §5.2 error rate_limit_reached."""
    app = TeamViewerEmulator(
        TOKEN,
        rate_limit=RateLimit(requests_per_second=1, burst=1, style="403"),
        clock=SettableMonotonic(1000.0),
    )
    client = http(app)
    assert client.get(path).status_code == 200
    response = client.get(path)
    assert response.status_code == 403
    assert response.json() == {
        "error": "rate_limit_reached",
        "error_description": response.json()["error_description"],
        "error_code": 403,
    }
    assert app.throttled == 1


def test_throttled_write_changes_nothing() -> None:
    """Knob: the limiter sits in front of the app, as a gateway would ([PDF] §5.1 "IP blocked")."""
    app = TeamViewerEmulator(
        TOKEN, rate_limit=RateLimit(requests_per_second=1, burst=1), clock=SettableMonotonic(1000.0)
    )
    client = http(app)
    client.get("/api/v1/ping")
    assert client.post("/scim/v2/Users", json=scim_user("late@example.test")).status_code == 429
    assert app.user_by_email("late@example.test") is None
    assert app.writes() == 1


# ---------------------------------------------------------------------- faults, calls


def outcomes(seed: int) -> list[str]:
    app = TeamViewerEmulator(TOKEN, faults=FaultPolicy(failure_rate=0.5, seed=seed))
    client = http(app)
    for _ in range(30):
        with contextlib.suppress(httpx.TransportError):
            client.get("/scim/v2/Users")
    return [c.outcome for c in app.calls]


def test_seeded_faults_are_reproducible() -> None:
    """Machinery: faults come from a seeded RNG, so a failing run can be replayed."""
    first = outcomes(7)
    assert first == outcomes(7)
    assert first != outcomes(8)
    assert {"200", "timeout", "drop", "server_error"} <= set(first)


@pytest.mark.parametrize(
    ("after_apply", "created"), [(1.0, True), (0.0, False)], ids=["after-apply", "before-apply"]
)
@pytest.mark.parametrize("kind", [FaultKind.DROP, FaultKind.TIMEOUT])
def test_faults_after_apply_change_state(kind: FaultKind, after_apply: float, created: bool) -> None:
    """Machinery: the dangerous case for retries — the write happened, the client saw a failure."""
    app = TeamViewerEmulator(
        TOKEN, faults=FaultPolicy(failure_rate=1.0, kinds=(kind,), after_apply_share=after_apply)
    )
    with pytest.raises(httpx.TransportError):
        http(app).post("/scim/v2/Users", json=scim_user("ghost@example.test"))
    assert (app.user_by_email("ghost@example.test") is not None) is created
    (call,) = app.calls
    assert (call.status, call.fault, call.after_apply) == (None, kind, created)
    assert app.writes() == 1


def test_server_error_fault_is_recorded_and_changes_nothing() -> None:
    """Machinery: an injected 5xx answers before the app runs, like a failing gateway."""
    app = TeamViewerEmulator(TOKEN, faults=FaultPolicy(failure_rate=1.0, kinds=(FaultKind.SERVER_ERROR,)))
    response = http(app).post("/scim/v2/Users", json=scim_user("x@example.test"))
    assert response.status_code in {500, 502, 503}
    assert app.user_by_email("x@example.test") is None
    assert app.calls[0].outcome == "server_error"


def test_call_log_and_reset(emu: TeamViewerEmulator) -> None:
    """Machinery: the call log tests assert on (method, path, query, status)."""
    client = http(emu)
    client.get("/scim/v2/Users", params={"filter": 'userName eq "a@b.c"'})
    client.patch(
        "/scim/v2/Users/u1000002",
        json={"schemas": [PATCH_RFC], "Operations": [{"op": "replace", "value": {"active": False}}]},
    )
    assert [(c.method, c.path, c.status) for c in emu.calls] == [
        ("GET", "/scim/v2/Users", 200),
        ("PATCH", "/scim/v2/Users/u1000002", 200),
    ]
    assert emu.calls[0].query == {"filter": 'userName eq "a@b.c"'}
    assert emu.writes() == 1
    emu.reset_calls()
    assert emu.calls == []
    assert emu.writes() == 0


def test_seeding_api(emu: TeamViewerEmulator) -> None:
    """Machinery, with [OKTA-KB]'s rule: seeding refuses a taken email in any case, and a user
    removed from the company ([SWAGGER] v1 DELETE) keeps its email taken.
    """
    with pytest.raises(ValueError, match="taken"):
        emu.add_user("OUTSIDER@example.test", "Dup Licate")
    assert emu.user_by_email("jane.doe@example.test", casefold=False) is None
    assert emu.user_by_email("Jane.Doe@Example.test", casefold=False) is not None
    emu.remove_from_company("u1000002")
    assert emu.user_by_email("jane.doe@example.test") is None
    assert http(emu).post("/scim/v2/Users", json=scim_user("jane.doe@example.test")).status_code == 409
    with pytest.raises(ValueError, match="owner"):
        emu.remove_from_company(emu.owner_id)


# ---------------------------------------------------------------------- real loopback HTTP


@pytest.fixture
def served() -> Iterator[tuple[TeamViewerEmulator, str]]:
    app = TeamViewerEmulator(TOKEN, faults=FaultPolicy(timeout_delay=0.6))
    app.add_user("jane@example.test", "Jane Doe")
    with serve(app) as server:
        yield app, server.url


def test_loopback_round_trip(served: tuple[TeamViewerEmulator, str]) -> None:
    """Machinery: the same app over real HTTP ([SCIM] create and filter, [ENTRA-KB] no DELETE)."""
    app, url = served
    with httpx.Client(base_url=url, headers=AUTH, timeout=2.0) as client:
        created = client.post("/scim/v2/Users", json=scim_user("loop@example.test", "Loop Back"))
        assert created.status_code == 201
        found = client.get("/scim/v2/Users", params={"filter": 'userName eq "loop@example.test"'})
        assert emails_of(found) == ["loop@example.test"]
        assert client.delete(f"/scim/v2/Users/{created.json()['id']}").status_code == 405
        assert client.get("/api/v1/ping", headers={"Authorization": "Bearer x"}).json() == {
            "token_valid": False
        }
    assert [c.status for c in app.calls] == [201, 200, 405, 200]


def test_loopback_dropped_connection(served: tuple[TeamViewerEmulator, str]) -> None:
    """Machinery: a dropped connection over real HTTP, after the write was applied."""
    app, url = served
    app.faults = FaultPolicy(failure_rate=1.0, kinds=(FaultKind.DROP,), after_apply_share=1.0)
    with httpx.Client(base_url=url, headers=AUTH, timeout=2.0) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.post("/scim/v2/Users", json=scim_user("dropped@example.test"))
    assert app.user_by_email("dropped@example.test") is not None  # applied, then dropped


def test_loopback_timeout(served: tuple[TeamViewerEmulator, str]) -> None:
    """Machinery: an injected timeout keeps a real HTTP client waiting past its read timeout."""
    app, url = served
    app.faults = FaultPolicy(
        failure_rate=1.0, kinds=(FaultKind.TIMEOUT,), after_apply_share=0.0, timeout_delay=0.6
    )
    timeout = httpx.Timeout(connect=1.0, read=0.2, write=1.0, pool=1.0)
    with httpx.Client(base_url=url, headers=AUTH, timeout=timeout) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get("/scim/v2/Users")
    assert app.calls[-1].fault is FaultKind.TIMEOUT


def test_bulk_seeding_follows_add_users_rules_in_one_pass() -> None:
    """Machinery: bulk seeding keeps [OKTA-KB]'s unique-email rule (any case)."""
    emulator = TeamViewerEmulator()
    ids = emulator.add_users([("a@example.com", "A Person", True), ("b@example.com", "B Person", False)])
    assert [(u["id"], u["email"], u["active"]) for u in emulator.users()[1:]] == [
        (ids[0], "a@example.com", True),
        (ids[1], "b@example.com", False),
    ]
    with pytest.raises(ValueError, match="taken"):
        emulator.add_users([("A@Example.com", "Again", True)])


# ---------------------------------------------------------------------- optional `active` (knob)


def test_omit_active_for_chosen_users_RFC7643_knob(emu: TeamViewerEmulator) -> None:
    """RFC 7643 §4.1.1: ``active`` is optional; the knob leaves it out for the ids given."""
    emu.scim_omit_active = frozenset({"u1000003"})
    client = http(emu)
    listed = {r["id"]: r for r in client.get("/scim/v2/Users").json()["Resources"]}
    assert "active" not in listed["u1000003"]
    assert listed["u1000002"]["active"] is True
    assert "active" not in client.get("/scim/v2/Users/u1000003").json()
    assert client.get("/api/v1/users/u1000003").json()["active"] is False, "v1 is not SCIM: unaffected"
    patched = client.patch("/scim/v2/Users/u1000003", json=PATCH_ACTIVE)
    assert patched.status_code == 200
    assert "active" not in patched.json()
    assert emu.user_by_email("john.roe@example.test") == {
        "id": "u1000003",
        "email": "john.roe@example.test",
        "name": "John Roe",
        "active": False,
        "sso_customer_id": None,
    }, "the state is kept; only the SCIM answer leaves it out"


def test_omit_active_for_all_users_RFC7643_knob(emu: TeamViewerEmulator) -> None:
    """Knob ``True``: no SCIM user carries ``active``, a newly created one included."""
    emu.scim_omit_active = True
    client = http(emu)
    assert all("active" not in r for r in client.get("/scim/v2/Users").json()["Resources"])
    created = client.post("/scim/v2/Users", json=scim_user("new@example.test"))
    assert created.status_code == 201
    assert "active" not in created.json()


# ---------------------------------------------------------------------- held against scim2-models


def test_payload_plugin_catches_a_response_a_scim_server_would_not_send(
    emu: TeamViewerEmulator, scim_payloads: ScimPayloadLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite-wide plugin fails a test whose emulator sends a User without its ``id``."""
    render = teamviewer_module._scim_user

    def without_id(account: Any) -> dict[str, Any]:
        user = render(account)
        del user["id"]
        return user

    monkeypatch.setattr(teamviewer_module, "_scim_user", without_id)
    assert http(emu).get("/scim/v2/Users").status_code == 200
    violations = scim_payloads.violations
    assert {(v.method, v.path, v.body) for v in violations} == {("GET", "/scim/v2/Users", "response 200")}
    assert sorted(v.problem for v in violations) == [
        f"Resources.{n}: Field 'id' has returnability 'always' but value is missing or null" for n in range(3)
    ]
    with pytest.raises(
        pytest.fail.Exception, match=r"GET /scim/v2/Users \(response 200\): Resources\.0: Field 'id'"
    ):
        scim_payloads.raise_if_violated()
    scim_payloads.clear()


def test_payload_plugin_catches_a_request_a_scim_server_would_refuse(
    emu: TeamViewerEmulator, scim_payloads: ScimPayloadLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An emulator that accepted an undeclared extension (as this one used to) fails the test."""
    monkeypatch.setattr(teamviewer_module, "_scim_user_body", teamviewer_module._scim_json_object)
    response = http(emu).post("/scim/v2/Users", json={"schemas": [SCIM_USER_SCHEMA], **SSO_BODY})
    assert response.status_code == 201
    [violation] = scim_payloads.violations
    assert (violation.method, violation.body) == ("POST", "request")
    assert f"{SSO_USER_SCHEMA} attributes are present but schemas does not name it" in violation.problem
    scim_payloads.clear()


def test_payload_plugin_sees_loopback_server_threads(
    scim_payloads: ScimPayloadLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loopback servers dispatch from their own threads; the plugin sees those exchanges too."""
    app = TeamViewerEmulator(TOKEN)
    monkeypatch.setattr(teamviewer_module, "SCIM_CONTENT_TYPE", "text/html")
    with serve(app) as server, httpx.Client(base_url=server.url, headers=AUTH, timeout=2.0) as client:
        assert client.get("/scim/v2/Users/u1000001").status_code == 200
    [violation] = scim_payloads.violations
    assert violation.path == "/scim/v2/Users/u1000001"
    assert "Content-Type 'text/html'" in violation.problem
    scim_payloads.clear()


def test_payload_plugin_passes_faults_and_documented_v1_rate_limits(scim_payloads: ScimPayloadLog) -> None:
    """Not SCIM bodies by design: a faulted answer and [PDF] §5.1's 403 rate_limit_reached."""
    app = TeamViewerEmulator(
        TOKEN,
        rate_limit=RateLimit(requests_per_second=1, burst=1, style="403"),
        clock=SettableMonotonic(1000.0),
    )
    client = http(app)
    assert client.get("/scim/v2/Users").status_code == 200
    assert client.get("/scim/v2/Users").status_code == 403
    app.rate_limit = None
    app.faults = FaultPolicy(failure_rate=1.0, kinds=(FaultKind.SERVER_ERROR,))
    assert client.get("/scim/v2/Users").status_code in {500, 502, 503}
    assert scim_payloads.checked == 2, "the faulted answer is not even looked at"
    assert scim_payloads.violations == []
