"""``tvsync status [OKTA_USER_ID|EMAIL | --group ID]``: what the worker last did, and why.

Without an argument: how many users ended in each outcome, the most recent problems
(conflicts, refused requests, users still being retried), and one line on the pushed
groups (GroupStateTable). With a user: that user's record — outcome, when, why, the
TeamViewer account and the event that caused it — and, when groups are pushed, the user's
pushed groups with whether the account is a member in TeamViewer now. With ``--group``:
one group's record beside Okta's and TeamViewer's view of it (``tvsync.cli.group_status``,
which also says what each view costs).

The summary masks emails (it lists many people, and ends up in tickets and chat); asking
for one user shows that user's email in full, because the admin asked for exactly that.
"""

from __future__ import annotations

import argparse
import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.table import Table
from rich.text import Text

from tvsync.adapters.dead_letters import DeadLetterError, DeadLetterQueue
from tvsync.adapters.group_state import GroupStateStore
from tvsync.adapters.sync_state import SyncStateStore
from tvsync.cli.context import StackContext, add_stack_arguments, resolve
from tvsync.cli.group_status import (
    GroupsSummary,
    UserGroup,
    group_dict,
    group_table,
    read_group,
    read_user_groups,
    summarize_groups,
    summary_line,
    user_groups_table,
)
from tvsync.cli.output import CliError, console, plural, print_json, print_table
from tvsync.cli.upstream import DEFAULT_TIMEOUT_SECONDS, Upstream
from tvsync.core.groups import GroupConfig
from tvsync.models.sync_state import SyncState
from tvsync.observability import mask_email

ORDER = 60

#: Outcomes an admin has to look at; everything else converged (or was deliberately skipped).
#: ``adopted`` is not one: the user converged, onto an account that already existed.
PROBLEMS = ("conflict", "invalid", "retrying", "creating")

MEANING = {
    "applied": "TeamViewer was changed to match Okta (reason account-adopted: on an existing account)",
    "adopted": "an existing TeamViewer account was mapped to the user, not created; nothing else to change",
    "no-change": "already in step (or not to be provisioned)",
    "dry-run": "a change was planned, not made (DRY_RUN=true)",
    "conflict": "the email belongs to a TeamViewer account outside the company",
    "invalid": "Okta or TeamViewer refused a request, or the message was unreadable; not retried",
    "retrying": "failed for now; SQS redelivers it (DLQ after 10 tries)",
    "creating": "a create was sent and the run died before recording it; the next sync adopts the account",
}

DESCRIPTION = """\
Show what the worker last did, from SyncStateTable.

  tvsync status                  users per outcome, the most recent problems, pushed groups
  tvsync status 00u1abcd...      one Okta user: outcome, when, why, TeamViewer account,
                                 and their pushed groups
  tvsync status jane@corp.com    the same, found by email (case-insensitive)
  tvsync status --group 00g1...  one pushed Okta group: its TeamViewer group, role,
                                 members in both, and what the last group sync did

Outcomes: applied, adopted, no-change, dry-run, conflict, invalid, retrying, creating
(see docs/operations.md). "Last applied" is when a sync last changed the user's account in
TeamViewer or adopted one; later syncs that change nothing keep it.
The summary masks emails; asking for one user shows that user's email.

Groups (with PUSH_GROUP_IDS or GROUP_ROLE_MAP set, or groups still linked): the summary
reads GroupStateTable only. A user's pushed groups come from Okta (one read of the user's
groups); "member in TeamViewer" is TeamViewer's own member list, read for each of the
user's linked groups until the account is found in it — a few calls per group, not what
the worker intended. --group reads the group and its whole member list in Okta and in
TeamViewer (one call a page). A service that cannot be read is named, and the rest shown.
"""


