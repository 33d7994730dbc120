"""Table and property tests for the pure group core: which groups are pushed and with which role,
what each group's TeamViewer user group should be, the smallest change to it, and its members."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.core.sync_states import EMAIL, T0, sync_state
from tvsync.core.desired_state import Presence, SyncConfig, desired_account
from tvsync.core.groups import (
    DesiredGroup,
    GroupConfig,
    GroupFacts,
    GroupOperation,
    GroupPlan,
    GroupPresence,
    GroupReason,
    MemberPlan,
    desired_group,
    group_name,
    member_belongs,
    plan_group,
    plan_members,
    wanted_member,
)
from tvsync.models.groups import (
    MAX_GROUP_NAME,
    MAX_MEMBERS_PER_CALL,
    GroupLink,
    OktaGroup,
    TeamViewerGroup,
)
from tvsync.models.okta import OktaAppUser, OktaUser, OktaUserStatus
from tvsync.models.sync_state import SyncState

GID = "00g1support"
ROLE = "7c5f4a1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b"
OTHER_ROLE = "0d9e8f7a-6b5c-4d3e-9f2a-1b0c9d8e7f6a"
NAME = "Support"
LINKED_ID = 42
SAME_NAME_ID = 7
APP_ID = "0oa1teamviewer"

CREATE, ADOPT, RENAME, ASSIGN, UNASSIGN, DELETE = (
    GroupOperation.CREATE,
    GroupOperation.ADOPT,
    GroupOperation.RENAME,
    GroupOperation.ASSIGN_ROLE,
    GroupOperation.UNASSIGN_ROLE,
    GroupOperation.DELETE,
)


def okta_group(name: str = NAME) -> OktaGroup:
    return OktaGroup(id=GID, name=name, type="OKTA_GROUP")


def tv_group(group_id: int = LINKED_ID, name: str = NAME) -> TeamViewerGroup:
    return TeamViewerGroup(id=group_id, name=name)


def link(teamviewer_group_id: int | None = LINKED_ID, managed_role: str | None = None) -> GroupLink:
    """GroupStateTable's item for ``GID``: linked to ``teamviewer_group_id`` (None: no group).

    ``managed_role`` is the mapped role the worker last left assigned (``GroupLink.role_id``).
    """
    return GroupLink(
        okta_group_id=GID,
        teamviewer_group_id=teamviewer_group_id,
        name=NAME,
        role_id=managed_role,
        last_outcome="applied",
        updated_at=T0,
    )


def pushed(role: str | None = ROLE, name: str = NAME) -> DesiredGroup:
    return DesiredGroup(GID, GroupPresence.PUSHED, GroupReason.PUSHED, name=name, role_id=role)


DELETED_GROUP = DesiredGroup(GID, GroupPresence.RELEASED, GroupReason.DELETED)
UNPUSHED_GROUP = DesiredGroup(GID, GroupPresence.RELEASED, GroupReason.NOT_PUSHED)


# --- GroupConfig.parse ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("push_group_ids", "group_role_map", "expected_pushed", "expected_roles"),
    [
        pytest.param("", "", set(), {}, id="empty-disabled"),
        pytest.param("  ", " \t", set(), {}, id="blank-disabled"),
        pytest.param(",", ", ,", set(), {}, id="commas-only-disabled"),
        pytest.param("00g1", "", {"00g1"}, {}, id="one-pushed"),
        pytest.param("00g1,00g2", "", {"00g1", "00g2"}, {}, id="two-pushed"),
        pytest.param("", "00g1=role-1", {"00g1"}, {"00g1": "role-1"}, id="role-map-only"),
        pytest.param(
            "00g1", "00g2=role-2", {"00g1", "00g2"}, {"00g2": "role-2"}, id="mapped-key-pushed-when-absent"
        ),
        pytest.param("00g1", "00g1=role-1", {"00g1"}, {"00g1": "role-1"}, id="named-in-both"),
        pytest.param(
            " 00g1 , ,00g2,",
            " 00g3 = role-3 , ,",
            {"00g1", "00g2", "00g3"},
            {"00g3": "role-3"},
            id="blanks-and-trailing-commas-ignored",
        ),
        pytest.param("00g1,00g1", "", {"00g1"}, {}, id="same-id-twice"),
        pytest.param(
            "", "00g1=role-1,00g1=role-1", {"00g1"}, {"00g1": "role-1"}, id="same-pair-twice-is-fine"
        ),
        pytest.param(
            "",
            f"00g1={ROLE},00g2={OTHER_ROLE}",
            {"00g1", "00g2"},
            {"00g1": ROLE, "00g2": OTHER_ROLE},
            id="guid-roles",
        ),
        pytest.param(
            "",
            "00g1=role-1,00g2=role-1",
            {"00g1", "00g2"},
            {"00g1": "role-1", "00g2": "role-1"},
            id="one-role-for-two-groups",
        ),
        pytest.param("a" * 64, "", {"a" * 64}, {}, id="okta-id-64-chars"),
        pytest.param("", "00g1=" + "r" * 64, {"00g1"}, {"00g1": "r" * 64}, id="role-id-64-chars"),
    ],
)
@pytest.mark.parametrize("delete_unpushed", [False, True])
def test_parse(
    push_group_ids: str,
    group_role_map: str,
    expected_pushed: set[str],
    expected_roles: dict[str, str],
    delete_unpushed: bool,
) -> None:
    config = GroupConfig.parse(push_group_ids, group_role_map, delete_unpushed=delete_unpushed)

    assert config.pushed == frozenset(expected_pushed)
    assert dict(config.roles) == expected_roles
    assert config.enabled is bool(expected_pushed)
    assert config.delete_unpushed is delete_unpushed


@pytest.mark.parametrize(
    ("push_group_ids", "group_role_map", "message"),
    [
        pytest.param(
            "00g1,00g;2", "", "PUSH_GROUP_IDS entry '00g;2' is not an Okta group id", id="bad-push-id"
        ),
        pytest.param(
            "00g1;00g2", "", "PUSH_GROUP_IDS entry '00g1;00g2' is not an Okta group id", id="semicolons"
        ),
        pytest.param("00g 1", "", "PUSH_GROUP_IDS entry '00g 1' is not an Okta group id", id="inner-blank"),
        pytest.param("a" * 65, "", f"PUSH_GROUP_IDS entry '{'a' * 65}'", id="okta-id-65-chars"),
        pytest.param(
            "",
            "00g1",
            "GROUP_ROLE_MAP entry '00g1' is not an oktaGroupId=teamViewerRoleId pair",
            id="pair-without-equals",
        ),
        pytest.param(
            "",
            "00g1=role-1,00g2:role-2",
            "GROUP_ROLE_MAP entry '00g2:role-2' is not an oktaGroupId=teamViewerRoleId pair",
            id="colon-instead-of-equals",
        ),
        pytest.param(
            "",
            "00g;1=role-1",
            "GROUP_ROLE_MAP entry '00g;1=role-1' has no valid Okta group id",
            id="bad-mapped-okta-id",
        ),
        pytest.param(
            "",
            "=role-1",
            "GROUP_ROLE_MAP entry '=role-1' has no valid Okta group id",
            id="empty-mapped-okta-id",
        ),
        pytest.param(
            "", "00g1=", "GROUP_ROLE_MAP entry '00g1=' has no valid TeamViewer role id", id="empty-role-id"
        ),
        pytest.param(
            "",
            "00g1=role 1",
            "GROUP_ROLE_MAP entry '00g1=role 1' has no valid TeamViewer role id",
            id="role-id-with-blank",
        ),
        pytest.param(
            "",
            "00g1=role-1=role-2",
            "GROUP_ROLE_MAP entry '00g1=role-1=role-2' has no valid TeamViewer role id",
            id="two-equals",
        ),
        pytest.param(
            "",
            "00g1=" + "r" * 65,
            "GROUP_ROLE_MAP entry '00g1=" + "r" * 65 + "' has no valid TeamViewer role id",
            id="role-id-65-chars",
        ),
        pytest.param(
            "",
            "00g1=role-1,00g1=role-2",
            "GROUP_ROLE_MAP maps the group 00g1 to two roles",
            id="group-mapped-to-two-roles",
        ),
        pytest.param(
            "00g1",
            " 00g1 = role-1 , 00g1=role-2",
            "GROUP_ROLE_MAP maps the group 00g1 to two roles",
            id="two-roles-despite-blanks",
        ),
        pytest.param("00g;1", "00g1", "PUSH_GROUP_IDS entry '00g;1'", id="first-setting-checked-first"),
    ],
)
def test_parse_refuses(push_group_ids: str, group_role_map: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        GroupConfig.parse(push_group_ids, group_role_map, delete_unpushed=False)


def test_parse_refusal_of_an_empty_mapped_id_names_the_pair() -> None:
    with pytest.raises(ValueError, match=re.escape("'=role-1'")):
        GroupConfig.parse("", "00g1=role-2,=role-1", delete_unpushed=False)


def test_config_queries() -> None:
    config = GroupConfig.parse("00g1", "00g2=role-2", delete_unpushed=False)

    assert config.enabled
    assert (config.is_pushed("00g1"), config.is_pushed("00g2"), config.is_pushed("00g3")) == (
        True,
        True,
        False,
    )
    assert (config.role_for("00g1"), config.role_for("00g2"), config.role_for("00g3")) == (
        None,
        "role-2",
        None,
    )
    assert not config.is_pushed("00G1"), "Okta ids are compared exactly"


def test_the_default_config_pushes_nothing() -> None:
    config = GroupConfig()

    assert not config.enabled
    assert not config.is_pushed(GID)
    assert config.role_for(GID) is None
    assert config.delete_unpushed is False
    assert config == GroupConfig.parse("", "", delete_unpushed=False)


# --- group_name -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("okta_name", "expected"),
    [
        pytest.param("Support", "Support", id="plain"),
        pytest.param("  Support \t\n", "Support", id="trimmed"),
        pytest.param("Sales  EMEA", "Sales  EMEA", id="inner-blanks-kept"),
        pytest.param("support", "support", id="case-kept"),
        pytest.param("Zoë's 支持 🚀", "Zoë's 支持 🚀", id="unicode-kept"),
        pytest.param("A" * 99, "A" * 99, id="99-kept"),
        pytest.param("A" * 100, "A" * 100, id="exactly-100-kept"),
        pytest.param("A" * 100 + "B", "A" * 100, id="101-cut-at-100"),
        pytest.param("A" * 250, "A" * 100, id="250-cut-at-100"),
        pytest.param("   " + "A" * 100 + "   ", "A" * 100, id="surrounding-blanks-do-not-count"),
        pytest.param("A" * 99 + " B", "A" * 99, id="blank-at-100-trimmed-after-the-cut"),
        pytest.param("A" * 98 + "  BC", "A" * 98, id="blanks-at-99-and-100-trimmed-after-the-cut"),
        pytest.param("A" * 99 + "B C", "A" * 99 + "B", id="cut-just-before-a-blank"),
        pytest.param("A" * 98 + "🚀", "A" * 98 + "🚀", id="emoji-counts-two-units-exactly-100"),
        pytest.param("A" * 99 + "🚀", "A" * 99, id="emoji-that-would-make-101-units-is-cut"),
        pytest.param("🚀" * 60, "🚀" * 50, id="fifty-emoji-are-100-units"),
        pytest.param(" ", GID, id="blank-falls-back-to-id"),
        pytest.param(" \t\n ", GID, id="whitespace-falls-back-to-id"),
    ],
)
def test_group_name(okta_name: str, expected: str) -> None:
    assert group_name(okta_name, GID) == expected


@given(st.text(min_size=1, max_size=2 * MAX_GROUP_NAME))
def test_group_name_always_fits_teamviewer(okta_name: str) -> None:
    name = group_name(okta_name, GID)

    assert 1 <= len(name.encode("utf-16-le")) // 2 <= MAX_GROUP_NAME, "UTF-16 units, whichever way TV counts"
    assert name == name.strip()
    assert okta_name.strip().startswith(name) or name == GID
    assert group_name(name, GID) == name, "a name TeamViewer already holds derives to itself"


# --- desired_group ----------------------------------------------------------------------------

# Built directly, not parsed: a fault in parse fails the parse tests, not the whole module.
PUSHED_WITH_ROLE = GroupConfig(frozenset({GID}), {GID: ROLE})
PUSHED_WITHOUT_ROLE = GroupConfig(frozenset({GID}))
OTHERS_PUSHED = GroupConfig(frozenset({"00g2other", "00g3other"}), {"00g3other": ROLE}, delete_unpushed=True)


@pytest.mark.parametrize(
    ("config", "group", "expected"),
    [
        pytest.param(PUSHED_WITH_ROLE, None, DELETED_GROUP, id="deleted-pushed-group-released"),
        pytest.param(OTHERS_PUSHED, None, DELETED_GROUP, id="deleted-unpushed-group-says-deleted"),
        pytest.param(GroupConfig(), None, DELETED_GROUP, id="deleted-groups-disabled"),
        pytest.param(OTHERS_PUSHED, okta_group(), UNPUSHED_GROUP, id="not-pushed-released"),
        pytest.param(GroupConfig(), okta_group(), UNPUSHED_GROUP, id="groups-disabled-released"),
        pytest.param(PUSHED_WITHOUT_ROLE, okta_group(), pushed(role=None), id="pushed-without-role"),
        pytest.param(PUSHED_WITH_ROLE, okta_group(), pushed(role=ROLE), id="pushed-with-role"),
        pytest.param(
            PUSHED_WITH_ROLE,
            okta_group("  " + "N" * 120),
            pushed(role=ROLE, name="N" * MAX_GROUP_NAME),
            id="pushed-name-cut",
        ),
        pytest.param(
            PUSHED_WITHOUT_ROLE, okta_group("   "), pushed(role=None, name=GID), id="blank-name-is-id"
        ),
    ],
)
def test_desired_group(config: GroupConfig, group: OktaGroup | None, expected: DesiredGroup) -> None:
    assert desired_group(config, GID, group) == expected


# --- plan_group -------------------------------------------------------------------------------


def pushed_plan(
    operations: tuple[GroupOperation, ...],
    reason: GroupReason,
    group_id: int | None,
    *,
    role: str | None = ROLE,
    name: str = NAME,
) -> GroupPlan:
    """A pushed group's plan: it always carries the target name and role and converges members."""
    return GroupPlan(operations, reason, teamviewer_group_id=group_id, name=name, role_id=role, members=True)


