"""Table tests for what a sync leaves in SyncStateTable, and for settling an interrupted create."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.core.sync_states import ACCOUNT, ACTIVE, EMAIL, MAPPED, T0, UNMAPPED, sync_state
from tvsync.core.desired_state import DesiredAccount, DesiredReason, Presence
from tvsync.core.outcome import Detail, Outcome, RecordedReason
from tvsync.core.plan import Operation, Plan, PlanReason
from tvsync.core.record import (
    SyncEnd,
    SyncStart,
    end_after_writes,
    end_without_writes,
    record_sync,
    settle_interrupted_create,
)
from tvsync.models.sync_request import SyncRequest
from tvsync.models.sync_state import SyncState
from tvsync.models.teamviewer import TeamViewerAccount

NOW = T0 + timedelta(minutes=5)
CREATE, DEACTIVATE, RENAME = Operation.CREATE, Operation.DEACTIVATE, Operation.RENAME

OTHER = TeamViewerAccount(id="u2", email=EMAIL, name="Jane Doe", active=True)


def request(*, published: datetime = T0, teamviewer_id: str | None = None) -> SyncRequest:
    return SyncRequest(
        okta_user_id="00u1",
        event_uuid="evt-2",
        event_type="user.account.update_profile",
        published=published,
        teamviewer_id=teamviewer_id,
    )


@pytest.mark.parametrize(
    ("previous", "settled", "orphan", "end", "expected"),
    [
        pytest.param(
            None,
            False,
            False,
            SyncEnd(Outcome.APPLIED, PlanReason.CREATE, (CREATE,), ACCOUNT),
            (Outcome.APPLIED, PlanReason.CREATE, "u1", True, False, False),
            id="created-not-adopted",
        ),
        pytest.param(
            UNMAPPED,
            False,
            False,
            SyncEnd(Outcome.NO_CHANGE, PlanReason.IN_SYNC, (), ACCOUNT),
            (Outcome.ADOPTED, PlanReason.ADOPTED, "u1", True, True, True),
            id="found-and-adopted",
        ),
        pytest.param(
            UNMAPPED,
            False,
            False,
            SyncEnd(Outcome.APPLIED, PlanReason.CONVERGE, (RENAME,), ACCOUNT),
            (Outcome.APPLIED, PlanReason.ADOPTED, "u1", True, True, True),
            id="found-changed-and-adopted",
        ),
        pytest.param(
            None,
            False,
            False,
            SyncEnd(Outcome.CONFLICT, PlanReason.EMAIL_IN_USE, (), ACCOUNT),
            (Outcome.CONFLICT, PlanReason.EMAIL_IN_USE, "u1", True, True, True),
            id="adopted-but-the-problem-is-recorded",
        ),
        pytest.param(
            None,
            False,
            False,
            SyncEnd(Outcome.NO_CHANGE, PlanReason.TOKEN_OWNER_PROTECTED, (), ACCOUNT),
            (Outcome.ADOPTED, PlanReason.TOKEN_OWNER_PROTECTED, "u1", True, True, True),
            id="token-owner-reason-kept",
        ),
        pytest.param(
            MAPPED,
            False,
            False,
            SyncEnd(Outcome.NO_CHANGE, PlanReason.IN_SYNC, (), ACCOUNT),
            (Outcome.NO_CHANGE, PlanReason.IN_SYNC, "u1", False, False, False),
            id="mapped-nothing-to-do",
        ),
        pytest.param(
            MAPPED,
            False,
            False,
            SyncEnd(Outcome.NO_CHANGE, PlanReason.IN_SYNC, (), OTHER),
            (Outcome.ADOPTED, PlanReason.ADOPTED, "u2", True, True, True),
            id="mapped-account-replaced",
        ),
        pytest.param(
            MAPPED,
            False,
            False,
            SyncEnd(Outcome.NO_CHANGE, PlanReason.NO_ACCOUNT, (), None, forget=True),
            (Outcome.NO_CHANGE, PlanReason.NO_ACCOUNT, None, False, False, False),
            id="gone-mapping-forgotten",
        ),
        pytest.param(
            MAPPED,
            False,
            False,
            SyncEnd(Outcome.NO_CHANGE, PlanReason.STAGED),
            (Outcome.NO_CHANGE, PlanReason.STAGED, "u1", False, False, False),
            id="no-account-seen-mapping-kept",
        ),
        pytest.param(
            MAPPED,
            True,
            False,
            SyncEnd(Outcome.NO_CHANGE, PlanReason.IN_SYNC, (), ACCOUNT),
            (Outcome.ADOPTED, PlanReason.ADOPTED, "u1", True, True, False),
            id="settled-at-start-recorded-not-counted-again",
        ),
        pytest.param(
            None,
            False,
            True,
            SyncEnd(Outcome.APPLIED, PlanReason.ORPHAN, (DEACTIVATE,), ACCOUNT),
            (Outcome.APPLIED, PlanReason.ORPHAN, "u1", True, False, False),
            id="orphan-adopts-nothing",
        ),
        pytest.param(
            MAPPED,
            False,
            False,
            SyncEnd(
                Outcome.INVALID, Detail("teamviewer update_user failed (HTTP 400): bad name"), (), ACCOUNT
            ),
            (
                Outcome.INVALID,
                "teamviewer update_user failed (HTTP 400): bad name",
                "u1",
                False,
                False,
                False,
            ),
            id="refusal-recorded-as-is",
        ),
    ],
)
def test_record_sync(
    previous: SyncState | None,
    settled: bool,
    orphan: bool,
    end: SyncEnd,
    expected: tuple[Outcome, RecordedReason, str | None, bool, bool, bool],
) -> None:
    start = SyncStart(request(teamviewer_id="u1" if orphan else None), previous, ACTIVE, settled=settled)

    done = record_sync(start, end, dry_run=False, now=NOW)

    outcome, reason, mapped, dated, adopted, counted = expected
    assert (done.outcome, done.reason, done.state.teamviewer_id) == (outcome, reason, mapped)
    assert (done.state.last_outcome, done.state.last_reason) == (outcome.value, reason)
    assert (done.state.last_applied_at == NOW) is dated
    assert (done.adopted, done.counts_adoption) == (adopted, counted)
    assert done.state.last_operations == [op.value for op in end.operations]
    assert done.state.updated_at == NOW


def test_a_dry_run_records_the_adoption_it_would_make_without_counting_or_dating_it() -> None:
    start = SyncStart(request(), UNMAPPED, ACTIVE)

    done = record_sync(
        start, SyncEnd(Outcome.NO_CHANGE, PlanReason.IN_SYNC, (), ACCOUNT), dry_run=True, now=NOW
    )

    assert (done.outcome, done.reason, done.state.teamviewer_id) == (
        Outcome.DRY_RUN,
        PlanReason.ADOPTED,
        "u1",
    )
    assert (done.adopted, done.counts_adoption, done.state.last_applied_at) == (True, False, None)


def test_a_finished_sync_clears_the_pending_create_and_keeps_what_it_did_not_touch() -> None:
    pending = MAPPED.model_copy(
        update={"pending_create_email": EMAIL, "pending_create_at": T0, "last_applied_at": T0}
    )
    start = SyncStart(
        request(),
        pending,
        DesiredAccount(Presence.INACTIVE, email=None, name=None, reason=DesiredReason.DELETED),
    )

    done = record_sync(start, SyncEnd(Outcome.NO_CHANGE, PlanReason.IN_SYNC), dry_run=False, now=NOW)

    assert (done.state.pending_create_email, done.state.pending_create_at) == (None, None)
    assert (done.state.email, done.state.last_applied_at) == (EMAIL, T0), (
        "kept: Okta no longer says, nothing applied"
    )


@pytest.mark.parametrize(
    ("published", "moves"),
    [
        pytest.param(T0 + timedelta(seconds=1), True, id="newer-event"),
        pytest.param(T0, True, id="same-time"),
        pytest.param(T0 - timedelta(seconds=1), False, id="older-event-redelivered"),
    ],
)
def test_the_event_fields_only_move_forward_in_oktas_time(published: datetime, moves: bool) -> None:
    previous = MAPPED.model_copy(update={"last_event_uuid": "evt-1", "last_published": T0})
    start = SyncStart(request(published=published), previous, ACTIVE)

    done = record_sync(
        start, SyncEnd(Outcome.NO_CHANGE, PlanReason.IN_SYNC, (), ACCOUNT), dry_run=False, now=NOW
    )

    assert done.state.last_event_uuid == ("evt-2" if moves else "evt-1")
    assert done.state.last_outcome == "no-change", "recorded as synced either way"


def test_a_refusal_that_quotes_an_email_is_recorded_masked() -> None:
    start = SyncStart(request(), MAPPED, ACTIVE)
    detail = Detail("teamviewer create_user failed (HTTP 400): jane.doe@example.test is not allowed")

    done = record_sync(start, SyncEnd(Outcome.INVALID, detail), dry_run=False, now=NOW)

    assert (
        done.state.last_reason == "teamviewer create_user failed (HTTP 400): j***@example.test is not allowed"
    )


PLAN = Plan((RENAME,), PlanReason.CONVERGE, email=EMAIL, name="Jane Doe", account_id="u1")
NOOP = Plan((), PlanReason.IN_SYNC, email=EMAIL, name="Jane Doe", account_id="u1")


@pytest.mark.parametrize(
    ("plan", "dry_run", "forget", "expected"),
    [
        pytest.param(
            NOOP, False, False, SyncEnd(Outcome.NO_CHANGE, PlanReason.IN_SYNC, (), ACCOUNT), id="noop"
        ),
        pytest.param(
            NOOP,
            True,
            True,
            SyncEnd(Outcome.NO_CHANGE, PlanReason.IN_SYNC, (), ACCOUNT, forget=True),
            id="noop-dry",
        ),
        pytest.param(
            PLAN,
            True,
            False,
            SyncEnd(Outcome.DRY_RUN, PlanReason.CONVERGE, (RENAME,), ACCOUNT),
            id="dry-run-plans",
        ),
        pytest.param(PLAN, False, False, None, id="execute"),
    ],
)
def test_end_without_writes(plan: Plan, dry_run: bool, forget: bool, expected: SyncEnd | None) -> None:
    assert end_without_writes(plan, ACCOUNT, forget=forget, dry_run=dry_run) == expected


@pytest.mark.parametrize(
    ("account", "operations", "refused", "expected"),
    [
        pytest.param(
            ACCOUNT,
            (RENAME,),
            False,
            SyncEnd(Outcome.APPLIED, PlanReason.CONVERGE, (RENAME,), ACCOUNT),
            id="applied",
        ),
        pytest.param(
            ACCOUNT, (), False, SyncEnd(Outcome.NO_CHANGE, PlanReason.CONVERGE, (), ACCOUNT), id="nothing"
        ),
        pytest.param(
            None, (), False, SyncEnd(Outcome.NO_CHANGE, PlanReason.CONVERGE, (), None, forget=True), id="gone"
        ),
        pytest.param(
            ACCOUNT,
            (RENAME,),
            True,
            SyncEnd(Outcome.CONFLICT, PlanReason.EMAIL_IN_USE, (RENAME,), ACCOUNT),
            id="rest-applied-email-refused",
        ),
    ],
)
def test_end_after_writes(
    account: TeamViewerAccount | None, operations: tuple[Operation, ...], refused: bool, expected: SyncEnd
) -> None:
    assert end_after_writes(account, operations, PlanReason.CONVERGE, email_refused=refused) == expected


CRASHED = sync_state(
    email="new.name@example.test",
    pending_create_email=EMAIL,
    pending_create_at=T0,
    last_outcome="creating",
)


@pytest.mark.parametrize(
    ("previous", "found", "claimed", "dry_run", "expected"),
    [
        pytest.param(CRASHED, ACCOUNT, False, False, ("u1", True, NOW), id="found-adopted-and-dated"),
        pytest.param(CRASHED, ACCOUNT, False, True, ("u1", True, None), id="dry-run-adopts-undated"),
        pytest.param(CRASHED, ACCOUNT, True, False, (None, False, None), id="another-users-account"),
        pytest.param(CRASHED, None, False, False, (None, False, None), id="never-created"),
        pytest.param(
            CRASHED.model_copy(update={"teamviewer_id": "u1"}),
            ACCOUNT,
            False,
            False,
            ("u1", False, None),
            id="same",
        ),
    ],
)
def test_settle_interrupted_create(
    previous: SyncState,
    found: TeamViewerAccount | None,
    claimed: bool,
    dry_run: bool,
    expected: tuple[str | None, bool, datetime | None],
) -> None:
    settled = settle_interrupted_create(previous, found, claimed_by_another=claimed, dry_run=dry_run, now=NOW)

    mapped, adopted, dated = expected
    assert (settled.state.teamviewer_id, settled.adopted, settled.state.last_applied_at) == (
        mapped,
        adopted,
        dated,
    )
    assert settled.account == (found if mapped else None)
    assert settled.state.pending_create_email is None, "settled either way"
    assert settled.state.last_outcome == "creating", "the sync records its own outcome when it ends"
