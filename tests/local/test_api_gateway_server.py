"""The local API Gateway: a caller that stops waiting is not an error worth a traceback, and
requests AWS would refuse for their size are refused with API Gateway's answer."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from typing import Any

import httpx
import pytest

from tvsync.local.api_gateway import MAX_PAYLOAD, ApiGatewayServer


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


def _event_bytes(event: dict[str, Any]) -> int:
    """What Lambda counts: the proxy event as compact UTF-8 JSON."""
    return len(json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode())


def test_an_event_lambda_would_refuse_is_answered_413_as_api_gateway_does() -> None:
    events: list[dict[str, Any]] = []

    def record(event: dict[str, Any]) -> dict[str, Any]:
        events.append(event)
        return {"statusCode": 200, "body": ""}

    server = ApiGatewayServer({("POST", "/okta/events"): record}, port=0).start()
    try:
        with httpx.Client(base_url=server.url) as client:
            # A body without quotes or backslashes is carried as is: the rest of the event is
            # the same for any body whose Content-Length has as many digits.
            probe = 1_000_000
            assert client.post("/okta/events", content=b"x" * probe).status_code == 200
            largest = 6 * 1024 * 1024 - (_event_bytes(events[0]) - probe)
            assert client.post("/okta/events", content=b"x" * largest).status_code == 200
            assert _event_bytes(events[1]) == 6 * 1024 * 1024
            refused = client.post("/okta/events", content=b"x" * (largest + 1))
            assert refused.status_code == 413
            assert refused.json() == {"message": "Request Too Long"}
            # The body is escaped inside the event: quotes count twice.
            quoted = client.post("/okta/events", content=b'"' * (largest // 2 + 1))
            assert quoted.status_code == 413
    finally:
        server.close()
    assert len(events) == 2


def test_a_body_above_api_gateways_limit_is_refused_and_never_read_as_a_request() -> None:
    called: list[str] = []

    def record(event: dict[str, Any]) -> dict[str, Any]:
        called.append(event["body"])
        return {"statusCode": 200, "body": ""}

    server = ApiGatewayServer({("POST", "/okta/events"): record}, port=0).start()
    host, port = server.url.removeprefix("http://").split(":")
    smuggled = b"POST /okta/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    try:
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(
                b"POST /okta/events HTTP/1.1\r\nHost: x\r\n"
                + f"Content-Length: {MAX_PAYLOAD + 1}\r\n\r\n".encode()
                + smuggled
            )
            answer = b""
            with contextlib.suppress(TimeoutError):
                while chunk := connection.recv(65536):
                    answer += chunk
    finally:
        server.close()
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert answer.count(b"HTTP/1.1 ") == 1, "the unread body was taken for a second request"
    assert called == []
