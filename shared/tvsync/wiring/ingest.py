"""IngestFunction's object graph: only what answering Okta needs (a cold start pays for each import)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from tvsync.adapters.event_queue import EventQueue
from tvsync.adapters.secrets import RotatingSecret
from tvsync.services.ingest import HookAuthenticator, IngestService, build_api
from tvsync.settings import IngestSettings

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

#: SendMessageBatch calls in flight at once for one delivery: ``EventQueue``'s lanes, a
#: thread and a pooled connection each. Chosen by measurement (the ingest benchmark: the
#: real handler, each call slowed to 30 ms, full-size events, the 2.5 s budget, 2 cores):
#: the largest delivery queued in time was 750 events with 1 lane (one call after another),
#: 2,625 with 4, 4,750 with 8, 9,250 with 16, 11,500 with 32 and 12,500 with 64. Past 16
#: the handler is bound by its CPU — parsing, validating and serialising, about 0.15 ms per
#: event there and more on a 1024 MB function's share of a core — not by waiting on SQS, so
#: more threads buy little. 16 queues three times the largest delivery Lambda accepts (about
#: 2,900 such events fit in its 6 MB payload) with calls ten times slower than SQS's.
#: X-Ray still records every call: in Lambda its context gives each thread the invocation's
#: trace, so the lanes' calls appear beside ``## lambda_handler`` rather than under it.
INGEST_SEND_CONCURRENCY = 16

#: AWS calls within a region take milliseconds. Each is one attempt bounded to 1.5 s, so
#: a request ends before the function's 5 s timeout even when AWS hangs: the hook secret
#: (two reads at most, once per cache period) and then ``EventQueue``, which retries SQS
#: itself and starts no call after the request's deadline (calls under way then end
#: within one timeout). A 503 lets Okta retry. One pooled connection per lane: fewer,
#: and botocore would open and drop a connection — a TLS handshake — for every call
#: beyond the pool.
INGEST_AWS_CONFIG = Config(
    connect_timeout=0.5,
    read_timeout=1,
    retries={"mode": "standard", "total_max_attempts": 1},
    max_pool_connections=INGEST_SEND_CONCURRENCY,
)


def build_ingest_api(
    *,
    logger: Logger,
    metrics: Metrics,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> APIGatewayRestResolver:
    """``clock`` times each request's budget and the queue's deadline (tests pass a fake one)."""
    settings = IngestSettings.from_env(environ)
    session = boto3.session.Session()
    secret = RotatingSecret(
        settings.OKTA_HOOK_SECRET_ARN,
        client=session.client("secretsmanager", config=INGEST_AWS_CONFIG),
        max_age=settings.POWERTOOLS_PARAMETERS_MAX_AGE,
        grace_seconds=settings.OKTA_HOOK_SECRET_ROTATION_GRACE_SECONDS,
    )
    service = IngestService(
        authenticator=HookAuthenticator(secret, settings.OKTA_HOOK_AUTH_HEADER),
        queue=EventQueue(
            session.client("sqs", config=INGEST_AWS_CONFIG),
            settings.EVENT_QUEUE_URL,
            concurrency=INGEST_SEND_CONCURRENCY,
            clock=clock,
        ),
        app_id=settings.OKTA_APP_ID,
        groups=settings.group_config,
        logger=logger,
        metrics=metrics,
        clock=clock,
    )
    return build_api(service)
