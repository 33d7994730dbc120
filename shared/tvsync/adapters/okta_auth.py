"""How the product proves who it is to Okta: an ``SSWS`` API token, or an OAuth 2.0 service app.

The secret ``OktaApiTokenSecret`` holds one of two things, and its text alone decides which
(docs/contracts.md):

- a bare API token — sent as ``Authorization: SSWS <token>`` [CORE], exactly as before;
- a JSON document ``{"client_id", "private_key", "key_id", "dpop"?}`` — an API service app
  that signs in with ``private_key_jwt``, the only client authentication Okta accepts for
  tokens with Okta scopes [SVC]. The private key is PEM or a JWK, RSA (RS256) or EC (ES256
  on P-256; ES384/ES512 on the larger curves, which Okta accepts too [SVC]).

In the second mode an ``OktaAuthorizer`` asks the org authorization server for an access
token (``POST /oauth2/v1/token``, ``grant_type=client_credentials``, the scopes the product
reads with, a client assertion signed with the key: ``iss`` = ``sub`` = the client id,
``aud`` = the token endpoint, a fresh ``jti``, ``exp`` a few minutes ahead — Okta refuses more
than an hour [SVC][RFC7523]). The token is cached for the container and renewed shortly
before it expires, so a warm container asks for at most one per token lifetime (Okta fixes it
at an hour [SVC]). A 401 from a resource call means the token was revoked or expired early:
``OktaClient`` asks ``retry_refused`` and tries once more with a new one.

DPoP [RFC9449][DPOP]. An admin may tick "Require DPoP" on the app at any time, and new
service apps have it ticked. The token endpoint then answers ``invalid_dpop_proof`` to a
request without a proof: from then on every token request carries one, signed with a key
pair made for this container (never the client-assertion key: the registered key only
authenticates the client, and a throw-away key bound to the tokens of one container is what
Okta's own SDKs use). Okta demands a server nonce: ``use_dpop_nonce`` with a ``DPoP-Nonce``
header, and the request is repeated with that nonce; a nonce Okta later rotates arrives the
same way and is followed. A DPoP-bound token (``token_type`` ``DPoP``) is sent as
``Authorization: DPoP <token>`` with a fresh proof per request, carrying ``ath``, the hash of
the token; a resource server that asks for a nonce of its own (401 with ``use_dpop_nonce``)
gets it on the retry. The secret may say ``"dpop": true`` to send proofs from the first
request.

What can go wrong is told once, plainly, and never with the key, an assertion, a proof or a
token in it: a wrong client id or an unknown key id (``invalid_client``), scopes not granted
(``invalid_scope``, or 403 ``insufficient_scope`` on a resource), no admin role for the app
(403 ``E0000006``) are ``AuthError`` — counted as ``AuthErrors`` and alarmed, since waiting
fixes none of them; Okta's rate limit on the token endpoint [RL] is a ``ThrottledError`` and
its 5xx a ``TransientError``, as for any other call.

The JOSE work (signing the assertion and the proofs, loading PEM and JWK keys) is PyJWT's and
cryptography's; nothing here is cryptography of its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tvsync.adapters.errors import AuthError, ThrottledError, TransientError, UpstreamError
from tvsync.adapters.http import (
    DEFAULT_TIMEOUT,
    TokenProvider,
    rate_limit_reset_seconds,
    retry_after_seconds,
    send,
)

SERVICE = "okta"

#: The org authorization server's token endpoint: the only one that mints Okta-scoped tokens [SVC].
TOKEN_PATH = "/oauth2/v1/token"  # noqa: S105 - a path, not a password
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

#: What the worker and the reconciler read: users, app assignments; groups when pushed [SPEC].
USERS_SCOPE = "okta.users.read"
APPS_SCOPE = "okta.apps.read"
GROUPS_SCOPE = "okta.groups.read"

#: A client assertion is used once, right away: a few minutes cover any clock skew, far
#: inside Okta's limit of an hour [SVC].
ASSERTION_LIFETIME_SECONDS = 300
#: A token is renewed this long before Okta says it expires, so no call carries a token
#: that dies in flight, while a container still asks for one token per lifetime.
RENEW_BEFORE_SECONDS = 60
#: Token requests one renewal may take: a first try, then once each for switching DPoP on,
#: for a nonce, and for a nonce rotated in between.
MAX_TOKEN_ATTEMPTS = 4
#: The shortest RSA key accepted: Okta's key generator makes 2048-bit keys [SVC].
MIN_RSA_BITS = 2048
#: A JWS algorithm for each EC curve (RFC 7518 §3.4).
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512"})
#: The DPoP proof key of a container: P-256 keys are made in microseconds and sign fast.
_DPOP_ALGORITHM = "ES256"
#: Longest server text copied into an error: enough to diagnose, never a dump.
_MAX_DETAIL = 300
#: ``name="value"`` (or a bare token) parameters of a ``WWW-Authenticate`` challenge [RFC6750].
_CHALLENGE_PARAM = re.compile(r'([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


class AuthMode(StrEnum):
    """How the secret authenticates: an API token, or a service app's key."""

    SSWS = "ssws"
    OAUTH = "oauth"


