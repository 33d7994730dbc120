"""``tvsync serve`` and ``tvsync demo`` arguments and their one-stack-per-state-file rule, tested
without starting a stack wherever the behaviour is decided before one starts.
(tests/e2e/test_serve_environment.py runs the real thing.)"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tvsync.cli import serve
from tvsync.cli.context import StackContext, write_local_state
from tvsync.cli.main import main
from tvsync.local import demo_cast
from tvsync.local.stack import StackSettings


class ServeDidNotRefuse(Exception):
    pass


@pytest.fixture
def bounded() -> Iterator[None]:
    """``serve`` runs until interrupted: had it started instead of refusing, fail within seconds."""

    def overran(_signum: int, _frame: object) -> None:
        raise ServeDidNotRefuse("serve started instead of refusing")

    previous = signal.signal(signal.SIGALRM, overran)
    signal.alarm(30)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def listening() -> Iterator[str]:
    """A port that accepts connections, as a running stack's would."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def other_process() -> Iterator[int]:
    """A live process that is not this one: the `serve` that wrote the state file."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process.pid
    process.kill()
    process.wait()


def state_of(path: Path, *, pid: int, url: str) -> None:
    write_local_state(
        path,
        StackContext(
            source="serve",
            functions={"WorkerFunction": {"EVENT_QUEUE_URL": f"{url}/q"}},
            aws_endpoint_url=url,
            pid=pid,
            extra={"hook_url": f"{url}/okta/events"},
        ),
    )


@pytest.mark.parametrize("command", ["serve", "demo"])
@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_port_out_of_range_is_refused_while_parsing(
    command: str, port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--port", port])
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"argument --port: {port!r} is not a port number" in captured.err or (
        f"argument --port: {port} is not a port: use 1-65535, or 0 for any free port" in captured.err
    )
    assert "Traceback" not in captured.err


def test_a_second_serve_refuses_to_start_and_changes_nothing(
    tmp_path: Path, listening: str, other_process: int, bounded: None, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "local-stack.json"
    state_of(state, pid=other_process, url=listening)
    before = state.read_bytes()
    assert main(["serve", "--port", "0", "--state-file", str(state)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"tvsync: error: a local stack is already running at {listening}/okta/events (pid {other_process}, "
        f"{state}); stop it first (Ctrl-C in its terminal, or kill {other_process}), or start this one "
        "with another --state-file\n"
    )
    assert state.read_bytes() == before
    assert not (tmp_path / "hook-secret").exists(), "the running stack's hook secret is left alone"


def test_on_exit_serve_removes_the_state_file_only_while_it_is_its_own(
    tmp_path: Path, listening: str, other_process: int
) -> None:
    state = tmp_path / "local-stack.json"
    state_of(state, pid=other_process, url=listening)
    serve._unpublish(state)
    assert state.exists(), "another stack's file survives this one's exit"
    state_of(state, pid=os.getpid(), url=listening)
    serve._unpublish(state)
    assert not state.exists()


def test_demo_cast_scopes_the_stack_to_the_demos_okta_app(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OKTA_APP_ID", "OKTA_ORG_URL", "TEAMVIEWER_API_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = serve._demo_cast_settings(StackSettings.from_environ())
    assert settings.okta_app_id == demo_cast.TEAMVIEWER_APP_ID


def test_demo_cast_with_another_app_id_is_refused_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bounded: None, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OKTA_APP_ID", "0oaSomeOtherApp")
    assert main(["serve", "--demo-cast", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"tvsync: error: --demo-cast assigns its people to the app {demo_cast.TEAMVIEWER_APP_ID}"
    )
    assert not (tmp_path / ".tvsync").exists()


def test_demo_on_a_busy_port_says_so_and_suggests_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["demo", "--quiet", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"tvsync: error: port {port} is in use (another `tvsync serve`?): try --port {port + 1}, "
        "or --port 0 for any\n"
    )


def test_the_state_file_records_what_other_commands_need(tmp_path: Path) -> None:
    """Region and pid: without them a command cannot reach the stack, or tell it has died."""
    state = tmp_path / "local-stack.json"
    write_local_state(state, StackContext(source="serve", region="us-east-1", pid=4242, local=True))
    payload = json.loads(state.read_text())
    assert (payload["region"], payload["pid"]) == ("us-east-1", 4242)
