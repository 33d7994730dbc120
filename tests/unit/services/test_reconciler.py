"""The Reconciler over fakes: drift found in every direction, what is queued, and runs cut short.

The drift is made the way it happens in production — Okta changes the worker never heard
of, edits made in TeamViewer itself — on top of users the real synchroniser synced first;
what the reconciler queues is then handed to that synchroniser, as the worker would be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.fakes import FakeEventQueue, clocked_context
from tests.support.world import APP_ID, World
from tvsync.adapters.errors import AuthError
from tvsync.core.desired_state import SyncConfig
from tvsync.core.drift import DriftCategory
from tvsync.core.group_drift import GroupDriftReason
from tvsync.core.groups import GroupConfig
from tvsync.models.sync_request import SyncRequest
from tvsync.services.clock import Deadline
from tvsync.services.group_reconcile import GroupReconciler
from tvsync.services.reconcile import Reconciler
from tvsync.services.reconcile_report import ReconcileFailedError, ReconcileReport

C = DriftCategory


@dataclass
class Setup:
    """A world the worker synced, and a reconciler reading the same fakes."""

    w: World = field(default_factory=World)
    queue: FakeEventQueue = field(default_factory=FakeEventQueue)

    def reconciler(
        self, *, deadline: Deadline | None = None, groups: bool = False, **options: Any
    ) -> Reconciler:
        """The reconciler; ``groups`` adds the group half, configured as the world's worker."""
        group_reconciler = None
        if groups:
            group_reconciler = GroupReconciler(
                okta=self.w.okta,
                teamviewer=self.w.tv,
                links=self.w.links,
                users=self.w.state,
                config=self.w.group_config,
            )
        return Reconciler(
            okta=self.w.okta,
            teamviewer=self.w.tv,
            queue=self.queue,
            state=self.w.state,
            config=SyncConfig(app_id=self.w.app_id),
            logger=self.w.logger,
            metrics=self.w.metrics,
            deadline=deadline,
            clock=self.w.clock,
            groups=group_reconciler,
            **options,
        )

    def synced(self, email: str, first: str, last: str) -> str:
        user = self.w.add_assigned(email, first, last)
        self.w.sync(user)
        return user

    def work_off_the_queue(self) -> None:
        """What the worker does with every queued request: its dispatcher routes each one."""
        for request in self.queue.sent:
            self.w.dispatch(request)
        self.queue.sent.clear()


def counts(report: ReconcileReport) -> dict[str, int]:
    return {category.value: n for category, n in report.counts.items() if n}


def queued_users(queue: FakeEventQueue) -> list[str]:
    return [request.okta_user_id for request in queue.sent]


def seed_drift_in_every_direction(s: Setup) -> dict[str, str]:
    w = s.w
    users = {
        name: s.synced(f"{name}@example.com", name.title(), "Test")
        for name in ("bob", "carol", "dave", "erin", "frank", "gina", "hank")
    }
    # Okta events the hook never delivered:
    users["alice"] = w.add_assigned("alice@example.com", "Alice", "Test")  # to create
    w.okta.set_status(users["dave"], "SUSPENDED")  # to deactivate
    w.okta.unassign(APP_ID, users["erin"])  # to deactivate, found by email
    w.okta.delete_user(users["gina"])  # to deactivate, found through the worker's mapping
    w.okta.update_profile(users["hank"], email="henry@example.com", login="henry@example.com")
    users["ida"] = w.add_assigned("ida@example.com", "Ida", "Test", status="STAGED")  # ignored
    # Edits made in TeamViewer itself:
    w.tv.edit(w.account_id(users["bob"]), active=False)
    w.tv.edit(w.account_id(users["carol"]), name="C. Test")
    w.tv.add_user("ghost@example.com", "Ghost Account")  # orphan
    return users


