"""The whole pipeline on one machine: the real handlers, built from the real template.

``LocalStack`` starts (each only when not given from outside):

- embedded AWS: moto server processes on 127.0.0.1 (ephemeral ports) unless
  ``AWS_ENDPOINT_URL`` is set — one for DynamoDB (``dynamodb_endpoint_url``, given to the
  functions as ``AWS_ENDPOINT_URL_DYNAMODB``) and one for every other service. Under a burst
  one server for both ran at about 90 % of a core and its pauses stalled every worker
  instance at once (docs/benchmarks.md, pipeline burst); apart, the queue and the tables
  no longer slow each other down. The template's queues, tables and secrets are created
  in them (``tvsync.local.aws``);
- the TeamViewer and Okta emulators, unless ``TEAMVIEWER_API_URL`` / ``OKTA_ORG_URL`` point
  elsewhere; the Okta emulator is read as an API service app (OAuth 2.0 with a key pair made
  for the stack, DPoP required, as a new app in Okta has it) unless the stack's
  ``okta_auth`` is ``ssws``, which reads it with an API token as before;
- API Gateway in front of ``IngestFunction`` on ``http://127.0.0.1:3000/okta/events``;
- the SQS event source mapping for ``WorkerFunction``: as many instances as the template's
  ``MaximumConcurrency``, each a process of its own (``tvsync.local.worker_process``)
  polling batches of the template's ``BatchSize`` — what Lambda would run.

Secrets go into the embedded Secrets Manager; the functions get their ARNs, exactly as in
Lambda. Function output goes to ``.tvsync/logs/functions.jsonl`` (as to CloudWatch Logs),
one JSON line each, written as it happens; whatever a worker instance writes to stderr
(warnings, a crash) goes to ``functions.stderr.log`` beside it, so the JSON log stays
machine-readable. The console gets one readable line per delivery and per applied change
through ``StackObserver``, which reads the functions' structured log lines; a stack that
runs with ``DRY_RUN`` marks every one of them, and says what the worker *would* change.

Every process the stack starts (the moto servers, each worker instance) ends when the
stack's process ends, even killed with SIGKILL (``tvsync.local.lifeline``). ``close`` waits
for each of them — a process nobody waits for stays a zombie, and once the stack's process
has exited it is left to init, which in many containers never reaps it.

AWS as the functions see it is the stack's alone: dummy credentials, the stack's region and
no profile (``tvsync.local.aws.local_environ``), whatever the admin's shell has configured
— an ``AWS_PROFILE`` for their real account must neither break the stack nor reach it.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, TextIO

from tvsync.emulators.http import RunningServer, serve
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.okta_oauth import ServiceAppKeyPair
from tvsync.emulators.teamviewer import TeamViewerEmulator
from tvsync.local.api_gateway import ApiGatewayServer
from tvsync.local.aws import (
    DYNAMODB_ENDPOINT_ENV,
    LOCAL_REGION,
    LOCAL_STACK_NAME,
    LocalResources,
    local_environ,
    local_session,
    provision,
    service_endpoint,
)
from tvsync.local.functions import load_function
from tvsync.local.lifeline import child_environ
from tvsync.local.template import load_template, resource
from tvsync.observability import SERVICE
from tvsync.settings import function_variable

#: The plan reason the worker logs when there is no TeamViewer account to act on.
NO_ACCOUNT = "no-account"
#: The outcome the worker logs for a change it planned under DRY_RUN and did not make.
DRY_RUN_OUTCOME = "dry-run"
#: Marks every console line of a stack whose worker runs with DRY_RUN: nothing it says was applied.
DRY_RUN_MARK = "[dry run] "
#: Where ``LocalStack`` writes the functions' output, relative to the working directory.
LOG_DIR = Path(".tvsync/logs")
#: How the stack's functions read the built-in Okta emulator: as a service app, or with an API token.
OKTA_AUTH_MODES = ("oauth", "ssws")
#: The client id of the service app the stack registers in its Okta emulator.
LOCAL_SERVICE_APP = "0oaTvSyncLocal00h7"

FUNCTIONS_LOG = "functions.jsonl"
FUNCTIONS_STDERR_LOG = "functions.stderr.log"


#: What ``tvsync serve`` reads from its environment, by ``StackSettings`` field
#: (docs/contracts.md, "Local stack"). Eight are the functions' own variables, named by their
#: settings models: the stack passes each on as the template parameter that sets it. The
#: rest are the stack's: the plain values of the secrets it creates, and where AWS is.
STACK_ENVIRONMENT: Mapping[str, str] = MappingProxyType(
    {
        "teamviewer_api_url": function_variable("TEAMVIEWER_API_URL"),
        "teamviewer_api_token": "TEAMVIEWER_API_TOKEN",
        "okta_org_url": function_variable("OKTA_ORG_URL"),
        "okta_api_token": "OKTA_API_TOKEN",
        "okta_hook_secret": "OKTA_HOOK_SECRET",
        "okta_app_id": function_variable("OKTA_APP_ID"),
        "teamviewer_sso_customer_id": function_variable("TEAMVIEWER_SSO_CUSTOMER_ID"),
        "aws_endpoint_url": "AWS_ENDPOINT_URL",
        "dry_run": function_variable("DRY_RUN"),
        "push_group_ids": function_variable("PUSH_GROUP_IDS"),
        "group_role_map": function_variable("GROUP_ROLE_MAP"),
        "delete_unpushed_groups": function_variable("DELETE_UNPUSHED_GROUPS"),
    }
)


@dataclass(frozen=True)
class StackSettings:
    """The local stack's configuration: ``from_environ`` reads ``STACK_ENVIRONMENT``."""

    teamviewer_api_url: str | None = None
    teamviewer_api_token: str | None = None
    okta_org_url: str | None = None
    okta_api_token: str | None = None
    okta_hook_secret: str | None = None
    okta_app_id: str | None = None
    teamviewer_sso_customer_id: str | None = None
    aws_endpoint_url: str | None = None
    dry_run: bool = False
    push_group_ids: str | None = None
    group_role_map: str | None = None
    delete_unpushed_groups: bool = False
    host: str = "127.0.0.1"
    port: int = 3000

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> StackSettings:
        env = os.environ if environ is None else environ

        values: dict[str, Any] = {
            field: env.get(variable, "").strip() or None for field, variable in STACK_ENVIRONMENT.items()
        }
        for flag in ("dry_run", "delete_unpushed_groups"):
            values[flag] = (values[flag] or "false").lower() == "true"
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def template_parameters(settings: StackSettings, *, okta_url: str, teamviewer_url: str) -> dict[str, str]:
    """The template parameters the stack deploys with: what ``settings`` says, as CloudFormation
    passes it (strings; an unset optional one empty). ``okta_url`` and ``teamviewer_url`` are
    where Okta and TeamViewer are — the emulators' addresses when the settings name none."""
    return {
        "OktaOrgUrl": okta_url,
        "OktaAppId": settings.okta_app_id or "",
        "TeamViewerApiUrl": teamviewer_url,
        "TeamViewerSsoCustomerId": settings.teamviewer_sso_customer_id or "",
        "DryRun": "true" if settings.dry_run else "false",
        "PushGroupIds": settings.push_group_ids or "",
        "GroupRoleMap": settings.group_role_map or "",
        "DeleteUnpushedGroups": "true" if settings.delete_unpushed_groups else "false",
    }


