"""What a pushed Okta group should be in TeamViewer, and the smallest change that makes it so.

Groups follow the same level-triggered design as users: an event only says "this group, or
this user's memberships, may have changed"; the worker reads Okta's current state, asks this
module what the TeamViewer user group should look like and what to change, and executes the
answer. Pure, so every rule of docs/groups.md is a table test:

- configuration: which Okta groups are pushed and which role each grants (``GroupConfig``);
- the group itself: linked (created, or adopted by name), named after the Okta group, with
  exactly its mapped role (``desired_group``, ``plan_group``);
- its members: exactly the pushed group's members whose TeamViewer account should be active,
  changed in calls of at most 100 account ids (``wanted_member``, ``member_belongs``,
  ``plan_members``).

A group Okta deleted, or one no longer pushed, is *released*: emptied and its role
unassigned; the TeamViewer group itself is kept (shares and policies hang on it) unless the
deployment asks for released groups to be deleted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from tvsync.core.desired_state import Presence, SyncConfig, desired_account
from tvsync.models.groups import MAX_GROUP_NAME, MAX_MEMBERS_PER_CALL, account_number

if TYPE_CHECKING:
    from tvsync.models.groups import GroupLink, OktaGroup, TeamViewerGroup
    from tvsync.models.okta import OktaUser
    from tvsync.models.sync_state import SyncState

__all__ = [
    "DesiredGroup",
    "GroupConfig",
    "GroupFacts",
    "GroupOperation",
    "GroupPlan",
    "GroupPresence",
    "GroupReason",
    "MemberPlan",
    "group_name",
    "member_belongs",
    "plan_group",
    "plan_members",
    "wanted_member",
]

#: An Okta id as ``PUSH_GROUP_IDS`` and ``GROUP_ROLE_MAP`` may name it: ``00g…`` in practice;
#: letters and digits only, so a typo such as a stray ``;`` fails the cold start.
_OKTA_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
#: A TeamViewer role id: a GUID in every source, but nothing here depends on its shape
#: beyond being one printable token.
_ROLE_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


@dataclass(frozen=True)
class GroupConfig:
    """Which Okta groups are pushed and which TeamViewer role each grants.

    ``pushed`` holds every pushed id: those of ``PUSH_GROUP_IDS`` and every key of
    ``GROUP_ROLE_MAP`` (a mapped group is pushed even when ``PUSH_GROUP_IDS`` omits it).
    The default pushes nothing, which leaves the product exactly as it is without groups.
    """

    pushed: frozenset[str] = frozenset()
    roles: Mapping[str, str] = field(default_factory=dict)
    delete_unpushed: bool = False

    @classmethod
    def parse(cls, push_group_ids: str, group_role_map: str, *, delete_unpushed: bool) -> GroupConfig:
        """Read the two comma-separated settings; a ValueError names the first bad entry.

        Blanks around entries and empty entries (a trailing comma) are ignored; a pair
        without ``=``, an id that is not an Okta id, and a group mapped to two different
        roles are refused: a deployment that grants the wrong role must fail loudly.
        """
        pushed = {_okta_id(entry, "PUSH_GROUP_IDS") for entry in _entries(push_group_ids)}
        roles: dict[str, str] = {}
        for entry in _entries(group_role_map):
            group_id, separator, role_id = (part.strip() for part in entry.partition("="))
            if not separator:
                raise ValueError(
                    f"GROUP_ROLE_MAP entry {entry!r} is not an oktaGroupId=teamViewerRoleId pair"
                )
            if not _OKTA_ID.fullmatch(group_id):
                raise ValueError(f"GROUP_ROLE_MAP entry {entry!r} has no valid Okta group id")
            if not _ROLE_ID.fullmatch(role_id):
                raise ValueError(f"GROUP_ROLE_MAP entry {entry!r} has no valid TeamViewer role id")
            if roles.get(group_id, role_id) != role_id:
                raise ValueError(f"GROUP_ROLE_MAP maps the group {group_id} to two roles")
            roles[group_id] = role_id
        return cls(frozenset(pushed | roles.keys()), roles, delete_unpushed)

    @property
    def enabled(self) -> bool:
        return bool(self.pushed)

    def is_pushed(self, okta_group_id: str) -> bool:
        return okta_group_id in self.pushed

    def role_for(self, okta_group_id: str) -> str | None:
        return self.roles.get(okta_group_id)


def _entries(value: str) -> list[str]:
    return [entry.strip() for entry in value.split(",") if entry.strip()]


def _okta_id(value: str, setting: str) -> str:
    if not _OKTA_ID.fullmatch(value):
        raise ValueError(f"{setting} entry {value!r} is not an Okta group id")
    return value


class GroupPresence(StrEnum):
    """Whether the product manages the TeamViewer group's members and role."""

    PUSHED = "PUSHED"
    """Linked to a TeamViewer group named after it, holding its members, with its role."""
    RELEASED = "RELEASED"
    """Emptied and its role unassigned; kept, or deleted with ``delete_unpushed``."""


