"""UserSynchronizer with a ``reads`` executor: the user and the assignment are read side by side.

Side by side is shown, not timed: both reads meet at a barrier, which only two reads in
flight at once can pass. What the synchroniser decides must not change with it — in
particular for a user Okta no longer has, whose assignment read is then beside the point.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.fakes import FakeOkta
from tests.support.world import APP_ID, World
from tvsync.adapters.errors import InvalidError, ThrottledError
from tvsync.core.desired_state import SyncConfig
from tvsync.models.okta import OktaAppUser, OktaUser
from tvsync.services.sqs_batch import RetryLaterError
from tvsync.services.user_sync import UserSynchronizer

#: Only reads that never meet make a test wait this long.
PATIENCE = 10.0


class MeetingOkta(FakeOkta):
    """A ``FakeOkta`` whose user and assignment reads each wait for the other at a barrier."""

    def __init__(self) -> None:
        super().__init__()
        self.both_in_flight = threading.Barrier(2, timeout=PATIENCE)

    def get_user(self, user_id: str) -> OktaUser | None:
        self.both_in_flight.wait()
        return super().get_user(user_id)

    def get_app_user(self, app_id: str, user_id: str) -> OktaAppUser | None:
        self.both_in_flight.wait()
        return super().get_app_user(app_id, user_id)


@pytest.fixture
def reads() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


def synchronizer(world: World, reads: ThreadPoolExecutor) -> UserSynchronizer:
    """The world's synchroniser, built as the wiring builds it with more than one record thread."""
    return UserSynchronizer(
        okta=world.okta,
        teamviewer=world.tv,
        state=world.state,
        config=SyncConfig(app_id=world.app_id),
        dry_run=world.dry_run,
        logger=world.logger,
        metrics=world.metrics,
        clock=world.clock,
        deadline=world.deadline,
        reads=reads,
    )


def test_the_user_and_the_assignment_are_read_at_the_same_time(reads: ThreadPoolExecutor) -> None:
    w = World(okta=MeetingOkta())
    alice = w.add_assigned("alice.archer@example.com", "Alice", "Archer")
    synchronizer(w, reads).converge(w.request(alice, "application.user_membership.add"))
    assert sorted(w.okta.operations()) == ["get_app_user", "get_user"]
    account = w.tv.account("alice.archer@example.com")
    assert account is not None and account.active is True


def test_a_deleted_user_is_revoked_whatever_the_assignment_read_said(reads: ThreadPoolExecutor) -> None:
    w = World()
    bob = w.add_assigned("bob.baker@example.com", "Bob", "Baker")
    w.sync(bob)
    w.okta.delete_user(bob)
    # Okta's answer to an assignment read of a user it no longer has is beside the point, and
    # was never asked for before the reads went side by side: it must not fail the sync.
    w.okta.fail("get_app_user", InvalidError("okta", "get_app_user", "404 page", status=404))
    synchronizer(w, reads).converge(w.request(bob, "user.lifecycle.delete.initiated"))
    account = w.tv.account("bob.baker@example.com")
    assert account is not None and account.active is False
    assert w.record(bob).last_operations == ["deactivate"]


def test_a_failed_assignment_read_of_an_existing_user_fails_the_sync_as_before(
    reads: ThreadPoolExecutor,
) -> None:
    w = World()
    carol = w.add_assigned("carol.clark@example.com", "Carol", "Clark")
    w.okta.fail("get_app_user", ThrottledError("okta", "get_app_user", "429", status=429, retry_after=30.0))
    with pytest.raises(RetryLaterError) as raised:
        synchronizer(w, reads).converge(w.request(carol))
    assert raised.value.throttled and raised.value.delay == 30.0
    assert w.tv.account("carol.clark@example.com") is None
    assert w.record(carol).last_outcome == "retrying"


def test_without_an_app_only_the_user_is_read(reads: ThreadPoolExecutor) -> None:
    w = World(app_id=None)
    dave = w.okta.add_user("dave.dunn@example.com", "Dave", "Dunn")
    synchronizer(w, reads).converge(w.request(dave))
    assert w.okta.operations() == ["get_user"]
    assert APP_ID not in str(w.okta.calls)
