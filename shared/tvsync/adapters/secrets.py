"""Secrets from Secrets Manager, through Powertools parameters' cache.

A Lambda container reads each secret once per cache period (minutes), not per request:
at Okta's burst rates a per-request read would cost latency and Secrets Manager quota.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.parameters import SecretsProvider

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class SecretUnavailableError(RuntimeError):
    """The secret could not be read (Secrets Manager outage, missing permission, empty secret)."""


class CachedSecret:
    """One secret's value, cached for ``max_age`` seconds; ``refresh()`` forces a re-read.

    The value is never part of a message or ``repr``; a failure names only the secret's ARN.
    """

    def __init__(
        self,
        arn: str,
        *,
        max_age: int = 300,
        client: SecretsManagerClient | None = None,
        provider: SecretsProvider | None = None,
    ) -> None:
        self.arn = arn
        self._max_age = max_age
        self._provider = provider or SecretsProvider(boto3_client=client)

    def __repr__(self) -> str:
        return f"CachedSecret(arn={self.arn!r})"

    def get(self, *, force: bool = False) -> str:
        try:
            value = self._provider.get(self.arn, max_age=self._max_age, force_fetch=force)
        except Exception as exc:
            # Powertools wraps every SDK failure in GetParameterError; keep only the class name.
            raise SecretUnavailableError(f"cannot read secret {self.arn}: {type(exc).__name__}") from None
        if not isinstance(value, str) or not value:
            raise SecretUnavailableError(f"secret {self.arn} has no string value")
        return value

    def provider(self) -> Callable[[], str]:
        """A token provider for the HTTP clients (``tvsync.adapters.http.TokenProvider``)."""
        return self.get
