"""``tvsync check``: prove a stack's credentials and resources work, before Okta sends anything.

Okta's provisioning apps have a "Test API Credentials" button; this is ours, and it checks
everything the functions need, as the functions would use it — the same environment
(``tvsync.cli.context``), the same secrets, the same clients. A broken credential found
here costs a minute; found by the worker, it costs a queue of retries and an alarm.

Each check is a small function that returns a ``CheckResult``; ``run_checks`` runs them all
even when some fail (a wrong Okta token says nothing about the TeamViewer token), and
blanks every secret it read out of anything it prints.

TeamViewer rights are tested without changing anything: the TeamViewer adapter finds out
which of them the token has, and how it knows (``TeamViewerClient.probe_right`` for users,
``probe_group_right`` for user groups and roles, which explain the inference); the checks
only say what it found. The edit probes need something to aim their empty change at: the
token owner's account, and the company's first user group (with none yet, that check is
skipped — there is nothing to edit either).

The group checks apply only where groups are pushed: without ``PUSH_GROUP_IDS`` or
``GROUP_ROLE_MAP`` the product makes no group call, so a token without group rights is fine.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import httpx
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError
from rich.text import Text

from tvsync.adapters.errors import AuthError, ThrottledError, UpstreamError
from tvsync.adapters.okta_auth import AuthMode, OktaAuthorizer, okta_scopes
from tvsync.adapters.okta_client import OktaClient
from tvsync.adapters.teamviewer_client import (
    GroupRight,
    RightProbe,
    RightVerdict,
    TeamViewerClient,
    TokenOwner,
    UserRight,
)
from tvsync.cli.context import NO_STACK, StackContext, add_stack_arguments, resolve
from tvsync.cli.output import CliError, console, plural, print_json
from tvsync.core.groups import GroupConfig
from tvsync.models.groups import TeamViewerGroup
from tvsync.observability import mask_email
from tvsync.settings import DEFAULT_TEAMVIEWER_API_URL, function_variable

ORDER = 30
#: template.yaml seeds the TeamViewer and Okta token secrets with values starting like this.
PLACEHOLDER_PREFIX = "REPLACE_WITH_"
DEFAULT_TIMEOUT_SECONDS = 10.0
_MAX_DETAIL = 240
_T = TypeVar("_T")

DESCRIPTION = """\
Check that a stack can do its job, like Okta's "Test API Credentials" button:

  secrets      the Okta hook secret, TeamViewer token and Okta API token are readable
               from Secrets Manager and no longer hold the template's placeholder
  TeamViewer   the token is valid, and may read, create and edit users
               (tested with requests TeamViewer must refuse: nothing is changed)
  Okta         the secret's credentials are valid — an API token (SSWS) or a service app's
               key (OAuth: the scopes Okta granted, DPoP on or off) — and the TeamViewer
               app's users are readable
  groups       with groups pushed (PUSH_GROUP_IDS, GROUP_ROLE_MAP): the token may read,
               create and edit user groups (and assign roles, with GROUP_ROLE_MAP), every
               mapped role id exists in TeamViewer, and Okta has every pushed group
  AWS          the event queue, its dead-letter queue and the tables are reachable

One line per check; exits 0 only if every check passed. No secret is ever printed.

examples:
  tvsync check                        # the running local stack (tvsync serve)
  tvsync check --stack okta-tv-sync   # a deployed stack, with your AWS credentials
