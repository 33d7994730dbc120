"""``tvsync status`` reads SyncStateTable (moto, built from the template) and tells the truth about it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Aws
from tvsync.adapters.sync_state import SyncStateStore
from tvsync.cli.main import main
from tvsync.cli.output import console
from tvsync.cli.status import summarize
from tvsync.models.sync_state import SyncState

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(aws: Aws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SyncStateStore:
    monkeypatch.chdir(tmp_path)  # no .tvsync/local-stack.json here: the environment is the stack
    monkeypatch.setattr(console, "width", 200)
    env = aws.env("WorkerFunction")
    monkeypatch.setenv("SYNC_STATE_TABLE_NAME", env["SYNC_STATE_TABLE_NAME"])
    monkeypatch.setenv("EVENT_QUEUE_URL", env["EVENT_QUEUE_URL"])
    return SyncStateStore(aws.session.client("dynamodb"), env["SYNC_STATE_TABLE_NAME"])


def state(user: str, outcome: str, minute: int, **fields: Any) -> SyncState:
    return SyncState(
        okta_user_id=user,
        email=fields.pop("email", f"{user.lower()}@example.com"),
        last_outcome=outcome,
        updated_at=T0 + timedelta(minutes=minute),
        **fields,
    )


def populate(store: SyncStateStore) -> None:
    for item in (
        state("00uA", "applied", 1, teamviewer_id="u100", last_operations=["create"]),
        state("00uB", "applied", 2),
        state("00uC", "no-change", 3),
        state(
            "00uD", "conflict", 4, email="Erin.Evans@Example.com", last_reason="email-in-use: owned elsewhere"
        ),
        state("00uE", "retrying", 9, last_reason="auth: TeamViewer answered 401"),
        state("00uF", "invalid", 6, last_reason="TeamViewer refused the name"),
    ):
        store.put(item)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_summary_counts_outcomes_and_lists_the_newest_problems_first_with_masked_emails(
    store: SyncStateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(store)
    summary = run_json(capsys, "status", "--json")
    assert summary["total"] == 6
    assert summary["by_outcome"] == {"applied": 2, "conflict": 1, "invalid": 1, "no-change": 1, "retrying": 1}
    assert [p["okta_user_id"] for p in summary["recent_problems"]] == ["00uE", "00uF", "00uD"]
    assert summary["recent_problems"][0]["last_reason"] == "auth: TeamViewer answered 401"
    assert summary["recent_problems"][2]["email"] == "E***@Example.com"
    assert summary["dead_letters"] == 0


def test_summary_table(store: SyncStateStore, capsys: pytest.CaptureFixture[str]) -> None:
    populate(store)
    assert main(["status", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "6 in total" in out and "conflict" in out and "outside the company" in out
    assert "00uE" in out and "auth: TeamViewer answered 401" in out
    assert "00uD" not in out.split("Most recent problems")[1], "--limit 1 shows only the newest problem"
    assert "erin.evans" not in out.lower()


def test_one_user_by_id_shows_everything_about_the_last_sync(
    store: SyncStateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(store)
    [user] = run_json(capsys, "status", "00uA", "--json")["users"]
    assert user["email"] == "00ua@example.com"
    assert (user["last_outcome"], user["teamviewer_id"], user["last_operations"]) == (
        "applied",
        "u100",
        ["create"],
    )
    assert user["updated_at"] == (T0 + timedelta(minutes=1)).isoformat()


def test_one_user_by_email_is_case_insensitive_and_unmasked(
    store: SyncStateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(store)
    assert main(["status", "erin.evans@example.COM"]) == 0
    out = capsys.readouterr().out
    assert "Erin.Evans@Example.com" in out and "00uD" in out and "email-in-use" in out


def test_an_email_shared_by_two_okta_users_shows_both_newest_first(
    store: SyncStateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store.put(state("00uOld", "applied", 1, email="same@example.com"))
    store.put(state("00uNew", "conflict", 5, email="same@example.com"))
    users = run_json(capsys, "status", "same@example.com", "--json")["users"]
    assert [u["okta_user_id"] for u in users] == ["00uNew", "00uOld"]


@pytest.mark.parametrize("key", ["00uNobody", "nobody@example.com"])
def test_an_unknown_user_is_one_clear_error(
    store: SyncStateStore, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    assert main(["status", key]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no sync record" in err and key in err


def test_an_empty_table(store: SyncStateStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status"]) == 0
    assert "No sync records yet" in capsys.readouterr().out


def test_summarize_keeps_only_the_newest_problems_in_one_pass() -> None:
    states = [state(f"00u{n:03d}", "retrying" if n % 2 else "applied", n) for n in range(200)]
    summary = summarize(iter(states), limit=3)
    assert summary.total == 200
    assert summary.by_outcome == {"applied": 100, "retrying": 100}
    assert [s.okta_user_id for s in summary.recent_problems] == ["00u199", "00u197", "00u195"]


def test_when_the_last_change_was_applied_is_shown_beside_the_outcome(
    store: SyncStateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user being retried now had their account changed an hour ago: both are on the record."""
    applied_at = T0 - timedelta(hours=1)
    store.put(
        state("00uR", "retrying", 9, last_reason="auth: TeamViewer answered 401", last_applied_at=applied_at)
    )
    store.put(state("00uN", "conflict", 8, last_reason="email in use"))  # never applied anything
    store.put(state("00uF", "adopted", 7, last_reason="account-adopted", last_applied_at=T0))

    summary = run_json(capsys, "status", "--json")
    assert {p["okta_user_id"]: p["last_applied_at"] for p in summary["recent_problems"]} == {
        "00uR": applied_at.isoformat(),
        "00uN": None,
    }
    [user] = run_json(capsys, "status", "00uF", "--json")["users"]
    assert (user["last_outcome"], user["last_reason"], user["last_applied_at"]) == (
        "adopted",
        "account-adopted",
        T0.isoformat(),
    )

    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "Last applied (UTC)" in out
    [retrying] = [line for line in out.splitlines() if "00uR" in line]
    assert "retrying" in retrying and "2026-11-02 08:00:00" in retrying
    [adopted] = [line for line in out.splitlines() if line.strip("│ ").startswith("adopted")]
    assert "existing TeamViewer account was mapped" in adopted

    assert main(["status", "00uR"]) == 0
    out = capsys.readouterr().out
    assert "last applied at" in out and applied_at.isoformat() in out


