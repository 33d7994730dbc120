"""The TeamViewer client against a real SCIM 2.0 server, and the emulator held beside it.

``scim2-server`` (see ``tests.contracts.scim_server``) is an implementation of RFC 7643/7644
that owes our client nothing. Every SCIM operation the product performs runs against it
here, over loopback HTTP, exactly as the worker and the reconciler call it: create (with
and without [SCIM]'s SsoUser extension), the exact and the case-insensitive lookup, read,
activate, deactivate, rename, change of email, a paged listing with short pages, and a
taken email. It was this server that showed the client stopping at the first short page
and failing on a user without ``active``.

Where the emulator and the real server can both be asked the same wrong question, they must
refuse it the same way (``test_the_emulator_refuses_what_scim2_server_refuses``).

What the real server does differently from the emulator, and why each stays:

- ``userName eq`` ignores case: RFC 7643 makes ``userName`` ``caseExact: false``, while
  [SCIM] documents TeamViewer's filter as case-sensitive. The emulator keeps TeamViewer's
  behaviour; the client handles both (``test_find_by_email_in_another_case``).
- PATCH answers 204 without a body (RFC 7644 §3.5.2 allows it); [SCIM] documents 200 with
  the user, which the emulator sends. The client accepts both.
- Ids are opaque hex strings, not TeamViewer's ``u1234567``; the client never parses them.
- An extension attribute whose schema is missing from ``schemas`` is accepted (and the
  schema added to the answer). RFC 7643 §3 says ``schemas`` names the schemas of the
  attributes present; the emulator refuses such a body, the stricter reading.
- ``Operations: []`` is refused as ``invalidValue``; the emulator says ``invalidSyntax``.
  RFC 7644 names neither for it; both are 400s, which the client treats alike.
- A list without ``count`` gets the server's page size; [SCIM] promises "all items", which
  the emulator's page cap (on by default) now also declines to deliver.

Addresses use ``example.com``: ``scim2-server`` validates emails, and ``.test`` is a
special-use domain that email-validator refuses outside a test environment.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.contracts.scim_server import SCIM_TOKEN, ScimServer, quiet_werkzeug, start_scim_server
from tvsync.adapters.errors import AuthError, ConflictError, InvalidError
from tvsync.adapters.teamviewer_client import (
    PATCH_OP_SCHEMA,
    SCIM_USER_SCHEMA,
    SSO_USER_SCHEMA,
    TeamViewerClient,
)
from tvsync.core.desired_state import DesiredAccount, DesiredReason, Presence
from tvsync.core.plan import Operation, plan_changes, to_update
from tvsync.emulators.teamviewer import TeamViewerEmulator
from tvsync.models.teamviewer import TeamViewerAccount

if TYPE_CHECKING:
    from collections.abc import Iterator

TIMEOUT = httpx.Timeout(5.0)
PAGE_LIMIT = 3


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    yield from quiet_werkzeug()


@pytest.fixture
def server() -> Iterator[ScimServer]:
    with start_scim_server(max_page_size=PAGE_LIMIT) as running:
        yield running


@pytest.fixture
def client(server: ScimServer) -> Iterator[TeamViewerClient]:
    with TeamViewerClient(server.url, lambda: SCIM_TOKEN, timeout=TIMEOUT) as tv:
        yield tv


@pytest.fixture
def raw(server: ScimServer) -> Iterator[httpx.Client]:
    """Plain HTTP to the server, to see what it stored rather than what the client made of it."""
    headers = {"Authorization": f"Bearer {SCIM_TOKEN}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=TIMEOUT) as http:
        yield http


def stored(raw: httpx.Client, user_id: str) -> dict[str, Any]:
    response = raw.get(f"/scim/v2/Users/{user_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def seed(raw: httpx.Client, email: str, name: str, *, active: bool | None = True) -> str:
    """A user created behind the client's back; ``active=None`` leaves the attribute out."""
    user: dict[str, Any] = {"schemas": [SCIM_USER_SCHEMA], "userName": email, "displayName": name}
    if active is not None:
        user["active"] = active
    response = raw.post("/scim/v2/Users", json=user)
    assert response.status_code == 201, response.text
    user_id: str = response.json()["id"]
    return user_id


