"""UserSynchronizer over in-memory fakes: every branch of one user's convergence, and what it records.

The behaviour tests (``tests/functions/test_worker*.py``) are the spec; these
drive the same cases through the real synchroniser with fakes for Okta, TeamViewer and
SyncStateTable, so each runs in milliseconds and can also say which calls were made.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.fakes import T0
from tests.support.world import APP_ID, World
from tvsync.adapters.errors import AuthError, InvalidError, ThrottledError, TransientError, UpstreamError
from tvsync.adapters.secrets import SecretUnavailableError
from tvsync.core.outcome import Detail, Outcome
from tvsync.core.plan import Operation, PlanReason
from tvsync.models.sync_state import SyncState
from tvsync.services.sqs_batch import RetryLaterError

EMAIL_IN_USE = "email in use by a TeamViewer account outside the company"


class SandboxKilledError(BaseException):
    """Lambda's sandbox going away: nothing after it runs, no ``except Exception`` catches it."""


def mapped(
    world: World, email: str = "alice.archer@example.com", first: str = "Alice", last: str = "Archer"
) -> str:
    """A user the worker created and mapped; the call logs start empty."""
    user = world.add_assigned(email, first, last)
    world.sync(user)
    assert world.record(user).last_outcome == "applied"
    world.tv.reset_calls()
    world.okta.reset_calls()
    world.state.reset_calls()
    return user


def outcome_of(world: World, user: str) -> tuple[str, str | None, list[str]]:
    state = world.record(user)
    return state.last_outcome, state.last_reason, state.last_operations


# ---------------------------------------------------------------------------- creating


def test_a_new_user_costs_one_create_and_is_recorded_as_applied() -> None:
    w = World()
    alice = w.add_assigned("alice.archer@example.com", "Alice", "Archer")
    request = w.request(alice, "user.lifecycle.create", published=T0)
    w.clock.advance(2.5)  # Okta published the event 2.5 s before the worker got to it
    result = w.synchronizer.converge(request)
    account = w.tv.account("alice.archer@example.com")
    assert account is not None and (account.active, account.name) == (True, "Alice Archer")
    assert w.tv.operations() == ["create"], "no lookup first: the create says if the account exists"
    assert w.okta.operations() == ["get_user", "get_app_user"]
    assert w.state.operations() == ["get", "mark_pending_create", "put"]
    assert (result.outcome, result.operations, result.teamviewer_id) == (
        Outcome.APPLIED,
        (Operation.CREATE,),
        account.id,
    )
    state = w.record(alice)
    assert outcome_of(w, alice) == ("applied", "account-missing", ["create"])
    assert (state.teamviewer_id, state.teamviewer_email, state.teamviewer_active) == (
        account.id,
        "alice.archer@example.com",
        True,
    )
    assert state.last_applied_at == state.updated_at == w.clock.now
    assert (state.pending_create_email, state.pending_create_at) == (None, None)
    assert (state.last_event_uuid, state.last_event_type) == ("evt-00001", "user.lifecycle.create")
    assert (w.metric("UsersCreated"), w.metric("UsersAdopted")) == (1, 0)
    assert w.metric("SyncLatency") == 2500
    [line] = w.synced()
    assert (line["outcome"], line["adopted"], line["email"]) == ("applied", False, "a***@example.com")


def test_a_known_user_in_step_costs_no_teamviewer_call() -> None:
    w = World()
    alice = mapped(w)
    first_applied = w.record(alice).last_applied_at
    assert first_applied is not None
    result = w.sync(alice)
    assert w.tv.calls == [], "the mapped account is trusted as the worker last left it"
    assert (result.outcome, outcome_of(w, alice)) == (Outcome.NO_CHANGE, ("no-change", "in-sync", []))
    state = w.record(alice)
    assert state.last_applied_at == first_applied and state.updated_at > first_applied
    assert w.metric("NoChange") == 1


def test_a_known_user_renamed_in_okta_costs_one_update() -> None:
    w = World()
    alice = mapped(w)
    w.okta.update_profile(alice, lastName="Archer-Smith")
    w.sync(alice)
    assert [(c.operation, c.args[1]) for c in w.tv.calls] == [
        ("update", {"active": None, "name": "Alice Archer-Smith", "email": None})
    ]
    assert outcome_of(w, alice) == ("applied", "account-drifted", ["rename"])
    assert w.record(alice).teamviewer_name == "Alice Archer-Smith"
    assert w.metric("UsersRenamed") == 1


def test_an_email_change_in_okta_changes_the_mapped_account() -> None:
    w = World()
    bob = mapped(w, "bob.baker@example.com", "Bob", "Baker")
    w.okta.update_profile(bob, email="robert.baker@example.com", login="robert.baker@example.com")
    w.sync(bob)
    assert w.tv.account("bob.baker@example.com") is None
    assert w.tv.account("robert.baker@example.com") is not None
    assert outcome_of(w, bob) == ("applied", "account-drifted", ["change_email"])
    assert w.metric("EmailsChanged") == 1


def test_a_case_only_difference_in_email_is_never_changed() -> None:
    w = World()
    frank = mapped(w, "frank.fischer@example.com", "Frank", "Fischer")
    w.okta.update_profile(frank, email="Frank.Fischer@example.com")
    w.sync(frank)
    assert w.tv.writes() == []
    assert outcome_of(w, frank) == ("no-change", "in-sync", [])


# ---------------------------------------------------------------------------- adopting