def test_drift_in_every_direction_is_found_queued_and_fixed_by_the_worker() -> None:
    s = Setup()
    users = seed_drift_in_every_direction(s)
    report = s.reconciler().run()
    assert report.complete, report.error
    assert counts(report) == {
        "in_sync": 1,  # frank
        "to_create": 1,  # alice
        "to_update": 3,  # bob, carol, hank (email)
        "to_deactivate": 3,  # dave, erin, gina
        "orphan": 1,  # ghost
        "protected": 1,  # the token owner: never an orphan
        "ignored": 1,  # ida
    }
    assert (report.drifted, report.enqueued, report.enqueue_failed) == (8, 7, 0)
    assert (report.okta_users, report.teamviewer_users) == (7, 9), "erin and gina are no longer in the app"
    by_name = {users[name]: name for name in users}
    assert sorted(by_name[user] for user in queued_users(s.queue)) == sorted(
        ["alice", "bob", "carol", "dave", "erin", "gina", "hank"]
    )
    request: SyncRequest = s.queue.sent[0]
    assert (request.source, request.event_type, request.published, request.teamviewer_id) == (
        "reconcile",
        "tvsync.reconcile",
        s.w.clock.now,
        None,
    )
    assert request.event_uuid == f"reconcile-{report.run_id}-{request.okta_user_id}"
    assert C.PROTECTED not in {item.category for item in report.items}, "listed only as a count"
    assert s.w.metric("DriftDetected") == 8

    s.work_off_the_queue()
    final = {a.email: a for a in s.w.tv.accounts()}
    assert final["alice@example.com"].active and final["bob@example.com"].active
    assert final["carol@example.com"].name == "Carol Test"
    assert not final["dave@example.com"].active and not final["erin@example.com"].active
    assert not final["gina@example.com"].active
    assert "hank@example.com" not in final and final["henry@example.com"].active
    assert final["ghost@example.com"].active, "orphans are only reported by default"

    again = s.reconciler().run()
    assert counts(again) == {"in_sync": 6, "orphan": 1, "protected": 1, "ignored": 1}
    assert again.enqueued == 0


def test_a_dry_run_reports_the_same_drift_and_queues_nothing() -> None:
    s = Setup()
    seed_drift_in_every_direction(s)
    writes = len(s.w.tv.writes())
    report = s.reconciler().run(dry_run=True, deactivate_orphans=True)
    assert report.complete and report.dry_run
    assert (report.counts[C.TO_CREATE], report.counts[C.TO_DEACTIVATE], report.counts[C.ORPHAN]) == (1, 3, 1)
    assert report.enqueued == 0 and s.queue.calls == []
    assert len(s.w.tv.writes()) == writes


def test_without_an_app_the_walk_covers_every_user_and_asks_for_the_deprovisioned_ones() -> None:
    s = Setup(w=World(app_id=None))
    left = s.w.okta.add_user("left@example.com", "Left", "Company", status="DEPROVISIONED")
    s.w.tv.add_user("left@example.com", "Left Company")
    s.w.okta.add_user("new@example.com", "New", "Hire")
    report = s.reconciler().run()
    assert counts(report) == {"to_create": 1, "to_deactivate": 1, "protected": 1}
    walks = [c.args for c in s.w.okta.calls if c.operation == "iter_user_pages"]
    assert walks == [(None, None), ('status eq "DEPROVISIONED"', None)], "everyone, then the deprovisioned"
    assert left in queued_users(s.queue)


def test_an_account_whose_okta_owner_is_out_of_scope_is_drift_to_deactivate_not_an_orphan() -> None:
    s = Setup()
    s.w.tv.add_user("Erin@Example.com", "Erin Evans")
    erin = s.w.okta.add_user("erin@example.com", "Erin", "Evans")  # never assigned to the app
    report = s.reconciler().run(deactivate_orphans=True)
    assert counts(report) == {"to_deactivate": 1, "protected": 1}
    [asked] = [c.args[0] for c in s.w.okta.calls if c.operation == "find_by_emails"]
    assert sorted(asked) == sorted(["erin@example.com", s.w.tv.OWNER_EMAIL]), "each unclaimed account, once"
    assert queued_users(s.queue) == [erin]


def test_a_create_teamviewer_refused_is_a_known_conflict_not_requeued_every_run() -> None:
    s = Setup()
    s.w.tv.add_foreign_account("erin@example.com", "Erin Private")
    s.synced("erin@example.com", "Erin", "Evans")
    report = s.reconciler().run()
    assert counts(report) == {"conflict": 1, "protected": 1}
    assert (report.drifted, report.enqueued) == (0, 0), "the worker already counted the conflict"


# ---------------------------------------------------------------------------- orphans


