"""The unit tier's fakes hold to the real adapters: the same assertions against both.

A fake that disagrees with its adapter makes the unit tier pass for code that fails in
production. Each test here runs once against the fake (``tests.support.fakes``) and once
against the real adapter over its emulator: ``SyncStateStore`` on DynamoDB (moto, with the
table and index from template.yaml), ``TeamViewerClient`` against the TeamViewer emulator and
``OktaClient`` against the Okta emulator, both on 127.0.0.1.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from tests.conftest import Aws
from tests.support.fakes import T0, FakeOkta, FakeSyncStateStore, FakeTeamViewer
from tvsync.adapters.errors import ConflictError, InvalidError, TransientError
from tvsync.adapters.okta_client import OktaClient
from tvsync.adapters.sync_state import SyncStateStore
from tvsync.adapters.teamviewer_client import TeamViewerClient
from tvsync.emulators.http import serve
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.teamviewer import TeamViewerEmulator
from tvsync.models.okta import OktaUserStatus
from tvsync.models.sync_state import SyncState
from tvsync.services.ports import OktaReader, SyncStateRepository, TeamViewerAccounts

APP_ID = "0oa1tvsync0000000001"

# ---------------------------------------------------------------------------- SyncStateTable


@pytest.fixture(params=["fake", "dynamodb"])
def store(request: pytest.FixtureRequest) -> SyncStateRepository:
    if request.param == "fake":
        return FakeSyncStateStore()
    aws: Aws = request.getfixturevalue("aws")
    return SyncStateStore(aws.session.client("dynamodb"), aws.resources.refs["SyncStateTable"])


MAPPED = SyncState(
    okta_user_id="00u1",
    teamviewer_id="u1",
    email="Jane.Doe@example.com",
    teamviewer_email="jane.doe@example.com",
    teamviewer_name="Jane Doe",
    teamviewer_active=False,
    last_event_uuid="evt-1",
    last_event_type="user.lifecycle.create",
    last_published=T0,
    last_outcome="applied",
    last_reason="account-missing",
    last_operations=["create"],
    updated_at=T0,
    last_applied_at=T0,
)


def test_a_record_reads_back_as_it_was_put(store: SyncStateRepository) -> None:
    assert store.get("00u1") is None
    store.put(MAPPED)
    assert store.get("00u1") == MAPPED
    empty = SyncState(okta_user_id="00u2", last_outcome="no-change", updated_at=T0)
    store.put(empty)
    assert store.get("00u2") == empty, "no operations, no mapping: defaults come back, not blanks"


def test_put_replaces_the_whole_record(store: SyncStateRepository) -> None:
    store.put(
        MAPPED.model_copy(update={"pending_create_email": "jane.doe@example.com", "pending_create_at": T0})
    )
    store.put(MAPPED)
    assert store.get("00u1") == MAPPED


def test_record_outcome_sets_only_the_outcome_and_keeps_the_rest(store: SyncStateRepository) -> None:
    store.put(
        MAPPED.model_copy(update={"pending_create_email": "jane.doe@example.com", "pending_create_at": T0})
    )
    later = T0 + timedelta(minutes=5)
    store.record_outcome("00u1", outcome="retrying", reason="KeyError: 'jane.doe@example.com'", at=later)
    after = store.get("00u1")
    assert after is not None
    assert (after.last_outcome, after.last_reason, after.updated_at) == (
        "retrying",
        "KeyError: 'j***@example.com'",
        later,
    )
    assert after.model_dump(exclude={"last_outcome", "last_reason", "updated_at"}) == MAPPED.model_copy(
        update={"pending_create_email": "jane.doe@example.com", "pending_create_at": T0}
    ).model_dump(exclude={"last_outcome", "last_reason", "updated_at"})


def test_record_outcome_creates_a_missing_record_with_only_the_outcome(store: SyncStateRepository) -> None:
    store.record_outcome("00u9", outcome="invalid", reason="message m-1 dropped", at=T0)
    assert store.get("00u9") == SyncState(
        okta_user_id="00u9", last_outcome="invalid", last_reason="message m-1 dropped", updated_at=T0
    )


def test_mark_pending_create_records_the_intent_and_keeps_the_rest(store: SyncStateRepository) -> None:
    store.put(MAPPED)
    later = T0 + timedelta(minutes=5)
    store.mark_pending_create(
        "00u1", email="jane.new@example.com", outcome="creating", reason="create sent", at=later
    )
    after = store.get("00u1")
    assert after is not None
    assert (after.pending_create_email, after.pending_create_at, after.updated_at) == (
        "jane.new@example.com",
        later,
        later,
    )
    assert (after.last_outcome, after.last_reason) == ("creating", "create sent")
    assert (after.teamviewer_id, after.last_applied_at, after.email) == ("u1", T0, "Jane.Doe@example.com")

    store.mark_pending_create(
        "00u7", email="new@example.com", outcome="creating", reason="create sent", at=later
    )
    assert store.get("00u7") is not None


def test_find_by_email_ignores_case_and_scan_lists_every_record(store: SyncStateRepository) -> None:
    store.put(MAPPED)
    store.put(MAPPED.model_copy(update={"okta_user_id": "00u2", "email": "jane.doe@EXAMPLE.com"}))
    store.put(MAPPED.model_copy(update={"okta_user_id": "00u3", "email": "other@example.com"}))
    store.record_outcome("00u4", outcome="invalid", reason="dropped", at=T0)  # no email: not indexed
    assert sorted(s.okta_user_id for s in store.find_by_email("JANE.DOE@example.com")) == ["00u1", "00u2"]
    assert list(store.find_by_email("nobody@example.com")) == []
    assert sorted(s.okta_user_id for s in store.scan()) == ["00u1", "00u2", "00u3", "00u4"]


# ---------------------------------------------------------------------------- TeamViewer


@dataclass
class Company:
    """One TeamViewer company as the product sees it (``accounts``) and as a test seeds it."""

    accounts: TeamViewerAccounts
    add_user: Callable[[str, str, bool], str]
    add_foreign_account: Callable[[str, str], object]
    remove_from_company: Callable[[str], None]
    omit_active: Callable[[], None]
    owner_id: str


def _fake_company() -> Company:
    fake = FakeTeamViewer()

    def omit() -> None:
        fake.omit_active = True

    return Company(
        accounts=fake,
        add_user=lambda email, name, active: fake.add_user(email, name, active=active).id,
        add_foreign_account=fake.add_foreign_account,
        remove_from_company=fake.remove_from_company,
        omit_active=omit,
        owner_id=fake.owner_id,
    )


@pytest.fixture(params=["fake", "emulator"])
def company(request: pytest.FixtureRequest) -> Iterator[Company]:
    if request.param == "fake":
        yield _fake_company()
        return
    emulator = TeamViewerEmulator()

    def omit() -> None:
        emulator.scim_omit_active = True

    with serve(emulator) as server, TeamViewerClient(server.url, lambda: emulator.token) as client:
        yield Company(
            accounts=client,
            add_user=lambda email, name, active: str(emulator.add_user(email, name, active=active)["id"]),
            add_foreign_account=emulator.add_foreign_account,
            remove_from_company=emulator.remove_from_company,
            omit_active=omit,
            owner_id=emulator.owner_id,
        )


def test_the_exact_query_is_case_sensitive_and_the_scan_is_not(company: Company) -> None:
    account_id = company.add_user("Frank.Fischer@example.com", "Frank Fischer", True)
    tv = company.accounts
    assert tv.find_by_email("frank.fischer@example.com") is None, "TeamViewer's filter compares exactly"
    found = tv.find_by_email("Frank.Fischer@example.com")
    assert found is not None and (found.id, found.name, found.active) == (account_id, "Frank Fischer", True)
    assert tv.find_by_email_casefold("frank.fischer@EXAMPLE.com") == found


def test_an_email_is_unique_across_teamviewer_ignoring_case(company: Company) -> None:
    company.add_user("Frank.Fischer@example.com", "Frank Fischer", True)
    company.add_foreign_account("erin.evans@example.com", "Erin Private")
    tv = company.accounts
    with pytest.raises(ConflictError):
        tv.create("frank.fischer@example.com", "Frank Fischer")
    with pytest.raises(ConflictError):
        tv.create("Erin.Evans@example.com", "Erin Evans")
    assert tv.find_by_email_casefold("erin.evans@example.com") is None, "outside the company: invisible"
    created = tv.create("alice.archer@example.com", "Alice Archer")
    assert (created.email, created.name, created.active) == ("alice.archer@example.com", "Alice Archer", True)
    assert tv.get(created.id) == created


def test_an_update_is_all_or_nothing_and_refused_for_a_taken_email(company: Company) -> None:
    tv = company.accounts
    gina = company.add_user("gina.gray@example.com", "Gina Gray", False)
    company.add_foreign_account("gina@private.example", "Gina Private")
    with pytest.raises(ConflictError):
        tv.update(gina, active=True, name="Gina Green", email="gina@private.example")
    unchanged = tv.get(gina)
    assert unchanged is not None and (unchanged.active, unchanged.name) == (False, "Gina Gray")
    tv.update(gina, active=True, name="Gina Green")
    tv.update(gina, email="Gina.Gray@example.com")  # its own address in other case: not taken
    after = tv.get(gina)
    assert after is not None
    assert (after.email, after.name, after.active) == ("Gina.Gray@example.com", "Gina Green", True)


def test_an_account_that_left_the_company_reads_as_none_and_refuses_updates_with_404(
    company: Company,
) -> None:
    tv = company.accounts
    hal = company.add_user("hal.hart@example.com", "Hal Hart", True)
    company.remove_from_company(hal)
    assert tv.get(hal) is None
    with pytest.raises(InvalidError) as refused:
        tv.update(hal, active=False)
    assert refused.value.status == 404
    with pytest.raises(ConflictError):
        tv.create("hal.hart@example.com", "Hal Hart")  # the free account still holds the email


def test_the_company_lists_in_full_with_the_token_owner(company: Company) -> None:
    ids = [company.add_user(f"staff{n:03d}@example.com", f"Staff {n}", n % 2 == 0) for n in range(120)]
    company.add_foreign_account("outside@example.com", "Outside")
    company.remove_from_company(ids.pop())
    listed = list(company.accounts.iter_users(100))
    assert [a.id for a in listed] == [company.owner_id, *ids]
    assert company.accounts.token_owner().id == company.owner_id


def test_active_may_be_left_out_and_reads_as_unknown(company: Company) -> None:
    account_id = company.add_user("lena.lind@example.com", "Lena Lind", True)
    company.omit_active()
    assert company.accounts.get(account_id).active is None  # type: ignore[union-attr]
    assert company.accounts.find_by_email("lena.lind@example.com").active is None  # type: ignore[union-attr]


def test_a_scan_past_its_deadline_stops_with_a_transient_error(company: Company) -> None:
    company.add_user("Dave.Dunn@example.com", "Dave Dunn", True)
    with pytest.raises(TransientError, match="out of time"):
        company.accounts.find_by_email_casefold("dave.dunn@example.com", deadline=time.monotonic() - 1)


# ---------------------------------------------------------------------------- Okta


@dataclass
class Org:
    """One Okta org as the product reads it (``reader``) and as a test seeds it."""

    reader: OktaReader
    add_user: Callable[..., str]
    assign: Callable[[str, str], object]
    set_status: Callable[[str, str], object]


@pytest.fixture(params=["fake", "emulator"])
def org(request: pytest.FixtureRequest) -> Iterator[Org]:
    if request.param == "fake":
        fake = FakeOkta()
        yield Org(reader=fake, add_user=fake.add_user, assign=fake.assign, set_status=fake.set_status)
        return
    emulator = OktaEmulator()

    def add_user(email: str, first: str | None, last: str | None, **options: str) -> str:
        return str(emulator.add_user(email, first, last, **options)["id"])

    with serve(emulator) as server, OktaClient(server.url, lambda: emulator.token) as client:
        yield Org(
            reader=client,
            add_user=add_user,
            assign=emulator.assign,
            set_status=emulator.set_status,
        )


def test_a_user_is_read_by_id_or_by_login_in_any_case(org: Org) -> None:
    jane = org.add_user("Jane.Doe@example.com", "Jane", "Doe")
    by_id = org.reader.get_user(jane)
    assert by_id is not None and (by_id.profile.email, by_id.status) == (
        "Jane.Doe@example.com",
        OktaUserStatus.ACTIVE,
    )
    assert org.reader.get_user("jane.doe@EXAMPLE.com") == by_id
    assert org.reader.get_user("00uNOBODY0000000000") is None


def test_an_assignment_is_read_per_user_and_listed_with_its_user(org: Org) -> None:
    jane = org.add_user("jane.doe@example.com", "Jane", "Doe")
    john = org.add_user("john.roe@example.com", "John", "Roe")
    org.assign(APP_ID, jane)
    assignment = org.reader.get_app_user(APP_ID, jane)
    assert assignment is not None and (assignment.id, assignment.status) == (jane, "ACTIVE")
    assert org.reader.get_app_user(APP_ID, john) is None
    assert [(a.id, u.id) for a, u in org.reader.iter_app_users(APP_ID)] == [(jane, jane)]


def test_deactivation_removes_the_users_assignments(org: Org) -> None:
    jane = org.add_user("jane.doe@example.com", "Jane", "Doe")
    org.assign(APP_ID, jane)
    org.set_status(jane, "DEPROVISIONED")
    assert org.reader.get_app_user(APP_ID, jane) is None


def test_a_plain_list_leaves_the_deprovisioned_out_and_a_status_filter_lists_them(org: Org) -> None:
    jane = org.add_user("jane.doe@example.com", "Jane", "Doe")
    gone = org.add_user("gone@example.com", "Gone", "Away", status="DEPROVISIONED")
    staged = org.add_user("staged@example.com", "Staged", "Soon", status="STAGED")
    assert sorted(u.id for u in org.reader.iter_users()) == sorted([jane, staged])
    assert [u.id for u in org.reader.iter_users(filter='status eq "DEPROVISIONED"')] == [gone]


def test_the_owner_of_an_email_is_found_ignoring_case_a_live_user_first(org: Org) -> None:
    left = org.add_user(
        "sam.lee@example.com", "Sam", "Lee", status="DEPROVISIONED", login="sam.old@example.com"
    )
    assert org.reader.find_by_email("Sam.Lee@example.com").id == left  # type: ignore[union-attr]
    rehired = org.add_user("Sam.Lee@example.com", "Sam", "Lee", login="sam.lee@example.com")
    assert org.reader.find_by_email("sam.lee@example.com").id == rehired  # type: ignore[union-attr]
    assert org.reader.find_by_email("nobody@example.com") is None