def linked_facts(current_role: str | None, name: str = NAME, managed_role: str | None = None) -> GroupFacts:
    return GroupFacts(
        link=link(managed_role=managed_role), linked=tv_group(name=name), current_role=current_role
    )


def adopt_facts(current_role: str | None, stored: GroupLink | None = None) -> GroupFacts:
    return GroupFacts(link=stored, same_name=tv_group(SAME_NAME_ID), current_role=current_role)


IN_SYNC, CONVERGE = GroupReason.IN_SYNC, GroupReason.CONVERGE

PUSHED_CASES = [
    # Linked and found: rename and role only.
    pytest.param(pushed(), linked_facts(ROLE), pushed_plan((), IN_SYNC, LINKED_ID), id="in-sync"),
    pytest.param(
        pushed(role=None),
        linked_facts(None),
        pushed_plan((), IN_SYNC, LINKED_ID, role=None),
        id="in-sync-no-role",
    ),
    pytest.param(
        pushed(), linked_facts(ROLE, "Old name"), pushed_plan((RENAME,), CONVERGE, LINKED_ID), id="rename"
    ),
    pytest.param(
        pushed(),
        linked_facts(ROLE, "support"),
        pushed_plan((RENAME,), CONVERGE, LINKED_ID),
        id="rename-case-only",
    ),
    pytest.param(
        pushed(),
        linked_facts(ROLE, NAME + " "),
        pushed_plan((RENAME,), CONVERGE, LINKED_ID),
        id="rename-blank",
    ),
    pytest.param(pushed(), linked_facts(None), pushed_plan((ASSIGN,), CONVERGE, LINKED_ID), id="role-assign"),
    pytest.param(
        pushed(role=None),
        linked_facts(ROLE, managed_role=ROLE),
        pushed_plan((UNASSIGN,), CONVERGE, LINKED_ID, role=None),
        id="role-unassign-after-its-pair-left-the-map",
    ),
    pytest.param(
        pushed(role=None),
        linked_facts(ROLE),
        pushed_plan((), IN_SYNC, LINKED_ID, role=None),
        id="unmapped-group-keeps-a-role-given-by-hand",
    ),
    pytest.param(
        pushed(role=None),
        linked_facts(OTHER_ROLE, managed_role=ROLE),
        pushed_plan((), IN_SYNC, LINKED_ID, role=None),
        id="unmapped-group-keeps-a-role-changed-by-hand-since",
    ),
    pytest.param(
        pushed(),
        linked_facts(OTHER_ROLE),
        pushed_plan((UNASSIGN, ASSIGN), CONVERGE, LINKED_ID),
        id="role-replaced-unassign-first",
    ),
    pytest.param(
        pushed(),
        linked_facts(OTHER_ROLE, "Old name"),
        pushed_plan((RENAME, UNASSIGN, ASSIGN), CONVERGE, LINKED_ID),
        id="rename-and-role-replaced",
    ),
    pytest.param(
        pushed(),
        linked_facts(None, "Old name"),
        pushed_plan((RENAME, ASSIGN), CONVERGE, LINKED_ID),
        id="rename-and-role-assign",
    ),
    pytest.param(
        pushed(),
        GroupFacts(link=link(), linked=tv_group(name="Old name"), same_name=tv_group(SAME_NAME_ID)),
        pushed_plan((RENAME, ASSIGN), CONVERGE, LINKED_ID),
        id="the-link-wins-over-a-group-of-the-new-name",
    ),
    # Nothing linked: adopt the company's group of that name, with role ops against its role.
    pytest.param(
        pushed(),
        adopt_facts(None),
        pushed_plan((ADOPT, ASSIGN), GroupReason.ADOPT, SAME_NAME_ID),
        id="adopt-assign",
    ),
    pytest.param(
        pushed(),
        adopt_facts(ROLE),
        pushed_plan((ADOPT,), GroupReason.ADOPT, SAME_NAME_ID),
        id="adopt-role-already-so",
    ),
    pytest.param(
        pushed(),
        adopt_facts(OTHER_ROLE),
        pushed_plan((ADOPT, UNASSIGN, ASSIGN), GroupReason.ADOPT, SAME_NAME_ID),
        id="adopt-replace-role",
    ),
    pytest.param(
        pushed(role=None),
        adopt_facts(ROLE),
        pushed_plan((ADOPT,), GroupReason.ADOPT, SAME_NAME_ID, role=None),
        id="adopt-unmapped-keeps-its-role",
    ),
    pytest.param(
        pushed(),
        GroupFacts(same_name=tv_group(SAME_NAME_ID), current_role=None, name_taken_by="00gOther"),
        GroupPlan((), GroupReason.NAME_TAKEN),
        id="same-name-group-linked-to-another-okta-group-is-not-shared",
    ),
    pytest.param(
        pushed(role=None),
        adopt_facts(None),
        pushed_plan((ADOPT,), GroupReason.ADOPT, SAME_NAME_ID, role=None),
        id="adopt-no-role",
    ),
    pytest.param(
        pushed(),
        adopt_facts(None, stored=link()),
        pushed_plan((ADOPT, ASSIGN), GroupReason.ADOPT, SAME_NAME_ID),
        id="linked-group-gone-adopt-same-name",
    ),
    # Nothing to link to: create, and assign the role iff one is mapped.
    pytest.param(
        pushed(), GroupFacts(), pushed_plan((CREATE, ASSIGN), GroupReason.CREATE, None), id="create-role"
    ),
    pytest.param(
        pushed(role=None),
        GroupFacts(),
        pushed_plan((CREATE,), GroupReason.CREATE, None, role=None),
        id="create-no-role",
    ),
    pytest.param(
        pushed(),
        GroupFacts(current_role=OTHER_ROLE),
        pushed_plan((CREATE, ASSIGN), GroupReason.CREATE, None),
        id="create-a-new-group-has-no-role-to-unassign",
    ),
    pytest.param(
        pushed(),
        GroupFacts(link=link()),
        pushed_plan((CREATE, ASSIGN), GroupReason.CREATE, None),
        id="linked-group-gone-create",
    ),
    pytest.param(
        pushed(role=None),
        GroupFacts(link=link()),
        pushed_plan((CREATE,), GroupReason.CREATE, None, role=None),
        id="linked-group-gone-create-no-role",
    ),
    pytest.param(
        pushed(),
        GroupFacts(link=link(None)),
        pushed_plan((CREATE, ASSIGN), GroupReason.CREATE, None),
        id="link-without-group-create",
    ),
]

