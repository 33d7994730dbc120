"""What ``tvsync status`` shows about pushed groups: one group, one user's groups, the summary line.

GroupStateTable says what the worker last did for each Okta group and which TeamViewer
group it is linked to; Okta and TeamViewer say what the group is now. Each view puts the
stored record beside a fresh read of both services, so an admin sees at once whether the
group is in step, and a service that cannot be read costs only its own lines (the view
says why), never the stored part.

Costs, by view (each read is one call unless said otherwise):

- the summary line reads GroupStateTable only;
- one group (``status --group``): Okta's group and its member list, TeamViewer's group,
  its role, the company's roles (for their names) and its member list — a list costs one
  call a page, so a group of 10,000 costs Okta 50 calls and TeamViewer as many pages as it
  serves;
- one user: Okta's list of the user's groups (one call for up to 200 groups), then, for
  each of the user's pushed and linked groups, TeamViewer's member list until the user's
  account is found in it. The answer is TeamViewer's own, not what the worker intended;
  the cost is a few pages per group, which is why the summary of all users never does it.

The tables show ids and names of groups and roles (not personal data); any text quoted from
a service is masked (``mask_emails``), as every line that leaves the process is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from rich.table import Table
from rich.text import Text

from tvsync.adapters.errors import AuthError, UpstreamError
from tvsync.adapters.secrets import SecretUnavailableError
from tvsync.cli.output import CliError, plural
from tvsync.models.groups import account_number
from tvsync.observability import mask_emails

if TYPE_CHECKING:
    from tvsync.adapters.okta_client import OktaClient
    from tvsync.adapters.teamviewer_client import TeamViewerClient
    from tvsync.cli.upstream import Upstream
    from tvsync.core.groups import GroupConfig
    from tvsync.models.groups import GroupLink
    from tvsync.models.sync_state import SyncState

__all__ = [
    "GroupView",
    "GroupsSummary",
    "UserGroup",
    "group_dict",
    "group_table",
    "read_group",
    "read_user_groups",
    "summarize_groups",
    "summary_line",
    "user_groups_table",
]

_T = TypeVar("_T")

#: Failures of a read that cost only that read's lines: a service down, a token refused or
#: unreadable, a setting the stack lacks.
_UNREADABLE = (UpstreamError, SecretUnavailableError, CliError)

#: What each last outcome of a group sync means (``tvsync.services.group_outcomes``).
GROUP_MEANING = {
    "applied": "TeamViewer was changed to match Okta",
    "no-change": "already in step",
    "dry-run": "a change was planned, not made (DRY_RUN=true)",
    "conflict": "TeamViewer refused the name: another group of the company has it",
    "invalid": "Okta or TeamViewer refused a request; not retried (the reconciler tries again)",
    "retrying": "failed for now; SQS redelivers it",
}


# ---------------------------------------------------------------------------- one group


@dataclass
class GroupView:
    """One pushed or linked Okta group: its stored link and both services' view of it now.

    A ``*_found`` of None means that service was not read (see ``notes``); ``members`` is
    filled by callers that list them (the demo), never by a plain status.
    """

    okta_group_id: str
    pushed: bool
    mapped_role_id: str | None
    link: GroupLink | None
    okta_found: bool | None = None
    okta_name: str | None = None
    okta_type: str | None = None
    okta_members: int | None = None
    teamviewer_found: bool | None = None
    teamviewer_name: str | None = None
    teamviewer_role_id: str | None = None
    teamviewer_members: int | None = None
    role_names: dict[str, str] = field(default_factory=dict)
    members: list[str] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def teamviewer_group_id(self) -> int | None:
        return self.link.teamviewer_group_id if self.link is not None else None

    def role_label(self, role_id: str | None) -> str:
        """``Supporter (9b1e…)``, or the bare id when the role's name is not known."""
        if role_id is None:
            return "none"
        name = self.role_names.get(role_id)
        return f"{name} ({role_id})" if name else role_id


def read_group(
    okta_group_id: str, *, link: GroupLink | None, config: GroupConfig, upstream: Upstream
) -> GroupView:
    """The group as GroupStateTable, Okta and TeamViewer have it; see the module doc for the cost."""
    view = GroupView(
        okta_group_id=okta_group_id,
        pushed=config.is_pushed(okta_group_id),
        mapped_role_id=config.role_for(okta_group_id),
        link=link,
    )
    _attempt("Okta", view.notes, lambda: _read_okta(view, upstream.okta()))
    if view.teamviewer_group_id is not None:
        _attempt("TeamViewer", view.notes, lambda: _read_teamviewer(view, upstream.teamviewer()))
    return view


def _read_okta(view: GroupView, okta: OktaClient) -> None:
    group = okta.get_group(view.okta_group_id)
    view.okta_found = group is not None
    if group is not None:
        view.okta_name, view.okta_type = group.name, group.type
        view.okta_members = sum(1 for _ in okta.iter_group_users(view.okta_group_id))