def test_an_account_in_other_letter_case_is_adopted_and_reactivated_not_duplicated() -> None:
    w = World()
    stored = w.tv.add_user("Frank.Fischer@example.com", "Frank Fischer", active=False)
    frank = w.add_assigned("frank.fischer@example.com", "Frank", "Fischer")
    w.sync(frank, "user.lifecycle.create")
    # create -> taken; TeamViewer's filter is case-sensitive, so the exact query misses and the scan finds it.
    assert w.tv.operations() == ["create", "find_by_email", "find_by_email_casefold", "update"]
    assert [a.email for a in w.tv.accounts()] == [w.tv.OWNER_EMAIL, "Frank.Fischer@example.com"]
    assert w.account("frank.fischer@example.com").active is True
    state = w.record(frank)
    assert state.teamviewer_id == stored.id
    assert outcome_of(w, frank) == ("applied", "account-adopted", ["activate"])
    assert state.last_applied_at == state.updated_at
    assert (w.metric("UsersAdopted"), w.metric("UsersActivated"), w.metric("UsersCreated")) == (1, 1, 0)
    [line] = w.synced()
    assert (line["outcome"], line["reason"], line["adopted"]) == ("applied", "account-adopted", True)


def test_a_server_whose_filter_ignores_case_finds_the_account_without_a_scan() -> None:
    w = World()
    w.tv.filter_ignores_case = True
    w.tv.add_user("Frank.Fischer@example.com", "Frank Fischer")
    frank = w.add_assigned("frank.fischer@example.com", "Frank", "Fischer")
    w.sync(frank)
    assert w.tv.operations() == ["create", "find_by_email"]
    assert outcome_of(w, frank) == ("adopted", "account-adopted", [])


def test_an_account_adopted_as_it_is_is_recorded_as_adopted_then_in_sync() -> None:
    w = World()
    w.tv.add_user("gus.green@example.com", "Gus Green")
    gus = w.add_assigned("gus.green@example.com", "Gus", "Green")
    w.sync(gus)
    assert w.tv.operations() == ["create", "find_by_email"], "the exact query finds it: no scan"
    assert outcome_of(w, gus) == ("adopted", "account-adopted", [])
    adopted = w.record(gus)
    assert adopted.last_applied_at == adopted.updated_at
    assert (w.metric("UsersAdopted"), w.metric("NoChange")) == (1, 0)
    assert w.synced()[0]["adopted"] is True

    w.sync(gus)
    assert outcome_of(w, gus) == ("no-change", "in-sync", [])
    assert w.record(gus).last_applied_at == adopted.last_applied_at
    assert w.metric("UsersAdopted") == 1, "counted once"


def test_an_email_owned_outside_the_company_is_a_permanent_conflict_not_retried() -> None:
    w = World()
    w.tv.add_foreign_account("erin.evans@example.com", "Erin Private")
    erin = w.add_assigned("erin.evans@example.com", "Erin", "Evans")
    result = w.sync(erin, "user.lifecycle.create")  # returns: no RetryLaterError
    assert result.outcome is Outcome.CONFLICT
    assert w.tv.operations() == ["create", "find_by_email", "find_by_email_casefold"]
    assert outcome_of(w, erin) == ("conflict", EMAIL_IN_USE, [])
    assert w.record(erin).teamviewer_id is None
    assert w.metric("Conflicts") == 1
    [warning] = w.logs.lines("TeamViewer refused the email: it belongs to an account outside the company")
    assert warning["email"] == "e***@example.com"

    w.tv.reset_calls()
    w.sync(erin)
    assert w.tv.operations() == ["create", "find_by_email"], "already scanned last time: exact query only"
    assert outcome_of(w, erin) == ("conflict", EMAIL_IN_USE, [])


def test_a_returning_user_gets_access_and_name_back_even_if_the_new_email_is_taken() -> None:
    w = World()
    gina = mapped(w, "gina.gray@example.com", "Gina", "Gray")
    w.okta.set_status(gina, "SUSPENDED")
    w.sync(gina)
    w.tv.add_foreign_account("gina@private.example", "Gina Private")
    w.okta.set_status(gina, "ACTIVE")
    w.okta.update_profile(gina, email="gina@private.example", login="gina@private.example", lastName="Green")
    w.tv.reset_calls()
    w.sync(gina)
    updates = [c.args[1] for c in w.tv.calls]
    assert updates == [
        {"active": True, "name": "Gina Green", "email": "gina@private.example"},
        {"active": True, "name": "Gina Green", "email": None},
    ], "refused all or nothing, then sent again without the email"
    account = w.tv.account("gina.gray@example.com")
    assert account is not None and (account.active, account.name) == (True, "Gina Green")
    assert outcome_of(w, gina) == ("conflict", EMAIL_IN_USE, ["activate", "rename"])
    state = w.record(gina)
    assert (state.teamviewer_active, state.teamviewer_email, state.teamviewer_name) == (
        True,
        "gina.gray@example.com",
        "Gina Green",
    )
    assert state.last_applied_at == state.updated_at, "access was restored: a change"
    assert (w.metric("Conflicts"), w.metric("UsersActivated"), w.metric("UsersRenamed")) == (1, 1, 1)


