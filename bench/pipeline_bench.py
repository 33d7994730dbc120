"""The full-pipeline burst (`tvsync bench`) as a `make bench` section.

Same code path as the command: ``tvsync.local.burst.run_burst`` through the local stack,
rendered by ``tvsync.cli.bench.section``. Lost events or dead letters fail the run.
"""

from __future__ import annotations

import argparse

from bench.common import BenchmarkFailure
from tvsync.cli.bench import section
from tvsync.local.burst import BurstConfig, run_burst


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pipeline-users", type=int, default=1000, help="users in the burst (default 1000)")
    parser.add_argument(
        "--pipeline-rate", type=float, default=20.0, help="TeamViewer requests/s (default 20)"
    )


def run(args: argparse.Namespace) -> str:
    users = getattr(args, "pipeline_users", 1000)
    rate = getattr(args, "pipeline_rate", 20.0)
    report = run_burst(BurstConfig(users=users, rate_limit=rate))
    if report.events_lost or report.dlq:
        raise BenchmarkFailure(f"pipeline burst lost {report.events_lost} event(s), {report.dlq} in the DLQ")
    return section(
        report, command=f"python -m bench --only pipeline --pipeline-users {users} --pipeline-rate {rate:g}"
    )
