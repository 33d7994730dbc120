"""``tvsync invoke``: a function's handler run in this process on an event, without Docker.

Every event of ``events/`` runs (the list is the directory, so a new file is covered as soon
as it is added), as do the two events ``sam local generate-event`` makes (``sam_events/``).
They run against embedded AWS unless a test starts a real ``tvsync serve``; its emulators
run here, in the test process, so what an invocation did in that stack can be seen.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Logger

import tvsync.cli.invoke as invoke_command
from tests.conftest import ROOT
from tests.support.serve import emulated_environment, start_serve, stop_serve
from tvsync.cli.context import StackContext, write_local_state
from tvsync.cli.main import main
from tvsync.emulators.http import RunningServer, serve
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.teamviewer import TeamViewerEmulator
from tvsync.local import demo_cast
from tvsync.local.aws import local_session
from tvsync.local.invocation import SAMPLE_HOOK_SECRET, Target, prepare
from tvsync.local.template import load_template

EVENTS = ROOT / "events"
ENV_JSON = EVENTS / "env.json"
SAM_EVENTS = Path(__file__).parent / "sam_events"
#: Every event under events/ — all of it but the env file, which is not an event.
EVENT_FILES = sorted(p for p in EVENTS.rglob("*.json") if p != ENV_JSON)

ALICE_EMAIL = "alice.archer@example.com"


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def document(self) -> dict[str, Any]:
        """The ``--json`` output."""
        parsed: dict[str, Any] = json.loads(self.out)
        return parsed

    def logs(self, message: str) -> list[dict[str, Any]]:
        """The function's JSON log lines with this message (from ``--json`` output)."""
        return [
            line
            for line in self.document["logs"]
            if isinstance(line, dict) and line.get("message") == message
        ]

    def metrics(self) -> dict[str, float]:
        """Every EMF metric the function printed, summed by name (from ``--json`` output)."""
        totals: dict[str, float] = {}
        for line in self.document["logs"]:
            if not isinstance(line, dict) or "_aws" not in line:
                continue
            for directive in line["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    values = line[metric["Name"]]
                    totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(
                        values if isinstance(values, list) else [values]
                    )
        return totals


Invoke = Callable[..., Ran]


@pytest.fixture
def run_invoke(capsys: pytest.CaptureFixture[str]) -> Invoke:
    def run(*argv: str | Path) -> Ran:
        code = main(["invoke", *map(str, argv)])
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run


@pytest.fixture
def no_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory without a local stack's state file."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def function_for(event: dict[str, Any]) -> str:
    """Which function an event of events/ is for, read from the event itself."""
    if event.get("eventType") == "com.okta.event_hook" or "httpMethod" in event:
        return "IngestFunction"
    if "Records" in event:
        return "WorkerFunction"
    raise AssertionError("an event of a new kind: teach test_invoke which function takes it")


def check_ingest_response(event: dict[str, Any], ran: Ran) -> None:
    """API Gateway events: what Okta would be answered; raw deliveries: wrapped, then queued."""
    response = ran.document["response"]
    if event.get("eventType") == "com.okta.event_hook":
        delivery = event
        assert any("raw Okta delivery" in note for note in ran.document["notes"])
    elif event["httpMethod"] == "GET":
        assert response["statusCode"] == 200
        challenge = event["headers"]["X-Okta-Verification-Challenge"]
        assert json.loads(response["body"]) == {"verification": challenge}
        return
    elif event["headers"].get("Authorization") != SAMPLE_HOOK_SECRET:
        assert response["statusCode"] == 401
        assert ran.logs("Delivery queued") == []
        return
    else:
        delivery = json.loads(event["body"])
    assert response["statusCode"] == 200
    [queued] = ran.logs("Delivery queued")
    assert queued["delivery_id"] == delivery["eventId"]
    assert queued["events_received"] == len(delivery["data"]["events"])
    assert queued["events_queued"] + queued["events_ignored"] == queued["events_received"]
    assert queued["events_queued"] > 0


def check_worker_response(event: dict[str, Any], ran: Ran) -> None:
    """SQS batches: every sync request applied (or recorded, like Erin's conflict), none failed."""
    assert ran.document["response"] == {"batchItemFailures": []}
    requested = {json.loads(record["body"])["event_uuid"] for record in event["Records"]}
    synced = {line["event_uuid"] for line in ran.logs("User synced")}
    assert synced == requested


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: str(p.relative_to(EVENTS)))
def test_every_event_file_runs_with_the_expected_outcome(
    path: Path, no_stack: Path, run_invoke: Invoke
) -> None:
    event = load(path)
    function_id = function_for(event)

    ran = run_invoke(function_id, "-e", path, "--env-vars", ENV_JSON, "--json")

    assert ran.code == 0, ran.err
    assert ran.err == ""
    document = ran.document
    assert document["function"] == function_id
    assert document["target"].startswith("embedded AWS")
    assert document["error"] is None
    if function_id == "IngestFunction":
        check_ingest_response(event, ran)
    else:
        check_worker_response(event, ran)
    assert SAMPLE_HOOK_SECRET not in ran.out