def test_an_email_change_refused_with_nothing_else_to_do_is_a_conflict_that_keeps_the_mapping() -> None:
    w = World()
    gina = mapped(w, "gina.gray@example.com", "Gina", "Gray")
    w.tv.add_foreign_account("gina@private.example", "Gina Private")
    w.okta.update_profile(gina, email="gina@private.example")
    w.sync(gina)
    assert w.tv.operations() == ["update"], "nothing left to send without the email"
    assert outcome_of(w, gina) == ("conflict", EMAIL_IN_USE, [])
    assert w.record(gina).teamviewer_id == w.account("gina.gray@example.com").id


# ---------------------------------------------------------------------------- the mapped account is gone


def test_a_mapped_account_that_left_the_company_is_forgotten_then_the_user_replanned() -> None:
    w = World()
    hal = mapped(w, "hal.hart@example.com", "Hal", "Hart")
    w.tv.remove_from_company(w.account_id(hal))
    w.okta.set_status(hal, "SUSPENDED")
    w.sync(hal)
    # The stored view says deactivate; 404; look up by email (scan: it is a revocation); nothing.
    assert w.tv.operations() == ["token_owner", "update", "find_by_email", "find_by_email_casefold"]
    assert outcome_of(w, hal) == ("no-change", "no-account", [])
    state = w.record(hal)
    assert (state.teamviewer_id, state.teamviewer_email, state.teamviewer_active) == (None, None, None)

    w.okta.set_status(hal, "ACTIVE")
    w.sync(hal)
    assert outcome_of(w, hal)[0] == "conflict", "the account that left still holds the email"


def test_a_mapped_account_gone_for_an_active_user_is_looked_up_exactly_and_created_again() -> None:
    w = World()
    ann = mapped(w, "ann.ash@example.com", "Ann", "Ash")
    old_id = w.account_id(ann)
    w.tv.remove_from_company(old_id)
    w.tv.edit(old_id, email="ann.old@example.com")  # the free account took another address
    w.okta.update_profile(ann, lastName="Ashby")
    w.sync(ann)
    assert w.tv.operations() == ["update", "find_by_email", "create"], "no scan for an account to keep"
    new = w.tv.account("ann.ash@example.com")
    assert new is not None and new.id != old_id and new.name == "Ann Ashby"
    assert outcome_of(w, ann) == ("applied", "account-missing", ["create"])
    assert w.record(ann).teamviewer_id == new.id


def test_a_mapped_account_gone_but_another_with_the_email_in_the_company_is_adopted() -> None:
    w = World()
    ann = mapped(w, "ann.ash@example.com", "Ann", "Ash")
    old_id = w.account_id(ann)
    w.tv.remove_from_company(old_id)
    w.tv.edit(old_id, email="ann.old@example.com")
    replacement = w.tv.add_user("ann.ash@example.com", "Ann Ash")  # re-created by an admin
    w.okta.update_profile(ann, lastName="Ashby")
    w.sync(ann)
    assert w.tv.operations() == ["update", "find_by_email", "update"]
    assert outcome_of(w, ann) == ("applied", "account-adopted", ["rename"])
    assert w.record(ann).teamviewer_id == replacement.id
    assert w.metric("UsersAdopted") == 1


def test_a_refused_update_other_than_404_is_recorded_invalid_and_the_mapping_kept() -> None:
    w = World()
    alice = mapped(w)
    w.tv.fail("update", InvalidError("teamviewer", "update_user", "invalidValue: name", status=400))
    w.okta.update_profile(alice, lastName="Archer-Smith")
    result = w.sync(alice)
    assert result.outcome is Outcome.INVALID
    assert outcome_of(w, alice) == (
        "invalid",
        "teamviewer update_user failed (HTTP 400): invalidValue: name",
        [],
    )
    assert w.record(alice).teamviewer_name == "Alice Archer", "as TeamViewer still has it"
    assert w.metric("InvalidRequests") == 1
    assert w.tv.operations() == ["update"], "a 400 is no sign the account left: no lookup"


# ---------------------------------------------------------------------------- revoking


@pytest.mark.parametrize(
    ("stored_email", "expected_calls"),
    [
        pytest.param("dave.dunn@example.com", ["find_by_email", "token_owner", "update"], id="exact"),
        pytest.param(
            "Dave.Dunn@example.com",
            ["find_by_email", "find_by_email_casefold", "token_owner", "update"],
            id="other-case-by-scan",
        ),
    ],
)
def test_a_revoked_user_never_mapped_is_found_and_switched_off(
    stored_email: str, expected_calls: list[str]
) -> None:
    w = World()
    account = w.tv.add_user(stored_email, "Dave Dunn")
    dave = w.add_assigned("dave.dunn@example.com", "Dave", "Dunn", status="SUSPENDED")
    w.sync(dave, "user.lifecycle.suspend")
    assert w.tv.operations() == expected_calls
    assert w.account("dave.dunn@example.com").active is False
    assert outcome_of(w, dave) == ("applied", "account-adopted", ["deactivate"])
    assert w.record(dave).teamviewer_id == account.id
    assert (w.metric("UsersDeactivated"), w.metric("UsersAdopted")) == (1, 1)


def test_the_company_scan_is_paid_once_per_user_and_email_until_the_reconciler_asks_again() -> None:
    w = World()
    erik = w.okta.add_user("erik.eng@example.com", "Erik", "Eng")  # never assigned
    w.sync(erik)
    assert w.tv.operations() == ["find_by_email", "find_by_email_casefold"]
    assert outcome_of(w, erik) == ("no-change", "no-account", [])

    w.tv.add_user("Erik.Eng@example.com", "Erik Eng")  # made by hand in TeamViewer
    w.tv.reset_calls()
    w.sync(erik)
    assert w.tv.operations() == ["find_by_email"], "scanned for this email last time: exact query only"
    assert outcome_of(w, erik) == ("no-change", "no-account", [])

    w.tv.reset_calls()
    w.sync(erik, "tvsync.reconcile", source="reconcile")
    assert w.tv.operations() == ["find_by_email", "find_by_email_casefold", "token_owner", "update"]
    assert w.account("erik.eng@example.com").active is False


