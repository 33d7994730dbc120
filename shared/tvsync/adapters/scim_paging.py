"""Walking a SCIM user listing to its end — one page at a time, or several pages ahead.

SCIM pages by index, not by cursor: page k of a listing is ``startIndex = 1 + k·count``
(RFC 7644 §3.4.2.4), so pages can be asked for before the previous one has arrived. At
120 ms a request, a company of 500,000 users is 5,000 pages and ten minutes one after the
other, most of a Lambda's fifteen; four requests in flight make it under three. Okta's
cursor paging (``tvsync.adapters.okta_client``) cannot do this: each cursor comes with the
page before it.

``walk_users`` keeps every guard of the one-page-at-a-time walk, whichever way it reads:

- a page may hold fewer users than asked for (``count`` is a maximum), so the end is
  ``totalResults`` users received, or an empty page (the company shrank meanwhile); only a
  server that leaves ``totalResults`` out ends at its first short page — and is read one
  page at a time, since its end cannot be planned;
- the next ``startIndex`` follows from what was received, never from the response's
  ``startIndex`` ([SCIM]'s own example echoes 0 for a 1-based index);
- a page that repeats the previous one (a server that ignores ``startIndex``) or more users
  than the company had plus a margin (a count that grows forever) is refused with
  ``TransientError``, as is any page once the deadline has passed.

Reading ahead plans each page at ``startIndex = previous + stride``, where the stride is
what the first page held (the server's own page size, when it caps ``count``). Pages are
yielded strictly in order; when one comes back shorter than the stride before the end, the
pages planned after it started at the wrong index, so they are dropped unread and planned
again from where the listing really continues: every user is yielded once, none skipped.

Concurrency must not multiply the request rate past a rate limit. At most ``workers``
requests are in flight, and a ``ThrottleGate`` shared by the walk's threads holds every
thread back once one of them is told to wait (429 or 403 ``rate_limit_reached`` with the
server's wait, [PDF] §5): while throttled, the walk sends nothing but the retry the wait
was for, as a single reader would.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from tvsync.adapters.errors import ThrottledError, TransientError, UpstreamError

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator

    from tvsync.adapters.retry import RetryPolicy
    from tvsync.models.teamviewer import TeamViewerAccount

__all__ = ["MAX_UNCOUNTED_USERS", "MAX_WORKERS", "ScimPage", "ThrottleGate", "walk_users"]

SERVICE: Final = "teamviewer"
OPERATION: Final = "list_users"
#: A listing without ``totalResults`` is refused beyond this many users: an end it never
#: reaches must not turn into a walk without end. TeamViewer documents no company size.
MAX_UNCOUNTED_USERS: Final = 1_000_000
#: How far a listing may run past the ``totalResults`` its first page announced: users
#: created while a walk is under way are legitimate, a count that grows forever is not.
WALK_GROWTH_MARGIN: Final = 10_000
#: The most pages one walk may have in flight: enough to hide a slow API's latency, few
#: enough that one walk never looks like a flood to a server that publishes no limits.
MAX_WORKERS: Final = 8


@dataclass(frozen=True)
class ScimPage:
    """One page of a SCIM listing: its users and the ``totalResults`` it announced (None: none)."""

    accounts: list[TeamViewerAccount]
    total: int | None


#: Reads the page at ``startIndex`` (1-based) of at most ``count`` users.
FetchPage = Callable[[int, int], ScimPage]


class ThrottleGate:
    """Holds every thread of one walk back while the server has asked one of them to wait.

    ``around(policy)`` is the client's retry policy with one addition: a throttle it is
    about to wait out also closes the gate for that long. Each attempt calls ``wait``
    first, so the other threads send nothing until the wait is over.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._closed_until = 0.0
        self.holds = 0

    def hold(self, seconds: float) -> None:
        """Close the gate for ``seconds`` from now (never shortening an earlier hold)."""
        with self._lock:
            self._closed_until = max(self._closed_until, self._clock() + max(0.0, seconds))
            self.holds += 1

    def wait(self) -> None:
        """Return once the gate is open."""
        while True:
            with self._lock:
                remaining = self._closed_until - self._clock()
            if remaining <= 0:
                return
            self._sleep(remaining)

    def around(self, policy: RetryPolicy) -> RetryPolicy:
        """``policy``, closing this gate for every throttle it waits out."""
        outer = policy.on_retry

        def on_retry(error: UpstreamError, wait: float) -> None:
            if outer is not None:
                outer(error, wait)
            if isinstance(error, ThrottledError):
                self.hold(wait)

        return replace(policy, on_retry=on_retry)


