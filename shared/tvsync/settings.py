"""Each function's configuration, read once from the environment the template sets.

These models are the one declaration of the functions' environment: a field's name is the
variable's name, and ``FUNCTION_SETTINGS`` says which function reads which model.
template.yaml sets, in each function's own ``Environment``, exactly its model's variables
except those marked ``OVERRIDE``; what every function shares — Powertools' service name,
metrics namespace and log level, which Powertools reads itself — it sets once, in
``Globals`` (``POWERTOOLS_GLOBALS``). The CLI, the local stack and the tests take the names
from here, and tests hold template.yaml, ``events/env.json`` and docs/contracts.md to them.

An empty string (how CloudFormation passes an unset optional parameter) means "not set". A
missing required variable fails the cold start with one clear message rather than a
KeyError deep inside a request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from types import MappingProxyType
from typing import Annotated, Final, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from tvsync.core.groups import GroupConfig


class ConfigurationError(RuntimeError):
    """The function's environment is incomplete or invalid (a deployment mistake)."""


class _Override:
    """Marks a variable the template does not set: its default holds unless an operator adds it.

    Such a variable tunes a safety margin (a cache age, a cap) that no deployment parameter
    needs to expose; the CLI may set it for one local run.
    """

    def __repr__(self) -> str:
        return "OVERRIDE"


#: Field metadata: ``Annotated[int, OVERRIDE]`` declares a variable template.yaml leaves unset.
OVERRIDE: Final = _Override()

#: Read by Powertools itself, not by these models, and set once for all functions in the
#: template's ``Globals``: one service name and metrics namespace everywhere is what the
#: dashboard and the alarms rely on.
POWERTOOLS_GLOBALS: Final = (
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
)

#: Where the TeamViewer Web API is unless ``TEAMVIEWER_API_URL`` says otherwise.
DEFAULT_TEAMVIEWER_API_URL: Final = "https://webapi.teamviewer.com"


class FunctionSettings(BaseModel):
    """One function's environment: every field is a variable of the same name."""

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

    @classmethod
    def variables(cls) -> tuple[str, ...]:
        """Every variable the function reads, in declaration order."""
        return tuple(cls.model_fields)

    @classmethod
    def template_variables(cls) -> frozenset[str]:
        """The variables template.yaml sets in the function's own ``Environment``."""
        return frozenset(
            name for name, field in cls.model_fields.items() if not any(m is OVERRIDE for m in field.metadata)
        )


def _pushed_group_ids(value: str) -> str:
    GroupConfig.parse(value, "", delete_unpushed=False)
    return value


def _group_role_map(value: str) -> str:
    GroupConfig.parse("", value, delete_unpushed=False)
    return value


#: ``PUSH_GROUP_IDS`` and ``GROUP_ROLE_MAP`` are checked each on its own at the cold start,
#: so a typo fails it with an error that names the variable at fault. ``GroupConfig.parse``
#: (``tvsync.core.groups``) is the one reading of them; each model's ``group_config`` gives
#: its result. Unset (or blank), nothing is pushed: the product behaves as without groups.
PushGroupIds = Annotated[str, AfterValidator(_pushed_group_ids)]
GroupRoleMap = Annotated[str, AfterValidator(_group_role_map)]


def _group_config(
    push_group_ids: str | None, group_role_map: str | None, *, delete_unpushed: bool
) -> GroupConfig:
    return GroupConfig.parse(push_group_ids or "", group_role_map or "", delete_unpushed=delete_unpushed)


class IngestSettings(FunctionSettings):
    """``IngestFunction``: where to queue, how to authenticate Okta, which group events matter.

    Ingest reads the pushed groups only to tell a group's events from the rest: with none
    pushed (the default) it queues exactly what it always did.
    """

    EVENT_QUEUE_URL: str
    OKTA_HOOK_SECRET_ARN: str
    OKTA_HOOK_AUTH_HEADER: str = Field(default="Authorization")
    OKTA_APP_ID: str | None = None
    # After a rotation, the previous hook secret stays valid this long (0: never).
    OKTA_HOOK_SECRET_ROTATION_GRACE_SECONDS: int = Field(default=3600, ge=0)
    PUSH_GROUP_IDS: PushGroupIds | None = None
    GROUP_ROLE_MAP: GroupRoleMap | None = None
    # Seconds the hook secret is cached; Powertools' own default is 300.
    POWERTOOLS_PARAMETERS_MAX_AGE: Annotated[int, OVERRIDE] = Field(default=300, ge=1)

    @cached_property
    def group_config(self) -> GroupConfig:
        """The pushed groups (ingest never deletes anything, so ``delete_unpushed`` is moot)."""
        return _group_config(self.PUSH_GROUP_IDS, self.GROUP_ROLE_MAP, delete_unpushed=False)