def okta_scopes(*, groups: bool) -> tuple[str, ...]:
    """The scopes the product asks for: users and app assignments, and groups when it pushes any."""
    return (USERS_SCOPE, APPS_SCOPE, GROUPS_SCOPE) if groups else (USERS_SCOPE, APPS_SCOPE)


# ---------------------------------------------------------------------------- the secret


@dataclass(frozen=True, repr=False)
class SswsToken:
    """A bare API token: today's format, sent as ``SSWS <token>`` [CORE]."""

    token: str

    mode = AuthMode.SSWS

    def __repr__(self) -> str:
        return "SswsToken(***)"


@dataclass(frozen=True, repr=False)
class ServiceAppKey:
    """A service app's client id and the private key registered (as its public half) with it."""

    client_id: str
    key_id: str
    algorithm: str
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = field(compare=False)
    dpop: bool = False

    mode = AuthMode.OAUTH

    def __repr__(self) -> str:
        return (
            f"ServiceAppKey(client_id={self.client_id!r}, key_id={self.key_id!r}, algorithm={self.algorithm})"
        )

    def public_jwk(self) -> dict[str, Any]:
        """The public JWK to register with the app in Okta, with its key id and algorithm."""
        return public_jwk(self.private_key, key_id=self.key_id, algorithm=self.algorithm)


Credentials = SswsToken | ServiceAppKey


