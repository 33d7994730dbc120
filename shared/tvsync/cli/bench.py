"""``tvsync bench``: a burst of users through the full local pipeline under a TeamViewer rate limit.

Results are appended to ``.tvsync/benchmarks.md`` in the current directory: an admin's run
on their own machine is theirs, and must not edit the project's tracked
``docs/benchmarks.md`` wherever tvsync happens to be installed. ``make bench`` (``python -m
bench``) records the project's figures there; ``--results`` writes anywhere else.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tvsync.cli.output import err_console, plural, print_json, print_table, stable_console
from tvsync.local.burst import BurstConfig, BurstReport, run_burst

ORDER = 40
#: Relative to the working directory, beside the local stack's other files.
DEFAULT_RESULTS = Path(".tvsync/benchmarks.md")

HELP = """\
Create N users (default 1000), then rename half and deactivate the other half, through the
full local pipeline (API Gateway emulation, ingest, SQS FIFO, worker instances) against the
TeamViewer emulator rate-limited to --rate requests/s. Reports events/s, TeamViewer writes/s
against the rate limit, event->applied latency, calls per event, lost events, DLQ count and
throttles; appends the results, with the exact command, to .tvsync/benchmarks.md (or the
file named by --results; `make bench` records the project's figures in docs/benchmarks.md).
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmark the full local pipeline under a TeamViewer rate limit",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--users", type=_positive_int, default=1000, help="users in the burst (default 1000)")
    parser.add_argument(
        "--rate",
        type=_positive_float,
        default=20.0,
        help="TeamViewer requests per second allowed (default 20)",
    )
    parser.add_argument(
        "--throttle",
        choices=("429", "403"),
        default="429",
        help="how TeamViewer answers over the limit (default 429)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        help="worker instances (default: the template's MaximumConcurrency)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=DEFAULT_RESULTS,
        metavar="FILE",
        help=f"markdown file to append results to (default: {DEFAULT_RESULTS})",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print only; do not append to the results file"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the figures as JSON instead of a table (the progress bar goes to stderr)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # With --json, stdout carries the JSON document alone; the progress bar is stderr's.
    console = err_console if args.json else stable_console()
    config = BurstConfig(
        users=args.users,
        rate_limit=args.rate,
        throttle_style=args.throttle,
        worker_concurrency=args.concurrency,
    )
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("events applied", total=2 * args.users)
        report = run_burst(
            config, on_progress=lambda done, total: progress.update(task, completed=done, total=total)
        )
    results = None if args.no_write else args.results
    if results is not None:
        append_results(results, section(report, command=_command_line()))
    if args.json:
        print_json(report_json(report, results=results))
    else:
        title = f"tvsync bench: {plural(args.users, 'user')}, TeamViewer limited to {args.rate:g} req/s"
        table = Table(title=title)
        table.add_column("measure", no_wrap=True)
        table.add_column("value")
        for name, value in report.rows():
            table.add_row(name, value)
        print_table(console, table)
        if results is not None:
            console.print(f"results appended to {results}", soft_wrap=True)
    healthy = report.events_lost == 0 and report.dlq == 0
    return 0 if healthy else 1


def report_json(report: BurstReport, *, results: Path | None) -> dict[str, Any]:
    """The table's figures as numbers (seconds, milliseconds, per-second rates), for scripts."""
    seconds = report.seconds
    return {
        "users": report.config.users,
        "rate_limit": report.config.rate_limit,
        "throttle_style": report.config.throttle_style,
        "worker_concurrency": report.worker_concurrency,
        "events_posted": report.events_posted,
        "events_applied": report.events_applied,
        "events_lost": report.events_lost,
        "dlq_messages": report.dlq,
        "phases": [
            {
                "name": phase.name,
                "events": phase.events,
                "seconds": round(phase.seconds, 3),
                "events_per_second": round(phase.events_per_second, 2),
                "teamviewer_writes": phase.writes,
            }
            for phase in report.phases
        ],
        "seconds": round(seconds, 3),
        "events_per_second": round(report.events_applied / seconds, 2) if seconds else 0.0,
        "teamviewer_writes_per_second": round(report.writes / seconds, 2) if seconds else 0.0,
        "writes_per_rate_limit": round(report.write_ratio, 3),
        "latency_p50_ms": round(report.percentile(0.5), 1),
        "latency_p95_ms": round(report.percentile(0.95), 1),
        "teamviewer_calls_per_event": round(report.tv_calls / max(1, report.events_applied), 3),
        "okta_calls_per_event": round(report.okta_calls / max(1, report.events_applied), 3),
        "throttles": report.throttles,
        "results_file": None if results is None else str(results),
    }


def section(report: BurstReport, *, command: str | None) -> str:
    """The markdown section for docs/benchmarks.md (``command`` None: the caller's heading says it)."""
    lines = [
        f"### Pipeline burst — {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        "",
        *([f"Command: `{command}`  "] if command else []),
        f"Machine: {platform.machine()}, Python {platform.python_version()}, {platform.system()}",
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in report.rows()),
        "",
    ]
    return "\n".join(lines)


def append_results(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n" + text)


def _positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _positive_float(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not number > 0:  # also refuses nan
        raise argparse.ArgumentTypeError("must be more than 0")
    return number


def _command_line() -> str:
    return "tvsync " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "tvsync bench"
