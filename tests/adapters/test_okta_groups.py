"""The Okta client's group reads against the Okta emulator, in-process and over loopback HTTP.

A pushed group's TeamViewer group is emptied when Okta says the group is gone and a member
leaves it when Okta no longer lists them, so these reads may only answer "gone" or "nobody"
when Okta said so ([SPEC] ``E0000007``), and must otherwise read every page or fail.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support.fakes import SettableMonotonic
from tvsync.adapters.errors import AuthError, InvalidError, ThrottledError, TransientError
from tvsync.adapters.okta_client import OktaClient
from tvsync.emulators.http import FaultKind, FaultPolicy, serve
from tvsync.emulators.okta import OktaEmulator, OktaRateLimit
from tvsync.models.groups import OktaGroup
from tvsync.models.okta import OktaUserStatus

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

TOKEN = "s3cr3t-okta-T0KEN-value"
ORG = "https://acme.okta.test"
FAST = httpx.Timeout(2.0, read=0.2)


@pytest.fixture
def clock() -> SettableMonotonic:
    return SettableMonotonic(1000.5)


@pytest.fixture
def emu(clock: SettableMonotonic) -> OktaEmulator:
    return OktaEmulator(TOKEN, clock=clock)


@pytest.fixture(params=["in-process", "loopback"])
def client(
    request: pytest.FixtureRequest, emu: OktaEmulator, clock: SettableMonotonic
) -> Iterator[OktaClient]:
    if request.param == "in-process":
        with OktaClient(ORG, lambda: TOKEN, transport=emu.transport(), clock=clock) as client:
            yield client
        return
    with serve(emu) as server, OktaClient(server.url, lambda: TOKEN, timeout=FAST, clock=clock) as client:
        yield client


def seed(emu: OktaEmulator, count: int) -> list[str]:
    return [emu.add_user(f"user{i}@example.com", f"First{i}", f"Last{i}")["id"] for i in range(count)]


def small_pages(emu: OktaEmulator, kind: str, size: int) -> None:
    """Make one of the emulator's lists page by ``size`` (its ``LIST_LIMITS`` knob)."""
    emu.LIST_LIMITS = {
        **emu.LIST_LIMITS,
        kind: dataclasses.replace(emu.LIST_LIMITS[kind], default=size, maximum=size),
    }


def group_reads(emu: OktaEmulator) -> list[str]:
    return [c.path for c in emu.calls if "/groups" in c.path]


# ---------------------------------------------------------------- get_group


def test_get_group_reads_name_and_type(emu: OktaEmulator, client: OktaClient) -> None:
    support = emu.add_group("Support", description="First line")["id"]
    imported = emu.add_group("Sales", type="APP_GROUP")["id"]
    assert client.get_group(support) == OktaGroup(id=support, name="Support", type="OKTA_GROUP")
    assert client.get_group(imported) == OktaGroup(id=imported, name="Sales", type="APP_GROUP")
    assert client.get_group(emu.everyone_id) == OktaGroup(
        id=emu.everyone_id, name="Everyone", type="BUILT_IN"
    )
    emu.rename_group(support, "Support Team")
    renamed = client.get_group(support)
    assert renamed is not None and renamed.name == "Support Team"


@pytest.mark.parametrize("how", ["unknown", "deleted"])
def test_get_group_404_means_gone(emu: OktaEmulator, client: OktaClient, how: str) -> None:
    group_id = "00gNoSuchGroup000000"
    if how == "deleted":
        group_id = emu.add_group("Temporary")["id"]
        emu.delete_group(group_id)
    assert client.get_group(group_id) is None


