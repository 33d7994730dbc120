"""TeamViewerClient against the TeamViewer emulator over real loopback HTTP.

A few tests use an in-process transport where they must see or forge exact bytes
(request headers, garbled bodies); ``_classify`` is table-tested on its own.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.fakes import SettableMonotonic
from tvsync.adapters import scim_paging
from tvsync.adapters.errors import (
    AuthError,
    ConflictError,
    InvalidError,
    ThrottledError,
    TransientError,
    UpstreamError,
)
from tvsync.adapters.retry import RetryPolicy
from tvsync.adapters.teamviewer_client import (
    PATCH_OP_SCHEMA,
    SSO_USER_SCHEMA,
    RightProbe,
    RightVerdict,
    TeamViewerClient,
    TokenOwner,
    UserRight,
    _classify,
)
from tvsync.emulators.http import FaultKind, FaultPolicy, serve
from tvsync.emulators.teamviewer import (
    ALL_PERMISSIONS,
    USERS_CREATE,
    USERS_MODIFY,
    USERS_READ,
    RateLimit,
    TeamViewerEmulator,
)
from tvsync.models.teamviewer import TeamViewerAccount

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

TOKEN = "tv-secret-token-4f1c9a"
FAST = httpx.Timeout(connect=1.0, read=0.2, write=1.0, pool=1.0)


class Stack:
    """An emulator served on 127.0.0.1 plus a factory for clients pointed at it."""

    def __init__(self, app: TeamViewerEmulator, url: str) -> None:
        self.app = app
        self.url = url
        self._clients: list[TeamViewerClient] = []

    def client(self, token: str = TOKEN, **kwargs: Any) -> TeamViewerClient:
        kwargs.setdefault("timeout", FAST)
        client = TeamViewerClient(self.url, lambda: token, **kwargs)
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture
def clock() -> SettableMonotonic:
    return SettableMonotonic(500.0)


@pytest.fixture
def stack(clock: SettableMonotonic) -> Iterator[Stack]:
    app = TeamViewerEmulator(TOKEN, clock=clock, faults=FaultPolicy(timeout_delay=0.6))
    app.add_user("Jane.Doe@Example.test", "Jane Doe")
    app.add_user("john.roe@example.test", "John Roe", active=False)
    app.add_foreign_account("outsider@example.test", "Out Sider")
    with serve(app) as server:
        test_stack = Stack(app, server.url)
        yield test_stack
        test_stack.close()


def in_process(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> TeamViewerClient:
    return TeamViewerClient("http://tv.test", lambda: TOKEN, transport=httpx.MockTransport(handler), **kwargs)


# ---------------------------------------------------------------------- lookups


def test_find_by_email_is_one_exact_scim_query(stack: Stack) -> None:
    found = stack.client().find_by_email("Jane.Doe@Example.test")
    assert found == TeamViewerAccount(
        id="u1000002", email="Jane.Doe@Example.test", name="Jane Doe", active=True
    )
    (call,) = stack.app.calls
    assert (call.method, call.path) == ("GET", "/scim/v2/Users")
    assert call.query == {"filter": 'userName eq "Jane.Doe@Example.test"'}


def test_find_by_email_misses_other_case_and_casefold_finds_it(stack: Stack) -> None:
    """The SCIM filter is case-sensitive ([SCIM]); the casefold fallback is the cure."""
    client = stack.client()
    assert client.find_by_email("jane.doe@example.test") is None
    found = client.find_by_email_casefold("JANE.DOE@example.TEST")
    assert found is not None
    assert found.id == "u1000002"
    assert client.find_by_email_casefold("outsider@example.test") is None  # foreign: invisible


@pytest.mark.parametrize(
    "email",
    ['"we\\"ird"@example.test', '"back\\\\slash"@example.test', '"both\\\\\\""@example.test'],
    ids=["quote", "backslash", "both"],
)
def test_find_by_email_escapes_filter_value(stack: Stack, email: str) -> None:
    """RFC 7644 §3.4.2.2 filter values are JSON strings; quoted local parts (RFC 5321) carry both."""
    stack.app.add_user(email, "Odd Address")
    found = stack.client().find_by_email(email)
    assert found is not None
    assert found.email == email


def test_find_by_email_prefers_exact_then_casefold_match() -> None:
    """Whatever the server's filter returns, the client only accepts the asked-for email."""
    resources = [
        {"id": "u1", "userName": "other@example.test", "displayName": "O", "active": True},
        {"id": "u2", "userName": "A@example.test", "displayName": "A", "active": True},
        {"id": "u3", "userName": "a@example.test", "displayName": "a", "active": True},
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"totalResults": 3, "Resources": resources})

    with in_process(handler) as client:
        assert client.find_by_email("a@example.test") == TeamViewerAccount(
            id="u3", email="a@example.test", name="a", active=True
        )
        found = client.find_by_email("A@EXAMPLE.TEST")
        assert found is not None
        assert found.id == "u2"
        assert client.find_by_email("nobody@example.test") is None


