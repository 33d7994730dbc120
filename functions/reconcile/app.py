"""ReconcileFunction: on a schedule, queue a sync for every user whose TeamViewer account drifted.

Wiring only — the comparison lives in ``tvsync.core.drift`` and the run in
``tvsync.services.reconcile``; fixes go through the event queue to the worker, which stays
the only writer to TeamViewer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics, Tracer

from tvsync.observability import function_logger
from tvsync.wiring.reconcile import build_reconciler

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = function_logger()
metrics = Metrics()
tracer = Tracer()
reconciler = build_reconciler(logger=logger, metrics=metrics)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return reconciler.handle(event, context)
