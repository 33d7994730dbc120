"""The group benchmarks: what pushing Okta groups costs, per event, per initial push, per reconcile.

Three measurements, each against the TeamViewer and Okta emulators over loopback HTTP and
SQS and DynamoDB in a moto server on 127.0.0.1, with the real code paths:

- **membership events** — the real ``functions/worker/app.py`` (one warm container, one
  event per invocation, so every call is attributed to its event) handles
  ``group.user_membership.add|remove`` requests for a group that is already linked: half
  the users join, half leave, then each goes back. Counted per event from the emulators'
  call logs: TeamViewer calls on groups (goal ≤ 1: one member call, or none), all
  TeamViewer calls (the user's own sync runs first, as for every event of a user) and
  Okta calls.
- **initial push** — one group request for a pushed group of N members that TeamViewer does
  not have yet: the worker creates the group, assigns its role and adds every member. The
  member calls must be exactly ⌈N/100⌉ ([PS]: 100 accounts a call); the wall time is the
  handler's, against the worker's 60 s timeout.
- **reconcile** — ``tvsync.services.reconcile`` as ReconcileFunction wires it, dry run, in a
  child process of its own (as the reconcile benchmark runs it), over G pushed and linked
  groups of M members each drawn from U users, with drift of every kind seeded into a few
  groups: wall time (the whole run, and its group part: first to last group call), calls
  by kind, and the group drift found, checked against what was seeded.

TeamViewer documents no page size for v1 lists ([SWAGGER] only names ``limit``); the
emulator's default page of 25 is there so tests meet the cursor, and would make these
figures the emulator's. The benchmarks serve ``--groups-v1-page-size`` (default 1,000)
items a page instead, an assumption stated beside the figures.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench.common import (
    DUMMY_AWS_ENV,
    BenchmarkFailure,
    embedded_aws,
    markdown_table,
    ms,
    patched_environ,
    percentile,
    quiet,
    verdict,
)
from bench.reconcile_bench import LAMBDA_LIMIT_SECONDS, _reconcile_in_child
from bench.worker_bench import (
    APP_ID,
    OKTA_TOKEN,
    TV_TOKEN,
    Invocation,
    WorkerHarness,
    is_group_call,
    running_worker,
)
from tvsync.adapters.group_state import _to_item as group_item
from tvsync.adapters.sync_state import _to_item as sync_item
from tvsync.emulators.http import serve
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.teamviewer import CallRecord, TeamViewerEmulator
from tvsync.models.groups import MAX_MEMBERS_PER_CALL, GroupLink, account_number
from tvsync.models.sync_request import SyncRequest, group_request_key
from tvsync.models.sync_state import SyncState

NAME = "groups"
DEFAULT_MEMBERSHIP_USERS = 100
DEFAULT_PUSH_MEMBERS = 10_000
DEFAULT_RECONCILE_GROUPS = 200
DEFAULT_RECONCILE_MEMBERS = 500
DEFAULT_RECONCILE_USERS = 10_000
DEFAULT_V1_PAGE_SIZE = 1_000
#: The worker's timeout in template.yaml: an initial push must fit in one invocation.
WORKER_TIMEOUT_SECONDS = 60
GROUP_ID = "00g1benchsupport0001"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
#: DynamoDB's BatchWriteItem limit.
_WRITE_BATCH = 25


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("groups benchmark")
    group.add_argument(
        "--groups-membership-users",
        type=int,
        default=DEFAULT_MEMBERSHIP_USERS,
        metavar="N",
        help=f"users whose membership changes twice: 2N events (default {DEFAULT_MEMBERSHIP_USERS})",
    )
    group.add_argument(
        "--groups-push-members",
        type=int,
        default=DEFAULT_PUSH_MEMBERS,
        metavar="N",
        help=f"members of the group pushed for the first time (default {DEFAULT_PUSH_MEMBERS:,})",
    )
    group.add_argument(
        "--groups-reconcile-groups",
        type=int,
        default=DEFAULT_RECONCILE_GROUPS,
        metavar="G",
        help=f"pushed groups the reconciler compares (default {DEFAULT_RECONCILE_GROUPS})",
    )
    group.add_argument(
        "--groups-reconcile-members",
        type=int,
        default=DEFAULT_RECONCILE_MEMBERS,
        metavar="M",
        help=f"members of each of them (default {DEFAULT_RECONCILE_MEMBERS})",
    )
    group.add_argument(
        "--groups-reconcile-users",
        type=int,
        default=DEFAULT_RECONCILE_USERS,
        metavar="U",
        help=f"users the members are drawn from (default {DEFAULT_RECONCILE_USERS:,})",
    )
    group.add_argument(
        "--groups-v1-page-size",
        type=int,
        default=DEFAULT_V1_PAGE_SIZE,
        metavar="N",
        help=f"items a TeamViewer v1 list page holds in the emulator (default {DEFAULT_V1_PAGE_SIZE:,})",
    )


def run(args: argparse.Namespace) -> str:
    page = args.groups_v1_page_size
    membership = measure_membership(users=args.groups_membership_users, v1_page_size=page)
    push = measure_push(members=args.groups_push_members, v1_page_size=page)
    reconcile = measure_reconcile(
        groups=args.groups_reconcile_groups,
        members=args.groups_reconcile_members,
        users=args.groups_reconcile_users,
        v1_page_size=page,
    )
    return render(GroupsResult(page, membership, push, reconcile))


# ---------------------------------------------------------------------- results


@dataclass(frozen=True)
class MembershipResult:
    users: int
    invocations: tuple[Invocation, ...]
    link: Invocation

    @property
    def events(self) -> int:
        return sum(i.events for i in self.invocations)

    def maximum(self, field: str) -> int:
        return max(int(getattr(i, field)) for i in self.invocations)

    def mean(self, field: str) -> float:
        return sum(int(getattr(i, field)) for i in self.invocations) / max(1, self.events)

    @property
    def meets_goal(self) -> bool:
        return self.maximum("teamviewer_group_calls") <= 1


@dataclass(frozen=True)
class PushResult:
    members: int
    invocation: Invocation
    member_calls: int
    calls: Mapping[str, int]
    okta_pages: int
    seeding_seconds: float

    @property
    def expected_member_calls(self) -> int:
        return math.ceil(self.members / MAX_MEMBERS_PER_CALL)


@dataclass(frozen=True)
class ReconcileResult:
    groups: int
    members: int
    users: int
    summary: Mapping[str, Any]
    wall: float
    cpu: float
    group_seconds: float
    peak_mb: float
    okta_calls: Mapping[str, int]
    teamviewer_calls: Mapping[str, int]
    expected: Mapping[str, int]
    seeding_seconds: float


@dataclass(frozen=True)
class GroupsResult:
    v1_page_size: int
    membership: MembershipResult
    push: PushResult
    reconcile: ReconcileResult


# ---------------------------------------------------------------------- (a) membership events


def measure_membership(*, users: int, v1_page_size: int = DEFAULT_V1_PAGE_SIZE) -> MembershipResult:
    """Twice ``users`` membership events, one per invocation, on a group linked beforehand."""
    if users < 2:
        raise ValueError("users must be at least 2")
    tv = TeamViewerEmulator(TV_TOKEN, v1_page_size=v1_page_size)
    okta = OktaEmulator(OKTA_TOKEN)
    role = tv.add_role("Supporter")
    okta.add_group("Support", group_id=GROUP_ID)
    env = {"PUSH_GROUP_IDS": GROUP_ID, "GROUP_ROLE_MAP": f"{GROUP_ID}={role}"}
    with running_worker(tv=tv, okta=okta, env=env) as harness:
        people = _assigned_people(okta, users)
        # Their accounts first, as their app assignments make them (not measured).
        harness.send(
            [
                _request(user, "application.user_membership.add", f"assign-{n}")
                for n, user in enumerate(people)
            ]
        )
        harness.drain(10)
        numbers = {user: _account(tv, n) for n, user in enumerate(people)}
        members = set(people[: users // 2])
        for user in members:
            okta.add_to_group(GROUP_ID, user)
        harness.send([_group_request(GROUP_ID, "link")])
        [link] = harness.drain(1)
        group_id = _group_id(tv, "Support")
        _expect_members(tv, group_id, {numbers[user] for user in members}, "after the link")
        invocations: list[Invocation] = []
        for round_ in range(2):
            requests = []
            for n, user in enumerate(people):
                joining = user not in members
                if joining:
                    okta.add_to_group(GROUP_ID, user)
                    members.add(user)
                else:
                    okta.remove_from_group(GROUP_ID, user)
                    members.discard(user)
                event_type = f"group.user_membership.{'add' if joining else 'remove'}"
                requests.append(_request(user, event_type, f"round{round_ + 1}-{n}", group=GROUP_ID))
            harness.send(requests)
            invocations += harness.drain(1)
            _expect_members(tv, group_id, {numbers[user] for user in members}, f"after round {round_ + 1}")
    if sum(i.events for i in invocations) != 2 * users:
        raise BenchmarkFailure("the worker did not see every membership event")
    return MembershipResult(users=users, invocations=tuple(invocations), link=link)


def _assigned_people(okta: OktaEmulator, count: int) -> list[str]:
    ids = okta.add_users(
        (f"bench.member{n:05d}@example.com", "Bench", f"Member {n:05d}") for n in range(count)
    )
    for user_id in ids:
        okta.assign(APP_ID, user_id)
    return ids


def _request(user: str, event_type: str, serial: str, *, group: str | None = None) -> SyncRequest:
    return SyncRequest(
        okta_user_id=user,
        event_uuid=f"bench-group-evt-{serial}",
        event_type=event_type,
        published=datetime.now(UTC),
        okta_group_id=group,
    )


def _group_request(okta_group_id: str, serial: str) -> SyncRequest:
    return SyncRequest(
        okta_user_id=group_request_key(okta_group_id),
        event_uuid=f"bench-group-{serial}",
        event_type="group.profile.update",
        published=datetime.now(UTC),
        okta_group_id=okta_group_id,
    )


def _account(tv: TeamViewerEmulator, n: int) -> int:
    account = tv.user_by_email(f"bench.member{n:05d}@example.com")
    if account is None:
        raise BenchmarkFailure(f"no TeamViewer account was created for member {n}")
    return account_number(str(account["id"]))


def _group_id(tv: TeamViewerEmulator, name: str) -> int:
    found = [int(g["id"]) for g in tv.groups() if g["name"] == name]
    if len(found) != 1:
        raise BenchmarkFailure(f"expected one TeamViewer group {name!r}, found {len(found)}")
    return found[0]


def _expect_members(tv: TeamViewerEmulator, group_id: int, wanted: set[int], when: str) -> None:
    have = set(tv.group_members(group_id))
    if have != wanted:
        raise BenchmarkFailure(
            f"{when}: TeamViewer group holds {len(have)} members, Okta wants {len(wanted)} "
            f"({len(wanted - have)} missing, {len(have - wanted)} extra)"
        )


# ---------------------------------------------------------------------- (b) initial push


def measure_push(*, members: int, v1_page_size: int = DEFAULT_V1_PAGE_SIZE) -> PushResult:
    """One group request for a pushed group of ``members`` that TeamViewer does not have yet."""
    if members < 1:
        raise ValueError("members must be at least 1")
    tv = TeamViewerEmulator(TV_TOKEN, v1_page_size=v1_page_size, scim_max_page_size=None)
    okta = OktaEmulator(OKTA_TOKEN)
    role = tv.add_role("Supporter")
    env = {"PUSH_GROUP_IDS": GROUP_ID, "GROUP_ROLE_MAP": f"{GROUP_ID}={role}"}
    with running_worker(tv=tv, okta=okta, env=env) as harness:
        started = time.perf_counter()
        okta.add_group("Support", group_id=GROUP_ID)
        numbers = _seed_members(harness, range(members))
        for user_id in numbers:
            okta.add_to_group(GROUP_ID, user_id)
        seeding = time.perf_counter() - started
        tv.reset_calls()
        okta.reset_calls()
        harness.send([_group_request(GROUP_ID, "push")])
        [invocation] = harness.drain(1)
        group_id = _group_id(tv, "Support")
        _expect_members(tv, group_id, set(numbers.values()), "after the push")
        if tv.group_role(group_id) != role:
            raise BenchmarkFailure("the pushed group does not have its mapped role")
        calls = _kinds(tv.calls, _teamviewer_kind)
        member_calls = calls.get("add members (POST …/members)", 0)
        okta_pages = sum(1 for c in okta.calls if c.path == f"/api/v1/groups/{GROUP_ID}/users")
    result = PushResult(
        members=members,
        invocation=invocation,
        member_calls=member_calls,
        calls=calls,
        okta_pages=okta_pages,
        seeding_seconds=seeding,
    )
    if result.member_calls != result.expected_member_calls:
        raise BenchmarkFailure(f"{result.member_calls} member calls, expected {result.expected_member_calls}")
    return result


def _in_step(okta_ids: list[str], emails: list[str], accounts: list[str]) -> list[SyncState]:
    """The SyncStateTable records a user's own sync leaves: applied, mapped, active."""
    return [
        SyncState(
            okta_user_id=okta_id,
            email=email,
            last_outcome="applied",
            updated_at=T0,
            teamviewer_id=account,
            teamviewer_active=True,
        )
        for okta_id, email, account in zip(okta_ids, emails, accounts, strict=True)
    ]


