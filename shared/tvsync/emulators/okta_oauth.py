"""Okta's org authorization server for API service apps, as the Okta emulator serves it.

``POST /oauth2/v1/token`` with ``grant_type=client_credentials`` and a ``private_key_jwt``
client assertion [SVC], and the checks a resource call's ``Bearer`` or ``DPoP`` token must
pass [DPOP][RFC9449]. ``OktaEmulator`` composes one ``OktaOAuthServer`` and routes to it;
seeding goes through ``OktaEmulator.oauth`` (or its ``register_service_app`` and
``require_dpop`` shortcuts).

What it checks, as strictly as Okta:

- the client assertion [SVC][RFC7523]: signed by a key registered with the app (chosen by
  ``kid``; without one only when the app has a single key), ``iss`` = ``sub`` = the client
  id, ``aud`` = this token endpoint, ``exp`` in the future and at most an hour after ``iat``
  (and after now), a ``jti`` never seen before — a replayed assertion is refused;
- the scopes: every requested scope must be granted to the app (``invalid_scope``);
- DPoP, for an app that requires it [DPOP]: a token request without a proof is refused with
  ``invalid_dpop_proof``, one without the current nonce with ``use_dpop_nonce`` and the
  nonce in ``DPoP-Nonce``; every proof is checked — ``typ`` ``dpop+jwt``, an asymmetric
  ``alg``, a public ``jwk`` that verifies its signature, ``htm``, ``htu`` (no query),
  ``iat`` within five minutes, a fresh ``jti`` and, on resource calls, ``ath`` and the key
  the token is bound to;
- resource calls: an unknown or expired token is a 401 with Okta's ``E0000011`` body and a
  challenge; a token without the scope the route needs a 403 ``insufficient_scope`` with an
  empty body [SDK-ISSUES]; an app without an admin role a 403 ``E0000006`` [SVC].

Tokens are opaque and expire after the app's ``token_lifetime`` (Okta's is an hour [SVC]).

Unpinned choices (no source gives them): the exact ``error_description`` texts other than
those quoted in [SVC], [DPOP] and [SDK-ISSUES]; ``invalid_scope`` answered with 400; the
nonce rotation (Okta renews it daily and honours the old one for three days [DPOP]; here
``rotate_nonce`` replaces it, and ``keep_previous`` decides whether the old one still
counts); the resource server asks for no nonce unless ``require_resource_nonce`` is set,
as Okta's does not today [DPOP]; a user's groups need ``okta.users.read``, the scope of the
user API they belong to.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tvsync.emulators.http import EmulatorRequest, EmulatorResponse

TOKEN_PATH = "/oauth2/v1/token"  # noqa: S105 - a path, not a password
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: The asymmetric algorithms Okta accepts for client assertions and DPoP proofs [SVC][DPOP].
ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
#: Longest a client assertion may live: an hour [SVC].
MAX_ASSERTION_SECONDS = 3600
#: How far a DPoP proof's ``iat`` may be from the server's clock.
PROOF_WINDOW_SECONDS = 300
DEFAULT_TOKEN_LIFETIME = 3600
#: What a service app registered without saying is granted: what the worker reads.
DEFAULT_SCOPES = ("okta.users.read", "okta.apps.read", "okta.groups.read")

_CACHE_HEADERS = {"Cache-Control": "no-cache, no-store", "Pragma": "no-cache"}


class OAuthRefusal(Exception):
    """One refusal of the token endpoint: the HTTP status and the RFC 6749 error pair."""

    def __init__(self, status: int, error: str, description: str, headers: Mapping[str, str] | None = None):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers = dict(headers or {})


@dataclass
class ServiceApp:
    """A registered API service app: its public keys by ``kid``, grants, DPoP and admin role."""

    client_id: str
    keys: dict[str, dict[str, Any]]
    scopes: set[str]
    require_dpop: bool = False
    token_lifetime: float = DEFAULT_TOKEN_LIFETIME
    admin_role: bool = True


@dataclass(frozen=True)
class IssuedToken:
    """An access token as the server remembers it: whose, which scopes, until when, bound to which key."""

    client_id: str
    scopes: frozenset[str]
    expires_at: float
    jkt: str | None


@dataclass
class _Proof:
    jwk: dict[str, Any]
    claims: dict[str, Any]


@dataclass(frozen=True)
class ServiceAppKeyPair:
    """A key pair for seeding: the PEM private key for the secret, the public JWK for the app."""

    private_pem: str
    public_jwk: dict[str, Any]

    @property
    def key_id(self) -> str:
        return str(self.public_jwk["kid"])

    @classmethod
    def generate(cls, *, ec_key: bool = False, key_id: str | None = None) -> ServiceAppKeyPair:
        """RSA 2048 (RS256), or P-256 (ES256) with ``ec_key``; the kid defaults to the RFC 7638 thumbprint."""
        private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        if ec_key:
            private = ec.generate_private_key(ec.SECP256R1())
            jwk = jwt.algorithms.ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
            algorithm = "ES256"
        else:
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
            algorithm = "RS256"
        jwk.pop("key_ops", None)
        jwk.update(kid=key_id or thumbprint(jwk), alg=algorithm, use="sig")
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return cls(private_pem=pem, public_jwk=jwk)

    def secret(self, client_id: str, *, dpop: bool = False) -> str:
        """The ``OktaApiTokenSecret`` document for this key (docs/contracts.md)."""
        document: dict[str, Any] = {
            "client_id": client_id,
            "key_id": self.key_id,
            "private_key": self.private_pem,
        }
        if dpop:
            document["dpop"] = True
        return json.dumps(document)


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK (what a DPoP-bound token's ``jkt`` holds)."""
    members = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}.get(str(jwk.get("kty")), ())
    canonical = json.dumps({name: jwk.get(name) for name in members}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode()).digest())


