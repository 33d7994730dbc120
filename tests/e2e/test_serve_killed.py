"""End to end: `tvsync serve` killed with SIGKILL leaves no process behind.

SIGKILL runs no clean-up in `serve`: its children — the embedded AWS (a moto server) and
every WorkerFunction instance — must notice on their own that their parent is gone and end
(``tvsync.local.lifeline``). Processes are found through /proc, so this runs on Linux.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.serve import free_port, serve_environment, start_serve

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc"),
]

Process = tuple[int, int]  # (pid, start time in clock ticks since boot): pids get reused


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a process, or None when there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain anything: split after the last ")".
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[19])


def _descendants(root: int) -> dict[Process, str]:
    """Every process below ``root``, with its command line."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            children.setdefault(stat[1], []).append(int(entry.name))
    found: dict[Process, str] = {}
    pending = list(children.get(root, []))
    while pending:
        pid = pending.pop()
        stat = _stat(pid)
        if stat is None:
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        found[(pid, stat[2])] = command.strip()
        pending.extend(children.get(pid, []))
    return found


def _alive(process: Process) -> bool:
    """Still running: it exists, is the same process (start time), and is not a zombie."""
    stat = _stat(process[0])
    return stat is not None and stat[2] == process[1] and stat[0] not in {"Z", "X"}


def test_sigkill_of_serve_ends_every_process_it_started(tmp_path: Path) -> None:
    state_file = tmp_path / "local-stack.json"
    serve = start_serve(
        cwd=tmp_path,
        env=serve_environment(),
        port=free_port(),
        state_file=state_file,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    started: dict[Process, str] = {}
    try:
        deadline = time.monotonic() + 120
        while not state_file.exists():  # published once every child runs
            assert serve.poll() is None, f"tvsync serve exited with {serve.returncode}"
            assert time.monotonic() < deadline, "tvsync serve did not start"
            time.sleep(0.1)
        started = _descendants(serve.pid)
        commands = list(started.values())
        assert sum("tvsync.local.moto_server" in c for c in commands) == 2, commands
        assert any("tvsync.local.worker_process" in c for c in commands), commands

        serve.send_signal(signal.SIGKILL)
        serve.wait(timeout=30)

        deadline = time.monotonic() + 30
        while (left := [started[p] for p in started if _alive(p)]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left == [], f"still running after tvsync serve was killed: {left}"
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
        for process in started:  # never leave strays to the next test, whatever failed
            if _alive(process):
                os.kill(process[0], signal.SIGKILL)
