"""``tvsync dlq list`` / ``tvsync dlq redrive``: see what failed for good, and send it back.

An event reaches the DLQ after the worker failed it ``maxReceiveCount`` times — always for a
reason that outlasted the retries (an expired token, an outage, a bug). ``list`` joins each
message with the user's SyncStateTable item, where the worker recorded the last error, so
the operator sees *why* without searching logs; once the cause is fixed, ``redrive`` puts
the events back. The worker re-reads Okta, so a redriven event applies the user's state of
*now*, not of when the event was sent.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from tvsync.adapters.dead_letters import DeadLetter, DeadLetterError, DeadLetterQueue, RedriveResult
from tvsync.adapters.sync_state import SyncStateStore
from tvsync.cli.context import StackContext, add_stack_arguments, resolve
from tvsync.cli.output import CliError, console, err_console, plural, print_json, print_table
from tvsync.models.sync_state import SyncState

ORDER = 70
RETRYING = "retrying"

DESCRIPTION = """\
Inspect and redrive the event dead-letter queue (EventDeadLetterQueue).

  list      show each dead-lettered event: Okta user, event type and uuid, how often it was
            received, when it was first received, and the last error the worker recorded
            for that user (SyncStateTable)
  redrive   move the events back to the event queue, keeping each one's message group
            (the Okta user) and deduplication id; fix the cause first (see docs/operations.md)

The DLQ is found through the event queue's RedrivePolicy; nothing else needs configuring.

examples:
  tvsync dlq list                       # the local stack started by `tvsync serve`
  tvsync dlq list --stack okta-tv-sync  # a deployed stack (your AWS credentials)
  tvsync dlq redrive --max 10           # move ten, watch them succeed, then the rest
"""


@dataclass(frozen=True)
class DeadLetterView:
    """A dead letter and what SyncStateTable knows about its user."""

    letter: DeadLetter
    state: SyncState | None

    @property
    def unreadable(self) -> str | None:
        """Why the message is not a sync request — then it has no event to show — or None."""
        if not self.letter.body_problem:
            return None
        return f"unreadable message {self.letter.message_id}: {self.letter.body_problem}"

    @property
    def last_error(self) -> str | None:
        if self.unreadable:
            return self.unreadable
        if self.state is not None and self.state.last_outcome == RETRYING:
            return self.state.last_reason
        return None

    def as_dict(self) -> dict[str, Any]:
        request = self.letter.request
        retrying = self.state is not None and self.state.last_outcome == RETRYING
        return {
            "message_id": self.letter.message_id,
            "okta_user_id": self.letter.okta_user_id,
            "message_group_id": self.letter.group_id,
            "event_type": request.event_type if request else None,
            "event_uuid": request.event_uuid if request else None,
            "source": request.source if request else None,
            "published": _iso(request.published) if request else None,
            "unreadable": self.letter.body_problem is not None,
            "receive_count": self.letter.receive_count,
            "sent_at": _iso(self.letter.sent_at),
            "first_received_at": _iso(self.letter.first_received_at),
            "last_attempt_at": _iso(self.state.updated_at) if self.state and retrying else None,
            "last_error": self.last_error,
            "user_last_outcome": self.state.last_outcome if self.state else None,
        }


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dlq",
        help="list and redrive dead-lettered events",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)

    listing = actions.add_parser(
        "list",
        help="show the dead-lettered events and the last error for each user",
        description="Show the events in the DLQ; they stay there. Each look adds one to their receive count.",
    )
    listing.add_argument(
        "--limit", type=_positive, default=100, metavar="N", help="show at most N messages (default 100)"
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_stack_arguments(listing)
    listing.set_defaults(run=run_list)

    redrive = actions.add_parser(
        "redrive",
        help="move dead-lettered events back to the event queue",
        description=(
            "Move dead-lettered events back to the event queue, keeping message group and "
            "deduplication ids. Uses an SQS message move task when the whole DLQ moves and the "
            "endpoint supports it; otherwise receives, re-sends, then deletes, so an interrupted "
            "run loses nothing and can simply be run again."
        ),
    )
    redrive.add_argument(
        "--max", type=_positive, default=None, metavar="N", help="move at most N messages (always the loop)"
    )
    redrive.add_argument(
        "--method",
        choices=["auto", "move-task", "loop"],
        default="auto",
        help="auto (default): a move task when supported and no --max; else the receive-send-delete loop",
    )
    redrive.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    add_stack_arguments(redrive)
    redrive.set_defaults(run=run_redrive)


def run_list(args: argparse.Namespace) -> int:
    context = resolve(args)
    queue = _queue(context)
    letters = queue.peek(limit=args.limit)
    views = [
        DeadLetterView(letter, state)
        for letter, state in zip(letters, _states(context, letters), strict=True)
    ]
    depth = queue.depth()
    if args.json:
        print_json({"dlq_url": queue.dlq_url, "depth": depth, "messages": [v.as_dict() for v in views]})
        return 0
    if not views:
        console.print(f"The DLQ is empty ({queue.dlq_url}).")
        return 0
    print_table(console, _table(views))
    shown = len(views)
    if depth > shown:
        console.print(
            f"{shown:,} of about {plural(depth, 'message')} shown "
            "(--limit; FIFO shows at most 10 per user per look)."
        )
    console.print("Fix the cause (docs/operations.md), then: tvsync dlq redrive")
    return 0


def run_redrive(args: argparse.Namespace) -> int:
    context = resolve(args)
    queue = _queue(context)
    with Progress(
        TextColumn("redriving"), BarColumn(), MofNCompleteColumn(), console=err_console, transient=True
    ) as bar:
        task = bar.add_task("redrive", total=None)

        def show(moved: int, total: int | None) -> None:
            bar.update(task, completed=moved, total=total)

        try:
            result = queue.redrive(max_messages=args.max, method=args.method, progress=show)
        except DeadLetterError as exc:
            raise CliError(str(exc)) from None
    if args.json:
        print_json(_result_dict(result))
    else:
        _print_result(result)
    return 1 if result.failed or result.problems else 0


def _queue(context: StackContext) -> DeadLetterQueue:
    queue_url = context.value("EVENT_QUEUE_URL")  # what is missing, before how to reach AWS
    try:
        return DeadLetterQueue.of_queue(context.client("sqs"), queue_url)
    except DeadLetterError as exc:
        raise CliError(str(exc)) from None


def _states(context: StackContext, letters: list[DeadLetter]) -> list[SyncState | None]:
    """Each letter's SyncStateTable item; none at all when the table is not known here."""
    try:
        table = context.value("SYNC_STATE_TABLE_NAME")
    except CliError:
        return [None] * len(letters)
    store = SyncStateStore(context.client("dynamodb"), table)
    cache: dict[str, SyncState | None] = {}
    found: list[SyncState | None] = []
    for letter in letters:
        user = letter.okta_user_id
        if user is None:
            found.append(None)
            continue
        if user not in cache:
            cache[user] = store.get(user)
        found.append(cache[user])
    return found


