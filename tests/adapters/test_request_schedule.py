"""SharedRequestSchedule: one TeamViewer request rate for all worker instances, in SyncStateTable.

The table is SyncStateTable as template.yaml defines it, in moto. Each "instance" is a
schedule object of its own over that table, as each worker instance builds one. Time is a
fake epoch clock that only the fake ``sleep`` moves, so each request's release time is
exact: the bound is checked by counting, never by measuring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.request_gates import FakeTime, most_in_any_window, waits_of_threads_at_once
from tvsync.adapters.request_schedule import MAX_TRIES, SharedRequestSchedule
from tvsync.adapters.sync_state import SyncStateStore
from tvsync.models.table_keys import SCHEDULE_KEY

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from tests.conftest import Aws

EPOCH = 1_796_000_000.0
KEY = {"okta_user_id": {"S": SCHEDULE_KEY}}


class CountedGate:
    """The instance's own share, standing in for ``RequestRate``: counts the requests it let go."""

    def __init__(self) -> None:
        self.acquired = 0

    def acquire(self) -> float:
        self.acquired += 1
        return 0.0


@pytest.fixture
def table(aws: Aws) -> tuple[DynamoDBClient, str]:
    return aws.session.client("dynamodb"), aws.env("WorkerFunction")["SYNC_STATE_TABLE_NAME"]


def schedule(
    table: tuple[DynamoDBClient, str], t: FakeTime, per_second: float = 4.0, **kwargs: Any
) -> SharedRequestSchedule:
    kwargs.setdefault("fallback", CountedGate())
    return SharedRequestSchedule(*table, per_second=per_second, clock=t.clock, sleep=t.sleep, **kwargs)


def frozen_at_epoch(
    table: tuple[DynamoDBClient, str], *, per_second: float, horizon: float
) -> SharedRequestSchedule:
    """An instance whose clock stands still at EPOCH: every wait it hands out is its slot's offset."""
    return SharedRequestSchedule(
        *table,
        per_second=per_second,
        fallback=CountedGate(),
        horizon=horizon,
        clock=lambda: EPOCH,
        sleep=lambda _: None,
    )


def stored_slot(table: tuple[DynamoDBClient, str]) -> float:
    dynamodb, name = table
    return float(dynamodb.get_item(TableName=name, Key=KEY, ConsistentRead=True)["Item"]["next_slot"]["N"])


def test_requests_leave_one_interval_apart_from_the_first(table: tuple[DynamoDBClient, str]) -> None:
    t = FakeTime(EPOCH)
    gate = schedule(table, t)
    released = []
    for _ in range(6):
        gate.acquire()
        released.append(t.now - EPOCH)
    assert released == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 1.25], abs=1e-6)
    assert stored_slot(table) == pytest.approx(EPOCH + 1.5, abs=1e-6)


def test_a_quiet_spell_banks_nothing(table: tuple[DynamoDBClient, str]) -> None:
    t = FakeTime(EPOCH)
    gate = schedule(table, t)
    gate.acquire()
    t.now += 10.0  # idle: the schedule lies in the past
    gate.acquire()
    gate.acquire()
    assert t.sleeps == pytest.approx([0.25], abs=1e-6), (
        "after a pause, the second request still waits its interval"
    )


def test_instances_sharing_the_table_keep_to_the_rate_together_and_lose_no_slot(
    table: tuple[DynamoDBClient, str],
) -> None:
    # Three instances take turns; each knows only what its own last claim saw, so every
    # other claim starts from a stale view and must lose the race and take the next slot.
    t = FakeTime(EPOCH)
    instances = [schedule(table, t, per_second=10.0) for _ in range(3)]
    released = []
    for n in range(30):
        instances[n % 3].acquire()
        released.append(t.now - EPOCH)
    assert len(set(released)) == 30, "no slot is handed to two instances"
    assert most_in_any_window(released, 1.0) == 10
    assert released[-1] == pytest.approx(2.9, abs=1e-6), "every slot is used: 30 requests in 3 s"
    assert all(isinstance(i.fallback, CountedGate) and i.fallback.acquired == 0 for i in instances)