@pytest.mark.parametrize("zero_echo", [False, True], ids=["rfc-echo", "zero-echo"])
@pytest.mark.parametrize(
    ("extra_users", "page_size", "server_cap", "expected_starts"),
    [
        (7, 3, None, ["1", "4", "7", "10"]),
        (6, 3, None, ["1", "4", "7"]),
        (0, 100, None, ["1"]),
        (4, 1, None, ["1", "2", "3", "4", "5", "6", "7"]),
        (4, 3, 2, ["1", "3", "5", "7"]),
        (4, 100, 3, ["1", "4", "7"]),
        (57, 100, 50, ["1", "51"]),
    ],
    ids=[
        "short-last-page",
        "exact-multiple-stops-on-total",
        "single",
        "page-of-one",
        "server-caps-below-count",
        "server-caps-every-page",
        "default-emulator-cap",
    ],
)
def test_iter_users_pages(
    stack: Stack,
    zero_echo: bool,
    extra_users: int,
    page_size: int,
    server_cap: int | None,
    expected_starts: list[str],
) -> None:
    """Paging over several pages, also when the server returns fewer than asked (RFC 7644
    §3.4.2.4): the walk ends on totalResults, never on a short page, and the next startIndex
    counts what was received, never trusting the response's echo.
    """
    stack.app.scim_zero_start_index = zero_echo
    stack.app.scim_max_page_size = server_cap
    for n in range(extra_users):
        stack.app.add_user(f"user{n}@example.test", f"User {n}")
    stack.app.reset_calls()
    users = list(stack.client().iter_users(page_size))
    assert [u.id for u in users] == [u["id"] for u in stack.app.users()]
    assert len(users) == 3 + extra_users
    assert [c.query["startIndex"] for c in stack.app.calls] == expected_starts
    assert {c.query["count"] for c in stack.app.calls} == {str(page_size)}


def test_the_casefold_scan_finds_an_account_beyond_a_short_first_page(stack: Stack) -> None:
    """The scan before a deactivation must walk the whole company even when the server
    returns short pages: stopping at the first one would leave access unrevoked.
    """
    stack.app.scim_max_page_size = 2
    for n in range(5):
        stack.app.add_user(f"user{n}@example.test", f"User {n}")
    stack.app.add_user("Late.Comer@Example.test", "Late Comer")
    found = stack.client().find_by_email_casefold("late.comer@example.test")
    assert found is not None
    assert found.email == "Late.Comer@Example.test"
    assert len(stack.app.calls) == 5


def list_server(pages: Callable[[int, int], dict[str, Any]]) -> TeamViewerClient:
    """A client against a SCIM list endpoint whose body ``pages(startIndex, count)`` decides."""

    def handler(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["startIndex"])
        count = int(request.url.params["count"])
        return httpx.Response(200, json=pages(start, count))

    return in_process(handler)


def scim_users(first: int, number: int) -> list[dict[str, Any]]:
    return [
        {"id": f"u{n}", "userName": f"user{n}@example.test", "displayName": f"U {n}", "active": True}
        for n in range(first, first + number)
    ]


def test_iter_users_without_total_results_stops_at_the_first_short_page() -> None:
    """Without totalResults the only end signal left is a short page."""
    starts: list[int] = []

    def pages(start: int, count: int) -> dict[str, Any]:
        starts.append(start)
        return {"Resources": scim_users(start, min(count, 7 - start + 1))}

    with list_server(pages) as client:
        assert len(list(client.iter_users(3))) == 7
    assert starts == [1, 4, 7]


