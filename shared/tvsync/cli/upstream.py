"""Okta and TeamViewer clients for a command, built as the functions build theirs.

``tvsync status`` reads a group's state in both services; it must reach them exactly as the
worker does — the URLs of the stack's functions and the tokens in the stack's Secrets
Manager — so what it shows is what the worker sees. Tokens are read lazily, on the first
request, through ``CachedSecret`` (the functions' own reader), and never printed: a token
that cannot be read surfaces as ``SecretUnavailableError``, which names only the secret.

Unlike the functions, a command does not retry: an admin waiting at a terminal gets the
answer, or the reason there is none, within ``timeout`` per call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

import httpx

from tvsync.adapters.okta_auth import OktaAuthorizer, okta_scopes
from tvsync.adapters.okta_client import OktaClient
from tvsync.adapters.secrets import CachedSecret
from tvsync.adapters.teamviewer_client import TeamViewerClient
from tvsync.cli.output import CliError
from tvsync.settings import DEFAULT_TEAMVIEWER_API_URL

if TYPE_CHECKING:
    from tvsync.cli.context import StackContext

DEFAULT_TIMEOUT_SECONDS = 10.0


class Upstream:
    """The stack's Okta and TeamViewer, each client made on first use and closed on exit."""

    def __init__(self, context: StackContext, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self._context = context
        self._timeout = httpx.Timeout(timeout)
        self._teamviewer: TeamViewerClient | None = None
        self._okta: OktaClient | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        for client in (self._teamviewer, self._okta):
            if client is not None:
                client.close()

    def teamviewer(self) -> TeamViewerClient:
        """The TeamViewer client; ``CliError`` when the stack does not say where its token is."""
        if self._teamviewer is None:
            url = self._optional("TEAMVIEWER_API_URL") or DEFAULT_TEAMVIEWER_API_URL
            token = self._secret("TEAMVIEWER_TOKEN_SECRET_ARN")
            self._teamviewer = TeamViewerClient(url, token.provider(), timeout=self._timeout)
        return self._teamviewer

    def okta(self) -> OktaClient:
        """The Okta client; ``CliError`` when the stack names no org or token secret."""
        if self._okta is None:
            org_url = self._context.value("OKTA_ORG_URL")
            token = self._secret("OKTA_API_TOKEN_SECRET_ARN")
            # A service app asks for what the functions ask for: groups when any are pushed.
            groups = bool(self._optional("PUSH_GROUP_IDS") or self._optional("GROUP_ROLE_MAP"))
            authorizer = OktaAuthorizer(
                org_url, token.provider(), scopes=okta_scopes(groups=groups), timeout=self._timeout
            )
            self._okta = OktaClient(org_url, authorizer, timeout=self._timeout)
        return self._okta

    def _secret(self, arn_variable: str) -> CachedSecret:
        return CachedSecret(self._context.value(arn_variable), client=self._context.client("secretsmanager"))

    def _optional(self, name: str) -> str | None:
        try:
            return self._context.value(name)
        except CliError:
            return None
