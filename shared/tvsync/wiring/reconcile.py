"""ReconcileFunction's (and ``tvsync reconcile``'s) object graph."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from tvsync.adapters.event_queue import EventQueue
from tvsync.adapters.group_state import GroupStateStore
from tvsync.adapters.reconcile_checkpoint import CheckpointStore
from tvsync.adapters.retry import RetryPolicy
from tvsync.adapters.secrets import CachedSecret
from tvsync.adapters.sync_state import SyncStateStore
from tvsync.adapters.teamviewer_client import TeamViewerClient
from tvsync.core.desired_state import SyncConfig
from tvsync.services.clock import Deadline, utc_now
from tvsync.services.group_reconcile import GroupReconciler
from tvsync.services.reconcile import Reconciler
from tvsync.services.reconcile_checkpoint import Checkpointer
from tvsync.settings import ReconcileSettings
from tvsync.wiring.common import count_retries, okta_client

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

#: The reconciler reads for minutes: patient AWS calls, and patient waits for rate limits.
RECONCILE_AWS_CONFIG = Config(
    connect_timeout=2, read_timeout=10, retries={"mode": "standard", "max_attempts": 6}
)

#: Okta's rate-limit windows are a minute long; waiting one out must never fail a run.
RECONCILE_RETRY_MAX_WAIT = 65.0
RECONCILE_RETRY_ATTEMPTS = 12


def build_reconciler(  # noqa: PLR0913 - keyword-only: what to log to, then where AWS is
    *,
    logger: Logger | logging.Logger,
    metrics: Metrics | None,
    environ: Mapping[str, str] | None = None,
    session: boto3.session.Session | None = None,
    endpoint_url: str | None = None,
    dynamodb_endpoint_url: str | None = None,
) -> Reconciler:
    """The reconciler for ``ReconcileFunction`` and ``tvsync reconcile``.

    ``session`` and the endpoints let the CLI point at a local stack (whose DynamoDB may
    have an endpoint of its own) or another account, while the Lambda uses its own role and
    the default endpoints.
    """
    settings = ReconcileSettings.from_env(environ)
    session = session or boto3.session.Session()
    secrets = session.client("secretsmanager", config=RECONCILE_AWS_CONFIG, endpoint_url=endpoint_url)
    deadline = Deadline()

    retry = RetryPolicy(
        max_attempts=RECONCILE_RETRY_ATTEMPTS,
        max_wait=RECONCILE_RETRY_MAX_WAIT,
        base_backoff=0.5,
        deadline=deadline,
        on_retry=count_retries(metrics) if metrics is not None else None,
    )
    tv_token = CachedSecret(
        settings.TEAMVIEWER_TOKEN_SECRET_ARN, max_age=settings.POWERTOOLS_PARAMETERS_MAX_AGE, client=secrets
    )
    okta_token = CachedSecret(
        settings.OKTA_API_TOKEN_SECRET_ARN, max_age=settings.POWERTOOLS_PARAMETERS_MAX_AGE, client=secrets
    )
    sqs = session.client("sqs", config=RECONCILE_AWS_CONFIG, endpoint_url=endpoint_url)
    dynamodb = session.client(
        "dynamodb", config=RECONCILE_AWS_CONFIG, endpoint_url=dynamodb_endpoint_url or endpoint_url
    )
    okta = okta_client(settings.OKTA_ORG_URL, okta_token, groups=settings.group_config.enabled, retry=retry)
    teamviewer = TeamViewerClient(settings.TEAMVIEWER_API_URL, tv_token.provider(), retry=retry)
    state = SyncStateStore(dynamodb, settings.SYNC_STATE_TABLE_NAME)
    groups = GroupReconciler(
        okta=okta,
        teamviewer=teamviewer,
        links=GroupStateStore(dynamodb, settings.GROUP_STATE_TABLE_NAME),
        users=state,
        config=settings.group_config,
    )
    return Reconciler(
        okta=okta,
        teamviewer=teamviewer,
        # A full queue call is retried a few times before a request counts as not queued.
        queue=EventQueue(sqs, settings.EVENT_QUEUE_URL, attempts=5, backoff=0.5),
        state=state,
        config=SyncConfig(app_id=settings.OKTA_APP_ID),
        logger=logger,
        metrics=metrics,
        deadline=deadline,
        clock=utc_now,
        deactivate_orphans=settings.DEACTIVATE_ORPHANS,
        max_orphan_deactivations=settings.MAX_ORPHAN_DEACTIVATIONS,
        groups=groups,
        # Where a run that ran out of time stopped walking Okta: one item of SyncStateTable.
        checkpoints=Checkpointer(CheckpointStore(dynamodb, settings.SYNC_STATE_TABLE_NAME), logger=logger),
    )
