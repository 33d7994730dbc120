"""MembershipSync over in-memory fakes: a user's memberships of pushed groups, after their own sync.

A *membership request* (``group.user_membership.add|remove`` of a pushed group, in the user's
message group) costs at most one TeamViewer member call once the group is linked, and Okta's
state at the time of handling decides it — so duplicate and reordered events converge. A
*user request* lets an active user join their pushed, linked groups and a user who lost
access leave them. With no group pushed, nothing about groups is read or written.
"""

from __future__ import annotations

import pytest

from tests.support.world import ACCESS_LOSSES, APP_ID, MEMBERSHIP_ADD, MEMBERSHIP_REMOVE, World
from tvsync.adapters.errors import ConflictError, InvalidError, ThrottledError
from tvsync.core.groups import GroupConfig
from tvsync.services.sqs_batch import RetryLaterError

MEMBER_WRITES = ("add_group_members", "remove_group_members")
USER_WRITES = ("create", "update")


def linked(w: World, name: str = "Support", *, members: int = 1) -> tuple[str, list[str]]:
    """A pushed group with ``members`` mapped members, linked by one group request; call logs start empty."""
    users = w.mapped_users(members, prefix=name.lower())
    group = w.push_group(name, members=tuple(users))
    w.sync_group(group)
    w.reset_calls()
    return group, users


def member_calls(w: World) -> list[tuple[str, int, tuple[int, ...]]]:
    return [(c.operation, c.args[0], c.args[1]) for c in w.tv.calls if c.operation in MEMBER_WRITES]


def group_writes(w: World) -> list[str]:
    return [c.operation for c in w.tv.writes() if c.operation not in USER_WRITES]


# ---------------------------------------------------------------------------- one membership


def test_a_membership_add_once_linked_costs_exactly_one_teamviewer_call() -> None:
    w = World()
    group, _ = linked(w)
    [bob] = w.mapped_users(1, prefix="bob")
    w.okta.add_to_group(group, bob)
    w.reset_calls()

    w.sync_membership(bob, group, MEMBERSHIP_ADD)

    tv_group = w.tv_group(group)
    assert member_calls(w) == [("add_group_members", tv_group, (w.number(bob),))]
    assert w.tv.writes() == [w.tv.calls[-1]], "one TeamViewer write in all: the member call"
    assert w.number(bob) in w.tv.members_of(tv_group)
    assert w.okta.operations("iter_user_groups") == ["iter_user_groups"]
    assert w.okta.operations("iter_group_users") == [], "the group's members are not walked"
    assert w.metric("GroupMembersAdded") == 1 + 1  # the link's member, then Bob
    [line] = w.logs.lines("Group membership synced")
    assert (line["okta_group_id"], line["operation"]) == (group, "add_members")


def test_a_membership_remove_once_linked_costs_exactly_one_teamviewer_call() -> None:
    w = World()
    group, (alice,) = linked(w)
    w.okta.remove_from_group(group, alice)

    w.sync_membership(alice, group, MEMBERSHIP_REMOVE)

    tv_group = w.tv_group(group)
    assert member_calls(w) == [("remove_group_members", tv_group, (w.number(alice),))]
    assert [c.operation for c in w.tv.writes()] == ["remove_group_members"]
    assert w.tv.members_of(tv_group) == []
    assert w.metric("GroupMembersRemoved") == 1


def test_a_membership_request_records_nothing_in_group_state_table() -> None:
    w = World()
    group, (alice,) = linked(w)
    before = w.link(group)
    w.sync_membership(alice, group)
    assert w.links.operations("put", "record_outcome") == []
    assert w.link(group) == before


def test_the_same_membership_event_delivered_twice_converges_to_the_same_state() -> None:
    w = World()
    group, _ = linked(w)
    [bob] = w.mapped_users(1, prefix="bob")
    w.okta.add_to_group(group, bob)
    request = w.membership_request(bob, group, MEMBERSHIP_ADD)

    first = w.dispatch(request)
    members = w.tv.members_of(w.tv_group(group))
    second = w.dispatch(request)  # a redelivery the idempotency record did not catch

    assert w.tv.members_of(w.tv_group(group)) == members
    assert first == second
    assert [op for op, _, _ in member_calls(w)] == ["add_group_members"] * 2, "at most one harmless call each"


