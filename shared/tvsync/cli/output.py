"""Console conventions shared by the subcommands: one error type, one console."""

from __future__ import annotations

import sys

from rich.console import Console


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


#: Human output goes to stdout; ``--json`` modes print plain JSON through ``print`` instead.
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def stable_console() -> Console:
    """A console bound to today's stdout: lines printed from function threads of the local
    stack must reach the terminal, not the functions' log the stack routes stdout to."""
    return Console(file=sys.stdout, highlight=False)
