"""IngestFunction: Okta event hook deliveries in, SQS FIFO messages out.

Wiring only — the behaviour lives in ``tvsync.services.ingest``. Everything that can be
built once per container is built at init, so a warm request pays only for its own work;
the hook secret is cached by Powertools parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths

from tvsync.observability import function_logger
from tvsync.wiring.ingest import build_ingest_api

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = function_logger()
metrics = Metrics()
# Trace only the AWS SDK: patching every library X-Ray knows would import httpx and requests
# into a path that uses neither, and a cold start pays for every import.
tracer = Tracer(patch_modules=("botocore",))
api = build_ingest_api(logger=logger, metrics=metrics)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return api.resolve(event, context)
