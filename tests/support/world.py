"""The worker's services wired to in-memory fakes: a whole sync in microseconds, time held still.

``World`` builds the real ``UserSynchronizer`` (and, on request, the real ``BatchWorker``)
over ``tests.support.fakes`` exactly as ``tvsync.wiring.worker`` builds them over the real
adapters, with a Powertools logger and metrics whose output the test reads back.

With ``group_config`` (or ``push_group``) it also builds the group half as the wiring does:
``GroupSynchronizer``, ``MembershipSync`` and the ``SyncDispatcher`` that routes each request,
over the same fakes plus a ``FakeGroupStateStore``. ``dispatch`` runs a request the way the
worker's idempotent step does (minus the idempotency record, which the integration tier
covers), so a test can deliver the same event twice and see both deliveries act.
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
    FakeGroupStateStore,
    FakeOkta,
    FakeSyncStateStore,
    FakeTeamViewer,
    RecordedVisibility,
    SettableClock,
    SettableMonotonic,
)
from tvsync.core.desired_state import SyncConfig
from tvsync.core.groups import GroupConfig
from tvsync.core.outcome import Detail
from tvsync.models.groups import GroupLink, account_number
from tvsync.models.sync_request import SyncRequest, group_request_key
from tvsync.models.sync_state import SyncState
from tvsync.models.teamviewer import TeamViewerAccount
from tvsync.observability import SERVICE
from tvsync.services.clock import Deadline
from tvsync.services.dispatch import SyncDispatcher
from tvsync.services.group_membership import MembershipSync
from tvsync.services.group_outcomes import GroupOutcomes
from tvsync.services.group_sync import GroupSynchronizer
from tvsync.services.sqs_batch import BatchWorker
from tvsync.services.sync_outcomes import SyncResult
from tvsync.services.user_sync import UserSynchronizer

__all__ = [
    "ACCESS_LOSSES",
    "APP_ID",
    "MEMBERSHIP_ADD",
    "MEMBERSHIP_REMOVE",
    "QUEUE_ARN",
    "LogRecords",
    "World",
    "sqs_event",
    "sqs_record",
]

#: The Okta app whose assignments entitle users (``OKTA_APP_ID``).
APP_ID = "0oa1tvsync0000000001"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:EventQueue.fifo"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/EventQueue.fifo"

Source = Literal["okta-event-hook", "reconcile", "replay"]

#: The ways a user loses access to TeamViewer in Okta, each with the event Okta then sends.
ACCESS_LOSSES = {
    "suspended": "user.lifecycle.suspend",
    "deactivated": "user.lifecycle.deactivate",
    "unassigned": "application.user_membership.remove",
    "deleted": "user.lifecycle.delete.initiated",
}

#: The membership events ingest turns into membership requests of a pushed group [SPEC].
MEMBERSHIP_ADD = "group.user_membership.add"
MEMBERSHIP_REMOVE = "group.user_membership.remove"


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
    #: Which Okta groups are pushed (none by default, as a deployment without groups).
    group_config: GroupConfig = field(default_factory=GroupConfig)
    links: FakeGroupStateStore = field(default_factory=FakeGroupStateStore)
    _synchronizer: UserSynchronizer | None = None
    _group_services: tuple[GroupSynchronizer, MembershipSync, SyncDispatcher] | None = None
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

    @property
    def groups(self) -> GroupSynchronizer:
        return self._groups_wired()[0]

    @property
    def memberships(self) -> MembershipSync:
        return self._groups_wired()[1]

    @property
    def dispatcher(self) -> SyncDispatcher:
        """What the worker's idempotent step calls: group requests to ``groups``, the rest to users."""
        return self._groups_wired()[2]

    def _groups_wired(self) -> tuple[GroupSynchronizer, MembershipSync, SyncDispatcher]:
        """Built as ``tvsync.wiring.worker`` builds them, once per configuration."""
        if self._group_services is None:
            outcomes = GroupOutcomes(
                links=self.links, logger=self.logger, metrics=self.metrics, clock=self.clock
            )
            groups = GroupSynchronizer(
                okta=self.okta,
                teamviewer=self.tv,
                links=self.links,
                users=self.state,
                config=self.group_config,
                dry_run=self.dry_run,
                outcomes=outcomes,
            )
            memberships = MembershipSync(
                groups=groups,
                okta=self.okta,
                teamviewer=self.tv,
                links=self.links,
                config=self.group_config,
                dry_run=self.dry_run,
                outcomes=outcomes,
            )
            dispatcher = SyncDispatcher(users=self.synchronizer, groups=groups, memberships=memberships)
            self._group_services = (groups, memberships, dispatcher)
        return self._group_services

    def redeploy(self, *, dry_run: bool) -> None:
        """The same tables and directories under a worker deployed with another ``DRY_RUN``."""
        self.dry_run = dry_run
        self._synchronizer = None
        self._group_services = None

    def configure_groups(self, config: GroupConfig) -> None:
        """A redeploy with other group parameters: the group services are built anew."""
        self.group_config = config
        self._group_services = None

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

    def lose_access(self, okta_user_id: str, how: str) -> str:
        """Take the user's access away in Okta ``how`` (a key of ``ACCESS_LOSSES``); its event type."""
        if how in ("suspended", "deactivated"):
            self.okta.set_status(okta_user_id, "SUSPENDED" if how == "suspended" else "DEPROVISIONED")
        elif how == "unassigned":
            assert self.app_id is not None, "a world without an app has no assignment to take away"
            self.okta.unassign(self.app_id, okta_user_id)
        elif how == "deleted":
            self.okta.delete_user(okta_user_id)
        else:
            raise ValueError(f"no such way to lose access: {how!r}")
        return ACCESS_LOSSES[how]

    def request(
        self,
        okta_user_id: str,
        event_type: str = "user.account.update_profile",
        *,
        source: Source = "okta-event-hook",
        teamviewer_id: str | None = None,
        published: datetime | None = None,
        okta_group_id: str | None = None,
    ) -> SyncRequest:
        self._events += 1
        return SyncRequest(
            okta_user_id=okta_user_id,
            event_uuid=f"evt-{self._events:05d}",
            event_type=event_type,
            published=published or T0 + timedelta(seconds=self._events),
            source=source,
            teamviewer_id=teamviewer_id,
            okta_group_id=okta_group_id,
        )

    def group_request(
        self,
        okta_group_id: str,
        event_type: str = "group.profile.update",
        *,
        source: Source = "okta-event-hook",
    ) -> SyncRequest:
        """A request about the group itself, in its own message group (``group-<id>``)."""
        return self.request(
            group_request_key(okta_group_id), event_type, source=source, okta_group_id=okta_group_id
        )

    def membership_request(
        self, okta_user_id: str, okta_group_id: str, event_type: str = MEMBERSHIP_ADD
    ) -> SyncRequest:
        """A membership event of a pushed group, in the user's own message group."""
        return self.request(okta_user_id, event_type, okta_group_id=okta_group_id)

    def dispatch(self, request: SyncRequest) -> dict[str, Any]:
        """One request through the dispatcher, as the worker's idempotent step runs it (clock +1 s)."""
        self.clock.advance(1)
        return self.dispatcher.converge(request)

    def sync_group(self, okta_group_id: str, *, source: Source = "okta-event-hook") -> dict[str, Any]:
        return self.dispatch(self.group_request(okta_group_id, source=source))

    def sync_membership(
        self, okta_user_id: str, okta_group_id: str, event_type: str = MEMBERSHIP_ADD
    ) -> dict[str, Any]:
        return self.dispatch(self.membership_request(okta_user_id, okta_group_id, event_type))

    def sync_user(self, okta_user_id: str, event_type: str = "user.account.update_profile") -> dict[str, Any]:
        """A user event through the dispatcher: the user's sync, then their memberships."""
        return self.dispatch(self.request(okta_user_id, event_type))

    def push_group(
        self,
        name: str,
        *,
        role_id: str | None = None,
        members: tuple[str, ...] = (),
        group_id: str | None = None,
    ) -> str:
        """An Okta group with ``members``, pushed (with ``role_id`` mapped): a redeploy that adds it."""
        okta_group_id = self.okta.add_group(name, group_id=group_id)
        for member in members:
            self.okta.add_to_group(okta_group_id, member)
        roles = dict(self.group_config.roles)
        if role_id is not None:
            roles[okta_group_id] = role_id
        self.configure_groups(
            GroupConfig(
                self.group_config.pushed | {okta_group_id},
                roles,
                delete_unpushed=self.group_config.delete_unpushed,
            )
        )
        return okta_group_id

    def mapped_users(self, count: int, *, prefix: str = "member") -> list[str]:
        """``count`` assigned users whose accounts the worker created (their own syncs, not dispatched)."""
        users = [
            self.add_assigned(f"{prefix}{n:04d}@example.com", "Member", f"N{n:04d}") for n in range(count)
        ]
        for user in users:
            self.sync(user)
        return users

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

    def link(self, okta_group_id: str) -> GroupLink:
        """The group's GroupStateTable record, read without counting as a call of the store."""
        link = self.links.stored(okta_group_id)
        assert link is not None, f"no record for the group {okta_group_id}"
        return link

    def tv_group(self, okta_group_id: str) -> int:
        """The TeamViewer group the Okta group is linked to."""
        group_id = self.link(okta_group_id).teamviewer_group_id
        assert group_id is not None, f"{okta_group_id} is linked to no TeamViewer group"
        return group_id

    def number(self, okta_user_id: str) -> int:
        """The member id (account number) of the user's mapped account."""
        return account_number(self.account_id(okta_user_id))

    def numbers(self, okta_user_ids: list[str]) -> list[int]:
        """The users' member ids, ascending: how ``FakeTeamViewer.members_of`` lists them."""
        return sorted(self.number(user) for user in okta_user_ids)

    def reset_calls(self) -> None:
        """Start every fake's call log afresh."""
        for fake in (self.okta, self.tv, self.state, self.links):
            fake.reset_calls()

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
