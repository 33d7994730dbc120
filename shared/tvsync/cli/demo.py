"""``tvsync demo``: the whole pipeline, a small cast, Okta's deliveries — and a verdict."""

from __future__ import annotations

import argparse
import secrets
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

from tvsync.cli.output import CliError, stable_console
from tvsync.cli.serve import port_number, start_problem
from tvsync.core.desired_state import SyncConfig
from tvsync.local import demo_cast
from tvsync.local.convergence import UserComparison, compare
from tvsync.local.stack import LocalStack, StackObserver, StackSettings, SyncRecord
from tvsync.local.template import TEMPLATE_PATH

ORDER = 5
EVENTS_DIR = TEMPLATE_PATH.parent / "events" / "okta"

HELP = """\
Start the local stack with the TeamViewer and Okta emulators, seed Okta with six people,
then play the deliveries in events/okta/ exactly as Okta would send them (verification
first, then each POST with the auth header), wait for the worker, and print what happened.

Exit code 0 only if TeamViewer matches Okta for every user that can be provisioned.
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
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    console = stable_console()
    started = time.monotonic()
    secret = secrets.token_urlsafe(24)
    observer = StackObserver(print_line=None if args.quiet else console.print)
    settings = StackSettings(okta_hook_secret=secret, okta_app_id=demo_cast.TEAMVIEWER_APP_ID, port=args.port)
    stack = LocalStack(settings, observer=observer)
    try:
        stack.start()
    except OSError as exc:
        raise CliError(start_problem(exc, args.port)) from None
    try:
        assert stack.okta is not None and stack.teamviewer is not None
        demo_cast.seed(stack.okta, stack.teamviewer)
        console.print(f"local stack up: {stack.hook_url}")
        with httpx.Client(timeout=10) as client:
            _verify(client, stack.hook_url, secret)
            console.print("event hook verified (one-time verification GET answered)")
            for filename, change in demo_cast.STORY:
                change(stack.okta)
                _post(client, stack.hook_url, secret, EVENTS_DIR / filename)
                if not stack.wait_idle(timeout=30):
                    raise CliError(f"the worker did not finish {filename} within 30 s")
        dlq_visible, dlq_in_flight = stack.queue_depth(stack.dlq_url)
        comparisons = compare(stack.okta, stack.teamviewer, SyncConfig(app_id=demo_cast.TEAMVIEWER_APP_ID))
        conflicts = {s.okta_user_id for s in observer.syncs if s.outcome == "conflict"}
        console.print(_table(comparisons, observer.syncs))
    finally:
        stack.close()
    failures = [c for c in comparisons if not c.converged and c.okta_user_id not in conflicts]
    elapsed = time.monotonic() - started
    if dlq_visible + dlq_in_flight:
        console.print(f"[red]✗ {dlq_visible + dlq_in_flight} event(s) in the dead-letter queue[/red]")
        return 1
    if failures:
        names = ", ".join(c.email for c in failures)
        console.print(f"[red]✗ TeamViewer does not match Okta for: {names}[/red] ({elapsed:.1f} s)")
        return 1
    console.print(
        f"[green]✓ TeamViewer matches Okta for every user that can be provisioned[/green] "
        f"({len(conflicts)} recorded conflict(s); {elapsed:.1f} s)"
    )
    return 0


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


def _table(comparisons: list[UserComparison], syncs: list[SyncRecord]) -> Table:
    done: dict[str, list[str]] = defaultdict(list)
    conflicted = {s.okta_user_id for s in syncs if s.outcome == "conflict"}
    for sync in syncs:
        if sync.outcome == "conflict":
            done[sync.okta_user_id].append(f"conflict: {sync.reason}, not retried")
        for operation in sync.operations:
            label = {
                "create": "created",
                "activate": "activated",
                "deactivate": "deactivated",
                "rename": "renamed",
                "change_email": "email changed",
            }[operation]
            done[sync.okta_user_id].append(label)
    table = Table(title="Okta → TeamViewer")
    for column in ("user", "Okta", "TeamViewer", "pipeline did", "in step"):
        table.add_column(column, overflow="fold")
    for c in sorted(comparisons, key=lambda c: c.email):
        account = c.teamviewer
        tv_state = "—" if account is None else f"{account.name} <{account.email}> {_ACTIVITY[account.active]}"
        okta_state = f"{c.okta_status}{'' if c.assigned else ', not assigned'}"
        actions = ", ".join(dict.fromkeys(done.get(c.okta_user_id, []))) or "nothing to do"
        in_step = "✓" if c.converged else ("conflict" if c.okta_user_id in conflicted else "✗")
        table.add_row(c.email, okta_state, tv_state, actions, in_step)
    return table


#: A SCIM user may leave ``active`` out: shown as such, never guessed.
_ACTIVITY = {True: "active", False: "inactive", None: "active state unknown"}
