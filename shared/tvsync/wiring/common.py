"""Wiring pieces more than one function shares."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from tvsync.adapters.errors import UpstreamError
from tvsync.services.failures import failure_metric


def count_retries(metrics: Metrics) -> Callable[[UpstreamError, float], None]:
    """A ``RetryPolicy.on_retry`` hook: every absorbed throttle or transient failure is counted.

    Under the same metric as a failure handed back to SQS (``failure_metric``), so an alarm
    sees a rate limit whether it was waited out in-process or not.
    """

    def count(exc: UpstreamError, _wait: float) -> None:
        metrics.add_metric(name=failure_metric(exc), unit=MetricUnit.Count, value=1)

    return count