def test_iter_users_stops_on_an_empty_page_before_total_results() -> None:
    """A company that shrank during the walk: an empty page ends it, whatever the total said."""
    starts: list[int] = []

    def pages(start: int, count: int) -> dict[str, Any]:
        starts.append(start)
        resources = scim_users(start, 2) if start < 5 else []
        return {"totalResults": 10, "Resources": resources}

    with list_server(pages) as client:
        assert [u.id for u in client.iter_users(2)] == ["u1", "u2", "u3", "u4"]
    assert starts == [1, 3, 5]


def test_iter_users_refuses_a_server_that_ignores_start_index() -> None:
    """The same page again would otherwise count towards totalResults and hide the rest."""

    def pages(start: int, count: int) -> dict[str, Any]:
        return {"totalResults": 7, "Resources": scim_users(1, 2)}

    with list_server(pages) as client, pytest.raises(TransientError, match="does not page"):
        list(client.iter_users(3))


@pytest.mark.parametrize("with_total", [True, False], ids=["total-keeps-growing", "no-total-no-end"])
def test_iter_users_refuses_a_listing_without_end(monkeypatch: pytest.MonkeyPatch, with_total: bool) -> None:
    """A bounded walk: fresh users forever, with a totalResults always ahead (or none at all)."""
    monkeypatch.setattr(scim_paging, "WALK_GROWTH_MARGIN", 20)
    monkeypatch.setattr(scim_paging, "MAX_UNCOUNTED_USERS", 30)
    calls: list[int] = []

    def pages(start: int, count: int) -> dict[str, Any]:
        calls.append(start)
        assert len(calls) < 100, "the walk never stopped"
        body: dict[str, Any] = {"Resources": scim_users(start, count)}
        if with_total:
            body["totalResults"] = start + count + 5
        return body

    with list_server(pages) as client, pytest.raises(TransientError, match="does not end") as caught:
        list(client.iter_users(5))
    limit = (1 + 5 + 5 if with_total else 30) + 20
    assert f"past {limit} users" in str(caught.value)
    assert len(calls) <= limit // 5 + 1


def test_the_company_scan_stops_at_its_deadline_instead_of_running_into_a_timeout(stack: Stack) -> None:
    """One call per page of the company: the worker must be able to stop and report in time."""
    for n in range(5):
        stack.app.add_user(f"user{n}@example.test", f"User {n}")
    client = stack.client()
    stack.app.reset_calls()
    with pytest.raises(TransientError, match="out of time"):
        client.find_by_email_casefold("jane.doe@example.test", deadline=time.monotonic() - 1)
    assert stack.app.calls == [], "no page is started after the deadline"
    found = client.find_by_email_casefold("JANE.DOE@example.test", deadline=time.monotonic() + 60)
    assert found is not None and found.id == "u1000002"


def test_iter_users_is_lazy(stack: Stack) -> None:
    for n in range(5):
        stack.app.add_user(f"user{n}@example.test", f"User {n}")
    stack.app.reset_calls()
    users = stack.client().iter_users(2)
    assert next(users).id == "u1000001"
    assert len(stack.app.calls) == 1
    users.close()


def test_iter_users_rejects_bad_page_size(stack: Stack) -> None:
    with pytest.raises(ValueError, match="page_size"):
        list(stack.client().iter_users(0))


@pytest.mark.parametrize(("user_id", "found"), [("u1000003", True), ("u1000004", False), ("u404", False)])
def test_get(stack: Stack, user_id: str, found: bool) -> None:
    account = stack.client().get(user_id)
    if found:
        assert account == TeamViewerAccount(
            id="u1000003", email="john.roe@example.test", name="John Roe", active=False
        )
    else:
        assert account is None


def test_get_quotes_the_id_into_one_path_segment(stack: Stack) -> None:
    assert stack.client().get("u1/../../api/v1/account") is None
    assert stack.app.calls[-1].path == "/scim/v2/Users/u1%2F..%2F..%2Fapi%2Fv1%2Faccount"


# ---------------------------------------------------------------------- writes


def test_create_with_sso_and_language(stack: Stack) -> None:
    account = stack.client(sso_customer_id="a1b2bc4d5e6f7").create(
        "New.Person@example.test", "New Person", language="de"
    )
    assert account == TeamViewerAccount(
        id="u1000005", email="New.Person@example.test", name="New Person", active=True
    )
    assert stack.app.user_by_email("new.person@example.test") == {
        "id": "u1000005",
        "email": "New.Person@example.test",
        "name": "New Person",
        "active": True,
        "sso_customer_id": "a1b2bc4d5e6f7",
    }