class _ServiceAppDocument(BaseModel):
    """The JSON form of the secret (docs/contracts.md); unknown fields are refused: a typo must show."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(min_length=1)
    private_key: str | dict[str, Any]
    key_id: str | None = Field(default=None, min_length=1)
    dpop: bool = False


def read_credentials(text: str) -> Credentials:
    """What the secret's text holds: a JSON document is a service app, anything else an API token.

    An unusable document raises ``AuthError`` naming the field that is wrong — never its
    value: the ``private_key`` field is the secret.
    """
    value = text.strip()
    if not value.startswith("{"):
        return SswsToken(text)  # sent exactly as read, as it always was
    try:
        document = _ServiceAppDocument.model_validate_json(value)
    except ValidationError as exc:
        problems = sorted(
            {f"{'.'.join(str(p) for p in e['loc']) or 'document'}: {e['type']}" for e in exc.errors()}
        )
        raise _credentials_error(
            "the secret is JSON but not a service-app key "
            f'{{"client_id", "private_key", "key_id"}} ({"; ".join(problems)})'
        ) from None
    key, algorithm, jwk_kid = load_private_key(document.private_key)
    key_id = document.key_id or jwk_kid
    if not key_id:
        raise _credentials_error(
            "the secret's key_id is missing: give the Key ID (kid) Okta shows for the app's public key"
        )
    return ServiceAppKey(
        client_id=document.client_id,
        key_id=key_id,
        algorithm=algorithm,
        private_key=key,
        dpop=document.dpop,
    )


def load_private_key(
    value: str | Mapping[str, Any],
) -> tuple[rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, str, str | None]:
    """A private key from PEM or a JWK (a mapping, or its JSON): the key, its JWS algorithm, its kid.

    Every failure names the problem only: a parser's message may quote the key.
    """
    jwk: Mapping[str, Any] | None = value if isinstance(value, Mapping) else None
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise _credentials_error("private_key is neither PEM nor a JWK")
        jwk = parsed
    if jwk is not None:
        if "d" not in jwk:
            raise _credentials_error("private_key is a public JWK: the secret needs the private key")
        try:
            key: object = jwt.PyJWK(dict(jwk)).key
        except jwt.PyJWTError as exc:
            raise _credentials_error(f"private_key is not a usable JWK ({type(exc).__name__})") from None
        alg, kid = jwk.get("alg"), jwk.get("kid")
        wanted = alg if isinstance(alg, str) else None
        return _private(key), _algorithm(key, wanted), kid if isinstance(kid, str) and kid else None
    assert isinstance(value, str)
    try:
        key = serialization.load_pem_private_key(value.encode(), password=None)
    except (ValueError, TypeError):
        raise _credentials_error(
            "private_key is not a readable unencrypted PEM private key (or a JWK)"
        ) from None
    return _private(key), _algorithm(key, None), None


def _private(key: object) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return key
    raise _credentials_error("private_key must be an RSA or EC private key")


def _algorithm(key: object, wanted: str | None) -> str:
    """The JWS algorithm for ``key``: RS256 for RSA (or the JWK's RS384/RS512), ES256/384/512 by curve."""
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise _credentials_error(
                f"the RSA private key has {key.key_size} bits; Okta needs {MIN_RSA_BITS}+"
            )
        if wanted is None:
            return "RS256"
        if wanted not in _RSA_ALGORITHMS:
            raise _credentials_error(f"the JWK's alg {wanted} does not fit an RSA key")
        return wanted
    if isinstance(key, ec.EllipticCurvePrivateKey):
        found = _EC_ALGORITHMS.get(key.curve.name)
        if found is None:
            raise _credentials_error(f"the EC private key's curve {key.curve.name} is not one Okta accepts")
        if wanted is not None and wanted != found:
            raise _credentials_error(f"the JWK's alg {wanted} does not fit a {key.curve.name} key")
        return found
    raise _credentials_error("private_key must be an RSA or EC private key")


def public_jwk(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, *, key_id: str, algorithm: str
) -> dict[str, Any]:
    """The public half of ``key`` as a JWK (``kid``, ``alg``, ``use: sig``), to paste into Okta."""
    exported: dict[str, Any]
    if isinstance(key, rsa.RSAPrivateKey):
        exported = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        exported = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    exported.pop("key_ops", None)
    return {**exported, "kid": key_id, "alg": algorithm, "use": "sig"}


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of a public JWK: a stable key id that names the key itself."""
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}.get(str(jwk.get("kty")))
    if required is None:
        raise ValueError(f"no thumbprint for key type {jwk.get('kty')!r}")
    canonical = json.dumps({name: jwk[name] for name in required}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def new_service_app_key(*, ec_key: bool = False) -> tuple[str, dict[str, Any]]:
    """A new key pair for a service app: the private key as PEM (PKCS#8), and the public JWK.

    RSA 2048 by default, as Okta's own generator makes [SVC]; ``ec_key`` makes a P-256 key
    (ES256). The key id is the public key's RFC 7638 thumbprint, so it names the key and
    never needs inventing.
    """
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if ec_key:
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=MIN_RSA_BITS)
    algorithm = _algorithm(private, None)
    unnamed = public_jwk(private, key_id="", algorithm=algorithm)
    jwk = public_jwk(private, key_id=jwk_thumbprint(unnamed), algorithm=algorithm)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, jwk


def service_app_secret(client_id: str, private_key_pem: str, key_id: str, *, dpop: bool = False) -> str:
    """The secret's JSON for a service app (docs/contracts.md): what ``tvsync okta-key`` stores."""
    document: dict[str, Any] = {"client_id": client_id, "key_id": key_id, "private_key": private_key_pem}
    if dpop:
        document["dpop"] = True
    return json.dumps(document)


# ---------------------------------------------------------------------------- the authorizer


@dataclass(frozen=True)
class AuthStatus:
    """What ``tvsync check`` shows: the mode, the app and key, the scopes Okta granted, DPoP."""

    mode: AuthMode
    client_id: str | None = None
    key_id: str | None = None
    scopes: tuple[str, ...] = ()
    dpop: bool = False


@dataclass(frozen=True, repr=False)
class _AccessToken:
    value: str
    dpop: bool
    expires_at: float
    scopes: tuple[str, ...]

    def __repr__(self) -> str:
        return f"_AccessToken(dpop={self.dpop}, expires_at={self.expires_at})"


class OktaAuthorizer:
    """The ``Authorization`` (and ``DPoP``) headers of every request to one Okta org.

    ``secret`` is read for every request — a cached secret's provider, so a rotated secret,
    or one moved from a token to a service app, takes effect when the cache refreshes; the
    token cache is dropped whenever the credentials change. ``transport`` and ``timeout``
    are those of the token requests (tests plug in an emulator); ``clock`` (epoch seconds)
    dates assertions, proofs and token expiry.

    Thread-safe: one lock guards the token and the nonces, and only one thread at a time
    asks Okta for a token, so concurrent callers share it.
    """

    def __init__(  # noqa: PLR0913 - the org, its secret, then keyword-only options
        self,
        org_url: str,
        secret: TokenProvider,
        *,
        scopes: tuple[str, ...] = okta_scopes(groups=False),
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not scopes:
            raise ValueError("a service app must ask for at least one scope")
        self._org_url = org_url.rstrip("/")
        self.token_url = self._org_url + TOKEN_PATH
        self._secret = secret
        self._scopes = tuple(scopes)
        self._transport = transport
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.RLock()
        self._http: httpx.Client | None = None
        self._text: str | None = None
        self._credentials: Credentials | None = None
        self._token: _AccessToken | None = None
        self._dpop_on = False
        self._dpop_key: ec.EllipticCurvePrivateKey | None = None
        self._dpop_jwk: dict[str, Any] | None = None
        self._token_nonce: str | None = None
        self._resource_nonce: str | None = None

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    # ------------------------------------------------------------------ per request

    @property
    def mode(self) -> AuthMode:
        return self.credentials().mode

    @property
    def dpop(self) -> bool:
        """Whether proofs are sent: the secret asked for them, or Okta demanded them."""
        with self._lock:
            return self._dpop_on

    def credentials(self) -> Credentials:
        """The secret as read now; parsed again only when its text changed."""
        text = self._secret()
        with self._lock:
            if text != self._text or self._credentials is None:
                credentials = read_credentials(text)
                self._text, self._credentials = text, credentials
                self._token = None
                self._token_nonce = self._resource_nonce = None
                self._dpop_on = isinstance(credentials, ServiceAppKey) and credentials.dpop
            return self._credentials

    def _used(self) -> Credentials | None:
        """The credentials of the last request: a refusal is about them, and the secret is not read again."""
        with self._lock:
            return self._credentials

    def authorize(self, request: httpx.Request) -> None:
        """Set the request's ``Authorization`` header, and its ``DPoP`` proof for a DPoP-bound token."""
        credentials = self.credentials()
        if isinstance(credentials, SswsToken):
            request.headers["Authorization"] = f"SSWS {credentials.token}"
            return
        token = self._current_token(credentials)
        if token.dpop:
            request.headers["Authorization"] = f"DPoP {token.value}"
            with self._lock:
                nonce = self._resource_nonce
            request.headers["DPoP"] = self._proof(request.method, request.url, nonce=nonce, token=token.value)
        else:
            request.headers["Authorization"] = f"Bearer {token.value}"
            request.headers.pop("DPoP", None)

    def retry_refused(self, request: httpx.Request, response: httpx.Response) -> bool:
        """After a 401 from a resource: whether sending the request once more may succeed.

        A nonce the resource server asks for is kept for the retry [RFC9449 §9]; any other
        401 to a service app's token drops that token, so the retry asks Okta for a new one.
        An API token is as good the second time as the first: no retry.
        """
        if response.status_code != 401 or not isinstance(self._used(), ServiceAppKey):
            return False
        challenge = _challenge(response)
        nonce = response.headers.get("DPoP-Nonce")
        with self._lock:
            if challenge.get("error") == "use_dpop_nonce" and nonce:
                self._resource_nonce = nonce
                return True
            used = request.headers.get("Authorization", "").partition(" ")[2]
            if self._token is not None and self._token.value == used:
                self._token = None
            return True

    def observe(self, response: httpx.Response) -> None:
        """Keep a nonce a resource server hands out with any answer, for the next proof [RFC9449 §9]."""
        nonce = response.headers.get("DPoP-Nonce")
        if nonce:
            with self._lock:
                self._resource_nonce = nonce

    def refusal(self, response: httpx.Response) -> str | None:
        """What a 401 or 403 from a resource means for a service app, or ``None`` with an API token.

        Okta says a missing scope in the challenge (``insufficient_scope`` with the scope the
        route needs) [SDK-ISSUES]; a 403 ``E0000006`` to a token that has its scopes means
        the app's admin role does not cover the read [SVC].
        """
        if not isinstance(self._used(), ServiceAppKey):
            return None
        challenge = _challenge(response)
        error = challenge.get("error")
        if error == "insufficient_scope":
            scope = challenge.get("scope") or "the scope this read needs"
            return (
                f"the service app's token lacks {scope}: grant it on the app's Okta API Scopes tab "
                "(the product asks for it, Okta did not include it)"
            )
        if response.status_code == 403:
            return (
                "the service app has no admin role that may make this read: assign it the "
                "Read-Only Administrator role (Admin roles tab of the app)"
            )
        if error:
            description = challenge.get("error_description") or ""
            return _clip(f"Okta refused the service app's token: {error} {description}".strip())
        return None

    def status(self) -> AuthStatus:
        """The mode, and for a service app a token's scopes and DPoP: obtains a token to find out."""
        credentials = self.credentials()
        if isinstance(credentials, SswsToken):
            return AuthStatus(AuthMode.SSWS)
        token = self._current_token(credentials)
        return AuthStatus(
            AuthMode.OAUTH,
            client_id=credentials.client_id,
            key_id=credentials.key_id,
            scopes=token.scopes,
            dpop=token.dpop,
        )

    # ------------------------------------------------------------------ tokens

    def _current_token(self, credentials: ServiceAppKey) -> _AccessToken:
        with self._lock:
            token = self._token
            if token is None or self._clock() >= token.expires_at - RENEW_BEFORE_SECONDS:
                token = self._request_token(credentials)
                self._token = token
            return token

    def _request_token(self, credentials: ServiceAppKey) -> _AccessToken:
        """Ask the token endpoint, following its DPoP demands (switch on, nonce) a few times at most."""
        response: httpx.Response | None = None
        for _attempt in range(MAX_TOKEN_ATTEMPTS):
            response = self._post_token(credentials)
            nonce = response.headers.get("DPoP-Nonce")
            if nonce:
                self._token_nonce = nonce
            if response.is_success:
                return self._parse_token(response)
            error = _oauth_error(response)
            if error == "invalid_dpop_proof" and not self._dpop_on:
                self._dpop_on = True  # "Require DPoP" is ticked on the app
                continue
            if error == "use_dpop_nonce" and self._dpop_on and nonce:
                continue
            break
        assert response is not None
        raise self._token_error(response, credentials)

    def _post_token(self, credentials: ServiceAppKey) -> httpx.Response:
        http = self._token_client()
        now = int(self._clock())
        claims = {
            "iss": credentials.client_id,
            "sub": credentials.client_id,
            "aud": self.token_url,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
            "jti": uuid.uuid4().hex,
        }
        assertion = jwt.encode(
            claims,
            credentials.private_key,
            algorithm=credentials.algorithm,
            headers={"kid": credentials.key_id},
        )
        form = {
            "grant_type": "client_credentials",
            "scope": " ".join(self._scopes),
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion,
        }
        headers = {"Accept": "application/json"}
        if self._dpop_on:
            headers["DPoP"] = self._proof(
                "POST", httpx.URL(self.token_url), nonce=self._token_nonce, token=None
            )
        request = http.build_request("POST", self.token_url, data=form, headers=headers)
        return send(http, SERVICE, "token", request)

    def _parse_token(self, response: httpx.Response) -> _AccessToken:
        try:
            body = response.json()
        except ValueError:
            raise TransientError(
                SERVICE, "token", "unreadable token response", status=response.status_code
            ) from None
        value = body.get("access_token") if isinstance(body, dict) else None
        token_type = str(body.get("token_type", "")) if isinstance(body, dict) else ""
        if not isinstance(value, str) or not value or token_type.lower() not in {"bearer", "dpop"}:
            raise AuthError(SERVICE, "token", "the token response holds no usable access token")
        lifetime = body.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 3600.0
        granted = body.get("scope")
        scopes = tuple(granted.split()) if isinstance(granted, str) else self._scopes
        dpop = token_type.lower() == "dpop"
        if dpop:
            self._dpop_on = True
        return _AccessToken(value=value, dpop=dpop, expires_at=self._clock() + seconds, scopes=scopes)

    def _token_error(self, response: httpx.Response, credentials: ServiceAppKey) -> UpstreamError:
        """The token endpoint's refusal as the error that carries the next step, said plainly."""
        status = response.status_code
        error = _oauth_error(response) or ""
        description = _clip(_oauth_description(response))
        if status == 429:
            wait = rate_limit_reset_seconds(response.headers.get("X-Rate-Limit-Reset"), now=self._clock())
            if wait is None:
                wait = retry_after_seconds(response.headers.get("Retry-After"))
            return ThrottledError(
                SERVICE, "token", "token endpoint rate limited", status=status, retry_after=wait
            )
        if status >= 500:
            return TransientError(
                SERVICE, "token", f"token endpoint error: {description or status}", status=status
            )
        if error == "invalid_client" and "kid" in description.lower():
            detail = (
                f"Okta does not know key id {credentials.key_id} for service app {credentials.client_id}: "
                "add the public key to the app (tvsync okta-key prints it), or fix key_id in the secret"
            )
        elif error == "invalid_client":
            detail = (
                f"Okta refused service app {credentials.client_id} ({description or error}): check client_id "
                "in the secret, and that the app authenticates with Public key/Private key"
            )
        elif error == "invalid_scope":
            detail = (
                f"the service app {credentials.client_id} is not granted {' '.join(self._scopes)} "
                f"({description or error}): grant them on the app's Okta API Scopes tab"
            )
        elif error in {"invalid_dpop_proof", "use_dpop_nonce"}:
            detail = f"Okta refused the DPoP proof ({error}: {description})"
        else:
            detail = f"Okta refused the token request ({error or status}: {description})".replace(": )", ")")
        return AuthError(SERVICE, "token", detail, status=status)

    def _token_client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                transport=self._transport,
                timeout=self._timeout,
                headers={"User-Agent": "okta-teamviewer-sync"},
                follow_redirects=False,
            )
        return self._http

    # ------------------------------------------------------------------ DPoP

    def _proof(self, method: str, url: httpx.URL, *, nonce: str | None, token: str | None) -> str:
        """A DPoP proof for one request [RFC9449 §4.2]: ``htu`` without query or fragment."""
        with self._lock:
            if self._dpop_key is None:
                self._dpop_key = ec.generate_private_key(ec.SECP256R1())
                jwk = jwt.algorithms.ECAlgorithm.to_jwk(self._dpop_key.public_key(), as_dict=True)
                self._dpop_jwk = {name: jwk[name] for name in ("kty", "crv", "x", "y")}
            key, jwk_public = self._dpop_key, self._dpop_jwk
        claims: dict[str, Any] = {
            "jti": uuid.uuid4().hex,
            "htm": method.upper(),
            "htu": str(url.copy_with(query=None, fragment=None)),
            "iat": int(self._clock()),
        }
        if nonce:
            claims["nonce"] = nonce
        if token is not None:
            claims["ath"] = _b64url(hashlib.sha256(token.encode("ascii")).digest())
        return jwt.encode(
            claims, key, algorithm=_DPOP_ALGORITHM, headers={"typ": "dpop+jwt", "jwk": jwk_public}
        )


# ---------------------------------------------------------------------------- helpers


def _credentials_error(detail: str) -> AuthError:
    return AuthError(SERVICE, "read_credentials", detail)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _clip(text: str) -> str:
    return text[:_MAX_DETAIL]


def _oauth_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _oauth_error(response: httpx.Response) -> str | None:
    error = _oauth_body(response).get("error")
    return error if isinstance(error, str) else None


def _oauth_description(response: httpx.Response) -> str:
    description = _oauth_body(response).get("error_description")
    return description if isinstance(description, str) else ""


def _challenge(response: httpx.Response) -> dict[str, str]:
    """The parameters of the ``WWW-Authenticate`` challenge (``Bearer …`` or ``DPoP …``) [RFC6750]."""
    header = response.headers.get("WWW-Authenticate", "")
    _scheme, _, rest = header.partition(" ")
    found: dict[str, str] = {}
    for match in _CHALLENGE_PARAM.finditer(rest):
        quoted, bare = match.group(2), match.group(3)
        found.setdefault(match.group(1), quoted.replace('\\"', '"') if quoted is not None else bare)
    return found
