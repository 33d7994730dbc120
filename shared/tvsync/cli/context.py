"""Where a command finds the stack it operates on: a local stack, a deployed one, or env vars.

Every operational command (check, reconcile, dlq, status) needs the same thing the Lambda
functions get — the environment of the function contract (DESIGN.md) — plus an AWS
endpoint. Sources, first match wins:

1. ``--stack NAME``: a deployed CloudFormation stack; its functions' environment is read
   from Lambda (``GetFunctionConfiguration``) — the exact values the functions run with.
2. ``--local-state FILE`` (default ``.tvsync/local-stack.json``, written by ``tvsync serve``
   while it runs): the local stack's endpoint and each function's environment.
3. The process environment (``EVENT_QUEUE_URL``, ``SYNC_STATE_TABLE_NAME``, ...).
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from tvsync.cli.output import CliError

LOCAL_STATE = Path(".tvsync/local-stack.json")
FUNCTION_IDS = ("IngestFunction", "WorkerFunction", "ReconcileFunction")


@dataclass
class StackContext:
    """The functions' environments and how to reach AWS for this stack."""

    source: str
    functions: dict[str, dict[str, str]] = field(default_factory=dict)
    aws_endpoint_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def env(self, function_id: str = "WorkerFunction") -> dict[str, str]:
        return self.functions.get(function_id, {})

    def value(self, name: str, function_id: str = "WorkerFunction") -> str:
        for candidate in (self.env(function_id), *self.functions.values()):
            if candidate.get(name):
                return candidate[name]
        raise CliError(f"{name} is not known for this stack ({self.source}); see --stack / --local-state")

    def session(self) -> boto3.session.Session:
        return boto3.session.Session()

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.aws_endpoint_url)  # type: ignore[call-overload]


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("which stack")
    group.add_argument(
        "--stack", metavar="NAME", help="a deployed CloudFormation stack (uses your AWS credentials)"
    )
    group.add_argument(
        "--local-state",
        metavar="FILE",
        type=Path,
        default=LOCAL_STATE,
        help=f"the state file of a running `tvsync serve` (default: {LOCAL_STATE})",
    )


def resolve(args: argparse.Namespace) -> StackContext:
    if getattr(args, "stack", None):
        return _from_stack(args.stack)
    state_file: Path = getattr(args, "local_state", LOCAL_STATE)
    if state_file.is_file():
        return _from_local_state(state_file)
    return _from_environment()


def write_local_state(path: Path, context: StackContext) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "aws_endpoint_url": context.aws_endpoint_url,
        "functions": context.functions,
        "extra": context.extra,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    path.chmod(0o600)


def _from_local_state(path: Path) -> StackContext:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None
    context = StackContext(
        source=f"local stack ({path})",
        functions=payload.get("functions", {}),
        aws_endpoint_url=payload.get("aws_endpoint_url"),
        extra=payload.get("extra", {}),
    )
    # The local stack's moto server accepts any credentials; make sure some are set.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return context


def _from_environment() -> StackContext:
    names = (
        "EVENT_QUEUE_URL",
        "IDEMPOTENCY_TABLE_NAME",
        "SYNC_STATE_TABLE_NAME",
        "TEAMVIEWER_TOKEN_SECRET_ARN",
        "TEAMVIEWER_API_URL",
        "OKTA_API_TOKEN_SECRET_ARN",
        "OKTA_ORG_URL",
        "OKTA_APP_ID",
        "OKTA_HOOK_SECRET_ARN",
        "TEAMVIEWER_SSO_CUSTOMER_ID",
        "EVENT_DLQ_URL",
    )
    env = {name: os.environ[name] for name in names if os.environ.get(name)}
    return StackContext(
        source="environment variables",
        functions={"WorkerFunction": env, "IngestFunction": env, "ReconcileFunction": env},
        aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
    )


def _from_stack(name: str) -> StackContext:
    cloudformation = boto3.session.Session().client("cloudformation")
    lambda_client = boto3.session.Session().client("lambda")
    try:
        resources = cloudformation.describe_stack_resources(StackName=name)["StackResources"]
    except Exception as exc:
        raise CliError(f"cannot read stack {name}: {exc}") from None
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
    functions = {}
    for function_id in FUNCTION_IDS:
        if function_id in physical:
            config = lambda_client.get_function_configuration(FunctionName=physical[function_id])
            functions[function_id] = dict(config.get("Environment", {}).get("Variables", {}))
    extra = {"EVENT_DLQ_URL": physical.get("EventDeadLetterQueue", "")}
    for env in functions.values():
        env.setdefault("EVENT_DLQ_URL", extra["EVENT_DLQ_URL"])
    return StackContext(source=f"stack {name}", functions=functions, extra=extra)
