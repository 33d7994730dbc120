"""The small HTTP layer both emulators share: one app, two ways to reach it.

An emulator is an ``EmulatorApp``: a function from ``EmulatorRequest`` to
``EmulatorResponse`` with its own state. It can be reached

- in-process, through ``app.transport()`` (an ``httpx.MockTransport``), for fast unit tests;
- over real loopback HTTP, through ``serve(app)``, for integration tests and the local stack.

Faults (``FaultPolicy``) are injected here, identically on both paths, from a seeded
``random.Random`` so a failing run can be reproduced: server errors, timeouts and dropped
connections — the last two either before the app ran or *after* it changed its state,
which is exactly the case that makes a client's retry dangerous. The body of an injected
server error is the app's to decide (``EmulatorApp.injected_server_error``), so each emulator
answers in its own service's error format.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx


@dataclass(frozen=True)
class EmulatorRequest:
    """An HTTP request as the emulator apps see it; header names are lower-cased."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class EmulatorResponse:
    """An HTTP response; ``body`` ``None`` means no body at all (e.g. 204)."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if self.body is None:
            return b"", headers
        payload = self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        headers.setdefault("Content-Type", self.content_type)
        return payload, headers


class FaultKind(StrEnum):
    """What an injected fault does to one request."""

    SERVER_ERROR = "server_error"  # 500/502/503 with an error body, app not run
    TIMEOUT = "timeout"  # no answer within the client's patience
    DROP = "drop"  # connection closed without a response


@dataclass(frozen=True)
class InjectedFault:
    kind: FaultKind
    after_apply: bool  # the app ran (state changed) before the fault hit
    status: int = 503


#: The most latency an emulator adds to a request: enough for any real API, never a hang.
MAX_LATENCY = 5.0


@dataclass
class FaultPolicy:
    """Seeded, reproducible failure injection.

    ``failure_rate`` is the share of requests (0..1) that fail; each failure picks its
    kind from ``kinds`` and, for timeouts and drops, whether it hits after the app has
    already applied the request (``after_apply_share``). ``latency`` (seconds, at most
    ``MAX_LATENCY``) is added to every request, slept by the server outside the app's lock
    so concurrent requests overlap as they would against a real API (80 ms for Okta and
    120 ms for TeamViewer are realistic). ``timeout_delay`` is how long a TIMEOUT keeps a real HTTP client
    waiting; it must exceed the client's read timeout and stays small to keep tests fast.
    """

    failure_rate: float = 0.0
    seed: int = 0
    kinds: tuple[FaultKind, ...] = (FaultKind.SERVER_ERROR, FaultKind.TIMEOUT, FaultKind.DROP)
    after_apply_share: float = 0.5
    latency: float = 0.0
    timeout_delay: float = 2.5
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")
        if not 0.0 <= self.latency <= MAX_LATENCY:
            raise ValueError(f"latency must be between 0 and {MAX_LATENCY} seconds")
        self._rng = random.Random(self.seed)

    def draw(self) -> InjectedFault | None:
        """Decide the fate of one request; thread-safe and deterministic for a given seed."""
        with self._lock:
            if self.failure_rate <= 0 or self._rng.random() >= self.failure_rate:
                return None
            kind = self._rng.choice(self.kinds)
            after = kind is not FaultKind.SERVER_ERROR and self._rng.random() < self.after_apply_share
            status = self._rng.choice((500, 502, 503))
            return InjectedFault(kind=kind, after_apply=after, status=status)


class EmulatorApp:
    """Base class: subclasses implement ``handle``; faults and latency are applied around it."""

    #: Name used in error messages and the call log.
    service = "emulator"

    def __init__(self, faults: FaultPolicy | None = None) -> None:
        self.faults = faults or FaultPolicy()
        self.lock = threading.RLock()

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:  # pragma: no cover - abstract
        raise NotImplementedError

    def injected_server_error(self, fault: InjectedFault) -> EmulatorResponse:
        """The answer to an injected ``SERVER_ERROR``, in the error format of the emulated service.

        A client reads the error body of a 5xx (to log it, or to classify by error code),
        so each app answers in its own service's format; this default is TeamViewer's v1
        error body. It runs instead of ``handle``, without the app's lock: an override
        that touches app state takes ``self.lock`` itself.
        """
        body = {
            "error": "internal_error",
            "error_description": "Injected server error",
            "error_code": fault.status,
        }
        return EmulatorResponse(fault.status, body)

    def dispatch(self, request: EmulatorRequest) -> tuple[EmulatorResponse | None, InjectedFault | None]:
        """Run one request through latency, fault injection and the app.

        Returns the response (``None`` when the fault swallowed it) and the fault, if any.
        """
        if self.faults.latency:
            time.sleep(self.faults.latency)
        fault = self.faults.draw()
        if fault is not None and not fault.after_apply:
            if fault.kind is FaultKind.SERVER_ERROR:
                return self.injected_server_error(fault), fault
            return None, fault
        with self.lock:
            response = self.handle(request)
        if fault is not None:
            return None, fault
        return response, None

    def transport(self) -> httpx.MockTransport:
        """An httpx transport that calls this app in-process, faults included."""

        def handler(request: httpx.Request) -> httpx.Response:
            emulated = _from_httpx(request)
            response, fault = self.dispatch(emulated)
            if response is None:
                assert fault is not None
                if fault.kind is FaultKind.TIMEOUT:
                    raise httpx.ReadTimeout("injected timeout", request=request)
                raise httpx.RemoteProtocolError("injected dropped connection", request=request)
            payload, headers = response.encoded()
            return httpx.Response(response.status, content=payload, headers=headers)

        return httpx.MockTransport(handler)


def _from_httpx(request: httpx.Request) -> EmulatorRequest:
    return EmulatorRequest(
        method=request.method,
        path=request.url.path,
        query=dict(parse_qsl(request.url.query.decode(), keep_blank_values=True)),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=request.read(),
    )


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server for which a client that hangs up is not an error.

    A caller that stops waiting (its own timeout, Ctrl-C) closes the connection before the
    answer is written, and the write fails. ``socketserver`` prints a traceback to stderr
    for that: noise on the console of ``tvsync serve``, about nothing that went wrong here.
    """

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class RunningServer:
    """A real HTTP server for an app on 127.0.0.1, in a background thread."""

    def __init__(self, app: EmulatorApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._server = LoopbackHTTPServer((host, port), _handler_class(app))
        self._thread = threading.Thread(target=self._serve, name=f"{app.service}-http", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _serve(self) -> None:
        # A short poll keeps close() (which waits for the next poll) from costing 0.5 s per server.
        self._server.serve_forever(poll_interval=0.05)

    def start(self) -> RunningServer:
        """Start serving; idempotent, so ``with serve(app) as server:`` works too."""
        if not self._thread.is_alive():
            self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(app: EmulatorApp, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start ``app`` on a real socket (ephemeral port by default) and return the server."""
    return RunningServer(app, host, port).start()


def _handler_class(app: EmulatorApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in separate small writes; without TCP_NODELAY, Nagle's
        # algorithm and delayed ACKs add ~40 ms to every keep-alive response on loopback.
        disable_nagle_algorithm = True

        def _run(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = EmulatorRequest(
                method=self.command,
                path=parts.path,
                query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            response, fault = app.dispatch(request)
            if response is None:
                assert fault is not None
                if fault.kind is FaultKind.TIMEOUT:
                    time.sleep(app.faults.timeout_delay)
                self.close_connection = True
                return
            payload, headers = response.encoded()
            self.send_response(response.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload:
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _run

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the stdlib's per-request stderr lines; apps keep their own call log."""

    return Handler
