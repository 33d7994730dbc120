"""The Okta client as a service app, against the Okta emulator over loopback HTTP.

The emulator and the client share a clock the test moves, so a token's hour passes in an
instant: expiry mid-batch, DPoP switched on mid-run, nonce rotation and key rotation are
all played as they would happen in a long-lived container.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.fakes import SettableMonotonic
from tvsync.adapters.errors import AuthError
from tvsync.adapters.okta_auth import AuthMode, OktaAuthorizer, okta_scopes
from tvsync.adapters.okta_client import OktaClient
from tvsync.emulators.http import RunningServer, serve
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.okta_oauth import TOKEN_PATH, ServiceAppKeyPair

CLIENT = "0oaTvSyncReader0h7"
#: Where the tests' clocks start: an epoch second in 2027, as Okta's tokens count time.
EPOCH = 1_800_000_000.0
APP = "0oaTeamViewerApp0h7"
SSWS = "ssws-0123456789"


@pytest.fixture(scope="module")
def key() -> ServiceAppKeyPair:
    return ServiceAppKeyPair.generate()


@pytest.fixture(scope="module")
def next_key() -> ServiceAppKeyPair:
    return ServiceAppKeyPair.generate(ec_key=True)


@pytest.fixture
def clock() -> SettableMonotonic:
    return SettableMonotonic(EPOCH)


@pytest.fixture
def emu(clock: SettableMonotonic, key: ServiceAppKeyPair) -> OktaEmulator:
    okta = OktaEmulator(SSWS, clock=clock)
    for n in range(5):
        user = okta.add_user(f"person{n}@example.com", "Person", str(n))
        okta.assign(APP, user["id"])
    okta.register_service_app(CLIENT, key.public_jwk, scopes=okta_scopes(groups=True), token_lifetime=3600)
    return okta


@pytest.fixture
def server(emu: OktaEmulator) -> Iterator[RunningServer]:
    with serve(emu) as running:
        yield running


class Secret:
    """The secret's text, which the test may change (a rotation)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __call__(self) -> str:
        return self.text


@pytest.fixture
def make_client(server: RunningServer, clock: SettableMonotonic) -> Iterator[Callable[..., OktaClient]]:
    made: list[OktaClient] = []

    def make(secret: Secret, *, groups: bool = False) -> OktaClient:
        auth = OktaAuthorizer(server.url, secret, scopes=okta_scopes(groups=groups), clock=clock)
        client = OktaClient(server.url, auth, clock=clock, timeout=httpx.Timeout(5.0))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def token_calls(emu: OktaEmulator) -> list[int | None]:
    return [call.status for call in emu.calls if call.path == TOKEN_PATH]


def resource_statuses(emu: OktaEmulator) -> list[int | None]:
    return [call.status for call in emu.calls if call.path != TOKEN_PATH]


def read_everyone(client: OktaClient, emu: OktaEmulator) -> None:
    for user in emu.users():
        assert client.get_user(user["id"]) is not None
        assert client.get_app_user(APP, user["id"]) is not None


def test_a_batch_asks_for_one_token(
    emu: OktaEmulator, make_client: Callable[..., OktaClient], key: ServiceAppKeyPair
) -> None:
    client = make_client(Secret(key.secret(CLIENT)))
    read_everyone(client, emu)
    assert len(list(client.iter_app_users(APP, page_size=2))) == 5
    assert token_calls(emu) == [200]
    assert set(resource_statuses(emu)) == {200}
    assert client.auth_status().mode is AuthMode.OAUTH


def test_a_token_expiring_mid_batch_is_renewed_before_it_is_refused(
    emu: OktaEmulator,
    make_client: Callable[..., OktaClient],
    key: ServiceAppKeyPair,
    clock: SettableMonotonic,
) -> None:
    client = make_client(Secret(key.secret(CLIENT)))
    read_everyone(client, emu)
    clock.now += 3600 - 30  # the token has half a minute left: renewed, never sent to die
    read_everyone(client, emu)
    assert token_calls(emu) == [200, 200]
    assert set(resource_statuses(emu)) == {200}


def test_a_token_okta_ended_early_is_renewed_once_and_the_read_retried(
    emu: OktaEmulator, make_client: Callable[..., OktaClient], key: ServiceAppKeyPair
) -> None:
    client = make_client(Secret(key.secret(CLIENT)))
    read_everyone(client, emu)
    emu.oauth.revoke_tokens(CLIENT)
    read_everyone(client, emu)
    assert token_calls(emu) == [200, 200]
    assert resource_statuses(emu).count(401) == 1, "one refusal, then the new token"


