"""``LocalStack.close`` waits for every process it started, whatever happens while it stops.

A child nobody waits for stays a zombie; once the stack's process has exited it is left to
init, which in many containers never reaps it. The processes here stand in for worker
instances and the embedded AWS: real children, one of which will not stop when asked.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tvsync.local.stack import LocalStack, StackSettings

pytestmark = pytest.mark.skipif(not Path("/proc/self").exists(), reason="reads processes from /proc")

#: A worker instance stuck in a batch: it ignores SIGTERM and its stdin closing.
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"
#: A worker instance that finishes its batch as soon as its stdin closes.
OBEDIENT = "import sys; sys.stdin.read()"


def child(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, text=True)


def reaped(process: subprocess.Popen[str]) -> bool:
    """Waited for: the process is gone, not even a zombie is left of it."""
    return process.returncode is not None and not Path(f"/proc/{process.pid}").exists()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:  # whatever the test did, leave nothing behind
        if process.returncode is None:
            process.kill()
            process.wait()


@pytest.fixture
def stack(tmp_path: Path) -> LocalStack:
    stack = LocalStack(StackSettings(), log_dir=tmp_path)
    stack.worker_stop_seconds = 1.0
    return stack


def test_a_worker_that_overruns_is_killed_and_reaped(
    stack: LocalStack, processes: list[subprocess.Popen[str]]
) -> None:
    processes += [child(STUBBORN), child(OBEDIENT)]
    stack._workers.extend(processes)
    stack.close()
    assert [reaped(p) for p in processes] == [True, True]
    assert processes[0].returncode == -signal.SIGKILL
    assert processes[1].returncode == 0, "a worker that stops in time is not killed"


def test_an_interrupted_stop_still_reaps_every_worker_and_the_embedded_aws(
    stack: LocalStack, processes: list[subprocess.Popen[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    workers = [child(STUBBORN), child(STUBBORN)]
    moto = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], stdin=subprocess.PIPE)
    processes += workers
    stack._workers.extend(workers)
    stack._moto = [moto]
    wait = workers[0].wait

    def interrupted(timeout: float | None = None) -> Any:
        if timeout is not None:  # the graceful wait: Ctrl-C arrives
            raise KeyboardInterrupt
        return wait()

    monkeypatch.setattr(workers[0], "wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        stack.close()
    assert [reaped(w) for w in workers] == [True, True]
    assert moto.returncode is not None and not Path(f"/proc/{moto.pid}").exists()
