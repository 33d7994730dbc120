"""End to end: `tvsync serve --dry-run` says only what it would do, and leaves no process behind.

`serve` runs under a small harness process that is a child subreaper (prctl(2)
PR_SET_CHILD_SUBREAPER): whatever `serve` leaves behind when it exits — a process still
running, or one that ended and was never waited for — becomes the harness's child, where
/proc shows it. The stop is the one people make: Ctrl-C, and Ctrl-C again while it stops.
A worker instance is busy with a slow Okta call at that moment, so the second Ctrl-C
arrives while `serve` is still waiting for it. Linux only (prctl, /proc).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.serve import emulated_environment, free_port
from tvsync.emulators.http import FaultPolicy, RunningServer, serve
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.teamviewer import TeamViewerEmulator

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(2) and /proc are Linux's"),
]

APP_ID = "0oa1tvsync0000000001"
SECRET = "e2e-dry-run-secret"
OKTA_LATENCY_SECONDS = 4.0

# argv: work directory, port. Starts serve, says "up", waits for "stop" on stdin, then stops
# serve with two SIGINTs (the second once serve says it is stopping) and prints, as JSON,
# serve's exit code and every process left behind as the harness's child.
HARNESS = r"""
import ctypes, json, os, signal, subprocess, sys, time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0, ctypes.get_errno()
workdir, port = Path(sys.argv[1]), sys.argv[2]
console = workdir / "serve.out"
state = workdir / "state.json"
with console.open("w") as sink:
    serve = subprocess.Popen(
        [sys.executable, "-m", "tvsync.cli.main", "serve", "--dry-run", "--port", port,
         "--state-file", str(state)],
        cwd=workdir, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
    )
deadline = time.monotonic() + 90
while not state.exists():
    assert serve.poll() is None and time.monotonic() < deadline, console.read_text()
    time.sleep(0.05)
print("up", flush=True)
assert sys.stdin.readline().strip() == "stop"
serve.send_signal(signal.SIGINT)
while "stopping" not in console.read_text(errors="replace") and serve.poll() is None:
    time.sleep(0.01)
serve.send_signal(signal.SIGINT)  # pressed again while it stops
code = serve.wait(timeout=120)

def children():
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        if entry.name.isdigit() and int(fields[1]) == os.getpid():
            found[int(entry.name)] = fields[0]
    return found

deadline = time.monotonic() + 30  # anything left ends within seconds (tvsync.local.lifeline)
while any(s not in "ZX" for s in children().values()) and time.monotonic() < deadline:
    time.sleep(0.1)
print(json.dumps({"returncode": code, "left": children()}), flush=True)
"""


class Harness:
    def __init__(self, workdir: Path, process: subprocess.Popen[str]) -> None:
        self.workdir = workdir
        self.process = process

    def console(self) -> str:
        return (self.workdir / "serve.out").read_text(encoding="utf-8", errors="replace")

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.console()):
            assert time.monotonic() < deadline, f"not seen in time:\n{self.console()[-3000:]}"
            assert self.process.poll() is None, f"the harness exited:\n{self.console()[-3000:]}"
            time.sleep(0.1)


@pytest.fixture
def emulators() -> Iterator[tuple[TeamViewerEmulator, OktaEmulator, list[RunningServer]]]:
    tv = TeamViewerEmulator(token="e2e-tv-token")
    okta = OktaEmulator(token="e2e-okta-token")
    servers = [serve(tv), serve(okta)]
    yield tv, okta, servers
    for server in servers:
        server.close()


def delivery(n: int, user_id: str, event_type: str) -> dict[str, object]:
    event = {
        "uuid": f"dry-run-{n}",
        "published": f"2026-11-02T10:00:{n:02d}.000Z",
        "eventType": event_type,
        "outcome": {"result": "SUCCESS"},
        "target": [{"id": user_id, "type": "User"}],
    }
    return {"eventType": "com.okta.event_hook", "eventId": f"delivery-{n}", "data": {"events": [event]}}


def test_a_dry_run_says_would_and_a_double_ctrl_c_leaves_no_process_behind(
    tmp_path: Path, emulators: tuple[TeamViewerEmulator, OktaEmulator, list[RunningServer]]
) -> None:
    tv, okta, servers = emulators
    alice = str(okta.add_user("alice.archer@example.com", "Alice", "Archer")["id"])
    okta.assign(APP_ID, alice)
    tv.add_user("bob.baker@example.com", "Bob Baker")
    bob = str(okta.add_user("bob.baker@example.com", "Bob", "Baker")["id"])  # not assigned: revoke
    port = free_port()
    env = emulated_environment(
        teamviewer_url=servers[0].url,
        teamviewer_token="e2e-tv-token",
        okta_url=servers[1].url,
        okta_token="e2e-okta-token",
        hook_secret=SECRET,
        app_id=APP_ID,
    )
    process = subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(tmp_path), str(port)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    harness = Harness(tmp_path, process)
    assert process.stdin is not None and process.stdout is not None
    try:
        assert process.stdout.readline().strip() == "up", harness.console()
        url = f"http://127.0.0.1:{port}/okta/events"
        for n, (user, event_type) in enumerate(
            [(alice, "user.lifecycle.create"), (bob, "application.user_membership.remove")], start=1
        ):
            response = httpx.post(url, json=delivery(n, user, event_type), headers={"Authorization": SECRET})
            assert response.status_code == 200
        harness.wait_for(lambda out: "would create" in out and "would deactivate" in out)
        assert tv.writes() == 0, "a dry run writes nothing to TeamViewer"

        okta.faults = FaultPolicy(latency=OKTA_LATENCY_SECONDS)  # the next sync is mid-call at Ctrl-C
        late = delivery(3, alice, "user.account.update_profile")
        assert httpx.post(url, json=late, headers={"Authorization": SECRET}).status_code == 200
        harness.wait_for(lambda out: "delivery delivery-3" in out)
        time.sleep(0.5)  # a worker instance has taken the batch and waits for Okta

        stdout, _ = process.communicate("stop\n", timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    result = json.loads(stdout.strip().splitlines()[-1])
    console = harness.console()
    assert result == {"returncode": 0, "left": {}}, console[-3000:]
    assert "stopped" in console

    assert "okta-teamviewer-sync local stack (dry run)" in console
    lines = [line for line in console.splitlines() if re.match(r"\d\d:\d\d:\d\d  ", line)]
    assert lines, console
    unmarked = [line for line in lines if not line[10:].startswith("[dry run] ")]
    assert unmarked == [], "every line of a dry-run stack says so"
    said = {line[10:] for line in lines}
    assert f"[dry run] {alice} a***@example.com: would create" in said
    assert any(line.startswith(f"[dry run] {bob} b***@example.com: would deactivate -> ") for line in said)
    assert "[dry run] delivery delivery-1: queued 1 of 1 event (0 ignored)" in said
