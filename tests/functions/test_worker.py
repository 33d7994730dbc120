"""WorkerFunction against embedded AWS (moto) and the TeamViewer and Okta emulators over
real loopback HTTP, driven through SQS events built as Lambda's event source mapping builds them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.conftest import TV_APP_ID, Aws, emf_metrics
from tests.support.pipeline import T0, Pipeline, add_assigned, start_pipeline, synced
from tvsync.adapters.sync_state import SyncStateStore
from tvsync.emulators.http import FaultKind, FaultPolicy
from tvsync.emulators.teamviewer import RateLimit, TeamViewerEmulator
from tvsync.models.sync_request import SyncRequest
from tvsync.models.sync_state import SyncState


def test_lifecycle_create_assign_rename_suspend_unsuspend_deactivate(pipeline: Pipeline) -> None:
    p = pipeline
    user = p.okta.add_user("alice.archer@example.com", "Alice", "Archer")["id"]
    p.enqueue(user, "user.lifecycle.create")
    p.drain()
    assert p.tv_account("alice.archer@example.com") is None, "not assigned to the app yet: never created"
    assert p.state(user).last_outcome == "no-change"  # type: ignore[union-attr]

    p.okta.assign(TV_APP_ID, user)
    p.enqueue(user, "application.user_membership.add")
    p.drain()
    account = p.tv_account("alice.archer@example.com")
    assert account is not None and account["active"] is True and account["name"] == "Alice Archer"

    p.okta.update_profile(user, lastName="Archer-Smith")
    p.enqueue(user, "user.account.update_profile")
    p.drain()
    assert p.tv_account("alice.archer@example.com")["name"] == "Alice Archer-Smith"  # type: ignore[index]

    p.okta.set_status(user, "SUSPENDED")
    p.enqueue(user, "user.lifecycle.suspend")
    p.drain()
    assert p.tv_account("alice.archer@example.com")["active"] is False  # type: ignore[index]

    p.okta.set_status(user, "ACTIVE")
    p.enqueue(user, "user.lifecycle.unsuspend")
    p.drain()
    assert p.tv_account("alice.archer@example.com")["active"] is True  # type: ignore[index]

    p.okta.set_status(user, "DEPROVISIONED")
    p.enqueue(user, "user.lifecycle.deactivate")
    p.drain()
    final = p.tv_account("alice.archer@example.com")
    assert final is not None and final["active"] is False, "deactivated, never deleted"
    assert len(p.tv.users()) == 2  # the token owner and Alice: one account, ever
    state = p.state(user)
    assert state is not None
    assert (state.last_outcome, state.last_operations, state.teamviewer_id) == (
        "applied",
        ["deactivate"],
        final["id"],
    )
    assert p.dlq_count() == 0


def test_email_change_in_okta_changes_the_mapped_account(pipeline: Pipeline) -> None:
    p = pipeline
    user = add_assigned(p, "bob.baker@example.com", "Bob", "Baker")
    p.enqueue(user, "user.lifecycle.create")
    p.drain()
    p.okta.update_profile(user, email="robert.baker@example.com", login="robert.baker@example.com")
    p.enqueue(user, "user.account.update_profile")
    p.drain()
    assert p.tv_account("bob.baker@example.com") is None
    assert p.tv_account("robert.baker@example.com") is not None
    assert p.state(user).last_operations == ["change_email"]  # type: ignore[union-attr]


def test_the_same_event_twice_creates_one_account_and_costs_nothing_the_second_time(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    user = add_assigned(p, "alice.archer@example.com", "Alice", "Archer")
    p.enqueue(user, "user.lifecycle.create", uuid="same-uuid")
    p.drain()
    calls_after_first = len(p.tv.calls) + len(p.okta.calls)
    # Redelivered after SQS's 5-minute deduplication window: the idempotency record catches it.
    p.enqueue(user, "user.lifecycle.create", uuid="same-uuid")
    p.drain()
    assert len(p.tv.calls) + len(p.okta.calls) == calls_after_first
    assert [u["email"] for u in p.tv.users()].count("alice.archer@example.com") == 1


def test_reversed_events_still_converge_to_the_current_okta_state(pipeline: Pipeline) -> None:
    p = pipeline
    gone = add_assigned(p, "dave.dunn@example.com", "Dave", "Dunn")
    stays = add_assigned(p, "frank.fischer@example.com", "Frank", "Fischer")
    p.okta.set_status(gone, "DEPROVISIONED")
    # Okta delivered the deactivation first and the create last: the worker reads current state.
    p.enqueue(gone, "user.lifecycle.deactivate", published=T0 + timedelta(seconds=3))
    p.enqueue(gone, "user.lifecycle.activate", published=T0 + timedelta(seconds=2))
    p.enqueue(gone, "user.lifecycle.create", published=T0 + timedelta(seconds=1))
    p.enqueue(stays, "application.user_membership.add", published=T0 + timedelta(seconds=2))
    p.enqueue(stays, "user.lifecycle.create", published=T0 + timedelta(seconds=1))
    p.drain()
    assert p.tv_account("dave.dunn@example.com") is None, "a deprovisioned user is never created"
    frank = p.tv_account("frank.fischer@example.com")
    assert frank is not None and frank["active"] is True
    state = p.state(gone)
    assert state is not None and state.last_event_type == "user.lifecycle.deactivate", "latest published wins"


def test_email_owned_outside_the_company_is_recorded_not_retried_and_others_proceed(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    p.tv.add_foreign_account("erin.evans@example.com", "Erin Private")
    erin = add_assigned(p, "erin.evans@example.com", "Erin", "Evans")
    alice = add_assigned(p, "alice.archer@example.com", "Alice", "Archer")
    p.enqueue(erin, "user.lifecycle.create")
    p.enqueue(alice, "user.lifecycle.create")
    result = p.source.poll_once()
    assert (result.received, result.failed) == (2, 0), "a conflict is permanent: not retried"
    state = p.state(erin)
    assert state is not None and state.last_outcome == "conflict"
    assert state.last_reason == "email in use by a TeamViewer account outside the company"
    assert p.tv_account("alice.archer@example.com") is not None
    assert p.dlq_count() == 0


def test_existing_account_with_different_email_case_is_adopted_not_duplicated(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    p = pipeline
    p.tv.add_user("Frank.Fischer@example.com", "Frank Fischer", active=False)
    frank = add_assigned(p, "frank.fischer@example.com", "Frank", "Fischer")
    p.enqueue(frank, "user.lifecycle.create")
    p.drain()
    matches = [u for u in p.tv.users() if u["email"].lower() == "frank.fischer@example.com"]
    assert len(matches) == 1
    assert matches[0]["active"] is True
    assert matches[0]["email"] == "Frank.Fischer@example.com", "a case-only difference is not an email change"
    state = p.state(frank)
    assert state is not None and state.teamviewer_id == matches[0]["id"]
    # Adopted and reactivated: the outcome says a change was applied, the reason that it was adoption.
    assert (state.last_outcome, state.last_reason, state.last_operations) == (
        "applied",
        "account-adopted",
        ["activate"],
    )
    assert state.last_applied_at == state.updated_at
    [line] = synced(caplog)
    assert (line["outcome"], line["reason"], line["adopted"]) == ("applied", "account-adopted", True)
    metrics = emf_metrics(capsys.readouterr().out)
    assert (metrics.get("UsersAdopted"), metrics.get("UsersActivated"), metrics.get("UsersCreated")) == (
        1,
        1,
        None,
    )


def test_an_account_adopted_as_it_is_is_recorded_as_adopted_not_no_change(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    p = pipeline
    p.tv.add_user("Gus.Green@example.com", "Gus Green")  # from before the product, nothing to change
    gus = add_assigned(p, "gus.green@example.com", "Gus", "Green")
    p.enqueue(gus, "user.lifecycle.create")
    p.drain()
    state = p.state(gus)
    assert state is not None
    assert (state.last_outcome, state.last_reason, state.last_operations) == (
        "adopted",
        "account-adopted",
        [],
    )
    assert state.teamviewer_id == p.tv_account("gus.green@example.com")["id"]  # type: ignore[index]
    assert state.last_applied_at == state.updated_at
    [line] = synced(caplog)
    assert (line["outcome"], line["adopted"], line["teamviewer_id"]) == ("adopted", True, state.teamviewer_id)
    metrics = emf_metrics(capsys.readouterr().out)
    assert (metrics.get("UsersAdopted"), metrics.get("NoChange")) == (1, None)

    p.enqueue(gus, "user.account.update_profile")  # the account is now known: in step, nothing adopted
    p.drain()
    again = p.state(gus)
    assert again is not None
    assert (again.last_outcome, again.last_reason) == ("no-change", "in-sync")
    assert again.last_applied_at == state.last_applied_at, "kept: nothing was applied this time"
    assert emf_metrics(capsys.readouterr().out).get("UsersAdopted") is None


def test_a_new_account_is_created_not_adopted(pipeline: Pipeline, caplog: pytest.LogCaptureFixture) -> None:
    p = pipeline
    alice = add_assigned(p, "alice.archer@example.com", "Alice", "Archer")
    p.enqueue(alice, "user.lifecycle.create")
    p.drain()
    state = p.state(alice)
    assert state is not None
    assert (state.last_outcome, state.last_reason, state.last_operations) == (
        "applied",
        "account-missing",
        ["create"],
    )
    assert [line["adopted"] for line in synced(caplog)] == [False]


def test_last_applied_at_dates_the_last_change_and_survives_syncs_that_change_nothing(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``updated_at`` moves on every sync; ``last_applied_at`` only when TeamViewer was changed."""
    p, servers = start_pipeline(aws, monkeypatch)
    try:
        alice = add_assigned(p, "alice.archer@example.com", "Alice", "Archer")
        p.enqueue(alice, "user.lifecycle.create")
        p.drain()
        created = p.state(alice)
        assert created is not None and created.last_applied_at == created.updated_at

        p.enqueue(alice, "user.session.start")
        p.drain()
        unchanged = p.state(alice)
        assert unchanged is not None and unchanged.last_outcome == "no-change"
        assert unchanged.updated_at > created.updated_at
        assert unchanged.last_applied_at == created.last_applied_at

        p.okta.update_profile(alice, lastName="Archer-Smith")
        p.tv.token = "rotated-token"  # the rename is refused (401): retried later
        p.enqueue(alice, "user.account.update_profile")
        assert p.source.poll_once().failed == 1
        retrying = p.state(alice)
        assert retrying is not None and retrying.last_outcome == "retrying"
        assert retrying.last_applied_at == created.last_applied_at

        p.tv.token = "tv-test-token"
        p.drain()
        renamed = p.state(alice)
        assert renamed is not None and (renamed.last_outcome, renamed.last_operations) == (
            "applied",
            ["rename"],
        )
        assert renamed.last_applied_at == renamed.updated_at
        assert renamed.last_applied_at > created.updated_at
    finally:
        for server in servers:
            server.close()

    dry, servers = start_pipeline(aws, monkeypatch, DRY_RUN="true")
    try:
        dry.okta.add_user("alice.archer@example.com", "Alice", "Archer-Jones", user_id=alice)
        dry.okta.assign(TV_APP_ID, alice)
        dry.enqueue(alice, "user.account.update_profile")
        dry.drain()
        planned = dry.state(alice)
        assert planned is not None and (planned.last_outcome, planned.last_operations) == (
            "dry-run",
            ["rename"],
        )
        assert planned.last_applied_at == renamed.last_applied_at, "a dry run applies nothing"
    finally:
        for server in servers:
            server.close()


