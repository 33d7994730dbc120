"""End to end: `tvsync serve` as a real process, driven over loopback HTTP exactly as Okta would.

The TeamViewer and Okta emulators run here, in the test process, as separate servers; the
stack gets their URLs and tokens through its environment contract (TEAMVIEWER_API_URL,
TEAMVIEWER_API_TOKEN, OKTA_ORG_URL, OKTA_API_TOKEN, OKTA_HOOK_SECRET, OKTA_APP_ID) — which
is what these tests prove, along with the pipeline's behaviour.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.support.serve import emulated_environment, free_port, start_serve, stop_serve
from tvsync.emulators.http import FaultPolicy, RunningServer, serve
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.teamviewer import TeamViewerEmulator

pytestmark = pytest.mark.e2e

APP_ID = "0oa1tvsync0000000001"
SECRET = "e2e-hook-secret"


@dataclass
class Served:
    url: str
    tv: TeamViewerEmulator
    okta: OktaEmulator
    state_file: Path
    process: subprocess.Popen[str]
    counter: int = 0

    def post(self, *events: dict[str, Any], secret: str = SECRET) -> httpx.Response:
        self.counter += 1
        body = {
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "eventId": f"e2e-delivery-{self.counter}",
            "data": {"events": list(events)},
        }
        return httpx.post(self.url, json=body, headers={"Authorization": secret}, timeout=10)

    def event(self, user_id: str, event_type: str, *, second: int | None = None) -> dict[str, Any]:
        self.counter += 1
        moment = second if second is not None else self.counter
        return {
            "uuid": f"e2e-{self.counter:05d}",
            "published": f"2026-11-02T10:{moment // 60 % 60:02d}:{moment % 60:02d}.000Z",
            "eventType": event_type,
            "outcome": {"result": "SUCCESS"},
            "target": [{"id": user_id, "type": "User"}],
        }

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.process.poll() is not None:
                raise AssertionError(
                    f"tvsync serve exited: {self.process.stdout.read() if self.process.stdout else ''}"
                )
            time.sleep(0.1)
        raise AssertionError("condition not reached in time")

    def idle(self, timeout: float = 20.0) -> None:
        """Wait until the stack's queue is empty (read through its published state file)."""
        import boto3

        state = json.loads(self.state_file.read_text())
        sqs = boto3.session.Session(region_name="us-east-1").client(
            "sqs",
            endpoint_url=state["aws_endpoint_url"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        queue = state["functions"]["WorkerFunction"]["EVENT_QUEUE_URL"]

        def empty() -> bool:
            attrs = sqs.get_queue_attributes(
                QueueUrl=queue,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            return (
                attrs["ApproximateNumberOfMessages"] == "0"
                and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
            )

        self.wait_for(empty, timeout)
        time.sleep(0.3)  # the last batch's bookkeeping


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tv = TeamViewerEmulator(token="e2e-tv-token")
    okta = OktaEmulator(token="e2e-okta-token")
    servers: list[RunningServer] = [serve(tv), serve(okta)]
    workdir = tmp_path_factory.mktemp("serve")
    state_file = workdir / "local-stack.json"
    port = free_port()
    env = emulated_environment(
        teamviewer_url=servers[0].url,
        teamviewer_token="e2e-tv-token",
        okta_url=servers[1].url,
        okta_token="e2e-okta-token",
        hook_secret=SECRET,
        app_id=APP_ID,
    )
    process = start_serve(cwd=workdir, env=env, port=port, state_file=state_file)
    handle = Served(f"http://127.0.0.1:{port}/okta/events", tv, okta, state_file, process)
    try:
        handle.wait_for(state_file.exists, timeout=60)
        yield handle
    finally:
        output = stop_serve(process)
        for server in servers:
            server.close()
        assert process.returncode == 0, output
        assert "stopped" in output
        assert not state_file.exists(), "a clean shutdown removes the state file"
        assert SECRET not in output and "e2e-tv-token" not in output and "e2e-okta-token" not in output


def assigned(s: Served, email: str, first: str, last: str) -> str:
    user_id = str(s.okta.add_user(email, first, last)["id"])
    s.okta.assign(APP_ID, user_id)
    return user_id


def test_verification_handshake(served: Served) -> None:
    response = httpx.get(
        served.url,
        headers={"Authorization": SECRET, "X-Okta-Verification-Challenge": "e2e-challenge"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json() == {"verification": "e2e-challenge"}


def test_bad_auth_is_refused_and_reaches_nobody(served: Served) -> None:
    user = assigned(served, "mallory@example.com", "Mallory", "Mock")
    before = len(served.okta.calls)
    response = served.post(served.event(user, "user.lifecycle.create"), secret="guess")
    assert response.status_code == 401
    time.sleep(0.5)
    assert len(served.okta.calls) == before, "nothing was queued, so the worker never looked the user up"
    assert served.tv.user_by_email("mallory@example.com") is None


def test_lifecycle_through_the_real_endpoint(served: Served) -> None:
    s = served
    user = str(s.okta.add_user("gina.green@example.com", "Gina", "Green")["id"])
    assert s.post(s.event(user, "user.lifecycle.create")).status_code == 200
    s.idle()
    assert s.tv.user_by_email("gina.green@example.com") is None, "not assigned: not provisioned"

    s.okta.assign(APP_ID, user)
    assert s.post(s.event(user, "application.user_membership.add")).status_code == 200
    s.wait_for(lambda: (s.tv.user_by_email("gina.green@example.com") or {}).get("active") is True)

    s.okta.update_profile(user, lastName="Grey")
    s.post(s.event(user, "user.account.update_profile"))
    s.wait_for(lambda: (s.tv.user_by_email("gina.green@example.com") or {}).get("name") == "Gina Grey")

    s.okta.set_status(user, "SUSPENDED", keep_assignments=True)
    s.post(s.event(user, "user.lifecycle.suspend"))
    s.wait_for(lambda: (s.tv.user_by_email("gina.green@example.com") or {}).get("active") is False)

    s.okta.set_status(user, "ACTIVE")
    s.post(s.event(user, "user.lifecycle.unsuspend"))
    s.wait_for(lambda: (s.tv.user_by_email("gina.green@example.com") or {}).get("active") is True)

    s.okta.set_status(user, "DEPROVISIONED")
    s.post(s.event(user, "user.lifecycle.deactivate"))
    s.wait_for(lambda: (s.tv.user_by_email("gina.green@example.com") or {}).get("active") is False)
    assert [u["email"] for u in s.tv.users()].count("gina.green@example.com") == 1


def test_duplicate_delivery_changes_nothing_twice(served: Served) -> None:
    s = served
    user = assigned(s, "hank.hill@example.com", "Hank", "Hill")
    event = s.event(user, "user.lifecycle.create")
    assert s.post(event).status_code == 200
    s.wait_for(lambda: s.tv.user_by_email("hank.hill@example.com") is not None)
    s.idle()
    writes = s.tv.writes()
    okta_calls = len(s.okta.calls)
    assert s.post(event).status_code == 200, "Okta's retry of the same delivery is accepted"
    s.idle()
    assert s.tv.writes() == writes
    assert len(s.okta.calls) == okta_calls, "deduplicated before the worker even read Okta"


def test_reordered_events_end_in_okta_current_state(served: Served) -> None:
    s = served
    user = assigned(s, "ivan.ink@example.com", "Ivan", "Ink")
    s.okta.set_status(user, "DEPROVISIONED")
    late, early = (
        s.event(user, "user.lifecycle.deactivate", second=50),
        s.event(user, "user.lifecycle.create", second=10),
    )
    assert s.post(late, early).status_code == 200
    s.idle()
    account = s.tv.user_by_email("ivan.ink@example.com")
    assert account is None, "a user deprovisioned by the time the worker looks is never created"


def test_conflict_is_recorded_and_the_rest_proceeds(served: Served) -> None:
    s = served
    s.tv.add_foreign_account("judy.jones@example.com", "Judy (private)")
    judy = assigned(s, "judy.jones@example.com", "Judy", "Jones")
    kim = assigned(s, "kim.kale@example.com", "Kim", "Kale")
    assert (
        s.post(s.event(judy, "user.lifecycle.create"), s.event(kim, "user.lifecycle.create")).status_code
        == 200
    )
    s.wait_for(lambda: s.tv.user_by_email("kim.kale@example.com") is not None)
    s.idle()
    assert s.tv.user_by_email("judy.jones@example.com", casefold=True) is None, "never taken over"
    creates = [c for c in s.tv.calls if c.method == "POST" and c.path == "/scim/v2/Users"]
    assert sum(1 for c in creates if c.status == 409) == 1, "the conflict is not retried"


def test_teamviewer_faults_are_ridden_out(served: Served) -> None:
    s = served
    users = [assigned(s, f"fault{n}@example.com", "Fault", f"Case{n}") for n in range(12)]
    s.tv.faults = FaultPolicy(failure_rate=0.3, seed=11, timeout_delay=0.2)
    try:
        assert s.post(*(s.event(u, "user.lifecycle.create") for u in users)).status_code == 200
        s.wait_for(lambda: all(s.tv.user_by_email(f"fault{n}@example.com") for n in range(12)), timeout=60)
    finally:
        s.tv.faults = FaultPolicy()
    s.idle(timeout=60)
    emails = [u["email"] for u in s.tv.users()]
    assert all(emails.count(f"fault{n}@example.com") == 1 for n in range(12))
    assert any(c.fault is not None for c in s.tv.calls), "faults were really injected"


def test_events_samples_replay_against_the_served_stack(served: Served) -> None:
    body = (ROOT / "events/okta/05-deactivate.json").read_bytes()
    response = httpx.post(served.url, content=body, headers={"authorization": SECRET}, timeout=10)
    assert response.status_code == 200


def test_the_tables_are_served_apart_from_the_queues_and_the_functions_know_where(served: Served) -> None:
    import boto3

    state = json.loads(served.state_file.read_text())
    tables_at, others_at = state["dynamodb_endpoint_url"], state["aws_endpoint_url"]
    assert tables_at and tables_at != others_at

    def tables(endpoint: str) -> list[str]:
        client = boto3.session.Session(region_name="us-east-1").client(
            "dynamodb", endpoint_url=endpoint, aws_access_key_id="local", aws_secret_access_key="local"
        )
        return client.list_tables()["TableNames"]

    worker = state["functions"]["WorkerFunction"]
    assert worker["SYNC_STATE_TABLE_NAME"] in tables(tables_at)
    assert tables(others_at) == []
    assert worker["AWS_ENDPOINT_URL_DYNAMODB"] == tables_at
    assert worker["AWS_ENDPOINT_URL"] == others_at
