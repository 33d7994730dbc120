"""Fixtures of the WorkerFunction tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Aws
from tests.support.pipeline import Pipeline, start_pipeline
from tvsync.emulators.http import RunningServer


@pytest.fixture
def servers() -> Iterator[list[RunningServer]]:
    """Emulator servers a test starts (``start_with_recorded_sqs``), closed when it ends."""
    started: list[RunningServer] = []
    yield started
    for server in started:
        server.close()


@pytest.fixture
def pipeline(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    """The worker between embedded AWS and the emulators; a test file may give its own."""
    built, servers = start_pipeline(aws, monkeypatch)
    yield built
    for server in servers:
        server.close()
