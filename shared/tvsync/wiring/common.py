"""Wiring pieces more than one function shares."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from tvsync.adapters.errors import UpstreamError
from tvsync.adapters.okta_auth import OktaAuthorizer, okta_scopes
from tvsync.adapters.okta_client import OktaClient
from tvsync.adapters.retry import RetryPolicy
from tvsync.adapters.secrets import CachedSecret
from tvsync.services.failures import failure_metric


def count_retries(metrics: Metrics) -> Callable[[UpstreamError, float], None]:
    """A ``RetryPolicy.on_retry`` hook: every absorbed throttle or transient failure is counted.

    Under the same metric as a failure handed back to SQS (``failure_metric``), so an alarm
    sees a rate limit whether it was waited out in-process or not.
    """

    def count(exc: UpstreamError, _wait: float) -> None:
        metrics.add_metric(name=failure_metric(exc), unit=MetricUnit.Count, value=1)

    return count


def okta_client(org_url: str, secret: CachedSecret, *, groups: bool, retry: RetryPolicy) -> OktaClient:
    """The Okta client of a function: authenticated by what ``OktaApiTokenSecret`` holds.

    An API token, or a service app's key (``tvsync.adapters.okta_auth``), asking for the
    scopes the function reads with — groups only when it pushes any. The secret is read
    through its cache for every request, so a rotated or converted secret takes effect when
    the cache refreshes.
    """
    authorizer = OktaAuthorizer(org_url, secret.provider(), scopes=okta_scopes(groups=groups))
    return OktaClient(org_url, authorizer, retry=retry)
