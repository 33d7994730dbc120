"""The unit tier's fakes hold to the real adapters: the same assertions against both.

A fake that disagrees with its adapter makes the unit tier pass for code that fails in
production. Each test here runs once against the fake (``tests.support.fakes``) and once
against the real adapter over its emulator: ``SyncStateStore`` on DynamoDB (moto, with the
table and index from template.yaml), ``TeamViewerClient`` (users, and user groups with their
members and roles) against the TeamViewer emulator and ``OktaClient`` against the Okta
emulator, both on 127.0.0.1.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import pytest

from tests.conftest import Aws
from tests.support.fakes import T0, FakeGroupStateStore, FakeOkta, FakeSyncStateStore, FakeTeamViewer
from tvsync.adapters.errors import ConflictError, InvalidError, TransientError
from tvsync.adapters.group_state import GroupStateStore
from tvsync.adapters.okta_client import OktaClient
from tvsync.adapters.sync_state import SyncStateStore
from tvsync.adapters.teamviewer_client import TeamViewerClient
from tvsync.emulators.http import serve
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.teamviewer import TeamViewerEmulator
from tvsync.models.groups import GroupLink, OktaGroup, TeamViewerGroup
from tvsync.models.okta import OktaAppUser, OktaUser, OktaUserStatus
from tvsync.models.sync_state import SyncState
from tvsync.services.ports import (
    GroupStateRepository,
    OktaReader,
    SyncStateRepository,
    TeamViewerAccounts,
    TeamViewerGroups,
)

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


def test_get_many_reads_every_existing_record_across_batches_of_100(store: SyncStateRepository) -> None:
    """A pushed group's members are read in one go: 250 ids take three DynamoDB calls, none dropped."""
    for index in range(0, 250, 2):  # every other id has a record
        store.put(MAPPED.model_copy(update={"okta_user_id": f"00u{index:04d}", "teamviewer_id": f"u{index}"}))
    asked = [f"00u{index:04d}" for index in range(250)] + ["00u0000"]  # a repeated id is read once
    found = store.get_many(asked)
    assert sorted(found) == [f"00u{index:04d}" for index in range(0, 250, 2)]
    assert found["00u0248"].teamviewer_id == "u248"
    assert store.get_many([]) == {}


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


# ---------------------------------------------------------------------------- TeamViewer user groups


class GroupsPort(TeamViewerGroups, Protocol):
    """``TeamViewerGroups`` plus the one read the worker makes of a linked group."""

    def get_group(self, group_id: int) -> TeamViewerGroup | None: ...


@dataclass
class GroupCompany:
    """One TeamViewer company's user groups as the product sees them (``tv``) and as a test seeds them."""

    tv: GroupsPort
    add_user: Callable[[str, str], int]
    remove_from_company: Callable[[int], None]
    add_role: Callable[[str], str]
    add_group: Callable[..., int]
    remove_group: Callable[[int], None]
    members: Callable[[int], list[int]]
    role: Callable[[int], str | None]


def _number(account_id: str) -> int:
    return int(account_id.removeprefix("u"))


@pytest.fixture(params=["fake", "emulator"])
def groups(request: pytest.FixtureRequest) -> Iterator[GroupCompany]:
    if request.param == "fake":
        fake = FakeTeamViewer()
        yield GroupCompany(
            tv=fake,
            add_user=lambda email, name: _number(fake.add_user(email, name).id),
            remove_from_company=lambda number: fake.remove_from_company(f"u{number}"),
            add_role=fake.add_role,
            add_group=fake.add_group,
            remove_group=fake.remove_group,
            members=fake.members_of,
            role=fake.role_of,
        )
        return
    emulator = TeamViewerEmulator()
    with serve(emulator) as server, TeamViewerClient(server.url, lambda: emulator.token) as client:
        yield GroupCompany(
            tv=client,
            add_user=lambda email, name: _number(str(emulator.add_user(email, name)["id"])),
            remove_from_company=lambda number: emulator.remove_from_company(f"u{number}"),
            add_role=emulator.add_role,
            add_group=emulator.add_group,
            remove_group=emulator.remove_group,
            members=emulator.group_members,
            role=emulator.group_role,
        )


