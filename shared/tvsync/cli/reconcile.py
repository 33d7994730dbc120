"""``tvsync reconcile``: compare Okta with TeamViewer now, and queue a sync for whatever drifted.

The same run as the scheduled ``ReconcileFunction`` (``tvsync.services.reconcile``), from
a workstation: against a running ``tvsync serve``, a deployed stack (``--stack``) or the
environment. Fixes go to the event queue and the worker applies them, exactly as for an
Okta event; ``--dry-run`` only reports.

The Lambda is patient with Okta and TeamViewer (minutes of retries, for rate limits and
blips); an admin at a terminal is better served by an immediate "cannot reach Okta" when
nothing answers at all, so the command first makes sure both services accept a connection.
A run that stops early is reported as incomplete — its counts are partial, not a result.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from typing import Any

import httpx
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from tvsync.cli.context import add_stack_arguments, resolve
from tvsync.cli.output import CliError, console, err_console, plural, print_json, print_table
from tvsync.core.drift import DriftCategory, DriftItem, DriftReason
from tvsync.core.group_drift import GroupDriftReason
from tvsync.observability import mask_email, mask_value
from tvsync.services.reconcile_report import Phase, ReconcileReport
from tvsync.settings import ConfigurationError, ReconcileSettings, function_variable
from tvsync.wiring.reconcile import build_reconciler

ORDER = 50
#: Enough for any service that is up; far less than the Lambda's retries would wait.
PREFLIGHT_TIMEOUT_SECONDS = 5.0

DESCRIPTION = """\
Compare every Okta user in scope with every TeamViewer company user, using the worker's
own rules, and queue a sync request for each user that drifted. The worker then fixes
them, exactly as it does for Okta events. The scheduled ReconcileFunction runs the same
comparison (every 6 hours by default).

  tvsync reconcile --dry-run            what differs, without queuing anything
  tvsync reconcile                      queue the fixes
  tvsync reconcile --deactivate-orphans also deactivate accounts no Okta user has

