"""Fixtures of the WorkerFunction tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tvsync.emulators.http import RunningServer


@pytest.fixture
def servers() -> Iterator[list[RunningServer]]:
    """Emulator servers a test starts (``start_with_recorded_sqs``), closed when it ends."""
    started: list[RunningServer] = []
    yield started
    for server in started:
        server.close()
