"""`tvsync demo` and `tvsync bench` run the real pipeline end to end and say so with their exit code."""

from __future__ import annotations

import json

import pytest

from tvsync.cli.main import main
from tvsync.local.burst import BurstConfig, run_burst

pytestmark = pytest.mark.e2e


def test_demo_converges_every_provisionable_user(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # one line per person
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
    # Frank's account was in TeamViewer already, in other letter case: taken over, then converged.
    [frank] = [line for line in out.splitlines() if "frank.fischer@" in line]
    assert "adopted, activated, renamed" in frank
    [alice] = [line for line in out.splitlines() if "alice.archer@" in line]
    assert "created" in alice and "adopted" not in alice


def test_demo_json_is_one_document_on_stdout_with_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # the whole of stdout; the stack's lines went to stderr
    assert (result["ok"], result["dead_letters"], result["conflicts"], result["not_in_step"]) == (
        True,
        0,
        1,
        [],
    )
    users = {u["email"].lower(): u for u in result["users"]}
    assert len(users) == 6
    erin = users["erin.evans@example.com"]
    assert (erin["in_step"], erin["teamviewer"]) == ("conflict", None)
    assert erin["pipeline_did"][0].startswith("conflict: ")
    assert users["alice.archer@example.com"]["pipeline_did"] == ["created"]
    assert users["alice.archer@example.com"]["teamviewer"]["active"] is True
    assert "POST /okta/events  200" in captured.err and "local stack up" in captured.err


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
