"""GroupReconciler over in-memory fakes: each kind of group drift is found, in-sync groups are not.

The drift is made as it happens in production — Okta changes whose events never arrived,
edits made in TeamViewer by hand — on top of groups the real group synchroniser linked. The
comparison is the worker's own rules run on a fresh read, so a group the worker just
converged never drifts. How the drift reaches the report and the queue is
``test_reconciler.py``.
"""

from __future__ import annotations

import pytest

from tests.support.world import APP_ID, World
from tvsync.core.group_drift import GroupDrift, GroupDriftReason
from tvsync.core.groups import GroupConfig
from tvsync.services.group_reads import read_wanted_members
from tvsync.services.group_reconcile import GroupReconciler

R = GroupDriftReason


def reconciler(w: World) -> GroupReconciler:
    return GroupReconciler(okta=w.okta, teamviewer=w.tv, links=w.links, users=w.state, config=w.group_config)


def drift(w: World) -> dict[str, GroupDrift]:
    return {d.okta_group_id: d for d in reconciler(w).compare()}


def linked(
    w: World, name: str = "Support", *, members: int = 2, role_id: str | None = None
) -> tuple[str, list[str]]:
    users = w.mapped_users(members, prefix=name.lower())
    group = w.push_group(name, role_id=role_id, members=tuple(users))
    w.sync_group(group)
    w.reset_calls()
    return group, users


def test_groups_the_worker_just_converged_have_no_drift_and_are_all_checked() -> None:
    w = World()
    supporter = w.tv.add_role("Supporter")
    linked(w, "Support", role_id=supporter)
    linked(w, "Sales")
    found = reconciler(w)
    assert list(found.compare()) == []
    assert found.checked == 2
    assert w.tv.writes() == [] and w.links.operations("put", "record_outcome") == [], "reads only"


def test_a_pushed_group_never_linked_is_not_linked_drift() -> None:
    w = World()
    group = w.push_group("Support", members=tuple(w.mapped_users(2)))
    [d] = drift(w).values()
    assert (d.okta_group_id, d.reasons, d.name, d.teamviewer_group_id) == (
        group,
        (R.NOT_LINKED,),
        "Support",
        None,
    )
    assert (d.members_missing, d.members_extra) == (0, 0), "members are counted once there is a group"


def test_a_group_to_adopt_is_compared_with_the_role_it_has() -> None:
    w = World()
    supporter, admin = w.tv.add_role("Supporter"), w.tv.add_role("Admin")
    w.tv.add_group("Support", role_id=supporter)
    w.tv.add_group("Sales", role_id=admin)
    w.tv.add_group("Ops", role_id=admin)
    has_its_role = w.push_group("Support", role_id=supporter)
    has_another = w.push_group("Sales", role_id=supporter)
    unmapped = w.push_group("Ops")
    found = drift(w)
    assert found[has_its_role].reasons == (R.NOT_LINKED,), "its mapped role is there already"
    assert found[has_another].reasons == (R.NOT_LINKED, R.ROLE)
    assert found[unmapped].reasons == (R.NOT_LINKED,), "a role given by hand to an unmapped group stays"


def test_a_pushed_group_whose_teamviewer_group_was_deleted_by_hand_is_not_linked_drift() -> None:
    w = World()
    group, _ = linked(w)
    w.tv.remove_group(w.tv_group(group))
    assert drift(w)[group].reasons == (R.NOT_LINKED,)


def test_a_group_renamed_in_okta_or_by_hand_has_name_drift() -> None:
    w = World()
    renamed_in_okta, _ = linked(w, "Support")
    renamed_by_hand, _ = linked(w, "Sales")
    w.okta.rename_group(renamed_in_okta, "Support Tier 1")
    w.tv.set_group_name(w.tv_group(renamed_by_hand), "Sales (old)")
    found = drift(w)
    assert found[renamed_in_okta].reasons == found[renamed_by_hand].reasons == (R.NAME,)
    assert found[renamed_in_okta].name == "Support Tier 1"


@pytest.mark.parametrize("change", ["assigned by hand", "unassigned by hand", "pair removed from the map"])
def test_a_group_without_exactly_its_mapped_role_has_role_drift(change: str) -> None:
    w = World()
    supporter, admin = w.tv.add_role("Supporter"), w.tv.add_role("Admin")
    group, _ = linked(w, role_id=supporter)
    if change == "assigned by hand":
        w.tv.set_group_role(w.tv_group(group), admin)
    elif change == "unassigned by hand":
        w.tv.set_group_role(w.tv_group(group), None)
    else:
        w.configure_groups(GroupConfig(frozenset({group}), {}))
    assert drift(w)[group].reasons == (R.ROLE,)