def test_an_idle_instance_leaves_its_room_to_a_busy_one(table: tuple[DynamoDBClient, str]) -> None:
    # What a fixed share per instance cannot do: one instance alone uses the whole rate.
    t = FakeTime(EPOCH)
    busy, _idle = schedule(table, t, per_second=20.0), schedule(table, t, per_second=20.0)
    for _ in range(20):
        busy.acquire()
    assert t.now - EPOCH == pytest.approx(0.95, abs=1e-6)


def test_threads_of_one_instance_each_get_a_slot_of_their_own(table: tuple[DynamoDBClient, str]) -> None:
    # 8 threads (an instance's record threads) ask at the same frozen instant; the slot each
    # got is that instant plus the wait ``acquire`` hands back.
    gate = frozen_at_epoch(table, per_second=20.0, horizon=60.0)
    waits = waits_of_threads_at_once(gate.acquire, threads=8, each=5)
    assert sorted(waits) == pytest.approx([n * 0.05 for n in range(40)], abs=1e-6)


def test_a_slot_due_exactly_now_is_taken_from_the_busy_schedule(table: tuple[DynamoDBClient, str]) -> None:
    dynamodb, name = table
    dynamodb.put_item(TableName=name, Item={**KEY, "next_slot": {"N": f"{EPOCH:.6f}"}})
    t = FakeTime(EPOCH)
    share = CountedGate()
    gate = schedule(table, t, fallback=share)
    gate.acquire()  # learns the stored slot (the schedule is not idle: due now)
    gate.acquire()
    assert t.now == pytest.approx(EPOCH + 0.25, abs=1e-6)
    assert share.acquired == 0
    assert stored_slot(table) == pytest.approx(EPOCH + 0.5, abs=1e-6)


def test_no_slot_is_claimed_further_ahead_than_the_horizon(table: tuple[DynamoDBClient, str]) -> None:
    # Instance A's threads booked three seconds ahead at one instant (its clock frozen there).
    frozen = frozen_at_epoch(table, per_second=1.0, horizon=2.0)
    for _ in range(3):
        frozen.acquire()
    assert stored_slot(table) == pytest.approx(EPOCH + 3.0, abs=1e-6)
    # Instance B, at the same instant, may not book the slot three seconds ahead: it waits a
    # second without claiming, then claims it and waits the two seconds left.
    t = FakeTime(EPOCH)
    seen_while_waiting: list[float] = []
    sleep = t.sleep

    def watching_sleep(seconds: float) -> None:
        seen_while_waiting.append(stored_slot(table))
        sleep(seconds)

    later = SharedRequestSchedule(
        *table, per_second=1.0, fallback=CountedGate(), horizon=2.0, clock=t.clock, sleep=watching_sleep
    )
    assert later.acquire() == pytest.approx(3.0, abs=1e-6)
    assert t.sleeps == pytest.approx([1.0, 2.0], abs=1e-6)
    assert seen_while_waiting == pytest.approx([EPOCH + 3.0, EPOCH + 4.0], abs=1e-6), (
        "claimed only once within reach"
    )


def test_a_stale_view_never_claims_beyond_the_horizon(table: tuple[DynamoDBClient, str]) -> None:
    t = FakeTime(EPOCH)
    stale = schedule(table, t, per_second=1.0, horizon=2.0)
    stale.acquire()  # it saw the schedule at EPOCH + 1
    other = frozen_at_epoch(table, per_second=1.0, horizon=60.0)
    other.acquire()
    other.acquire()  # the schedule is at EPOCH + 3 now; ``stale`` still believes EPOCH + 1
    assert stale.acquire() == pytest.approx(3.0, abs=1e-6)
    assert t.sleeps == pytest.approx([1.0, 2.0], abs=1e-6), "it waited until the slot was within reach"


@pytest.mark.parametrize(
    ("ahead", "waited"),
    [
        (3600.0, 0.0),  # written by a clock an hour ahead: not waited for, started again from now
        (10.5, 0.0),  # just beyond twice the horizon: no claim goes that far, so the same
        (10.0, 10.0),  # exactly twice the horizon: a real backlog, waited out within reach
    ],
)
def test_a_slot_further_ahead_than_any_claim_goes_is_not_waited_for(
    table: tuple[DynamoDBClient, str], ahead: float, waited: float
) -> None:
    dynamodb, name = table
    dynamodb.put_item(TableName=name, Item={**KEY, "next_slot": {"N": f"{EPOCH + ahead:.6f}"}})
    t = FakeTime(EPOCH)
    gate = schedule(table, t, horizon=5.0)
    assert gate.acquire() == pytest.approx(waited, abs=1e-6)
    assert stored_slot(table) == pytest.approx(EPOCH + waited + 0.25, abs=1e-6)


