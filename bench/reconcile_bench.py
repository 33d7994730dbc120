"""The reconcile benchmark: N Okta users against N TeamViewer accounts, at API latency.

Both emulators hold the seeded directories and answer over loopback HTTP, each request slept
on the server's own thread for a realistic latency (Okta 80 ms, TeamViewer 120 ms) so
concurrent requests overlap as they would against the real APIs; SyncStateTable and the
queue live in a moto server on 127.0.0.1. The run is the real ``tvsync.services.reconcile``
as ``build_reconciler`` wires it for the Lambda, in dry-run mode, with drift of every kind
mixed in (0.5 % each: suspended in Okta, missing in TeamViewer, renamed in TeamViewer,
deactivated in TeamViewer) and a tenth of the company's accounts unclaimed: half belong to
Okta users unassigned from the app (to deactivate, found by batched email searches), half to
nobody (orphans).

The reconciler runs in a child process of its own, so its peak resident memory
(``ru_maxrss``) is the reconciler's and not the emulators' (which hold both directories in
this process): that peak is what a Lambda's memory size must cover. Calls are counted by
kind from the emulators' call logs. The found drift is checked against what was seeded, so
a fast but wrong run fails instead of being recorded. With two sizes or more, the section
says how the time grew: the goal is no worse than linear.

50,000 users take about a minute; 500,000 about ten (``--reconcile-sizes 50000,500000``),
which is why ``make bench`` runs only the first by default.
"""

from __future__ import annotations

import argparse
import logging
import math
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
from tvsync.emulators.http import FaultPolicy, serve
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.teamviewer import TeamViewerEmulator
from tvsync.models.okta import OktaProfile, OktaUser, OktaUserStatus
from tvsync.models.teamviewer import TeamViewerAccount

NAME = "reconcile"
DEFAULT_SIZES = (50_000,)
LAMBDA_LIMIT_SECONDS = 900
LAMBDA_MEMORY_MB = 1024
#: Seconds each emulator sleeps per request: realistic API latency.
OKTA_LATENCY = 0.080
TEAMVIEWER_LATENCY = 0.120
#: Share of the company's accounts no walked Okta user claims.
UNCLAIMED_SHARE = 0.10
TV_TOKEN = "tv-bench-token"
OKTA_TOKEN = "okta-bench-token"
APP_ID = "0oabenchtvsync000001"
#: One assigned user in this many drifts in each way (0.5 %).
DRIFT_EVERY = 200
SUSPENDED, MISSING, RENAMED, DEACTIVATED = 1, 2, 3, 4
#: Okta ids as Okta makes them (20 characters), for the mapping's memory estimate.
_OKTA_ID = "00u{:010d}tvsEmu7"


def _sizes(value: str) -> tuple[int, ...]:
    sizes = tuple(int(part.replace("_", "")) for part in value.split(",") if part.strip())
    if not sizes or min(sizes) < DRIFT_EVERY:
        raise argparse.ArgumentTypeError(f"sizes of at least {DRIFT_EVERY} users, comma-separated")
    return sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reconcile benchmark")
    group.add_argument(
        "--reconcile-sizes",
        type=_sizes,
        default=DEFAULT_SIZES,
        metavar="N[,N...]",
        help="Okta users (and about as many TeamViewer accounts) per run; 500000 is optional: "
        "about ten minutes (default: 50000)",
    )
    group.add_argument(
        "--reconcile-okta-latency",
        type=float,
        default=OKTA_LATENCY,
        metavar="SECONDS",
        help=f"seconds the Okta emulator takes per request (default {OKTA_LATENCY:g})",
    )
    group.add_argument(
        "--reconcile-teamviewer-latency",
        type=float,
        default=TEAMVIEWER_LATENCY,
        metavar="SECONDS",
        help=f"seconds the TeamViewer emulator takes per request (default {TEAMVIEWER_LATENCY:g})",
    )
    group.add_argument(
        "--reconcile-unclaimed",
        type=float,
        default=UNCLAIMED_SHARE,
        metavar="SHARE",
        help=f"share of TeamViewer accounts no Okta user in scope claims (default {UNCLAIMED_SHARE:g})",
    )


@dataclass(frozen=True)
class Seeded:
    okta_users: int
    teamviewer_users: int
    unclaimed: int
    expected: dict[str, int]
    #: How long seeding took (not part of the figures).
    seconds: float