def test_create_without_sso(stack: Stack) -> None:
    stack.client().create("plain@example.test", "Plain User")
    stored = stack.app.user_by_email("plain@example.test")
    assert stored is not None
    assert stored["sso_customer_id"] is None


@pytest.mark.parametrize(("sso", "language"), [("cust-1", "de_DE"), (None, None)])
def test_create_request_shape(sso: str | None, language: str | None) -> None:
    """[SCIM] POST with Content-Type application/scim+json; SsoUser extension only when configured."""
    seen: list[httpx.Request] = []
    app = TeamViewerEmulator(TOKEN)
    emulator = app.transport()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return emulator.handle_request(request)

    with in_process(handler, sso_customer_id=sso) as client:
        client.create("shape@example.test", "Sha Pe", language=language)
    (request,) = seen
    assert request.headers["Content-Type"] == "application/scim+json"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    body = json.loads(request.content)
    assert body["userName"] == "shape@example.test"
    assert body["displayName"] == "Sha Pe"
    assert (SSO_USER_SCHEMA in body["schemas"]) is (sso is not None)
    assert body.get(SSO_USER_SCHEMA) == ({"ssoCustomerId": sso} if sso else None)
    assert body.get("preferredLanguage") == language


def test_update_is_one_patch_with_one_op_per_field(stack: Stack) -> None:
    stack.client().update("u1000003", active=True, name="Johnny Roe", email="Johnny@example.test")
    (call,) = stack.app.calls
    assert (call.method, call.path, call.status) == ("PATCH", "/scim/v2/Users/u1000003", 200)
    assert stack.app.user_by_email("johnny@example.test") == {
        "id": "u1000003",
        "email": "Johnny@example.test",
        "name": "Johnny Roe",
        "active": True,
        "sso_customer_id": None,
    }


def test_update_patch_body() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        assert request.headers["Content-Type"] == "application/scim+json"
        return httpx.Response(200, json={})

    with in_process(handler) as client:
        client.update("u1", active=False, name="N N", email="e@x.test")
    assert seen == [
        {
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [
                {"op": "replace", "path": "active", "value": False},
                {"op": "replace", "path": "displayName", "value": "N N"},
                {"op": "replace", "path": "userName", "value": "e@x.test"},
            ],
        }
    ]


def test_update_without_fields_sends_nothing(stack: Stack) -> None:
    stack.client().update("u1000002")
    assert stack.app.calls == []


@pytest.mark.parametrize(
    ("user_id", "change", "expected"),
    [
        ("u1000002", {"active": False}, {"active": False}),
        ("u1000003", {"active": True}, {"active": True}),
        ("u1000002", {"name": "Janet Doe"}, {"name": "Janet Doe"}),
        ("u1000002", {"email": "janet@example.test"}, {"email": "janet@example.test"}),
    ],
    ids=["deactivate", "activate", "rename", "change-email"],
)
def test_update_of_one_field_changes_only_that_field(
    stack: Stack, user_id: str, change: dict[str, Any], expected: dict[str, Any]
) -> None:
    """Each change the worker plans alone is one PATCH that leaves the rest of the account be."""
    before = next(u for u in stack.app.users() if u["id"] == user_id)
    stack.client().update(user_id, **change)
    after = next(u for u in stack.app.users() if u["id"] == user_id)
    assert after == {**before, **expected}
    assert stack.app.writes() == 1


# ---------------------------------------------------------------------- v1


def test_token_owner_and_ping(stack: Stack) -> None:
    client = stack.client()
    assert client.token_owner() == TokenOwner(id="u1000001", email="admin@example.test", name="Company Admin")
    assert client.ping() is True
    assert stack.client(token="wrong").ping() is False


@pytest.mark.parametrize("userid", ["u1234567", "1234567", 1234567])
def test_token_owner_accepts_userid_with_or_without_u(userid: object) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"userid": userid, "email": "o@example.test", "name": "O W"})

    with in_process(handler) as client:
        assert client.token_owner().id == "u1234567"


def test_ping_401_means_false() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_token"})

    with in_process(handler) as client:
        assert client.ping() is False


# ---------------------------------------------------------------------- error classes, end to end