RELEASE, NOT_LINKED = GroupReason.RELEASE, GroupReason.NOT_LINKED

RELEASED_CASES = [
    # Kept: emptied (members to none) and its role unassigned iff it has one; the link stays.
    pytest.param(
        DELETED_GROUP,
        linked_facts(ROLE),
        False,
        GroupPlan((UNASSIGN,), RELEASE, teamviewer_group_id=LINKED_ID, members=True),
        id="deleted-role-unassigned-emptied",
    ),
    pytest.param(
        UNPUSHED_GROUP,
        linked_facts(OTHER_ROLE),
        False,
        GroupPlan((UNASSIGN,), RELEASE, teamviewer_group_id=LINKED_ID, members=True),
        id="unpushed-hand-role-unassigned-emptied",
    ),
    pytest.param(
        UNPUSHED_GROUP,
        linked_facts(None),
        False,
        GroupPlan((), RELEASE, teamviewer_group_id=LINKED_ID, members=True),
        id="unpushed-no-role-emptied",
    ),
    pytest.param(
        DELETED_GROUP,
        linked_facts(None, "Renamed by hand"),
        False,
        GroupPlan((), RELEASE, teamviewer_group_id=LINKED_ID, members=True),
        id="released-never-renamed",
    ),
    # DELETE_UNPUSHED_GROUPS: the delete alone, which ends members and role with it.
    pytest.param(
        DELETED_GROUP,
        linked_facts(ROLE),
        True,
        GroupPlan((DELETE,), RELEASE, teamviewer_group_id=LINKED_ID, unlink=True),
        id="deleted-delete-only",
    ),
    pytest.param(
        UNPUSHED_GROUP,
        linked_facts(None),
        True,
        GroupPlan((DELETE,), RELEASE, teamviewer_group_id=LINKED_ID, unlink=True),
        id="unpushed-delete-only",
    ),
    # No TeamViewer group to act on: forget a link that still names one.
    pytest.param(DELETED_GROUP, GroupFacts(), False, GroupPlan((), NOT_LINKED), id="never-linked"),
    pytest.param(UNPUSHED_GROUP, GroupFacts(), True, GroupPlan((), NOT_LINKED), id="never-linked-delete"),
    pytest.param(
        DELETED_GROUP,
        GroupFacts(link=link(None)),
        False,
        GroupPlan((), NOT_LINKED),
        id="link-without-group-kept",
    ),
    pytest.param(
        DELETED_GROUP,
        GroupFacts(link=link()),
        False,
        GroupPlan((), NOT_LINKED, unlink=True),
        id="linked-group-gone-unlinked",
    ),
    pytest.param(
        UNPUSHED_GROUP,
        GroupFacts(link=link()),
        True,
        GroupPlan((), NOT_LINKED, unlink=True),
        id="linked-group-gone-unlinked-nothing-to-delete",
    ),
    pytest.param(
        UNPUSHED_GROUP,
        GroupFacts(same_name=tv_group(SAME_NAME_ID), current_role=ROLE),
        True,
        GroupPlan((), NOT_LINKED),
        id="same-name-group-never-touched",
    ),
]


