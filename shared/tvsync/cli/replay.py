"""``tvsync replay``: post saved Okta deliveries to an endpoint exactly as Okta would.

The point is to exercise the real path — API Gateway, authentication, parsing, queueing —
with real payloads, locally or against a deployed stack, without touching Okta. So each
file's bytes go out unchanged (no re-serialisation that could hide an encoding problem),
with the headers Okta's hook service sends. A file that is not JSON is reported and not
sent: posting it would only test the endpoint's 400, which is not what the user meant.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.text import Text

from tvsync.cli.hook_request import (
    HookEndpoint,
    add_endpoint_arguments,
    endpoint_from_args,
    server_message,
    transport_problem,
)
from tvsync.cli.output import console, plural

ORDER = 40
LOCAL_URL = "http://127.0.0.1:3000/okta/events"
#: Okta's hook service names itself and the hook id; we name ourselves in the hook id's place.
USER_AGENT = "Okta Hook Service v1.0.0 - tvsync-replay"

DESCRIPTION = f"""\
Post Okta event hook deliveries (JSON files such as events/okta/*.json) to a hook
endpoint as Okta does: POST with Content-Type application/json and the auth header,
whose value is read from an environment variable so it never appears on the command line.

One line per file: HTTP status, time taken and, when refused, the server's reason.
Exits 0 only if every file was accepted (2xx).

examples:
  export OKTA_HOOK_SECRET=sample-hook-secret-for-local-testing
  tvsync replay events/okta/*.json --url {LOCAL_URL}
  tvsync replay delivery.json --url https://abc123.execute-api.eu-west-1.amazonaws.com/Prod/okta/events
"""


@dataclass(frozen=True)
class ReplayResult:
    """What happened to one file; ``status`` is ``None`` when nothing came back (or was sent)."""

    path: Path
    ok: bool
    status: int | None = None
    elapsed_ms: float | None = None
    message: str = ""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="post Okta event hook deliveries to an endpoint, as Okta would",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", metavar="FILE", nargs="+", type=Path, help="an Okta delivery, as JSON")
    add_endpoint_arguments(parser, example_url=LOCAL_URL)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    endpoint = endpoint_from_args(args)
    results: list[ReplayResult] = []
    with endpoint.client() as client:
        for path in args.files:
            result = replay_file(client, endpoint, path)
            results.append(result)
            console.print(_line(result), soft_wrap=True)
    accepted = sum(1 for r in results if r.ok)
    summary = f"{accepted} of {plural(len(results), 'delivery', 'deliveries')} accepted"
    console.print(Text(summary, style="green" if accepted == len(results) else "red"), soft_wrap=True)
    return 0 if accepted == len(results) else 1


def replay_file(client: httpx.Client, endpoint: HookEndpoint, path: Path) -> ReplayResult:
    """Post one file; never raises for a problem with the file, the network or the answer."""
    try:
        body = path.read_bytes()
    except OSError as exc:
        return ReplayResult(path, ok=False, message=f"cannot read the file: {exc.strerror or exc}; not sent")
    try:
        json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        return ReplayResult(path, ok=False, message=f"not JSON ({_json_problem(exc)}); not sent")
    headers = endpoint.headers(
        **{
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
    )
    started = time.perf_counter()
    try:
        response = client.post(endpoint.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return ReplayResult(path, ok=False, message=transport_problem(exc, endpoint))
    elapsed_ms = (time.perf_counter() - started) * 1000
    if response.is_success:
        return ReplayResult(path, ok=True, status=response.status_code, elapsed_ms=elapsed_ms)
    return ReplayResult(
        path,
        ok=False,
        status=response.status_code,
        elapsed_ms=elapsed_ms,
        message=server_message(response, endpoint),
    )


def _line(result: ReplayResult) -> Text:
    line = Text()
    line.append("✓ " if result.ok else "✗ ", style="green" if result.ok else "red")
    line.append(str(result.path))
    if result.status is not None:
        line.append(f"  HTTP {result.status}", style="bold")
    if result.elapsed_ms is not None:
        line.append(f"  {result.elapsed_ms:.0f} ms", style="dim")
    if result.message:
        line.append(f"  {result.message}", style=None if result.ok else "red")
    return line


def _json_problem(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno} column {exc.colno}: {exc.msg}"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return type(exc).__name__
