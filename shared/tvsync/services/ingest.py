"""The ingest use case: authenticate, validate and queue one Okta event hook request.

``IngestService`` is plain Python (headers and bytes in, ``HookResponse`` out) so every
branch is testable without API Gateway; ``build_api`` wires it to Powertools' REST
resolver. The order of checks is deliberate: authenticate before reading the body, so an
unauthenticated caller learns nothing about what we accept; answer 503 — never 4xx — for
our own failures, because Okta retries 5xx and timeouts but drops a 4xx for good.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from pydantic import ValidationError

from tvsync.adapters.event_queue import EventQueue
from tvsync.adapters.secrets import RotatingSecret, SecretUnavailableError
from tvsync.core.event_selection import NO_GROUPS, select_events
from tvsync.core.groups import GroupConfig
from tvsync.models.okta_hook import EventHookDelivery

HOOK_PATH = "/okta/events"
CHALLENGE_HEADER = "x-okta-verification-challenge"
#: Okta documents no maximum delivery size, so we take what the platform passes on. Lambda
#: refuses a synchronous invocation whose payload — the whole proxy event, in which the body
#: is an escaped JSON string — exceeds 6 * 1024 * 1024 bytes, so no larger body reaches the
#: function through API Gateway (Okta's full-size events of about 1.9 kB escape to about
#: 2.1 kB: some 2,900 fit). A smaller limit would refuse, with a 413 Okta never retries,
#: deliveries AWS accepted. The check stays for every other way in (a direct invocation,
#: the local stack), and bounds what one request costs: a body this size parses in a
#: fraction of a second into some 25 MB of objects, and is queued well inside the budget
#: (docs/benchmarks.md).
MAX_BODY_BYTES = 6 * 1024 * 1024
MAX_CHALLENGE_LENGTH = 1024
#: Okta waits 3 s for an answer. No SQS call starts later than this after the request
#: arrived: past it, a 503 now is worth more than a 200 Okta has stopped waiting for.
QUEUE_BUDGET_SECONDS = 2.5


@dataclass(frozen=True)
class HookResponse:
    status: int
    body: dict[str, Any] | None = None

    @classmethod
    def error(cls, status: int, message: str) -> HookResponse:
        return cls(status, {"message": message})


UNAUTHORIZED = HookResponse.error(401, "Unauthorized")
UNAVAILABLE = HookResponse.error(503, "Service temporarily unavailable; retry later")


class HookAuthenticator:
    """Compares the configured header with the hook secret in constant time.

    The secret's current value is accepted, and for a grace period after a rotation its
    previous one too (``RotatingSecret``): Okta never retries a 401, so the minutes between
    updating the secret and updating Okta must not refuse anything. On a mismatch the cached
    values are re-read — at most once per ``refresh_interval`` so a flood of bad requests
    cannot hammer Secrets Manager — which makes a rotation take effect at once.
    """

    def __init__(
        self,
        secret: RotatingSecret,
        header: str,
        *,
        refresh_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret = secret
        self._header = header
        self._refresh_interval = refresh_interval
        self._clock = clock
        self._last_refresh: float | None = None

    def is_authentic(self, headers: Mapping[str, str]) -> bool:
        """True when the request carries the secret; raises ``SecretUnavailableError``."""
        # Surrounding whitespace is never part of a header value (RFC 9110, 5.5).
        presented = (_header(headers, self._header) or "").strip()
        if not presented:
            return False
        if _matches(presented, self._secret.values()):
            return True
        now = self._clock()
        if self._last_refresh is not None and now - self._last_refresh < self._refresh_interval:
            return False
        self._last_refresh = now
        return _matches(presented, self._secret.values(force=True))


class IngestService:
    """Turns one authenticated Okta delivery into queued sync requests."""

    def __init__(  # noqa: PLR0913 - collaborators and limits are injected by name, all keyword-only
        self,
        *,
        authenticator: HookAuthenticator,
        queue: EventQueue,
        app_id: str | None,
        logger: Logger,
        metrics: Metrics,
        groups: GroupConfig = NO_GROUPS,
        budget: float = QUEUE_BUDGET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``groups``: the pushed groups, whose events become requests about them (none by default)."""
        self._auth = authenticator
        self._queue = queue
        self._app_id = app_id
        self._groups = groups
        self._logger = logger
        self._metrics = metrics
        self._budget = budget
        self._clock = clock

    def verify(self, headers: Mapping[str, str]) -> HookResponse:
        """Okta's one-time verification GET: echo the challenge, after the same auth check.

        An answered verification is counted (``HookVerifications``): it dates when the hook
        was verified — the moment Okta starts delivering, or a re-verification after the URL
        or secret changed — on the dashboard beside the events that follow. It is also this
        request's only metric, without which Powertools warns on every verification that
        there was nothing to publish.
        """
        denied = self._authenticate(headers)
        if denied is not None:
            return denied
        challenge = _header(headers, CHALLENGE_HEADER)
        if not challenge or len(challenge) > MAX_CHALLENGE_LENGTH:
            return self._invalid("missing or oversized x-okta-verification-challenge header")
        self._metrics.add_metric(name="HookVerifications", unit=MetricUnit.Count, value=1)
        self._logger.info("Okta event hook verification answered")
        return HookResponse(200, {"verification": challenge})

    def deliver(self, headers: Mapping[str, str], body: bytes | None) -> HookResponse:
        """A delivery POST; ``body`` is ``None`` when API Gateway's base64 body did not decode."""
        deadline = self._clock() + self._budget
        denied = self._authenticate(headers)
        if denied is not None:
            return denied
        if body is None:
            return self._invalid("body is not valid base64")
        if len(body) > MAX_BODY_BYTES:
            self._metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
            self._logger.warning("Delivery refused: body too large", extra={"body_bytes": len(body)})
            return HookResponse.error(413, f"body larger than {MAX_BODY_BYTES} bytes")
        delivery, problem = _parse_delivery(body)
        if delivery is None:
            return self._invalid(problem)
        if delivery.event_id:
            self._logger.set_correlation_id(delivery.event_id)
        return self._queue_delivery(delivery, deadline)

    def _queue_delivery(self, delivery: EventHookDelivery, deadline: float) -> HookResponse:
        selection = select_events(delivery, app_id=self._app_id, groups=self._groups)
        received = len(delivery.data.events)
        self._metrics.add_metric(name="EventsReceived", unit=MetricUnit.Count, value=received)
        self._metrics.add_metric(name="EventsIgnored", unit=MetricUnit.Count, value=len(selection.dropped))
        for reason, count in selection.dropped_by_reason().items() if not is_metrics_disabled() else ():
            with single_metric(
                name="EventsIgnored",
                unit=MetricUnit.Count,
                value=count,
                default_dimensions=self._metrics.default_dimensions,
            ) as metric:
                metric.add_dimension(name="reason", value=reason.value)
        for dropped in selection.dropped:
            self._logger.debug(
                "Event ignored",
                extra={
                    "event_uuid": dropped.uuid,
                    "event_type": dropped.event_type,
                    "reason": dropped.reason,
                },
            )
        outcome = self._queue.send(selection.kept, deadline=deadline)
        self._metrics.add_metric(name="EventsQueued", unit=MetricUnit.Count, value=len(outcome.queued))
        log = {
            "delivery_id": delivery.event_id,
            "events_received": received,
            "events_queued": len(outcome.queued),
            "events_ignored": len(selection.dropped),
            "sqs_calls": outcome.calls,
            "sqs_lanes": outcome.lanes,
        }
        if not outcome.complete:
            self._metrics.add_metric(name="EnqueueFailures", unit=MetricUnit.Count, value=len(outcome.failed))
            self._logger.error(
                "Events could not be queued; answering 503 so Okta redelivers",
                extra={**log, "failed_event_uuids": outcome.failed, "sqs_errors": outcome.errors},
            )
            return UNAVAILABLE
        self._logger.info("Delivery queued", extra=log)
        return HookResponse(200)

    def _authenticate(self, headers: Mapping[str, str]) -> HookResponse | None:
        try:
            authentic = self._auth.is_authentic(headers)
        except SecretUnavailableError as exc:
            # Our failure, not the caller's: 503 makes Okta retry instead of dropping events.
            self._logger.error("Hook secret unavailable", extra={"error": str(exc)})
            return UNAVAILABLE
        if authentic:
            return None
        caller = self._caller(headers)
        # The only metric of a refused request, so the dimension can go on the invocation's
        # set (a separate single_metric would leave that set empty, and Powertools warns
        # "No application metrics to publish" for every stray request).
        self._metrics.add_dimension(name="caller", value=caller)
        self._metrics.add_metric(name="AuthFailures", unit=MetricUnit.Count, value=1)
        user_agent = (_header(headers, "user-agent") or "")[:200]
        self._logger.warning(
            "Request refused: missing or wrong auth header",
            extra={"caller": caller, "user_agent": user_agent},
        )
        return UNAUTHORIZED

    @staticmethod
    def _caller(headers: Mapping[str, str]) -> str:
        """``okta`` when Okta sent the request, by its User-Agent; else ``other``.

        A refused request from Okta's hook service is a lost delivery (Okta never retries a
        401) and alarms at once; anyone else on the internet can reach the URL, and refusing
        them is the endpoint working. Okta sends ``Okta Hook Service v1.0.0 - <hook id>`` with
        deliveries [CRU] and ``Okta-Integrations`` with the verification request [SUP]; any
        ``Okta`` prefix counts, so a new version string still alarms. A User-Agent can be
        forged: this separates noise from lost events, it authenticates nothing.
        """
        return "okta" if (_header(headers, "user-agent") or "").lower().startswith("okta") else "other"

    def _invalid(self, reason: str) -> HookResponse:
        self._metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
        self._logger.warning("Request refused", extra={"reason": reason})
        return HookResponse.error(400, reason)


