"""Table tests for which account a sync plans against, and where it looks when that account fails it."""

from __future__ import annotations

import pytest

from tests.core.sync_states import ACCOUNT, ACTIVE, EMAIL, MAPPED, T0, UNMAPPED, sync_state
from tvsync.core.desired_state import DesiredAccount, DesiredReason, Presence
from tvsync.core.lookup import (
    AccountSource,
    LookUp,
    NoLookup,
    RereadMapped,
    TrustStored,
    account_source,
    after_create_conflict,
    after_missing_account,
    claimed_by_another_user,
    interrupted_create,
    mapping_lost,
)
from tvsync.core.outcome import Outcome
from tvsync.core.plan import PlanReason
from tvsync.models.sync_state import SyncState
from tvsync.models.teamviewer import TeamViewerAccount

OLD_EMAIL = "jane.smith@example.test"
REVOKED = DesiredAccount(Presence.INACTIVE, email=EMAIL, name=None, reason=DesiredReason.SUSPENDED)
DELETED = DesiredAccount(Presence.INACTIVE, email=None, name=None, reason=DesiredReason.DELETED)
# The last run looked for this email, scanned the company and found nothing.
SCANNED = sync_state(email=EMAIL.upper(), last_reason=PlanReason.NO_ACCOUNT)
SCANNED_OTHER_EMAIL = sync_state(email=OLD_EMAIL, last_reason=PlanReason.NO_ACCOUNT)
# An id without the account's email and name is no view to plan against.
ID_ONLY = sync_state(teamviewer_id="u1", email=EMAIL)


@pytest.mark.parametrize(
    ("desired", "previous", "refresh", "dry_run", "expected"),
    [
        # A mapped account is trusted as last seen: no call.
        pytest.param(ACTIVE, MAPPED, False, False, TrustStored(ACCOUNT), id="mapped-trusted"),
        pytest.param(REVOKED, MAPPED, False, False, TrustStored(ACCOUNT), id="mapped-trusted-to-revoke"),
        pytest.param(DELETED, MAPPED, False, True, TrustStored(ACCOUNT), id="mapped-trusted-in-dry-run"),
        # The reconciler saw something else in TeamViewer: read it again; if gone, as unmapped.
        pytest.param(
            ACTIVE,
            MAPPED,
            True,
            False,
            RereadMapped("u1", if_gone=NoLookup(create_tells=True)),
            id="reread-keep",
        ),
        pytest.param(
            REVOKED,
            MAPPED,
            True,
            False,
            RereadMapped("u1", if_gone=LookUp(EMAIL, scan=True)),
            id="reread-revoke",
        ),
        # Unknown user to be created: the create says whether the account exists.
        pytest.param(ACTIVE, None, False, False, NoLookup(create_tells=True), id="new-user-create-tells"),
        pytest.param(ACTIVE, ID_ONLY, False, False, NoLookup(create_tells=True), id="incomplete-view"),
        # A dry run creates nothing, so it looks: exactly, then ignoring case.
        pytest.param(ACTIVE, None, False, True, LookUp(EMAIL, scan=True), id="dry-run-looks"),
        # An account to revoke must be found whatever the case of its email.
        pytest.param(REVOKED, None, False, False, LookUp(EMAIL, scan=True), id="revoke-scans"),
        pytest.param(REVOKED, UNMAPPED, False, False, LookUp(EMAIL, scan=True), id="revoke-known-user-scans"),
        # ... unless the last run already scanned for this email (in any case) and found nothing.
        pytest.param(REVOKED, SCANNED, False, False, LookUp(EMAIL, scan=False), id="already-scanned"),
        pytest.param(REVOKED, SCANNED, True, False, LookUp(EMAIL, scan=True), id="reconcile-saw-one-scans"),
        pytest.param(
            REVOKED, SCANNED_OTHER_EMAIL, False, False, LookUp(EMAIL, scan=True), id="scanned-another"
        ),
        # A deleted Okta user is found by the email recorded for them.
        pytest.param(
            DELETED, UNMAPPED, False, False, LookUp(EMAIL, scan=True), id="deleted-by-recorded-email"
        ),
        pytest.param(
            DELETED, None, False, False, NoLookup(create_tells=False), id="deleted-nothing-to-look-for"
        ),
    ],
)
def test_account_source(
    desired: DesiredAccount, previous: SyncState | None, refresh: bool, dry_run: bool, expected: AccountSource
) -> None:
    assert account_source(desired, previous, refresh=refresh, dry_run=dry_run) == expected