Categories (as TeamViewer's AD connector counts them):
  in sync        nothing to do
  to create      entitled in Okta, no TeamViewer account
  to update      account inactive, renamed or with another email
  to deactivate  revoked in Okta (suspended, deactivated, unassigned, deleted), account active
  orphans        active account that no Okta user has; reported, deactivated only with
                 --deactivate-orphans (never the token owner, at most 50 per run)
  protected      the token owner's account, when no Okta user has it: never deactivated
  conflicts      known and not fixed automatically: email owned outside the company,
                 two Okta users with one email, the token owner revoked in Okta
  ignored        Okta users the product does not manage (STAGED)
"""

MEANING = {
    DriftCategory.IN_SYNC: "nothing to do",
    DriftCategory.TO_CREATE: "entitled in Okta, no TeamViewer account",
    DriftCategory.TO_UPDATE: "account inactive, renamed, or with another email",
    DriftCategory.TO_DEACTIVATE: "revoked in Okta, account still active",
    DriftCategory.ORPHAN: "active account no Okta user has",
    DriftCategory.PROTECTED: "the token owner's account: never deactivated",
    DriftCategory.CONFLICT: "known, not fixed automatically",
    DriftCategory.IGNORED: "not managed (STAGED in Okta)",
}

LABEL = {
    DriftCategory.IN_SYNC: "in sync",
    DriftCategory.TO_CREATE: "to create",
    DriftCategory.TO_UPDATE: "to update",
    DriftCategory.TO_DEACTIVATE: "to deactivate",
    DriftCategory.ORPHAN: "orphans",
    DriftCategory.PROTECTED: "protected",
    DriftCategory.CONFLICT: "conflicts",
    DriftCategory.IGNORED: "ignored",
}


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "reconcile",
        help="find users whose TeamViewer account drifted from Okta, and queue their sync",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dry-run", action="store_true", help="report only; queue nothing")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the full report, every difference included, as JSON (emails masked, as in the table)",
    )
    parser.add_argument(
        "--deactivate-orphans",
        action="store_true",
        help="also queue the deactivation of active accounts no Okta user has (never the token owner)",
    )
    parser.add_argument(
        "--max-orphan-deactivations",
        type=int,
        metavar="N",
        help="refuse to deactivate orphans when there are more than N (default: the stack's, 50)",
    )
    parser.add_argument(
        "--show", type=int, default=50, metavar="N", help="differences to list in the table (default 50)"
    )
    add_stack_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    context = resolve(args)
    environ = dict(context.env("ReconcileFunction") or context.env("WorkerFunction"))
    if args.max_orphan_deactivations is not None:
        if args.max_orphan_deactivations < 0:
            raise CliError("--max-orphan-deactivations must be 0 or more")
        environ[function_variable("MAX_ORPHAN_DEACTIVATIONS")] = str(args.max_orphan_deactivations)
    try:
        settings = ReconcileSettings.from_env(environ)
        reconciler = build_reconciler(
            logger=_quiet_logger(),
            metrics=None,
            environ=environ,
            session=context.session(),
            endpoint_url=context.aws_endpoint_url,
            dynamodb_endpoint_url=context.dynamodb_endpoint_url,
        )
    except ConfigurationError as exc:
        raise CliError(f"{exc} ({context.source}; see --stack / --local-state)") from None
    _preflight({"Okta": settings.OKTA_ORG_URL, "TeamViewer": settings.TEAMVIEWER_API_URL})
    with _ProgressBars(enabled=not args.json) as bars:
        report = reconciler.run(
            dry_run=args.dry_run, deactivate_orphans=args.deactivate_orphans, progress=bars.update
        )
    if args.json:
        print_json(report_json(report))
    elif report.complete:
        _print_report(report, show=max(0, args.show))
    else:
        _print_incomplete(report)
    # Plain prints: one line however narrow the terminal, as every tvsync error.
    if not report.complete:
        print(f"tvsync: error: reconcile did not finish: {report.error}", file=sys.stderr)
        return 1
    if report.enqueue_failed:
        failed = plural(report.enqueue_failed, "sync request")
        print(f"tvsync: error: {failed} could not be queued", file=sys.stderr)
        return 1
    return 0


def report_json(report: ReconcileReport) -> dict[str, Any]:
    """The whole report, emails masked as the table masks them.

    A report lists everyone who drifted and ends up in tickets and chat like the table does;
    the Okta and TeamViewer ids in each item say who it is. Addresses inside free text (an
    error from a service) are masked too.
    """
    payload = report.as_dict()
    for item in payload["items"]:
        item["email"] = mask_email(item["email"])
    masked: dict[str, Any] = mask_value(payload)
    return masked


def _preflight(services: Mapping[str, str]) -> None:
    """Fail at once, with the address, when a service does not even accept a connection.

    Any HTTP answer will do (authentication is the run's business): this only rules out
    the case the run's retries would spend minutes on — nothing listening there at all.
    """
    with httpx.Client(timeout=PREFLIGHT_TIMEOUT_SECONDS, follow_redirects=False) as client:
        for name, url in services.items():
            try:
                client.get(url)
            except httpx.ConnectError as exc:
                raise CliError(
                    f"cannot reach {name} at {url}: {_connect_problem(exc)}; nothing was compared"
                ) from None
            except httpx.TimeoutException:
                raise CliError(
                    f"{name} at {url} did not answer within {PREFLIGHT_TIMEOUT_SECONDS:g} s; "
                    "nothing was compared"
                ) from None
            except httpx.HTTPError:
                continue  # it answered, if strangely: the run will say more


def _connect_problem(exc: httpx.ConnectError) -> str:
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused (nothing listens there)"
    return text or type(exc).__name__


def _print_incomplete(report: ReconcileReport) -> None:
    """What an unfinished run got through: progress, not drift figures anyone should act on."""
    queued = _queued(report)
    console.print(
        f"Reconcile {report.run_id}: INCOMPLETE after {report.duration_seconds:.1f} s — read "
        f"{plural(report.okta_users, 'Okta user')} and {plural(report.teamviewer_users, 'TeamViewer user')} "
        f"before it stopped; {queued}. No drift counts: they would be partial.",
        soft_wrap=True,
    )


def _quiet_logger() -> logging.Logger:
    """The service's log lines are for CloudWatch; here the report is the output."""
    logger = logging.getLogger("tvsync.cli.reconcile")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


class _ProgressBars:
    """One spinner line per phase, on stderr so ``--json`` output stays clean."""

    def __init__(self, *, enabled: bool) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("[bold]{task.completed:,.0f}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=not enabled,
        )
        self._tasks: dict[Phase, TaskID] = {}

    def __enter__(self) -> _ProgressBars:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, phase: Phase, done: int) -> None:
        task = self._tasks.get(phase)
        if task is None:
            task = self._tasks[phase] = self._progress.add_task(phase.value, total=None)
        self._progress.update(task, completed=done)


def _print_report(report: ReconcileReport, *, show: int) -> None:
    mode = _queued(report)
    title = (
        f"Reconcile {report.run_id}: {plural(report.okta_users, 'Okta user')}, "
        f"{plural(report.teamviewer_users, 'TeamViewer user')}, {report.duration_seconds:.1f} s ({mode})"
    )
    # Its own line, not the table's title: a title wraps at the (narrower) table's width.
    console.print(title, soft_wrap=True)
    counts = Table()
    counts.add_column("")
    counts.add_column("users", justify="right")
    counts.add_column("meaning")
    for category in DriftCategory:
        label = LABEL[category]
        meaning = MEANING[category]
        if category is DriftCategory.ORPHAN:
            meaning += f" ({orphan_fate(report)})"
        counts.add_row(label, f"{report.counts[category]:,}", meaning)
    print_table(console, counts)
    if report.items and show:
        title = "Differences (dry run: nothing queued)" if report.dry_run else "Differences"
        details = Table(title=title, title_justify="left")
        details.add_column("", no_wrap=True)
        # Ids and emails are copied and searched for: never split; only the reason wraps.
        for column in ("Okta user", "TeamViewer", "email"):
            details.add_column(column, no_wrap=True, overflow="ignore")
        details.add_column("change / reason", overflow="fold")
        for item in report.items[:show]:
            details.add_row(
                LABEL[item.category],
                item.okta_user_id or "-",
                item.teamviewer_id or "-",
                # Masked like every list of people the CLI prints; the ids say who it is.
                mask_email(item.email) or "-",
                _change(item),
            )
        print_table(console, details)
        hidden = len(report.items) - show + report.items_omitted
        if hidden > 0:
            console.print(f"... and {hidden:,} more (--show N, or --json for all)")
    _print_groups(report, show=show)
    if report.dry_run and (report.drifted or report.groups_drifted):
        console.print("Run without --dry-run to queue the fixes.")


#: What each kind of group drift means (``tvsync.core.group_drift.GroupDriftReason``).
GROUP_MEANING = {
    GroupDriftReason.NOT_LINKED: "pushed, without a TeamViewer group: the sync creates or adopts one",
    GroupDriftReason.NAME: "TeamViewer's name differs from Okta's: the sync renames it",
    GroupDriftReason.ROLE: "the role is not the mapped one: the sync assigns (or unassigns) it",
    GroupDriftReason.MEMBERS_MISSING: "members who belong are missing: the sync adds them",
    GroupDriftReason.MEMBERS_EXTRA: "members who do not belong: the sync removes them",
    GroupDriftReason.NOT_RELEASED: "no longer pushed (or deleted in Okta), not emptied yet",
    GroupDriftReason.STALE_LINK: "its TeamViewer group is gone: the link is forgotten",
}


def _print_groups(report: ReconcileReport, *, show: int) -> None:
    """Group drift beside the users': one line when every group is in step, else a table."""
    if not report.groups_checked:
        return
    if not report.groups_drifted:
        console.print(f"Groups: {plural(report.groups_checked, 'pushed or linked group')}, all in step")
        return
    title = (
        f"Groups: {report.groups_drifted:,} of {plural(report.groups_checked, 'pushed or linked group')} "
        f"drifted ({_queued(report)})"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("Okta group", no_wrap=True, overflow="ignore")
    table.add_column("TeamViewer group", no_wrap=True, overflow="ignore")
    table.add_column("name", overflow="fold")
    table.add_column("drift", overflow="fold")
    for drift in report.group_items[:show]:
        reasons = []
        for reason in drift.reasons:
            count = {
                GroupDriftReason.MEMBERS_MISSING: drift.members_missing,
                GroupDriftReason.MEMBERS_EXTRA: drift.members_extra,
            }.get(reason)
            reasons.append(f"{reason.value} ({count:,})" if count else reason.value)
        table.add_row(
            drift.okta_group_id,
            str(drift.teamviewer_group_id) if drift.teamviewer_group_id is not None else "-",
            drift.name or "-",
            ", ".join(reasons),
        )
    table.caption = "; ".join(
        f"{reason.value}: {GROUP_MEANING[reason]}" for reason, count in report.group_counts.items() if count
    )
    table.caption_justify = "left"
    print_table(console, table)
    hidden = report.groups_drifted - min(show, len(report.group_items))
    if hidden > 0:
        console.print(f"... and {hidden:,} more groups (--show N, or --json for all)")


def _queued(report: ReconcileReport) -> str:
    if report.dry_run:
        return "dry run: nothing queued"
    return f"{plural(report.enqueued, 'sync request')} queued"


def orphan_fate(report: ReconcileReport) -> str:
    """What this run does about the orphans it found — in a dry run, what it would do."""
    orphans = [item for item in report.items if item.category is DriftCategory.ORPHAN]
    if not report.deactivate_orphans:
        return "reported only"
    if any(item.reason == DriftReason.ORPHAN_LIMIT for item in orphans):
        return "more than --max-orphan-deactivations: none deactivated"
    chosen = sum(1 for item in orphans if item.enqueue)
    if report.dry_run:
        return f"{chosen:,} would be deactivated; dry run: nothing queued"
    return f"{plural(chosen, 'deactivation')} queued"


def _change(item: DriftItem) -> str:
    operations = ", ".join(op.value for op in item.operations)
    return f"{operations} ({item.reason})" if operations else str(item.reason)
