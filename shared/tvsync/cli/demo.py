"""``tvsync demo``: the whole pipeline, a small cast, Okta's deliveries — and a verdict.

The cast is the demo's own fictional people, so the final table shows their emails in full:
how an address differs between Okta and TeamViewer (letter case, a change) is the point.

The stack pushes one Okta group with a role (``demo_cast.ENGINEERING``), so the story also
shows group sync: the first event about the group links it and converges its members, later
membership events change one member each. The group is printed as ``tvsync status --group``
prints it — read the same way, from the running stack — with its members' emails.
"""

from __future__ import annotations

import argparse
import secrets
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from tvsync.cli.context import StackContext
from tvsync.cli.group_status import GroupView, group_dict, group_table, read_group
from tvsync.cli.output import CliError, err_console, plural, print_json, print_table, stable_console
from tvsync.cli.serve import line_printer, port_number, start_problem, stop_signals
from tvsync.cli.status import group_config, group_store
from tvsync.cli.upstream import Upstream
from tvsync.core.desired_state import SyncConfig
from tvsync.core.outcome import Outcome
from tvsync.core.plan import PlanReason
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.teamviewer import TeamViewerEmulator
from tvsync.local import demo_cast
from tvsync.local.convergence import GroupComparison, UserComparison, compare, compare_groups
from tvsync.local.stack import OKTA_AUTH_MODES, LocalStack, StackObserver, StackSettings, SyncRecord
from tvsync.local.template import TEMPLATE_PATH
from tvsync.models.groups import account_number

ORDER = 5
EVENTS_DIR = TEMPLATE_PATH.parent / "events" / "okta"

HELP = """\
Start the local stack with the TeamViewer and Okta emulators, seed Okta with six people
and an Engineering group, push that group with the TeamViewer role Engineer
(PUSH_GROUP_IDS, GROUP_ROLE_MAP), then play the deliveries in events/okta/ exactly as Okta
would send them (verification first, then each POST with the auth header), wait for the
worker, and print what happened: each person, and the pushed group as
`tvsync status --group` shows it, with its members.

Exit code 0 only if TeamViewer matches Okta for every user that can be provisioned and for
the pushed group (its name, role and members).
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the pipeline end to end on a small cast and check the result",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--port", type=port_number, default=0, help="hook endpoint port (default 0: any free port)"
    )
    parser.add_argument("--quiet", action="store_true", help="print only the final table")
    parser.add_argument(
        "--okta-auth",
        choices=OKTA_AUTH_MODES,
        default="oauth",
        help="how the functions read Okta: as an API service app (oauth, the default) or with an "
        "API token (ssws)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the result as JSON instead of the table (progress lines go to stderr)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with stop_signals():  # a second Ctrl-C must not leave the stack's processes unreaped
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    # With --json, stdout carries the JSON document alone; what happens on the way is stderr's.
    console: Console = err_console if args.json else stable_console()
    started = time.monotonic()
    secret = secrets.token_urlsafe(24)
    observer = StackObserver(print_line=None if args.quiet else line_printer(console))
    # The stack's own emulators, made and seeded here: the role's id is one of its settings.
    okta, teamviewer = OktaEmulator(), TeamViewerEmulator()
    demo_cast.seed(okta, teamviewer)
    push_group_ids, group_role_map = demo_cast.group_settings(teamviewer)
    settings = StackSettings(
        okta_hook_secret=secret,
        okta_app_id=demo_cast.TEAMVIEWER_APP_ID,
        push_group_ids=push_group_ids,
        group_role_map=group_role_map,
        port=args.port,
    )
    stack = LocalStack(
        settings, observer=observer, okta=okta, teamviewer=teamviewer, okta_auth=args.okta_auth
    )
    try:
        stack.start()
    except OSError as exc:
        raise CliError(start_problem(exc, args.port)) from None
    try:
        assert stack.okta is not None and stack.teamviewer is not None
        if not args.quiet:
            console.print(f"local stack up: {stack.hook_url}", soft_wrap=True)
            reads_okta = (
                f"as service app {stack.okta_service_app} (OAuth 2.0, DPoP)"
                if stack.okta_service_app
                else "with an API token (SSWS)"
            )
            console.print(f"the functions read Okta {reads_okta}", soft_wrap=True)
        with httpx.Client(timeout=10) as client:
            _verify(client, stack.hook_url, secret)
            if not args.quiet:
                console.print("event hook verified (one-time verification GET answered)", soft_wrap=True)
            for filename, change in demo_cast.STORY:
                change(stack.okta)
                _post(client, stack.hook_url, secret, EVENTS_DIR / filename)
                if not stack.wait_idle(timeout=30):
                    raise CliError(f"the worker did not finish {filename} within 30 s")
        dlq_visible, dlq_in_flight = stack.queue_depth(stack.dlq_url)
        sync_config = SyncConfig(app_id=demo_cast.TEAMVIEWER_APP_ID)
        comparisons = compare(stack.okta, stack.teamviewer, sync_config)
        context = _status_context(stack)
        groups = compare_groups(stack.okta, stack.teamviewer, sync_config, group_config(context))
        views = _group_views(context, stack.teamviewer, groups)
    finally:
        stack.close()
    result = _Result(comparisons, observer.syncs, dlq_visible + dlq_in_flight, time.monotonic() - started)
    result.groups = list(zip(groups, views, strict=True))
    if args.json:
        print_json(result.as_dict())
    else:
        _print_result(stable_console(), result)
    return 0 if result.ok else 1


def _status_context(stack: LocalStack) -> StackContext:
    """The running stack as ``tvsync status`` finds it (the state file ``tvsync serve`` writes)."""
    return StackContext(
        source="the demo's local stack",
        functions=stack.functions,
        aws_endpoint_url=stack.aws_endpoint_url,
        dynamodb_endpoint_url=stack.dynamodb_endpoint_url,
        region=stack.region,
        local=True,
    )


def _group_views(
    context: StackContext, teamviewer: TeamViewerEmulator, groups: list[GroupComparison]
) -> list[GroupView]:
    """Each pushed group as ``tvsync status --group`` reads it, with its members' emails."""
    store = group_store(context)
    assert store is not None  # the template has the table
    config = group_config(context)
    emails = {account_number(str(account["id"])): str(account["email"]) for account in teamviewer.users()}
    views = []
    with Upstream(context) as upstream:
        for group in groups:
            view = read_group(
                group.okta_group_id, link=store.get(group.okta_group_id), config=config, upstream=upstream
            )
            view.members = sorted((emails.get(n, str(n)) for n in group.teamviewer_members), key=str.casefold)
            views.append(view)
    return views


