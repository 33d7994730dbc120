"""The local API Gateway: a caller that stops waiting is not an error worth a traceback."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from tvsync.local.api_gateway import ApiGatewayServer


def test_a_caller_that_hangs_up_leaves_no_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    answered = threading.Event()

    def slow(event: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.3)  # the caller gives up after 0.05 s
        answered.set()
        return {"statusCode": 200, "body": "x" * 100_000}

    server = ApiGatewayServer({("POST", "/okta/events"): slow}, port=0).start()
    try:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{server.url}/okta/events", content=b"{}", timeout=0.05)
        assert answered.wait(5)
        time.sleep(0.2)  # the write to the closed connection, and its error handling
    finally:
        server.close()
    assert "Traceback" not in capfd.readouterr().err