class OktaOAuthServer:
    """The token endpoint and the token checks of resource calls, with seeding helpers.

    ``lock`` is the emulator's: seeding and requests never interleave. ``clock`` (epoch
    seconds) decides expiry, so a test can age tokens without sleeping.
    """

    def __init__(self, *, lock: threading.RLock, clock: Callable[[], float]) -> None:
        self._lock = lock
        self._clock = clock
        self._apps: dict[str, ServiceApp] = {}
        self._tokens: dict[str, IssuedToken] = {}
        self._assertion_ids: dict[str, float] = {}
        self._proof_ids: dict[str, float] = {}
        self._nonce = secrets.token_urlsafe(24)
        self._previous_nonce: str | None = None
        self._resource_nonce: str | None = None
        #: Tokens issued, by client id: what a benchmark divides by.
        self.issued: dict[str, int] = {}

    # ------------------------------------------------------------------ seeding

    def register_service_app(  # noqa: PLR0913 - the app and its keys, then keyword-only settings
        self,
        client_id: str,
        public_jwks: Mapping[str, Any] | Iterable[Mapping[str, Any]],
        *,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        require_dpop: bool = False,
        token_lifetime: float = DEFAULT_TOKEN_LIFETIME,
        admin_role: bool = True,
    ) -> ServiceApp:
        """Register an app with its public key(s), granted scopes, DPoP setting and token lifetime."""
        jwks = [public_jwks] if isinstance(public_jwks, Mapping) else list(public_jwks)
        if token_lifetime <= 0:
            raise ValueError("token_lifetime must be positive")
        with self._lock:
            if client_id in self._apps:
                raise ValueError(f"service app {client_id} already exists")
            app = ServiceApp(client_id, {}, set(scopes), require_dpop, token_lifetime, admin_role)
            for jwk in jwks:
                self._add_key(app, jwk)
            self._apps[client_id] = app
            return app

    def add_key(self, client_id: str, public_jwk: Mapping[str, Any]) -> None:
        """Register another public key: during a rotation both the old and the new one sign."""
        with self._lock:
            self._add_key(self._app(client_id), public_jwk)

    def remove_key(self, client_id: str, key_id: str) -> None:
        """Deactivate and delete a key: assertions it signs are refused from now on."""
        with self._lock:
            self._app(client_id).keys.pop(key_id)

    def require_dpop(self, client_id: str, on: bool = True) -> None:
        """Tick (or untick) "Require DPoP" on the app; tokens already issued stay valid until they expire."""
        with self._lock:
            self._app(client_id).require_dpop = on

    def grant(self, client_id: str, *scopes: str) -> None:
        with self._lock:
            self._app(client_id).scopes.update(scopes)

    def revoke_grant(self, client_id: str, *scopes: str) -> None:
        """Take scopes back; tokens already issued keep theirs until they expire."""
        with self._lock:
            self._app(client_id).scopes.difference_update(scopes)

    def set_admin_role(self, client_id: str, granted: bool) -> None:
        with self._lock:
            self._app(client_id).admin_role = granted

    def revoke_tokens(self, client_id: str) -> None:
        """End every token of the app now, as revoking them in Okta would."""
        with self._lock:
            self._tokens = {k: t for k, t in self._tokens.items() if t.client_id != client_id}

    def rotate_nonce(self, *, keep_previous: bool = True) -> str:
        """A new token-endpoint DPoP nonce; ``keep_previous`` lets the old one still count."""
        with self._lock:
            self._previous_nonce = self._nonce if keep_previous else None
            self._nonce = secrets.token_urlsafe(24)
            return self._nonce

    def require_resource_nonce(self, on: bool = True) -> str | None:
        """Make resource calls demand a nonce of their own in DPoP proofs (a new one each time it is set)."""
        with self._lock:
            self._resource_nonce = secrets.token_urlsafe(24) if on else None
            return self._resource_nonce

    def tokens(self, client_id: str) -> list[IssuedToken]:
        with self._lock:
            return [t for t in self._tokens.values() if t.client_id == client_id]

    # ------------------------------------------------------------------ the token endpoint

    def token(self, request: EmulatorRequest, token_url: str) -> EmulatorResponse:
        """Answer ``POST /oauth2/v1/token``: a token, or the OAuth error body Okta sends."""
        try:
            return self._issue(request, token_url)
        except OAuthRefusal as refusal:
            body = {"error": refusal.error, "error_description": refusal.description}
            return EmulatorResponse(refusal.status, body, {**_CACHE_HEADERS, **refusal.headers})

    def _issue(self, request: EmulatorRequest, token_url: str) -> EmulatorResponse:
        if request.method != "POST":
            raise OAuthRefusal(405, "invalid_request", "The token endpoint accepts POST only.")
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("grant_type") != "client_credentials":
            raise OAuthRefusal(
                400, "unsupported_grant_type", "The authorization grant type is not supported by the server."
            )
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise OAuthRefusal(400, "invalid_request", "The client_assertion_type is invalid.")
        app = self._authenticate_client(form.get("client_assertion", ""), form.get("client_id"), token_url)
        requested = form.get("scope", "").split()
        if not requested:
            raise OAuthRefusal(
                400,
                "invalid_scope",
                "The authorization server resource does not have any configured default scopes, "
                "'scope' must be provided.",
            )
        missing = sorted(set(requested) - app.scopes)
        if missing:
            raise OAuthRefusal(
                400,
                "invalid_scope",
                f"The following scopes were requested, but not granted to this client: {' '.join(missing)}.",
            )
        jkt = self._token_endpoint_dpop(request, app, token_url)
        now = self._clock()
        value = secrets.token_urlsafe(32)
        self._tokens[value] = IssuedToken(app.client_id, frozenset(requested), now + app.token_lifetime, jkt)
        self.issued[app.client_id] = self.issued.get(app.client_id, 0) + 1
        body = {
            "token_type": "DPoP" if jkt else "Bearer",
            "expires_in": int(app.token_lifetime),
            "access_token": value,
            "scope": " ".join(requested),
        }
        headers = dict(_CACHE_HEADERS)
        if app.require_dpop:
            headers["DPoP-Nonce"] = self._nonce
        return EmulatorResponse(200, body, headers)

    def _authenticate_client(self, assertion: str, form_client_id: str | None, token_url: str) -> ServiceApp:
        """Check the client assertion [SVC][RFC7523]; the app it authenticates, or ``invalid_client``."""
        if not assertion:
            raise _invalid_client(
                "Client authentication failed. Either the client or the client credentials are invalid."
            )
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise _invalid_client("The client_assertion token is malformed.") from None
        client_id = unverified.get("iss") or form_client_id
        app = self._apps.get(str(client_id)) if client_id else None
        if app is None:
            raise _invalid_client("Invalid value for 'client_id' parameter.")
        claims = _verified_assertion(assertion, header, _signing_key(app, header), token_url)
        if claims["iss"] != app.client_id or claims["sub"] != app.client_id:
            raise _invalid_client("The client_assertion token's iss and sub must be the client_id.")
        now = self._clock()
        expires = _number(claims["exp"])
        issued = _number(claims.get("iat", now))
        if expires is None or issued is None or expires <= now:
            raise _invalid_client("The client_assertion token is expired.")
        if expires - issued > MAX_ASSERTION_SECONDS or expires - now > MAX_ASSERTION_SECONDS:
            raise _invalid_client("The client_assertion token has an expiration too far in the future.")
        self._assertion_ids = {j: e for j, e in self._assertion_ids.items() if e > now}
        jti = str(claims["jti"])
        if jti in self._assertion_ids:
            raise _invalid_client("The client_assertion token has already been used.")
        self._assertion_ids[jti] = expires
        return app

    def _token_endpoint_dpop(self, request: EmulatorRequest, app: ServiceApp, token_url: str) -> str | None:
        """The thumbprint to bind the token to, or ``None`` for a Bearer token [DPOP]."""
        header = request.header("dpop")
        if header is None:
            if app.require_dpop:
                raise OAuthRefusal(400, "invalid_dpop_proof", "The DPoP proof JWT header is missing.")
            return None
        proof = self._check_proof(header, method="POST", url=token_url, token=None)
        if app.require_dpop and proof.claims.get("nonce") not in {self._nonce, self._previous_nonce} - {None}:
            raise OAuthRefusal(
                400,
                "use_dpop_nonce",
                "Authorization server requires nonce in DPoP proof.",
                {"DPoP-Nonce": self._nonce},
            )
        return thumbprint(proof.jwk)

    # ------------------------------------------------------------------ resource calls

    def authenticate(
        self, request: EmulatorRequest, *, base: str, scope: str | None
    ) -> EmulatorResponse | None:
        """``None`` when the request's ``Bearer`` or ``DPoP`` token may make this call; else Okta's refusal.

        ``base`` is the org's URL as the client reached it (the proof's ``htu`` is that plus
        the path); ``scope`` is the one the route needs.
        """
        try:
            self._authorize(request, base, scope)
        except _Refused as refused:
            return refused.response
        return None

    def _authorize(self, request: EmulatorRequest, base: str, scope: str | None) -> None:
        scheme, _, credential = (request.header("authorization") or "").partition(" ")
        challenge = "DPoP" if scheme == "DPoP" else "Bearer"
        token = self._tokens.get(credential)
        if token is None or token.expires_at <= self._clock():
            self._tokens.pop(credential, None)
            raise _Refused(_invalid_token(challenge, base, "The access token is invalid."))
        if (token.jkt is not None) != (scheme == "DPoP"):
            raise _Refused(
                _invalid_token(challenge, base, "The token type does not match the authorization scheme.")
            )
        if token.jkt is not None:
            self._check_bound_proof(request, token, credential, base)
        if scope is not None and scope not in token.scopes:
            raise _Refused(_insufficient_scope(challenge, base, scope, request.path))
        app = self._apps.get(token.client_id)
        if app is None or not app.admin_role:
            raise _Refused(_no_admin_role())

    def _check_bound_proof(
        self, request: EmulatorRequest, token: IssuedToken, credential: str, base: str
    ) -> None:
        """A DPoP-bound token's proof: valid, with this token's ``ath``, its key, any nonce asked for."""
        header = request.header("dpop")
        if header is None:
            raise _Refused(_dpop_refusal(base, "invalid_dpop_proof", "The DPoP proof JWT header is missing."))
        try:
            proof = self._check_proof(
                header, method=request.method, url=base + request.path, token=credential
            )
        except OAuthRefusal as refusal:
            raise _Refused(_dpop_refusal(base, refusal.error, refusal.description)) from None
        if thumbprint(proof.jwk) != token.jkt:
            raise _Refused(
                _dpop_refusal(
                    base, "invalid_dpop_proof", "The DPoP proof key is not the one the token is bound to."
                )
            )
        if self._resource_nonce is not None and proof.claims.get("nonce") != self._resource_nonce:
            raise _Refused(
                _dpop_refusal(
                    base,
                    "use_dpop_nonce",
                    "Resource server requires nonce in DPoP proof.",
                    {"DPoP-Nonce": self._resource_nonce},
                )
            )

    # ------------------------------------------------------------------ DPoP proofs

    def _check_proof(self, proof: str, *, method: str, url: str, token: str | None) -> _Proof:
        """Validate a DPoP proof [RFC9449 §4.3]; ``OAuthRefusal`` ``invalid_dpop_proof`` otherwise."""
        try:
            header = jwt.get_unverified_header(proof)
        except jwt.PyJWTError:
            raise _invalid_proof("The DPoP proof JWT is malformed.") from None
        jwk = header.get("jwk")
        algorithm = header.get("alg")
        if header.get("typ") != "dpop+jwt":
            raise _invalid_proof("The DPoP proof JWT 'typ' header must be 'dpop+jwt'.")
        if algorithm not in ALGORITHMS or not isinstance(jwk, dict) or not _fits(algorithm, jwk):
            raise _invalid_proof("The DPoP proof JWT 'alg' or 'jwk' header is invalid.")
        if any(member in jwk for member in ("d", "p", "q", "dp", "dq", "qi")):
            raise _invalid_proof("The DPoP proof JWT 'jwk' header must not contain a private key.")
        try:
            claims = jwt.decode(
                proof,
                jwt.PyJWK(jwk).key,
                algorithms=[algorithm],
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_aud": False,
                    "require": ["jti", "htm", "htu", "iat"],
                },
            )
        except jwt.PyJWTError:
            raise _invalid_proof("The DPoP proof JWT signature or claims are invalid.") from None
        if claims["htm"] != method:
            raise _invalid_proof("'htm' claim in the DPoP proof JWT is invalid.")
        if claims["htu"] != url:
            raise _invalid_proof("'htu' claim in the DPoP proof JWT is invalid.")
        now = self._clock()
        issued = _number(claims["iat"])
        if issued is None or abs(now - issued) > PROOF_WINDOW_SECONDS:
            raise _invalid_proof("'iat' claim in the DPoP proof JWT is out of range.")
        if token is not None:
            expected = _b64url(hashlib.sha256(token.encode()).digest())
            if claims.get("ath") != expected:
                raise _invalid_proof("'ath' claim in the DPoP proof JWT is invalid.")
        self._proof_ids = {j: t for j, t in self._proof_ids.items() if t > now - 2 * PROOF_WINDOW_SECONDS}
        jti = str(claims["jti"])
        if jti in self._proof_ids:
            raise _invalid_proof("'jti' claim in the DPoP proof JWT was already used.")
        self._proof_ids[jti] = now
        return _Proof(jwk=dict(jwk), claims=claims)

    # ------------------------------------------------------------------ helpers

    def _app(self, client_id: str) -> ServiceApp:
        app = self._apps.get(client_id)
        if app is None:
            raise KeyError(f"unknown service app {client_id}")
        return app

    @staticmethod
    def _add_key(app: ServiceApp, jwk: Mapping[str, Any]) -> None:
        if "d" in jwk:
            raise ValueError("register the public key: this JWK holds a private key")
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            raise ValueError("every key of an app needs a unique kid [SVC]")
        if kid in app.keys:
            raise ValueError(f"the app already has a key {kid}")
        jwt.PyJWK(dict(jwk))  # refuse a key PyJWT cannot use now, not at the first token request
        app.keys[kid] = dict(jwk)