def watched(dynamodb: Any, name: str, t: FakeTime) -> tuple[SharedRequestSchedule, CountedGate, list[str]]:
    """A schedule at 4/s whose fallback counts what it let go and whose warnings are kept."""
    share, reasons = CountedGate(), list[str]()
    gate = SharedRequestSchedule(
        dynamodb,
        name,
        per_second=4.0,
        fallback=share,
        cool_down=30.0,
        on_unavailable=reasons.append,
        clock=t.clock,
        sleep=t.sleep,
    )
    return gate, share, reasons


def test_without_the_table_the_instance_keeps_to_its_own_share_and_says_so_once(aws: Aws) -> None:
    t = FakeTime(EPOCH)
    gate, share, reasons = watched(aws.session.client("dynamodb"), "no-such-table", t)
    gate.acquire()
    gate.acquire()
    assert share.acquired == 2
    assert reasons == ["DynamoDB answered ResourceNotFoundException"]
    t.now += 31.0  # the cool-down is over: the table is tried again, and still missing
    gate.acquire()
    assert share.acquired == 3
    assert len(reasons) == 2


def test_the_table_is_used_again_once_it_answers(table: tuple[DynamoDBClient, str]) -> None:
    dynamodb, name = table

    class Flaky:
        """DynamoDB that fails its first call, then answers."""

        def __init__(self) -> None:
            self.calls = 0

        def update_item(self, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == 1:
                raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")
            return dynamodb.update_item(**kwargs)

    flaky = Flaky()
    t = FakeTime(EPOCH)
    gate, share, reasons = watched(flaky, name, t)
    gate.acquire()
    t.now += 30.0
    gate.acquire()
    assert (share.acquired, flaky.calls) == (1, 2)
    assert reasons == ["DynamoDB answered ProvisionedThroughputExceededException"]
    assert stored_slot(table) == pytest.approx(t.now + 0.25, abs=1e-6)


def test_a_claim_the_schedule_keeps_moving_under_falls_back(table: tuple[DynamoDBClient, str]) -> None:
    class AlwaysAhead:
        """Another instance wins every race: each answer carries a newer slot."""

        def __init__(self) -> None:
            self.calls = 0

        def update_item(self, **kwargs: Any) -> Any:
            self.calls += 1
            item = {"next_slot": {"N": f"{EPOCH + self.calls * 0.01:.6f}"}}
            raise ClientError(
                {"Error": {"Code": "ConditionalCheckFailedException"}, "Item": item},  # type: ignore[typeddict-unknown-key]
                "UpdateItem",
            )

    racer = AlwaysAhead()
    gate, share, reasons = watched(racer, table[1], FakeTime(EPOCH))
    gate.acquire()
    assert racer.calls == MAX_TRIES
    assert share.acquired == 1
    assert reasons == [f"no slot after {MAX_TRIES} tries"]


def test_an_unreachable_endpoint_falls_back_without_leaking_the_request(
    table: tuple[DynamoDBClient, str],
) -> None:
    unreachable = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret-never-shown", region_name="us-east-1"
    ).client(
        "dynamodb",
        endpoint_url="http://127.0.0.1:9",
        config=Config(connect_timeout=0.5, retries={"max_attempts": 1}),
    )
    gate, share, reasons = watched(unreachable, table[1], FakeTime(EPOCH))
    gate.acquire()
    assert share.acquired == 1
    assert reasons == ["DynamoDB could not be reached (EndpointConnectionError)"]


def test_the_schedule_is_no_users_record(table: tuple[DynamoDBClient, str]) -> None:
    t = FakeTime(EPOCH)
    schedule(table, t).acquire()
    users = SyncStateStore(*table)
    assert list(users.scan()) == []
    assert users.get(SCHEDULE_KEY) is None


@pytest.mark.parametrize("per_second", [0.0, -1.0])
def test_a_rate_must_be_positive(table: tuple[DynamoDBClient, str], per_second: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        schedule(table, FakeTime(EPOCH), per_second=per_second)
