"""Fixtures shared by the CLI tests."""

from __future__ import annotations

import os

import pytest

from tvsync.cli.output import console


@pytest.fixture
def piped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output as in a CI log: stdout is not a terminal, nor any other stream, and no COLUMNS.

    Rich would lay such output out at 80 columns; the CLI's console must not wrap it at all.
    """

    def no_terminal(fd: int = 1) -> os.terminal_size:
        raise OSError(25, "Inappropriate ioctl for device")

    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(os, "get_terminal_size", no_terminal)
    # As constructed in a process started without COLUMNS (and undoing any test's fixed width).
    monkeypatch.setattr(console, "_width", None)
