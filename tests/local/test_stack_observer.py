"""The console lines of a running local stack: what the admin sees after each event."""

from __future__ import annotations

from typing import Any

from tvsync.local.stack import StackObserver


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
