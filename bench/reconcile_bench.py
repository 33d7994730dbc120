"""The reconcile benchmark: a full reconcile of 50,000 Okta users against 50,000 TeamViewer users.

Both emulators hold the seeded directories and answer over loopback HTTP at their default
speed (no added latency); SyncStateTable and the queue live in a moto server on 127.0.0.1.
The run is the real ``tvsync.services.reconcile`` as ``build_reconciler`` wires it for the
Lambda, in dry-run mode, with some drift of every kind mixed in (0.5 % each: suspended in
Okta, unassigned from the app, missing in TeamViewer, renamed in TeamViewer, deactivated
in TeamViewer, and as many orphans).

The reconciler runs in a child process of its own, so its peak resident memory
(``ru_maxrss``) is the reconciler's and not the emulators' (which hold both directories
in this process): that peak is what a Lambda's memory size must cover. Pages are counted
from the emulators' call logs. The found drift is checked against what was seeded, so a
fast but wrong run fails instead of being recorded.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import resource
import sys
import time
import tracemalloc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.common import (
    DUMMY_AWS_ENV,
    BenchmarkFailure,
    embedded_aws,
    markdown_table,
    patched_environ,
    quiet,
    verdict,
)
from tvsync.core.desired_state import SyncConfig
from tvsync.core.drift import DriftDetector
from tvsync.emulators.http import serve
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.teamviewer import TeamViewerEmulator
from tvsync.models.okta import OktaProfile, OktaUser, OktaUserStatus
from tvsync.models.teamviewer import TeamViewerAccount

NAME = "reconcile"
DEFAULT_USERS = 50_000
LAMBDA_LIMIT_SECONDS = 900
TV_TOKEN = "tv-bench-token"
OKTA_TOKEN = "okta-bench-token"
APP_ID = "0oabenchtvsync000001"
#: One user in this many drifts in each way (0.5 %).
DRIFT_EVERY = 200
SUSPENDED, UNASSIGNED, MISSING, RENAMED, DEACTIVATED = 1, 2, 3, 4, 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reconcile benchmark")
    group.add_argument(
        "--reconcile-users",
        type=int,
        default=DEFAULT_USERS,
        metavar="N",
        help=f"Okta users and TeamViewer users to reconcile (default {DEFAULT_USERS:,})",
    )


@dataclass(frozen=True)
class Seeded:
    okta_users: int
    teamviewer_users: int
    expected: dict[str, int]
    #: How long seeding took (not part of the figures).
    seconds: float


def _email(n: int) -> str:
    return f"user{n:06d}@bench.example.com"


def seed(okta: OktaEmulator, tv: TeamViewerEmulator, users: int) -> Seeded:
    """``users`` Okta users (all assigned to the app) and as many company accounts, with drift."""
    started = time.perf_counter()
    kinds = [n % DRIFT_EVERY for n in range(users)]
    ids = okta.add_users((_email(n), "User", f"N{n:06d}") for n in range(users))
    for n, user_id in enumerate(ids):
        if kinds[n] == SUSPENDED:
            okta.set_status(user_id, "SUSPENDED")
        if kinds[n] != UNASSIGNED:
            okta.assign(APP_ID, user_id)
    orphans = sum(1 for kind in kinds if kind == MISSING)
    accounts = [
        (_email(n), "U. Renamed" if kind == RENAMED else f"User N{n:06d}", kind != DEACTIVATED)
        for n, kind in enumerate(kinds)
        if kind != MISSING
    ]
    accounts += [(f"orphan{n:06d}@bench.example.com", f"Orphan {n}", True) for n in range(orphans)]
    tv.add_users(accounts)

    def count(kind: int) -> int:
        return sum(1 for k in kinds if k == kind)

    drifted = count(SUSPENDED) + count(UNASSIGNED) + count(MISSING) + count(RENAMED) + count(DEACTIVATED)
    expected = {
        "to_create": count(MISSING),
        "to_update": count(RENAMED) + count(DEACTIVATED),
        "to_deactivate": count(SUSPENDED) + count(UNASSIGNED),
        "orphan": orphans,
        "protected": 1,  # the token owner, who is in no Okta directory here
        "in_sync": users - drifted,
    }
    return Seeded(
        okta_users=users,
        teamviewer_users=len(accounts) + 1,
        expected=expected,
        seconds=time.perf_counter() - started,
    )


def _reconcile_in_child(environ: Mapping[str, str], results: Any) -> None:
    """Runs in a fresh process: build the Lambda's reconciler, run it once, report the cost."""
    import os

    from tvsync.services.reconcile_report import Phase
    from tvsync.wiring.reconcile import build_reconciler

    os.environ.update(environ)
    logger = logging.getLogger("bench.reconcile")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    reconciler = build_reconciler(logger=logger, metrics=None, environ=environ)
    rss_before = _rss_kb("VmRSS")
    peak_reset = _reset_peak_rss()
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    phases: dict[str, list[float]] = {}

    def progress(phase: Phase, _done: int) -> None:
        now = time.perf_counter() - started
        phases.setdefault(phase.value, [now, now])[1] = now

    report = reconciler.run(dry_run=True, max_items=0, progress=progress)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    results.put(
        {
            "summary": report.summary(),
            "wall": wall,
            "phases": phases,
            "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "rss_before_kb": rss_before or before.ru_maxrss,
            # With the kernel's peak reset, VmHWM is the peak of the run alone.
            "rss_peak_kb": (_rss_kb("VmHWM") if peak_reset else None) or after.ru_maxrss,
        }
    )