def test_the_sam_generated_api_gateway_event_is_answered_cleanly(
    no_stack: Path, run_invoke: Invoke, tmp_path: Path
) -> None:
    generated = load(SAM_EVENTS / "apigateway-aws-proxy.json")
    assert generated["isBase64Encoded"] is True and generated["path"] != "/okta/events"

    ran = run_invoke("ingest", "-e", SAM_EVENTS / "apigateway-aws-proxy.json", "--json")

    assert ran.code == 0, ran.err
    assert ran.document["response"]["statusCode"] == 404

    # The same event at the hook's path, authenticated: its base64 body is decoded and refused.
    generated.update(path="/okta/events", resource="/okta/events")
    generated["headers"]["Authorization"] = SAMPLE_HOOK_SECRET
    at_hook = tmp_path / "at-hook.json"
    at_hook.write_text(json.dumps(generated), encoding="utf-8")

    ran = run_invoke("ingest", "-e", at_hook, "--json")

    assert ran.code == 0, ran.err
    response = ran.document["response"]
    assert response["statusCode"] == 400
    assert "Okta event hook delivery" in json.loads(response["body"])["message"]
    assert ran.metrics()["InvalidRequests"] == 1


def test_the_sam_generated_sqs_event_is_dropped_and_reported(no_stack: Path, run_invoke: Invoke) -> None:
    generated = load(SAM_EVENTS / "sqs-receive-message.json")
    [record] = generated["Records"]
    assert "MessageGroupId" not in record["attributes"]

    ran = run_invoke("WorkerFunction", "-e", SAM_EVENTS / "sqs-receive-message.json", "--json")

    assert ran.code == 0, ran.err
    assert ran.document["response"] == {"batchItemFailures": []}
    [dropped] = ran.logs("Message is not a sync request; dropped, not retried")
    assert dropped["message_id"] == record["messageId"]
    assert ran.metrics() == {"InvalidRequests": 1}


def test_output_for_a_person_response_on_stdout_log_lines_on_stderr(
    no_stack: Path, run_invoke: Invoke
) -> None:
    ran = run_invoke("INGEST", "-e", EVENTS / "okta" / "01-user-create.json")

    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["statusCode"] == 200
    assert ran.out.startswith("{\n  "), "pretty JSON"
    first, *rest = ran.err.splitlines()
    assert first.startswith("invoking IngestFunction (functions/ingest/app.lambda_handler) on embedded AWS")
    notes = [line for line in rest if line.startswith("note: ")]
    assert notes == [
        "note: raw Okta delivery sent as API Gateway's POST /okta/events, the hook secret in Authorization"
    ]
    logs = [json.loads(line) for line in rest if line not in notes]
    assert [line.get("message") for line in logs if "message" in line] == ["Delivery queued"]
    assert any("_aws" in line for line in logs), "the EMF metrics line"
    assert SAMPLE_HOOK_SECRET not in ran.out + ran.err


