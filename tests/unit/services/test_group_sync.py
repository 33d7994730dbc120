"""GroupSynchronizer over in-memory fakes: one test per rule of the group contract, group requests.

A *group request* (``group-<id>``) converges the group itself — link (create or adopt), name,
role — and its whole membership. Each test sets the scene the way it happens in production
(users the real user synchroniser mapped, an Okta admin's changes, edits made in TeamViewer
by hand), runs the request through the real dispatcher, and checks TeamViewer, the
GroupStateTable record, the calls made and the metrics. Memberships that follow a user's own
event are ``test_group_membership.py``; the reconciler's half is ``test_group_reconcile.py``.
"""

from __future__ import annotations

import pytest

from tests.support.world import ACCESS_LOSSES, World
from tvsync.adapters.errors import AuthError, ConflictError, InvalidError, ThrottledError, TransientError
from tvsync.core.groups import GroupConfig
from tvsync.models.groups import TeamViewerGroup, account_number
from tvsync.services.sqs_batch import RetryLaterError

MEMBER_WRITES = ("add_group_members", "remove_group_members")


def linked(
    w: World, name: str = "Support", *, members: int = 0, role_id: str | None = None
) -> tuple[str, list[str]]:
    """A pushed group with ``members`` mapped members, linked by one group request; call logs start empty."""
    users = w.mapped_users(members, prefix=name.lower())
    group = w.push_group(name, role_id=role_id, members=tuple(users))
    w.sync_group(group)
    assert w.link(group).last_outcome == "applied"
    w.reset_calls()
    return group, users


def member_calls(w: World) -> list[tuple[str, tuple[int, ...]]]:
    return [(c.operation, c.args[1]) for c in w.tv.calls if c.operation in MEMBER_WRITES]


# ---------------------------------------------------------------------------- linking


def test_a_250_member_group_is_linked_in_one_request_with_three_member_calls_of_at_most_100() -> None:
    w = World()
    users = w.mapped_users(250)
    group = w.push_group("Support", members=tuple(users))
    w.reset_calls()

    result = w.sync_group(group)

    [tv_group] = w.tv.groups()
    assert tv_group.name == "Support"
    assert w.tv.members_of(tv_group.id) == w.numbers(users), "exactly Okta's members"
    calls = member_calls(w)
    assert [op for op, _ in calls] == ["add_group_members"] * 3
    assert [len(batch) for _, batch in calls] == [100, 100, 50]
    assert w.tv.operations("create_group") == ["create_group"], "one request, one group"
    assert w.okta.operations("iter_group_users") == ["iter_group_users"]
    assert w.state.operations("get_many") == ["get_many"], "one batched read of the members' records"
    assert (result["outcome"], result["operations"]) == ("applied", ["create", "add_members"])
    assert (result["members_added"], result["members_removed"]) == (250, 0)
    link = w.link(group)
    assert (link.teamviewer_group_id, link.name, link.role_id) == (tv_group.id, "Support", None)
    assert (link.last_outcome, link.last_reason, link.last_operations) == (
        "applied",
        "group-missing",
        ["create", "add_members"],
    )
    assert link.last_applied_at == link.updated_at == w.clock.now
    assert (w.metric("GroupsCreated"), w.metric("GroupMembersAdded")) == (1, 250)


def test_a_teamviewer_group_of_that_name_is_adopted_not_duplicated() -> None:
    w = World()
    [alice] = w.mapped_users(1)
    existing = w.tv.add_group("Support")
    group = w.push_group("Support", members=(alice,))
    w.reset_calls()

    result = w.sync_group(group)

    assert [g.id for g in w.tv.groups()] == [existing], "adopted: no second group"
    assert "create_group" not in w.tv.operations()
    assert w.tv.members_of(existing) == [w.number(alice)]
    link = w.link(group)
    assert link.teamviewer_group_id == existing
    assert (link.last_reason, link.last_operations) == ("group-adopted", ["adopt", "add_members"])
    assert result["operations"] == ["adopt", "add_members"]
    assert w.metric("GroupsCreated") == 0