def _read_teamviewer(view: GroupView, teamviewer: TeamViewerClient) -> None:
    group_id = view.teamviewer_group_id
    assert group_id is not None
    group = teamviewer.get_group(group_id)
    view.teamviewer_found = group is not None
    if group is None:
        return
    view.teamviewer_name = group.name
    view.teamviewer_role_id = teamviewer.group_role(group_id)
    view.teamviewer_members = sum(1 for _ in teamviewer.iter_group_members(group_id))
    try:
        view.role_names = {role.id: role.name for role in teamviewer.iter_roles()}
    except AuthError as exc:  # a token without "User roles: view" shows role ids only
        if exc.status != 403:
            raise
        view.notes.append("role names not shown: the token may not view user roles")


def group_dict(view: GroupView) -> dict[str, Any]:
    """``--json`` of one group."""
    link = view.link
    return {
        "okta_group_id": view.okta_group_id,
        "pushed": view.pushed,
        "mapped_role_id": view.mapped_role_id,
        "okta": None
        if view.okta_found is None
        else {
            "found": view.okta_found,
            "name": view.okta_name,
            "type": view.okta_type,
            "members": view.okta_members,
        },
        "teamviewer_group_id": view.teamviewer_group_id,
        "teamviewer": None
        if view.teamviewer_found is None
        else {
            "found": view.teamviewer_found,
            "name": view.teamviewer_name,
            "role_id": view.teamviewer_role_id,
            "role_name": view.role_names.get(view.teamviewer_role_id or ""),
            "members": view.teamviewer_members,
        },
        "last_outcome": link.last_outcome if link else None,
        "last_reason": link.last_reason if link else None,
        "last_operations": list(link.last_operations) if link else [],
        "role_last_assigned": link.role_id if link else None,
        "updated_at": link.updated_at.isoformat() if link else None,
        "last_applied_at": link.last_applied_at.isoformat() if link and link.last_applied_at else None,
        **({"members_shown": view.members} if view.members is not None else {}),
        "notes": view.notes,
    }


def group_table(view: GroupView, *, title: str | None = None) -> Table:
    """One group as a two-column table: ids stay whole, prose wraps."""
    table = Table(title=title or f"Okta group {view.okta_group_id}", title_justify="left", show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    link = view.link
    for name, value, prose in (
        ("Okta group", _okta_label(view), False),
        ("pushed", _pushed_label(view), True),
        ("mapped role", view.role_label(view.mapped_role_id), False),
        ("TeamViewer group", _teamviewer_label(view), False),
        ("role in TeamViewer", _role_in_teamviewer(view), False),
        ("members in TeamViewer", _count(view.teamviewer_members), False),
        ("members in Okta", _okta_members(view), True),
        ("members", ", ".join(view.members) if view.members is not None else None, True),
        ("last outcome", link.last_outcome if link else "never synced", False),
        ("meaning", GROUP_MEANING.get(link.last_outcome, "") if link else None, True),
        ("last reason", link.last_reason if link else None, True),
        ("last operations", ", ".join(link.last_operations) if link else None, True),
        ("updated (UTC)", _utc(link.updated_at) if link else None, False),
        ("last applied (UTC)", _utc(link.last_applied_at) if link else None, False),
        *(("note", note, True) for note in view.notes),
    ):
        if name == "members" and value is None:
            continue
        text = "-" if value in (None, "") else str(value)
        table.add_row(name, text if prose else Text(text, no_wrap=True, overflow="ignore"))
    return table


def _okta_label(view: GroupView) -> str:
    if view.okta_found is None:
        return f"{view.okta_group_id} (not read)"
    if not view.okta_found:
        return f"{view.okta_group_id} (deleted in Okta)"
    kind = f", {view.okta_type}" if view.okta_type else ""
    return f"{view.okta_group_id} “{view.okta_name}”{kind}"


def _pushed_label(view: GroupView) -> str:
    if view.pushed:
        return "yes (PUSH_GROUP_IDS / GROUP_ROLE_MAP)"
    if view.teamviewer_group_id is not None:
        return "no: released (emptied, role unassigned) at its next sync"
    return "no"


def _teamviewer_label(view: GroupView) -> str:
    group_id = view.teamviewer_group_id
    if group_id is None:
        return "not linked yet" if view.pushed else "none"
    if view.teamviewer_found is None:
        return f"{group_id} (not read)"
    if not view.teamviewer_found:
        return f"{group_id} (gone from TeamViewer: the next sync links the group again)"
    return f"{group_id} “{view.teamviewer_name}”"


def _role_in_teamviewer(view: GroupView) -> str | None:
    if view.teamviewer_found is not True:
        return None
    label = view.role_label(view.teamviewer_role_id)
    wanted = view.mapped_role_id if view.pushed else None
    if view.teamviewer_role_id != wanted:
        return f"{label}; should be {view.role_label(wanted)}"
    return label


def _okta_members(view: GroupView) -> str | None:
    if view.okta_members is None:
        return None
    return f"{view.okta_members:,} (any status: only those whose account is active belong in TeamViewer)"


def _count(value: int | None) -> str | None:
    return None if value is None else f"{value:,}"


def _utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


# ---------------------------------------------------------------------------- one user


@dataclass(frozen=True)
class UserGroup:
    """One of a user's pushed groups: its link, and whether the user's account is a member now.

    ``member`` is None where it cannot be known: the group is not linked, the user has no
    account, or TeamViewer was not read.
    """

    okta_group_id: str
    name: str
    teamviewer_group_id: int | None
    role_id: str | None
    last_outcome: str | None
    member: bool | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "okta_group_id": self.okta_group_id,
            "name": self.name,
            "teamviewer_group_id": self.teamviewer_group_id,
            "role_id": self.role_id,
            "last_outcome": self.last_outcome,
            "member_in_teamviewer": self.member,
        }