@dataclass
class Summary:
    total: int = 0
    by_outcome: Counter[str] = field(default_factory=Counter)
    recent_problems: list[SyncState] = field(default_factory=list)
    dead_letters: int | None = None


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        help="sync outcome per user (summary, or one user by Okta id or email)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("user", nargs="?", metavar="OKTA_USER_ID|EMAIL", help="show one user's record")
    parser.add_argument(
        "--group", metavar="OKTA_GROUP_ID", help="show one pushed (or still linked) Okta group instead"
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="give up on each Okta or TeamViewer call after this many seconds "
        f"(default: {DEFAULT_TIMEOUT_SECONDS:g}; only a user's groups and --group call them)",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=20,
        metavar="N",
        help="recent problems to list in the summary (default 20)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    add_stack_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    context = resolve(args)
    if args.group is not None:
        if args.user:
            raise CliError("give a user or --group, not both")
        return _show_group(context, args.group.strip(), as_json=args.json, timeout=args.timeout)
    table = context.value("SYNC_STATE_TABLE_NAME")  # what is missing, before how to reach AWS
    store = SyncStateStore(context.client("dynamodb"), table)
    if args.user:
        return _show_user(context, store, args.user.strip(), as_json=args.json, timeout=args.timeout)
    summary = summarize(store.scan(), limit=max(0, args.limit))
    summary.dead_letters = _dead_letters(context)
    groups = _groups_summary(context)
    if args.json:
        print_json({**_summary_dict(summary), "groups": groups.as_dict() if groups else None})
    else:
        _print_summary(summary)
        if groups is not None:
            console.print(summary_line(groups), soft_wrap=True)
    return 0


def group_config(context: StackContext) -> GroupConfig:
    """The worker's pushed groups and roles, as its settings read them; nothing pushed if unset."""

    def setting(name: str) -> str:
        try:
            return context.value(name)
        except CliError:
            return ""

    try:
        return GroupConfig.parse(
            setting("PUSH_GROUP_IDS"),
            setting("GROUP_ROLE_MAP"),
            delete_unpushed=setting("DELETE_UNPUSHED_GROUPS").lower() == "true",
        )
    except ValueError as exc:
        raise CliError(f"{exc} ({context.source}); `tvsync check` says more") from None


def group_store(context: StackContext) -> GroupStateStore | None:
    """GroupStateTable, or None for a stack deployed before groups (it names no such table)."""
    try:
        table = context.value("GROUP_STATE_TABLE_NAME")
    except CliError:
        return None
    return GroupStateStore(context.client("dynamodb"), table)


def _groups_summary(context: StackContext) -> GroupsSummary | None:
    """The summary's group line; None where groups are not in use (nothing pushed, none linked)."""
    store = group_store(context)
    if store is None:
        return None
    summary = summarize_groups(store.scan(), group_config(context))
    return summary if summary.linked or summary.not_linked else None


def _show_group(context: StackContext, okta_group_id: str, *, as_json: bool, timeout: float) -> int:
    store = group_store(context)
    if store is None:
        raise CliError(f"GROUP_STATE_TABLE_NAME is not known for this stack ({context.source})")
    config = group_config(context)
    link = store.get(okta_group_id)
    if link is None and not config.is_pushed(okta_group_id):
        raise CliError(
            f"no record for Okta group {okta_group_id!r}: it is not pushed (PUSH_GROUP_IDS, "
            "GROUP_ROLE_MAP) and the worker never linked it"
        )
    with Upstream(context, timeout=timeout) as upstream:
        view = read_group(okta_group_id, link=link, config=config, upstream=upstream)
    if as_json:
        print_json({"group": group_dict(view)})
    else:
        print_table(console, group_table(view))
    return 0


def summarize(states: Iterable[SyncState], *, limit: int) -> Summary:
    """Counts per outcome and the ``limit`` newest problems, in one pass and bounded memory."""
    summary = Summary()
    newest: list[tuple[datetime, str, SyncState]] = []
    for state in states:
        summary.total += 1
        summary.by_outcome[state.last_outcome] += 1
        if state.last_outcome in PROBLEMS and limit:
            entry = (state.updated_at, state.okta_user_id, state)
            if len(newest) < limit:
                heapq.heappush(newest, entry)
            else:
                heapq.heappushpop(newest, entry)
    summary.recent_problems = [
        state for _, _, state in sorted(newest, key=lambda e: (e[0], e[1]), reverse=True)
    ]
    return summary


def find_users(store: SyncStateStore, key: str) -> list[SyncState]:
    """An Okta user id, or an email (it has an ``@``) through the ``by-email`` index."""
    if "@" in key:
        return sorted(store.find_by_email(key), key=lambda s: s.updated_at, reverse=True)
    state = store.get(key)
    return [state] if state else []


def _show_user(
    context: StackContext, store: SyncStateStore, key: str, *, as_json: bool, timeout: float
) -> int:
    states = find_users(store, key)
    if not states:
        kind = "email" if "@" in key else "Okta user id"
        raise CliError(f"no sync record for {kind} {key!r}: the worker has not seen this user yet")
    groups = _users_groups(context, states, timeout=timeout)
    if as_json:
        users = []
        for state in states:
            user = _user_dict(state)
            if groups is not None:
                rows, notes = groups[state.okta_user_id]
                user["groups"] = [row.as_dict() for row in rows]
                user["groups_notes"] = notes
            users.append(user)
        print_json({"users": users})
        return 0
    for state in states:
        print_table(console, _user_table(state))
        if groups is not None:
            print_table(console, user_groups_table(state, *groups[state.okta_user_id]))
    return 0


def _users_groups(
    context: StackContext, states: list[SyncState], *, timeout: float
) -> dict[str, tuple[list[UserGroup], list[str]]] | None:
    """Each user's pushed groups and what could not be read; None where groups are not in use."""
    store = group_store(context)
    if store is None:
        return None
    config = group_config(context)
    links = {link.okta_group_id: link for link in store.scan()}
    if not config.enabled and not links:
        return None
    found: dict[str, tuple[list[UserGroup], list[str]]] = {}
    with Upstream(context, timeout=timeout) as upstream:
        for state in states:
            found[state.okta_user_id] = read_user_groups(state, config=config, links=links, upstream=upstream)
    return found


def _dead_letters(context: StackContext) -> int | None:
    try:
        queue_url = context.value("EVENT_QUEUE_URL")
    except CliError:
        return None
    try:
        return DeadLetterQueue.of_queue(context.client("sqs"), queue_url).depth()
    except DeadLetterError:
        return None


def _user_dict(state: SyncState, *, masked: bool = False) -> dict[str, Any]:
    return {
        "okta_user_id": state.okta_user_id,
        "email": mask_email(state.email) if masked else state.email,
        "last_outcome": state.last_outcome,
        "updated_at": state.updated_at.isoformat(),
        "last_applied_at": state.last_applied_at.isoformat() if state.last_applied_at else None,
        "last_reason": state.last_reason,
        "last_operations": state.last_operations,
        "teamviewer_id": state.teamviewer_id,
        "teamviewer_active": state.teamviewer_active,
        "last_event_type": state.last_event_type,
        "last_event_uuid": state.last_event_uuid,
        "last_published": state.last_published.isoformat() if state.last_published else None,
    }


def _summary_dict(summary: Summary) -> dict[str, Any]:
    return {
        "total": summary.total,
        "by_outcome": dict(sorted(summary.by_outcome.items())),
        "recent_problems": [_user_dict(s, masked=True) for s in summary.recent_problems],
        "dead_letters": summary.dead_letters,
    }


def _print_summary(summary: Summary) -> None:
    if not summary.total:
        console.print("No sync records yet: the worker has not processed any event.")
    else:
        table = Table(title=f"Users by last outcome ({summary.total:,} in total)", title_justify="left")
        table.add_column("Outcome")
        table.add_column("Users", justify="right")
        table.add_column("Meaning")
        for outcome, count in sorted(summary.by_outcome.items(), key=lambda item: (-item[1], item[0])):
            table.add_row(outcome, str(count), MEANING.get(outcome, ""))
        print_table(console, table)
    if summary.recent_problems:
        problems = Table(title="Most recent problems", title_justify="left")
        # Times, ids and emails are copied and searched for: never split; only the reason wraps.
        for column in ("When (UTC)", "Okta user", "Email", "Outcome", "Last applied (UTC)"):
            problems.add_column(column, no_wrap=True, overflow="ignore")
        problems.add_column("Why", overflow="fold")
        for state in summary.recent_problems:
            problems.add_row(
                _utc(state.updated_at),
                state.okta_user_id,
                mask_email(state.email) or "-",
                state.last_outcome,
                _utc(state.last_applied_at),
                state.last_reason or "-",
            )
        print_table(console, problems)
        console.print("Details for one user: tvsync status OKTA_USER_ID")
    if summary.dead_letters:
        console.print(f"{plural(summary.dead_letters, 'event')} in the DLQ: tvsync dlq list")


def _user_table(state: SyncState) -> Table:
    table = Table(title=f"Okta user {state.okta_user_id}", title_justify="left", show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    rows = _user_dict(state)
    rows["meaning"] = MEANING.get(state.last_outcome, "")
    rows["last_operations"] = ", ".join(state.last_operations) or None
    for name in (
        "email",
        "last_outcome",
        "meaning",
        "updated_at",
        "last_applied_at",
        "last_reason",
        "last_operations",
        "teamviewer_id",
        "teamviewer_active",
        "last_event_type",
        "last_event_uuid",
        "last_published",
    ):
        value = rows[name]
        text = "-" if value is None else str(value)
        # An id or an email stays whole even on a narrow terminal; prose wraps.
        cell = text if name in _PROSE else Text(text, no_wrap=True, overflow="ignore")
        table.add_row(name.replace("_", " "), cell)
    return table


#: The fields of one user's record that are sentences; every other one is an id, a time or a word.
_PROSE = frozenset({"meaning", "last_reason", "last_operations"})


def _utc(moment: datetime | None) -> str:
    """A stored time as the summary shows it: UTC to the second, ``-`` when there is none."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"