class GroupReason(StrEnum):
    """Why a group is wanted as it is, and what a group sync did: a closed vocabulary."""

    PUSHED = "pushed"
    DELETED = "okta-group-deleted"
    NOT_PUSHED = "not-pushed"
    #: Plans: what the group itself needed.
    CREATE = "group-missing"
    ADOPT = "group-adopted"
    CONVERGE = "group-drifted"
    IN_SYNC = "in-sync"
    RELEASE = "group-released"
    NOT_LINKED = "not-linked"
    #: TeamViewer refused the name: another group of the company holds it.
    NAME_TAKEN = "name-taken"


class GroupOperation(StrEnum):
    """One change to a TeamViewer user group or its members."""

    CREATE = "create"
    ADOPT = "adopt"
    RENAME = "rename"
    UNASSIGN_ROLE = "unassign_role"
    ASSIGN_ROLE = "assign_role"
    ADD_MEMBERS = "add_members"
    REMOVE_MEMBERS = "remove_members"
    DELETE = "delete"


@dataclass(frozen=True)
class DesiredGroup:
    """The target for one Okta group's TeamViewer group; ``name`` and ``role_id`` only when PUSHED."""

    okta_group_id: str
    presence: GroupPresence
    reason: GroupReason
    name: str | None = None
    role_id: str | None = None


def group_name(okta_name: str, okta_group_id: str) -> str:
    """The TeamViewer group's name: Okta's, trimmed and cut to TeamViewer's 100 characters.

    Counted in UTF-16 code units, as user names are (``tvsync.core.desired_state``):
    TeamViewer does not say how it counts, and UTF-16 units are never fewer than code points,
    so the name fits whichever way it counts. Two Okta groups whose names agree in the first
    100 characters would claim one TeamViewer group: the second is refused as ``NAME_TAKEN``
    (``GroupFacts.name_taken_by``), never merged with the first. A name of blanks only (Okta
    requires a name, not a visible one) falls back to the group's id.
    """
    name = okta_name.strip()
    units = 0
    for index, char in enumerate(name):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > MAX_GROUP_NAME:
            name = name[:index]
            break
    return name.rstrip() or okta_group_id


def desired_group(config: GroupConfig, okta_group_id: str, okta_group: OktaGroup | None) -> DesiredGroup:
    """What TeamViewer should hold for this Okta group now (``okta_group`` None: Okta deleted it)."""
    if okta_group is None:
        return DesiredGroup(okta_group_id, GroupPresence.RELEASED, GroupReason.DELETED)
    if not config.is_pushed(okta_group_id):
        return DesiredGroup(okta_group_id, GroupPresence.RELEASED, GroupReason.NOT_PUSHED)
    return DesiredGroup(
        okta_group_id,
        GroupPresence.PUSHED,
        GroupReason.PUSHED,
        name=group_name(okta_group.name, okta_group_id),
        role_id=config.role_for(okta_group_id),
    )