def test_reconcile_reads_its_event_from_stdin(
    no_stack: Path, run_invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheduled = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(scheduled)))

    ran = run_invoke("reconcile", "-e", "-", "--json")

    assert ran.code == 0, ran.err
    summary = ran.document["response"]
    assert summary["complete"] is True
    # The story left Carol suspended and Dave deprovisioned in Okta, still active in TeamViewer.
    assert summary["to_deactivate"] == 2 and summary["enqueued"] >= 2


def test_env_vars_follow_sams_rules(no_stack: Path, run_invoke: Invoke, tmp_path: Path) -> None:
    """``Parameters`` apply to every function, a function's own entry wins, and only the
    variables the template declares are set — an env file cannot point a function at AWS."""
    env_file = tmp_path / "env.json"
    env_file.write_text(
        json.dumps(
            {
                "Parameters": {
                    "OKTA_HOOK_AUTH_HEADER": "X-Hook-Secret",
                    "AWS_ENDPOINT_URL": "http://10.0.0.1",
                },
                "WorkerFunction": {"OKTA_HOOK_AUTH_HEADER": "Authorization"},
            }
        ),
        encoding="utf-8",
    )
    # Ingest now reads the secret from X-Hook-Secret: the sample's Authorization header is refused...
    ran = run_invoke("ingest", "-e", EVENTS / "apigw-user-create.json", "--env-vars", env_file, "--json")
    assert ran.code == 0, ran.err
    assert ran.document["response"]["statusCode"] == 401
    # ...and a raw delivery is wrapped with the header the function reads.
    ran = run_invoke("ingest", "-e", EVENTS / "okta" / "04-suspend.json", "--env-vars", env_file, "--json")
    assert ran.code == 0, ran.err
    assert ran.document["response"]["statusCode"] == 200
    assert "the hook secret in X-Hook-Secret" in ran.document["notes"][0]

    env_file.write_text(json.dumps({"IngestFunction": {"OKTA_HOOK_AUTH_HEADER": "Authorization"}}))
    ran = run_invoke("ingest", "-e", EVENTS / "apigw-user-create.json", "--env-vars", env_file, "--json")
    assert ran.document["response"]["statusCode"] == 200


def test_the_shells_aws_settings_and_function_variables_reach_nothing(
    no_stack: Path, run_invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "corp-sso-not-in-any-config")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALACCOUNTKEY00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "the-admins-real-secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("EVENT_QUEUE_URL", "https://sqs.eu-west-3.amazonaws.com/210987654321/elsewhere.fifo")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    before = dict(os.environ)

    ran = run_invoke("ingest", "-e", EVENTS / "apigw-user-create.json", "--json")

    assert ran.code == 0, ran.err
    assert ran.document["response"]["statusCode"] == 200
    assert ran.logs("Delivery queued"), "the shell's log level is not the function's"
    assert dict(os.environ) == before


def test_each_invocation_captures_its_own_log_lines(
    no_stack: Path, run_invoke: Invoke, tmp_path: Path
) -> None:
    """Powertools binds a service's logger to the stream of its first creation, once per
    process: an invocation must still get its own lines, and leave that logger as it was."""
    service = f"invoke-capture-{uuid.uuid4().hex}"  # a logger no other test has configured
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"Parameters": {"POWERTOOLS_SERVICE_NAME": service}}), encoding="utf-8")
    earlier = io.StringIO()
    logger = Logger(service=service, stream=earlier)
    handlers = list(logging.getLogger(service).handlers)

    for _ in range(2):
        ran = run_invoke("ingest", "-e", EVENTS / "apigw-user-create.json", "--env-vars", env_file, "--json")
        assert ran.code == 0, ran.err
        [queued] = ran.logs("Delivery queued")
        assert queued["service"] == service

    assert earlier.getvalue() == "", "the invocations' lines went to their own output"
    assert logging.getLogger(service).handlers == handlers
    logger.info("still here")
    assert "still here" in earlier.getvalue()


