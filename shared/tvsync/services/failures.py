"""How a failure is told: the metric it counts under, and one masked line for logs and records.

One mapping from error to metric serves both places a failure is counted — a retry absorbed
in-process (``RetryPolicy.on_retry``, see ``tvsync.wiring.common``) and an event handed back
to SQS (``tvsync.services.user_sync``) — so the dashboard's throttling and auth alarms see
the same thing wherever the retry happened.
"""

from __future__ import annotations

import traceback

from tvsync.adapters.errors import AuthError, ThrottledError, UpstreamError
from tvsync.adapters.secrets import SecretUnavailableError
from tvsync.core.outcome import Detail
from tvsync.observability import mask_emails

__all__ = ["describe", "failure_metric", "traceback_text"]


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
