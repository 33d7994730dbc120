"""RequestRate and RateLimitedTransport: an instance's own bound on TeamViewer requests, counted.

Time is a fake clock that only the fake ``sleep`` moves, so each request's release time is
exact: the bound is checked by counting requests per window, never by measuring.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.request_gates import FakeTime, most_in_any_window, waits_of_threads_at_once
from tvsync.adapters.http import RateLimitedTransport, RequestRate
from tvsync.adapters.teamviewer_client import TeamViewerClient
from tvsync.emulators.teamviewer import TeamViewerEmulator


def test_a_burst_goes_at_once_then_one_request_per_slot() -> None:
    t = FakeTime()
    rate = RequestRate(4.0, clock=t.clock, sleep=t.sleep)
    released = []
    for _ in range(10):
        rate.acquire()
        released.append(t.now)
    assert rate.burst == 4
    assert released == pytest.approx([0.0] * 4 + [0.25, 0.5, 0.75, 1.0, 1.25, 1.5])


@pytest.mark.parametrize(("per_second", "burst"), [(4.0, None), (2.5, 1), (20.0, 5)])
def test_however_many_threads_ask_at_once_no_window_holds_more_than_burst_plus_rate_times_its_length(
    per_second: float, burst: int | None
) -> None:
    # The worst case: 8 threads (a worker instance's record threads and their reads) ask for
    # 25 slots each at the same instant. Each slot is reserved under the lock, so its release
    # time is that instant plus the wait ``acquire`` hands out.
    rate = RequestRate(per_second, burst=burst, clock=lambda: 0.0, sleep=lambda seconds: None)
    released = waits_of_threads_at_once(rate.acquire, threads=8, each=25)
    assert len(released) == 200
    for window in (1.0, 2.5, 10.0):
        assert most_in_any_window(released, window) <= rate.burst + per_second * window
    # Not stingier than it must be either: every slot is distinct, the last exactly when the
    # rate allows it.
    assert len(set(released)) == 200 - rate.burst + 1
    assert max(released) == pytest.approx((200 - rate.burst) / per_second)


def test_a_quiet_spell_refills_the_bucket_up_to_the_burst_only() -> None:
    clock = [0.0]
    rate = RequestRate(2.0, clock=lambda: clock[0], sleep=lambda s: None)
    assert [rate.acquire() for _ in range(2)] == [0.0, 0.0]
    clock[0] = 100.0  # far longer than it takes to refill
    assert [rate.acquire() for _ in range(3)] == [0.0, 0.0, 0.5]


def test_nonsense_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        RequestRate(0)
    with pytest.raises(ValueError, match="burst"):
        RequestRate(1.0, burst=0)


def test_the_teamviewer_client_takes_a_slot_for_every_attempt_it_sends() -> None:
    tv = TeamViewerEmulator("token")
    taken: list[str] = []

    class CountingRate(RequestRate):
        def acquire(self) -> float:
            taken.append("slot")
            return super().acquire()

    rate = CountingRate(1000.0)
    client = TeamViewerClient(
        "https://webapi.teamviewer.com", lambda: "token", transport=RateLimitedTransport(rate, tv.transport())
    )
    with client:
        client.create("erin.evans@example.com", "Erin Evans")
        client.find_by_email("erin.evans@example.com")
        client.token_owner()
    assert len(taken) == len(tv.calls) == 3


def test_the_transport_closes_what_it_wraps() -> None:
    closed: list[bool] = []

    class Inner(httpx.MockTransport):
        def close(self) -> None:
            closed.append(True)

    transport = RateLimitedTransport(RequestRate(1.0), Inner(lambda request: httpx.Response(200)))
    with httpx.Client(transport=transport) as client:
        assert client.get("http://127.0.0.1/").status_code == 200
    assert closed == [True]
