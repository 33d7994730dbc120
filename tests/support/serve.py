"""Starting and stopping ``tvsync serve`` as a real process, the way an admin runs it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_environment(**variables: str) -> dict[str, str]:
    """This process's environment without the admin's AWS or tvsync settings, plus ``variables``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TVSYNC_"))}
    return {**clean, **variables}


def start_serve(
    *,
    cwd: Path,
    env: dict[str, str],
    port: int = 0,
    state_file: Path | None = None,
    stdin: int | IO[str] | None = None,
    stdout: int | IO[str] | None = subprocess.PIPE,
) -> subprocess.Popen[str]:
    """``tvsync serve --port PORT [--state-file FILE]`` in ``cwd``; stderr joins stdout."""
    command = [sys.executable, "-m", "tvsync.cli.main", "serve", "--port", str(port)]
    if state_file is not None:
        command += ["--state-file", str(state_file)]
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=stdin,
        stdout=stdout,
        stderr=subprocess.STDOUT if stdout == subprocess.PIPE else stdout,
        text=True,
    )


def stop_serve(process: subprocess.Popen[str], *, timeout: float = 30) -> str:
    """Ctrl-C, as at the terminal; killed if it does not stop in ``timeout``. Returns its output."""
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output or ""


def emulated_environment(
    *,
    teamviewer_url: str,
    teamviewer_token: str,
    okta_url: str,
    okta_token: str,
    hook_secret: str,
    app_id: str,
) -> dict[str, str]:
    """``serve_environment`` pointing ``tvsync serve`` at emulators this test runs."""
    return serve_environment(
        TEAMVIEWER_API_URL=teamviewer_url,
        TEAMVIEWER_API_TOKEN=teamviewer_token,
        OKTA_ORG_URL=okta_url,
        OKTA_API_TOKEN=okta_token,
        OKTA_HOOK_SECRET=hook_secret,
        OKTA_APP_ID=app_id,
    )
