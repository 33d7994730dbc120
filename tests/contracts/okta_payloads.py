"""pytest plugin: every Okta emulator response validates with the okta SDK's models.

The Okta emulator is what the whole suite believes Okta to be. Okta's own SDK models,
generated from Okta's management OpenAPI spec [SPEC], are an implementation that owes the
emulator nothing, so every body the emulator sends during the suite is held against them
(see ``tests.contracts.okta_sdk`` for what is checked beyond the SDK's own validation):

- ``GET /api/v1/users/{id}`` — ``User``; ``GET /api/v1/users`` and
  ``GET /api/v1/groups/{id}/users`` — a list of ``User``;
- ``GET /api/v1/apps/{app}/users/{id}`` — ``AppUser``, and ``GET /api/v1/apps/{app}/users`` a
  list of them, with ``_embedded.user`` a ``User`` when ``expand=user`` asked for it;
- ``GET /api/v1/groups/{id}`` — ``Group``, and ``GET /api/v1/users/{id}/groups`` a list of
  them; the ``profile`` is the one its ``objectClass`` names [SPEC] (``okta:user_group``: an
  ``OktaUserGroupProfile``, ``okta:windows_security_principal``: an
  ``OktaActiveDirectoryGroupProfile``), and a group made in Okta or built in has the first;
- every 4xx/5xx — the SDK's ``Error``, with the fields Okta's error-code list says every
  error carries; except the org authorization server (``/oauth2/…``), which answers in
  OAuth 2.0's shapes, and a bodiless 401/403 challenge to a service app's token.

``OktaEmulator.dispatch`` is wrapped once per session, so in-process transports and the
loopback servers the tests start (whose threads call the same method) are both covered;
emulators in other processes (the spawned worker, ``make demo``) are not. Violations are
collected and fail the test that caused them at its teardown, naming the request path and
the fault. A test that means to provoke one takes it back with the ``okta_contract``
fixture.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest
from okta.models import (
    AppUser,
    Error,
    Group,
    OktaActiveDirectoryGroupProfile,
    OktaUserGroupProfile,
    User,
)
from pydantic import BaseModel, ConfigDict, Field

from tests.contracts.okta_sdk import violations
from tvsync.adapters.okta_client import OktaGroupBody
from tvsync.emulators.okta import OktaEmulator
from tvsync.models.okta import OktaAppUser, OktaUser

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tvsync.emulators.http import EmulatorRequest, EmulatorResponse, InjectedFault

#: Violations listed in one failure message; the rest are counted.
_SHOWN = 20

#: A group's ``objectClass`` decides which profile it has [SPEC].
GROUP_PROFILES: dict[str, type[BaseModel]] = {
    "okta:user_group": OktaUserGroupProfile,
    "okta:windows_security_principal": OktaActiveDirectoryGroupProfile,
}
#: Groups made in Okta, and Okta's own (``Everyone``), have Okta's group profile [SPEC].
_OKTA_GROUP_TYPES = frozenset({"OKTA_GROUP", "BUILT_IN"})


class OktaErrorBody(BaseModel):
    """The fields Okta's error-code list says every error body carries (``errorCauses`` optional)."""

    model_config = ConfigDict(extra="ignore")

    error_code: str = Field(alias="errorCode")
    error_summary: str = Field(alias="errorSummary")
    error_link: str = Field(alias="errorLink")
    error_id: str = Field(alias="errorId")