def test_a_handler_that_raises_exits_1_with_one_line(
    no_stack: Path, run_invoke: Invoke, tmp_path: Path
) -> None:
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"IngestFunction": {"OKTA_HOOK_SECRET_ROTATION_GRACE_SECONDS": "-1"}}))

    ran = run_invoke("ingest", "-e", EVENTS / "apigw-user-create.json", "--env-vars", env_file)

    assert ran.code == 1
    assert ran.out == ""
    last = ran.err.splitlines()[-1]
    assert last.startswith("tvsync: error: IngestFunction raised ConfigurationError: invalid environment")
    assert "OKTA_HOOK_SECRET_ROTATION_GRACE_SECONDS" in last
    assert "Traceback" not in ran.err

    ran = run_invoke("ingest", "-e", EVENTS / "apigw-user-create.json", "--env-vars", env_file, "--json")
    assert ran.code == 1
    assert ran.document["response"] is None
    assert ran.document["error"].startswith("ConfigurationError: ")


def test_a_state_file_left_by_a_dead_serve_falls_back_to_embedded_aws(
    no_stack: Path, run_invoke: Invoke
) -> None:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    state_file = no_stack / ".tvsync" / "local-stack.json"
    write_local_state(state_file, StackContext(source="serve", functions={}, pid=finished.pid, local=True))

    ran = run_invoke("ingest", "-e", EVENTS / "apigw-verify.json", "--json")

    assert ran.code == 0, ran.err
    assert ran.document["target"].startswith("embedded AWS")
    assert any("left over" in note for note in ran.document["notes"])

    # Named explicitly, it is what the admin asked for: refused, not replaced.
    ran = run_invoke("ingest", "-e", EVENTS / "apigw-verify.json", "--local-state", state_file)
    assert ran.code == 2
    assert ran.err.startswith("tvsync: error: the local stack of ") and "no longer running" in ran.err


