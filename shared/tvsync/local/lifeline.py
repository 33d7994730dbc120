"""Processes the local stack starts end when the stack's process ends, however it ends.

``tvsync serve`` stopped with Ctrl-C closes its children itself. Killed with SIGKILL, or
crashing, it runs no clean-up: its embedded AWS (a moto server) would keep its port and
its memory, and worker instances would poll a queue nobody reads. So every child gets two
lifelines, both set up by ``child_environ`` (parent side) and ``hold`` (child side):

- its stdin is a pipe whose only writer is the parent: ``subprocess.PIPE``, kept open and
  never written to. The write end is not inherited by other children (file descriptors are
  non-inheritable, PEP 446), so when the parent process ends, however it ends, the kernel
  closes it and the child reads end-of-file. That works on every platform.
- on Linux, ``PR_SET_PDEATHSIG`` as well (prctl(2)): the kernel signals the child the
  moment its parent dies, even if the child is too busy to read its stdin. The kernel ties
  it to the parent *thread* that started the child, so it is asked for only when that is
  the main thread, whose end is the process's end.

Either way the child gets SIGTERM, so it stops the way ``kill`` would stop it: a worker
instance finishes its batch, the moto server exits.

``python -m tvsync.local.lifeline MODULE [ARGS...]`` runs MODULE as ``python -m MODULE``
would, holding the lifelines first: that is how the stack runs code it does not own, its
moto server.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import runpy
import signal
import sys
import threading
from collections.abc import Mapping

#: The parent's pid, set by ``child_environ``; its absence means "not started by a stack".
PARENT_PID_ENV = "TVSYNC_PARENT_PID"
#: "1" when the parent asks for PR_SET_PDEATHSIG (it started the child from its main thread).
DEATH_SIGNAL_ENV = "TVSYNC_PARENT_DEATH_SIGNAL"
#: From <linux/prctl.h>.
PR_SET_PDEATHSIG = 1


def child_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` for a child started now, from this thread, with ``stdin=subprocess.PIPE``."""
    child = dict(environ)
    child[PARENT_PID_ENV] = str(os.getpid())
    if threading.current_thread() is threading.main_thread():
        child[DEATH_SIGNAL_ENV] = "1"
    else:
        child.pop(DEATH_SIGNAL_ENV, None)
    return child


def hold() -> None:
    """In a child: get SIGTERM when the parent that started it ends. A no-op for any other process.

    Call it first thing, before slow imports: a parent that died before this is noticed
    here too (the child has been handed to another parent by then, and its stdin is at
    end-of-file).
    """
    parent = os.environ.get(PARENT_PID_ENV)
    if not parent:
        return
    if os.environ.get(DEATH_SIGNAL_ENV) == "1" and sys.platform.startswith("linux"):
        _ask_kernel_to_signal_on_parent_death()
    if os.getppid() != int(parent):
        _parent_gone()
        return
    threading.Thread(target=_watch_stdin, name="lifeline", daemon=True).start()


def _ask_kernel_to_signal_on_parent_death() -> None:
    # Best effort: should prctl be unavailable (a libc without it, a sandbox that forbids
    # it), the stdin lifeline still ends the child.
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def _watch_stdin() -> None:
    """Read stdin until end-of-file: the parent closed it, or the parent is gone."""
    try:
        while os.read(sys.stdin.fileno(), 4096):
            pass
    except (OSError, ValueError):
        pass  # stdin closed or unreadable: the pipe is gone either way
    _parent_gone()


def _parent_gone() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m tvsync.local.lifeline MODULE [ARGS...]", file=sys.stderr)
        return 2
    hold()
    module, *args = argv[1:]
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