LONG_REASON = (
    "TeamViewer refused the request: the user's email domain is not verified for the company "
    "and the account cannot be created until an administrator verifies it in the Management Console"
)


def test_piped_output_keeps_each_row_on_one_line(
    store: SyncStateStore, piped: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pipe or a CI log has no width to fit: no row is wrapped, at 80 columns or any other."""
    store.put(state("00u1verylongoktauserid0001", "invalid", 1, last_reason=LONG_REASON))
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if "00u1verylongoktauserid0001" in line]
    assert LONG_REASON in line and "0***@example.com" in line and len(line) > 200


def test_on_a_narrow_terminal_ids_and_emails_are_never_split(
    store: SyncStateStore, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "width", 60)
    uuid = "8f2c7a1e-93b4-4d0f-a6c2-5e1b9d3f7a20"
    store.put(
        state(
            "00u1verylongoktauserid0001",
            "invalid",
            1,
            email="someone.with.a.long.name@example.com",
            last_reason=LONG_REASON,
            last_event_uuid=uuid,
        )
    )
    assert main(["status"]) == 0
    summary = capsys.readouterr().out
    assert "00u1verylongoktauserid0001" in summary and "s***@example.com" in summary
    assert main(["status", "00u1verylongoktauserid0001"]) == 0
    record = capsys.readouterr().out
    for value in (uuid, "someone.with.a.long.name@example.com", "00u1verylongoktauserid0001"):
        assert value in record, f"{value} was split across lines"


def test_dead_letters_are_counted_in_words(
    store: SyncStateStore, aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    store.put(state("00uA", "applied", 1))
    sqs = aws.session.client("sqs")
    for n in range(2):
        sqs.send_message(
            QueueUrl=aws.dlq_url, MessageBody="{}", MessageGroupId="g", MessageDeduplicationId=f"d{n}"
        )
        assert main(["status"]) == 0
        expected = "1 event in the DLQ" if n == 0 else "2 events in the DLQ"
        assert f"{expected}: tvsync dlq list" in capsys.readouterr().out
