"""What the worker reads from Okta's management API.

Only the fields the product uses are modelled; everything else Okta sends is ignored
(``extra="ignore"``) so new Okta attributes never break a sync.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class OktaUserStatus(StrEnum):
    """Okta's user lifecycle states (management API ``status``)."""

    STAGED = "STAGED"
    PROVISIONED = "PROVISIONED"
    ACTIVE = "ACTIVE"
    RECOVERY = "RECOVERY"
    PASSWORD_EXPIRED = "PASSWORD_EXPIRED"  # noqa: S105 - a status, not a password
    LOCKED_OUT = "LOCKED_OUT"
    SUSPENDED = "SUSPENDED"
    DEPROVISIONED = "DEPROVISIONED"


class OktaProfile(BaseModel):
    """The profile attributes the product maps to TeamViewer."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    login: str
    email: str
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    display_name: str | None = Field(default=None, alias="displayName")
    preferred_language: str | None = Field(default=None, alias="preferredLanguage")
    locale: str | None = None


class OktaUser(BaseModel):
    """``GET /api/v1/users/{id}``, reduced to what provisioning needs."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    id: str
    status: OktaUserStatus
    profile: OktaProfile


class AppAssignmentStatus(StrEnum):
    """``AppUser.status`` values Okta documents; anything else is treated as unassigned."""

    ACTIVE = "ACTIVE"
    APPROVED = "APPROVED"
    DEPROVISIONED = "DEPROVISIONED"
    IMPLICIT = "IMPLICIT"
    IMPORTED = "IMPORTED"
    INACTIVE = "INACTIVE"
    MATCHED = "MATCHED"
    PENDING = "PENDING"
    PROVISIONED = "PROVISIONED"
    REVOKED = "REVOKED"
    STAGED = "STAGED"
    SUSPENDED = "SUSPENDED"
    UNASSIGNED = "UNASSIGNED"


class OktaAppUser(BaseModel):
    """``GET /api/v1/apps/{appId}/users/{userId}``: one user's assignment to the app."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    status: AppAssignmentStatus | str
    scope: str | None = None
