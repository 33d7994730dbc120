"""``tvsync serve``: the whole pipeline on this machine until Ctrl-C.

One ``serve`` per state file: other commands find the stack through that file, so a second
``serve`` refuses to start while the first one runs (it would overwrite the file and the
hook secret, then delete the file on exit, stranding the first). A file left behind by a
``serve`` that died is simply replaced, and on exit a ``serve`` removes the file only if it
still describes this process. Ctrl-C, SIGTERM and SIGHUP (the terminal was closed) all stop
the stack the same clean way, and once stopping, a second one does not cut the clean-up
short: every process of the stack is waited for, so none is left behind as a zombie.
SIGKILL allows no clean-up here, yet the stack's processes (embedded AWS, worker instances)
still end with this one (``tvsync.local.lifeline``); only the state file stays behind, for
the next ``serve`` to replace.

With ``--dry-run`` (or ``DRY_RUN=true``) every console line of the running stack is marked
``[dry run]`` and planned changes read "would ...": nothing is written to TeamViewer.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

from tvsync.cli.context import LOCAL_STATE, StackContext, not_running, read_local_state, write_local_state
from tvsync.cli.output import CliError, stable_console
from tvsync.local import demo_cast
from tvsync.local.stack import OKTA_AUTH_MODES, LocalStack, StackObserver, StackSettings

ORDER = 10
#: The generated hook secret is written beside the state file: .tvsync/hook-secret by default.
HOOK_SECRET_NAME = "hook-secret"  # noqa: S105 - a file name, not a secret

HELP = """\
Run the real pipeline locally: API Gateway emulation in front of IngestFunction, the SQS FIFO
queue and tables from template.yaml in embedded AWS (moto servers), and WorkerFunction fed by
an emulated event source mapping. Post Okta deliveries to the printed URL (or use
`tvsync replay`); each delivery and each applied change prints one line. With --dry-run
nothing is written to TeamViewer: every line is marked "[dry run]", and planned changes
read "would create", "would deactivate", ...

The built-in Okta emulator starts empty; --demo-cast fills it with the people the sample
deliveries in events/okta/ are about, so `tvsync replay events/okta/*.json` changes
TeamViewer. Only one `serve` runs per --state-file.