def test_a_group_adopted_as_it_is_is_recorded_as_adopted() -> None:
    w = World()
    existing = w.tv.add_group("Support")
    group = w.push_group("Support")
    result = w.sync_group(group)
    assert w.tv.writes() == []
    link = w.link(group)
    assert (link.teamviewer_group_id, link.last_outcome, link.last_reason, link.last_operations) == (
        existing,
        "applied",
        "group-adopted",
        ["adopt"],
    )
    assert link.last_applied_at == w.clock.now, "linking is a change, even without a write"
    assert result["operations"] == ["adopt"]


def test_a_name_taken_meanwhile_is_adopted_after_the_create_is_refused() -> None:
    w = World()
    group = w.push_group("Support")
    # Another writer made the group between the worker's look-up and its create.
    w.tv.fail(
        "create_group", ConflictError("teamviewer", "create_group", "conflict", status=409), after_apply=True
    )
    w.sync_group(group)
    [tv_group] = w.tv.groups()
    assert w.tv_group(group) == tv_group.id
    assert w.link(group).last_operations == ["adopt"]
    assert w.metric("GroupsCreated") == 0


def test_a_name_taken_by_a_group_the_company_cannot_see_is_a_recorded_conflict() -> None:
    w = World()
    [alice] = w.mapped_users(1)
    group = w.push_group("Support", members=(alice,))
    w.tv.fail(
        "create_group", ConflictError("teamviewer", "create_group", "conflict: name exists", status=409)
    )
    w.reset_calls()

    result = w.sync_group(group)  # returns: a conflict is not retried

    assert w.tv.groups() == []
    assert [c.operation for c in w.tv.writes()] == ["create_group"]
    assert w.tv.operations("add_group_members") == []
    link = w.link(group)
    assert (link.teamviewer_group_id, link.last_outcome) == (None, "conflict")
    assert link.last_reason is not None and link.last_reason.startswith("name-taken: ")
    assert result["outcome"] == "conflict"


def test_two_pushed_okta_groups_of_one_name_never_share_a_teamviewer_group() -> None:
    w = World()
    [alice, bob] = w.mapped_users(2)
    first = w.push_group("Support", members=(alice,))
    second = w.push_group("Support", members=(bob,))
    w.sync_group(first)
    w.reset_calls()

    result = w.sync_group(second)

    [tv_group] = w.tv.groups()
    assert w.tv.members_of(tv_group.id) == [w.number(alice)], "the second group's members never join"
    assert w.tv.writes() == []
    link = w.link(second)
    assert (link.teamviewer_group_id, link.last_outcome) == (None, "conflict")
    assert (link.last_reason or "").startswith("name-taken")
    assert result["outcome"] == "conflict"


def test_a_name_linked_meanwhile_by_another_okta_group_is_a_conflict_not_shared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = World()
    [alice, bob] = w.mapped_users(2)
    first = w.push_group("Support", members=(alice,))
    second = w.push_group("Support", members=(bob,))
    w.sync_group(first)
    # The second group's look-up ran before the first one's create: it found no group.
    find = w.tv.find_group_by_name
    looked: list[str] = []

    def stale_first_look(name: str) -> TeamViewerGroup | None:
        looked.append(name)
        return None if len(looked) == 1 else find(name)

    monkeypatch.setattr(w.tv, "find_group_by_name", stale_first_look)
    w.reset_calls()

    w.sync_group(second)

    [tv_group] = w.tv.groups()
    assert w.tv.members_of(tv_group.id) == [w.number(alice)]
    assert [c.operation for c in w.tv.writes()] == ["create_group"], "refused as taken; nothing else written"
    link = w.link(second)
    assert (link.teamviewer_group_id, link.last_outcome) == (None, "conflict")


def test_a_crash_after_the_create_is_recovered_by_adopting_the_group_by_name() -> None:
    w = World()
    [alice] = w.mapped_users(1)
    group = w.push_group("Support", members=(alice,))
    w.links.fail("put", RuntimeError("the sandbox died before the link was stored"))
    with pytest.raises(RetryLaterError):
        w.sync_group(group)
    [created] = w.tv.groups()
    assert w.links.stored(group) is None

    w.sync_group(group)
    assert [g.id for g in w.tv.groups()] == [created.id], "the group made last time, not a second one"
    assert w.tv_group(group) == created.id
    assert w.tv.members_of(created.id) == [w.number(alice)]