def test_the_token_owner_is_never_deactivated(pipeline: Pipeline) -> None:
    p = pipeline
    owner = add_assigned(p, "admin@example.test", "Company", "Admin")
    p.okta.set_status(owner, "SUSPENDED")
    p.enqueue(owner, "user.lifecycle.suspend")
    p.drain()
    assert p.tv_account("admin@example.test")["active"] is True  # type: ignore[index]
    state = p.state(owner)
    assert state is not None
    # Found and mapped, so adopted — but the reason that matters more is kept.
    assert (state.last_outcome, state.last_reason) == ("adopted", "token-owner-protected")


def test_a_revoked_user_whose_account_email_differs_in_case_loses_access(pipeline: Pipeline) -> None:
    """TeamViewer's filter is case-sensitive; the account is found anyway and switched off."""
    p = pipeline
    p.tv.add_user("Dave.Dunn@example.com", "Dave Dunn")  # from before the product, other case
    dave = add_assigned(p, "dave.dunn@example.com", "Dave", "Dunn")
    p.okta.set_status(dave, "SUSPENDED")
    p.enqueue(dave, "user.lifecycle.suspend")
    p.drain()
    account = p.tv_account("dave.dunn@example.com")
    assert account is not None and account["active"] is False
    state = p.state(dave)
    assert state is not None
    assert (state.last_outcome, state.last_operations, state.teamviewer_id) == (
        "applied",
        ["deactivate"],
        account["id"],
    )


