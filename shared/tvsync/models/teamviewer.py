"""A TeamViewer company account as the product sees it, whichever API it came from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class TeamViewerAccount(BaseModel):
    """One user of the token owner's TeamViewer company.

    ``id`` is TeamViewer's user id (``u1234567``); ``email`` is the SCIM ``userName``
    (TeamViewer's email), kept exactly as TeamViewer stores it — comparisons with Okta
    are case-insensitive and happen in the core, never here.

    ``active`` is ``None`` when the server did not say: ``active`` is optional in a SCIM
    User (RFC 7643 §4.1.1), and one account without it must not make a whole list
    unreadable. What an unknown state means for a plan is decided in ``tvsync.core.plan``
    (in short: possibly active, so a revocation is still sent and no activation is).
    """

    model_config = ConfigDict(frozen=True)

    id: str
    email: str
    name: str
    active: bool | None
