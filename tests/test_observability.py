"""The one masking function every text leaving the process goes through: table tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tvsync.models.sync_state import SyncState
from tvsync.observability import mask_email, mask_emails, mask_value, masking_json_serializer

pytestmark = pytest.mark.unit  # pure: no sockets, processes or sleeps


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("jane.doe@example.com", "j***@example.com"),
        ("o'neil@example.com", "o***@example.com"),
        ('"john doe"@example.com', '"***@example.com'),
        ("a@example.com", "a***@example.com"),
        ("j***@example.com", "j***@example.com"),
        ("not an address", "***"),
        ("", "***"),
        (None, None),
    ],
)
def test_mask_email(email: str | None, masked: str | None) -> None:
    assert mask_email(email) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("plain jane.doe@example.com here", "plain j***@example.com here"),
        # The apostrophe is part of the address: nothing of the local part after it may show.
        ("TeamViewer refused o'neil.o'brien@example.com", "TeamViewer refused o***@example.com"),
        ("KeyError('frank.fischer@example.com')", "KeyError('f***@example.com')"),
        ('create "john doe"@example.com failed', 'create "***@example.com failed'),
        ('{"detail": "\\"john doe\\"@example.com is taken"}', '{"detail": "\\"***@example.com is taken"}'),
        ("a+tag@example.com, b_c@example.co.uk", "a***@example.com, b***@example.co.uk"),
        (
            "GET /scim/v2/Users?filter=userName%20eq%20%22jane.doe%40example.com%22",
            "GET /scim/v2/Users?filter=userName%20eq%20%22j***%40example.com%22",
        ),
        ("jane%2Bwork%40example.com", "j***%40example.com"),
        ("jane.doe\\u0040example.com", "j***\\u0040example.com"),
        ("email=jane@example.com&x=1", "email=j***@example.com&x=1"),
        ("<jane@example.com>", "<j***@example.com>"),
        ("josé.ñúñez@exämple.de", "j***@exämple.de"),
        ("admin@[192.0.2.1]", "a***@[192.0.2.1]"),
        # Not addresses: left alone.
        ("@decorator and a @ sign", "@decorator and a @ sign"),
        ("no address at all", "no address at all"),
        ("100% of 40 users", "100% of 40 users"),
    ],
)
def test_mask_emails_finds_addresses_in_any_shape(text: str, masked: str) -> None:
    assert mask_emails(text) == masked


@pytest.mark.parametrize(
    "text",
    ["o'neil@example.com", '"john doe"@example.com', "x%2By%40example.com", "jane\\u0040example.com"],
)
def test_masking_is_idempotent(text: str) -> None:
    once = mask_emails(text)
    assert mask_emails(once) == once


def test_mask_value_reaches_every_string_inside() -> None:
    value = {"a": ["x jane@example.com", ("o'neil@example.com",)], "n": 3, "b": {"c": "bob@example.com"}}
    assert mask_value(value) == {
        "a": ["x j***@example.com", ["o***@example.com"]],
        "n": 3,
        "b": {"c": "b***@example.com"},
    }


def test_the_function_loggers_serializer_masks_fields_nobody_masked() -> None:
    record = {
        "message": "User synced",
        "reason": "invalid_request: o'neil@example.com",
        "error": ValueError("bad jane@example.com"),
        "count": 2,
    }
    line = masking_json_serializer(record)
    assert "neil" not in line and "jane@" not in line
    assert json.loads(line) == {
        "message": "User synced",
        "reason": "invalid_request: o***@example.com",
        "error": "bad j***@example.com",
        "count": 2,
    }


def test_a_stored_reason_never_holds_an_email() -> None:
    state = SyncState(
        okta_user_id="00u1",
        last_outcome="invalid",
        last_reason='teamviewer create_user: invalid_request: "o\'neil x"@example.com is not allowed',
        updated_at=datetime(2026, 11, 2, tzinfo=UTC),
    )
    assert state.last_reason == 'teamviewer create_user: invalid_request: "***@example.com is not allowed'
