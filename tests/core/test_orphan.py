"""Table tests for the worker's verdict on an orphan, and the facts it asks for on the way."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tvsync.core.desired_state import DesiredReason, Presence
from tvsync.core.orphan import OrphanFacts, judge_orphan, orphan_target
from tvsync.core.plan import Need, Operation, Plan, PlanReason
from tvsync.models.teamviewer import TeamViewerAccount

OWNER = "u0000001"


def account(*, active: bool | None = True, id: str = "u1") -> TeamViewerAccount:
    return TeamViewerAccount(id=id, email="ghost@example.test", name="Ghost", active=active)


def verdict(facts: OrphanFacts, *, owner: str = OWNER, claimed: bool = False) -> tuple[Plan, list[Need]]:
    """Ask until there is a plan, answering each need as the worker would; returns the needs asked."""
    asked: list[Need] = []
    while not isinstance(answer := judge_orphan(facts), Plan):
        assert answer not in asked, f"asked for {answer} twice"
        asked.append(answer)
        facts = (
            replace(facts, token_owner_id=owner)
            if answer is Need.TOKEN_OWNER
            else replace(facts, claimed=claimed)
        )
    return answer, asked


@pytest.mark.parametrize(
    ("current", "claimed", "operations", "reason", "asked"),
    [
        pytest.param(None, False, (), PlanReason.ORPHAN_GONE, [], id="gone-costs-nothing-more"),
        pytest.param(
            account(active=False), False, (), PlanReason.ALREADY_INACTIVE, [], id="already-inactive"
        ),
        pytest.param(
            account(id=OWNER), False, (), PlanReason.TOKEN_OWNER_PROTECTED, [Need.TOKEN_OWNER], id="owner"
        ),
        pytest.param(
            account(id=OWNER, active=None),
            True,
            (),
            PlanReason.TOKEN_OWNER_PROTECTED,
            [Need.TOKEN_OWNER],
            id="owner-unknown-state-no-claims-check",
        ),
        pytest.param(
            account(),
            True,
            (),
            PlanReason.ORPHAN_CLAIMED,
            [Need.TOKEN_OWNER, Need.CLAIMS],
            id="claimed-since-adopted-not-revoked",
        ),
        pytest.param(
            account(),
            False,
            (Operation.DEACTIVATE,),
            PlanReason.ORPHAN,
            [Need.TOKEN_OWNER, Need.CLAIMS],
            id="deactivated",
        ),
        pytest.param(
            account(active=None),
            False,
            (Operation.DEACTIVATE,),
            PlanReason.ORPHAN,
            [Need.TOKEN_OWNER, Need.CLAIMS],
            id="unknown-state-still-deactivated",
        ),
    ],
)
def test_orphan_verdict(
    current: TeamViewerAccount | None,
    claimed: bool,
    operations: tuple[Operation, ...],
    reason: PlanReason,
    asked: list[Need],
) -> None:
    plan, needs = verdict(OrphanFacts(current), claimed=claimed)

    assert (plan.operations, plan.reason, needs) == (operations, reason, asked)
    assert plan.account_id == (current.id if current is not None else None)


def test_a_token_owner_already_known_is_not_asked_for() -> None:
    _, needs = verdict(OrphanFacts(account(), token_owner_id=OWNER))

    assert needs == [Need.CLAIMS]


@pytest.mark.parametrize("current", [account(), None], ids=["found", "gone"])
def test_orphan_target_is_inactive_and_known_by_the_accounts_email(current: TeamViewerAccount | None) -> None:
    target = orphan_target(current)

    assert (target.presence, target.name, target.reason) == (Presence.INACTIVE, None, DesiredReason.ORPHAN)
    assert target.email == (current.email if current is not None else None)
