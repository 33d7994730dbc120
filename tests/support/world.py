"""The worker's services wired to in-memory fakes: a whole sync in microseconds, time held still.

``World`` builds the real ``UserSynchronizer`` (and, on request, the real ``BatchWorker``)
over ``tests.support.fakes`` exactly as ``tvsync.wiring.worker`` builds them over the real
adapters, with a Powertools logger and metrics whose output the test reads back.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from aws_lambda_powertools import Logger, Metrics

from tests.support.fakes import (
    T0,
    FakeOkta,
    FakeSyncStateStore,
    FakeTeamViewer,
    RecordedVisibility,
    SettableClock,
    SettableMonotonic,
)
from tvsync.core.desired_state import SyncConfig
from tvsync.core.outcome import Detail
from tvsync.models.sync_request import SyncRequest
from tvsync.models.sync_state import SyncState
from tvsync.models.teamviewer import TeamViewerAccount
from tvsync.observability import SERVICE
from tvsync.services.clock import Deadline
from tvsync.services.sqs_batch import BatchWorker
from tvsync.services.sync_outcomes import SyncResult
from tvsync.services.user_sync import UserSynchronizer

__all__ = ["APP_ID", "QUEUE_ARN", "LogRecords", "World", "sqs_event", "sqs_record"]

#: The Okta app whose assignments entitle users (``OKTA_APP_ID``).
APP_ID = "0oa1tvsync0000000001"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:EventQueue.fifo"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/EventQueue.fifo"

Source = Literal["okta-event-hook", "reconcile", "replay"]


class LogRecords(logging.Handler):
    """Every record the service logger emitted, with its ``extra`` fields as attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self, message: str | None = None) -> list[dict[str, Any]]:
        """Each record's fields, its level and message included (only ``message``'s when given)."""
        return [
            {**r.__dict__, "level": r.levelname, "message": r.getMessage()}
            for r in self.records
            if message is None or r.getMessage() == message
        ]


def _service_logger(records: LogRecords) -> Logger:
    """A Powertools logger writing into ``records``.

    Powertools configures a service's logger once per process; the suite's autouse fixture
    resets it for every test, and the handler is attached here too in case a test builds
    a second world.
    """
    logger = Logger(service=SERVICE, logger_handler=records)
    if records not in logging.getLogger(SERVICE).handlers:
        logging.getLogger(SERVICE).addHandler(records)
    return logger