def test_a_new_email_is_scanned_for_even_if_the_old_one_was_scanned_already() -> None:
    w = World()
    erik = w.okta.add_user("erik.eng@example.com", "Erik", "Eng")
    w.sync(erik)
    w.okta.update_profile(erik, email="erik.e@example.com")
    w.tv.reset_calls()
    w.sync(erik)
    assert w.tv.operations() == ["find_by_email", "find_by_email_casefold"]


def test_the_scan_stops_at_the_deadline_and_the_event_is_retried() -> None:
    w = World()
    w.tv.add_user("Dave.Dunn@example.com", "Dave Dunn")
    dave = w.add_assigned("dave.dunn@example.com", "Dave", "Dunn", status="SUSPENDED")
    w.deadline.at = w.monotonic.now  # the invocation's time for long work is used up
    with pytest.raises(RetryLaterError) as raised:
        w.sync(dave)
    assert (raised.value.delay, raised.value.throttled) == (None, False)
    state = w.record(dave)
    assert state.last_outcome == "retrying" and "out of time" in (state.last_reason or "")
    assert w.account("dave.dunn@example.com").active is True

    w.deadline.at = None
    w.sync(dave)
    assert w.account("dave.dunn@example.com").active is False


def test_a_deleted_okta_user_deactivates_the_mapped_account() -> None:
    w = World()
    carol = mapped(w, "carol.chen@example.com", "Carol", "Chen")
    w.okta.delete_user(carol)
    w.sync(carol, "user.lifecycle.delete.initiated")
    assert w.okta.operations() == ["get_user"], "no assignment to read for a deleted user"
    assert w.tv.operations() == ["token_owner", "update"]
    assert outcome_of(w, carol) == ("applied", "account-revoked", ["deactivate"])
    assert w.record(carol).email == "carol.chen@example.com", "the join key is kept"


def test_an_unassigned_user_loses_access_and_an_already_inactive_account_costs_nothing() -> None:
    w = World()
    alice = mapped(w)
    w.okta.unassign(APP_ID, alice)
    w.sync(alice)
    assert outcome_of(w, alice) == ("applied", "account-revoked", ["deactivate"])
    w.tv.reset_calls()
    w.sync(alice)
    assert w.tv.calls == []
    assert outcome_of(w, alice) == ("no-change", "already-inactive", [])


@pytest.mark.parametrize("status", ["SUSPENDED", "DEPROVISIONED"])
def test_an_account_of_unknown_state_is_still_revoked_and_never_activated_on_a_guess(status: str) -> None:
    w = World()
    w.tv.omit_active = True
    account = w.tv.add_user("lena.lind@example.com", "Lena Lind")
    lena = w.add_assigned("lena.lind@example.com", "Lena", "Lind")
    w.sync(lena)
    assert outcome_of(w, lena) == ("adopted", "account-adopted", [])
    assert w.record(lena).teamviewer_active is None, "stored as unknown"
    assert [c for c in w.tv.calls if c.operation == "update"] == []

    w.okta.set_status(lena, status)
    w.sync(lena)
    assert outcome_of(w, lena) == ("applied", "account-revoked", ["deactivate"])
    assert w.account("lena.lind@example.com").active is False
    assert w.record(lena).teamviewer_id == account.id


def test_the_token_owner_is_never_deactivated_and_fetched_once_per_container() -> None:
    w = World()
    owner = w.add_assigned("Admin@Example.TEST", "Company", "Admin", status="SUSPENDED")
    w.sync(owner)
    assert w.tv.writes() == []
    assert outcome_of(w, owner) == ("adopted", "token-owner-protected", [])
    assert w.account(w.tv.OWNER_EMAIL).active is True

    dave = w.add_assigned("dave.dunn@example.com", "Dave", "Dunn", status="SUSPENDED")
    w.tv.add_user("dave.dunn@example.com", "Dave Dunn")
    w.sync(dave)
    w.sync(owner)
    assert w.tv.operations("token_owner") == ["token_owner"]
    assert outcome_of(w, owner) == ("no-change", "token-owner-protected", [])


def test_a_plan_that_deactivates_nothing_never_asks_who_owns_the_token() -> None:
    w = World()
    w.sync(w.add_assigned("alice.archer@example.com", "Alice", "Archer"))
    w.sync(w.okta.add_user("nobody@example.com", "No", "Body", status="SUSPENDED"))
    assert "token_owner" not in w.tv.operations()


# ---------------------------------------------------------------------------- out of scope


@pytest.mark.parametrize(
    ("email", "login", "status", "reason"),
    [
        pytest.param("ida.ito@example.com", None, "STAGED", "staged", id="staged"),
        pytest.param("not-an-address", "also-not-one", "ACTIVE", "no-email", id="no-email"),
    ],
)
def test_a_user_okta_keeps_out_of_scope_is_left_alone_without_a_teamviewer_call(
    email: str, login: str | None, status: str, reason: str
) -> None:
    w = World()
    user = w.add_assigned(email, "Ida", "Ito", status=status, login=login)
    result = w.sync(user)
    assert w.tv.calls == []
    assert (result.outcome, outcome_of(w, user)) == (Outcome.NO_CHANGE, ("no-change", reason, []))


