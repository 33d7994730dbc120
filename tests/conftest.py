"""Shared fixtures: embedded AWS built from template.yaml, and the real handlers loaded as Lambda would.

Nothing here talks to a real AWS endpoint: credentials are dummies and every client is
inside moto (in-process ``mock_aws``, or a moto server on 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Final, NoReturn

import boto3
import pytest
from aws_lambda_powertools import Metrics
from moto import mock_aws

from tvsync.local.api_gateway import proxy_event
from tvsync.local.aws import LocalResources, provision
from tvsync.local.functions import LocalLambdaContext, import_fresh
from tvsync.local.invocation import fresh_function_logger
from tvsync.local.moto_atomic import make_dynamodb_writes_atomic
from tvsync.local.template import load_template
from tvsync.observability import SERVICE

# Independent implementations hold every payload the suite exchanges with the emulators.
pytest_plugins = ["tests.contracts.scim_payloads", "tests.contracts.okta_payloads"]

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent

#: Each test's tier, by the top directory under tests/ it lives in; every other directory,
#: and a module at the top, is ``integration``. A module or test may claim another tier with
#: an explicit marker (``pytestmark = pytest.mark.unit``). README "Development" says which
#: command runs which tier.
TIER_DIRECTORIES: Final = {"unit": "unit", "core": "unit", "e2e": "e2e"}
TIERS: Final = frozenset({"unit", "integration", "e2e"})

HOOK_SECRET = "sample-hook-secret-for-local-testing"  # the value events/apigw-*.json carry
OKTA_ORG_URL = "https://example.okta.com"
TV_APP_ID = "0oa1tvsync0000000001"

# Dummy credentials and region for every boto3 client the tests create.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its tier, so that ``-m unit`` (``make test-fast``) selects the unit tier."""
    for item in items:
        if any(item.get_closest_marker(tier) is not None for tier in TIERS):
            continue
        top = item.path.resolve().relative_to(TESTS).parts[0]
        item.add_marker(TIER_DIRECTORIES.get(top, "integration"))


@pytest.fixture(autouse=True)
def _unit_tier_stays_in_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit test that opens a connection, listens or sleeps fails at once, saying so.

    That is what keeps ``make test-fast`` fast and deterministic: time is a clock the test
    moves (``tests.support.fakes``), and every port is an in-memory fake.
    """
    if request.node.get_closest_marker("unit") is None:
        return

    def refused(what: str) -> Callable[..., NoReturn]:
        def refuse(*args: object, **kwargs: object) -> NoReturn:
            raise AssertionError(f"a unit test must not {what}: use the fakes of tests/support/fakes.py")

        return refuse

    monkeypatch.setattr(socket.socket, "connect", refused("open a connection"))
    monkeypatch.setattr(socket.socket, "bind", refused("listen on a socket"))
    monkeypatch.setattr(time, "sleep", refused("sleep; move a settable clock instead"))


@pytest.fixture(autouse=True)
def _fresh_powertools() -> Iterator[None]:
    """Each test starts like a new Lambda execution environment: its own logger and metrics.

    Powertools configures a service's logger once per process and binds it to the stdout of
    that moment: a function loaded by an earlier test would keep writing to a capture pytest
    has closed since ("--- Logging error ---" on stderr). And every ``Metrics`` instance of a
    process shares one metric set: metrics an earlier test added without flushing them would
    be published by this test's handler.
    """
    Metrics().clear_metrics()
    with fresh_function_logger(SERVICE):
        yield
    Metrics().clear_metrics()


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


@dataclass
class Aws:
    """Embedded AWS with the template's resources, and the environment each function gets."""

    session: boto3.session.Session
    resources: LocalResources
    template: dict[str, Any]

    def env(self, function_id: str, **overrides: str) -> dict[str, str]:
        return {**self.resources.environment(self.template, function_id), **overrides}

    @property
    def queue_url(self) -> str:
        return self.resources.refs["EventQueue"]

    @property
    def dlq_url(self) -> str:
        return self.resources.refs["EventDeadLetterQueue"]

    def drain(self, queue_url: str | None = None) -> list[dict[str, Any]]:
        """Receive (and delete) every visible message of a queue, FIFO order within groups."""
        sqs = self.session.client("sqs")
        url = queue_url or self.queue_url
        messages: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            if not got:
                return messages
            for message in got:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                messages.append(dict(message))


def provision_test_stack(template: dict[str, Any]) -> Aws:
    """The template's resources in the active moto mock, with the tests' secret values."""
    session = boto3.session.Session(region_name="us-east-1")
    resources = provision(
        session,
        template,
        secrets={
            "OktaHookSecret": HOOK_SECRET,
            "TeamViewerTokenSecret": "tv-test-token",
            "OktaApiTokenSecret": "okta-test-token",
        },
        parameters={"OktaOrgUrl": OKTA_ORG_URL},
    )
    return Aws(session=session, resources=resources, template=template)


@pytest.fixture
def aws(template: dict[str, Any]) -> Iterator[Aws]:
    make_dynamodb_writes_atomic()  # the worker's record threads share this moto
    with mock_aws():
        yield provision_test_stack(template)


def load_function(name: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import ``functions/<name>/app.py`` fresh, with ``env`` as its environment (a cold start)."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return import_fresh(ROOT / "functions" / name / "app.py", prefix=f"_lambda_{name}")


def FakeLambdaContext(remaining_ms: int = 60_000) -> LocalLambdaContext:
    """A Lambda context with ``remaining_ms`` left, as Powertools reads it."""
    return LocalLambdaContext("test-function", remaining_ms / 1000)


@pytest.fixture
def lambda_context() -> LocalLambdaContext:
    return FakeLambdaContext()


def apigw_event(
    method: str,
    *,
    headers: dict[str, str] | None = None,
    body: str | None = None,
    path: str = "/okta/events",
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """A REST API (v1) Lambda proxy event, shaped as API Gateway sends it, with the body as given."""
    event = proxy_event(method, path, headers=headers or {})
    event["body"] = body
    event["isBase64Encoded"] = base64_encoded
    return event


def emf_blobs(stdout: str) -> Iterator[dict[str, Any]]:
    """Every EMF blob (one JSON object per line, with an ``_aws`` key) printed to stdout."""
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            yield json.loads(line)


def emf_metrics(stdout: str) -> dict[str, float]:
    """Sum every EMF metric printed to stdout, by name (all dimension sets together)."""
    totals: dict[str, float] = {}
    for blob in emf_blobs(stdout):
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                values = value if isinstance(value, list) else [value]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(values)
    return totals