def test_the_company_scan_is_paid_once_per_user_until_the_reconciler_asks_again(
    pipeline: Pipeline,
) -> None:
    """An unassigned user has no account: scanning the company on each of their events would
    cost one call per 100 accounts each time. The reconciler, which sees every account, still
    gets an account created since then switched off."""
    p = pipeline
    p.tv.add_users([(f"staff{n}@example.com", f"Staff {n}", True) for n in range(250)])
    erik = p.okta.add_user("erik.eng@example.com", "Erik", "Eng")["id"]  # never assigned
    p.enqueue(erik, "user.lifecycle.create")
    p.drain()
    assert p.state(erik).last_reason == "no-account"  # type: ignore[union-attr]

    p.tv.add_user("Erik.Eng@example.com", "Erik Eng")  # made by hand in TeamViewer
    p.tv.reset_calls()
    p.enqueue(erik, "user.account.update_profile")
    p.drain()
    assert [(c.method, c.path) for c in p.tv.calls] == [("GET", "/scim/v2/Users")], "one exact query"
    assert "filter" in p.tv.calls[0].query

    p.enqueue(erik, "tvsync.reconcile", source="reconcile")
    p.drain()
    assert p.tv_account("erik.eng@example.com")["active"] is False  # type: ignore[index]
    assert p.state(erik).last_operations == ["deactivate"]  # type: ignore[union-attr]