class _Result:
    """What the demo found: each person in Okta and TeamViewer, what the pipeline did, the verdict."""

    def __init__(
        self, comparisons: list[UserComparison], syncs: list[SyncRecord], dead_letters: int, elapsed: float
    ) -> None:
        self.comparisons = sorted(comparisons, key=lambda c: c.email)
        self.syncs = syncs
        self.dead_letters = dead_letters
        self.elapsed = elapsed
        #: Users whose email is owned outside the company: reported, not a failure of the pipeline.
        self.conflicts = {s.okta_user_id for s in syncs if s.outcome == "conflict"}
        self.failures = [
            c for c in self.comparisons if not c.converged and c.okta_user_id not in self.conflicts
        ]
        #: Each pushed group: how it compares with Okta, and how ``tvsync status --group`` shows it.
        self.groups: list[tuple[GroupComparison, GroupView]] = []

    @property
    def group_failures(self) -> list[GroupComparison]:
        return [group for group, _ in self.groups if not group.converged]

    @property
    def ok(self) -> bool:
        return not self.dead_letters and not self.failures and not self.group_failures

    def done(self) -> dict[str, list[str]]:
        """Per Okta user, what the pipeline did, in order and without repeats."""
        done: dict[str, list[str]] = defaultdict(list)
        for sync in self.syncs:
            if sync.outcome == "conflict":
                done[sync.okta_user_id].append(f"conflict: {sync.reason}, not retried")
            if sync.outcome == Outcome.ADOPTED or sync.reason == PlanReason.ADOPTED:
                # Found in TeamViewer (there before the product, or in other letter case): taken over.
                done[sync.okta_user_id].append("adopted")
            done[sync.okta_user_id].extend(_DONE[operation] for operation in sync.operations)
        return {user: list(dict.fromkeys(actions)) for user, actions in done.items()}

    def in_step(self, comparison: UserComparison) -> str:
        if comparison.converged:
            return "yes"
        return "conflict" if comparison.okta_user_id in self.conflicts else "no"

    def as_dict(self) -> dict[str, Any]:
        done = self.done()
        return {
            "ok": self.ok,
            "elapsed_seconds": round(self.elapsed, 3),
            "dead_letters": self.dead_letters,
            "conflicts": len(self.conflicts),
            "not_in_step": [c.email for c in self.failures],
            "users": [
                {
                    "okta_user_id": c.okta_user_id,
                    "email": c.email,
                    "okta_status": c.okta_status,
                    "assigned": c.assigned,
                    "teamviewer": None
                    if c.teamviewer is None
                    else {
                        "id": c.teamviewer.id,
                        "name": c.teamviewer.name,
                        "email": c.teamviewer.email,
                        "active": c.teamviewer.active,
                    },
                    "pipeline_did": done.get(c.okta_user_id, []),
                    "in_step": self.in_step(c),
                }
                for c in self.comparisons
            ],
            "groups": [{**group_dict(view), "in_step": group.converged} for group, view in self.groups],
        }


