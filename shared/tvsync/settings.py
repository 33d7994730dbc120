"""Each function's configuration, read once from the environment the template sets.

Names are the contract in DESIGN.md; an empty string (how CloudFormation passes an unset
optional parameter) means "not set". A missing required variable fails the cold start with
one clear message rather than a KeyError deep inside a request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ConfigurationError(RuntimeError):
    """The function's environment is incomplete or invalid (a deployment mistake)."""


class _EnvSettings(BaseModel):
    # Built on first use: each function reads one of these, and its cold start should not
    # pay for compiling the others.
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        try:
            # Unset and blank are the same: the field's default applies.
            present = {name: value for name in cls.model_fields if (value := env.get(name, "")).strip()}
            return cls.model_validate(present)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigurationError(f"invalid environment for {cls.__name__}: {problems}") from None


class IngestSettings(_EnvSettings):
    """``IngestFunction``: where to queue, and how to authenticate Okta."""

    EVENT_QUEUE_URL: str
    OKTA_HOOK_SECRET_ARN: str
    OKTA_HOOK_AUTH_HEADER: str = Field(default="Authorization")
    OKTA_APP_ID: str | None = None
    # After a rotation, the previous hook secret stays valid this long (0: never).
    OKTA_HOOK_SECRET_ROTATION_GRACE_SECONDS: int = Field(default=3600, ge=0)
    # Seconds the hook secret is cached; Powertools' own default is 300.
    POWERTOOLS_PARAMETERS_MAX_AGE: int = Field(default=300, ge=1)


class WorkerSettings(_EnvSettings):
    """``WorkerFunction``: the queue, the tables, and how to reach Okta and TeamViewer."""

    EVENT_QUEUE_URL: str
    IDEMPOTENCY_TABLE_NAME: str
    SYNC_STATE_TABLE_NAME: str
    TEAMVIEWER_TOKEN_SECRET_ARN: str
    TEAMVIEWER_API_URL: str = Field(default="https://webapi.teamviewer.com")
    TEAMVIEWER_SSO_CUSTOMER_ID: str | None = None
    OKTA_API_TOKEN_SECRET_ARN: str
    OKTA_ORG_URL: str
    OKTA_APP_ID: str | None = None
    DRY_RUN: bool = False
    IDEMPOTENCY_EXPIRY_SECONDS: int = Field(default=86_400, ge=60)
    POWERTOOLS_PARAMETERS_MAX_AGE: int = Field(default=300, ge=1)


class ReconcileSettings(_EnvSettings):
    """``ReconcileFunction``: both directories to read, the queue to send fixes to.

    ``DEACTIVATE_ORPHANS`` opts in to deactivating company accounts no Okta user has;
    ``MAX_ORPHAN_DEACTIVATIONS`` caps how many one run may deactivate, so an Okta answer
    that is empty by mistake (a wrong app id, a token with too few rights) cannot switch off
    the whole company: above the cap orphans are only reported.
    """

    EVENT_QUEUE_URL: str
    SYNC_STATE_TABLE_NAME: str
    TEAMVIEWER_TOKEN_SECRET_ARN: str
    TEAMVIEWER_API_URL: str = Field(default="https://webapi.teamviewer.com")
    OKTA_API_TOKEN_SECRET_ARN: str
    OKTA_ORG_URL: str
    OKTA_APP_ID: str | None = None
    DEACTIVATE_ORPHANS: bool = False
    MAX_ORPHAN_DEACTIVATIONS: int = Field(default=50, ge=0)
    POWERTOOLS_PARAMETERS_MAX_AGE: int = Field(default=300, ge=1)
