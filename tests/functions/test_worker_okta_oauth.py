"""The worker reading Okta as a service app: a JSON secret in Secrets Manager, the emulated token endpoint.

A working app costs one token request for a whole batch. Each way the app can be set up
wrongly — an unknown client id, an unknown key id, a scope not granted, no admin role — ends
the same way: the event goes back to SQS with exactly one ERROR line that names the cause
(beside the WARNING line every retried event gets), the ``AuthErrors`` metric, and neither
the private key nor an assertion, proof or token in anything printed.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Aws, emf_metrics
from tests.support.pipeline import Pipeline, add_assigned
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.okta_oauth import TOKEN_PATH, ServiceAppKeyPair

CLIENT = "0oaTvSyncReader0h7"


@pytest.fixture(scope="module")
def key() -> ServiceAppKeyPair:
    return ServiceAppKeyPair.generate()


def store_secret(aws: Aws, text: str) -> None:
    arn = aws.resources.refs["OktaApiTokenSecret"]
    aws.session.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=text)


def test_a_batch_is_read_with_one_token(pipeline: Pipeline, key: ServiceAppKeyPair) -> None:
    p = pipeline
    p.okta.register_service_app(CLIENT, key.public_jwk, require_dpop=True)
    store_secret(p.aws, key.secret(CLIENT))
    users = [add_assigned(p, f"person{n}@example.com", "Person", f"N{n}") for n in range(4)]
    for user in users:
        p.enqueue(user, "user.lifecycle.create")
    p.drain()
    assert all(p.tv_account(f"person{n}@example.com") is not None for n in range(4))
    granted = [c for c in p.okta.calls if c.path == TOKEN_PATH and c.status == 200]
    assert len(granted) == 1, "one token for the container, however many events"


def _wrong_client(okta: OktaEmulator, key: ServiceAppKeyPair) -> str:
    okta.register_service_app(CLIENT, key.public_jwk)
    return key.secret("0oaSomeoneElse0h7")


def _unknown_key(okta: OktaEmulator, key: ServiceAppKeyPair) -> str:
    okta.register_service_app(CLIENT, ServiceAppKeyPair.generate(ec_key=True).public_jwk)
    return key.secret(CLIENT)


def _scope_not_granted(okta: OktaEmulator, key: ServiceAppKeyPair) -> str:
    okta.register_service_app(CLIENT, key.public_jwk, scopes=("okta.users.read",))
    return key.secret(CLIENT)


def _no_admin_role(okta: OktaEmulator, key: ServiceAppKeyPair) -> str:
    okta.register_service_app(CLIENT, key.public_jwk, admin_role=False)
    return key.secret(CLIENT)


@pytest.mark.parametrize(
    ("setup", "cause"),
    [
        (_wrong_client, "Okta refused service app 0oaSomeoneElse0h7"),
        (_unknown_key, "Okta does not know key id"),
        (_scope_not_granted, "not granted okta.users.read okta.apps.read"),
        (_no_admin_role, "no admin role"),
    ],
    ids=["wrong client id", "unknown key id", "missing scope", "no admin role"],
)
def test_a_misconfigured_app_is_one_log_line_and_an_auth_error(
    pipeline: Pipeline,
    key: ServiceAppKeyPair,
    capsys: pytest.CaptureFixture[str],
    setup: Callable[[OktaEmulator, ServiceAppKeyPair], str],
    cause: str,
) -> None:
    p = pipeline
    secret = setup(p.okta, key)
    store_secret(p.aws, secret)
    user = add_assigned(p, "alice.archer@example.com", "Alice", "Archer")
    capsys.readouterr()
    # What the function logs, exactly as Lambda would ship it to CloudWatch.
    printed = io.StringIO()
    handler = p.worker.logger.registered_handler
    previous_stream = handler.setStream(printed)
    try:
        p.enqueue(user, "user.lifecycle.create")
        result = p.source.poll_once()
    finally:
        handler.setStream(previous_stream)
    out = capsys.readouterr().out + printed.getvalue()

    assert result.failed == 1
    logged: list[dict[str, Any]] = [json.loads(line) for line in printed.getvalue().splitlines()]
    errors = [line for line in logged if line["level"] == "ERROR"]
    assert len(errors) == 1, [line.get("message") for line in logged]
    assert cause in errors[0]["error"], "the one ERROR line names the cause"
    # No other line carries the cause: one line per misconfiguration.
    naming = [line["message"] for line in logged if cause in json.dumps(line)]
    assert naming == ["Credentials refused or unreadable: check the token secrets"]
    assert emf_metrics(out).get("AuthErrors") == 1
    state = p.state(user)
    assert state is not None and state.last_outcome == "retrying"

    private_key_body = "".join(key.private_pem.splitlines()[1:-1])
    for secret_part in (private_key_body[:40], private_key_body[-40:], "PRIVATE KEY", "eyJ"):
        assert secret_part not in out, "no key, assertion, proof or token in anything printed"
