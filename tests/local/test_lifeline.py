"""A process started with a lifeline ends when its parent ends, through each lifeline on its own.

Each test runs a real parent process that starts a real child (``python -m
tvsync.local.lifeline http.server PORT``: any long-running module), waits until the child
serves, kills the parent with SIGKILL and polls until the child is gone. The end-to-end
test of `tvsync serve` (tests/e2e/test_serve_killed.py) covers both lifelines together.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.serve import free_port
from tvsync.local import lifeline

# The parent: starts the child from its main thread or from a thread that ends once the
# child serves, with the stdin lifeline or with a stdin the test holds open (so that only the
# kernel's parent-death signal can end the child); prints the child's pid once the child
# serves and the starting thread is over, then waits to be killed.
PARENT = """
import os, socket, subprocess, sys, threading, time
from tvsync.local.lifeline import child_environ

how, port, held_fd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
started = []  # keeps the stdin pipe's write end open

def start():
    child = subprocess.Popen(
        [sys.executable, "-m", "tvsync.local.lifeline", "http.server", str(port), "--bind", "127.0.0.1"],
        env=child_environ(os.environ),
        stdin=held_fd if how == "held-stdin" else subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started.append(child)
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)

if how == "from-a-thread":
    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
else:
    start()
print(started[0].pid, flush=True)
while True:
    time.sleep(1)
"""


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (killed children of a dead parent may linger as one)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in {"Z", "X"}


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def _serves(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def _family(how: str) -> Iterator[tuple[subprocess.Popen[str], int, int]]:
    """(parent, child pid, child port): the child serving, the parent alive; both killed after."""
    port = free_port()
    held_read, held_write = os.pipe()
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, how, str(port), str(held_read)],
        stdout=subprocess.PIPE,
        text=True,
        pass_fds=(held_read,),
    )
    child = 0
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())  # the child serves by now
        yield parent, child, port
    finally:
        for pid in (parent.pid, child):
            if pid and _running(pid):
                os.kill(pid, signal.SIGKILL)
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
        os.close(held_read)
        os.close(held_write)


pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")


def test_the_child_ends_when_its_parent_is_killed() -> None:
    with _family("from-the-main-thread") as (parent, child, _):
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        _wait_until(lambda: not _running(child), "the child is gone")


def test_the_stdin_lifeline_alone_ends_the_child_and_a_finished_thread_does_not() -> None:
    # Started from a thread that ended after the child was up: the kernel's parent-death
    # signal follows threads, so it must not have been asked for — the child still serves.
    with _family("from-a-thread") as (parent, child, port):
        assert _running(child) and _serves(port)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        _wait_until(lambda: not _running(child), "the child is gone")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_kernel_ends_the_child_even_when_its_stdin_stays_open() -> None:
    # The child's stdin is a pipe this test keeps open, so it never reads end-of-file.
    with _family("held-stdin") as (parent, child, _):
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        _wait_until(lambda: not _running(child), "the child is gone")


def test_child_environ_names_the_parent_and_asks_for_the_signal_from_the_main_thread_only() -> None:
    environ = lifeline.child_environ({"KEEP": "1", lifeline.DEATH_SIGNAL_ENV: "1"})
    assert environ["KEEP"] == "1"
    assert environ[lifeline.PARENT_PID_ENV] == str(os.getpid())
    assert environ[lifeline.DEATH_SIGNAL_ENV] == "1"
    from_thread: dict[str, str] = {}
    thread = threading.Thread(
        target=lambda: from_thread.update(lifeline.child_environ({lifeline.DEATH_SIGNAL_ENV: "1"}))
    )
    thread.start()
    thread.join()
    assert lifeline.DEATH_SIGNAL_ENV not in from_thread
    assert from_thread[lifeline.PARENT_PID_ENV] == str(os.getpid())


def test_hold_does_nothing_in_a_process_no_stack_started(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(lifeline.PARENT_PID_ENV, raising=False)
    before = threading.active_count()
    lifeline.hold()
    assert threading.active_count() == before
