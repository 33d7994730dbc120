"""The console lines of a running local stack: what the admin sees after each event."""

from __future__ import annotations

from typing import Any

import pytest

from tvsync.local.stack import StackObserver

pytestmark = pytest.mark.unit  # pure: no sockets, processes or sleeps


def synced(user: str, **fields: Any) -> dict[str, Any]:
    return {
        "okta_user_id": user,
        "event_uuid": "e-1",
        "event_type": "user.lifecycle.create",
        "outcome": "no-change",
        "operations": [],
        "reason": "in-sync",
        "teamviewer_id": None,
        "email": "a***@example.com",
        **fields,
    }


def lines_for(*records: dict[str, Any]) -> list[str]:
    printed: list[str] = []
    observer = StackObserver(print_line=printed.append)
    for record in records:
        observer.observe("User synced", record)
    return [line.split("  ", 1)[1] for line in printed]  # without the clock


def test_a_user_okta_does_not_know_gets_a_line_saying_so() -> None:
    """Replaying deliveries about people missing from Okta must not look like a dead pipeline."""
    assert lines_for(synced("00uGone", reason="no-account", email=None)) == [
        "00uGone: not found in Okta, nothing to do"
    ]


def test_changes_and_problems_are_shown_and_plain_no_ops_are_not() -> None:
    assert lines_for(
        synced("00uA", outcome="applied", operations=["create"], teamviewer_id="u1"),
        synced("00uB"),  # in step already
        synced("00uC", reason="no-account"),  # known to Okta, not to be provisioned
        synced("00uD", outcome="conflict", reason="email-in-use"),
    ) == [
        "00uA a***@example.com: create -> u1",
        "00uD a***@example.com: conflict (email-in-use)",
    ]


def dry_lines(*records: dict[str, Any]) -> list[str]:
    """The lines of a stack started with --dry-run, whose worker logs ``dry_run: true``."""
    printed: list[str] = []
    observer = StackObserver(print_line=printed.append, dry_run=True)
    for record in records:
        observer.observe("User synced", {**record, "dry_run": True})
    observer.observe(
        "Delivery queued",
        {"delivery_id": "d-1", "events_received": 1, "events_queued": 1, "events_ignored": 0},
    )
    observer.delivery("POST", "/okta/events", 200, 0.012, {})
    observer.observe("Sync failed; SQS will redeliver", {"okta_user_id": "00uE", "error": "TeamViewer 503"})
    return [line.split("  ", 1)[1] for line in printed]


def test_a_dry_run_never_reads_as_applied() -> None:
    """The worker's DRY_RUN outcome is ``dry-run`` with the operations it planned."""
    assert dry_lines(
        synced("00uA", outcome="dry-run", operations=["create"], reason="missing"),
        synced("00uB", outcome="dry-run", operations=["activate", "rename"], teamviewer_id="u2"),
        synced("00uC"),  # in step already: nothing to say, as without --dry-run
        synced("00uD", outcome="conflict", reason="email-in-use"),
    ) == [
        "[dry run] 00uA a***@example.com: would create",
        "[dry run] 00uB a***@example.com: would activate, rename -> u2",
        "[dry run] 00uD a***@example.com: conflict (email-in-use)",
        "[dry run] delivery d-1: queued 1 of 1 event (0 ignored)",
        "[dry run] POST /okta/events  200  12 ms",
        "[dry run] 00uE: will retry: TeamViewer 503",
    ]


def test_a_sync_the_worker_logs_as_a_dry_run_is_marked_whatever_the_observer_was_told() -> None:
    printed: list[str] = []
    StackObserver(print_line=printed.append).observe(
        "User synced", synced("00uA", outcome="dry-run", operations=["deactivate"], teamviewer_id="u1")
    )
    assert [line.split("  ", 1)[1] for line in printed] == [
        "[dry run] 00uA a***@example.com: would deactivate -> u1"
    ]


def test_deliveries_count_their_events_in_words() -> None:
    printed: list[str] = []
    observer = StackObserver(print_line=printed.append)
    for received, queued in ((1, 1), (7, 4)):
        observer.observe(
            "Delivery queued",
            {
                "delivery_id": "d",
                "events_received": received,
                "events_queued": queued,
                "events_ignored": received - queued,
            },
        )
    assert [line.split("  ", 1)[1] for line in printed] == [
        "delivery d: queued 1 of 1 event (0 ignored)",
        "delivery d: queued 4 of 7 events (3 ignored)",
    ]