class WorkerSettings(FunctionSettings):
    """``WorkerFunction``: the queue, the tables, how to reach Okta and TeamViewer, the groups.

    ``GROUP_STATE_TABLE_NAME`` is required like the other tables: the template always creates
    the table, and a group that stops being pushed is released through the links it keeps
    even when no group is pushed any more.
    """

    EVENT_QUEUE_URL: str
    IDEMPOTENCY_TABLE_NAME: str
    SYNC_STATE_TABLE_NAME: str
    GROUP_STATE_TABLE_NAME: str
    TEAMVIEWER_TOKEN_SECRET_ARN: str
    TEAMVIEWER_API_URL: str = Field(default=DEFAULT_TEAMVIEWER_API_URL)
    TEAMVIEWER_SSO_CUSTOMER_ID: str | None = None
    OKTA_API_TOKEN_SECRET_ARN: str
    OKTA_ORG_URL: str
    OKTA_APP_ID: str | None = None
    DRY_RUN: bool = False
    IDEMPOTENCY_EXPIRY_SECONDS: int = Field(default=86_400, ge=60)
    PUSH_GROUP_IDS: PushGroupIds | None = None
    GROUP_ROLE_MAP: GroupRoleMap | None = None
    DELETE_UNPUSHED_GROUPS: bool = False
    # Users (message groups) converged at once within one invocation. More than the queue's
    # batch of 10 never run: a FIFO batch holds at most 10 records.
    WORKER_RECORD_CONCURRENCY: int = Field(default=8, ge=1, le=10)
    # TeamViewer requests the whole worker sends per second at most, all instances together
    # (one schedule in SyncStateTable: tvsync.adapters.request_schedule). At least 1.
    TEAMVIEWER_MAX_REQUESTS_PER_SECOND: float = Field(default=20.0, ge=1, le=1000)
    # The template's WorkerMaximumConcurrency: while the shared schedule cannot be reached,
    # each instance keeps to this share of the rate, so the total stays bounded.
    WORKER_MAXIMUM_CONCURRENCY: int = Field(default=5, ge=1, le=1000)
    POWERTOOLS_PARAMETERS_MAX_AGE: Annotated[int, OVERRIDE] = Field(default=300, ge=1)

    @cached_property
    def group_config(self) -> GroupConfig:
        """Which Okta groups are pushed, with which roles, and whether released ones are deleted."""
        return _group_config(
            self.PUSH_GROUP_IDS, self.GROUP_ROLE_MAP, delete_unpushed=self.DELETE_UNPUSHED_GROUPS
        )


class ReconcileSettings(FunctionSettings):
    """``ReconcileFunction``: both directories to read, the queue to send fixes to.

    ``DEACTIVATE_ORPHANS`` opts in to deactivating company accounts no Okta user has;
    ``MAX_ORPHAN_DEACTIVATIONS`` caps how many one run may deactivate, so an Okta answer
    that is empty by mistake (a wrong app id, a token with too few rights) cannot switch off
    the whole company: above the cap orphans are only reported. The group settings are
    the worker's: the reconciler compares every pushed and every linked group.
    """

    EVENT_QUEUE_URL: str
    SYNC_STATE_TABLE_NAME: str
    GROUP_STATE_TABLE_NAME: str
    TEAMVIEWER_TOKEN_SECRET_ARN: str
    TEAMVIEWER_API_URL: str = Field(default=DEFAULT_TEAMVIEWER_API_URL)
    OKTA_API_TOKEN_SECRET_ARN: str
    OKTA_ORG_URL: str
    OKTA_APP_ID: str | None = None
    DEACTIVATE_ORPHANS: bool = False
    PUSH_GROUP_IDS: PushGroupIds | None = None
    GROUP_ROLE_MAP: GroupRoleMap | None = None
    DELETE_UNPUSHED_GROUPS: bool = False
    MAX_ORPHAN_DEACTIVATIONS: Annotated[int, OVERRIDE] = Field(default=50, ge=0)
    POWERTOOLS_PARAMETERS_MAX_AGE: Annotated[int, OVERRIDE] = Field(default=300, ge=1)

    @cached_property
    def group_config(self) -> GroupConfig:
        """Which Okta groups are pushed, with which roles, and whether released ones are deleted."""
        return _group_config(
            self.PUSH_GROUP_IDS, self.GROUP_ROLE_MAP, delete_unpushed=self.DELETE_UNPUSHED_GROUPS
        )


#: Each function's settings, by its logical id in template.yaml.
FUNCTION_SETTINGS: Final[Mapping[str, type[FunctionSettings]]] = MappingProxyType(
    {
        "IngestFunction": IngestSettings,
        "WorkerFunction": WorkerSettings,
        "ReconcileFunction": ReconcileSettings,
    }
)


def function_variables() -> tuple[str, ...]:
    """Every variable any function reads, each once: the functions' environment contract."""
    return tuple(dict.fromkeys(name for model in FUNCTION_SETTINGS.values() for name in model.variables()))


def function_variable(name: str) -> str:
    """``name``, once it is known to be a variable a function reads; ``LookupError`` otherwise.

    For code outside the functions that names one of their variables (the CLI, the local
    stack): a name a model no longer declares fails where it is used, not as a silently
    empty value.
    """
    if name not in function_variables():
        raise LookupError(f"{name} is not a variable of any function's settings (tvsync.settings)")
    return name