class _Refused(Exception):
    """A resource call refused: ``response`` is what the emulator answers."""

    def __init__(self, response: EmulatorResponse) -> None:
        super().__init__(response.status)
        self.response = response


def _signing_key(app: ServiceApp, header: Mapping[str, Any]) -> dict[str, Any]:
    """The registered key the assertion names by ``kid``; without a kid, an app's only key [SDK-ISSUES]."""
    kid = header.get("kid")
    if kid is not None:
        jwk = app.keys.get(str(kid))
    elif len(app.keys) == 1:
        jwk = next(iter(app.keys.values()))
    else:
        jwk = None
    if jwk is None:
        raise _invalid_client("The client_assertion JWT kid is invalid.")
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS or not _fits(algorithm, jwk):
        raise _invalid_client("The client_assertion token's signature algorithm is not allowed.")
    return jwk


def _verified_assertion(
    assertion: str, header: Mapping[str, Any], jwk: Mapping[str, Any], token_url: str
) -> dict[str, Any]:
    """The assertion's claims once its signature and ``aud`` are checked; expiry is the caller's clock's."""
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            jwt.PyJWK(dict(jwk)).key,
            algorithms=[str(header["alg"])],
            audience=token_url,
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": ["iss", "sub", "aud", "exp", "jti"],
            },
        )
    except jwt.InvalidSignatureError:
        raise _invalid_client("The client_assertion signature is invalid.") from None
    except jwt.InvalidAudienceError:
        raise _invalid_client("The audience [aud] claim in the client_assertion is invalid.") from None
    except jwt.MissingRequiredClaimError as exc:
        raise _invalid_client(f"The client_assertion token is missing the '{exc.claim}' claim.") from None
    except jwt.PyJWTError:
        raise _invalid_client("The client_assertion token is invalid.") from None
    return claims