def test_a_group_id_is_one_escaped_path_segment(emu: OktaEmulator, clock: SettableMonotonic) -> None:
    """Over a real socket, where the path arrives as sent (the in-process transport decodes it)."""
    with serve(emu) as server, OktaClient(server.url, lambda: TOKEN, timeout=FAST, clock=clock) as client:
        assert client.get_group("00g/../users") is None
        assert emu.calls[-1].path == "/api/v1/groups/00g%2F..%2Fusers"
        assert [g.id for g in client.iter_user_groups("user0@example.com")] == []
        assert emu.calls[-1].path == "/api/v1/users/user0%40example.com/groups"
        calls = len(emu.calls)
        with pytest.raises(ValueError, match="group_id"):
            client.get_group("")
        with pytest.raises(ValueError, match="group_id"):
            list(client.iter_group_users(""))
        with pytest.raises(ValueError, match="page_size"):
            list(client.iter_group_users("00g1", page_size=0))
        with pytest.raises(ValueError, match="user_id"):
            list(client.iter_user_groups(""))
        assert len(emu.calls) == calls, "an empty id never becomes a request for a list"


# ---------------------------------------------------------------- iter_group_users


def test_iter_group_users_walks_every_page_deactivated_members_included(
    emu: OktaEmulator, client: OktaClient
) -> None:
    """[CORE] ``Link: rel="next"`` until none; [DEACT-KB] a DEPROVISIONED member is still listed."""
    group_id = emu.add_group("Support")["id"]
    ids = seed(emu, 7)
    for user_id in ids:
        emu.add_to_group(group_id, user_id)
    emu.set_status(ids[2], "DEPROVISIONED")
    emu.reset_calls()

    members = list(client.iter_group_users(group_id, page_size=3))
    assert [m.id for m in members] == ids
    assert members[2].status is OktaUserStatus.DEPROVISIONED
    assert members[0].profile.email == "user0@example.com"
    requested = list(emu.calls)
    assert len(requested) == 3
    assert [c.query.get("limit") for c in requested] == ["3", "3", "3"]
    assert [bool(c.query.get("after")) for c in requested] == [False, True, True]


def test_iter_group_users_asks_for_okta_s_recommended_page(emu: OktaEmulator, client: OktaClient) -> None:
    """[SPEC] the default page is 1000 for historical reasons; 200 is the recommended limit."""
    group_id = emu.add_group("Support")["id"]
    assert list(client.iter_group_users(group_id)) == []
    assert emu.calls[-1].query == {"limit": "200"}


@pytest.mark.parametrize("how", ["unknown", "deleted"])
def test_a_group_okta_no_longer_has_holds_nobody(emu: OktaEmulator, client: OktaClient, how: str) -> None:
    group_id = "00gNoSuchGroup000000"
    if how == "deleted":
        group_id = emu.add_group("Temporary")["id"]
        emu.add_to_group(group_id, seed(emu, 1)[0])
        emu.delete_group(group_id)
    assert list(client.iter_group_users(group_id)) == []


def test_a_group_deleted_during_the_walk_is_an_incomplete_read(emu: OktaEmulator, client: OktaClient) -> None:
    """What came before the 404 is not the whole list: ending there would remove the rest."""
    group_id = emu.add_group("Support")["id"]
    for user_id in seed(emu, 5):
        emu.add_to_group(group_id, user_id)
    walker = client.iter_group_users(group_id, page_size=2)
    assert len([next(walker), next(walker)]) == 2
    emu.delete_group(group_id)
    with pytest.raises(TransientError, match="deleted while it was read") as caught:
        list(walker)
    assert caught.value.retryable


# ---------------------------------------------------------------- iter_user_groups


def test_iter_user_groups_follows_okta_s_pages(emu: OktaEmulator, client: OktaClient) -> None:
    """[JAVA-SDK] a user's groups come in pages linked by ``Link`` headers; the client sends no limit."""
    small_pages(emu, "user_groups", 2)
    user_id = seed(emu, 1)[0]
    ids = [emu.add_group(f"Group {n}")["id"] for n in range(4)]
    for group_id in ids:
        emu.add_to_group(group_id, user_id)
    emu.reset_calls()

    groups = list(client.iter_user_groups(user_id))
    assert [g.id for g in groups] == [emu.everyone_id, *ids]
    assert [g.name for g in groups] == ["Everyone", "Group 0", "Group 1", "Group 2", "Group 3"]
    assert len(emu.calls) == 3
    assert emu.calls[0].query == {}