@pytest.mark.parametrize(("desired", "facts", "expected"), PUSHED_CASES)
@pytest.mark.parametrize("delete_unpushed", [False, True])
def test_plan_pushed_group(
    desired: DesiredGroup, facts: GroupFacts, expected: GroupPlan, delete_unpushed: bool
) -> None:
    """A pushed group's plan does not depend on what happens to released ones."""
    plan = plan_group(desired, facts, delete_unpushed=delete_unpushed)

    assert plan == expected
    assert plan.links is (plan.reason in {GroupReason.CREATE, GroupReason.ADOPT})


@pytest.mark.parametrize(("desired", "facts", "delete_unpushed", "expected"), RELEASED_CASES)
def test_plan_released_group(
    desired: DesiredGroup, facts: GroupFacts, delete_unpushed: bool, expected: GroupPlan
) -> None:
    plan = plan_group(desired, facts, delete_unpushed=delete_unpushed)

    assert plan == expected
    assert not plan.links, "a released group is never linked"


@pytest.mark.parametrize(
    ("operations", "links"),
    [
        pytest.param((), False, id="none"),
        pytest.param((CREATE,), True, id="create"),
        pytest.param((CREATE, ASSIGN), True, id="create-assign"),
        pytest.param((ADOPT,), True, id="adopt"),
        pytest.param((ADOPT, UNASSIGN, ASSIGN), True, id="adopt-replace"),
        pytest.param((RENAME, UNASSIGN, ASSIGN), False, id="converge"),
        pytest.param((DELETE,), False, id="delete"),
        pytest.param((UNASSIGN,), False, id="release"),
    ],
)
def test_links(operations: tuple[GroupOperation, ...], links: bool) -> None:
    assert GroupPlan(operations, GroupReason.CONVERGE).links is links