def _table(views: list[DeadLetterView]) -> Table:
    title = f"Dead-lettered events ({plural(len(views), 'message')} shown)"
    table = Table(title=title, title_justify="left")
    # Ids and times are copied and searched for: never split; only the free text wraps.
    for column in ("Okta user", "Event", "Event uuid", "Receives", "First received (UTC)"):
        table.add_column(column, no_wrap=True, overflow="ignore")
    table.add_column("Last error", overflow="fold")
    for view in views:
        request = view.letter.request
        table.add_row(
            view.letter.okta_user_id or "?",
            request.event_type if request else "-",
            request.event_uuid if request else "-",
            str(view.letter.receive_count),
            _short(view.letter.first_received_at),
            view.last_error or _no_error_hint(view),
        )
    return table


def _no_error_hint(view: DeadLetterView) -> str:
    if view.state is None:
        return "-"
    # The user's last sync went through: this event is superseded, redriving it is harmless.
    return f"(user's last sync: {view.state.last_outcome})"


def _print_result(result: RedriveResult) -> None:
    how = "SQS message move task" if result.method == "move-task" else "receive-send-delete loop"
    console.print(f"Moved {plural(result.moved, 'message')} back to the event queue ({how}).")
    if result.delete_failed:
        verbs = "was sent but is" if result.delete_failed == 1 else "were sent but are"
        console.print(
            f"{plural(result.delete_failed, 'message')} {verbs} still in the DLQ: run redrive again "
            "(the repeat is deduplicated)."
        )
    for problem in result.problems:
        console.print(f"problem: {problem}")
    if result.remaining:
        remain = "remains" if result.remaining == 1 else "remain"
        console.print(f"About {plural(result.remaining, 'message')} {remain} in the DLQ.")


def _result_dict(result: RedriveResult) -> dict[str, Any]:
    return {
        "method": result.method,
        "moved": result.moved,
        "failed": result.failed,
        "delete_failed": result.delete_failed,
        "remaining": result.remaining,
        "task_handle": result.task_handle,
        "problems": result.problems,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _short(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number