def test_groups_are_created_listed_and_found_by_name(groups: GroupCompany) -> None:
    tv = groups.tv
    seeded = [groups.add_group(f"Team {n:02d}") for n in range(30)]  # more than one page
    created = tv.create_group("Support")
    assert created.name == "Support"
    assert [g.id for g in tv.iter_groups()] == [*seeded, created.id]
    assert tv.get_group(created.id) == created
    assert tv.find_group_by_name("Support") == created
    assert tv.find_group_by_name("SUPPORT") == created, "other case: the group a create would collide with"
    assert tv.find_group_by_name("Nobody") is None
    for taken in ("Support", "support"):
        with pytest.raises(ConflictError):
            tv.create_group(taken)
    with pytest.raises(ValueError, match="1 to 100"):
        tv.create_group("x" * 101)


def test_a_rename_keeps_the_group_and_a_delete_is_done_once_gone(groups: GroupCompany) -> None:
    tv = groups.tv
    support = groups.add_group("Support")
    groups.add_group("Helpdesk")
    tv.rename_group(support, "Service Desk")
    assert tv.get_group(support) == TeamViewerGroup(id=support, name="Service Desk")
    with pytest.raises(ConflictError):
        tv.rename_group(support, "helpdesk")
    tv.delete_group(support)
    assert tv.get_group(support) is None
    tv.delete_group(support)
    with pytest.raises(InvalidError) as gone:
        tv.rename_group(support, "Again")
    assert gone.value.status == 404


def test_membership_calls_are_idempotent_and_hold_to_100_ids(groups: GroupCompany) -> None:
    tv = groups.tv
    numbers = [groups.add_user(f"staff{n:03d}@example.com", f"Staff {n}") for n in range(101)]
    group_id = groups.add_group("Support")
    tv.add_group_members(group_id, numbers[:100])
    tv.add_group_members(group_id, numbers[:2])  # already members: harmless
    tv.add_group_members(group_id, [])
    assert sorted(tv.iter_group_members(group_id)) == numbers[:100] == groups.members(group_id)
    with pytest.raises(ValueError, match="at most 100"):
        tv.add_group_members(group_id, numbers)
    with pytest.raises(ValueError, match="at most 100"):
        tv.remove_group_members(group_id, numbers)
    tv.remove_group_members(group_id, [numbers[0], numbers[100]])  # numbers[100] is no member: harmless
    assert groups.members(group_id) == numbers[1:100]


def test_only_company_accounts_can_be_members(groups: GroupCompany) -> None:
    tv = groups.tv
    jane = groups.add_user("jane.doe@example.com", "Jane Doe")
    hal = groups.add_user("hal.hart@example.com", "Hal Hart")
    group_id = groups.add_group("Support", members=[hal])
    groups.remove_from_company(hal)
    assert groups.members(group_id) == [], "leaving the company leaves its groups"
    with pytest.raises(InvalidError) as refused:
        tv.add_group_members(group_id, [jane, hal])
    assert refused.value.status == 400
    assert groups.members(group_id) == [], "all or nothing"


def test_a_gone_group_is_404_for_its_members_and_role(groups: GroupCompany) -> None:
    tv = groups.tv
    jane = groups.add_user("jane.doe@example.com", "Jane Doe")
    group_id = groups.add_group("Support")
    groups.remove_group(group_id)
    reads: list[Callable[[], object]] = [
        lambda: list(tv.iter_group_members(group_id)),
        lambda: tv.add_group_members(group_id, [jane]),
        lambda: tv.remove_group_members(group_id, [jane]),
        lambda: tv.group_role(group_id),
    ]
    for call in reads:
        with pytest.raises(InvalidError) as gone:
            call()
        assert gone.value.status == 404


