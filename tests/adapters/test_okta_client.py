"""The Okta client against the Okta emulator over loopback HTTP (and a few hand-made answers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support.fakes import SettableMonotonic
from tvsync.adapters.errors import AuthError, InvalidError, ThrottledError, TransientError, UpstreamError
from tvsync.adapters.okta_client import _MAX_EMPTY_PAGES, OktaClient, _classify
from tvsync.adapters.retry import RetryPolicy
from tvsync.emulators.http import FaultKind, FaultPolicy, RunningServer, serve
from tvsync.emulators.okta import OktaEmulator, OktaRateLimit
from tvsync.models.okta import AppAssignmentStatus, OktaUserStatus

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

TOKEN = "s3cr3t-okta-T0KEN-value"
APP = "0oaTeamViewerApp0h7"
ORG = "https://acme.okta.test"
#: Reads give up well before an injected timeout fault releases the connection.
FAST = httpx.Timeout(2.0, read=0.2)


@pytest.fixture
def clock() -> SettableMonotonic:
    return SettableMonotonic(1000.5)


@pytest.fixture
def emu(clock: SettableMonotonic) -> OktaEmulator:
    return OktaEmulator(TOKEN, clock=clock)


@pytest.fixture
def server(emu: OktaEmulator) -> Iterator[RunningServer]:
    with serve(emu) as running:
        yield running


@pytest.fixture
def make_client(server: RunningServer, clock: SettableMonotonic) -> Iterator[Callable[..., OktaClient]]:
    clients: list[OktaClient] = []

    def make(token: str = TOKEN, **options: object) -> OktaClient:
        options.setdefault("timeout", FAST)
        options.setdefault("clock", clock)
        client = OktaClient(server.url, lambda: token, **options)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., OktaClient]) -> OktaClient:
    return make_client()


def seed(emu: OktaEmulator, count: int, *, assign: bool = False) -> list[str]:
    ids = [emu.add_user(f"user{i}@example.com", f"First{i}", f"Last{i}")["id"] for i in range(count)]
    if assign:
        for user_id in ids:
            emu.assign(APP, user_id)
    return ids


# ---------------------------------------------------------------- single reads


def test_get_user(emu: OktaEmulator, client: OktaClient) -> None:
    created = emu.add_user("Iron.Man@stark.com", "Tony", "Stark", status="SUSPENDED")
    user = client.get_user(created["id"])
    assert user is not None
    assert user.id == created["id"]
    assert user.status is OktaUserStatus.SUSPENDED
    assert user.profile.email == "Iron.Man@stark.com"
    assert (user.profile.first_name, user.profile.last_name) == ("Tony", "Stark")
    assert user.profile.display_name == "Tony Stark"


def test_get_user_by_login_is_escaped(emu: OktaEmulator, client: OktaClient) -> None:
    created = emu.add_user("ironman@stark.com", "Tony", "Stark")
    user = client.get_user("ironman@stark.com")
    assert user is not None
    assert user.id == created["id"]
    assert emu.calls[-1].path == "/api/v1/users/ironman%40stark.com"


@pytest.mark.parametrize("how", ["unknown", "deleted"])
def test_get_user_404_means_gone(emu: OktaEmulator, client: OktaClient, how: str) -> None:
    user_id = "00uNoSuchUser0000000"
    if how == "deleted":
        user_id = emu.add_user("gone@example.com", "G", "U")["id"]
        emu.delete_user(user_id)
    assert client.get_user(user_id) is None


def test_get_app_user(emu: OktaEmulator, client: OktaClient) -> None:
    user_id, other_id = seed(emu, 2)
    emu.assign(APP, user_id, status="PROVISIONED", scope="GROUP")
    assignment = client.get_app_user(APP, user_id)
    assert assignment is not None
    assert assignment.id == user_id
    assert assignment.status == AppAssignmentStatus.PROVISIONED
    assert assignment.scope == "GROUP"
    assert client.get_app_user(APP, other_id) is None
    emu.unassign(APP, user_id)
    assert client.get_app_user(APP, user_id) is None


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_user(""),
        lambda c: c.get_app_user("", "00u1"),
        lambda c: c.get_app_user(APP, ""),
        lambda c: list(c.iter_users(page_size=0)),
        lambda c: list(c.iter_app_users("")),
    ],
)
def test_empty_ids_and_page_sizes_are_refused_locally(
    emu: OktaEmulator, client: OktaClient, call: Callable[[OktaClient], object]
) -> None:
    """An empty user id would silently turn ``GET /users/{id}`` into a list of everyone."""
    with pytest.raises(ValueError):
        call(client)
    assert emu.calls == []


def test_check(emu: OktaEmulator, make_client: Callable[..., OktaClient]) -> None:
    make_client().check()
    assert emu.calls[-1].query == {"limit": "1"}
    with pytest.raises(AuthError):
        make_client("wrong-token").check()


def test_token_is_read_per_request(emu: OktaEmulator, server: RunningServer) -> None:
    """A rotated secret takes effect without a new client."""
    tokens = iter(["stale", TOKEN])
    with OktaClient(server.url, lambda: next(tokens), timeout=FAST) as client:
        with pytest.raises(AuthError):
            client.check()
        client.check()


# ---------------------------------------------------------------- find_by_email


@pytest.mark.parametrize(
    "asked", ["frank.fischer@example.com", "FRANK.FISCHER@EXAMPLE.COM", " Frank.Fischer@example.com "]
)
def test_find_by_email_ignores_the_case_of_profile_email(
    emu: OktaEmulator, client: OktaClient, asked: str
) -> None:
    """The orphan guard: a live user whose TeamViewer email differs only in case is found.

    Frank's login is not his email, so the login read misses, and Okta's ``filter`` compares
    values case-sensitively [SPEC]: only ``search`` (case-insensitive values) finds him.
    """
    frank = emu.add_user("Frank.Fischer@example.com", "Frank", "Fischer", login="ffischer@example.com")
    found = client.find_by_email(asked)
    assert found is not None
    assert found.id == frank["id"]
    lookup = emu.calls[-1]
    assert lookup.path == "/api/v1/users"
    assert lookup.query["search"] == f'profile.email eq "{asked.strip()}"'
    assert "filter" not in lookup.query
    assert len(emu.calls) == 2


def test_find_by_email_finds_deprovisioned_users(emu: OktaEmulator, client: OktaClient) -> None:
    """[SPEC] search results include DEPROVISIONED users: a deactivated owner still owns the account."""
    frank = emu.add_user("Frank.Fischer@example.com", "Frank", "Fischer", login="ffischer@example.com")
    emu.set_status(frank["id"], "DEPROVISIONED")
    found = client.find_by_email("frank.fischer@EXAMPLE.com")
    assert found is not None
    assert (found.id, found.status) == (frank["id"], OktaUserStatus.DEPROVISIONED)


def test_find_by_email_by_login_is_one_read(emu: OktaEmulator, client: OktaClient) -> None:
    frank = emu.add_user("Frank.Fischer@example.com", "Frank", "Fischer")
    found = client.find_by_email("frank.fischer@example.com")
    assert found is not None
    assert found.id == frank["id"]
    assert [c.path for c in emu.calls] == ["/api/v1/users/frank.fischer%40example.com"]


def test_find_by_email_login_of_someone_else_falls_through(emu: OktaEmulator, client: OktaClient) -> None:
    """A login equal to the address says nothing about whose ``profile.email`` it is."""
    emu.add_user("frank.private@example.org", "Other", "Person", login="frank.fischer@example.com")
    frank = emu.add_user("Frank.Fischer@example.com", "Frank", "Fischer", login="ffischer@example.com")
    found = client.find_by_email("frank.fischer@example.com")
    assert found is not None
    assert found.id == frank["id"]


def test_find_by_email_prefers_a_live_user(emu: OktaEmulator, client: OktaClient) -> None:
    """Okta does not keep emails unique: of a leaver and a rehire sharing one, the rehire owns it."""
    leaver = emu.add_user("Frank.Fischer@example.com", "Frank", "Fischer", login="ffischer@example.com")
    emu.set_status(leaver["id"], "DEPROVISIONED")
    rehire = emu.add_user("frank.fischer@example.com", "Frank", "Fischer", login="ffischer2@example.com")
    found = client.find_by_email("FRANK.FISCHER@example.com")
    assert found is not None
    assert found.id == rehire["id"]


@pytest.mark.parametrize("rehired", [True, False])
def test_find_by_email_looks_past_a_deprovisioned_login_owner(
    emu: OktaEmulator, client: OktaClient, rehired: bool
) -> None:
    """The leaver found by login owns the address only if no live user shares it."""
    leaver = emu.add_user("frank.fischer@example.com", "Frank", "Fischer")
    emu.set_status(leaver["id"], "DEPROVISIONED")
    if rehired:
        rehire = emu.add_user("Frank.Fischer@example.com", "Frank", "Fischer", login="ffischer@example.com")
    found = client.find_by_email("frank.fischer@example.com")
    assert found is not None
    assert found.id == (rehire["id"] if rehired else leaver["id"])
    assert len(emu.calls) == 2


def test_find_by_email_misses_other_addresses(emu: OktaEmulator, client: OktaClient) -> None:
    emu.add_user("frank.fischer@example.com.evil", "F", "F", login="f1@example.com")
    emu.add_user("xfrank.fischer@example.com", "F", "F", login="f2@example.com")
    assert client.find_by_email("frank.fischer@example.com") is None
    assert len(emu.calls) == 2


def test_find_by_email_writes_a_json_string_literal(emu: OktaEmulator, client: OktaClient) -> None:
    """[CORE] string literals are JSON strings: quotes and backslashes must be escaped, not break out."""
    odd = emu.add_user('"Frank\\Fischer"@example.com', "Frank", "Fischer", login="odd@example.com")
    found = client.find_by_email('"frank\\fischer"@example.com')
    assert found is not None
    assert found.id == odd["id"]
    assert emu.calls[-1].query["search"] == 'profile.email eq "\\"frank\\\\fischer\\"@example.com"'


def test_find_by_email_refuses_an_empty_address(emu: OktaEmulator, client: OktaClient) -> None:
    with pytest.raises(ValueError):
        client.find_by_email("  ")
    assert emu.calls == []


def test_filter_and_search_together_are_refused_locally(emu: OktaEmulator, client: OktaClient) -> None:
    """Okta answers 400 E0000033 to both at once; the mistake is ours, so it never leaves."""
    with pytest.raises(ValueError):
        list(client.iter_users(filter='status eq "ACTIVE"', search='status eq "ACTIVE"'))
    assert emu.calls == []


# ---------------------------------------------------------------- lists


def test_iter_users_walks_many_pages_lazily(emu: OktaEmulator, client: OktaClient) -> None:
    ids = seed(emu, 1234)
    emu.set_status(ids[3], "DEPROVISIONED")
    walker = client.iter_users(page_size=200)
    first = next(walker)
    assert first.id == ids[0]
    assert len(emu.calls) == 1, "only the first page is read before the first user is used"
    rest = list(walker)
    got = [first.id, *(u.id for u in rest)]
    assert got == [i for i in ids if i != ids[3]]
    assert len(emu.calls) == 7
    assert all(call.query["limit"] == "200" for call in emu.calls)
    assert [call.query.get("after") is None for call in emu.calls] == [True] + [False] * 6


def test_iter_users_filter_shows_deprovisioned(emu: OktaEmulator, client: OktaClient) -> None:
    ids = seed(emu, 5)
    emu.set_status(ids[1], "DEPROVISIONED")
    found = list(client.iter_users(filter='status eq "DEPROVISIONED"', page_size=2))
    assert [u.id for u in found] == [ids[1]]
    assert found[0].status is OktaUserStatus.DEPROVISIONED


def test_iter_app_users_embeds_users(emu: OktaEmulator, client: OktaClient) -> None:
    ids = seed(emu, 450, assign=True)
    emu.unassign(APP, ids[10])
    pairs = list(client.iter_app_users(APP, page_size=200))
    assert [a.id for a, _ in pairs] == [i for i in ids if i != ids[10]]
    assert all(a.id == u.id for a, u in pairs)
    assert pairs[0][1].profile.email == "user0@example.com"
    assert len(emu.calls) == 3
    assert all(call.query["expand"] == "user" for call in emu.calls)


@pytest.mark.parametrize("parameter", ["filter", "search"])
def test_iter_users_keeps_filter_and_search_on_every_page(
    emu: OktaEmulator, client: OktaClient, parameter: str
) -> None:
    ids = seed(emu, 12)
    emu.add_user("other@example.com", "Other", "Person", status="SUSPENDED")
    emu.set_status(ids[5], "DEPROVISIONED")
    expression = 'profile.firstName eq "First1" or profile.lastName eq "Last1" or status eq "ACTIVE"'
    found = list(client.iter_users(page_size=3, **{parameter: expression}))
    assert [u.id for u in found] == [i for i in ids if i != ids[5]]
    assert len(emu.calls) == 4
    assert {call.query[parameter] for call in emu.calls} == {expression}


def test_empty_list(emu: OktaEmulator, client: OktaClient) -> None:
    emu.add_app(APP)
    assert list(client.iter_app_users(APP)) == []


def test_unknown_app_is_invalid_not_empty(client: OktaClient) -> None:
    """A wrong OKTA_APP_ID must fail loudly, not look like an app nobody is assigned to."""
    with pytest.raises(InvalidError, match="E0000007"):
        list(client.iter_app_users("0oaMissing"))


# ---------------------------------------------------------------- error classes over HTTP


def test_401_is_auth_error(emu: OktaEmulator, make_client: Callable[..., OktaClient]) -> None:
    user_id = seed(emu, 1)[0]
    with pytest.raises(AuthError) as caught:
        make_client("not-the-token").get_user(user_id)
    assert caught.value.status == 401
    assert "E0000011" in str(caught.value)


def test_403_is_auth_error(emu: OktaEmulator, client: OktaClient) -> None:
    emu.add_app(APP)
    emu.forbid("/api/v1/apps/")
    with pytest.raises(AuthError) as caught:
        list(client.iter_app_users(APP))
    assert caught.value.status == 403
    assert "permission" in str(caught.value)


def test_400_is_invalid_error_with_summary(client: OktaClient) -> None:
    with pytest.raises(InvalidError) as caught:
        list(client.iter_users(filter='status ne "ACTIVE"'))
    assert caught.value.status == 400
    assert "Invalid search criteria" in str(caught.value)
    assert caught.value.retryable is False


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        (FaultKind.SERVER_ERROR, TransientError),
        (FaultKind.DROP, TransientError),
        (FaultKind.TIMEOUT, TransientError),
    ],
)
def test_faults_are_transient(
    emu: OktaEmulator, client: OktaClient, kind: FaultKind, error: type[UpstreamError]
) -> None:
    user_id = seed(emu, 1)[0]
    emu.faults = FaultPolicy(failure_rate=1.0, kinds=(kind,), after_apply_share=0.0, timeout_delay=0.5)
    with pytest.raises(error) as caught:
        client.get_user(user_id)
    assert caught.value.retryable


def test_429_wait_comes_from_rate_limit_reset(clock: SettableMonotonic, server: RunningServer) -> None:
    """[RL] X-Rate-Limit-Reset is the window end in epoch seconds; the wait is measured on our clock."""
    emu = server.app
    assert isinstance(emu, OktaEmulator)
    emu.add_user("a@example.com", "A", "B")
    emu.rate_limit = OktaRateLimit(limit=1, window_seconds=60)  # window 960..1020 for clock 1000.5
    client_clock = SettableMonotonic(1005.0)
    with OktaClient(server.url, lambda: TOKEN, timeout=FAST, clock=client_clock) as client:
        client.check()
        with pytest.raises(ThrottledError) as caught:
            client.check()
    assert caught.value.status == 429
    assert caught.value.retry_after == pytest.approx(15.0)
    assert emu.throttled == 1


def test_retry_policy_absorbs_a_short_throttle(
    emu: OktaEmulator, clock: SettableMonotonic, server: RunningServer
) -> None:
    clock.now = 100.5
    emu.rate_limit = OktaRateLimit(limit=2, window_seconds=2)  # window ends at 102
    seed(emu, 5)
    waits: list[float] = []
    policy = RetryPolicy(
        max_attempts=3, max_wait=2.0, sleep=clock.advance, on_retry=lambda _e, w: waits.append(w)
    )
    with OktaClient(server.url, lambda: TOKEN, retry=policy, timeout=FAST, clock=clock) as client:
        users = list(client.iter_users(page_size=2))
    assert len(users) == 5
    assert waits == [pytest.approx(1.5)]
    assert emu.throttled == 1


def test_retry_policy_covers_every_page(emu: OktaEmulator, make_client: Callable[..., OktaClient]) -> None:
    ids = seed(emu, 60, assign=True)
    emu.faults = FaultPolicy(failure_rate=0.3, seed=3, kinds=(FaultKind.SERVER_ERROR, FaultKind.DROP))
    policy = RetryPolicy(max_attempts=20, sleep=lambda _s: None)
    client = make_client(retry=policy)
    pairs = list(client.iter_app_users(APP, page_size=7))
    assert [a.id for a, _ in pairs] == ids
    failed = [c for c in emu.calls if c.fault is not None]
    assert failed, "the seed must inject failures for this test to mean anything"


def test_throttle_longer_than_max_wait_is_raised(
    emu: OktaEmulator, clock: SettableMonotonic, server: RunningServer
) -> None:
    emu.rate_limit = OktaRateLimit(limit=1, window_seconds=60)
    seed(emu, 1)
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=5, max_wait=2.0, sleep=sleeps.append)
    with OktaClient(server.url, lambda: TOKEN, retry=policy, timeout=FAST, clock=clock) as client:
        client.check()
        with pytest.raises(ThrottledError):
            client.check()
    assert sleeps == []


# ---------------------------------------------------------------- secrets never leak


def test_no_token_in_any_exception(emu: OktaEmulator, make_client: Callable[..., OktaClient]) -> None:
    user_id = seed(emu, 1)[0]
    emu.add_app(APP)
    caught: list[BaseException] = []

    def collect(call: Callable[[], object]) -> None:
        with pytest.raises(UpstreamError) as info:
            call()
        caught.append(info.value)

    collect(lambda: make_client(TOKEN + "-wrong").get_user(user_id))
    emu.forbid("/api/v1/apps/")
    collect(lambda: list(make_client().iter_app_users(APP)))
    collect(lambda: list(make_client().iter_users(filter="garbage")))
    emu.faults = FaultPolicy(failure_rate=1.0, kinds=(FaultKind.DROP,))
    collect(lambda: make_client().get_user(user_id))
    emu.faults = FaultPolicy(failure_rate=1.0, kinds=(FaultKind.TIMEOUT,), timeout_delay=0.5)
    collect(lambda: make_client().get_user(user_id))
    emu.faults = FaultPolicy(failure_rate=1.0, kinds=(FaultKind.SERVER_ERROR,))
    collect(lambda: make_client().get_user(user_id))

    assert {type(e) for e in caught} == {AuthError, InvalidError, TransientError}
    for exc in caught:
        chain: BaseException | None = exc
        while chain is not None:
            assert TOKEN not in str(chain)
            assert TOKEN not in repr(chain)
            assert "SSWS" not in str(chain)
            chain = chain.__cause__ or chain.__context__


# ---------------------------------------------------------------- hand-made answers


def mock_client(
    handler: Callable[[httpx.Request], httpx.Response], *, clock: Callable[[], float] = lambda: 0.0
) -> OktaClient:
    return OktaClient(ORG, lambda: TOKEN, transport=httpx.MockTransport(handler), clock=clock)


def test_404_without_okta_error_code_is_not_a_deletion() -> None:
    """A proxy's 404 page (wrong org URL) must never read as 'every user was deleted'."""
    client = mock_client(lambda _r: httpx.Response(404, text="<html>Not Found</html>"))
    with pytest.raises(InvalidError):
        client.get_user("00u1")
    with pytest.raises(InvalidError):
        client.get_app_user(APP, "00u1")


