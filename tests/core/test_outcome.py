"""Table tests for how a sync is recorded: adoption, the reason kept, and what dates ``last_applied_at``."""

from __future__ import annotations

import pytest

from tvsync.core.outcome import Detail, Outcome, RecordedReason, is_adoption, recorded, records_change
from tvsync.core.plan import Operation, PlanReason

CREATE, ACTIVATE, DEACTIVATE, RENAME = (
    Operation.CREATE,
    Operation.ACTIVATE,
    Operation.DEACTIVATE,
    Operation.RENAME,
)
CONFLICT_REASON = Detail("email in use by a TeamViewer account outside the company")


@pytest.mark.parametrize(
    ("before", "after", "operations", "adopted"),
    [
        pytest.param(None, "u1", (), True, id="unmapped-user-found-an-account"),
        pytest.param(None, "u1", (ACTIVATE, RENAME), True, id="found-and-changed"),
        pytest.param(None, "u1", (DEACTIVATE,), True, id="found-and-revoked"),
        pytest.param("u1", "u2", (), True, id="mapped-account-gone-another-found"),
        pytest.param(None, "u1", (CREATE,), False, id="created-not-adopted"),
        pytest.param("u1", "u1", (), False, id="mapping-unchanged"),
        pytest.param("u1", "u1", (RENAME,), False, id="known-account-changed"),
        pytest.param("u1", None, (), False, id="mapping-dropped"),
        pytest.param(None, None, (), False, id="no-account-at-all"),
    ],
)
def test_adoption_table(
    before: str | None, after: str | None, operations: tuple[Operation, ...], adopted: bool
) -> None:
    assert is_adoption(before, after, operations) is adopted


@pytest.mark.parametrize(
    ("outcome", "reason", "adopted", "dry_run", "expected"),
    [
        # Not adopted: recorded as the sync ended.
        pytest.param(
            Outcome.NO_CHANGE,
            PlanReason.IN_SYNC,
            False,
            False,
            (Outcome.NO_CHANGE, PlanReason.IN_SYNC),
            id="plain-no-change",
        ),
        pytest.param(
            Outcome.APPLIED,
            PlanReason.CREATE,
            False,
            False,
            (Outcome.APPLIED, PlanReason.CREATE),
            id="plain-create",
        ),
        # Adopted: the outcome says whether anything else was changed, the reason says adopted.
        pytest.param(
            Outcome.NO_CHANGE,
            PlanReason.CREATE,
            True,
            False,
            (Outcome.ADOPTED, PlanReason.ADOPTED),
            id="adopted-as-it-was",
        ),
        pytest.param(
            Outcome.NO_CHANGE,
            PlanReason.ALREADY_INACTIVE,
            True,
            False,
            (Outcome.ADOPTED, PlanReason.ADOPTED),
            id="adopted-inactive-account-of-revoked-user",
        ),
        pytest.param(
            Outcome.APPLIED,
            PlanReason.CONVERGE,
            True,
            False,
            (Outcome.APPLIED, PlanReason.ADOPTED),
            id="adopted-and-changed",
        ),
        pytest.param(
            Outcome.APPLIED,
            PlanReason.DEACTIVATE,
            True,
            False,
            (Outcome.APPLIED, PlanReason.ADOPTED),
            id="adopted-and-revoked",
        ),
        # A worker with DRY_RUN: the adoption is what it would do.
        pytest.param(
            Outcome.NO_CHANGE,
            PlanReason.IN_SYNC,
            True,
            True,
            (Outcome.DRY_RUN, PlanReason.ADOPTED),
            id="dry-run-adoption-as-it-is",
        ),
        pytest.param(
            Outcome.DRY_RUN,
            PlanReason.CONVERGE,
            True,
            True,
            (Outcome.DRY_RUN, PlanReason.ADOPTED),
            id="dry-run-adoption-with-changes",
        ),
        pytest.param(
            Outcome.NO_CHANGE,
            PlanReason.IN_SYNC,
            False,
            True,
            (Outcome.NO_CHANGE, PlanReason.IN_SYNC),
            id="dry-run-nothing-to-do",
        ),
        # A problem, or a reason that matters more, is kept.
        pytest.param(
            Outcome.CONFLICT,
            CONFLICT_REASON,
            True,
            False,
            (Outcome.CONFLICT, CONFLICT_REASON),
            id="adopted-but-email-conflict",
        ),
        pytest.param(
            Outcome.INVALID,
            Detail("TeamViewer answered 400"),
            True,
            False,
            (Outcome.INVALID, Detail("TeamViewer answered 400")),
            id="adopted-but-refused",
        ),
        pytest.param(
            Outcome.NO_CHANGE,
            PlanReason.TOKEN_OWNER_PROTECTED,
            True,
            False,
            (Outcome.ADOPTED, PlanReason.TOKEN_OWNER_PROTECTED),
            id="adopted-token-owner-stays-protected",
        ),
    ],
)
def test_recorded_outcome_table(
    outcome: Outcome,
    reason: RecordedReason,
    adopted: bool,
    dry_run: bool,
    expected: tuple[Outcome, RecordedReason],
) -> None:
    assert recorded(outcome, reason, adopted=adopted, dry_run=dry_run) == expected


@pytest.mark.parametrize(
    ("outcome", "operations", "adopted", "changed"),
    [
        pytest.param(Outcome.APPLIED, (CREATE,), False, True, id="applied"),
        pytest.param(Outcome.APPLIED, (RENAME,), True, True, id="adopted-and-applied"),
        pytest.param(Outcome.ADOPTED, (), True, True, id="adopted"),
        pytest.param(Outcome.CONFLICT, (ACTIVATE, RENAME), False, True, id="conflict-with-changes-made"),
        pytest.param(Outcome.CONFLICT, (), False, False, id="conflict-nothing-made"),
        pytest.param(Outcome.CONFLICT, (), True, True, id="conflict-after-adoption"),
        pytest.param(Outcome.INVALID, (), True, True, id="refused-after-adoption"),
        pytest.param(Outcome.INVALID, (), False, False, id="refused"),
        pytest.param(Outcome.NO_CHANGE, (), False, False, id="no-change"),
        pytest.param(Outcome.DRY_RUN, (CREATE,), False, False, id="dry-run"),
        pytest.param(Outcome.DRY_RUN, (ACTIVATE,), True, False, id="dry-run-adoption"),
        pytest.param(Outcome.RETRYING, (), False, False, id="retrying"),
        pytest.param(Outcome.CREATING, (), False, False, id="creating"),
    ],
)
def test_what_dates_last_applied_at(
    outcome: Outcome, operations: tuple[Operation, ...], adopted: bool, changed: bool
) -> None:
    assert records_change(outcome, operations, adopted=adopted) is changed


def test_the_adopted_reason_and_outcome_are_stored_words() -> None:
    """SyncStateTable, the logs and ``tvsync status`` hold these strings: they must not drift."""
    assert (Outcome.ADOPTED.value, PlanReason.ADOPTED.value) == ("adopted", "account-adopted")
