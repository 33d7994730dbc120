"""The Okta authorizer's rules, over a scripted token endpoint and a clock the test moves.

No socket: every answer comes from ``ScriptedOkta`` (an ``httpx.MockTransport``), which
records each request so the test can read the assertion, the form and the DPoP proofs that
were sent, and verify them with the public keys as Okta would.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.support.fakes import SettableMonotonic
from tvsync.adapters.errors import AuthError, ThrottledError, TransientError
from tvsync.adapters.okta_auth import (
    CLIENT_ASSERTION_TYPE,
    AuthMode,
    OktaAuthorizer,
    ServiceAppKey,
    SswsToken,
    jwk_thumbprint,
    new_service_app_key,
    okta_scopes,
    read_credentials,
    service_app_secret,
)
from tvsync.adapters.okta_client import OktaClient

ORG = "https://acme.okta.test"
TOKEN_URL = f"{ORG}/oauth2/v1/token"
CLIENT = "0oaServiceApp0h7"
#: Where the tests' clocks start: an epoch second in 2027, as Okta's tokens count time.
EPOCH = 1_800_000_000.0


@pytest.fixture(scope="module")
def rsa_key() -> tuple[str, dict[str, Any]]:
    return new_service_app_key()


@pytest.fixture(scope="module")
def ec_key() -> tuple[str, dict[str, Any]]:
    return new_service_app_key(ec_key=True)


def secret_of(key: tuple[str, dict[str, Any]], *, dpop: bool = False) -> str:
    pem, jwk = key
    return service_app_secret(CLIENT, pem, jwk["kid"], dpop=dpop)


Answer = Callable[[httpx.Request], httpx.Response]


@dataclass
class ScriptedOkta:
    """A token endpoint and an API answering from scripts; every request is kept."""

    token_answers: list[Answer] = field(default_factory=list)
    resource_answers: list[Answer] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    issued: int = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/oauth2/v1/token":
            if self.token_answers:
                return self.token_answers.pop(0)(request)
            return self.bearer(request)
        if self.resource_answers:
            return self.resource_answers.pop(0)(request)
        return httpx.Response(200, json={"id": "00u1", "status": "ACTIVE", "profile": PROFILE})

    def bearer(self, request: httpx.Request, *, lifetime: int = 3600, kind: str = "Bearer") -> httpx.Response:
        self.issued += 1
        scope = form(request).get("scope", "")
        body = {
            "token_type": kind,
            "expires_in": lifetime,
            "access_token": f"at-{self.issued}",
            "scope": scope,
        }
        return httpx.Response(200, json=body)

    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == "/oauth2/v1/token"]

    def resource_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path != "/oauth2/v1/token"]


PROFILE = {"login": "a@example.com", "email": "a@example.com", "firstName": "A", "lastName": "B"}


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


def oauth_error(status: int, error: str, description: str = "", **headers: str) -> Answer:
    return lambda _request: httpx.Response(
        status, json={"error": error, "error_description": description}, headers=headers
    )


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


def authorizer(
    okta: ScriptedOkta,
    secret: str | Callable[[], str],
    clock: SettableMonotonic | None = None,
    **options: Any,
) -> OktaAuthorizer:
    provider = secret if callable(secret) else (lambda: secret)
    return OktaAuthorizer(
        ORG, provider, transport=okta.transport(), clock=clock or SettableMonotonic(EPOCH), **options
    )


def headers_for(auth: OktaAuthorizer, url: str = f"{ORG}/api/v1/users/00u1?expand=x") -> httpx.Headers:
    request = httpx.Request("GET", url)
    auth.authorize(request)
    return request.headers


# ---------------------------------------------------------------------------- the secret decides


def test_a_bare_token_is_sent_as_ssws_exactly_as_before() -> None:
    okta = ScriptedOkta()
    auth = authorizer(okta, "00abcDEF-token_value")
    assert headers_for(auth)["Authorization"] == "SSWS 00abcDEF-token_value"
    assert "DPoP" not in headers_for(auth)
    assert auth.mode is AuthMode.SSWS
    assert okta.requests == [], "an API token needs no token request"
    assert read_credentials("abc") == SswsToken("abc")


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_a_json_document_is_a_service_app_with_the_algorithm_of_its_key(
    kind: str, rsa_key: tuple[str, dict[str, Any]], ec_key: tuple[str, dict[str, Any]]
) -> None:
    key = rsa_key if kind == "rsa" else ec_key
    credentials = read_credentials(secret_of(key))
    assert isinstance(credentials, ServiceAppKey)
    assert credentials.client_id == CLIENT and credentials.key_id == key[1]["kid"]
    assert credentials.algorithm == ("RS256" if kind == "rsa" else "ES256")
    assert credentials.public_jwk() == key[1]


def test_the_private_key_may_be_a_jwk_whose_kid_names_the_key(rsa_key: tuple[str, dict[str, Any]]) -> None:
    private = serialization.load_pem_private_key(rsa_key[0].encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private, as_dict=True) | {"kid": "key-2026"}
    for private_key in (jwk, json.dumps(jwk)):
        document = json.dumps({"client_id": CLIENT, "private_key": private_key})
        credentials = read_credentials(document)
        assert isinstance(credentials, ServiceAppKey) and credentials.key_id == "key-2026"


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"private_key": "x", "key_id": "k"}, "client_id"),
        (
            {"client_id": CLIENT, "private_key": "-----BEGIN PRIVATE KEY-----\nnot a key", "key_id": "k"},
            "PEM",
        ),
        ({"client_id": CLIENT, "private_key": "PEM", "key_id": "k", "clientid": "x"}, "clientid"),
        (
            {"client_id": CLIENT, "private_key": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}, "key_id": "k"},
            "public",
        ),
    ],
)
def test_an_unusable_document_names_the_field_and_never_the_key(document: dict[str, Any], says: str) -> None:
    with pytest.raises(AuthError) as caught:
        read_credentials(json.dumps(document))
    assert says in str(caught.value)
    assert "not a key" not in str(caught.value)


def test_a_key_id_is_required_and_weak_keys_are_refused(rsa_key: tuple[str, dict[str, Any]]) -> None:
    with pytest.raises(AuthError, match="key_id is missing"):
        read_credentials(json.dumps({"client_id": CLIENT, "private_key": rsa_key[0]}))
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = weak.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(AuthError, match="1024 bits"):
        read_credentials(service_app_secret(CLIENT, pem, "k"))


# ---------------------------------------------------------------------------- the token request


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_the_client_assertion_is_signed_and_says_what_okta_requires(
    kind: str, rsa_key: tuple[str, dict[str, Any]], ec_key: tuple[str, dict[str, Any]]
) -> None:
    key = rsa_key if kind == "rsa" else ec_key
    okta, clock = ScriptedOkta(), SettableMonotonic(EPOCH)
    auth = authorizer(okta, secret_of(key), clock)
    assert headers_for(auth)["Authorization"] == "Bearer at-1"

    [request] = okta.token_requests()
    sent = form(request)
    assert sent["grant_type"] == "client_credentials"
    assert sent["client_assertion_type"] == CLIENT_ASSERTION_TYPE
    assert sent["scope"] == "okta.users.read okta.apps.read"
    header, _ = unverified(sent["client_assertion"])
    assert header["kid"] == key[1]["kid"] and header["alg"] == ("RS256" if kind == "rsa" else "ES256")
    claims = jwt.decode(
        sent["client_assertion"],
        jwt.PyJWK(key[1]).key,
        algorithms=[header["alg"]],
        audience=TOKEN_URL,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iss"] == claims["sub"] == CLIENT
    assert claims["iat"] == int(clock.now)
    assert 0 < claims["exp"] - claims["iat"] <= 3600
    assert "DPoP" not in request.headers


def test_every_assertion_has_its_own_jti(rsa_key: tuple[str, dict[str, Any]]) -> None:
    okta, clock = ScriptedOkta(), SettableMonotonic(EPOCH)
    auth = authorizer(okta, secret_of(rsa_key), clock)
    headers_for(auth)
    clock.now += 3600
    headers_for(auth)
    jtis = [unverified(form(r)["client_assertion"])[1]["jti"] for r in okta.token_requests()]
    assert len(jtis) == 2 and len(set(jtis)) == 2


def test_groups_are_asked_for_only_when_groups_are_pushed(rsa_key: tuple[str, dict[str, Any]]) -> None:
    okta = ScriptedOkta()
    headers_for(authorizer(okta, secret_of(rsa_key), scopes=okta_scopes(groups=True)))
    assert form(okta.token_requests()[0])["scope"] == "okta.users.read okta.apps.read okta.groups.read"
    assert okta_scopes(groups=False) == ("okta.users.read", "okta.apps.read")


def test_the_token_is_cached_and_renewed_shortly_before_it_expires(
    rsa_key: tuple[str, dict[str, Any]],
) -> None:
    okta, clock = ScriptedOkta(), SettableMonotonic(EPOCH)
    auth = authorizer(okta, secret_of(rsa_key), clock)
    for _ in range(50):
        assert headers_for(auth)["Authorization"] == "Bearer at-1"
    clock.now += 3600 - 61
    assert headers_for(auth)["Authorization"] == "Bearer at-1", "still a minute to go"
    clock.now += 2
    assert headers_for(auth)["Authorization"] == "Bearer at-2", "renewed before it dies in flight"
    assert len(okta.token_requests()) == 2


def test_a_rotated_secret_takes_effect_and_drops_the_old_token(
    rsa_key: tuple[str, dict[str, Any]], ec_key: tuple[str, dict[str, Any]]
) -> None:
    okta = ScriptedOkta()
    current = {"text": secret_of(rsa_key)}
    auth = authorizer(okta, lambda: current["text"])
    assert headers_for(auth)["Authorization"] == "Bearer at-1"
    current["text"] = secret_of(ec_key)
    assert headers_for(auth)["Authorization"] == "Bearer at-2"
    assert unverified(form(okta.token_requests()[1])["client_assertion"])[0]["alg"] == "ES256"
    current["text"] = "an-ssws-token"
    assert headers_for(auth)["Authorization"] == "SSWS an-ssws-token"


# ---------------------------------------------------------------------------- a 401 renews once


def test_a_401_renews_the_token_once_and_retries(rsa_key: tuple[str, dict[str, Any]]) -> None:
    """Okta may end a token before its time (revoked, or a clock ahead of ours)."""
    okta = ScriptedOkta()
    okta.resource_answers = [lambda _r: httpx.Response(401, json={"errorCode": "E0000011"})]
    with OktaClient(ORG, authorizer(okta, secret_of(rsa_key)), transport=okta.transport()) as client:
        user = client.get_user("00u1")
    assert user is not None
    resources = okta.resource_requests()
    assert [r.headers["Authorization"] for r in resources] == ["Bearer at-1", "Bearer at-2"]


def test_a_second_401_is_final(rsa_key: tuple[str, dict[str, Any]]) -> None:
    okta = ScriptedOkta()
    refuse = lambda _r: httpx.Response(401, json={"errorCode": "E0000011", "errorSummary": "Invalid token"})  # noqa: E731
    okta.resource_answers = [refuse, refuse, refuse]
    with (
        OktaClient(ORG, authorizer(okta, secret_of(rsa_key)), transport=okta.transport()) as client,
        pytest.raises(AuthError) as caught,
    ):
        client.get_user("00u1")
    assert caught.value.status == 401
    assert len(okta.resource_requests()) == 2 and len(okta.token_requests()) == 2


def test_an_ssws_token_is_not_retried_on_401() -> None:
    okta = ScriptedOkta()
    okta.resource_answers = [lambda _r: httpx.Response(401, json={"errorCode": "E0000011"})]
    with (
        OktaClient(ORG, authorizer(okta, "ssws-token"), transport=okta.transport()) as client,
        pytest.raises(AuthError),
    ):
        client.get_user("00u1")
    assert len(okta.requests) == 1


# ---------------------------------------------------------------------------- DPoP


def proof_of(request: httpx.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    proof = request.headers["DPoP"]
    header = jwt.get_unverified_header(proof)
    claims = jwt.decode(
        proof, jwt.PyJWK(header["jwk"]).key, algorithms=[header["alg"]], options={"verify_iat": False}
    )
    return header, claims


def test_dpop_is_switched_on_when_okta_demands_it_and_follows_its_nonce(
    rsa_key: tuple[str, dict[str, Any]],
) -> None:
    okta, clock = ScriptedOkta(), SettableMonotonic(EPOCH)
    okta.token_answers = [
        oauth_error(400, "invalid_dpop_proof", "The DPoP proof JWT header is missing."),
        oauth_error(
            400,
            "use_dpop_nonce",
            "Authorization server requires nonce in DPoP proof.",
            **{"DPoP-Nonce": "n-1"},
        ),
        lambda r: okta.bearer(r, kind="DPoP"),
    ]
    auth = authorizer(okta, secret_of(rsa_key), clock)
    sent = headers_for(auth, f"{ORG}/api/v1/users/00u1?expand=user#top")

    first, second, third = okta.token_requests()
    assert "DPoP" not in first.headers
    header, claims = proof_of(second)
    assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256"
    assert set(header["jwk"]) == {"kty", "crv", "x", "y"}, "the public key only"
    assert claims["htm"] == "POST" and claims["htu"] == TOKEN_URL and claims["iat"] == int(clock.now)
    assert "nonce" not in claims and "ath" not in claims
    assert proof_of(third)[1]["nonce"] == "n-1"
    assert proof_of(second)[1]["jti"] != proof_of(third)[1]["jti"]

    assert sent["Authorization"] == "DPoP at-1"
    resource = httpx.Request("GET", f"{ORG}/api/v1/users/00u1?expand=user#top", headers=sent)
    _, resource_claims = proof_of(resource)
    assert resource_claims["htm"] == "GET"
    assert resource_claims["htu"] == f"{ORG}/api/v1/users/00u1", "no query, no fragment"
    expected_ath = base64.urlsafe_b64encode(hashlib.sha256(b"at-1").digest()).rstrip(b"=").decode()
    assert resource_claims["ath"] == expected_ath
    assert auth.dpop


def test_the_dpop_key_is_the_containers_own_never_the_registered_key(
    rsa_key: tuple[str, dict[str, Any]],
) -> None:
    okta = ScriptedOkta()
    auth = authorizer(okta, secret_of(rsa_key, dpop=True))
    headers_for(auth)
    header, _ = proof_of(okta.token_requests()[0])
    assert jwk_thumbprint(header["jwk"]) != jwk_thumbprint(rsa_key[1])


def test_a_secret_may_ask_for_dpop_from_the_first_request(rsa_key: tuple[str, dict[str, Any]]) -> None:
    okta = ScriptedOkta()
    okta.token_answers = [lambda r: okta.bearer(r, kind="DPoP")]
    auth = authorizer(okta, secret_of(rsa_key, dpop=True))
    assert headers_for(auth)["Authorization"] == "DPoP at-1"
    assert len(okta.token_requests()) == 1 and "DPoP" in okta.token_requests()[0].headers


def test_a_rotated_token_endpoint_nonce_is_followed(rsa_key: tuple[str, dict[str, Any]]) -> None:
    okta, clock = ScriptedOkta(), SettableMonotonic(EPOCH)
    nonce_header = {"DPoP-Nonce": "n-1"}
    okta.token_answers = [
        oauth_error(400, "use_dpop_nonce", **nonce_header),
        lambda r: okta.bearer(r, kind="DPoP"),
        oauth_error(400, "use_dpop_nonce", **{"DPoP-Nonce": "n-2"}),
        lambda r: okta.bearer(r, kind="DPoP"),
    ]
    auth = authorizer(okta, secret_of(rsa_key, dpop=True), clock)
    headers_for(auth)
    clock.now += 3600
    headers_for(auth)
    nonces = [proof_of(r)[1].get("nonce") for r in okta.token_requests()]
    assert nonces == [None, "n-1", "n-1", "n-2"]


def test_a_resource_servers_nonce_is_followed(rsa_key: tuple[str, dict[str, Any]]) -> None:
    okta = ScriptedOkta()
    okta.token_answers = [lambda r: okta.bearer(r, kind="DPoP")]
    challenge = (
        'DPoP algs="ES256", error="use_dpop_nonce", error_description="Resource server requires nonce"'
    )
    okta.resource_answers = [
        lambda _r: httpx.Response(401, headers={"WWW-Authenticate": challenge, "DPoP-Nonce": "rs-1"}),
    ]
    with OktaClient(
        ORG, authorizer(okta, secret_of(rsa_key, dpop=True)), transport=okta.transport()
    ) as client:
        assert client.get_user("00u1") is not None
        first, second = okta.resource_requests()
        assert "nonce" not in proof_of(first)[1]
        assert proof_of(second)[1]["nonce"] == "rs-1"
        assert second.headers["Authorization"] == "DPoP at-1", "a nonce challenge keeps the token"
        assert len(okta.token_requests()) == 1


# ---------------------------------------------------------------------------- final errors


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (
            oauth_error(401, "invalid_client", "The client_assertion JWT kid is invalid."),
            "does not know key id",
        ),
        (
            oauth_error(401, "invalid_client", "Invalid value for 'client_id' parameter."),
            f"refused service app {CLIENT}",
        ),
        (oauth_error(400, "invalid_scope", "not granted: okta.apps.read"), "Okta API Scopes tab"),
        (oauth_error(400, "unauthorized_client", "no client credentials"), "refused the token request"),
    ],
)
def test_a_refused_token_request_is_one_clear_auth_error_without_secrets(
    answer: Answer, says: str, rsa_key: tuple[str, dict[str, Any]]
) -> None:
    okta = ScriptedOkta(token_answers=[answer])
    with pytest.raises(AuthError) as caught:
        headers_for(authorizer(okta, secret_of(rsa_key)))
    text = str(caught.value)
    assert says in text
    assertion = form(okta.token_requests()[0])["client_assertion"]
    for secret in (assertion, "PRIVATE KEY", rsa_key[0].splitlines()[1]):
        assert secret not in text
    assert len(okta.token_requests()) == 1, "final: not asked again"


def test_the_token_endpoints_rate_limit_and_outages_are_retryable(
    rsa_key: tuple[str, dict[str, Any]],
) -> None:
    clock = SettableMonotonic(EPOCH)
    okta = ScriptedOkta(
        token_answers=[
            lambda _r: httpx.Response(429, headers={"X-Rate-Limit-Reset": str(int(clock.now) + 30)}),
            lambda _r: httpx.Response(503, text="down"),
        ]
    )
    auth = authorizer(okta, secret_of(rsa_key), clock)
    with pytest.raises(ThrottledError) as throttled:
        headers_for(auth)
    assert throttled.value.retry_after == pytest.approx(30, abs=1)
    with pytest.raises(TransientError):
        headers_for(auth)
    assert headers_for(auth)["Authorization"] == "Bearer at-1"


def test_a_missing_scope_or_admin_role_on_a_resource_is_named(rsa_key: tuple[str, dict[str, Any]]) -> None:
    challenge = (
        f'Bearer authorization_uri="{ORG}/oauth2/v1/authorize", realm="{ORG}", '
        'scope="okta.groups.read", error="insufficient_scope", '
        'error_description="The access token provided does not contain the required scopes.", '
        'resource="/api/v1/groups/00g1"'
    )
    okta = ScriptedOkta(
        resource_answers=[
            lambda _r: httpx.Response(403, headers={"WWW-Authenticate": challenge}),
            lambda _r: httpx.Response(
                403, json={"errorCode": "E0000006", "errorSummary": "You do not have permission"}
            ),
        ]
    )
    with OktaClient(ORG, authorizer(okta, secret_of(rsa_key)), transport=okta.transport()) as client:
        with pytest.raises(AuthError) as scope:
            client.get_group("00g1")
        with pytest.raises(AuthError) as role:
            client.get_user("00u1")
    assert "lacks okta.groups.read" in str(scope.value) and scope.value.status == 403
    assert "admin role" in str(role.value) and "E0000006" in str(role.value)
    assert "at-1" not in str(scope.value) + str(role.value)


def test_the_status_says_mode_scopes_and_dpop(rsa_key: tuple[str, dict[str, Any]]) -> None:
    okta = ScriptedOkta(token_answers=[lambda r: okta.bearer(r, kind="DPoP")])
    status = authorizer(okta, secret_of(rsa_key, dpop=True)).status()
    assert status.mode is AuthMode.OAUTH and status.dpop and status.client_id == CLIENT
    assert status.scopes == ("okta.users.read", "okta.apps.read")
    assert authorizer(ScriptedOkta(), "tok").status().mode is AuthMode.SSWS


def test_generated_keys_are_named_by_their_thumbprint() -> None:
    pem, jwk = new_service_app_key(ec_key=True)
    assert jwk["kid"] == jwk_thumbprint(jwk) and jwk["alg"] == "ES256" and "d" not in jwk
    private = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