@dataclass(frozen=True)
class Measured:
    """One run: what was seeded, what the reconciling child measured, the calls the emulators saw."""

    seeded: Seeded
    outcome: dict[str, Any]
    calls: dict[str, int]
    index_bytes_per_account: float
    mapping_mb: float

    @property
    def wall(self) -> float:
        return float(self.outcome["wall"])

    @property
    def peak_mb(self) -> float:
        return float(self.outcome["rss_peak_kb"]) / 1024


def _email(n: int) -> str:
    return f"user{n:06d}@bench.example.com"


def seed(okta: OktaEmulator, tv: TeamViewerEmulator, users: int, unclaimed_share: float) -> Seeded:
    """``users`` Okta users and about as many company accounts, with drift and unclaimed accounts."""
    started = time.perf_counter()
    unassigned_every = round(2 / unclaimed_share) if unclaimed_share > 0 else 0
    kinds = [n % DRIFT_EVERY for n in range(users)]
    unassigned = [
        bool(unassigned_every) and n % unassigned_every == unassigned_every // 2 for n in range(users)
    ]
    ids = okta.add_users((_email(n), "User", f"N{n:06d}") for n in range(users))
    for n, user_id in enumerate(ids):
        if unassigned[n]:
            continue
        if kinds[n] == SUSPENDED:
            okta.set_status(user_id, "SUSPENDED")
        okta.assign(APP_ID, user_id)
    orphans = sum(unassigned)
    accounts = [
        (_email(n), "U. Renamed" if kind == RENAMED else f"User N{n:06d}", kind != DEACTIVATED)
        for n, kind in enumerate(kinds)
        if unassigned[n] or kind != MISSING
    ]
    accounts += [(f"orphan{n:06d}@bench.example.com", f"Orphan {n}", True) for n in range(orphans)]
    tv.add_users(accounts)

    def count(kind: int) -> int:
        return sum(1 for n, k in enumerate(kinds) if k == kind and not unassigned[n])

    drifted = count(SUSPENDED) + count(MISSING) + count(RENAMED) + count(DEACTIVATED) + sum(unassigned)
    expected = {
        "to_create": count(MISSING),
        "to_update": count(RENAMED) + count(DEACTIVATED),
        "to_deactivate": count(SUSPENDED) + sum(unassigned),
        "orphan": orphans,
        "protected": 1,  # the token owner, who is in no Okta directory here
        "in_sync": users - drifted,
    }
    return Seeded(
        okta_users=users - sum(unassigned),
        teamviewer_users=len(accounts) + 1,
        unclaimed=sum(unassigned) + orphans,
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


def index_footprint(users: int, *, okta_side: bool = False) -> tuple[float, float | None]:
    """Bytes of Python heap per TeamViewer account in the detector's index (and, with
    ``okta_side``, MB to hold ``users`` parsed Okta users instead: the side not held)."""
    tracemalloc.start()
    detector = DriftDetector(config=SyncConfig(app_id=APP_ID), token_owner_id=None)
    detector.add_accounts(
        TeamViewerAccount(id=f"u{1_000_000 + n}", email=_email(n), name=f"User N{n:06d}", active=True)
        for n in range(users)
    )
    per_account = tracemalloc.get_traced_memory()[0] / users
    del detector
    tracemalloc.stop()
    if not okta_side:
        return per_account, None
    tracemalloc.start()
    held = {
        _OKTA_ID.format(n): OktaUser(
            id=_OKTA_ID.format(n),
            status=OktaUserStatus.ACTIVE,
            profile=OktaProfile(login=_email(n), email=_email(n), firstName="User", lastName=f"N{n:06d}"),
        )
        for n in range(users)
    }
    okta_bytes = tracemalloc.get_traced_memory()[0]
    del held
    tracemalloc.stop()
    return per_account, okta_bytes / 1e6


def mapping_footprint(users: int) -> float:
    """MB the worker's mapping (Okta id -> TeamViewer id, from SyncStateTable) and the run's set of
    walked Okta ids take at ``users``: SyncStateTable is empty in this benchmark, not in a company."""
    tracemalloc.start()
    mapping = {_OKTA_ID.format(n): f"u{1_000_000 + n}" for n in range(users)}
    seen = set(mapping)
    size = tracemalloc.get_traced_memory()[0] / 1e6
    del mapping, seen
    tracemalloc.stop()
    return size


def measure(users: int, *, okta_latency: float, tv_latency: float, unclaimed_share: float) -> Measured:
    """Seed, serve and reconcile ``users`` once; the figures of that run."""
    okta = OktaEmulator(token=OKTA_TOKEN, faults=FaultPolicy(latency=okta_latency))
    # TeamViewer documents no cap on a SCIM page: the emulator's default cap (there so tests
    # meet short pages) would make the figures the emulator's, not the client's page size.
    tv = TeamViewerEmulator(token=TV_TOKEN, scim_max_page_size=None, faults=FaultPolicy(latency=tv_latency))
    seeded = seed(okta, tv, users, unclaimed_share)
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
                outcome: dict[str, Any] = results.get(timeout=LAMBDA_LIMIT_SECONDS * 3)
                child.join(timeout=60)
    _check(seeded, outcome)
    per_account, _ = index_footprint(users)
    return Measured(seeded, outcome, _calls(okta, tv), per_account, mapping_footprint(users))


def _calls(okta: OktaEmulator, tv: TeamViewerEmulator) -> dict[str, int]:
    app_pages = sum(1 for c in okta.calls if c.path == f"/api/v1/apps/{APP_ID}/users")
    searches = sum(1 for c in okta.calls if c.path == "/api/v1/users" and "search" in c.query)
    reads = sum(1 for c in okta.calls if c.path.startswith("/api/v1/users/"))
    tv_pages = sum(
        1 for c in tv.calls if c.method == "GET" and c.path == "/scim/v2/Users" and "filter" not in c.query
    )
    return {
        "okta_app_pages": app_pages,
        "okta_searches": searches,
        "okta_user_reads": reads,
        "okta_other": len(okta.calls) - app_pages - searches - reads,
        "okta_throttled": okta.throttled,
        "tv_pages": tv_pages,
        "tv_other": len(tv.calls) - tv_pages,
        "tv_throttled": tv.throttled,
    }


def _check(seeded: Seeded, outcome: dict[str, Any]) -> None:
    summary = outcome["summary"]
    if not summary["complete"]:
        raise BenchmarkFailure(f"the reconcile did not finish: {summary['error']}")
    found = {key: summary[key] for key in seeded.expected}
    if found != seeded.expected:
        raise BenchmarkFailure(f"drift found {found} != drift seeded {seeded.expected}")
    if summary["enqueued"] != 0:
        raise BenchmarkFailure("a dry run queued sync requests")


def run(args: argparse.Namespace) -> str:
    sizes: tuple[int, ...] = getattr(args, "reconcile_sizes", None) or DEFAULT_SIZES
    okta_latency = float(getattr(args, "reconcile_okta_latency", OKTA_LATENCY))
    tv_latency = float(getattr(args, "reconcile_teamviewer_latency", TEAMVIEWER_LATENCY))
    share = float(getattr(args, "reconcile_unclaimed", UNCLAIMED_SHARE))
    measured = [
        measure(n, okta_latency=okta_latency, tv_latency=tv_latency, unclaimed_share=share)
        for n in sorted(set(sizes))
    ]
    command = (
        "python -m bench --only reconcile --reconcile-sizes "
        f"{','.join(str(n) for n in sorted(set(sizes)))} --reconcile-okta-latency {okta_latency:g} "
        f"--reconcile-teamviewer-latency {tv_latency:g} --reconcile-unclaimed {share:g}"
    )
    _, okta_mb = index_footprint(min(sizes), okta_side=True)
    return render(measured, command=command, latency=(okta_latency, tv_latency), okta_side_mb=okta_mb)


def render(
    measured: Sequence[Measured], *, command: str, latency: tuple[float, float], okta_side_mb: float | None
) -> str:
    okta_latency, tv_latency = latency
    lines = [
        "### Reconcile at scale: "
        + " and ".join(f"{m.seeded.teamviewer_users:,} accounts" for m in measured),
        "",
        f"`{command}`: the reconciler as ReconcileFunction wires it, dry run, in a child process of "
        f"its own, against both emulators over loopback HTTP answering each request in "
        f"{okta_latency * 1000:.0f} ms (Okta) and {tv_latency * 1000:.0f} ms (TeamViewer), and a moto "
        "server. A tenth of the accounts unclaimed (half former staff unassigned from the app, half "
        "orphans), 0.5 % of users drifted in each other way; every count checked against the seed.",
        "",
    ]
    header = ("", *(f"{m.seeded.teamviewer_users:,} accounts" for m in measured))
    rows: list[tuple[object, ...]] = [
        (
            "Okta users in scope / unclaimed accounts",
            *(f"{m.seeded.okta_users:,} / {m.seeded.unclaimed:,}" for m in measured),
        ),
        ("seeding (not counted)", *(f"{m.seeded.seconds:.0f} s" for m in measured)),
        ("wall time (dry run)", *(f"{m.wall:.0f} s" for m in measured)),
        (
            "fits the Lambda's 900 s",
            *(
                f"{verdict(m.wall < LAMBDA_LIMIT_SECONDS)} {LAMBDA_LIMIT_SECONDS / m.wall:.1f}x"
                for m in measured
            ),
        ),
        ("CPU time of the reconciler", *(f"{m.outcome['cpu']:.0f} s" for m in measured)),
        (
            "peak RSS of the reconciling process",
            *(f"{m.peak_mb:.0f} MB {verdict(m.peak_mb < LAMBDA_MEMORY_MB)}" for m in measured),
        ),
        ("detector index per account", *(f"{m.index_bytes_per_account:.0f} B" for m in measured)),
        (
            "+ a full SyncStateTable's mapping and walked ids (estimate)",
            *(f"{m.mapping_mb:.0f} MB" for m in measured),
        ),
        ("Okta: app-user pages (500 each)", *(f"{m.calls['okta_app_pages']:,}" for m in measured)),
        ("Okta: searches (≤ 50 emails each)", *(f"{m.calls['okta_searches']:,}" for m in measured)),
        ("Okta: single user reads", *(f"{m.calls['okta_user_reads']:,}" for m in measured)),
        ("TeamViewer: SCIM pages (100 each, 4 ahead)", *(f"{m.calls['tv_pages']:,}" for m in measured)),
        ("TeamViewer: other calls (token owner)", *(f"{m.calls['tv_other']:,}" for m in measured)),
        (
            "throttled (429) Okta / TeamViewer",
            *(f"{m.calls['okta_throttled']} / {m.calls['tv_throttled']}" for m in measured),
        ),
    ]
    for phase in ("sync state records", "TeamViewer users", "Okta users", "unclaimed accounts checked"):
        rows.append((f"phase: {phase}", *(f"{_phase_seconds(m, phase):.0f} s" for m in measured)))
    lines += [markdown_table(header, rows), ""]
    small, large = measured[0], measured[-1]
    if large.seeded.teamviewer_users > small.seeded.teamviewer_users:
        n_ratio = large.seeded.teamviewer_users / small.seeded.teamviewer_users
        t_ratio = large.wall / small.wall
        exponent = math.log(t_ratio) / math.log(n_ratio)
        lines += [
            f"Growth from {small.seeded.teamviewer_users:,} to {large.seeded.teamviewer_users:,} accounts "
            f"({n_ratio:.1f}x): wall time {t_ratio:.1f}x, memory {large.peak_mb / small.peak_mb:.1f}x; "
            f"time grows as n^{exponent:.2f} {verdict(exponent <= 1.05)} (goal: no worse than linear).",
            "",
        ]
    if okta_side_mb is not None:
        smallest = measured[0]
        lines += [
            f"Why TeamViewer is the side held: at {smallest.seeded.teamviewer_users:,} accounts the index "
            f"takes {smallest.index_bytes_per_account * smallest.seeded.teamviewer_users / 1e6:.0f} MB, "
            f"as many parsed Okta users would take {okta_side_mb:.0f} MB; Okta streams a page at a time.",
            "",
        ]
    return "\n".join(lines)


def _phase_seconds(measured: Measured, phase: str) -> float:
    """A phase ends when the next begins: its last progress report is its end."""
    phases: dict[str, list[float]] = measured.outcome["phases"]
    ordered = sorted(phases.items(), key=lambda item: item[1][1])
    previous_end = 0.0
    for name, (_first, last) in ordered:
        if name == phase:
            return last - previous_end
        previous_end = last
    return 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reconcile_bench",
        description="Reconcile N Okta users against about N TeamViewer accounts (emulators), dry run.",
    )
    add_arguments(parser)
    print(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