# --- wanted_member ----------------------------------------------------------------------------

ACCOUNT_NUMBER = 123
MEMBER_STATUSES = {"ACTIVE", "PASSWORD_EXPIRED", "LOCKED_OUT", "RECOVERY", "PROVISIONED"}
NEVER_MEMBER_STATUSES = {"STAGED", "SUSPENDED", "DEPROVISIONED"}


def okta_user(status: OktaUserStatus | str) -> OktaUser:
    return OktaUser.model_validate(
        {
            "id": "00u1",
            "status": status,
            "profile": {"login": EMAIL, "email": EMAIL, "firstName": "Jane", "lastName": "Doe"},
        }
    )


def mapped(active: bool | None, teamviewer_id: str = f"u{ACCOUNT_NUMBER}") -> SyncState:
    return sync_state(
        teamviewer_id=teamviewer_id, teamviewer_email=EMAIL, teamviewer_active=active, email=EMAIL
    )


def test_member_statuses_cover_every_okta_status() -> None:
    assert MEMBER_STATUSES | NEVER_MEMBER_STATUSES == {status.value for status in OktaUserStatus}
    assert not MEMBER_STATUSES & NEVER_MEMBER_STATUSES


def _wanted_member_cases() -> list[Any]:
    cases = []
    for status in OktaUserStatus:
        for active in (True, None, False):
            member = status in MEMBER_STATUSES and active is not False
            expected = ACCOUNT_NUMBER if member else None
            label = {True: "active", None: "active-unknown", False: "inactive"}[active]
            cases.append(pytest.param(status, active, expected, id=f"{status}-{label}"))
    return cases