def test_members_missing_and_extra_are_counted() -> None:
    w = World()
    group, _ = linked(w, members=3)
    newcomers = w.mapped_users(2, prefix="new")
    for user in newcomers:
        w.okta.add_to_group(group, user)
    [stranger] = w.mapped_users(1, prefix="stranger")
    tv_group = w.tv_group(group)
    w.tv.set_group_members(tv_group, [*w.tv.members_of(tv_group), w.number(stranger)])
    d = drift(w)[group]
    assert d.reasons == (R.MEMBERS_MISSING, R.MEMBERS_EXTRA)
    assert (d.members_missing, d.members_extra, d.teamviewer_group_id) == (2, 1, tv_group)


@pytest.mark.parametrize("change", ["suspended", "deactivated", "deleted"])
def test_a_member_who_lost_access_without_an_event_is_extra(change: str) -> None:
    w = World()
    group, (alice, _) = linked(w)
    w.lose_access(alice, change)
    d = drift(w)[group]
    assert (d.reasons, d.members_extra) == ((R.MEMBERS_EXTRA,), 1)


def test_a_member_unassigned_from_the_app_counts_once_their_own_sync_recorded_it() -> None:
    w = World()
    group, (alice, _) = linked(w)
    w.okta.unassign(APP_ID, alice)
    assert drift(w) == {}, "the record stands in for the assignment until the user's sync"
    w.sync(alice)
    assert drift(w)[group].reasons == (R.MEMBERS_EXTRA,)


@pytest.mark.parametrize("how", ["deleted in Okta", "no longer pushed"])
def test_a_released_group_still_holding_members_or_a_role_is_not_released_drift(how: str) -> None:
    w = World()
    supporter = w.tv.add_role("Supporter")
    group, _ = linked(w, role_id=supporter)
    if how == "deleted in Okta":
        w.okta.delete_group(group)
    else:
        w.configure_groups(GroupConfig())
    found = reconciler(w)
    [d] = found.compare()
    assert (d.okta_group_id, d.reasons, d.members_extra, d.name) == (group, (R.NOT_RELEASED,), 2, None)
    assert found.checked == 1, "a linked group is compared even with nothing pushed"


def test_a_released_group_kept_empty_and_without_role_has_no_drift_but_is_checked() -> None:
    w = World()
    supporter = w.tv.add_role("Supporter")
    group, _ = linked(w, role_id=supporter)
    w.okta.delete_group(group)
    w.sync_group(group)
    found = reconciler(w)
    assert (list(found.compare()), found.checked) == ([], 1)


def test_a_released_group_to_delete_is_not_released_drift_until_deleted() -> None:
    w = World(group_config=GroupConfig(delete_unpushed=True))
    group, _ = linked(w, members=2)
    w.okta.delete_group(group)
    w.reset_calls()
    d = drift(w)[group]
    assert (d.reasons, d.members_extra) == ((R.NOT_RELEASED,), 0), "deleting it ends its memberships"
    assert w.tv.operations("iter_group_members") == [], "so they are not read"
    w.sync_group(group)
    found = reconciler(w)
    assert list(found.compare()) == [], "deleted and unlinked: nothing left to release"
    assert w.links.stored(group) is not None and w.link(group).teamviewer_group_id is None
    w.configure_groups(GroupConfig(delete_unpushed=True))  # and no longer pushed
    w.reset_calls()
    found = reconciler(w)
    assert (list(found.compare()), found.checked) == ([], 0)
    assert w.tv.calls == [] and w.okta.calls == [], "a record without a TeamViewer group is not compared"


def test_a_released_group_whose_teamviewer_group_is_gone_is_a_stale_link() -> None:
    w = World()
    group, _ = linked(w)
    w.tv.remove_group(w.tv_group(group))
    w.okta.delete_group(group)
    d = drift(w)[group]
    assert (d.reasons, d.teamviewer_group_id) == ((R.STALE_LINK,), None)
    w.sync_group(group)
    assert drift(w) == {}


def test_with_nothing_pushed_and_nothing_linked_teamviewer_is_not_read() -> None:
    w = World()
    found = reconciler(w)
    assert (list(found.compare()), found.checked) == ([], 0)
    assert w.tv.calls == [] and w.okta.calls == []


def test_the_wanted_members_are_the_okta_members_the_worker_keeps_active() -> None:
    w = World()
    active, suspended, inactive = w.mapped_users(3)
    unmapped = w.add_assigned("new.hire@example.com", "New", "Hire")
    group = w.okta.add_group("Support")
    for user in (active, suspended, inactive, unmapped):
        w.okta.add_to_group(group, user)
    w.okta.set_status(suspended, "SUSPENDED")
    w.state.seed(w.record(inactive).model_copy(update={"teamviewer_active": False}))
    w.reset_calls()
    assert read_wanted_members(w.okta, w.state, group) == {w.number(active)}
    assert w.state.operations() == ["get_many"], "one batched read of the records"
