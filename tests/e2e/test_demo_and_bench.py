"""`tvsync demo` and `tvsync bench` run the real pipeline end to end and say so with their exit code."""

from __future__ import annotations

import json

import pytest

from tvsync.cli.main import main
from tvsync.local.burst import BurstConfig, run_burst
from tvsync.local.demo_cast import ENGINEERING

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
    [alice] = [line for line in out.splitlines() if "alice.archer@" in line and "created" in line]
    assert "adopted" not in alice
    # The pushed group, as `tvsync status --group` shows it: linked by Bob's membership event,
    # with its role; suspended Carol and deactivated Dave are not members, Alice and Frank joined.
    assert f"Pushed group Engineering ({ENGINEERING})" in out
    assert "and the pushed group Engineering (name, role, members)" in out
    group = _rows(out.split("Pushed group Engineering")[1])
    assert group["Okta group"].startswith(f"{ENGINEERING} “Engineering”")
    assert (
        group["role in TeamViewer"].startswith("Engineer (")
        and "should be" not in group["role in TeamViewer"]
    )
    assert group["role in TeamViewer"] == group["mapped role"]
    assert group["members in TeamViewer"] == "3"
    assert group["members"] == "alice.archer@example.com, bob.baker@example.com, Frank.Fischer@example.com"
    assert group["last operations"] == "create, assign_role, add_members"


def _rows(table: str) -> dict[str, str]:
    """A two-column table's rows: ``{field: value}``."""
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) == 2:
            rows[cells[0]] = cells[1]
    return rows


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
    [group] = result["groups"]
    assert (group["okta_group_id"], group["in_step"], group["pushed"]) == (ENGINEERING, True, True)
    assert group["teamviewer"]["role_name"] == "Engineer"
    assert group["teamviewer"]["role_id"] == group["mapped_role_id"] == group["role_last_assigned"]
    assert (group["okta"]["members"], group["teamviewer"]["members"]) == (4, 3)
    assert [email.lower() for email in group["members_shown"]] == [
        "alice.archer@example.com",
        "bob.baker@example.com",
        "frank.fischer@example.com",
    ]
    # Each membership event after the link is one member call, logged as such.
    assert "00u1alice00000000001: joined group 00g1engineering00001" in captured.err
    assert "00u1dave000000000004: left group 00g1engineering00001" in captured.err
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
