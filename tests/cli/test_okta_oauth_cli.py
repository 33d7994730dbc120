"""``tvsync okta-key`` and ``tvsync check`` with a service app, against moto and the Okta emulator."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_check import ENGINEERING, Stack, check
from tests.conftest import TV_APP_ID, Aws
from tvsync.adapters.okta_auth import AuthMode, ServiceAppKey, read_credentials
from tvsync.cli.context import read_local_state
from tvsync.cli.main import main
from tvsync.cli.upstream import Upstream
from tvsync.emulators.okta import OktaEmulator
from tvsync.local.stack import LOCAL_SERVICE_APP, LocalStack, StackSettings

CLIENT = "0oaTvSyncReader0h7"


@pytest.fixture
def stack(aws: Aws, tmp_path: Path) -> Iterator[Stack]:
    """A stack like ``tvsync check``'s tests use: one user, assigned to the TeamViewer app."""
    built = Stack(aws=aws, tmp_path=tmp_path)
    user = built.okta.add_user("alice.archer@example.com", "Alice", "Archer")
    built.okta.assign(TV_APP_ID, user["id"])
    yield built
    for server in built.servers:
        server.close()


def okta_key(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object], str]:
    code = main(["okta-key", "--client-id", CLIENT, *args, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_okta_key_stores_the_private_key_and_prints_only_the_public_one(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    state = stack.state_file()
    code, report, _ = okta_key(capsys, "--local-state", str(state))
    assert code == 0
    arn = stack.aws.resources.refs["OktaApiTokenSecret"]
    assert report["stored_in"] == arn and "secret" not in report
    stored = stack.aws.session.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    credentials = read_credentials(stored)
    assert isinstance(credentials, ServiceAppKey)
    assert credentials.client_id == CLIENT and credentials.algorithm == "RS256"
    assert report["public_jwk"] == credentials.public_jwk()
    assert "PRIVATE KEY" not in json.dumps(report)


def test_okta_key_writes_a_file_for_a_rotation_and_never_overwrites_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "new-key.json"
    code, report, _ = okta_key(capsys, "--ec", "--dpop", "--output", str(target))
    assert code == 0 and report["written_to"] == str(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    credentials = read_credentials(target.read_text())
    assert isinstance(credentials, ServiceAppKey) and credentials.algorithm == "ES256" and credentials.dpop
    assert credentials.key_id == report["key_id"]
    assert main(["okta-key", "--client-id", CLIENT, "--output", str(target)]) == 2
    assert "exists" in capsys.readouterr().err


def test_okta_key_prints_the_secret_when_told_to_store_it_nowhere(capsys: pytest.CaptureFixture[str]) -> None:
    code, report, _ = okta_key(capsys)
    assert code == 0
    secret = report["secret"]
    assert isinstance(secret, dict) and secret["client_id"] == CLIENT
    assert read_credentials(json.dumps(secret)).mode is AuthMode.OAUTH


def test_check_says_the_mode_the_scopes_granted_and_dpop(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    state = stack.with_groups()
    code, report, _ = okta_key(capsys, "--local-state", str(state), "--ec")
    assert code == 0
    stack.okta.register_service_app(CLIENT, report["public_jwk"], require_dpop=True)  # type: ignore[arg-type]
    code, lines, output = check(state, capsys)
    mark, detail = lines["Okta: token valid"]
    assert mark == "✓", detail
    assert f"service app {CLIENT}" in detail and f"key {report['key_id']}" in detail
    assert "scopes granted: okta.users.read okta.apps.read okta.groups.read" in detail
    assert "DPoP on" in detail
    assert lines["Okta: pushed groups readable"][0] == "✓"
    assert lines["Okta: app users readable"][0] == "✓"
    assert "PRIVATE KEY" not in output


def test_check_names_a_key_okta_does_not_know(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    state = stack.state_file()
    code, report, _ = okta_key(capsys, "--local-state", str(state), "--ec")
    stack.okta.register_service_app(CLIENT, [])
    code, lines, _ = check(state, capsys)
    assert code != 0
    mark, detail = lines["Okta: token valid"]
    assert mark == "✗" and f"does not know key id {report['key_id']}" in detail
    assert lines["Okta: app users readable"][0] == "✗"


def test_check_still_says_an_api_token_is_one(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    _, lines, _ = check(stack.state_file(), capsys)
    assert lines["Okta: token valid"] == ("✓", lines["Okta: token valid"][1])
    assert lines["Okta: token valid"][1].endswith("(API token, SSWS)")


def test_status_reads_pushed_groups_with_the_groups_scope(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """``tvsync status --group`` reads Okta as the functions do: okta.groups.read when groups are pushed."""
    state = stack.with_groups()
    _, report, _ = okta_key(capsys, "--local-state", str(state), "--ec")
    stack.okta.register_service_app(CLIENT, report["public_jwk"])  # type: ignore[arg-type]
    with Upstream(read_local_state(state)) as upstream:
        group = upstream.okta().get_group(ENGINEERING)
    assert group is not None and group.name == "Engineering"


def test_the_local_stack_reads_its_okta_emulator_as_a_service_app_by_default() -> None:
    """``tvsync serve`` and ``make demo``: a service app, DPoP required; ``--okta-auth ssws``: the token."""
    okta = OktaEmulator()
    stack = LocalStack(StackSettings(), okta=okta)
    credentials = read_credentials(stack._okta_emulator_secret())
    assert isinstance(credentials, ServiceAppKey) and credentials.client_id == LOCAL_SERVICE_APP
    assert stack.okta_service_app == LOCAL_SERVICE_APP
    app = okta.oauth._app(LOCAL_SERVICE_APP)
    assert app.require_dpop and {"okta.users.read", "okta.apps.read", "okta.groups.read"} <= app.scopes
    assert credentials.key_id in app.keys

    token_stack = LocalStack(StackSettings(), okta=OktaEmulator(token="emulator-token"), okta_auth="ssws")
    assert token_stack._okta_emulator_secret() == "emulator-token"
    assert token_stack.okta_service_app is None
    with pytest.raises(ValueError, match="okta_auth"):
        LocalStack(StackSettings(), okta_auth="basic")
