"""pytest plugin: every SCIM body exchanged with the TeamViewer emulator validates with scim2-models.

The emulator is the only SCIM server most tests meet, so what it accepts is what the client
is allowed to send, and what it answers is what the client learns to read. An emulator
kinder than a real SCIM server hides client bugs (the client's paging and its reading of
``active`` were both wrong, and only a real server showed it). So the emulator itself is
held against SCIM's own models, during every test of the suite:

- each SCIM request body it **accepts** (a 2xx answer) validates as the message it is: a
  User for POST (creation request) and PUT (replacement request), a ``PatchOp[User]`` for
  PATCH — with [SCIM]'s SsoUser extension known, nothing else;
- each SCIM response body it **sends** validates: a User, a ``ListResponse[User]`` or an
  ``Error``;
- on top of scim2-models, rules it leaves to the caller: a body names in ``schemas`` every
  extension whose attributes it carries (RFC 7643 §3; scim2-models reads the attributes
  without it), an Error's ``status`` is the HTTP status as a JSON string and its
  ``scimType`` one RFC 7644 §3.12 defines (the vocabulary is read from scim2-models'
  exception classes), ``itemsPerPage`` counts the Resources sent (RFC 7644 §3.4.2), and a
  SCIM body travels as ``application/scim+json`` (RFC 7644 §8.1).

Coverage: ``TeamViewerEmulator.dispatch`` is wrapped for the length of each test, so every
request in the test process is seen — in-process transports and loopback servers alike
(their handler threads call ``dispatch``). Servers in a subprocess (``tvsync serve`` in the
e2e tests) run their own interpreter and are not.

Skipped, because they are not SCIM bodies by design: answers that an injected fault decided
(a gateway's error page) and [PDF] §5.1's ``403 rate_limit_reached``, the v1 error body that
is the only rate-limit answer TeamViewer documents.

Violations are collected, from any thread, and fail the test at teardown with the method,
the path, which body and scim2-models' error (locations and messages, never the values).

Cost: the models are built once, at import. scim2-models spends about half a millisecond on
a User, so each distinct User body is validated once per context and its verdict kept (the
same users come back page after page, run after run): a reconcile test that lists a
thousand-user company adds about half a second the first time, almost nothing after.

Test data uses the reserved ``.test`` domain, and the filter-escaping tests use quoted local
parts (RFC 5321 §4.1.2) to carry ``"`` and ``\\``; email-validator refuses both by default,
so its two documented switches for them are turned on for the test process.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import email_validator
import pytest
from pydantic import ValidationError
from scim2_models import URN, Context, Error, Extension, ListResponse, PatchOp, SCIMException, User

from tvsync.emulators.teamviewer import SCIM_CONTENT_TYPE, SSO_USER_SCHEMA, TeamViewerEmulator

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from tvsync.emulators.http import EmulatorRequest, EmulatorResponse, InjectedFault

email_validator.TEST_ENVIRONMENT = True
email_validator.ALLOW_QUOTED_LOCAL = True


class SsoUser(Extension):
    """[SCIM]'s TeamViewer extension: one attribute, ``ssoCustomerId``, applied on create."""

    __schema__ = URN(SSO_USER_SCHEMA)

    sso_customer_id: str | None = None


#: Built once, at import: parameterising a scim2-models class builds a new pydantic model.
SCIM_USER: Final = User[SsoUser]
SCIM_LIST: Final = ListResponse[User[SsoUser]]
SCIM_PATCH: Final = PatchOp[User[SsoUser]]

SCIM_USERS_PATH: Final = "/scim/v2/Users"


def _scim_types() -> frozenset[str]:
    """Every ``scimType`` keyword scim2-models knows (RFC 7644 §3.12, RFC 9865)."""
    found: set[str] = set()
    pending: list[type[SCIMException]] = [SCIMException]
    while pending:
        cls = pending.pop()
        if cls.scim_type:
            found.add(cls.scim_type)
        pending.extend(cls.__subclasses__())
    return frozenset(found)


SCIM_TYPES: Final = _scim_types()

_REQUEST_CONTEXTS: Final = {
    "POST": Context.RESOURCE_CREATION_REQUEST,
    "PUT": Context.RESOURCE_REPLACEMENT_REQUEST,
}
_RESPONSE_CONTEXTS: Final = {
    "GET": Context.RESOURCE_QUERY_RESPONSE,
    "POST": Context.RESOURCE_CREATION_RESPONSE,
    "PUT": Context.RESOURCE_REPLACEMENT_RESPONSE,
    "PATCH": Context.RESOURCE_REPLACEMENT_RESPONSE,
}