@pytest.mark.parametrize("mapped", [True, False])
def test_a_sync_that_fails_after_adopting_keeps_the_managed_role_in_the_link(mapped: bool) -> None:
    w = World()
    role = w.tv.add_role("Supporter")
    existing = w.tv.add_group("Support", role_id=role)
    group = w.push_group("Support", role_id=role if mapped else None)
    w.tv.fail(
        "iter_group_members", TransientError("teamviewer", "list_group_members", "HTTP 503", status=503)
    )
    with pytest.raises(RetryLaterError):
        w.sync_group(group)
    link = w.link(group)
    assert link.teamviewer_group_id == existing, "linked before anything else"
    assert link.role_id == (role if mapped else None), "the role the worker manages: only a mapped one"

    w.sync_group(group)
    assert w.tv.role_of(existing) == role, "the admin's role on an unmapped group is theirs to keep"


def test_a_role_given_by_hand_to_a_group_without_a_mapped_role_is_kept() -> None:
    w = World()
    group, _ = linked(w, members=1)
    tv_group = w.tv_group(group)
    admin = w.tv.add_role("Admin")
    w.tv.set_group_role(tv_group, admin)
    w.sync_group(group)
    w.sync_group(group)
    assert w.tv.role_of(tv_group) == admin
    assert w.tv.operations("unassign_group_role", "assign_group_role") == []
    assert w.link(group).role_id is None


def test_a_rename_in_okta_renames_the_same_teamviewer_group() -> None:
    w = World()
    group, users = linked(w, members=2)
    tv_group = w.tv_group(group)
    w.okta.rename_group(group, "Support Tier 1")

    result = w.sync_group(group)

    assert w.tv.groups()[0].id == tv_group and w.tv.groups()[0].name == "Support Tier 1"
    assert [c.operation for c in w.tv.writes()] == ["rename_group"]
    assert w.tv.members_of(tv_group) == w.numbers(users), "the same group, members kept"
    link = w.link(group)
    assert (link.teamviewer_group_id, link.name, link.last_reason, link.last_operations) == (
        tv_group,
        "Support Tier 1",
        "group-drifted",
        ["rename"],
    )
    assert result["outcome"] == "applied"


def test_a_rename_to_a_name_another_company_group_has_is_a_recorded_conflict() -> None:
    w = World()
    group, _ = linked(w, members=1)
    w.tv.add_group("Helpdesk")
    w.okta.rename_group(group, "Helpdesk")
    w.okta.add_to_group(group, w.mapped_users(1, prefix="late")[0])
    w.reset_calls()
    w.sync_group(group)
    link = w.link(group)
    assert link.last_outcome == "conflict" and (link.last_reason or "").startswith("name-taken: ")
    assert link.last_operations == ["add_members"], "the refused rename is not recorded as done"
    assert link.teamviewer_group_id is not None and w.tv.groups()[0].name == "Support"
    assert len(w.tv.members_of(link.teamviewer_group_id)) == 2, "the rest of the group still converges"


def test_the_first_refusal_of_a_sync_is_the_one_recorded() -> None:
    w = World()
    group, _ = linked(w, members=1)
    w.tv.add_group("Helpdesk")
    w.okta.rename_group(group, "Helpdesk")  # refused: conflict
    [leaver] = w.mapped_users(1, prefix="leaver")
    w.okta.add_to_group(group, leaver)
    w.tv.remove_from_company(w.account_id(leaver))  # refused: invalid
    w.sync_group(group)
    assert w.link(group).last_outcome == "conflict"


def test_a_long_okta_name_is_cut_to_teamviewers_100_characters() -> None:
    w = World()
    group = w.push_group("S" * 120)
    w.sync_group(group)
    assert w.tv.groups()[0].name == "S" * 100


# ---------------------------------------------------------------------------- roles


def test_a_mapped_group_gets_its_role_assigned() -> None:
    w = World()
    supporter = w.tv.add_role("Supporter")
    group, _ = linked(w, role_id=supporter)
    tv_group = w.tv_group(group)
    assert w.tv.role_of(tv_group) == supporter
    assert w.link(group).role_id == supporter
    assert w.metric("GroupRolesAssigned") == 1
    w.sync_group(group)
    assert w.tv.writes() == [], "in step: the role is read, not assigned again"
    assert w.link(group).last_outcome == "no-change"


