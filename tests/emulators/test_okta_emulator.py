"""Fidelity of the Okta emulator: each test pins one behaviour to its reference fact.

Tags name the sources in docs/sources.md: [SPEC] management OpenAPI spec, [CORE] core API
reference (auth, pagination, errors, filter expressions), [RL] rate limits. Error codes no
tagged source spells out follow Okta's published error-code list.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support.fakes import SettableMonotonic
from tests.support.okta_links import walk
from tvsync.emulators.http import FaultKind, FaultPolicy, InjectedFault, serve
from tvsync.emulators.okta import OktaEmulator, OktaRateLimit
from tvsync.emulators.teamviewer import TeamViewerEmulator

if TYPE_CHECKING:
    from collections.abc import Iterator

TOKEN = "okta-test-token"
ORG = "https://acme.okta.test"
AUTH = {"Authorization": f"SSWS {TOKEN}"}
APP = "0oaTeamViewerApp0h7"


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


def seed_users(emu: OktaEmulator, count: int) -> list[str]:
    return [emu.add_user(f"user{i}@example.com", f"First{i}", f"Last{i}")["id"] for i in range(count)]


# ---------------------------------------------------------------- users: shape and 404


def test_user_object_has_okta_shape(emu: OktaEmulator, http: httpx.Client) -> None:
    """[SPEC] GET /api/v1/users/{id}: id, status, timestamps, type, profile, credentials, _links."""
    user = emu.add_user("iron.man@stark.com", "Tony", "Stark")
    body = http.get(f"/api/v1/users/{user['id']}").json()

    assert re.fullmatch(r"00u[0-9A-Za-z]{17}", body["id"])
    assert body["status"] == "ACTIVE"
    for key in ("created", "activated", "statusChanged", "lastUpdated"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body[key]), key
    assert body["lastLogin"] is None
    assert body["type"]["id"].startswith("oty")
    assert body["profile"] == {
        "login": "iron.man@stark.com",
        "email": "iron.man@stark.com",
        "firstName": "Tony",
        "lastName": "Stark",
        "displayName": "Tony Stark",
    }
    assert body["credentials"]["provider"] == {"type": "OKTA", "name": "OKTA"}
    assert body["_links"]["self"]["href"] == f"{ORG}/api/v1/users/{user['id']}"


def test_ids_are_deterministic_and_ordered() -> None:
    first, second = OktaEmulator(), OktaEmulator()
    ids_a = seed_users(first, 70)
    ids_b = seed_users(second, 70)
    assert ids_a == ids_b
    assert ids_a == sorted(ids_a)
    assert len(set(ids_a)) == 70


@pytest.mark.parametrize(
    ("status", "activated"),
    [("ACTIVE", True), ("STAGED", False), ("PROVISIONED", False), ("SUSPENDED", True)],
)
def test_activated_timestamp_follows_status(
    emu: OktaEmulator, http: httpx.Client, status: str, activated: bool
) -> None:
    """[SPEC] STAGED and PROVISIONED users have not been activated yet."""
    user = emu.add_user("a@example.com", "A", "B", status=status)
    body = http.get(f"/api/v1/users/{user['id']}").json()
    assert body["status"] == status
    assert (body["activated"] is not None) is activated


def test_user_readable_by_login(emu: OktaEmulator, http: httpx.Client) -> None:
    """[SPEC] the id path parameter also accepts the login."""
    user = emu.add_user("thor@avengers.org", "Thor", "Odinson")
    assert http.get("/api/v1/users/thor@avengers.org").json()["id"] == user["id"]


@pytest.mark.parametrize("kind", ["unknown", "deleted"])
def test_missing_user_answers_okta_404_body(emu: OktaEmulator, http: httpx.Client, kind: str) -> None:
    """[SPEC] unknown resources answer 404 E0000007 naming the resource type."""
    user_id = "00uNoSuchUser0000000"
    if kind == "deleted":
        user_id = emu.add_user("gone@example.com", "Gone", "User", status="DEPROVISIONED")["id"]
        emu.delete_user(user_id)
    response = http.get(f"/api/v1/users/{user_id}")

    assert response.status_code == 404
    body = response.json()
    assert body["errorCode"] == "E0000007"
    assert body["errorSummary"] == f"Not found: Resource not found: {user_id} (User)"
    assert body["errorLink"] == "E0000007"
    assert re.fullmatch(r"oae[0-9A-Za-z]{22}", body["errorId"])
    assert body["errorCauses"] == []


def test_deprovisioned_user_is_still_readable_by_id(emu: OktaEmulator, http: httpx.Client) -> None:
    user = emu.add_user("x@example.com", "X", "Y")
    emu.set_status(user["id"], "DEPROVISIONED")
    assert http.get(f"/api/v1/users/{user['id']}").json()["status"] == "DEPROVISIONED"


def test_update_profile_and_status_change_timestamps(
    emu: OktaEmulator, http: httpx.Client, clock: SettableMonotonic
) -> None:
    user = emu.add_user("old@example.com", "Old", "Name", status="STAGED")
    clock.now += 60
    emu.update_profile(user["id"], email="new@example.com", lastName="New")
    emu.set_status(user["id"], "ACTIVE")
    body = http.get(f"/api/v1/users/{user['id']}").json()
    assert body["profile"]["email"] == "new@example.com"
    assert body["profile"]["lastName"] == "New"
    assert body["statusChanged"] != body["created"]
    assert body["activated"] == body["statusChanged"]
    assert emu.users()[0]["profile"]["email"] == "new@example.com"


def test_seeding_rejects_duplicates(emu: OktaEmulator) -> None:
    user = emu.add_user("dup@example.com", "D", "U")
    with pytest.raises(ValueError, match="already exists"):
        emu.add_user("DUP@example.com", "D", "U")
    with pytest.raises(ValueError, match="already exists"):
        emu.add_user("other@example.com", "D", "U", user_id=user["id"])
    with pytest.raises(ValueError):
        emu.add_user("bad@example.com", "B", "S", status="NOT_A_STATUS")


# ---------------------------------------------------------------- auth


@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {TOKEN}", "SSWS wrong-token", "SSWS", f"SSWS  {TOKEN}", f"ssws {TOKEN}", TOKEN],
)
def test_requests_without_the_ssws_token_get_401(emu: OktaEmulator, authorization: str | None) -> None:
    """[CORE] API tokens go in ``Authorization: SSWS <token>``; anything else is E0000011."""
    user = emu.add_user("a@example.com", "A", "B")
    headers = {} if authorization is None else {"Authorization": authorization}
    with httpx.Client(base_url=ORG, transport=emu.transport(), headers=headers) as client:
        response = client.get(f"/api/v1/users/{user['id']}")
    assert response.status_code == 401
    assert response.json()["errorCode"] == "E0000011"
    assert response.json()["errorSummary"] == "Invalid token provided"


def test_custom_token(clock: SettableMonotonic) -> None:
    emu = OktaEmulator("another-token", clock=clock)
    user = emu.add_user("a@example.com", "A", "B")
    with httpx.Client(base_url=ORG, transport=emu.transport()) as client:
        ok = client.get(f"/api/v1/users/{user['id']}", headers={"Authorization": "SSWS another-token"})
        refused = client.get(f"/api/v1/users/{user['id']}", headers=AUTH)
    assert (ok.status_code, refused.status_code) == (200, 401)


def test_forbidden_prefix_answers_403(emu: OktaEmulator, http: httpx.Client) -> None:
    emu.add_app(APP)
    emu.forbid("/api/v1/apps/")
    response = http.get(f"/api/v1/apps/{APP}/users")
    assert response.status_code == 403
    assert response.json()["errorCode"] == "E0000006"
    assert http.get("/api/v1/users").status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_only_reads_are_emulated(http: httpx.Client, method: str) -> None:
    assert http.request(method, "/api/v1/users").status_code == 405


def test_unknown_endpoint_is_404(http: httpx.Client) -> None:
    assert http.get("/api/v1/nothing/here").json()["errorCode"] == "E0000007"


# ---------------------------------------------------------------- app users


def test_app_user_shape_and_404s(emu: OktaEmulator, http: httpx.Client) -> None:
    """[SPEC] AppUser: id, externalId, scope, status, syncState, credentials.userName, profile, _links."""
    user = emu.add_user("a@example.com", "A", "B")
    other = emu.add_user("b@example.com", "B", "C")
    emu.assign(APP, user["id"], scope="GROUP")

    body = http.get(f"/api/v1/apps/{APP}/users/{user['id']}").json()
    assert body["id"] == user["id"]
    assert body["scope"] == "GROUP"
    assert body["status"] == "ACTIVE"
    assert body["credentials"] == {"userName": "a@example.com"}
    assert {"externalId", "created", "lastUpdated", "syncState", "profile"} <= body.keys()
    assert body["_links"]["user"]["href"] == f"{ORG}/api/v1/users/{user['id']}"
    assert body["_links"]["app"]["href"] == f"{ORG}/api/v1/apps/{APP}"
    assert "_embedded" not in body

    missing = http.get(f"/api/v1/apps/{APP}/users/{other['id']}")
    assert missing.status_code == 404
    assert missing.json()["errorSummary"] == f"Not found: Resource not found: {other['id']} (AppUser)"

    emu.unassign(APP, user["id"])
    assert http.get(f"/api/v1/apps/{APP}/users/{user['id']}").status_code == 404
    assert http.get(f"/api/v1/apps/0oaOther/users/{user['id']}").status_code == 404


def test_assignment_status_changes(emu: OktaEmulator, http: httpx.Client) -> None:
    user = emu.add_user("a@example.com", "A", "B")
    emu.assign(APP, user["id"])
    emu.assign(APP, user["id"], status="SUSPENDED")
    assert http.get(f"/api/v1/apps/{APP}/users/{user['id']}").json()["status"] == "SUSPENDED"


@pytest.mark.parametrize(("keep", "expected"), [(False, 404), (True, 200)])
def test_deactivation_deprovisions_app_assignments(
    emu: OktaEmulator, http: httpx.Client, keep: bool, expected: int
) -> None:
    """[SPEC] deactivate -> DEPROVISIONED and deprovisioned from all apps (knob for the unknown)."""
    user = emu.add_user("a@example.com", "A", "B")
    emu.assign(APP, user["id"])
    emu.set_status(user["id"], "DEPROVISIONED", keep_assignments=keep)
    assert http.get(f"/api/v1/apps/{APP}/users/{user['id']}").status_code == expected


def test_app_users_list_default_and_max_limit(emu: OktaEmulator, http: httpx.Client) -> None:
    """[SPEC] app users: default limit 50, max 500."""
    for user_id in seed_users(emu, 520):
        emu.assign(APP, user_id)
    first = http.get(f"/api/v1/apps/{APP}/users")
    assert len(first.json()) == 50
    assert "next" in first.links
    clamped = http.get(f"/api/v1/apps/{APP}/users", params={"limit": "1000"})
    assert len(clamped.json()) == 500


def test_app_users_expand_embeds_the_user(emu: OktaEmulator, http: httpx.Client) -> None:
    """[SPEC] expand=user puts the user object under _embedded.user."""
    ids = seed_users(emu, 3)
    for user_id in ids:
        emu.assign(APP, user_id)
    items, _ = walk(http, f"/api/v1/apps/{APP}/users?expand=user&limit=2")
    assert [item["id"] for item in items] == ids
    for item in items:
        embedded = item["_embedded"]
        assert isinstance(embedded, dict)
        assert embedded["user"]["id"] == item["id"]
        assert embedded["user"]["profile"]["email"].endswith("@example.com")
    single = http.get(f"/api/v1/apps/{APP}/users/{ids[0]}", params={"expand": "user"}).json()
    assert single["_embedded"]["user"]["id"] == ids[0]


def test_unknown_app_list_is_404(http: httpx.Client) -> None:
    response = http.get("/api/v1/apps/0oaMissing/users")
    assert response.status_code == 404
    assert response.json()["errorSummary"].endswith("(AppInstance)")


# ---------------------------------------------------------------- pagination


def test_users_pagination_walks_every_user_once(emu: OktaEmulator, http: httpx.Client) -> None:
    """[CORE] cursor ``after`` + Link rel="self"/rel="next" until the last page; default 200 [SPEC]."""
    ids = seed_users(emu, 450)
    items, responses = walk(http, "/api/v1/users")
    assert [item["id"] for item in items] == ids
    assert [len(r.json()) for r in responses] == [200, 200, 50]
    assert responses[0].links["self"]["url"] == f"{ORG}/api/v1/users"
    assert responses[0].links["next"]["url"] == f"{ORG}/api/v1/users?after={ids[199]}&limit=200"
    assert "next" not in responses[-1].links
    assert "self" in responses[-1].links


def test_exact_multiple_of_page_size_has_no_empty_trailing_page(
    emu: OktaEmulator, http: httpx.Client
) -> None:
    seed_users(emu, 20)
    _, responses = walk(http, "/api/v1/users?limit=10")
    assert [len(r.json()) for r in responses] == [10, 10]


def test_cursor_survives_deletion_between_pages(emu: OktaEmulator, http: httpx.Client) -> None:
    ids = seed_users(emu, 10)
    first = http.get("/api/v1/users", params={"limit": "5"})
    emu.delete_user(ids[4])  # the cursor's own user
    rest = http.get(first.links["next"]["url"]).json()
    assert [u["id"] for u in rest] == ids[5:]


@pytest.mark.parametrize("parameter", ["filter", "search"])
def test_next_link_keeps_filter_and_search(emu: OktaEmulator, http: httpx.Client, parameter: str) -> None:
    """[CORE] the next link carries the query, so page two is still the filtered or searched list."""
    ids = seed_users(emu, 9)
    for user_id in ids[:6]:
        emu.set_status(user_id, "SUSPENDED")
    items, responses = walk(http, f'/api/v1/users?{parameter}=status eq "SUSPENDED"&limit=4')
    assert [item["id"] for item in items] == ids[:6]
    assert len(responses) == 2
    assert httpx.URL(responses[0].links["next"]["url"]).params[parameter] == 'status eq "SUSPENDED"'


@pytest.mark.parametrize("limit", ["0", "-1", "abc"])
def test_invalid_limit_is_400(http: httpx.Client, limit: str) -> None:
    response = http.get("/api/v1/users", params={"limit": limit})
    assert response.status_code == 400
    assert response.json()["errorCode"] == "E0000001"


# ---------------------------------------------------------------- list filters


@pytest.fixture
def mixed(emu: OktaEmulator) -> dict[str, str]:
    return {
        status: emu.add_user(f"{status.lower()}@example.com", "F", "L", status=status)["id"]
        for status in ("ACTIVE", "SUSPENDED", "DEPROVISIONED", "STAGED")
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"ACTIVE", "SUSPENDED", "STAGED"}),
        ({"filter": 'status eq "DEPROVISIONED"'}, {"DEPROVISIONED"}),
        ({"search": 'status eq "DEPROVISIONED"'}, {"DEPROVISIONED"}),
        ({"filter": 'status eq "ACTIVE"'}, {"ACTIVE"}),
        ({"filter": 'status eq "ACTIVE" or status eq "DEPROVISIONED"'}, {"ACTIVE", "DEPROVISIONED"}),
        ({"search": 'profile.email eq "staged@example.com"'}, {"STAGED"}),
        ({"search": 'status eq "STAGED" and profile.login eq "active@example.com"'}, set()),
    ],
)
def test_list_hides_deprovisioned_unless_filtered(
    http: httpx.Client, mixed: dict[str, str], params: dict[str, str], expected: set[str]
) -> None:
    """[SPEC] GET /api/v1/users omits DEPROVISIONED users unless filter or search is given."""
    body = http.get("/api/v1/users", params=params).json()
    assert {user["status"] for user in body} == expected


@pytest.mark.parametrize(
    "expression",
    [
        'status ne "ACTIVE"',
        "status eq ACTIVE",
        'status eq "A" and id eq "x" or id eq "y"',
        'lastUpdated eq "x"',
        'profile.displayName eq "Frank Fischer"',  # [SPEC] filter takes only seven properties
        'profile.Email eq "a@example.com"',  # [CORE] attribute names are case-sensitive
        'profile.email eq "a\\q@example.com"',  # [CORE] not a valid JSON string
        'profile.email eq "a@example.com" and',
    ],
)
def test_unsupported_filter_is_400(http: httpx.Client, expression: str) -> None:
    response = http.get("/api/v1/users", params={"filter": expression})
    assert response.status_code == 400
    assert response.json()["errorCode"] == "E0000031"


@pytest.fixture
def frank(emu: OktaEmulator) -> str:
    """A user whose login is not his email, so only ``profile.email`` can find him by email."""
    emu.add_user("someone.else@example.com", "Someone", "Else")
    return str(
        emu.add_user("Frank.Fischer@example.com", "Frank", "Fischer", login="ffischer@example.com")["id"]
    )


@pytest.mark.parametrize(
    ("parameter", "expression", "found"),
    [
        ("filter", 'profile.email eq "Frank.Fischer@example.com"', True),
        ("filter", 'profile.email eq "frank.fischer@example.com"', False),
        ("filter", 'profile.email EQ "Frank.Fischer@example.com"', True),
        ("filter", 'status eq "active"', False),
        ("search", 'profile.email eq "frank.fischer@example.com"', True),
        ("search", 'profile.email eq "FRANK.FISCHER@EXAMPLE.COM"', True),
        ("search", 'profile.email Eq "frank.fischer@example.com"', True),
        ("search", 'status eq "active" AND profile.lastName eq "FISCHER"', True),
        ("search", 'profile.Email eq "frank.fischer@example.com"', False),
        ("search", 'profile.email eq "frank.fischer@example.co"', False),
        ("search", 'profile.email eq "fränk.fischer@example.com"', False),
        ("search", 'profile.displayName eq "frank fischer"', True),
        ("search", 'profile.email eq "Frank.Fischer\\u0040example.com"', True),
    ],
)
def test_filter_values_are_case_sensitive_and_search_values_are_not(
    http: httpx.Client, frank: str, parameter: str, expression: str, found: bool
) -> None:
    """[SPEC] filter: "case-sensitive for property names and query values"; search: "Property names
    ... are case sensitive, whereas operators ... and string values are case insensitive", and
    "diacritical marks are significant". [CORE] operators are case-insensitive; literals are JSON.
    """
    response = http.get("/api/v1/users", params={parameter: expression})
    assert response.status_code == 200, response.text
    assert [user["id"] for user in response.json()] == ([frank] if found else [])


@pytest.mark.parametrize("parameter", ["filter", "search"])
def test_filter_and_search_results_include_deprovisioned_users(
    emu: OktaEmulator, http: httpx.Client, frank: str, parameter: str
) -> None:
    """[SPEC] "Returned users include those with the DEPROVISIONED status" (both parameters)."""
    emu.set_status(frank, "DEPROVISIONED")
    expression = 'profile.email eq "Frank.Fischer@example.com"'
    assert [u["id"] for u in http.get("/api/v1/users", params={parameter: expression}).json()] == [frank]
    assert frank not in [u["id"] for u in http.get("/api/v1/users").json()]


def test_string_literals_are_json_strings(emu: OktaEmulator, http: httpx.Client) -> None:
    """[CORE] "String literals must be valid JSON strings": quotes and backslashes are escaped."""
    odd = emu.add_user('"odd\\one"@example.com', "Odd", "One", login="odd@example.com")["id"]
    expression = 'profile.email eq "\\"ODD\\\\one\\"@example.com"'
    assert [u["id"] for u in http.get("/api/v1/users", params={"search": expression}).json()] == [odd]


def test_logical_operators_inside_a_value_stay_in_the_value(emu: OktaEmulator, http: httpx.Client) -> None:
    user = emu.add_user("smith@example.com", "Anna", "Smith and Jones or Brown")["id"]
    expression = 'profile.lastName eq "Smith and Jones or Brown" and status eq "ACTIVE"'
    assert [u["id"] for u in http.get("/api/v1/users", params={"filter": expression}).json()] == [user]


def test_filter_and_search_together_is_400(http: httpx.Client, frank: str) -> None:
    """Okta's error-code list: E0000033 "Can't specify a search query and filter in the same request"."""
    response = http.get(
        "/api/v1/users", params={"filter": 'status eq "ACTIVE"', "search": 'status eq "ACTIVE"'}
    )
    assert response.status_code == 400
    assert response.json()["errorCode"] == "E0000033"


