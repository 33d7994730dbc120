"""What the worker last did for one Okta user, and why: one SyncStateTable item.

The record doubles as the Okta-user -> TeamViewer-account mapping: with the account id and
its last known state stored, a sync plans against that view (no call) instead of searching
by email, and still finds the account after the user's email changed in Okta. It also
carries the intent of a create that was sent but whose result was never recorded
(``pending_create_email``): what makes creates crash-safe (``tvsync.core.lookup``).

A domain record, not a storage format: ``tvsync.adapters.sync_state`` stores it in
DynamoDB, and ``tvsync.core.record`` decides what the next one is.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, field_validator

from tvsync.models.teamviewer import TeamViewerAccount
from tvsync.observability import mask_emails


class SyncState(BaseModel):
    """The record; ``email_key`` (lower-cased email) is what the store indexes for lookups."""

    model_config = ConfigDict(frozen=True)

    okta_user_id: str
    teamviewer_id: str | None = None
    email: str | None = None
    # The TeamViewer account as this worker last saw or left it: planning against it saves
    # a read per event. Out-of-band edits in TeamViewer are the reconciler's job.
    teamviewer_email: str | None = None
    teamviewer_name: str | None = None
    teamviewer_active: bool | None = None
    last_event_uuid: str | None = None
    last_event_type: str | None = None
    last_published: AwareDatetime | None = None
    last_outcome: str
    last_reason: str | None = None
    last_operations: list[str] = []
    updated_at: AwareDatetime
    #: When a sync last changed the account in TeamViewer or adopted one (``tvsync.core.outcome``):
    #: unlike ``updated_at``, later syncs that change nothing, fail or only plan keep it as it is.
    last_applied_at: AwareDatetime | None = None
    #: Set just before a create is sent, cleared once its result is recorded: the email of an
    #: account that may exist in TeamViewer without being mapped here yet.
    pending_create_email: str | None = None
    pending_create_at: AwareDatetime | None = None

    @field_validator("last_reason")
    @classmethod
    def _mask_reason(cls, reason: str | None) -> str | None:
        """Reasons may be free text (often a server's error message): no email is ever stored in one."""
        return None if reason is None else mask_emails(reason)

    @property
    def email_key(self) -> str | None:
        return self.email.lower() if self.email else None

    def known_account(self) -> TeamViewerAccount | None:
        """The mapped account as last seen, or ``None`` when no complete view is stored."""
        if self.teamviewer_id is None or self.teamviewer_email is None or self.teamviewer_name is None:
            return None
        return TeamViewerAccount(
            id=self.teamviewer_id,
            email=self.teamviewer_email,
            name=self.teamviewer_name,
            active=self.teamviewer_active,
        )

    def with_account(self, account: TeamViewerAccount) -> SyncState:
        """This record mapped to ``account`` as it is now, with no create left pending."""
        return self.model_copy(
            update={
                "teamviewer_id": account.id,
                "teamviewer_email": account.email,
                "teamviewer_name": account.name,
                "teamviewer_active": account.active,
                "pending_create_email": None,
                "pending_create_at": None,
            }
        )

    def without_pending_create(self) -> SyncState:
        return self.model_copy(update={"pending_create_email": None, "pending_create_at": None})