@pytest.mark.parametrize(
    ("previous", "current", "lost"),
    [
        pytest.param(MAPPED, None, True, id="mapped-and-gone"),
        pytest.param(MAPPED, ACCOUNT, False, id="mapped-and-found"),
        pytest.param(UNMAPPED, None, False, id="never-mapped"),
        pytest.param(ID_ONLY, None, False, id="no-complete-view"),
        pytest.param(None, None, False, id="no-record"),
    ],
)
def test_mapping_lost(previous: SyncState | None, current: TeamViewerAccount | None, lost: bool) -> None:
    assert mapping_lost(previous, current) is lost


@pytest.mark.parametrize(
    ("status", "desired", "previous", "expected"),
    [
        # The mapped account left the company: look the user up again and re-plan.
        pytest.param(404, REVOKED, MAPPED, LookUp(EMAIL, scan=True), id="404-revoke-scans"),
        pytest.param(404, ACTIVE, MAPPED, LookUp(EMAIL, scan=False), id="404-keep-create-tells"),
        pytest.param(404, DELETED, MAPPED, NoLookup(create_tells=False), id="404-no-email"),
        # The refusal stands.
        pytest.param(400, REVOKED, MAPPED, None, id="other-status"),
        pytest.param(None, REVOKED, MAPPED, None, id="no-status"),
        pytest.param(404, REVOKED, UNMAPPED, None, id="nothing-mapped-to-lose"),
        pytest.param(404, REVOKED, None, None, id="second-404-is-final"),
    ],
)
def test_after_missing_account(
    status: int | None,
    desired: DesiredAccount,
    previous: SyncState | None,
    expected: LookUp | NoLookup | None,
) -> None:
    assert after_missing_account(status, desired, previous) == expected


@pytest.mark.parametrize(
    ("previous", "scan"),
    [
        pytest.param(None, True, id="first-conflict-scans"),
        pytest.param(UNMAPPED, True, id="known-user-scans"),
        pytest.param(sync_state(last_outcome=Outcome.CONFLICT), False, id="repeat-conflict-exact-only"),
    ],
)
def test_after_create_conflict(previous: SyncState | None, scan: bool) -> None:
    assert after_create_conflict(EMAIL, previous) == LookUp(EMAIL, scan=scan)


def test_an_interrupted_create_is_looked_for_by_the_email_it_was_created_with() -> None:
    crashed = sync_state(
        email=EMAIL, pending_create_email=OLD_EMAIL, pending_create_at=T0, last_outcome="creating"
    )

    assert interrupted_create(crashed) == LookUp(OLD_EMAIL, scan=True)
    assert interrupted_create(UNMAPPED) is None


@pytest.mark.parametrize(
    ("records", "claimed"),
    [
        pytest.param([sync_state(okta_user_id="00u2", teamviewer_id="u1")], True, id="another-user-maps-it"),
        pytest.param([sync_state(okta_user_id="00u1", teamviewer_id="u1")], False, id="this-user-maps-it"),
        pytest.param([sync_state(okta_user_id="00u2", teamviewer_id="u9")], False, id="another-account"),
        pytest.param([], False, id="nobody"),
    ],
)
def test_claimed_by_another_user(records: list[SyncState], claimed: bool) -> None:
    assert claimed_by_another_user("00u1", "u1", records) is claimed
