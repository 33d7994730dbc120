"""Table tests for the "Okta status → TeamViewer account" table (docs/contracts.md), for the
closed vocabulary of reasons behind each answer, and for name derivation."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tvsync.core.desired_state import (
    MAX_NAME_LENGTH,
    DesiredAccount,
    DesiredReason,
    Presence,
    SyncConfig,
    desired_account,
    display_name,
)
from tvsync.models.okta import AppAssignmentStatus, OktaAppUser, OktaProfile, OktaUser, OktaUserStatus

APP_ID = "0oa1teamviewer"
EMAIL = "Jane.Doe@Example.test"


def profile(**fields: Any) -> OktaProfile:
    """An Okta profile from Okta's own (camelCase) attribute names."""
    data: dict[str, Any] = {"login": EMAIL, "email": EMAIL, "firstName": "Jane", "lastName": "Doe"}
    data.update(fields)
    return OktaProfile.model_validate(data)


def user(status: OktaUserStatus | str, **profile_fields: Any) -> OktaUser:
    return OktaUser.model_validate(
        {"id": "00u1", "status": status, "profile": profile(**profile_fields).model_dump(by_alias=True)}
    )


def app_user(status: AppAssignmentStatus | str) -> OktaAppUser:
    return OktaAppUser(id="00u1", status=status, scope="USER")


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --- the status table -------------------------------------------------------------------------

ENTITLED = ["ACTIVE", "PASSWORD_EXPIRED", "LOCKED_OUT", "RECOVERY", "PROVISIONED"]
REVOKED = ["SUSPENDED", "DEPROVISIONED"]

# (assignment mode) -> (assignment, config)
ASSIGNMENT_MODES: dict[str, tuple[OktaAppUser | None, SyncConfig]] = {
    "assigned": (app_user(AppAssignmentStatus.ACTIVE), SyncConfig(app_id=APP_ID)),
    "not-assigned": (None, SyncConfig(app_id=APP_ID)),
    "assignment-revoked": (app_user("UNASSIGNED"), SyncConfig(app_id=APP_ID)),
    "filter-off": (None, SyncConfig()),
}

EXPECTED_ENTITLED_BY_MODE: dict[str, tuple[Presence, DesiredReason | None]] = {
    "assigned": (Presence.ACTIVE, None),
    "not-assigned": (Presence.INACTIVE, DesiredReason.NOT_ASSIGNED),
    "assignment-revoked": (Presence.INACTIVE, DesiredReason.ASSIGNMENT_UNASSIGNED),
    "filter-off": (Presence.ACTIVE, None),
}


def _status_cases() -> list[Any]:
    cases = []
    for mode in ASSIGNMENT_MODES:
        for status in ENTITLED:
            presence, reason = EXPECTED_ENTITLED_BY_MODE[mode]
            cases.append(
                pytest.param(status, mode, presence, reason or DesiredReason[status], id=f"{status}-{mode}")
            )
        for status in REVOKED:
            cases.append(
                pytest.param(status, mode, Presence.INACTIVE, DesiredReason[status], id=f"{status}-{mode}")
            )
        cases.append(
            pytest.param("STAGED", mode, Presence.UNMANAGED, DesiredReason.STAGED, id=f"STAGED-{mode}")
        )
        cases.append(
            pytest.param(None, mode, Presence.INACTIVE, DesiredReason.DELETED, id=f"deleted-{mode}"),
        )
    return cases


def test_status_table_covers_every_okta_status() -> None:
    assert {*ENTITLED, *REVOKED, "STAGED"} == {status.value for status in OktaUserStatus}


@pytest.mark.parametrize(("status", "mode", "presence", "reason"), _status_cases())
def test_status_table(status: str | None, mode: str, presence: Presence, reason: DesiredReason) -> None:
    assignment, config = ASSIGNMENT_MODES[mode]
    okta_user = None if status is None else user(status)

    desired = desired_account(okta_user, assignment, config)

    assert desired.presence is presence
    assert desired.reason is reason
    if presence is Presence.ACTIVE:
        assert (desired.email, desired.name) == (EMAIL, "Jane Doe")
    else:
        # Deactivation never renames; the email stays known while Okta knows the user, because
        # it is how the worker finds the account.
        assert desired.name is None
        assert desired.email == (None if status is None else EMAIL)