@dataclass
class World:
    """Okta, TeamViewer, SyncStateTable and the clocks as fakes, and the worker's services over them."""

    app_id: str | None = APP_ID
    dry_run: bool = False
    okta: FakeOkta = field(default_factory=FakeOkta)
    state: FakeSyncStateStore = field(default_factory=FakeSyncStateStore)
    clock: SettableClock = field(default_factory=SettableClock)
    monotonic: SettableMonotonic = field(default_factory=SettableMonotonic)
    tv: FakeTeamViewer = field(init=False)
    deadline: Deadline = field(init=False)
    logs: LogRecords = field(default_factory=LogRecords)
    metrics: Metrics = field(init=False)
    logger: Logger = field(init=False)
    _synchronizer: UserSynchronizer | None = None
    _events: int = 0

    def __post_init__(self) -> None:
        self.tv = FakeTeamViewer(monotonic=self.monotonic)
        self.deadline = Deadline(clock=self.monotonic)
        self.logger = _service_logger(self.logs)
        self.metrics = Metrics(namespace="OktaTeamViewerSync", service=SERVICE)

    # ------------------------------------------------------------------ the services

    @property
    def synchronizer(self) -> UserSynchronizer:
        """One per world, as one per Lambda container: the token owner is fetched once."""
        if self._synchronizer is None:
            self._synchronizer = UserSynchronizer(
                okta=self.okta,
                teamviewer=self.tv,
                state=self.state,
                config=SyncConfig(app_id=self.app_id),
                dry_run=self.dry_run,
                logger=self.logger,
                metrics=self.metrics,
                clock=self.clock,
                deadline=self.deadline,
            )
        return self._synchronizer

    def batch_worker(
        self,
        process: Callable[..., dict[str, Any]] | None = None,
        *,
        sqs: RecordedVisibility | None = None,
        reject: Callable[[str, Detail], None] | None = None,
    ) -> BatchWorker:
        """The SQS side, handing each request to ``process`` (default: this world's synchroniser)."""

        def converge(request: SyncRequest) -> dict[str, Any]:
            return self.synchronizer.converge(request).as_dict()

        return BatchWorker(
            process=process or converge,
            register_context=lambda context: None,
            sqs=sqs or RecordedVisibility(),
            queue_url=QUEUE_URL,
            logger=self.logger,
            metrics=self.metrics,
            reject=reject or self.synchronizer.record_rejected,
            deadline=self.deadline,
        )

    # ------------------------------------------------------------------ driving it

    def add_assigned(self, email: str, first: str = "Jane", last: str = "Doe", **kwargs: Any) -> str:
        """An Okta user assigned to the app; returns the Okta user id."""
        user = self.okta.add_user(email, first, last, **kwargs)
        if self.app_id is not None:
            self.okta.assign(self.app_id, user)
        return user

    def request(
        self,
        okta_user_id: str,
        event_type: str = "user.account.update_profile",
        *,
        source: Source = "okta-event-hook",
        teamviewer_id: str | None = None,
        published: datetime | None = None,
    ) -> SyncRequest:
        self._events += 1
        return SyncRequest(
            okta_user_id=okta_user_id,
            event_uuid=f"evt-{self._events:05d}",
            event_type=event_type,
            published=published or T0 + timedelta(seconds=self._events),
            source=source,
            teamviewer_id=teamviewer_id,
        )

    def sync(
        self,
        okta_user_id: str,
        event_type: str = "user.account.update_profile",
        *,
        source: Source = "okta-event-hook",
        teamviewer_id: str | None = None,
    ) -> SyncResult:
        """One event for the user through the synchroniser; the clock moves a second first."""
        self.clock.advance(1)
        return self.synchronizer.converge(
            self.request(okta_user_id, event_type, source=source, teamviewer_id=teamviewer_id)
        )

    # ------------------------------------------------------------------ reading it back

    def record(self, okta_user_id: str) -> SyncState:
        """The user's SyncStateTable record, read without counting as a call of the store."""
        state = self.state.stored(okta_user_id)
        assert state is not None, f"no record for {okta_user_id}"
        return state

    def account_id(self, okta_user_id: str) -> str:
        """The TeamViewer account the user's record maps them to."""
        account_id = self.record(okta_user_id).teamviewer_id
        assert account_id is not None, f"{okta_user_id} is mapped to no account"
        return account_id

    def account(self, email: str) -> TeamViewerAccount:
        """The company account with ``email`` (any letter case), as TeamViewer holds it now."""
        account = self.tv.account(email)
        assert account is not None, f"no company account for {email}"
        return account

    def metric(self, name: str) -> float:
        """The sum of ``name`` added so far (0 if never)."""
        entry = self.metrics.metric_set.get(name)
        return float(sum(entry["Value"])) if entry else 0.0

    def metric_names(self) -> set[str]:
        return set(self.metrics.metric_set)

    def synced(self) -> list[dict[str, Any]]:
        """The fields of every ``User synced`` log line."""
        return self.logs.lines("User synced")


def sqs_record(
    body: str | SyncRequest,
    *,
    group: str | None = None,
    receive_count: int = 1,
    message_id: str | None = None,
) -> dict[str, Any]:
    """One record of a Lambda SQS event, as the FIFO event source mapping shapes it."""
    text = body.model_dump_json() if isinstance(body, SyncRequest) else body
    if group is None and isinstance(body, SyncRequest):
        group = body.okta_user_id
    message_id = message_id or f"m-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    attributes = {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1793610000000"}
    if group is not None:
        attributes["MessageGroupId"] = group
        attributes["MessageDeduplicationId"] = message_id
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": text,
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}
