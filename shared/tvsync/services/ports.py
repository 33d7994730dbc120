"""What the services need from outside, as ``typing.Protocol``\\ s: the seams for fakes.

The synchroniser (``user_sync``), the batch worker (``sqs_batch``) and the reconciler are
typed against these, never against the adapters: the wiring (``tvsync.wiring``) passes the
real ones — ``OktaClient``, ``TeamViewerClient``, ``SyncStateStore``, ``EventQueue``, boto3's
SQS client — and a test may pass in-memory fakes that implement the same methods
(tests/support/fakes.py; docs/architecture.md tabulates each port with its adapter and its
fake). Each protocol lists every method some service calls, with the adapters'
signatures, and nothing else.

Failures cross these seams as ``tvsync.adapters.errors`` classes (and
``SecretUnavailableError``): a fake raises them to stand for a refused or failed call.

Time is a port too. Services never read a clock of their own: the wall clock (``Clock``)
dates records and measures latency, and a monotonic one (``MonotonicClock``) times
deadlines, so a test can hold both still.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from datetime import datetime

    from mypy_boto3_sqs.type_defs import ChangeMessageVisibilityBatchRequestEntryTypeDef

    from tvsync.models.okta import OktaAppUser, OktaUser
    from tvsync.models.sync_request import SyncRequest
    from tvsync.models.sync_state import SyncState
    from tvsync.models.teamviewer import TeamViewerAccount

__all__ = [
    "Clock",
    "DeadlineSource",
    "EventPublisher",
    "MessageVisibility",
    "MonotonicClock",
    "OktaReader",
    "PublishReport",
    "SyncStateRepository",
    "TeamViewerAccounts",
    "TokenOwnerAccount",
]


class Clock(Protocol):
    """The wall clock: now, timezone-aware (UTC)."""

    def __call__(self) -> datetime: ...


class MonotonicClock(Protocol):
    """Seconds on ``time.monotonic``'s scale: what deadlines are measured in."""

    def __call__(self) -> float: ...


class DeadlineSource(Protocol):
    """When long work must stop (a ``MonotonicClock`` value), or None for no limit."""

    def __call__(self) -> float | None: ...


class OktaReader(Protocol):
    """Reads of the Okta org (``OktaClient``); the product never writes to Okta."""

    def get_user(self, user_id: str) -> OktaUser | None:
        """The user, or None if Okta answers 404 (deleted)."""
        ...

    def get_app_user(self, app_id: str, user_id: str) -> OktaAppUser | None:
        """The user's assignment to the app, or None if there is none."""
        ...

    def find_by_email(self, email: str) -> OktaUser | None:
        """The user who owns ``email`` (any letter case), or None."""
        ...

    def iter_users(self, *, page_size: int = ..., filter: str | None = ...) -> Iterator[OktaUser]:
        """Every user, or those matching an Okta ``filter`` expression."""
        ...

    def iter_app_users(self, app_id: str, *, page_size: int = ...) -> Iterator[tuple[OktaAppUser, OktaUser]]:
        """Every assignment to the app, with its user."""
        ...


class TokenOwnerAccount(Protocol):
    """The account that owns the script token: it is never deactivated."""

    @property
    def id(self) -> str: ...


class TeamViewerAccounts(Protocol):
    """The token owner's TeamViewer company (``TeamViewerClient``)."""

    def get(self, user_id: str) -> TeamViewerAccount | None:
        """The company user, or None if it is not (or no longer) in the company."""
        ...

    def find_by_email(self, email: str) -> TeamViewerAccount | None:
        """One exact query for the email (a server may also match other letter case)."""
        ...

    def find_by_email_casefold(self, email: str, *, deadline: float | None = ...) -> TeamViewerAccount | None:
        """A scan of the whole company ignoring case; stops at ``deadline`` with ``TransientError``."""
        ...

    def iter_users(
        self, page_size: int = ..., *, deadline: float | None = ...
    ) -> Iterator[TeamViewerAccount]:
        """Every company user, a page at a time."""
        ...

    def create(self, email: str, name: str) -> TeamViewerAccount:
        """Create an active account; a taken email raises ``ConflictError``."""
        ...

    def update(
        self,
        user_id: str,
        *,
        active: bool | None = ...,
        name: str | None = ...,
        email: str | None = ...,
    ) -> None:
        """One update, applied all or nothing; None fields are left as they are."""
        ...

    def token_owner(self) -> TokenOwnerAccount:
        """The account that owns the script token."""
        ...


class SyncStateRepository(Protocol):
    """SyncStateTable (``SyncStateStore``): one ``SyncState`` per Okta user."""

    def get(self, okta_user_id: str) -> SyncState | None: ...

    def put(self, state: SyncState) -> None:
        """Replace the user's record."""
        ...

    def record_outcome(self, okta_user_id: str, *, outcome: str, reason: str, at: datetime) -> None:
        """Set only the last outcome, its reason and the time (the record is created if missing)."""
        ...

    def mark_pending_create(
        self, okta_user_id: str, *, email: str, outcome: str, reason: str, at: datetime
    ) -> None:
        """Record, before a create is sent, the email of the account that may be about to exist."""
        ...

    def find_by_email(self, email: str) -> Iterable[SyncState]:
        """Every record whose email is ``email``, ignoring case."""
        ...

    def scan(self) -> Iterator[SyncState]:
        """Every record."""
        ...


class PublishReport(Protocol):
    """How a send went: the event uuids queued and those that could not be."""

    @property
    def queued(self) -> Sequence[str]: ...

    @property
    def failed(self) -> Sequence[str]: ...


class EventPublisher(Protocol):
    """The EventQueue (``EventQueue``): sync requests in, each user's in order."""

    def send(self, requests: Sequence[SyncRequest], *, deadline: float | None = ...) -> PublishReport: ...


class MessageVisibility(Protocol):
    """When a received message comes back (boto3's SQS client, on the EventQueue)."""

    def change_message_visibility_batch(
        self, *, QueueUrl: str, Entries: Sequence[ChangeMessageVisibilityBatchRequestEntryTypeDef]
    ) -> object:
        """Set each entry's visibility timeout: the message is redelivered once it runs out."""
        ...