@pytest.mark.parametrize(
    ("assignment_status", "assigned"),
    [
        *[
            pytest.param(
                status, status not in {"DEPROVISIONED", "INACTIVE", "REVOKED", "SUSPENDED", "UNASSIGNED"}
            )
            for status in AppAssignmentStatus
        ],
        pytest.param("ACTIVE", True, id="plain-string-ACTIVE"),
        pytest.param("REVOKED", False, id="plain-string-REVOKED"),
        pytest.param("SOME_FUTURE_STATUS", False, id="unknown-status-fails-closed"),
        pytest.param("active", False, id="wrong-case-is-unknown"),
    ],
)
def test_every_app_assignment_status(assignment_status: AppAssignmentStatus | str, assigned: bool) -> None:
    desired = desired_account(user("ACTIVE"), app_user(assignment_status), SyncConfig(app_id=APP_ID))

    if assigned:
        assert (desired.presence, desired.reason) == (Presence.ACTIVE, DesiredReason.ACTIVE)
    elif assignment_status in set(AppAssignmentStatus):
        assert desired.presence is Presence.INACTIVE
        assert desired.reason is DesiredReason[f"ASSIGNMENT_{assignment_status}"]
        assert desired.reason == f"not-assigned:{assignment_status}", "the value names Okta's status"
    else:
        assert (desired.presence, desired.reason) == (
            Presence.INACTIVE,
            DesiredReason.ASSIGNMENT_UNRECOGNISED,
        )


def test_filter_off_ignores_even_a_revoked_assignment() -> None:
    desired = desired_account(user("ACTIVE"), app_user("REVOKED"), SyncConfig())

    assert desired.presence is Presence.ACTIVE


def test_suspension_wins_over_assignment() -> None:
    desired = desired_account(user("SUSPENDED"), app_user("ACTIVE"), SyncConfig(app_id=APP_ID))

    assert (desired.presence, desired.reason) == (Presence.INACTIVE, DesiredReason.SUSPENDED)


# --- reasons: a closed vocabulary -------------------------------------------------------------


def _every_input() -> list[tuple[OktaUser | None, OktaAppUser | None, SyncConfig]]:
    """Every Okta status and assignment status (and one Okta does not document yet), with and
    without an app, a deleted user, and a user without a usable email."""
    users: list[OktaUser | None] = [None, *(user(status) for status in OktaUserStatus)]
    users.append(user("ACTIVE", email="", login="jdoe"))
    assignments = [
        None,
        *(app_user(status) for status in AppAssignmentStatus),
        app_user("SOME_FUTURE_STATUS"),
    ]
    configs = [SyncConfig(), SyncConfig(app_id=APP_ID)]
    return [(u, a, c) for u in users for a in assignments for c in configs]


def test_every_reason_is_a_member_of_the_vocabulary_never_free_text() -> None:
    """Whatever Okta says, the reason is one of a known set: it can be a metric dimension, and
    an unknown assignment status cannot smuggle Okta's text into it."""
    reasons = {desired_account(u, a, c).reason for u, a, c in _every_input()}

    assert all(type(reason) is DesiredReason for reason in reasons), reasons
    orphan_only = {DesiredReason.ORPHAN}  # tvsync.core.orphan's target, never an Okta user's
    assert reasons == set(DesiredReason) - orphan_only, "every reason is reachable"


@pytest.mark.parametrize("status", list(OktaUserStatus))
def test_the_reason_names_the_okta_status_that_decided(status: OktaUserStatus) -> None:
    desired = desired_account(user(status), app_user("ACTIVE"), SyncConfig(app_id=APP_ID))

    expected = "staged" if status is OktaUserStatus.STAGED else f"okta-status:{status}"
    assert desired.reason == expected


# --- email ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "presence", "email"),
    [
        pytest.param({}, Presence.ACTIVE, EMAIL, id="profile-email-case-kept"),
        pytest.param({"login": "jdoe@corp.test"}, Presence.ACTIVE, EMAIL, id="email-wins-over-login"),
        pytest.param(
            {"email": "  jane@example.test \n"}, Presence.ACTIVE, "jane@example.test", id="stripped"
        ),
        pytest.param({"email": "   "}, Presence.ACTIVE, EMAIL, id="blank-email-falls-back-to-login"),
        pytest.param({"email": "", "login": "jdoe"}, Presence.UNMANAGED, None, id="no-email-anywhere"),
    ],
)
def test_email_source(fields: dict[str, Any], presence: Presence, email: str | None) -> None:
    desired = desired_account(user("ACTIVE", **fields), None, SyncConfig())

    assert (desired.presence, desired.email) == (presence, email)
    if presence is Presence.UNMANAGED:
        assert desired.reason is DesiredReason.NO_EMAIL