@pytest.mark.parametrize(("status", "active", "expected"), _wanted_member_cases())
def test_wanted_member(status: OktaUserStatus, active: bool | None, expected: int | None) -> None:
    assert wanted_member(okta_user(status), mapped(active)) == expected


@pytest.mark.parametrize("status", sorted(MEMBER_STATUSES))
@pytest.mark.parametrize(
    "state",
    [
        pytest.param(None, id="no-record"),
        pytest.param(sync_state(email=EMAIL, last_outcome="no-change"), id="record-without-account"),
        pytest.param(
            sync_state(email=EMAIL, pending_create_email=EMAIL, pending_create_at=T0), id="create-pending"
        ),
    ],
)
def test_a_member_without_a_mapped_account_is_left_to_their_own_sync(
    status: str, state: SyncState | None
) -> None:
    assert wanted_member(okta_user(status), state) is None


@pytest.mark.parametrize(
    ("teamviewer_id", "number"),
    [
        pytest.param("u123", 123, id="u123"),
        pytest.param("u1", 1, id="u1"),
        pytest.param("u0001234", 1234, id="leading-zeros"),
        pytest.param("U98765432", 98765432, id="upper-case-u"),
    ],
)
def test_wanted_member_is_the_account_number(teamviewer_id: str, number: int) -> None:
    assert wanted_member(okta_user("ACTIVE"), mapped(True, teamviewer_id)) == number


