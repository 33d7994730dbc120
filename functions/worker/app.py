"""WorkerFunction: SQS FIFO batches in, TeamViewer accounts converged to Okta.

Wiring only — the behaviour lives in ``tvsync.services.sqs_batch`` (the batch) and
``tvsync.services.user_sync`` (each user), whose decisions are the pure ``tvsync.core``; the
object graph (clients, connection pools, idempotency store) is built once per container by
``tvsync.wiring.worker``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics, Tracer

from tvsync.observability import function_logger
from tvsync.wiring.worker import build_worker

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = function_logger()
metrics = Metrics()
tracer = Tracer()
worker = build_worker(logger=logger, metrics=metrics)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(worker.handle(event, context))
