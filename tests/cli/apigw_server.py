"""A loopback HTTP front for the real ingest handler, through the local stack's API Gateway emulation.

The CLI commands that talk to a hook endpoint are tested against the real thing — the
ingest function's ``lambda_handler`` with its real secret, queue and parsing — reached over
a real socket, so headers, status codes and bodies cross an actual HTTP boundary.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tests.conftest import FakeLambdaContext
from tvsync.local.api_gateway import ApiGatewayServer

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@contextmanager
def serve_handler(handler: Handler, *, delay: float = 0.0) -> Iterator[str]:
    """Serve ``handler`` on 127.0.0.1 (ephemeral port); yields the ``/okta/events`` URL.

    ``delay`` holds every answer back, to play a slow endpoint (a cold start).
    """

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        result = handler(event, FakeLambdaContext())
        if delay:
            time.sleep(delay)
        return result

    routes = {("GET", "/okta/events"): invoke, ("POST", "/okta/events"): invoke}
    server = ApiGatewayServer(routes, port=0).start()
    try:
        yield f"{server.url}/okta/events"
    finally:
        server.close()
