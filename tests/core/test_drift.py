"""Table tests for the drift comparison: every category, every join rule, and the order-independence
of the decisions that wait for the end of the walk."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

from tvsync.core.desired_state import SyncConfig
from tvsync.core.drift import DriftCategory, DriftDetector, DriftItem, DriftReason
from tvsync.core.plan import Operation, PlanReason
from tvsync.models.okta import OktaAppUser, OktaProfile, OktaUser, OktaUserStatus
from tvsync.models.teamviewer import TeamViewerAccount

APP_ID = "0oa1teamviewer"
OWNER = "u0000001"
IN_SYNC, CREATE, UPDATE, DEACTIVATE, ORPHAN, PROTECTED, CONFLICT, IGNORED = (
    DriftCategory.IN_SYNC,
    DriftCategory.TO_CREATE,
    DriftCategory.TO_UPDATE,
    DriftCategory.TO_DEACTIVATE,
    DriftCategory.ORPHAN,
    DriftCategory.PROTECTED,
    DriftCategory.CONFLICT,
    DriftCategory.IGNORED,
)


def okta(
    user_id: str, email: str, status: str = "ACTIVE", first: str = "Jane", last: str = "Doe"
) -> OktaUser:
    profile = OktaProfile(login=email, email=email, firstName=first, lastName=last)
    return OktaUser(id=user_id, status=OktaUserStatus(status), profile=profile)


def assigned(user_id: str, status: str = "ACTIVE") -> OktaAppUser:
    return OktaAppUser(id=user_id, status=status)


def tv(account_id: str, email: str, name: str = "Jane Doe", active: bool | None = True) -> TeamViewerAccount:
    return TeamViewerAccount(id=account_id, email=email, name=name, active=active)


@dataclass
class Case:
    users: list[tuple[OktaUser, OktaAppUser | None]]
    accounts: list[TeamViewerAccount]
    expected: dict[str, tuple[DriftCategory, tuple[Operation, ...], bool]]
    """Okta user id (or TeamViewer id for an orphan) -> category, operations, enqueued."""
    app_id: str | None = APP_ID
    mapping: dict[str, str] = field(default_factory=dict)
    conflicts: dict[str, str] = field(default_factory=dict)
    deactivate_orphans: bool = False
    max_orphans: int | None = 50


JANE = "jane@example.com"
OWNER_ACCOUNT = tv(OWNER, "admin@example.com", "Company Admin")

CASES: dict[str, Case] = {
    "entitled, account matches": Case(
        [(okta("00u1", JANE), assigned("00u1"))], [tv("u1", JANE)], {"00u1": (IN_SYNC, (), False)}
    ),
    "entitled, email differs only in case": Case(
        [(okta("00u1", "Jane@Example.COM"), assigned("00u1"))],
        [tv("u1", JANE)],
        {"00u1": (IN_SYNC, (), False)},
    ),
    "entitled, no account": Case(
        [(okta("00u1", JANE), assigned("00u1"))], [], {"00u1": (CREATE, (Operation.CREATE,), True)}
    ),
    "entitled, account deactivated in TeamViewer": Case(
        [(okta("00u1", JANE), assigned("00u1"))],
        [tv("u1", JANE, active=False)],
        {"00u1": (UPDATE, (Operation.ACTIVATE,), True)},
    ),
    "entitled, renamed in TeamViewer": Case(
        [(okta("00u1", JANE), assigned("00u1"))],
        [tv("u1", JANE, "J. Doe")],
        {"00u1": (UPDATE, (Operation.RENAME,), True)},
    ),
    "email changed in Okta: the mapped account is updated, not orphaned": Case(
        [(okta("00u1", "jane.new@example.com"), assigned("00u1"))],
        [tv("u1", JANE)],
        {"00u1": (UPDATE, (Operation.CHANGE_EMAIL,), True)},
        mapping={"00u1": "u1"},
    ),
    "mapped account left the company: joined by email again": Case(
        [(okta("00u1", JANE), assigned("00u1"))],
        [tv("u2", JANE)],
        {"00u1": (IN_SYNC, (), False)},
        mapping={"00u1": "u1"},
    ),
    "suspended, account active": Case(
        [(okta("00u1", JANE, "SUSPENDED"), assigned("00u1"))],
        [tv("u1", JANE)],
        {"00u1": (DEACTIVATE, (Operation.DEACTIVATE,), True)},
    ),
    "deprovisioned, account active (all users in scope)": Case(
        [(okta("00u1", JANE, "DEPROVISIONED"), None)],
        [tv("u1", JANE)],
        {"00u1": (DEACTIVATE, (Operation.DEACTIVATE,), True)},
        app_id=None,
    ),
    "unassigned from the app, account active": Case(
        [(okta("00u1", JANE), assigned("00u1", "UNASSIGNED"))],
        [tv("u1", JANE)],
        {"00u1": (DEACTIVATE, (Operation.DEACTIVATE,), True)},
    ),
    "not assigned at all (found by email lookup), account active": Case(
        [(okta("00u1", JANE), None)], [tv("u1", JANE)], {"00u1": (DEACTIVATE, (Operation.DEACTIVATE,), True)}
    ),
    "suspended, account already inactive": Case(
        [(okta("00u1", JANE, "SUSPENDED"), assigned("00u1"))],
        [tv("u1", JANE, active=False)],
        {"00u1": (IN_SYNC, (), False)},
    ),
    "suspended, no account": Case(
        [(okta("00u1", JANE, "SUSPENDED"), assigned("00u1"))], [], {"00u1": (IN_SYNC, (), False)}
    ),
    "staged": Case([(okta("00u1", JANE, "STAGED"), assigned("00u1"))], [], {"00u1": (IGNORED, (), False)}),
    "the token owner revoked in Okta is a conflict, never a deactivation": Case(
        [(okta("00u1", "admin@example.com", "SUSPENDED"), assigned("00u1"))],
        [OWNER_ACCOUNT],
        {"00u1": (CONFLICT, (), False)},
    ),
    "a create TeamViewer refused before is a known conflict": Case(
        [(okta("00u1", JANE), assigned("00u1"))],
        [],
        {"00u1": (CONFLICT, (), False)},
        conflicts={"00u1": JANE},
    ),
    "a known conflict with a new email is tried again": Case(
        [(okta("00u1", "jane.new@example.com"), assigned("00u1"))],
        [],
        {"00u1": (CREATE, (Operation.CREATE,), True)},
        conflicts={"00u1": JANE},
    ),
    "orphan: reported only": Case(
        [], [tv("u9", "ghost@example.com")], {"u9": (ORPHAN, (), False)}, deactivate_orphans=False
    ),
    "orphan: deactivated when opted in": Case(
        [],
        [tv("u9", "ghost@example.com")],
        {"u9": (ORPHAN, (Operation.DEACTIVATE,), True)},
        deactivate_orphans=True,
    ),
    "token owner no Okta user has: protected, not an orphan": Case(
        [], [OWNER_ACCOUNT], {OWNER: (PROTECTED, (), False)}, deactivate_orphans=True
    ),
    "token owner beside an orphan: only the orphan is one": Case(
        [],
        [OWNER_ACCOUNT, tv("u9", "ghost@example.com")],
        {OWNER: (PROTECTED, (), False), "u9": (ORPHAN, (Operation.DEACTIVATE,), True)},
        deactivate_orphans=True,
    ),
    "token owner an entitled Okta user has: in sync, not protected": Case(
        [(okta("00u0", "admin@example.com", first="Company", last="Admin"), assigned("00u0"))],
        [OWNER_ACCOUNT],
        {"00u0": (IN_SYNC, (), False)},
    ),
    "token owner revoked in Okta: a conflict for the admin, not protected": Case(
        [(okta("00u0", "admin@example.com", "SUSPENDED", "Company", "Admin"), assigned("00u0"))],
        [OWNER_ACCOUNT],
        {"00u0": (CONFLICT, (), False)},
    ),
    "inactive account no Okta user has: not drift": Case(
        [], [tv("u9", "ghost@example.com", active=False)], {}
    ),
    "too many orphans: none deactivated": Case(
        [],
        [tv(f"u{n}", f"ghost{n}@example.com") for n in range(3)],
        {f"u{n}": (ORPHAN, (), False) for n in range(3)},
        deactivate_orphans=True,
        max_orphans=2,
    ),
    "two entitled Okta users with one email: the second is a conflict": Case(
        [(okta("00u1", JANE), assigned("00u1")), (okta("00u2", JANE), assigned("00u2"))],
        [tv("u1", JANE)],
        {"00u1": (IN_SYNC, (), False), "00u2": (CONFLICT, (), False)},
    ),
    "two entitled Okta users want one new account: created once": Case(
        [(okta("00u1", JANE), assigned("00u1")), (okta("00u2", JANE), assigned("00u2"))],
        [],
        {"00u1": (CREATE, (Operation.CREATE,), True), "00u2": (CONFLICT, (), False)},
    ),
    "two revoked Okta users with one email: deactivated once": Case(
        [(okta("00u1", JANE, "DEPROVISIONED"), None), (okta("00u2", JANE, "SUSPENDED"), None)],
        [tv("u1", JANE)],
        {"00u1": (DEACTIVATE, (Operation.DEACTIVATE,), True), "00u2": (IN_SYNC, (), False)},
        app_id=None,
    ),
}


def classify(case: Case, order: list[int] | None = None) -> dict[str, DriftItem]:
    detector = DriftDetector(
        config=SyncConfig(app_id=case.app_id),
        token_owner_id=OWNER,
        mapping=case.mapping,
        known_conflicts=case.conflicts,
    )
    assert detector.add_accounts(case.accounts) == len(case.accounts)
    items: list[DriftItem] = []
    for index in order or range(len(case.users)):
        user, assignment = case.users[index]
        item = detector.observe(user, assignment)
        if item is not None:
            items.append(item)
    items += detector.finish(
        deactivate_orphans=case.deactivate_orphans, max_orphan_deactivations=case.max_orphans
    )
    found = {item.okta_user_id or item.teamviewer_id or "?": item for item in items}
    assert len(found) == len(items), "one decision per user or account"
    return found


@pytest.mark.parametrize("name", CASES)
def test_classification(name: str) -> None:
    case = CASES[name]
    found = classify(case)
    assert {key: (i.category, i.operations, i.enqueue) for key, i in found.items()} == case.expected


@pytest.mark.parametrize(
    ("users", "winner"),
    [
        ([(okta("00uOLD", JANE, "DEPROVISIONED"), None), (okta("00uNEW", JANE), None)], "00uNEW"),
        ([(okta("00uOLD", JANE, "SUSPENDED"), None), (okta("00uNEW", JANE), None)], "00uNEW"),
    ],
)
def test_a_rehire_keeps_the_account_whichever_user_okta_lists_first(
    users: list[tuple[OktaUser, OktaAppUser | None]], winner: str
) -> None:
    """The deprovisioned predecessor must never switch off the account the new hire uses."""
    case = Case(users, [tv("u1", JANE, active=True)], {}, app_id=None)
    for order in itertools.permutations(range(len(users))):
        found = classify(case, list(order))
        assert found[winner].category is IN_SYNC
        assert found["00uOLD"].category is IN_SYNC
        assert found["00uOLD"].reason == DriftReason.SUPERSEDED
        assert not any(item.enqueue for item in found.values())


def test_a_deleted_user_the_worker_mapped_is_deactivated_not_orphaned() -> None:
    detector = DriftDetector(config=SyncConfig(), token_owner_id=OWNER, mapping={"00uGONE": "u1"})
    detector.add_accounts([tv("u1", JANE)])
    assert [a.id for a in detector.unclaimed_accounts()] == ["u1"]
    assert detector.observe_deleted("00uGONE") is None, "decided at the end of the walk"
    assert detector.unclaimed_accounts() == []
    [item] = detector.finish(deactivate_orphans=False)
    assert (item.category, item.okta_user_id, item.teamviewer_id, item.email) == (
        DEACTIVATE,
        "00uGONE",
        "u1",
        JANE,
    )
    assert item.reason == PlanReason.DEACTIVATE and item.enqueue


def test_deactivations_wait_for_the_end_of_the_walk_and_creates_do_not() -> None:
    detector = DriftDetector(config=SyncConfig(), token_owner_id=OWNER)
    detector.add_accounts([tv("u1", JANE)])
    assert detector.observe(okta("00u1", JANE, "SUSPENDED"), None) is None
    created = detector.observe(okta("00u2", "new@example.com"), None)
    assert created is not None and created.category is CREATE and created.enqueue


def test_an_orphan_limit_is_reported_as_the_reason() -> None:
    detector = DriftDetector(config=SyncConfig(), token_owner_id=OWNER)
    detector.add_accounts([tv("u1", "a@example.com"), tv("u2", "b@example.com"), OWNER_ACCOUNT])
    items = detector.finish(deactivate_orphans=True, max_orphan_deactivations=1)
    reasons = {item.teamviewer_id: item.reason for item in items}
    assert reasons == {
        "u1": DriftReason.ORPHAN_LIMIT,
        "u2": DriftReason.ORPHAN_LIMIT,
        OWNER: DriftReason.TOKEN_OWNER,
    }
    assert not any(item.enqueue for item in items)


def test_the_token_owner_does_not_count_towards_the_orphan_limit() -> None:
    """Two real orphans and a limit of two: both are deactivated, the protected owner is not one."""
    detector = DriftDetector(config=SyncConfig(), token_owner_id=OWNER)
    detector.add_accounts([tv("u1", "a@example.com"), tv("u2", "b@example.com"), OWNER_ACCOUNT])
    items = detector.finish(deactivate_orphans=True, max_orphan_deactivations=2)
    assert {item.teamviewer_id: (item.category, item.enqueue) for item in items} == {
        "u1": (ORPHAN, True),
        "u2": (ORPHAN, True),
        OWNER: (PROTECTED, False),
    }


# --- `active` unknown (the server left it out): the worker's rules, at the boundary -------------


@pytest.mark.parametrize(
    ("active", "expected"),
    [
        (True, (IN_SYNC, (), False)),
        (False, (UPDATE, (Operation.ACTIVATE,), True)),
        (None, (IN_SYNC, (), False)),
    ],
    ids=["active", "inactive", "unknown"],
)
def test_entitled_user_unknown_active_is_no_drift(
    active: bool | None, expected: tuple[DriftCategory, tuple[Operation, ...], bool]
) -> None:
    """Unknown is no evidence of an inactive account: no ACTIVATE, run after run (no endless drift)."""
    case = Case([(okta("00u1", JANE), assigned("00u1"))], [tv("u1", JANE, active=active)], {"00u1": expected})
    found = classify(case)
    assert (found["00u1"].category, found["00u1"].operations, found["00u1"].enqueue) == expected


def test_entitled_user_unknown_active_still_converges_the_name() -> None:
    case = Case([(okta("00u1", JANE), assigned("00u1"))], [tv("u1", JANE, "J. Doe", active=None)], {})
    item = classify(case)["00u1"]
    assert (item.category, item.operations, item.enqueue) == (UPDATE, (Operation.RENAME,), True)


@pytest.mark.parametrize(
    ("active", "expected"),
    [
        (True, (DEACTIVATE, (Operation.DEACTIVATE,), True)),
        (False, (IN_SYNC, (), False)),
        (None, (DEACTIVATE, (Operation.DEACTIVATE,), True)),
    ],
    ids=["active", "inactive", "unknown"],
)
def test_revoked_user_unknown_active_is_still_deactivated(
    active: bool | None, expected: tuple[DriftCategory, tuple[Operation, ...], bool]
) -> None:
    """Only a definite False is already inactive: a revocation must hold."""
    case = Case(
        [(okta("00u1", JANE, "SUSPENDED"), assigned("00u1"))],
        [tv("u1", JANE, active=active)],
        {"00u1": expected},
    )
    found = classify(case)
    assert (found["00u1"].category, found["00u1"].operations, found["00u1"].enqueue) == expected


@pytest.mark.parametrize(
    ("active", "orphan"), [(True, True), (False, False), (None, True)], ids=["active", "inactive", "unknown"]
)
def test_unclaimed_account_unknown_active_is_a_possibly_active_orphan(
    active: bool | None, orphan: bool
) -> None:
    detector = DriftDetector(config=SyncConfig(), token_owner_id=OWNER)
    detector.add_accounts([tv("u9", "ghost@example.com", active=active)])
    assert [a.id for a in detector.unclaimed_accounts()] == (["u9"] if orphan else [])
    items = detector.finish(deactivate_orphans=True, max_orphan_deactivations=5)
    expected = [("u9", ORPHAN, (Operation.DEACTIVATE,), True)] if orphan else []
    assert [(i.teamviewer_id, i.category, i.operations, i.enqueue) for i in items] == expected


# --- reasons: what the reconciler reports is the worker's closed vocabulary ---------------------


def test_every_reported_reason_is_a_plan_or_drift_reason() -> None:
    """Reasons reach the CLI table, ``--json`` and the logs: never free text, never Okta's words."""
    for case in CASES.values():
        for item in classify(case).values():
            assert type(item.reason) in {PlanReason, DriftReason}, item