def _rss_kb(field: str) -> int | None:
    """A ``/proc/self/status`` memory field in kB (Linux); None elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:  # noqa: PTH123 - procfs
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter, so imports before the run do not count (Linux)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:  # noqa: PTH123 - procfs
            clear.write("5")
    except OSError:
        return False
    return True


def index_footprint(users: int) -> tuple[float, float]:
    """MB of Python heap to hold ``users`` TeamViewer accounts in the index vs Okta users as models.

    The choice of which side to hold: the detector's slotted TeamViewer records, or the
    alternative of keeping every Okta user (as the client parses them) and streaming
    TeamViewer instead.
    """
    tracemalloc.start()
    detector = DriftDetector(config=SyncConfig(app_id=APP_ID), token_owner_id=None)
    detector.add_accounts(
        TeamViewerAccount(id=f"u{1_000_000 + n}", email=_email(n), name=f"User N{n:06d}", active=True)
        for n in range(users)
    )
    tv_bytes = tracemalloc.get_traced_memory()[0]
    del detector
    tracemalloc.stop()
    tracemalloc.start()
    held = {
        f"00u{n:017d}": OktaUser(
            id=f"00u{n:017d}",
            status=OktaUserStatus.ACTIVE,
            profile=OktaProfile(login=_email(n), email=_email(n), firstName="User", lastName=f"N{n:06d}"),
        )
        for n in range(users)
    }
    okta_bytes = tracemalloc.get_traced_memory()[0]
    del held
    tracemalloc.stop()
    return tv_bytes / 1e6, okta_bytes / 1e6


def run(args: argparse.Namespace) -> str:
    users = int(getattr(args, "reconcile_users", None) or getattr(args, "users", None) or DEFAULT_USERS)
    if users < DRIFT_EVERY:
        raise BenchmarkFailure(f"use at least {DRIFT_EVERY} users, so every kind of drift is present")
    okta = OktaEmulator(token=OKTA_TOKEN)
    # TeamViewer documents no cap on a SCIM page: the emulator's default cap (there so tests
    # meet short pages) would make the figures the emulator's, not the client's page size.
    tv = TeamViewerEmulator(token=TV_TOKEN, scim_max_page_size=None)
    seeded = seed(okta, tv, users)
    secrets = {"TeamViewerTokenSecret": TV_TOKEN, "OktaApiTokenSecret": OKTA_TOKEN, "OktaHookSecret": "bench"}
    with serve(okta) as okta_server, serve(tv) as tv_server, quiet():
        okta.reset_calls()
        tv.reset_calls()
        with embedded_aws(secrets, {"OktaOrgUrl": "https://bench.okta.example"}) as aws:
            environ = {
                **DUMMY_AWS_ENV,
                **aws.env(
                    "ReconcileFunction",
                    TEAMVIEWER_API_URL=tv_server.url,
                    OKTA_ORG_URL=okta_server.url,
                    OKTA_APP_ID=APP_ID,
                ),
            }
            context = multiprocessing.get_context("spawn")
            results = context.Queue()
            child = context.Process(target=_reconcile_in_child, args=(environ, results))
            with patched_environ({"AWS_ENDPOINT_URL": None}):
                child.start()
                outcome: dict[str, Any] = results.get(timeout=LAMBDA_LIMIT_SECONDS * 2)
                child.join(timeout=60)
    return _section(seeded, outcome, okta, tv)


def _section(seeded: Seeded, outcome: dict[str, Any], okta: OktaEmulator, tv: TeamViewerEmulator) -> str:
    """The report of a run on ``seeded``; ``outcome`` is what the reconciling child measured."""
    users = seeded.okta_users
    tv_mb, okta_mb = index_footprint(users)
    summary = outcome["summary"]
    if not summary["complete"]:
        raise BenchmarkFailure(f"the reconcile did not finish: {summary['error']}")
    found = {key: summary[key] for key in seeded.expected}
    if found != seeded.expected:
        raise BenchmarkFailure(f"drift found {found} != drift seeded {seeded.expected}")
    if summary["enqueued"] != 0:
        raise BenchmarkFailure("a dry run queued sync requests")
    app_pages = sum(1 for c in okta.calls if c.path == f"/api/v1/apps/{APP_ID}/users")
    okta_lookups = len(okta.calls) - app_pages
    tv_pages = sum(
        1 for c in tv.calls if c.method == "GET" and c.path == "/scim/v2/Users" and "filter" not in c.query
    )
    tv_other = len(tv.calls) - tv_pages
    wall = float(outcome["wall"])
    peak_mb = outcome["rss_peak_kb"] / 1024
    grown_mb = (outcome["rss_peak_kb"] - outcome["rss_before_kb"]) / 1024
    fits = wall < LAMBDA_LIMIT_SECONDS
    rows = [
        ("Okta users / TeamViewer users", f"{seeded.okta_users:,} / {seeded.teamviewer_users:,}"),
        ("wall time (dry run)", f"{wall:.1f} s"),
        ("fits the Lambda's 900 s", f"{verdict(fits)} {LAMBDA_LIMIT_SECONDS / wall:.0f}x headroom"),
        ("CPU time of the reconciler", f"{outcome['cpu']:.1f} s"),
        ("peak RSS of the reconciling process", f"{peak_mb:.0f} MB (+{grown_mb:.0f} MB during the run)"),
        ("Okta pages (app users, 500 per page)", f"{app_pages:,}"),
        ("Okta single reads (unclaimed accounts)", f"{okta_lookups:,}"),
        ("TeamViewer pages (SCIM, 100 per page)", f"{tv_pages:,}"),
        ("TeamViewer other calls (token owner)", f"{tv_other:,}"),
        ("users per second", f"{(seeded.okta_users + seeded.teamviewer_users) / wall:,.0f}"),
    ]
    # A phase ends when the next begins: its last progress report is its end.
    phases: dict[str, list[float]] = outcome["phases"]
    ordered = sorted(phases.items(), key=lambda item: item[1][1])
    previous_end = 0.0
    for phase, (_first, last) in ordered:
        rows.append((f"phase: {phase}", f"{last - previous_end:.1f} s"))
        previous_end = last
    drift_rows = [
        (name, f"{summary[name]:,}")
        for name in (
            "in_sync",
            "to_create",
            "to_update",
            "to_deactivate",
            "orphan",
            "protected",
            "conflict",
            "ignored",
        )
    ]
    return "\n".join(
        [
            f"### Reconcile: {users:,} Okta users against {seeded.teamviewer_users:,} TeamViewer users",
            "",
            "`python -m bench.reconcile_bench`: the reconciler as ReconcileFunction wires it, dry run, "
            "against both emulators over loopback HTTP (default speed) and a moto server, in a child "
            f"process of its own. Seeding took {seeded.seconds:.1f} s (not counted).",
            "",
            markdown_table(("", ""), rows),
            "",
            "Drift found (seeded: 0.5 % of users of each kind; every count checked against the seed):",
            "",
            markdown_table(("category", "users"), drift_rows),
            "",
            f"Memory of the index: {users:,} TeamViewer accounts in the detector's slotted records take "
            f"{tv_mb:.0f} MB of Python heap; holding the Okta side instead ({users:,} parsed Okta users) "
            f"would take {okta_mb:.0f} MB. The reconciler therefore indexes TeamViewer and streams Okta "
            "one page at a time.",
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reconcile_bench",
        description="Reconcile N Okta users against N TeamViewer users (emulators on loopback), dry run.",
    )
    parser.add_argument(
        "--users", type=int, default=DEFAULT_USERS, metavar="N", help=f"default {DEFAULT_USERS:,}"
    )
    print(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