def test_without_an_app_every_okta_user_is_in_scope_and_no_assignment_is_read() -> None:
    w = World(app_id=None)
    alice = w.okta.add_user("alice.archer@example.com", "Alice", "Archer")
    w.sync(alice)
    assert w.okta.operations() == ["get_user"]
    assert outcome_of(w, alice) == ("applied", "account-missing", ["create"])


# ---------------------------------------------------------------------------- the reconciler's requests


def test_a_reconcile_request_reads_the_mapped_account_again_and_corrects_edits_made_in_teamviewer() -> None:
    w = World()
    bob = mapped(w, "bob.baker@example.com", "Bob", "Baker")
    w.tv.edit(w.account_id(bob), active=False)
    w.sync(bob)
    assert w.tv.calls == [] and outcome_of(w, bob) == ("no-change", "in-sync", []), (
        "an event trusts the record"
    )

    w.sync(bob, "tvsync.reconcile", source="reconcile")
    assert w.tv.operations() == ["get", "update"]
    assert outcome_of(w, bob) == ("applied", "account-drifted", ["activate"])
    assert w.account("bob.baker@example.com").active is True


def test_a_reconcile_request_for_a_mapped_account_that_left_looks_the_user_up_by_email() -> None:
    w = World()
    bob = mapped(w, "bob.baker@example.com", "Bob", "Baker")
    w.tv.remove_from_company(w.account_id(bob))
    w.okta.set_status(bob, "SUSPENDED")
    w.sync(bob, "tvsync.reconcile", source="reconcile")
    assert w.tv.operations() == ["get", "find_by_email", "find_by_email_casefold"]
    assert outcome_of(w, bob) == ("no-change", "no-account", [])
    assert w.record(bob).teamviewer_id is None


# ---------------------------------------------------------------------------- dry run


def test_a_dry_run_plans_and_records_but_writes_nothing() -> None:
    w = World(dry_run=True)
    alice = w.add_assigned("alice.archer@example.com", "Alice", "Archer")
    w.tv.add_user("dave.dunn@example.com", "Dave Dunn")
    dave = w.add_assigned("dave.dunn@example.com", "Dave", "Dunn", status="SUSPENDED")
    w.sync(alice)
    w.sync(dave)
    assert w.tv.writes() == []
    assert "mark_pending_create" not in w.state.operations()
    assert outcome_of(w, alice) == ("dry-run", "account-missing", ["create"])
    assert outcome_of(w, dave) == ("dry-run", "account-adopted", ["deactivate"])
    assert w.record(alice).last_applied_at is None and w.record(dave).last_applied_at is None
    assert w.metric_names() <= {"SyncLatency"}, "nothing counted as done"
    assert {line["dry_run"] for line in w.synced()} == {True}


@pytest.mark.parametrize(
    ("stored_email", "active", "operations"),
    [
        ("alice.archer@example.com", False, ["activate"]),
        ("Alice.Archer@example.com", False, ["activate"]),
        ("Alice.Archer@example.com", True, []),
    ],
)
def test_a_dry_run_does_not_report_a_create_for_an_account_that_exists(
    stored_email: str, active: bool, operations: list[str]
) -> None:
    w = World(dry_run=True)
    w.tv.add_user(stored_email, "Alice Archer", active=active)
    alice = w.add_assigned("alice.archer@example.com", "Alice", "Archer")
    w.sync(alice)
    assert outcome_of(w, alice) == ("dry-run", "account-adopted", operations)
    assert w.record(alice).last_applied_at is None
    assert w.tv.writes() == [] and w.metric("UsersAdopted") == 0


# ---------------------------------------------------------------------------- interrupted creates


def test_a_create_whose_sandbox_died_is_adopted_by_the_next_sync_even_after_an_email_change() -> None:
    w = World()
    hana = w.add_assigned("hana.hill@example.com", "Hana", "Hill")
    w.tv.fail("create", SandboxKilledError(), after_apply=True)
    with pytest.raises(SandboxKilledError):
        w.sync(hana)
    crashed = w.record(hana)
    assert (crashed.last_outcome, crashed.pending_create_email) == ("creating", "hana.hill@example.com")
    assert crashed.last_reason == PlanReason.CREATE_SENT and crashed.pending_create_at == w.clock.now
    assert crashed.teamviewer_id is None, "nobody recorded the account TeamViewer made"

    w.okta.update_profile(hana, email="hana.berg@example.com", login="hana.berg@example.com", lastName="Berg")
    w.tv.reset_calls()
    w.sync(hana)
    # Found by the email it was created with (exact query), adopted, then given the new email and name.
    assert w.tv.operations() == ["find_by_email", "update"]
    assert [a.email for a in w.tv.accounts()] == [w.tv.OWNER_EMAIL, "hana.berg@example.com"]
    assert outcome_of(w, hana) == ("applied", "account-adopted", ["change_email", "rename"])
    [settled] = w.logs.lines("Interrupted create resolved")
    assert (settled["adopted"], settled["email"]) == (True, "h***@example.com")
    assert w.metric("UsersAdopted") == 1
    state = w.record(hana)
    assert state.pending_create_email is None and state.last_applied_at == state.updated_at

    w.okta.set_status(hana, "DEPROVISIONED")
    w.sync(hana)
    assert [(a.email, a.active) for a in w.tv.accounts()][1:] == [("hana.berg@example.com", False)]