def test_a_role_assigned_by_hand_is_replaced_unassign_then_assign() -> None:
    w = World()
    supporter, admin = w.tv.add_role("Supporter"), w.tv.add_role("Admin")
    group, _ = linked(w, role_id=supporter)
    tv_group = w.tv_group(group)
    w.tv.set_group_role(tv_group, admin)

    w.sync_group(group)

    assert w.tv.role_of(tv_group) == supporter
    assert [(c.operation, c.args) for c in w.tv.writes()] == [
        ("unassign_group_role", (tv_group,)),
        ("assign_group_role", (tv_group, supporter)),
    ]
    assert w.link(group).last_operations == ["unassign_role", "assign_role"]


def test_an_adopted_group_with_a_role_assigned_by_hand_gets_the_mapped_role() -> None:
    w = World()
    supporter, admin = w.tv.add_role("Supporter"), w.tv.add_role("Admin")
    existing = w.tv.add_group("Support", role_id=admin)
    group = w.push_group("Support", role_id=supporter)
    w.sync_group(group)
    assert w.tv.role_of(existing) == supporter
    assert w.link(group).last_operations == ["adopt", "unassign_role", "assign_role"]


def test_removing_the_pair_from_the_role_map_unassigns_the_role_at_the_next_group_request() -> None:
    w = World()
    supporter = w.tv.add_role("Supporter")
    group, users = linked(w, members=1, role_id=supporter)
    tv_group = w.tv_group(group)
    w.configure_groups(GroupConfig(frozenset({group}), {}))  # still pushed, no longer mapped

    w.sync_group(group, source="reconcile")

    assert w.tv.role_of(tv_group) is None
    assert [c.operation for c in w.tv.writes()] == ["unassign_group_role"]
    assert w.tv.members_of(tv_group) == w.numbers(users), "still pushed: members stay"
    assert (w.link(group).role_id, w.link(group).last_operations) == (None, ["unassign_role"])


def test_an_unknown_role_id_is_recorded_invalid_and_the_members_still_converge() -> None:
    w = World()
    [alice] = w.mapped_users(1)
    group = w.push_group("Support", role_id="9b1e0000-0000-4000-8000-00000000dead", members=(alice,))
    result = w.sync_group(group)  # returns: the refusal is recorded, not retried
    tv_group = w.tv_group(group)
    assert w.tv.members_of(tv_group) == [w.number(alice)]
    link = w.link(group)
    assert (link.last_outcome, link.role_id, link.last_operations) == (
        "invalid",
        None,
        ["create", "add_members"],
    )
    assert result["outcome"] == "invalid"
    assert w.metric("GroupRolesAssigned") == 0


# ---------------------------------------------------------------------------- members


def test_the_token_owner_added_by_hand_stays_while_other_strangers_leave() -> None:
    """The script token's owner is never deactivated, and for the same reason never removed."""
    w = World()
    group, users = linked(w, members=2)
    tv_group = w.tv_group(group)
    [stranger] = w.mapped_users(1, prefix="stranger")
    owner = account_number(w.tv.owner_id)
    w.tv.set_group_members(tv_group, [*w.numbers(users), w.number(stranger), owner])
    w.reset_calls()

    w.sync_group(group)

    assert w.tv.members_of(tv_group) == sorted([*w.numbers(users), owner])
    assert member_calls(w) == [("remove_group_members", (w.number(stranger),))]


def test_a_group_in_step_but_for_the_token_owner_never_asks_who_owns_the_token() -> None:
    w = World()
    group, _ = linked(w, members=2)
    w.reset_calls()
    w.sync_group(group)
    assert w.tv.operations("token_owner") == [], "only a removal needs the owner"


