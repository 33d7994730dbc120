"""The full-pipeline burst (`tvsync bench`) as a `make bench` section.

Same code path as the command: ``tvsync.local.burst.run_burst`` through the local stack,
rendered by ``tvsync.cli.bench.section``, with the emulators answering at a realistic API
latency (Okta 80 ms, TeamViewer 120 ms per request) unless told otherwise. Lost events or
dead letters fail the run.
"""

from __future__ import annotations

import argparse

from bench.common import BenchmarkFailure
from bench.worker_bench import OKTA_LATENCY, TEAMVIEWER_LATENCY
from tvsync.cli.bench import section
from tvsync.local.burst import BurstConfig, run_burst


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pipeline-users", type=int, default=1000, help="users in the burst (default 1000)")
    parser.add_argument(
        "--pipeline-rate", type=float, default=20.0, help="TeamViewer requests/s (default 20)"
    )
    parser.add_argument(
        "--pipeline-okta-latency",
        type=float,
        default=OKTA_LATENCY,
        metavar="SECONDS",
        help=f"seconds the Okta emulator takes per request (default {OKTA_LATENCY:g})",
    )
    parser.add_argument(
        "--pipeline-teamviewer-latency",
        type=float,
        default=TEAMVIEWER_LATENCY,
        metavar="SECONDS",
        help=f"seconds the TeamViewer emulator takes per request (default {TEAMVIEWER_LATENCY:g})",
    )


def run(args: argparse.Namespace) -> str:
    users = getattr(args, "pipeline_users", 1000)
    rate = getattr(args, "pipeline_rate", 20.0)
    okta_latency = getattr(args, "pipeline_okta_latency", OKTA_LATENCY)
    tv_latency = getattr(args, "pipeline_teamviewer_latency", TEAMVIEWER_LATENCY)
    config = BurstConfig(
        users=users, rate_limit=rate, okta_latency=okta_latency, teamviewer_latency=tv_latency
    )
    report = run_burst(config)
    if report.events_lost or report.dlq:
        raise BenchmarkFailure(f"pipeline burst lost {report.events_lost} event(s), {report.dlq} in the DLQ")
    command = (
        f"python -m bench --only pipeline --pipeline-users {users} --pipeline-rate {rate:g} "
        f"--pipeline-okta-latency {okta_latency:g} --pipeline-teamviewer-latency {tv_latency:g}"
    )
    return section(report, command=command)