def test_next_link_to_another_host_is_refused() -> None:
    requested: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        return httpx.Response(
            200,
            json=[{"id": "00u1", "status": "ACTIVE", "profile": {"login": "a@x.com", "email": "a@x.com"}}],
            headers={"Link": '<https://evil.example/api/v1/users?after=00u1>; rel="next"'},
        )

    walker = mock_client(handler).iter_users()
    assert next(walker).id == "00u1"
    with pytest.raises(InvalidError, match="outside"):
        next(walker)
    assert requested == [f"{ORG}/api/v1/users?limit=200"]


def test_next_link_loop_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[], headers={"Link": f'<{ORG}/api/v1/users?after=x>; rel="next"'})

    with pytest.raises(InvalidError, match="loops"):
        list(mock_client(handler).iter_users())


def okta_user(n: int) -> dict[str, object]:
    email = f"user{n}@example.com"
    return {"id": f"00u{n:017d}", "status": "ACTIVE", "profile": {"login": email, "email": email}}


def paged(pages: list[list[dict[str, object]]], requested: list[httpx.URL]) -> Callable[..., httpx.Response]:
    """Answer page ``after=<n>`` (the first without ``after``) with a next link unless it is the last."""

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(request.url)
        index = int(request.url.params.get("after", "0"))
        headers = {}
        if index + 1 < len(pages):
            following = request.url.copy_set_param("after", str(index + 1))
            headers["Link"] = f'<{following}>; rel="next"'
        return httpx.Response(200, json=pages[index], headers=headers)

    return handler


