"""Talking to an event hook endpoint the way Okta does: shared by ``replay`` and ``verify-hook``.

Both commands carry the hook secret, so both follow the same rules: the secret comes from
an environment variable (never a command-line argument, which would land in shell history
and ``ps``), it is sent only over HTTPS unless the endpoint is on this machine, and it is
blanked out of anything the server echoes back before that reaches the terminal.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
from dataclasses import dataclass

import httpx

from tvsync.cli.output import CliError

DEFAULT_SECRET_ENV = "OKTA_HOOK_SECRET"  # noqa: S105 - the name of a variable, not a secret
DEFAULT_AUTH_HEADER = "Authorization"
DEFAULT_TIMEOUT_SECONDS = 10.0
#: Server text is cut to this length: one readable line, not a page of HTML from a proxy.
MAX_MESSAGE = 200


@dataclass(frozen=True)
class HookEndpoint:
    """Where to send, and the header that authenticates us, as the hook in Okta is configured."""

    url: str
    header: str
    secret: str
    timeout: float
    #: The environment variable the secret came from, so messages can name it.
    secret_env: str = DEFAULT_SECRET_ENV

    def headers(self, **extra: str) -> dict[str, str]:
        return {self.header: self.secret, **extra}

    def client(self) -> httpx.Client:
        # No redirects: Okta does not follow them either, and the secret must not travel on.
        return httpx.Client(timeout=httpx.Timeout(self.timeout), follow_redirects=False)

    def redact(self, text: str) -> str:
        return text.replace(self.secret, "***") if self.secret else text


def add_endpoint_arguments(parser: argparse.ArgumentParser, *, example_url: str) -> None:
    parser.add_argument(
        "--url",
        required=True,
        help=f"the hook endpoint, exactly as configured in Okta (e.g. {example_url})",
    )
    parser.add_argument(
        "--secret-env",
        metavar="NAME",
        default=DEFAULT_SECRET_ENV,
        help=f"environment variable holding the auth header value Okta sends (default: {DEFAULT_SECRET_ENV})",
    )
    parser.add_argument(
        "--header",
        metavar="NAME",
        default=DEFAULT_AUTH_HEADER,
        help=f"name of the auth header: OKTA_HOOK_AUTH_HEADER of the stack (default: {DEFAULT_AUTH_HEADER})",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help=f"give up on an answer after this many seconds (default: {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument(
        "--allow-http",
        action="store_true",
        help="allow plain http:// to a host other than this machine (the secret travels unencrypted)",
    )


def endpoint_from_args(args: argparse.Namespace) -> HookEndpoint:
    """Validate the URL and read the secret; every problem is one ``CliError`` line."""
    url: str = args.url
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise CliError(f"--url {url!r} is not a valid URL: {exc}") from None
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise CliError(f"--url must be an http(s) URL such as https://example.com/okta/events, got {url!r}")
    if parsed.scheme == "http" and not args.allow_http and not _is_local(parsed.host):
        raise CliError(
            f"refusing to send the hook secret over plain http to {parsed.host}; "
            "use https (Okta only calls https endpoints) or pass --allow-http"
        )
    if args.timeout <= 0:
        raise CliError("--timeout must be a positive number of seconds")
    header: str = args.header.strip()
    if not header or any(c.isspace() or c == ":" for c in header):
        raise CliError(f"--header {args.header!r} is not a valid HTTP header name")
    secret = os.environ.get(args.secret_env, "")
    if not secret:
        raise CliError(
            f"environment variable {args.secret_env} is not set; export the value Okta sends in "
            f"the {header} header (the hook secret), or name another variable with --secret-env"
        )
    return HookEndpoint(
        url=url, header=header, secret=secret, timeout=args.timeout, secret_env=args.secret_env
    )


def server_message(response: httpx.Response, endpoint: HookEndpoint) -> str:
    """The server's own words about a refusal: ``message`` from a JSON body, else its text."""
    message = ""
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "errorSummary", "error_description", "error", "Message"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                message = value.strip()
                break
    if not message:
        message = " ".join(response.text.split())
    if not message:
        message = response.reason_phrase
    if response.is_redirect:
        message = f"redirects to {response.headers.get('Location', '?')} (Okta does not follow redirects)"
    message = endpoint.redact(message)
    message = message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"
    if is_missing_route(response, message):
        message += " (no route for this path and method: check the URL's path and stage)"
    if response.status_code == 401:
        message += f": {auth_hint(endpoint)}"
    return message


def auth_hint(endpoint: HookEndpoint) -> str:
    """What a 401 can mean: the endpoint cannot tell a wrong header name from a wrong value."""
    return (
        f"either the endpoint expects another header name than {endpoint.header} (the stack's "
        f"OKTA_HOOK_AUTH_HEADER: pass it with --header), or the value in ${endpoint.secret_env} "
        "does not match the hook secret the endpoint holds"
    )


def is_missing_route(response: httpx.Response, message: str) -> bool:
    """404, or API Gateway's way of saying the same: 403 "Missing Authentication Token"."""
    return response.status_code == 404 or (
        response.status_code == 403 and message == "Missing Authentication Token"
    )


def transport_problem(exc: httpx.HTTPError, endpoint: HookEndpoint) -> str:
    """A failed exchange as one line; httpx messages can carry the URL but never headers."""
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {endpoint.timeout:g} s ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {endpoint.redact(str(exc)) or type(exc).__name__}"
    return f"request failed: {type(exc).__name__}: {endpoint.redact(str(exc))}"


def _is_local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
