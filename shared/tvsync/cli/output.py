"""Console conventions shared by the subcommands: one error type, consoles, JSON, plurals.

Human output is read in two places: a terminal, where tables must fit its width, and a
pipe, a file or a CI log, where there is no width to fit and a line broken at 80 columns
only breaks ``grep`` and splits ids in two. Rich sizes everything that is not a terminal at
80 columns (unless ``COLUMNS`` says otherwise), so the consoles here lift that limit when
the output is not a terminal, and honour ``COLUMNS`` or the terminal's width when it is.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console, ConsoleDimensions, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


#: The width output that is not a terminal is laid out in: wide enough that no table row,
#: reason or id of ours is ever wrapped, so each row stays one line for grep and diff.
UNWRAPPED_WIDTH = 1000


class CliConsole(Console):
    """A rich console that wraps only where there is a width to respect.

    On a terminal it is rich's console, unchanged. Anywhere else — a pipe, a file, a CI log —
    it is ``UNWRAPPED_WIDTH`` wide instead of rich's 80 columns; a width given explicitly
    (``COLUMNS``, ``width=``, ``console.width = ...``) always wins. Decided at every print,
    because the console writes to whatever ``sys.stdout`` is at that moment.
    """

    @property
    def size(self) -> ConsoleDimensions:
        dimensions = super().size
        # ``_width`` is rich's record of an explicit width: COLUMNS, width= or the setter.
        if self._width is None and not self.is_terminal:
            return ConsoleDimensions(UNWRAPPED_WIDTH, dimensions.height)
        return dimensions

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


#: Human output goes to stdout; ``--json`` modes print plain JSON through ``print_json`` instead.
console = CliConsole(highlight=False)
err_console = CliConsole(stderr=True, highlight=False)


def stable_console() -> Console:
    """A console bound to today's stdout: lines printed from function threads of the local
    stack must reach the terminal, not the functions' log the stack routes stdout to."""
    return CliConsole(file=sys.stdout, highlight=False)


class Unsplit:
    """A table whose no-wrap columns — ids, uuids, emails, times — are shown whole, always.

    On a terminal too narrow for those columns, however much the other columns wrap, rich
    crops them as a last resort: an id cut short, silently. Wrapping them instead ("fold")
    splits an id over two lines, which no one can copy or search for. So the table is laid
    out at least as wide as its whole ids need; where that is wider than the terminal, the
    terminal wraps the line, and every id is still one unbroken string in the output.
    Wrappable columns (reasons, meanings) wrap as usual.
    """

    def __init__(self, table: Table) -> None:
        self.table = table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        unbounded = options.update(max_width=UNWRAPPED_WIDTH)
        for column in self.table.columns:
            if column.no_wrap:
                widths = [Measurement.get(console, unbounded, cell).maximum for cell in column.cells]
                column.min_width = max([column.min_width or 0, *widths])
        needed = Measurement.get(console, unbounded, self.table).minimum
        yield from console.render(self.table, options.update(max_width=max(options.max_width, needed)))


def print_table(console: Console, table: Table) -> None:
    """Print ``table`` with its ids whole (``Unsplit``): laid out, and printed, uncropped."""
    console.print(Unsplit(table), crop=False)


def print_json(payload: Any) -> None:
    """``--json`` output: one JSON document on stdout, nothing else, never wrapped."""
    print(json.dumps(payload, indent=2))


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``count`` and its noun in the right number: "1 message", "2 messages", "1,200 users".

    The CLI has a handful of nouns, all known here; an inflection library would add a
    dependency to get "entries" right, which ``plural_form`` already does.
    """
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count:,} {word}"