@dataclass(frozen=True)
class GroupPlan:
    """What to do to the group itself; the members follow with ``plan_members``.

    ``teamviewer_group_id`` is the group the plan acts on (None when it is to be created,
    or when a released group has no TeamViewer group to act on). ``links`` says the
    plan makes a new link (create or adopt): the worker stores it before anything else,
    so a crash after a create is recovered by adopting the group by name. ``members``
    says whether the group's members are to be converged afterwards: always for a pushed
    group (to Okta's members) and for a released one that still has a group (to none).
    ``unlink`` says the link is to be forgotten (the TeamViewer group is gone, or deleted).
    """

    operations: tuple[GroupOperation, ...]
    reason: GroupReason
    teamviewer_group_id: int | None = None
    name: str | None = None
    role_id: str | None = None
    members: bool = False
    unlink: bool = False

    @property
    def links(self) -> bool:
        return GroupOperation.CREATE in self.operations or GroupOperation.ADOPT in self.operations


@dataclass(frozen=True)
class GroupFacts:
    """What TeamViewer and GroupStateTable hold for one Okta group, as the worker read it.

    ``link`` is the stored link; ``linked`` the TeamViewer group it points at as it is now
    (None when there is no link or the group was deleted in TeamViewer); ``same_name`` the
    company's group that has the desired name (read only when nothing is linked); and
    ``current_role`` the role of ``linked`` (or of ``same_name``) now; and
    ``name_taken_by`` the other Okta group already linked to ``same_name``, if any (two Okta
    groups of one name must not share, and fight over, one TeamViewer group).

    The role the worker manages is the link's ``role_id``: the mapped role it last left
    assigned. A pushed group without a mapped role keeps any role an admin gives it in
    TeamViewer; once a pair leaves ``GROUP_ROLE_MAP``, the role it granted is unassigned.
    """

    link: GroupLink | None = None
    linked: TeamViewerGroup | None = None
    same_name: TeamViewerGroup | None = None
    current_role: str | None = None
    name_taken_by: str | None = None


def plan_group(desired: DesiredGroup, facts: GroupFacts, *, delete_unpushed: bool) -> GroupPlan:
    """The smallest change to the TeamViewer group for ``desired``.

    On a mapped group a role assigned by hand is replaced: unassigned first, then the mapped
    one assigned — TeamViewer keeps one role per group, and nothing documents that assigning
    over another replaces it, so the plan never relies on it. ``delete_unpushed`` mirrors
    ``DELETE_UNPUSHED_GROUPS``: a released group is deleted rather than emptied.
    """
    if desired.presence is GroupPresence.RELEASED:
        return _plan_released(facts, delete_unpushed=delete_unpushed)
    return _plan_pushed(desired, facts)


def _plan_released(facts: GroupFacts, *, delete_unpushed: bool) -> GroupPlan:
    """Empty the group and unassign any role, or delete it; nothing to do without a group."""
    linked = facts.linked
    if linked is None:
        link = facts.link
        unlink = link is not None and link.teamviewer_group_id is not None
        return GroupPlan((), GroupReason.NOT_LINKED, unlink=unlink)
    if delete_unpushed:  # deleting a group ends its memberships and its role with it
        delete = (GroupOperation.DELETE,)
        return GroupPlan(delete, GroupReason.RELEASE, teamviewer_group_id=linked.id, unlink=True)
    unassign = (GroupOperation.UNASSIGN_ROLE,) if facts.current_role is not None else ()
    return GroupPlan(unassign, GroupReason.RELEASE, teamviewer_group_id=linked.id, members=True)


def _plan_pushed(desired: DesiredGroup, facts: GroupFacts) -> GroupPlan:
    link, linked, same_name, current_role = facts.link, facts.linked, facts.same_name, facts.current_role
    assert desired.name is not None  # a PUSHED group always has a name (DesiredGroup)
    managed = link.role_id if link is not None else None
    role_operations = _role_operations(desired.role_id, current_role, managed)
    if linked is not None:
        rename: tuple[GroupOperation, ...] = (GroupOperation.RENAME,) if linked.name != desired.name else ()
        operations = rename + role_operations
        reason = GroupReason.CONVERGE if operations else GroupReason.IN_SYNC
        return _pushed_plan(operations, reason, desired, linked.id)
    if same_name is not None and facts.name_taken_by is not None:
        return GroupPlan((), GroupReason.NAME_TAKEN)
    if same_name is not None:
        return _pushed_plan(
            (GroupOperation.ADOPT, *role_operations), GroupReason.ADOPT, desired, same_name.id
        )
    create_role = (GroupOperation.ASSIGN_ROLE,) if desired.role_id is not None else ()
    return _pushed_plan((GroupOperation.CREATE, *create_role), GroupReason.CREATE, desired, None)