# ---------------------------------------------------------------- rate limits


def test_rate_limit_headers_and_429(clock: SettableMonotonic) -> None:
    """[RL] X-Rate-Limit-Limit/-Remaining/-Reset (UTC epoch s) on every response; over -> 429 E0000047."""
    clock.now = 1000.5
    emu = OktaEmulator(clock=clock, rate_limit=OktaRateLimit(limit=3, window_seconds=60))
    with httpx.Client(base_url=ORG, transport=emu.transport(), headers=AUTH) as http:
        answers = [http.get("/api/v1/users") for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["X-Rate-Limit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
        assert {a.headers["X-Rate-Limit-Limit"] for a in answers} == {"3"}
        assert {a.headers["X-Rate-Limit-Reset"] for a in answers} == {"1020"}
        body = answers[-1].json()
        assert body["errorCode"] == "E0000047"
        assert body["errorSummary"] == "API call exceeded rate limit due to too many requests."
        assert emu.throttled == 1

        unauthorized = http.get("/api/v1/users", headers={"Authorization": "SSWS nope"})
        assert unauthorized.status_code == 429  # still the same exhausted window

        clock.now = 1020.0
        fresh = http.get("/api/v1/users")
        assert fresh.status_code == 200
        assert fresh.headers["X-Rate-Limit-Remaining"] == "2"
        assert fresh.headers["X-Rate-Limit-Reset"] == "1080"
        assert emu.throttled == 2


def test_errors_carry_rate_limit_headers_too(clock: SettableMonotonic) -> None:
    emu = OktaEmulator(clock=clock, rate_limit=OktaRateLimit(limit=5))
    with httpx.Client(base_url=ORG, transport=emu.transport(), headers=AUTH) as http:
        response = http.get("/api/v1/users/00uMissing")
    assert response.status_code == 404
    assert response.headers["X-Rate-Limit-Remaining"] == "4"


def test_no_rate_limit_means_no_headers(http: httpx.Client) -> None:
    assert "X-Rate-Limit-Limit" not in http.get("/api/v1/users").headers


@pytest.mark.parametrize(("limit", "window"), [(0, 60.0), (1, 0.0)])
def test_rate_limit_rejects_nonsense(limit: int, window: float) -> None:
    with pytest.raises(ValueError):
        OktaRateLimit(limit, window)


# ---------------------------------------------------------------- faults and call log


def outcomes(seed: int) -> list[str]:
    emu = OktaEmulator(faults=FaultPolicy(failure_rate=0.4, seed=seed))
    emu.add_user("a@example.com", "A", "B")
    results: list[str] = []
    with httpx.Client(base_url=ORG, transport=emu.transport(), headers=AUTH) as http:
        for _ in range(40):
            try:
                results.append(str(http.get("/api/v1/users").status_code))
            except httpx.TransportError as exc:
                results.append(type(exc).__name__)
    return results


def test_seeded_faults_are_reproducible() -> None:
    first, again, other = outcomes(7), outcomes(7), outcomes(8)
    assert first == again
    assert first != other
    assert "200" in first
    assert set(first) - {"200"}, "a 40% failure rate must inject something"


@pytest.mark.parametrize(("after_apply", "status", "remaining"), [(True, 200, "1"), (False, None, "2")])
def test_after_apply_faults_are_served_but_lost(
    clock: SettableMonotonic, after_apply: bool, status: int | None, remaining: str
) -> None:
    """A dropped answer after the app ran is still served: logged with its status, quota spent."""
    policy = FaultPolicy(
        failure_rate=1.0, kinds=(FaultKind.DROP,), after_apply_share=1.0 if after_apply else 0.0
    )
    emu = OktaEmulator(clock=clock, faults=policy, rate_limit=OktaRateLimit(limit=3))
    with httpx.Client(base_url=ORG, transport=emu.transport(), headers=AUTH) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            http.get("/api/v1/users")
        record = emu.calls[-1]
        assert record.status == status
        assert record.fault is not None
        assert record.fault.after_apply is after_apply
        emu.faults = FaultPolicy()
        assert http.get("/api/v1/users").headers["X-Rate-Limit-Remaining"] == remaining


def test_server_error_fault_does_not_run_the_app(clock: SettableMonotonic) -> None:
    policy = FaultPolicy(failure_rate=1.0, kinds=(FaultKind.SERVER_ERROR,))
    emu = OktaEmulator(clock=clock, faults=policy)
    with httpx.Client(base_url=ORG, transport=emu.transport(), headers=AUTH) as http:
        assert http.get("/api/v1/users").status_code >= 500
    assert emu.calls[-1].status is None
    assert emu.calls[-1].fault is not None


@pytest.mark.parametrize("loopback", [False, True], ids=["in-process", "loopback"])
def test_server_error_fault_answers_with_okta_error_body(loopback: bool) -> None:
    """[CORE] every error is Okta's JSON error object, injected 5xx included: E0000009 for a 500
    ("Internal Server Error"), E0000010 for a 503, per Okta's error-code list."""
    emu = OktaEmulator(faults=FaultPolicy(failure_rate=1.0, seed=4, kinds=(FaultKind.SERVER_ERROR,)))
    expected = {
        500: ("E0000009", "Internal Server Error"),
        502: ("E0000009", "Internal Server Error"),  # Okta lists no 502 code
        503: ("E0000010", "Service is in read only mode"),
    }
    with serve(emu) as server:
        base_url, transport = (server.url, None) if loopback else (ORG, emu.transport())
        with httpx.Client(base_url=base_url, transport=transport, headers=AUTH) as http:
            answers = [http.get("/api/v1/users") for _ in range(12)]
    assert {a.status_code for a in answers} == set(expected), "the seed must draw every status"
    for answer in answers:
        body = answer.json()
        assert (body["errorCode"], body["errorSummary"]) == expected[answer.status_code]
        assert body["errorLink"] == body["errorCode"]
        assert re.fullmatch(r"oae[0-9A-Za-z]{22}", body["errorId"])
        assert body["errorCauses"] == []
        assert "error" not in body and "error_description" not in body
    assert len({a.json()["errorId"] for a in answers}) == len(answers)


def test_teamviewer_emulator_keeps_its_own_injected_error_body() -> None:
    """The body of an injected fault is each app's to choose; TeamViewer's stays its v1 body."""
    fault = InjectedFault(kind=FaultKind.SERVER_ERROR, after_apply=False, status=502)
    response = TeamViewerEmulator().injected_server_error(fault)
    assert (response.status, response.body) == (
        502,
        {"error": "internal_error", "error_description": "Injected server error", "error_code": 502},
    )
    assert OktaEmulator().injected_server_error(fault).body["errorCode"] == "E0000009"


def test_call_log_records_requests(emu: OktaEmulator, http: httpx.Client, clock: SettableMonotonic) -> None:
    http.get("/api/v1/users", params={"limit": "5"})
    http.get("/api/v1/users/00uMissing")
    assert [(c.method, c.path, dict(c.query), c.status, c.fault) for c in emu.calls] == [
        ("GET", "/api/v1/users", {"limit": "5"}, 200, None),
        ("GET", "/api/v1/users/00uMissing", {}, 404, None),
    ]
    assert emu.calls[0].time == clock.now
    emu.reset_calls()
    assert emu.calls == []


# ---------------------------------------------------------------- real loopback HTTP


def test_over_loopback_http() -> None:
    emu = OktaEmulator()
    ids = seed_users(emu, 5)
    emu.add_user("ironman@stark.com", "Tony", "Stark")
    with serve(emu) as server, httpx.Client(base_url=server.url, headers=AUTH) as http:
        assert http.get(f"/api/v1/users/{ids[0]}").json()["id"] == ids[0]
        assert http.get("/api/v1/users/ironman%40stark.com").json()["profile"]["lastName"] == "Stark"
        missing = http.get("/api/v1/users/00uMissing")
        assert missing.status_code == 404
        assert missing.json()["errorCode"] == "E0000007"
        assert http.get("/api/v1/users", headers={"Authorization": "SSWS x"}).status_code == 401
        items, responses = walk(http, "/api/v1/users?limit=2")
        assert len(items) == 6
        assert responses[0].links["next"]["url"].startswith(f"{server.url}/api/v1/users?")


def test_timeout_fault_over_loopback_http() -> None:
    emu = OktaEmulator(faults=FaultPolicy(failure_rate=1.0, kinds=(FaultKind.TIMEOUT,), timeout_delay=0.4))
    timeout = httpx.Timeout(1.0, read=0.15)
    with serve(emu) as server, httpx.Client(base_url=server.url, headers=AUTH, timeout=timeout) as http:
        with pytest.raises(httpx.ReadTimeout):
            http.get("/api/v1/users")


def test_bulk_seeding_follows_add_user_rules_in_one_pass() -> None:
    emulator = OktaEmulator()
    ids = emulator.add_users(
        [("a@example.com", "A", "Person"), ("b@example.com", None, None)], status="STAGED"
    )
    users = {u["id"]: u for u in emulator.users()}
    assert [users[i]["profile"]["login"] for i in ids] == ["a@example.com", "b@example.com"]
    assert {users[i]["status"] for i in ids} == {"STAGED"} and users[ids[0]]["activated"] is None
    assert users[ids[0]]["profile"]["displayName"] == "A Person"
    with pytest.raises(ValueError, match="already exists"):
        emulator.add_users([("A@example.com", "A", "Again")])
    with pytest.raises(ValueError, match="already exists"):
        emulator.add_user("B@example.com", "B", "Again")