# ---------------------------------------------------------------------- create


def test_create_returns_the_account_the_server_stored(client: TeamViewerClient, raw: httpx.Client) -> None:
    account = client.create("New.Person@example.com", "New Person", language="de")
    assert (account.email, account.name, account.active) == ("New.Person@example.com", "New Person", True)
    body = stored(raw, account.id)
    assert body["userName"] == "New.Person@example.com"
    assert body["displayName"] == "New Person"
    assert body["active"] is True
    assert body["emails"] == [{"value": "New.Person@example.com", "primary": True}]
    assert SSO_USER_SCHEMA not in body


def test_create_with_sso_declares_and_sends_the_extension(server: ScimServer, raw: httpx.Client) -> None:
    """[SCIM] example #2: the SsoUser extension, named in ``schemas``, carries ssoCustomerId."""
    with TeamViewerClient(
        server.url, lambda: SCIM_TOKEN, sso_customer_id="a1b2bc4d5e6f7", timeout=TIMEOUT
    ) as tv:
        account = tv.create("sso.person@example.com", "Sso Person")
    body = stored(raw, account.id)
    assert SSO_USER_SCHEMA in body["schemas"]
    assert body[SSO_USER_SCHEMA] == {"ssoCustomerId": "a1b2bc4d5e6f7"}


# ---------------------------------------------------------------------- lookups


def test_find_by_email_exact(client: TeamViewerClient) -> None:
    created = client.create("Jane.Doe@example.com", "Jane Doe")
    assert client.find_by_email("Jane.Doe@example.com") == created
    assert client.find_by_email("nobody@example.com") is None


def test_find_by_email_in_another_case(client: TeamViewerClient) -> None:
    """RFC 7643: ``userName`` is caseExact false, so this server's ``eq`` ignores case
    (TeamViewer's does not, [SCIM]); the client takes the account either way.
    """
    created = client.create("Jane.Doe@example.com", "Jane Doe")
    assert client.find_by_email("jane.doe@EXAMPLE.com") == created


def test_find_by_email_casefold_walks_every_short_page(
    server: ScimServer, client: TeamViewerClient, raw: httpx.Client
) -> None:
    """The scan before a deactivation, against a server that caps pages below the client's count:
    an account on the last page is found (stopping at the first short page would miss it).
    """
    for n in range(8):
        seed(raw, f"User{n}@Example.com", f"User {n}")
    last_page = raw.get("/scim/v2/Users", params={"startIndex": "7", "count": "3"}).json()["Resources"]
    target = last_page[-1]
    server.reset_requests()
    found = client.find_by_email_casefold(target["userName"].upper())
    assert found is not None
    assert found.id == target["id"]
    assert [r.query["startIndex"] for r in server.requests] == ["1", "4", "7"]


def test_get(client: TeamViewerClient) -> None:
    created = client.create("Jane.Doe@example.com", "Jane Doe")
    assert client.get(created.id) == created
    assert client.get("0123456789abcdef0123456789abcdef") is None


# ---------------------------------------------------------------------- updates


def test_deactivate_and_activate(client: TeamViewerClient, raw: httpx.Client) -> None:
    """SCIM cannot delete ([SCIM], [ENTRA-KB]): revocation is ``active: false`` by PATCH."""
    created = client.create("Jane.Doe@example.com", "Jane Doe")
    client.update(created.id, active=False)
    assert stored(raw, created.id)["active"] is False
    assert client.get(created.id) == created.model_copy(update={"active": False})
    client.update(created.id, active=True)
    assert stored(raw, created.id)["active"] is True


def test_rename(client: TeamViewerClient, raw: httpx.Client) -> None:
    created = client.create("Jane.Doe@example.com", "Jane Doe")
    client.update(created.id, name="Janet Doe")
    assert stored(raw, created.id)["displayName"] == "Janet Doe"
    account = client.get(created.id)
    assert account is not None and account.name == "Janet Doe"