def test_orphans_are_reported_by_default_and_queued_only_when_opted_in() -> None:
    s = Setup()
    ghost = s.w.tv.add_user("ghost@example.com", "Ghost Account").id
    reported = s.reconciler().run()
    assert (reported.counts[C.ORPHAN], reported.counts[C.PROTECTED], reported.enqueued) == (1, 1, 0)

    opted_in = s.reconciler(deactivate_orphans=True).run()
    assert opted_in.enqueued == 1
    [request] = s.queue.sent
    assert (request.okta_user_id, request.teamviewer_id) == (f"orphan-{ghost}", ghost)
    s.work_off_the_queue()
    assert s.w.account("ghost@example.com").active is False
    assert s.w.account(s.w.tv.OWNER_EMAIL).active is True


def test_a_run_may_override_the_configured_orphan_setting() -> None:
    s = Setup()
    s.w.tv.add_user("ghost@example.com", "Ghost Account")
    assert s.reconciler(deactivate_orphans=True).run(deactivate_orphans=False).enqueued == 0
    assert s.reconciler().run(deactivate_orphans=True).enqueued == 1


def test_no_orphan_is_deactivated_when_there_are_more_than_the_limit() -> None:
    s = Setup()
    for n in range(3):
        s.w.tv.add_user(f"ghost{n}@example.com", f"Ghost {n}")
    report = s.reconciler(deactivate_orphans=True, max_orphan_deactivations=2).run()
    assert (report.counts[C.ORPHAN], report.enqueued) == (3, 0)
    assert s.queue.sent == []
    assert s.reconciler(deactivate_orphans=True, max_orphan_deactivations=3).run().enqueued == 3


def test_records_of_orphans_are_no_mapping_for_the_comparison() -> None:
    s = Setup()
    ghost = s.w.tv.add_user("ghost@example.com", "Ghost Account").id
    s.w.sync(f"orphan-{ghost}", "tvsync.reconcile", source="reconcile", teamviewer_id=ghost)
    report = s.reconciler().run()
    assert counts(report) == {"protected": 1}, "inactive now, and its record maps no user"


# ---------------------------------------------------------------------------- runs cut short


def test_a_service_failing_after_the_walk_queues_the_creates_found_but_no_deactivation() -> None:
    s = Setup()
    s.w.tv.add_user("erin@example.com", "Erin Evans")  # unclaimed: Okta is asked who owns it
    s.w.okta.add_user("erin@example.com", "Erin", "Evans")
    alice = s.w.add_assigned("alice@example.com", "Alice", "Test")
    s.w.okta.fail("find_by_emails", AuthError("okta", "list_users", "E0000006", status=403))
    report = s.reconciler(deactivate_orphans=True).run()
    assert not report.complete and "E0000006" in (report.error or "")
    assert queued_users(s.queue) == [alice], (
        "a create is final once seen; a deactivation needs the whole picture"
    )
    assert report.counts[C.TO_DEACTIVATE] == report.counts[C.ORPHAN] == 0
    [line] = s.w.logs.lines("Reconcile did not finish")
    assert line["level"] == "ERROR" and line["complete"] is False


def test_a_run_out_of_time_stops_walking_and_queues_no_deactivation() -> None:
    s = Setup()
    s.w.tv.add_user("dave@example.com", "Dave Dunn")
    s.w.add_assigned("dave@example.com", "Dave", "Dunn", status="SUSPENDED")
    for n in range(250):
        s.w.add_assigned(f"user{n:03d}@example.com", "User", f"N{n:03d}")
    expired = Deadline(at=s.w.monotonic.now, clock=s.w.monotonic)
    report = s.reconciler(deadline=expired, app_page_size=100).run()
    assert (report.complete, report.error) == (False, "stopped before the Lambda's time limit")
    # The deadline is looked at after each page of Okta users: what was seen by then is queued.
    assert report.okta_users == 100
    assert report.counts[C.TO_CREATE] == report.enqueued == 99
    assert report.counts[C.TO_DEACTIVATE] == 0 and "dave" not in str(s.queue.sent)


def test_requests_that_could_not_be_queued_are_counted_and_fail_the_lambda() -> None:
    s = Setup()
    alice = s.w.add_assigned("alice@example.com", "Alice", "Test")
    bob = s.w.add_assigned("bob@example.com", "Bob", "Test")
    s.queue.refused_users.add(bob)
    reconciler = s.reconciler()
    with pytest.raises(ReconcileFailedError) as raised:
        reconciler.handle({}, clocked_context(s.w.monotonic, 900.0))
    assert (raised.value.report.enqueued, raised.value.report.enqueue_failed) == (1, 1)
    assert queued_users(s.queue) == [alice]
    assert s.w.logs.lines("Could not queue sync requests")[0]["failed"] == 1


