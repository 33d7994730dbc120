"""Loggers bound to the local stack's stdout outlive the stack: they must keep working after it."""

from __future__ import annotations

import io
import logging

import pytest

from tvsync.local.stack import _RoutedStdout

pytestmark = pytest.mark.unit  # pure: no sockets, processes or sleeps


def test_a_logger_that_outlived_the_stack_writes_to_todays_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    console_then, log = io.StringIO(), io.StringIO()
    routed = _RoutedStdout(console_then, log)
    handler = logging.StreamHandler(routed)  # as a function's logger binds to stdout on import
    routed.stop_routing()
    console_then.close()  # that console is gone (a finished test's capture, a closed terminal)
    handler.handle(logging.makeLogRecord({"msg": "after the stack", "levelno": logging.INFO}))
    handler.flush()
    assert "after the stack" in capsys.readouterr().out
