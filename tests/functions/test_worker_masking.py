"""No email leaves the worker unmasked: not in its log lines, not in SyncStateTable's reasons.

TeamViewer's error messages may quote the address it refused, in any shape an address can
take. Here it refuses a create and quotes ``o'neil.o'brien@example.com`` (an apostrophe, which
an earlier mask stopped at) — the worker must record and log the refusal without it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest

from tests.conftest import Aws
from tests.support.pipeline import Pipeline, add_assigned, start_pipeline
from tvsync.emulators.http import EmulatorRequest, EmulatorResponse
from tvsync.emulators.teamviewer import SCIM_CONTENT_TYPE, SCIM_ERROR_SCHEMA, TeamViewerEmulator

ADDRESS = "o'neil.o'brien@example.com"


class QuotingTeamViewer(TeamViewerEmulator):
    """Refuses every create with a message that quotes the email, as servers often do."""

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        if request.method == "POST" and request.path == "/scim/v2/Users":
            body = request.json()
            detail = f"userName {body['userName']} is not allowed for this company"
            error = {
                "schemas": [SCIM_ERROR_SCHEMA],
                "status": "400",
                "scimType": "invalidValue",
                "detail": detail,
            }
            return EmulatorResponse(400, error, content_type=SCIM_CONTENT_TYPE)
        return super().handle(request)


@pytest.fixture
def pipeline(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    built, servers = start_pipeline(aws, monkeypatch, tv=QuotingTeamViewer())
    yield built
    for server in servers:
        server.close()


def test_a_refusal_that_quotes_the_email_is_recorded_and_logged_masked(pipeline: Pipeline) -> None:
    p = pipeline
    user = add_assigned(p, ADDRESS, "Owen", "O'Neil")
    # What the function prints, exactly as Lambda would ship it to CloudWatch.
    printed = io.StringIO()
    handler = p.worker.logger.registered_handler
    previous_stream = handler.setStream(printed)
    try:
        p.enqueue(user, "user.lifecycle.create")
        p.drain()
    finally:
        handler.setStream(previous_stream)

    state = p.state(user)
    assert state is not None and state.last_outcome == "invalid"
    assert state.last_reason is not None and "o***@example.com is not allowed" in state.last_reason
    assert "neil" not in state.last_reason

    lines = [json.loads(line) for line in printed.getvalue().splitlines()]
    synced = [line for line in lines if line["message"] == "User synced"]
    assert synced and synced[0]["reason"] == state.last_reason
    for line in lines:
        assert "neil" not in json.dumps(line), f"an email reached a log line: {line['message']}"