"""


@dataclass(frozen=True)
class CheckResult:
    """One line of the report. ``skipped``: the check does not apply here (not a failure)."""

    name: str
    ok: bool
    detail: str
    skipped: bool = False


class CheckFailed(Exception):
    """Raised inside a check: the message is the one-line reason shown to the user."""


class NotApplicable(Exception):
    """Raised inside a check that has nothing to check in this configuration."""


# ---------------------------------------------------------------------------- the probe


class Probe:
    """What the checks share: the stack's settings, the secrets as read once, lazy clients.

    Secrets are read at most once per run; a secret that could not be used makes every
    check depending on it fail with "not checked", so one cause gives one clear reason.
    """

    def __init__(
        self,
        context: StackContext,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.context = context
        self.timeout = httpx.Timeout(timeout)
        self._secrets: dict[str, str | CheckFailed] = {}
        self._clients: dict[str, Any] = {}
        self._closers: list[Callable[[], None]] = []
        self._owner: TokenOwner | CheckFailed | None = None
        self._queue_attributes: dict[str, str] | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        for close in self._closers:
            close()

    # settings ------------------------------------------------------------------

    def setting(self, name: str) -> str | None:
        """A variable of the stack's functions (the worker's first), None when no function has it."""
        function_variable(name)
        for env in (self.context.env("WorkerFunction"), *self.context.functions.values()):
            if env.get(name):
                return env[name]
        return None

    def require(self, name: str) -> str:
        value = self.setting(name)
        if not value:
            raise CheckFailed(f"{name} is not set for this stack ({self.context.source})")
        return value

    def aws(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.context.client(service)
        return self._clients[service]

    # secrets -------------------------------------------------------------------

    def secret(self, arn_variable: str) -> str:
        """The secret's value; raises ``CheckFailed`` with the reason it cannot be used."""
        if arn_variable not in self._secrets:
            try:
                self._secrets[arn_variable] = self._read_secret(arn_variable)
            except CheckFailed as exc:
                self._secrets[arn_variable] = exc
        value = self._secrets[arn_variable]
        if isinstance(value, CheckFailed):
            raise value
        return value

    def usable_secret(self, arn_variable: str, what: str) -> str:
        """For checks that need a secret: its failure is reported once, by the secret's own check."""
        try:
            return self.secret(arn_variable)
        except CheckFailed:
            raise CheckFailed(f"not checked: the {what} secret is not usable (see above)") from None

    def secret_values(self) -> list[str]:
        return [v for v in self._secrets.values() if isinstance(v, str) and v]

    def redact(self, text: str) -> str:
        for value in self.secret_values():
            text = text.replace(value, "***")
        return text

    def _read_secret(self, arn_variable: str) -> str:
        arn = self.require(arn_variable)
        try:
            response = self.aws("secretsmanager").get_secret_value(SecretId=arn)
        except (ClientError, BotoCoreError) as exc:
            raise CheckFailed(f"cannot read {_secret_name(arn)}: {describe(exc)}") from None
        value = response.get("SecretString")
        if not isinstance(value, str) or not value:
            raise CheckFailed(f"{_secret_name(arn)} has no string value")
        if value.startswith(PLACEHOLDER_PREFIX):
            raise CheckFailed(
                f"{_secret_name(arn)} still holds the template's placeholder; store the real value "
                f"(aws secretsmanager put-secret-value --secret-id {arn} --secret-string ...)"
            )
        if value != value.strip():
            raise CheckFailed(
                f"{_secret_name(arn)} starts or ends with whitespace (a newline from echo?); "
                "the value must be exact"
            )
        return value

    # TeamViewer ----------------------------------------------------------------

    @property
    def teamviewer_url(self) -> str:
        return self.setting("TEAMVIEWER_API_URL") or DEFAULT_TEAMVIEWER_API_URL

    def _teamviewer_token(self) -> str:
        return self.usable_secret("TEAMVIEWER_TOKEN_SECRET_ARN", "TeamViewer token")

    def teamviewer(self) -> TeamViewerClient:
        self._teamviewer_token()  # fail fast, with the reason, before any request
        if "teamviewer" not in self._clients:
            client = TeamViewerClient(self.teamviewer_url, self._teamviewer_token, timeout=self.timeout)
            self._clients["teamviewer"] = client
            self._closers.append(client.close)
        client_: TeamViewerClient = self._clients["teamviewer"]
        return client_

    def token_owner(self) -> TokenOwner:
        if self._owner is None:
            try:
                self._owner = self.teamviewer().token_owner()
            except CheckFailed as exc:
                self._owner = exc
            except Exception as exc:  # remembered, reported by the check that needs the owner
                self._owner = CheckFailed(describe(exc))
        if isinstance(self._owner, CheckFailed):
            raise self._owner
        return self._owner

    def first_group(self) -> TeamViewerGroup | None:
        """The company's first user group (one page of one), the target of the edit probe."""
        return next(iter(self.teamviewer().iter_groups(page_size=1)), None)

    # groups --------------------------------------------------------------------

    def group_config(self) -> GroupConfig:
        """The pushed groups and mapped roles, read as the functions read them at their cold start."""
        try:
            return GroupConfig.parse(
                self.setting("PUSH_GROUP_IDS") or "",
                self.setting("GROUP_ROLE_MAP") or "",
                delete_unpushed=False,
            )
        except ValueError as exc:
            raise CheckFailed(f"{exc}: the functions would fail to start") from None

    def pushed_groups(self) -> GroupConfig:
        """The group configuration, or ``NotApplicable`` when no group is pushed."""
        config = self.group_config()
        if not config.enabled:
            raise NotApplicable("no group pushed (PUSH_GROUP_IDS and GROUP_ROLE_MAP are empty)")
        return config

    # Okta ----------------------------------------------------------------------

    def okta(self) -> OktaClient:
        org_url = self.require("OKTA_ORG_URL")

        def token() -> str:
            return self.usable_secret("OKTA_API_TOKEN_SECRET_ARN", "Okta API token")

        token()
        if "okta" not in self._clients:
            # A service app asks for the scopes the functions ask for: groups only when pushed.
            try:
                groups = self.group_config().enabled
            except CheckFailed:
                groups = False
            authorizer = OktaAuthorizer(
                org_url, token, scopes=okta_scopes(groups=groups), timeout=self.timeout
            )
            client = OktaClient(org_url, authorizer, timeout=self.timeout)
            self._clients["okta"] = client
            self._closers.append(client.close)
        client_: OktaClient = self._clients["okta"]
        return client_

    # AWS -----------------------------------------------------------------------

    def queue_attributes(self) -> dict[str, str]:
        if self._queue_attributes is None:
            names = ["QueueArn", "ApproximateNumberOfMessages", "RedrivePolicy"]
            queue_url = self.require("EVENT_QUEUE_URL")
            response = self.aws("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)
            self._queue_attributes = dict(response.get("Attributes", {}))
        return self._queue_attributes


# ---------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Check:
    """A named check; calling it always returns a ``CheckResult``, whatever the body raised."""

    name: str
    body: Callable[[Probe], str]

    def __call__(self, probe: Probe) -> CheckResult:
        try:
            detail = self.body(probe)
        except NotApplicable as exc:
            return CheckResult(self.name, ok=True, detail=str(exc), skipped=True)
        except CheckFailed as exc:
            return CheckResult(self.name, ok=False, detail=str(exc))
        except Exception as exc:  # one failing check must not stop the rest
            return CheckResult(self.name, ok=False, detail=describe(exc))
        return CheckResult(self.name, ok=True, detail=detail)


def check(name: str) -> Callable[[Callable[[Probe], str]], Check]:
    """Declare a check: the body returns the success detail, or raises ``CheckFailed``."""

    def declare(body: Callable[[Probe], str]) -> Check:
        return Check(name, body)

    return declare


def _secret_check(name: str, arn_variable: str) -> Check:
    function_variable(arn_variable)

    def body(probe: Probe) -> str:
        probe.secret(arn_variable)
        return f"readable: {_secret_name(probe.require(arn_variable))}"

    return Check(name, body)


check_hook_secret = _secret_check("Secret: Okta hook secret", "OKTA_HOOK_SECRET_ARN")
check_teamviewer_secret = _secret_check("Secret: TeamViewer token", "TEAMVIEWER_TOKEN_SECRET_ARN")
check_okta_secret = _secret_check("Secret: Okta API token", "OKTA_API_TOKEN_SECRET_ARN")


@check("TeamViewer: token valid")
def check_teamviewer_token(probe: Probe) -> str:
    if not probe.teamviewer().ping():
        raise CheckFailed(
            f"TeamViewer refused the token ({probe.teamviewer_url}, v1 ping); "
            "create a new script token and store it in the secret"
        )
    return f"accepted by {probe.teamviewer_url}"


@check("TeamViewer: token owner readable")
def check_teamviewer_owner(probe: Probe) -> str:
    owner = probe.token_owner()
    return f"{owner.id} ({mask_email(owner.email)}), never deactivated by the sync"


@check("TeamViewer: may read users")
def check_teamviewer_read(probe: Probe) -> str:
    return _right(probe, UserRight.READ)


@check("TeamViewer: may create users")
def check_teamviewer_create(probe: Probe) -> str:
    return _right(probe, UserRight.CREATE)


@check("TeamViewer: may edit users")
def check_teamviewer_edit(probe: Probe) -> str:
    try:
        owner = probe.token_owner()
    except CheckFailed as exc:
        if str(exc).startswith("not checked:"):
            raise
        raise CheckFailed("not checked: the token owner, the account it probes, is not readable") from None
    return _right(probe, UserRight.EDIT, account_id=owner.id)


@check("Okta: token valid")
def check_okta_token(probe: Probe) -> str:
    """Which credentials the secret holds, and that Okta takes them: the adapter finds out, this says it."""
    try:
        probe.okta().check()
        status = probe.okta().auth_status()
    except AuthError as exc:
        if exc.status == 401 and exc.operation != "token":
            raise CheckFailed(
                f"Okta refused the API token ({probe.require('OKTA_ORG_URL')}): {exc.detail}"
            ) from None
        raise CheckFailed(exc.detail) from None
    where = probe.require("OKTA_ORG_URL")
    if status.mode is AuthMode.SSWS:
        return f"accepted by {where} (API token, SSWS)"
    return (
        f"accepted by {where} (service app {status.client_id}, key {status.key_id}; "
        f"scopes granted: {' '.join(status.scopes) or 'none'}; DPoP {'on' if status.dpop else 'off'})"
    )


@check("Okta: app users readable")
def check_okta_app_users(probe: Probe) -> str:
    app_id = probe.setting("OKTA_APP_ID")
    if not app_id:
        raise NotApplicable("OKTA_APP_ID not set: every Okta user is in scope")
    try:
        next(iter(probe.okta().iter_app_users(app_id, page_size=1)), None)
    except UpstreamError as exc:
        if exc.status == 404:
            raise CheckFailed(f"Okta has no app {app_id}; check OKTA_APP_ID") from None
        if exc.status == 403:
            raise CheckFailed(f"the token's admin may not read app {app_id}'s users: {exc.detail}") from None
        raise
    return f"first page of app {app_id}'s users read"


@check("TeamViewer: may read user groups")
def check_teamviewer_groups_read(probe: Probe) -> str:
    probe.pushed_groups()
    return _group_right(probe, GroupRight.READ)


@check("TeamViewer: may create user groups")
def check_teamviewer_groups_create(probe: Probe) -> str:
    probe.pushed_groups()
    return _group_right(probe, GroupRight.CREATE)


@check("TeamViewer: may edit user groups")
def check_teamviewer_groups_edit(probe: Probe) -> str:
    probe.pushed_groups()
    try:
        group = _teamviewer(probe, probe.first_group, GroupRight.READ)
    except CheckFailed as exc:
        raise CheckFailed(f"not checked: no user group readable to aim the probe at ({exc})") from None
    if group is None:
        raise NotApplicable(
            "the company has no user group yet to aim the probe at (the first sync makes one)"
        )
    return _group_right(probe, GroupRight.EDIT, group=group)


@check("TeamViewer: mapped roles exist")
def check_teamviewer_roles(probe: Probe) -> str:
    config = probe.pushed_groups()
    if not config.roles:
        raise NotApplicable("GROUP_ROLE_MAP is empty: no role is granted through groups")
    listed = _teamviewer(probe, lambda: list(probe.teamviewer().iter_roles()), GroupRight.ROLES_VIEW)
    roles = {role.id: role.name for role in listed}
    wanted = sorted(set(config.roles.values()))
    unknown = [role for role in wanted if role not in roles]
    if unknown:
        groups = sorted(group for group, role in config.roles.items() if role in unknown)
        raise CheckFailed(
            f"GROUP_ROLE_MAP names {plural(len(unknown), 'role')} TeamViewer does not have: "
            f"{', '.join(unknown)} (for {', '.join(groups)}); "
            f"the company has {plural(len(roles), 'role')}: {', '.join(sorted(roles.values())) or 'none'}"
        )
    return f"{plural(len(wanted), 'role')} found: " + ", ".join(f"{roles[r]} ({r})" for r in wanted)


@check("TeamViewer: may assign roles")
def check_teamviewer_roles_assign(probe: Probe) -> str:
    if not probe.pushed_groups().roles:
        raise NotApplicable("GROUP_ROLE_MAP is empty: no role is assigned")
    return _group_right(probe, GroupRight.ROLES_ASSIGN)


@check("Okta: pushed groups readable")
def check_okta_groups(probe: Probe) -> str:
    config = probe.pushed_groups()
    names: list[str] = []
    missing: list[str] = []
    for group_id in sorted(config.pushed):
        try:
            group = probe.okta().get_group(group_id)
        except AuthError as exc:
            if exc.status == 403:
                raise CheckFailed(f"the token's admin may not read group {group_id}: {exc.detail}") from None
            raise
        if group is None:
            missing.append(group_id)
        else:
            names.append(group.name)
    if missing:
        raise CheckFailed(
            f"Okta has no group {', '.join(missing)}; check PUSH_GROUP_IDS and GROUP_ROLE_MAP "
            "(Okta group ids, 00g…)"
        )
    return f"{plural(len(names), 'group')} read: {', '.join(names)}"


@check("AWS: event queue")
def check_event_queue(probe: Probe) -> str:
    attributes = probe.queue_attributes()
    waiting = attributes.get("ApproximateNumberOfMessages", "")
    if not waiting.isdigit():
        return "reachable (its depth is not reported)"
    return f"reachable, {plural(int(waiting), 'message')} waiting"


@check("AWS: dead-letter queue")
def check_dead_letter_queue(probe: Probe) -> str:
    try:
        policy = json.loads(probe.queue_attributes().get("RedrivePolicy", ""))
        target = str(policy["deadLetterTargetArn"])
    except (ValueError, KeyError, TypeError):
        raise CheckFailed("the event queue has no redrive policy: failed events would be lost") from None
    # arn:aws:sqs:<region>:<account>:<name>
    account, name = target.split(":")[4:6]
    sqs = probe.aws("sqs")
    url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    count = int(attributes.get("Attributes", {}).get("ApproximateNumberOfMessages", "0"))
    hint = " — inspect them with `tvsync dlq`" if count else ""
    return f"reachable ({name}), {plural(count, 'message')}{hint}"


def _table_check(name: str, variable: str) -> Check:
    function_variable(variable)

    def body(probe: Probe) -> str:
        table = probe.require(variable)
        status = probe.aws("dynamodb").describe_table(TableName=table)["Table"].get("TableStatus", "?")
        if status != "ACTIVE":
            raise CheckFailed(f"{table} is {status}, not ACTIVE")
        return f"reachable ({table}, ACTIVE)"

    return Check(name, body)


check_idempotency_table = _table_check("AWS: idempotency table", "IDEMPOTENCY_TABLE_NAME")
check_sync_state_table = _table_check("AWS: sync state table", "SYNC_STATE_TABLE_NAME")
check_group_state_table = _table_check("AWS: group state table", "GROUP_STATE_TABLE_NAME")

ALL_CHECKS: tuple[Check, ...] = (
    check_hook_secret,
    check_teamviewer_secret,
    check_okta_secret,
    check_teamviewer_token,
    check_teamviewer_owner,
    check_teamviewer_read,
    check_teamviewer_create,
    check_teamviewer_edit,
    check_okta_token,
    check_okta_app_users,
    check_teamviewer_groups_read,
    check_teamviewer_groups_create,
    check_teamviewer_groups_edit,
    check_teamviewer_roles,
    check_teamviewer_roles_assign,
    check_okta_groups,
    check_event_queue,
    check_dead_letter_queue,
    check_idempotency_table,
    check_sync_state_table,
    check_group_state_table,
)


def run_checks(probe: Probe, checks: Sequence[Check] = ALL_CHECKS) -> Iterator[CheckResult]:
    """Run every check, in order, as each completes; secrets are blanked out of every detail."""
    for item in checks:
        try:
            result = item(probe)
        except Exception as exc:  # a Check never raises; this guards a broken one
            result = CheckResult(item.name, ok=False, detail=describe(exc))
        detail = probe.redact(result.detail)
        if len(detail) > _MAX_DETAIL:
            detail = detail[: _MAX_DETAIL - 1] + "…"
        yield CheckResult(result.name, result.ok, detail, result.skipped)


# ---------------------------------------------------------------------------- command


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="test the stack's credentials, TeamViewer rights, queue and tables",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_stack_arguments(parser)
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="give up on each TeamViewer or Okta call after this many seconds "
        f"(default: {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of one line per check")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    context = resolve(args)
    if not any(context.functions.values()):
        raise CliError(NO_STACK)
    if not args.json:
        console.print(Text(f"Checking {context.source}", style="bold"), soft_wrap=True)
    width = max(len(item.name) for item in ALL_CHECKS)
    results: list[CheckResult] = []
    with Probe(context, timeout=args.timeout) as probe:
        for result in run_checks(probe):
            results.append(result)
            if not args.json:  # as each completes: a slow service shows which check waits
                console.print(_line(result, width), soft_wrap=True)
    failed = sum(1 for result in results if not result.ok)
    if args.json:
        print_json(
            {
                "stack": context.source,
                "passed": not failed,
                "failed": failed,
                "checks": [
                    {"name": r.name, "ok": r.ok, "skipped": r.skipped, "detail": r.detail} for r in results
                ],
            }
        )
    elif failed:
        summary = f"{failed} of {plural(len(results), 'check')} failed"
        console.print(Text(summary, style="bold red"), soft_wrap=True)
    else:
        console.print(Text(f"All {plural(len(results), 'check')} passed", style="bold green"), soft_wrap=True)
    return 1 if failed else 0


