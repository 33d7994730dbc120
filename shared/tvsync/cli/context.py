"""Where a command finds the stack it operates on: a local stack, a deployed one, or env vars.

Every operational command (check, reconcile, dlq, status) needs the same thing the Lambda
functions get — the environment ``tvsync.settings`` declares (docs/contracts.md) — plus an
AWS endpoint. Sources, first match wins:

1. ``--stack NAME``: a deployed CloudFormation stack; its functions' environment is read
   from Lambda (``GetFunctionConfiguration``) — the exact values the functions run with.
2. ``--local-state FILE``, or else ``.tvsync/local-stack.json`` (written by ``tvsync serve``
   while it runs) in the current directory or the nearest parent that has one — so a
   command works from anywhere inside the checkout ``serve`` runs in. The search stops at
   the first directory holding ``.git`` (the checkout's top) or at the filesystem root.
   The file gives the local stack's endpoint, region and each function's environment. A
   file named with ``--local-state`` must exist, and the stack it names must still run: a
   state file left behind by a crashed ``serve`` is reported, never used.
3. The process environment: every variable a function's settings model declares
   (``EVENT_QUEUE_URL``, ``SYNC_STATE_TABLE_NAME``, ...).

A local stack is reached with its own dummy credentials and region, whatever the shell
says (``AWS_PROFILE``, ``AWS_DEFAULT_REGION``, real keys): those describe the admin's real
AWS account, which a local stack is not — and must never be sent to it. The other two
sources use the shell's AWS configuration, as the AWS CLI would.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import BotoCoreError, NoCredentialsError, NoRegionError, ProfileNotFound

from tvsync.cli.output import CliError
from tvsync.local.aws import LOCAL_REGION, local_session, service_endpoint
from tvsync.settings import FUNCTION_SETTINGS, function_variable, function_variables

LOCAL_STATE = Path(".tvsync/local-stack.json")
#: The search for LOCAL_STATE goes no higher than a directory holding this: the checkout's top.
CHECKOUT_MARKER = ".git"
FUNCTION_IDS = tuple(FUNCTION_SETTINGS)
#: What to do when a command has no stack to work on.
START_ONE = (
    "start one with `tvsync serve`, name a deployed stack with --stack NAME, or set the "
    "functions' variables (EVENT_QUEUE_URL, ...)"
)
#: The one answer every command gives when it has no stack to work on.
NO_STACK = f"no local stack is running: {START_ONE}"
#: What a command reads from the process environment when no stack is named: the functions'
#: variables, as their settings models declare them. (The dead-letter queue needs none: the
#: commands find it through the event queue's redrive policy.)
ENVIRONMENT_VARIABLES = function_variables()

#: How long a local stack's port may take to accept a connection before it counts as gone.
_PROBE_TIMEOUT_SECONDS = 0.5


@dataclass
class StackContext:
    """The functions' environments and how to reach AWS for this stack.

    ``local``: a stack run by ``tvsync serve``, reached with dummy credentials in ``region``;
    ``pid`` is the ``serve`` process, so a command can tell a running stack from a dead one.
    """

    source: str
    functions: dict[str, dict[str, str]] = field(default_factory=dict)
    aws_endpoint_url: str | None = None
    #: A local stack's DynamoDB, served apart from its other services (None: ``aws_endpoint_url``).
    dynamodb_endpoint_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    region: str | None = None
    local: bool = False
    pid: int | None = None

    def env(self, function_id: str = "WorkerFunction") -> dict[str, str]:
        return self.functions.get(function_id, {})

    def value(self, name: str, function_id: str = "WorkerFunction") -> str:
        """A variable of the stack's functions (``function_id``'s first), or ``CliError`` naming it."""
        function_variable(name)
        for candidate in (self.env(function_id), *self.functions.values()):
            if candidate.get(name):
                return candidate[name]
        raise CliError(f"{name} is not known for this stack ({self.source}); see --stack / --local-state")

    def session(self) -> boto3.session.Session:
        if self.local:
            return local_session(self.region or LOCAL_REGION)
        try:
            return boto3.session.Session()
        except BotoCoreError as exc:
            raise CliError(f"{aws_problem(exc)} ({self.source})") from None

    def client(self, service: str) -> Any:
        try:
            endpoint = service_endpoint(service, self.aws_endpoint_url, self.dynamodb_endpoint_url)
            return self.session().client(service, endpoint_url=endpoint)  # type: ignore[call-overload]
        except BotoCoreError as exc:
            raise CliError(f"{aws_problem(exc)} ({self.source})") from None


def aws_problem(exc: BotoCoreError) -> str:
    """A botocore configuration or connection error as one line that says what to do."""
    if isinstance(exc, NoRegionError):
        return "no AWS region configured: set AWS_DEFAULT_REGION (or use a profile that has one)"
    if isinstance(exc, ProfileNotFound):
        return f"{exc}: fix AWS_PROFILE or your AWS config"
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found: sign in first (aws configure, or aws sso login)"
    return str(exc)


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("which stack")
    group.add_argument(
        "--stack", metavar="NAME", help="a deployed CloudFormation stack (uses your AWS credentials)"
    )
    group.add_argument(
        "--local-state",
        metavar="FILE",
        type=Path,
        default=None,
        help=(
            f"the state file of a running `tvsync serve` (default: {LOCAL_STATE} in the current "
            "directory or the nearest parent that has one)"
        ),
    )


def resolve(args: argparse.Namespace) -> StackContext:
    """The stack the command works on; a ``CliError`` naming what to do when there is none."""
    if getattr(args, "stack", None):
        return _from_stack(args.stack)
    explicit: Path | None = getattr(args, "local_state", None)
    if explicit is not None and not explicit.is_file():
        raise CliError(
            f"no local stack state at {explicit}: no `tvsync serve` is running with that --state-file "
            "(start one, or leave out --local-state)"
        )
    searched: list[Path] = []
    state_file = explicit
    if state_file is None:
        state_file, searched = find_local_state(Path.cwd())
    if state_file is not None:
        context = read_local_state(state_file)
        problem = not_running(context)
        if problem:
            raise CliError(
                f"no local stack is running: {state_file} is left over from a `tvsync serve` that "
                f"{problem}; start one with `tvsync serve`, or name a deployed stack with --stack NAME"
            )
        return context
    context = _from_environment()
    if not any(context.functions.values()):
        where = ", ".join(str(directory) for directory in searched)
        raise CliError(f"no local stack is running (no {LOCAL_STATE} in {where}): {START_ONE}")
    return context


def find_local_state(start: Path) -> tuple[Path | None, list[Path]]:
    """The state file of the ``tvsync serve`` nearest ``start``, and the directories looked in.

    ``serve`` writes it in the directory it was started in, usually the checkout's top; an
    admin runs the other commands from wherever they are in it. Looking further up than the
    checkout could find the stack of some other project, so the search ends at the first
    directory holding ``.git`` (or at the root).
    """
    searched: list[Path] = []
    for directory in (start, *start.parents):
        searched.append(directory)
        candidate = directory / LOCAL_STATE
        if candidate.is_file():
            return candidate, searched
        if (directory / CHECKOUT_MARKER).exists():
            break
    return None, searched


def write_local_state(path: Path, context: StackContext) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "aws_endpoint_url": context.aws_endpoint_url,
        "dynamodb_endpoint_url": context.dynamodb_endpoint_url,
        "region": context.region,
        "pid": context.pid,
        "functions": context.functions,
        "extra": context.extra,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    path.chmod(0o600)


def read_local_state(path: Path) -> StackContext:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None
    if not isinstance(payload, dict):
        raise CliError(f"cannot read {path}: not a local stack state file")
    pid = payload.get("pid")
    return StackContext(
        source=f"local stack ({path})",
        functions=payload.get("functions") or {},
        aws_endpoint_url=payload.get("aws_endpoint_url"),
        dynamodb_endpoint_url=payload.get("dynamodb_endpoint_url"),
        extra=payload.get("extra") or {},
        region=payload.get("region") or LOCAL_REGION,
        local=True,
        pid=pid if isinstance(pid, int) else None,
    )


def not_running(context: StackContext) -> str | None:
    """Why the local stack in ``context`` is not running, or None if it is (as far as we can tell).

    Its process must exist and its ports must answer: a process id alone may have been
    reused by another program since the stack died.
    """
    if context.pid is not None and not _process_exists(context.pid):
        return f"is no longer running (pid {context.pid})"
    for url in (context.extra.get("hook_url"), context.aws_endpoint_url):
        if url and not _answers(str(url)):
            return f"no longer answers at {url}"
    return None


def _process_exists(pid: int) -> bool:
    if os.name == "nt":  # pragma: no cover - os.kill would end the process there; ports decide
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    if host in {"0.0.0.0", "::"}:  # noqa: S104 - a listening address, reached on loopback
        host = "127.0.0.1"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        with socket.create_connection((host, port), timeout=_PROBE_TIMEOUT_SECONDS):
            return True
    except (OSError, ValueError):
        return False


def _from_environment() -> StackContext:
    env = {name: os.environ[name] for name in ENVIRONMENT_VARIABLES if os.environ.get(name)}
    return StackContext(
        source="environment variables",
        functions=dict.fromkeys(FUNCTION_IDS, env),
        aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
    )


def _from_stack(name: str) -> StackContext:
    try:
        session = boto3.session.Session()
        cloudformation = session.client("cloudformation")
        lambda_client = session.client("lambda")
        resources = cloudformation.describe_stack_resources(StackName=name)["StackResources"]
        physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
        functions: dict[str, dict[str, str]] = {}
        for function_id in FUNCTION_IDS:
            if function_id in physical:
                config = lambda_client.get_function_configuration(FunctionName=physical[function_id])
                functions[function_id] = dict(config.get("Environment", {}).get("Variables", {}))
    except Exception as exc:
        raise CliError(f"cannot read stack {name}: {exc}") from None
    return StackContext(source=f"stack {name}", functions=functions)
