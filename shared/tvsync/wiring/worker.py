"""WorkerFunction's object graph: clients, connection pools, idempotency store, batch handling.

The batch worker converges several users at once (``WORKER_RECORD_CONCURRENCY`` threads), so
everything built here is shared by those threads, and each piece is made safe for it here:

- TeamViewer: every request the client sends takes a slot of one schedule shared by all
  instances (``SharedRequestSchedule``, an item in SyncStateTable), so the whole worker keeps
  to ``TEAMVIEWER_MAX_REQUESTS_PER_SECOND`` however many instances run and whichever have
  work. While the table cannot be reached an instance keeps to its share of that rate
  (``RequestRate``, the rate divided by ``WORKER_MAXIMUM_CONCURRENCY``), so the total stays
  bounded by the template's ``WorkerMaximumConcurrency`` then too.
- Metrics: Powertools' ``add_metric`` reads, changes and writes back one shared dict, so two
  threads adding the same metric can lose a count; ``SerializedMetrics`` takes a lock.
- Idempotency: each call builds its own handler, and boto3 clients are thread-safe, but the
  persistence layer configures itself on its first call without a lock — a second thread
  could hash a key before the JMESPath that extracts it is set. It is configured here, once,
  before any thread exists.
- httpx clients and the Okta authorizer are safe to share; the Lambda context registered for
  idempotency is set before records start and only read by them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricResolution, MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from botocore.config import Config

from tvsync.adapters.group_state import GroupStateStore
from tvsync.adapters.http import RateLimitedTransport, RequestRate
from tvsync.adapters.request_schedule import SharedRequestSchedule
from tvsync.adapters.retry import RetryPolicy
from tvsync.adapters.secrets import CachedSecret
from tvsync.adapters.sync_state import SyncStateStore
from tvsync.adapters.teamviewer_client import TeamViewerClient
from tvsync.core.desired_state import SyncConfig
from tvsync.models.sync_request import SyncRequest
from tvsync.services.clock import Deadline, utc_now
from tvsync.services.dispatch import SyncDispatcher
from tvsync.services.group_membership import MembershipSync
from tvsync.services.group_outcomes import GroupOutcomes
from tvsync.services.group_sync import GroupSynchronizer
from tvsync.services.sqs_batch import BatchWorker
from tvsync.services.user_sync import UserSynchronizer
from tvsync.settings import WorkerSettings
from tvsync.wiring.common import count_retries, okta_client

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

#: The worker has minutes, not seconds: let botocore retry AWS calls a little more.
WORKER_AWS_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 4})

#: The key prefix of the idempotency records (``key_prefix``): stable, so refactoring this
#: module never forgets which events were applied.
IDEMPOTENCY_KEY_PREFIX = "tvsync.worker.converge"


class SerializedMetrics(Metrics):
    """The function's ``Metrics``, with ``add_metric`` serialized for the batch worker's threads.

    Same provider, so the same metric set the handler's ``log_metrics`` flushes; only the
    adding goes through a lock. Dimensions and metadata are set before records start, if at all.
    """

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(provider=metrics.provider)
        self._lock = threading.Lock()

    def add_metric(
        self,
        name: str,
        unit: MetricUnit | str,
        value: float,
        resolution: MetricResolution | int = 60,
    ) -> None:
        with self._lock:
            super().add_metric(name=name, unit=unit, value=value, resolution=resolution)


def build_worker(
    *, logger: Logger, metrics: Metrics, environ: Mapping[str, str] | None = None
) -> BatchWorker:
    settings = WorkerSettings.from_env(environ)
    metrics = SerializedMetrics(metrics)
    concurrency = settings.WORKER_RECORD_CONCURRENCY
    session = boto3.session.Session()
    # One pooled connection per thread that may call AWS at once (botocore keeps 10 by default).
    aws_config = WORKER_AWS_CONFIG.merge(Config(max_pool_connections=max(10, 2 * concurrency)))
    secrets = session.client("secretsmanager", config=aws_config)
    dynamodb = session.client("dynamodb", config=aws_config)

    # In-process retries wait out short server-requested pauses (a rate limit's Retry-After)
    # within the invocation's time; anything longer goes back to SQS with the wait as delay.
    # Retries and the company scan both stop at the invocation's deadline, which the batch
    # worker starts at each invocation.
    deadline = Deadline()
    retry = RetryPolicy(max_attempts=4, max_wait=5.0, deadline=deadline, on_retry=count_retries(metrics))
    tv_token = CachedSecret(
        settings.TEAMVIEWER_TOKEN_SECRET_ARN, max_age=settings.POWERTOOLS_PARAMETERS_MAX_AGE, client=secrets
    )
    okta_token = CachedSecret(
        settings.OKTA_API_TOKEN_SECRET_ARN, max_age=settings.POWERTOOLS_PARAMETERS_MAX_AGE, client=secrets
    )
    okta = okta_client(settings.OKTA_ORG_URL, okta_token, groups=settings.group_config.enabled, retry=retry)
    # Every attempt, retries included, waits for a slot: TeamViewer counts them all.
    rate = settings.TEAMVIEWER_MAX_REQUESTS_PER_SECOND
    share = RequestRate(rate / settings.WORKER_MAXIMUM_CONCURRENCY)

    def schedule_unavailable(reason: str) -> None:
        logger.warning(
            "TeamViewer request schedule unavailable: this instance keeps to its own share for now",
            extra={"reason": reason, "share_per_second": share.per_second},
        )

    tv_rate = SharedRequestSchedule(
        dynamodb,
        settings.SYNC_STATE_TABLE_NAME,
        per_second=rate,
        fallback=share,
        on_unavailable=schedule_unavailable,
    )
    teamviewer = TeamViewerClient(
        settings.TEAMVIEWER_API_URL,
        tv_token.provider(),
        sso_customer_id=settings.TEAMVIEWER_SSO_CUSTOMER_ID,
        retry=retry,
        transport=RateLimitedTransport(tv_rate),
    )
    state = SyncStateStore(dynamodb, settings.SYNC_STATE_TABLE_NAME)
    users = UserSynchronizer(
        okta=okta,
        teamviewer=teamviewer,
        state=state,
        config=SyncConfig(app_id=settings.OKTA_APP_ID),
        dry_run=settings.DRY_RUN,
        logger=logger,
        metrics=metrics,
        clock=utc_now,
        deadline=deadline,
        # Each record thread reads a user's assignment beside the user: one extra thread each.
        reads=ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="tvsync-okta-read")
        if concurrency > 1
        else None,
    )
    links = GroupStateStore(dynamodb, settings.GROUP_STATE_TABLE_NAME)
    outcomes = GroupOutcomes(links=links, logger=logger, metrics=metrics, clock=utc_now)
    group_config = settings.group_config
    groups = GroupSynchronizer(
        okta=okta,
        teamviewer=teamviewer,
        links=links,
        users=state,
        config=group_config,
        dry_run=settings.DRY_RUN,
        outcomes=outcomes,
    )
    memberships = MembershipSync(
        groups=groups,
        okta=okta,
        teamviewer=teamviewer,
        links=links,
        config=group_config,
        dry_run=settings.DRY_RUN,
        outcomes=outcomes,
    )
    dispatcher = SyncDispatcher(users=users, groups=groups, memberships=memberships)

    def count_duplicate(response: Any, idempotent_data: DataRecord) -> Any:
        metrics.add_metric(name="DuplicateEvents", unit=MetricUnit.Count, value=1)
        return response

    idempotency = IdempotencyConfig(
        event_key_jmespath="event_uuid",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=settings.IDEMPOTENCY_EXPIRY_SECONDS,
        response_hook=count_duplicate,
    )
    persistence = DynamoDBPersistenceLayer(table_name=settings.IDEMPOTENCY_TABLE_NAME, boto3_client=dynamodb)
    # A dry run applies nothing, so it must not mark an event as done for a real run.
    key_prefix = IDEMPOTENCY_KEY_PREFIX + (".dry-run" if settings.DRY_RUN else "")
    # Configured now, before the batch worker's threads: its first-call configuration is unguarded.
    persistence.configure(config=idempotency, key_prefix=key_prefix)

    def converge(request: SyncRequest) -> dict[str, Any]:
        return dispatcher.converge(request)

    once_per_event: Callable[..., dict[str, Any]] = idempotent_function(
        data_keyword_argument="request",
        config=idempotency,
        persistence_store=persistence,
        key_prefix=key_prefix,
    )(converge)

    return BatchWorker(
        process=once_per_event,
        register_context=idempotency.register_lambda_context,
        sqs=session.client("sqs", config=aws_config),
        queue_url=settings.EVENT_QUEUE_URL,
        logger=logger,
        metrics=metrics,
        reject=dispatcher.record_rejected,
        deadline=deadline,
        record_concurrency=concurrency,
    )