def test_change_email(client: TeamViewerClient, raw: httpx.Client) -> None:
    created = client.create("Jane.Doe@example.com", "Jane Doe")
    client.update(created.id, email="Jane.Smith@example.com")
    assert stored(raw, created.id)["userName"] == "Jane.Smith@example.com"
    assert client.find_by_email("Jane.Smith@example.com") == created.model_copy(
        update={"email": "Jane.Smith@example.com"}
    )


def test_one_update_sends_every_field_in_one_patch(
    server: ScimServer, client: TeamViewerClient, raw: httpx.Client
) -> None:
    created = client.create("Jane.Doe@example.com", "Jane Doe")
    client.update(created.id, active=False)
    server.reset_requests()
    client.update(created.id, active=True, name="Janet Doe", email="janet@example.com")
    assert [(r.method, r.path) for r in server.requests] == [("PATCH", f"/scim/v2/Users/{created.id}")]
    body = stored(raw, created.id)
    assert (body["active"], body["displayName"], body["userName"]) == (True, "Janet Doe", "janet@example.com")


# ---------------------------------------------------------------------- paging


@pytest.mark.parametrize("page_size", [100, 2, 3], ids=["count-above-limit", "below", "equal"])
def test_listing_with_short_pages_sees_the_whole_company(
    server: ScimServer, client: TeamViewerClient, raw: httpx.Client, page_size: int
) -> None:
    """The server gives at most 3 users a page whatever the client asks (RFC 7644 §3.4.2.4)."""
    ids = [seed(raw, f"user{n}@example.com", f"User {n}") for n in range(8)]
    server.reset_requests()
    listed = [account.id for account in client.iter_users(page_size)]
    assert sorted(listed) == sorted(ids)
    assert len(listed) == len(set(listed)) == 8
    expected_pages = -(-8 // min(page_size, PAGE_LIMIT))
    assert len(server.requests) == expected_pages


# ---------------------------------------------------------------------- conflicts and errors


@pytest.mark.parametrize(
    "taken", ["Jane.Doe@example.com", "JANE.DOE@example.com"], ids=["same-case", "other-case"]
)
def test_a_taken_user_name_is_a_conflict(client: TeamViewerClient, raw: httpx.Client, taken: str) -> None:
    """RFC 7644 §3.3: 409 uniqueness — the client's ConflictError, never retried."""
    first = client.create("Jane.Doe@example.com", "Jane Doe")
    other = client.create("john.roe@example.com", "John Roe")
    with pytest.raises(ConflictError) as created:
        client.create(taken, "Jane Again")
    assert created.value.retryable is False
    with pytest.raises(ConflictError):
        client.update(other.id, email=taken)
    assert stored(raw, other.id)["userName"] == "john.roe@example.com"
    assert sorted(a.id for a in client.iter_users()) == sorted([first.id, other.id])


def test_wrong_token_is_an_auth_error(server: ScimServer) -> None:
    with TeamViewerClient(server.url, lambda: "not-the-token", timeout=TIMEOUT) as tv:
        with pytest.raises(AuthError) as caught:
            tv.find_by_email("jane@example.com")
    assert caught.value.status == 401
    assert "not-the-token" not in str(caught.value)


def test_an_unknown_user_cannot_be_deactivated(client: TeamViewerClient) -> None:
    with pytest.raises(InvalidError) as caught:
        client.update("0123456789abcdef0123456789abcdef", active=False)
    assert caught.value.status == 404


# ---------------------------------------------------------------------- optional `active`


def test_a_user_without_active_is_read_as_unknown_and_still_revoked(
    client: TeamViewerClient, raw: httpx.Client
) -> None:
    """RFC 7643 §4.1.1: ``active`` is optional. One such user must not make the company
    unreadable, and a revocation must still reach it (the plan's rule for unknown).
    """
    seed(raw, "known@example.com", "Known User")
    unknown = seed(raw, "unknown@example.com", "Unknown State", active=None)
    seed(raw, "other@example.com", "Other User", active=False)
    states = {account.email: account.active for account in client.iter_users()}
    assert states == {"known@example.com": True, "unknown@example.com": None, "other@example.com": False}
    current = client.get(unknown)
    assert current == TeamViewerAccount(
        id=unknown, email="unknown@example.com", name="Unknown State", active=None
    )

    revoked = DesiredAccount(
        Presence.INACTIVE, email="unknown@example.com", name=None, reason=DesiredReason.SUSPENDED
    )
    plan = plan_changes(revoked, current, token_owner_id=None)
    assert plan.operations == (Operation.DEACTIVATE,)
    update = to_update(plan)
    assert update is not None
    client.update(unknown, active=update.active, name=update.name, email=update.email)
    assert stored(raw, unknown)["active"] is False


# ---------------------------------------------------------------------- emulator beside the real server

EMULATOR_TOKEN = "tv-contract-token"


def _patch(schema: str) -> dict[str, Any]:
    return {"schemas": [schema], "Operations": [{"op": "replace", "path": "active", "value": False}]}


REFUSALS: dict[str, tuple[str, str, dict[str, str], Any]] = {
    "patch-with-the-doc-example-urn": (
        "PATCH",
        "/scim/v2/Users/{id}",
        {},
        _patch("urn:ietf:params:scim:schemas:core:2.0:PatchOp"),
    ),
    "write-that-is-not-json": (
        "POST",
        "/scim/v2/Users",
        {"Content-Type": "text/plain"},
        {"schemas": [SCIM_USER_SCHEMA], "userName": "x@example.com", "displayName": "X Y"},
    ),
    "empty-filter": ("GET", "/scim/v2/Users?filter=", {}, None),
    "unknown-attribute": (
        "POST",
        "/scim/v2/Users",
        {},
        {
            "schemas": [SCIM_USER_SCHEMA],
            "userName": "x@example.com",
            "displayName": "X Y",
            "favouriteColour": "b",
        },
    ),
    "unknown-extension-schema": (
        "POST",
        "/scim/v2/Users",
        {},
        {
            "schemas": [SCIM_USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "userName": "x@example.com",
            "displayName": "X Y",
        },
    ),
    "no-user-name": (
        "POST",
        "/scim/v2/Users",
        {},
        {"schemas": [SCIM_USER_SCHEMA], "displayName": "X Y", "emails": [{"value": "x@example.com"}]},
    ),
    "taken-user-name": (
        "POST",
        "/scim/v2/Users",
        {},
        {"schemas": [SCIM_USER_SCHEMA], "userName": "Jane.Doe@example.com", "displayName": "Jane Doe"},
    ),
    "count-not-an-integer": ("GET", "/scim/v2/Users?count=two", {}, None),
    "unknown-user": ("GET", "/scim/v2/Users/{missing}", {}, None),
    "patch-with-a-non-boolean-active": (
        "PATCH",
        "/scim/v2/Users/{id}",
        {},
        {"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": "maybe"}]},
    ),
}