def test_a_create_whose_answer_was_lost_keeps_its_intent_through_the_retry() -> None:
    w = World()
    ivo = w.add_assigned("ivo.iles@example.com", "Ivo", "Iles")
    w.tv.fail("create", TransientError("teamviewer", "create_user", "read timed out"), after_apply=True)
    with pytest.raises(RetryLaterError):
        w.sync(ivo)
    state = w.record(ivo)
    assert (state.last_outcome, state.pending_create_email) == ("retrying", "ivo.iles@example.com")
    w.sync(ivo)
    assert w.tv.operations("create") == ["create"], "never sent twice"
    assert outcome_of(w, ivo) == ("adopted", "account-adopted", [])


def test_an_adoption_settled_before_the_sync_fails_stays_stored_and_is_counted_once() -> None:
    w = World()
    max_ = w.add_assigned("max.mohr@example.com", "Max", "Mohr")
    w.tv.fail("create", SandboxKilledError(), after_apply=True)
    with pytest.raises(SandboxKilledError):
        w.sync(max_)
    w.okta.fail("get_user", AuthError("okta", "get_user", "E0000011: Invalid token provided", status=401))
    with pytest.raises(RetryLaterError):
        w.sync(max_)
    failed = w.record(max_)
    assert (failed.last_outcome, failed.pending_create_email) == ("retrying", None)
    assert failed.teamviewer_id == w.account("max.mohr@example.com").id
    assert failed.last_applied_at is not None, "the adoption was stored, and dated, before the failure"

    w.sync(max_)
    done = w.record(max_)
    assert (done.last_outcome, done.last_reason) == ("no-change", "in-sync")
    assert done.last_applied_at == failed.last_applied_at
    assert w.metric("UsersAdopted") == 1


def test_a_create_that_never_reached_teamviewer_is_sent_again_and_recorded_as_created() -> None:
    w = World()
    jon = w.add_assigned("jon.jung@example.com", "Jon", "Jung")
    w.tv.fail("create", SandboxKilledError())
    with pytest.raises(SandboxKilledError):
        w.sync(jon)
    assert w.tv.account("jon.jung@example.com") is None
    w.tv.reset_calls()
    w.sync(jon)
    assert w.tv.operations() == ["find_by_email", "find_by_email_casefold", "create"]
    assert outcome_of(w, jon) == ("applied", "account-missing", ["create"])
    [settled] = w.logs.lines("Interrupted create resolved")
    assert (settled["adopted"], settled["teamviewer_id"]) == (False, None)
    assert w.metric("UsersAdopted") == 0


def test_an_interrupted_create_never_adopts_an_account_another_user_is_mapped_to() -> None:
    w = World()
    kim = w.add_assigned("kim.kent@example.com", "Kim", "Kent")
    w.sync(kim)
    kims_account = w.record(kim).teamviewer_id
    other = w.add_assigned("kim.other@example.com", "Kim", "Other")
    w.state.mark_pending_create(
        other, email="kim.kent@example.com", outcome="creating", reason=PlanReason.CREATE_SENT, at=T0
    )
    w.sync(other)
    assert w.record(kim).teamviewer_id == kims_account
    state = w.record(other)
    assert state.teamviewer_id not in {None, kims_account} and state.pending_create_email is None
    assert outcome_of(w, other) == ("applied", "account-missing", ["create"])
    assert w.tv.account("kim.other@example.com") is not None


def test_a_dry_run_settles_an_interrupted_create_without_counting_or_dating_it() -> None:
    w = World(dry_run=True)
    lea = w.add_assigned("lea.lund@example.com", "Lea", "Lund")
    w.tv.add_user("lea.lund@example.com", "Lea Lund")
    w.state.mark_pending_create(
        lea, email="lea.lund@example.com", outcome="creating", reason=PlanReason.CREATE_SENT, at=T0
    )
    w.sync(lea)
    assert outcome_of(w, lea) == ("dry-run", "account-adopted", [])
    assert w.record(lea).last_applied_at is None and w.metric("UsersAdopted") == 0


# ---------------------------------------------------------------------------- orphans


def orphan(w: World, account_id: str) -> tuple[str, str | None, list[str]]:
    w.sync(f"orphan-{account_id}", "tvsync.reconcile", source="reconcile", teamviewer_id=account_id)
    return outcome_of(w, f"orphan-{account_id}")


def test_an_orphan_nobody_claims_is_deactivated() -> None:
    w = World()
    ghost = w.tv.add_user("ghost@example.com", "Ghost Account").id
    assert orphan(w, ghost) == ("applied", "orphan", ["deactivate"])
    assert w.account("ghost@example.com").active is False
    assert w.okta.operations() == ["find_by_email"], "no Okta user is read: the group is no user"
    assert w.record(f"orphan-{ghost}").teamviewer_id == ghost
    assert (w.metric("UsersDeactivated"), w.metric("UsersAdopted")) == (1, 0), "an orphan adopts nothing"


def test_an_orphan_of_unknown_state_is_deactivated_not_skipped() -> None:
    w = World()
    w.tv.omit_active = True
    ghost = w.tv.add_user("ghost@example.com", "Ghost Account").id
    assert orphan(w, ghost) == ("applied", "orphan", ["deactivate"])


