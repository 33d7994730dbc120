"""End to end: `tvsync serve --demo-cast` as a real process, in an admin's everyday shell.

That shell is set up for the admin's real AWS account — an SSO profile missing from this
machine's config, another region, real-looking keys — none of which may break the local
stack or reach it. The stack is then driven as the banner says, and closed the way a
terminal window is: SIGHUP. Its working directory starts with a state file left behind
by a `serve` that crashed, which must not stop a new one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.serve import free_port
from tvsync.cli.check import ALL_CHECKS
from tvsync.cli.context import StackContext, write_local_state
from tvsync.local import demo_cast
from tvsync.local.stack import LocalStack

pytestmark = pytest.mark.e2e

REAL_KEY = "AKIAADMINSREALKEY000"
REAL_SECRET = "the-admins-real-secret-key"
ALICE = demo_cast.ALICE.okta_id


@dataclass
class Served:
    workdir: Path
    url: str
    process: subprocess.Popen[str]
    output: Path
    shell: dict[str, str]

    @property
    def state_file(self) -> Path:
        return self.workdir / ".tvsync" / "local-stack.json"

    @property
    def logs(self) -> Path:
        return self.workdir / ".tvsync" / "logs"

    def console(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def tvsync(self, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Another `tvsync` command, from the same shell and directory."""
        return subprocess.run(
            [sys.executable, "-m", "tvsync.cli.main", *argv],
            cwd=self.workdir,
            env={**self.shell, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.process.poll() is not None:
                raise AssertionError(f"tvsync serve exited:\n{self.console()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"condition not reached in time:\n{self.console()[-3000:]}")

    def replay_samples(self) -> None:
        secret = (self.workdir / ".tvsync" / "hook-secret").read_text(encoding="utf-8")
        files = sorted(str(p) for p in (ROOT / "events" / "okta").glob("*.json"))
        done = self.tvsync("replay", *files, "--url", self.url, OKTA_HOOK_SECRET=secret)
        assert done.returncode == 0, done.stdout + done.stderr

    def alice_created(self) -> bool:
        return any(ALICE in line and ": create -> " in line for line in self.console().splitlines())


def admin_shell(home: Path) -> dict[str, str]:
    config = home / "aws-config"
    config.write_text("[profile other]\nregion = eu-west-1\n", encoding="utf-8")
    ours = ("AWS_", "OKTA_", "TEAMVIEWER_", "POWERTOOLS_")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(ours)},
        "AWS_PROFILE": "corp-sso",
        "AWS_CONFIG_FILE": str(config),
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": REAL_KEY,
        "AWS_SECRET_ACCESS_KEY": REAL_SECRET,
        "AWS_SESSION_TOKEN": "the-admins-real-session-token",
    }


def leave_a_crashed_serves_state_file(workdir: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = f"http://127.0.0.1:{free_port()}"
    write_local_state(
        workdir / ".tvsync" / "local-stack.json",
        StackContext(source="serve", aws_endpoint_url=dead, pid=gone.pid, extra={"hook_url": dead}),
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    workdir = tmp_path_factory.mktemp("serve-shell")
    leave_a_crashed_serves_state_file(workdir)
    shell = admin_shell(workdir)
    port = free_port()
    output = workdir / "serve.out"
    with output.open("w", encoding="utf-8") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "tvsync.cli.main", "serve", "--demo-cast", "--port", str(port)],
            cwd=workdir,
            # Every Python process then writes to stderr as it starts — the worker instances
            # too, whose stderr must stay out of the JSON log.
            env={**shell, "PYTHONPROFILEIMPORTTIME": "1"},
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    handle = Served(workdir, f"http://127.0.0.1:{port}/okta/events", process, output, shell)

    def published() -> bool:
        try:
            return bool(json.loads(handle.state_file.read_text())["extra"]["hook_url"] == handle.url)
        except (OSError, ValueError):
            return False

    try:
        handle.wait_for(published, timeout=60)
        yield handle
    finally:
        process.send_signal(signal.SIGHUP)  # the terminal was closed
        try:
            # What stopping may take: every worker instance finishes its batch (at most
            # LocalStack.worker_stop_seconds), then each of the two moto servers gets 10 s.
            process.wait(timeout=LocalStack.worker_stop_seconds + 2 * 10 + 10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        console = handle.console()
        assert process.returncode == 0, console[-3000:]
        assert "stopped" in console
        assert not handle.state_file.exists(), "a hang-up removes the state file like Ctrl-C does"


def test_the_admins_aws_settings_do_not_stop_commands_reaching_the_stack(served: Served) -> None:
    check = served.tvsync("check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"All {len(ALL_CHECKS)} checks passed" in check.stdout
    status = served.tvsync("status", "--json")
    assert status.returncode == 0, status.stderr
    assert "total" in json.loads(status.stdout)
    dlq = served.tvsync("dlq", "list")
    assert dlq.returncode == 0, dlq.stderr


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads child environments from /proc")
def test_the_admins_aws_identity_never_reaches_the_stacks_processes(served: Served) -> None:
    pid = served.process.pid
    children = [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]
    assert len(children) >= 2, "embedded AWS and at least one worker instance"
    for child in children:
        environ = dict(
            entry.split("=", 1)
            for entry in Path(f"/proc/{child}/environ").read_text(errors="replace").split("\0")
            if "=" in entry
        )
        leaked = {k: v for k, v in environ.items() if k.startswith("AWS_") and "ADMIN" in v.upper()}
        assert not leaked, f"process {child} got the admin's AWS identity: {sorted(leaked)}"
        assert "AWS_PROFILE" not in environ and "AWS_SESSION_TOKEN" not in environ
        assert environ["AWS_ACCESS_KEY_ID"] == "local"


def test_following_the_banner_changes_teamviewer(served: Served) -> None:
    assert f"try           tvsync replay events/okta/*.json --url {served.url}" in served.console()
    served.replay_samples()
    served.wait_for(served.alice_created)
    state = json.loads(served.state_file.read_text())
    assert state["functions"]["WorkerFunction"]["OKTA_APP_ID"] == demo_cast.TEAMVIEWER_APP_ID


def test_function_logs_are_json_lines_written_as_they_happen(served: Served) -> None:
    served.replay_samples()  # a repeat, if another test ran first, is deduplicated
    served.wait_for(served.alice_created)
    # The console line is printed after the log line is written: it must be in the file now,
    # while the stack still runs, not when a buffer fills or the stack stops.
    records = [json.loads(line) for line in (served.logs / "functions.jsonl").read_text().splitlines()]
    assert any(
        r.get("message") == "User synced" and r.get("okta_user_id") == ALICE and "create" in r["operations"]
        for r in records
    )
    assert "import time:" in (served.logs / "functions.stderr.log").read_text()


def test_a_second_serve_refuses_and_leaves_the_first_alone(served: Served) -> None:
    state, secret = served.state_file.read_bytes(), (served.workdir / ".tvsync" / "hook-secret").read_bytes()
    started = time.monotonic()
    second = served.tvsync("serve", "--port", str(free_port()))
    assert second.returncode == 2
    assert time.monotonic() - started < 20, "refused before starting anything"
    assert second.stderr.startswith(
        f"tvsync: error: a local stack is already running at {served.url} (pid {served.process.pid}, "
    )
    assert served.state_file.read_bytes() == state
    assert (served.workdir / ".tvsync" / "hook-secret").read_bytes() == secret
    assert served.process.poll() is None
