"""The CLI's consoles: unwrapped in a pipe, fitted to a terminal, ids always whole; counted nouns."""

from __future__ import annotations

import io
import os

import pytest
from rich.table import Table

from tvsync.cli.output import UNWRAPPED_WIDTH, CliConsole, plural, print_table

pytestmark = pytest.mark.unit  # pure: no sockets, processes or sleeps

UUID = "8f2c7a1e-93b4-4d0f-a6c2-5e1b9d3f7a20"
REASON = " ".join(["the account could not be changed because TeamViewer said no"] * 3)


def table() -> Table:
    problems = Table(title="Most recent problems", title_justify="left")
    for column in ("Event uuid", "Email"):
        problems.add_column(column, no_wrap=True, overflow="ignore")
    problems.add_column("Why", overflow="fold")
    problems.add_row(UUID, "someone.with.a.long.name@example.com", REASON)
    return problems


@pytest.fixture
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """No stream is a terminal (a CI job): rich would otherwise take stdin's terminal width."""

    def no_size(fd: int = 1) -> os.terminal_size:
        raise OSError(25, "Inappropriate ioctl for device")

    monkeypatch.setattr(os, "get_terminal_size", no_size)


def test_output_that_is_not_a_terminal_is_never_wrapped(no_terminal: None) -> None:
    out = io.StringIO()
    console = CliConsole(file=out, _environ={})  # a pipe; no COLUMNS
    assert console.width == UNWRAPPED_WIDTH
    print_table(console, table())
    [row] = [line for line in out.getvalue().splitlines() if UUID in line]
    assert REASON in row and "someone.with.a.long.name@example.com" in row
    assert all(len(line) <= len(row) for line in out.getvalue().splitlines())


def test_an_explicit_width_is_honoured_even_in_a_pipe(no_terminal: None) -> None:
    assert CliConsole(file=io.StringIO(), _environ={"COLUMNS": "100"}).width == 100
    assert CliConsole(file=io.StringIO(), width=90).width == 90


@pytest.mark.parametrize("width", [120, 60])
def test_on_a_terminal_the_table_fits_and_ids_stay_whole(width: int) -> None:
    out = io.StringIO()
    console = CliConsole(file=out, force_terminal=True, width=width, color_system=None)
    print_table(console, table())
    lines = out.getvalue().splitlines()
    assert any(UUID in line for line in lines), "the uuid is one unbroken string"
    assert any("someone.with.a.long.name@example.com" in line for line in lines)
    assert len(lines) > 5, "the reason wraps inside its column"
    if width == 120:  # room enough: the table fits the terminal
        assert max(len(line) for line in lines) <= width


def test_plural() -> None:
    assert [plural(n, "message") for n in (0, 1, 2, 1200)] == [
        "0 messages",
        "1 message",
        "2 messages",
        "1,200 messages",
    ]
    assert plural(1, "delivery", "deliveries") == "1 delivery"
    assert plural(3, "delivery", "deliveries") == "3 deliveries"