def _pushed_plan(
    operations: tuple[GroupOperation, ...], reason: GroupReason, desired: DesiredGroup, group_id: int | None
) -> GroupPlan:
    return GroupPlan(
        operations,
        reason,
        teamviewer_group_id=group_id,
        name=desired.name,
        role_id=desired.role_id,
        members=True,
    )


def _role_operations(
    wanted: str | None, current: str | None, managed: str | None
) -> tuple[GroupOperation, ...]:
    """Role calls for a pushed group; ``managed`` is the role the worker last assigned."""
    if wanted == current:
        return ()
    if wanted is None:  # unmapped: take back only the role the mapping granted
        return (GroupOperation.UNASSIGN_ROLE,) if current is not None and current == managed else ()
    if current is None:
        return (GroupOperation.ASSIGN_ROLE,)
    return (GroupOperation.UNASSIGN_ROLE, GroupOperation.ASSIGN_ROLE)


def wanted_member(user: OktaUser, state: SyncState | None) -> int | None:
    """The TeamViewer member id of one Okta group member, or None when they are not to be one.

    A member belongs in the TeamViewer group when Okta lets them sign in (their status, read
    fresh with the member list) and the worker keeps an account for them that it left active
    (their SyncStateTable record). The record stands in for the app assignment, which only a
    read per member could confirm: the user's own sync decides the account from it, and any
    change of it is an event of that user, whose sync then joins or leaves the user's groups.
    A member without a mapped account is left to their own sync, which adds them once the
    account exists. An account whose ``active`` is unknown counts as active, as in
    ``tvsync.core.plan``.
    """
    status_only = desired_account(user, None, SyncConfig(app_id=None))
    if status_only.presence is not Presence.ACTIVE or state is None or state.teamviewer_id is None:
        return None
    if state.teamviewer_active is False:
        return None
    return account_number(state.teamviewer_id)


def member_belongs(presence: Presence, *, in_okta_group: bool) -> bool:
    """Whether a user's account belongs in a pushed group's TeamViewer group, after their sync.

    ``presence`` is what the user's sync decided for the account (``DesiredAccount.presence``).

    Only an account that should be active is a member: a user who is suspended,
    deactivated, unassigned or deleted leaves every pushed group, whatever Okta's
    membership still says (Okta keeps a deactivated user's memberships).
    """
    return in_okta_group and presence is Presence.ACTIVE


@dataclass(frozen=True)
class MemberPlan:
    """Member calls that take a group's members to the wanted ones: batches of at most 100 ids."""

    add: tuple[tuple[int, ...], ...]
    remove: tuple[tuple[int, ...], ...]

    @property
    def is_noop(self) -> bool:
        return not self.add and not self.remove

    @property
    def added(self) -> int:
        return sum(len(batch) for batch in self.add)

    @property
    def removed(self) -> int:
        return sum(len(batch) for batch in self.remove)


def plan_members(
    wanted: Iterable[int], current: Iterable[int], *, protected: int | None = None
) -> MemberPlan:
    """The adds and removes that take ``current`` to exactly ``wanted``, sorted, 100 ids a call.

    Removals are planned too (and executed first by the worker): a member added by hand
    leaves, since membership is Okta's. The one exception is ``protected``, the account that
    owns the script token: as it is never deactivated (``tvsync.core.plan``), it never leaves
    a group either — the role a group grants may be what lets the token do its work.
    """
    wanted_ids = frozenset(wanted)
    current_ids = frozenset(current)
    return MemberPlan(
        add=_batches(sorted(wanted_ids - current_ids)),
        remove=_batches(sorted(current_ids - wanted_ids - {protected})),
    )


def _batches(ids: list[int]) -> tuple[tuple[int, ...], ...]:
    # itertools.batched is Python 3.12+; the code also runs on 3.11.
    return tuple(
        tuple(ids[start : start + MAX_MEMBERS_PER_CALL]) for start in range(0, len(ids), MAX_MEMBERS_PER_CALL)
    )