@pytest.mark.parametrize(
    ("user", "reason"),
    [
        (okta("00u1", JANE, "STAGED"), PlanReason.STAGED),
        (
            OktaUser(id="00u1", status=OktaUserStatus.ACTIVE, profile=OktaProfile(login="jdoe", email="")),
            PlanReason.NO_EMAIL,
        ),
    ],
    ids=["staged", "no-email"],
)
def test_an_ignored_user_is_reported_with_why_okta_keeps_them_out(user: OktaUser, reason: PlanReason) -> None:
    detector = DriftDetector(config=SyncConfig(), token_owner_id=OWNER)
    item = detector.observe(user, None)
    assert item is not None
    assert (item.category, item.reason, item.enqueue) == (IGNORED, reason, False)


@pytest.mark.parametrize(
    ("user", "assignment"),
    [
        (okta("00u1", JANE, "SUSPENDED"), assigned("00u1")),
        (okta("00u1", JANE, "DEPROVISIONED"), assigned("00u1")),
        (okta("00u1", JANE), None),
        (okta("00u1", JANE), assigned("00u1", "UNASSIGNED")),
        (okta("00u1", JANE), assigned("00u1", "SOME_FUTURE_STATUS")),
    ],
    ids=["suspended", "deprovisioned", "not-assigned", "assignment-unassigned", "assignment-unrecognised"],
)
def test_every_kind_of_revocation_is_reported_as_what_it_means_for_the_account(
    user: OktaUser, assignment: OktaAppUser | None
) -> None:
    """Why Okta revoked the user (``DesiredReason``) stays inside the core; the report says
    what happens to the account: ``account-revoked``, whichever fact decided it."""
    detector = DriftDetector(config=SyncConfig(app_id=APP_ID), token_owner_id=OWNER)
    detector.add_accounts([tv("u1", JANE)])
    assert detector.observe(user, assignment) is None
    [item] = detector.finish(deactivate_orphans=False)
    assert (item.category, item.reason, item.operations) == (
        DEACTIVATE,
        PlanReason.DEACTIVATE,
        (Operation.DEACTIVATE,),
    )
