"""One TeamViewer request schedule for every worker instance: an item in SyncStateTable.

TeamViewer's rate limit belongs to the token, not to an instance. A fixed share per instance
(the limit divided by ``WorkerMaximumConcurrency``) holds the total down, but whatever an
instance leaves unused — between its batches, while a burst ramps up, while the last
batches drain unevenly, or whenever fewer users have work than there are instances — is lost
for good. One schedule shared by all instances lends that room to whichever instance has
work, and bounds the total by itself, however many instances run.

The schedule is one number, ``next_slot``: the epoch time from which the next request is
due. A request's slot is ``max(now, next_slot)`` and it moves ``next_slot`` one interval
(1 / rate) on, so requests leave evenly spaced, never in a burst (the Generic Cell Rate
Algorithm without tolerance). A burst allowance would buy little here — the room one
instance leaves is taken by another, not banked — and even spacing leaves the most margin
under a server bucket of unknown size for the network to bunch requests up. While the
schedule is busy (``next_slot`` at or after now) a slot is claimed in one atomic write —
``ADD`` one interval, on condition that the slot lies between now and the horizon — so
instances never race for it and none is starved. When it is idle, the first claim sets it
from now, on condition that it is still idle. When a condition fails, DynamoDB's answer
carries what is stored and the claim is decided again from it, without an extra read. The wait
for a claimed slot is slept outside any lock, so only this instance's claims are serialized,
not its requests. Clocks are the instances' own epoch clocks (NTP-disciplined in Lambda):
an instance whose clock is behind sends late, never early by more than the skew.

Two limits keep it safe. A slot is not claimed more than ``horizon`` seconds ahead — a
thread whose slot would be further waits and tries again — so a crowd of waiting threads
never books the schedule minutes ahead of what the Lambda's timeout allows. And when
DynamoDB cannot be reached, refuses the write or has not placed a claim after ``MAX_TRIES``
writes, the instance falls back to its own share (``fallback``, the limit divided by the
instances) for ``cool_down`` seconds, so its requests stay bounded by the concurrency
setting until the table answers again. While some instances fall back and others still
reach the table, the two add up: at most the rate plus the fallen-back instances' shares.

Cost: one conditional write per TeamViewer request (a small item: one write unit), and none
while idle.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from tvsync.models.table_keys import SCHEDULE_KEY

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from tvsync.adapters.http import RequestGate

__all__ = ["SharedRequestSchedule"]

_KEY_ATTRIBUTE: Final = "okta_user_id"
_SLOT: Final = "next_slot"
#: Writes one claim may try before the table counts as unavailable for it. A busy schedule
#: is claimed in one write (an atomic ``ADD``); only its turns between idle and busy can
#: make a write miss, so a claim that misses this often is not contention but something wrong.
MAX_TRIES: Final = 20


class _Unavailable(Exception):
    """The shared schedule could not be used for this claim (the reason is the message)."""


class SharedRequestSchedule:
    """A request rate shared through one SyncStateTable item by every worker instance.

    ``per_second`` is the rate for all of them together. ``on_unavailable(reason)`` is called
    when the instance falls back to ``fallback``, once per spell. ``clock`` must be an epoch
    clock (shared across hosts).
    """

    def __init__(  # noqa: PLR0913 - the table and rate, then keyword-only tuning and test seams
        self,
        dynamodb: DynamoDBClient,
        table_name: str,
        *,
        per_second: float,
        fallback: RequestGate,
        horizon: float = 5.0,
        cool_down: float = 30.0,
        on_unavailable: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.per_second = per_second
        self.fallback = fallback
        self.horizon = horizon
        self.cool_down = cool_down
        self._dynamodb = dynamodb
        self._table = table_name
        self._key = {_KEY_ATTRIBUTE: {"S": SCHEDULE_KEY}}
        self._interval = 1.0 / per_second
        self._step = {"N": f"{self._interval:.9f}"}
        self._on_unavailable = on_unavailable
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        #: ``next_slot`` as this instance last saw it, exactly as stored (None: not seen yet).
        self._seen: str | None = None
        #: Until when the fallback is used instead of the table (epoch seconds).
        self._fallback_until = 0.0

    def __repr__(self) -> str:
        return f"SharedRequestSchedule(per_second={self.per_second:g}, table={self._table!r})"

    def acquire(self) -> float:
        """Claim the next slot of the shared schedule and wait for it; the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                slot = self._claim_or_fall_back()
            if slot is None:
                return waited + self.fallback.acquire()
            claimed, at = slot
            wait = max(0.0, at - self._clock())
            if wait > 0:
                self._sleep(wait)
            waited += wait
            if claimed:
                return waited

    def _claim_or_fall_back(self) -> tuple[bool, float] | None:
        """``(True, slot)`` once claimed; ``(False, when)`` to try again at ``when``; None: fall back."""
        if self._clock() < self._fallback_until:
            return None
        try:
            return self._claim()
        except _Unavailable as exc:
            self._fallback_until = self._clock() + self.cool_down
            if self._on_unavailable is not None:
                self._on_unavailable(str(exc))
            return None

    def _claim(self) -> tuple[bool, float]:
        for _ in range(MAX_TRIES):
            now = self._clock()
            seen = self._seen
            ahead = float(seen) - now if seen is not None else None
            if seen is not None and ahead is not None and ahead > 2 * self.horizon:
                # Further ahead than any claim goes: written by a clock far ahead of ours.
                # Start again from now, if nobody has meanwhile.
                claimed = self._set_from(now, condition=f"{_SLOT} = :seen", values={":seen": {"N": seen}})
            elif ahead is not None and ahead > self.horizon:
                # Booked too far ahead: come back when the slot is within reach. What we saw
                # can only be behind the table (the schedule only moves on), never ahead.
                return False, now + ahead - self.horizon
            elif ahead is not None and ahead >= 0:
                claimed = self._advance(now)
            else:
                claimed = self._set_from(
                    now,
                    condition=f"attribute_not_exists({_SLOT}) OR {_SLOT} < :now",
                    values={":now": _number(now)},
                )
            if claimed is not None:
                return True, claimed
        raise _Unavailable(f"no slot after {MAX_TRIES} tries")

    def _advance(self, now: float) -> float | None:
        """The schedule is busy: take the slot it is at and move it one interval on, atomically."""
        answer = self._update(
            update=f"ADD {_SLOT} :interval",
            condition=f"{_SLOT} BETWEEN :now AND :reach",
            values={":interval": self._step, ":now": _number(now), ":reach": _number(now + self.horizon)},
        )
        if answer is None:
            return None
        self._seen = answer
        return float(answer) - self._interval

    def _set_from(self, now: float, *, condition: str, values: dict[str, Any]) -> float | None:
        """The schedule is idle (or broken): the slot is now, the next one an interval later."""
        after = _number(now + self._interval)
        if (
            self._update(
                update=f"SET {_SLOT} = :after", condition=condition, values={":after": after, **values}
            )
            is None
        ):
            return None
        self._seen = after["N"]
        return now

    def _update(self, *, update: str, condition: str, values: dict[str, Any]) -> str | None:
        """``next_slot`` after the write, or None when the condition failed (what is stored is seen)."""
        try:
            response = self._dynamodb.update_item(
                TableName=self._table,
                Key=self._key,
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise _Unavailable(_reason(exc)) from None
            item = exc.response.get("Item")
            self._seen = _stored_slot(item if isinstance(item, dict) else None)
            return None
        except BotoCoreError as exc:
            raise _Unavailable(_reason(exc)) from None
        return _stored_slot(response.get("Attributes"))


def _number(value: float) -> dict[str, str]:
    return {"N": f"{value:.6f}"}


def _stored_slot(item: dict[str, Any] | None) -> str | None:
    """``next_slot`` of the item a failed condition returned (None: no item, or no slot yet)."""
    value = (item or {}).get(_SLOT, {}).get("N")
    return str(value) if value is not None else None


def _reason(exc: ClientError | BotoCoreError) -> str:
    """Why the table could not be used, without anything a request carried."""
    if isinstance(exc, ClientError):
        return f"DynamoDB answered {exc.response.get('Error', {}).get('Code', 'an error')}"
    return f"DynamoDB could not be reached ({type(exc).__name__})"