# ---------------------------------------------------------------------------- the Lambda entry


def test_the_handler_starts_the_deadline_and_returns_counts_without_emails() -> None:
    s = Setup()
    s.w.add_assigned("alice@example.com", "Alice", "Test")
    s.w.tv.add_user("ghost@example.com", "Ghost")
    reconciler = s.reconciler(deadline=Deadline(clock=s.w.monotonic))
    summary = reconciler.handle({}, clocked_context(s.w.monotonic, 900.0))
    assert reconciler.deadline.at == s.w.monotonic.now + 900.0 - 60.0, "a minute kept to queue and report"
    assert (summary["to_create"], summary["orphan"], summary["protected"], summary["enqueued"]) == (
        1,
        1,
        1,
        1,
    )
    assert "ghost@example.com" not in str(summary) + str(s.w.logs.lines())
    assert s.w.metric("DriftDetected") == 2

    dry = reconciler.handle({"dry_run": True}, clocked_context(s.w.monotonic, 900.0))
    assert (dry["dry_run"], dry["enqueued"]) == (True, 0)


def test_the_handler_fails_loudly_when_a_service_keeps_refusing() -> None:
    s = Setup()
    s.w.tv.fail("token_owner", AuthError("teamviewer", "token_owner", "HTTP 401", status=401))
    with pytest.raises(ReconcileFailedError) as raised:
        s.reconciler().handle({}, clocked_context(s.w.monotonic, 900.0))
    assert raised.value.report.complete is False
    assert s.queue.calls == []


# ---------------------------------------------------------------------------- groups

G = GroupDriftReason


def linked_group(s: Setup, name: str, *, members: int = 2, role_id: str | None = None) -> str:
    """A pushed group with mapped members that the worker linked; call logs start empty."""
    users = s.w.mapped_users(members, prefix=name.lower())
    group = s.w.push_group(name, role_id=role_id, members=tuple(users))
    s.w.sync_group(group)
    s.w.reset_calls()
    return group


def seed_group_drift(s: Setup) -> dict[str, str]:
    """One group per drift reason the worker can repair, and one in step."""
    w = s.w
    supporter, admin = w.tv.add_role("Supporter"), w.tv.add_role("Admin")
    groups = {
        name: linked_group(s, name, role_id=supporter if name == "Role" else None)
        for name in ("Steady", "Renamed", "Role", "Missing", "Extra", "Deleted", "Stale")
    }
    groups["New"] = w.push_group("New", members=tuple(w.mapped_users(2, prefix="new")))
    w.okta.rename_group(groups["Renamed"], "Renamed in Okta")
    w.tv.set_group_role(w.tv_group(groups["Role"]), admin)
    w.okta.add_to_group(groups["Missing"], w.mapped_users(1, prefix="latecomer")[0])
    extra = w.tv_group(groups["Extra"])
    w.tv.set_group_members(
        extra, [*w.tv.members_of(extra), w.number(w.mapped_users(1, prefix="stranger")[0])]
    )
    w.okta.delete_group(groups["Deleted"])
    w.tv.remove_group(w.tv_group(groups["Stale"]))
    w.okta.delete_group(groups["Stale"])
    w.reset_calls()
    return groups