def _seed_members(harness: WorkerHarness, indexes: range) -> dict[str, int]:
    """Okta users, their TeamViewer accounts, and the SyncStateTable records mapping one to the other.

    As the worker would have left them after each user's own sync; written in bulk, since
    ten thousand user syncs would measure the user path, not the group's.
    """
    emails = [f"bench.member{n:05d}@example.com" for n in indexes]
    okta_ids = harness.okta.add_users(
        (email, "Bench", f"Member {n:05d}") for email, n in zip(emails, indexes, strict=True)
    )
    accounts = harness.tv.add_users(
        (email, f"Bench Member {n:05d}", True) for email, n in zip(emails, indexes, strict=True)
    )
    states = _in_step(okta_ids, emails, accounts)
    table = harness.aws.env("WorkerFunction")["SYNC_STATE_TABLE_NAME"]
    write_items(harness.aws.client("dynamodb"), table, [sync_item(state) for state in states])
    return {okta_id: account_number(account) for okta_id, account in zip(okta_ids, accounts, strict=True)}


def write_items(dynamodb: Any, table: str, items: Sequence[dict[str, Any]]) -> None:
    """BatchWriteItem, 25 at a time, until DynamoDB has taken every item."""
    for start in range(0, len(items), _WRITE_BATCH):
        pending: dict[str, Any] = {
            table: [{"PutRequest": {"Item": item}} for item in items[start : start + _WRITE_BATCH]]
        }
        for _ in range(10):
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break
        else:
            raise BenchmarkFailure("DynamoDB left items unwritten after 10 tries")