def test_iter_user_groups_by_login_and_for_a_deactivated_user(emu: OktaEmulator, client: OktaClient) -> None:
    user_id = seed(emu, 1)[0]
    group_id = emu.add_group("Support")["id"]
    emu.add_to_group(group_id, user_id)
    emu.set_status(user_id, "DEPROVISIONED")
    expected = [emu.everyone_id, group_id]
    assert [g.id for g in client.iter_user_groups(user_id)] == expected
    assert [g.id for g in client.iter_user_groups("USER0@example.com")] == expected


def test_a_deleted_user_is_in_no_group(emu: OktaEmulator, client: OktaClient) -> None:
    user_id = seed(emu, 1)[0]
    emu.add_to_group(emu.add_group("Support")["id"], user_id)
    emu.delete_user(user_id)
    assert list(client.iter_user_groups(user_id)) == []


# ---------------------------------------------------------------- errors


def test_a_proxy_404_is_never_read_as_gone() -> None:
    """Only Okta's E0000007 means deleted: a wrong org URL must not empty every pushed group."""

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="<html>Not Found</html>")

    with OktaClient(ORG, lambda: TOKEN, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(InvalidError):
            client.get_group("00g1")
        with pytest.raises(InvalidError):
            list(client.iter_group_users("00g1"))
        with pytest.raises(InvalidError):
            list(client.iter_user_groups("00u1"))


def test_a_token_without_the_groups_right_is_an_auth_error(emu: OktaEmulator, client: OktaClient) -> None:
    """[SPEC] the reads need ``okta.groups.read``; a 403 must not read as "no such group"."""
    group_id = emu.add_group("Support")["id"]
    emu.forbid("/api/v1/groups/")
    with pytest.raises(AuthError) as caught:
        client.get_group(group_id)
    assert caught.value.status == 403
    with pytest.raises(AuthError):
        list(client.iter_group_users(group_id))
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    "read",
    [
        lambda c, gid, _uid: c.get_group(gid),
        lambda c, gid, _uid: list(c.iter_group_users(gid)),
        lambda c, _gid, uid: list(c.iter_user_groups(uid)),
    ],
    ids=["get_group", "iter_group_users", "iter_user_groups"],
)
def test_429_is_throttled_with_okta_s_reset(
    emu: OktaEmulator,
    client: OktaClient,
    clock: SettableMonotonic,
    read: Callable[[OktaClient, str, str], object],
) -> None:
    """[RL] the wait is the window's end (``X-Rate-Limit-Reset``) as measured on our clock."""
    user_id = seed(emu, 1)[0]
    group_id = emu.add_group("Support")["id"]
    emu.rate_limit = OktaRateLimit(limit=1, window_seconds=60)  # window 960..1020 for clock 1000.5
    client.check()
    with pytest.raises(ThrottledError) as caught:
        read(client, group_id, user_id)
    assert caught.value.status == 429
    assert caught.value.retry_after == pytest.approx(1020 - 1000.5)


def test_server_errors_are_transient(emu: OktaEmulator, client: OktaClient) -> None:
    group_id = emu.add_group("Support")["id"]
    emu.faults = FaultPolicy(failure_rate=1.0, kinds=(FaultKind.SERVER_ERROR,))
    with pytest.raises(TransientError) as caught:
        client.get_group(group_id)
    assert caught.value.retryable


def test_a_group_body_without_a_name_is_invalid() -> None:
    body = {"id": "00g1", "type": "OKTA_GROUP", "profile": {"description": "no name"}}

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    with OktaClient(ORG, lambda: TOKEN, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(InvalidError, match=r"profile\.name"):
            client.get_group("00g1")