def test_two_add_events_for_one_membership_converge_like_one() -> None:
    w = World()
    group, (alice,) = linked(w)
    w.sync_membership(alice, group, MEMBERSHIP_ADD)
    w.sync_membership(alice, group, MEMBERSHIP_ADD)
    assert w.tv.members_of(w.tv_group(group)) == [w.number(alice)]


@pytest.mark.parametrize("in_okta_now", [True, False])
def test_reordered_add_and_remove_events_end_as_okta_says_now(in_okta_now: bool) -> None:
    w = World()
    group, _ = linked(w)
    [bob] = w.mapped_users(1, prefix="bob")
    # Okta: add, then remove, then (maybe) add again; the worker gets them in another order.
    add, remove = (
        w.membership_request(bob, group, MEMBERSHIP_ADD),
        w.membership_request(bob, group, MEMBERSHIP_REMOVE),
    )
    if in_okta_now:
        w.okta.add_to_group(group, bob)

    w.dispatch(remove)
    w.dispatch(add)
    assert (w.number(bob) in w.tv.members_of(w.tv_group(group))) is in_okta_now
    w.dispatch(remove)
    assert (w.number(bob) in w.tv.members_of(w.tv_group(group))) is in_okta_now, (
        "the event type decides nothing"
    )


def test_a_user_created_after_their_membership_event_joins_with_their_own_sync() -> None:
    w = World()
    group, _ = linked(w)
    bob = w.okta.add_user("bob@example.com", "Bob", "Baker")  # in Okta, not yet assigned to the app
    w.okta.add_to_group(group, bob)
    w.reset_calls()

    w.sync_membership(bob, group, MEMBERSHIP_ADD)  # handled while Bob has no account
    assert w.tv.writes() == [], "no account yet: no member call"
    assert w.okta.operations("iter_user_groups") == []

    w.okta.assign(APP_ID, bob)
    w.sync_user(bob, "application.user_membership.add")  # Bob's account is created, then he joins
    assert w.tv.account("bob@example.com") is not None
    assert w.number(bob) in w.tv.members_of(w.tv_group(group))
    assert [c.operation for c in w.tv.writes()] == ["create", "add_group_members"]


def test_a_membership_event_for_a_group_not_yet_linked_links_it_and_converges_every_member() -> None:
    w = World()
    users = w.mapped_users(3)
    group = w.push_group("Support", members=tuple(users))
    w.reset_calls()

    w.sync_membership(users[0], group, MEMBERSHIP_ADD)

    tv_group = w.tv_group(group)
    assert w.tv.members_of(tv_group) == w.numbers(users), "the whole group, not just this member"
    assert group_writes(w) == ["create_group", "add_group_members"]
    assert w.link(group).last_operations == ["create", "add_members"]


def test_a_teamviewer_group_deleted_by_hand_is_linked_again_by_the_next_membership_event() -> None:
    w = World()
    group, (alice,) = linked(w)
    old = w.tv_group(group)
    w.tv.remove_group(old)
    [bob] = w.mapped_users(1, prefix="bob")
    w.okta.add_to_group(group, bob)

    w.sync_membership(bob, group, MEMBERSHIP_ADD)

    new = w.tv_group(group)
    assert new != old and [g.id for g in w.tv.groups()] == [new]
    assert w.tv.members_of(new) == w.numbers([alice, bob])


def test_a_membership_event_of_a_group_not_pushed_touches_no_group() -> None:
    w = World()
    linked(w)
    other = w.okta.add_group("Not pushed")
    [bob] = w.mapped_users(1, prefix="bob")
    w.okta.add_to_group(other, bob)
    w.reset_calls()
    w.sync_membership(bob, other)
    assert group_writes(w) == [] and w.links.operations() == []