# ---------------------------------------------------------------------- (c) reconcile


#: Seeded drift, one kind per group index modulo DRIFT_EVERY (the rest are in step).
DRIFT_EVERY = 20
MISSING, EXTRA, ROLE, RENAMED, UNLINKED = 1, 2, 3, 4, 5
#: Groups with these indexes modulo DRIFT_EVERY are mapped to a role; the rest are pushed only.
MAPPED = {0, ROLE}
MISSING_MEMBERS, EXTRA_MEMBERS = 5, 3


@dataclass
class _ReconcileWorld:
    """What the reconcile benchmark seeds: both directories, the records, the drift it expects."""

    okta: OktaEmulator
    tv: TeamViewerEmulator
    states: list[SyncState]
    links: list[GroupLink]
    settings: dict[str, str]
    expected: Counter[str]


def _reconcile_world(*, groups: int, members: int, users: int, v1_page_size: int) -> _ReconcileWorld:
    """``users`` users in step, and ``groups`` pushed groups of ``members`` each, drift seeded.

    Group g holds a window of users starting at g x (users / groups), so each user is in
    about groups x members / users groups. Every group is linked except the UNLINKED kind.
    """
    okta = OktaEmulator(OKTA_TOKEN)
    tv = TeamViewerEmulator(TV_TOKEN, v1_page_size=v1_page_size, scim_max_page_size=None)
    role = tv.add_role("Supporter")
    emails = [f"user{n:06d}@bench.example.com" for n in range(users)]
    okta_ids = okta.add_users((email, "User", f"N{n:06d}") for n, email in enumerate(emails))
    for user_id in okta_ids:
        okta.assign(APP_ID, user_id)
    accounts = tv.add_users((email, f"User N{n:06d}", True) for n, email in enumerate(emails))
    numbers = [account_number(account) for account in accounts]
    states = _in_step(okta_ids, emails, accounts)
    group_ids = [f"00g1bench{g:011d}" for g in range(groups)]
    step = max(1, users // groups)
    links: list[GroupLink] = []
    expected: Counter[str] = Counter()
    for g, okta_group_id in enumerate(group_ids):
        kind = g % DRIFT_EVERY
        window = [(g * step + i) % users for i in range(members)]
        okta.add_group(f"Bench group {g:03d}", group_id=okta_group_id)
        for index in window:
            okta.add_to_group(okta_group_id, okta_ids[index])
        expected.update([_DRIFT_REASONS[kind]] if kind in _DRIFT_REASONS else [])
        if kind == UNLINKED:
            continue
        in_tv = [numbers[index] for index in window]
        if kind == MISSING:
            in_tv = in_tv[MISSING_MEMBERS:]
        elif kind == EXTRA:  # added by hand: company accounts of users outside the Okta group
            inside = set(window)
            in_tv += [numbers[n] for n in range(users) if n not in inside][:EXTRA_MEMBERS]
        mapped = kind in MAPPED
        name = f"Renamed by hand {g:03d}" if kind == RENAMED else f"Bench group {g:03d}"
        group_id = tv.add_group(name, members=in_tv, role_id=role if mapped and kind != ROLE else None)
        links.append(
            GroupLink(
                okta_group_id=okta_group_id,
                teamviewer_group_id=group_id,
                name=f"Bench group {g:03d}",
                role_id=role if mapped else None,
                last_outcome="no-change",
                updated_at=T0,
            )
        )
    settings = {
        "PUSH_GROUP_IDS": ",".join(gid for g, gid in enumerate(group_ids) if g % DRIFT_EVERY not in MAPPED),
        "GROUP_ROLE_MAP": ",".join(
            f"{gid}={role}" for g, gid in enumerate(group_ids) if g % DRIFT_EVERY in MAPPED
        ),
    }
    return _ReconcileWorld(okta, tv, states, links, settings, expected)


_DRIFT_REASONS = {
    MISSING: "members-missing",
    EXTRA: "members-extra",
    ROLE: "role-differs",
    RENAMED: "name-differs",
    UNLINKED: "not-linked",
}


def measure_reconcile(
    *, groups: int, members: int, users: int, v1_page_size: int = DEFAULT_V1_PAGE_SIZE
) -> ReconcileResult:
    """A dry-run reconcile of ``groups`` pushed groups of ``members`` each, over ``users`` users."""
    if groups < DRIFT_EVERY or members <= MISSING_MEMBERS or users < members + EXTRA_MEMBERS:
        raise ValueError(f"use at least {DRIFT_EVERY} groups, {MISSING_MEMBERS + 1} members, and more users")
    started = time.perf_counter()
    world = _reconcile_world(groups=groups, members=members, users=users, v1_page_size=v1_page_size)
    okta, tv = world.okta, world.tv
    secrets = {"TeamViewerTokenSecret": TV_TOKEN, "OktaApiTokenSecret": OKTA_TOKEN, "OktaHookSecret": "bench"}
    with (
        serve(okta) as okta_server,
        serve(tv) as tv_server,
        quiet(),
        embedded_aws(secrets, {"OktaOrgUrl": "https://bench.okta.example"}) as aws,
    ):
        env = aws.env(
            "ReconcileFunction",
            TEAMVIEWER_API_URL=tv_server.url,
            OKTA_ORG_URL=okta_server.url,
            OKTA_APP_ID=APP_ID,
            **world.settings,
        )
        dynamodb = aws.client("dynamodb")
        write_items(dynamodb, env["SYNC_STATE_TABLE_NAME"], [sync_item(s) for s in world.states])
        write_items(dynamodb, env["GROUP_STATE_TABLE_NAME"], [group_item(link) for link in world.links])
        seeding = time.perf_counter() - started
        okta.reset_calls()
        tv.reset_calls()
        outcome = _reconcile(env={**DUMMY_AWS_ENV, **env})
    summary = outcome["summary"]
    if not summary["complete"]:
        raise BenchmarkFailure(f"the reconcile did not finish: {summary['error']}")
    found = {reason: int(count) for reason, count in summary["group_drift"].items()}
    if found != dict(world.expected) or summary["groups_checked"] != groups:
        raise BenchmarkFailure(f"group drift found {found} != seeded {dict(world.expected)}")
    if summary["drifted"] != 0:
        raise BenchmarkFailure(f"the users were seeded in step, yet {summary['drifted']} drifted")
    if summary["enqueued"] != 0:
        raise BenchmarkFailure("a dry run queued requests")
    group_calls = [c.timestamp for c in tv.calls if is_group_call(c.path)]
    return ReconcileResult(
        groups=groups,
        members=members,
        users=users,
        summary=summary,
        wall=float(outcome["wall"]),
        cpu=float(outcome["cpu"]),
        group_seconds=max(group_calls) - min(group_calls) if group_calls else 0.0,
        peak_mb=outcome["rss_peak_kb"] / 1024,
        okta_calls=_kinds(okta.calls, _okta_kind),
        teamviewer_calls=_kinds(tv.calls, _teamviewer_kind),
        expected=dict(world.expected),
        seeding_seconds=seeding,
    )


def _reconcile(env: Mapping[str, str]) -> dict[str, Any]:
    """The reconcile benchmark's child process: the Lambda's reconciler, once, dry run."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_reconcile_in_child, args=(dict(env), results))
    with patched_environ({"AWS_ENDPOINT_URL": None}):
        child.start()
        outcome: dict[str, Any] = results.get(timeout=LAMBDA_LIMIT_SECONDS * 2)
        child.join(timeout=60)
    return outcome


# ---------------------------------------------------------------------- call kinds


def _kinds(calls: Sequence[Any], kind: Any) -> dict[str, int]:
    counted = Counter(kind(call) for call in calls)
    return dict(sorted(counted.items(), key=lambda item: (-item[1], item[0])))


#: TeamViewer calls by (method, path pattern), first match wins; ``{id}`` is a group id.
_TEAMVIEWER_KINDS: tuple[tuple[str, str, str], ...] = (
    ("GET", "/api/v1/usergroups", "list groups"),
    ("POST", "/api/v1/usergroups", "create group"),
    ("GET", "/api/v1/usergroups/{id}/members", "list members"),
    ("POST", "/api/v1/usergroups/{id}/members", "add members (POST …/members)"),
    ("DELETE", "/api/v1/usergroups/{id}/members", "remove members (DELETE …/members)"),
    ("GET", "/api/v1/usergroups/{id}/userroles", "group's role"),
    ("POST", "/api/v1/userroles/assign/usergroup", "assign role"),
    ("POST", "/api/v1/userroles/unassign/usergroup", "unassign role"),
    ("GET", "/api/v1/usergroups/{id}", "get group"),
    ("PUT", "/api/v1/usergroups/{id}", "rename group"),
    ("DELETE", "/api/v1/usergroups/{id}", "delete group"),
    ("GET", "/api/v1/account", "token owner"),
)


def _teamviewer_kind(call: CallRecord) -> str:
    if call.path.startswith("/scim/"):
        return "SCIM users"
    parts = call.path.split("/")
    if len(parts) > 4 and parts[3] == "usergroups":  # /api/v1/usergroups/{id}/...
        parts[4] = "{id}"
    pattern = "/".join(parts)
    for method, path, kind in _TEAMVIEWER_KINDS:
        if call.method == method and pattern == path:
            return kind
    return f"other ({call.method} {call.path})"


def _okta_kind(call: Any) -> str:
    path: str = call.path
    if path.startswith("/api/v1/apps/"):
        return "app users (pages)"
    if path.startswith("/api/v1/groups/") and path.endswith("/users"):
        return "group members (pages)"
    if path.startswith("/api/v1/groups/"):
        return "get group"
    if path.startswith("/api/v1/users"):
        return "single users"
    return f"other ({path})"


# ---------------------------------------------------------------------- report


def _calls(kinds: Mapping[str, int]) -> str:
    return ", ".join(f"{kind} {count:,}" for kind, count in kinds.items()) or "none"


def render(result: GroupsResult) -> str:
    m, p, r = result.membership, result.push, result.reconcile
    membership_rows = [
        (
            "TeamViewer calls on groups / event",
            f"{m.maximum('teamviewer_group_calls')} ({m.mean('teamviewer_group_calls'):.2f})",
            f"≤ 1 {verdict(m.meets_goal)}",
        ),
        (
            "TeamViewer calls / event, all",
            f"{m.maximum('teamviewer_calls')} ({m.mean('teamviewer_calls'):.2f})",
            "",
        ),
        ("Okta calls / event", f"{m.maximum('okta_calls')} ({m.mean('okta_calls'):.2f})", ""),
        ("wall ms / event (p50)", ms(percentile([i.wall_seconds for i in m.invocations], 50)), ""),
        ("CPU ms / event (p50)", ms(percentile([i.cpu_seconds for i in m.invocations], 50)), ""),
    ]
    push_wall = p.invocation.wall_seconds
    push_rows = [
        ("members", f"{p.members:,}"),
        (
            "member calls (POST …/members)",
            f"{p.member_calls:,} = ⌈{p.members:,}/100⌉ {verdict(p.member_calls == p.expected_member_calls)}",
        ),
        (
            "wall time of the invocation",
            f"{push_wall:.1f} s ({verdict(push_wall < WORKER_TIMEOUT_SECONDS)} the worker's "
            f"{WORKER_TIMEOUT_SECONDS} s timeout, {WORKER_TIMEOUT_SECONDS / push_wall:.0f}x headroom)",
        ),
        ("CPU time of the handler", f"{p.invocation.cpu_seconds:.1f} s"),
        ("TeamViewer calls", f"{p.invocation.teamviewer_calls:,}: {_calls(p.calls)}"),
        ("Okta calls", f"{p.invocation.okta_calls:,} ({p.okta_pages} pages of group members, 200 a page)"),
    ]
    summary = r.summary
    reconcile_rows = [
        (
            "groups x members (users)",
            f"{r.groups:,} x {r.members:,} ({r.users:,} users, each in "
            f"{r.groups * r.members // r.users} groups)",
        ),
        (
            "wall time (dry run, users and groups)",
            f"{r.wall:.1f} s ({LAMBDA_LIMIT_SECONDS / r.wall:.0f}x headroom)",
        ),
        ("of which groups (first to last group call)", f"{r.group_seconds:.1f} s"),
        ("CPU time of the reconciler", f"{r.cpu:.1f} s"),
        ("peak RSS of the reconciling process", f"{r.peak_mb:.0f} MB"),
        ("Okta calls", _calls(r.okta_calls)),
        ("TeamViewer calls", _calls(r.teamviewer_calls)),
        ("groups checked / drifted", f"{summary['groups_checked']:,} / {summary['groups_drifted']:,}"),
        (
            "group drift found (= seeded ✅)",
            ", ".join(f"{reason} {count}" for reason, count in sorted(summary["group_drift"].items())),
        ),
        ("users drifted", f"{summary['drifted']:,} (seeded in step)"),
    ]
    return "\n".join(
        [
            "### Groups",
            "",
            f"TeamViewer and Okta emulators over loopback HTTP, SQS and DynamoDB in a moto server on "
            f"loopback; TeamViewer's v1 lists (groups, members) served {result.v1_page_size:,} items a "
            "page (TeamViewer documents no page size; the emulator's default of 25 exists for tests).",
            "",
            f"**Membership events** on a linked group: `functions/worker/app.py` warm, one event per "
            f"invocation; {m.users} users each leave or join and then go back ({m.events} "
            "`group.user_membership.add|remove` requests). Max per event (mean). The user's own sync "
            'runs first, as for every event of a user; its TeamViewer calls are in "all".',
            "",
            markdown_table(("", "max (mean)", "goal"), membership_rows),
            "",
            f"Linking the group beforehand (one group request, {m.users // 2} members, not in the "
            f"figures above): {m.link.teamviewer_calls} TeamViewer calls, {ms(m.link.wall_seconds, 0)} ms.",
            "",
            "**Initial push**: one group request for a pushed group TeamViewer does not have yet — "
            "create, assign the role, add every member whose account the worker keeps active "
            f"(SyncStateTable seeded; seeding took {p.seeding_seconds:.1f} s, not counted).",
            "",
            markdown_table(("", ""), push_rows),
            "",
            "**Reconcile**: ReconcileFunction's reconciler, dry run, in a child process; every group "
            f"pushed and linked; one group in {DRIFT_EVERY} of each drifted kind (members missing, "
            "members extra, role unassigned, renamed in TeamViewer, never linked); users in step "
            f"(seeding took {r.seeding_seconds:.1f} s, not counted).",
            "",
            markdown_table(("", ""), reconcile_rows),
            "",
        ]
    )