def test_the_token_owner_is_protected_whatever_the_case_of_its_email(pipeline: Pipeline) -> None:
    p = pipeline
    owner = add_assigned(p, "Admin@Example.TEST", "Company", "Admin")
    p.okta.set_status(owner, "SUSPENDED")
    p.enqueue(owner, "user.lifecycle.suspend")
    p.drain()
    assert p.tv_account("admin@example.test")["active"] is True  # type: ignore[index]
    assert p.state(owner).last_reason == "token-owner-protected"  # type: ignore[union-attr]


def test_a_returning_user_gets_access_back_even_if_their_new_email_is_taken(
    capsys: pytest.CaptureFixture[str], pipeline: Pipeline
) -> None:
    """The email change waits for a human; reactivation and the new name must not wait with it."""
    p = pipeline
    gina = add_assigned(p, "gina.gray@example.com", "Gina", "Gray")
    p.enqueue(gina, "user.lifecycle.create")
    p.drain()
    p.okta.set_status(gina, "SUSPENDED")
    p.enqueue(gina, "user.lifecycle.suspend")
    p.drain()
    p.tv.add_foreign_account("gina@private.example", "Gina Private")
    p.okta.set_status(gina, "ACTIVE")
    p.okta.update_profile(gina, email="gina@private.example", login="gina@private.example", lastName="Green")
    capsys.readouterr()
    p.enqueue(gina, "user.lifecycle.unsuspend")
    p.drain()
    account = p.tv_account("gina.gray@example.com")
    assert account is not None
    assert (account["active"], account["name"]) == (True, "Gina Green")
    state = p.state(gina)
    assert state is not None
    assert (state.last_outcome, state.last_reason, state.last_operations) == (
        "conflict",
        "email in use by a TeamViewer account outside the company",
        ["activate", "rename"],
    )
    assert (state.teamviewer_active, state.teamviewer_email) == (True, "gina.gray@example.com")
    metrics = emf_metrics(capsys.readouterr().out)
    assert (metrics.get("Conflicts"), metrics.get("UsersActivated"), metrics.get("UsersRenamed")) == (1, 1, 1)
    assert p.dlq_count() == 0


def test_an_account_removed_from_the_company_is_forgotten_not_reported_in_sync(pipeline: Pipeline) -> None:
    """Once the mapped account is gone, the record must not claim it is still there and active:
    the user's next event then sees there is no account (here: its email is now held outside
    the company, which is reported) instead of a false "in sync"."""
    p = pipeline
    hal = add_assigned(p, "hal.hart@example.com", "Hal", "Hart")
    p.enqueue(hal, "user.lifecycle.create")
    p.drain()
    p.tv.remove_from_company(p.tv_account("hal.hart@example.com")["id"])  # type: ignore[index]
    p.okta.set_status(hal, "SUSPENDED")
    p.enqueue(hal, "user.lifecycle.suspend")
    p.drain()
    state = p.state(hal)
    assert state is not None
    assert (state.last_outcome, state.last_reason) == ("no-change", "no-account")
    assert (state.teamviewer_id, state.teamviewer_active) == (None, None)

    p.okta.set_status(hal, "ACTIVE")
    p.enqueue(hal, "user.lifecycle.unsuspend")
    p.drain()
    assert p.state(hal).last_outcome == "conflict"  # type: ignore[union-attr]


