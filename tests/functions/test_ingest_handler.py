"""IngestFunction end to end inside embedded AWS (moto SQS FIFO + Secrets Manager).

The handler module is loaded exactly as Lambda loads it (``functions/ingest/app.py``, its
environment resolved from template.yaml), and driven with API Gateway proxy events.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

import boto3
import botocore.session
import pytest
from aws_lambda_powertools import Logger, Metrics
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from tests.conftest import (
    HOOK_SECRET,
    TV_APP_ID,
    Aws,
    FakeLambdaContext,
    apigw_event,
    emf_blobs,
    emf_metrics,
    load_function,
)
from tests.support.clocks import LaneClock
from tvsync.local.api_gateway import MAX_LAMBDA_PAYLOAD
from tvsync.services.ingest import MAX_BODY_BYTES, QUEUE_BUDGET_SECONDS
from tvsync.wiring.ingest import INGEST_AWS_CONFIG, INGEST_SEND_CONCURRENCY, build_ingest_api

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

AUTH = {"Authorization": HOOK_SECRET}


def okta_event(
    n: int, *, user: str = "00u1alice00000000001", event_type: str = "user.lifecycle.create"
) -> dict[str, Any]:
    return {
        "uuid": f"evt-{n:05d}",
        "published": f"2026-11-02T09:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
        "eventType": event_type,
        "outcome": {"result": "SUCCESS"},
        "target": [{"id": user, "type": "User", "alternateId": "alice@example.com"}],
    }


def delivery_body(*events: dict[str, Any], event_id: str = "delivery-1") -> str:
    return json.dumps(
        {"eventType": "com.okta.event_hook", "eventId": event_id, "data": {"events": list(events)}}
    )


@pytest.fixture
def ingest(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load_function("ingest", aws.env("IngestFunction"), monkeypatch)


def invoke(module: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = module.lambda_handler(event, FakeLambdaContext())
    return response


def test_verification_echoes_the_challenge_for_any_header_case(ingest: ModuleType, aws: Aws) -> None:
    for name in (
        "x-okta-verification-challenge",
        "X-Okta-Verification-Challenge",
        "X-OKTA-VERIFICATION-CHALLENGE",
    ):
        response = invoke(
            ingest, apigw_event("GET", headers={name: "Me_rShK8", "authorization": HOOK_SECRET})
        )
        assert response["statusCode"] == 200
        assert json.loads(response["body"]) == {"verification": "Me_rShK8"}
    assert aws.drain() == []


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"x-okta-verification-challenge": "abc"}, id="no-auth"),
        pytest.param({"x-okta-verification-challenge": "abc", "Authorization": "wrong"}, id="wrong-auth"),
        pytest.param({"x-okta-verification-challenge": "abc", "Authorization": ""}, id="empty-auth"),
    ],
)
def test_verification_requires_the_secret_too(
    ingest: ModuleType, headers: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    response = invoke(ingest, apigw_event("GET", headers=headers))
    assert response["statusCode"] == 401
    assert json.loads(response["body"]) == {"message": "Unauthorized"}
    assert emf_metrics(capsys.readouterr().out)["AuthFailures"] == 1


def test_verification_without_challenge_is_a_400(ingest: ModuleType) -> None:
    response = invoke(ingest, apigw_event("GET", headers=AUTH))
    assert response["statusCode"] == 400


def test_a_delivery_queues_one_fifo_message_per_event(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, ingest: ModuleType, aws: Aws
) -> None:
    body = delivery_body(
        okta_event(1), okta_event(2, user="00u1bob0000000000002"), event_id="evt-delivery-42"
    )
    response = invoke(ingest, apigw_event("POST", headers=AUTH, body=body))
    assert response["statusCode"] == 200
    assert response["body"] == ""
    messages = aws.drain()
    bodies = sorted((json.loads(m["Body"]) for m in messages), key=lambda b: b["event_uuid"])
    assert [(b["okta_user_id"], b["event_uuid"]) for b in bodies] == [
        ("00u1alice00000000001", "evt-00001"),
        ("00u1bob0000000000002", "evt-00002"),
    ]
    assert bodies[0] == {
        "schema_version": 1,
        "okta_user_id": "00u1alice00000000001",
        "event_uuid": "evt-00001",
        "event_type": "user.lifecycle.create",
        "published": "2026-11-02T09:00:01Z",
        "delivery_id": "evt-delivery-42",
        "source": "okta-event-hook",
    }
    groups = {m["Attributes"]["MessageGroupId"]: m["Attributes"]["MessageDeduplicationId"] for m in messages}
    assert groups == {"00u1alice00000000001": "evt-00001", "00u1bob0000000000002": "evt-00002"}
    out = capsys.readouterr().out
    assert emf_metrics(out) == {"EventsReceived": 2, "EventsQueued": 2, "EventsIgnored": 0}
    # The delivery's eventId is the correlation id of the request's log lines.
    [record] = [r for r in caplog.records if r.getMessage() == "Delivery queued"]
    line = json.loads(ingest.logger.registered_formatter.format(record))
    assert line["correlation_id"] == "evt-delivery-42"
    assert line["events_queued"] == 2


def test_a_50_event_delivery_is_queued_in_order_in_chunks_of_ten(ingest: ModuleType, aws: Aws) -> None:
    events = [okta_event(n) for n in range(50)]
    response = invoke(ingest, apigw_event("POST", headers=AUTH, body=delivery_body(*reversed(events))))
    assert response["statusCode"] == 200
    messages = aws.drain()
    # One message group (one user): FIFO order is Okta's published order, not delivery order.
    assert [json.loads(m["Body"])["event_uuid"] for m in messages] == [f"evt-{n:05d}" for n in range(50)]


def test_redelivery_of_the_same_events_is_deduplicated_by_sqs(ingest: ModuleType, aws: Aws) -> None:
    body = delivery_body(okta_event(1), okta_event(2))
    assert invoke(ingest, apigw_event("POST", headers=AUTH, body=body))["statusCode"] == 200
    assert invoke(ingest, apigw_event("POST", headers=AUTH, body=body))["statusCode"] == 200
    assert len(aws.drain()) == 2


def test_ignored_events_are_counted_by_reason(
    ingest: ModuleType, aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    body = delivery_body(okta_event(1), okta_event(2, event_type="user.session.start"), {"no": "uuid"})
    assert invoke(ingest, apigw_event("POST", headers=AUTH, body=body))["statusCode"] == 200
    assert len(aws.drain()) == 1
    out = capsys.readouterr().out
    by_reason = {blob["reason"]: blob["EventsIgnored"][0] for blob in emf_blobs(out) if "reason" in blob}
    assert by_reason == {"not-provisioning": 1, "malformed": 1}
    assert emf_metrics(out)["EventsQueued"] == 1


def test_app_filter_drops_membership_events_of_other_apps(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_function("ingest", aws.env("IngestFunction", OKTA_APP_ID=TV_APP_ID), monkeypatch)
    other = okta_event(1, event_type="application.user_membership.add")
    other["target"].append({"id": "0oa1otherapp00000002", "type": "AppInstance"})
    ours = okta_event(2, event_type="application.user_membership.add")
    ours["target"].insert(0, {"id": TV_APP_ID, "type": "AppInstance"})
    assert (
        invoke(module, apigw_event("POST", headers=AUTH, body=delivery_body(other, ours)))["statusCode"]
        == 200
    )
    assert [json.loads(m["Body"])["event_uuid"] for m in aws.drain()] == ["evt-00002"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        pytest.param("{not json", 400, "body is not valid JSON", id="not-json"),
        pytest.param("", 400, "empty body", id="empty"),
        pytest.param("[]", 400, "not an Okta event hook delivery", id="array"),
        pytest.param(
            '{"eventType":"com.okta.event_hook"}', 400, "not an Okta event hook delivery: data", id="no-data"
        ),
        pytest.param(
            '{"eventType":"other","data":{"events":[]}}',
            400,
            "not an Okta event hook delivery: eventType",
            id="type",
        ),
        pytest.param(
            '{"eventType":"com.okta.event_hook","data":{"events":{}}}',
            400,
            "data.events",
            id="events-not-list",
        ),
        pytest.param("\ud800", 400, "body is not valid JSON", id="lone-surrogate"),
        pytest.param("[" * 100_000, 400, "body is not valid JSON", id="deep-nesting"),
        pytest.param(" " * (MAX_BODY_BYTES + 1), 413, "body larger than", id="too-large"),
    ],
)
def test_bad_bodies_get_a_clear_4xx_and_queue_nothing(
    ingest: ModuleType, aws: Aws, body: str, status: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    response = invoke(ingest, apigw_event("POST", headers=AUTH, body=body))
    assert response["statusCode"] == status
    assert message in json.loads(response["body"])["message"]
    assert aws.drain() == []
    assert emf_metrics(capsys.readouterr().out)["InvalidRequests"] == 1


def test_a_body_of_six_mib_is_accepted_and_one_byte_more_is_a_413(ingest: ModuleType, aws: Aws) -> None:
    # Lambda refuses an event above 6 MiB, and the body is inside it: the handler takes
    # every body the platform passes on, and nothing larger.
    limit = 6 * 1024 * 1024
    assert limit == MAX_BODY_BYTES == MAX_LAMBDA_PAYLOAD
    body = delivery_body(okta_event(1), okta_event(2, user="00u1bob0000000000002"))
    at_limit = body + " " * (limit - len(body.encode()))  # JSON allows trailing blanks
    assert invoke(ingest, apigw_event("POST", headers=AUTH, body=at_limit))["statusCode"] == 200
    assert len(aws.drain()) == 2
    response = invoke(ingest, apigw_event("POST", headers=AUTH, body=at_limit + " "))
    assert response["statusCode"] == 413
    assert json.loads(response["body"]) == {"message": f"body larger than {limit} bytes"}
    assert aws.drain() == []


def test_a_big_delivery_is_queued_in_lanes_each_users_events_in_order(
    aws: Aws, caplog: pytest.LogCaptureFixture
) -> None:
    # moto's SQS is slow (much slower side by side), and speed is the benchmark's business:
    # the clock stands still, so the budget never runs out here.
    api = build_ingest_api(
        logger=Logger(), metrics=Metrics(), environ=aws.env("IngestFunction"), clock=lambda: 0.0
    )
    users = [f"00u{n:017d}" for n in range(37)]
    events = [okta_event(n, user=users[n % len(users)]) for n in range(200)]
    request = apigw_event("POST", headers=AUTH, body=delivery_body(*events))
    response = api.resolve(request, cast("LambdaContext", FakeLambdaContext()))
    assert response["statusCode"] == 200
    [record] = [vars(r) for r in caplog.records if r.getMessage() == "Delivery queued"]
    assert (record["events_queued"], record["sqs_lanes"]) == (200, INGEST_SEND_CONCURRENCY)
    received: dict[str, list[str]] = {}
    for message in aws.drain():
        received.setdefault(message["Attributes"]["MessageGroupId"], []).append(
            json.loads(message["Body"])["event_uuid"]
        )
    assert received == {user: [e["uuid"] for e in events if e["target"][0]["id"] == user] for user in users}


def test_base64_bodies_are_decoded_and_bad_base64_refused(ingest: ModuleType, aws: Aws) -> None:
    encoded = base64.b64encode(delivery_body(okta_event(1)).encode()).decode()
    assert (
        invoke(ingest, apigw_event("POST", headers=AUTH, body=encoded, base64_encoded=True))["statusCode"]
        == 200
    )
    assert len(aws.drain()) == 1
    response = invoke(ingest, apigw_event("POST", headers=AUTH, body="***", base64_encoded=True))
    assert response["statusCode"] == 400


def test_unauthenticated_posts_queue_nothing_and_learn_nothing(ingest: ModuleType, aws: Aws) -> None:
    for headers in ({}, {"Authorization": HOOK_SECRET + "x"}, {"Authorization": HOOK_SECRET[:-1]}):
        response = invoke(ingest, apigw_event("POST", headers=headers, body="{not json"))
        assert response["statusCode"] == 401
    assert aws.drain() == []


def test_custom_auth_header_name(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_function(
        "ingest", aws.env("IngestFunction", OKTA_HOOK_AUTH_HEADER="X-Hook-Key"), monkeypatch
    )
    body = delivery_body(okta_event(1))
    assert (
        invoke(module, apigw_event("POST", headers={"x-hook-key": HOOK_SECRET}, body=body))["statusCode"]
        == 200
    )
    assert invoke(module, apigw_event("POST", headers=AUTH, body=body))["statusCode"] == 401


def post_status(module: ModuleType, n: int, headers: dict[str, str] = AUTH) -> int:
    """Deliver one event (number ``n``) and return the status the handler answered."""
    response = invoke(module, apigw_event("POST", headers=headers, body=delivery_body(okta_event(n))))
    return int(response["statusCode"])


def test_the_secret_is_read_once_per_cache_period_not_per_request(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_calls(monkeypatch, "GetSecretValue")
    module = load_function("ingest", aws.env("IngestFunction"), monkeypatch)
    assert post_status(module, 0) == 200
    first_request = calls()
    assert 1 <= first_request <= 2, "the current value, and the previous one during a rotation's grace period"
    for n in range(1, 6):
        assert post_status(module, n) == 200
    assert calls() == first_request


def _rotate(aws: Aws) -> dict[str, str]:
    secret_arn = aws.resources.refs["OktaHookSecret"]
    aws.session.client("secretsmanager").put_secret_value(SecretId=secret_arn, SecretString="rotated-secret")
    return {"Authorization": "rotated-secret"}


def test_a_rotated_secret_works_at_once_and_the_old_one_during_the_grace_period(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load_function("ingest", aws.env("IngestFunction"), monkeypatch)
    assert post_status(module, 1) == 200
    rotated = _rotate(aws)
    assert post_status(module, 2, rotated) == 200
    # Okta still sends the old value until the admin saves the new one there: not refused.
    assert post_status(module, 3) == 200
    assert len(aws.drain()) == 3


def test_without_a_grace_period_the_old_secret_stops_working_at_rotation(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = aws.env("IngestFunction", OKTA_HOOK_SECRET_ROTATION_GRACE_SECONDS="0")
    module = load_function("ingest", env, monkeypatch)
    assert post_status(module, 1) == 200
    rotated = _rotate(aws)
    assert post_status(module, 2, rotated) == 200
    assert post_status(module, 3) == 401


def test_unreadable_secret_is_a_503_so_okta_retries(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_function(
        "ingest",
        aws.env(
            "IngestFunction",
            OKTA_HOOK_SECRET_ARN="arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf",
        ),
        monkeypatch,
    )
    response = invoke(module, apigw_event("POST", headers=AUTH, body=delivery_body(okta_event(1))))
    assert response["statusCode"] == 503
    assert HOOK_SECRET not in json.dumps(response)


# ------------------------------------------------------------------ SQS failures


def _session_with(hook: Callable[..., Any], event_name: str) -> boto3.session.Session:
    core = botocore.session.Session()
    core.register(event_name, hook)
    return boto3.session.Session(botocore_session=core, region_name="us-east-1")


def _api(aws: Aws, session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr("tvsync.wiring.ingest.boto3.session.Session", lambda: session)
    return build_ingest_api(logger=Logger(), metrics=Metrics(), environ=aws.env("IngestFunction"))


def test_entries_failing_inside_a_successful_batch_call_are_retried(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures = {"left": 3}

    def fail_some(parsed: dict[str, Any], **_: Any) -> None:
        # Turn the first successful entries of each call into server-side failures.
        while failures["left"] and parsed.get("Successful"):
            ok = parsed["Successful"].pop(0)
            parsed.setdefault("Failed", []).append(
                {"Id": ok["Id"], "SenderFault": False, "Code": "InternalError", "Message": "injected"}
            )
            failures["left"] -= 1

    api = _api(aws, _session_with(fail_some, "after-call.sqs.SendMessageBatch"), monkeypatch)
    events = [okta_event(n) for n in range(25)]
    response = api.resolve(
        apigw_event("POST", headers=AUTH, body=delivery_body(*events)), FakeLambdaContext()
    )
    assert response["statusCode"] == 200
    assert sorted(json.loads(m["Body"])["event_uuid"] for m in aws.drain()) == [
        f"evt-{n:05d}" for n in range(25)
    ]


def test_entries_that_keep_failing_make_the_delivery_a_503(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail_one_always(parsed: dict[str, Any], **_: Any) -> None:
        for ok in list(parsed.get("Successful", [])):
            if ok["Id"] == "3":
                parsed["Successful"].remove(ok)
                parsed.setdefault("Failed", []).append(
                    {"Id": "3", "SenderFault": False, "Code": "InternalError"}
                )

    api = _api(aws, _session_with(fail_one_always, "after-call.sqs.SendMessageBatch"), monkeypatch)
    response = api.resolve(
        apigw_event(
            "POST",
            headers=AUTH,
            body=delivery_body(okta_event(1), okta_event(2), okta_event(3), okta_event(4), okta_event(5)),
        ),
        FakeLambdaContext(),
    )
    assert response["statusCode"] == 503


def test_sqs_outage_is_a_503_so_okta_retries(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com")

    api = _api(aws, _session_with(unreachable, "before-send.sqs.SendMessageBatch"), monkeypatch)
    response = api.resolve(
        apigw_event("POST", headers=AUTH, body=delivery_body(okta_event(1))), FakeLambdaContext()
    )
    assert response["statusCode"] == 503
    assert json.loads(response["body"])["message"].startswith("Service temporarily unavailable")


def test_a_hanging_sqs_is_a_503_before_the_function_times_out(
    aws: Aws, template: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = LaneClock()
    starts: list[float] = []
    answered_by = {"at": 0.0}
    # SQS hangs: each call waits out the client's timeouts — at worst a connection made just
    # before its timeout, then a read that never returns. The wall time this takes with a
    # real hanging endpoint is measured by the ingest benchmark.
    # botocore sets Config's options with setattr: its stubs know only the constructor's.
    options = vars(INGEST_AWS_CONFIG)
    per_call = float(options["connect_timeout"]) + float(options["read_timeout"])

    def hangs(**_: Any) -> None:
        starts.append(clock.last_reading)
        clock.advance(per_call)
        answered_by["at"] = max(answered_by["at"], clock.now)
        raise ReadTimeoutError(endpoint_url="https://sqs.us-east-1.amazonaws.com")

    session = _session_with(hangs, "before-send.sqs.SendMessageBatch")
    monkeypatch.setattr("tvsync.wiring.ingest.boto3.session.Session", lambda: session)
    api = build_ingest_api(logger=Logger(), metrics=Metrics(), environ=aws.env("IngestFunction"), clock=clock)
    events = [okta_event(n, user=f"00u{n:017d}") for n in range(25)]
    request = apigw_event("POST", headers=AUTH, body=delivery_body(*events))
    response = api.resolve(request, cast("LambdaContext", FakeLambdaContext()))
    assert response["statusCode"] == 503
    # The request arrived at 0: each lane tried at 0 and 1.5 s, and not at 3 s — past the
    # deadline...
    assert starts and max(starts) < QUEUE_BUDGET_SECONDS
    assert sorted(set(starts)) == [0.0, per_call]
    # ...so the last call ended within one timeout of it: answered, not killed. A timed-out
    # function would give API Gateway a 502 and lose the metrics and the log naming the
    # events Okta will redeliver.
    assert answered_by["at"] <= QUEUE_BUDGET_SECONDS + per_call
    assert answered_by["at"] < template["Resources"]["IngestFunction"]["Properties"]["Timeout"]
    [record] = [vars(r) for r in caplog.records if r.getMessage().startswith("Events could not be queued")]
    assert record["failed_event_uuids"] == [e["uuid"] for e in events]
    assert record["sqs_lanes"] == 3
    assert set(record["sqs_errors"]) == {"ReadTimeoutError"}
    assert record["sqs_calls"] == len(starts) == len(record["sqs_errors"])


def test_a_secret_stored_with_a_trailing_newline_matches(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    # What `print(...) > file` and `--secret-string file://file` store.
    secret_arn = aws.resources.refs["OktaHookSecret"]
    aws.session.client("secretsmanager").put_secret_value(SecretId=secret_arn, SecretString="from-a-file\n")
    env = aws.env("IngestFunction", OKTA_HOOK_SECRET_ROTATION_GRACE_SECONDS="0")
    module = load_function("ingest", env, monkeypatch)
    assert post_status(module, 1, {"Authorization": "from-a-file"}) == 200
    assert post_status(module, 2, {"Authorization": "from-a-file\n"}) == 200


def _count_calls(monkeypatch: pytest.MonkeyPatch, operation: str) -> Callable[[], int]:
    seen = {"n": 0}
    original = boto3.session.Session

    def counting_session(*args: Any, **kwargs: Any) -> boto3.session.Session:
        session = original(*args, **kwargs)

        def count(**_: Any) -> None:
            seen["n"] += 1

        session.events.register(f"before-call.*.{operation}", count)
        return session

    monkeypatch.setattr("tvsync.wiring.ingest.boto3.session.Session", counting_session)
    return lambda: seen["n"]
