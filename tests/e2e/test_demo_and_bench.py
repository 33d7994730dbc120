"""`tvsync demo` and `tvsync bench` run the real pipeline end to end and say so with their exit code."""

from __future__ import annotations

import pytest

from tvsync.cli.main import main
from tvsync.local.burst import BurstConfig, run_burst

pytestmark = pytest.mark.e2e


def test_demo_converges_every_provisionable_user(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "TeamViewer matches Okta for every user that can be provisioned" in out
    for email in (
        "alice.archer@",
        "bob.baker@",
        "carol.chen@",
        "dave.dunn@",
        "erin.evans@",
        "frank.fischer@",
    ):
        assert email in out
    assert "conflict" in out, "Erin's email is owned outside the company: reported, not hidden"


def test_a_small_burst_loses_nothing_and_writes_once_per_change() -> None:
    report = run_burst(BurstConfig(users=12, rate_limit=200, worker_concurrency=2, timeout=120))
    assert report.events_posted == 24
    assert report.events_lost == 0
    assert report.dlq == 0
    assert report.writes == 24, "one TeamViewer write per create, rename and deactivation"
    assert report.okta_calls <= 2 * report.events_applied


def test_bench_command_prints_the_table_without_writing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--users", "6", "--rate", "100", "--concurrency", "2", "--no-write"]) == 0
    out = capsys.readouterr().out
    for measure in ("events lost", "writes/s ÷ rate limit", "event→applied p50 / p95", "DLQ messages"):
        assert measure in out
