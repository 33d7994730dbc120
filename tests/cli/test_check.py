"""``tvsync check`` against embedded AWS (moto) and the TeamViewer and Okta emulators on loopback."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import TV_APP_ID, Aws
from tvsync.cli.check import Check, CheckFailed, CheckResult, Probe, run_checks
from tvsync.cli.context import ENVIRONMENT_VARIABLES, LOCAL_STATE, StackContext, write_local_state
from tvsync.cli.main import main
from tvsync.emulators.http import EmulatorApp, EmulatorRequest, EmulatorResponse, RunningServer, serve
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.teamviewer import (
    ALL_PERMISSIONS,
    GROUPS_CREATE,
    GROUPS_EDIT,
    GROUPS_READ,
    ROLES_ASSIGN,
    ROLES_VIEW,
    USERS_CREATE,
    USERS_MODIFY,
    USERS_READ,
    TeamViewerEmulator,
)

TV_TOKEN = "tv-test-token"  # what the aws fixture stores in TeamViewerTokenSecret
OKTA_TOKEN = "okta-test-token"  # what it stores in OktaApiTokenSecret
CHECK_COUNT = 21
ENGINEERING = "00g1engineering00001"
GROUP_CHECKS = {
    "TeamViewer: may read user groups",
    "TeamViewer: may create user groups",
    "TeamViewer: may edit user groups",
    "TeamViewer: mapped roles exist",
    "TeamViewer: may assign roles",
    "Okta: pushed groups readable",
}
LINE = re.compile(r"^(?P<mark>[✓✗-]) (?P<name>.+?)  +(?P<detail>.*)$")


@dataclass
class Stack:
    aws: Aws
    tmp_path: Path
    tv: TeamViewerEmulator = field(default_factory=TeamViewerEmulator)
    okta: OktaEmulator = field(default_factory=OktaEmulator)
    servers: list[RunningServer] = field(default_factory=list)

    def serve(self, tv: EmulatorApp | None = None) -> tuple[str, str]:
        servers = [serve(tv or self.tv), serve(self.okta)]
        self.servers.extend(servers)
        return servers[0].url, servers[1].url

    def state_file(self, tv: EmulatorApp | None = None, /, **overrides: str) -> Path:
        """Serve the emulators and write the local state; ``overrides`` apply to both functions."""
        tv_url, okta_url = self.serve(tv)
        urls = {"TEAMVIEWER_API_URL": tv_url, "OKTA_ORG_URL": okta_url, "OKTA_APP_ID": TV_APP_ID}
        functions = {
            function_id: {k: v for k, v in self.aws.env(function_id, **{**urls, **overrides}).items() if v}
            for function_id in ("WorkerFunction", "IngestFunction")
        }
        path = self.tmp_path / "local-stack.json"
        write_local_state(path, StackContext(source="test stack", functions=functions))
        return path

    def with_groups(self, tv: TeamViewerEmulator | None = None, /, **overrides: str) -> Path:
        """The state file of a stack that pushes Okta's Engineering group with the role Engineer.

        ``tv`` (default: the stack's) gets the role and a group of its own, so each group
        check has something to look at; ``overrides`` apply as for ``state_file``.
        """
        company = tv or self.tv
        role = company.add_role("Engineer")
        company.add_group("Support")
        if ENGINEERING not in {g["id"] for g in self.okta.groups()}:
            self.okta.add_group("Engineering", group_id=ENGINEERING)
        settings = {"PUSH_GROUP_IDS": ENGINEERING, "GROUP_ROLE_MAP": f"{ENGINEERING}={role}", **overrides}
        return self.state_file(company, **settings)

    def put_secret(self, logical_id: str, value: str) -> None:
        self.aws.session.client("secretsmanager").put_secret_value(
            SecretId=self.aws.resources.refs[logical_id], SecretString=value
        )


@pytest.fixture
def stack(aws: Aws, tmp_path: Path) -> Iterator[Stack]:
    built = Stack(aws=aws, tmp_path=tmp_path)
    built.okta.add_app(TV_APP_ID)
    user = built.okta.add_user("alice.archer@example.com", "Alice", "Archer")
    built.okta.assign(TV_APP_ID, user["id"])
    yield built
    for server in built.servers:
        server.close()


def check(state: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, tuple[str, str]], str]:
    """Run the command; returns the exit code, ``{check name: (mark, detail)}`` and all output."""
    code = main(["check", "--local-state", str(state), "--timeout", "5"])
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert "Traceback" not in output
    lines = {}
    for line in captured.out.splitlines():
        match = LINE.match(line)
        if match:
            lines[match["name"]] = (match["mark"], match["detail"])
    return code, lines, output


def test_a_healthy_stack_passes_every_check_and_changes_nothing(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    state = stack.with_groups()
    before = stack.tv.users(), stack.tv.groups(), [stack.tv.group_role(g["id"]) for g in stack.tv.groups()]
    code, lines, output = check(state, capsys)
    assert code == 0, output
    assert len(lines) == CHECK_COUNT
    assert all(mark == "✓" for mark, _ in lines.values()), output
    assert f"All {CHECK_COUNT} checks passed" in output
    assert f"Checking local stack ({state})" in output
    assert "allowed" in lines["TeamViewer: may create users"][1]
    assert "allowed" in lines["TeamViewer: may edit users"][1]
    assert "ACTIVE" in lines["AWS: sync state table"][1]
    assert "ACTIVE" in lines["AWS: group state table"][1]
    for name in (
        "may read user groups",
        "may create user groups",
        "may edit user groups",
        "may assign roles",
    ):
        assert lines[f"TeamViewer: {name}"][1].startswith("allowed"), name
    role = stack.tv.roles()[0]["Id"]
    assert lines["TeamViewer: mapped roles exist"][1] == f"1 role found: Engineer ({role})"
    assert lines["Okta: pushed groups readable"][1] == "1 group read: Engineering"
    after = stack.tv.users(), stack.tv.groups(), [stack.tv.group_role(g["id"]) for g in stack.tv.groups()]
    assert after == before, "the permission probes must not change TeamViewer"
    writes = [(c.method, c.path.split("/")[-1], c.status) for c in stack.tv.calls if c.method != "GET"]
    group_id = stack.tv.groups()[0]["id"]
    assert writes == [
        ("POST", "Users", 400),
        ("PATCH", stack.tv.owner_id, 400),
        ("POST", "usergroups", 400),  # an empty name: refused, nothing created
        ("PUT", str(group_id), 200),  # the group's own name: nothing changed
        ("POST", "usergroup", 400),  # an assignment naming no role and no group
    ]
    for secret in (TV_TOKEN, OKTA_TOKEN, "sample-hook-secret-for-local-testing"):
        assert secret not in output


def test_without_pushed_groups_the_group_checks_are_skipped_and_make_no_group_call(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, output = check(stack.state_file(), capsys)
    assert code == 0, output
    for name in GROUP_CHECKS:
        assert lines[name] == ("-", "no group pushed (PUSH_GROUP_IDS and GROUP_ROLE_MAP are empty)"), name
    assert lines["AWS: group state table"][0] == "✓", "the worker needs the table whatever is pushed"
    assert not [c for c in stack.tv.calls if "/usergroups" in c.path or "/userroles" in c.path]
    assert not [c for c in stack.okta.calls if c.path.startswith("/api/v1/groups")]


@pytest.mark.parametrize(
    ("missing", "failing", "right"),
    [
        (
            GROUPS_READ,
            {"TeamViewer: may read user groups", "TeamViewer: may edit user groups"},
            "User groups: read",
        ),
        (GROUPS_CREATE, {"TeamViewer: may create user groups"}, "User groups: create"),
        (GROUPS_EDIT, {"TeamViewer: may edit user groups"}, "User groups: edit"),
        (ROLES_VIEW, {"TeamViewer: mapped roles exist"}, "User roles: view"),
        (ROLES_ASSIGN, {"TeamViewer: may assign roles"}, "User roles: assign"),
    ],
)
def test_a_missing_group_right_fails_its_check_and_names_the_right_to_give(
    missing: str, failing: set[str], right: str, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, output = check(
        stack.with_groups(TeamViewerEmulator(permissions=ALL_PERMISSIONS - {missing})), capsys
    )
    assert code != 0
    assert {name for name, (mark, _) in lines.items() if mark == "✗"} == failing, output
    [own] = [name for name in failing if "edit" not in name or missing == GROUPS_EDIT]
    detail = lines[own][1]
    assert detail.startswith("missing right: the token may not "), detail
    # The right as TeamViewer's console names it: it publishes no scope strings for groups.
    assert detail.endswith(f"give the script token the right “{right}”"), detail
    if missing == GROUPS_READ:
        assert lines["TeamViewer: may edit user groups"][1].startswith("not checked: no user group readable")


def test_a_mapped_role_teamviewer_does_not_have_is_named_with_its_group(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = "9b1e0000-0000-4000-8000-0000000000ff"
    code, lines, _ = check(stack.with_groups(GROUP_ROLE_MAP=f"{ENGINEERING}={unknown}"), capsys)
    assert code != 0
    mark, detail = lines["TeamViewer: mapped roles exist"]
    assert mark == "✗"
    assert detail == (
        f"GROUP_ROLE_MAP names 1 role TeamViewer does not have: {unknown} (for {ENGINEERING}); "
        "the company has 1 role: Engineer"
    )
    assert {name for name, (m, _) in lines.items() if m == "✗"} == {"TeamViewer: mapped roles exist"}


def test_a_pushed_group_okta_does_not_have_is_named(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = check(stack.with_groups(PUSH_GROUP_IDS=f"{ENGINEERING},00gNoSuchGroup0001"), capsys)
    assert code != 0
    mark, detail = lines["Okta: pushed groups readable"]
    assert mark == "✗"
    assert detail.startswith("Okta has no group 00gNoSuchGroup0001; check PUSH_GROUP_IDS and GROUP_ROLE_MAP")


def test_an_okta_admin_without_group_rights_is_told_so(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.okta.forbid("/api/v1/groups")
    code, lines, _ = check(stack.with_groups(), capsys)
    assert code != 0
    mark, detail = lines["Okta: pushed groups readable"]
    assert mark == "✗" and detail.startswith(f"the token's admin may not read group {ENGINEERING}: ")


def test_with_no_user_group_yet_the_edit_probe_is_skipped(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    role = stack.tv.add_role("Engineer")
    stack.okta.add_group("Engineering", group_id=ENGINEERING)
    state = stack.state_file(PUSH_GROUP_IDS=ENGINEERING, GROUP_ROLE_MAP=f"{ENGINEERING}={role}")
    code, lines, output = check(state, capsys)
    assert code == 0, output
    assert lines["TeamViewer: may edit user groups"][0] == "-"
    assert stack.tv.groups() == []


def test_a_malformed_group_setting_fails_the_group_checks_with_the_reason(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = check(stack.state_file(GROUP_ROLE_MAP=f"{ENGINEERING}"), capsys)
    assert code != 0
    for name in GROUP_CHECKS:
        mark, detail = lines[name]
        assert mark == "✗" and "is not an oktaGroupId=teamViewerRoleId pair" in detail, name
        assert detail.endswith("the functions would fail to start")


def test_a_bad_teamviewer_token_fails_without_showing_the_token(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    state = stack.state_file(TeamViewerEmulator(token="the-token-teamviewer-expects"))
    code, lines, output = check(state, capsys)
    assert code != 0
    failed = {name: detail for name, (mark, detail) in lines.items() if mark == "✗"}
    assert "TeamViewer: token valid" in failed
    assert "TeamViewer refused the token" in failed["TeamViewer: token valid"]
    assert all(name.startswith("TeamViewer:") for name in failed), "Okta, AWS and secrets are fine"
    assert lines["Okta: token valid"][0] == "✓"
    assert TV_TOKEN not in output


class EchoingTeamViewer(EmulatorApp):
    """A hostile TeamViewer that quotes the Authorization header back in every error."""

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        quoted = request.header("authorization") or ""
        if request.path == "/api/v1/ping":
            return EmulatorResponse(200, {"token_valid": True})
        return EmulatorResponse(
            403, {"error": f"invalid_permission for {quoted}", "error_description": quoted}
        )


def test_a_token_echoed_by_the_server_is_blanked_out(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, output = check(stack.state_file(EchoingTeamViewer()), capsys)
    assert code != 0
    assert lines["TeamViewer: may create users"][0] == "✗"
    assert "***" in output
    assert TV_TOKEN not in output


class RateLimitedWrites(EmulatorApp):
    """A TeamViewer that throttles every write (403 ``rate_limit_reached``, [PDF] §5) and serves reads."""

    def __init__(self, company: TeamViewerEmulator) -> None:
        super().__init__()
        self.company = company

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        if request.method != "GET":
            return EmulatorResponse(403, {"error": "rate_limit_reached", "error_description": "slow down"})
        return self.company.handle(request)


def test_a_rate_limited_probe_fails_its_check_and_says_to_try_again(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, output = check(stack.state_file(RateLimitedWrites(stack.tv)), capsys)
    assert code != 0
    failed = {name: detail for name, (mark, detail) in lines.items() if mark == "✗"}
    assert set(failed) == {"TeamViewer: may create users", "TeamViewer: may edit users"}, output
    for detail in failed.values():
        assert detail == "TeamViewer is rate limiting the token (HTTP 403); try again shortly"
    assert lines["TeamViewer: may read users"][0] == "✓"


@pytest.mark.parametrize(
    ("missing", "failing"),
    [
        (USERS_READ, "TeamViewer: may read users"),
        (USERS_CREATE, "TeamViewer: may create users"),
        (USERS_MODIFY, "TeamViewer: may edit users"),
    ],
)
def test_a_missing_teamviewer_right_fails_exactly_its_check(
    missing: str, failing: str, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.tv = TeamViewerEmulator(permissions=ALL_PERMISSIONS - {missing})
    code, lines, output = check(stack.state_file(), capsys)
    assert code != 0
    failed = {name for name, (mark, _) in lines.items() if mark == "✗"}
    assert failed == {failing}, output
    assert "missing right" in lines[failing][1] and missing in lines[failing][1]
    assert f"1 of {CHECK_COUNT} checks failed" in output


@pytest.mark.parametrize(
    ("logical_id", "check_name", "dependents"),
    [
        (
            "TeamViewerTokenSecret",
            "Secret: TeamViewer token",
            {f"TeamViewer: {c}" for c in ("token valid", "token owner readable", "may read users")}
            | {"TeamViewer: may create users", "TeamViewer: may edit users"},
        ),
        ("OktaApiTokenSecret", "Secret: Okta API token", {"Okta: token valid", "Okta: app users readable"}),
        ("OktaHookSecret", "Secret: Okta hook secret", set()),
    ],
)
def test_a_template_placeholder_secret_is_flagged(
    logical_id: str,
    check_name: str,
    dependents: set[str],
    stack: Stack,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack.put_secret(logical_id, "REPLACE_WITH_SOMETHING_REAL")
    code, lines, output = check(stack.state_file(), capsys)
    assert code != 0
    mark, detail = lines[check_name]
    assert mark == "✗" and "placeholder" in detail
    failed = {name for name, (m, _) in lines.items() if m == "✗"}
    assert failed == {check_name} | dependents
    for name in dependents:
        assert lines[name][1].startswith("not checked: ")
    assert "REPLACE_WITH_SOMETHING_REAL" not in output


def test_a_secret_with_a_trailing_newline_is_flagged(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.put_secret("OktaHookSecret", "sample-hook-secret\n")
    code, lines, _ = check(stack.state_file(), capsys)
    assert code != 0
    assert "whitespace" in lines["Secret: Okta hook secret"][1]


def test_a_bad_okta_token_fails_and_the_other_checks_still_run(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.okta = OktaEmulator(token="another-okta-token")
    stack.okta.add_app(TV_APP_ID)
    code, lines, output = check(stack.state_file(), capsys)
    assert code != 0
    assert (
        lines["Okta: token valid"][0] == "✗" and "Okta refused the API token" in lines["Okta: token valid"][1]
    )
    assert lines["TeamViewer: may edit users"][0] == "✓"
    assert lines["AWS: sync state table"][0] == "✓"
    assert len(lines) == CHECK_COUNT
    assert OKTA_TOKEN not in output


def test_an_unknown_okta_app_fails(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = check(stack.state_file(OKTA_APP_ID="0oa-no-such-app"), capsys)
    assert code != 0
    assert lines["Okta: app users readable"] == ("✗", "Okta has no app 0oa-no-such-app; check OKTA_APP_ID")


def test_without_an_app_id_the_app_check_is_skipped(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, output = check(stack.state_file(OKTA_APP_ID=""), capsys)
    assert code == 0, output
    assert lines["Okta: app users readable"][0] == "-"


@pytest.mark.parametrize(
    ("variable", "value", "failing", "reason"),
    [
        ("SYNC_STATE_TABLE_NAME", "no-such-table", "AWS: sync state table", "ResourceNotFoundException"),
        ("IDEMPOTENCY_TABLE_NAME", "", "AWS: idempotency table", "IDEMPOTENCY_TABLE_NAME is not set"),
        (
            "EVENT_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/123456789012/nope.fifo",
            "AWS: event queue",
            "",
        ),
    ],
)
def test_an_unreachable_aws_resource_fails_its_check(
    variable: str, value: str, failing: str, reason: str, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = check(stack.state_file(**{variable: value}), capsys)
    assert code != 0
    assert lines[failing][0] == "✗"
    assert reason in lines[failing][1]


def test_the_dead_letter_queue_is_found_through_the_redrive_policy(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = stack.aws.session.client("sqs")
    sqs.send_message(
        QueueUrl=stack.aws.dlq_url, MessageBody="{}", MessageGroupId="g", MessageDeduplicationId="d"
    )
    code, lines, _ = check(stack.state_file(), capsys)
    assert code == 0
    mark, detail = lines["AWS: dead-letter queue"]
    assert mark == "✓" and ", 1 message — inspect them with `tvsync dlq`" in detail
    assert lines["AWS: event queue"] == ("✓", "reachable, 0 messages waiting")


def test_json_reports_every_check_and_the_verdict(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    state = stack.state_file()
    stack.put_secret("OktaApiTokenSecret", "rotated-away")
    code = main(["check", "--local-state", str(state), "--timeout", "5", "--json"])
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # the whole of stdout is one JSON document
    assert code == 1
    assert (report["passed"], report["failed"], len(report["checks"])) == (False, 2, CHECK_COUNT)
    assert report["stack"] == f"local stack ({state})"
    by_name = {c["name"]: c for c in report["checks"]}
    assert {name for name, c in by_name.items() if not c["ok"]} == {
        "Okta: token valid",
        "Okta: app users readable",
    }
    assert by_name["Okta: token valid"]["ok"] is False
    assert by_name["Okta: token valid"]["detail"].startswith("Okta refused the API token")
    assert by_name["AWS: event queue"] == {
        "name": "AWS: event queue",
        "ok": True,
        "skipped": False,
        "detail": "reachable, 0 messages waiting",
    }
    assert "rotated-away" not in captured.out + captured.err


def test_the_runner_never_lets_one_check_stop_the_others(aws: Aws) -> None:
    def broken(probe: Probe) -> str:
        raise RuntimeError("boom")

    def refused(probe: Probe) -> str:
        raise CheckFailed("no")

    def fine(probe: Probe) -> str:
        return "yes"

    class Exploding(Check):
        def __call__(self, probe: Probe) -> CheckResult:
            raise ValueError("a check that breaks its own contract")

    checks: list[Check] = [
        Check("a", broken),
        Exploding("b", fine),
        Check("c", refused),
        Check("d", fine),
    ]
    with Probe(StackContext(source="test")) as probe:
        results = list(run_checks(probe, checks))
    assert [(r.name, r.ok) for r in results] == [("a", False), ("b", False), ("c", False), ("d", True)]
    assert results[0].detail == "RuntimeError: boom"
    assert results[1].detail == "ValueError: a check that breaks its own contract"


def test_no_stack_at_all_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .tvsync/local-stack.json here
    code = main(["check"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.startswith(
        f"tvsync: error: no local stack is running (no {LOCAL_STATE} in {tmp_path}, "
    )
    assert ": start one with `tvsync serve`" in captured.err
    assert captured.err.count("\n") == 1


def test_a_partly_configured_stack_reports_what_is_missing(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = check(stack.state_file(TEAMVIEWER_TOKEN_SECRET_ARN="", OKTA_ORG_URL=""), capsys)
    assert code != 0
    assert lines["Secret: TeamViewer token"] == (
        "✗",
        "TEAMVIEWER_TOKEN_SECRET_ARN is not set for this stack (local stack ({}))".format(
            stack.tmp_path / "local-stack.json"
        ),
    )
    assert lines["TeamViewer: may edit users"][1].startswith("not checked: the TeamViewer token secret")
    assert "OKTA_ORG_URL is not set" in lines["Okta: token valid"][1]
    assert lines["AWS: event queue"][0] == "✓"