def _insufficient_scope(challenge: str, base: str, scope: str, path: str) -> EmulatorResponse:
    """A token without the route's scope: 403, no body, the scope in the challenge [SDK-ISSUES]."""
    algs = f'algs="{" ".join(ALGORITHMS)}", ' if challenge == "DPoP" else ""
    value = (
        f'{challenge} {algs}authorization_uri="{base}/oauth2/v1/authorize", realm="{base}", '
        f'scope="{scope}", error="insufficient_scope", '
        'error_description="The access token provided does not contain the required scopes.", '
        f'resource="{path}"'
    )
    return EmulatorResponse(403, None, {"WWW-Authenticate": value})


def _no_admin_role() -> EmulatorResponse:
    """A service app whose admin role does not cover the read: Okta's ``E0000006`` [SVC]."""
    body = {
        "errorCode": "E0000006",
        "errorSummary": "You do not have permission to perform the requested action",
        "errorLink": "E0000006",
        "errorId": "oae" + secrets.token_hex(11),
        "errorCauses": [],
    }
    return EmulatorResponse(403, body)


def _fits(algorithm: str, jwk: Mapping[str, Any]) -> bool:
    """Whether a JWS algorithm matches the key type (RS* ↔ RSA, ES* ↔ EC on its curve)."""
    if algorithm.startswith("RS"):
        return jwk.get("kty") == "RSA"
    curves = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
    return jwk.get("kty") == "EC" and jwk.get("crv") == curves.get(algorithm)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _invalid_client(description: str) -> OAuthRefusal:
    return OAuthRefusal(401, "invalid_client", description)


def _invalid_proof(description: str) -> OAuthRefusal:
    return OAuthRefusal(400, "invalid_dpop_proof", description)


def _invalid_token(challenge: str, base: str, description: str) -> EmulatorResponse:
    """A 401 for an unknown or expired token: Okta's error body and an RFC 6750 challenge."""
    value = f'{challenge} realm="{base}", error="invalid_token", error_description="{description}"'
    body = {
        "errorCode": "E0000011",
        "errorSummary": "Invalid token provided",
        "errorLink": "E0000011",
        "errorId": "oae" + secrets.token_hex(11),
        "errorCauses": [],
    }
    return EmulatorResponse(401, body, {"WWW-Authenticate": value})


def _dpop_refusal(
    base: str, error: str, description: str, headers: Mapping[str, str] | None = None
) -> EmulatorResponse:
    """A resource server's DPoP refusal: 401 with a ``DPoP`` challenge [RFC9449 §7.1, §9]."""
    algs = " ".join(ALGORITHMS)
    value = f'DPoP algs="{algs}", realm="{base}", error="{error}", error_description="{description}"'
    return EmulatorResponse(401, None, {"WWW-Authenticate": value, **(headers or {})})
