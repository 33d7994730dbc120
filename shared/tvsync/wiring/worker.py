"""WorkerFunction's object graph: clients, connection pools, idempotency store, batch handling."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from botocore.config import Config

from tvsync.adapters.okta_client import OktaClient
from tvsync.adapters.retry import RetryPolicy
from tvsync.adapters.secrets import CachedSecret
from tvsync.adapters.sync_state import SyncStateStore
from tvsync.adapters.teamviewer_client import TeamViewerClient
from tvsync.core.desired_state import SyncConfig
from tvsync.models.sync_request import SyncRequest
from tvsync.services.clock import Deadline, utc_now
from tvsync.services.sqs_batch import BatchWorker
from tvsync.services.user_sync import UserSynchronizer
from tvsync.settings import WorkerSettings
from tvsync.wiring.common import count_retries

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

#: The worker has minutes, not seconds: let botocore retry AWS calls a little more.
WORKER_AWS_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 4})


def build_worker(
    *, logger: Logger, metrics: Metrics, environ: Mapping[str, str] | None = None
) -> BatchWorker:
    settings = WorkerSettings.from_env(environ)
    session = boto3.session.Session()
    secrets = session.client("secretsmanager", config=WORKER_AWS_CONFIG)
    dynamodb = session.client("dynamodb", config=WORKER_AWS_CONFIG)

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
    synchronizer = UserSynchronizer(
        okta=OktaClient(settings.OKTA_ORG_URL, okta_token.provider(), retry=retry),
        teamviewer=TeamViewerClient(
            settings.TEAMVIEWER_API_URL,
            tv_token.provider(),
            sso_customer_id=settings.TEAMVIEWER_SSO_CUSTOMER_ID,
            retry=retry,
        ),
        state=SyncStateStore(dynamodb, settings.SYNC_STATE_TABLE_NAME),
        config=SyncConfig(app_id=settings.OKTA_APP_ID),
        dry_run=settings.DRY_RUN,
        logger=logger,
        metrics=metrics,
        clock=utc_now,
        deadline=deadline,
    )

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

    def converge(request: SyncRequest) -> dict[str, Any]:
        return synchronizer.converge(request).as_dict()

    # A stable key prefix: refactoring this module must not forget which events were applied.
    # A dry run applies nothing, so it must not mark an event as done for a real run.
    once_per_event: Callable[..., dict[str, Any]] = idempotent_function(
        data_keyword_argument="request",
        config=idempotency,
        persistence_store=persistence,
        key_prefix="tvsync.worker.converge" + (".dry-run" if settings.DRY_RUN else ""),
    )(converge)

    return BatchWorker(
        process=once_per_event,
        register_context=idempotency.register_lambda_context,
        sqs=session.client("sqs", config=WORKER_AWS_CONFIG),
        queue_url=settings.EVENT_QUEUE_URL,
        logger=logger,
        metrics=metrics,
        reject=synchronizer.record_rejected,
        deadline=deadline,
    )