@dataclass(frozen=True)
class SyncRecord:
    """One worker outcome, as the worker logged it (the console and the benchmarks read these)."""

    at: float
    okta_user_id: str
    event_uuid: str
    event_type: str
    outcome: str
    operations: tuple[str, ...]
    reason: str | None
    teamviewer_id: str | None
    email: str | None


@dataclass(frozen=True)
class GroupRecord:
    """One group sync, or one user's membership change, as the worker logged it.

    ``okta_user_id`` is set for a membership change (``operations`` is then the one member
    call made), None for a sync of the group itself.
    """

    at: float
    okta_group_id: str
    outcome: str
    operations: tuple[str, ...]
    teamviewer_group_id: int | None
    okta_user_id: str | None = None
    members_added: int = 0
    members_removed: int = 0


@dataclass
class StackObserver:
    """Turns the functions' structured log records into console lines and sync records.

    ``dry_run``: the stack's worker runs with DRY_RUN, so every line is marked with
    ``DRY_RUN_MARK`` and changes read "would ..." — an admin trying the pipeline against a
    real TeamViewer must never read a planned change as a made one. A sync the worker
    itself logs as a dry run is shown as one whatever this flag says.
    """

    print_line: Callable[[str], None] | None = None
    syncs: list[SyncRecord] = field(default_factory=list)
    groups: list[GroupRecord] = field(default_factory=list)
    failures: int = 0
    listeners: list[Callable[[SyncRecord], None]] = field(default_factory=list)
    dry_run: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _say(self, text: str, *, dry_run: bool = False) -> None:
        if self.print_line is not None:
            mark = DRY_RUN_MARK if self.dry_run or dry_run else ""
            self.print_line(f"{_clock()}  {mark}{text}")

    def delivery(
        self, method: str, path: str, status: int, seconds: float, response: Mapping[str, Any]
    ) -> None:
        body = str(response.get("body") or "")
        note = "" if status < 400 or not body else f"  {body[:120]}"
        self._say(f"{method:4} {path}  {status}  {seconds * 1000:.0f} ms{note}")

    def record(self, log: logging.LogRecord) -> None:
        self.observe(log.getMessage(), log.__dict__)

    def observe(self, message: str, fields: Mapping[str, Any]) -> None:
        """One structured log line of a function: its message and its fields."""
        if message == "Delivery queued":
            delivery = fields.get("delivery_id") or "(no eventId)"
            received = fields.get("events_received")
            events = f"{received} event" if received == 1 else f"{received} events"
            self._say(
                f"delivery {delivery}: queued {fields.get('events_queued')} of {events} "
                f"({fields.get('events_ignored')} ignored)"
            )
        elif message == "User synced":
            sync = SyncRecord(
                at=time.monotonic(),
                okta_user_id=str(fields.get("okta_user_id")),
                event_uuid=str(fields.get("event_uuid")),
                event_type=str(fields.get("event_type")),
                outcome=str(fields.get("outcome")),
                operations=tuple(fields.get("operations") or ()),
                reason=fields.get("reason"),
                teamviewer_id=fields.get("teamviewer_id"),
                email=fields.get("email"),
            )
            with self._lock:
                self.syncs.append(sync)
                listeners = list(self.listeners)
            for listener in listeners:
                listener(sync)
            # The worker says so on each line; its outcome says so when it planned a change.
            planned = fields.get("dry_run") is True or sync.outcome == DRY_RUN_OUTCOME
            who = f"{sync.okta_user_id} {sync.email or ''}"
            if sync.operations:
                target = f" -> {sync.teamviewer_id}" if sync.teamviewer_id else ""
                changes = ", ".join(sync.operations)
                self._say(f"{who}: {'would ' if planned else ''}{changes}{target}", dry_run=planned)
            elif sync.outcome != "no-change":
                self._say(f"{who}: {sync.outcome} ({sync.reason})", dry_run=planned)
            elif sync.email is None and sync.reason == NO_ACCOUNT:
                # Okta does not know the user (deleted, or never in this org) and TeamViewer
                # has no account: nothing to do — but say so, or a replay looks like a no-op.
                self._say(f"{who.rstrip()}: not found in Okta, nothing to do", dry_run=planned)
        elif message in {"Group synced", "Group sync planned (dry run)", "Group membership synced"}:
            self._group(message, fields)
        elif message.startswith("Sync failed"):
            with self._lock:
                self.failures += 1
            self._say(f"{fields.get('okta_user_id')}: will retry: {fields.get('error')}")
        elif message.startswith("Request refused"):
            self._say(f"refused: {fields.get('reason') or 'bad or missing auth header'}")

    def _group(self, message: str, fields: Mapping[str, Any]) -> None:
        """A group's own sync, or one user's membership change: recorded, and one console line."""
        user = fields.get("okta_user_id") if message == "Group membership synced" else None
        operation = fields.get("operation")
        record = GroupRecord(
            at=time.monotonic(),
            okta_group_id=str(fields.get("okta_group_id")),
            outcome=str(fields.get("outcome") or ("dry-run" if fields.get("dry_run") else "applied")),
            operations=(str(operation),) if operation else tuple(fields.get("operations") or ()),
            teamviewer_group_id=fields.get("teamviewer_group_id"),
            okta_user_id=str(user) if user else None,
            members_added=int(fields.get("members_added") or 0),
            members_removed=int(fields.get("members_removed") or 0),
        )
        with self._lock:
            self.groups.append(record)
        target = f" -> group {record.teamviewer_group_id}" if record.teamviewer_group_id else ""
        if record.okta_user_id is not None:
            joined = "joined" if operation == "add_members" else "left"
            self._say(f"{record.okta_user_id}: {joined} group {record.okta_group_id}{target}")
            return
        planned = message.endswith("(dry run)")
        changes = ", ".join(record.operations) or record.outcome
        members = [
            f"{count} {word}"
            for count, word in ((record.members_added, "added"), (record.members_removed, "removed"))
            if count
        ]
        detail = f" ({', '.join(members)})" if members else ""
        self._say(
            f"group {record.okta_group_id}: {'would ' if planned else ''}{changes}{detail}{target}",
            dry_run=planned,
        )


