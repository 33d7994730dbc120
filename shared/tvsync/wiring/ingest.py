"""IngestFunction's object graph: only what answering Okta needs (a cold start pays for each import)."""

from __future__ import annotations

from collections.abc import Mapping
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

#: AWS calls within a region take milliseconds. Each is one attempt bounded to 1.5 s, so
#: a request ends before the function's 5 s timeout even when AWS hangs: the hook secret
#: (two reads at most, once per cache period) and then ``EventQueue``, which retries SQS
#: itself and starts no call after the request's deadline. A 503 lets Okta retry.
INGEST_AWS_CONFIG = Config(
    connect_timeout=0.5,
    read_timeout=1,
    retries={"mode": "standard", "total_max_attempts": 1},
)


def build_ingest_api(
    *, logger: Logger, metrics: Metrics, environ: Mapping[str, str] | None = None
) -> APIGatewayRestResolver:
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
        queue=EventQueue(session.client("sqs", config=INGEST_AWS_CONFIG), settings.EVENT_QUEUE_URL),
        app_id=settings.OKTA_APP_ID,
        logger=logger,
        metrics=metrics,
    )
    return build_api(service)