def walk_users(
    fetch: FetchPage,
    page_size: int,
    *,
    deadline: float | None = None,
    workers: int = 1,
    clock: Callable[[], float] = time.monotonic,
) -> Generator[TeamViewerAccount]:
    """Every user of the listing ``fetch`` reads, in order, each once (see the module docstring).

    ``workers`` pages may be in flight at once (1: one after the other). ``deadline`` is a
    ``clock`` value after which no page is requested.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be between 1 and {MAX_WORKERS}")
    walk = _Walk(page_size, deadline, clock)
    walk.check_deadline()
    first = fetch(1, page_size)
    if not walk.accept(first):
        return
    yield from first.accounts
    if workers == 1 or first.total is None:
        yield from _one_by_one(fetch, walk, first)
    else:
        yield from _ahead(fetch, walk, first, workers=workers)


def _one_by_one(fetch: FetchPage, walk: _Walk, last: ScimPage) -> Iterator[TeamViewerAccount]:
    """The rest of the listing after ``last``, each page requested once the previous arrived."""
    while not walk.done(last.accounts):
        walk.check_deadline()
        last = fetch(walk.next_start, walk.page_size)
        if not walk.accept(last):
            return
        yield from last.accounts


def _ahead(fetch: FetchPage, walk: _Walk, first: ScimPage, *, workers: int) -> Iterator[TeamViewerAccount]:
    """The rest of the listing with up to ``workers`` pages requested ahead, yielded in order.

    The stride is what ``first`` held. Should a later page leave ``totalResults`` out, the
    end can no longer be planned and the walk goes on one page at a time.
    """
    stride = len(first.accounts)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scim-page")
    pending: deque[tuple[int, Future[ScimPage]]] = deque()
    planned = walk.next_start
    try:
        while walk.total is not None and walk.seen < walk.total:
            while len(pending) < workers and planned <= walk.total:
                walk.check_deadline()
                pending.append((planned, pool.submit(fetch, planned, walk.page_size)))
                planned += stride
            start, future = pending.popleft()
            page = future.result()
            if not walk.accept(page):
                return
            yield from page.accounts
            if walk.total is None:
                yield from _one_by_one(fetch, walk, page)
                return
            if start + len(page.accounts) != (pending[0][0] if pending else planned):
                # A short page: what was planned after it starts at the wrong index.
                for _, dropped in pending:
                    dropped.cancel()
                pending.clear()
                planned = walk.next_start
    finally:
        for _, dropped in pending:
            dropped.cancel()
        pool.shutdown(wait=False, cancel_futures=True)


class _Walk:
    """What a walk has received so far, and the guards each new page must pass."""

    def __init__(self, page_size: int, deadline: float | None, clock: Callable[[], float]) -> None:
        self.page_size = page_size
        self.deadline = deadline
        self.clock = clock
        self.seen = 0
        self.total: int | None = None
        self.limit: int | None = None
        self.previous_ids: list[str] = []

    @property
    def next_start(self) -> int:
        return 1 + self.seen

    def check_deadline(self) -> None:
        if self.deadline is not None and self.clock() >= self.deadline:
            raise TransientError(
                SERVICE, OPERATION, f"stopped after {self.seen} users: out of time for the whole company"
            )

    def accept(self, page: ScimPage) -> bool:
        """Count ``page`` in; False when it is empty (the end); raises when the walk would not end."""
        if not page.accounts:
            return False
        ids = [account.id for account in page.accounts]
        if ids == self.previous_ids:
            raise TransientError(
                SERVICE,
                OPERATION,
                f"startIndex {self.next_start} answered the previous page again after {self.seen} users: "
                "the server does not page",
            )
        self.previous_ids = ids
        if self.limit is None:
            self.limit = (page.total if page.total is not None else MAX_UNCOUNTED_USERS) + WALK_GROWTH_MARGIN
        if self.seen + len(page.accounts) > self.limit:
            raise TransientError(
                SERVICE,
                OPERATION,
                f"stopped after {self.seen} users: the listing went past {self.limit} users and does not end",
            )
        self.seen += len(page.accounts)
        self.total = page.total
        return True

    def done(self, last: list[TeamViewerAccount]) -> bool:
        """Whether the listing ended with ``last``, the page just accepted."""
        if self.total is None:
            return len(last) < self.page_size
        return self.seen >= self.total