def test_group_drift_is_listed_beside_user_drift_counted_and_queued_as_group_requests() -> None:
    s = Setup()
    groups = seed_group_drift(s)
    alice = s.w.add_assigned("alice@example.com", "Alice", "Test")  # user drift: to create

    report = s.reconciler(groups=True).run()

    assert report.complete, report.error
    by_id = {d.okta_group_id: d for d in report.group_items}
    reasons = {name: by_id[gid].reasons for name, gid in groups.items() if gid in by_id}
    assert reasons == {
        "Renamed": (G.NAME,),
        "Role": (G.ROLE,),
        "Missing": (G.MEMBERS_MISSING,),
        "Extra": (G.MEMBERS_EXTRA,),
        "Deleted": (G.NOT_RELEASED,),
        "Stale": (G.STALE_LINK,),
        "New": (G.NOT_LINKED,),
    }, "the group in step is not listed"
    assert (report.groups_checked, report.groups_drifted) == (8, 7)
    assert {reason.value: n for reason, n in report.group_counts.items() if n} == {
        "name-differs": 1,
        "role-differs": 1,
        "members-missing": 1,
        "members-extra": 1,
        "not-released": 1,
        "stale-link": 1,
        "not-linked": 1,
    }
    assert s.w.metric("GroupDriftDetected") == 7
    assert s.w.metric("DriftDetected") == 1, "users and groups are counted apart"

    as_dict = report.as_dict()
    assert [item["okta_user_id"] for item in as_dict["items"]] == [alice]
    renamed = next(g for g in as_dict["groups"] if g["okta_group_id"] == groups["Renamed"])
    assert renamed == {
        "okta_group_id": groups["Renamed"],
        "name": "Renamed in Okta",
        "teamviewer_group_id": s.w.tv_group(groups["Renamed"]),
        "reasons": ["name-differs"],
        "members_missing": 0,
        "members_extra": 0,
    }
    summary = report.summary()
    assert (summary["groups_checked"], summary["groups_drifted"]) == (8, 7)
    assert summary["group_drift"]["stale-link"] == 1

    group_requests = [r for r in s.queue.sent if r.okta_group_id is not None]
    assert sorted(r.okta_group_id or "" for r in group_requests) == sorted(by_id)
    assert groups["Steady"] not in {r.okta_group_id for r in group_requests}, "in step: not queued"
    request = group_requests[0]
    assert request.okta_user_id == f"group-{request.okta_group_id}" and request.is_group_request
    assert (request.source, request.event_type, request.published) == (
        "reconcile",
        "tvsync.reconcile",
        s.w.clock.now,
    )
    assert request.event_uuid == f"reconcile-{report.run_id}-group-{request.okta_group_id}"
    assert report.enqueued == 1 + 7


def test_queued_group_requests_worked_off_by_the_worker_leave_no_group_drift() -> None:
    s = Setup()
    groups = seed_group_drift(s)
    s.reconciler(groups=True).run()
    s.work_off_the_queue()

    again = s.reconciler(groups=True).run()

    assert (again.groups_drifted, again.group_items, again.enqueued) == (0, [], 0)
    w = s.w
    assert next(g.name for g in w.tv.groups() if g.id == w.tv_group(groups["Renamed"])) == "Renamed in Okta"
    assert w.tv.role_of(w.tv_group(groups["Role"])) is not None
    assert w.tv.members_of(w.tv_group(groups["Deleted"])) == []
    assert w.link(groups["Stale"]).teamviewer_group_id is None


def test_removing_the_pair_from_the_role_map_unassigns_the_role_at_the_next_reconcile() -> None:
    s = Setup()
    supporter = s.w.tv.add_role("Supporter")
    group = linked_group(s, "Support", role_id=supporter)
    tv_group = s.w.tv_group(group)
    s.w.configure_groups(GroupConfig(frozenset({group}), {}))  # redeployed: pushed, no longer mapped

    report = s.reconciler(groups=True).run()
    assert [d.reasons for d in report.group_items] == [(G.ROLE,)]
    assert s.w.tv.role_of(tv_group) == supporter, "the reconciler only reads"
    s.work_off_the_queue()

    assert s.w.tv.role_of(tv_group) is None
    assert len(s.w.tv.members_of(tv_group)) == 2
    assert s.reconciler(groups=True).run().groups_drifted == 0


def test_a_dry_run_lists_group_drift_and_queues_nothing() -> None:
    s = Setup()
    seed_group_drift(s)
    report = s.reconciler(groups=True).run(dry_run=True)
    assert report.groups_drifted == 7 and len(report.as_dict()["groups"]) == 7
    assert s.queue.calls == [] and s.w.tv.writes() == []


def test_the_group_list_is_bounded_but_its_counts_are_not() -> None:
    s = Setup()
    seed_group_drift(s)
    report = s.reconciler(groups=True).run(dry_run=True, max_items=2)
    assert (len(report.group_items), report.groups_drifted) == (2, 7)


def test_without_the_group_half_no_group_metric_is_emitted() -> None:
    s = Setup()
    s.reconciler().run()
    assert "GroupDriftDetected" not in s.w.metric_names()
    assert "groups" in s.reconciler().run().as_dict()


def test_with_groups_in_step_a_run_reports_zero_group_drift() -> None:
    s = Setup()
    linked_group(s, "Support")
    report = s.reconciler(groups=True).run()
    assert (report.groups_checked, report.groups_drifted, report.enqueued) == (1, 0, 0)
    assert "GroupDriftDetected" in s.w.metric_names() and s.w.metric("GroupDriftDetected") == 0