def test_a_membership_refused_by_teamviewer_is_counted_not_retried() -> None:
    w = World()
    group, (alice,) = linked(w)
    w.tv.fail(
        "add_group_members", InvalidError("teamviewer", "add_group_members", "invalid_request", status=400)
    )
    w.sync_membership(alice, group)  # returns: asking again gets the same answer
    assert w.metric("InvalidRequests") == 1
    [warning] = w.logs.lines("TeamViewer refused a group membership change")
    assert warning["okta_group_id"] == group


def test_a_throttled_membership_goes_back_to_sqs_and_leaves_the_groups_record_alone() -> None:
    w = World()
    group, (alice,) = linked(w)
    before = w.link(group)
    w.tv.fail(
        "add_group_members",
        ThrottledError("teamviewer", "add_group_members", "rate_limit_reached", status=429, retry_after=20),
    )
    with pytest.raises(RetryLaterError) as raised:
        w.sync_membership(alice, group)
    assert (raised.value.throttled, raised.value.delay) == (True, 20)
    assert w.metric("TeamViewerThrottled") == 1
    # The group itself is as the last group sync left it: its record must not say otherwise.
    assert w.link(group) == before
    w.sync_membership(alice, group)
    assert w.link(group) == before


# ---------------------------------------------------------------------------- a user's own events


def test_an_active_users_event_joins_their_pushed_linked_groups_only() -> None:
    w = World()
    support, _ = linked(w, "Support")
    sales, _ = linked(w, "Sales")
    unpushed = w.okta.add_group("Not pushed")
    [bob] = w.mapped_users(1, prefix="bob")
    for group in (support, unpushed):
        w.okta.add_to_group(group, bob)
    w.reset_calls()

    w.sync_user(bob)

    assert member_calls(w) == [("add_group_members", w.tv_group(support), (w.number(bob),))]
    assert w.number(bob) not in w.tv.members_of(w.tv_group(sales))


@pytest.mark.parametrize("change", list(ACCESS_LOSSES))
def test_a_user_who_lost_access_leaves_every_linked_pushed_group(change: str) -> None:
    w = World()
    support, (alice,) = linked(w, "Support")
    sales, _ = linked(w, "Sales")
    w.okta.add_to_group(sales, alice)
    w.sync_group(sales)
    event = w.lose_access(alice, change)
    w.reset_calls()

    w.sync_user(alice, event)

    assert w.tv.account(w.record(alice).email or "")
    for group in (support, sales):
        assert w.number(alice) not in w.tv.members_of(w.tv_group(group))
    assert sorted(op for op, _, _ in member_calls(w)) == ["remove_group_members"] * 2, "one call per group"


def test_the_token_owner_suspended_in_okta_keeps_its_account_and_its_groups() -> None:
    """Never deactivated (the token would stop working), and for the same reason never removed."""
    w = World()
    admin = w.add_assigned(w.tv.OWNER_EMAIL, "Company", "Admin")
    w.sync(admin)
    assert w.record(admin).teamviewer_id == w.tv.owner_id
    group = w.push_group("Support", members=(admin,))
    w.sync_group(group)
    assert w.tv.members_of(w.tv_group(group)) == [w.number(admin)]
    w.okta.set_status(admin, "SUSPENDED")
    w.reset_calls()

    w.sync_user(admin, "user.lifecycle.suspend")

    assert member_calls(w) == []
    assert w.tv.members_of(w.tv_group(group)) == [w.number(admin)]


def test_a_member_suspended_leaves_on_a_membership_event_too() -> None:
    w = World()
    group, (alice,) = linked(w)
    w.okta.set_status(alice, "SUSPENDED")
    w.reset_calls()
    w.sync_membership(alice, group, MEMBERSHIP_ADD)
    assert w.tv.members_of(w.tv_group(group)) == []
    assert w.okta.operations("iter_user_groups") == [], "no access: Okta's list decides nothing"