def test_members_added_by_hand_are_removed_before_any_is_added() -> None:
    w = World()
    group, users = linked(w, members=2)
    tv_group = w.tv_group(group)
    [stranger] = w.mapped_users(1, prefix="stranger")
    [newcomer] = w.mapped_users(1, prefix="newcomer")
    w.tv.set_group_members(tv_group, [*w.numbers(users), w.number(stranger)])
    w.okta.add_to_group(group, newcomer)
    w.reset_calls()
    added, removed = w.metric("GroupMembersAdded"), w.metric("GroupMembersRemoved")

    result = w.sync_group(group)

    assert w.tv.members_of(tv_group) == w.numbers([*users, newcomer])
    assert member_calls(w) == [
        ("remove_group_members", (w.number(stranger),)),
        ("add_group_members", (w.number(newcomer),)),
    ], "removals first"
    assert (result["members_added"], result["members_removed"]) == (1, 1)
    assert w.link(group).last_operations == ["remove_members", "add_members"]
    assert (w.metric("GroupMembersAdded") - added, w.metric("GroupMembersRemoved") - removed) == (1, 1)


@pytest.mark.parametrize("change", [*ACCESS_LOSSES, "removed from the group"])
def test_a_member_who_lost_access_leaves_at_the_next_group_request(change: str) -> None:
    w = World()
    group, (alice, bob) = linked(w, members=2)
    if change == "removed from the group":
        w.okta.remove_from_group(group, alice)
    else:
        w.lose_access(alice, change)
    if change == "unassigned":
        w.sync(alice)  # the user's own sync deactivates the account; its record says so

    w.sync_group(group, source="reconcile")

    assert w.tv.members_of(w.tv_group(group)) == [w.number(bob)]


def test_a_member_without_a_mapped_account_is_left_to_their_own_sync() -> None:
    w = World()
    [alice] = w.mapped_users(1)
    newcomer = w.add_assigned("new.hire@example.com", "New", "Hire")  # no event handled yet
    group = w.push_group("Support", members=(alice, newcomer))
    w.sync_group(group)
    assert w.tv.members_of(w.tv_group(group)) == [w.number(alice)]
    assert w.tv.account("new.hire@example.com") is None, "a group request creates no account"


def test_a_member_whose_account_was_left_inactive_is_not_added() -> None:
    w = World()
    alice, bob = w.mapped_users(2)
    w.tv.edit(w.account_id(bob), active=False)
    w.state.seed(w.record(bob).model_copy(update={"teamviewer_active": False}))
    group = w.push_group("Support", members=(alice, bob))
    w.sync_group(group)
    assert w.tv.members_of(w.tv_group(group)) == [w.number(alice)]


def test_a_refused_account_in_a_batch_of_100_costs_only_itself() -> None:
    w = World()
    users = w.mapped_users(100)
    group = w.push_group("Support", members=tuple(users))
    left = users[37]
    w.tv.remove_from_company(w.account_id(left))  # left the company since the worker mapped it
    w.reset_calls()

    result = w.sync_group(group)

    expected = w.numbers([u for u in users if u != left])
    assert w.tv.members_of(w.tv_group(group)) == expected
    calls = member_calls(w)
    assert len(calls[0][1]) == 100, "one call for the batch first"
    assert [batch for _, batch in calls[1:]] == [(n,) for n in w.numbers(users)], "then each id alone"
    assert result["members_added"] == 99
    link = w.link(group)
    assert link.last_outcome == "invalid" and "company" in (link.last_reason or "")
    assert w.metric("GroupMembersAdded") == 99


def test_a_group_deleted_in_teamviewer_during_the_member_calls_ends_the_sync_after_one_call() -> None:
    """A 404 for the group is no account's fault: no id-by-id retry of the batch, the refusal recorded."""
    w = World()
    users = w.mapped_users(100)
    group = w.push_group("Support", members=tuple(users))
    gone = InvalidError("teamviewer", "add_group_members", "user group not found", status=404)
    w.tv.fail("add_group_members", gone)
    w.reset_calls()

    result = w.sync_group(group)

    assert len(member_calls(w)) == 1, "one refused batch, not 100 single-id calls"
    assert result["outcome"] == "invalid"
    assert w.link(group).last_outcome == "invalid"


def test_a_group_in_step_costs_reads_only() -> None:
    w = World()
    group, _ = linked(w, members=3, role_id=None)
    first_applied = w.link(group).last_applied_at
    result = w.sync_group(group)
    assert w.tv.writes() == []
    assert w.links.operations("put", "record_outcome") == ["put"], "one record of the outcome, no new link"
    assert w.tv.operations() == ["get_group", "group_role", "iter_group_members"], "no look-up by name"
    assert result["outcome"] == "no-change"
    link = w.link(group)
    assert (link.last_outcome, link.last_reason, link.last_operations) == ("no-change", "in-sync", [])
    assert first_applied is not None and link.last_applied_at == first_applied
    assert link.updated_at > first_applied