Environment (all optional):
  TEAMVIEWER_API_URL, TEAMVIEWER_API_TOKEN   a TeamViewer API (default: the built-in emulator)
  OKTA_ORG_URL, OKTA_API_TOKEN               an Okta org (default: the built-in emulator, read
                                             as a service app; --okta-auth ssws: a token);
                                             OKTA_API_TOKEN: an API token or a service app's
                                             JSON key (`tvsync okta-key`)
  OKTA_HOOK_SECRET                           the hook's auth header value (default: generated,
                                             written to .tvsync/hook-secret)
  OKTA_APP_ID                                only users assigned to this app are provisioned
                                             (--demo-cast: the demo's app)
  TEAMVIEWER_SSO_CUSTOMER_ID                 applied to accounts on create
  AWS_ENDPOINT_URL                           use this AWS endpoint (an emulator) instead of
                                             embedded AWS

Your AWS configuration (AWS_PROFILE, AWS_DEFAULT_REGION, keys) is not used: the local stack
runs with dummy credentials in its own region, and other commands reach it the same way.
"""


def port_number(text: str) -> int:
    """argparse type for a TCP port; 0 means "any free port" (the stack prints the one it got)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:  # the TCP port range
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 1-65535, or 0 for any free port")
    return port


def start_problem(exc: OSError, port: int) -> str:
    """Why the local stack could not start, as one line that says what to do."""
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is in use (another `tvsync serve`?): try --port {port + 1}, or --port 0 for any"
    if exc.errno == errno.EACCES:
        return f"port {port} may not be opened by this user: try a port above 1023 with --port"
    return f"cannot start the local stack: {exc} (is port {port} in use? try --port)"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the whole pipeline locally until Ctrl-C",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--port", type=port_number, default=3000, help="port of the hook endpoint (default 3000; 0: any free)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="plan and record changes, write nothing to TeamViewer (also DRY_RUN=true)",
    )
    parser.add_argument(
        "--demo-cast",
        action="store_true",
        help="seed the built-in emulators with the people of events/okta/ (see `tvsync demo`)",
    )
    parser.add_argument(
        "--okta-auth",
        choices=OKTA_AUTH_MODES,
        default="oauth",
        help="how the functions read the built-in Okta emulator: as an API service app (oauth, the "
        "default; DPoP required) or with an API token (ssws)",
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        default=LOCAL_STATE,
        help=f"where other commands find this stack ({LOCAL_STATE})",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    console = stable_console()
    state_file: Path = args.state_file
    settings = StackSettings.from_environ(port=args.port, host=args.host, dry_run=args.dry_run or None)
    if args.demo_cast:
        settings = _demo_cast_settings(settings)
    with stop_signals():
        _refuse_if_running(state_file)
        observer = StackObserver(print_line=line_printer(console), dry_run=settings.dry_run)
        stack = LocalStack(settings, observer=observer, okta_auth=args.okta_auth)
        try:
            stack.start()
        except OSError as exc:
            raise CliError(start_problem(exc, args.port)) from None
        try:
            if args.demo_cast:
                assert stack.okta is not None and stack.teamviewer is not None
                demo_cast.seed(stack.okta, stack.teamviewer)
                for _name, change in demo_cast.STORY:
                    change(stack.okta)
            _refuse_if_running(state_file)  # another serve may have published while this one started
            _publish(stack, state_file)
            _banner(console, stack, settings, state_file=state_file, demo_cast=args.demo_cast)
            _wait_for_interrupt()
        finally:
            _unpublish(state_file)  # first: from now on no command should use this stack
            _say(console, "stopping…")
            stack.close()
    _say(console, "stopped")
    return 0


def _demo_cast_settings(settings: StackSettings) -> StackSettings:
    """The demo's cast is assigned to the demo's Okta app: scope the stack to it, as the demo does."""
    if settings.okta_org_url or settings.teamviewer_api_url:
        raise CliError("--demo-cast needs the built-in emulators (unset OKTA_ORG_URL and TEAMVIEWER_API_URL)")
    if settings.okta_app_id not in (None, demo_cast.TEAMVIEWER_APP_ID):
        raise CliError(
            f"--demo-cast assigns its people to the app {demo_cast.TEAMVIEWER_APP_ID}; "
            f"unset OKTA_APP_ID (now {settings.okta_app_id})"
        )
    return replace(settings, okta_app_id=demo_cast.TEAMVIEWER_APP_ID)


def _refuse_if_running(state_file: Path) -> None:
    """One ``serve`` per state file: a live one wins; a file left by a dead one is replaced."""
    if not state_file.is_file():
        return
    try:
        other = read_local_state(state_file)
    except CliError:
        return  # unreadable: nothing can use it, so it may be replaced
    knowable = other.pid is not None or other.extra.get("hook_url") or other.aws_endpoint_url
    if other.pid == os.getpid() or not knowable or not_running(other) is not None:
        return
    where = other.extra.get("hook_url") or other.aws_endpoint_url
    pid = f"pid {other.pid}" if other.pid is not None else "pid unknown"
    stop = (
        f"Ctrl-C in its terminal, or kill {other.pid}" if other.pid is not None else "Ctrl-C in its terminal"
    )
    raise CliError(
        f"a local stack is already running at {where} ({pid}, {state_file}); stop it first ({stop}), "
        "or start this one with another --state-file"
    )


def _publish(stack: LocalStack, state_file: Path) -> None:
    write_local_state(
        state_file,
        StackContext(
            source="local stack",
            functions=stack.functions,
            aws_endpoint_url=stack.aws_endpoint_url,
            dynamodb_endpoint_url=stack.dynamodb_endpoint_url,
            region=stack.region,
            local=True,
            pid=os.getpid(),
            extra={
                "hook_url": stack.hook_url,
                "teamviewer_url": stack.teamviewer_url,
                "okta_url": stack.okta_url,
            },
        ),
    )
    if not stack.settings.okta_hook_secret:
        secret_file = _hook_secret_file(state_file)
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        secret_file.write_text(stack.hook_secret, encoding="utf-8")
        secret_file.chmod(0o600)


def _unpublish(state_file: Path) -> None:
    """Remove the state file, unless it now describes another stack (then it is not ours)."""
    try:
        current = read_local_state(state_file)
    except CliError:
        return
    if current.pid == os.getpid():
        state_file.unlink(missing_ok=True)


def _hook_secret_file(state_file: Path) -> Path:
    return state_file.parent / HOOK_SECRET_NAME


def _banner(
    console: Console, stack: LocalStack, settings: StackSettings, *, state_file: Path, demo_cast: bool
) -> None:
    secret_hint = (
        "from OKTA_HOOK_SECRET"
        if settings.okta_hook_secret
        else f"generated; export OKTA_HOOK_SECRET=$(cat {_hook_secret_file(state_file)})"
    )
    replay = f"tvsync replay events/okta/*.json --url {stack.hook_url}"
    empty_okta = stack.okta is not None and not stack.okta.users()
    okta_kind = " (emulator, demo cast)" if demo_cast else " (emulator)" if stack.okta else ""
    if stack.okta_service_app:
        okta_kind += f"; read as service app {stack.okta_service_app} (OAuth 2.0, DPoP)"
    elif stack.okta:
        okta_kind += "; read with an API token (SSWS)"
    lines = [
        f"[bold]okta-teamviewer-sync[/bold] local stack{' (dry run)' if settings.dry_run else ''}",
        f"  hook URL      {stack.hook_url}",
        f"  hook secret   {secret_hint}",
        f"  TeamViewer    {stack.teamviewer_url}{' (emulator)' if stack.teamviewer else ''}",
        f"  Okta          {stack.okta_url}{okta_kind}",
        f"  AWS           {stack.aws_endpoint_url}{'' if settings.aws_endpoint_url else ' (embedded)'}",
        *(
            [f"  DynamoDB      {stack.dynamodb_endpoint_url} (embedded)"]
            if stack.dynamodb_endpoint_url
            else []
        ),
        f"  logs          {stack.log_path} (worker stderr: {stack.stderr_log_path})",
    ]
    lines.append(f"  try           {replay}")
    if empty_okta:
        # The sample deliveries are about the demo's people; an empty Okta knows none of
        # them, so replaying them would change nothing and look like a broken pipeline.
        lines += [
            "  note          the Okta emulator is empty, so those deliveries change nothing: restart",
            "                with `tvsync serve --demo-cast` to add the people they are about",
        ]
    lines.append("Ctrl-C to stop.")
    for line in lines:
        console.print(line, soft_wrap=True)


def line_printer(console: Console) -> Callable[[str], None]:
    """Console lines of the running stack: never wrapped, and data is never read as markup."""

    def print_line(line: str) -> None:
        console.print(line, soft_wrap=True, markup=False, emoji=False)

    return print_line


def _say(console: Console, text: str) -> None:
    """Print while stopping: after SIGHUP the terminal may be gone, which must not stop clean-up."""
    with suppress(OSError):
        console.print(text)


@contextmanager
def stop_signals() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP stop a command that runs a local stack, once.

    The first one raises ``KeyboardInterrupt`` in the main thread, even during start-up;
    any further one is ignored. A second Ctrl-C while the stack stops (people press it
    twice) would otherwise interrupt the clean-up half-way: the stack's processes would
    end with this one unreaped, zombies of whatever inherits them, and a stale state file
    could stay behind. Stopping is bounded (the worker instances get
    ``LocalStack.worker_stop_seconds``), and SIGKILL still ends everything
    (``tvsync.local.lifeline``).
    """
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    signals = [getattr(signal, name) for name in names if hasattr(signal, name)]

    def stop(_signum: int, _frame: FrameType | None) -> None:
        for number in signals:
            signal.signal(number, signal.SIG_IGN)
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, stop) for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _wait_for_interrupt() -> None:
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