@pytest.mark.parametrize(
    ("email", "name"),
    [(None, "Jane Doe"), ("jane@example.test", None), ("", "Jane Doe"), ("jane@example.test", "")],
)
def test_active_desired_account_needs_email_and_name(email: str | None, name: str | None) -> None:
    with pytest.raises(ValueError, match="email and a name"):
        DesiredAccount(Presence.ACTIVE, email=email, name=name, reason=DesiredReason.ACTIVE)


# --- display name -----------------------------------------------------------------------------

LONG_WORDS = "Maximiliane Alexandra Konstantina Wilhelmina Friederike von Hohenzollern"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({}, "Jane Doe", id="first-last"),
        pytest.param({"lastName": None}, "Jane", id="first-only"),
        pytest.param({"firstName": None}, "Doe", id="last-only"),
        pytest.param({"firstName": "  ", "lastName": "Doe"}, "Doe", id="blank-first"),
        pytest.param(
            {"firstName": None, "lastName": None, "displayName": "Jane D."},
            "Jane D.",
            id="display-name-fallback",
        ),
        pytest.param(
            {"firstName": None, "lastName": None, "displayName": None},
            "Jane.Doe",
            id="email-local-part-fallback",
        ),
        pytest.param(
            {"firstName": "  Mary \t Ann ", "lastName": "\nDoe  "}, "Mary Ann Doe", id="whitespace-collapsed"
        ),
        pytest.param(
            {"firstName": "Jane\x00", "lastName": "Doe\x7f"}, "Jane Doe", id="control-chars-dropped"
        ),
        pytest.param({"firstName": "Zoë", "lastName": "Ångström"}, "Zoë Ångström", id="latin-unicode"),
        pytest.param({"firstName": "小龙", "lastName": "李"}, "小龙 李", id="cjk"),
        pytest.param({"firstName": "Jane", "lastName": "Doe 🚀"}, "Jane Doe 🚀", id="emoji"),
        pytest.param(
            {"firstName": unicodedata.normalize("NFD", "Zoë")},
            "Zoë Doe",
            id="decomposed-accent-normalised-to-nfc",
        ),
        pytest.param(
            {"firstName": "J", "lastName": None, "displayName": "Jane Doe"},
            "Jane Doe",
            id="initial-gives-way",
        ),
        pytest.param(
            {
                "firstName": "J",
                "lastName": None,
                "displayName": None,
                "email": "j@x.test",
                "login": "j@x.test",
            },
            "J.",
            id="one-char-padded-with-dot",
        ),
        pytest.param(
            {"firstName": None, "lastName": None, "displayName": None, "email": "", "login": ""},
            "Okta user",
            id="nothing-at-all",
        ),
        pytest.param(
            {"firstName": LONG_WORDS, "lastName": None},
            "Maximiliane Alexandra Konstantina Wilhelmina",
            id="long-cut-at-word-boundary",
        ),
        pytest.param({"firstName": "A" * 60, "lastName": None}, "A" * 50, id="long-single-word-hard-cut"),
        pytest.param(
            {"firstName": "Jo", "lastName": "B" * 60}, "Jo " + "B" * 47, id="boundary-too-early-hard-cut"
        ),
        pytest.param({"firstName": "A" * 50, "lastName": None}, "A" * 50, id="exactly-fifty-kept"),
        pytest.param({"firstName": "🚀" * 30, "lastName": None}, "🚀" * 25, id="emoji-count-as-two-units"),
        pytest.param(
            {"firstName": "A" * 49 + "e\u0301\u0301", "lastName": None},
            "A" * 49,
            id="combining-marks-not-stranded",
        ),
    ],
)
def test_display_name(fields: dict[str, Any], expected: str) -> None:
    assert display_name(profile(**fields)) == expected


@given(
    first=st.none() | st.text(max_size=80),
    last=st.none() | st.text(max_size=80),
    shown=st.none() | st.text(max_size=80),
    email=st.text(max_size=40),
)
def test_display_name_always_fits_teamviewer(
    first: str | None, last: str | None, shown: str | None, email: str
) -> None:
    name = display_name(profile(firstName=first, lastName=last, displayName=shown, email=email, login=email))

    assert len(name) >= 2
    assert utf16_units(name) <= MAX_NAME_LENGTH
    assert name == name.strip()
    assert "  " not in name
    # Idempotent: a name that TeamViewer already holds derives to itself.
    assert display_name(profile(firstName=name, lastName=None)) == name
