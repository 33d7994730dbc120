"""``tvsync reconcile`` against moto and both emulators: tables, JSON, dry run, and one-line errors."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TV_APP_ID, Aws
from tests.support.pipeline import Pipeline, add_assigned, start_pipeline
from tvsync.cli.main import main
from tvsync.cli.output import console
from tvsync.settings import ReconcileSettings


@pytest.fixture
def pipeline(aws: Aws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Pipeline]:
    p, servers = start_pipeline(aws, monkeypatch)
    monkeypatch.chdir(tmp_path)  # no .tvsync/local-stack.json here: the environment is the stack
    monkeypatch.setattr(console, "width", 200)
    env = aws.env(
        "ReconcileFunction",
        TEAMVIEWER_API_URL=servers[0].url,
        OKTA_ORG_URL=servers[1].url,
        OKTA_APP_ID=TV_APP_ID,
    )
    for name in ReconcileSettings.template_variables():  # what the reconciler gets in Lambda
        monkeypatch.setenv(name, env[name])
    add_assigned(p, "alice.archer@example.com", "Alice", "Archer")  # to create
    dave = add_assigned(p, "dave.dunn@example.com", "Dave", "Dunn")
    p.tv.add_user("dave.dunn@example.com", "Dave Dunn")
    p.okta.set_status(dave, "SUSPENDED")  # to deactivate
    p.tv.add_user("ghost@example.com", "Ghost Account")  # orphan
    yield p
    for server in servers:
        server.close()


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main(["reconcile", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_dry_run_json_reports_every_difference_and_queues_nothing(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    report = run_json(capsys, "--dry-run")
    assert (report["to_create"], report["to_deactivate"], report["in_sync"]) == (1, 1, 0)
    assert (report["orphan"], report["protected"]) == (1, 1), "the token owner is no orphan"
    assert report["dry_run"] is True and report["enqueued"] == 0
    # Masked as in the table: the list ends up in tickets and chat; the ids say who it is.
    assert {(i["category"], i["email"]) for i in report["items"]} == {
        ("to_create", "a***@example.com"),
        ("to_deactivate", "d***@example.com"),
        ("orphan", "g***@example.com"),
    }
    assert all(i["okta_user_id"] or i["teamviewer_id"] for i in report["items"])
    assert pipeline.aws.drain() == []


def test_without_dry_run_the_fixes_are_queued_and_the_worker_applies_them(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    report = run_json(capsys)
    assert report["enqueued"] == 2
    pipeline.drain()
    assert pipeline.tv_account("alice.archer@example.com")["active"] is True  # type: ignore[index]
    assert pipeline.tv_account("dave.dunn@example.com")["active"] is False  # type: ignore[index]
    assert pipeline.tv_account("ghost@example.com")["active"] is True  # type: ignore[index]
    capsys.readouterr()  # the worker's own log lines

    report = run_json(capsys, "--deactivate-orphans")
    assert report["enqueued"] == 1 and report["deactivate_orphans"] is True
    pipeline.drain()
    assert pipeline.tv_account("ghost@example.com")["active"] is False  # type: ignore[index]
    assert pipeline.tv_account("admin@example.test")["active"] is True  # type: ignore[index]


def test_the_table_names_each_category_and_the_differences(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reconcile", "--dry-run"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.partition("Differences")[0].splitlines()
    row = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in lines if line.count("│") >= 3}
    assert (row["to create"], row["to deactivate"], row["orphans"], row["in sync"]) == ("1", "1", "1", "0")
    assert row["protected"] == "1" and "the token owner's account: never deactivated" in captured.out
    assert "dry run: nothing queued" in captured.out
    # A list of people ends up in tickets and chat: emails masked, the ids say who it is.
    assert "a***@example.com" in captured.out and "alice.archer@" not in captured.out
    assert "Run without --dry-run" in captured.out
    assert "okta-test-token" not in captured.out + captured.err


def test_refused_credentials_end_in_one_line_and_a_non_zero_exit(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.tv.token = "rotated-token"
    assert main(["reconcile", "--dry-run"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tvsync: error: reconcile did not finish")
    assert "tv-test-token" not in err[0]


def test_an_unfinished_run_shows_no_drift_figures(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    """Counts from a run that stopped early would read as "nothing drifted": none are shown."""
    pipeline.tv.token = "rotated-token"
    assert main(["reconcile", "--dry-run"]) == 1
    captured = capsys.readouterr()
    assert "INCOMPLETE" in captured.out
    assert "│" not in captured.out and "in sync" not in captured.out, "no table of partial counts"
    assert captured.err.strip().startswith("tvsync: error: reconcile did not finish")


@pytest.mark.parametrize(
    ("service", "variable"), [("Okta", "OKTA_ORG_URL"), ("TeamViewer", "TEAMVIEWER_API_URL")]
)
def test_a_service_that_is_not_listening_fails_at_once_naming_it(
    pipeline: Pipeline,
    service: str,
    variable: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv(variable, url)
    started = time.monotonic()
    assert main(["reconcile", "--dry-run"]) == 2
    assert time.monotonic() - started < 10, "no minutes of retries against a closed port"
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"tvsync: error: cannot reach {service} at {url}: connection refused (nothing listens there); "
        "nothing was compared\n"
    )


def test_a_missing_stack_is_one_clear_line(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EVENT_QUEUE_URL")
    assert main(["reconcile"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tvsync: error: invalid environment for ReconcileSettings: EVENT_QUEUE_URL")
    assert "\n" not in err and "Traceback" not in err


def test_help_explains_the_categories(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["reconcile", "--help"])
    out = capsys.readouterr().out
    for words in ("--dry-run", "--deactivate-orphans", "to deactivate", "orphans", "token owner"):
        assert words in out


def orphan_row(out: str) -> tuple[str, str]:
    """(users, meaning) of the orphans row of the counts table."""
    counts = out.partition("Differences")[0]
    [row] = [line for line in counts.splitlines() if line.startswith("│ orphans")]
    users, meaning = (cell.strip() for cell in row.split("│")[2:4])
    return users, meaning


@pytest.mark.parametrize(
    ("argv", "fate"),
    [
        (["--dry-run"], "active account no Okta user has (reported only)"),
        (
            ["--dry-run", "--deactivate-orphans"],
            "active account no Okta user has (1 would be deactivated; dry run: nothing queued)",
        ),
        (["--deactivate-orphans"], "active account no Okta user has (1 deactivation queued)"),
        (
            ["--deactivate-orphans", "--max-orphan-deactivations", "0"],
            "active account no Okta user has (more than --max-orphan-deactivations: none deactivated)",
        ),
    ],
    ids=["dry run", "dry run, deactivate orphans", "deactivate orphans", "over the limit"],
)
def test_the_table_says_what_happens_to_orphans_and_a_dry_run_never_reads_as_queued(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str], argv: list[str], fate: str
) -> None:
    assert main(["reconcile", *argv]) == 0
    out = capsys.readouterr().out
    assert orphan_row(out) == ("1", fate)
    dry_run = "--dry-run" in argv
    [title] = [line.rstrip() for line in out.splitlines() if line.startswith("Reconcile ")]
    if dry_run:
        assert title.endswith("(dry run: nothing queued)")
        assert "Differences (dry run: nothing queued)" in out
        assert "queued" not in out.replace("nothing queued", ""), "nothing in a dry run reads as queued"
        assert pipeline.aws.drain() == []
    else:
        queued = 3 if argv == ["--deactivate-orphans"] else 2  # creates and deactivations (and the ghost)
        assert title.endswith(f"({queued} sync requests queued)")
        assert "Differences (dry run" not in out


def test_group_drift_is_a_table_beside_the_users_and_in_the_json(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two pushed groups TeamViewer does not have yet, one of them mapped to a role."""
    role = pipeline.tv.add_role("Supporter")
    pipeline.okta.add_group("Support", group_id="00g1support000000001")
    pipeline.okta.add_group("Design", group_id="00g1designteam000002")
    monkeypatch.setenv("PUSH_GROUP_IDS", "00g1designteam000002")
    monkeypatch.setenv("GROUP_ROLE_MAP", f"00g1support000000001={role}")
    assert main(["reconcile", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Groups: 2 of 2 pushed or linked groups drifted (dry run: nothing queued)" in out
    [design] = [line for line in out.splitlines() if "00g1designteam000002" in line]
    assert "Design" in design and "not-linked" in design
    assert "not-linked: pushed, without a TeamViewer group" in out
    report = run_json(capsys, "--dry-run")
    assert (report["groups_checked"], report["groups_drifted"]) == (2, 2)
    assert {g["okta_group_id"]: g["reasons"] for g in report["groups"]} == {
        "00g1designteam000002": ["not-linked"],
        "00g1support000000001": ["not-linked", "role-differs"],  # created, then its role assigned
    }


def test_without_groups_there_is_no_group_line(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUSH_GROUP_IDS", "")
    assert main(["reconcile", "--dry-run"]) == 0
    assert "Groups:" not in capsys.readouterr().out, "nothing pushed, nothing linked: no group line"