def test_wrong_token_is_auth_error(stack: Stack) -> None:
    with pytest.raises(AuthError) as caught:
        stack.client(token="wrong-token").find_by_email("jane.doe@example.test")
    assert caught.value.status == 401
    assert "wrong-token" not in str(caught.value)


def test_missing_permission_is_auth_error(stack: Stack) -> None:
    stack.app.permissions = stack.app.permissions - {USERS_MODIFY}
    with pytest.raises(AuthError) as caught:
        stack.client().update("u1000002", active=False)
    assert caught.value.status == 403
    assert "invalid_permission" in str(caught.value)


def test_throttled_429_carries_retry_after(stack: Stack) -> None:
    stack.app.rate_limit = RateLimit(requests_per_second=0.5, burst=1)
    client = stack.client()
    client.get("u1000002")
    with pytest.raises(ThrottledError) as caught:
        client.get("u1000002")
    assert caught.value.status == 429
    assert caught.value.retry_after == 2.0


def test_throttled_403_rate_limit_reached(stack: Stack) -> None:
    stack.app.rate_limit = RateLimit(requests_per_second=1, burst=1, style="403")
    client = stack.client()
    client.ping()
    with pytest.raises(ThrottledError) as caught:
        client.find_by_email("jane.doe@example.test")
    assert caught.value.status == 403
    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    ("kind", "detail"),
    [
        (FaultKind.SERVER_ERROR, "Injected server error"),
        (FaultKind.TIMEOUT, "timed out"),
        (FaultKind.DROP, "connection"),
    ],
)
def test_transient_errors(stack: Stack, kind: FaultKind, detail: str) -> None:
    stack.app.faults = FaultPolicy(failure_rate=1.0, kinds=(kind,), after_apply_share=0.0, timeout_delay=0.6)
    with pytest.raises(TransientError) as caught:
        stack.client().get("u1000002")
    assert detail in str(caught.value)
    if kind is FaultKind.SERVER_ERROR:
        assert caught.value.status in {500, 502, 503}


@pytest.mark.parametrize(
    "action",
    [
        lambda c: c.create("outsider@example.test", "Out Sider"),
        lambda c: c.create("OUTSIDER@example.test", "Out Sider"),
        lambda c: c.create("jane.doe@example.test", "Jane Doe"),
        lambda c: c.update("u1000002", email="outsider@example.test"),
    ],
    ids=["foreign", "foreign-other-case", "company-other-case", "email-change"],
)
def test_conflict(stack: Stack, action: Callable[[TeamViewerClient], object]) -> None:
    with pytest.raises(ConflictError) as caught:
        action(stack.client())
    assert "email_in_use" in str(caught.value)
    assert caught.value.retryable is False


def test_conflict_with_400_knob(stack: Stack) -> None:
    stack.app.scim_conflict_status = 400
    with pytest.raises(ConflictError):
        stack.client().create("outsider@example.test", "Out Sider")


@pytest.mark.parametrize(
    "action",
    [
        lambda c: c.create("not-an-email", "Bad Mail"),
        lambda c: c.create("ok@example.test", ""),
        lambda c: c.update("u9999999", active=False),
    ],
    ids=["bad-email", "no-name", "unknown-user"],
)
def test_invalid(stack: Stack, action: Callable[[TeamViewerClient], object]) -> None:
    with pytest.raises(InvalidError) as caught:
        action(stack.client())
    assert caught.value.status in {400, 404}


# ---------------------------------------------------------------------- retries


def test_retry_absorbs_short_retry_after(stack: Stack, clock: SettableMonotonic) -> None:
    """The emulator's clock moves with the policy's sleep: a real wait, without waiting."""
    stack.app.rate_limit = RateLimit(requests_per_second=1, burst=1)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    client = stack.client(retry=RetryPolicy(max_attempts=3, max_wait=2.0, sleep=sleep))
    assert client.ping() is True
    found = client.find_by_email("Jane.Doe@Example.test")
    assert found is not None
    assert waits == [1.0]
    assert [c.status for c in stack.app.calls] == [200, 429, 200]


def test_retry_gives_up_on_long_retry_after(stack: Stack) -> None:
    stack.app.rate_limit = RateLimit(requests_per_second=0.1, burst=1)
    waits: list[float] = []
    client = stack.client(retry=RetryPolicy(max_attempts=3, max_wait=2.0, sleep=waits.append))
    client.ping()
    with pytest.raises(ThrottledError) as caught:
        client.ping()
    assert caught.value.retry_after == 10.0
    assert waits == []