class OktaContract:
    """What the Okta emulator sent that Okta's SDK models refuse, collected across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: list[str] = []

    def check(self, request: EmulatorRequest, response: EmulatorResponse) -> None:
        """Hold one response against the SDK model its request path calls for."""
        problems = response_violations(request, response)
        if problems:
            where = f"{request.method} {request.path} -> {response.status}"
            with self._lock:
                self._found.extend(f"{where}: {problem}" for problem in problems)

    def take(self) -> list[str]:
        """The violations collected so far; they are no longer held against the test."""
        with self._lock:
            found, self._found = self._found, []
        return found

    def assert_clean(self) -> None:
        """Fail the current test with every violation collected, then forget them."""
        found = self.take()
        if found:
            shown = "\n".join(found[:_SHOWN])
            more = f"\n... and {len(found) - _SHOWN} more" if len(found) > _SHOWN else ""
            pytest.fail(
                f"the Okta emulator sent {len(found)} body(ies) Okta's SDK models refuse:\n{shown}{more}",
                pytrace=False,
            )


def response_violations(request: EmulatorRequest, response: EmulatorResponse) -> list[str]:  # noqa: PLR0911 - one per route
    """Everything wrong with one emulator response, by the SDK model its path calls for."""
    body = response.body
    if request.path.startswith("/oauth2/"):
        return _oauth_violations(response)
    if response.status in (401, 403) and body is None and "WWW-Authenticate" in response.headers:
        return []  # a bare challenge: a service app's token lacks a scope, or its DPoP proof is refused
    if response.status >= 400:
        return violations(Error, body, ours=OktaErrorBody)
    segments = request.path.strip("/").split("/")
    if segments[:2] != ["api", "v1"]:
        return []
    embeds_user = request.query.get("expand") == "user"
    match segments[2:]:
        case ["users", _]:
            return violations(User, body, ours=OktaUser)
        case ["users"] | ["groups", _, "users"]:
            return _each(body, lambda item, where: violations(User, item, ours=OktaUser, where=where))
        case ["apps", _, "users", _]:
            return _app_user(body, embeds_user, "$")
        case ["apps", _, "users"]:
            return _each(body, lambda item, where: _app_user(item, embeds_user, where))
        case ["groups", _]:
            return group_violations(body, "$")
        case ["users", _, "groups"]:
            return _each(body, group_violations)
        case _:
            return []


def _oauth_violations(response: EmulatorResponse) -> list[str]:
    """The org authorization server answers in OAuth 2.0's shapes (RFC 6749 §5.1, §5.2)."""
    body = response.body if isinstance(response.body, dict) else {}
    wanted: tuple[str, ...]
    if response.status >= 400:
        wanted = ("error", "error_description")
    else:
        wanted = ("token_type", "access_token", "expires_in", "scope")
    return [f"$.{name}: missing from an OAuth 2.0 answer" for name in wanted if name not in body]


def group_violations(body: Any, where: str) -> list[str]:
    """A ``Group`` whose profile is the one its ``objectClass`` names, with what the client reads."""
    found = violations(Group, body, ours=OktaGroupBody, where=where)
    if not isinstance(body, dict):
        return found
    classes = body.get("objectClass")
    if not (isinstance(classes, list) and len(classes) == 1 and classes[0] in GROUP_PROFILES):
        found.append(f"{where}.objectClass: not one group profile class the SDK describes")
        return found
    if body.get("type") in _OKTA_GROUP_TYPES and classes != ["okta:user_group"]:
        found.append(f"{where}.objectClass: a group of type {body.get('type')} has Okta's group profile")
    profile = body.get("profile")
    if profile is not None:
        specific = violations(GROUP_PROFILES[classes[0]], profile, where=f"{where}.profile")
        found.extend(problem for problem in specific if problem not in found)
    return found


def _each(body: Any, check: Callable[[Any, str], list[str]]) -> list[str]:
    if not isinstance(body, list):
        return [f"$: expected a JSON array, got {type(body).__name__}"]
    return [problem for index, item in enumerate(body) for problem in check(item, f"$[{index}]")]


def _app_user(body: Any, embeds_user: bool, where: str) -> list[str]:
    found = violations(AppUser, body, ours=OktaAppUser, where=where)
    if not isinstance(body, dict):
        return found
    user = (body.get("_embedded") or {}).get("user")
    if embeds_user and user is None:
        found.append(f"{where}._embedded.user: missing although expand=user was asked for")
    elif not embeds_user and user is not None:
        found.append(f"{where}._embedded.user: embedded although expand=user was not asked for")
    if user is not None:
        found.extend(violations(User, user, ours=OktaUser, where=f"{where}._embedded.user"))
    return found


@pytest.fixture(scope="session", autouse=True)
def _okta_contract_installed() -> Iterator[OktaContract]:
    """Wrap ``OktaEmulator.dispatch`` for the whole session: one check per response sent."""
    contract = OktaContract()
    original = OktaEmulator.dispatch

    def dispatch(
        self: OktaEmulator, request: EmulatorRequest
    ) -> tuple[EmulatorResponse | None, InjectedFault | None]:
        response, fault = original(self, request)
        if response is not None:  # None: a fault swallowed it, nothing reached the client
            contract.check(request, response)
        return response, fault

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(OktaEmulator, "dispatch", dispatch)
        yield contract


@pytest.fixture
def okta_contract(_okta_contract_installed: OktaContract) -> OktaContract:
    """The session's collector, for a test that provokes violations and takes them back."""
    return _okta_contract_installed


@pytest.fixture(autouse=True)
def _okta_payloads_hold(_okta_contract_installed: OktaContract) -> Iterator[None]:
    """Fail the test at teardown if the emulator sent it anything the SDK models refuse."""
    yield
    _okta_contract_installed.assert_clean()