def test_a_short_page_is_not_the_end() -> None:
    """[CORE] the list ends where the next link does, not where a page comes back short."""
    requested: list[httpx.URL] = []
    pages = [[okta_user(1)], [okta_user(2), okta_user(3)], [okta_user(4)]]
    users = list(mock_client(paged(pages, requested)).iter_users(page_size=2))
    assert [u.id for u in users] == [f"00u{n:017d}" for n in (1, 2, 3, 4)]
    assert len(requested) == 3


def test_empty_pages_with_a_next_link_are_followed() -> None:
    requested: list[httpx.URL] = []
    pages = [[okta_user(1)], *([[]] * _MAX_EMPTY_PAGES), [okta_user(2)]]
    users = list(mock_client(paged(pages, requested)).iter_users(page_size=1))
    assert [u.id for u in users] == [f"00u{n:017d}" for n in (1, 2)]
    assert len(requested) == _MAX_EMPTY_PAGES + 2


def test_endless_empty_pages_are_refused_after_a_bound() -> None:
    """Fresh cursors on empty pages escape the loop guard; the walk must still end, loudly."""
    requested: list[httpx.URL] = []
    pages: list[list[dict[str, object]]] = [[okta_user(1)], *([[]] * 1000)]
    walker = mock_client(paged(pages, requested)).iter_users(page_size=1)
    assert next(walker).id == f"00u{1:017d}"
    with pytest.raises(InvalidError, match="empty pages"):
        next(walker)
    assert len(requested) == _MAX_EMPTY_PAGES + 2