# --- member_belongs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("presence", "in_okta_group", "belongs"),
    [
        pytest.param(Presence.ACTIVE, True, True, id="active-member"),
        pytest.param(Presence.ACTIVE, False, False, id="active-not-in-group"),
        pytest.param(Presence.INACTIVE, True, False, id="inactive-member-leaves"),
        pytest.param(Presence.INACTIVE, False, False, id="inactive-not-in-group"),
        pytest.param(Presence.UNMANAGED, True, False, id="unmanaged-member-not-added"),
        pytest.param(Presence.UNMANAGED, False, False, id="unmanaged-not-in-group"),
    ],
)
def test_member_belongs(presence: Presence, in_okta_group: bool, belongs: bool) -> None:
    assert member_belongs(presence, in_okta_group=in_okta_group) is belongs


@pytest.mark.parametrize("status", [*OktaUserStatus, None])
@pytest.mark.parametrize(
    ("assignment", "config", "assigned"),
    [
        pytest.param(OktaAppUser(id="00u1", status="ACTIVE"), SyncConfig(app_id=APP_ID), True, id="assigned"),
        pytest.param(
            OktaAppUser(id="00u1", status="REVOKED"), SyncConfig(app_id=APP_ID), False, id="revoked"
        ),
        pytest.param(None, SyncConfig(app_id=APP_ID), False, id="not-assigned"),
        pytest.param(None, SyncConfig(), True, id="filter-off"),
    ],
)
def test_member_belongs_follows_the_users_own_desired_account(
    status: OktaUserStatus | None, assignment: OktaAppUser | None, config: SyncConfig, assigned: bool
) -> None:
    """Suspended, deactivated, unassigned or deleted: out of every pushed group, whatever Okta's
    membership still says; staged: not in yet."""
    desired = desired_account(None if status is None else okta_user(status), assignment, config)

    expected = status in MEMBER_STATUSES and assigned
    assert member_belongs(desired.presence, in_okta_group=True) is expected
    assert member_belongs(desired.presence, in_okta_group=False) is False