def _print_result(console: Console, result: _Result) -> None:
    print_table(console, _table(result))
    for group, view in result.groups:
        print_table(console, group_table(view, title=f"Pushed group {group.name} ({group.okta_group_id})"))
    if result.dead_letters:
        console.print(f"[red]✗ {plural(result.dead_letters, 'event')} in the dead-letter queue[/red]")
    elif result.failures or result.group_failures:
        names = ", ".join(
            [c.email for c in result.failures] + [f"group {g.name}" for g in result.group_failures]
        )
        elapsed = f"{result.elapsed:.1f} s"
        console.print(f"[red]✗ TeamViewer does not match Okta for: {names}[/red] ({elapsed})", soft_wrap=True)
    else:
        groups = ", ".join(group.name for group, _ in result.groups)
        pushed = f" and the pushed group {groups} (name, role, members)" if groups else ""
        console.print(
            f"[green]✓ TeamViewer matches Okta for every user that can be provisioned{pushed}[/green] "
            f"({plural(len(result.conflicts), 'recorded conflict')}; {result.elapsed:.1f} s)",
            soft_wrap=True,
        )


def _verify(client: httpx.Client, url: str, secret: str) -> None:
    challenge = secrets.token_urlsafe(16)
    response = client.get(url, headers={"Authorization": secret, "X-Okta-Verification-Challenge": challenge})
    if response.status_code != 200 or response.json() != {"verification": challenge}:
        raise CliError(f"verification handshake failed: HTTP {response.status_code}")


def _post(client: httpx.Client, url: str, secret: str, path: Path) -> None:
    response = client.post(
        url,
        content=path.read_bytes(),
        headers={
            "Authorization": secret,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "Okta Hook Service v1.0.0 - tvsync-demo",
        },
    )
    if response.status_code not in {200, 204}:
        raise CliError(f"{path.name}: the hook answered HTTP {response.status_code}: {response.text[:200]}")


def _table(result: _Result) -> Table:
    done = result.done()
    table = Table(title="Okta → TeamViewer")
    table.add_column("user", no_wrap=True, overflow="ignore")  # an email: never split
    for column in ("Okta", "TeamViewer", "pipeline did"):
        table.add_column(column, overflow="fold")
    table.add_column("in step", no_wrap=True)
    for c in result.comparisons:
        account = c.teamviewer
        tv_state = "—" if account is None else f"{account.name} <{account.email}> {_ACTIVITY[account.active]}"
        okta_state = f"{c.okta_status}{'' if c.assigned else ', not assigned'}"
        actions = ", ".join(done.get(c.okta_user_id, [])) or "nothing to do"
        table.add_row(c.email, okta_state, tv_state, actions, _IN_STEP[result.in_step(c)])
    return table


#: What the pipeline did, as the table says it.
_DONE = {
    "create": "created",
    "activate": "activated",
    "deactivate": "deactivated",
    "rename": "renamed",
    "change_email": "email changed",
}
_IN_STEP = {"yes": "✓", "no": "✗", "conflict": "conflict"}


#: A SCIM user may leave ``active`` out: shown as such, never guessed.
_ACTIVITY = {True: "active", False: "inactive", None: "active state unknown"}
