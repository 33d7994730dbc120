"""The Okta emulator's token endpoint and token checks: as strict as Okta, never kinder.

Requests are made by hand here (PyJWT signs what a test wants, right or wrong), through the
emulator's in-process transport and a clock the test moves.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.fakes import SettableMonotonic
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.okta_oauth import CLIENT_ASSERTION_TYPE, ServiceAppKeyPair

BASE = "https://acme.okta.test"
TOKEN_URL = f"{BASE}/oauth2/v1/token"
CLIENT = "0oaServiceApp0h7"
#: Where the tests' clocks start: an epoch second in 2027, as Okta's tokens count time.
EPOCH = 1_800_000_000.0


@pytest.fixture(scope="module")
def key() -> ServiceAppKeyPair:
    return ServiceAppKeyPair.generate()


@pytest.fixture(scope="module")
def other_key() -> ServiceAppKeyPair:
    return ServiceAppKeyPair.generate(ec_key=True)


@pytest.fixture
def clock() -> SettableMonotonic:
    return SettableMonotonic(EPOCH)


@pytest.fixture
def emu(clock: SettableMonotonic, key: ServiceAppKeyPair) -> OktaEmulator:
    okta = OktaEmulator(clock=clock)
    okta.register_service_app(CLIENT, key.public_jwk, scopes=("okta.users.read", "okta.apps.read"))
    okta.public_url = BASE
    return okta


@pytest.fixture
def http(emu: OktaEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=BASE, transport=emu.transport()) as client:
        yield client


def assertion(key: ServiceAppKeyPair, clock: SettableMonotonic, **overrides: Any) -> str:
    claims: dict[str, Any] = {
        "iss": CLIENT,
        "sub": CLIENT,
        "aud": TOKEN_URL,
        "iat": int(clock.now),
        "exp": int(clock.now) + 300,
        "jti": uuid.uuid4().hex,
    }
    kid = overrides.pop("kid", key.key_id)
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    headers = {"kid": kid} if kid else {}
    algorithm = str(key.public_jwk["alg"])
    return jwt.encode(claims, _private(key), algorithm=algorithm, headers=headers)


def _private(key: ServiceAppKeyPair) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(key.private_pem.encode(), password=None)


def ask(
    http: httpx.Client,
    signed: str,
    *,
    scope: str = "okta.users.read",
    dpop: str | None = None,
) -> httpx.Response:
    form = {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": signed,
    }
    return http.post("/oauth2/v1/token", data=form, headers={"DPoP": dpop} if dpop else {})


class Prover:
    """A DPoP key and the proofs it signs."""

    def __init__(self, clock: SettableMonotonic) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.jwk = jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        self.clock = clock

    def proof(
        self, method: str, url: str, *, nonce: str | None = None, token: str | None = None, **extra: Any
    ) -> str:
        claims: dict[str, Any] = {
            "jti": uuid.uuid4().hex,
            "htm": method,
            "htu": url,
            "iat": int(self.clock.now),
        }
        if nonce:
            claims["nonce"] = nonce
        if token:
            claims["ath"] = (
                base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
            )
        claims.update(extra)
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": self.jwk})


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


# ---------------------------------------------------------------------------- the client assertion


def test_a_valid_assertion_gets_an_expiring_bearer_token(
    http: httpx.Client, emu: OktaEmulator, key: ServiceAppKeyPair, clock: SettableMonotonic
) -> None:
    answer = ask(http, assertion(key, clock), scope="okta.users.read okta.apps.read")
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "okta.users.read okta.apps.read"
    token = body["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert http.get("/api/v1/users", headers=headers).status_code == 200
    clock.now += 3600
    expired = http.get("/api/v1/users", headers=headers)
    assert expired.status_code == 401 and expired.json()["errorCode"] == "E0000011"
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"aud": "https://other.okta.test/oauth2/v1/token"}, "audience"),
        ({"exp": None}, "'exp'"),
        ({"jti": None}, "'jti'"),
        ({"sub": "someone-else"}, "iss and sub"),
        ({"exp": 1_800_000_000 - 1}, "expired"),
        ({"exp": 1_800_000_000 + 3601}, "too far"),
        ({"kid": "unknown-kid"}, "kid is invalid"),
        ({"iss": "0oaUnknownApp", "sub": "0oaUnknownApp"}, "client_id"),
    ],
)
def test_a_wrong_assertion_is_invalid_client(
    http: httpx.Client, key: ServiceAppKeyPair, clock: SettableMonotonic, overrides: dict[str, Any], says: str
) -> None:
    status, error, description = error_of(ask(http, assertion(key, clock, **overrides)))
    assert (status, error) == (401, "invalid_client")
    assert says in description


def test_the_signature_must_be_the_registered_keys(
    http: httpx.Client, key: ServiceAppKeyPair, other_key: ServiceAppKeyPair, clock: SettableMonotonic
) -> None:
    forged = assertion(other_key, clock, kid=key.key_id)
    assert error_of(ask(http, forged))[:2] == (401, "invalid_client")
    rsa_impostor = ServiceAppKeyPair.generate(key_id=key.key_id)
    status, _, description = error_of(ask(http, assertion(rsa_impostor, clock)))
    assert status == 401 and "signature is invalid" in description


def test_a_replayed_assertion_is_refused(
    http: httpx.Client, key: ServiceAppKeyPair, clock: SettableMonotonic
) -> None:
    signed = assertion(key, clock)
    assert ask(http, signed).status_code == 200
    status, error, description = error_of(ask(http, signed))
    assert (status, error) == (401, "invalid_client") and "already been used" in description


def test_scopes_must_be_granted(
    http: httpx.Client, emu: OktaEmulator, key: ServiceAppKeyPair, clock: SettableMonotonic
) -> None:
    status, error, description = error_of(
        ask(http, assertion(key, clock), scope="okta.users.read okta.groups.read")
    )
    assert (status, error) == (400, "invalid_scope") and "okta.groups.read" in description
    emu.oauth.grant(CLIENT, "okta.groups.read")
    assert ask(http, assertion(key, clock), scope="okta.users.read okta.groups.read").status_code == 200


def test_two_keys_are_active_during_a_rotation(
    http: httpx.Client,
    emu: OktaEmulator,
    key: ServiceAppKeyPair,
    other_key: ServiceAppKeyPair,
    clock: SettableMonotonic,
) -> None:
    emu.oauth.add_key(CLIENT, other_key.public_jwk)
    assert ask(http, assertion(key, clock)).status_code == 200
    assert ask(http, assertion(other_key, clock)).status_code == 200
    emu.oauth.remove_key(CLIENT, key.key_id)
    assert error_of(ask(http, assertion(key, clock)))[2] == "The client_assertion JWT kid is invalid."
    assert ask(http, assertion(other_key, clock)).status_code == 200


def test_without_a_kid_only_an_app_with_one_key_is_found(
    http: httpx.Client,
    emu: OktaEmulator,
    key: ServiceAppKeyPair,
    other_key: ServiceAppKeyPair,
    clock: SettableMonotonic,
) -> None:
    assert ask(http, assertion(key, clock, kid="")).status_code == 200
    emu.oauth.add_key(CLIENT, other_key.public_jwk)
    assert error_of(ask(http, assertion(key, clock, kid="")))[2] == "The client_assertion JWT kid is invalid."


# ---------------------------------------------------------------------------- resource calls


def bearer(
    http: httpx.Client, key: ServiceAppKeyPair, clock: SettableMonotonic, scope: str = "okta.users.read"
) -> str:
    answer = ask(http, assertion(key, clock), scope=scope)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_a_token_without_the_routes_scope_gets_okta_403(
    http: httpx.Client, key: ServiceAppKeyPair, clock: SettableMonotonic
) -> None:
    token = bearer(http, key, clock)
    refused = http.get("/api/v1/apps/0oaX/users", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403 and refused.content == b""
    challenge = refused.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="insufficient_scope"' in challenge and 'scope="okta.apps.read"' in challenge
    assert 'resource="/api/v1/apps/0oaX/users"' in challenge


def test_an_app_without_an_admin_role_gets_e0000006(
    http: httpx.Client, emu: OktaEmulator, key: ServiceAppKeyPair, clock: SettableMonotonic
) -> None:
    token = bearer(http, key, clock)
    emu.oauth.set_admin_role(CLIENT, granted=False)
    refused = http.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403 and refused.json()["errorCode"] == "E0000006"


def test_ssws_still_works_and_a_revoked_token_does_not(
    http: httpx.Client, emu: OktaEmulator, key: ServiceAppKeyPair, clock: SettableMonotonic
) -> None:
    assert http.get("/api/v1/users", headers={"Authorization": f"SSWS {emu.token}"}).status_code == 200
    token = bearer(http, key, clock)
    emu.oauth.revoke_tokens(CLIENT)
    assert http.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"}).status_code == 401


# ---------------------------------------------------------------------------- DPoP


def test_an_app_that_requires_dpop_demands_a_proof_then_a_nonce(
    http: httpx.Client, emu: OktaEmulator, key: ServiceAppKeyPair, clock: SettableMonotonic
) -> None:
    emu.require_dpop(CLIENT)
    prover = Prover(clock)
    status, error, _ = error_of(ask(http, assertion(key, clock)))
    assert (status, error) == (400, "invalid_dpop_proof")
    challenged = ask(http, assertion(key, clock), dpop=prover.proof("POST", TOKEN_URL))
    assert error_of(challenged)[:2] == (400, "use_dpop_nonce")
    nonce = challenged.headers["DPoP-Nonce"]
    granted = ask(http, assertion(key, clock), dpop=prover.proof("POST", TOKEN_URL, nonce=nonce))
    assert granted.status_code == 200 and granted.json()["token_type"] == "DPoP"
    token = granted.json()["access_token"]

    url = f"{BASE}/api/v1/users"

    def call(proof: str | None, scheme: str = "DPoP") -> httpx.Response:
        headers = {"Authorization": f"{scheme} {token}"} | ({"DPoP": proof} if proof else {})
        return http.get("/api/v1/users", params={"limit": "1"}, headers=headers)

    assert call(prover.proof("GET", url, token=token)).status_code == 200
    assert call(None).status_code == 401
    assert call(prover.proof("GET", url, token=token), scheme="Bearer").status_code == 401
    wrong = {
        "ath": prover.proof("GET", url, token="another-token"),
        "htm": prover.proof("POST", url, token=token),
        "htu": prover.proof("GET", url + "?limit=1", token=token),
        "iat": prover.proof("GET", url, token=token, iat=int(clock.now) - 600),
        "key": Prover(clock).proof("GET", url, token=token),
    }
    for claim, proof in wrong.items():
        refused = call(proof)
        assert refused.status_code == 401, claim
        assert 'error="invalid_dpop_proof"' in refused.headers["WWW-Authenticate"], claim
    replayed = prover.proof("GET", url, token=token)
    assert call(replayed).status_code == 200
    assert call(replayed).status_code == 401, "a proof's jti is used once"


def test_a_stale_nonce_is_answered_with_the_new_one(
    http: httpx.Client, emu: OktaEmulator, key: ServiceAppKeyPair, clock: SettableMonotonic
) -> None:
    emu.require_dpop(CLIENT)
    prover = Prover(clock)
    nonce = ask(http, assertion(key, clock), dpop=prover.proof("POST", TOKEN_URL)).headers["DPoP-Nonce"]
    fresh = emu.oauth.rotate_nonce(keep_previous=True)
    assert (
        ask(http, assertion(key, clock), dpop=prover.proof("POST", TOKEN_URL, nonce=nonce)).status_code == 200
    )
    emu.oauth.rotate_nonce(keep_previous=False)
    stale = ask(http, assertion(key, clock), dpop=prover.proof("POST", TOKEN_URL, nonce=fresh))
    assert error_of(stale)[:2] == (400, "use_dpop_nonce") and stale.headers["DPoP-Nonce"] not in {
        nonce,
        fresh,
    }


def test_a_resource_server_nonce_is_demanded_when_set(
    http: httpx.Client, emu: OktaEmulator, key: ServiceAppKeyPair, clock: SettableMonotonic
) -> None:
    prover = Prover(clock)
    granted = ask(http, assertion(key, clock), dpop=prover.proof("POST", TOKEN_URL))
    token = granted.json()["access_token"]
    assert granted.json()["token_type"] == "DPoP", "a proof binds the token even where not required"
    nonce = emu.oauth.require_resource_nonce()
    url = f"{BASE}/api/v1/users"
    headers = {"Authorization": f"DPoP {token}"}
    refused = http.get("/api/v1/users", headers=headers | {"DPoP": prover.proof("GET", url, token=token)})
    assert refused.status_code == 401 and refused.headers["DPoP-Nonce"] == nonce
    assert 'error="use_dpop_nonce"' in refused.headers["WWW-Authenticate"]
    proof = prover.proof("GET", url, token=token, nonce=nonce)
    assert http.get("/api/v1/users", headers=headers | {"DPoP": proof}).status_code == 200