def test_dpop_switched_on_mid_run_is_followed(
    emu: OktaEmulator,
    make_client: Callable[..., OktaClient],
    key: ServiceAppKeyPair,
    clock: SettableMonotonic,
) -> None:
    client = make_client(Secret(key.secret(CLIENT)))
    read_everyone(client, emu)
    assert not client.authorizer.dpop
    emu.require_dpop(CLIENT)
    read_everyone(client, emu)  # the Bearer token stays good until it expires
    clock.now += 3600
    read_everyone(client, emu)
    # proof missing -> invalid_dpop_proof; proof without nonce -> use_dpop_nonce; then the token
    assert token_calls(emu) == [200, 400, 400, 200]
    assert set(resource_statuses(emu)) == {200}
    assert client.authorizer.dpop
    assert [t.jkt is not None for t in emu.oauth.tokens(CLIENT)][-1]


def test_nonce_rotation_is_followed_at_the_token_endpoint_and_the_resource(
    emu: OktaEmulator,
    make_client: Callable[..., OktaClient],
    key: ServiceAppKeyPair,
    clock: SettableMonotonic,
) -> None:
    emu.require_dpop(CLIENT)
    client = make_client(Secret(key.secret(CLIENT, dpop=True)))
    read_everyone(client, emu)
    assert token_calls(emu) == [400, 200], "the first proof has no nonce yet"

    emu.oauth.rotate_nonce(keep_previous=False)
    clock.now += 3600
    read_everyone(client, emu)
    assert token_calls(emu) == [400, 200, 400, 200]

    emu.oauth.require_resource_nonce()
    read_everyone(client, emu)
    emu.oauth.require_resource_nonce()  # rotated
    read_everyone(client, emu)
    assert resource_statuses(emu).count(401) == 2, "one nonce challenge per rotation"
    assert len(token_calls(emu)) == 4, "a nonce challenge keeps the token"


def test_a_rotated_key_keeps_working_through_the_switch(
    emu: OktaEmulator,
    make_client: Callable[..., OktaClient],
    key: ServiceAppKeyPair,
    next_key: ServiceAppKeyPair,
    clock: SettableMonotonic,
) -> None:
    secret = Secret(key.secret(CLIENT))
    client = make_client(secret)
    read_everyone(client, emu)
    emu.oauth.add_key(CLIENT, next_key.public_jwk)  # 1. the new public key is added to the app
    secret.text = next_key.secret(CLIENT)  # 2. the secret is switched: a new token, new key
    read_everyone(client, emu)
    assert token_calls(emu) == [200, 200]
    emu.oauth.remove_key(CLIENT, key.key_id)  # 3. the old key is removed
    clock.now += 3600
    read_everyone(client, emu)
    assert token_calls(emu) == [200, 200, 200]

    stale = make_client(Secret(key.secret(CLIENT)))
    with pytest.raises(AuthError, match=f"does not know key id {key.key_id}"):
        stale.check()


def test_missing_scopes_and_admin_role_are_auth_errors_that_say_so(
    emu: OktaEmulator, make_client: Callable[..., OktaClient], key: ServiceAppKeyPair
) -> None:
    client = make_client(Secret(key.secret(CLIENT)))  # asks for no okta.groups.read
    with pytest.raises(AuthError, match=r"lacks okta\.groups\.read") as scope:
        client.get_group(emu.everyone_id)
    assert scope.value.status == 403
    emu.oauth.revoke_grant(CLIENT, "okta.apps.read")
    with pytest.raises(AuthError, match="Okta API Scopes tab"):
        make_client(Secret(key.secret(CLIENT))).check()
    emu.oauth.set_admin_role(CLIENT, granted=False)
    with pytest.raises(AuthError, match="admin role"):
        client.check()


def test_an_api_token_still_works_as_before(
    emu: OktaEmulator, make_client: Callable[..., OktaClient]
) -> None:
    client = make_client(Secret(SSWS))
    read_everyone(client, emu)
    assert token_calls(emu) == []
    assert client.auth_status().mode is AuthMode.SSWS
    with pytest.raises(AuthError, match="token refused"):
        make_client(Secret("wrong")).check()