def _outcome(
    http: httpx.Client, user_id: str, missing: str, case: tuple[str, str, dict[str, str], Any]
) -> Any:
    method, path, headers, body = case
    content = None if body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/scim+json", **headers} if content is not None else headers
    response = http.request(
        method, path.format(id=user_id, missing=missing), content=content, headers=all_headers
    )
    answer = response.json() if response.content else {}
    return response.status_code, answer.get("scimType")


@pytest.mark.parametrize("name", REFUSALS)
def test_the_emulator_refuses_what_scim2_server_refuses(raw: httpx.Client, name: str) -> None:
    """Same wrong request, same answer (status and scimType) from the emulator and the real server."""
    emulator = TeamViewerEmulator(EMULATOR_TOKEN)
    with httpx.Client(
        base_url="http://tv.test",
        transport=emulator.transport(),
        headers={"Authorization": f"Bearer {EMULATOR_TOKEN}"},
    ) as fake:
        fake_id = fake.post(
            "/scim/v2/Users",
            json={
                "schemas": [SCIM_USER_SCHEMA],
                "userName": "Jane.Doe@example.com",
                "displayName": "Jane Doe",
            },
        ).json()["id"]
        expected = _outcome(fake, fake_id, "u9999999", REFUSALS[name])
    real_id = seed(raw, "Jane.Doe@example.com", "Jane Doe")
    real = _outcome(raw, real_id, "0123456789abcdef0123456789abcdef", REFUSALS[name])
    assert real == expected
    assert expected[0] >= 400
