"""What every benchmark needs: embedded AWS on loopback, the real handlers, small statistics.

The handlers are loaded from ``functions/<name>/app.py`` exactly as Lambda loads them, with
the environment template.yaml gives them, and their boto3 clients reach a moto server on
127.0.0.1 through ``AWS_ENDPOINT_URL``. Nothing here talks to the internet or real AWS.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import statistics
import urllib.request
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from tvsync.local.aws import LocalResources, provision
from tvsync.local.functions import LocalLambdaContext, import_fresh
from tvsync.local.moto_atomic import make_dynamodb_writes_atomic
from tvsync.local.template import load_template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"

#: Dummy credentials: moto accepts anything, and a stray call to real AWS would fail.
DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
    "POWERTOOLS_DEV": "false",
}


class BenchmarkFailure(AssertionError):
    """A required property (call counts, status codes, order) did not hold: not a speed."""


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for ``None``, remove) environment variables for the block, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


class _Discard(io.TextIOBase):
    """A text stream that drops everything and is never closed (handlers may outlive a block)."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


_DISCARD = _Discard()


def _powertools_loggers() -> dict[str, logging.Logger]:
    """Python loggers a Powertools ``Logger`` has configured (it marks them ``powertools_handler``)."""
    return {
        name: candidate
        for name, candidate in logging.Logger.manager.loggerDict.items()
        if isinstance(candidate, logging.Logger) and hasattr(candidate, "powertools_handler")
    }


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the handlers' JSON logs and EMF lines, which would drown the report.

    Writing still happens (the cost of formatting log lines is part of what is measured),
    into a sink. Powertools binds its log handler to ``sys.stdout`` once per service and
    reuses it in every later ``Logger`` of that service, so the block also leaves no trace:
    loggers configured before it get their stream back, loggers configured inside it are
    un-configured — the next ``Logger`` (a test's, say) starts fresh on its own stdout.
    """
    before = _powertools_loggers()
    streams: dict[str, Any] = {}
    for name, configured in before.items():
        handler = configured.powertools_handler  # type: ignore[attr-defined]
        if isinstance(handler, logging.StreamHandler):
            streams[name] = handler.setStream(_DISCARD)
    try:
        with contextlib.redirect_stdout(_DISCARD), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, configured in _powertools_loggers().items():
            handler = configured.powertools_handler  # type: ignore[attr-defined]
            if name in streams:
                handler.setStream(streams[name])
            elif name not in before:
                configured.removeHandler(handler)
                for attribute in (
                    "init",
                    "powertools_handler",
                    "powertools_buffer_config",
                    "powertools_buffer_cache",
                ):
                    with contextlib.suppress(AttributeError):
                        delattr(configured, attribute)


@dataclass
class EmbeddedAws:
    """A moto server on loopback holding template.yaml's queues, tables and secrets."""

    url: str
    session: boto3.session.Session
    resources: LocalResources
    template: dict[str, Any]

    def env(self, function_id: str, **overrides: str) -> dict[str, str]:
        """The function's environment as the template sets it, pointed at this server."""
        return {
            **self.resources.environment(self.template, function_id),
            **overrides,
            "AWS_ENDPOINT_URL": self.url,
        }

    @property
    def queue_url(self) -> str:
        return self.resources.refs["EventQueue"]

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.url)  # type: ignore[call-overload]


@contextlib.contextmanager
def embedded_aws(
    secrets: Mapping[str, str], parameters: Mapping[str, str] | None = None
) -> Iterator[EmbeddedAws]:
    """Start a moto server on 127.0.0.1 (ephemeral port) and provision the template into it."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    make_dynamodb_writes_atomic()  # a threaded server: writes as atomic as DynamoDB's
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        with patched_environ({**DUMMY_AWS_ENV, "AWS_ENDPOINT_URL": url}):
            session = boto3.session.Session(region_name=REGION)
            template = load_template(TEMPLATE)
            # moto's backends are process-wide: a stack name of its own keeps runs apart.
            resources = provision(
                session,
                template,
                stack_name=f"bench-{uuid.uuid4().hex[:8]}",
                secrets=secrets,
                parameters=parameters,
                endpoint_url=url,
            )
            try:
                yield EmbeddedAws(url=url, session=session, resources=resources, template=template)
            finally:
                # ...and a reset frees what it held (queues, tables, secrets) for the next run.
                reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
                with contextlib.suppress(OSError), urllib.request.urlopen(reset, timeout=10):
                    pass
    finally:
        server.stop()


def load_handler(name: str) -> ModuleType:
    """Import ``functions/<name>/app.py`` under a fresh module name: one cold start."""
    return import_fresh(ROOT / "functions" / name / "app.py", prefix=f"_bench_{name}")


def FakeLambdaContext(remaining_ms: int = 60_000) -> LocalLambdaContext:
    """A Lambda context with ``remaining_ms`` left, as Powertools reads it."""
    return LocalLambdaContext("bench-function", remaining_ms / 1000)


# ---------------------------------------------------------------------- statistics and tables


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: always a value that was actually measured."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ms(seconds: float, digits: int = 2) -> str:
    return f"{seconds * 1000:.{digits}f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "✅" if ok else "❌"
