"""The Okta service-app benchmark: what reading Okta with OAuth 2.0 costs, per event and at a cold start.

Two measurements, against the Okta emulator over loopback HTTP (its token endpoint checks
the client assertion's signature and the DPoP proofs as Okta would):

- **calls per event** — the real ``functions/worker/app.py`` in one warm container handles
  one create event per user, one event per invocation, twice: once with an API token in
  ``OktaApiTokenSecret`` (SSWS) and once with a service app's key (OAuth, "Require DPoP"
  ticked on the app, as Okta ticks it for a new app). Counted from the emulator's call log:
  Okta API calls per event (the same in both modes), and requests to the token endpoint —
  all of them (the DPoP handshake included) and the tokens issued. The goal is at most one
  token per container per token lifetime (an hour at Okta): one for the whole run.
- **cold start** — a fresh authorizer (what a new Lambda container has) reading one user:
  the first read pays for the token (client assertion, DPoP handshake), later reads do not.
  Reported: the extra wall time of the first read over a warm one, p50 and p95, for an RSA
  and an EC key, with and without DPoP; and the time a fresh interpreter takes to import
  PyJWT and cryptography, which the Lambda layer now ships.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass

from bench.common import BenchmarkFailure, markdown_table, ms, percentile, verdict
from bench.worker_bench import APP_ID, OKTA_TOKEN, _people, running_worker
from tvsync.adapters.okta_auth import OktaAuthorizer, okta_scopes
from tvsync.adapters.okta_client import OktaClient
from tvsync.emulators.http import serve
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.okta_oauth import TOKEN_PATH, ServiceAppKeyPair

NAME = "okta_oauth"
CLIENT = "0oabenchservice00001"
DEFAULT_EVENTS = 40
DEFAULT_COLD_STARTS = 20
IMPORT_RUNS = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("okta_oauth benchmark")
    group.add_argument(
        "--okta-oauth-events",
        type=int,
        default=DEFAULT_EVENTS,
        metavar="N",
        help=f"create events per mode, one per invocation (default {DEFAULT_EVENTS})",
    )
    group.add_argument(
        "--okta-oauth-cold-starts",
        type=int,
        default=DEFAULT_COLD_STARTS,
        metavar="N",
        help=f"fresh authorizers per key type and DPoP setting (default {DEFAULT_COLD_STARTS})",
    )


def run(args: argparse.Namespace) -> str:
    calls = [measure_calls(mode, events=args.okta_oauth_events) for mode in ("ssws", "oauth")]
    starts = [
        measure_cold_start(ec_key=ec_key, dpop=dpop, runs=args.okta_oauth_cold_starts)
        for ec_key in (False, True)
        for dpop in (False, True)
    ]
    return render(calls, starts, import_seconds())


# ---------------------------------------------------------------------------- calls per event


@dataclass(frozen=True)
class CallsResult:
    mode: str
    events: int
    okta_calls: int
    token_requests: int
    tokens_issued: int

    @property
    def per_event(self) -> float:
        return self.okta_calls / self.events


def measure_calls(mode: str, *, events: int) -> CallsResult:
    okta = OktaEmulator(OKTA_TOKEN)
    key = ServiceAppKeyPair.generate()
    okta.register_service_app(CLIENT, key.public_jwk, scopes=okta_scopes(groups=False), require_dpop=True)
    with running_worker(okta=okta) as harness:
        if mode == "oauth":  # read lazily: stored before the first event, the container uses it
            harness.aws.client("secretsmanager").put_secret_value(
                SecretId=harness.aws.resources.refs["OktaApiTokenSecret"], SecretString=key.secret(CLIENT)
            )
        people = _people(okta, mode, events)
        for user in people:
            okta.assign(APP_ID, user.okta_id)
        harness.enqueue(people, "user.lifecycle.create")
        invocations = harness.drain(1)
    if sum(i.events for i in invocations) != events:
        raise BenchmarkFailure(
            f"{mode}: the worker saw {sum(i.events for i in invocations)} of {events} events"
        )
    token = [c for c in okta.calls if c.path == TOKEN_PATH]
    api = [c for c in okta.calls if c.path != TOKEN_PATH]
    if any(c.status != 200 for c in api):
        raise BenchmarkFailure(f"{mode}: Okta refused {sum(c.status != 200 for c in api)} API calls")
    return CallsResult(
        mode=mode,
        events=events,
        okta_calls=len(api),
        token_requests=len(token),
        tokens_issued=sum(1 for c in token if c.status == 200),
    )


# ---------------------------------------------------------------------------- cold start


@dataclass(frozen=True)
class ColdStart:
    key: str
    dpop: bool
    extra_seconds: tuple[float, ...]
    token_requests: int

    @property
    def p50(self) -> float:
        return percentile(self.extra_seconds, 50)

    @property
    def p95(self) -> float:
        return percentile(self.extra_seconds, 95)


def measure_cold_start(*, ec_key: bool, dpop: bool, runs: int) -> ColdStart:
    okta = OktaEmulator(OKTA_TOKEN)
    user = str(okta.add_user("bench.cold@example.com", "Bench", "Cold")["id"])
    key = ServiceAppKeyPair.generate(ec_key=ec_key)
    okta.register_service_app(CLIENT, key.public_jwk, require_dpop=dpop)
    secret = key.secret(CLIENT)
    extra: list[float] = []
    with serve(okta) as server:
        for _ in range(runs):
            authorizer = OktaAuthorizer(server.url, lambda: secret, scopes=okta_scopes(groups=False))
            with OktaClient(server.url, authorizer) as client:
                started = time.perf_counter()
                client.get_user(user)
                first = time.perf_counter() - started
                started = time.perf_counter()
                client.get_user(user)
                warm = time.perf_counter() - started
            extra.append(max(0.0, first - warm))
    issued = okta.oauth.issued.get(CLIENT, 0)
    if issued != runs:
        raise BenchmarkFailure(f"{runs} fresh authorizers got {issued} tokens")
    requests = sum(1 for c in okta.calls if c.path == TOKEN_PATH)
    return ColdStart(
        key="EC P-256 (ES256)" if ec_key else "RSA 2048 (RS256)",
        dpop=dpop,
        extra_seconds=tuple(extra),
        token_requests=requests // runs,
    )


def import_seconds() -> float:
    """p50 of a fresh interpreter importing PyJWT and the cryptography modules the authorizer uses."""
    code = (
        "import time; t = time.perf_counter(); import jwt; "
        "from cryptography.hazmat.primitives.asymmetric import ec, rsa; "
        "from cryptography.hazmat.primitives import serialization; "
        "print(time.perf_counter() - t)"
    )
    runs = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(IMPORT_RUNS)
    ]
    return percentile(runs, 50)


# ---------------------------------------------------------------------------- report


def render(calls: list[CallsResult], starts: list[ColdStart], imports: float) -> str:
    ssws, oauth = calls
    same = oauth.okta_calls == ssws.okta_calls
    amortised = oauth.tokens_issued <= 1
    call_rows = [
        [
            "API token (SSWS)" if c.mode == "ssws" else "service app (OAuth, DPoP required)",
            c.events,
            f"{c.per_event:.2f}",
            c.token_requests,
            c.tokens_issued,
        ]
        for c in calls
    ]
    start_rows = [[s.key, "yes" if s.dpop else "no", s.token_requests, ms(s.p50), ms(s.p95)] for s in starts]
    return "\n".join(
        [
            "### Okta as a service app",
            "",
            "Warm `functions/worker/app.py`, one create event per invocation, the Okta emulator on "
            "loopback checking assertions and DPoP proofs as Okta does.",
            "",
            markdown_table(
                ["Okta credentials", "events", "Okta API calls / event", "token requests", "tokens issued"],
                call_rows,
            ),
            "",
            f"- Okta API calls per event, OAuth vs SSWS: {oauth.per_event:.2f} vs {ssws.per_event:.2f} "
            f"{verdict(same)} (the same calls; the token is a header)",
            f"- Tokens per container and token lifetime: {oauth.tokens_issued} (goal ≤ 1) "
            f"{verdict(amortised)}; {oauth.token_requests} token-endpoint requests in all "
            "(DPoP: proof missing, nonce, token)",
            "",
            "Cold start: the first read of a fresh authorizer (a new container) over a warm read, "
            f"{len(starts[0].extra_seconds)} fresh authorizers each:",
            "",
            markdown_table(["key", "DPoP", "token requests", "extra p50 (ms)", "extra p95 (ms)"], start_rows),
            "",
            f"- Importing PyJWT and cryptography in a fresh interpreter: {ms(imports, 1)} ms "
            f"(p50 of {IMPORT_RUNS})",
        ]
    )