@pytest.mark.parametrize(("parameter", "value"), [("search", 'status eq "ACTIVE"'), ("filter", 'id eq "x"')])
def test_a_next_link_that_drops_the_query_gets_it_back(parameter: str, value: str) -> None:
    """A page of a search must be followed by the next page of that search, not of everyone."""
    requested: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(request.url)
        if "after" in request.url.params:
            return httpx.Response(200, json=[okta_user(2)])
        following = f"{ORG}/api/v1/users?after=1"  # no query, no limit
        return httpx.Response(200, json=[okta_user(1)], headers={"Link": f'<{following}>; rel="next"'})

    users = list(mock_client(handler).iter_users(page_size=1, **{parameter: value}))
    assert len(users) == 2
    assert [dict(url.params) for url in requested] == [
        {"limit": "1", parameter: value},
        {"after": "1", "limit": "1", parameter: value},
    ]


@pytest.mark.parametrize(
    "link",
    [
        f"{ORG}/api/v1/users?after=1&search=status+eq+%22SUSPENDED%22",
        f"{ORG}/api/v1/users?after=1&search=status+eq+%22ACTIVE%22&filter=id+eq+%22x%22",
        f"{ORG}/api/v1/users?after=1&search=status+eq+%22ACTIVE%22&search=id+eq+%22x%22",
    ],
)
def test_a_next_link_that_changes_the_query_is_refused(link: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[okta_user(1)], headers={"Link": f'<{link}>; rel="next"'})

    walker = mock_client(handler).iter_users(search='status eq "ACTIVE"')
    next(walker)
    with pytest.raises(InvalidError, match="changes the"):
        next(walker)


