"""The Okta event hook delivery, validated in two layers.

The envelope is validated strictly — if it is not an Okta event hook delivery the whole
request is refused (400). Each event inside is validated on its own (``HookEvent``), so
one malformed or unexpected event is dropped and counted instead of costing the others:
Okta never retries a 4xx, so refusing the whole delivery would lose good events.

Unknown fields are ignored everywhere: Okta adds fields to LogEvents over time.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

HOOK_EVENT_TYPE = "com.okta.event_hook"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class HookDeliveryData(_Lenient):
    # Events stay raw here: each is validated separately by HookEvent.
    events: list[Any]


class EventHookDelivery(_Lenient):
    """The POST body: ``{"eventType": "com.okta.event_hook", "eventId": …, "data": {"events": [...]}}``."""

    event_type: Literal["com.okta.event_hook"] = Field(alias="eventType")
    event_id: str | None = Field(default=None, alias="eventId", max_length=200)
    event_time: str | None = Field(default=None, alias="eventTime")
    source: str | None = None
    data: HookDeliveryData


class HookTarget(_Lenient):
    """One entry of ``target[]``; targets come in no fixed order, so select them by ``type``."""

    id: str
    type: str
    alternate_id: str | None = Field(default=None, alias="alternateId")
    display_name: str | None = Field(default=None, alias="displayName")


class HookOutcome(_Lenient):
    result: str
    reason: str | None = None


class HookEvent(_Lenient):
    """One System Log LogEvent inside a delivery, reduced to what selection needs."""

    uuid: str = Field(min_length=1, max_length=128)
    published: AwareDatetime
    event_type: str = Field(alias="eventType")
    outcome: HookOutcome | None = None
    target: list[HookTarget] | None = None

    def targets_of_type(self, type_: str) -> list[HookTarget]:
        return [t for t in self.target or () if t.type == type_]