# ---------------------------------------------------------------------------- released groups


def test_a_deleted_okta_group_is_emptied_its_role_unassigned_and_the_teamviewer_group_kept() -> None:
    w = World()
    supporter = w.tv.add_role("Supporter")
    group, _ = linked(w, members=3, role_id=supporter)
    tv_group = w.tv_group(group)
    w.okta.delete_group(group)

    result = w.dispatch(w.group_request(group, "group.lifecycle.delete"))

    assert [g.id for g in w.tv.groups()] == [tv_group], "kept: shares and policies hang on it"
    assert w.tv.members_of(tv_group) == [] and w.tv.role_of(tv_group) is None
    assert [c.operation for c in w.tv.writes()] == ["unassign_group_role", "remove_group_members"]
    link = w.link(group)
    assert (link.teamviewer_group_id, link.role_id, link.name) == (tv_group, None, "Support")
    assert (link.last_reason, link.last_operations) == ("group-released", ["unassign_role", "remove_members"])
    assert (result["members_removed"], w.metric("GroupMembersRemoved")) == (3, 3)

    w.reset_calls()
    w.sync_group(group)
    assert w.tv.writes() == [], "released once: nothing more to do"


def test_with_delete_unpushed_a_deleted_okta_group_is_deleted_and_its_link_cleared() -> None:
    w = World(group_config=GroupConfig(delete_unpushed=True))
    supporter = w.tv.add_role("Supporter")
    group, _ = linked(w, members=2, role_id=supporter)
    tv_group = w.tv_group(group)
    w.okta.delete_group(group)

    w.dispatch(w.group_request(group, "group.lifecycle.delete"))

    assert w.tv.groups() == []
    assert [(c.operation, c.args) for c in w.tv.writes()] == [("delete_group", (tv_group,))]
    link = w.link(group)
    assert (link.teamviewer_group_id, link.last_reason, link.last_operations) == (
        None,
        "group-released",
        ["delete"],
    )


@pytest.mark.parametrize("delete_unpushed", [False, True])
def test_a_group_no_longer_pushed_is_released_the_same_way(delete_unpushed: bool) -> None:
    w = World(group_config=GroupConfig(delete_unpushed=delete_unpushed))
    supporter = w.tv.add_role("Supporter")
    group, _ = linked(w, members=2, role_id=supporter)
    tv_group = w.tv_group(group)
    w.configure_groups(GroupConfig(delete_unpushed=delete_unpushed))  # the pair left GROUP_ROLE_MAP

    w.sync_group(group, source="reconcile")

    if delete_unpushed:
        assert w.tv.groups() == [] and w.link(group).teamviewer_group_id is None
    else:
        assert [g.id for g in w.tv.groups()] == [tv_group]
        assert (w.tv.members_of(tv_group), w.tv.role_of(tv_group)) == ([], None)
        assert w.link(group).teamviewer_group_id == tv_group
    assert w.link(group).last_reason == "group-released"


def test_a_released_group_whose_teamviewer_group_is_gone_only_forgets_the_link() -> None:
    w = World()
    group, _ = linked(w, members=1)
    w.tv.remove_group(w.tv_group(group))
    w.okta.delete_group(group)
    w.sync_group(group)
    assert w.tv.writes() == []
    link = w.link(group)
    assert (link.teamviewer_group_id, link.last_outcome, link.last_reason) == (
        None,
        "no-change",
        "not-linked",
    )


def test_a_group_never_linked_and_not_pushed_leaves_no_record() -> None:
    w = World()
    other = w.okta.add_group("Not pushed")
    w.sync_group(other)
    assert w.tv.calls == [] and w.links.stored(other) is None


def test_a_stale_link_to_a_group_deleted_by_hand_is_linked_again() -> None:
    w = World()
    group, users = linked(w, members=2)
    old = w.tv_group(group)
    w.tv.remove_group(old)
    w.sync_group(group, source="reconcile")
    new = w.tv_group(group)
    assert new != old and [g.id for g in w.tv.groups()] == [new]
    assert w.tv.members_of(new) == w.numbers(users)