Problem = tuple[str, str]
"""Where (an attribute path, ``""`` for the body itself) and what."""

#: Verdicts on User bodies already seen, by (canonical JSON, context); bounded, thread-safe.
_VERDICTS: dict[tuple[str, Context], tuple[Problem, ...]] = {}
_VERDICTS_LOCK = threading.Lock()
_MAX_VERDICTS = 100_000


@dataclass(frozen=True)
class Violation:
    """One body the emulator should have refused (a request) or never sent (a response)."""

    method: str
    path: str
    body: str
    """Which body: ``request`` or ``response <status>``."""
    problem: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.body}): {self.problem}"


class ScimPayloadLog:
    """The violations seen during one test, from the test's thread and from server threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._violations: list[Violation] = []
        self.checked = 0
        """How many exchanges were looked at, so a test can prove the plugin saw its calls."""

    @property
    def violations(self) -> list[Violation]:
        with self._lock:
            return list(self._violations)

    def clear(self) -> None:
        """Forget what was seen: for a test that provoked violations on purpose."""
        with self._lock:
            self._violations.clear()

    def check(
        self, request: EmulatorRequest, response: EmulatorResponse | None, fault: InjectedFault | None
    ) -> None:
        """Hold one exchange against the SCIM models; never raises into the emulator."""
        path = request.path.rstrip("/")
        if not path.startswith("/scim/") or response is None or fault is not None:
            return
        try:
            found = _check_exchange(request, path, response)
        except Exception as exc:  # a checker bug must fail the test, not the server thread
            found = [Violation(request.method, path, "checker", f"{type(exc).__name__}: {exc}")]
        with self._lock:
            self.checked += 1
            self._violations.extend(found)

    def raise_if_violated(self) -> None:
        """Fail the running test with every violation, if there is any."""
        violations = self.violations
        if violations:
            listed = "\n".join(f"  - {violation}" for violation in violations)
            pytest.fail(
                f"the TeamViewer emulator exchanged {len(violations)} SCIM bodies that "
                f"scim2-models refuses:\n{listed}",
                pytrace=False,
            )


@pytest.fixture(autouse=True)
def scim_payloads(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScimPayloadLog]:
    """Check every SCIM exchange with the TeamViewer emulator during the test (see the module)."""
    log = ScimPayloadLog()
    dispatch = TeamViewerEmulator.dispatch

    def checked_dispatch(
        self: TeamViewerEmulator, request: EmulatorRequest
    ) -> tuple[EmulatorResponse | None, InjectedFault | None]:
        response, fault = dispatch(self, request)
        log.check(request, response, fault)
        return response, fault

    monkeypatch.setattr(TeamViewerEmulator, "dispatch", checked_dispatch)
    yield log
    log.raise_if_violated()


# ---------------------------------------------------------------------- the checks


def _check_exchange(request: EmulatorRequest, path: str, response: EmulatorResponse) -> list[Violation]:
    method = request.method.upper()
    violations: list[Violation] = []

    def add(which: str, problem: str) -> None:
        violations.append(Violation(method, path, which, problem))

    if 200 <= response.status < 300 and method in {"POST", "PUT", "PATCH"}:
        for problem in _request_problems(method, request.body):
            add("request", problem)
    if _is_v1_rate_limit(response):
        return violations
    if response.body is not None:
        for problem in _response_problems(method, path, response):
            add(f"response {response.status}", problem)
    return violations


def _is_v1_rate_limit(response: EmulatorResponse) -> bool:
    """[PDF] §5.1's rate-limit answer: 403 with a v1 body, the one TeamViewer documents."""
    body = response.body
    return response.status == 403 and isinstance(body, dict) and body.get("error") == "rate_limit_reached"


def _request_problems(method: str, raw: bytes) -> list[str]:
    try:
        body = json.loads(raw)
    except ValueError:
        return ["accepted a body that is not JSON"]
    if method == "PATCH":
        return _validation_problems(SCIM_PATCH, body, Context.RESOURCE_PATCH_REQUEST)
    return _user_problems(body, _REQUEST_CONTEXTS[method])