class _ObserverHandler(logging.Handler):
    def __init__(self, observer: StackObserver) -> None:
        super().__init__(level=logging.INFO)
        self._observer = observer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._observer.record(record)
        except Exception:
            self.handleError(record)


_THREAD = threading.local()


@contextmanager
def _in_function() -> Iterator[None]:
    """Marks the current thread as running a function (its output goes to the log file)."""
    _THREAD.in_function = True
    try:
        yield
    finally:
        _THREAD.in_function = False


class _RoutedStdout(io.TextIOBase):
    """stdout that sends what functions print to their log, and everything else to the console."""

    def __init__(self, console: TextIO, log: IO[str]) -> None:
        self._console = console
        self._log: IO[str] | None = log
        self._stopped = False
        self._lock = threading.Lock()

    @property
    def console(self) -> TextIO:
        """The console of the running stack; once it stopped, whatever stdout is now.

        Loggers bound to this stream outlive the stack (a function's logger is created when
        its module loads), and the stream that was stdout then may be closed since.
        """
        if self._stopped and sys.stdout is not self:
            return sys.stdout
        return self._console

    def write(self, text: str) -> int:
        if getattr(_THREAD, "in_function", False):
            with self._lock:
                if self._log is not None:
                    return self._log.write(text)
        return self.console.write(text)

    def flush(self) -> None:
        self.console.flush()
        with self._lock:
            if self._log is not None:
                self._log.flush()

    def stop_routing(self) -> None:
        """The stack stopped: loggers still holding this stream now write to the console."""
        with self._lock:
            self._log = None
            self._stopped = True

    def isatty(self) -> bool:
        return self.console.isatty()


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free ports: each socket stays bound until all are chosen."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def _wait_for_port(port: int, process: subprocess.Popen[bytes], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the embedded AWS (moto server) exited at start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the embedded AWS (moto server) did not start in time")