def _parse_delivery(body: bytes) -> tuple[EventHookDelivery | None, str]:
    if not body:
        return None, "empty body"
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, "body is not valid JSON"
    try:
        return EventHookDelivery.model_validate(payload), ""
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        return None, f"not an Okta event hook delivery: {where}: {first['msg']}"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # API Gateway preserves the caller's header case; HTTP header names are case-insensitive.
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _matches(presented: str, accepted: list[str]) -> bool:
    candidate = presented.encode("utf-8", "surrogatepass")
    # Compare against every accepted value (no early exit): timing reveals nothing.
    results = [hmac.compare_digest(candidate, value.encode("utf-8")) for value in accepted]
    return any(results)


def build_api(service: IngestService) -> APIGatewayRestResolver:
    """The REST routes API Gateway proxies to ``IngestFunction``."""
    app = APIGatewayRestResolver()

    def respond(result: HookResponse) -> Response[str]:
        return Response(
            status_code=result.status,
            content_type=content_types.APPLICATION_JSON,
            body=json.dumps(result.body) if result.body is not None else "",
        )

    @app.get(HOOK_PATH)
    def verify() -> Response[str]:
        return respond(service.verify(app.current_event.headers or {}))

    @app.post(HOOK_PATH)
    def deliver() -> Response[str]:
        event = app.current_event
        body = _raw_body(event.body, base64_encoded=bool(event.is_base64_encoded))
        return respond(service.deliver(event.headers or {}, body))

    return app


def _raw_body(body: str | None, *, base64_encoded: bool) -> bytes | None:
    if body is None:
        return b""
    if not base64_encoded:
        return body.encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None
