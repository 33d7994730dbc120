"""A real SCIM 2.0 server for the contract tests: ``scim2-server``, on 127.0.0.1, shaped like TeamViewer's.

``scim2-server`` owes the TeamViewer client and emulator nothing: it is built on SCIM's own
models (``scim2-models``) and follows RFC 7643/7644 strictly. It is configured the way
TeamViewer presents itself ([SCIM]): ``/scim/v2/Users`` with the core User and TeamViewer's
SsoUser extension, bearer-token authentication, and index paging — with a small maximum
page size, since RFC 7644 §3.4.2.4 lets any server return fewer users than asked for.

The application is a plain WSGI app; werkzeug mounts it under ``/scim`` (the server strips
the ``/v2`` itself) and serves it in a thread on an ephemeral port.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from scim2_models import Pagination, ResourceType, ScimProvider, User
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.utils import load_default_service_provider_config
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server

from tests.contracts.scim_payloads import SsoUser

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from types import TracebackType

    from werkzeug.serving import BaseWSGIServer

SCIM_TOKEN = "scim-contract-token"


def _not_found(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not a SCIM path"]


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    query: dict[str, str]


@dataclass
class _Recorder:
    """WSGI middleware keeping every request line, so tests can count pages and calls."""

    app: Any
    seen: list[SeenRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        with self.lock:
            self.seen.append(SeenRequest(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), query))
        result: Iterable[bytes] = self.app(environ, start_response)
        return result


@dataclass
class ScimServer:
    """One running ``scim2-server``; ``url`` is the base URL a ``TeamViewerClient`` takes."""

    url: str
    storage: InMemoryStorage
    _recorder: _Recorder
    _server: BaseWSGIServer
    _thread: threading.Thread

    @property
    def requests(self) -> list[SeenRequest]:
        """Every request served so far, in order."""
        with self._recorder.lock:
            return list(self._recorder.seen)

    def reset_requests(self) -> None:
        with self._recorder.lock:
            self._recorder.seen.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScimServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def start_scim_server(*, max_page_size: int | None = 3, token: str = SCIM_TOKEN) -> ScimServer:
    """Serve a fresh, empty ``scim2-server`` on 127.0.0.1; ``max_page_size`` caps every list page."""
    config = load_default_service_provider_config()
    config.pagination = Pagination(
        cursor=False, index=True, default_page_size=max_page_size, max_page_size=max_page_size
    )
    config.authentication_schemes = [BEARER_TOKEN_SCHEME]
    provider = ScimProvider(
        models=[User, SsoUser],
        resource_types=[ResourceType.from_resource(User[SsoUser])],
        config=config,
    )
    storage = InMemoryStorage()
    application = BearerTokenApplication(storage, provider, ScimService(provider), bearer_tokens=[token])
    recorder = _Recorder(DispatcherMiddleware(_not_found, {"/scim": application}))
    server = make_server("127.0.0.1", 0, recorder, threaded=True)
    # A short poll keeps shutdown (which waits for the next poll) from costing 0.5 s a test.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="scim2-server", daemon=True)
    thread.start()
    return ScimServer(f"http://127.0.0.1:{server.server_port}", storage, recorder, server, thread)


def quiet_werkzeug() -> Iterator[None]:
    """Keep werkzeug's one-line-per-request log out of the test output (generator for a fixture)."""
    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
