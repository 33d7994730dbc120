"""How commands find their stack: a local stack whatever the shell's AWS settings, and one clear
error — never a botocore exception — when there is no stack, or only the remains of one."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Aws
from tvsync.cli.context import (
    ENVIRONMENT_VARIABLES,
    LOCAL_STATE,
    START_ONE,
    StackContext,
    read_local_state,
    resolve,
    write_local_state,
)
from tvsync.cli.main import main
from tvsync.cli.output import CliError, console
from tvsync.settings import FUNCTION_SETTINGS

COMMANDS = (["status"], ["dlq", "list"], ["dlq", "redrive"], ["check"], ["reconcile", "--dry-run"])


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The top of a checkout (it holds ``.git``), inside a directory that is not one."""
    top = tmp_path / "project"
    (top / ".git").mkdir(parents=True)
    return top


@pytest.fixture
def no_stack(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The top of a checkout without a state file, a shell without the functions' variables or a region."""
    monkeypatch.chdir(checkout)
    for name in (*ENVIRONMENT_VARIABLES, "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    return checkout


@pytest.fixture
def local_state(aws: Aws, tmp_path: Path) -> Path:
    """The state file `tvsync serve` would write for the embedded AWS of the ``aws`` fixture."""
    path = tmp_path / "local-stack.json"
    functions = {fid: aws.env(fid) for fid in ("IngestFunction", "WorkerFunction", "ReconcileFunction")}
    write_local_state(path, StackContext(source="serve", functions=functions, region="us-east-1", local=True))
    return path


def shell_with_another_aws_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An admin's shell: SSO profile (absent from this config), another region, real keys."""
    config = tmp_path / "aws-config"
    config.write_text("[profile other]\nregion = eu-west-1\n", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "corp-sso")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALACCOUNTKEY00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "the-admins-real-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "the-admins-real-session")


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_without_a_stack_every_command_says_how_to_get_one_and_where_it_looked(
    no_stack: Path, command: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = no_stack / "docs" / "images"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert main(command) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"tvsync: error: no local stack is running (no {LOCAL_STATE} in {deep}, {deep.parent}, {no_stack}): "
        f"{START_ONE}\n"
    )


def test_a_command_run_anywhere_inside_the_checkout_finds_the_stack_serve_runs_at_its_top(
    local_state: Path,
    checkout: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    published = checkout / LOCAL_STATE  # where `tvsync serve`, started at the top, writes it
    published.parent.mkdir(parents=True)
    local_state.rename(published)
    deep = checkout / "shared" / "tvsync" / "cli"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    for name in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert main(["status", "--json"]) == 0
    assert '"total": 0' in capsys.readouterr().out


def test_the_search_ends_at_the_top_of_the_checkout(
    local_state: Path, no_stack: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stack above the checkout belongs to some other project: it is not used."""
    outside = no_stack.parent / LOCAL_STATE
    outside.parent.mkdir(parents=True)
    local_state.rename(outside)
    inner = no_stack / "tests"
    inner.mkdir()
    monkeypatch.chdir(inner)
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"tvsync: error: no local stack is running (no {LOCAL_STATE} in {inner}, {no_stack}): "
    )


def test_a_named_state_file_that_does_not_exist_is_reported_not_replaced_by_the_environment(
    aws: Aws, no_stack: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("SYNC_STATE_TABLE_NAME", aws.env("WorkerFunction")["SYNC_STATE_TABLE_NAME"])
    assert main(["status", "--local-state", str(no_stack / "missing.json")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"tvsync: error: no local stack state at {no_stack / 'missing.json'}")
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_state_file_left_by_a_dead_serve_is_reported_not_used(
    no_stack: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    state = no_stack / ".tvsync" / "local-stack.json"
    functions = {"WorkerFunction": {"EVENT_QUEUE_URL": "http://127.0.0.1/q", "SYNC_STATE_TABLE_NAME": "t"}}
    aws_url = f"http://127.0.0.1:{closed_port()}"
    pid = dead_pid()
    write_local_state(
        state, StackContext(source="serve", functions=functions, aws_endpoint_url=aws_url, pid=pid)
    )
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"tvsync: error: no local stack is running: {state} is left over from "
        f"a `tvsync serve` that is no longer running (pid {pid}); start one with `tvsync serve`"
    )
    assert err.count("\n") == 1


def test_a_state_file_whose_stack_no_longer_answers_is_reported(
    no_stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A live pid is not enough: the number may belong to another program by now."""
    state = no_stack / "local-stack.json"
    aws_url = f"http://127.0.0.1:{closed_port()}"
    functions = {"WorkerFunction": {"SYNC_STATE_TABLE_NAME": "t"}}
    # pid 1 always exists (init)
    write_local_state(
        state, StackContext(source="serve", functions=functions, aws_endpoint_url=aws_url, pid=1)
    )
    assert main(["status", "--local-state", str(state)]) == 2
    assert f"no longer answers at {aws_url}" in capsys.readouterr().err


def test_the_shells_region_profile_and_keys_do_not_apply_to_a_local_stack(
    local_state: Path,
    aws: Aws,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(console, "width", 200)
    shell_with_another_aws_account(tmp_path, monkeypatch)
    assert main(["status", "--json", "--local-state", str(local_state)]) == 0
    assert '"total": 0' in capsys.readouterr().out
    assert main(["dlq", "list", "--local-state", str(local_state)]) == 0
    assert "The DLQ is empty" in capsys.readouterr().out


def test_the_shells_real_credentials_are_never_sent_to_a_local_stack(
    local_state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shell_with_another_aws_account(tmp_path, monkeypatch)
    session = read_local_state(local_state).session()
    credentials = session.get_credentials()
    assert credentials is not None
    frozen = credentials.get_frozen_credentials()
    assert (frozen.access_key, frozen.token) == ("local", None)
    assert session.region_name == "us-east-1"


def test_a_missing_region_for_a_deployed_stack_is_one_line(
    no_stack: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNC_STATE_TABLE_NAME", "some-table")  # a stack from the environment
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tvsync: error: no AWS region configured: set AWS_DEFAULT_REGION")
    assert err.count("\n") == 1


def test_the_environment_is_a_stack_of_exactly_the_variables_the_functions_read(
    no_stack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The names come from the settings models: one the template sets, an override, nothing else."""
    monkeypatch.setenv("OKTA_HOOK_AUTH_HEADER", "X-Okta-Secret")
    monkeypatch.setenv("MAX_ORPHAN_DEACTIVATIONS", "3")
    monkeypatch.setenv("EVENT_DLQ_URL", "http://127.0.0.1/dlq")  # read by no function
    context = resolve(argparse.Namespace(stack=None, local_state=None))
    assert context.source == "environment variables"
    assert set(context.functions) == set(FUNCTION_SETTINGS)
    assert context.env("IngestFunction") == {
        "OKTA_HOOK_AUTH_HEADER": "X-Okta-Secret",
        "MAX_ORPHAN_DEACTIVATIONS": "3",
    }
    assert set(ENVIRONMENT_VARIABLES) == {
        name for model in FUNCTION_SETTINGS.values() for name in model.variables()
    }


def test_asking_a_stack_for_a_variable_no_function_reads_is_a_mistake_in_the_command() -> None:
    context = StackContext(source="test", functions={"WorkerFunction": {"EVENT_DLQ_URL": "http://q"}})
    with pytest.raises(LookupError, match="EVENT_DLQ_URL is not a variable of any function's settings"):
        context.value("EVENT_DLQ_URL")
    with pytest.raises(CliError, match="SYNC_STATE_TABLE_NAME is not known for this stack"):
        context.value("SYNC_STATE_TABLE_NAME")


def test_a_local_stack_with_dynamodb_apart_is_reached_at_both_endpoints(tmp_path: Path) -> None:
    # `tvsync serve` runs DynamoDB in a moto server of its own: the commands that read its
    # tables (status, dlq, reconcile) must go there, and every other service to the other.
    path = tmp_path / "local-stack.json"
    context = StackContext(
        source="serve",
        aws_endpoint_url="http://127.0.0.1:4001",
        dynamodb_endpoint_url="http://127.0.0.1:4002",
        region="us-east-1",
        local=True,
    )
    write_local_state(path, context)
    read = read_local_state(path)
    assert (read.aws_endpoint_url, read.dynamodb_endpoint_url) == (
        "http://127.0.0.1:4001",
        "http://127.0.0.1:4002",
    )
    assert read.client("dynamodb").meta.endpoint_url == "http://127.0.0.1:4002"
    assert read.client("sqs").meta.endpoint_url == "http://127.0.0.1:4001"
    assert read.client("secretsmanager").meta.endpoint_url == "http://127.0.0.1:4001"
    alone = StackContext(
        source="serve", aws_endpoint_url="http://127.0.0.1:4001", region="us-east-1", local=True
    )
    assert alone.client("dynamodb").meta.endpoint_url == "http://127.0.0.1:4001"
