"""Secrets from Secrets Manager, through Powertools parameters' cache.

A Lambda container reads each secret once per cache period (minutes), not per request:
at Okta's burst rates a per-request read would cost latency and Secrets Manager quota.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters import BaseProvider, SecretsProvider
from botocore.exceptions import ClientError

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
        value = _read(self._provider, self.arn, self._max_age, force)
        if not isinstance(value, str) or not value.strip():
            raise SecretUnavailableError(f"secret {self.arn} has no string value")
        return _trimmed(value)

    def provider(self) -> Callable[[], str]:
        """A token provider for the HTTP clients (``tvsync.adapters.http.TokenProvider``)."""
        return self.get


class _RotationAwareProvider(BaseProvider):
    """Reads a secret's AWSCURRENT value and, shortly after a rotation, its AWSPREVIOUS one.

    A Powertools parameters provider, so both values share its cache (minutes, not per
    request). The previous value is returned only while the current version is younger
    than ``grace_seconds``: long enough to update Okta after updating the secret, short
    enough that a replaced (perhaps leaked) value stops working on its own.
    """

    def __init__(self, client: SecretsManagerClient, grace_seconds: int, clock: Callable[[], float]) -> None:
        super().__init__(client=client)  # type: ignore[no-untyped-call]
        self._secrets = client
        self._grace = grace_seconds
        self._clock = clock

    def _get(self, name: str, **sdk_options: Any) -> dict[str, Any]:
        current = self._secrets.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
        values = [current.get("SecretString")]
        created: datetime | None = current.get("CreatedDate")
        recent = created is not None and self._clock() - created.timestamp() < self._grace
        if recent:
            try:
                previous = self._secrets.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
                values.append(previous.get("SecretString"))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
        return {"values": [_trimmed(v) for v in values if v and v.strip()]}

    def _get_multiple(self, path: str, **sdk_options: Any) -> dict[str, str]:  # pragma: no cover - unused
        raise NotImplementedError


class RotatingSecret:
    """The values a secret accepts right now: the current one, plus the previous one for a
    grace period after a rotation (``grace_seconds``; 0 = only the current value)."""

    def __init__(
        self,
        arn: str,
        *,
        client: SecretsManagerClient,
        max_age: int = 300,
        grace_seconds: int = 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.arn = arn
        self._max_age = max_age
        self._provider = _RotationAwareProvider(client, grace_seconds, clock)

    def __repr__(self) -> str:
        return f"RotatingSecret(arn={self.arn!r})"

    def values(self, *, force: bool = False) -> list[str]:
        found = _read(self._provider, self.arn, self._max_age, force)
        values = found.get("values") if isinstance(found, dict) else None
        if not values:
            raise SecretUnavailableError(f"secret {self.arn} has no string value")
        return [str(v) for v in values]


def _trimmed(value: str) -> str:
    """The value without surrounding whitespace.

    A value stored from a file (``--secret-string file://…``) usually ends in a newline that
    no one means: a token sent with it is malformed, and a hook secret compared with it
    never matches what Okta sends.
    """
    return value.strip()


def _read(provider: BaseProvider, arn: str, max_age: int, force: bool) -> Any:
    """Read through the provider's cache; any failure names the ARN and the error class only."""
    try:
        return provider.get(arn, max_age=max_age, force_fetch=force)
    except Exception as exc:
        # Powertools wraps every SDK failure in GetParameterError; keep only the class name.
        raise SecretUnavailableError(f"cannot read secret {arn}: {type(exc).__name__}") from None