def test_groups_disabled_by_default_cost_no_group_call_for_user_events() -> None:
    w = World()
    [alice] = w.mapped_users(1)
    w.okta.add_to_group(w.okta.add_group("Support"), alice)
    w.reset_calls()
    w.sync_user(alice)
    w.okta.set_status(alice, "SUSPENDED")
    w.sync_user(alice, "user.lifecycle.suspend")
    assert w.okta.operations() == ["get_user", "get_app_user"] * 2, "exactly the calls of a user sync"
    assert w.tv.operations() == ["token_owner", "update"], "the user's deactivation, nothing else"
    assert w.links.calls == []


def test_the_everyone_group_in_every_users_groups_causes_nothing() -> None:
    w = World()
    linked(w)
    [bob] = w.mapped_users(1, prefix="bob")  # in Everyone only
    w.reset_calls()
    w.sync_user(bob)
    w.sync_membership(bob, w.okta.everyone_id)
    assert group_writes(w) == []


def test_an_orphan_request_touches_no_group() -> None:
    w = World()
    linked(w)
    ghost = w.tv.add_user("ghost@example.com", "Ghost").id
    w.reset_calls()
    w.dispatch(w.request(f"orphan-{ghost}", "tvsync.reconcile", source="reconcile", teamviewer_id=ghost))
    assert group_writes(w) == [] and w.links.calls == [] and w.okta.operations("iter_user_groups") == []


def test_a_dry_run_writes_no_membership() -> None:
    w = World()
    group, (alice,) = linked(w)
    w.okta.remove_from_group(group, alice)
    w.redeploy(dry_run=True)
    w.sync_membership(alice, group, MEMBERSHIP_REMOVE)
    w.okta.set_status(alice, "SUSPENDED")
    w.sync_user(alice, "user.lifecycle.suspend")
    assert w.tv.writes() == [] and w.links.operations("put", "record_outcome") == []
    assert w.tv.members_of(w.tv_group(group)) == [w.number(alice)]


def test_a_user_whose_sync_could_not_read_okta_touches_no_group() -> None:
    w = World()
    group, (alice,) = linked(w)
    w.okta.fail("get_user", InvalidError("okta", "get_user", "E0000001", status=400))
    w.sync_user(alice)  # the user's sync gives up: it did not decide what the account should be
    assert group_writes(w) == [] and w.links.calls == []
    assert w.tv.members_of(w.tv_group(group)) == [w.number(alice)]


def test_a_released_group_kept_in_teamviewer_is_no_longer_joined_or_left() -> None:
    w = World()
    group, (alice,) = linked(w)
    w.configure_groups(GroupConfig())  # no longer pushed: released (kept) by its next group request
    w.sync_group(group)
    w.configure_groups(GroupConfig(frozenset({w.okta.add_group("Other")})))  # groups still enabled
    w.reset_calls()
    w.sync_user(alice)
    w.okta.set_status(alice, "SUSPENDED")
    w.sync_user(alice, "user.lifecycle.suspend")
    assert group_writes(w) == []


def test_a_pushed_group_whose_create_was_refused_does_not_fail_a_users_event() -> None:
    w = World()
    support, (alice,) = linked(w, "Support")
    taken = w.push_group("Taken")
    w.okta.add_to_group(taken, alice)
    w.tv.fail("create_group", ConflictError("teamviewer", "create_group", "conflict", status=409))
    w.sync_group(taken)
    assert w.link(taken).teamviewer_group_id is None
    w.reset_calls()
    w.sync_user(alice)  # Alice is in Support (linked) and Taken (recorded, not linked)
    assert member_calls(w) == [("add_group_members", w.tv_group(support), (w.number(alice),))]


def test_a_membership_event_for_a_group_whose_link_has_no_teamviewer_group_syncs_the_group() -> None:
    w = World()
    [alice] = w.mapped_users(1)
    group = w.push_group("Support", members=(alice,))
    w.tv.fail("create_group", ConflictError("teamviewer", "create_group", "conflict", status=409))
    w.sync_group(group)
    assert w.link(group).teamviewer_group_id is None
    w.reset_calls()
    w.sync_membership(alice, group)
    assert group_writes(w) == ["create_group", "add_group_members"], (
        "no member call to a group it does not have"
    )
    assert w.tv.members_of(w.tv_group(group)) == [w.number(alice)]