def test_a_group_holds_one_role(groups: GroupCompany) -> None:
    tv = groups.tv
    supporter, admin = groups.add_role("Supporter"), groups.add_role("Admin")
    group_id = groups.add_group("Support")
    assert [(r.id, r.name) for r in tv.iter_roles()] == [(supporter, "Supporter"), (admin, "Admin")]
    assert tv.group_role(group_id) is None
    tv.assign_group_role(group_id, supporter)
    tv.assign_group_role(group_id, admin)
    assert tv.group_role(group_id) == admin == groups.role(group_id)
    with pytest.raises(InvalidError):
        tv.assign_group_role(group_id, "no-such-role")
    tv.unassign_group_role(group_id)
    tv.unassign_group_role(group_id)
    assert groups.role(group_id) is None


# ---------------------------------------------------------------------------- Okta


class GroupReads(Protocol):
    """The group reads the worker and the reconciler make (``OktaClient``'s signatures)."""

    def get_group(self, group_id: str) -> OktaGroup | None: ...

    def iter_group_users(self, group_id: str, *, page_size: int = ...) -> Iterator[OktaUser]: ...

    def iter_user_groups(self, user_id: str) -> Iterator[OktaGroup]: ...


class OktaLists(OktaReader, Protocol):
    """The whole-list reads both ``OktaClient`` and ``FakeOkta`` offer beside ``OktaReader``."""

    def iter_users(self, *, page_size: int = ..., filter: str | None = ...) -> Iterator[OktaUser]: ...

    def iter_app_users(
        self, app_id: str, *, page_size: int = ...
    ) -> Iterator[tuple[OktaAppUser, OktaUser]]: ...


@dataclass
class Org:
    """One Okta org as the product reads it (``reader``, ``groups``) and as a test seeds it."""

    reader: OktaLists
    groups: GroupReads
    add_user: Callable[..., str]
    assign: Callable[[str, str], object]
    set_status: Callable[[str, str], object]
    delete_user: Callable[[str], object]
    add_group: Callable[..., str]
    add_to_group: Callable[[str, str], object]
    remove_from_group: Callable[[str, str], object]
    rename_group: Callable[[str, str], object]
    delete_group: Callable[[str], object]
    everyone_id: str


