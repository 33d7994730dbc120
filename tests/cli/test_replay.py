"""``tvsync replay`` against the real ingest handler served over loopback HTTP."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.apigw_server import serve_handler
from tests.conftest import HOOK_SECRET, ROOT, Aws, load_function
from tvsync.cli.main import main
from tvsync.cli.replay import USER_AGENT

OKTA_EVENTS = ROOT / "events" / "okta"
USER_CREATE = OKTA_EVENTS / "01-user-create.json"


def expected_uuids(sqs_event_file: str) -> set[str]:
    records = json.loads((ROOT / "events" / sqs_event_file).read_text())["Records"]
    return {r["attributes"]["MessageDeduplicationId"] for r in records}


@pytest.fixture
def ingest_url(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    ingest = load_function("ingest", aws.env("IngestFunction"), monkeypatch)
    monkeypatch.setenv("OKTA_HOOK_SECRET", HOOK_SECRET)
    with serve_handler(ingest.lambda_handler) as url:
        yield url


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An endpoint that accepts everything and keeps the API Gateway events it was sent."""
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        return {"statusCode": 200, "body": ""}

    monkeypatch.setenv("OKTA_HOOK_SECRET", HOOK_SECRET)
    with serve_handler(handler) as url:
        yield url, seen


def test_posts_deliveries_and_the_events_are_queued(
    ingest_url: str, aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["replay", str(USER_CREATE), "--url", ingest_url])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"✓ {USER_CREATE}  HTTP 200" in out
    assert "1 of 1 delivery accepted" in out
    queued = {m["Attributes"]["MessageDeduplicationId"] for m in aws.drain()}
    assert queued == expected_uuids("sqs-user-create.json")


def test_every_sample_delivery_is_accepted(
    ingest_url: str, aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    files = sorted(OKTA_EVENTS.glob("*.json"))
    assert len(files) >= 6
    code = main(["replay", *map(str, files), "--url", ingest_url])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("HTTP 200") == len(files)
    assert f"{len(files)} of {len(files)} deliveries accepted" in out
    assert aws.drain(), "the deliveries must have queued events"


def test_wrong_secret_is_refused_and_nothing_is_queued(
    ingest_url: str, aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKTA_HOOK_SECRET", "not-the-hook-secret")
    code = main(["replay", str(USER_CREATE), "--url", ingest_url])
    out = capsys.readouterr().out
    assert code == 1
    assert f"✗ {USER_CREATE}  HTTP 401" in out
    assert "Unauthorized" in out, "the server's message is shown"
    assert "another header name than Authorization" in out, "with both possible causes"
    assert "the value in $OKTA_HOOK_SECRET does not match the hook secret" in out
    assert "0 of 1 delivery accepted" in out
    assert aws.drain() == []


def test_a_refusal_shows_the_servers_reason(
    ingest_url: str, aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_delivery = tmp_path / "other.json"
    not_a_delivery.write_text('{"hello": "world"}')
    code = main(["replay", str(not_a_delivery), "--url", ingest_url])
    out = capsys.readouterr().out
    assert code == 1
    assert "HTTP 400" in out and "not an Okta event hook delivery" in out


@pytest.mark.parametrize("variable", ["OKTA_HOOK_SECRET", "MY_HOOK_SECRET"])
def test_a_missing_secret_variable_is_one_clear_error(
    variable: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(variable, raising=False)
    code = main(
        ["replay", str(USER_CREATE), "--url", "http://127.0.0.1:9/okta/events", "--secret-env", variable]
    )
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tvsync: error: ")
    assert f"environment variable {variable} is not set" in lines[0]


def test_a_file_that_is_not_json_is_reported_and_not_sent(
    recorder: tuple[str, list[dict[str, Any]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, seen = recorder
    broken = tmp_path / "broken.json"
    broken.write_text('{"eventType": "com.okta.event_hook",')
    missing = tmp_path / "missing.json"
    code = main(["replay", str(broken), str(USER_CREATE), str(missing), "--url", url])
    out = capsys.readouterr().out
    assert code == 1
    assert f"✗ {broken}  not JSON (line 1 column" in out and "not sent" in out
    assert f"✗ {missing}  cannot read the file" in out
    assert f"✓ {USER_CREATE}  HTTP 200" in out, "the other files are still sent"
    assert "1 of 3 deliveries accepted" in out
    assert len(seen) == 1


def test_sends_what_okta_sends(
    recorder: tuple[str, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, seen = recorder
    code = main(["replay", str(USER_CREATE), "--url", url, "--header", "X-Okta-Secret"])
    assert code == 0, capsys.readouterr().out
    (event,) = seen
    headers = {k.lower(): v for k, v in event["headers"].items()}
    assert event["httpMethod"] == "POST"
    assert headers["x-okta-secret"] == HOOK_SECRET
    assert "authorization" not in headers
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json"
    assert headers["user-agent"] == USER_AGENT
    assert event["body"] == USER_CREATE.read_text(), "the file's bytes go out unchanged"


def test_an_unreachable_endpoint_is_one_line_per_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OKTA_HOOK_SECRET", HOOK_SECRET)
    code = main(["replay", str(USER_CREATE), "--url", f"http://127.0.0.1:{port}/okta/events"])
    captured = capsys.readouterr()
    assert code == 1
    assert f"✗ {USER_CREATE}  cannot connect" in captured.out
    assert "Traceback" not in captured.out + captured.err


def test_a_slow_endpoint_times_out(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKTA_HOOK_SECRET", HOOK_SECRET)
    with serve_handler(lambda event, context: {"statusCode": 200, "body": ""}, delay=0.5) as url:
        code = main(["replay", str(USER_CREATE), "--url", url, "--timeout", "0.1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "no answer within 0.1 s" in out


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/okta/events", "refusing to send the hook secret over plain http"),
        ("ftp://127.0.0.1/okta/events", "must be an http(s) URL"),
        ("okta/events", "must be an http(s) URL"),
    ],
)
def test_unsafe_or_invalid_urls_are_refused_before_sending(
    url: str, message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKTA_HOOK_SECRET", HOOK_SECRET)
    code = main(["replay", str(USER_CREATE), "--url", url])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert HOOK_SECRET not in err