@pytest.mark.slow  # a soak: about 45 s of faults and rate limits on a 2-core machine
def test_faults_and_rate_limits_over_50_users_all_converge_once(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    tv = TeamViewerEmulator(
        faults=FaultPolicy(failure_rate=0.3, seed=7, timeout_delay=0.2),
        rate_limit=RateLimit(requests_per_second=5, burst=2),  # below what even a slow machine sends
    )
    p, servers = start_pipeline(aws, monkeypatch, tv=tv)
    try:
        users = [add_assigned(p, f"user{n:02d}@example.com", "User", f"Number{n:02d}") for n in range(50)]
        for user in users:
            p.enqueue(user, "user.lifecycle.create")
        p.drain(timeout=120)
        emails = [u["email"] for u in tv.users()]
        assert sorted(e for e in emails if e.startswith("user")) == [
            f"user{n:02d}@example.com" for n in range(50)
        ]
        assert all(u["active"] for u in tv.users())
        faults = [c for c in tv.calls if c.fault is not None]
        assert faults, "the run must actually have seen injected faults"
        assert tv.throttled > 0, "the run must actually have been rate limited"
        assert any(c.fault in {FaultKind.DROP, FaultKind.TIMEOUT} and c.after_apply for c in tv.calls)
        assert p.dlq_count() == 0
        # "adopted" when a create landed but its answer was lost: the retry found the account.
        assert {p.state(u).last_outcome for u in users} <= {"applied", "adopted"}  # type: ignore[union-attr]
    finally:
        for server in servers:
            server.close()


def test_a_run_that_dies_after_the_create_finds_the_account_on_rerun(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = pipeline
    user = add_assigned(p, "alice.archer@example.com", "Alice", "Archer")
    original_put = SyncStateStore.put
    crashes = {"left": 1}

    def crash_once(self: SyncStateStore, state: SyncState) -> None:
        if crashes["left"] and state.last_outcome == "applied":
            crashes["left"] -= 1
            raise ConnectionError("the Lambda died here, after TeamViewer created the account")
        original_put(self, state)

    monkeypatch.setattr(SyncStateStore, "put", crash_once)
    p.enqueue(user, "user.lifecycle.create")
    first = p.source.poll_once()
    assert first.failed == 1
    assert p.tv_account("alice.archer@example.com") is not None
    p.drain(timeout=30)
    assert [u["email"] for u in p.tv.users()].count("alice.archer@example.com") == 1
    assert p.state(user).teamviewer_id == p.tv_account("alice.archer@example.com")["id"]  # type: ignore[union-attr,index]


def test_dry_run_plans_and_records_but_writes_nothing(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    p, servers = start_pipeline(aws, monkeypatch, DRY_RUN="true")
    try:
        user = add_assigned(p, "alice.archer@example.com", "Alice", "Archer")
        p.tv.add_user("dave.dunn@example.com", "Dave Dunn")
        dave = add_assigned(p, "dave.dunn@example.com", "Dave", "Dunn")
        p.okta.set_status(dave, "SUSPENDED")
        p.enqueue(user, "user.lifecycle.create")
        p.enqueue(dave, "user.lifecycle.suspend")
        p.drain()
        assert p.tv.writes() == 0
        assert p.tv_account("alice.archer@example.com") is None
        assert p.tv_account("dave.dunn@example.com")["active"] is True  # type: ignore[index]
        assert (p.state(user).last_outcome, p.state(user).last_operations) == ("dry-run", ["create"])  # type: ignore[union-attr]
        assert p.state(dave).last_operations == ["deactivate"]  # type: ignore[union-attr]
    finally:
        for server in servers:
            server.close()


def test_an_event_seen_in_a_dry_run_is_still_applied_by_a_real_run(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    dry, servers = start_pipeline(aws, monkeypatch, DRY_RUN="true")
    try:
        alice = add_assigned(dry, "alice.archer@example.com", "Alice", "Archer")
        uuid = dry.enqueue(alice, "user.lifecycle.create")
        dry.drain()
        assert dry.state(alice).last_outcome == "dry-run"  # type: ignore[union-attr]
    finally:
        for server in servers:
            server.close()
    live, servers = start_pipeline(aws, monkeypatch, DRY_RUN="false")
    try:
        live.okta.add_user("alice.archer@example.com", "Alice", "Archer", user_id=alice)
        live.okta.assign(TV_APP_ID, alice)
        # The same event again (a replay, a redrive) after the switch to real runs.
        request = SyncRequest(
            okta_user_id=alice,
            event_uuid=uuid,
            event_type="user.lifecycle.create",
            published=T0,
        )
        aws.session.client("sqs").send_message(
            QueueUrl=aws.queue_url,
            MessageBody=request.model_dump_json(),
            MessageGroupId=alice,
            MessageDeduplicationId=f"{uuid}-replayed",
        )
        live.drain()
        assert live.tv_account("alice.archer@example.com") is not None
        assert live.state(alice).last_outcome == "applied"  # type: ignore[union-attr]
    finally:
        for server in servers:
            server.close()


@pytest.mark.parametrize(
    ("stored_email", "active", "operations"),
    [
        ("alice.archer@example.com", False, ["activate"]),
        ("Alice.Archer@example.com", False, ["activate"]),
        ("Alice.Archer@example.com", True, []),
    ],
)
def test_dry_run_does_not_report_a_create_for_an_account_that_exists(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stored_email: str,
    active: bool,
    operations: list[str],
) -> None:
    """It reports the adoption it would make, as planned: not counted, nothing dated as applied."""
    p, servers = start_pipeline(aws, monkeypatch, DRY_RUN="true")
    try:
        p.tv.add_user(stored_email, "Alice Archer", active=active)
        alice = add_assigned(p, "alice.archer@example.com", "Alice", "Archer")
        p.enqueue(alice, "user.lifecycle.create")
        p.drain()
        state = p.state(alice)
        assert state is not None
        assert (state.last_outcome, state.last_reason, state.last_operations) == (
            "dry-run",
            "account-adopted",
            operations,
        )
        assert state.last_applied_at is None
        assert p.tv.writes() == 0
        assert emf_metrics(capsys.readouterr().out).get("UsersAdopted") is None
    finally:
        for server in servers:
            server.close()


def test_deleted_okta_user_deactivates_the_mapped_account(pipeline: Pipeline) -> None:
    p = pipeline
    user = add_assigned(p, "carol.chen@example.com", "Carol", "Chen")
    p.enqueue(user, "user.lifecycle.create")
    p.drain()
    p.okta.set_status(user, "DEPROVISIONED")
    p.okta.delete_user(user)
    p.enqueue(user, "user.lifecycle.delete.initiated")
    p.drain()
    assert p.tv_account("carol.chen@example.com")["active"] is False  # type: ignore[index]


def test_a_long_server_wait_goes_back_to_sqs_as_the_message_delay(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    tv = TeamViewerEmulator(rate_limit=RateLimit(requests_per_second=0.02, burst=1))
    p, servers = start_pipeline(aws, monkeypatch, tv=tv)
    try:
        first = add_assigned(p, "one@example.com", "One", "User")
        second = add_assigned(p, "two@example.com", "Two", "User")
        p.enqueue(first, "user.lifecycle.create")
        p.enqueue(second, "user.lifecycle.create")
        result = p.source.poll_once()
        assert (result.received, result.failed) == (2, 1)
        # Retry-After is ~50 s: beyond the in-process budget, so the record went back to SQS
        # with that delay instead of the queue's 6-minute visibility timeout.
        sqs = aws.session.client("sqs")
        assert sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10).get("Messages") is None
        # The two users run side by side: either may have been the one refused.
        outcomes = {getattr(p.state(user), "last_outcome", None) for user in (first, second)}
        assert outcomes == {"applied", "retrying"}
        assert p.dlq_count() == 0
    finally:
        for server in servers:
            server.close()


def test_auth_failure_is_retried_and_counted(
    capsys: pytest.CaptureFixture[str], aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, servers = start_pipeline(aws, monkeypatch, tv=TeamViewerEmulator(token="another-token"))
    try:
        user = add_assigned(p, "alice.archer@example.com", "Alice", "Archer")
        p.enqueue(user, "user.lifecycle.create")
        result = p.source.poll_once()
        assert result.failed == 1
        out = capsys.readouterr().out
        assert '"AuthErrors"' in out
        assert "tv-test-token" not in out, "the token never reaches a log line"
        assert p.state(user).last_outcome == "retrying"  # type: ignore[union-attr]
    finally:
        for server in servers:
            server.close()


def test_sqs_events_files_for_sam_local_invoke_are_lambda_shaped() -> None:
    from tests.conftest import ROOT

    for path in sorted((ROOT / "events").glob("sqs-*.json")):
        event = json.loads(path.read_text())
        for record in event["Records"]:
            assert record["eventSource"] == "aws:sqs"
            assert record["attributes"]["MessageGroupId"] == json.loads(record["body"])["okta_user_id"]
            SyncRequest.model_validate_json(record["body"])