def _clock() -> str:
    return datetime.now(UTC).astimezone().strftime("%H:%M:%S")


class LocalStack:
    """Start with ``start()``, stop with ``close()`` (or use it as a context manager)."""

    #: How long ``close`` lets the worker instances finish their batches before killing them.
    worker_stop_seconds: float = 30.0

    def __init__(  # noqa: PLR0913 - the settings, then keyword-only collaborators with defaults
        self,
        settings: StackSettings,
        *,
        teamviewer: TeamViewerEmulator | None = None,
        okta: OktaEmulator | None = None,
        observer: StackObserver | None = None,
        log_dir: Path = LOG_DIR,
        worker_concurrency: int | None = None,
        stack_name: str | None = None,
        okta_auth: str = "oauth",
    ) -> None:
        if okta_auth not in OKTA_AUTH_MODES:
            raise ValueError(f"okta_auth must be one of {', '.join(OKTA_AUTH_MODES)}, not {okta_auth!r}")
        self.settings = settings
        #: With the built-in Okta emulator: ``oauth`` (a service app) or ``ssws`` (an API token).
        self.okta_auth = okta_auth
        self.template = load_template()
        self.observer = observer or StackObserver()
        self.teamviewer = teamviewer if settings.teamviewer_api_url is None else None
        self.okta = okta if settings.okta_org_url is None else None
        self.hook_secret = settings.okta_hook_secret or secrets.token_urlsafe(24)
        self._log_dir = log_dir
        self._worker_concurrency = worker_concurrency
        # Embedded AWS starts empty, so its resources get the fixed names events/env.json
        # uses; an endpoint from outside keeps what earlier stacks created there, so each
        # stack gets names of its own.
        self._stack_name = stack_name or (
            LOCAL_STACK_NAME if settings.aws_endpoint_url is None else f"tvsync-local-{secrets.token_hex(3)}"
        )
        self._servers: list[RunningServer] = []
        self._moto: list[subprocess.Popen[bytes]] = []
        self._stdout: _RoutedStdout | None = None
        self._saved_environ: dict[str, str] | None = None
        self._gateway: ApiGatewayServer | None = None
        self._workers: list[subprocess.Popen[str]] = []
        self._readers: list[threading.Thread] = []
        self._worker_ready = threading.Semaphore(0)
        self._log_lock = threading.Lock()
        self._log_file: IO[str] | None = None
        self._stderr_file: IO[str] | None = None
        self._clients: dict[str, Any] = {}
        self.aws_endpoint_url: str | None = settings.aws_endpoint_url
        #: DynamoDB's own endpoint when the stack embeds AWS (None: ``aws_endpoint_url``'s).
        self.dynamodb_endpoint_url: str | None = None
        #: Embedded AWS always runs in LOCAL_REGION; an endpoint given from outside was
        #: provisioned in the shell's region, if it names one.
        self.region = (
            LOCAL_REGION
            if settings.aws_endpoint_url is None
            else os.environ.get("AWS_DEFAULT_REGION", "").strip() or LOCAL_REGION
        )
        self.resources: LocalResources | None = None
        self.functions: dict[str, dict[str, str]] = {}
        self.teamviewer_url = settings.teamviewer_api_url or ""
        self.okta_url = settings.okta_org_url or ""
        #: The service app the functions read the Okta emulator as (None: an API token).
        self.okta_service_app: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> LocalStack:
        self._claim_port()
        # Metrics are off locally (no CloudWatch to read them); say nothing about it per request.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        # The functions run in this process with their environment applied, as Lambda sets it;
        # put the caller's environment back on close. From here on, AWS means this stack.
        self._saved_environ = dict(os.environ)
        os.environ.clear()
        os.environ.update(local_environ(self._saved_environ, self.region))
        try:
            self._start_aws()
            self._start_emulators()
            self._provision()
            self._start_functions()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop what the stack started and reap every process of it, even when a step fails."""
        try:
            self._stop_workers()
            if self._gateway is not None:
                self._gateway.close()
            for server in self._servers:
                server.close()
        finally:
            try:
                self._stop_moto()
            finally:
                self._restore_process()

    def _stop_moto(self) -> None:
        for process in self._moto:
            process.terminate()
        for process in self._moto:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdin is not None:
                process.stdin.close()
        self._moto = []

    def _restore_process(self) -> None:
        """Give the process back its stdout and environment, and close the function logs."""
        if self._stdout is not None:
            self._stdout.stop_routing()
            sys.stdout = self._stdout.console
            self._stdout = None
        if self._saved_environ is not None:
            os.environ.clear()
            os.environ.update(self._saved_environ)
            self._saved_environ = None
        for log in (self._log_file, self._stderr_file):
            if log is not None:
                log.close()
        self._log_file = self._stderr_file = None
        self._clients.clear()

    def _claim_port(self) -> None:
        """Fail at once, before anything starts, when the hook endpoint's port is taken."""
        if self.settings.port == 0:
            return
        with socket.socket() as probe:  # the address family and options of the HTTP server
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((self.settings.host, self.settings.port))

    def _stop_workers(self) -> None:
        """Let every instance finish its batch, then reap it; one that overruns is killed, and reaped.

        The instances stop side by side, so they share one deadline. Whatever interrupts
        the wait, no instance is left running or unreaped.
        """
        for process in self._workers:
            if process.stdin is not None and not process.stdin.closed:
                process.stdin.close()  # the instance finishes its batch and exits
        deadline = time.monotonic() + self.worker_stop_seconds
        try:
            for process in self._workers:
                with suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=max(0.0, deadline - time.monotonic()))
        finally:
            for process in self._workers:
                if process.poll() is None:
                    process.kill()
                process.wait()
        for reader in self._readers:
            reader.join(timeout=5)

    # ------------------------------------------------------------------ queries
    @property
    def hook_url(self) -> str:
        assert self._gateway is not None, "stack not started"
        return f"{self._gateway.url}/okta/events"

    @property
    def queue_url(self) -> str:
        return self._resources().refs["EventQueue"]

    @property
    def dlq_url(self) -> str:
        return self._resources().refs["EventDeadLetterQueue"]

    @property
    def log_path(self) -> Path:
        return self._log_dir / FUNCTIONS_LOG

    @property
    def stderr_log_path(self) -> Path:
        return self._log_dir / FUNCTIONS_STDERR_LOG

    def client(self, service: str) -> Any:
        """A client of the stack's AWS (cached: ``wait_idle`` asks many times a second)."""
        if service not in self._clients:
            endpoint = service_endpoint(service, self.aws_endpoint_url, self.dynamodb_endpoint_url)
            self._clients[service] = local_session(self.region).client(  # type: ignore[call-overload]
                service, endpoint_url=endpoint
            )
        return self._clients[service]

    def queue_depth(self, url: str | None = None) -> tuple[int, int]:
        """(visible, in flight) messages of a queue (the event queue by default)."""
        attrs = self.client("sqs").get_queue_attributes(
            QueueUrl=url or self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])

    @property
    def worker_count(self) -> int:
        return len(self._workers)

    def wait_idle(self, timeout: float = 60.0, *, settle: float = 0.3) -> bool:
        """Wait until the queue is empty (a batch being processed is in flight); False on timeout."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            visible, in_flight = self.queue_depth()
            if visible == 0 and in_flight == 0:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle:
                    return True
            else:
                quiet_since = None
            time.sleep(0.05)
        return False

    # ------------------------------------------------------------------ start-up steps
    def _start_aws(self) -> None:
        if self.aws_endpoint_url is not None:
            return
        # Separate processes: moto does real work per call, and on interpreters of their own
        # the servers run beside the functions instead of competing with them for one GIL.
        ports = _free_ports(2)
        # moto resolves profiles too: an AWS_PROFILE missing from the config would fail
        # every call with a 500, and real keys have no business in an emulator. Its stdin
        # is the lifeline: it exits when this process ends, however that happens.
        env = child_environ(local_environ(os.environ, self.region))
        for port in ports:
            self._moto.append(
                subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
                    [
                        sys.executable,
                        "-m",
                        "tvsync.local.lifeline",
                        "tvsync.local.moto_server",
                        "-H",
                        "127.0.0.1",
                        "-p",
                        f"{port}",
                    ],
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port, process in zip(ports, self._moto, strict=True):
            _wait_for_port(port, process, timeout=30)
        self.aws_endpoint_url, self.dynamodb_endpoint_url = (f"http://127.0.0.1:{port}" for port in ports)

    def _start_emulators(self) -> None:
        if self.settings.teamviewer_api_url is None:
            self.teamviewer = self.teamviewer or TeamViewerEmulator(
                token=self.settings.teamviewer_api_token or "tv-local-token"
            )
            server = serve(self.teamviewer)
            self._servers.append(server)
            self.teamviewer_url = server.url
        if self.settings.okta_org_url is None:
            self.okta = self.okta or OktaEmulator(token=self.settings.okta_api_token or "okta-local-token")
            server = serve(self.okta)
            self._servers.append(server)
            self.okta_url = server.url

    def _tokens(self) -> tuple[str, str]:
        tv = self.settings.teamviewer_api_token or (self.teamviewer.token if self.teamviewer else None)
        okta = self.settings.okta_api_token or (self._okta_emulator_secret() if self.okta else None)
        if tv is None or okta is None:
            missing = STACK_ENVIRONMENT["teamviewer_api_token" if tv is None else "okta_api_token"]
            raise ValueError(f"{missing} is required when its API URL points to a real service")
        return tv, okta

    def _okta_emulator_secret(self) -> str:
        """What ``OktaApiTokenSecret`` holds for the emulator: a service app's key, or its API token.

        The service app gets a P-256 key made now (in a millisecond, where RSA takes a tenth
        of a second), every scope the functions may ask for, and "Require DPoP" ticked, as
        Okta ticks it for a new app.
        """
        assert self.okta is not None
        if self.okta_auth == "ssws":
            return self.okta.token
        key = ServiceAppKeyPair.generate(ec_key=True)
        self.okta.register_service_app(LOCAL_SERVICE_APP, key.public_jwk, require_dpop=True)
        self.okta_service_app = LOCAL_SERVICE_APP
        return key.secret(LOCAL_SERVICE_APP)

    def _provision(self) -> None:
        tv_token, okta_token = self._tokens()
        self.resources = provision(
            local_session(self.region),
            self.template,
            stack_name=self._stack_name,
            endpoint_url=self.aws_endpoint_url,
            dynamodb_endpoint_url=self.dynamodb_endpoint_url,
            secrets={
                "OktaHookSecret": self.hook_secret,
                "TeamViewerTokenSecret": tv_token,
                "OktaApiTokenSecret": okta_token,
            },
            parameters=template_parameters(
                self.settings, okta_url=self.okta_url, teamviewer_url=self.teamviewer_url
            ),
        )
        local = {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_TRACE_DISABLED": "true"}
        if self.aws_endpoint_url:
            local["AWS_ENDPOINT_URL"] = self.aws_endpoint_url
        if self.dynamodb_endpoint_url:
            local[DYNAMODB_ENDPOINT_ENV] = self.dynamodb_endpoint_url
        for function_id, spec in self.template["Resources"].items():
            if spec["Type"] == "AWS::Serverless::Function":
                self.functions[function_id] = {
                    **self.resources.environment(self.template, function_id),
                    **local,
                }

    def _start_functions(self) -> None:
        self._route_output()
        ingest = load_function(self.template, "IngestFunction", self.functions["IngestFunction"])
        ingest_lock = threading.Lock()

        def invoke_ingest(event: dict[str, Any]) -> Mapping[str, Any]:
            # One execution environment handles one request at a time, as in Lambda.
            with ingest_lock, _in_function():
                response: Mapping[str, Any] = ingest.invoke(event)
            return response

        routes = {}
        for source in resource(self.template, "IngestFunction")["Properties"].get("Events", {}).values():
            if source["Type"] == "Api":
                routes[(source["Properties"]["Method"], source["Properties"]["Path"])] = invoke_ingest
        self._gateway = ApiGatewayServer(
            routes, host=self.settings.host, port=self.settings.port, on_request=self.observer.delivery
        ).start()
        self._observe_logs()
        self._start_workers()

    def _start_workers(self) -> None:
        resolver = self._resources().resolver
        [mapping] = [
            source["Properties"]
            for source in resource(self.template, "WorkerFunction")["Properties"]["Events"].values()
            if source["Type"] == "SQS"
        ]
        concurrency = self._worker_concurrency or int(
            resolver.resolve(mapping["ScalingConfig"]["MaximumConcurrency"])
        )
        settings = json.dumps(
            {
                "queue_url": self.queue_url,
                "queue_arn": str(resolver.resolve(mapping["Queue"])),
                "batch_size": int(resolver.resolve(mapping.get("BatchSize", 10))),
                "region": self.region,
            }
        )
        env = child_environ(
            {
                **local_environ(os.environ, self.region),
                **self.functions["WorkerFunction"],
                # The instances' fallback share of the TeamViewer rate follows the count run.
                "WORKER_MAXIMUM_CONCURRENCY": str(concurrency),
                "PYTHONUNBUFFERED": "1",
            }
        )
        for index in range(concurrency):
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "tvsync.local.worker_process", settings],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr_file,
                text=True,
            )
            self._workers.append(process)
            reader = threading.Thread(
                target=self._read_worker, args=(process,), name=f"worker-{index}", daemon=True
            )
            reader.start()
            self._readers.append(reader)
        for process in self._workers:
            if not self._worker_ready.acquire(timeout=60) or process.poll() is not None:
                raise RuntimeError(f"a WorkerFunction instance failed to start; see {self.stderr_log_path}")

    def _read_worker(self, process: subprocess.Popen[str]) -> None:
        """The worker's stdout is its CloudWatch log stream: keep it, and watch it."""
        assert process.stdout is not None
        for line in process.stdout:
            if self._log_file is not None:
                with self._log_lock:
                    self._log_file.write(line)
            if not line.startswith("{"):
                continue
            try:
                fields = json.loads(line)
            except ValueError:
                continue
            message = fields.get("message")
            if message == "worker ready":
                self._worker_ready.release()
            elif isinstance(message, str):
                self.observer.observe(message, fields)

    def _route_output(self) -> None:
        """What functions print (JSON logs, EMF) goes to a file, as to CloudWatch Logs.

        Must run before the functions load: their loggers bind to ``sys.stdout`` then.
        """
        self._log_dir.mkdir(parents=True, exist_ok=True)
        # Line-buffered: `tail -f` sees each line as it is written, and a killed stack
        # loses none of the lines that led up to it.
        self._log_file = self.log_path.open("a", encoding="utf-8", buffering=1)
        self._stderr_file = self.stderr_log_path.open("a", encoding="utf-8", buffering=1)
        if not isinstance(sys.stdout, _RoutedStdout):
            self._stdout = _RoutedStdout(sys.stdout, self._log_file)
            sys.stdout = self._stdout

    def _observe_logs(self) -> None:
        """Readable console lines and sync records from the functions' structured logs."""
        functions_logger = logging.getLogger(
            self.functions["WorkerFunction"].get("POWERTOOLS_SERVICE_NAME", SERVICE)
        )
        if not any(isinstance(h, _ObserverHandler) for h in functions_logger.handlers):
            functions_logger.addHandler(_ObserverHandler(self.observer))

    def _resources(self) -> LocalResources:
        assert self.resources is not None, "stack not started"
        return self.resources