# --- plan_members -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "current", "add", "remove"),
    [
        pytest.param([], [], (), (), id="empty-noop"),
        pytest.param([3, 1, 2], [2, 3, 1], (), (), id="same-members-noop"),
        pytest.param([3, 1, 2], [], ((1, 2, 3),), (), id="adds-sorted"),
        pytest.param([], [9, 4, 7], (), ((4, 7, 9),), id="hand-added-removed-sorted"),
        pytest.param([1, 2, 3], [2, 3, 4], ((1,),), ((4,),), id="add-and-remove"),
        pytest.param([1, 1, 2], [2, 2, 5, 5], ((1,),), ((5,),), id="duplicates-ignored"),
        pytest.param([10, 2], [100], ((2, 10),), ((100,),), id="numeric-not-text-order"),
    ],
)
def test_plan_members(
    wanted: list[int], current: list[int], add: tuple[Any, ...], remove: tuple[Any, ...]
) -> None:
    plan = plan_members(iter(wanted), iter(current))

    assert (plan.add, plan.remove) == (add, remove)
    assert plan.is_noop is (not add and not remove)
    assert (plan.added, plan.removed) == (len(set(wanted) - set(current)), len(set(current) - set(wanted)))


@pytest.mark.parametrize(
    ("count", "sizes"),
    [
        pytest.param(1, (1,), id="1"),
        pytest.param(99, (99,), id="99"),
        pytest.param(100, (100,), id="100"),
        pytest.param(101, (100, 1), id="101"),
        pytest.param(200, (100, 100), id="200"),
        pytest.param(250, (100, 100, 50), id="250"),
    ],
)
def test_member_batches(count: int, sizes: tuple[int, ...]) -> None:
    ids = list(range(count, 0, -1))
    adding = plan_members(ids, [])
    removing = plan_members([], ids)

    for batches, counted in ((adding.add, adding.added), (removing.remove, removing.removed)):
        assert tuple(len(batch) for batch in batches) == sizes
        assert [number for batch in batches for number in batch] == sorted(ids)
        assert counted == count
    assert (adding.remove, removing.add) == ((), ())


def test_a_250_member_group_is_emptied_in_three_calls() -> None:
    plan = plan_members([], range(1, 251))

    assert plan == MemberPlan(
        add=(), remove=(tuple(range(1, 101)), tuple(range(101, 201)), tuple(range(201, 251)))
    )
    assert (plan.added, plan.removed) == (0, 250)


# A run of consecutive ids (often longer than one call) plus a few strays, so that two draws
# overlap partly and batches above 100 are common.
member_ids = st.builds(
    lambda start, length, strays: set(range(start, start + length)) | strays,
    st.integers(min_value=1, max_value=300),
    st.integers(min_value=0, max_value=250),
    st.sets(st.integers(min_value=1, max_value=600), max_size=20),
)


@given(wanted=member_ids, current=member_ids)
def test_applying_the_member_plan_gives_exactly_the_wanted_members(
    wanted: set[int], current: set[int]
) -> None:
    plan = plan_members(wanted, current)
    added = [number for batch in plan.add for number in batch]
    removed = [number for batch in plan.remove for number in batch]

    assert (current - set(removed)) | set(added) == wanted
    assert not set(added) & set(removed), "no id both added and removed"
    assert not set(added) & current, "only missing members are added"
    assert set(removed) <= current, "only members are removed"
    assert added == sorted(set(added)) and removed == sorted(set(removed)), "sorted, each id once"
    assert (plan.added, plan.removed) == (len(added), len(removed))
    assert plan.is_noop is (wanted == current)
    replan = plan_members(wanted, (current - set(removed)) | set(added))
    assert replan.is_noop


@given(wanted=member_ids, current=member_ids)
def test_member_calls_are_full_batches_of_at_most_100(wanted: set[int], current: set[int]) -> None:
    plan = plan_members(wanted, current)

    for batches in (plan.add, plan.remove):
        assert all(1 <= len(batch) <= MAX_MEMBERS_PER_CALL for batch in batches)
        # As few calls as the limit allows: every batch but the last is full.
        assert all(len(batch) == MAX_MEMBERS_PER_CALL for batch in batches[:-1])


def test_the_protected_member_is_never_removed_and_still_added_when_wanted() -> None:
    assert plan_members([1], [1, 2, 3], protected=3) == MemberPlan(add=(), remove=((2,),))
    assert plan_members([3], [], protected=3) == MemberPlan(add=((3,),), remove=())
    assert plan_members([], [3], protected=3).is_noop
    assert plan_members([], [3], protected=None) == MemberPlan(add=(), remove=((3,),))
