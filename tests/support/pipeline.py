"""The real WorkerFunction over embedded AWS and the emulators: the integration tier's pipeline.

``start_pipeline`` loads ``functions/worker/app.py`` as Lambda would (a cold start, its
environment from template.yaml), serves the TeamViewer and Okta emulators on 127.0.0.1, and
feeds the worker SQS events built as Lambda's event source mapping builds them (``Pipeline``).
``start_with_recorded_sqs`` also records each redelivery delay the worker asks SQS for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any, Literal

import pytest

from tests.conftest import TV_APP_ID, Aws, FakeLambdaContext, load_function
from tvsync.adapters.sync_state import SyncStateStore
from tvsync.emulators.http import RunningServer, serve
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.teamviewer import TeamViewerEmulator
from tvsync.local.event_source import SqsEventSource
from tvsync.models.sync_request import SyncRequest
from tvsync.models.sync_state import SyncState

__all__ = [
    "T0",
    "Pipeline",
    "RecordingSqs",
    "add_assigned",
    "start_pipeline",
    "start_with_recorded_sqs",
    "synced",
]

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass
class Pipeline:
    aws: Aws
    tv: TeamViewerEmulator
    okta: OktaEmulator
    worker: ModuleType
    source: SqsEventSource
    counter: int = 0

    def enqueue(
        self,
        user_id: str,
        event_type: str,
        *,
        uuid: str | None = None,
        published: datetime | None = None,
        source: Literal["okta-event-hook", "reconcile"] = "okta-event-hook",
    ) -> str:
        self.counter += 1
        uuid = uuid or f"evt-{self.counter:05d}"
        request = SyncRequest(
            okta_user_id=user_id,
            event_uuid=uuid,
            event_type=event_type,
            published=published or T0 + timedelta(seconds=self.counter),
            delivery_id="delivery-test" if source == "okta-event-hook" else None,
            source=source,
        )
        self.aws.session.client("sqs").send_message(
            QueueUrl=self.aws.queue_url,
            MessageBody=request.model_dump_json(),
            MessageGroupId=user_id,
            MessageDeduplicationId=uuid,
        )
        return uuid

    def drain(self, timeout: float = 30.0) -> None:
        """Poll like Lambda until the queue is empty (in flight included), within ``timeout``."""
        sqs = self.aws.session.client("sqs")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.source.poll_once().received:
                continue
            attrs = sqs.get_queue_attributes(
                QueueUrl=self.aws.queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            if (
                attrs["ApproximateNumberOfMessages"] == "0"
                and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
            ):
                return
            time.sleep(0.1)
        raise AssertionError("queue did not drain in time")

    def state(self, user_id: str) -> SyncState | None:
        store = SyncStateStore(self.aws.session.client("dynamodb"), self.aws.resources.refs["SyncStateTable"])
        return store.get(user_id)

    def dlq_count(self) -> int:
        attrs = self.aws.session.client("sqs").get_queue_attributes(
            QueueUrl=self.aws.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"])

    def tv_account(self, email: str) -> dict[str, Any] | None:
        return self.tv.user_by_email(email)


def start_pipeline(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    *,
    tv: TeamViewerEmulator | None = None,
    **env: str,
) -> tuple[Pipeline, list[RunningServer]]:
    tv = tv or TeamViewerEmulator()
    okta = OktaEmulator()
    servers = [serve(tv), serve(okta)]
    environment = aws.env(
        "WorkerFunction",
        TEAMVIEWER_API_URL=servers[0].url,
        OKTA_ORG_URL=servers[1].url,
        OKTA_APP_ID=TV_APP_ID,
        **env,
    )
    worker = load_function("worker", environment, monkeypatch)
    sqs = aws.session.client("sqs")
    queue_arn = sqs.get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    source = SqsEventSource(
        sqs=sqs,
        queue_url=aws.queue_url,
        queue_arn=queue_arn,
        handler=lambda event: worker.lambda_handler(event, FakeLambdaContext(remaining_ms=60_000)),
    )
    return Pipeline(aws=aws, tv=tv, okta=okta, worker=worker, source=source), servers


def add_assigned(p: Pipeline, email: str, first: str, last: str, **kwargs: Any) -> str:
    user = p.okta.add_user(email, first, last, **kwargs)
    p.okta.assign(TV_APP_ID, user["id"])
    return str(user["id"])


def synced(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The fields of every ``User synced`` log line captured so far."""
    return [record.__dict__ for record in caplog.records if record.getMessage() == "User synced"]


class RecordingSqs:
    """The worker's SQS client, remembering each redelivery delay it asks for."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.delays: list[int] = []

    def change_message_visibility_batch(self, **kwargs: Any) -> Any:
        self.delays.extend(entry["VisibilityTimeout"] for entry in kwargs["Entries"])
        return self._real.change_message_visibility_batch(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def start_with_recorded_sqs(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    servers: list[RunningServer],
    tv: TeamViewerEmulator | None = None,
) -> tuple[Pipeline, RecordingSqs]:
    """``start_pipeline``, its servers added to ``servers`` (closed by the caller), with SQS recorded."""
    p, started = start_pipeline(aws, monkeypatch, tv=tv)
    servers.extend(started)
    sqs = RecordingSqs(p.worker.worker.sqs)
    monkeypatch.setattr(p.worker.worker, "sqs", sqs)
    return p, sqs