# ---------------------------------------------------------------------------- dry run and failures


def test_an_okta_read_refused_for_a_group_never_linked_is_counted_not_recorded() -> None:
    w = World()
    group = w.push_group("Support")
    w.okta.fail("get_group", InvalidError("okta", "get_group", "E0000001", status=400))
    assert w.sync_group(group)["outcome"] == "invalid"
    assert w.links.stored(group) is None, "GroupStateTable holds the groups the worker linked or synced"
    assert w.metric("InvalidRequests") == 1


def test_a_dry_run_reads_and_writes_nothing_not_even_the_link() -> None:
    w = World()
    [alice] = w.mapped_users(1)
    group = w.push_group("Support", role_id=w.tv.add_role("Supporter"), members=(alice,))
    w.redeploy(dry_run=True)
    w.reset_calls()
    result = w.sync_group(group)
    assert w.tv.writes() == [] and w.tv.groups() == []
    assert w.links.operations("put", "record_outcome") == []
    assert (result["outcome"], result["operations"]) == ("dry-run", ["create", "assign_role"])
    [line] = w.logs.lines("Group sync planned (dry run)")
    assert line["dry_run"] is True


@pytest.mark.parametrize(
    ("error", "metric"),
    [
        (
            ThrottledError(
                "teamviewer", "add_group_members", "rate_limit_reached", status=429, retry_after=30
            ),
            "TeamViewerThrottled",
        ),
        (TransientError("teamviewer", "add_group_members", "HTTP 503", status=503), "TransientFailures"),
    ],
)
def test_a_throttled_or_failing_call_is_retried_later_and_recorded_as_retrying(
    error: Exception, metric: str
) -> None:
    w = World()
    group, _ = linked(w, members=1)
    w.okta.add_to_group(group, w.mapped_users(1, prefix="late")[0])
    w.tv.fail("add_group_members", error)

    with pytest.raises(RetryLaterError) as raised:
        w.sync_group(group, source="reconcile")

    assert raised.value.throttled is isinstance(error, ThrottledError)
    assert raised.value.delay == (30 if isinstance(error, ThrottledError) else None)
    link = w.link(group)
    assert link.last_outcome == "retrying" and "HTTP" in (link.last_reason or "")
    assert link.teamviewer_group_id is not None, "the link survives the retry record"
    assert w.metric(metric) == 1
    w.sync_group(group, source="reconcile")
    assert w.link(group).last_outcome == "applied"


@pytest.mark.parametrize(
    ("error", "message", "level"),
    [
        (
            AuthError("okta", "get_group", "E0000011: Invalid token provided", status=401),
            "Credentials refused or unreadable: check the token secrets",
            "ERROR",
        ),
        (
            TransientError("okta", "get_group", "HTTP 503", status=503),
            "Group sync failed; SQS will redeliver",
            "WARNING",
        ),
        (KeyError("bug"), "Group sync failed unexpectedly; SQS will redeliver", "ERROR"),
    ],
)
def test_a_failure_handed_back_is_told_in_one_line_as_for_users(
    error: Exception, message: str, level: str
) -> None:
    """A credential problem at ERROR (an admin must act), an upstream's at WARNING, a bug traced."""
    w = World()
    group, _ = linked(w, members=1)
    w.okta.fail("get_group", error)

    with pytest.raises(RetryLaterError):
        w.sync_group(group)

    [line] = w.logs.lines(message)
    assert (line["level"], line["okta_group_id"]) == (level, group)
    assert ("traceback" in line) is isinstance(error, KeyError)
    others = {
        "Credentials refused or unreadable: check the token secrets",
        "Group sync failed; SQS will redeliver",
        "Group sync failed unexpectedly; SQS will redeliver",
    } - {message}
    assert all(w.logs.lines(other) == [] for other in others)


def test_an_okta_read_refused_is_recorded_invalid_not_retried() -> None:
    w = World()
    group, _ = linked(w, members=1)
    w.okta.fail("get_group", InvalidError("okta", "get_group", "E0000001", status=400))
    result = w.sync_group(group)
    assert result["outcome"] == "invalid"
    assert w.link(group).last_outcome == "invalid"
    assert w.link(group).teamviewer_group_id is not None
    assert w.metric("InvalidRequests") == 1
