"""Wiring pieces more than one function shares."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from tvsync.adapters.errors import ThrottledError, UpstreamError


def count_retries(metrics: Metrics) -> Callable[[UpstreamError, float], None]:
    """A ``RetryPolicy.on_retry`` hook: every absorbed throttle or transient failure is counted."""

    def count(exc: UpstreamError, _wait: float) -> None:
        if isinstance(exc, ThrottledError):
            name = "TeamViewerThrottled" if exc.service == "teamviewer" else "OktaThrottled"
        else:
            name = "TransientFailures"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)

    return count
