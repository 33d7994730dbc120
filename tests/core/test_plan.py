"""Table and property tests for the diff between the desired and the current TeamViewer account."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tvsync.core.desired_state import DesiredAccount, DesiredReason, Presence, SyncConfig, desired_account
from tvsync.core.plan import (
    Need,
    Operation,
    Plan,
    PlannedUpdate,
    PlanReason,
    account_after,
    after_email_refused,
    emails_match,
    plan_changes,
    plan_sync,
    to_update,
    unmanaged_reason,
    without_email_change,
)
from tvsync.models.okta import AppAssignmentStatus, OktaAppUser, OktaUser, OktaUserStatus
from tvsync.models.teamviewer import TeamViewerAccount

APP_ID = "0oa1teamviewer"
EMAIL = "jane.doe@example.test"
NAME = "Jane Doe"
ACCOUNT_ID = "u1234567"
TOKEN_OWNER = "u0000001"

CREATE, ACTIVATE, DEACTIVATE, RENAME, CHANGE_EMAIL = (
    Operation.CREATE,
    Operation.ACTIVATE,
    Operation.DEACTIVATE,
    Operation.RENAME,
    Operation.CHANGE_EMAIL,
)


def account(
    *, email: str = EMAIL, name: str = NAME, active: bool | None = True, id: str = ACCOUNT_ID
) -> TeamViewerAccount:
    return TeamViewerAccount(id=id, email=email, name=name, active=active)


# The TeamViewer side of every table: what the worker found for the user's email.
TEAMVIEWER_STATES: dict[str, TeamViewerAccount | None] = {
    "tv-absent": None,
    "tv-active": account(),
    "tv-inactive": account(active=False),
    "tv-other-name": account(name="Jane Smith"),
    "tv-other-email": account(email="jane.smith@example.test"),
    "tv-email-case-only": account(email="Jane.Doe@EXAMPLE.test"),
    "tv-inactive-all-different": account(email="old@example.test", name="Old Name", active=False),
    "tv-name-case-only": account(name="jane doe"),
    "tv-active-unknown": account(active=None),
    "tv-active-unknown-other-name": account(name="Jane Smith", active=None),
}

# What an ACTIVE target needs on each of them (ACTIVATE, CHANGE_EMAIL, RENAME in that order).
EXPECTED_FOR_ACTIVE: dict[str, tuple[Operation, ...]] = {
    "tv-absent": (CREATE,),
    "tv-active": (),
    "tv-inactive": (ACTIVATE,),
    "tv-other-name": (RENAME,),
    "tv-other-email": (CHANGE_EMAIL,),
    "tv-email-case-only": (),
    "tv-inactive-all-different": (ACTIVATE, CHANGE_EMAIL, RENAME),
    "tv-name-case-only": (RENAME,),
    "tv-active-unknown": (),  # unknown is no evidence of an inactive account
    "tv-active-unknown-other-name": (RENAME,),
}


def expected_for_inactive(tv_state: str) -> tuple[Operation, ...]:
    current = TEAMVIEWER_STATES[tv_state]
    # Only a definite False is already inactive: unknown is possibly active, and revoked.
    return (DEACTIVATE,) if current is not None and current.active is not False else ()


# --- plan table -------------------------------------------------------------------------------

ACTIVE_TARGET = DesiredAccount(Presence.ACTIVE, email=EMAIL, name=NAME, reason=DesiredReason.ACTIVE)
INACTIVE_TARGET = DesiredAccount(Presence.INACTIVE, email=EMAIL, name=None, reason=DesiredReason.SUSPENDED)
DELETED_TARGET = DesiredAccount(Presence.INACTIVE, email=None, name=None, reason=DesiredReason.DELETED)
UNMANAGED_TARGET = DesiredAccount(Presence.UNMANAGED, email=EMAIL, name=None, reason=DesiredReason.STAGED)


def _plan_cases() -> list[Any]:
    cases = []
    for tv_state, current in TEAMVIEWER_STATES.items():
        ops = EXPECTED_FOR_ACTIVE[tv_state]
        reason = {(): PlanReason.IN_SYNC, (CREATE,): PlanReason.CREATE}.get(ops, PlanReason.CONVERGE)
        cases.append(pytest.param(ACTIVE_TARGET, tv_state, ops, reason, id=f"active-{tv_state}"))
        for label, target in (("inactive", INACTIVE_TARGET), ("deleted", DELETED_TARGET)):
            ops = expected_for_inactive(tv_state)
            if current is None:
                reason = PlanReason.NO_ACCOUNT
            else:
                reason = PlanReason.DEACTIVATE if ops else PlanReason.ALREADY_INACTIVE
            cases.append(pytest.param(target, tv_state, ops, reason, id=f"{label}-{tv_state}"))
        cases.append(
            pytest.param(UNMANAGED_TARGET, tv_state, (), PlanReason.UNMANAGED, id=f"unmanaged-{tv_state}")
        )
    return cases


@pytest.mark.parametrize(("desired", "tv_state", "operations", "reason"), _plan_cases())
def test_plan_table(
    desired: DesiredAccount, tv_state: str, operations: tuple[Operation, ...], reason: str
) -> None:
    current = TEAMVIEWER_STATES[tv_state]

    plan = plan_changes(desired, current, token_owner_id=TOKEN_OWNER)

    assert plan.operations == operations
    assert plan.reason == reason
    assert plan.is_noop is (operations == ())
    assert plan.account_id == (current.id if current is not None else None)
    if desired.presence is Presence.ACTIVE:
        # Targets are Okta's values, not TeamViewer's, even when only case differs.
        assert (plan.email, plan.name) == (EMAIL, NAME)


@pytest.mark.parametrize(
    ("desired", "current", "token_owner_id", "operations", "reason"),
    [
        pytest.param(
            INACTIVE_TARGET,
            account(id=TOKEN_OWNER),
            TOKEN_OWNER,
            (),
            PlanReason.TOKEN_OWNER_PROTECTED,
            id="suspended-token-owner-kept",
        ),
        pytest.param(
            DELETED_TARGET,
            account(id=TOKEN_OWNER),
            TOKEN_OWNER,
            (),
            PlanReason.TOKEN_OWNER_PROTECTED,
            id="deleted-token-owner-kept",
        ),
        pytest.param(
            INACTIVE_TARGET,
            account(),
            TOKEN_OWNER,
            (DEACTIVATE,),
            PlanReason.DEACTIVATE,
            id="other-user-deactivated",
        ),
        pytest.param(
            INACTIVE_TARGET,
            account(),
            None,
            (DEACTIVATE,),
            PlanReason.DEACTIVATE,
            id="owner-unknown-deactivated",
        ),
        pytest.param(
            ACTIVE_TARGET,
            account(id=TOKEN_OWNER, name="Old Name"),
            TOKEN_OWNER,
            (RENAME,),
            PlanReason.CONVERGE,
            id="token-owner-still-renamed",
        ),
        pytest.param(
            INACTIVE_TARGET,
            account(id=TOKEN_OWNER, active=False),
            TOKEN_OWNER,
            (),
            PlanReason.ALREADY_INACTIVE,
            id="inactive-token-owner-nothing-to-protect",
        ),
    ],
)
def test_token_owner_is_never_deactivated(
    desired: DesiredAccount,
    current: TeamViewerAccount,
    token_owner_id: str | None,
    operations: tuple[Operation, ...],
    reason: str,
) -> None:
    plan = plan_changes(desired, current, token_owner_id=token_owner_id)

    assert (plan.operations, plan.reason) == (operations, reason)


@pytest.mark.parametrize(
    ("desired", "active", "operations", "reason"),
    [
        pytest.param(ACTIVE_TARGET, True, (), PlanReason.IN_SYNC, id="active-target-active"),
        pytest.param(ACTIVE_TARGET, False, (ACTIVATE,), PlanReason.CONVERGE, id="active-target-inactive"),
        pytest.param(ACTIVE_TARGET, None, (), PlanReason.IN_SYNC, id="active-target-unknown-no-activate"),
        pytest.param(INACTIVE_TARGET, True, (DEACTIVATE,), PlanReason.DEACTIVATE, id="revoked-active"),
        pytest.param(INACTIVE_TARGET, False, (), PlanReason.ALREADY_INACTIVE, id="revoked-inactive"),
        pytest.param(
            INACTIVE_TARGET,
            None,
            (DEACTIVATE,),
            PlanReason.DEACTIVATE,
            id="revoked-unknown-still-deactivated",
        ),
        pytest.param(
            DELETED_TARGET, None, (DEACTIVATE,), PlanReason.DEACTIVATE, id="deleted-unknown-still-deactivated"
        ),
    ],
)
def test_unknown_active_at_the_boundary(
    desired: DesiredAccount, active: bool | None, operations: tuple[Operation, ...], reason: str
) -> None:
    """``active`` unknown (the server left it out): revocation still sent, no ACTIVATE planned."""
    plan = plan_changes(desired, account(active=active), token_owner_id=TOKEN_OWNER)

    assert (plan.operations, plan.reason) == (operations, reason)
    if operations == (DEACTIVATE,):
        assert to_update(plan) == PlannedUpdate(active=False, name=None, email=None), "sends active: false"


def test_unknown_active_token_owner_is_still_protected() -> None:
    plan = plan_changes(INACTIVE_TARGET, account(id=TOKEN_OWNER, active=None), token_owner_id=TOKEN_OWNER)

    assert (plan.operations, plan.reason) == ((), PlanReason.TOKEN_OWNER_PROTECTED)


def test_deactivation_keeps_the_email_the_worker_found() -> None:
    plan = plan_changes(DELETED_TARGET, account(email="Found@Example.test"), token_owner_id=None)

    assert (plan.operations, plan.email, plan.name) == ((DEACTIVATE,), "Found@Example.test", None)


# --- Okta x TeamViewer, end to end ------------------------------------------------------------

ENTITLED_STATUSES = {"ACTIVE", "PASSWORD_EXPIRED", "LOCKED_OUT", "RECOVERY", "PROVISIONED"}
ASSIGNMENT_MODES: dict[str, tuple[OktaAppUser | None, SyncConfig]] = {
    "assigned": (OktaAppUser(id="00u1", status=AppAssignmentStatus.ACTIVE), SyncConfig(app_id=APP_ID)),
    "not-assigned": (None, SyncConfig(app_id=APP_ID)),
    "filter-off": (None, SyncConfig()),
}
# The five TeamViewer states the brief names, plus absence.
MATRIX_TV_STATES = [
    "tv-absent",
    "tv-active",
    "tv-inactive",
    "tv-other-name",
    "tv-other-email",
    "tv-email-case-only",
]


def okta_user(status: str) -> OktaUser:
    return OktaUser.model_validate(
        {
            "id": "00u1",
            "status": status,
            "profile": {"login": EMAIL, "email": EMAIL, "firstName": "Jane", "lastName": "Doe"},
        }
    )


def _matrix_cases() -> list[Any]:
    cases = []
    for status in [*OktaUserStatus, None]:
        for mode in ASSIGNMENT_MODES:
            for tv_state in MATRIX_TV_STATES:
                if status == "STAGED":
                    expected: tuple[Operation, ...] = ()
                elif status in ENTITLED_STATUSES and mode != "not-assigned":
                    expected = EXPECTED_FOR_ACTIVE[tv_state]
                else:
                    expected = expected_for_inactive(tv_state)
                label = "deleted" if status is None else status.value
                cases.append(pytest.param(status, mode, tv_state, expected, id=f"{label}-{mode}-{tv_state}"))
    return cases


@pytest.mark.parametrize(("status", "mode", "tv_state", "operations"), _matrix_cases())
def test_okta_state_to_teamviewer_operations(
    status: OktaUserStatus | None, mode: str, tv_state: str, operations: tuple[Operation, ...]
) -> None:
    assignment, config = ASSIGNMENT_MODES[mode]
    desired = desired_account(None if status is None else okta_user(status), assignment, config)

    plan = plan_changes(desired, TEAMVIEWER_STATES[tv_state], token_owner_id=TOKEN_OWNER)

    assert plan.operations == operations


# --- to_update --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operations", "expected"),
    [
        pytest.param((), None, id="noop"),
        pytest.param((CREATE,), None, id="create-is-not-an-update"),
        pytest.param((ACTIVATE,), PlannedUpdate(active=True, name=None, email=None), id="activate"),
        pytest.param((DEACTIVATE,), PlannedUpdate(active=False, name=None, email=None), id="deactivate"),
        pytest.param((RENAME,), PlannedUpdate(active=None, name=NAME, email=None), id="rename"),
        pytest.param((CHANGE_EMAIL,), PlannedUpdate(active=None, name=None, email=EMAIL), id="change-email"),
        pytest.param(
            (ACTIVATE, CHANGE_EMAIL, RENAME),
            PlannedUpdate(active=True, name=NAME, email=EMAIL),
            id="all-in-one-call",
        ),
    ],
)
def test_to_update(operations: tuple[Operation, ...], expected: PlannedUpdate | None) -> None:
    plan = Plan(operations, PlanReason.CONVERGE, email=EMAIL, name=NAME, account_id=ACCOUNT_ID)

    assert to_update(plan) == expected


@pytest.mark.parametrize(
    ("tv_state", "left", "update"),
    [
        # A returning user whose new email is taken still gets access, and the new name, back.
        ("tv-inactive-all-different", (ACTIVATE, RENAME), PlannedUpdate(active=True, name=NAME, email=None)),
        ("tv-other-email", (), None),  # nothing else to do: the conflict is all there is
        ("tv-inactive", (ACTIVATE,), PlannedUpdate(active=True, name=None, email=None)),
        ("tv-active", (), None),
    ],
)
def test_without_email_change_keeps_what_does_not_depend_on_the_email(
    tv_state: str, left: tuple[Operation, ...], update: PlannedUpdate | None
) -> None:
    current = TEAMVIEWER_STATES[tv_state]
    assert current is not None
    rest = without_email_change(plan_changes(ACTIVE_TARGET, current, token_owner_id=None), current.email)

    assert (rest.operations, to_update(rest)) == (left, update)
    assert (rest.email, rest.account_id) == (current.email, current.id), "the account keeps its email"


@pytest.mark.parametrize(
    ("tv_state", "left"),
    [
        # A returning user whose new email is taken: access and the name are sent without it.
        pytest.param("tv-inactive-all-different", (ACTIVATE, RENAME), id="rest-is-sent"),
        # The email was all there was to change: the conflict stands.
        pytest.param("tv-other-email", None, id="email-only-conflict-stands"),
        # No new email was sent, so the refusal is not about one: it stands.
        pytest.param("tv-inactive", None, id="no-email-change-conflict-stands"),
        pytest.param("tv-other-name", None, id="rename-only-conflict-stands"),
    ],
)
def test_after_email_refused(tv_state: str, left: tuple[Operation, ...] | None) -> None:
    current = TEAMVIEWER_STATES[tv_state]
    assert current is not None
    plan = plan_changes(ACTIVE_TARGET, current, token_owner_id=None)

    rest = after_email_refused(plan, current.email)

    assert (rest.operations if rest is not None else None) == left
    if rest is not None:
        assert CHANGE_EMAIL not in rest.operations and rest.email == current.email


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        pytest.param(
            PlannedUpdate(active=False, name=None, email=None), account(active=False), id="deactivated"
        ),
        pytest.param(
            PlannedUpdate(active=True, name="New Name", email="new@example.test"),
            account(name="New Name", email="new@example.test"),
            id="everything-sent",
        ),
        pytest.param(
            PlannedUpdate(active=None, name=None, email=None), account(active=None), id="nothing-sent"
        ),
    ],
)
def test_account_after_keeps_what_the_update_left_out(
    update: PlannedUpdate, expected: TeamViewerAccount
) -> None:
    before = account(active=None if update.active is None else not update.active)

    assert account_after(before, update) == expected


# --- plan_sync: the token owner only when a deactivation depends on it ----------------------------


@pytest.mark.parametrize(
    ("desired", "tv_state", "needs_owner"),
    [
        pytest.param(INACTIVE_TARGET, "tv-active", True, id="revoke-active"),
        pytest.param(INACTIVE_TARGET, "tv-active-unknown", True, id="revoke-unknown-state"),
        pytest.param(DELETED_TARGET, "tv-other-name", True, id="deleted-user"),
        pytest.param(INACTIVE_TARGET, "tv-inactive", False, id="already-inactive"),
        pytest.param(INACTIVE_TARGET, "tv-absent", False, id="no-account"),
        pytest.param(ACTIVE_TARGET, "tv-inactive", False, id="activate"),
        pytest.param(ACTIVE_TARGET, "tv-absent", False, id="create"),
        pytest.param(UNMANAGED_TARGET, "tv-active", False, id="unmanaged"),
    ],
)
def test_plan_sync_asks_for_the_token_owner_only_for_a_deactivation(
    desired: DesiredAccount, tv_state: str, needs_owner: bool
) -> None:
    current = TEAMVIEWER_STATES[tv_state]

    first = plan_sync(desired, current, token_owner_id=None)

    if needs_owner:
        assert first is Need.TOKEN_OWNER
        assert plan_sync(desired, current, token_owner_id=TOKEN_OWNER) == plan_changes(
            desired, current, token_owner_id=TOKEN_OWNER
        )
    else:
        assert first == plan_changes(desired, current, token_owner_id=TOKEN_OWNER), "final without the owner"


def test_plan_sync_with_the_owner_known_never_asks_again() -> None:
    plan = plan_sync(INACTIVE_TARGET, account(id=TOKEN_OWNER), token_owner_id=TOKEN_OWNER)

    assert plan == Plan((), PlanReason.TOKEN_OWNER_PROTECTED, email=EMAIL, account_id=TOKEN_OWNER)


@pytest.mark.parametrize(
    ("user", "reason"),
    [
        pytest.param(
            {"status": "STAGED", "profile": {"login": EMAIL, "email": EMAIL}}, PlanReason.STAGED, id="staged"
        ),
        pytest.param(
            {"status": "STAGED", "profile": {"login": "jdoe", "email": "jdoe"}},
            PlanReason.STAGED,
            id="staged-without-email",
        ),
        pytest.param(
            {"status": "ACTIVE", "profile": {"login": "jdoe", "email": "jdoe"}},
            PlanReason.NO_EMAIL,
            id="no-email",
        ),
    ],
)
def test_unmanaged_reason_is_a_plan_reason(user: dict[str, Any], reason: PlanReason) -> None:
    desired = desired_account(OktaUser.model_validate({"id": "00u1", **user}), None, SyncConfig())

    assert desired.presence is Presence.UNMANAGED
    assert unmanaged_reason(desired) is reason


def test_an_unmanaged_target_of_unknown_reason_is_recorded_as_unmanaged() -> None:
    # ORPHAN: a reason with no unmanaged meaning of its own (never an Okta user's).
    desired = DesiredAccount(Presence.UNMANAGED, email=None, name=None, reason=DesiredReason.ORPHAN)

    assert unmanaged_reason(desired) is PlanReason.UNMANAGED


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        ("jane@example.test", "JANE@Example.TEST", True),
        ("jane@example.test", " jane@example.test ", True),
        ("jane@example.test", "jane2@example.test", False),
        ("straße@example.test", "strasse@example.test", False),
        ("STRASSE@example.test", "strasse@example.test", True),
    ],
)
def test_emails_match(left: str, right: str, same: bool) -> None:
    assert emails_match(left, right) is same
    assert emails_match(right, left) is same


# --- properties -------------------------------------------------------------------------------


def apply(plan: Plan, current: TeamViewerAccount | None) -> TeamViewerAccount | None:
    """What TeamViewer holds after executing ``plan`` the way the worker does."""
    if CREATE in plan.operations:
        assert current is None
        assert plan.email is not None
        assert plan.name is not None
        return TeamViewerAccount(id="u-created", email=plan.email, name=plan.name, active=True)
    update = to_update(plan)
    if update is None:
        return current
    assert current is not None
    assert plan.account_id == current.id
    changes = {"active": update.active, "name": update.name, "email": update.email}
    return current.model_copy(update={key: value for key, value in changes.items() if value is not None})


local_parts = st.text(alphabet="abcdefghijXYZ.é", min_size=1, max_size=8)
emails = st.builds(
    lambda local, domain: f"{local}@{domain}.test", local_parts, st.sampled_from(["example", "Corp"])
)
names = st.none() | st.text(max_size=60)
okta_users = st.none() | st.builds(
    lambda status, email, first, last: OktaUser.model_validate(
        {
            "id": "00u1",
            "status": status,
            "profile": {"login": email, "email": email, "firstName": first, "lastName": last},
        }
    ),
    st.sampled_from(OktaUserStatus),
    emails,
    names,
    names,
)
assignments = st.none() | st.builds(
    lambda status: OktaAppUser(id="00u1", status=status),
    st.sampled_from([*AppAssignmentStatus, "SOME_FUTURE_STATUS"]),
)
configs = st.sampled_from([SyncConfig(), SyncConfig(app_id=APP_ID)])


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[DesiredAccount, TeamViewerAccount | None, str | None]:
    user = draw(okta_users)
    desired = desired_account(user, draw(assignments), draw(configs))
    current: TeamViewerAccount | None = None
    if draw(st.booleans()):
        # The worker finds accounts by email, so the account's email is usually the user's in
        # some casing; sometimes it is stale.
        base = user.profile.email if user is not None else draw(emails)
        email = draw(st.sampled_from([base, base.upper(), base.swapcase(), draw(emails)]))
        current = TeamViewerAccount(
            id=draw(st.sampled_from([ACCOUNT_ID, TOKEN_OWNER])),
            email=email,
            name=draw(st.sampled_from([NAME, desired.name or NAME, "Someone Else"])),
            active=draw(st.sampled_from([True, False, None])),
        )
    token_owner_id = draw(st.sampled_from([None, TOKEN_OWNER]))
    return desired, current, token_owner_id


@given(scenarios())
def test_create_only_for_an_active_target_without_an_account(
    scenario: tuple[DesiredAccount, TeamViewerAccount | None, str | None],
) -> None:
    desired, current, token_owner_id = scenario

    plan = plan_changes(desired, current, token_owner_id=token_owner_id)

    if CREATE in plan.operations:
        assert desired.presence is Presence.ACTIVE
        assert current is None
        assert plan.operations == (CREATE,)
    if desired.presence is Presence.ACTIVE and current is None:
        assert plan.operations == (CREATE,)
    assert len(set(plan.operations)) == len(plan.operations)


@given(scenarios())
def test_applying_the_plan_converges_and_replanning_is_a_noop(
    scenario: tuple[DesiredAccount, TeamViewerAccount | None, str | None],
) -> None:
    desired, current, token_owner_id = scenario

    after = apply(plan_changes(desired, current, token_owner_id=token_owner_id), current)

    if desired.presence is Presence.ACTIVE:
        assert after is not None
        assert desired.email is not None
        assert after.active is not False, "unknown stays unknown; only a definite False is activated"
        assert after.email.lower() == desired.email.lower()
        assert after.name == desired.name
    elif desired.presence is Presence.INACTIVE:
        protected = current is not None and current.id == token_owner_id
        assert after == current if protected else (after is None or after.active is False)
    else:
        assert after == current
    replan = plan_changes(desired, after, token_owner_id=token_owner_id)
    assert replan.is_noop, replan
