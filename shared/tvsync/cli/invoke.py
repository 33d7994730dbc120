"""``tvsync invoke``: run one function's handler on an event, in this process, without Docker.

``sam local invoke`` needs Docker, which many admin workstations lack; this runs the same
handler (CodeUri + Handler of template.yaml, imported fresh with the function's environment)
against the running local stack when there is one, else against embedded AWS and the
emulators (``tvsync.local.invocation`` has the rules). Everything the user can get wrong —
the function's name, the event file, the env file, a named state file — is checked before
anything starts, so a mistake changes nothing and costs one line.

Output follows ``sam local invoke``: the function's log lines on stderr, its response as
pretty JSON on stdout (``--json``: one document with both). A response is a response,
whatever its status code; only a handler that raised makes the exit code non-zero.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tvsync.cli.context import LOCAL_STATE, not_running, read_local_state
from tvsync.cli.output import CliError
from tvsync.local.aws import LOCAL_REGION
from tvsync.local.invocation import (
    EnvVars,
    InvocationInputError,
    Target,
    check_event,
    embedded_target,
    handler_path,
    invoke,
    parse_env_vars,
    prepare,
    read_json,
    read_text,
    resolve_function,
    running_target,
)
from tvsync.local.template import load_template

ORDER = 15

HELP = """\
Run a function of template.yaml once, in this process, as Lambda would: its handler imported
fresh with its environment set (a cold start), given EVENT. No Docker, and never a real AWS
account: it runs against the local stack of a running `tvsync serve` (.tvsync/local-stack.json)
or, when none runs, against embedded AWS built from the template and the TeamViewer and Okta
emulators, seeded with the people of events/ (their API Gateway events authenticate there).

Events: any file of events/ — API Gateway events (IngestFunction), SQS batches (WorkerFunction)
and raw Okta deliveries (events/okta/*.json: given to IngestFunction as API Gateway's POST with
the hook secret in its auth header) — and events from `sam local generate-event`.

--env-vars takes SAM's env.json ({"IngestFunction": {"VAR": "value"}, "Parameters": {...}}):
its values override the function's environment, except where Okta and TeamViewer are, which
the local stack decides. events/env.json names what the local stack creates.

Prints the function's log lines (stderr) and its response (stdout). Exit 0 when the handler
returned (a 4xx or 5xx response included), 1 when it raised, 2 for a mistake in the arguments.
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "invoke",
        help="run one function's handler on an event, locally, without Docker",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "function",
        metavar="FUNCTION",
        help="IngestFunction, WorkerFunction or ReconcileFunction (or ingest, worker, reconcile)",
    )
    parser.add_argument(
        "-e", "--event", required=True, metavar="EVENT.json", help="the event: a JSON file, or - for stdin"
    )
    parser.add_argument(
        "--env-vars",
        type=Path,
        metavar="ENV.json",
        help="overrides of the function's environment (SAM format)",
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON document: response, error, log lines, notes"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--local-state",
        type=Path,
        metavar="FILE",
        help=f"the state file of the running `tvsync serve` to use (default: {LOCAL_STATE}, when it runs)",
    )
    where.add_argument(
        "--embedded", action="store_true", help="use embedded AWS and the emulators even when a stack runs"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    template = load_template()
    try:
        function_id = resolve_function(template, args.function)
        source = "stdin" if args.event == "-" else str(args.event)
        text = sys.stdin.read() if args.event == "-" else read_text(Path(args.event), "event file")
        event = check_event(template, function_id, read_json(text, source), source)
        overrides = _env_vars(template, args.env_vars)
    except InvocationInputError as exc:
        raise CliError(str(exc)) from None
    notes: list[str] = []
    with _target(args, template, notes) as target:
        try:
            prepared = prepare(template, function_id, target, event, overrides.for_function(function_id))
        except InvocationInputError as exc:
            raise CliError(str(exc)) from None
        notes += prepared.notes
        if not args.json:
            _say(f"invoking {function_id} ({handler_path(template, function_id)}) on {target.description}")
            for note in notes:
                _say(f"note: {note}")
        invocation = invoke(template, prepared)
    if args.json:
        document = {
            "function": function_id,
            "target": target.description,
            "response": invocation.response,
            "error": invocation.error,
            "logs": [_parsed(line) for line in invocation.logs],
            "notes": notes,
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        for line in invocation.logs:
            print(line, file=sys.stderr)
        if not invocation.failed:
            print(json.dumps(invocation.response, indent=2, ensure_ascii=False))
    if invocation.failed:
        print(f"tvsync: error: {function_id} raised {invocation.error}", file=sys.stderr)
        return 1
    return 0


def _env_vars(template: dict[str, Any], path: Path | None) -> EnvVars:
    if path is None:
        return EnvVars()
    return parse_env_vars(template, read_json(read_text(path, "env file"), str(path)), str(path))


@contextmanager
def _target(args: argparse.Namespace, template: dict[str, Any], notes: list[str]) -> Iterator[Target]:
    """The running stack when there is one (or the one named), else embedded AWS."""
    if args.embedded:
        with embedded_target(template) as target:
            yield target
        return
    explicit: Path | None = args.local_state
    if explicit is not None and not explicit.is_file():
        raise CliError(
            f"no local stack state at {explicit}: no `tvsync serve` writes it (leave out --local-state)"
        )
    state_file = explicit or LOCAL_STATE
    if state_file.is_file():
        context = read_local_state(state_file)
        problem = not_running(context)
        if problem is None:
            try:
                target = running_target(
                    context.functions,
                    aws_endpoint_url=context.aws_endpoint_url,
                    region=context.region or LOCAL_REGION,
                    source=str(state_file),
                )
            except InvocationInputError as exc:
                raise CliError(str(exc)) from None
            yield target
            return
        if explicit is not None:
            raise CliError(f"the local stack of {state_file} {problem}; start it again with `tvsync serve`")
        notes.append(f"{state_file} is left over from a `tvsync serve` that {problem}: using embedded AWS")
    with embedded_target(template) as target:
        yield target


def _parsed(line: str) -> Any:
    """A JSON log line as the object it is (EMF, Powertools); any other line as its text."""
    if line.startswith("{"):
        try:
            return json.loads(line)
        except ValueError:
            pass
    return line


def _say(text: str) -> None:
    print(text, file=sys.stderr)