def test_the_server_may_clamp_the_page_size() -> None:
    """Only the query-defining parameters are held; a next link with a smaller ``limit`` is fine."""
    requested: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(request.url)
        if "after" in request.url.params:
            return httpx.Response(200, json=[okta_user(2)])
        following = f"{ORG}/api/v1/users?after=1&limit=200"
        return httpx.Response(200, json=[okta_user(1)], headers={"Link": f'<{following}>; rel="next"'})

    assert len(list(mock_client(handler).iter_users(page_size=500))) == 2
    assert [url.params["limit"] for url in requested] == ["500", "200"]


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(200, text="{not json"), TransientError),
        (httpx.Response(200, json=["not", "an", "object"]), InvalidError),
        (
            httpx.Response(200, json={"id": "00u1", "status": "ACTIVE", "profile": {"email": "pii@x.com"}}),
            InvalidError,
        ),
        (httpx.Response(200, json={"id": "00u1", "status": "NOT_A_STATUS", "profile": {}}), InvalidError),
    ],
)
def test_broken_success_bodies(response: httpx.Response, error: type[UpstreamError]) -> None:
    with pytest.raises(error) as caught:
        mock_client(lambda _r: response).get_user("00u1")
    assert "pii@x.com" not in str(caught.value)


def test_list_body_must_be_an_array() -> None:
    with pytest.raises(InvalidError):
        list(mock_client(lambda _r: httpx.Response(200, json={"id": "x"})).iter_users())


