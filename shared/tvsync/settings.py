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
    model_config = ConfigDict(frozen=True, extra="ignore")

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