def _response_problems(method: str, path: str, response: EmulatorResponse) -> list[str]:
    problems: list[str] = []
    content_type = response.headers.get("Content-Type", response.content_type)
    if content_type.partition(";")[0].strip().lower() != SCIM_CONTENT_TYPE:
        problems.append(f"Content-Type {content_type!r}, not {SCIM_CONTENT_TYPE} (RFC 7644 §8.1)")
    body = response.body
    if response.status >= 400:
        problems += _error_problems(body, response.status)
    elif method == "GET" and path == SCIM_USERS_PATH:
        problems += _list_problems(body)
    else:
        problems += _user_problems(body, _RESPONSE_CONTEXTS.get(method, Context.RESOURCE_QUERY_RESPONSE))
    return problems


def _user_problems(body: Any, context: Context, where: str = "") -> list[str]:
    """A User body's problems, validated once per distinct body and context."""
    try:
        key = (json.dumps(body, sort_keys=True), context)
    except (TypeError, ValueError):  # not JSON-serialisable: validate without the cache
        return _format(_user_verdict(body, context), where)
    with _VERDICTS_LOCK:
        verdict = _VERDICTS.get(key)
    if verdict is None:
        verdict = _user_verdict(body, context)
        with _VERDICTS_LOCK:
            if len(_VERDICTS) >= _MAX_VERDICTS:
                _VERDICTS.clear()
            _VERDICTS[key] = verdict
    return _format(verdict, where)


def _user_verdict(body: Any, context: Context) -> tuple[Problem, ...]:
    return (*_validation_errors(SCIM_USER, body, context), *_extension_errors(body))


def _list_problems(body: Any) -> list[str]:
    """The envelope against ``ListResponse``, then each resource as a User (cached)."""
    resources = body.get("Resources") if isinstance(body, dict) else None
    if not isinstance(resources, list):
        return _validation_problems(SCIM_LIST, body, Context.SEARCH_RESPONSE)
    envelope = {**body, "Resources": []}
    problems = _validation_problems(SCIM_LIST, envelope, Context.SEARCH_RESPONSE)
    items = body.get("itemsPerPage")
    if items != len(resources):
        problems.append(f"itemsPerPage {items!r} but {len(resources)} Resources (RFC 7644 §3.4.2)")
    for index, resource in enumerate(resources):
        problems += _user_problems(resource, Context.SEARCH_RESPONSE, f"Resources.{index}")
    return problems


def _error_problems(body: Any, status: int) -> list[str]:
    problems = _validation_problems(Error, body, Context.DEFAULT)
    if not isinstance(body, dict):
        return problems
    if body.get("status") != str(status):
        problems.append(f"status {body.get('status')!r} is not the HTTP status {status} as a string")
    scim_type = body.get("scimType")
    if scim_type is not None and scim_type not in SCIM_TYPES:
        problems.append(f"scimType {scim_type!r} is none of RFC 7644's {sorted(SCIM_TYPES)}")
    return problems


def _extension_errors(body: Any) -> list[Problem]:
    """RFC 7643 §3: ``schemas`` names the schemas of the attributes present."""
    if not isinstance(body, dict):
        return []
    schemas = body.get("schemas")
    declared = set(schemas) if isinstance(schemas, list) else set()
    return [
        ("", f"{key} attributes are present but schemas does not name it (RFC 7643 §3)")
        for key in body
        if isinstance(key, str) and key.lower().startswith("urn:") and key not in declared
    ]


def _validation_errors(model: Any, body: Any, context: Context) -> list[Problem]:
    """scim2-models' errors with their locations (never the offending values)."""
    try:
        model.model_validate(body, scim_ctx=context)
    except ValidationError as exc:
        return [
            (".".join(str(part) for part in error["loc"]), error["msg"])
            for error in exc.errors(include_url=False, include_input=False)
        ]
    return []


def _validation_problems(model: Any, body: Any, context: Context) -> list[str]:
    return _format(_validation_errors(model, body, context))


def _format(problems: Iterable[Problem], where: str = "") -> list[str]:
    """``location: message``, the location under ``where`` (e.g. ``Resources.3``) when given."""
    formatted = []
    for location, message in problems:
        path = ".".join(part for part in (where, location) if part) or "body"
        formatted.append(f"{path}: {message}")
    return formatted