def test_app_user_without_embedded_user_is_invalid() -> None:
    body = [{"id": "00u1", "status": "ACTIVE", "scope": "USER"}]
    with pytest.raises(InvalidError, match="embedded"):
        list(mock_client(lambda _r: httpx.Response(200, json=body)).iter_app_users(APP))


OKTA_429 = {"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit due to too many requests."}


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "retry_after", "detail"),
    [
        (
            401,
            {"errorCode": "E0000011", "errorSummary": "Invalid token provided"},
            {},
            AuthError,
            None,
            "E0000011",
        ),
        (403, {"errorCode": "E0000006", "errorSummary": "no"}, {}, AuthError, None, "permission"),
        (429, OKTA_429, {"X-Rate-Limit-Reset": "1030"}, ThrottledError, 30.0, "E0000047"),
        (429, OKTA_429, {"X-Rate-Limit-Reset": "990"}, ThrottledError, 0.0, "rate limited"),
        (429, OKTA_429, {"X-Rate-Limit-Reset": "soon", "Retry-After": "7"}, ThrottledError, 7.0, "E0000047"),
        (429, OKTA_429, {"Retry-After": "4"}, ThrottledError, 4.0, "E0000047"),
        (429, None, {}, ThrottledError, None, "Too Many Requests"),
        (
            500,
            {"errorCode": "E0000009", "errorSummary": "Internal Server Error"},
            {},
            TransientError,
            None,
            "E0000009",
        ),
        (502, "<html>bad gateway</html>", {}, TransientError, None, "Bad Gateway"),
        (503, ["unexpected", "list"], {}, TransientError, None, "Service Unavailable"),
        (
            400,
            {"errorCode": "E0000001", "errorSummary": "Api validation failed: limit"},
            {},
            InvalidError,
            None,
            "limit",
        ),
        (404, {"errorCode": "E0000007", "errorSummary": "Not found"}, {}, InvalidError, None, "E0000007"),
        (405, {"errorSummary": 42}, {}, InvalidError, None, "Method Not Allowed"),
        (409, b"\xff\xfe garbage", {}, InvalidError, None, "Conflict"),
        (301, None, {"Location": "https://elsewhere"}, InvalidError, None, "Moved Permanently"),
    ],
)
def test_classification(
    status: int,
    body: object,
    headers: dict[str, str],
    error: type[UpstreamError],
    retry_after: float | None,
    detail: str,
) -> None:
    if body is None:
        response = httpx.Response(status, headers=headers)
    elif isinstance(body, bytes):
        response = httpx.Response(status, content=body, headers=headers)
    elif isinstance(body, str):
        response = httpx.Response(status, text=body, headers=headers)
    else:
        response = httpx.Response(status, json=body, headers=headers)
    classified = _classify(response, "get_user", now=1000.0)
    assert type(classified) is error
    assert classified.status == status
    assert classified.service == "okta"
    assert detail in str(classified)
    if isinstance(classified, ThrottledError):
        assert classified.retry_after == retry_after


def test_long_error_summaries_are_truncated() -> None:
    response = httpx.Response(400, json={"errorCode": "E0000001", "errorSummary": "x" * 5000})
    assert len(str(_classify(response, "op", now=0.0))) < 400


def test_context_manager_closes_the_pool() -> None:
    with mock_client(lambda _r: httpx.Response(200, json=[])) as client:
        assert list(client.iter_users()) == []
    with pytest.raises(RuntimeError):
        list(client.iter_users())
