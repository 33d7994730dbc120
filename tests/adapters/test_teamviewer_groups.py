"""TeamViewerClient's user groups, members and roles against the emulator: in-process and over loopback.

Most tests run twice (``stack`` is parametrized): once through the emulator's in-process
transport and once over real HTTP on 127.0.0.1 (a DELETE with a JSON body must survive a
real socket). Where the exact bytes matter, or the server must misbehave in a way the
emulator never does (a cursor that loops, a page without ``resources``), an
``httpx.MockTransport`` stands in.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.fakes import SettableMonotonic
from tvsync.adapters import teamviewer_groups
from tvsync.adapters.errors import AuthError, ConflictError, InvalidError, ThrottledError, TransientError
from tvsync.adapters.retry import RetryPolicy
from tvsync.adapters.teamviewer_client import TeamViewerClient
from tvsync.adapters.teamviewer_groups import TeamViewerRole
from tvsync.emulators.http import FaultKind, FaultPolicy, serve
from tvsync.emulators.teamviewer import (
    FIRST_GROUP_ID,
    GROUPS_CREATE,
    GROUPS_EDIT,
    ROLES_ASSIGN,
    RateLimit,
    TeamViewerEmulator,
)
from tvsync.models.groups import MAX_MEMBERS_PER_CALL, TeamViewerGroup

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

TOKEN = "tv-secret-token-4f1c9a"
FAST = httpx.Timeout(connect=1.0, read=0.5, write=1.0, pool=1.0)
JANE, JOHN, OUTSIDER = 1000002, 1000003, 1000004


class Stack:
    """The emulator, and clients pointed at it in-process or over loopback."""

    def __init__(self, app: TeamViewerEmulator, url: str | None) -> None:
        self.app = app
        self.url = url
        self._clients: list[TeamViewerClient] = []

    def client(self, **kwargs: Any) -> TeamViewerClient:
        kwargs.setdefault("timeout", FAST)
        if self.url is None:
            client = TeamViewerClient(
                "http://tv.test", lambda: TOKEN, transport=self.app.transport(), **kwargs
            )
        else:
            client = TeamViewerClient(self.url, lambda: TOKEN, **kwargs)
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def paths(self) -> list[tuple[str, str]]:
        return [(c.method, c.path.removeprefix("/api/v1")) for c in self.app.calls]


@pytest.fixture
def clock() -> SettableMonotonic:
    return SettableMonotonic(500.0)


@pytest.fixture(params=["in-process", "loopback"])
def stack(request: pytest.FixtureRequest, clock: SettableMonotonic) -> Iterator[Stack]:
    app = TeamViewerEmulator(TOKEN, clock=clock, v1_page_size=4)
    app.add_user("jane.doe@example.test", "Jane Doe")
    app.add_user("john.roe@example.test", "John Roe", active=False)
    app.add_foreign_account("outsider@example.test", "Out Sider")
    if request.param == "in-process":
        test_stack = Stack(app, None)
        yield test_stack
        test_stack.close()
        return
    with serve(app) as server:
        test_stack = Stack(app, server.url)
        yield test_stack
        test_stack.close()


def company_numbers(app: TeamViewerEmulator, count: int) -> list[int]:
    ids = app.add_users((f"staff{n:04d}@example.test", f"Staff {n}", True) for n in range(count))
    return [int(i.removeprefix("u")) for i in ids]


def mock_client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> TeamViewerClient:
    return TeamViewerClient("http://tv.test", lambda: TOKEN, transport=httpx.MockTransport(handler), **kwargs)


# ---------------------------------------------------------------------- groups


def test_iter_groups_follows_the_cursor_over_several_pages(stack: Stack) -> None:
    ids = [stack.app.add_group(f"Group {n:02d}") for n in range(10)]
    groups = list(stack.client().iter_groups())
    assert [g.id for g in groups] == ids
    assert groups[0] == TeamViewerGroup(id=ids[0], name="Group 00")
    calls = stack.app.calls
    assert len(calls) == 3, "10 groups on pages of 4"
    assert calls[0].query == {}, "no limit unless asked: TeamViewer documents no maximum"
    assert "paginationToken" in calls[1].query and "paginationToken" in calls[2].query


def test_iter_groups_sends_limit_when_given_and_is_lazy(stack: Stack) -> None:
    for n in range(5):
        stack.app.add_group(f"G{n}")
    walk = stack.client().iter_groups(page_size=2)
    assert stack.app.calls == []
    assert next(walk).name == "G0"
    assert [dict(c.query) for c in stack.app.calls] == [{"limit": "2"}]
    assert [g.name for g in walk] == ["G1", "G2", "G3", "G4"]
    with pytest.raises(ValueError, match="page_size"):
        list(stack.client().iter_groups(page_size=0))


def test_get_group_is_none_for_a_gone_group(stack: Stack) -> None:
    group_id = stack.app.add_group("Support")
    client = stack.client()
    assert client.get_group(group_id) == TeamViewerGroup(id=group_id, name="Support")
    stack.app.remove_group(group_id)
    assert client.get_group(group_id) is None


def test_find_group_by_name_prefers_the_exact_name_then_other_case(stack: Stack) -> None:
    stack.app.group_names_ignore_case = False  # so both spellings can exist
    for n in range(6):
        stack.app.add_group(f"Filler {n}")
    lower = stack.app.add_group("support")
    exact = stack.app.add_group("Support")
    client = stack.client()
    assert client.find_group_by_name("Support") == TeamViewerGroup(id=exact, name="Support")
    assert client.find_group_by_name("SUPPORT") == TeamViewerGroup(id=lower, name="support")
    assert client.find_group_by_name("Support ") is None
    assert client.find_group_by_name("Nobody") is None


def test_create_group_and_a_taken_name_is_a_conflict(stack: Stack) -> None:
    client = stack.client()
    created = client.create_group("Support")
    assert created == TeamViewerGroup(id=FIRST_GROUP_ID, name="Support")
    for name in ("Support", "support"):
        with pytest.raises(ConflictError) as caught:
            client.create_group(name)
        assert caught.value.status == 409
        assert caught.value.retryable is False
    assert client.find_group_by_name("support") == created, "the group to adopt instead"


@pytest.mark.parametrize("length", [0, 101])
def test_a_name_teamviewer_would_refuse_is_never_sent(stack: Stack, length: int) -> None:
    client = stack.client()
    group_id = stack.app.add_group("Support")
    with pytest.raises(ValueError, match="1 to 100"):
        client.create_group("x" * length)
    with pytest.raises(ValueError, match="1 to 100"):
        client.rename_group(group_id, "x" * length)
    assert stack.app.calls == []
    assert client.create_group("x" * 100).name == "x" * 100


def test_rename_group(stack: Stack) -> None:
    support = stack.app.add_group("Support")
    stack.app.add_group("Helpdesk")
    client = stack.client()
    client.rename_group(support, "Service Desk")
    assert client.get_group(support) == TeamViewerGroup(id=support, name="Service Desk")
    client.rename_group(support, "SERVICE DESK")  # its own name in other case: not taken
    with pytest.raises(ConflictError):
        client.rename_group(support, "helpdesk")
    stack.app.remove_group(support)
    with pytest.raises(InvalidError) as gone:
        client.rename_group(support, "Again")
    assert gone.value.status == 404


def test_delete_group_and_a_gone_group_is_already_deleted(stack: Stack) -> None:
    group_id = stack.app.add_group("Support")
    client = stack.client()
    client.delete_group(group_id)
    assert stack.app.groups() == []
    client.delete_group(group_id)  # a retried delete meets its own success: no error
    assert [c.status for c in stack.app.calls] == [204, 404]


@pytest.mark.parametrize("group_id", [0, -5, True])
def test_a_group_id_must_be_a_positive_int(stack: Stack, group_id: int) -> None:
    with pytest.raises(ValueError, match="user group id"):
        stack.client().get_group(group_id)


# ---------------------------------------------------------------------- members


def test_iter_group_members_pages_and_a_gone_group_is_404_not_empty(stack: Stack) -> None:
    numbers = company_numbers(stack.app, 9)
    group_id = stack.app.add_group("Support", members=numbers)
    client = stack.client()
    assert list(client.iter_group_members(group_id)) == numbers
    assert len(stack.app.calls) == 3
    stack.app.remove_group(group_id)
    with pytest.raises(InvalidError) as gone:
        list(client.iter_group_members(group_id))
    assert gone.value.status == 404


def test_add_and_remove_members_send_the_numbers_as_a_json_array(stack: Stack) -> None:
    group_id = stack.app.add_group("Support")
    client = stack.client()
    client.add_group_members(group_id, [JOHN, JANE, JOHN])
    assert stack.app.group_members(group_id) == [JANE, JOHN]
    client.remove_group_members(group_id, [JANE])
    assert stack.app.group_members(group_id) == [JOHN]
    path = f"/usergroups/{group_id}/members"
    assert stack.paths() == [("POST", path), ("DELETE", path)]
    assert [c.status for c in stack.app.calls] == [201, 204]


def test_adding_a_member_again_and_removing_a_non_member_are_harmless(stack: Stack) -> None:
    """The worker sends one call per membership event without reading the list first."""
    group_id = stack.app.add_group("Support", members=[JANE])
    client = stack.client()
    client.add_group_members(group_id, [JANE])
    client.remove_group_members(group_id, [JOHN])
    assert stack.app.group_members(group_id) == [JANE]
    assert len(stack.app.calls) == 2, "one call each, both successful"


def test_nothing_to_add_or_remove_sends_nothing(stack: Stack) -> None:
    group_id = stack.app.add_group("Support")
    client = stack.client()
    client.add_group_members(group_id, [])
    client.remove_group_members(group_id, ())
    assert stack.app.calls == []


@pytest.mark.parametrize("count", [MAX_MEMBERS_PER_CALL, MAX_MEMBERS_PER_CALL + 1])
def test_at_most_100_ids_per_member_call(stack: Stack, count: int) -> None:
    numbers = company_numbers(stack.app, count)
    group_id = stack.app.add_group("Everyone")
    client = stack.client()
    if count > MAX_MEMBERS_PER_CALL:
        for call in (client.add_group_members, client.remove_group_members):
            with pytest.raises(ValueError, match="at most 100"):
                call(group_id, numbers)
        assert stack.app.calls == [], "refused before sending: the core batches"
        return
    client.add_group_members(group_id, numbers)
    assert stack.app.group_members(group_id) == numbers
    client.remove_group_members(group_id, numbers)
    assert stack.app.group_members(group_id) == []
    assert len(stack.app.calls) == 2


@pytest.mark.parametrize("bad", ["u1000002", True, 0, -3, 1.5])
def test_only_account_numbers_are_sent(stack: Stack, bad: Any) -> None:
    group_id = stack.app.add_group("Support")
    with pytest.raises(ValueError, match="account number"):
        stack.client().add_group_members(group_id, [JANE, bad])
    assert stack.app.calls == []


@pytest.mark.parametrize("stranger", [OUTSIDER, 4242])
def test_an_account_outside_the_company_is_invalid_and_nothing_is_added(stack: Stack, stranger: int) -> None:
    group_id = stack.app.add_group("Support")
    with pytest.raises(InvalidError) as caught:
        stack.client().add_group_members(group_id, [JANE, stranger])
    assert caught.value.status == 400
    assert "account must be member of the company" in str(caught.value)
    assert stack.app.group_members(group_id) == []


def test_member_calls_on_a_gone_group_are_404(stack: Stack) -> None:
    client = stack.client()
    gone = FIRST_GROUP_ID + 7
    for call in (client.add_group_members, client.remove_group_members):
        with pytest.raises(InvalidError) as caught:
            call(gone, [JANE])
        assert caught.value.status == 404


def test_a_member_add_whose_answer_was_lost_is_retried_harmlessly(stack: Stack) -> None:
    """The add applied, the connection dropped, the retry adds again: still one member, no error."""
    group_id = stack.app.add_group("Support")
    stack.app.faults = FaultPolicy(failure_rate=1.0, kinds=(FaultKind.DROP,), after_apply_share=1.0)

    def heal(error: object, wait: float) -> None:
        stack.app.faults = FaultPolicy()

    client = stack.client(
        retry=RetryPolicy(max_attempts=2, base_backoff=0.0, sleep=lambda _: None, on_retry=heal)
    )
    client.add_group_members(group_id, [JANE])
    assert stack.app.group_members(group_id) == [JANE]
    assert [c.outcome for c in stack.app.calls] == ["drop", "201"]


# ---------------------------------------------------------------------- roles


def test_roles_list_and_a_groups_one_role(stack: Stack) -> None:
    supporter, admin = stack.app.add_role("Supporter"), stack.app.add_role("Admin")
    group_id = stack.app.add_group("Support")
    client = stack.client()
    assert list(client.iter_roles()) == [
        TeamViewerRole(id=supporter, name="Supporter"),
        TeamViewerRole(id=admin, name="Admin"),
    ]
    assert client.group_role(group_id) is None
    client.assign_group_role(group_id, supporter)
    assert client.group_role(group_id) == supporter
    client.assign_group_role(group_id, admin)
    assert client.group_role(group_id) == admin, "a group holds one role: assigning replaces"
    client.unassign_group_role(group_id)
    assert client.group_role(group_id) is None
    client.unassign_group_role(group_id)  # nothing assigned: still fine


def test_role_calls_that_name_nothing_are_invalid(stack: Stack) -> None:
    role = stack.app.add_role("Supporter")
    group_id = stack.app.add_group("Support")
    client = stack.client()
    with pytest.raises(InvalidError):
        client.assign_group_role(group_id, "no-such-role")
    with pytest.raises(InvalidError):
        client.assign_group_role(FIRST_GROUP_ID + 9, role)
    with pytest.raises(InvalidError):
        client.unassign_group_role(FIRST_GROUP_ID + 9)
    with pytest.raises(InvalidError) as gone:
        client.group_role(FIRST_GROUP_ID + 9)
    assert gone.value.status == 404
    with pytest.raises(ValueError, match="role id"):
        client.assign_group_role(group_id, "")
    assert stack.app.group_role(group_id) is None


# ---------------------------------------------------------------------- errors shared with users


@pytest.mark.parametrize(
    ("missing", "action"),
    [
        (GROUPS_CREATE, lambda c, g: c.create_group("New")),
        (GROUPS_EDIT, lambda c, g: c.add_group_members(g, [JANE])),
        (ROLES_ASSIGN, lambda c, g: c.unassign_group_role(g)),
    ],
    ids=["create", "members", "roles"],
)
def test_a_missing_right_is_an_auth_error(
    stack: Stack, missing: str, action: Callable[[TeamViewerClient, int], object]
) -> None:
    group_id = stack.app.add_group("Support")
    stack.app.permissions = stack.app.permissions - {missing}
    with pytest.raises(AuthError) as caught:
        action(stack.client(), group_id)
    assert caught.value.status == 403
    assert "invalid_permission" in str(caught.value)


@pytest.mark.parametrize(("style", "status", "retry_after"), [("429", 429, 2.0), ("403", 403, None)])
def test_a_rate_limit_on_a_group_call_is_throttled(
    stack: Stack, style: Any, status: int, retry_after: float | None
) -> None:
    group_id = stack.app.add_group("Support")
    stack.app.rate_limit = RateLimit(requests_per_second=0.5, burst=1, style=style)
    client = stack.client()
    client.get_group(group_id)
    with pytest.raises(ThrottledError) as caught:
        list(client.iter_group_members(group_id))
    assert (caught.value.status, caught.value.retry_after) == (status, retry_after)


def test_a_short_wait_is_absorbed_by_the_retry_policy(stack: Stack, clock: SettableMonotonic) -> None:
    for n in range(6):
        stack.app.add_group(f"G{n}")
    stack.app.rate_limit = RateLimit(requests_per_second=1, burst=1)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    client = stack.client(retry=RetryPolicy(max_attempts=3, max_wait=2.0, sleep=sleep))
    assert len(list(client.iter_groups())) == 6
    assert waits == [1.0]
    assert [c.status for c in stack.app.calls] == [200, 429, 200]


def test_server_errors_are_transient(stack: Stack) -> None:
    stack.app.faults = FaultPolicy(failure_rate=1.0, kinds=(FaultKind.SERVER_ERROR,))
    with pytest.raises(TransientError):
        list(stack.client().iter_groups())


# ---------------------------------------------------------------------- the wire, byte for byte


def test_request_shapes() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST" and request.url.path == "/api/v1/usergroups":
            return httpx.Response(201, json={"id": 7, "name": "Support", "creationSourceType": 1})
        return httpx.Response(204)

    client = mock_client(handler)
    client.create_group("Support")
    client.rename_group(7, "Helpdesk")
    client.add_group_members(7, [JANE, JOHN])
    client.remove_group_members(7, [JOHN])
    client.assign_group_role(7, "role-guid")
    client.unassign_group_role(7)
    client.delete_group(7)
    assert [(r.method, r.url.path) for r in seen] == [
        ("POST", "/api/v1/usergroups"),
        ("PUT", "/api/v1/usergroups/7"),
        ("POST", "/api/v1/usergroups/7/members"),
        ("DELETE", "/api/v1/usergroups/7/members"),
        ("POST", "/api/v1/userroles/assign/usergroup"),
        ("POST", "/api/v1/userroles/unassign/usergroup"),
        ("DELETE", "/api/v1/usergroups/7"),
    ]
    assert [json.loads(r.content) if r.content else None for r in seen] == [
        {"name": "Support"},
        {"name": "Helpdesk"},
        [JANE, JOHN],
        [JOHN],
        {"UserRoleId": "role-guid", "UserGroupId": 7},
        {"UserGroupId": 7},
        None,
    ]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in seen)
    assert all(r.headers["Content-Type"] == "application/json" for r in seen if r.content)


def pages(*bodies: object) -> Callable[[httpx.Request], httpx.Response]:
    """A server answering the given bodies in turn."""
    answers = list(bodies)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answers.pop(0))

    return handler


def test_a_pagination_token_seen_twice_is_an_error_not_a_loop() -> None:
    page = {"nextPaginationToken": "again", "resources": [{"id": 1, "name": "A"}]}
    client = mock_client(pages(page, page, page))
    with pytest.raises(TransientError, match="already given"):
        list(client.iter_groups())


def test_an_empty_next_token_ends_the_walk() -> None:
    client = mock_client(pages({"nextPaginationToken": "", "resources": [{"id": 1, "name": "A"}]}))
    assert [g.id for g in client.iter_groups()] == [1]


def test_a_walk_that_never_ends_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(teamviewer_groups, "MAX_PAGES", 3)
    counter = iter(range(100))

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"nextPaginationToken": f"t{next(counter)}", "resources": []})

    with pytest.raises(TransientError, match="does not end"):
        list(mock_client(handler).iter_groups())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"nextPaginationToken": None}, "resources"),
        ({"resources": [{"id": 1, "name": "A"}, {"name": "B"}]}, "resources.1.id"),
        ({"resources": [{"id": "1", "name": "A"}]}, "resources.0.id"),
        ({"resources": "many"}, "resources"),
        (["not", "an", "object"], "unexpected response body"),
    ],
    ids=["no-resources", "group-without-id", "id-as-text", "resources-not-a-list", "not-an-object"],
)
def test_a_malformed_group_page_is_a_clear_error_never_a_short_list(body: Any, field: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    with pytest.raises(TransientError) as caught:
        list(mock_client(handler).iter_groups())
    assert field in str(caught.value)


@pytest.mark.parametrize(
    "member",
    [{"name": "Jane"}, {"accountId": "u1000002"}, {"accountId": 0}, {"accountId": True}],
    ids=["no-account-id", "u-id", "zero", "bool"],
)
def test_a_malformed_member_fails_the_walk_instead_of_dropping_the_member(member: dict[str, Any]) -> None:
    body = {"resources": [{"accountId": JANE, "name": "Jane"}, member]}
    client = mock_client(pages(body))
    with pytest.raises(TransientError, match=r"resources\.1\.accountId"):
        list(client.iter_group_members(7))


def test_a_role_answer_must_say_which_role() -> None:
    client = mock_client(pages({"ContinuationToken": None}, {"assignedRoleId": None}))
    with pytest.raises(TransientError, match="assignedRoleId"):
        client.group_role(7)
    assert client.group_role(7) is None


def test_error_text_never_carries_names_from_the_body() -> None:
    """Only field locations and error kinds go into the message: group and member names are data."""
    body = {"resources": [{"id": "secret-looking jane.doe@example.test", "name": "Jane's group"}]}
    with pytest.raises(TransientError) as caught:
        list(mock_client(pages(body)).iter_groups())
    assert "jane.doe" not in str(caught.value)
    assert "Jane's group" not in str(caught.value)