def test_retry_recovers_from_dropped_connection(stack: Stack) -> None:
    stack.app.faults = FaultPolicy(failure_rate=0.5, seed=3, kinds=(FaultKind.DROP,), after_apply_share=0.0)
    client = stack.client(retry=RetryPolicy(max_attempts=10, base_backoff=0.0, sleep=lambda _: None))
    assert [client.get("u1000002") is not None for _ in range(5)] == [True] * 5
    assert any(c.fault is FaultKind.DROP for c in stack.app.calls)


# ---------------------------------------------------------------------- classification table


def response(
    status: int, body: object = None, *, raw: bytes | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    request = httpx.Request("GET", "http://tv.test/scim/v2/Users")
    if raw is not None:
        return httpx.Response(status, content=raw, headers=headers, request=request)
    if body is None:
        return httpx.Response(status, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


@pytest.mark.parametrize(
    ("resp", "expected", "retry_after"),
    [
        (response(401, {"error": "invalid_token", "error_code": 401}), AuthError, None),
        (response(401, raw=b"<html>nope</html>"), AuthError, None),
        (response(429, {"error": "rate_limit_reached"}, headers={"Retry-After": "7"}), ThrottledError, 7.0),
        (response(429, headers={"Retry-After": "soon"}), ThrottledError, None),
        (response(429), ThrottledError, None),
        (response(403, {"error": "rate_limit_reached", "error_code": 403}), ThrottledError, None),
        (response(403, {"error": "invalid_permission"}), AuthError, None),
        (response(403, {"error": "blocked"}), AuthError, None),
        (response(403, raw=b"\xff\xfe garbage"), AuthError, None),
        (response(409, {"schemas": ["x"], "status": "409", "scimType": "uniqueness"}), ConflictError, None),
        (response(409), ConflictError, None),
        (response(400, {"error": "email_in_use", "error_code": 400}), ConflictError, None),
        (response(400, {"status": "400", "scimType": "uniqueness", "detail": "taken"}), ConflictError, None),
        (response(400, {"status": "400", "detail": "email_in_use: taken"}), ConflictError, None),
        (response(400, {"error": "invalid_request"}), InvalidError, None),
        (response(400, [1, 2, 3]), InvalidError, None),
        (response(404, {"status": "404"}), InvalidError, None),
        (response(418, raw=b""), InvalidError, None),
        (response(500, {"error": "internal_error"}), TransientError, None),
        (response(502, raw=b"<html>Bad Gateway</html>"), TransientError, None),
        (response(503, "down"), TransientError, None),
        (response(302, raw=b"", headers={"Location": "http://elsewhere"}), TransientError, None),
        (response(200, {"unexpected": True}), TransientError, None),
    ],
)
def test_classify(resp: httpx.Response, expected: type[UpstreamError], retry_after: float | None) -> None:
    error = _classify("op", resp, secret=TOKEN)
    assert type(error) is expected
    assert error.status == resp.status_code
    assert error.service == "teamviewer"
    if isinstance(error, ThrottledError):
        assert error.retry_after == retry_after


def test_classify_cuts_long_server_text() -> None:
    error = _classify("op", response(400, {"error": "invalid_request", "error_description": "x" * 5000}))
    assert len(str(error)) < 300


# ---------------------------------------------------------------------- secrets


def echo_token(status: int) -> Callable[[httpx.Request], httpx.Response]:
    """A hostile server that puts the Authorization header into its error text."""

    def handler(request: httpx.Request) -> httpx.Response:
        text = f"rejected {request.headers['Authorization']}"
        return httpx.Response(
            status, json={"error": "invalid_request", "error_description": text, "detail": text}
        )

    return handler


@pytest.mark.parametrize("status", [400, 401, 403, 409, 429, 500])
def test_no_token_in_errors_even_when_server_echoes_it(status: int) -> None:
    with in_process(echo_token(status)) as client, pytest.raises(UpstreamError) as caught:
        client.get("u1")
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)
    assert "***" in str(caught.value)


def test_no_token_in_any_error_class_end_to_end(stack: Stack) -> None:
    """Every class the client raises, from the emulator, with the token checked in str and repr."""
    errors: list[UpstreamError] = []

    def capture(action: Callable[[], object]) -> None:
        try:
            action()
        except UpstreamError as exc:
            errors.append(exc)

    client = stack.client()
    capture(lambda: stack.client(token=TOKEN + "-stale").get("u1000002"))  # auth
    capture(lambda: client.create("outsider@example.test", "Out Sider"))  # conflict
    capture(lambda: client.create("bad", "Bad Mail"))  # invalid
    stack.app.faults = FaultPolicy(failure_rate=1.0, kinds=(FaultKind.DROP,))
    capture(lambda: client.get("u1000002"))  # transient
    stack.app.faults = FaultPolicy()
    stack.app.rate_limit = RateLimit(requests_per_second=1, burst=1)
    capture(lambda: [client.ping() for _ in range(3)])  # throttled
    assert {type(e) for e in errors} == {
        AuthError,
        ConflictError,
        InvalidError,
        TransientError,
        ThrottledError,
    }
    for error in errors:
        assert TOKEN not in str(error)
        assert TOKEN not in repr(error)
        assert TOKEN not in repr(error.__dict__)


def test_client_repr_has_no_token(stack: Stack) -> None:
    assert TOKEN not in repr(stack.client())


def test_garbled_success_body_is_transient_and_not_retried() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(201, content=b"<html>proxy page</html>")

    retry = RetryPolicy(max_attempts=3, base_backoff=0.0, sleep=lambda _: None)
    with (
        in_process(handler, retry=retry) as client,
        pytest.raises(TransientError, match="unexpected response"),
    ):
        client.create("x@example.test", "X Y")
    assert calls == [1]


@pytest.mark.parametrize(
    "resource",
    [
        {"userName": "a@x.test", "active": True},
        {"id": "u1", "active": True},
        {"id": "u1", "userName": "a@x.test", "active": "yes"},
    ],
    ids=["no-id", "no-email", "active-not-a-boolean"],
)
def test_incomplete_user_is_transient(resource: dict[str, Any]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=resource)

    with in_process(handler) as client, pytest.raises(TransientError):
        client.get("u1")


def test_email_from_emails_and_name_from_parts() -> None:
    """[SCIM] mapping on read: email from emails[primary], name from name parts."""
    resource = {
        "id": "u7",
        "emails": [{"value": "second@x.test"}, {"value": "prim@x.test", "primary": True}],
        "name": {"givenName": "Giv", "familyName": "Fam"},
        "active": False,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=resource)

    with in_process(handler) as client:
        assert client.get("u7") == TeamViewerAccount(
            id="u7", email="prim@x.test", name="Giv Fam", active=False
        )


# ---------------------------------------------------------------------- optional `active`


@pytest.mark.parametrize("raw", [{}, {"active": None}], ids=["missing", "null"])
def test_a_user_without_active_reads_as_unknown(raw: dict[str, Any]) -> None:
    """RFC 7643 §4.1.1: ``active`` is optional, and null means unassigned (§2.5)."""
    resource = {"id": "u7", "userName": "a@x.test", "displayName": "A B", **raw}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=resource)

    with in_process(handler) as client:
        assert client.get("u7") == TeamViewerAccount(id="u7", email="a@x.test", name="A B", active=None)


