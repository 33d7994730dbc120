"""A TeamViewer company account as the product sees it, whichever API it came from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class TeamViewerAccount(BaseModel):
    """One user of the token owner's TeamViewer company.

    ``id`` is TeamViewer's user id (``u1234567``); ``email`` is the SCIM ``userName``
    (TeamViewer's email), kept exactly as TeamViewer stores it — comparisons with Okta
    are case-insensitive and happen in the core, never here.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    email: str
    name: str
    active: bool