def test_a_raw_delivery_carries_the_targets_hook_secret_in_the_functions_header() -> None:
    template = load_template()

    class Stack(Target):
        def read_secret(self, secret_id: str) -> str | None:
            return "the-stacks-secret" if secret_id == "arn-of-the-hook-secret" else None

    target = Stack(
        description="a stack",
        functions={
            "IngestFunction": {
                "OKTA_HOOK_SECRET_ARN": "arn-of-the-hook-secret",
                "OKTA_HOOK_AUTH_HEADER": "X-Auth",
            }
        },
        aws_endpoint_url="http://127.0.0.1:1",
    )
    delivery = load(EVENTS / "okta" / "05-deactivate.json")

    prepared = prepare(template, "IngestFunction", target, delivery, {})

    event = prepared.event
    assert (event["httpMethod"], event["path"], event["resource"]) == ("POST", "/okta/events", "/okta/events")
    assert event["headers"]["X-Auth"] == "the-stacks-secret"
    assert "Authorization" not in event["headers"]
    assert json.loads(event["body"]) == delivery
    assert event["isBase64Encoded"] is False
    assert prepared.secrets == ("the-stacks-secret",)
    assert prepared.environment["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"


def _write(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8")
    return path


BAD_INPUT: dict[str, tuple[Callable[[Path], list[str | Path]], str]] = {
    "unknown function": (lambda d: ["Foo", "-e", EVENTS / "apigw-verify.json"], "unknown function 'Foo'"),
    "a resource, not a function": (
        lambda d: ["EventQueue", "-e", EVENTS / "apigw-verify.json"],
        "unknown function 'EventQueue'",
    ),
    "missing event file": (lambda d: ["ingest", "-e", d / "nope.json"], "does not exist"),
    "invalid JSON event": (lambda d: ["ingest", "-e", _write(d / "e.json", "{not json")], "not valid JSON"),
    "event not an object": (lambda d: ["ingest", "-e", _write(d / "e.json", "[1, 2]")], "not an event"),
    "env.json as the event": (lambda d: ["ingest", "-e", ENV_JSON], "pass it with --env-vars"),
    "raw delivery for the worker": (
        lambda d: ["worker", "-e", EVENTS / "okta" / "01-user-create.json"],
        "only IngestFunction receives",
    ),
    "missing env file": (
        lambda d: ["ingest", "-e", EVENTS / "apigw-verify.json", "--env-vars", d / "nope.json"],
        "does not exist",
    ),
    "env file not JSON": (
        lambda d: ["ingest", "-e", EVENTS / "apigw-verify.json", "--env-vars", _write(d / "v.json", "A=1")],
        "not valid JSON",
    ),
    "env file a list": (
        lambda d: ["ingest", "-e", EVENTS / "apigw-verify.json", "--env-vars", _write(d / "v.json", "[]")],
        "not an environment file",
    ),
    "env entry not an object": (
        lambda d: [
            "ingest",
            "-e",
            EVENTS / "apigw-verify.json",
            "--env-vars",
            _write(d / "v.json", '{"IngestFunction": "DRY_RUN=true"}'),
        ],
        "must map variable names to values",
    ),
    "misspelt function in env file": (
        lambda d: [
            "ingest",
            "-e",
            EVENTS / "apigw-verify.json",
            "--env-vars",
            _write(d / "v.json", '{"IngestFuntion": {"DRY_RUN": "true"}}'),
        ],
        "'IngestFuntion' is neither a function",
    ),
    "nested env value": (
        lambda d: [
            "ingest",
            "-e",
            EVENTS / "apigw-verify.json",
            "--env-vars",
            _write(d / "v.json", '{"Parameters": {"DRY_RUN": {"Ref": "DryRun"}}}'),
        ],
        "Parameters.DRY_RUN must be a string",
    ),
    "an event as the env file": (
        lambda d: ["ingest", "-e", EVENTS / "apigw-verify.json", "--env-vars", EVENTS / "apigw-verify.json"],
        "'resource' is neither a function",
    ),
    "named state file missing": (
        lambda d: ["ingest", "-e", EVENTS / "apigw-verify.json", "--local-state", d / "state.json"],
        "no local stack state at",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUT, ids=str)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_invoke: Invoke
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    argv, expected = BAD_INPUT[case]
    arguments = argv(inputs)

    def must_not_start(*_args: object) -> Iterator[Target]:
        raise AssertionError("bad input started embedded AWS")

    monkeypatch.setattr(invoke_command, "embedded_target", must_not_start)
    environ = dict(os.environ)

    ran = run_invoke(*arguments)

    assert ran.code == 2
    assert ran.out == ""
    [line] = ran.err.splitlines()
    assert line.startswith("tvsync: error: ") and expected in line, line
    assert list(cwd.iterdir()) == []
    assert dict(os.environ) == environ


# ---------------------------------------------------------------------- against `tvsync serve`


@dataclass
class Served:
    workdir: Path
    state_file: Path
    teamviewer: TeamViewerEmulator
    process: subprocess.Popen[str]

    def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            assert self.process.poll() is None, "tvsync serve exited"
            time.sleep(0.1)
        raise AssertionError(f"not reached: {what}")

    def idle(self) -> None:
        """The stack's queue is empty: its workers have taken every message and finished them."""
        state = json.loads(self.state_file.read_text(encoding="utf-8"))
        sqs: Any = local_session().client("sqs", endpoint_url=state["aws_endpoint_url"])
        queue = state["functions"]["WorkerFunction"]["EVENT_QUEUE_URL"]
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]

        def empty() -> bool:
            attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=names)["Attributes"]
            return all(attributes[name] == "0" for name in names)

        self.wait_for(empty, "the stack's queue is empty")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``tvsync serve`` with the samples' hook secret, its Okta and TeamViewer here, with the demo cast."""
    teamviewer = TeamViewerEmulator(token="invoke-tv-token")
    okta = OktaEmulator(token="invoke-okta-token")
    demo_cast.seed(okta, teamviewer)
    for _name, change in demo_cast.STORY:
        change(okta)
    servers: list[RunningServer] = [serve(teamviewer), serve(okta)]
    workdir = tmp_path_factory.mktemp("invoke-serve")
    state_file = workdir / ".tvsync" / "local-stack.json"
    env = emulated_environment(
        teamviewer_url=servers[0].url,
        teamviewer_token="invoke-tv-token",
        okta_url=servers[1].url,
        okta_token="invoke-okta-token",
        hook_secret=SAMPLE_HOOK_SECRET,
        app_id=demo_cast.TEAMVIEWER_APP_ID,
    )
    process = start_serve(cwd=workdir, env=env)
    handle = Served(workdir, state_file, teamviewer, process)
    try:
        handle.wait_for(state_file.exists, "tvsync serve published its state", timeout=90)
        yield handle
    finally:
        output = stop_serve(process)
        for server in servers:
            server.close()
        assert process.returncode == 0, output


@pytest.mark.e2e
def test_with_env_json_a_running_stack_queues_and_processes_the_events(
    served: Served, run_invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(served.workdir)  # where `tvsync serve` wrote .tvsync/local-stack.json

    ran = run_invoke(
        "IngestFunction", "-e", EVENTS / "apigw-user-create.json", "--env-vars", ENV_JSON, "--json"
    )

    assert ran.code == 0, ran.err
    assert ran.document["target"].startswith("the local stack of .tvsync/local-stack.json")
    assert ran.document["response"]["statusCode"] == 200
    [queued] = ran.logs("Delivery queued")
    assert queued["events_queued"] == 6
    # The stack's queue got them: its own workers give Alice her account.
    served.wait_for(lambda: served.teamviewer.user_by_email(ALICE_EMAIL) is not None, "Alice has an account")
    served.idle()

    ran = run_invoke(
        "WorkerFunction", "-e", EVENTS / "sqs-user-create.json", "--env-vars", ENV_JSON, "--json"
    )

    assert ran.code == 0, ran.err
    assert ran.document["response"] == {"batchItemFailures": []}
    # The same six events, already applied by the stack's workers: the invocation used the
    # stack's idempotency table (embedded AWS would have started empty and synced them again).
    assert ran.metrics() == {"DuplicateEvents": 6}
    assert ran.logs("User synced") == []
    assert any("OKTA_ORG_URL, TEAMVIEWER_API_URL not applied" in note for note in ran.document["notes"])


@pytest.mark.e2e
def test_a_raw_delivery_reaches_a_running_stack(
    served: Served, run_invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(served.workdir)

    ran = run_invoke("ingest", "-e", EVENTS / "okta" / "03-profile-update.json", "--json")

    assert ran.code == 0, ran.err
    assert ran.document["response"]["statusCode"] == 200
    served.wait_for(
        lambda: (
            (served.teamviewer.user_by_email("bob.baker@example.com") or {}).get("name") == "Robert Baker"
        ),
        "Bob is renamed in TeamViewer",
    )
    assert SAMPLE_HOOK_SECRET not in ran.out + ran.err


@pytest.mark.e2e
def test_embedded_is_used_when_asked_even_beside_a_running_stack(
    served: Served, run_invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(served.workdir)

    ran = run_invoke("ingest", "-e", EVENTS / "apigw-verify.json", "--embedded", "--json")

    assert ran.code == 0, ran.err
    assert ran.document["target"].startswith("embedded AWS")
    assert ran.document["response"]["statusCode"] == 200