def test_an_orphan_that_left_the_company_costs_one_read() -> None:
    w = World()
    ghost = w.tv.add_user("ghost@example.com", "Ghost Account").id
    w.tv.remove_from_company(ghost)
    assert orphan(w, ghost) == ("no-change", "orphan-gone", [])
    assert w.tv.operations() == ["get"]


def test_an_orphan_already_inactive_costs_one_read() -> None:
    w = World()
    ghost = w.tv.add_user("ghost@example.com", "Ghost Account", active=False).id
    assert orphan(w, ghost) == ("no-change", "already-inactive", [])
    assert w.tv.operations() == ["get"] and w.okta.calls == []


def test_the_token_owner_is_never_deactivated_as_an_orphan() -> None:
    w = World()
    assert orphan(w, w.tv.owner_id) == ("no-change", "token-owner-protected", [])
    assert w.tv.writes() == []


def test_an_orphan_an_okta_user_claims_now_is_left_alone() -> None:
    w = World()
    hire = w.tv.add_user("New.Hire@example.com", "New Hire").id
    w.okta.add_user("new.hire@example.com", "New", "Hire")  # created while the request waited
    assert orphan(w, hire) == ("no-change", "orphan-claimed", [])
    assert w.tv.writes() == []


def test_an_orphan_another_users_record_claims_is_left_alone_without_asking_okta() -> None:
    w = World()
    kim = w.add_assigned("kim.kent@example.com", "Kim", "Kent")
    w.sync(kim)
    account = w.account_id(kim)
    w.okta.delete_user(kim)  # the reconciler's view is minutes old; the worker's record still maps it
    w.okta.reset_calls()
    assert orphan(w, account) == ("no-change", "orphan-claimed", [])
    assert w.okta.calls == []


def test_an_orphan_whose_deactivation_is_refused_is_recorded_invalid() -> None:
    w = World()
    ghost = w.tv.add_user("ghost@example.com", "Ghost Account").id
    w.tv.fail("update", InvalidError("teamviewer", "update_user", "not_found", status=404))
    assert orphan(w, ghost) == ("invalid", "teamviewer update_user failed (HTTP 404): not_found", [])


def test_a_dry_run_only_plans_the_orphan_deactivation() -> None:
    w = World(dry_run=True)
    ghost = w.tv.add_user("ghost@example.com", "Ghost Account").id
    assert orphan(w, ghost) == ("dry-run", "orphan", ["deactivate"])
    assert w.tv.writes() == []


# ---------------------------------------------------------------------------- failures handed back to SQS


@pytest.mark.parametrize(
    ("port", "operation", "error", "metric", "delay", "throttled"),
    [
        pytest.param(
            "okta",
            "get_user",
            ThrottledError("okta", "get_user", "E0000047", status=429, retry_after=42.0),
            "OktaThrottled",
            42.0,
            True,
            id="okta-throttled",
        ),
        pytest.param(
            "tv",
            "create",
            ThrottledError("teamviewer", "create_user", "rate_limit_reached", status=403),
            "TeamViewerThrottled",
            None,
            True,
            id="teamviewer-throttled-without-retry-after",
        ),
        pytest.param(
            "tv",
            "create",
            TransientError("teamviewer", "create_user", "HTTP 503", status=503),
            "TransientFailures",
            None,
            False,
            id="transient",
        ),
        pytest.param(
            "okta",
            "get_app_user",
            AuthError("okta", "get_app_user", "E0000011: Invalid token provided", status=401),
            "AuthErrors",
            None,
            False,
            id="auth",
        ),
        pytest.param(
            "okta",
            "get_user",
            SecretUnavailableError("secret arn:aws:secretsmanager:okta-token could not be read"),
            "AuthErrors",
            None,
            False,
            id="secret-unreadable",
        ),
    ],
)
def test_a_failure_worth_retrying_is_recorded_counted_and_handed_back(
    port: str, operation: str, error: Exception, metric: str, delay: float | None, throttled: bool
) -> None:
    w = World()
    alice = w.add_assigned("alice.archer@example.com", "Alice", "Archer")
    getattr(w, port).fail(operation, error)
    with pytest.raises(RetryLaterError) as raised:
        w.sync(alice)
    assert (raised.value.delay, raised.value.throttled) == (delay, throttled)
    assert raised.value.__cause__ is error
    state = w.record(alice)
    # The clients' errors say what failed; anything else is named by its class too.
    said = str(error) if isinstance(error, UpstreamError) else f"{type(error).__name__}: {error}"
    assert (state.last_outcome, state.last_reason) == ("retrying", said)
    assert w.metric(metric) == 1
    assert w.synced() == [], "not finished: no outcome line"
    # One line per retried event: a credential problem at ERROR (an admin must act), naming
    # the cause; anything an upstream may get over by itself at WARNING.
    credential = metric == "AuthErrors"
    message = (
        "Credentials refused or unreadable: check the token secrets"
        if credential
        else ("Sync failed; SQS will redeliver")
    )
    [line] = w.logs.lines(message)
    assert (line["level"], line["event_uuid"], line["error"]) == (
        "ERROR" if credential else "WARNING",
        "evt-00001",
        said,
    )
    other = (
        "Sync failed; SQS will redeliver"
        if credential
        else ("Credentials refused or unreadable: check the token secrets")
    )
    assert w.logs.lines(other) == []