def read_user_groups(
    state: SyncState, *, config: GroupConfig, links: Mapping[str, GroupLink], upstream: Upstream
) -> tuple[list[UserGroup], list[str]]:
    """The user's Okta groups that are pushed, each with its link and the account's membership,
    and a note for each service that could not be read."""
    notes: list[str] = []
    groups = _attempt("Okta", notes, lambda: list(upstream.okta().iter_user_groups(state.okta_user_id)))
    if groups is None:
        return [], notes
    number = account_number(state.teamviewer_id) if state.teamviewer_id else None
    rows = []
    for group in sorted((g for g in groups if config.is_pushed(g.id)), key=lambda g: g.id):
        link = links.get(group.id)
        group_id = link.teamviewer_group_id if link else None
        member = None
        if group_id is not None and number is not None:
            member = _attempt("TeamViewer", notes, _membership_read(upstream, group_id, number))
        rows.append(
            UserGroup(
                okta_group_id=group.id,
                name=group.name,
                teamviewer_group_id=group_id,
                role_id=config.role_for(group.id),
                last_outcome=link.last_outcome if link else None,
                member=member,
            )
        )
    return rows, notes


def _membership_read(upstream: Upstream, group_id: int, number: int) -> Callable[[], bool]:
    """Whether the account is a member: the group's members, walked only until it is found."""

    def read() -> bool:
        return any(member == number for member in upstream.teamviewer().iter_group_members(group_id))

    return read


def _attempt(service: str, notes: list[str], read: Callable[[], _T]) -> _T | None:
    try:
        return read()
    except _UNREADABLE as exc:
        note = f"{service} not read: {mask_emails(str(exc))}"
        if note not in notes:
            notes.append(note)
        return None


def user_groups_table(state: SyncState, rows: Iterable[UserGroup], notes: Iterable[str]) -> Table:
    table = Table(title=f"Pushed groups of Okta user {state.okta_user_id}", title_justify="left")
    for column in ("Okta group", "Name", "TeamViewer group", "Mapped role", "Group's last outcome"):
        table.add_column(column, no_wrap=column != "Name", overflow="fold" if column == "Name" else "ignore")
    table.add_column("Member in TeamViewer", no_wrap=True)
    for row in rows:
        table.add_row(
            row.okta_group_id,
            row.name,
            str(row.teamviewer_group_id) if row.teamviewer_group_id is not None else "not linked yet",
            row.role_id or "-",
            row.last_outcome or "-",
            _membership(row, state),
        )
    caption = list(notes)
    if not table.row_count:
        caption.insert(0, "The user is in no pushed group.")
    if caption:
        table.caption, table.caption_justify = "\n".join(caption), "left"
    return table


def _membership(row: UserGroup, state: SyncState) -> str:
    if row.member is True:
        return "yes"
    if row.member is False:
        return "no" if state.teamviewer_active is False else "no (the reconciler adds it)"
    if state.teamviewer_id is None:
        return "- (no account)"
    return "-" if row.teamviewer_group_id is None else "? (not read)"


# ---------------------------------------------------------------------------- summary


@dataclass
class GroupsSummary:
    """The summary's group line: linked groups by last outcome, and pushed ones not linked yet."""

    linked: int = 0
    by_outcome: Counter[str] = field(default_factory=Counter)
    not_linked: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "linked": self.linked,
            "by_outcome": dict(sorted(self.by_outcome.items())),
            "pushed_not_linked": self.not_linked,
        }


def summarize_groups(links: Iterable[GroupLink], config: GroupConfig) -> GroupsSummary:
    summary = GroupsSummary()
    linked: set[str] = set()
    for link in links:
        if link.teamviewer_group_id is None:
            continue
        linked.add(link.okta_group_id)
        summary.linked += 1
        summary.by_outcome[link.last_outcome] += 1
    summary.not_linked = sorted(config.pushed - linked)
    return summary


def summary_line(summary: GroupsSummary) -> str:
    """``Groups: 3 linked (2 applied, 1 no-change); 1 pushed group not linked yet: 00g…``."""
    outcomes = ", ".join(
        f"{count:,} {outcome}"
        for outcome, count in sorted(summary.by_outcome.items(), key=lambda item: (-item[1], item[0]))
    )
    line = f"Groups: {summary.linked:,} linked" + (f" ({outcomes})" if outcomes else "")
    if summary.not_linked:
        waiting = plural(len(summary.not_linked), "pushed group")
        line += f"; {waiting} not linked yet: {', '.join(summary.not_linked)}"
    return line
