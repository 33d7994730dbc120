"""Reading a SCIM listing several pages ahead: every user once, in order, to ``totalResults`` and
no further — with short pages, irregular pages, a shrinking company and a rate limit.

The walk is held to the same answers as the one-page-at-a-time walk, over a fake listing
(``Listing``) and over the TeamViewer emulator, whose pages are capped below ``count``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from tvsync.adapters.errors import ThrottledError, TransientError
from tvsync.adapters.retry import RetryPolicy
from tvsync.adapters.scim_paging import MAX_WORKERS, ScimPage, ThrottleGate, walk_users
from tvsync.adapters.teamviewer_client import TeamViewerClient
from tvsync.emulators.teamviewer import RateLimit, TeamViewerEmulator
from tvsync.models.teamviewer import TeamViewerAccount


def account(n: int) -> TeamViewerAccount:
    return TeamViewerAccount(id=f"u{n}", email=f"user{n}@example.test", name=f"U {n}", active=True)


@dataclass
class Listing:
    """A company of ``size`` users; ``cap`` caps a page, ``short`` maps a startIndex to a shorter page."""

    size: int
    cap: int | None = None
    short: dict[int, int] = field(default_factory=dict)
    total: bool = True
    requested: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, start: int, count: int) -> ScimPage:
        with self._lock:
            self.requested.append(start)
        number = min(count, self.cap or count, self.short.get(start, count), max(0, self.size - start + 1))
        accounts = [account(n) for n in range(start, start + number)]
        return ScimPage(accounts, self.size if self.total else None)


def ids(accounts: list[TeamViewerAccount]) -> list[str]:
    return [a.id for a in accounts]


@pytest.mark.parametrize("workers", [1, 2, 4, MAX_WORKERS])
@pytest.mark.parametrize("size", [1, 9, 10, 11, 100, 257])
def test_every_user_once_in_order_and_nothing_asked_past_total_results(workers: int, size: int) -> None:
    listing = Listing(size)
    walked = list(walk_users(listing, 10, workers=workers))
    assert ids(walked) == [f"u{n}" for n in range(1, size + 1)]
    assert sorted(listing.requested) == list(range(1, size + 1, 10)), "each page once, none beyond the end"


@pytest.mark.parametrize("workers", [1, 4])
def test_a_server_that_caps_its_pages_below_count_is_read_ahead_at_its_own_page_size(workers: int) -> None:
    listing = Listing(230, cap=25)
    walked = list(walk_users(listing, 100, workers=workers))
    assert ids(walked) == [f"u{n}" for n in range(1, 231)]
    assert sorted(listing.requested) == list(range(1, 231, 25))


def test_a_short_page_mid_walk_drops_the_pages_planned_after_it_and_skips_nobody() -> None:
    listing = Listing(100, short={21: 4, 55: 1})
    walked = list(walk_users(listing, 10, workers=4))
    assert ids(walked) == [f"u{n}" for n in range(1, 101)], "every user once, in order"
    assert {1, 11, 21, 25, 35, 45, 55, 56}.issubset(set(listing.requested))


def test_without_total_results_the_walk_goes_one_page_at_a_time_to_the_first_short_page() -> None:
    listing = Listing(27, total=False)
    assert ids(list(walk_users(listing, 10, workers=4))) == [f"u{n}" for n in range(1, 28)]
    assert listing.requested == [1, 11, 21]


def test_a_company_that_shrank_mid_walk_ends_at_the_first_empty_page() -> None:
    listing = Listing(50)
    walk = walk_users(listing, 10, workers=3)
    first = [next(walk) for _ in range(10)]
    listing.size = 15  # users left the company while the walk was under way
    assert ids(first + list(walk)) == [f"u{n}" for n in range(1, 16)]


def test_a_server_that_ignores_start_index_is_refused() -> None:
    def same_page(start: int, count: int) -> ScimPage:
        return ScimPage([account(1), account(2)], 10)

    with pytest.raises(TransientError, match="does not page"):
        list(walk_users(same_page, 2, workers=4))


def test_no_page_is_requested_once_the_deadline_has_passed() -> None:
    now = [0.0]
    listing = Listing(100)
    walk = walk_users(listing, 10, workers=4, deadline=5.0, clock=lambda: now[0])
    first = [next(walk) for _ in range(10)]
    now[0] = 6.0
    with pytest.raises(TransientError, match="out of time"):
        list(walk)
    assert len(first) == 10
    assert len(listing.requested) <= 1 + 4, "the first page and one window at most"


def test_workers_are_bounded() -> None:
    with pytest.raises(ValueError, match="workers"):
        list(walk_users(Listing(5), 10, workers=MAX_WORKERS + 1))


# ---------------------------------------------------------------------------- rate limits


class FakeTime:
    """One clock for every thread; sleeping moves it."""

    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def test_a_throttle_holds_every_thread_back_until_the_servers_wait_is_over() -> None:
    """One thread is told to wait 30 s: no thread sends anything in those 30 s, the retry included.

    Only the gate moves the clock here (the retry policy's own sleep does not), so any request
    sent before the gate opens is seen as sent inside the server's wait.
    """
    time = FakeTime()
    gate = ThrottleGate(clock=time, sleep=time.sleep)
    policy = gate.around(RetryPolicy(max_attempts=3, max_wait=60.0, sleep=lambda _seconds: None))
    sent_while_held: list[int] = []
    throttled = {31}
    held_until = [0.0]

    def fetch(start: int, count: int) -> ScimPage:
        def attempt() -> ScimPage:
            gate.wait()
            if time() < held_until[0]:
                sent_while_held.append(start)
            if start in throttled:
                throttled.discard(start)
                held_until[0] = time() + 30.0
                raise ThrottledError(
                    "teamviewer", "list_users", "rate_limit_reached", status=429, retry_after=30.0
                )
            return Listing(200)(start, count)

        return policy.call(attempt)

    walked = list(walk_users(fetch, 10, workers=4))
    assert sent_while_held == []
    assert ids(walked) == [f"u{n}" for n in range(1, 201)]
    assert gate.holds == 1 and time() >= 30.0


def test_the_client_reads_ahead_through_the_emulators_rate_limit_and_short_pages() -> None:
    """TeamViewer's answer to too many requests (429) is waited out; every user still comes once."""
    time = FakeTime()
    tv = TeamViewerEmulator("tv-token", scim_max_page_size=20, clock=time)
    tv.add_users((f"user{n:03d}@example.test", f"U {n}", True) for n in range(300))
    tv.rate_limit = RateLimit(requests_per_second=10.0, burst=3, retry_after=False)
    retry = RetryPolicy(max_attempts=30, max_wait=1.0, base_backoff=0.02, sleep=time.sleep)
    client = TeamViewerClient(
        "https://webapi.teamviewer.test", lambda: "tv-token", retry=retry, transport=tv.transport()
    )
    walked = list(client.iter_users(50, workers=4))
    assert [a.email for a in walked] == [
        "admin@example.test",
        *(f"user{n:03d}@example.test" for n in range(300)),
    ]
    served = [c for c in tv.calls if c.status == 200]
    assert len(served) == 16, "301 users in pages of 20, each page served once"
    assert tv.throttled > 0, "the limit was met, and waited out"
