"""``tvsync serve``: the whole pipeline on this machine until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from typing import Any

from rich.console import Console

from tvsync.cli.context import LOCAL_STATE, StackContext, write_local_state
from tvsync.cli.output import CliError, stable_console
from tvsync.local import demo_cast
from tvsync.local.stack import LocalStack, StackObserver, StackSettings

ORDER = 10
HOOK_SECRET_FILE = Path(".tvsync/hook-secret")

HELP = """\
Run the real pipeline locally: API Gateway emulation in front of IngestFunction, the SQS FIFO
queue and tables from template.yaml in embedded AWS (a moto server), and WorkerFunction fed by
an emulated event source mapping. Post Okta deliveries to the printed URL (or use
`tvsync replay`); each delivery and each applied change prints one line.

Environment (all optional):
  TEAMVIEWER_API_URL, TEAMVIEWER_API_TOKEN   a TeamViewer API (default: the built-in emulator)
  OKTA_ORG_URL, OKTA_API_TOKEN               an Okta org (default: the built-in emulator)
  OKTA_HOOK_SECRET                           the hook's auth header value (default: generated,
                                             written to .tvsync/hook-secret)
  OKTA_APP_ID                                only users assigned to this app are provisioned
  TEAMVIEWER_SSO_CUSTOMER_ID                 applied to accounts on create
  AWS_ENDPOINT_URL                           use this AWS endpoint instead of embedded AWS
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the whole pipeline locally until Ctrl-C",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=3000, help="port of the hook endpoint (default 3000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--dry-run", action="store_true", help="plan and record changes, write nothing to TeamViewer"
    )
    parser.add_argument(
        "--demo-cast",
        action="store_true",
        help="seed the built-in emulators with the people of events/okta/ (see `tvsync demo`)",
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
    settings = StackSettings.from_environ(port=args.port, host=args.host, dry_run=args.dry_run or None)
    stack = LocalStack(settings, observer=StackObserver(print_line=console.print))
    try:
        stack.start()
    except OSError as exc:
        raise CliError(
            f"cannot start the local stack: {exc} (is port {args.port} in use? try --port)"
        ) from None
    try:
        if args.demo_cast:
            if stack.okta is None or stack.teamviewer is None:
                raise CliError(
                    "--demo-cast needs the built-in emulators (unset OKTA_ORG_URL and TEAMVIEWER_API_URL)"
                )
            demo_cast.seed(stack.okta, stack.teamviewer)
            for _name, change in demo_cast.STORY:
                change(stack.okta)
        _publish(stack, args.state_file)
        _banner(console, stack, settings)
        _wait_for_interrupt()
    finally:
        console.print("stopping…")
        stack.close()
        args.state_file.unlink(missing_ok=True)
    console.print("stopped")
    return 0


def _publish(stack: LocalStack, state_file: Path) -> None:
    write_local_state(
        state_file,
        StackContext(
            source="local stack",
            functions=stack.functions,
            aws_endpoint_url=stack.aws_endpoint_url,
            extra={
                "hook_url": stack.hook_url,
                "teamviewer_url": stack.teamviewer_url,
                "okta_url": stack.okta_url,
            },
        ),
    )
    if not stack.settings.okta_hook_secret:
        HOOK_SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
        HOOK_SECRET_FILE.write_text(stack.hook_secret, encoding="utf-8")
        HOOK_SECRET_FILE.chmod(0o600)


def _banner(console: Console, stack: LocalStack, settings: StackSettings) -> None:
    secret_hint = (
        "from OKTA_HOOK_SECRET"
        if settings.okta_hook_secret
        else f"generated; export OKTA_HOOK_SECRET=$(cat {HOOK_SECRET_FILE})"
    )
    console.print(f"[bold]okta-teamviewer-sync[/bold] local stack{' (dry run)' if settings.dry_run else ''}")
    console.print(f"  hook URL      {stack.hook_url}")
    console.print(f"  hook secret   {secret_hint}")
    console.print(f"  TeamViewer    {stack.teamviewer_url}{' (emulator)' if stack.teamviewer else ''}")
    console.print(f"  Okta          {stack.okta_url}{' (emulator)' if stack.okta else ''}")
    console.print(
        f"  AWS           {stack.aws_endpoint_url}{'' if settings.aws_endpoint_url else ' (embedded)'}"
    )
    console.print("  logs          .tvsync/logs/functions.jsonl")
    console.print(f"  try           tvsync replay events/okta/*.json --url {stack.hook_url}")
    console.print("Ctrl-C to stop.")


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
