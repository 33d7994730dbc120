"""How calls to Okta and TeamViewer fail, classified by what the worker must do next.

The worker never inspects status codes or bodies: the clients translate every failure
into one of these classes, and each class carries one decision —

- ``ThrottledError``  retry later, after ``retry_after`` seconds when the server said so
- ``TransientError``  retry (5xx, timeouts, dropped connections)
- ``AuthError``       retry, and alarm: the token is wrong, expired or lacks a right
- ``ConflictError``   permanent for this user: the email is owned outside the company
- ``InvalidError``    permanent for this request: any other 4xx

Messages never contain a token or a request header: only the service, the operation
and what the server said about the failure.
"""

from __future__ import annotations


class UpstreamError(Exception):
    """A call to Okta or TeamViewer did not succeed."""

    retryable: bool = True

    def __init__(self, service: str, operation: str, detail: str, *, status: int | None = None) -> None:
        self.service = service
        self.operation = operation
        self.detail = detail
        self.status = status
        code = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"{service} {operation} failed{code}: {detail}")


class ThrottledError(UpstreamError):
    """The server asked us to slow down (429, or TeamViewer's 403 ``rate_limit_reached``)."""

    def __init__(
        self,
        service: str,
        operation: str,
        detail: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(service, operation, detail, status=status)
        self.retry_after = retry_after


class TransientError(UpstreamError):
    """A failure that says nothing about the request: 5xx, timeout, connection error."""


class AuthError(UpstreamError):
    """The token was refused (401): wrong, expired or revoked."""


class ConflictError(UpstreamError):
    """The email is already used by a TeamViewer account outside the company."""

    retryable = False


class InvalidError(UpstreamError):
    """The server refused the request itself (4xx other than the above)."""

    retryable = False