def test_an_unexpected_failure_is_logged_with_its_traceback_and_recorded_masked() -> None:
    w = World()
    erin = w.add_assigned("erin.evans@example.com", "Erin", "Evans")
    w.tv.fail("create", KeyError("erin.evans@example.com"))  # a bug, say
    with pytest.raises(RetryLaterError):
        w.sync(erin)
    [line] = w.logs.lines("Sync failed unexpectedly; SQS will redeliver")
    assert (line["level"], line["error"]) == ("ERROR", "KeyError: 'e***@example.com'")
    assert "Traceback" in line["traceback"] and "erin.evans" not in line["traceback"]
    assert w.record(erin).last_reason == "KeyError: 'e***@example.com'"
    assert w.metric("TransientFailures") == 1


def test_a_retry_records_only_the_outcome_and_keeps_the_mapping_it_could_not_read() -> None:
    w = World()
    dan = mapped(w, "dan.dale@example.com", "Dan", "Dale")
    before = w.record(dan)
    w.state.fail("get", RuntimeError("ProvisionedThroughputExceededException: slow down"))
    w.okta.set_status(dan, "SUSPENDED")
    with pytest.raises(RetryLaterError):
        w.sync(dan)
    after = w.record(dan)
    fields = {"last_outcome", "last_reason", "updated_at"}
    assert after.model_dump(exclude=fields) == before.model_dump(exclude=fields)
    assert after.last_outcome == "retrying" and "ProvisionedThroughputExceededException" in (
        after.last_reason or ""
    )


def test_a_retry_that_cannot_even_be_recorded_is_still_handed_back() -> None:
    w = World()
    alice = w.add_assigned("alice.archer@example.com", "Alice", "Archer")
    w.okta.fail("get_user", TransientError("okta", "get_user", "HTTP 502", status=502))
    w.state.fail("record_outcome", RuntimeError("DynamoDB is down"))
    with pytest.raises(RetryLaterError):
        w.sync(alice)
    [line] = w.logs.lines("Could not record the retry in SyncStateTable")
    assert line["level"] == "ERROR"
    assert w.state.stored(alice) is None


# ---------------------------------------------------------------------------- refusals recorded as invalid


def test_an_okta_read_refused_is_recorded_invalid_not_retried() -> None:
    w = World()
    carol = mapped(w, "carol.chen@example.com", "Carol", "Chen")
    w.okta.fail(
        "get_user", InvalidError("okta", "get_user", "unexpected OktaUser shape: profile.email", status=None)
    )
    result = w.sync(carol)
    assert (result.outcome, result.reason, result.teamviewer_id) == (
        Outcome.INVALID,
        "okta get_user failed: unexpected OktaUser shape: profile.email",
        w.record(carol).teamviewer_id,
    )
    assert outcome_of(w, carol)[:2] == (
        "invalid",
        "okta get_user failed: unexpected OktaUser shape: profile.email",
    )
    assert w.record(carol).teamviewer_id is not None, "only the outcome is written"
    assert w.metric("InvalidRequests") == 1
    [warning] = w.logs.lines("Request refused; recorded, not retried")
    assert warning["level"] == "WARNING"


def test_a_create_refused_is_recorded_invalid_with_the_email_masked() -> None:
    w = World()
    owen = w.add_assigned("o'neil.o'brien@example.com", "Owen", "O'Neil")
    w.tv.fail(
        "create",
        InvalidError(
            "teamviewer",
            "create_user",
            "invalidValue: userName o'neil.o'brien@example.com is not allowed",
            status=400,
        ),
    )
    result = w.sync(owen)
    assert result.outcome is Outcome.INVALID
    reason = w.record(owen).last_reason or ""
    assert "o***@example.com is not allowed" in reason and "neil" not in reason
    assert w.record(owen).pending_create_email is None, "the create's result is known: refused"
    assert w.metric("InvalidRequests") == 1
    assert "neil" not in str(w.logs.lines())


def test_a_message_dropped_as_unreadable_is_recorded_for_its_user() -> None:
    w = World()
    alice = mapped(w)
    w.synchronizer.record_rejected(
        alice, Detail("message m-1 dropped, not a sync request: body: Invalid JSON")
    )
    state = w.record(alice)
    assert (state.last_outcome, state.last_reason) == (
        "invalid",
        "message m-1 dropped, not a sync request: body: Invalid JSON",
    )
    assert state.teamviewer_id is not None


# ---------------------------------------------------------------------------- what a record says


def test_an_older_event_is_recorded_as_synced_but_does_not_pass_for_the_latest() -> None:
    w = World()
    alice = mapped(w)
    latest = w.record(alice)
    w.clock.advance(1)
    older = w.request(alice, "user.lifecycle.create", published=T0 - timedelta(hours=1))
    w.synchronizer.converge(older)
    state = w.record(alice)
    assert state.updated_at > latest.updated_at
    assert (state.last_event_uuid, state.last_published) == (latest.last_event_uuid, latest.last_published)


def test_a_record_from_before_the_product_knew_the_account_is_planned_by_email() -> None:
    """An id without the account's email and name is no view to plan against."""
    w = World()
    w.tv.add_user("alice.archer@example.com", "Alice Archer")
    alice = w.add_assigned("alice.archer@example.com", "Alice", "Archer")
    w.state.seed(SyncState(okta_user_id=alice, teamviewer_id="u9", last_outcome="applied", updated_at=T0))
    w.sync(alice)
    assert w.tv.operations() == ["create", "find_by_email"]
    assert outcome_of(w, alice) == ("adopted", "account-adopted", [])
