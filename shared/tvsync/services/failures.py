"""How a failure is told: the metric it counts under, and one masked line for logs and records.

One mapping from error to metric serves both places a failure is counted — a retry absorbed
in-process (``RetryPolicy.on_retry``, see ``tvsync.wiring.common``) and an event handed back
to SQS (``tvsync.services.user_sync``) — so the dashboard's throttling and auth alarms see
the same thing wherever the retry happened. ``report_retry`` is the one way an event handed
back to SQS is counted and logged, by the user and the group synchronisers alike.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from tvsync.adapters.errors import AuthError, ThrottledError, UpstreamError
from tvsync.adapters.secrets import SecretUnavailableError
from tvsync.core.outcome import Detail
from tvsync.observability import mask_emails

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

__all__ = ["describe", "failure_metric", "report_retry", "traceback_text"]


def failure_metric(exc: BaseException) -> str:
    """The metric a failure that will be retried counts under.

    A rate limit counts per service (each has its own alarm); a refused or unreadable
    credential counts as ``AuthErrors`` (alarmed: waiting fixes nothing); everything else,
    anything unclassified included, with the transient failures.
    """
    if isinstance(exc, ThrottledError):
        return "TeamViewerThrottled" if exc.service == "teamviewer" else "OktaThrottled"
    if isinstance(exc, AuthError | SecretUnavailableError):
        return "AuthErrors"
    return "TransientFailures"


def describe(exc: BaseException) -> Detail:
    """One line for logs and SyncStateTable: the error class when it is not ours, emails masked.

    The clients' errors never carry a token; anything else may quote its input, which can be
    an email, so those are masked as everywhere else in the logs.
    """
    text = str(exc) if isinstance(exc, UpstreamError) else f"{type(exc).__name__}: {exc}"
    return Detail(mask_emails(text))


def traceback_text(exc: BaseException) -> str:
    """The traceback for an ERROR log line: emails masked, the last 4,000 characters."""
    return mask_emails("".join(traceback.format_exception(exc)))[-4000:]


def report_retry(
    logger: Logger, metrics: Metrics, exc: BaseException, fields: dict[str, Any], *, subject: str = "Sync"
) -> Detail:
    """Count and log a failure that hands an event back to SQS; returns its masked line.

    One line per failure: a refused or unreadable credential at ERROR (waiting fixes nothing,
    an admin has to; the cause is named, never the credential), an upstream's failure at
    WARNING (a retry may well succeed), anything else at ERROR with its traceback (a bug).
    ``subject`` starts the message ("Sync", "Group sync").
    """
    error = describe(exc)
    metrics.add_metric(name=failure_metric(exc), unit=MetricUnit.Count, value=1)
    fields = {**fields, "error": error}
    if isinstance(exc, AuthError | SecretUnavailableError):
        logger.error("Credentials refused or unreadable: check the token secrets", extra=fields)
    elif isinstance(exc, UpstreamError):
        logger.warning(f"{subject} failed; SQS will redeliver", extra=fields)
    else:
        logger.error(
            f"{subject} failed unexpectedly; SQS will redeliver",
            extra={**fields, "traceback": traceback_text(exc)},
        )
    return error
