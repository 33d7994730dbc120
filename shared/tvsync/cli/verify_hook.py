"""``tvsync verify-hook``: Okta's one-time verification handshake, run from here.

Okta activates an event hook only after one GET that carries a random challenge and the
auth header, answered within 3 seconds by 200 and ``{"verification": "<challenge>"}``. If
that fails in the Admin Console, all Okta says is "Unable to verify event hook"; this
command makes the same request and says *why* — wrong secret, wrong path, wrong body, too
slow — so the endpoint can be fixed before Okta is involved. A fresh random challenge per
run proves the endpoint echoes what it received, not a value it was built with.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from rich.text import Text

from tvsync.cli.hook_request import (
    HookEndpoint,
    add_endpoint_arguments,
    auth_hint,
    endpoint_from_args,
    server_message,
    transport_problem,
)
from tvsync.cli.output import console

ORDER = 41
CHALLENGE_HEADER = "X-Okta-Verification-Challenge"
#: What Okta's verification GET sends, per the request Okta support shows ([SUP], docs/sources.md).
USER_AGENT = "Okta-Integrations"
#: Okta gives the endpoint this long to answer (then retries once, then gives up).
OKTA_TIMEOUT_SECONDS = 3.0

DESCRIPTION = """\
Perform Okta's one-time event hook verification against an endpoint: a GET with a
random X-Okta-Verification-Challenge header and the auth header, expecting 200 and
{"verification": "<the same challenge>"} within Okta's 3-second limit.

Run it before pressing "Verify" in the Okta Admin Console: it tells you whether the
secret matches, the URL is right and the answer is fast enough. Exits 0 only if Okta
would accept the answer.

examples:
  export OKTA_HOOK_SECRET=sample-hook-secret-for-local-testing
  tvsync verify-hook --url http://127.0.0.1:3000/okta/events
"""


@dataclass(frozen=True)
class Verification:
    ok: bool
    message: str
    status: int | None = None
    elapsed_ms: float | None = None


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "verify-hook",
        help="run Okta's event hook verification handshake against an endpoint",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_endpoint_arguments(parser, example_url="http://127.0.0.1:3000/okta/events")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    endpoint = endpoint_from_args(args)
    with endpoint.client() as client:
        result = verify(client, endpoint)
    line = Text()
    line.append("✓ " if result.ok else "✗ ", style="green" if result.ok else "red")
    line.append(f"{endpoint.url}  ")
    if result.status is not None:
        line.append(f"HTTP {result.status}  ", style="bold")
    if result.elapsed_ms is not None:
        line.append(f"{result.elapsed_ms:.0f} ms  ", style="dim")
    line.append(result.message, style=None if result.ok else "red")
    console.print(line, soft_wrap=True)
    return 0 if result.ok else 1


def verify(  # noqa: PLR0911 - one return per verdict, in the order Okta would hit them
    client: httpx.Client, endpoint: HookEndpoint, *, challenge: str | None = None
) -> Verification:
    """One verification exchange, judged as Okta judges it."""
    challenge = challenge or secrets.token_urlsafe(24)
    headers = endpoint.headers(
        **{CHALLENGE_HEADER: challenge, "User-Agent": USER_AGENT, "Accept": "application/json"}
    )
    started = time.perf_counter()
    try:
        response = client.get(endpoint.url, headers=headers)
    except httpx.TimeoutException as exc:
        detail = transport_problem(exc, endpoint)
        return Verification(False, f"{detail}; Okta gives up after {OKTA_TIMEOUT_SECONDS:g} s")
    except httpx.HTTPError as exc:
        return Verification(False, transport_problem(exc, endpoint))
    elapsed = time.perf_counter() - started
    ms = elapsed * 1000
    status = response.status_code
    if status == 401:
        return Verification(False, f"refused the {endpoint.header} header: {auth_hint(endpoint)}", status, ms)
    if status != 200:
        return Verification(
            False, f"Okta needs HTTP 200, got {status}: {server_message(response, endpoint)}", status, ms
        )
    echoed = _echoed_challenge(response)
    if echoed != challenge:
        got = endpoint.redact(" ".join(response.text.split()))[:120] or "an empty body"
        return Verification(
            False, f'the body must be {{"verification": "<challenge sent>"}}, got {got}', status, ms
        )
    if elapsed > OKTA_TIMEOUT_SECONDS:
        return Verification(
            False,
            f"correct answer, but after {elapsed:.1f} s: Okta waits {OKTA_TIMEOUT_SECONDS:g} s "
            "(and retries once); a cold start may be the cause — try again",
            status,
            ms,
        )
    return Verification(
        True, f"verification answered correctly, within Okta's {OKTA_TIMEOUT_SECONDS:g} s limit", status, ms
    )


def _echoed_challenge(response: httpx.Response) -> str | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    value = body.get("verification") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None