def test_one_user_without_active_does_not_stall_a_listing_or_a_lookup(stack: Stack) -> None:
    """One odd account must not make the whole company unreadable (every reconcile would fail)."""
    stack.app.scim_max_page_size = 2
    stack.app.scim_omit_active = frozenset({"u1000002"})
    client = stack.client()
    accounts = {a.id: a.active for a in client.iter_users(2)}
    assert accounts == {"u1000001": True, "u1000002": None, "u1000003": False}
    assert client.get("u1000002") == TeamViewerAccount(
        id="u1000002", email="Jane.Doe@Example.test", name="Jane Doe", active=None
    )
    found = client.find_by_email("Jane.Doe@Example.test")
    assert found is not None and found.active is None
    folded = client.find_by_email_casefold("jane.doe@example.test")
    assert folded is not None and folded.active is None


# ---------------------------------------------------------------------- rights


def test_a_full_token_has_every_right_and_probing_changes_nothing(stack: Stack) -> None:
    client = stack.client()
    before = stack.app.users()
    found = {right: client.probe_right(right, account_id="u1000001") for right in UserRight}
    assert {right: probe.verdict for right, probe in found.items()} == dict.fromkeys(
        UserRight, RightVerdict.GRANTED
    )
    assert [(probe.status, probe.evidence) for probe in found.values()] == [
        (200, "TeamViewer listed the company's users: HTTP 200"),
        (400, "TeamViewer checked the deliberately invalid request: HTTP 400"),
        (400, "TeamViewer checked the deliberately invalid request: HTTP 400"),
    ]
    assert stack.app.users() == before
    assert [(c.method, c.path, c.status) for c in stack.app.calls] == [
        ("GET", "/scim/v2/Users", 200),
        ("POST", "/scim/v2/Users", 400),
        ("PATCH", "/scim/v2/Users/u1000001", 400),
    ]