def _line(result: CheckResult, width: int) -> Text:
    line = Text()
    if result.skipped:
        line.append("- ", style="dim")
    else:
        line.append("✓ " if result.ok else "✗ ", style="green" if result.ok else "red")
    line.append(result.name.ljust(width + 2))
    line.append(result.detail, style="dim" if result.ok else "red")
    return line


# ---------------------------------------------------------------------------- helpers


def _right(probe: Probe, right: UserRight, *, account_id: str | None = None) -> str:
    """The adapter's finding about ``right`` as one line: the detail of a pass, or the failure."""
    found = _teamviewer(probe, lambda: probe.teamviewer().probe_right(right, account_id=account_id), None)
    return _right_detail(found)


def _group_right(probe: Probe, right: GroupRight, *, group: TeamViewerGroup | None = None) -> str:
    """``_right`` for a user-group or role right (``TeamViewerClient.probe_group_right``)."""
    found = _teamviewer(probe, lambda: probe.teamviewer().probe_group_right(right, group=group), None)
    return _right_detail(found)


def _teamviewer(probe: Probe, call: Callable[[], _T], right: GroupRight | None) -> _T:
    """``call()``, with the answers that say nothing about a right turned into one clear line.

    A rate limit says "try again", a 401 that the token is refused. With ``right``, the call
    is a read that needs it, and a 403 is that right missing.
    """
    try:
        return call()
    except ThrottledError as exc:
        raise CheckFailed(
            f"TeamViewer is rate limiting the token (HTTP {exc.status}); try again shortly"
        ) from None
    except AuthError as exc:
        if exc.status == 401:
            raise CheckFailed("TeamViewer refused the token (HTTP 401)") from None
        if exc.status == 403 and right is not None:
            raise CheckFailed(_missing(right, exc.detail)) from None
        raise