@pytest.fixture(params=["fake", "emulator"])
def org(request: pytest.FixtureRequest) -> Iterator[Org]:
    if request.param == "fake":
        fake = FakeOkta()
        yield Org(
            reader=fake,
            groups=fake,
            add_user=fake.add_user,
            assign=fake.assign,
            set_status=fake.set_status,
            delete_user=fake.delete_user,
            add_group=fake.add_group,
            add_to_group=fake.add_to_group,
            remove_from_group=fake.remove_from_group,
            rename_group=fake.rename_group,
            delete_group=fake.delete_group,
            everyone_id=fake.everyone_id,
        )
        return
    emulator = OktaEmulator()

    def add_user(email: str, first: str | None, last: str | None, **options: str) -> str:
        return str(emulator.add_user(email, first, last, **options)["id"])

    def add_group(name: str, **options: str) -> str:
        return str(emulator.add_group(name, **options)["id"])

    with serve(emulator) as server, OktaClient(server.url, lambda: emulator.token) as client:
        yield Org(
            reader=client,
            groups=client,
            add_user=add_user,
            assign=emulator.assign,
            set_status=emulator.set_status,
            delete_user=emulator.delete_user,
            add_group=add_group,
            add_to_group=emulator.add_to_group,
            remove_from_group=emulator.remove_from_group,
            rename_group=emulator.rename_group,
            delete_group=emulator.delete_group,
            everyone_id=emulator.everyone_id,
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


def test_many_owners_are_found_at_once_ignoring_case_a_live_user_first(org: Org) -> None:
    left = org.add_user("sam.lee@example.com", "Sam", "Lee", status="DEPROVISIONED", login="old@example.com")
    rehired = org.add_user("Sam.Lee@example.com", "Sam", "Lee", login="sam.lee@example.com")
    gone = org.add_user("gone@example.com", "Gone", "Away", status="DEPROVISIONED")
    found = org.reader.find_by_emails(["SAM.LEE@example.com", "Gone@Example.com", "nobody@example.com"])
    assert {email: user.id for email, user in found.items()} == {
        "sam.lee@example.com": rehired,
        "gone@example.com": gone,
    }
    assert left not in {user.id for user in found.values()}


def test_a_walk_of_pages_resumes_from_a_cursor_and_refuses_another_lists(org: Org) -> None:
    ids = sorted(org.add_user(f"user{n}@example.com", "User", f"{n}") for n in range(5))
    for user_id in ids:
        org.assign(APP_ID, user_id)
    first = next(org.reader.iter_app_user_pages(APP_ID, page_size=2))
    assert [user.id for _, user in first.items] == ids[:2] and first.next_cursor is not None
    rest = list(org.reader.iter_app_user_pages(APP_ID, page_size=2, cursor=first.next_cursor))
    assert [user.id for page in rest for _, user in page.items] == ids[2:]
    assert [page.next_cursor is None for page in rest] == [False, True]
    users = next(org.reader.iter_user_pages(page_size=2))
    assert users.next_cursor is not None
    with pytest.raises(InvalidError):
        next(org.reader.iter_app_user_pages(APP_ID, page_size=2, cursor=users.next_cursor))


def test_a_group_reads_back_renamed_and_reads_as_none_once_deleted(org: Org) -> None:
    support = org.add_group("Support")
    imported = org.add_group("AD Sales", type="APP_GROUP")
    assert org.groups.get_group(support) == OktaGroup(id=support, name="Support", type="OKTA_GROUP")
    assert org.groups.get_group(imported) == OktaGroup(id=imported, name="AD Sales", type="APP_GROUP")
    everyone = org.groups.get_group(org.everyone_id)
    assert everyone is not None and (everyone.name, everyone.type) == ("Everyone", "BUILT_IN")
    org.rename_group(support, "Support Team")
    assert org.groups.get_group(support) == OktaGroup(id=support, name="Support Team", type="OKTA_GROUP")
    jane = org.add_user("jane.doe@example.com", "Jane", "Doe")
    org.add_to_group(support, jane)
    org.delete_group(support)
    assert org.groups.get_group(support) is None
    assert list(org.groups.iter_group_users(support)) == [], "a deleted group holds nobody"
    assert org.groups.get_group("00gNOSUCHGROUP000000") is None


def test_members_are_listed_in_full_by_id_deactivated_ones_included(org: Org) -> None:
    support = org.add_group("Support")
    ids = [org.add_user(f"staff{n}@example.com", "Staff", str(n)) for n in range(5)]
    for user_id in reversed(ids):
        org.add_to_group(support, user_id)
        org.add_to_group(support, user_id)  # a member stays one
    org.set_status(ids[1], "DEPROVISIONED")
    org.remove_from_group(support, ids[3])
    org.remove_from_group(support, ids[3])  # no longer a member: nothing changes
    members = list(org.groups.iter_group_users(support, page_size=2))
    assert [m.id for m in members] == [ids[0], ids[1], ids[2], ids[4]]
    assert members[1].status is OktaUserStatus.DEPROVISIONED
    assert [m.id for m in org.groups.iter_group_users(org.everyone_id)] == ids


def test_a_users_groups_include_everyone_and_end_with_the_user(org: Org) -> None:
    support, sales = org.add_group("Support"), org.add_group("Sales")
    jane = org.add_user("Jane.Doe@example.com", "Jane", "Doe")
    john = org.add_user("john.roe@example.com", "John", "Roe")
    org.add_to_group(sales, jane)
    org.add_to_group(support, jane)
    org.add_to_group(support, john)
    assert [g.id for g in org.groups.iter_user_groups(jane)] == [org.everyone_id, support, sales]
    assert [g.id for g in org.groups.iter_user_groups("jane.doe@EXAMPLE.com")] == [
        org.everyone_id,
        support,
        sales,
    ]
    org.set_status(jane, "DEPROVISIONED")
    assert [g.id for g in org.groups.iter_user_groups(jane)] == [org.everyone_id, support, sales]
    org.delete_user(jane)
    assert list(org.groups.iter_user_groups(jane)) == [], "a deleted user is in no group"
    assert [m.id for m in org.groups.iter_group_users(support)] == [john]


def test_the_built_in_group_is_okta_s_to_manage(org: Org) -> None:
    jane = org.add_user("jane.doe@example.com", "Jane", "Doe")
    with pytest.raises(ValueError, match="built-in"):
        org.remove_from_group(org.everyone_id, jane)
    with pytest.raises(ValueError, match="built-in"):
        org.add_to_group(org.everyone_id, jane)
    with pytest.raises(ValueError, match="built-in"):
        org.delete_group(org.everyone_id)
    with pytest.raises(ValueError, match="cannot be"):
        org.rename_group(org.everyone_id, "All")


# ---------------------------------------------------------------------------- GroupStateTable


@pytest.fixture(params=["fake", "dynamodb"])
def group_store(request: pytest.FixtureRequest) -> GroupStateRepository:
    if request.param == "fake":
        return FakeGroupStateStore()
    aws: Aws = request.getfixturevalue("aws")
    return GroupStateStore(aws.session.client("dynamodb"), aws.resources.refs["GroupStateTable"])


LINKED = GroupLink(
    okta_group_id="00g1support0000000001",
    teamviewer_group_id=1_000_001,
    name="Support",
    role_id="9b1e0000-0000-4000-8000-000000000001",
    last_outcome="applied",
    last_reason="group-missing",
    last_operations=["create", "assign_role", "add_members"],
    updated_at=T0,
    last_applied_at=T0,
)


def test_a_group_link_reads_back_as_it_was_put_and_put_replaces_it(group_store: GroupStateRepository) -> None:
    assert group_store.get(LINKED.okta_group_id) is None
    group_store.put(LINKED)
    assert group_store.get(LINKED.okta_group_id) == LINKED
    # The TeamViewer group was deleted (DELETE_UNPUSHED_GROUPS): the whole record is replaced.
    released = GroupLink(
        okta_group_id=LINKED.okta_group_id,
        last_outcome="applied",
        last_reason="group-released",
        last_operations=["remove_members", "unassign_role", "delete"],
        updated_at=T0 + timedelta(hours=1),
    )
    group_store.put(released)
    assert group_store.get(LINKED.okta_group_id) == released, "no link, role or name left behind"


def test_group_record_outcome_keeps_the_link_and_masks_the_reason(group_store: GroupStateRepository) -> None:
    group_store.put(LINKED)
    later = T0 + timedelta(minutes=5)
    group_store.record_outcome(
        LINKED.okta_group_id, outcome="retrying", reason="account of jane.doe@example.com refused", at=later
    )
    assert group_store.get(LINKED.okta_group_id) == LINKED.model_copy(
        update={
            "last_outcome": "retrying",
            "last_reason": "account of j***@example.com refused",
            "updated_at": later,
        }
    )


def test_group_record_outcome_creates_a_missing_record_with_only_the_outcome(
    group_store: GroupStateRepository,
) -> None:
    group_store.record_outcome("00g1new0000000000009", outcome="invalid", reason="name refused", at=T0)
    assert group_store.get("00g1new0000000000009") == GroupLink(
        okta_group_id="00g1new0000000000009",
        last_outcome="invalid",
        last_reason="name refused",
        updated_at=T0,
    )


def test_group_scan_lists_every_record(group_store: GroupStateRepository) -> None:
    group_store.put(LINKED)
    group_store.put(
        LINKED.model_copy(update={"okta_group_id": "00g1sales00000000002", "teamviewer_group_id": 7})
    )
    group_store.record_outcome("00g1gone000000000003", outcome="invalid", reason="x", at=T0)
    assert sorted((link.okta_group_id, link.teamviewer_group_id) for link in group_store.scan()) == [
        ("00g1gone000000000003", None),
        ("00g1sales00000000002", 7),
        ("00g1support0000000001", 1_000_001),
    ]