@pytest.mark.parametrize(
    ("permission", "right"),
    [(USERS_READ, UserRight.READ), (USERS_CREATE, UserRight.CREATE), (USERS_MODIFY, UserRight.EDIT)],
)
def test_a_missing_right_is_found_missing_and_the_others_granted(
    stack: Stack, permission: str, right: UserRight
) -> None:
    stack.app.permissions = ALL_PERMISSIONS - {permission}
    client = stack.client()
    found = {r: client.probe_right(r, account_id="u1000001") for r in UserRight}
    assert found[right] == RightProbe(
        right=right,
        verdict=RightVerdict.MISSING,
        status=403,
        error=f"invalid_permission: the token lacks {permission}",
        evidence="TeamViewer refused the request before looking at it",
    )
    assert {r: p.verdict for r, p in found.items() if r is not right} == {
        r: RightVerdict.GRANTED for r in UserRight if r is not right
    }
    assert right.value == permission, "a right is named by the scope TeamViewer calls it"


@pytest.mark.parametrize(
    ("right", "status", "verdict"),
    [
        (UserRight.READ, 500, RightVerdict.INCONCLUSIVE),
        (UserRight.READ, 400, RightVerdict.INCONCLUSIVE),
        (UserRight.CREATE, 201, RightVerdict.WRITE_ACCEPTED),
        (UserRight.CREATE, 200, RightVerdict.WRITE_ACCEPTED),
        (UserRight.CREATE, 404, RightVerdict.INCONCLUSIVE),
        (UserRight.CREATE, 502, RightVerdict.INCONCLUSIVE),
        (UserRight.EDIT, 200, RightVerdict.GRANTED),
        (UserRight.EDIT, 204, RightVerdict.GRANTED),
        (UserRight.EDIT, 404, RightVerdict.INCONCLUSIVE),
        (UserRight.EDIT, 302, RightVerdict.INCONCLUSIVE),
    ],
)
def test_only_a_refusal_on_the_merits_or_a_harmless_answer_grants_a_right(
    right: UserRight, status: int, verdict: RightVerdict
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"scimType": "odd"} if status >= 400 else {})

    with in_process(handler) as client:
        found = client.probe_right(right, account_id="u1")
    assert (found.verdict, found.status) == (verdict, status)
    assert found.error == ("odd" if status >= 400 else "")


@pytest.mark.parametrize(
    ("status", "body", "raised"),
    [
        (401, {"error": "invalid_token"}, AuthError),
        (429, {}, ThrottledError),
        (403, {"error": "rate_limit_reached"}, ThrottledError),
    ],
    ids=["token-refused", "429", "403-rate-limit"],
)
@pytest.mark.parametrize("right", list(UserRight))
def test_an_answer_about_the_token_or_the_rate_is_raised_not_judged(
    right: UserRight, status: int, body: dict[str, str], raised: type[UpstreamError]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    with in_process(handler) as client, pytest.raises(raised) as caught:
        client.probe_right(right, account_id="u1")
    assert caught.value.status == status


def test_a_token_echoed_in_a_refusal_is_blanked_out() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            403, json={"error": f"invalid_permission for {request.headers['Authorization']}"}
        )

    with in_process(handler) as client:
        found = client.probe_right(UserRight.CREATE)
    assert found.verdict is RightVerdict.MISSING
    assert TOKEN not in found.error and "***" in found.error


def test_the_edit_probe_needs_an_account_to_aim_at(stack: Stack) -> None:
    with pytest.raises(ValueError, match="account"):
        stack.client().probe_right(UserRight.EDIT)
    assert stack.app.calls == []
