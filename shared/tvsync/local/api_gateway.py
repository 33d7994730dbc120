"""Emulates API Gateway's REST API in front of ``IngestFunction`` (Lambda proxy integration).

Each HTTP request becomes the proxy event API Gateway would send — headers and
multiValueHeaders as received, the body as a string, the stage in ``requestContext`` — and
the function's response goes back unchanged. Routes are the template's own ``Api`` events;
any other path answers like API Gateway does (403 "Missing Authentication Token").

Sizes are refused where AWS refuses them, with API Gateway's answer: a body above the REST
API's 10 MB, and a proxy event above Lambda's 6 MB synchronous invocation payload — the
whole event JSON counts, in which the body is a JSON string, so quotes and backslashes in
the body count twice. Lambda refuses that invocation (``RequestEntityTooLargeException``)
and API Gateway answers the client 413 ``{"message":"Request Too Long"}``, which is what
AWS's own API Gateway emulator (the Lambda Test Tool v2 of aws-lambda-dotnet) answers in
REST mode, refusing events above 6 * 1024 * 1024 bytes.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tvsync.emulators.http import LoopbackHTTPServer

ProxyHandler = Callable[[dict[str, Any]], Mapping[str, Any]]

#: API Gateway REST APIs take at most 10 MB of body.
MAX_PAYLOAD = 10 * 1024 * 1024
#: Lambda's synchronous invocation payload limit, in bytes of event JSON ("6 MB").
MAX_LAMBDA_PAYLOAD = 6 * 1024 * 1024
TOO_LONG = {"message": "Request Too Long"}


def lambda_payload_bytes(event: Mapping[str, Any]) -> int:
    """The size Lambda checks: the event as compact UTF-8 JSON, the body an escaped string."""
    return len(json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))


def proxy_event(  # noqa: PLR0913 - keyword-only: one per field of API Gateway's event
    method: str,
    path: str,
    *,
    resource: str | None = None,
    headers: Mapping[str, str] | None = None,
    multi_headers: Mapping[str, list[str]] | None = None,
    query: Mapping[str, list[str]] | None = None,
    body: bytes | None = None,
    stage: str = "Prod",
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The REST API (v1) Lambda proxy event for one request."""
    headers = dict(headers or {})
    multi = {k: list(v) for k, v in (multi_headers or {k: [v] for k, v in headers.items()}).items()}
    text: str | None = None
    encoded = False
    if body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode("ascii"), True
    now = datetime.now(UTC)
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method.upper(),
        "headers": headers or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} if query else None,
        "multiValueQueryStringParameters": dict(query) if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource or path,
            "httpMethod": method.upper(),
            "extendedRequestId": uuid.uuid4().hex[:16],
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{stage}{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "local",
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent")},
            "domainName": "127.0.0.1",
            "apiId": "local",
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


class ApiGatewayServer:
    """A loopback HTTP server routing the template's API events to their handler."""

    def __init__(
        self,
        routes: Mapping[tuple[str, str], ProxyHandler],
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        on_request: Callable[[str, str, int, float, Mapping[str, Any]], None] | None = None,
    ) -> None:
        self._routes = {(method.upper(), path): handler for (method, path), handler in routes.items()}
        self._on_request = on_request
        self._server = LoopbackHTTPServer((host, port), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ApiGatewayServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _run(self) -> None:
                started = time.perf_counter()
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_PAYLOAD:
                    # The body stays unread: the connection cannot carry another request.
                    self.close_connection = True
                    self._reply(413, TOO_LONG)
                    return
                body = self.rfile.read(length) if length else None
                parts = urlsplit(self.path)
                handler = gateway._routes.get((self.command, parts.path))
                if handler is None:
                    self._reply(403, {"message": "Missing Authentication Token"})
                    return
                multi: dict[str, list[str]] = {}
                for name, value in self.headers.items():
                    multi.setdefault(name, []).append(value)
                event = proxy_event(
                    self.command,
                    parts.path,
                    headers={name: values[-1] for name, values in multi.items()},
                    multi_headers=multi,
                    query=parse_qs(parts.query) or None,
                    body=body,
                    source_ip=self.client_address[0],
                )
                if lambda_payload_bytes(event) > MAX_LAMBDA_PAYLOAD:
                    self._reply(413, TOO_LONG)
                    return
                try:
                    response = handler(event)
                except Exception:
                    self._reply(502, {"message": "Internal server error"})
                    return
                status = int(response.get("statusCode", 200))
                raw = response.get("body") or ""
                payload = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode()
                self.send_response(status)
                for name, value in (response.get("headers") or {}).items():
                    self.send_header(name, str(value))
                for name, values in (response.get("multiValueHeaders") or {}).items():
                    for value in values:
                        self.send_header(name, str(value))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                if gateway._on_request is not None:
                    gateway._on_request(
                        self.command, parts.path, status, time.perf_counter() - started, response
                    )

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _run

            def log_message(self, format: str, *args: Any) -> None:
                """The stack prints its own one line per request."""

        return Handler
