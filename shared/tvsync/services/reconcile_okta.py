"""The reconciler's reads of Okta: the resumable walk of the users in scope, and the owners of
the accounts that walk left unclaimed.

**The walk.** Okta lists are cursor-paged [CORE]: a page's next link is the only way to the
page after it, so pages are read one after another (never ahead, unlike TeamViewer's SCIM
listing), and the batched searches are sent one after another too: one Okta request in
flight at a time. Okta's limits are per-endpoint buckets, mostly per minute, whose sizes
only an org's Admin Console shows [RL]; one request at a time keeps the rate at what
latency allows, and a 429 is waited out by the client's retry policy (``X-Rate-Limit-Reset``).

``OktaWalk`` reads the lists that make up the scope — the app's assignments when
``OKTA_APP_ID`` is set, else every user and then the DEPROVISIONED ones Okta's plain list
leaves out [SPEC] — and says after each page where the walk stands (``WalkPosition``): the
list and the cursor of its next page. That position is what a run that runs out of time
stores, and what the next run resumes from.

**The owners of unclaimed accounts.** An active account no walked user claims is either an
orphan or the account of someone the walk did not cover: the Okta user the worker last
mapped to it (deleted? out of scope?) or, when only the app's assignments were walked, the
Okta user with its email — a missed deprovisioning must never pass for an orphan.
``find_owners`` asks Okta for the mapped users one by one (a read by id says "deleted"
without doubt; there are few in practice) and for the emails in batches: one ``search``
with up to 50 ``or``-joined clauses (``OktaReader.find_by_emails``), so 50,000 unclaimed
accounts cost about 1,000 calls instead of 50,000.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from tvsync.core.desired_state import SyncConfig
    from tvsync.core.drift import DriftDetector, DriftItem
    from tvsync.models.okta import OktaAppUser, OktaUser
    from tvsync.models.teamviewer import TeamViewerAccount
    from tvsync.services.ports import OktaReader

__all__ = ["APP_USERS", "DEPROVISIONED", "USERS", "OktaWalk", "WalkPosition", "find_owners"]

#: The lists a walk is made of, by the name a checkpoint stores.
APP_USERS: Final = "app_users"
USERS: Final = "users"
DEPROVISIONED: Final = "deprovisioned"
_DEPROVISIONED_FILTER: Final = 'status eq "DEPROVISIONED"'
#: Unclaimed accounts handed to one ``find_by_emails`` call: about ten searches, so progress
#: and the deadline are looked at every second or so.
LOOKUP_CHUNK: Final = 500

InScope = tuple["OktaUser", "OktaAppUser | None"]


@dataclass(frozen=True)
class WalkPosition:
    """Where a walk goes on: the list ``walk``, from ``cursor`` (None: from its first page)."""

    walk: str
    cursor: str | None = None


class OktaWalk:
    """The Okta users in scope, a page at a time, each page with the position after it.

    ``start`` resumes an earlier walk of the same scope; a position naming no list of this
    scope raises ``ValueError``, and a cursor Okta refuses raises the client's
    ``InvalidError`` on the first page — either way the caller starts afresh.
    """

    def __init__(
        self,
        okta: OktaReader,
        config: SyncConfig,
        *,
        okta_page_size: int,
        app_page_size: int,
        start: WalkPosition | None = None,
    ) -> None:
        self._okta = okta
        self._app_id = config.app_id
        self._okta_page_size = okta_page_size
        self._app_page_size = app_page_size
        self.lists: tuple[str, ...] = (APP_USERS,) if config.app_id else (USERS, DEPROVISIONED)
        self.start = start or WalkPosition(self.lists[0])
        if self.start.walk not in self.lists:
            raise ValueError(f"a walk of this scope has no list {self.start.walk!r}")

    @property
    def scope(self) -> str:
        """What the walk covers, as a checkpoint records it: the app id, or "" for the whole org."""
        return self._app_id or ""

    def pages(self) -> Iterator[tuple[list[InScope], WalkPosition | None]]:
        """Each page's users in scope, with the position after it (None once the walk is complete)."""
        first = self.lists.index(self.start.walk)
        for index in range(first, len(self.lists)):
            name = self.lists[index]
            cursor = self.start.cursor if index == first else None
            after_last = WalkPosition(self.lists[index + 1]) if index + 1 < len(self.lists) else None
            for users, following in self._list(name, cursor):
                yield users, WalkPosition(name, following) if following is not None else after_last

    def _list(self, name: str, cursor: str | None) -> Iterator[tuple[list[InScope], str | None]]:
        if name == APP_USERS:
            assert self._app_id is not None
            for page in self._okta.iter_app_user_pages(
                self._app_id, page_size=self._app_page_size, cursor=cursor
            ):
                yield [(user, assignment) for assignment, user in page.items], page.next_cursor
            return
        list_filter = _DEPROVISIONED_FILTER if name == DEPROVISIONED else None
        for users in self._okta.iter_user_pages(
            page_size=self._okta_page_size, filter=list_filter, cursor=cursor
        ):
            yield [(user, None) for user in users.items], users.next_cursor


def find_owners(  # noqa: PLR0913 - the reads, the detector, and what the run shares, all by name
    okta: OktaReader,
    detector: DriftDetector,
    accounts: list[TeamViewerAccount],
    *,
    app_id: str | None,
    seen: set[str],
    record: Callable[[DriftItem | None], None],
    counted: Callable[[Iterable[TeamViewerAccount]], Iterable[TeamViewerAccount]] = iter,
) -> None:
    """Find the Okta owner of each unclaimed account and let the detector judge them.

    ``accounts`` are the unclaimed accounts, passed through ``counted`` (the run's progress
    and deadline); ``seen`` the Okta users already observed, which are never observed
    twice; ``record`` takes each item. Whoever is found is out of scope, so the account is
    drift to deactivate; an account with no owner at all is left to be an orphan.
    """
    unclaimed = {account.id for account in accounts}
    mapped_to = {tv_id: okta_id for okta_id, tv_id in detector.mapping.items() if tv_id in unclaimed}
    iterator = iter(counted(accounts))
    while chunk := list(islice(iterator, LOOKUP_CHUNK)):
        by_email: list[TeamViewerAccount] = []
        for account in chunk:
            mapped_user = mapped_to.get(account.id)
            if mapped_user is None:
                if app_id:
                    by_email.append(account)
                continue
            if mapped_user in seen:
                continue
            owner = okta.get_user(mapped_user)
            if owner is None:
                seen.add(mapped_user)
                record(detector.observe_deleted(mapped_user))
            else:
                _observe(detector, owner, seen, record)
        if by_email:
            owners = okta.find_by_emails(account.email for account in by_email)
            for account in by_email:
                owner = owners.get(account.email.strip().lower())
                if owner is not None:
                    _observe(detector, owner, seen, record)


def _observe(
    detector: DriftDetector, owner: OktaUser, seen: set[str], record: Callable[[DriftItem | None], None]
) -> None:
    if owner.id not in seen:
        seen.add(owner.id)
        record(detector.observe(owner, None))
