"""What the services need from outside, as ``typing.Protocol``\\ s: the seams for fakes.

The synchroniser (``user_sync``), the batch worker (``sqs_batch``) and the reconciler are
typed against these, never against the adapters: the wiring (``tvsync.wiring``) passes the
real ones — ``OktaClient``, ``TeamViewerClient``, ``SyncStateStore``, ``GroupStateStore``,
``EventQueue``, boto3's SQS client — and a test may pass in-memory fakes that implement the same methods
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

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from datetime import datetime

    from mypy_boto3_sqs.type_defs import ChangeMessageVisibilityBatchRequestEntryTypeDef

    from tvsync.models.groups import GroupLink, OktaGroup, TeamViewerGroup
    from tvsync.models.okta import OktaAppUser, OktaUser
    from tvsync.models.okta_page import OktaPage
    from tvsync.models.reconcile_checkpoint import ReconcileCheckpoint
    from tvsync.models.sync_request import SyncRequest
    from tvsync.models.sync_state import SyncState
    from tvsync.models.teamviewer import TeamViewerAccount

__all__ = [
    "CheckpointRepository",
    "Clock",
    "DeadlineSource",
    "EventPublisher",
    "GroupStateRepository",
    "MessageVisibility",
    "MonotonicClock",
    "OktaGroups",
    "OktaReader",
    "PublishReport",
    "SyncStateRepository",
    "TeamViewerAccounts",
    "TeamViewerGroups",
    "TeamViewerUserRole",
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

    def find_by_emails(self, emails: Iterable[str]) -> dict[str, OktaUser]:
        """The owner of each address (batched ``search``), by lower-cased address; unowned ones absent."""
        ...

    def iter_app_user_pages(
        self, app_id: str, *, page_size: int = ..., cursor: str | None = ...
    ) -> Iterator[OktaPage[tuple[OktaAppUser, OktaUser]]]:
        """The app's assignments a page at a time, each with the cursor to resume after it."""
        ...

    def iter_user_pages(
        self, *, page_size: int = ..., filter: str | None = ..., cursor: str | None = ...
    ) -> Iterator[OktaPage[OktaUser]]:
        """Every user (or those matching ``filter``) a page at a time, resumable by cursor."""
        ...


class OktaGroups(Protocol):
    """Reads of the Okta org's groups (``OktaClient``), for pushing groups to TeamViewer."""

    def get_group(self, group_id: str) -> OktaGroup | None:
        """The group, or None if Okta answers 404 (deleted)."""
        ...

    def iter_group_users(self, group_id: str, *, page_size: int = ...) -> Iterator[OktaUser]:
        """Every member of the group, a page at a time."""
        ...

    def iter_user_groups(self, user_id: str) -> Iterator[OktaGroup]:
        """Every group the user is a member of now."""
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
        self, page_size: int = ..., *, deadline: float | None = ..., workers: int = ...
    ) -> Iterator[TeamViewerAccount]:
        """Every company user in order, ``workers`` pages requested ahead (1: one at a time)."""
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


class TeamViewerUserRole(Protocol):
    """One user role of the company, as ``iter_roles`` lists it."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


class TeamViewerGroups(Protocol):
    """The company's user groups, their members and their roles (``TeamViewerClient``, Web API v1).

    Members are account numbers (``u1234567`` -> 1234567, ``tvsync.models.groups``); a
    member call takes at most 100 of them and raises ``ValueError`` above that (the core
    batches).
    """

    def iter_groups(self, *, page_size: int | None = ...) -> Iterator[TeamViewerGroup]:
        """Every user group of the company, a page at a time."""
        ...

    def get_group(self, group_id: int) -> TeamViewerGroup | None:
        """The group as it is now, or None when TeamViewer no longer has it."""
        ...

    def find_group_by_name(self, name: str) -> TeamViewerGroup | None:
        """The group a create of this name would collide with (exact name first, then ignoring case)."""
        ...

    def create_group(self, name: str) -> TeamViewerGroup:
        """Create a group; a name already taken raises ``ConflictError``."""
        ...

    def rename_group(self, group_id: int, name: str) -> None: ...

    def delete_group(self, group_id: int) -> None:
        """Delete the group (a group already gone is not an error)."""
        ...

    def iter_group_members(self, group_id: int, *, page_size: int | None = ...) -> Iterator[int]:
        """The account numbers of the group's members."""
        ...

    def add_group_members(self, group_id: int, numbers: Sequence[int]) -> None:
        """Add at most 100 accounts of the company to the group."""
        ...

    def remove_group_members(self, group_id: int, numbers: Sequence[int]) -> None:
        """Remove at most 100 accounts from the group."""
        ...

    def group_role(self, group_id: int) -> str | None:
        """The id of the one role assigned to the group, or None."""
        ...

    def assign_group_role(self, group_id: int, role_id: str) -> None:
        """Assign the role to the group (the synchroniser unassigns any other first)."""
        ...

    def unassign_group_role(self, group_id: int) -> None:
        """Leave the group without a role."""
        ...

    def token_owner(self) -> TokenOwnerAccount:
        """The account that owns the script token: it never leaves a group."""
        ...

    def iter_roles(self) -> Iterator[TeamViewerUserRole]:
        """Every user role of the company."""
        ...


class SyncStateRepository(Protocol):
    """SyncStateTable (``SyncStateStore``): one ``SyncState`` per Okta user."""

    def get(self, okta_user_id: str) -> SyncState | None: ...

    def get_many(self, okta_user_ids: Iterable[str]) -> Mapping[str, SyncState]:
        """The records of these users that exist, by Okta id (a pushed group's members)."""
        ...

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


class CheckpointRepository(Protocol):
    """Where an unfinished reconcile keeps its Okta cursor (``CheckpointStore``)."""

    def load(self) -> ReconcileCheckpoint | None: ...

    def save(self, checkpoint: ReconcileCheckpoint) -> None: ...

    def clear(self) -> None: ...


class GroupStateRepository(Protocol):
    """GroupStateTable (``GroupStateStore``): one ``GroupLink`` per pushed or linked Okta group."""

    def get(self, okta_group_id: str) -> GroupLink | None: ...

    def put(self, link: GroupLink) -> None:
        """Replace the group's record."""
        ...

    def record_outcome(self, okta_group_id: str, *, outcome: str, reason: str, at: datetime) -> None:
        """Set only the last outcome, its reason and the time (the record is created if missing)."""
        ...

    def scan(self) -> Iterator[GroupLink]:
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
