"""Groups as the product sees them: an Okta group to push, a TeamViewer user group, and the link.

An Okta group named in ``PUSH_GROUP_IDS`` or ``GROUP_ROLE_MAP`` is *pushed*: it has one
TeamViewer user group (Web API v1 ``/api/v1/usergroups``, [SWAGGER]) named after the Okta
group's ``profile.name``, holding exactly the group's members whose TeamViewer account should
be active, with exactly the role ``GROUP_ROLE_MAP`` maps it to. The link between the two is a
``GroupLink`` in GroupStateTable, so a rename in Okta renames the same TeamViewer group.

TeamViewer identifies a user group by a number and a group member by the numeric part of the
user id (``u1234567`` -> ``1234567``, [PS] ``Resolve-TeamViewerUserGroupMemberId.ps1``).
"""

from __future__ import annotations

from typing import Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from tvsync.observability import mask_emails

#: TeamViewer user group names are 1 to 100 characters ([SWAGGER] ``POST /usergroups``).
MAX_GROUP_NAME: Final = 100
#: TeamViewer takes at most 100 accounts per member call ([PS], [ADC]).
MAX_MEMBERS_PER_CALL: Final = 100


class OktaGroup(BaseModel):
    """``GET /api/v1/groups/{id}``, reduced to what pushing needs ([SPEC] Group)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    name: str = Field(min_length=1)
    #: ``OKTA_GROUP`` (made in Okta), ``APP_GROUP`` (imported from an app), ``BUILT_IN`` (Everyone).
    type: str | None = None


class TeamViewerGroup(BaseModel):
    """One TeamViewer user group of the company ([SWAGGER] ``UserGroupModel``)."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str


def account_number(teamviewer_id: str) -> int:
    """The member id TeamViewer's group calls take for an account id: ``u1234567`` -> ``1234567``."""
    digits = teamviewer_id[1:] if teamviewer_id[:1] in {"u", "U"} else teamviewer_id
    if not digits.isdigit():
        raise ValueError(f"not a TeamViewer account id: {teamviewer_id!r}")
    return int(digits)


def account_id(number: int) -> str:
    """The account id of a group member: ``1234567`` -> ``u1234567``."""
    return f"u{number}"


class GroupLink(BaseModel):
    """GroupStateTable's item for one Okta group: its TeamViewer group, and what was last done.

    ``teamviewer_group_id`` is None until the group is linked (created or adopted), and again
    after a deleted group's TeamViewer group was deleted (``DELETE_UNPUSHED_GROUPS``).
    ``role_id`` is the role the worker last left assigned to the TeamViewer group (None: none).
    """

    model_config = ConfigDict(frozen=True)

    okta_group_id: str
    teamviewer_group_id: int | None = None
    name: str | None = None
    role_id: str | None = None
    last_outcome: str
    last_reason: str | None = None
    last_operations: list[str] = []
    updated_at: AwareDatetime
    last_applied_at: AwareDatetime | None = None

    @field_validator("last_reason")
    @classmethod
    def _mask_reason(cls, reason: str | None) -> str | None:
        """Reasons may quote a server's error text: no email is ever stored in one."""
        return None if reason is None else mask_emails(reason)