def _missing(right: UserRight | GroupRight, detail: str) -> str:
    return f"missing right: the token may not {right.action} ({detail}); give the script token {right.grant}"


def _right_detail(found: RightProbe) -> str:
    if found.verdict is RightVerdict.GRANTED:
        return f"allowed ({found.evidence})"
    if found.verdict is RightVerdict.MISSING:
        raise CheckFailed(_missing(found.right, found.error or f"HTTP {found.status}"))
    if found.verdict is RightVerdict.WRITE_ACCEPTED:
        raise CheckFailed(f"{found.evidence}; review the company's users")
    raise CheckFailed(f"inconclusive: {found.evidence} {found.error}".rstrip())


def _secret_name(arn: str) -> str:
    """``arn:…:secret:name-AbCdEf`` -> ``name-AbCdEf``: recognisable, and not the value."""
    return arn.split(":secret:", 1)[-1]


def describe(exc: BaseException) -> str:
    """One line about a failure, with the service's own words where there are any."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", "")
        operation = getattr(exc, "operation_name", "")
        return f"{operation} failed: {code}: {message}".strip().rstrip(":")
    if isinstance(exc, NoRegionError):
        return "no AWS region configured: set AWS_DEFAULT_REGION (or use a profile that has one)"
    if isinstance(exc, UpstreamError | BotoCoreError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
